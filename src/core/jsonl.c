#include "core/jsonl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int jsonl_open(jsonl_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!r->f) return -1;
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
