#include "data/dhttp.h"
#include "core/err.h"
#include "core/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DHTTP_MAX_BODY ((size_t)512 << 20)

void dhttp_options_init(dhttp_options *o) {
    memset(o, 0, sizeof *o);
    o->max_retries = 5;
    o->retry_base_ms = 1000;
    const char *e = getenv("HF_DATA_RETRY_BASE_MS");
    if (e && *e) o->retry_base_ms = atoi(e);
    o->timeout_s = 300;
    o->connect_timeout_s = 15;
    o->max_wait_ms = 600000;
    /* Test knobs (the fuzz targets and the fake-server tests): shorter limits than a real server needs. */
    if ((e = getenv("HF_DATA_RETRY_MAX_MS")) && *e) o->max_wait_ms = atoi(e);
    if ((e = getenv("HF_DATA_TIMEOUT_S")) && *e && atoi(e) > 0) o->timeout_s = o->connect_timeout_s = atoi(e);
    o->what = "request";
}

typedef struct {
    char *data;
    size_t len, cap;
} buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user) {
    buf *b = user;
    size_t n = size * nmemb;
    if (b->len + n + 1 > DHTTP_MAX_BODY) return 0;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 8192;
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

static size_t on_header(char *line, size_t size, size_t n, void *user) {
    double *retry_after = user;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(line, "retry-after:", 12)) {
        char tmp[32];
        size_t l = len - 12 < sizeof tmp - 1 ? len - 12 : sizeof tmp - 1;
        memcpy(tmp, line + 12, l);
        tmp[l] = '\0';
        *retry_after = strtod(tmp, NULL);
    } else if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
        *retry_after = 0;
    }
    return len;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static int transient_status(long st) { return st == 408 || st == 429 || st == 500 || st == 502 || st == 503 || st == 504; }

static void wait_before(const dhttp_options *o, int attempt, double retry_after, const char *why) {
    double wait = o->retry_base_ms / 1000.0;
    for (int i = 0; i < attempt && wait < 60; i++) wait *= 2;
    if (wait > 60) wait = 60;
    if (retry_after > 0 && retry_after <= 600) wait = retry_after;
    if (wait * 1000 > o->max_wait_ms) wait = o->max_wait_ms / 1000.0;
    log_warn("%s: %s; retrying in %.1f s (%d of %d)", o->what, why, wait, attempt + 1, o->max_retries);
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int dhttp_request(const char *url, const char *const *headers, const char *body, const dhttp_options *opt,
                  long *status, char **out, int *unreachable, char *err, size_t errcap) {
    dhttp_options def;
    if (!opt) {
        dhttp_options_init(&def);
        opt = &def;
    }
    pthread_once(&once, global_init);
    if (unreachable) *unreachable = 0;
    *out = NULL;
    struct curl_slist *h = NULL;
    for (size_t i = 0; headers && headers[i]; i++) h = curl_slist_append(h, headers[i]);
    if (body) h = curl_slist_append(h, "Content-Type: application/json");
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        buf b = {0};
        double retry_after = 0;
        char eb[CURL_ERROR_SIZE] = "";
        /* A fresh handle per attempt: libcurl 7.88 (Debian 12) keeps a dangling pointer to the previous
         * transfer's last header on a reused handle (see new_handle in model/hub.c). */
        CURL *c = curl_easy_init();
        if (!c) {
            err_set(err, errcap, "%s: cannot start libcurl", opt->what);
            break;
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "halo-forge/" HF_VERSION);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)opt->connect_timeout_s);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)opt->timeout_s);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, eb);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &retry_after);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
        if (h) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (body) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        }
        CURLcode cr = curl_easy_perform(c);
        long st = 0;
        if (cr == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        curl_easy_cleanup(c);
        if (cr != CURLE_OK) {
            free(b.data);
            const char *why = eb[0] ? eb : curl_easy_strerror(cr);
            int refused = cr == CURLE_COULDNT_CONNECT || cr == CURLE_COULDNT_RESOLVE_HOST || cr == CURLE_COULDNT_RESOLVE_PROXY;
            if (attempt < opt->max_retries && cr != CURLE_URL_MALFORMAT && cr != CURLE_UNSUPPORTED_PROTOCOL) {
                wait_before(opt, attempt, 0, why);
                continue;
            }
            if (unreachable && refused) *unreachable = 1;
            err_set(err, errcap, "%s: %s failed: %s", opt->what, url, why);
            break;
        }
        if (transient_status(st) && attempt < opt->max_retries) {
            free(b.data);
            char why[64];
            snprintf(why, sizeof why, "HTTP %ld", st);
            wait_before(opt, attempt, retry_after, why);
            continue;
        }
        *status = st;
        *out = b.data ? b.data : strdup("");
        rc = *out ? 0 : -1;
        if (rc) err_set(err, errcap, "%s: out of memory", opt->what);
        break;
    }
    curl_slist_free_all(h);
    return rc;
}

int dhttp_urlencode(char *out, size_t cap, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                    *p == '_' || *p == '.' || *p == '~';
        if (len + (plain ? 1 : 3) + 1 > cap) return -1;
        if (plain) out[len++] = (char)*p;
        else {
            out[len++] = '%';
            out[len++] = hex[*p >> 4];
            out[len++] = hex[*p & 15];
        }
    }
    out[len] = '\0';
    return 0;
}
