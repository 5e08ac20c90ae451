/* passk: unbiased pass@k and its aggregation (see passk.h). */
#include "bench/passk.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double pk_estimate(long n, long c, long k) {
    if (k < 1 || k > n || c < 0 || c > n) return NAN;
    if (n - c < k) return 1.0; /* every draw of k contains a correct sample */
    /* C(n-c,k)/C(n,k) = prod_{i=n-c+1..n} (1 - k/i) */
    double p = 1.0;
    for (long i = n - c + 1; i <= n; i++) p *= 1.0 - (double)k / (double)i;
    return 1.0 - p;
}

void pk_tally_init(pk_tally *t) { memset(t, 0, sizeof *t); }

void pk_tally_free(pk_tally *t) {
    for (size_t i = 0; i < t->count; i++) {
        free(t->prompts[i].id);
        free(t->prompts[i].category);
    }
    free(t->prompts);
    memset(t, 0, sizeof *t);
}

long pk_tally_find(const pk_tally *t, const char *id) {
    for (size_t i = 0; i < t->count; i++)
        if (!strcmp(t->prompts[i].id, id)) return (long)i;
    return -1;
}

long pk_tally_add(pk_tally *t, const char *id, const char *category, bool correct) {
    long i = pk_tally_find(t, id);
    if (i < 0) {
        if (t->count == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 32;
            pk_prompt *p = realloc(t->prompts, cap * sizeof *p);
            if (!p) return -1;
            t->prompts = p;
            t->cap = cap;
        }
        pk_prompt *p = &t->prompts[t->count];
        p->id = strdup(id);
        p->category = strdup(category && *category ? category : "unknown");
        if (!p->id || !p->category) {
            free(p->id);
            free(p->category);
            return -1;
        }
        p->n = p->c = 0;
        i = (long)t->count++;
    }
    t->prompts[i].n++;
    if (correct) t->prompts[i].c++;
    return i;
}

long pk_tally_min_n(const pk_tally *t) {
    long m = 0;
    for (size_t i = 0; i < t->count; i++)
        if (i == 0 || t->prompts[i].n < m) m = t->prompts[i].n;
    return m;
}

long pk_tally_max_n(const pk_tally *t) {
    long m = 0;
    for (size_t i = 0; i < t->count; i++)
        if (t->prompts[i].n > m) m = t->prompts[i].n;
    return m;
}

double pk_tally_pass_at_k(const pk_tally *t, const char *category, long k) {
    double sum = 0;
    size_t used = 0;
    for (size_t i = 0; i < t->count; i++) {
        const pk_prompt *p = &t->prompts[i];
        if (category && strcmp(p->category, category)) continue;
        double v = pk_estimate(p->n, p->c, k);
        if (isnan(v)) return NAN;
        sum += v;
        used++;
    }
    return used ? sum / (double)used : NAN;
}

static double round4(double v) { return round(v * 1e4) / 1e4; }

/* {total, passed, pass_rate, pass_at_k} of one category (NULL: all). */
static void add_block(cJSON *obj, const pk_tally *t, const char *category, const long *ks, size_t nk) {
    long total = 0, passed = 0;
    for (size_t i = 0; i < t->count; i++) {
        const pk_prompt *p = &t->prompts[i];
        if (category && strcmp(p->category, category)) continue;
        total++;
        if (p->c > 0) passed++;
    }
    cJSON_AddNumberToObject(obj, "total", (double)total);
    cJSON_AddNumberToObject(obj, "passed", (double)passed);
    cJSON_AddNumberToObject(obj, "pass_rate", total ? round4((double)passed / (double)total) : 0.0);
    cJSON *pk = cJSON_AddObjectToObject(obj, "pass_at_k");
    long min_n = pk_tally_min_n(t);
    for (size_t j = 0; j < nk; j++) {
        if (ks[j] > min_n) continue;
        double v = pk_tally_pass_at_k(t, category, ks[j]);
        if (isnan(v)) continue;
        char key[24];
        snprintf(key, sizeof key, "%ld", ks[j]);
        cJSON_AddNumberToObject(pk, key, round4(v));
    }
}

cJSON *pk_tally_to_json(const pk_tally *t, const long *ks, size_t nk) {
    cJSON *obj = cJSON_CreateObject();
    if (!obj) return NULL;
    add_block(obj, t, NULL, ks, nk);
    cJSON *cats = cJSON_AddObjectToObject(obj, "by_category");
    for (size_t i = 0; i < t->count; i++) {
        const char *cat = t->prompts[i].category;
        if (cJSON_GetObjectItemCaseSensitive(cats, cat)) continue;
        cJSON *c = cJSON_AddObjectToObject(cats, cat);
        add_block(c, t, cat, ks, nk);
    }
    long min_n = pk_tally_min_n(t), max_n = pk_tally_max_n(t);
    if (min_n == max_n) {
        cJSON_AddNumberToObject(obj, "samples_per_prompt", (double)min_n);
    } else {
        cJSON *s = cJSON_AddObjectToObject(obj, "samples_per_prompt");
        cJSON_AddNumberToObject(s, "min", (double)min_n);
        cJSON_AddNumberToObject(s, "max", (double)max_n);
    }
    cJSON *sk = cJSON_AddArrayToObject(obj, "skipped_k");
    for (size_t j = 0; j < nk; j++)
        if (ks[j] > min_n) cJSON_AddItemToArray(sk, cJSON_CreateNumber((double)ks[j]));
    return obj;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int pk_parse_ks(const char *text, long *ks, size_t cap, char *err, size_t errcap) {
    size_t n = 0;
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || (*end && *end != ',' && *end != ' ')) {
            snprintf(err, errcap, "k values must be positive integers separated by commas, got '%s'", text);
            return -1;
        }
        if (n == cap) {
            snprintf(err, errcap, "at most %zu k values", cap);
            return -1;
        }
        ks[n++] = v;
        p = end;
    }
    if (!n) {
        snprintf(err, errcap, "empty list of k values");
        return -1;
    }
    qsort(ks, n, sizeof *ks, cmp_long);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || ks[i] != ks[u - 1]) ks[u++] = ks[i];
    return (int)u;
}
