/* Unit tests of the backend contract (src/backend/backend.h) on the CPU backend: the properties the model relies
 * on and that another backend must keep. The KV-cache attention (blocked prompt runs, single decode rows, a forked
 * slot) equals the packed attention; the many-product call equals separate calls bit for bit; the in-place rules
 * (rmsnorm y == x, swiglu a == g) hold; the loss and log-prob ops agree; dropout masks are redrawn from the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *x, size_t n, uint64_t seed, float scale) {
    rng_state r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rng_normal(&r));
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float d = 0;
    for (size_t i = 0; i < n; i++) d = fabsf(a[i] - b[i]) > d ? fabsf(a[i] - b[i]) : d;
    return d;
}

enum { NH = 4, NKV = 2, HD = 16, QD = NH * HD, KVD = NKV * HD, L0 = 40, L1 = 5, T = L0 + L1 };

/* Packed reference: RoPE then causal attention per sequence. */
static void packed(bk_backend *b, float *out, const float *q0, const float *k0, const float *v, const float *cs) {
    float *q = malloc(T * QD * sizeof(float)), *k = malloc(T * KVD * sizeof(float)), lse[T * NH];
    memcpy(q, q0, T * QD * sizeof(float));
    memcpy(k, k0, T * KVD * sizeof(float));
    b->op.rope(b, q, T, NH, HD, cs);
    b->op.rope(b, k, T, NKV, HD, cs);
    const int starts[3] = {0, L0, T};
    b->op.attn(b, out, lse, q, k, v, 2, starts, NH, NKV, HD);
    free(q);
    free(k);
}

static void test_kv_attention_equals_packed(void **state) {
    (void)state;
    bk_backend *b = bk_cpu();
    float *q = malloc(T * QD * sizeof(float)), *k = malloc(T * KVD * sizeof(float)), *v = malloc(T * KVD * sizeof(float));
    float *cs = malloc(T * HD * sizeof(float)), *ref = malloc(T * QD * sizeof(float)), *out = malloc(T * QD * sizeof(float));
    float *qc = malloc(T * QD * sizeof(float)), *kc = malloc(T * KVD * sizeof(float));
    int pos[T], slots[T];
    for (int t = 0; t < T; t++) {
        pos[t] = t < L0 ? t : t - L0;
        slots[t] = t < L0 ? 0 : 1;
    }
    fill(q, T * QD, 1, 1.0f);
    fill(k, T * KVD, 2, 1.0f);
    fill(v, T * KVD, 3, 1.0f);
    b->op.rope_table(b, cs, pos, T, HD, 10000.0f);
    packed(b, ref, q, k, v, cs);
    for (int bf16 = 0; bf16 < 2; bf16++) {
        /* one call: a 40-row prompt run (blocked path with the fp32 cache) and a 5-row run */
        bk_kv *kv = b->op.kv_create(b, 3, 64, 1, KVD, bf16);
        assert_non_null(kv);
        memcpy(qc, q, T * QD * sizeof(float));
        memcpy(kc, k, T * KVD * sizeof(float));
        assert_int_equal(b->op.kv_attn(b, kv, 0, out, qc, kc, v, cs, T, slots, pos, NH, NKV, HD), 0);
        const float tol = bf16 ? 3e-2f : 2e-5f;
        assert_true(max_abs_diff(out, ref, T * QD) < tol);
        /* q and k were rotated in place, as the packed path rotates them */
        float *qr = malloc(T * QD * sizeof(float));
        memcpy(qr, q, T * QD * sizeof(float));
        b->op.rope(b, qr, T, NH, HD, cs);
        assert_true(max_abs_diff(qc, qr, T * QD) == 0.0f);
        free(qr);
        /* fork the first 30 positions of slot 0 into slot 2, then decode rows 30..39 one at a time there */
        b->op.kv_copy(b, kv, 2, 0, 30);
        for (int t = 30; t < L0; t++) {
            float qt[QD], kt[KVD], o[QD];
            memcpy(qt, q + t * QD, sizeof qt);
            memcpy(kt, k + t * KVD, sizeof kt);
            int s2 = 2;
            assert_int_equal(b->op.kv_attn(b, kv, 0, o, qt, kt, v + t * KVD, cs + t * HD, 1, &s2, &pos[t], NH, NKV, HD), 0);
            assert_true(max_abs_diff(o, ref + t * QD, QD) < tol);
        }
        b->op.kv_free(b, kv);
    }
    free(q); free(k); free(v); free(cs); free(ref); free(out); free(qc); free(kc);
}

static void test_linear_many_equals_single(void **state) {
    (void)state;
    bk_backend *b = bk_cpu();
    enum { M = 5, K = 24, N0 = 16, N1 = 8 };
    float x[M * K], w0[N0 * K], w1[N1 * K], bias0[N0], y0[M * N0], y1[M * N1], s0[M * N0], s1[M * N1];
    uint16_t w1b[N1 * K];
    fill(x, M * K, 4, 1.0f);
    fill(w0, N0 * K, 5, 0.3f);
    fill(w1, N1 * K, 6, 0.3f);
    fill(bias0, N0, 7, 0.1f);
    for (int i = 0; i < N1 * K; i++) { /* bf16 bits of w1 (truncated is fine: any bf16 matrix) */
        uint32_t u;
        memcpy(&u, &w1[i], 4);
        w1b[i] = (uint16_t)(u >> 16);
    }
    bk_weight W0 = {BK_F32, N0, K, w0}, W1 = {BK_BF16, N1, K, w1b};
    float *ys[2] = {y0, y1};
    const bk_weight *ws[2] = {&W0, &W1};
    const float *bs[2] = {bias0, NULL};
    b->op.linear(b, 2, ys, ws, bs, x, M, 0);
    float *y0s[1] = {s0}, *y1s[1] = {s1};
    const bk_weight *w0s[1] = {&W0}, *w1s[1] = {&W1};
    const float *b0s[1] = {bias0};
    b->op.linear(b, 1, y0s, w0s, b0s, x, M, 0);
    b->op.linear(b, 1, y1s, w1s, NULL, x, M, 0);
    /* mixed dtypes and f32 (BLAS may block the rows differently): to fp32 rounding */
    assert_true(max_abs_diff(y0, s0, M * N0) < 1e-5f);
    assert_true(max_abs_diff(y1, s1, M * N1) < 1e-5f);
    /* bf16 only (the q/k/v and gate/up calls of a bf16 model): bit for bit */
    float z0[M * N1], z1[M * N1];
    float *zs[2] = {z0, z1};
    const bk_weight *w11[2] = {&W1, &W1};
    b->op.linear(b, 2, zs, w11, NULL, x, M, 0);
    assert_memory_equal(z0, s1, sizeof z0);
    assert_memory_equal(z1, s1, sizeof z1);
    /* against the general product, and BK_ACCUMULATE adds */
    float g[M * N0];
    for (int m = 0; m < M; m++) memcpy(g + m * N0, bias0, sizeof bias0);
    b->op.gemm(b, false, true, M, N0, K, 1.0f, x, K, w0, K, 1.0f, g, N0);
    assert_true(max_abs_diff(g, y0, M * N0) < 1e-5f);
    b->op.linear(b, 1, y0s, w0s, NULL, x, M, BK_ACCUMULATE);
    for (int i = 0; i < M * N0; i++) assert_true(fabsf(s0[i] - (2 * y0[i] - bias0[i % N0])) < 1e-4f);
}

static void test_in_place_rules(void **state) {
    (void)state;
    bk_backend *b = bk_cpu();
    enum { R = 3, H = 40 };
    float x[R * H], w[H], y[R * H], rstd[R], g[R * H], u[R * H], a[R * H];
    fill(x, R * H, 8, 2.0f);
    fill(w, H, 9, 1.0f);
    b->op.rmsnorm(b, y, rstd, x, w, R, H, 1e-6f);
    b->op.rmsnorm(b, x, NULL, x, w, R, H, 1e-6f);
    assert_memory_equal(x, y, sizeof x);
    for (int r = 0; r < R; r++) assert_true(rstd[r] > 0);
    fill(g, R * H, 10, 1.0f);
    fill(u, R * H, 11, 1.0f);
    b->op.swiglu(b, a, g, u, R * H);
    b->op.swiglu(b, g, g, u, R * H);
    assert_memory_equal(a, g, sizeof a);
    b->op.add(b, u, u, a, R * H); /* y aliasing a */
    b->op.add(b, a, a, a, R * H);
    for (int i = 0; i < R * H; i++) assert_true(fabsf(a[i] - 2 * g[i]) <= 1e-6f * fabsf(a[i]));
}

static void test_loss_ops_agree(void **state) {
    (void)state;
    bk_backend *b = bk_cpu();
    enum { N = 4, V = 300 };
    float lg[N * V], keep[N * V], nll[N], lp[N];
    const int tg[N] = {0, 17, 299, 150};
    fill(lg, N * V, 12, 3.0f);
    memcpy(keep, lg, sizeof lg);
    b->op.xent(b, lg, tg, nll, N, V, 0.0f);
    assert_memory_equal(lg, keep, sizeof lg); /* scale 0 leaves the rows */
    b->op.logprobs(b, lp, lg, tg, N, V);
    for (int i = 0; i < N; i++) assert_true(fabsf(nll[i] + lp[i]) < 1e-5f);
    /* the gradient rows: scale * (softmax - onehot) sum to 0 */
    b->op.xent(b, lg, tg, nll, N, V, 0.5f);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < V; j++) s += lg[i * V + j];
        assert_true(fabs(s) < 1e-5);
        assert_true(lg[i * V + tg[i]] < 0);
    }
}

static void test_rows_embedding_dropout(void **state) {
    (void)state;
    bk_backend *b = bk_cpu();
    enum { V = 6, H = 5 };
    float table[V * H], x[3 * H], d[V * H] = {0}, g[3 * H];
    fill(table, V * H, 13, 1.0f);
    const int tok[3] = {4, 1, 4};
    bk_weight E = {BK_F32, V, H, table};
    b->op.embed(b, x, &E, tok, 3);
    assert_memory_equal(x, table + 4 * H, H * sizeof(float));
    assert_memory_equal(x + H, table + 1 * H, H * sizeof(float));
    for (int i = 0; i < 3 * H; i++) g[i] = 1.0f;
    b->op.embed_bwd(b, d, g, tok, 3, H); /* a repeated token adds up */
    assert_true(d[4 * H] == 2.0f && d[1 * H] == 1.0f && d[0] == 0.0f);
    float rows[2 * H], acc[V * H] = {0};
    const int r[2] = {5, 2};
    b->op.gather_rows(b, rows, table, r, 2, H);
    assert_memory_equal(rows + H, table + 2 * H, H * sizeof(float));
    b->op.scatter_add_rows(b, acc, rows, r, 2, H);
    assert_memory_equal(acc + 5 * H, table + 5 * H, H * sizeof(float));
    /* dropout: the backward with the same key redraws the forward's mask */
    enum { N = 20000 };
    float *one = malloc(N * sizeof(float)), *fw = malloc(N * sizeof(float)), *bw = calloc(N, sizeof(float));
    for (int i = 0; i < N; i++) one[i] = 1.0f;
    b->op.dropout(b, fw, one, N, 77, 0.25f);
    b->op.dropout_bwd_add(b, bw, one, N, 77, 0.25f);
    assert_memory_equal(fw, bw, N * sizeof(float));
    int dropped = 0;
    for (int i = 0; i < N; i++) dropped += fw[i] == 0.0f;
    assert_true(dropped > N / 5 && dropped < N * 3 / 10);
    b->op.dropout(b, bw, one, N, 78, 0.25f);
    assert_true(memcmp(fw, bw, N * sizeof(float)) != 0); /* another key, another mask */
    free(one);
    free(fw);
    free(bw);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_attention_equals_packed),
        cmocka_unit_test(test_linear_many_equals_single),
        cmocka_unit_test(test_in_place_rules),
        cmocka_unit_test(test_loss_ops_agree),
        cmocka_unit_test(test_rows_embedding_dropout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
