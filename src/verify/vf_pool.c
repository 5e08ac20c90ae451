/* The worker pool: verifies an array of samples on N threads, keeps input order, and compiles
 * each distinct (language, source) pair once. RL batches repeat completions a lot. */
#include "verify/vf_internal.h"

#include "core/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const vf_config *cfg;
    const vf_sample *samples;
    vf_result *out;
    size_t n;
    char **codes;      /* extracted code per sample */
    vf_lang *langs;
    long *unit_of;     /* index into units, -1 when the sample needs no compile */
    vf_unit *units;
    size_t n_units;
    atomic_size_t next_unit, next_sample;
    pthread_mutex_t lock;
    size_t done;
    vf_progress_fn fn;
    void *user;
} batch;

static uint64_t hash_key(vf_lang lang, const char *code) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)lang;
    for (const unsigned char *p = (const unsigned char *)code; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

static void *worker(void *arg) {
    batch *b = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&b->next_unit, 1);
        if (i >= b->n_units) break;
        vf_compile(b->cfg, b->units[i].code, b->units[i].lang, &b->units[i]);
    }
    return NULL;
}

static void *grader(void *arg) {
    batch *b = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&b->next_sample, 1);
        if (i >= b->n) break;
        vf_result *r = &b->out[i];
        if (b->unit_of[i] == -2) {
            /* already graded (wrong language family) */
        } else if (b->unit_of[i] < 0) {
            vf_grade_uncompiled(b->cfg, &b->samples[i], b->codes[i], b->langs[i], r);
        } else {
            vf_grade_compiled(b->cfg, &b->samples[i], &b->units[b->unit_of[i]], r);
        }
        pthread_mutex_lock(&b->lock);
        b->done++;
        if (b->fn) b->fn(b->user, b->done, b->n);
        pthread_mutex_unlock(&b->lock);
    }
    return NULL;
}

static void run_threads(void *(*fn)(void *), batch *b, int nthreads) {
    if (nthreads <= 1) {
        fn(b);
        return;
    }
    pthread_t *t = calloc((size_t)nthreads, sizeof *t);
    if (!t) {
        fn(b);
        return;
    }
    int started = 0;
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&t[i], NULL, fn, b) == 0) started++;
        else break;
    if (started == 0) fn(b);
    for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
    free(t);
}

int vf_verify_batch(const vf_config *cfg, const vf_sample *samples, size_t n, vf_result *out, vf_progress_fn fn,
                    void *user, char *err, size_t errcap) {
    if (vf_check_config(cfg, err, errcap) != 0) return -1;
    memset(out, 0, n * sizeof *out);
    if (n == 0) return 0;
    /* a halo-forge killed mid-batch left its job directories behind; nobody else will remove them */
    int stale = sbx_clean_stale_dirs();
    if (stale > 0) log_info("removed %d sandbox director%s left by halo-forge processes that no longer exist", stale,
                            stale == 1 ? "y" : "ies");
    int workers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (workers < 1) workers = 1;
    if (workers > 128) workers = 128;
    batch b;
    memset(&b, 0, sizeof b);
    b.cfg = cfg;
    b.samples = samples;
    b.out = out;
    b.n = n;
    b.fn = fn;
    b.user = user;
    pthread_mutex_init(&b.lock, NULL);
    b.codes = calloc(n, sizeof *b.codes);
    b.langs = calloc(n, sizeof *b.langs);
    b.unit_of = calloc(n, sizeof *b.unit_of);
    b.units = calloc(n, sizeof *b.units);
    /* open-addressing table from (lang, code) to unit */
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    long *table = malloc(cap * sizeof *table);
    uint64_t *hashes = calloc(n, sizeof *hashes);
    if (!b.codes || !b.langs || !b.unit_of || !b.units || !table || !hashes) {
        snprintf(err, errcap, "out of memory for a batch of %zu samples", n);
        free(b.codes); free(b.langs); free(b.unit_of); free(b.units); free(table); free(hashes);
        return -1;
    }
    for (size_t i = 0; i < cap; i++) table[i] = -1;
    for (size_t i = 0; i < n; i++) {
        vf_lang hint;
        b.codes[i] = vf_extract_code(samples[i].completion, &hint);
        if (!b.codes[i]) abort();
        b.langs[i] = vf_pick_language(cfg, b.codes[i], hint);
        b.unit_of[i] = -1;
        if (vf_wrong_family(cfg, b.langs[i], &out[i])) {
            b.unit_of[i] = -2;
            continue;
        }
        if (!vf_kind_compiles(cfg->kind)) continue;
        uint64_t h = hash_key(b.langs[i], b.codes[i]);
        size_t slot = h & (cap - 1);
        long found = -1;
        while (table[slot] >= 0) {
            long u = table[slot];
            if (hashes[u] == h && b.units[u].lang == b.langs[i] && !strcmp(b.units[u].code, b.codes[i])) {
                found = u;
                break;
            }
            slot = (slot + 1) & (cap - 1);
        }
        if (found < 0) {
            found = (long)b.n_units++;
            b.units[found].code = strdup(b.codes[i]);
            if (!b.units[found].code) abort();
            b.units[found].lang = b.langs[i];
            hashes[found] = h;
            table[slot] = found;
        } else {
            out[i].compile_cached = true;
        }
        b.unit_of[i] = found;
    }
    free(table);
    free(hashes);
    int wc = workers < (int)b.n_units ? workers : (int)b.n_units;
    run_threads(worker, &b, wc);
    int wg = workers < (int)n ? workers : (int)n;
    run_threads(grader, &b, wg);
    /* Fairness: a sample that hit the wall clock while using little CPU may have been starved by
     * its neighbours (a fork bomb in the same batch saturates every core). Run those again, one
     * at a time, before trusting the timeout. A program that really sleeps times out again. */
    if (wg > 1) {
        double limit = cfg->run_timeout_s > 0 ? cfg->run_timeout_s : 5;
        for (size_t i = 0; i < n; i++) {
            if (out[i].status != VF_TIMEOUT || out[i].run_cpu_s >= 0.5 * limit || b.unit_of[i] == -2) continue;
            bool cached = out[i].compile_cached;
            vf_result_free(&out[i]);
            memset(&out[i], 0, sizeof out[i]);
            if (b.unit_of[i] < 0) vf_grade_uncompiled(cfg, &samples[i], b.codes[i], b.langs[i], &out[i]);
            else vf_grade_compiled(cfg, &samples[i], &b.units[b.unit_of[i]], &out[i]);
            out[i].compile_cached = cached;
        }
    }
    for (size_t i = 0; i < b.n_units; i++) vf_unit_free(&b.units[i]);
    for (size_t i = 0; i < n; i++) free(b.codes[i]);
    free(b.codes);
    free(b.langs);
    free(b.unit_of);
    free(b.units);
    pthread_mutex_destroy(&b.lock);
    return 0;
}
