#include "data/dsv.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "data/dhttp.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool env_true(const char *name) {
    const char *v = env(name);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

static void home_path(char *out, size_t cap, const char *p) {
    if (p[0] == '~' && (p[1] == '/' || !p[1])) snprintf(out, cap, "%s%s", env("HOME") ? env("HOME") : "", p + 1);
    else snprintf(out, cap, "%s", p);
}

static void hf_home(char *out, size_t cap) {
    if (env("HF_HOME")) home_path(out, cap, env("HF_HOME"));
    else if (env("XDG_CACHE_HOME")) {
        char b[3000];
        home_path(b, sizeof b, env("XDG_CACHE_HOME"));
        if (snprintf(out, cap, "%s/huggingface", b) >= (int)cap) out[0] = '\0';
    } else home_path(out, cap, "~/.cache/huggingface");
}

static void load_token(dsv_source *s) {
    s->token[0] = '\0';
    const char *t = env("HF_TOKEN") ? env("HF_TOKEN") : env("HUGGING_FACE_HUB_TOKEN");
    if (t) {
        snprintf(s->token, sizeof s->token, "%s", t);
        return;
    }
    char path[4096], home[3000];
    if (env("HF_TOKEN_PATH")) home_path(path, sizeof path, env("HF_TOKEN_PATH"));
    else {
        hf_home(home, sizeof home);
        snprintf(path, sizeof path, "%s/token", home);
    }
    char *text = fs_read_file(path, NULL);
    if (!text) return;
    char *b = text;
    while (isspace((unsigned char)*b)) b++;
    size_t n = strlen(b);
    while (n && isspace((unsigned char)b[n - 1])) b[--n] = '\0';
    if (n < sizeof s->token) memcpy(s->token, b, n + 1);
    free(text);
}

static bool valid_id(const char *id) {
    const char *slash = strchr(id, '/');
    if (!*id || strlen(id) > 190) return false;
    if (slash && strchr(slash + 1, '/')) return false;
    for (const char *p = id; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.' || *p == '/')) return false;
    return !strstr(id, "..") && id[0] != '/' && (!slash || slash[1]);
}

/* A config or split name as a file name: keep safe characters, escape the rest. */
static void safe_name(char *out, size_t cap, const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 4 < cap; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || (*p == '.' && p != (const unsigned char *)s)) out[n++] = (char)*p;
        else n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
    }
    out[n] = '\0';
}

/* Why a status means failure, in words, with the server's {"error": ...} when it sent one. */
static void http_failure(const dsv_source *s, long st, const char *body, const char *what, char *err, size_t errcap) {
    char said[400] = "";
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    if (cJSON_IsString(e)) snprintf(said, sizeof said, " (server: %.360s)", e->valuestring);
    cJSON_Delete(j);
    if (st == 401 || st == 403)
        err_set(err, errcap, "%s: %s needs authentication (HTTP %ld)%s: %s", what, s->dataset, st, said,
                s->token[0] ? "the token in HF_TOKEN was refused; check that it has access to this dataset"
                            : "it may be gated or private: accept its conditions on the Hub and set HF_TOKEN");
    else if (st == 404)
        err_set(err, errcap, "%s: dataset %s (config '%s', split '%s') not found on %s (HTTP 404)%s", what, s->dataset,
                s->config[0] ? s->config : "?", s->split, s->server, said);
    else
        err_set(err, errcap, "%s: %s answered HTTP %ld%s", what, s->server, st, said);
}

/* GET url into *out (parsed), caching the body at path. Returns 0 or -1. */
static int fetch_cached(dsv_source *s, const char *url, const char *path, const char *what, cJSON **out, char *err,
                        size_t errcap) {
    *out = NULL;
    char *text = fs_exists(path) ? fs_read_file(path, NULL) : NULL;
    if (text) {
        *out = cJSON_Parse(text);
        free(text);
        if (*out) return 0;
        log_warn("%s: cached file %s is not JSON; fetching it again", what, path);
    }
    if (s->offline) {
        err_set(err, errcap, "%s: HF_HUB_OFFLINE is set and %s is not in the cache (%s)", what, s->dataset, path);
        return -1;
    }
    char auth[1100];
    const char *hdrs[2] = {NULL, NULL};
    if (s->token[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->token);
        hdrs[0] = auth;
    }
    dhttp_options o;
    dhttp_options_init(&o);
    o.what = what;
    long st = 0;
    char *body = NULL;
    int unreachable = 0;
    if (dhttp_request(url, hdrs, NULL, &o, &st, &body, &unreachable, err, errcap) != 0) {
        if (unreachable) {
            size_t l = strlen(err);
            snprintf(err + l, errcap > l ? errcap - l : 0,
                     " (and it is not in the cache; set HF_DATASETS_SERVER to another server, or run once online)");
        }
        return -1;
    }
    if (st != 200) {
        http_failure(s, st, body, what, err, errcap);
        free(body);
        return -1;
    }
    *out = cJSON_Parse(body);
    if (!*out) {
        err_set(err, errcap, "%s: %s sent an answer that is not JSON", what, s->server);
        free(body);
        return -1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    if (fs_mkdirs(dir) != 0 || fs_write_atomic(path, body, strlen(body)) != 0)
        log_warn("%s: cannot write the cache file %s: %s", what, path, strerror(errno));
    free(body);
    s->pages_fetched++;
    return 0;
}

int dsv_open(dsv_source *s, const char *dataset, const char *config, const char *split, char *err, size_t errcap) {
    memset(s, 0, sizeof *s);
    if (!valid_id(dataset)) {
        err_set(err, errcap, "'%s' is not a dataset id (ORG/NAME)", dataset);
        return -1;
    }
    snprintf(s->dataset, sizeof s->dataset, "%s", dataset);
    snprintf(s->split, sizeof s->split, "%s", split && *split ? split : "train");
    const char *srv = env("HF_DATASETS_SERVER") ? env("HF_DATASETS_SERVER") : "https://datasets-server.huggingface.co";
    snprintf(s->server, sizeof s->server, "%s", srv);
    size_t sl = strlen(s->server);
    while (sl && s->server[sl - 1] == '/') s->server[--sl] = '\0';
    s->offline = env_true("HF_HUB_OFFLINE") || env_true("HF_DATASETS_OFFLINE");
    load_token(s);
    char base[3000], flat[256];
    if (env("HF_DATASETS_CACHE")) home_path(base, sizeof base, env("HF_DATASETS_CACHE"));
    else {
        char home[2900];
        hf_home(home, sizeof home);
        snprintf(base, sizeof base, "%s/datasets", home);
    }
    snprintf(flat, sizeof flat, "%s", dataset);
    for (char *p = flat; *p; p++)
        if (*p == '/') { memmove(p + 2, p + 1, strlen(p + 1) + 1); p[0] = '-'; p[1] = '-'; p++; }
    snprintf(s->cache, sizeof s->cache, "%s/viewer/%s", base, flat);

    char url[2048], path[4200], what[400], q[600] = "";
    if (config && *config) {
        snprintf(s->config, sizeof s->config, "%s", config);
    } else {
        dhttp_urlencode(q, sizeof q, dataset);
        snprintf(url, sizeof url, "%s/splits?dataset=%s", s->server, q);
        snprintf(path, sizeof path, "%s/splits.json", s->cache);
        snprintf(what, sizeof what, "splits of %s", dataset);
        cJSON *j;
        if (fetch_cached(s, url, path, what, &j, err, errcap)) return -1;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "splits"), *it;
        cJSON_ArrayForEach(it, arr) {
            const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "config"));
            const char *sp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "split"));
            if (c && sp && !strcmp(sp, s->split)) {
                snprintf(s->config, sizeof s->config, "%s", c);
                break;
            }
        }
        if (!s->config[0]) {
            char have[600] = "";
            cJSON_ArrayForEach(it, arr) {
                const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "config"));
                const char *sp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "split"));
                size_t l = strlen(have);
                if (c && sp && l < sizeof have - 100) snprintf(have + l, sizeof have - l, "%s%s/%s", l ? ", " : "", c, sp);
            }
            err_set(err, errcap, "%s has no split '%s' (it has: %s)", dataset, s->split, have[0] ? have : "none");
            cJSON_Delete(j);
            return -1;
        }
        cJSON_Delete(j);
    }
    cJSON *page;
    s->total = 1; /* lets dsv_page accept offset 0 */
    if (dsv_page(s, 0, &page, err, errcap)) return -1;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(page, "num_rows_total");
    if (!json_long_in(t, 0, LONG_MAX, &s->total)) {
        err_set(err, errcap, "%s: the rows answer has no num_rows_total (a non-negative integer)", dataset);
        cJSON_Delete(page);
        return -1;
    }
    cJSON_Delete(page);
    return 0;
}

int dsv_page(dsv_source *s, long offset, cJSON **page, char *err, size_t errcap) {
    *page = NULL;
    if (offset < 0 || offset % DSV_PAGE || offset >= (s->total > 0 ? s->total : 1)) {
        err_set(err, errcap, "%s: no page at row %ld (%ld rows)", s->dataset, offset, s->total);
        return -1;
    }
    char qd[600] = "", qc[600] = "", qs[400] = "", url[3000], path[4700], what[700], fc[300], fs[300];
    dhttp_urlencode(qd, sizeof qd, s->dataset);
    dhttp_urlencode(qc, sizeof qc, s->config);
    dhttp_urlencode(qs, sizeof qs, s->split);
    snprintf(url, sizeof url, "%s/rows?dataset=%s&config=%s&split=%s&offset=%ld&length=%d", s->server, qd, qc, qs,
             offset, DSV_PAGE);
    safe_name(fc, sizeof fc, s->config);
    safe_name(fs, sizeof fs, s->split);
    if (snprintf(path, sizeof path, "%s/%s/%s/rows-%08ld.json", s->cache, fc, fs, offset) >= (int)sizeof path) {
        err_set(err, errcap, "%s: cache path too long", s->dataset);
        return -1;
    }
    snprintf(what, sizeof what, "rows %ld-%ld of %s (%s/%s)", offset, offset + DSV_PAGE - 1, s->dataset, s->config,
             s->split);
    if (fetch_cached(s, url, path, what, page, err, errcap)) return -1;
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*page, "rows"))) {
        err_set(err, errcap, "%s: the answer has no \"rows\" list", what);
        cJSON_Delete(*page);
        *page = NULL;
        return -1;
    }
    return 0;
}
