#include "core/jsonl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int jsonl_open(jsonl_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!r->f) return -1;
    struct stat st;
    if (r->f != stdin && fstat(fileno(r->f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(r->f); /* fopen opens a folder for reading; the first read would fail with less to say */
        r->f = NULL;
        errno = EISDIR;
        return -1;
    }
    r->path = strdup(path);
    return 0;
}

int jsonl_next(jsonl_reader *r, cJSON **out, char *err, size_t errcap) {
    *out = NULL;
    for (;;) {
        ssize_t n = getline(&r->line, &r->cap, r->f);
        if (n < 0) return 0;
        r->lineno++;
        const char *p = r->line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (!*p) continue;
        if ((size_t)n != strlen(r->line)) {
            snprintf(err, errcap, "%s:%ld: line contains a NUL byte", r->path, r->lineno);
            return -1;
        }
        const char *end = NULL;
        cJSON *obj = cJSON_ParseWithOpts(p, &end, 0);
        if (!obj) {
            snprintf(err, errcap, "%s:%ld: invalid JSON near column %ld", r->path, r->lineno,
                     (long)((end ? end : p) - r->line) + 1);
            return -1;
        }
        while (end && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
        if (end && *end) {
            cJSON_Delete(obj);
            snprintf(err, errcap, "%s:%ld: unexpected text after the JSON object (column %ld)", r->path, r->lineno,
                     (long)(end - r->line) + 1);
            return -1;
        }
        if (!cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            snprintf(err, errcap, "%s:%ld: expected a JSON object ({...})", r->path, r->lineno);
            return -1;
        }
        long bl, bc;
        if (!json_utf8_valid(r->line, (size_t)n, &bl, &bc)) {
            cJSON_Delete(obj);
            snprintf(err, errcap, "%s:%ld: invalid UTF-8 at column %ld", r->path, r->lineno, bc);
            return -1;
        }
        const char *dup = json_duplicate_key(obj);
        if (dup) {
            snprintf(err, errcap, "%s:%ld: duplicate key \"%.100s\"", r->path, r->lineno, dup);
            cJSON_Delete(obj);
            return -1;
        }
        *out = obj;
        return 1;
    }
}

void jsonl_close(jsonl_reader *r) {
    if (r->f && r->f != stdin) fclose(r->f);
    free(r->line);
    free(r->path);
    memset(r, 0, sizeof *r);
}

int jsonl_write(FILE *f, const cJSON *obj) {
    char *s = cJSON_PrintUnformatted(obj);
    if (!s) return -1;
    int rc = fputs(s, f) < 0 || fputc('\n', f) == EOF || fflush(f) != 0 ? -1 : 0;
    free(s);
    return rc;
}

const char *json_get_str(const cJSON *obj, const char *key, const char *dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

double json_get_num(const cJSON *obj, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

bool json_long_in(const cJSON *v, long lo, long hi, long *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    _Static_assert(LONG_MAX == 0x7fffffffffffffffL, "long is 64-bit on the platforms we build for");
    /* [-2^63, 2^63) is exactly the doubles a long holds; NaN fails both comparisons */
    if (!(d >= -0x1p63 && d < 0x1p63) || d != floor(d)) return false;
    long x = (long)d;
    if (x < lo || x > hi) return false;
    *out = x;
    return true;
}

long json_get_long(const cJSON *obj, const char *key, long dflt) {
    long v = dflt;
    json_long_in(cJSON_GetObjectItemCaseSensitive(obj, key), LONG_MIN, LONG_MAX, &v);
    return v;
}

int json_get_int(const cJSON *obj, const char *key, int dflt) {
    long v = dflt;
    json_long_in(cJSON_GetObjectItemCaseSensitive(obj, key), INT_MIN, INT_MAX, &v);
    return (int)v;
}

bool json_utf8_valid(const char *s, size_t n, long *line, long *col) {
    const unsigned char *p = (const unsigned char *)s;
    long ln = 1;
    size_t line_start = 0, i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len = 0;
        unsigned cp = 0, min = 0;
        if (c < 0x80) {
            if (c == '\n') { ln++; line_start = i + 1; }
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) ok = false;
            else cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (!ok || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            if (line) *line = ln;
            if (col) *col = (long)(i - line_start) + 1;
            return false;
        }
        i += len;
    }
    return true;
}

static int key_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *json_duplicate_key(const cJSON *node) {
    if (!node) return NULL;
    if (cJSON_IsObject(node)) {
        size_t k = 0;
        for (const cJSON *c = node->child; c; c = c->next) k++;
        if (k > 1) {
            /* sorted neighbours: n log n, so a 150k-entry vocabulary costs no more than reading it */
            const char **keys = malloc(k * sizeof *keys);
            const char *dup = NULL;
            if (keys) {
                size_t i = 0;
                for (const cJSON *c = node->child; c; c = c->next) keys[i++] = c->string ? c->string : "";
                qsort(keys, k, sizeof *keys, key_cmp);
                for (i = 1; i < k && !dup; i++)
                    if (!strcmp(keys[i - 1], keys[i])) dup = keys[i];
                free(keys);
            }
            if (dup) return dup;
        }
    }
    if (cJSON_IsObject(node) || cJSON_IsArray(node))
        for (const cJSON *c = node->child; c; c = c->next) {
            const char *d = json_duplicate_key(c);
            if (d) return d;
        }
    return NULL;
}
