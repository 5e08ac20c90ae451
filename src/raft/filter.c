/* raft filter: global / per-prompt selection, no-signal prompts, rescue, stats (see filter.h). */
#include "raft/filter.h"

#include "core/fs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const raft_bucket_names[RAFT_NBUCKETS] = {"0.0", "0.3", "0.5", "0.7", "1.0"};

int raft_reward_bucket(double r) {
    if (r < 0.15) return 0;
    if (r < 0.4) return 1;
    if (r < 0.6) return 2;
    if (r < 0.9) return 3;
    return 4;
}

void raft_filter_cfg_default(raft_filter_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = RAFT_FILTER_GLOBAL;
    cfg->reward_threshold = 0.5;
    cfg->keep_percent = 0.5;
}

int raft_filter_mode_parse(const char *name, raft_filter_mode *out) {
    if (!strcmp(name, "global")) *out = RAFT_FILTER_GLOBAL;
    else if (!strcmp(name, "per-prompt") || !strcmp(name, "per_prompt")) *out = RAFT_FILTER_PER_PROMPT;
    else return -1;
    return 0;
}

/* Indices by reward descending, then index ascending (a stable order). */
static int by_reward_desc(const void *a, const void *b, void *ctx) {
    const raft_scored *s = ctx;
    long i = *(const long *)a, j = *(const long *)b;
    if (s[i].reward > s[j].reward) return -1;
    if (s[i].reward < s[j].reward) return 1;
    return (i > j) - (i < j);
}

static void sort_indices(const raft_scored *s, long *idx, long n) {
    qsort_r(idx, (size_t)n, sizeof *idx, by_reward_desc, (void *)s);
}

static long keep_count(long above, double keep) {
    if (above <= 0) return 0;
    long k = (long)floor((double)above * keep + 1e-9);
    return k < 1 ? 1 : k;
}

long raft_filter(const raft_scored *s, long n, const raft_filter_cfg *cfg, long **kept_out, raft_filter_stats *st) {
    memset(st, 0, sizeof *st);
    *kept_out = NULL;
    if (!(cfg->keep_percent > 0 && cfg->keep_percent <= 1) || n < 0) return -1;
    st->effective_threshold = cfg->reward_threshold;
    st->total_samples = n;
    long max_prompt = -1;
    for (long i = 0; i < n; i++) {
        if (s[i].prompt < 0) return -1;
        if (s[i].prompt > max_prompt) max_prompt = s[i].prompt;
    }
    long np = max_prompt + 1;
    long *count = calloc((size_t)np + 1, sizeof *count), *succ = calloc((size_t)np + 1, sizeof *succ);
    bool *drop = calloc((size_t)np + 1, sizeof *drop), *has_kept = calloc((size_t)np + 1, sizeof *has_kept);
    long *order = malloc(((size_t)n + 1) * sizeof *order), *kept = malloc(((size_t)n + 1) * sizeof *kept);
    bool *is_kept = calloc((size_t)n + 1, sizeof *is_kept);
    long nk = -1;
    if (!count || !succ || !drop || !has_kept || !order || !kept || !is_kept) goto done;

    double sum = 0;
    long nsucc = 0;
    for (long i = 0; i < n; i++) {
        count[s[i].prompt]++;
        if (s[i].success) succ[s[i].prompt]++, nsucc++;
        sum += s[i].reward;
        st->reward_distribution[raft_reward_bucket(s[i].reward)]++;
    }
    st->avg_reward = n ? sum / (double)n : 0.0;
    st->success_rate = n ? (double)nsucc / (double)n : 0.0;
    for (long p = 0; p < np; p++) {
        if (!count[p]) continue;
        st->prompts++;
        bool unsolved = succ[p] == 0, solved = succ[p] == count[p];
        st->prompts_unsolved += unsolved;
        st->prompts_solved += solved;
        if ((unsolved && cfg->drop_unsolved) || (solved && cfg->drop_solved)) {
            drop[p] = true;
            st->prompts_dropped++;
        }
    }

    /* eligible samples, best first */
    long ne = 0;
    for (long i = 0; i < n; i++)
        if (!drop[s[i].prompt]) order[ne++] = i;
    sort_indices(s, order, ne);
    for (long j = 0; j < ne; j++)
        if (s[order[j]].reward >= cfg->reward_threshold) st->above_threshold++;

    nk = 0;
    if (cfg->mode == RAFT_FILTER_GLOBAL) {
        long take = keep_count(st->above_threshold, cfg->keep_percent);
        for (long j = 0; j < ne && nk < take; j++) /* the above-threshold samples lead the order */
            kept[nk++] = order[j];
    } else {
        /* per prompt: walk the global order, counting each prompt's above-threshold samples first */
        long *above = calloc((size_t)np + 1, sizeof *above), *taken = calloc((size_t)np + 1, sizeof *taken);
        if (!above || !taken) {
            free(above);
            free(taken);
            nk = -1;
            goto done;
        }
        for (long j = 0; j < ne; j++)
            if (s[order[j]].reward >= cfg->reward_threshold) above[s[order[j]].prompt]++;
        for (long j = 0; j < ne; j++) {
            long i = order[j], p = s[i].prompt;
            if (s[i].reward < cfg->reward_threshold) continue;
            if (taken[p] < keep_count(above[p], cfg->keep_percent)) {
                kept[nk++] = i;
                taken[p]++;
            }
        }
        free(above);
        free(taken);
    }
    for (long j = 0; j < nk; j++) is_kept[kept[j]] = true;

    if (cfg->min_samples > 0 && nk < cfg->min_samples) {
        for (long j = 0; j < ne && nk < cfg->min_samples; j++) {
            long i = order[j];
            if (is_kept[i] || !(s[i].reward > 0)) continue;
            kept[nk++] = i;
            is_kept[i] = true;
            st->rescued++;
        }
        if (st->rescued) st->threshold_adjusted = true;
    }
    /* final order: best first, ties in input order */
    sort_indices(s, kept, nk);
    st->kept = nk;
    double ksum = 0;
    for (long j = 0; j < nk; j++) {
        ksum += s[kept[j]].reward;
        if (!has_kept[s[kept[j]].prompt]) {
            has_kept[s[kept[j]].prompt] = true;
            st->prompts_kept++;
        }
    }
    st->avg_kept_reward = nk ? ksum / (double)nk : 0.0;
    if (st->threshold_adjusted && nk) st->effective_threshold = s[kept[nk - 1]].reward;

done:
    free(count);
    free(succ);
    free(drop);
    free(has_kept);
    free(order);
    free(is_kept);
    if (nk > 0) *kept_out = kept;
    else free(kept);
    return nk;
}

static double r4(double v) { return round(v * 1e4) / 1e4; }

void raft_filter_stats_to_json(const raft_filter_stats *st, cJSON *o) {
    cJSON_AddNumberToObject(o, "total_samples", (double)st->total_samples);
    cJSON_AddNumberToObject(o, "above_threshold", (double)st->above_threshold);
    cJSON_AddNumberToObject(o, "kept", (double)st->kept);
    cJSON_AddNumberToObject(o, "avg_reward", r4(st->avg_reward));
    cJSON_AddNumberToObject(o, "avg_kept_reward", r4(st->avg_kept_reward));
    cJSON_AddNumberToObject(o, "success_rate", r4(st->success_rate));
    cJSON *d = cJSON_AddObjectToObject(o, "reward_distribution");
    for (int b = 0; b < RAFT_NBUCKETS; b++) cJSON_AddNumberToObject(d, raft_bucket_names[b], (double)st->reward_distribution[b]);
    cJSON_AddBoolToObject(o, "threshold_adjusted", st->threshold_adjusted);
    cJSON_AddNumberToObject(o, "effective_threshold", r4(st->effective_threshold));
    cJSON_AddNumberToObject(o, "prompts", (double)st->prompts);
    cJSON_AddNumberToObject(o, "prompts_unsolved", (double)st->prompts_unsolved);
    cJSON_AddNumberToObject(o, "prompts_solved", (double)st->prompts_solved);
    cJSON_AddNumberToObject(o, "prompts_dropped", (double)st->prompts_dropped);
    cJSON_AddNumberToObject(o, "prompts_kept", (double)st->prompts_kept);
    cJSON_AddNumberToObject(o, "rescued", (double)st->rescued);
}

cJSON *raft_statistics_load(const char *path, char *err, size_t errcap) {
    if (!fs_exists(path)) return cJSON_CreateArray();
    char *text = fs_read_file(path, NULL);
    if (!text) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cJSON *arr = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        snprintf(err, errcap, "%s: not a JSON array of cycle statistics", path);
        return NULL;
    }
    return arr;
}

static int entry_cycle(const cJSON *e) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "cycle");
    return cJSON_IsNumber(c) ? c->valueint : -1;
}

int raft_statistics_put(const char *path, const cJSON *entry, char *err, size_t errcap) {
    int cycle = entry_cycle(entry);
    if (cycle < 0) {
        snprintf(err, errcap, "%s: a statistics entry needs a numeric \"cycle\"", path);
        return -1;
    }
    cJSON *arr = raft_statistics_load(path, err, errcap);
    if (!arr) return -1;
    cJSON *copy = cJSON_Duplicate(entry, 1);
    if (!copy) {
        cJSON_Delete(arr);
        snprintf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    int pos = 0, size = cJSON_GetArraySize(arr);
    bool replaced = false;
    for (pos = 0; pos < size; pos++) {
        int c = entry_cycle(cJSON_GetArrayItem(arr, pos));
        if (c == cycle) {
            cJSON_ReplaceItemInArray(arr, pos, copy);
            replaced = true;
            break;
        }
        if (c > cycle) break;
    }
    if (!replaced) {
        if (pos < size) cJSON_InsertItemInArray(arr, pos, copy);
        else cJSON_AddItemToArray(arr, copy);
    }
    char *text = cJSON_Print(arr);
    cJSON_Delete(arr);
    if (!text) {
        snprintf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    size_t len = strlen(text);
    int rc = fs_write_atomic(path, text, len);
    free(text);
    if (rc != 0) snprintf(err, errcap, "%s: %s", path, strerror(errno));
    return rc;
}
