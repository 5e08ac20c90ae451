/* Unit tests of src/train: finite-difference checks of every op's backward, the whole model's loss
 * and gradients (LoRA and full fine-tuning) and 10 AdamW steps against the PyTorch reference
 * (committed fixtures from tests/reference/train_ref.py), gradient checkpointing, accumulation,
 * dropout determinism, schedules, adapter save/load and merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/rng.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "train/data.h"
#include "train/opt_adamw.h"
#include "train/sched.h"
#include "train/train_model.h"
#include "train/train_ops.h"
#include "train_ref.h"

static char tmpdir[256];

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hf_test_train_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown_tmp(void **state) {
    (void)state;
    return fs_remove_tree(tmpdir);
}

static const char *src_dir(void) {
    const char *s = getenv("HF_SOURCE_DIR");
    return s ? s : HF_SOURCE_DIR;
}

static void fill_random(float *x, size_t n, rng_state *r, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(r) * scale;
}

static double dot_d(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Compares an analytic gradient with central differences of f at a few coordinates of x. */
typedef double (*scalar_fn)(void *ctx);
static void fd_check(const char *what, float *x, size_t n, const float *grad, scalar_fn f, void *ctx) {
    const float h = 1e-2f;
    double gnorm = sqrt(dot_d(grad, grad, n)) + 1e-12;
    double maxrel = 0;
    for (size_t k = 0; k < n; k += n / 23 + 1) {
        float keep = x[k];
        x[k] = keep + h;
        double fp = f(ctx);
        x[k] = keep - h;
        double fm = f(ctx);
        x[k] = keep;
        double num = (fp - fm) / (2 * h);
        double rel = fabs(num - grad[k]) / (fabs(num) + fabs(grad[k]) + 1e-3 * gnorm / sqrt((double)n) + 1e-6);
        if (rel > maxrel) maxrel = rel;
        if (rel > 2e-2)
            fail_msg("%s: d/dx[%zu] analytic %.6g, finite difference %.6g", what, k, (double)grad[k], num);
    }
}

/* ---------- per-op finite differences: L = sum(r * op(x)) ---------- */

enum { T_ = 7, H_ = 12 };

typedef struct {
    float x[T_ * H_], w[H_], r[T_ * H_], y[T_ * H_], rstd[T_];
} norm_ctx;
static double norm_f(void *v) {
    norm_ctx *c = v;
    train_rmsnorm_fwd(c->y, c->rstd, c->x, c->w, T_, H_, 1e-6f);
    return dot_d(c->y, c->r, T_ * H_);
}
static void test_fd_rmsnorm(void **state) {
    (void)state;
    norm_ctx c;
    rng_state r;
    rng_seed(&r, 1);
    fill_random(c.x, T_ * H_, &r, 1);
    fill_random(c.w, H_, &r, 1);
    fill_random(c.r, T_ * H_, &r, 1);
    float dx[T_ * H_], dw[H_] = {0};
    norm_f(&c);
    train_rmsnorm_bwd(dx, dw, c.r, c.x, c.w, c.rstd, T_, H_);
    fd_check("rmsnorm x", c.x, T_ * H_, dx, norm_f, &c);
    fd_check("rmsnorm w", c.w, H_, dw, norm_f, &c);
}

typedef struct {
    float x[T_ * H_], y[T_ * H_], r[T_ * H_], cs[T_ * 6];
} rope_ctx;
static double rope_f(void *v) {
    rope_ctx *c = v;
    memcpy(c->y, c->x, sizeof c->x);
    train_rope_fwd(c->y, T_, 2, 6, c->cs);
    return dot_d(c->y, c->r, T_ * H_);
}
static void test_fd_rope(void **state) {
    (void)state;
    rope_ctx c;
    rng_state r;
    rng_seed(&r, 2);
    fill_random(c.x, T_ * H_, &r, 1);
    fill_random(c.r, T_ * H_, &r, 1);
    int pos[T_];
    for (int t = 0; t < T_; t++) pos[t] = t * 3;
    float inv[3] = {1.0f, 0.1f, 0.01f};
    train_rope_table(c.cs, pos, T_, 6, inv);
    float d[T_ * H_];
    memcpy(d, c.r, sizeof d);
    train_rope_bwd(d, T_, 2, 6, c.cs);
    fd_check("rope", c.x, T_ * H_, d, rope_f, &c);
}

enum { AT = 9, NH = 4, NKV = 2, HD = 6 };
typedef struct {
    float q[AT * NH * HD], k[AT * NKV * HD], v[AT * NKV * HD], out[AT * NH * HD], lse[AT * NH], r[AT * NH * HD];
    int seq_start[3];
} attn_ctx;
static double attn_f(void *vc) {
    attn_ctx *c = vc;
    train_attn_fwd(c->out, c->lse, c->q, c->k, c->v, 2, c->seq_start, NH, NKV, HD);
    return dot_d(c->out, c->r, AT * NH * HD);
}
static void test_fd_attention(void **state) {
    (void)state;
    attn_ctx c = {.seq_start = {0, 5, AT}};
    rng_state r;
    rng_seed(&r, 3);
    fill_random(c.q, sizeof c.q / 4, &r, 1);
    fill_random(c.k, sizeof c.k / 4, &r, 1);
    fill_random(c.v, sizeof c.v / 4, &r, 1);
    fill_random(c.r, sizeof c.r / 4, &r, 1);
    attn_f(&c);
    float dq[AT * NH * HD], dk[AT * NKV * HD], dv[AT * NKV * HD];
    train_attn_bwd(dq, dk, dv, c.r, c.out, c.lse, c.q, c.k, c.v, 2, c.seq_start, NH, NKV, HD);
    fd_check("attention q", c.q, sizeof c.q / 4, dq, attn_f, &c);
    fd_check("attention k", c.k, sizeof c.k / 4, dk, attn_f, &c);
    fd_check("attention v", c.v, sizeof c.v / 4, dv, attn_f, &c);
    /* Packing: the second sequence does not see the first. */
    float out2[AT * NH * HD];
    attn_f(&c);
    memcpy(out2, c.out, sizeof out2);
    c.k[0] += 5;
    c.v[0] += 5;
    attn_f(&c);
    assert_memory_equal(out2 + 5 * NH * HD, c.out + 5 * NH * HD, (AT - 5) * NH * HD * sizeof(float));
}

/* Sequences longer than the attention's block of query rows (64), ragged, against a plain double-precision
 * evaluation of the same formulas: forward outputs and all three gradients. */
static void test_attention_blocks_match_plain(void **state) {
    (void)state;
    enum { T = 220, H = 4, KV = 2, D = 16 };
    const int starts[3] = {0, 150, T};
    const int qd = H * D, kvd = KV * D;
    float *q = malloc(sizeof(float) * T * qd), *k = malloc(sizeof(float) * T * kvd), *v = malloc(sizeof(float) * T * kvd);
    float *dout = malloc(sizeof(float) * T * qd), *out = malloc(sizeof(float) * T * qd), *lse = malloc(sizeof(float) * T * H);
    float *dq = malloc(sizeof(float) * T * qd), *dk = malloc(sizeof(float) * T * kvd), *dv = malloc(sizeof(float) * T * kvd);
    double *rout = calloc((size_t)T * qd, sizeof(double)), *rdq = calloc((size_t)T * qd, sizeof(double));
    double *rdk = calloc((size_t)T * kvd, sizeof(double)), *rdv = calloc((size_t)T * kvd, sizeof(double));
    double *p = malloc(sizeof(double) * T);
    rng_state r;
    rng_seed(&r, 11);
    fill_random(q, (size_t)T * qd, &r, 2);
    fill_random(k, (size_t)T * kvd, &r, 2);
    fill_random(v, (size_t)T * kvd, &r, 1);
    fill_random(dout, (size_t)T * qd, &r, 1);
    train_attn_fwd(out, lse, q, k, v, 2, starts, H, KV, D);
    train_attn_bwd(dq, dk, dv, dout, out, lse, q, k, v, 2, starts, H, KV, D);
    const double scale = 1.0 / sqrt((double)D);
    for (int s = 0; s < 2; s++)
        for (int h = 0; h < H; h++)
            for (int i = starts[s]; i < starts[s + 1]; i++) {
                const int g = h / (H / KV);
                double mx = -1e300, sum = 0, Dsum = 0;
                for (int j = starts[s]; j <= i; j++) {
                    double sc = 0;
                    for (int d = 0; d < D; d++) sc += (double)q[i * qd + h * D + d] * k[j * kvd + g * D + d];
                    p[j] = sc * scale;
                    if (p[j] > mx) mx = p[j];
                }
                for (int j = starts[s]; j <= i; j++) sum += (p[j] = exp(p[j] - mx));
                for (int j = starts[s]; j <= i; j++) {
                    p[j] /= sum;
                    for (int d = 0; d < D; d++) rout[i * qd + h * D + d] += p[j] * v[j * kvd + g * D + d];
                }
                for (int d = 0; d < D; d++) Dsum += (double)dout[i * qd + h * D + d] * rout[i * qd + h * D + d];
                for (int j = starts[s]; j <= i; j++) {
                    double dp = 0;
                    for (int d = 0; d < D; d++) dp += (double)dout[i * qd + h * D + d] * v[j * kvd + g * D + d];
                    const double ds = p[j] * (dp - Dsum) * scale;
                    for (int d = 0; d < D; d++) {
                        rdq[i * qd + h * D + d] += ds * k[j * kvd + g * D + d];
                        rdk[j * kvd + g * D + d] += ds * q[i * qd + h * D + d];
                        rdv[j * kvd + g * D + d] += p[j] * dout[i * qd + h * D + d];
                    }
                }
            }
    struct { const char *name; const float *got; const double *want; size_t n; } cmp[] = {
        {"out", out, rout, (size_t)T * qd}, {"dq", dq, rdq, (size_t)T * qd},
        {"dk", dk, rdk, (size_t)T * kvd},   {"dv", dv, rdv, (size_t)T * kvd}};
    for (int c = 0; c < 4; c++) {
        double err2 = 0, ref2 = 0;
        for (size_t i = 0; i < cmp[c].n; i++) {
            err2 += (cmp[c].got[i] - cmp[c].want[i]) * (cmp[c].got[i] - cmp[c].want[i]);
            ref2 += cmp[c].want[i] * cmp[c].want[i];
        }
        if (!(sqrt(err2) <= 1e-5 * sqrt(ref2))) fail_msg("attention %s: relative error %g", cmp[c].name, sqrt(err2 / ref2));
    }
    free(q); free(k); free(v); free(dout); free(out); free(lse); free(dq); free(dk); free(dv);
    free(rout); free(rdq); free(rdk); free(rdv); free(p);
}

typedef struct {
    float g[40], u[40], a[40], r[40];
} swiglu_ctx;
static double swiglu_f(void *v) {
    swiglu_ctx *c = v;
    train_swiglu_fwd(c->a, c->g, c->u, 40);
    return dot_d(c->a, c->r, 40);
}
static void test_fd_swiglu(void **state) {
    (void)state;
    swiglu_ctx c;
    rng_state r;
    rng_seed(&r, 4);
    fill_random(c.g, 40, &r, 2);
    fill_random(c.u, 40, &r, 1);
    fill_random(c.r, 40, &r, 1);
    float dg[40], du[40];
    train_swiglu_bwd(dg, du, c.r, c.g, c.u, 40);
    fd_check("swiglu g", c.g, 40, dg, swiglu_f, &c);
    fd_check("swiglu u", c.u, 40, du, swiglu_f, &c);
}

typedef struct {
    float logits[3 * 11], work[3 * 11], nll[3];
    int tg[3];
} xent_ctx;
static double xent_f(void *v) {
    xent_ctx *c = v;
    memcpy(c->work, c->logits, sizeof c->work);
    train_xent_rows(c->work, c->tg, c->nll, 3, 11, 0);
    return (double)c->nll[0] + c->nll[1] + c->nll[2];
}
static void test_fd_xent(void **state) {
    (void)state;
    xent_ctx c = {.tg = {0, 5, 10}};
    rng_state r;
    rng_seed(&r, 5);
    fill_random(c.logits, 33, &r, 2);
    float g[33];
    memcpy(g, c.logits, sizeof g);
    train_xent_rows(g, c.tg, c.nll, 3, 11, 1.0f);
    fd_check("cross-entropy", c.logits, 33, g, xent_f, &c);
}

typedef struct {
    float x[5 * 6], W[4 * 6], b[4], y[5 * 4], r[5 * 4];
} mm_ctx;
static double mm_f(void *v) {
    mm_ctx *c = v;
    train_matmul_fwd(c->y, c->x, c->W, c->b, 5, 4, 6, 0);
    return dot_d(c->y, c->r, 20);
}
static void test_fd_linear(void **state) {
    (void)state;
    mm_ctx c;
    rng_state r;
    rng_seed(&r, 6);
    fill_random(c.x, 30, &r, 1);
    fill_random(c.W, 24, &r, 1);
    fill_random(c.b, 4, &r, 1);
    fill_random(c.r, 20, &r, 1);
    float dx[30], dW[24] = {0}, db[4] = {0};
    train_matmul_dx(dx, c.r, c.W, 5, 4, 6, 0);
    train_matmul_dw(dW, db, c.r, c.x, 5, 4, 6);
    fd_check("linear x", c.x, 30, dx, mm_f, &c);
    fd_check("linear W", c.W, 24, dW, mm_f, &c);
    fd_check("linear b", c.b, 4, db, mm_f, &c);
}

/* ---------- whole model against the PyTorch reference ---------- */

typedef struct {
    int *tokens, *seq_start;
    uint8_t *target;
    train_batch b;
    long n_targets;
} owned_batch;

static cJSON *read_json_file(const char *path) {
    char *text = fs_read_file(path, NULL);
    if (!text) fail_msg("cannot read %s", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

/* Sequences first..last-1 of the request as one packed batch. */
static void batch_from_request(owned_batch *ob, const cJSON *req, int first, int last) {
    const cJSON *seqs = cJSON_GetObjectItem(req, "sequences"), *tgs = cJSON_GetObjectItem(req, "targets");
    if (last < 0) last = cJSON_GetArraySize(seqs);
    int n = 0;
    for (int s = first; s < last; s++) n += cJSON_GetArraySize(cJSON_GetArrayItem(seqs, s));
    ob->tokens = malloc((size_t)n * sizeof(int));
    ob->target = malloc((size_t)n);
    ob->seq_start = malloc((size_t)(last - first + 1) * sizeof(int));
    int t = 0;
    ob->n_targets = 0;
    for (int s = first; s < last; s++) {
        ob->seq_start[s - first] = t;
        const cJSON *ids = cJSON_GetArrayItem(seqs, s), *tg = cJSON_GetArrayItem(tgs, s);
        for (int i = 0; i < cJSON_GetArraySize(ids); i++, t++) {
            ob->tokens[t] = cJSON_GetArrayItem(ids, i)->valueint;
            ob->target[t] = (uint8_t)cJSON_GetArrayItem(tg, i)->valueint;
            if (i > 0 && ob->target[t]) ob->n_targets++;
        }
    }
    ob->seq_start[last - first] = t;
    ob->b = (train_batch){.n_tokens = n, .n_seqs = last - first, .tokens = ob->tokens, .seq_start = ob->seq_start,
                          .target = ob->target};
}
static void batch_free(owned_batch *ob) {
    free(ob->tokens);
    free(ob->target);
    free(ob->seq_start);
}

/* Every trainable gradient against the reference file: |g - ref| <= 1e-4 * |ref| (norms per tensor). */
static void copy_adapter_init(const char *fixture, const char *dst_dir) {
    char src[8192], dst[8192];
    snprintf(src, sizeof src, "%s/adapter_init.safetensors", fixture);
    snprintf(dst, sizeof dst, "%s/adapter_model.safetensors", dst_dir);
    fs_mkdirs(dst_dir);
    size_t len;
    char *data = fs_read_file(src, &len);
    assert_non_null(data);
    assert_int_equal(fs_write_atomic(dst, data, len), 0);
    free(data);
}

/* The PyTorch fixtures on the CPU: loss and gradients within 1e-4, then 10 clipped AdamW steps' losses. */
static void run_reference_case(const char *name, bool ckpt) { tr_reference_case(bk_cpu(), name, ckpt, 1e-4, 1e-4, tmpdir); }

static void test_reference_gqa2_untied(void **state) { (void)state; run_reference_case("gqa2_untied_bf16", true); }
static void test_reference_tied(void **state) { (void)state; run_reference_case("gqa1_tied_f32", false); }
static void test_reference_llama(void **state) { (void)state; run_reference_case("llama_untied_f32", true); }
static void test_reference_odd_headdim(void **state) { (void)state; run_reference_case("odd_headdim_bf16", false); }


/* ---------- properties of the training step ---------- */

static train_model *load_fixture(const char *name, int rank, float dropout, bool with_init) {
    char model_dir[2048], fix[2048], adir[2400], err[1024];
    snprintf(model_dir, sizeof model_dir, "%s/tests/fixtures/model/%s", src_dir(), name);
    snprintf(fix, sizeof fix, "%s/tests/fixtures/train/%s", src_dir(), name);
    lora_config lc = {.rank = rank, .alpha = 8, .dropout = dropout, .targets = LORA_ALL_TARGETS};
    train_model *m = train_model_load(model_dir, &lc, 1, err, sizeof err);
    if (!m) fail_msg("%s", err);
    if (with_init) {
        snprintf(adir, sizeof adir, "%s/init_%s", tmpdir, name);
        copy_adapter_init(fix, adir);
        if (train_model_load_adapter_weights(m, adir, err, sizeof err)) fail_msg("%s", err);
    }
    return m;
}

static cJSON *fixture_request(const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/train/%s/request.json", src_dir(), name);
    return read_json_file(path);
}

static float *grads_copy(train_model *m, size_t *n) {
    float *g = train_model_grads(m, n);
    float *c = malloc(*n * sizeof(float));
    memcpy(c, g, *n * sizeof(float));
    return c;
}

static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return sqrt(d) / (sqrt(r) + 1e-30);
}

/* Two micro-batches with the step's target count as scale give the gradient of one batch holding both. */
static void test_accumulation(void **state) {
    (void)state;
    cJSON *req = fixture_request("gqa2_untied_bf16");
    owned_batch all, a, b;
    batch_from_request(&all, req, 0, -1);
    batch_from_request(&a, req, 0, 1);
    batch_from_request(&b, req, 1, -1);
    char err[512];
    for (int full = 0; full < 2; full++) {
        train_model *m = load_fixture("gqa2_untied_bf16", full ? 0 : 4, 0, !full);
        double nll, n1, n2;
        long nt;
        train_model_zero_grad(m);
        assert_int_equal(train_model_step(m, &all.b, 1.0f / (float)all.n_targets, &nll, &nt, err, sizeof err), 0);
        size_t n;
        float *g_all = grads_copy(m, &n);
        train_model_zero_grad(m);
        assert_int_equal(train_model_step(m, &a.b, 1.0f / (float)all.n_targets, &n1, &nt, err, sizeof err), 0);
        assert_int_equal(train_model_step(m, &b.b, 1.0f / (float)all.n_targets, &n2, &nt, err, sizeof err), 0);
        float *g_acc = grads_copy(m, &n);
        assert_true(fabs(n1 + n2 - nll) < 1e-4 * fabs(nll));
        assert_true(rel_diff(g_acc, g_all, n) < 1e-5);
        free(g_all);
        free(g_acc);
        train_model_free(m);
    }
    batch_free(&all);
    batch_free(&a);
    batch_free(&b);
    cJSON_Delete(req);
}

/* Checkpointing recomputes the same activations: identical gradients. */
static void test_checkpointing_same_gradients(void **state) {
    (void)state;
    cJSON *req = fixture_request("llama_untied_f32");
    owned_batch ob;
    batch_from_request(&ob, req, 0, -1);
    char err[512];
    float *g[2];
    size_t n;
    for (int ck = 0; ck < 2; ck++) {
        train_model *m = load_fixture("llama_untied_f32", 4, 0.2f, true);
        train_model_set_checkpointing(m, ck);
        train_model_set_dropout_key(m, 9, 3);
        double nll;
        long nt;
        train_model_zero_grad(m);
        assert_int_equal(train_model_step(m, &ob.b, 0.1f, &nll, &nt, err, sizeof err), 0);
        g[ck] = grads_copy(m, &n);
        train_model_free(m);
    }
    assert_memory_equal(g[0], g[1], n * sizeof(float));
    free(g[0]);
    free(g[1]);
    batch_free(&ob);
    cJSON_Delete(req);
}

/* Dropout: the same key gives the same masks, another key others; no dropout at evaluation. */
static void test_dropout(void **state) {
    (void)state;
    cJSON *req = fixture_request("gqa1_tied_f32");
    owned_batch ob;
    batch_from_request(&ob, req, 0, -1);
    char err[512];
    train_model *m = load_fixture("gqa1_tied_f32", 4, 0.3f, true);
    train_model *m0 = load_fixture("gqa1_tied_f32", 4, 0.0f, true);
    double l1, l2, l3, l0, e1, e0;
    long nt;
    train_model_set_dropout_key(m, 1, 1);
    assert_int_equal(train_model_step(m, &ob.b, 0, &l1, &nt, err, sizeof err), 0);
    assert_int_equal(train_model_step(m, &ob.b, 0, &l2, &nt, err, sizeof err), 0);
    train_model_set_dropout_key(m, 1, 2);
    assert_int_equal(train_model_step(m, &ob.b, 0, &l3, &nt, err, sizeof err), 0);
    assert_int_equal(train_model_step(m0, &ob.b, 0, &l0, &nt, err, sizeof err), 0);
    assert_true(l1 == l2);
    assert_true(l1 != l3);
    assert_true(l1 != l0);
    assert_int_equal(train_model_eval(m, &ob.b, &e1, &nt, err, sizeof err), 0);
    assert_int_equal(train_model_eval(m0, &ob.b, &e0, &nt, err, sizeof err), 0);
    assert_true(fabs(e1 - e0) < 1e-6 * fabs(e0));
    train_model_free(m);
    train_model_free(m0);
    batch_free(&ob);
    cJSON_Delete(req);
}

/* The fast bf16 products stay close to the exact ones. */
static void test_fast_matmul_close(void **state) {
    (void)state;
    cJSON *req = fixture_request("gqa2_untied_bf16");
    owned_batch ob;
    batch_from_request(&ob, req, 0, -1);
    char err[512];
    train_model *m = load_fixture("gqa2_untied_bf16", 4, 0, true);
    double le, lf;
    long nt;
    train_model_zero_grad(m);
    assert_int_equal(train_model_step(m, &ob.b, 1.0f / (float)ob.n_targets, &le, &nt, err, sizeof err), 0);
    size_t n;
    float *ge = grads_copy(m, &n);
    train_model_set_fast(m, true);
    train_model_zero_grad(m);
    assert_int_equal(train_model_step(m, &ob.b, 1.0f / (float)ob.n_targets, &lf, &nt, err, sizeof err), 0);
    float *gf = grads_copy(m, &n);
    assert_true(fabs(le - lf) / nt < 2e-2);
    assert_true(rel_diff(gf, ge, n) < 5e-2);
    free(ge);
    free(gf);
    train_model_free(m);
    batch_free(&ob);
    cJSON_Delete(req);
}

/* The schedule: first step > 0, warmup rising, peak after warmup, decays end above 0. */
static void test_schedules(void **state) {
    (void)state;
    const long total = 20, w = sched_warmup(0, 0.1, total);
    assert_int_equal(w, 2);
    assert_int_equal(sched_warmup(5, 0.1, total), 5);
    assert_int_equal(sched_warmup(0, 0.9999, 3), 2);
    for (int k = 0; k < 3; k++) {
        float prev = 0;
        for (long s = 0; s < total; s++) {
            float lr = sched_lr((sched_kind)k, 1.0f, s, w, total);
            assert_true(lr > 0 && lr <= 1.0f);
            if (s < w) assert_true(lr > prev);
            if (s == w) assert_true(lr == 1.0f);
            if (s > w && k == SCHED_CONSTANT) assert_true(lr == 1.0f);
            if (s > w && k != SCHED_CONSTANT) assert_true(lr < prev);
            prev = lr;
        }
    }
    assert_true(fabsf(sched_lr(SCHED_COSINE, 1.0f, 11, 2, 20) - 0.5f) < 1e-6f); /* halfway through the decay */
    assert_true(fabsf(sched_lr(SCHED_LINEAR, 1.0f, 11, 2, 20) - 0.5f) < 1e-6f);
    sched_kind k;
    assert_int_equal(sched_parse("cosine", &k), 0);
    assert_int_equal(k, SCHED_COSINE);
    assert_int_equal(sched_parse("step", &k), -1);
}

/* AdamW's first step moves every parameter with a gradient by about lr (m/sqrt(v) = sign(g)). */
static void test_adamw_first_step(void **state) {
    (void)state;
    cJSON *req = fixture_request("gqa1_tied_f32");
    owned_batch ob;
    batch_from_request(&ob, req, 0, -1);
    char err[512];
    train_model *m = load_fixture("gqa1_tied_f32", 4, 0, true);
    double nll;
    long nt;
    train_model_zero_grad(m);
    assert_int_equal(train_model_step(m, &ob.b, 1.0f / (float)ob.n_targets, &nll, &nt, err, sizeof err), 0);
    size_t n;
    float *params = train_model_params(m, &n);
    float *p0 = malloc(n * sizeof(float));
    memcpy(p0, params, n * sizeof(float));
    float *g = train_model_grads(m, &n);
    opt_adamw o;
    assert_int_equal(opt_adamw_init(&o, n), 0);
    opt_adamw_config oc = {0.9f, 0.999f, 1e-8f, 0.0f};
    opt_adamw_step(&o, m, 1e-3f, &oc);
    for (size_t i = 0; i < n; i++)
        if (fabsf(g[i]) > 1e-5f) assert_true(fabsf(fabsf(params[i] - p0[i]) - 1e-3f) < 1e-5f);
    /* clipping to half the norm halves every gradient */
    double norm = opt_grad_norm(m);
    double before = opt_clip_grad_norm(m, norm / 2);
    assert_true(fabs(before - norm) < 1e-9);
    assert_true(fabs(opt_grad_norm(m) - norm / 2) < 1e-4 * norm);
    opt_adamw_free(&o);
    free(p0);
    train_model_free(m);
    batch_free(&ob);
    cJSON_Delete(req);
}

/* An adapter saved and loaded gives the same loss; merged into the base (lora merge), the plain model
 * runtime scores a sequence as the model with the adapter does. */
static void test_adapter_save_merge(void **state) {
    (void)state;
    cJSON *req = fixture_request("gqa2_untied_bf16");
    owned_batch ob;
    batch_from_request(&ob, req, 0, 1);
    char err[1024], adir[512], mdir[512], base[2048];
    snprintf(adir, sizeof adir, "%s/adapter", tmpdir);
    snprintf(mdir, sizeof mdir, "%s/merged", tmpdir);
    snprintf(base, sizeof base, "%s/tests/fixtures/model/gqa2_untied_bf16", src_dir());
    train_model *m = load_fixture("gqa2_untied_bf16", 4, 0, true);
    assert_int_equal(train_model_save_adapter(m, adir, base, err, sizeof err), 0);
    double e1, e2;
    long nt;
    assert_int_equal(train_model_eval(m, &ob.b, &e1, &nt, err, sizeof err), 0);
    train_model *m2 = load_fixture("gqa2_untied_bf16", 4, 0, false);
    if (train_model_load_adapter_weights(m2, adir, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(train_model_eval(m2, &ob.b, &e2, &nt, err, sizeof err), 0);
    assert_true(e1 == e2);
    char found[4096];
    assert_int_equal(train_adapter_base(adir, found, sizeof found, err, sizeof err), 1);
    assert_string_equal(found, base);
    /* merge as `lora merge` does */
    lora_config lc = {.rank = 0, .no_grad = true};
    train_model *b = train_model_load(base, &lc, 0, err, sizeof err);
    assert_non_null(b);
    if (train_model_merge_adapter(b, adir, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(train_model_save_full(b, mdir, false, err, sizeof err), 0);
    model *rt = model_load(mdir, err, sizeof err);
    if (!rt) fail_msg("%s", err);
    float lp[64];
    assert_int_equal(model_logprobs(rt, ob.tokens, ob.b.n_tokens, lp, err, sizeof err), 0);
    /* all positions: evaluate with every token a target */
    uint8_t all[64];
    memset(all, 1, sizeof all);
    train_batch full = ob.b;
    full.target = all;
    assert_int_equal(train_model_eval(m, &full, &e1, &nt, err, sizeof err), 0);
    double s = 0;
    for (int i = 0; i + 1 < ob.b.n_tokens; i++) s -= lp[i];
    if (fabs(s - e1) > 1e-4 * fabs(e1)) fail_msg("merged model NLL %.7f, base+adapter %.7f", s, e1);
    model_free(rt);
    train_model_free(b);
    train_model_free(m);
    train_model_free(m2);
    batch_free(&ob);
    cJSON_Delete(req);
}

/* ---------- data ---------- */

static void warn_count(void *ctx, const char *msg) {
    (void)msg;
    ++*(int *)ctx;
}

/* A prompt/completion record with "system" tokenizes exactly as the same chat written as messages
 * with that system turn (what data synth relies on to train with the benchmark's system prompt). */
static void test_data_system_field(void **state) {
    (void)state;
    char err[1024], tdir[512], tjson[600];
    snprintf(tdir, sizeof tdir, "%s/tok_sys", tmpdir);
    assert_int_equal(tok_write_small(tdir, err, sizeof err), 0);
    snprintf(tjson, sizeof tjson, "%s/tokenizer.json", tdir);
    tokenizer *tok = tok_load(tjson, err, sizeof err);
    assert_non_null(tok);
    const char *recs[3] = {
        "{\"system\": \"be brief\", \"prompt\": \"say hi\", \"completion\": \"hi\"}",
        "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", \"content\": "
        "\"say hi\"}, {\"role\": \"assistant\", \"content\": \"hi\"}]}",
        "{\"prompt\": \"say hi\", \"completion\": \"hi\"}",
    };
    data_options o = {.max_seq_len = 4096, .tpl = CHAT_CHATML, .seed = 1};
    data_set ds;
    memset(&ds, 0, sizeof ds);
    for (int i = 0; i < 3; i++) {
        cJSON *j = cJSON_Parse(recs[i]);
        assert_non_null(j);
        assert_int_equal(data_add_record(&ds, j, i + 1, tok, &o, err, sizeof err), 0);
        cJSON_Delete(j);
    }
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.ex[0].len, ds.ex[1].len);
    assert_memory_equal(ds.tok_pool + ds.ex[0].off, ds.tok_pool + ds.ex[1].off, (size_t)ds.ex[0].len * sizeof(int));
    assert_memory_equal(ds.tgt_pool + ds.ex[0].off, ds.tgt_pool + ds.ex[1].off, (size_t)ds.ex[0].len);
    /* without "system" the system text is not there */
    assert_true(ds.ex[2].len < ds.ex[0].len);
    data_free(&ds);
    tok_free(tok);
}

static void test_data_formats(void **state) {
    (void)state;
    char err[1024], path[512], tdir[512], tjson[600];
    snprintf(tdir, sizeof tdir, "%s/tok", tmpdir);
    assert_int_equal(tok_write_small(tdir, err, sizeof err), 0);
    snprintf(tjson, sizeof tjson, "%s/tokenizer.json", tdir);
    tokenizer *tok = tok_load(tjson, err, sizeof err);
    assert_non_null(tok);
    snprintf(path, sizeof path, "%s/d.jsonl", tmpdir);
    const char *lines =
        "{\"text\": \"hello world\"}\n"
        "{\"prompt\": \"say hi\", \"completion\": \"hi there\"}\n"
        "{\"prompt\": \"say yo\", \"response\": \"yo\"}\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"bb\"},"
        " {\"role\": \"user\", \"content\": \"c\"}, {\"role\": \"assistant\", \"content\": \"dd\"}]}\n"
        "{\"instruction\": \"add\", \"input\": \"1 2\", \"output\": \"3\"}\n"
        "[1, 2]\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"no answer\"}]}\n"
        "{\"prompt\": \"p\"}\n";
    assert_int_equal(fs_write_atomic(path, lines, strlen(lines)), 0);
    data_options o = {.max_seq_len = 4096, .tpl = CHAT_CHATML, .seed = 1};
    data_set ds;
    int warned = 0;
    assert_int_equal(data_load(&ds, path, tok, &o, warn_count, &warned, err, sizeof err), 0);
    assert_int_equal(ds.n, 5);
    assert_int_equal(ds.n_bad, 3);
    assert_int_equal(warned, 3);
    assert_int_equal(ds.ex[3].line, 4);
    /* Which text is learned: decode the target tokens of each example. */
    const char *want[5] = {"ello world", "hi there<|im_end|>\n", "yo<|im_end|>\n",
                           "bb<|im_end|>\ndd<|im_end|>\n", "3<|im_end|>\n"};
    for (int e = 0; e < 5; e++) {
        const data_example *x = &ds.ex[e];
        int ids[4096], k = 0;
        for (int i = 1; i < x->len; i++)
            if (ds.tgt_pool[x->off + i]) ids[k++] = ds.tok_pool[x->off + i];
        char *txt = tok_decode(tok, ids, (size_t)k, false);
        if (e == 0) assert_true(strstr("hello world", txt) && strlen(txt) >= strlen("ello world") - 2);
        else assert_string_equal(txt, want[e]);
        free(txt);
    }
    /* train_on_prompt learns everything but the first token */
    data_set all;
    o.train_on_prompt = true;
    assert_int_equal(data_load(&all, path, tok, &o, NULL, NULL, err, sizeof err), 0);
    for (int e = 0; e < all.n; e++) assert_int_equal(all.ex[e].n_targets, all.ex[e].len - 1);
    /* truncation, max samples */
    o.train_on_prompt = false;
    o.max_seq_len = 6;
    data_set tr;
    assert_int_equal(data_load(&tr, path, tok, &o, NULL, NULL, err, sizeof err), 0);
    for (int e = 0; e < tr.n; e++) assert_true(tr.ex[e].len <= 6);
    o.max_seq_len = 4096;
    o.max_samples = 2;
    data_set few;
    assert_int_equal(data_load(&few, path, tok, &o, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(few.n, 2);
    /* split and epoch orders are deterministic; batches are packed without padding */
    data_set val;
    assert_int_equal(data_split(&ds, &val, 0.4, 7), 0);
    assert_int_equal(ds.n, 3);
    assert_int_equal(val.n, 2);
    int o1[3], o2[3], o3[3];
    data_epoch_order(o1, 3, 5, 0, true);
    data_epoch_order(o2, 3, 5, 0, true);
    data_epoch_order(o3, 3, 5, 0, false);
    assert_memory_equal(o1, o2, sizeof o1);
    for (int i = 0; i < 3; i++) assert_int_equal(o3[i], i);
    data_batch db = {0};
    assert_int_equal(data_make_batch(&db, &ds, o1, 0, 3), 0);
    assert_int_equal(db.b.n_tokens, ds.ex[0].len + ds.ex[1].len + ds.ex[2].len);
    assert_int_equal(db.b.n_seqs, 3);
    data_batch_free(&db);
    data_free(&val);
    data_free(&few);
    data_free(&tr);
    data_free(&all);
    data_free(&ds);
    /* nothing usable */
    const char *bad = "{\"x\": 1}\nnot json\n";
    assert_int_equal(fs_write_atomic(path, bad, strlen(bad)), 0);
    assert_int_equal(data_load(&ds, path, tok, &o, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "no usable records"));
    tok_free(tok);
}

static void test_bad_inputs(void **state) {
    (void)state;
    char err[1024];
    unsigned mask;
    assert_int_equal(lora_parse_targets("q_proj,down_proj", &mask, err, sizeof err), 0);
    assert_int_equal(mask, (1u << LORA_Q) | (1u << LORA_DOWN));
    assert_int_equal(lora_parse_targets("q_proj,attn", &mask, err, sizeof err), -1);
    assert_non_null(strstr(err, "attn"));
    lora_config lc = {.rank = 4, .alpha = 8, .dropout = 1.5f, .targets = LORA_ALL_TARGETS};
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/model/gqa1_tied_f32", src_dir());
    assert_null(train_model_load(dir, &lc, 1, err, sizeof err));
    lc.dropout = 0;
    assert_null(train_model_load(tmpdir, &lc, 1, err, sizeof err));
    train_model *m = train_model_load(dir, &lc, 1, err, sizeof err);
    assert_non_null(m);
    int toks[3] = {1, 2, 100000};
    int starts[2] = {0, 3};
    uint8_t tg[3] = {0, 1, 1};
    train_batch b = {.n_tokens = 3, .n_seqs = 1, .tokens = toks, .seq_start = starts, .target = tg};
    double nll;
    long nt;
    assert_int_equal(train_model_step(m, &b, 1, &nll, &nt, err, sizeof err), -1);
    assert_non_null(strstr(err, "vocabulary"));
    starts[1] = 2;
    toks[2] = 0;
    assert_int_equal(train_model_step(m, &b, 1, &nll, &nt, err, sizeof err), -1);
    train_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_rmsnorm),
        cmocka_unit_test(test_fd_rope),
        cmocka_unit_test(test_fd_attention),
        cmocka_unit_test(test_attention_blocks_match_plain),
        cmocka_unit_test(test_fd_swiglu),
        cmocka_unit_test(test_fd_xent),
        cmocka_unit_test(test_fd_linear),
        cmocka_unit_test(test_reference_gqa2_untied),
        cmocka_unit_test(test_reference_tied),
        cmocka_unit_test(test_reference_llama),
        cmocka_unit_test(test_reference_odd_headdim),
        cmocka_unit_test(test_accumulation),
        cmocka_unit_test(test_checkpointing_same_gradients),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_fast_matmul_close),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_adamw_first_step),
        cmocka_unit_test(test_adapter_save_merge),
        cmocka_unit_test(test_data_formats),
        cmocka_unit_test(test_data_system_field),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
