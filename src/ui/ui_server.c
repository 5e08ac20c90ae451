/* ui_server: the dashboard's HTTP server: routing, the security checks, the JSON API. */
#include "ui/ui.h"

#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "ui/ui_assets.h"
#include "ui/ui_jobs.h"
#include "ui/ui_path.h"
#include "verify/verify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_BODY (1L << 20)          /* a JSON request body */
#define MAX_RAW_FILE (32L << 20)     /* /api/file */
#define MAX_PLAYGROUND_CODE (256 << 10)
#define MAX_PLAYGROUND_AT_ONCE 2

typedef struct {
    ui_roots *roots;
    ui_jobs *jobs;
    char self_exe[PATH_MAX];
    char token[33];      /* "" when none is needed */
    bool loopback;
    int port;
    pthread_mutex_t play_mu;
    int play_running;
} server;

typedef struct {
    char *body;
    size_t len;
    bool too_big;
} request;

bool ui_host_is_loopback(const char *host) {
    if (!strcmp(host, "localhost") || !strcmp(host, "::1")) return true;
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* ---- responses ---- */

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
                                  size_t len, enum MHD_ResponseMemoryMode mode, const char *cookie) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy",
                            !strncmp(type, "text/html", 9)
                                ? "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
                                : "default-src 'none'; frame-ancestors 'none'");
    if (cookie) MHD_add_response_header(r, "Set-Cookie", cookie);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, cJSON *o) {
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) return send_bytes(c, 500, "application/json", "{\"error\":\"out of memory\"}", 25, MHD_RESPMEM_PERSISTENT, NULL);
    return send_bytes(c, status, "application/json; charset=utf-8", text, strlen(text), MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    return send_json(c, status, o);
}

static unsigned path_status(int rc) {
    return rc == UI_PATH_MISSING ? 404 : rc == UI_PATH_OUTSIDE ? 403 : 400;
}
static const char *path_reason(int rc) {
    return rc == UI_PATH_MISSING ? "no such file or folder"
           : rc == UI_PATH_OUTSIDE ? "outside the run folders"
                                   : "not an allowed path (relative, no '.' or '..' components)";
}

/* ---- security ---- */

static bool token_eq(const char *a, const char *b) {
    size_t n = strlen(b);
    if (!a || strlen(a) != n) return false;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static const char *arg(struct MHD_Connection *c, const char *k) {
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

/* The Host header of a loopback server must name a loopback host with our port. */
static bool host_ok(const server *s, struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!h) return false;
    char want[64];
    const char *names[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(want, sizeof want, "%s:%d", names[i], s->port);
        if (!strcasecmp(h, want)) return true;
    }
    return false;
}

/* 0 when the request may go on; otherwise the status to refuse it with. *cookie is set when the token
 * came in the query string (the page load), so that the page's own requests carry it. */
static unsigned check_access(const server *s, struct MHD_Connection *c, bool *set_cookie) {
    *set_cookie = false;
    if (s->loopback && !host_ok(s, c)) return 403;
    if (!s->token[0]) return 0;
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Halo-Token");
    if (token_eq(t, s->token)) return 0;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7) && token_eq(auth + 7, s->token)) return 0;
    if (token_eq(MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "hf_token"), s->token)) return 0;
    if (token_eq(arg(c, "token"), s->token)) {
        *set_cookie = true;
        return 0;
    }
    return 401;
}

/* ---- handlers ---- */

static int int_arg(struct MHD_Connection *c, const char *k, long dflt, long *out) {
    const char *v = arg(c, k);
    if (!v || !*v) {
        *out = dflt;
        return 0;
    }
    char *e;
    errno = 0;
    long x = strtol(v, &e, 10);
    if (*e || errno) return -1;
    *out = x;
    return 0;
}

/* The run folder named by ?id=, or a response already queued. */
static int run_dir_arg(server *s, struct MHD_Connection *c, char *dir, size_t cap, enum MHD_Result *sent) {
    const char *id = arg(c, "id");
    if (!id) {
        *sent = send_error(c, 400, "id: required (a run id from /api/runs)");
        return -1;
    }
    int rc = ui_run_dir(s->roots, id, dir, cap);
    if (rc != UI_PATH_OK) {
        *sent = send_error(c, path_status(rc), "id %s: %s", id, path_reason(rc));
        return -1;
    }
    return 0;
}

static enum MHD_Result api_file(server *s, struct MHD_Connection *c) {
    char dir[PATH_MAX], path[PATH_MAX];
    enum MHD_Result sent;
    if (run_dir_arg(s, c, dir, sizeof dir, &sent)) return sent;
    if (!ui_run_kind(dir)) return send_error(c, 404, "id %s: not a run folder", arg(c, "id"));
    const char *rel = arg(c, "path");
    if (!rel) return send_error(c, 400, "path: required (a file inside the run folder)");
    int rc = ui_path_resolve(dir, rel, path, sizeof path);
    if (rc != UI_PATH_OK) return send_error(c, path_status(rc), "path %s: %s", rel, path_reason(rc));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return send_error(c, 404, "path %s: not a file", rel);
    if (st.st_size > MAX_RAW_FILE) return send_error(c, 413, "path %s: %lld bytes, too large", rel, (long long)st.st_size);
    size_t len;
    char *text = fs_read_file(path, &len);
    if (!text) return send_error(c, 500, "path %s: cannot read: %s", rel, strerror(errno));
    return send_bytes(c, 200, "text/plain; charset=utf-8", text, len, MHD_RESPMEM_MUST_FREE, NULL);
}

typedef struct {
    char **ids;
    size_t n, cap;
} id_list;

static enum MHD_Result collect_ids(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    id_list *l = cls;
    if (strcmp(key, "id") != 0 || !value || l->n >= 64) return MHD_YES;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        char **n = realloc(l->ids, l->cap * sizeof *n);
        if (!n) return MHD_NO;
        l->ids = n;
    }
    l->ids[l->n++] = strdup(value);
    return MHD_YES;
}

static enum MHD_Result api_compare(server *s, struct MHD_Connection *c) {
    id_list l = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_ids, &l);
    char **dirs = calloc(l.n + 1, sizeof *dirs);
    enum MHD_Result r = MHD_NO;
    size_t ok = 0;
    for (size_t i = 0; dirs && i < l.n; i++) {
        char dir[PATH_MAX];
        int rc = l.ids[i] ? ui_run_dir(s->roots, l.ids[i], dir, sizeof dir) : UI_PATH_BAD;
        if (rc != UI_PATH_OK) {
            r = send_error(c, path_status(rc), "id %s: %s", l.ids[i] ? l.ids[i] : "?", path_reason(rc));
            goto out;
        }
        dirs[i] = strdup(dir);
        ok++;
    }
    if (!l.n) {
        r = send_error(c, 400, "id: give one or more run ids (id=...&id=...)");
        goto out;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "rows", ui_runs_compare((const char *const *)dirs, (const char *const *)l.ids, ok));
    r = send_json(c, 200, o);
out:
    for (size_t i = 0; i < l.n; i++) free(l.ids[i]), free(dirs ? dirs[i] : NULL);
    free(l.ids);
    free(dirs);
    return r;
}

static enum MHD_Result api_verify(server *s, struct MHD_Connection *c, const cJSON *req) {
    const char *vname = json_get_str(req, "verifier", "gcc");
    vf_kind kind;
    if (vf_kind_parse(vname, &kind) != 0 || kind == VF_CUSTOM)
        return send_error(c, 400, "verifier: '%s' is not one of gcc clang mingw execution python rust go", vname);
    const char *code = json_get_str(req, "code", NULL);
    if (!code || !*code) return send_error(c, 400, "code: required");
    if (strlen(code) > MAX_PLAYGROUND_CODE) return send_error(c, 413, "code: more than %d bytes", MAX_PLAYGROUND_CODE);
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(req, "run");
    if (run && !cJSON_IsBool(run)) return send_error(c, 400, "run: must be true or false");
    pthread_mutex_lock(&s->play_mu);
    bool busy = s->play_running >= MAX_PLAYGROUND_AT_ONCE;
    if (!busy) s->play_running++;
    pthread_mutex_unlock(&s->play_mu);
    if (busy) return send_error(c, 503, "the playground is verifying %d programs already; try again", MAX_PLAYGROUND_AT_ONCE);
    vf_config cfg;
    vf_config_default(&cfg, kind);
    cfg.run = !run || cJSON_IsTrue(run);
    cfg.workers = 1;
    vf_sample smp;
    memset(&smp, 0, sizeof smp);
    smp.completion = code;
    const char *exp = json_get_str(req, "expected_output", NULL), *in = json_get_str(req, "stdin", NULL);
    smp.expected_output = exp && *exp ? exp : NULL;
    smp.stdin_text = in && *in ? in : NULL;
    const char *tests = json_get_str(req, "tests", NULL), *entry = json_get_str(req, "entry_point", NULL);
    smp.test_code = tests && *tests ? tests : NULL;
    smp.entry_point = entry && *entry ? entry : NULL;
    vf_result r;
    char err[512];
    int rc = vf_verify(&cfg, &smp, &r, err, sizeof err);
    pthread_mutex_lock(&s->play_mu);
    s->play_running--;
    pthread_mutex_unlock(&s->play_mu);
    if (rc != 0) return send_error(c, 400, "%s", err);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "verifier", vf_kind_name(kind));
    cJSON_AddBoolToObject(o, "run", cfg.run);
    char *extracted = vf_extract_code(code, NULL);
    cJSON_AddStringToObject(o, "code", extracted ? extracted : "");
    free(extracted);
    vf_result_to_json(&r, o);
    vf_result_free(&r);
    return send_json(c, 200, o);
}

static enum MHD_Result api_launch(server *s, struct MHD_Connection *c, const cJSON *req) {
    char **argv = NULL, out_dir[PATH_MAX + UI_PATH_MAX + 2], run_id[UI_PATH_MAX + 16], err[1024];
    if (ui_launch_argv(req, s->roots, s->self_exe, &argv, out_dir, sizeof out_dir, run_id, sizeof run_id, err,
                       sizeof err) != 0)
        return send_error(c, 400, "%s", err);
    int id = ui_jobs_start(s->jobs, argv, out_dir, run_id, err, sizeof err);
    if (id < 0) {
        ui_argv_free(argv);
        return send_error(c, 500, "%s", err);
    }
    log_info("ui: started job %d: %s %s -> %s", id, argv[1], argv[2], out_dir);
    cJSON *o = cJSON_CreateObject(), *av = cJSON_AddArrayToObject(o, "argv");
    cJSON_AddNumberToObject(o, "job", id);
    cJSON_AddStringToObject(o, "run_id", run_id);
    for (char **a = argv + 1; *a; a++) cJSON_AddItemToArray(av, cJSON_CreateString(*a));
    ui_argv_free(argv);
    return send_json(c, 201, o);
}

static enum MHD_Result route_get(server *s, struct MHD_Connection *c, const char *url, const char *cookie) {
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) url = "/index.html";
    const ui_asset *a = ui_asset_find(url + 1);
    if (a) return send_bytes(c, 200, a->type, a->data, a->len, MHD_RESPMEM_PERSISTENT, cookie);
    char dir[PATH_MAX];
    enum MHD_Result sent;
    if (!strcmp(url, "/api/runs")) return send_json(c, 200, ui_runs_list(s->roots));
    if (!strcmp(url, "/api/run")) {
        if (run_dir_arg(s, c, dir, sizeof dir, &sent)) return sent;
        return send_json(c, 200, ui_run_detail(dir, arg(c, "id")));
    }
    if (!strcmp(url, "/api/samples")) {
        if (run_dir_arg(s, c, dir, sizeof dir, &sent)) return sent;
        long off, lim;
        if (int_arg(c, "offset", 0, &off) || int_arg(c, "limit", 100, &lim) || lim > 1000)
            return send_error(c, 400, "offset, limit: whole numbers (limit at most 1000)");
        return send_json(c, 200, ui_run_samples(dir, arg(c, "set"), arg(c, "prompt"), arg(c, "status"), off, lim));
    }
    if (!strcmp(url, "/api/sample")) {
        if (run_dir_arg(s, c, dir, sizeof dir, &sent)) return sent;
        long line;
        if (int_arg(c, "line", 0, &line) || line < 1) return send_error(c, 400, "line: a line number from 1");
        cJSON *o = ui_run_sample(dir, arg(c, "set"), line);
        if (!o) return send_error(c, 404, "no sample at set '%s' line %ld", arg(c, "set") ? arg(c, "set") : "", line);
        return send_json(c, 200, o);
    }
    if (!strcmp(url, "/api/file")) return api_file(s, c);
    if (!strcmp(url, "/api/compare")) return api_compare(s, c);
    if (!strcmp(url, "/api/schema")) {
        cJSON *o = cJSON_CreateObject(), *v = cJSON_AddArrayToObject(o, "verifiers"), *roots = cJSON_AddArrayToObject(o, "roots");
        cJSON_AddItemToObject(o, "launch", ui_launch_schema());
        for (int k = 0; k < VF_KIND_COUNT; k++)
            if (k != VF_CUSTOM) cJSON_AddItemToArray(v, cJSON_CreateString(vf_kind_name((vf_kind)k)));
        for (int i = 0; i < s->roots->n; i++) cJSON_AddItemToArray(roots, cJSON_CreateString(s->roots->given[i]));
        return send_json(c, 200, o);
    }
    if (!strcmp(url, "/api/jobs")) return send_json(c, 200, ui_jobs_list(s->jobs));
    if (!strcmp(url, "/api/log")) {
        long job, off;
        if (int_arg(c, "job", 0, &job) || int_arg(c, "offset", 0, &off)) return send_error(c, 400, "job, offset: whole numbers");
        cJSON *o = ui_jobs_log(s->jobs, (int)job, off, 1L << 20);
        if (!o) return send_error(c, 404, "no job %ld", job);
        return send_json(c, 200, o);
    }
    return send_error(c, 404, "%s: no such page or endpoint", url);
}

static enum MHD_Result route_post(server *s, struct MHD_Connection *c, const char *url, request *rq) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        return send_error(c, 415, "POST bodies must be JSON (Content-Type: application/json)");
    if (rq->too_big) return send_error(c, 413, "request body over %ld bytes", MAX_BODY);
    cJSON *req = rq->len ? cJSON_ParseWithLength(rq->body, rq->len) : cJSON_CreateObject();
    if (!cJSON_IsObject(req)) {
        cJSON_Delete(req);
        return send_error(c, 400, "the body is not a JSON object");
    }
    enum MHD_Result r;
    if (!strcmp(url, "/api/launch")) {
        r = api_launch(s, c, req);
    } else if (!strcmp(url, "/api/stop")) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(req, "job");
        char err[256];
        long job;
        if (!json_long_in(j, 0, INT_MAX, &job)) r = send_error(c, 400, "job: required (a job number)");
        else if (ui_jobs_stop(s->jobs, (int)job, err, sizeof err) != 0) r = send_error(c, 409, "%s", err);
        else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "job", (double)job);
            cJSON_AddStringToObject(o, "sent", "SIGINT");
            r = send_json(c, 200, o);
        }
    } else if (!strcmp(url, "/api/verify")) {
        r = api_verify(s, c, req);
    } else {
        r = send_error(c, 404, "%s: no such endpoint", url);
    }
    cJSON_Delete(req);
    return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    server *s = cls;
    request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rq->too_big) {
            if (rq->len + *upload_size > (size_t)MAX_BODY) {
                rq->too_big = true;
            } else {
                char *nb = realloc(rq->body, rq->len + *upload_size + 1);
                if (!nb) return MHD_NO;
                memcpy(nb + rq->len, upload, *upload_size);
                rq->body = nb;
                rq->len += *upload_size;
                rq->body[rq->len] = 0;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    bool set_cookie;
    unsigned deny = check_access(s, c, &set_cookie);
    if (deny == 403) return send_error(c, 403, "Host header does not name this server (127.0.0.1:%d or localhost:%d)", s->port, s->port);
    if (deny) return send_error(c, 401, "a token is needed: add ?token=... to the address, or send X-Halo-Token");
    char cookie[128];
    snprintf(cookie, sizeof cookie, "hf_token=%s; Path=/; HttpOnly; SameSite=Strict", s->token);
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) return route_get(s, c, url, set_cookie ? cookie : NULL);
    if (!strcmp(method, "POST")) {
        /* another origin's page may not post here (a browser sends Origin on cross-site POSTs) */
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        if (origin && host) {
            const char *o = strstr(origin, "://");
            if (!o || strcasecmp(o + 3, host) != 0) return send_error(c, 403, "cross-origin request refused");
        }
        return route_post(s, c, url, rq);
    }
    return send_error(c, 405, "%s: method not allowed", method);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    request *rq = *con_cls;
    if (rq) free(rq->body);
    free(rq);
    *con_cls = NULL;
}

int ui_serve(const ui_options *o, char *err, size_t errcap) {
    server s;
    memset(&s, 0, sizeof s);
    s.roots = o->roots;
    pthread_mutex_init(&s.play_mu, NULL);
    ssize_t n = readlink("/proc/self/exe", s.self_exe, sizeof s.self_exe - 1);
    if (n <= 0) {
        snprintf(err, errcap, "cannot find the program itself (/proc/self/exe): %s", strerror(errno));
        return -1;
    }
    s.self_exe[n] = 0;
    const char *host = o->host ? o->host : "127.0.0.1";
    s.loopback = ui_host_is_loopback(host);
    if (!s.loopback) {
        unsigned char rnd[16];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            snprintf(err, errcap, "cannot draw a token: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < 16; i++) snprintf(s.token + 2 * i, 3, "%02x", rnd[i]);
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", o->port);
    int g = getaddrinfo(host, port_s, &hints, &ai);
    if (g != 0) {
        snprintf(err, errcap, "--host %s: %s", host, gai_strerror(g));
        return -1;
    }
    s.jobs = ui_jobs_new();
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, handle, &s, MHD_OPTION_SOCK_ADDR,
                                            ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                            MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        snprintf(err, errcap, "cannot listen on %s port %d (in use, or not an address of this machine?)", host, o->port);
        ui_jobs_free(s.jobs, 0);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    s.port = info ? info->port : o->port;
    bool v6 = strchr(host, ':') != NULL;
    printf("halo-forge ui: http://%s%s%s:%d/%s%s\n", v6 ? "[" : "", host, v6 ? "]" : "", s.port, s.token[0] ? "?token=" : "",
           s.token);
    if (s.token[0]) printf("token: %s (every request needs it)\n", s.token);
    printf("run folders:");
    for (int i = 0; i < o->roots->n; i++) printf(" %s", o->roots->given[i]);
    printf("\n");
    fflush(stdout);
    while (!*o->stop) usleep(100 * 1000);
    MHD_stop_daemon(d);
    ui_jobs_free(s.jobs, o->stop_wait_s);
    pthread_mutex_destroy(&s.play_mu);
    return 0;
}
