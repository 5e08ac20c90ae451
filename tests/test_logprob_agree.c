/* The log-probabilities the sampler sees and the ones the trainer computes agree: for the same tokens, the
 * KV-cached decode path (model_forward: a prompt prefilled once, forked to two slots, then one token per step
 * for both slots in one batch, exact precision) and the training forward (train_model_eval_tokens: the
 * sequences packed, no cache) give the same log p(token | prefix) to fp32 rounding. RL (issue 15) weights its
 * updates by the ratio of the two; a gap here would be a bias in every update.
 *
 * Both run the one forward pass (src/model/forward.c) on the CPU backend; what differs is the attention (over
 * the cache vs packed causal), the loss (log-softmax of downloaded logits vs chunked cross-entropy) and the
 * batching, so the test also guards those against drifting apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/rng.h"
#include "model/model.h"
#include "train/train_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[256];

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hf_test_agree_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown_tmp(void **state) {
    (void)state;
    return fs_remove_tree(tmpdir);
}

enum { PROMPT = 20, NEW = 12, NSEQ = 2, LEN = PROMPT + NEW };

static double log_softmax_at(const float *row, int V, int tok) {
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = row[i] > mx ? row[i] : mx;
    double s = 0;
    for (int i = 0; i < V; i++) s += exp((double)row[i] - mx);
    return (double)row[tok] - mx - log(s);
}

/* Sampler path: lp[s][j] = log p(seq[s][PROMPT + j] | seq[s][0 .. PROMPT + j - 1]). The prompt (shared by both
 * sequences) is prefilled once in slot 0 and forked to slot 1 (kv_copy); the new tokens are sampled from the
 * model's own distribution with a seeded RNG (as generate does) and fed back one per step for both slots. */
static void sampler_path(const char *dir, int seq[NSEQ][LEN], double lp[NSEQ][NEW]) {
    char err[512];
    model *m = model_load(dir, err, sizeof err);
    if (!m) fail_msg("%s", err);
    model_set_precision(m, MODEL_PRECISION_EXACT);
    const int V = model_get_config(m)->vocab_size;
    kv_cache *kv = kv_create(m, NSEQ, LEN);
    assert_non_null(kv);
    float *logits = malloc((size_t)NSEQ * V * sizeof(float));
    assert_non_null(logits);
    int s0 = 0, np = PROMPT;
    const int *pp = seq[0];
    assert_int_equal(model_forward(m, kv, 1, &s0, &pp, &np, logits, err, sizeof err), 0);
    kv_copy(kv, 1, 0);
    memcpy(logits + V, logits, (size_t)V * sizeof(float));
    rng_state r;
    rng_seed(&r, 42);
    for (int j = 0; j < NEW; j++) {
        int slots[NSEQ], ntok[NSEQ];
        const int *toks[NSEQ];
        for (int s = 0; s < NSEQ; s++) {
            const float *row = logits + (size_t)s * V;
            /* sample from softmax(row) */
            double u = rng_float(&r), acc = 0;
            int tok = V - 1;
            for (int i = 0; i < V; i++) {
                acc += exp(log_softmax_at(row, V, i));
                if (u < acc) { tok = i; break; }
            }
            seq[s][PROMPT + j] = tok;
            lp[s][j] = log_softmax_at(row, V, tok);
            slots[s] = s;
            ntok[s] = 1;
            toks[s] = &seq[s][PROMPT + j];
        }
        if (j + 1 < NEW) assert_int_equal(model_forward(m, kv, NSEQ, slots, toks, ntok, logits, err, sizeof err), 0);
    }
    free(logits);
    kv_free(kv);
    model_free(m);
}

static const lora_config lora4 = {.rank = 4, .alpha = 16, .dropout = 0.1f, .targets = LORA_ALL_TARGETS};

/* A trained-looking adapter of the model in dir, written to adir: lora_B drawn at random (a fresh one is 0). */
static void make_adapter(const char *dir, const char *adir) {
    char err[512];
    train_model *tm = train_model_load(dir, &lora4, 1, err, sizeof err);
    if (!tm) fail_msg("%s", err);
    rng_state r;
    rng_seed(&r, 99);
    for (int i = 0; i < train_model_n_tensors(tm); i++) {
        train_tensor *t = train_model_tensor(tm, i);
        if (strstr(t->name, "lora_B"))
            for (size_t k = 0; k < t->numel; k++) t->data[k] = (float)(0.05 * rng_normal(&r));
    }
    if (train_model_save_adapter(tm, adir, dir, err, sizeof err) != 0) fail_msg("%s", err);
    train_model_free(tm);
}

/* Training path: both sequences packed into one batch, the new tokens as targets. With adir, the LoRA adapters
 * are that folder's (the sampler then ran on the base with the adapter merged in). */
static void trainer_path(const char *dir, int rank, const char *adir, int seq[NSEQ][LEN], double lp[NSEQ][NEW]) {
    char err[512];
    lora_config lc = lora4;
    lc.rank = rank;
    lc.no_grad = rank == 0;
    train_model *tm = train_model_load(dir, &lc, 1, err, sizeof err);
    if (!tm) fail_msg("%s", err);
    if (adir && train_model_load_adapter_weights(tm, adir, err, sizeof err) != 0) fail_msg("%s", err);
    int tokens[NSEQ * LEN], starts[NSEQ + 1];
    uint8_t target[NSEQ * LEN];
    for (int s = 0; s < NSEQ; s++) {
        starts[s] = s * LEN;
        for (int t = 0; t < LEN; t++) {
            tokens[s * LEN + t] = seq[s][t];
            target[s * LEN + t] = t >= PROMPT;
        }
    }
    starts[NSEQ] = NSEQ * LEN;
    train_batch b = {.n_tokens = NSEQ * LEN, .n_seqs = NSEQ, .tokens = tokens, .seq_start = starts, .target = target};
    float nll[NSEQ * NEW];
    double sum;
    long n;
    assert_int_equal(train_model_eval_tokens(tm, &b, nll, &sum, &n, err, sizeof err), 0);
    assert_int_equal(n, NSEQ * NEW);
    double check = 0;
    for (int s = 0; s < NSEQ; s++)
        for (int j = 0; j < NEW; j++) {
            lp[s][j] = -(double)nll[s * NEW + j];
            check += nll[s * NEW + j];
        }
    assert_true(fabs(check - sum) < 1e-3);
    train_model_free(tm);
}

static void run_case(bool bf16, int rank, bool adapter, double tol) {
    char dir[512], adir[600], err[512];
    snprintf(dir, sizeof dir, "%s/m_%s", tmpdir, bf16 ? "bf16" : "f32");
    if (!fs_is_dir(dir)) {
        model_config c;
        model_preset("tiny", &c);
        if (model_write_random(dir, &c, bf16, 11, 0.35, true, err, sizeof err) != 0) fail_msg("%s", err);
    }
    int seq[NSEQ][LEN];
    rng_state r;
    rng_seed(&r, 7);
    for (int t = 0; t < PROMPT; t++) seq[0][t] = seq[1][t] = (int)(rng_float(&r) * 512) % 512;
    double a[NSEQ][NEW], b[NSEQ][NEW];
    snprintf(adir, sizeof adir, "%s_adapter", dir);
    if (adapter) make_adapter(dir, adir);
    sampler_path(adapter ? adir : dir, seq, a);
    trainer_path(dir, rank, adapter ? adir : NULL, seq, b);
    double maxd = 0, mean = 0;
    for (int s = 0; s < NSEQ; s++)
        for (int j = 0; j < NEW; j++) {
            double d = fabs(a[s][j] - b[s][j]);
            maxd = d > maxd ? d : maxd;
            mean += a[s][j] / (NSEQ * NEW);
        }
    /* the two sequences diverged (sampled), so the fork and the batched decode were exercised */
    bool differ = false;
    for (int j = 0; j < NEW; j++) differ |= seq[0][PROMPT + j] != seq[1][PROMPT + j];
    assert_true(differ);
    printf("  %s weights, trainer %s%s: max |log p sampler - log p trainer| = %.3g over %d tokens (mean log p "
           "%.3f)\n", bf16 ? "bf16" : "f32", rank ? "LoRA r=4" : "full", adapter ? " (trained adapter, merged for the "
           "sampler)" : "", maxd, NSEQ * NEW, mean);
    assert_true(maxd < tol);
}

/* fp32 rounding only: the same weights, different attention / loss code and batching. */
static void test_f32_full(void **state) { (void)state; run_case(false, 0, false, 2e-5); }
static void test_f32_lora(void **state) { (void)state; run_case(false, 4, false, 2e-5); }
static void test_bf16_full(void **state) { (void)state; run_case(true, 0, false, 2e-5); }
static void test_bf16_lora(void **state) { (void)state; run_case(true, 4, false, 2e-5); }
/* A nonzero adapter: the sampler runs W + s B A merged in fp32, the trainer W x + s B (A x). */
static void test_f32_adapter(void **state) { (void)state; run_case(false, 4, true, 2e-5); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_full),
        cmocka_unit_test(test_f32_lora),
        cmocka_unit_test(test_bf16_full),
        cmocka_unit_test(test_bf16_lora),
        cmocka_unit_test(test_f32_adapter),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
