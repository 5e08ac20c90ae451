/* hub: Hugging Face Hub resolution and download (see hub.h for the cache layout).
 *
 * The protocol, as huggingface_hub speaks it:
 *   GET  ENDPOINT/api/models/ID/revision/REV      -> JSON {"sha": commit, "siblings": [{"rfilename": F}...]}
 *   HEAD ENDPOINT/ID/resolve/COMMIT/F             -> X-Repo-Commit, ETag (git sha1) or X-Linked-Etag (sha256
 *        of an LFS file) and X-Linked-Size / Content-Length. Relative redirects (renamed repos, the
 *        resolve cache) are followed; an absolute one (the CDN for LFS files) is where the GET goes.
 *   GET  that location with "Range: bytes=N-" to resume a partial blob.
 * Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and X-Error-Message. */
#include "model/hub.h"
#include "model/gguf.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"
#define HUB_MAX_API_BYTES (64L << 20)
#define HUB_MAX_FILES 1024

/* ---------------------------------------------------------------- SHA-256 (to check LFS blobs) */

/* OpenSSL's digest: it uses the CPU's SHA instructions (about 20x a portable C loop), so checking a
 * download never becomes its bottleneck. */
typedef struct {
    EVP_MD_CTX *md;
} sha256_ctx;

static int sha256_init(sha256_ctx *c) {
    if (!c->md) c->md = EVP_MD_CTX_new();
    return c->md && EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static void sha256_update(sha256_ctx *c, const void *data, size_t n) { EVP_DigestUpdate(c->md, data, n); }

static void sha256_hex(sha256_ctx *c, char out[65]) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (EVP_DigestFinal_ex(c->md, d, &n) != 1 || n != 32) return;
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void sha256_free(sha256_ctx *c) {
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

/* ---------------------------------------------------------------- session and small helpers */

typedef struct {
    char repo_id[128];
    char revision[256];
    char cache[PATH_MAX];
    char storage[PATH_MAX];      /* CACHE/models--ORG--NAME */
    char endpoint[1024];
    char token[1024];
    char token_source[PATH_MAX]; /* where the token came from, for messages */
    bool offline;
    bool offline_from_env;
    hub_options opt;
    CURL *curl;       /* the current request's handle: a fresh one per request (see new_handle) */
    CURLSH *share;    /* connections, DNS and TLS sessions kept between those handles */
    char *err;
    size_t errcap;
    /* progress over all bytes of this call */
    progress prog;
    bool show_progress;
    int64_t prog_base; /* bytes done in previous files */
    int64_t prog_div;  /* bytes per progress unit */
} hub_session;

static int fail(hub_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(hub_session *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->errcap, fmt, ap);
    va_end(ap);
    return -1;
}

static void set_err(char *err, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errcap, const char *fmt, ...) {
    if (!err || !errcap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

/* Joins parts with '/' into out; returns false when it does not fit. */
static bool path_join(char *out, size_t cap, int n, ...) {
    va_list ap;
    va_start(ap, n);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *p = va_arg(ap, const char *);
        int w = snprintf(out + len, cap - len, "%s%s", i ? "/" : "", p);
        if (w < 0 || (size_t)w >= cap - len) { va_end(ap); return false; }
        len += (size_t)w;
    }
    va_end(ap);
    return true;
}

static bool env_true(const char *name) {
    const char *v = getenv(name);
    if (!v) return false;
    return !strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") || !strcasecmp(v, "true");
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* "~/x" -> "$HOME/x", as Python's expanduser does for the cache variables. */
static bool expand_home(char *out, size_t cap, const char *path) {
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        const char *home = env_nonempty("HOME");
        if (!home) home = "/";
        return snprintf(out, cap, "%s%s", home, path + 1) < (int)cap;
    }
    return snprintf(out, cap, "%s", path) < (int)cap;
}

static bool hf_home(char *out, size_t cap) {
    const char *h = env_nonempty("HF_HOME");
    if (h) return expand_home(out, cap, h);
    const char *xdg = env_nonempty("XDG_CACHE_HOME");
    char base[PATH_MAX];
    if (xdg) {
        if (!expand_home(base, sizeof base, xdg)) return false;
    } else if (!expand_home(base, sizeof base, "~/.cache")) {
        return false;
    }
    return snprintf(out, cap, "%s/huggingface", base) < (int)cap;
}

void hub_options_init(hub_options *o) {
    memset(o, 0, sizeof *o);
    o->offline = HUB_OFFLINE_FROM_ENV;
    o->max_retries = 5;
    o->retry_base_ms = 1000;
    o->connect_timeout_s = 15;
    o->stall_timeout_s = 30;
}

int hub_cache_dir(const hub_options *opt, char *out, size_t cap) {
    const char *v = opt && opt->cache_dir && opt->cache_dir[0] ? opt->cache_dir : NULL;
    if (!v) v = env_nonempty("HF_HUB_CACHE");
    if (!v) v = env_nonempty("HUGGINGFACE_HUB_CACHE");
    if (v) return expand_home(out, cap, v) ? 0 : -1;
    char home[PATH_MAX];
    if (!hf_home(home, sizeof home)) return -1;
    return snprintf(out, cap, "%s/hub", home) < (int)cap ? 0 : -1;
}

bool hub_is_commit_hash(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return false;
    return n == 40;
}

static bool is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

static bool valid_name_part(const char *p, size_t n) {
    if (n == 0 || n > 96) return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!(isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.')) return false;
    }
    if (p[0] == '-' || p[0] == '.' || p[n - 1] == '-' || p[n - 1] == '.') return false;
    for (size_t i = 0; i + 1 < n; i++)
        if ((p[i] == '-' && p[i + 1] == '-') || (p[i] == '.' && p[i + 1] == '.')) return false;
    return true;
}

/* A repo-relative path we may create on disk: no absolute paths, no "." or ".." parts, no empty parts. */
static bool safe_relative_path(const char *f) {
    if (!f[0] || f[0] == '/' || strlen(f) > 512) return false;
    const char *p = f;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == '\\') return false;
        if (!e) break;
        p = e + 1;
    }
    return f[strlen(f) - 1] != '/';
}

int hub_parse_id(const char *model, char *repo_id, size_t idcap, char *revision, size_t revcap, char *err,
                 size_t errcap) {
    const char *at = strchr(model, '@');
    size_t idlen = at ? (size_t)(at - model) : strlen(model);
    const char *slash = memchr(model, '/', idlen);
    if (!slash || memchr(slash + 1, '/', idlen - (size_t)(slash - model) - 1)) {
        set_err(err, errcap, "'%s' is not a Hub id: expected ORG/NAME[@revision]", model);
        return -1;
    }
    size_t orglen = (size_t)(slash - model), namelen = idlen - orglen - 1;
    if (!valid_name_part(model, orglen) || !valid_name_part(slash + 1, namelen) || idlen > 96) {
        set_err(err, errcap,
                "'%.*s' is not a valid Hub id: ORG and NAME use letters, digits, '-', '_' and '.', "
                "do not start or end with '-' or '.', have no '--' or '..', and the id is at most 96 characters",
                (int)idlen, model);
        return -1;
    }
    if (idlen >= idcap) {
        set_err(err, errcap, "Hub id '%.*s' is too long", (int)idlen, model);
        return -1;
    }
    memcpy(repo_id, model, idlen);
    repo_id[idlen] = '\0';
    const char *rev = at ? at + 1 : "";
    if (at && !rev[0]) {
        set_err(err, errcap, "'%s': empty revision after '@'", model);
        return -1;
    }
    if (rev[0] && !safe_relative_path(rev)) {
        set_err(err, errcap, "'%s': revision '%s' is not a valid branch, tag or commit", model, rev);
        return -1;
    }
    for (const char *p = rev; *p; p++)
        if (isspace((unsigned char)*p) || *p == '@' || *p == '~' || *p == '^' || *p == ':' || *p == '?' ||
            *p == '*' || *p == '[') {
            set_err(err, errcap, "'%s': revision '%s' contains a character git does not allow", model, rev);
            return -1;
        }
    if (strlen(rev) >= revcap) {
        set_err(err, errcap, "'%s': revision is too long", model);
        return -1;
    }
    strcpy(revision, rev);
    return 0;
}

/* Percent-encodes s into out; '/' is kept when keep_slash (file names), encoded otherwise (revisions). */
static bool url_encode(char *out, size_t cap, const char *s, bool keep_slash) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
        if (n + 4 >= cap) return false;
        if (plain) out[n++] = (char)*p;
        else n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
    }
    out[n] = '\0';
    return true;
}

/* "scheme://host:port" part of a URL, for deciding whether a redirect leaves the endpoint. */
static void url_origin(const char *url, char *out, size_t cap) {
    const char *p = strstr(url, "://");
    size_t n = p ? (size_t)(p - url) + 3 + strcspn(p + 3, "/?#") : strlen(url);
    snprintf(out, cap, "%.*s", (int)n, url);
    for (char *c = out; *c; c++) *c = (char)tolower((unsigned char)*c);
}

static bool is_absolute_url(const char *u) {
    const char *p = strstr(u, "://");
    if (!p) return false;
    for (const char *c = u; c < p; c++)
        if (!isalpha((unsigned char)*c)) return false;
    return true;
}

static void load_token(hub_session *s) {
    s->token[0] = s->token_source[0] = '\0';
    if (s->opt.token) {
        snprintf(s->token, sizeof s->token, "%s", s->opt.token);
        snprintf(s->token_source, sizeof s->token_source, "the token given");
        return;
    }
    const char *names[] = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"};
    for (int i = 0; i < 2; i++) {
        const char *v = env_nonempty(names[i]);
        if (v) {
            snprintf(s->token, sizeof s->token, "%s", v);
            snprintf(s->token_source, sizeof s->token_source, "$%s", names[i]);
            return;
        }
    }
    char path[PATH_MAX], home[PATH_MAX];
    const char *tp = env_nonempty("HF_TOKEN_PATH");
    if (tp) {
        if (!expand_home(path, sizeof path, tp)) return;
    } else {
        if (!hf_home(home, sizeof home) || !path_join(path, sizeof path, 2, home, "token")) return;
    }
    char *text = fs_read_file(path, NULL);
    if (!text) return;
    char *b = text, *e;
    while (*b && isspace((unsigned char)*b)) b++;
    e = b + strlen(b);
    while (e > b && isspace((unsigned char)e[-1])) *--e = '\0';
    if (*b && strlen(b) < sizeof s->token) {
        strcpy(s->token, b);
        if (snprintf(s->token_source, sizeof s->token_source, "the token file %s", path) >= (int)sizeof s->token_source)
            snprintf(s->token_source, sizeof s->token_source, "the token file");
    }
    free(text);
}

/* ---------------------------------------------------------------- HTTP */

typedef struct {
    long status;
    char location[4096];
    char etag[256];
    char linked_etag[256];
    char commit[128];
    char error_code[64];
    char error_message[512];
    int64_t linked_size;     /* -1 when absent */
    int64_t content_length;  /* -1 when absent */
    int64_t range_start;     /* from Content-Range of a 206, -1 when absent */
    double retry_after;      /* seconds, 0 when absent */
} http_meta;

static void meta_reset(http_meta *m) {
    memset(m, 0, sizeof *m);
    m->linked_size = m->content_length = m->range_start = -1;
}

static void header_value(char *dst, size_t cap, const char *v, size_t n) {
    while (n && (*v == ' ' || *v == '\t')) { v++; n--; }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
    http_meta *m = userdata;
    size_t n = size * nitems;
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) { /* a new response (curl followed a redirect): start over */
        meta_reset(m);
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon) return n;
    size_t klen = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = n - klen - 1;
    char tmp[64];
#define HDR(name) (klen == sizeof(name) - 1 && !strncasecmp(buf, name, klen))
    if (HDR("location")) header_value(m->location, sizeof m->location, v, vlen);
    else if (HDR("etag")) header_value(m->etag, sizeof m->etag, v, vlen);
    else if (HDR("x-linked-etag")) header_value(m->linked_etag, sizeof m->linked_etag, v, vlen);
    else if (HDR("x-repo-commit")) header_value(m->commit, sizeof m->commit, v, vlen);
    else if (HDR("x-error-code")) header_value(m->error_code, sizeof m->error_code, v, vlen);
    else if (HDR("x-error-message")) header_value(m->error_message, sizeof m->error_message, v, vlen);
    else if (HDR("x-linked-size")) { header_value(tmp, sizeof tmp, v, vlen); m->linked_size = strtoll(tmp, NULL, 10); }
    else if (HDR("content-length")) { header_value(tmp, sizeof tmp, v, vlen); m->content_length = strtoll(tmp, NULL, 10); }
    else if (HDR("retry-after")) { header_value(tmp, sizeof tmp, v, vlen); m->retry_after = strtod(tmp, NULL); }
    else if (HDR("content-range")) {
        header_value(tmp, sizeof tmp, v, vlen);
        const char *b = strstr(tmp, "bytes ");
        if (b && isdigit((unsigned char)b[6])) m->range_start = strtoll(b + 6, NULL, 10);
    }
#undef HDR
    return n;
}

typedef struct {
    char *data;
    size_t len, cap;
    size_t limit;
} membuf;

static size_t on_body_mem(char *ptr, size_t size, size_t nmemb, void *userdata) {
    membuf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->limit) return 0; /* aborts the transfer: too big */
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1) nc *= 2;
        char *nd = realloc(b->data, nc);
        if (!nd) return 0;
        b->data = nd;
        b->cap = nc;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

typedef enum { REQ_OK = 0, REQ_TRANSIENT, REQ_UNREACHABLE, REQ_FATAL } req_result;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* A new easy handle for each request. libcurl 7.88 (Debian 12) keeps a pointer to the last response
 * header of the previous transfer on a reused handle and follows it when the next response starts with a
 * folded header line: a use-after-free any server could trigger (found by fuzz_hub). Connections are still
 * reused through the share handle. On allocation failure s->curl is NULL and curl_easy_perform reports it. */
static void new_handle(hub_session *s) {
    if (s->curl) curl_easy_cleanup(s->curl);
    s->curl = curl_easy_init();
    if (s->curl && s->share) curl_easy_setopt(s->curl, CURLOPT_SHARE, s->share);
}

/* Common options; auth only when the URL is on the endpoint's origin (a CDN gets no token). */
static struct curl_slist *setup_request(hub_session *s, const char *url, bool head, bool identity,
                                        http_meta *meta, char *errbuf) {
    new_handle(s);
    CURL *c = s->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "halo-forge/" HF_VERSION);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)s->opt.connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)s->opt.stall_timeout_s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, meta);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    if (head) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    struct curl_slist *h = NULL;
    if (identity) h = curl_slist_append(h, "Accept-Encoding: identity");
    else curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    char origin_url[1024], origin_ep[1024];
    url_origin(url, origin_url, sizeof origin_url);
    url_origin(s->endpoint, origin_ep, sizeof origin_ep);
    if (s->token[0] && !strcmp(origin_url, origin_ep)) {
        char auth[1200];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    errbuf[0] = '\0';
    return h;
}

static req_result classify_curl(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return REQ_UNREACHABLE;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return REQ_TRANSIENT;
    default:
        return REQ_FATAL;
    }
}

static bool status_transient(long st) { return st == 408 || st == 429 || st == 500 || st == 502 || st == 503 || st == 504; }

/* Waits before retry number attempt (0-based); honours Retry-After when the server sent one. */
static void backoff(hub_session *s, int attempt, double retry_after, const char *what, const char *why) {
    double wait = s->opt.retry_base_ms / 1000.0;
    for (int i = 0; i < attempt && wait < 30; i++) wait *= 2;
    if (wait > 30) wait = 30;
    if (retry_after > 0 && retry_after < 300) wait = retry_after;
    log_warn("%s: %s; retrying in %.1f s (%d of %d)", what, why, wait, attempt + 1, s->opt.max_retries);
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Builds the error message for an HTTP failure status of a request about what (a file or the repo). */
static int http_error(hub_session *s, const http_meta *m, const char *what, const char *body) {
    const char *code = m->error_code;
    char detail[640] = "";
    if (m->error_message[0]) snprintf(detail, sizeof detail, " (server: %s)", m->error_message);
    else if (body && body[0] == '{') {
        cJSON *j = cJSON_Parse(body);
        const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
        if (cJSON_IsString(e)) snprintf(detail, sizeof detail, " (server: %.500s)", e->valuestring);
        cJSON_Delete(j);
    }
    const char *id = s->repo_id, *ep = s->endpoint;
    if (!strcmp(code, "GatedRepo") || (m->status == 403 && !s->token[0])) {
        char tok[PATH_MAX + 64] = "";
        if (s->token[0]) snprintf(tok, sizeof tok, " (the token from %s was refused)", s->token_source);
        return fail(s,
                    "%s: %s is a gated model (HTTP %ld): accept its conditions at %s/%s while logged in, then set "
                    "HF_TOKEN to a token of that account%s%s",
                    what, id, m->status, ep, id, tok, detail);
    }
    if (m->status == 401 || m->status == 403) {
        if (s->token[0])
            return fail(s, "%s: %s refused the token from %s for %s (HTTP %ld %s): check that it is valid and "
                           "has access to the repository%s",
                        what, ep, s->token_source, id, m->status, m->status == 401 ? "Unauthorized" : "Forbidden",
                        detail);
        if (!strcmp(code, "RepoNotFound"))
            return fail(s, "%s: repository %s not found on %s (HTTP 401): check the id; if it is private, set HF_TOKEN "
                           "to a token with access%s",
                        what, id, ep, detail);
        return fail(s, "%s: %s needs authentication (HTTP %ld): set HF_TOKEN (or write a token to $HF_HOME/token)%s",
                    what, id, m->status, detail);
    }
    if (m->status == 404) {
        if (!strcmp(code, "RevisionNotFound"))
            return fail(s, "%s: revision '%s' not found in %s on %s (HTTP 404)%s", what, s->revision, id, ep, detail);
        if (!strcmp(code, "EntryNotFound"))
            return fail(s, "%s: file not found in %s at revision '%s' (HTTP 404)%s", what, id, s->revision, detail);
        return fail(s, "%s: repository %s not found on %s (HTTP 404)%s: check the id (and that it is a model repo)",
                    what, id, ep, detail);
    }
    return fail(s, "%s: %s answered HTTP %ld%s", what, ep, m->status, detail);
}

/* GET into memory with retries; returns 0 (status 200) or -1; *unreachable tells the caller the server could
 * not be contacted at all (so the cache may be used instead). */
static int http_get_json(hub_session *s, const char *url, const char *what, cJSON **out, bool *unreachable) {
    *unreachable = false;
    for (int attempt = 0;; attempt++) {
        http_meta m;
        meta_reset(&m);
        char errbuf[CURL_ERROR_SIZE];
        membuf body = {NULL, 0, 0, HUB_MAX_API_BYTES};
        struct curl_slist *h = setup_request(s, url, false, false, &m, errbuf);
        curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(s->curl, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, 120L);
        curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body_mem);
        curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &body);
        CURLcode rc = curl_easy_perform(s->curl);
        curl_slist_free_all(h);
        if (rc != CURLE_OK) {
            free(body.data);
            req_result r = classify_curl(rc);
            if (r == REQ_UNREACHABLE) {
                *unreachable = true;
                return fail(s, "%s: cannot reach %s: %s", what, s->endpoint, errbuf[0] ? errbuf : curl_easy_strerror(rc));
            }
            if (r == REQ_TRANSIENT && attempt < s->opt.max_retries) {
                backoff(s, attempt, 0, what, errbuf[0] ? errbuf : curl_easy_strerror(rc));
                continue;
            }
            return fail(s, "%s: request to %s failed: %s", what, s->endpoint, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        }
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &m.status);
        if (m.status != 200) {
            if (status_transient(m.status) && attempt < s->opt.max_retries) {
                free(body.data);
                char why[64];
                snprintf(why, sizeof why, "HTTP %ld", m.status);
                backoff(s, attempt, m.retry_after, what, why);
                continue;
            }
            int r = http_error(s, &m, what, body.data);
            free(body.data);
            return r;
        }
        *out = body.data ? cJSON_Parse(body.data) : NULL;
        free(body.data);
        if (!*out) return fail(s, "%s: %s sent a response that is not JSON", what, url);
        return 0;
    }
}

/* What a HEAD on resolve tells about one file. */
typedef struct {
    char name[520];
    char etag[160];         /* normalised: no W/ and no quotes */
    char location[4096];    /* where to GET it */
    int64_t size;           /* -1 when unknown */
    bool present;           /* already in the snapshot */
} file_meta;

static void normalize_etag(char *dst, size_t cap, const char *etag) {
    const char *p = etag;
    if (!strncmp(p, "W/", 2)) p += 2;
    size_t n = strlen(p);
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') { p++; n -= 2; }
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static int http_head_file(hub_session *s, const char *commit, file_meta *f) {
    char rev_enc[512], name_enc[1600], url[4096];
    if (!url_encode(rev_enc, sizeof rev_enc, commit, false) || !url_encode(name_enc, sizeof name_enc, f->name, true))
        return fail(s, "%s: name too long", f->name);
    snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", s->endpoint, s->repo_id, rev_enc, name_enc);
    int redirects = 0;
    for (int attempt = 0;;) {
        http_meta m;
        meta_reset(&m);
        char errbuf[CURL_ERROR_SIZE];
        struct curl_slist *h = setup_request(s, url, true, true, &m, errbuf);
        curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, 60L);
        CURLcode rc = curl_easy_perform(s->curl);
        curl_slist_free_all(h);
        if (rc != CURLE_OK) {
            req_result r = classify_curl(rc);
            if (r != REQ_FATAL && attempt < s->opt.max_retries) {
                backoff(s, attempt++, 0, f->name, errbuf[0] ? errbuf : curl_easy_strerror(rc));
                continue;
            }
            return fail(s, "%s: request to %s failed: %s", f->name, s->endpoint, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        }
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &m.status);
        if (m.status >= 300 && m.status < 400 && m.location[0] && !is_absolute_url(m.location)) {
            /* relative redirect (renamed repo, resolve cache): follow it, as huggingface_hub does */
            if (++redirects > 10) return fail(s, "%s: too many redirects from %s", f->name, s->endpoint);
            char origin[1024];
            url_origin(url, origin, sizeof origin);
            if (m.location[0] == '/') {
                if (snprintf(url, sizeof url, "%s%s", origin, m.location) >= (int)sizeof url)
                    return fail(s, "%s: redirect location too long", f->name);
            }
            else {
                char *slash = strrchr(url, '/');
                snprintf(slash + 1, sizeof url - (size_t)(slash + 1 - url), "%s", m.location);
            }
            continue;
        }
        if (m.status >= 400 || (m.status >= 300 && !m.location[0]) || m.status < 200) {
            if (status_transient(m.status) && attempt < s->opt.max_retries) {
                char why[64];
                snprintf(why, sizeof why, "HTTP %ld", m.status);
                backoff(s, attempt++, m.retry_after, f->name, why);
                continue;
            }
            return http_error(s, &m, f->name, NULL);
        }
        normalize_etag(f->etag, sizeof f->etag, m.linked_etag[0] ? m.linked_etag : m.etag);
        if (!f->etag[0])
            return fail(s, "%s: %s sent no ETag for it; is HF_ENDPOINT a Hugging Face Hub?", f->name, s->endpoint);
        if (!safe_relative_path(f->etag) || strchr(f->etag, '/'))
            return fail(s, "%s: %s sent an unusable ETag '%s'", f->name, s->endpoint, f->etag);
        f->size = m.linked_size >= 0 ? m.linked_size : m.content_length;
        if (m.status >= 300) snprintf(f->location, sizeof f->location, "%s", m.location);
        else snprintf(f->location, sizeof f->location, "%s", url);
        if (m.commit[0] && strcmp(m.commit, commit))
            log_debug("%s: server reports commit %s, expected %s", f->name, m.commit, commit);
        return 0;
    }
}

/* ---------------------------------------------------------------- blob download */

typedef struct {
    hub_session *s;
    int fd;
    int64_t offset;       /* bytes in the file */
    int64_t start;        /* offset requested with Range */
    int64_t received;     /* body bytes written in this request */
    bool hashing;
    sha256_ctx sha;
    bool started;         /* first body byte seen: status checked */
    bool bad_status;
    membuf errbody;
    const char *name;
    char werr[256];
} sink;

static int truncate_sink(sink *k) {
    if (ftruncate(k->fd, 0) != 0 || lseek(k->fd, 0, SEEK_SET) != 0) return -1;
    k->offset = 0;
    if (k->hashing && sha256_init(&k->sha) != 0) return -1;
    return 0;
}

static size_t on_body_file(char *ptr, size_t size, size_t nmemb, void *userdata) {
    sink *k = userdata;
    size_t n = size * nmemb;
    if (!k->started) {
        k->started = true;
        long st = 0;
        curl_easy_getinfo(k->s->curl, CURLINFO_RESPONSE_CODE, &st);
        if (st == 200 && k->start > 0) {
            /* the server ignored Range: start the blob over */
            if (truncate_sink(k) != 0) {
                snprintf(k->werr, sizeof k->werr, "cannot truncate: %s", strerror(errno));
                return 0;
            }
        } else if (st != 200 && st != 206) {
            k->bad_status = true;
        }
    }
    if (k->bad_status) return on_body_mem(ptr, size, nmemb, &k->errbody);
    const char *p = ptr;
    size_t left = n;
    while (left) {
        ssize_t w = write(k->fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            snprintf(k->werr, sizeof k->werr, "cannot write: %s", strerror(errno));
            return 0;
        }
        p += w;
        left -= (size_t)w;
    }
    if (k->hashing) sha256_update(&k->sha, ptr, n);
    k->offset += (int64_t)n;
    k->received += (int64_t)n;
    if (k->s->show_progress) progress_update(&k->s->prog, (k->s->prog_base + k->offset) / k->s->prog_div);
    return n;
}

/* Hashes the first len bytes of fd (the part of a blob downloaded by an earlier run). */
static int hash_prefix(int fd, int64_t len, sha256_ctx *c) {
    static char buf[1 << 16];
    if (lseek(fd, 0, SEEK_SET) != 0) return -1;
    int64_t left = len;
    while (left > 0) {
        ssize_t r = read(fd, buf, left < (int64_t)sizeof buf ? (size_t)left : sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        sha256_update(c, buf, (size_t)r);
        left -= r;
    }
    return lseek(fd, len, SEEK_SET) == len ? 0 : -1;
}

/* Makes snapshots/COMMIT/NAME a relative symlink to blobs/ETAG, replacing what was there. */
static int link_snapshot(hub_session *s, const char *commit, const char *name, const char *etag) {
    char pointer[PATH_MAX], dir[PATH_MAX], target[PATH_MAX], tmp[PATH_MAX + 32];
    if (!path_join(pointer, sizeof pointer, 4, s->storage, "snapshots", commit, name))
        return fail(s, "%s: path too long", name);
    snprintf(dir, sizeof dir, "%s", pointer);
    *strrchr(dir, '/') = '\0';
    if (fs_mkdirs(dir) != 0) return fail(s, "%s: cannot create: %s", dir, strerror(errno));
    size_t n = 0;
    target[0] = '\0';
    for (const char *p = name; *p; p++)
        if (*p == '/') n += (size_t)snprintf(target + n, sizeof target - n, "../");
    snprintf(target + n, sizeof target - n, "../../blobs/%s", etag);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", pointer, (int)getpid());
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, pointer) != 0) {
        int e = errno;
        unlink(tmp);
        return fail(s, "%s: cannot create the snapshot link: %s", pointer, strerror(e));
    }
    return 0;
}

static int64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

/* Downloads f into blobs/ETAG (resuming ETAG.incomplete) and links it into the snapshot. */
static int fetch_blob(hub_session *s, const char *commit, const file_meta *fin) {
    file_meta fm = *fin, *f = &fm; /* the location may be refreshed below */
    bool refreshed = false;
    char blobs[PATH_MAX], blob[PATH_MAX], partial[PATH_MAX + 16], lockdir[PATH_MAX], lock[PATH_MAX + 16];
    char folder[300];
    snprintf(folder, sizeof folder, "%s", strrchr(s->storage, '/') + 1);
    if (!path_join(blobs, sizeof blobs, 2, s->storage, "blobs") || !path_join(blob, sizeof blob, 2, blobs, f->etag) ||
        !path_join(lockdir, sizeof lockdir, 3, s->cache, ".locks", folder))
        return fail(s, "%s: cache path too long", f->name);
    snprintf(partial, sizeof partial, "%s.incomplete", blob);
    if (snprintf(lock, sizeof lock, "%s/%s.lock", lockdir, f->etag) >= (int)sizeof lock)
        return fail(s, "%s: cache path too long", f->name);
    if (fs_mkdirs(blobs) != 0 || fs_mkdirs(lockdir) != 0)
        return fail(s, "%s: cannot create the cache folders: %s", s->storage, strerror(errno));

    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) return fail(s, "%s: cannot open: %s", lock, strerror(errno));
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        log_info("%s: another process is downloading it; waiting", f->name);
        if (flock(lfd, LOCK_EX) != 0) {
            close(lfd);
            return fail(s, "%s: cannot lock: %s", lock, strerror(errno));
        }
    }
    int rc = -1, fd = -1;
    bool verify = is_hex(f->etag, 64);
    sink k;
    memset(&k, 0, sizeof k);
    k.s = s;
    k.name = f->name;
    k.hashing = verify;
    k.errbody.limit = 1 << 16;
    if (verify && sha256_init(&k.sha) != 0) {
        fail(s, "%s: cannot initialise SHA-256 (OpenSSL)", f->name);
        goto out;
    }
    int64_t have = file_size(blob);
    if (have >= 0 && (f->size < 0 || have == f->size)) { /* another process (or an earlier run) finished it */
        rc = link_snapshot(s, commit, f->name, f->etag);
        goto out;
    }
    if (have >= 0) {
        log_warn("%s: cached blob has %lld bytes, the Hub says %lld; downloading it again", f->name, (long long)have,
                 (long long)f->size);
        unlink(blob);
    }
    fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) { fail(s, "%s: cannot open: %s", partial, strerror(errno)); goto out; }
    k.fd = fd;
    struct stat st;
    if (fstat(fd, &st) != 0) { fail(s, "%s: %s", partial, strerror(errno)); goto out; }
    k.offset = st.st_size;
    if (f->size >= 0 && k.offset > f->size) {
        if (truncate_sink(&k) != 0) { fail(s, "%s: %s", partial, strerror(errno)); goto out; }
    }
    if (k.offset > 0) {
        log_info("%s: resuming at byte %lld of %lld", f->name, (long long)k.offset, (long long)f->size);
        if (verify && hash_prefix(fd, k.offset, &k.sha) != 0) {
            if (truncate_sink(&k) != 0) { fail(s, "%s: %s", partial, strerror(errno)); goto out; }
        }
    }
    if (lseek(fd, k.offset, SEEK_SET) != k.offset) { fail(s, "%s: %s", partial, strerror(errno)); goto out; }
    double t0 = time_now();
    int64_t first_offset = k.offset;
    for (int attempt = 0; f->size < 0 || k.offset < f->size;) {
        http_meta m;
        meta_reset(&m);
        char errbuf[CURL_ERROR_SIZE];
        struct curl_slist *h = setup_request(s, f->location, false, true, &m, errbuf);
        curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(s->curl, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(s->curl, CURLOPT_BUFFERSIZE, 512L * 1024); /* fewer, larger writes */
        curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body_file);
        curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &k);
        char range[64];
        if (k.offset > 0) {
            snprintf(range, sizeof range, "%lld-", (long long)k.offset);
            curl_easy_setopt(s->curl, CURLOPT_RANGE, range);
        }
        k.start = k.offset;
        k.received = 0;
        k.started = k.bad_status = false;
        k.errbody.len = 0;
        k.werr[0] = '\0';
        CURLcode crc = curl_easy_perform(s->curl);
        curl_slist_free_all(h);
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &m.status);
        if (k.werr[0]) { fail(s, "%s: %s", partial, k.werr); goto out; }
        if (m.status == 416 && k.start > 0) { /* our partial file is not a prefix the server knows: restart */
            if (truncate_sink(&k) != 0) { fail(s, "%s: %s", partial, strerror(errno)); goto out; }
            if (attempt++ >= s->opt.max_retries) { fail(s, "%s: the server refused to resume (HTTP 416)", f->name); goto out; }
            continue;
        }
        if (k.bad_status || (crc == CURLE_OK && m.status != 200 && m.status != 206)) {
            char o1[1024], o2[1024];
            url_origin(f->location, o1, sizeof o1);
            url_origin(s->endpoint, o2, sizeof o2);
            if ((m.status == 401 || m.status == 403) && strcmp(o1, o2) && !refreshed) {
                /* a signed CDN address expires: ask the Hub for a fresh one, once */
                refreshed = true;
                if (http_head_file(s, commit, f) != 0) goto out;
                if (strcmp(f->etag, fin->etag) != 0) {
                    fail(s, "%s: changed on the server during the download; run again", f->name);
                    goto out;
                }
                continue;
            }
            if (status_transient(m.status) && attempt < s->opt.max_retries) {
                char why[64];
                snprintf(why, sizeof why, "HTTP %ld", m.status);
                backoff(s, attempt++, m.retry_after, f->name, why);
                continue;
            }
            http_error(s, &m, f->name, k.errbody.data);
            goto out;
        }
        if (m.status == 206 && m.range_start >= 0 && m.range_start != k.start) {
            fail(s, "%s: the server resumed at byte %lld, not %lld", f->name, (long long)m.range_start,
                 (long long)k.start);
            goto out;
        }
        if (crc == CURLE_OK) {
            if (f->size < 0) break;
            if (k.offset >= f->size) break;
            crc = CURLE_PARTIAL_FILE; /* the body ended early without a transport error */
        }
        req_result r = classify_curl(crc);
        if (r == REQ_FATAL) {
            fail(s, "%s: download failed: %s", f->name, errbuf[0] ? errbuf : curl_easy_strerror(crc));
            goto out;
        }
        if (k.received > 0) attempt = 0; /* progress was made: only consecutive failures count */
        if (attempt >= s->opt.max_retries) {
            fail(s, "%s: download failed after %d retries: %s (the partial file %s is kept; run again to resume)",
                 f->name, s->opt.max_retries, errbuf[0] ? errbuf : curl_easy_strerror(crc), partial);
            goto out;
        }
        backoff(s, attempt++, 0, f->name, errbuf[0] ? errbuf : curl_easy_strerror(crc));
    }
    if (f->size >= 0 && k.offset != f->size) {
        fail(s, "%s: downloaded %lld bytes, expected %lld", f->name, (long long)k.offset, (long long)f->size);
        goto out;
    }
    if (verify) {
        char hex[65];
        sha256_hex(&k.sha, hex);
        if (strcasecmp(hex, f->etag) != 0) {
            if (ftruncate(fd, 0) != 0) {}
            fail(s, "%s: content does not match its sha256 (got %s, expected %s); the partial file was discarded, run "
                    "again",
                 f->name, hex, f->etag);
            goto out;
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        fail(s, "%s: cannot write: %s", partial, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(partial, blob) != 0) { fail(s, "%s: cannot rename into place: %s", blob, strerror(errno)); goto out; }
    log_debug("%s: %lld bytes in %.2f s", f->name, (long long)(k.offset - first_offset), time_now() - t0);
    rc = link_snapshot(s, commit, f->name, f->etag);
out:
    if (fd >= 0) close(fd);
    free(k.errbody.data);
    sha256_free(&k.sha);
    flock(lfd, LOCK_UN);
    close(lfd);
    return rc;
}

/* ---------------------------------------------------------------- snapshot contents */

static bool in_snapshot(hub_session *s, const char *commit, const char *name) {
    char p[PATH_MAX];
    struct stat st;
    return path_join(p, sizeof p, 4, s->storage, "snapshots", commit, name) && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool known_absent(hub_session *s, const char *commit, const char *name) {
    char p[PATH_MAX];
    return path_join(p, sizeof p, 4, s->storage, ".no_exist", commit, name) && fs_exists(p);
}

static void mark_absent(hub_session *s, const char *commit, const char *name) {
    char p[PATH_MAX];
    if (!path_join(p, sizeof p, 4, s->storage, ".no_exist", commit, name)) return;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", p);
    *strrchr(dir, '/') = '\0';
    if (fs_mkdirs(dir) != 0) return;
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
}

/* Reads the shard names of an index (weight_map values, each once) into names; returns the count or -1. */
static int read_shards(hub_session *s, const char *index_path, char names[][520], int cap) {
    char *text = fs_read_file(index_path, NULL);
    if (!text) return fail(s, "%s: cannot read: %s", index_path, strerror(errno));
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *wm = j ? cJSON_GetObjectItemCaseSensitive(j, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(j);
        return fail(s, "%s: not a safetensors index (no \"weight_map\" object)", index_path);
    }
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e) || !safe_relative_path(e->valuestring) || strlen(e->valuestring) >= 520) {
            cJSON_Delete(j);
            return fail(s, "%s: weight_map[\"%s\"] is not a usable file name", index_path, e->string ? e->string : "?");
        }
        bool seen = false;
        for (int i = 0; i < n && !seen; i++) seen = !strcmp(names[i], e->valuestring);
        if (seen) continue;
        if (n >= cap) {
            cJSON_Delete(j);
            return fail(s, "%s: more than %d shards", index_path, cap);
        }
        strcpy(names[n++], e->valuestring);
    }
    cJSON_Delete(j);
    if (n == 0) return fail(s, "%s: weight_map is empty", index_path);
    return n;
}

/* Lists what the snapshot lacks for halo-forge to load it (comma separated in missing); returns the count. */
static int snapshot_missing(hub_session *s, const char *commit, char *missing, size_t cap) {
    missing[0] = '\0';
    int count = 0;
#define MISSING(name)                                                                                          \
    do {                                                                                                       \
        size_t l_ = strlen(missing);                                                                           \
        snprintf(missing + l_, cap - l_, "%s%s", l_ ? ", " : "", name);                                        \
        count++;                                                                                               \
    } while (0)
    if (in_snapshot(s, commit, "adapter_config.json")) {
        if (!in_snapshot(s, commit, "adapter_model.safetensors")) MISSING("adapter_model.safetensors");
        return count;
    }
    if (!in_snapshot(s, commit, "config.json")) MISSING("config.json");
    if (!in_snapshot(s, commit, "model.safetensors")) {
        char index[PATH_MAX];
        if (!in_snapshot(s, commit, "model.safetensors.index.json") ||
            !path_join(index, sizeof index, 4, s->storage, "snapshots", commit, "model.safetensors.index.json")) {
            MISSING("model.safetensors (or model.safetensors.index.json and its shards)");
        } else {
            static char shards[HUB_MAX_FILES][520];
            char saved[1024];
            snprintf(saved, sizeof saved, "%s", s->err);
            int n = read_shards(s, index, shards, HUB_MAX_FILES);
            snprintf(s->err, s->errcap, "%s", saved);
            if (n < 0) MISSING("a readable model.safetensors.index.json");
            for (int i = 0; i < n; i++)
                if (!in_snapshot(s, commit, shards[i])) MISSING(shards[i]);
        }
    }
    const char *tok[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++)
        if (!in_snapshot(s, commit, tok[i]) && !known_absent(s, commit, tok[i])) MISSING(tok[i]);
#undef MISSING
    return count;
}

static int snapshot_dir(hub_session *s, const char *commit, char *out, size_t cap) {
    if (!path_join(out, cap, 3, s->storage, "snapshots", commit)) return fail(s, "%s: path too long", s->storage);
    return 0;
}

/* Resolves from the cache alone. why says why the network is not used (for the messages). */
static int resolve_cached(hub_session *s, const char *why, char *out, size_t cap) {
    char commit[128];
    if (hub_is_commit_hash(s->revision)) {
        if (snprintf(commit, sizeof commit, "%s", s->revision) >= (int)sizeof commit) return fail(s, "bad revision");
    } else {
        char ref[PATH_MAX];
        if (!path_join(ref, sizeof ref, 3, s->storage, "refs", s->revision)) return fail(s, "revision path too long");
        char *text = fs_read_file(ref, NULL);
        if (!text)
            return fail(s, "%s, and %s@%s is not in the cache %s (no %s)", why, s->repo_id, s->revision, s->cache, ref);
        char *e = text + strlen(text);
        while (e > text && isspace((unsigned char)e[-1])) *--e = '\0';
        if (!hub_is_commit_hash(text)) {
            free(text);
            return fail(s, "%s: does not hold a commit hash", ref);
        }
        snprintf(commit, sizeof commit, "%s", text);
        free(text);
    }
    char missing[4096];
    int n = snapshot_missing(s, commit, missing, sizeof missing);
    char dir[PATH_MAX];
    if (snapshot_dir(s, commit, dir, sizeof dir) != 0) return -1;
    if (n > 0 && !fs_is_dir(dir))
        return fail(s, "%s, and the cache has no snapshot %s of %s@%s (download it with 'halo-forge model download %s' "
                       "while online)",
                    why, dir, s->repo_id, s->revision, s->repo_id);
    if (n > 0)
        return fail(s, "%s, and the cached snapshot %s of %s@%s lacks: %s (download it with 'halo-forge model "
                       "download %s' while online)",
                    why, dir, s->repo_id, s->revision, missing, s->repo_id);
    if (snprintf(out, cap, "%s", dir) >= (int)cap) return fail(s, "%s: path too long for the caller", dir);
    return 0;
}

/* ---------------------------------------------------------------- online resolution */

typedef struct {
    char (*names)[520];
    int n;
} name_list;

static bool list_has(const name_list *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->names[i], name)) return true;
    return false;
}

/* Makes sure each of names is in the snapshot: HEADs the missing ones, then downloads them under one progress. */
static int ensure_files(hub_session *s, const char *commit, char names[][520], int n) {
    file_meta *fm = calloc((size_t)(n > 0 ? n : 1), sizeof *fm);
    if (!fm) return fail(s, "out of memory");
    int64_t total = 0, already = 0;
    int todo = 0, rc = -1;
    for (int i = 0; i < n; i++) {
        snprintf(fm[i].name, sizeof fm[i].name, "%s", names[i]);
        fm[i].present = in_snapshot(s, commit, names[i]);
        if (fm[i].present) continue;
        if (http_head_file(s, commit, &fm[i]) != 0) goto out;
        char blob[PATH_MAX], part[PATH_MAX + 16];
        if (!path_join(blob, sizeof blob, 3, s->storage, "blobs", fm[i].etag)) { fail(s, "path too long"); goto out; }
        snprintf(part, sizeof part, "%s.incomplete", blob);
        int64_t have = file_size(blob);
        if (have >= 0 && (fm[i].size < 0 || have == fm[i].size)) {
            if (link_snapshot(s, commit, fm[i].name, fm[i].etag) != 0) goto out;
            fm[i].present = true;
            continue;
        }
        todo++;
        if (fm[i].size > 0) total += fm[i].size;
        int64_t p = file_size(part);
        if (p > 0 && (fm[i].size < 0 || p <= fm[i].size)) already += p;
    }
    if (todo == 0) { rc = 0; goto out; }
    struct statvfs vfs;
    char blobs[PATH_MAX];
    if (path_join(blobs, sizeof blobs, 2, s->storage, "blobs") && fs_mkdirs(blobs) == 0 && statvfs(blobs, &vfs) == 0 &&
        (double)vfs.f_bavail * (double)vfs.f_frsize < (double)(total - already))
        log_warn("%s has %.1f MB free, the download needs %.1f MB", s->cache,
                 (double)vfs.f_bavail * (double)vfs.f_frsize / 1e6, (double)(total - already) / 1e6);
    s->show_progress = !s->opt.no_progress && log_stderr_is_tty();
    log_info("Downloading %d file%s of %s@%.12s (%.1f MB)", todo, todo == 1 ? "" : "s", s->repo_id, commit,
             (double)total / 1e6);
    if (s->show_progress) {
        char what[128];
        snprintf(what, sizeof what, "%s", s->repo_id);
        /* progress shows whole units: MB for big downloads, kB for small ones */
        s->prog_div = total >= 100 * 1000 * 1000 ? 1000000 : 1000;
        progress_start(&s->prog, what, total / s->prog_div, s->prog_div == 1000 ? "kB" : "MB");
        progress_update(&s->prog, already / s->prog_div);
    }
    s->prog_base = 0;
    double t0 = time_now();
    for (int i = 0; i < n; i++) {
        if (fm[i].present) continue;
        if (fetch_blob(s, commit, &fm[i]) != 0) goto out;
        if (fm[i].size > 0) s->prog_base += fm[i].size;
        if (s->show_progress) progress_update(&s->prog, s->prog_base / s->prog_div);
    }
    if (s->show_progress) progress_finish(&s->prog);
    else log_info("Downloaded %d file%s (%.1f MB) in %.1f s", todo, todo == 1 ? "" : "s", (double)total / 1e6,
                  time_now() - t0);
    rc = 0;
out:
    if (rc != 0 && s->show_progress) fprintf(stderr, "\n");
    s->show_progress = false;
    free(fm);
    return rc;
}

static int write_ref(hub_session *s, const char *commit) {
    if (!strcmp(s->revision, commit)) return 0;
    char ref[PATH_MAX], dir[PATH_MAX];
    if (!path_join(ref, sizeof ref, 3, s->storage, "refs", s->revision)) return fail(s, "revision path too long");
    char *old = fs_read_file(ref, NULL);
    bool same = old && !strcmp(old, commit);
    free(old);
    if (same) return 0;
    snprintf(dir, sizeof dir, "%s", ref);
    *strrchr(dir, '/') = '\0';
    if (fs_mkdirs(dir) != 0 || fs_write_atomic(ref, commit, strlen(commit)) != 0)
        return fail(s, "%s: cannot write: %s", ref, strerror(errno));
    return 0;
}

static int resolve_online(hub_session *s, char *out, size_t cap) {
    /* A commit hash with a complete snapshot needs no network at all. */
    if (hub_is_commit_hash(s->revision)) {
        char missing[64];
        if (snapshot_missing(s, s->revision, missing, sizeof missing) == 0) return resolve_cached(s, "", out, cap);
    }
    char rev_enc[512], url[2048];
    if (!url_encode(rev_enc, sizeof rev_enc, s->revision, false)) return fail(s, "revision too long");
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s", s->endpoint, s->repo_id, rev_enc);
    cJSON *info = NULL;
    bool unreachable = false;
    char what[400];
    snprintf(what, sizeof what, "%s@%s", s->repo_id, s->revision);
    if (http_get_json(s, url, what, &info, &unreachable) != 0) {
        if (!unreachable) return -1;
        char why[1200];
        snprintf(why, sizeof why, "%s", s->err);
        log_warn("%s; looking in the cache", why);
        return resolve_cached(s, why, out, cap);
    }
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(info, "sha");
    const cJSON *sib = cJSON_GetObjectItemCaseSensitive(info, "siblings");
    if (!cJSON_IsString(sha) || !hub_is_commit_hash(sha->valuestring) || !cJSON_IsArray(sib)) {
        cJSON_Delete(info);
        return fail(s, "%s: the model info from %s has no commit \"sha\" or no \"siblings\" list", what, s->endpoint);
    }
    char commit[41];
    snprintf(commit, sizeof commit, "%s", sha->valuestring);
    static char sibling_names[4 * HUB_MAX_FILES][520];
    name_list have = {sibling_names, 0};
    const cJSON *e;
    cJSON_ArrayForEach(e, sib) {
        const cJSON *rf = cJSON_GetObjectItemCaseSensitive(e, "rfilename");
        if (!cJSON_IsString(rf) || strlen(rf->valuestring) >= 520 || have.n >= 4 * HUB_MAX_FILES) continue;
        strcpy(have.names[have.n++], rf->valuestring);
    }
    cJSON_Delete(info);
    if (write_ref(s, commit) != 0) return -1;

    static char want[HUB_MAX_FILES + 8][520];
    int nw = 0;
    const char *optional[] = {"tokenizer.json", "tokenizer_config.json", "generation_config.json"};
    bool adapter = list_has(&have, "adapter_config.json");
    if (adapter) {
        if (!list_has(&have, "adapter_model.safetensors"))
            return fail(s, "%s: has adapter_config.json but no adapter_model.safetensors (halo-forge reads only "
                           "safetensors adapters)",
                        what);
        strcpy(want[nw++], "adapter_config.json");
        strcpy(want[nw++], "adapter_model.safetensors");
        if (list_has(&have, "config.json")) strcpy(want[nw++], "config.json");
    } else {
        if (!list_has(&have, "config.json"))
            return fail(s, "%s: has no config.json: not a transformers model repository", what);
        strcpy(want[nw++], "config.json");
    }
    for (int i = 0; i < 3; i++) {
        if (list_has(&have, optional[i])) strcpy(want[nw++], optional[i]);
        else mark_absent(s, commit, optional[i]);
    }
    if (!adapter && !list_has(&have, "tokenizer.json"))
        log_warn("%s: has no tokenizer.json (halo-forge's tokenizer reads only that format); give one with --tokenizer",
                 what);
    bool sharded = false;
    if (!adapter) {
        if (list_has(&have, "model.safetensors")) strcpy(want[nw++], "model.safetensors");
        else if (list_has(&have, "model.safetensors.index.json")) sharded = true;
        else
            return fail(s, "%s: has no model.safetensors nor model.safetensors.index.json (halo-forge reads only "
                           "safetensors weights, not pytorch_model.bin)",
                        what);
    }
    if (sharded) {
        /* the index comes first: it names the shards */
        char idx_name[1][520] = {"model.safetensors.index.json"};
        if (ensure_files(s, commit, idx_name, 1) != 0) return -1;
        char index[PATH_MAX];
        if (!path_join(index, sizeof index, 4, s->storage, "snapshots", commit, idx_name[0]))
            return fail(s, "path too long");
        int ns = read_shards(s, index, want + nw, HUB_MAX_FILES);
        if (ns < 0) return -1;
        nw += ns;
    }
    if (ensure_files(s, commit, want, nw) != 0) return -1;
    char dir[PATH_MAX];
    if (snapshot_dir(s, commit, dir, sizeof dir) != 0) return -1;
    if (snprintf(out, cap, "%s", dir) >= (int)cap) return fail(s, "%s: path too long for the caller", dir);
    return 0;
}

/* ---------------------------------------------------------------- entry point */

/* A path rather than a mistyped id: absolute, relative to . or ~, or with more than one '/'. */
static bool looks_like_path(const char *m) {
    if (m[0] == '/' || m[0] == '.' || m[0] == '~') return true;
    const char *at = strchr(m, '@');
    size_t idlen = at ? (size_t)(at - m) : strlen(m);
    int slashes = 0;
    for (size_t i = 0; i < idlen; i++) slashes += m[i] == '/';
    return slashes > 1;
}

int hub_resolve(const char *model, char *dir_out, size_t cap, const hub_options *opt, char *err, size_t errcap) {
    if (!model || !model[0]) {
        set_err(err, errcap, "no model given: expected a model folder or a Hub id ORG/NAME[@revision]");
        return -1;
    }
    struct stat st;
    if (stat(model, &st) == 0) {
        if (!S_ISDIR(st.st_mode) && !(S_ISREG(st.st_mode) && gguf_is_path(model))) {
            set_err(err, errcap, "%s: is a file, not a model folder (a folder with config.json and weights)", model);
            return -1;
        }
        if (snprintf(dir_out, cap, "%s", model) >= (int)cap) {
            set_err(err, errcap, "%s: path too long", model);
            return -1;
        }
        return 0;
    }
    static hub_session sess; /* large; one call at a time (see hub.h) */
    hub_session *s = &sess;
    memset(s, 0, sizeof *s);
    s->err = err;
    s->errcap = errcap;
    if (opt) s->opt = *opt;
    else hub_options_init(&s->opt);
    if (s->opt.max_retries < 0) s->opt.max_retries = 0;
    if (s->opt.retry_base_ms < 0) s->opt.retry_base_ms = 0;
    if (s->opt.connect_timeout_s <= 0) s->opt.connect_timeout_s = 15;
    if (s->opt.stall_timeout_s <= 0) s->opt.stall_timeout_s = 30;

    char id_err[512];
    if (hub_parse_id(model, s->repo_id, sizeof s->repo_id, s->revision, sizeof s->revision, id_err, sizeof id_err) != 0) {
        if (looks_like_path(model))
            set_err(err, errcap, "%s: no such model folder (%s)", model, strerror(ENOENT));
        else
            set_err(err, errcap, "%s: not a local folder, and %s", model, id_err);
        return -1;
    }
    if (s->opt.revision && s->opt.revision[0]) {
        char tmp[700], id2[128];
        if (snprintf(tmp, sizeof tmp, "%s@%s", s->repo_id, s->opt.revision) >= (int)sizeof tmp) {
            set_err(err, errcap, "revision '%s' is too long", s->opt.revision);
            return -1;
        }
        if (hub_parse_id(tmp, id2, sizeof id2, s->revision, sizeof s->revision, err, errcap) != 0) return -1;
    }
    if (!s->revision[0]) strcpy(s->revision, "main");
    if (hub_cache_dir(&s->opt, s->cache, sizeof s->cache) != 0) {
        set_err(err, errcap, "the Hugging Face cache path is too long");
        return -1;
    }
    char folder[160];
    if (snprintf(folder, sizeof folder, "models--%s", s->repo_id) >= (int)sizeof folder - 1) {
        set_err(err, errcap, "%s: id too long", s->repo_id);
        return -1;
    }
    char *slash = strchr(folder, '/');
    memmove(slash + 2, slash + 1, strlen(slash + 1) + 1);
    slash[0] = slash[1] = '-';
    if (!path_join(s->storage, sizeof s->storage, 2, s->cache, folder)) {
        set_err(err, errcap, "the Hugging Face cache path is too long");
        return -1;
    }
    const char *ep = s->opt.endpoint && s->opt.endpoint[0] ? s->opt.endpoint : env_nonempty("HF_ENDPOINT");
    snprintf(s->endpoint, sizeof s->endpoint, "%s", ep ? ep : HUB_DEFAULT_ENDPOINT);
    for (size_t n = strlen(s->endpoint); n > 0 && s->endpoint[n - 1] == '/'; n--) s->endpoint[n - 1] = '\0';
    if (s->opt.offline == HUB_OFFLINE_YES) s->offline = true;
    else if (s->opt.offline == HUB_OFFLINE_FROM_ENV)
        s->offline = s->offline_from_env = env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");

    if (s->offline)
        return resolve_cached(s, s->offline_from_env ? "HF_HUB_OFFLINE is set (no network)" : "offline (no network)",
                              dir_out, cap);
    load_token(s);
    pthread_once(&curl_once, curl_global);
    s->share = curl_share_init();
    if (!s->share) {
        set_err(err, errcap, "cannot initialise libcurl");
        return -1;
    }
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    int rc = resolve_online(s, dir_out, cap);
    if (s->curl) curl_easy_cleanup(s->curl);
    s->curl = NULL;
    curl_share_cleanup(s->share);
    s->share = NULL;
    memset(s->token, 0, sizeof s->token);
    if (rc == 0) log_debug("%s -> %s", model, dir_out);
    return rc;
}
