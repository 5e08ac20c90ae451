/* raft curriculum: complexity score, strategies, per-prompt stats file (see curriculum.h). */
#include "raft/curriculum.h"

#include "core/fs.h"
#include "core/jsonl.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const curriculum_names[] = {"none", "complexity", "progressive", "adaptive", "historical"};

int raft_curriculum_parse(const char *name, raft_curriculum_kind *out) {
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, curriculum_names[i])) {
            *out = (raft_curriculum_kind)i;
            return 0;
        }
    return -1;
}

const char *raft_curriculum_name(raft_curriculum_kind k) { return (unsigned)k < 5 ? curriculum_names[k] : "?"; }

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* Byte length of the first max_chars characters of s. */
static size_t utf8_prefix(const char *s, size_t max_chars) {
    size_t chars = 0, i = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (chars == max_chars) break;
            chars++;
        }
    }
    return i;
}

static bool has_any(const char *lower, const char *const *words) {
    for (; *words; words++)
        if (strstr(lower, *words)) return true;
    return false;
}

/* Two quote characters (' or ") on one line: the original's quoted-string regex. */
static bool has_quoted(const char *s) {
    int quotes = 0;
    for (; *s; s++) {
        if (*s == '\n') quotes = 0;
        else if (*s == '"' || *s == '\'') {
            if (++quotes == 2) return true;
        }
    }
    return false;
}

double raft_complexity(const char *prompt) {
    size_t len = strlen(prompt);
    char *lower = malloc(len + 1);
    if (!lower) return 0.5;
    for (size_t i = 0; i <= len; i++) lower[i] = (char)tolower((unsigned char)prompt[i]);

    double len_score = fmin(1.0, (double)utf8_chars(prompt) / 500.0);
    static const char *const w1[] = {"print", "hello", "sum", "add", "count", "loop", "array", "string", NULL};
    static const char *const w2[] = {"sort", "search", "recursion", "class", "struct", "pointer", "memory",
                                     "file", "read", "write", "parse", NULL};
    static const char *const w3[] = {"thread", "async", "mutex", "socket", "network", "encrypt", "syscall",
                                     "injection", "hook", "shellcode", "exploit", "evasion", "obfuscate",
                                     "callback", "vtable", NULL};
    const char *const *lists[3] = {w1, w2, w3};
    double weights = 0;
    for (int l = 0; l < 3; l++)
        for (const char *const *w = lists[l]; *w; w++)
            if (strstr(lower, *w)) weights += l + 1;
    double kw_score = fmin(1.0, weights / 15.0);

    double spec = 0;
    bool digit = false;
    for (const char *p = prompt; *p; p++)
        if (isdigit((unsigned char)*p)) digit = true;
    if (digit) spec += 0.1;
    if (has_quoted(prompt)) spec += 0.1;
    static const char *const must[] = {"must", "should", "exactly", "specific", NULL};
    static const char *const fast[] = {"optimize", "efficient", "fast", NULL};
    static const char *const errs[] = {"error", "exception", "handle", NULL};
    static const char *const test[] = {"test", "verify", "validate", NULL};
    if (has_any(lower, must)) spec += 0.15;
    if (has_any(lower, fast)) spec += 0.1;
    if (has_any(lower, errs)) spec += 0.1;
    if (has_any(lower, test)) spec += 0.1;
    free(lower);
    return 0.3 * len_score + 0.4 * kw_score + 0.3 * fmin(1.0, spec);
}

int raft_curriculum_init(raft_curriculum *cur, raft_curriculum_kind kind, const char *const *prompts, size_t n) {
    memset(cur, 0, sizeof *cur);
    cur->kind = kind;
    cur->start = 0.2;
    cur->increment = 0.2;
    cur->difficulty = 0.5;
    cur->stats = calloc(n ? n : 1, sizeof *cur->stats);
    if (!cur->stats) return -1;
    cur->n = n;
    for (size_t i = 0; i < n; i++) {
        raft_prompt_stat *s = &cur->stats[i];
        size_t b = utf8_prefix(prompts[i], 200);
        s->key = strndup(prompts[i], b);
        if (!s->key) {
            raft_curriculum_free(cur);
            return -1;
        }
        s->complexity = raft_complexity(prompts[i]);
        s->history_rate = NAN;
    }
    return 0;
}

void raft_curriculum_free(raft_curriculum *cur) {
    for (size_t i = 0; i < cur->n; i++) free(cur->stats[i].key);
    free(cur->stats);
    memset(cur, 0, sizeof *cur);
}

/* Stable orders by a key, ties in file order. */
static int by_complexity(const void *a, const void *b, void *ctx) {
    const raft_curriculum *cur = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = cur->stats[i].complexity, y = cur->stats[j].complexity;
    if (x != y) return x < y ? -1 : 1;
    return (i > j) - (i < j);
}
static double history_of(const raft_prompt_stat *s) { return isnan(s->history_rate) ? 0.5 : s->history_rate; }
static int by_history(const void *a, const void *b, void *ctx) {
    const raft_curriculum *cur = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = history_of(&cur->stats[i]), y = history_of(&cur->stats[j]);
    if (x != y) return x > y ? -1 : 1;
    return (i > j) - (i < j);
}

static void sorted(const raft_curriculum *cur, size_t *out, int (*cmp)(const void *, const void *, void *)) {
    for (size_t i = 0; i < cur->n; i++) out[i] = i;
    qsort_r(out, cur->n, sizeof *out, cmp, (void *)cur);
}

size_t raft_curriculum_select(const raft_curriculum *cur, int cycle, size_t *out) {
    size_t n = cur->n;
    if (n == 0) return 0;
    switch (cur->kind) {
    case RAFT_CURRICULUM_NONE:
        for (size_t i = 0; i < n; i++) out[i] = i;
        return n;
    case RAFT_CURRICULUM_COMPLEXITY:
        sorted(cur, out, by_complexity);
        return n;
    case RAFT_CURRICULUM_PROGRESSIVE: {
        double frac = fmin(1.0, cur->start + (double)(cycle > 1 ? cycle - 1 : 0) * cur->increment);
        size_t k = (size_t)floor((double)n * frac + 1e-9);
        if (k < 1) k = 1;
        if (k > n) k = n;
        sorted(cur, out, by_complexity);
        return k;
    }
    case RAFT_CURRICULUM_ADAPTIVE: {
        if (cycle <= 1) {
            size_t k = n / 2 ? n / 2 : 1;
            sorted(cur, out, by_complexity);
            return k;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (fabs(cur->stats[i].complexity - cur->difficulty) <= 0.3 + 1e-12) out[k++] = i;
        if (k < n / 4 || k == 0) {
            for (size_t i = 0; i < n; i++) out[i] = i;
            k = n;
        }
        return k;
    }
    case RAFT_CURRICULUM_HISTORICAL:
        sorted(cur, out, cur->have_history ? by_history : by_complexity);
        return n;
    }
    return 0;
}

void raft_curriculum_record(raft_curriculum *cur, size_t i, long attempts, long successes) {
    if (i >= cur->n) return;
    cur->stats[i].attempts += attempts;
    cur->stats[i].successes += successes;
}

void raft_curriculum_record_samples(raft_curriculum *cur, const raft_scored *s, long n) {
    for (long i = 0; i < n; i++)
        if (s[i].prompt >= 0) raft_curriculum_record(cur, (size_t)s[i].prompt, 1, s[i].success ? 1 : 0);
}

bool raft_curriculum_update(raft_curriculum *cur, int cycle, double success_rate) {
    if (cycle <= cur->updated_cycle) return false;
    cur->updated_cycle = cycle;
    if (cur->kind != RAFT_CURRICULUM_ADAPTIVE) return true;
    if (success_rate > 0.7) cur->difficulty = fmin(1.0, cur->difficulty + 0.15);
    else if (success_rate < 0.2) cur->difficulty = fmax(0.0, cur->difficulty - 0.15);
    return true;
}

int raft_curriculum_cycles_to_full(double start, double increment) {
    if (start >= 1.0) return 1;
    if (increment <= 0) return -1;
    return 1 + (int)ceil((1.0 - start) / increment - 1e-9);
}

long raft_curriculum_load(raft_curriculum *cur, const char *path, bool restore, char *err, size_t errcap) {
    char *text = fs_read_file(path, NULL);
    if (!text) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "prompt_stats");
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(root);
        snprintf(err, errcap, "%s: not a curriculum stats file (no \"prompt_stats\" list)", path);
        return -1;
    }
    long matched = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "prompt");
        if (!cJSON_IsString(p)) continue;
        size_t kb = utf8_prefix(p->valuestring, 100);
        const cJSON *rate = cJSON_GetObjectItemCaseSensitive(it, "success_rate");
        for (size_t i = 0; i < cur->n; i++) {
            raft_prompt_stat *s = &cur->stats[i];
            size_t sb = utf8_prefix(s->key, 100);
            if (sb != kb || memcmp(s->key, p->valuestring, kb)) continue;
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "attempts");
            /* a prompt never tried has no rate yet (the original's files say 0 for those) */
            if (cJSON_IsNumber(rate) && !(cJSON_IsNumber(a) && a->valuedouble == 0)) s->history_rate = rate->valuedouble;
            if (restore) {
                const cJSON *ok = cJSON_GetObjectItemCaseSensitive(it, "successes");
                json_long_in(a, 0, LONG_MAX, &s->attempts);
                json_long_in(ok, 0, LONG_MAX, &s->successes);
            }
            matched++;
        }
    }
    if (restore) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "difficulty");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "updated_cycle");
        if (cJSON_IsNumber(d)) cur->difficulty = d->valuedouble;
        if (cJSON_IsNumber(u)) cur->updated_cycle = u->valueint;
    }
    cur->have_history = true;
    cJSON_Delete(root);
    return matched;
}

int raft_curriculum_save(const raft_curriculum *cur, const char *path, char *err, size_t errcap) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "strategy", raft_curriculum_name(cur->kind));
    cJSON_AddNumberToObject(root, "difficulty", round(cur->difficulty * 1e4) / 1e4);
    cJSON_AddNumberToObject(root, "updated_cycle", cur->updated_cycle);
    cJSON *list = cJSON_AddArrayToObject(root, "prompt_stats");
    for (size_t i = 0; i < cur->n; i++) {
        const raft_prompt_stat *s = &cur->stats[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "prompt", s->key);
        cJSON_AddNumberToObject(o, "complexity", round(s->complexity * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "success_rate",
                                s->attempts ? round((double)s->successes / (double)s->attempts * 1e4) / 1e4 : 0.0);
        cJSON_AddNumberToObject(o, "attempts", (double)s->attempts);
        cJSON_AddNumberToObject(o, "successes", (double)s->successes);
        cJSON_AddItemToArray(list, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        snprintf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    int rc = fs_write_atomic(path, text, strlen(text));
    if (rc != 0) snprintf(err, errcap, "%s: %s", path, strerror(errno));
    free(text);
    return rc;
}
