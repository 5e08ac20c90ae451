/* The generate engine's path for a backend that samples by itself (a GPU: only token ids come back), run on the
 * CPU through a stand-in backend: the CPU's ops, host_memory off (so the model downloads through op.download as
 * from a device) and an op.sample of its own (greedy argmax, or a softmax draw from the seed). Greedy generation
 * over prefix forks and continuous batching gives the CPU engine's tokens; a seeded run repeats itself and does
 * not depend on the batch size; the draws of a prompt's first tokens come from its kept prefill row (rows[]);
 * the engine never asks the backend for logits when it samples there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "generate/generate.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[256], modeldir[300];
static long n_sample_calls, n_rows_calls, n_downloads_big;
static size_t big_bytes;

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The stand-in's sampler: temperature only (top-k / top-p are the GPU kernel's, tested in test_cuda_ops). */
static int fake_sample(bk_backend *b, int *ids, float *lps, const float *logits, const int *rows, int n, int V,
                       const bk_sample_params *sp, const uint64_t *seeds) {
    (void)b;
    n_sample_calls++;
    if (rows) n_rows_calls++;
    for (int i = 0; i < n; i++) {
        const float *r = logits + (size_t)(rows ? rows[i] : i) * V;
        int best = 0;
        for (int j = 1; j < V; j++)
            if (r[j] > r[best]) best = j;
        if (sp->temperature <= 0) {
            ids[i] = best;
            if (lps) lps[i] = 0;
            continue;
        }
        double tot = 0;
        for (int j = 0; j < V; j++) tot += exp((r[j] - r[best]) / sp->temperature);
        double u = (double)(mix(seeds[i]) >> 11) * 0x1p-53 * tot, acc = 0;
        int k = V - 1;
        for (int j = 0; j < V; j++) {
            acc += exp((r[j] - r[best]) / sp->temperature);
            if (acc > u) { k = j; break; }
        }
        ids[i] = k;
        if (lps) lps[i] = (float)((r[k] - r[best]) / sp->temperature - log(tot));
    }
    return 0;
}

static int (*cpu_download)(bk_backend *, void *, const void *, size_t);
static int counting_download(bk_backend *b, void *dst, const void *src, size_t n) {
    if (n >= big_bytes) n_downloads_big++; /* a row of logits or more */
    return cpu_download(b, dst, src, n);
}

static bk_backend fake;

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hf_test_gendev_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(modeldir, sizeof modeldir, "%s/m", tmpdir);
    model_config c;
    char err[512];
    if (model_preset("tiny", &c) != 0) return -1;
    if (model_write_random(modeldir, &c, false, 5, 0.3, true, err, sizeof err) != 0) return -1;
    fake = *bk_cpu();
    snprintf(fake.name, sizeof fake.name, "fake-gpu:0");
    fake.host_memory = false;
    fake.op.sample = fake_sample;
    cpu_download = fake.op.download;
    fake.op.download = counting_download;
    big_bytes = (size_t)c.vocab_size * sizeof(float);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

enum { NP = 3, NS = 4, NEW = 12 };

typedef struct {
    int toks[NP][NS][NEW];
    float lps[NP][NS][NEW];
    int n[NP][NS];
} outs;

static int collect(void *user, const gen_result *r) {
    outs *o = user;
    o->n[r->prompt_idx][r->sample_idx] = r->n_tokens;
    for (int j = 0; j < r->n_tokens && j < NEW; j++) {
        o->toks[r->prompt_idx][r->sample_idx][j] = r->tokens[j];
        o->lps[r->prompt_idx][r->sample_idx][j] = r->logprobs[j];
    }
    return 0;
}

static void run(bk_backend *bk, float temperature, int batch, uint64_t seed, outs *o) {
    char err[512];
    model *m = model_load_on(modeldir, bk, err, sizeof err);
    if (!m) fail_msg("%s", err);
    model_set_precision(m, MODEL_PRECISION_EXACT);
    assert_int_equal(model_samples_on_device(m), bk == &fake);
    int p0[5] = {1, 2, 3, 4, 5}, p1[2] = {9, 8}, p2[7] = {7, 7, 7, 1, 2, 3, 4};
    const int *ids[NP] = {p0, p1, p2};
    int n_ids[NP] = {5, 2, 7};
    gen_params p;
    gen_params_default(&p);
    p.n_samples = NS;
    p.max_new_tokens = NEW;
    p.sampling.temperature = temperature;
    p.seed = seed;
    p.batch_size = batch;
    p.ignore_eos = true;
    memset(o, 0, sizeof *o);
    gen_stats st;
    if (gen_run_ids(m, NULL, ids, n_ids, NP, &p, collect, o, &st, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(st.n_samples, NP * NS);
    model_free(m);
}

static void test_greedy_equals_cpu(void **state) {
    (void)state;
    outs a, b;
    run(bk_cpu(), 0.0f, 3, 1, &a);
    n_sample_calls = n_rows_calls = n_downloads_big = 0;
    run(&fake, 0.0f, 3, 1, &b);
    assert_true(n_sample_calls > 0);
    assert_true(n_rows_calls >= NP); /* each prompt's first tokens from its kept row */
    assert_int_equal(n_downloads_big, 0); /* no logits came back */
    for (int i = 0; i < NP; i++)
        for (int s = 0; s < NS; s++) {
            assert_int_equal(a.n[i][s], NEW);
            assert_int_equal(b.n[i][s], NEW);
            for (int j = 0; j < NEW; j++) {
                assert_int_equal(a.toks[i][s][j], b.toks[i][s][j]);
                assert_true(b.lps[i][s][j] == 0.0f);
            }
        }
}

static void test_seeded_reproducible_any_batch(void **state) {
    (void)state;
    outs a, b, c, d;
    run(&fake, 1.0f, 3, 7, &a);
    run(&fake, 1.0f, 3, 7, &b);
    run(&fake, 1.0f, 12, 7, &c); /* every sample at once */
    run(&fake, 1.0f, 3, 8, &d);
    int differ = 0, within = 0;
    for (int i = 0; i < NP; i++)
        for (int s = 0; s < NS; s++)
            for (int j = 0; j < NEW; j++) {
                assert_int_equal(a.toks[i][s][j], b.toks[i][s][j]);
                assert_int_equal(a.toks[i][s][j], c.toks[i][s][j]);
                assert_true(fabsf(a.lps[i][s][j] - c.lps[i][s][j]) < 1e-4f);
                assert_true(a.lps[i][s][j] <= 0.0f);
                differ += a.toks[i][s][j] != d.toks[i][s][j];
                /* samples of one prompt draw from their own streams */
                if (s > 0) within += a.toks[i][s][j] != a.toks[i][0][j];
            }
    assert_true(differ > NP * NS * NEW / 4);
    assert_true(within > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_equals_cpu),
        cmocka_unit_test(test_seeded_reproducible_any_batch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
