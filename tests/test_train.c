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
#include "train/opt_adamw.h"
#include "train/sched.h"
#include "train/train_model.h"
#include "train/train_ops.h"

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
static void compare_grads(train_model *m, const char *ref_path, const char *label) {
    char err[512];
    st_file *f = st_open(ref_path, err, sizeof err);
    if (!f) fail_msg("%s", err);
    int n = train_model_n_tensors(m);
    assert_int_equal(n, f->n_tensors);
    for (int i = 0; i < n; i++) {
        train_tensor *t = train_model_tensor(m, i);
        const st_tensor *r = st_find(f, t->name);
        if (!r) fail_msg("%s: reference has no %s", label, t->name);
        assert_int_equal(st_numel(r), (int64_t)t->numel);
        const float *g = r->data;
        double d2 = 0, r2 = 0;
        for (size_t k = 0; k < t->numel; k++) {
            d2 += ((double)t->grad[k] - g[k]) * ((double)t->grad[k] - g[k]);
            r2 += (double)g[k] * g[k];
        }
        if (sqrt(d2) > 1e-4 * sqrt(r2) + 1e-9)
            fail_msg("%s: gradient of %s differs: |diff| %.3g, |ref| %.3g", label, t->name, sqrt(d2), sqrt(r2));
    }
    st_close(f);
}

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

static void run_reference_case(const char *name, bool ckpt) {
    char model_dir[2048], fix[2048], path[8192], err[1024];
    snprintf(model_dir, sizeof model_dir, "%s/tests/fixtures/model/%s", src_dir(), name);
    snprintf(fix, sizeof fix, "%s/tests/fixtures/train/%s", src_dir(), name);
    snprintf(path, sizeof path, "%s/request.json", fix);
    cJSON *req = read_json_file(path);
    snprintf(path, sizeof path, "%s/expected.json", fix);
    cJSON *exp = read_json_file(path);
    owned_batch ob;
    batch_from_request(&ob, req, 0, -1);
    const cJSON *ad = cJSON_GetObjectItem(req, "adam");
    opt_adamw_config oc = {(float)cJSON_GetObjectItem(ad, "beta1")->valuedouble,
                           (float)cJSON_GetObjectItem(ad, "beta2")->valuedouble,
                           (float)cJSON_GetObjectItem(ad, "eps")->valuedouble,
                           (float)cJSON_GetObjectItem(ad, "weight_decay")->valuedouble};
    const double max_norm = cJSON_GetObjectItem(ad, "max_grad_norm")->valuedouble;
    const cJSON *lrs = cJSON_GetObjectItem(ad, "lrs");
    for (int full = 0; full < 2; full++) {
        lora_config lc = {.rank = full ? 0 : 4, .alpha = 8, .dropout = 0, .targets = LORA_ALL_TARGETS};
        train_model *m = train_model_load(model_dir, &lc, 1, err, sizeof err);
        if (!m) fail_msg("%s", err);
        train_model_set_checkpointing(m, ckpt);
        if (!full) {
            char adir[4096];
            snprintf(adir, sizeof adir, "%s/init_%s", tmpdir, name);
            copy_adapter_init(fix, adir);
            if (train_model_load_adapter_weights(m, adir, err, sizeof err)) fail_msg("%s", err);
        }
        double nll;
        long nt;
        train_model_zero_grad(m);
        if (train_model_step(m, &ob.b, 1.0f / (float)ob.n_targets, &nll, &nt, err, sizeof err)) fail_msg("%s", err);
        assert_int_equal(nt, ob.n_targets);
        double ref_loss = cJSON_GetObjectItem(exp, full ? "full_loss" : "loss")->valuedouble;
        if (fabs(nll / nt - ref_loss) > 1e-4) fail_msg("%s: loss %.7f, reference %.7f", name, nll / nt, ref_loss);
        snprintf(path, sizeof path, "%s/%s", fix, full ? "full_grads.safetensors" : "lora_grads.safetensors");
        compare_grads(m, path, name);
        /* 10 AdamW steps from the same start. */
        size_t np;
        opt_adamw o;
        assert_int_equal(opt_adamw_init(&o, (train_model_params(m, &np), np)), 0);
        const cJSON *ref_losses = cJSON_GetObjectItem(exp, full ? "full_losses" : "lora_losses");
        for (int s = 0; s < cJSON_GetArraySize(lrs); s++) {
            train_model_zero_grad(m);
            if (train_model_step(m, &ob.b, 1.0f / (float)ob.n_targets, &nll, &nt, err, sizeof err)) fail_msg("%s", err);
            double want = cJSON_GetArrayItem(ref_losses, s)->valuedouble;
            if (fabs(nll / nt - want) > 1e-4)
                fail_msg("%s %s step %d: loss %.7f, reference %.7f", name, full ? "full" : "lora", s, nll / nt, want);
            opt_clip_grad_norm(m, max_norm);
            opt_adamw_step(&o, m, (float)cJSON_GetArrayItem(lrs, s)->valuedouble, &oc);
        }
        opt_adamw_free(&o);
        train_model_free(m);
    }
    batch_free(&ob);
    cJSON_Delete(req);
    cJSON_Delete(exp);
}

static void test_reference_gqa2_untied(void **state) { (void)state; run_reference_case("gqa2_untied_bf16", true); }
static void test_reference_tied(void **state) { (void)state; run_reference_case("gqa1_tied_f32", false); }
static void test_reference_llama(void **state) { (void)state; run_reference_case("llama_untied_f32", true); }
static void test_reference_odd_headdim(void **state) { (void)state; run_reference_case("odd_headdim_bf16", false); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_rmsnorm),
        cmocka_unit_test(test_fd_rope),
        cmocka_unit_test(test_fd_attention),
        cmocka_unit_test(test_fd_swiglu),
        cmocka_unit_test(test_fd_xent),
        cmocka_unit_test(test_fd_linear),
        cmocka_unit_test(test_reference_gqa2_untied),
        cmocka_unit_test(test_reference_tied),
        cmocka_unit_test(test_reference_llama),
        cmocka_unit_test(test_reference_odd_headdim),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
