/* The CUDA backend against the CPU backend: every op of backend.h the GPU implements, on random inputs, with
 * the tolerance each op's arithmetic allows (stated at each check); the KV-cached decode against recomputing
 * the whole sequence; a tiny fp32 model's forward pass and greedy generation built from the ops, equal on both;
 * device sampling (greedy, top-k, top-p, seeded and reproducible, and drawing from the distribution the CPU
 * sampler defines); a CUDA graph of a decode-like step replayed against eager execution.
 *
 * Without a usable GPU (module not built, no driver, no device) the test prints why and exits 77, which CTest
 * reports as skipped (SKIP_RETURN_CODE in cmake/cuda.cmake). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "backend/bk_device.h"
#include "core/rng.h"
#include "generate/sampler.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bk_backend *G, *C; /* GPU, CPU */
static const hfc_api *H;
static rng_state R;

/* ---------- helpers ---------- */

static float *randv(size_t n, float scale) {
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = (float)(rng_normal(&R) * scale);
    return v;
}

static uint16_t bf16_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static uint16_t *to_bf16(const float *v, size_t n) {
    uint16_t *b = malloc(n * sizeof *b);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) b[i] = bf16_of(v[i]);
    return b;
}

/* backend memory holding a copy of host */
static void *put(bk_backend *b, const void *host, size_t bytes) {
    void *d = b->op.alloc(b, bytes);
    assert_non_null(d);
    if (host) assert_int_equal(b->op.upload(b, d, host, bytes), 0);
    else b->op.zero(b, d, bytes / sizeof(float));
    return d;
}

static float *get(bk_backend *b, const void *d, size_t n) {
    float *h = malloc(n * sizeof *h);
    assert_non_null(h);
    if (b->op.download(b, h, d, n * sizeof *h)) fail_msg("%s: %s", b->name, b->err);
    return h;
}

/* |got - want| <= atol + rtol * |want| everywhere, else fails naming the first element outside. */
static void close_to(const char *what, const float *got, const float *want, size_t n, double atol, double rtol) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]), lim = atol + rtol * fabs(want[i]);
        if (!(d <= lim)) fail_msg("%s: element %zu: GPU %.9g, CPU %.9g (|d| %.3g > %.3g)", what, i, got[i], want[i], d, lim);
        if (d > worst) worst = d;
    }
    printf("  %-40s max |GPU - CPU| %.3g over %zu values\n", what, worst, n);
}

/* A product's error bound per element: tol * sum_k |x_k w_k| (the magnitude the rounding acts on). */
static void close_product(const char *what, const float *got, const float *want, const float *x, const float *w,
                          int M, int N, int K, double tol) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double mag = 0;
            for (int k = 0; k < K; k++) mag += fabs((double)x[(size_t)m * K + k] * w[(size_t)n * K + k]);
            double d = fabs((double)got[(size_t)m * N + n] - want[(size_t)m * N + n]);
            if (!(d <= tol * mag + 1e-6))
                fail_msg("%s: [%d,%d]: GPU %.9g, CPU %.9g, |d| %.3g > %.3g", what, m, n, got[(size_t)m * N + n],
                         want[(size_t)m * N + n], d, tol * mag + 1e-6);
        }
    printf("  %-40s within %.1e x sum|x w| (%dx%dx%d)\n", what, tol, M, N, K);
}

/* ---------- element-wise and row ops ---------- */

static void test_embed(void **st) {
    (void)st;
    int V = 300, D = 96, T = 17, tok[17];
    for (int i = 0; i < T; i++) tok[i] = (int)rng_below(&R, (uint64_t)V);
    float *tab = randv((size_t)V * D, 1);
    uint16_t *tb = to_bf16(tab, (size_t)V * D);
    for (int dt = 0; dt < 2; dt++) {
        const void *host = dt ? (const void *)tb : (const void *)tab;
        size_t bytes = (size_t)V * D * (dt ? 2 : 4);
        bk_weight wc = {dt ? BK_BF16 : BK_F32, V, D, C->op.weight_map(C, host, bytes)};
        bk_weight wg = {wc.dtype, V, D, G->op.weight_map(G, host, bytes)};
        float *xc = put(C, NULL, (size_t)T * D * 4), *xg = put(G, NULL, (size_t)T * D * 4);
        C->op.embed(C, xc, &wc, tok, T);
        G->op.embed(G, xg, &wg, tok, T);
        float *hg = get(G, xg, (size_t)T * D), *hc = get(C, xc, (size_t)T * D);
        close_to(dt ? "embed bf16 (exact widening: 0)" : "embed f32 (a copy: 0)", hg, hc, (size_t)T * D, 0, 0);
        free(hg); free(hc);
        C->op.free(C, xc); G->op.free(G, xg);
        G->op.weight_unmap(G, wg.data);
    }
    free(tab); free(tb);
}

static void test_rmsnorm(void **st) {
    (void)st;
    int T = 9, D = 896;
    float *x = randv((size_t)T * D, 3), *w = randv(D, 1);
    float *xc = put(C, x, (size_t)T * D * 4), *xg = put(G, x, (size_t)T * D * 4);
    float *wc = put(C, w, (size_t)D * 4), *wg = put(G, w, (size_t)D * 4);
    float *yc = put(C, NULL, (size_t)T * D * 4), *yg = put(G, NULL, (size_t)T * D * 4);
    float *rc = put(C, NULL, (size_t)T * 4), *rg = put(G, NULL, (size_t)T * 4);
    C->op.rmsnorm(C, yc, rc, xc, wc, T, D, 1e-6f);
    G->op.rmsnorm(G, yg, rg, xg, wg, T, D, 1e-6f);
    float *a = get(G, yg, (size_t)T * D), *b = get(C, yc, (size_t)T * D);
    /* both sum squares in double: the scale agrees to fp32 rounding, each output is one rounding more */
    close_to("rmsnorm y (fp32: 2e-6 relative)", a, b, (size_t)T * D, 1e-7, 2e-6);
    free(a); free(b);
    a = get(G, rg, T); b = get(C, rc, T);
    close_to("rmsnorm rstd (1e-6 relative)", a, b, T, 0, 1e-6);
    free(a); free(b); free(x); free(w);
    C->op.free(C, xc); C->op.free(C, wc); C->op.free(C, yc); C->op.free(C, rc);
    G->op.free(G, xg); G->op.free(G, wg); G->op.free(G, yg); G->op.free(G, rg);
}

static void test_rope(void **st) {
    (void)st;
    int T = 11, hd = 64, nh = 14, pos[11];
    for (int i = 0; i < T; i++) pos[i] = (int)rng_below(&R, 30000);
    float *csc = put(C, NULL, (size_t)T * hd * 4), *csg = put(G, NULL, (size_t)T * hd * 4);
    C->op.rope_table(C, csc, pos, T, hd, 1e6f);
    G->op.rope_table(G, csg, pos, T, hd, 1e6f);
    float *a = get(G, csg, (size_t)T * hd), *b = get(C, csc, (size_t)T * hd);
    /* the GPU backend computes the table on the host with the CPU's formula; libm's cosf/sinf may differ from the
     * CPU backend's own (vectorised) ones by an ulp or two */
    close_to("rope_table (2e-6 absolute)", a, b, (size_t)T * hd, 2e-6, 0);
    free(a); free(b);
    float *v = randv((size_t)T * nh * hd, 1);
    float *vc = put(C, v, (size_t)T * nh * hd * 4), *vg = put(G, v, (size_t)T * nh * hd * 4);
    C->op.rope(C, vc, T, nh, hd, csc);
    G->op.rope(G, vg, T, nh, hd, csg);
    a = get(G, vg, (size_t)T * nh * hd); b = get(C, vc, (size_t)T * nh * hd);
    close_to("rope (fp32, 1e-5 absolute)", a, b, (size_t)T * nh * hd, 1e-5, 0);
    free(a); free(b); free(v);
    C->op.free(C, csc); C->op.free(C, vc); G->op.free(G, csg); G->op.free(G, vg);
}

static void test_swiglu_add_rows(void **st) {
    (void)st;
    size_t n = 4864 * 3;
    float *g = randv(n, 2), *u = randv(n, 1);
    float *gc = put(C, g, n * 4), *uc = put(C, u, n * 4), *ac = put(C, NULL, n * 4);
    float *gg = put(G, g, n * 4), *ug = put(G, u, n * 4), *ag = put(G, NULL, n * 4);
    C->op.swiglu(C, ac, gc, uc, n);
    G->op.swiglu(G, ag, gg, ug, n);
    float *a = get(G, ag, n), *b = get(C, ac, n);
    close_to("swiglu (expf: 2e-6 relative)", a, b, n, 1e-7, 2e-6);
    free(a); free(b);
    C->op.add(C, ac, gc, uc, n);
    G->op.add(G, ag, gg, ug, n);
    a = get(G, ag, n); b = get(C, ac, n);
    close_to("add (exact)", a, b, n, 0, 0);
    free(a); free(b);
    int rows[5] = {2, 0, 2, 1, 0}, H = 4864;
    C->op.gather_rows(C, ac, gc, rows, 5, H / 2);
    G->op.gather_rows(G, ag, gg, rows, 5, H / 2);
    a = get(G, ag, (size_t)5 * H / 2); b = get(C, ac, (size_t)5 * H / 2);
    close_to("gather_rows (exact)", a, b, (size_t)5 * H / 2, 0, 0);
    free(a); free(b);
    C->op.scatter_add_rows(C, gc, uc, rows, 5, H / 2);
    G->op.scatter_add_rows(G, gg, ug, rows, 5, H / 2);
    a = get(G, gg, n); b = get(C, gc, n);
    close_to("scatter_add_rows (order of repeats: 1e-6)", a, b, n, 1e-6, 1e-6);
    free(a); free(b); free(g); free(u);
    C->op.free(C, gc); C->op.free(C, uc); C->op.free(C, ac);
    G->op.free(G, gg); G->op.free(G, ug); G->op.free(G, ag);
}

/* ---------- products ---------- */

static void linear_case(int wdt, unsigned flags, double tol, const char *what) {
    int M = 7, K = 320, N1 = 256, N2 = 64;
    float *x = randv((size_t)M * K, 1), *w1 = randv((size_t)N1 * K, 0.05f), *w2 = randv((size_t)N2 * K, 0.05f);
    float *b1 = randv(N1, 0.1f), *y0 = randv((size_t)M * N2, 1);
    if (wdt == BK_BF16) { /* the weights as bf16 hold them, for the bound and both backends */
        for (size_t i = 0; i < (size_t)N1 * K; i++) { uint32_t u = (uint32_t)bf16_of(w1[i]) << 16; memcpy(&w1[i], &u, 4); }
        for (size_t i = 0; i < (size_t)N2 * K; i++) { uint32_t u = (uint32_t)bf16_of(w2[i]) << 16; memcpy(&w2[i], &u, 4); }
    }
    uint16_t *w1b = to_bf16(w1, (size_t)N1 * K), *w2b = to_bf16(w2, (size_t)N2 * K);
    size_t es = wdt == BK_BF16 ? 2 : 4;
    const void *h1 = wdt == BK_BF16 ? (const void *)w1b : (const void *)w1, *h2 = wdt == BK_BF16 ? (const void *)w2b : (const void *)w2;
    bk_backend *bs[2] = {C, G};
    float *out[2][2];
    for (int i = 0; i < 2; i++) {
        bk_backend *b = bs[i];
        bk_weight W1 = {wdt, N1, K, b->op.weight_map(b, h1, (size_t)N1 * K * es)};
        bk_weight W2 = {wdt, N2, K, b->op.weight_map(b, h2, (size_t)N2 * K * es)};
        float *dx = put(b, x, (size_t)M * K * 4), *db = put(b, b1, (size_t)N1 * 4);
        float *d1 = put(b, NULL, (size_t)M * N1 * 4), *d2 = put(b, y0, (size_t)M * N2 * 4);
        float *ys[2] = {d1, d2};
        const bk_weight *ws[2] = {&W1, &W2};
        const float *bi[2] = {db, NULL};
        b->op.linear(b, 2, ys, ws, bi, dx, M, flags);
        out[i][0] = get(b, d1, (size_t)M * N1);
        out[i][1] = get(b, d2, (size_t)M * N2);
        b->op.free(b, dx); b->op.free(b, db); b->op.free(b, d1); b->op.free(b, d2);
        b->op.weight_unmap(b, W1.data); b->op.weight_unmap(b, W2.data);
    }
    char name[96];
    snprintf(name, sizeof name, "%s (+bias)", what);
    close_product(name, out[1][0], out[0][0], x, w1, M, N1, K, tol);
    if (flags & BK_ACCUMULATE) {
        snprintf(name, sizeof name, "%s (accumulate)", what);
        for (size_t i = 0; i < (size_t)M * N2; i++) out[1][1][i] -= y0[i], out[0][1][i] -= y0[i];
    } else {
        snprintf(name, sizeof name, "%s (2nd of one call)", what);
    }
    close_product(name, out[1][1], out[0][1], x, w2, M, N2, K, tol);
    for (int i = 0; i < 2; i++) free(out[i][0]), free(out[i][1]);
    free(x); free(w1); free(w2); free(b1); free(y0); free(w1b); free(w2b);
}

static void test_linear(void **st) {
    (void)st;
    /* f32 weights: SGEMM without TF32, fp32 sums of K = 320 terms in another order: 2e-5 of the magnitude
     * (K * 2^-24, the worst case of the two summation orders; typical errors are ~1e-7) */
    linear_case(BK_F32, 0, 2e-5, "linear f32");
    linear_case(BK_F32, BK_ACCUMULATE, 2e-5, "linear f32");
    /* bf16 exact: x split in three bf16 parts (24 bits), three tensor-core products summed in fp32: fp32
     * accuracy, the same 2e-5 (the fast mode's error is 200 times that) */
    linear_case(BK_BF16, 0, 2e-5, "linear bf16 exact");
    linear_case(BK_BF16, BK_ACCUMULATE, 2e-5, "linear bf16 exact");
    /* bf16 fast: x rounded to bf16 (relative 2^-9 per element) against the CPU (fast or exact): 2^-8 */
    linear_case(BK_BF16, BK_FAST, 1.0 / 256, "linear bf16 fast");
}

static void test_gemm(void **st) {
    (void)st;
    int M = 13, N = 24, K = 40;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            float *A = randv((size_t)M * K, 1), *B = randv((size_t)K * N, 1), *Cm = randv((size_t)M * N, 1);
            int lda = ta ? M : K, ldb = tb ? K : N;
            float *res[2];
            bk_backend *bs[2] = {C, G};
            for (int i = 0; i < 2; i++) {
                bk_backend *b = bs[i];
                float *dA = put(b, A, (size_t)M * K * 4), *dB = put(b, B, (size_t)K * N * 4), *dC = put(b, Cm, (size_t)M * N * 4);
                b->op.gemm(b, ta, tb, M, N, K, 0.5f, dA, lda, dB, ldb, 0.25f, dC, N);
                res[i] = get(b, dC, (size_t)M * N);
                b->op.free(b, dA); b->op.free(b, dB); b->op.free(b, dC);
            }
            char name[64];
            snprintf(name, sizeof name, "gemm ta=%d tb=%d (fp32: 1e-5)", ta, tb);
            close_to(name, res[1], res[0], (size_t)M * N, 1e-5, 1e-5);
            free(res[0]); free(res[1]); free(A); free(B); free(Cm);
        }
}

/* ---------- attention ---------- */

static void test_attn_packed(void **st) {
    (void)st;
    int nh = 14, nkv = 2, hd = 64, seq[3] = {0, 45, 45 + 70}, T = seq[2];
    size_t qn = (size_t)T * nh * hd, kn = (size_t)T * nkv * hd;
    float *q = randv(qn, 1), *k = randv(kn, 1), *v = randv(kn, 1);
    float *o[2], *l[2];
    bk_backend *bs[2] = {C, G};
    for (int i = 0; i < 2; i++) {
        bk_backend *b = bs[i];
        float *dq = put(b, q, qn * 4), *dk = put(b, k, kn * 4), *dv = put(b, v, kn * 4);
        float *dout = put(b, NULL, qn * 4), *dl = put(b, NULL, (size_t)T * nh * 4);
        b->op.attn(b, dout, dl, dq, dk, dv, 2, seq, nh, nkv, hd);
        o[i] = get(b, dout, qn);
        l[i] = get(b, dl, (size_t)T * nh);
        b->op.free(b, dq); b->op.free(b, dk); b->op.free(b, dv); b->op.free(b, dout); b->op.free(b, dl);
    }
    /* fp32 softmax and sums in another order (online softmax over tiles of 32): 1e-5 */
    close_to("attn packed, GQA 14/2 (fp32: 1e-5)", o[1], o[0], qn, 1e-5, 1e-5);
    close_to("attn packed lse (1e-5)", l[1], l[0], (size_t)T * nh, 1e-5, 1e-6);
    free(o[0]); free(o[1]); free(l[0]); free(l[1]); free(q); free(k); free(v);
}

/* Prefill of one prompt into slot 0, a fork to slots 1..3, then decode steps over slots 0..3 together, on both
 * backends; and on the GPU the decoded rows against one prefill of the whole sequence (cached decode = recompute). */
static void kv_case(bool bf16, int hd, int nh, int nkv) {
    int P = 37, steps = 5, S = 4, L = P + steps + 1, n_layers = 2;
    int kvd = nkv * hd, qd = nh * hd;
    float *q = randv((size_t)(P + S * steps) * qd, 1), *k = randv((size_t)(P + S * steps) * kvd, 1),
          *v = randv((size_t)(P + S * steps) * kvd, 1);
    float *res[2][2]; /* [backend][prefill, decode] */
    bk_backend *bs[2] = {C, G};
    int layer = 1;
    for (int i = 0; i < 2; i++) {
        bk_backend *b = bs[i];
        bk_kv *kv = b->op.kv_create(b, S, L, n_layers, kvd, bf16);
        assert_non_null(kv);
        int slots[64], pos[64];
        for (int t = 0; t < P; t++) slots[t] = 0, pos[t] = t;
        float *cs = put(b, NULL, (size_t)P * hd * 4);
        b->op.rope_table(b, cs, pos, P, hd, 1e4f);
        float *dq = put(b, q, (size_t)P * qd * 4), *dk = put(b, k, (size_t)P * kvd * 4), *dv = put(b, v, (size_t)P * kvd * 4);
        float *dout = put(b, NULL, (size_t)P * qd * 4);
        assert_int_equal(b->op.kv_attn(b, kv, layer, dout, dq, dk, dv, cs, P, slots, pos, nh, nkv, hd), 0);
        res[i][0] = get(b, dout, (size_t)P * qd);
        for (int s = 1; s < S; s++) b->op.kv_copy(b, kv, s, 0, P);
        float *dec = malloc((size_t)steps * S * qd * 4);
        float *sq = put(b, NULL, (size_t)S * qd * 4), *sk = put(b, NULL, (size_t)S * kvd * 4), *sv = put(b, NULL, (size_t)S * kvd * 4);
        float *so = put(b, NULL, (size_t)S * qd * 4), *scs = put(b, NULL, (size_t)S * hd * 4);
        for (int st = 0; st < steps; st++) {
            size_t r0 = (size_t)P + (size_t)st * S;
            for (int s = 0; s < S; s++) slots[s] = (s * 3 + st) % S, pos[s] = P + st; /* slots in any order */
            b->op.rope_table(b, scs, pos, S, hd, 1e4f);
            b->op.upload(b, sq, q + r0 * qd, (size_t)S * qd * 4);
            b->op.upload(b, sk, k + r0 * kvd, (size_t)S * kvd * 4);
            b->op.upload(b, sv, v + r0 * kvd, (size_t)S * kvd * 4);
            assert_int_equal(b->op.kv_attn(b, kv, layer, so, sq, sk, sv, scs, S, slots, pos, nh, nkv, hd), 0);
            float *h = get(b, so, (size_t)S * qd);
            memcpy(dec + (size_t)st * S * qd, h, (size_t)S * qd * 4);
            free(h);
        }
        res[i][1] = dec;
        if (b == G) {
            /* slot slots-of-step order: rebuild slot 2's whole sequence in slot 3 of a fresh cache in one call */
            bk_kv *kv2 = b->op.kv_create(b, 1, L, n_layers, kvd, bf16);
            int n = P + steps, sl[64], ps[64];
            float *fq = malloc((size_t)n * qd * 4), *fk = malloc((size_t)n * kvd * 4), *fv = malloc((size_t)n * kvd * 4);
            memcpy(fq, q, (size_t)P * qd * 4); memcpy(fk, k, (size_t)P * kvd * 4); memcpy(fv, v, (size_t)P * kvd * 4);
            int want_slot = 2;
            for (int st = 0; st < steps; st++) {
                int idx = -1;
                for (int s = 0; s < S; s++) if ((s * 3 + st) % S == want_slot) idx = s;
                size_t r = (size_t)P + (size_t)st * S + (size_t)idx;
                memcpy(fq + (size_t)(P + st) * qd, q + r * qd, (size_t)qd * 4);
                memcpy(fk + (size_t)(P + st) * kvd, k + r * kvd, (size_t)kvd * 4);
                memcpy(fv + (size_t)(P + st) * kvd, v + r * kvd, (size_t)kvd * 4);
            }
            for (int t = 0; t < n; t++) sl[t] = 0, ps[t] = t;
            float *fcs = put(b, NULL, (size_t)n * hd * 4);
            b->op.rope_table(b, fcs, ps, n, hd, 1e4f);
            float *gq = put(b, fq, (size_t)n * qd * 4), *gk = put(b, fk, (size_t)n * kvd * 4), *gv = put(b, fv, (size_t)n * kvd * 4);
            float *go = put(b, NULL, (size_t)n * qd * 4);
            assert_int_equal(b->op.kv_attn(b, kv2, layer, go, gq, gk, gv, fcs, n, sl, ps, nh, nkv, hd), 0);
            float *full = get(b, go, (size_t)n * qd);
            float *inc = malloc((size_t)steps * qd * 4);
            for (int st = 0; st < steps; st++) {
                int idx = -1;
                for (int s = 0; s < S; s++) if ((s * 3 + st) % S == want_slot) idx = s;
                memcpy(inc + (size_t)st * qd, dec + ((size_t)st * S + idx) * qd, (size_t)qd * 4);
            }
            close_to(bf16 ? "cached decode = recompute (bf16 cache, 1e-5)" : "cached decode = recompute (fp32, 1e-5)",
                     inc, full + (size_t)P * qd, (size_t)steps * qd, 1e-5, 1e-5);
            free(inc); free(full); free(fq); free(fk); free(fv);
            b->op.free(b, fcs); b->op.free(b, gq); b->op.free(b, gk); b->op.free(b, gv); b->op.free(b, go);
            b->op.kv_free(b, kv2);
        }
        b->op.free(b, cs); b->op.free(b, dq); b->op.free(b, dk); b->op.free(b, dv); b->op.free(b, dout);
        b->op.free(b, sq); b->op.free(b, sk); b->op.free(b, sv); b->op.free(b, so); b->op.free(b, scs);
        b->op.kv_free(b, kv);
    }
    char name[96];
    /* both caches hold the same (bf16-rounded) keys and values; fp32 softmax in another order */
    snprintf(name, sizeof name, "kv_attn prefill hd=%d %d/%d%s (1e-5)", hd, nh, nkv, bf16 ? " bf16" : "");
    close_to(name, res[1][0], res[0][0], (size_t)P * qd, 1e-5, 1e-5);
    snprintf(name, sizeof name, "kv_attn decode after fork hd=%d%s (1e-5)", hd, bf16 ? " bf16" : "");
    close_to(name, res[1][1], res[0][1], (size_t)steps * S * qd, 1e-5, 1e-5);
    for (int i = 0; i < 2; i++) free(res[i][0]), free(res[i][1]);
    free(q); free(k); free(v);
}

static void test_kv_attn(void **st) {
    (void)st;
    kv_case(false, 64, 14, 2);  /* Qwen2.5-0.5B heads */
    kv_case(true, 64, 14, 2);
    kv_case(false, 128, 12, 2); /* 1.5B */
    kv_case(true, 16, 4, 2);    /* tiny */
    kv_case(false, 128, 28, 2); /* 14 heads per KV head: two chunks of the decode kernel */
}

/* ---------- head and sampling ---------- */

static void test_logprobs(void **st) {
    (void)st;
    int n = 6, V = 151936, tg[6];
    for (int i = 0; i < n; i++) tg[i] = (int)rng_below(&R, (uint64_t)V);
    float *lg = randv((size_t)n * V, 4);
    float *r[2];
    bk_backend *bs[2] = {C, G};
    for (int i = 0; i < 2; i++) {
        float *d = put(bs[i], lg, (size_t)n * V * 4), *lp = put(bs[i], NULL, (size_t)n * 4);
        bs[i]->op.logprobs(bs[i], lp, d, tg, n, V);
        r[i] = get(bs[i], lp, n);
        bs[i]->op.free(bs[i], d); bs[i]->op.free(bs[i], lp);
    }
    close_to("logprobs V=151936 (sum in double: 1e-5)", r[1], r[0], n, 1e-5, 1e-6);
    free(r[0]); free(r[1]); free(lg);
}

static int *gpu_sample(const float *d_logits, int n, int V, bk_sample_params sp, const uint64_t *seeds) {
    int *ids = malloc((size_t)n * sizeof *ids);
    if (G->op.sample(G, ids, NULL, d_logits, NULL, n, V, &sp, seeds)) fail_msg("sample: %s", G->err);
    return ids;
}

static void test_sample(void **st) {
    (void)st;
    int n = 64, V = 151936;
    float *lg = randv((size_t)n * V, 3);
    lg[5] = NAN; lg[7] = INFINITY; /* non-finite logits never win */
    float *d = put(G, lg, (size_t)n * V * 4);
    uint64_t seeds[64], seeds2[64];
    for (int i = 0; i < n; i++) seeds[i] = 1000 + (uint64_t)i, seeds2[i] = 5000 + (uint64_t)i;
    gen_sampler *smp = gen_sampler_create(V);
    /* greedy and top_k = 1: the CPU sampler's argmax, lowest id on ties */
    bk_sample_params greedy = {0.0f, 1.0f, 0}, k1 = {0.8f, 1.0f, 1};
    int *a = gpu_sample(d, n, V, greedy, seeds), *b = gpu_sample(d, n, V, k1, seeds);
    for (int i = 0; i < n; i++) {
        gen_sampling p = {0.0f, 1.0f, 0};
        int want = gen_sample(smp, lg + (size_t)i * V, &p, &R);
        assert_int_equal(a[i], want);
        assert_int_equal(b[i], want);
    }
    free(a); free(b);
    /* seeded: the same seeds give the same ids, other seeds other ids; top-k and top-p keep to their sets */
    bk_sample_params ps[3] = {{1.0f, 1.0f, 0}, {0.7f, 1.0f, 40}, {1.0f, 0.9f, 0}};
    for (int c = 0; c < 3; c++) {
        a = gpu_sample(d, n, V, ps[c], seeds);
        b = gpu_sample(d, n, V, ps[c], seeds);
        int *o = gpu_sample(d, n, V, ps[c], seeds2);
        int differ = 0;
        for (int i = 0; i < n; i++) {
            assert_int_equal(a[i], b[i]);
            differ += a[i] != o[i];
            gen_sampling p = {ps[c].temperature, ps[c].top_p, ps[c].top_k};
            static int ids[151936];
            static double pr[151936];
            int m = gen_sample_support(smp, lg + (size_t)i * V, &p, ids, pr);
            int found = 0;
            double want_lp = 0;
            for (int j = 0; j < m && !found; j++)
                if ((found = ids[j] == a[i])) want_lp = log(pr[j]);
            if (!found) fail_msg("case %d row %d: GPU drew %d, outside the CPU sampler's support (%d ids)", c, i, a[i], m);
            /* the log-probability op.sample reports is the CPU sampler's for that id (fixed-point mass: 1e-4) */
            if (i < 8) {
                int id1;
                float lp1;
                int row = i;
                if (G->op.sample(G, &id1, &lp1, d, &row, 1, V, &ps[c], &seeds[i])) fail_msg("sample: %s", G->err);
                assert_int_equal(id1, a[i]); /* one row through rows[] draws what the batch drew */
                if (fabs(lp1 - want_lp) > 1e-4 + 1e-4 * fabs(want_lp))
                    fail_msg("case %d row %d: GPU lp %.6f, CPU sampler %.6f", c, i, lp1, want_lp);
            }
        }
        /* these distributions are wide: two seeds agree on a row rarely */
        if (differ < n / 2) fail_msg("case %d: other seeds changed only %d of %d rows", c, differ, n);
        printf("  sample case %d: reproducible, in the CPU sampler's support, %d/%d rows change with the seed\n", c,
               differ, n);
        free(a); free(b); free(o);
    }
    G->op.free(G, d);
    free(lg);
    /* the distribution: 8 tokens, 20000 draws of one row with different seeds, against the CPU sampler's
     * probabilities after temperature / top-k / top-p (chi-square, 7 degrees of freedom, p = 1e-4 cut: 29.9) */
    enum { V8 = 8, DRAWS = 20000 };
    float row[V8] = {1.0f, 0.5f, 2.0f, -1.0f, 0.0f, 1.5f, -3.0f, 0.9f};
    float *rows = malloc(sizeof(float) * V8 * DRAWS);
    uint64_t *sd = malloc(sizeof(uint64_t) * DRAWS);
    for (int i = 0; i < DRAWS; i++) memcpy(rows + (size_t)i * V8, row, sizeof row), sd[i] = 77 + (uint64_t)i * 7919;
    float *dr = put(G, rows, sizeof(float) * V8 * DRAWS);
    gen_sampler *s8 = gen_sampler_create(V8);
    bk_sample_params dp[3] = {{1.3f, 1.0f, 0}, {1.0f, 1.0f, 3}, {0.9f, 0.8f, 0}};
    for (int c = 0; c < 3; c++) {
        int *ids = gpu_sample(dr, DRAWS, V8, dp[c], sd);
        int cnt[V8] = {0}, sid[V8];
        double pr[V8], full[V8] = {0};
        gen_sampling p = {dp[c].temperature, dp[c].top_p, dp[c].top_k};
        int m = gen_sample_support(s8, row, &p, sid, pr);
        for (int j = 0; j < m; j++) full[sid[j]] = pr[j];
        for (int i = 0; i < DRAWS; i++) {
            assert_true(ids[i] >= 0 && ids[i] < V8);
            if (full[ids[i]] == 0) fail_msg("case %d: drew %d, which the CPU sampler gives probability 0", c, ids[i]);
            cnt[ids[i]]++;
        }
        double chi = 0;
        for (int j = 0; j < V8; j++)
            if (full[j] > 0) chi += (cnt[j] - DRAWS * full[j]) * (cnt[j] - DRAWS * full[j]) / (DRAWS * full[j]);
        printf("  sample distribution case %d: chi-square %.2f over %d tokens\n", c, chi, m);
        if (chi > 29.9) fail_msg("case %d: draws do not follow the CPU sampler's distribution (chi-square %.1f)", c, chi);
        free(ids);
    }
    gen_sampler_free(s8);
    gen_sampler_free(smp);
    G->op.free(G, dr);
    free(rows); free(sd);
}

/* ---------- a tiny fp32 model built from the ops: forward parity and greedy generation ---------- */

typedef struct {
    int V, H, I, L, nh, nkv, hd;
    float *emb, *norm_f, *ln1[2], *ln2[2], *wq[2], *wk[2], *wv[2], *wo[2], *wg[2], *wu[2], *wd[2], *bq[2], *bk[2], *bv[2];
} tiny;

typedef struct {
    bk_weight emb, q[2], k[2], v[2], o[2], g[2], u[2], d[2];
    float *norm_f, *ln1[2], *ln2[2], *bq[2], *bk[2], *bv[2];
} tiny_dev;

static bk_weight wmap(bk_backend *b, const float *w, int rows, int cols) {
    bk_weight x = {BK_F32, rows, cols, b->op.weight_map(b, w, (size_t)rows * cols * 4)};
    assert_non_null(x.data);
    return x;
}

/* Appends T tokens of one slot at positions p0.. and returns the last row's logits in backend memory. */
static void tiny_step(bk_backend *b, const tiny *m, const tiny_dev *w, bk_kv *kv, const int *tok, const int *slots,
                      const int *pos, int T, float *logits) {
    int H = m->H, qd = m->nh * m->hd, kvd = m->nkv * m->hd;
    float *x = put(b, NULL, (size_t)T * H * 4), *xb = put(b, NULL, (size_t)T * H * 4), *q = put(b, NULL, (size_t)T * qd * 4);
    float *k = put(b, NULL, (size_t)T * kvd * 4), *v = put(b, NULL, (size_t)T * kvd * 4), *at = put(b, NULL, (size_t)T * qd * 4);
    float *g = put(b, NULL, (size_t)T * m->I * 4), *u = put(b, NULL, (size_t)T * m->I * 4), *cs = put(b, NULL, (size_t)T * m->hd * 4);
    b->op.embed(b, x, &w->emb, tok, T);
    b->op.rope_table(b, cs, pos, T, m->hd, 1e4f);
    for (int l = 0; l < m->L; l++) {
        b->op.rmsnorm(b, xb, NULL, x, w->ln1[l], T, H, 1e-6f);
        float *ys[3] = {q, k, v};
        const bk_weight *ws[3] = {&w->q[l], &w->k[l], &w->v[l]};
        const float *bs[3] = {w->bq[l], w->bk[l], w->bv[l]};
        b->op.linear(b, 3, ys, ws, bs, xb, T, 0);
        assert_int_equal(b->op.kv_attn(b, kv, l, at, q, k, v, cs, T, slots, pos, m->nh, m->nkv, m->hd), 0);
        float *yo[1] = {x};
        const bk_weight *wo[1] = {&w->o[l]};
        b->op.linear(b, 1, yo, wo, NULL, at, T, BK_ACCUMULATE);
        b->op.rmsnorm(b, xb, NULL, x, w->ln2[l], T, H, 1e-6f);
        float *yg[2] = {g, u};
        const bk_weight *wg[2] = {&w->g[l], &w->u[l]};
        b->op.linear(b, 2, yg, wg, NULL, xb, T, 0);
        b->op.swiglu(b, g, g, u, (size_t)T * m->I);
        const bk_weight *wd[1] = {&w->d[l]};
        b->op.linear(b, 1, yo, wd, NULL, g, T, BK_ACCUMULATE);
    }
    /* the logits of every row (tied head) */
    b->op.rmsnorm(b, xb, NULL, x, w->norm_f, T, H, 1e-6f);
    float *yl[1] = {logits};
    const bk_weight *wl[1] = {&w->emb};
    b->op.linear(b, 1, yl, wl, NULL, xb, T, 0);
    float *all[] = {x, xb, q, k, v, at, g, u, cs};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) b->op.free(b, all[i]);
}

static void test_tiny_model(void **st) {
    (void)st;
    tiny m = {.V = 512, .H = 64, .I = 176, .L = 2, .nh = 4, .nkv = 2, .hd = 16};
    int qd = m.nh * m.hd, kvd = m.nkv * m.hd;
    m.emb = randv((size_t)m.V * m.H, 0.5f);
    m.norm_f = randv(m.H, 0.1f);
    for (int i = 0; i < m.H; i++) m.norm_f[i] += 1;
    for (int l = 0; l < m.L; l++) {
        m.ln1[l] = randv(m.H, 0.1f); m.ln2[l] = randv(m.H, 0.1f);
        for (int i = 0; i < m.H; i++) m.ln1[l][i] += 1, m.ln2[l][i] += 1;
        m.wq[l] = randv((size_t)qd * m.H, 0.15f); m.wk[l] = randv((size_t)kvd * m.H, 0.15f);
        m.wv[l] = randv((size_t)kvd * m.H, 0.15f); m.wo[l] = randv((size_t)m.H * qd, 0.15f);
        m.wg[l] = randv((size_t)m.I * m.H, 0.15f); m.wu[l] = randv((size_t)m.I * m.H, 0.15f);
        m.wd[l] = randv((size_t)m.H * m.I, 0.1f);
        m.bq[l] = randv(qd, 0.1f); m.bk[l] = randv(kvd, 0.1f); m.bv[l] = randv(kvd, 0.1f);
    }
    enum { P = 9, NEW = 24 };
    int gen[2][NEW];
    float *first[2];
    bk_backend *bs[2] = {C, G};
    for (int i = 0; i < 2; i++) {
        bk_backend *b = bs[i];
        tiny_dev w;
        w.emb = wmap(b, m.emb, m.V, m.H);
        w.norm_f = put(b, m.norm_f, (size_t)m.H * 4);
        for (int l = 0; l < m.L; l++) {
            w.q[l] = wmap(b, m.wq[l], qd, m.H); w.k[l] = wmap(b, m.wk[l], kvd, m.H); w.v[l] = wmap(b, m.wv[l], kvd, m.H);
            w.o[l] = wmap(b, m.wo[l], m.H, qd); w.g[l] = wmap(b, m.wg[l], m.I, m.H); w.u[l] = wmap(b, m.wu[l], m.I, m.H);
            w.d[l] = wmap(b, m.wd[l], m.H, m.I);
            w.ln1[l] = put(b, m.ln1[l], (size_t)m.H * 4); w.ln2[l] = put(b, m.ln2[l], (size_t)m.H * 4);
            w.bq[l] = put(b, m.bq[l], (size_t)qd * 4); w.bk[l] = put(b, m.bk[l], (size_t)kvd * 4);
            w.bv[l] = put(b, m.bv[l], (size_t)kvd * 4);
        }
        bk_kv *kv = b->op.kv_create(b, 1, P + NEW, m.L, kvd, false);
        int tok[P] = {3, 14, 15, 92, 65, 35, 89, 79, 32}, slots[P], pos[P];
        for (int t = 0; t < P; t++) slots[t] = 0, pos[t] = t;
        float *lg = put(b, NULL, (size_t)P * m.V * 4);
        tiny_step(b, &m, &w, kv, tok, slots, pos, P, lg);
        first[i] = get(b, lg, (size_t)P * m.V);
        int cur = 0;
        float *last = (float *)lg + (size_t)(P - 1) * m.V;
        for (int s = 0; s < NEW; s++) {
            if (b == G) {
                bk_sample_params sp = {0, 1, 0};
                uint64_t seed = 1;
                assert_int_equal(b->op.sample(b, &cur, NULL, last, NULL, 1, m.V, &sp, &seed), 0);
            } else {
                int best = 0;
                for (int j = 1; j < m.V; j++) if (last[j] > last[best]) best = j;
                cur = best;
            }
            gen[i][s] = cur;
            int sl = 0, ps = P + s;
            tiny_step(b, &m, &w, kv, &cur, &sl, &ps, 1, lg);
            last = lg;
        }
        b->op.kv_free(b, kv);
        b->op.free(b, lg);
        b->op.weight_unmap(b, w.emb.data);
        b->op.free(b, w.norm_f);
        for (int l = 0; l < m.L; l++) {
            const void *ww[] = {w.q[l].data, w.k[l].data, w.v[l].data, w.o[l].data, w.g[l].data, w.u[l].data, w.d[l].data};
            for (int j = 0; j < 7; j++) b->op.weight_unmap(b, ww[j]);
            float *vv[] = {w.ln1[l], w.ln2[l], w.bq[l], w.bk[l], w.bv[l]};
            for (int j = 0; j < 5; j++) b->op.free(b, vv[j]);
        }
    }
    close_to("tiny f32 model: prompt logits (1e-4)", first[1], first[0], (size_t)P * m.V, 1e-4, 1e-4);
    for (int s = 0; s < NEW; s++)
        if (gen[0][s] != gen[1][s]) fail_msg("greedy generation differs at token %d: GPU %d, CPU %d", s, gen[1][s], gen[0][s]);
    printf("  tiny f32 model: %d greedy tokens equal on GPU and CPU\n", NEW);
    free(first[0]); free(first[1]);
    free(m.emb); free(m.norm_f);
    for (int l = 0; l < m.L; l++) {
        float *a[] = {m.ln1[l], m.ln2[l], m.wq[l], m.wk[l], m.wv[l], m.wo[l], m.wg[l], m.wu[l], m.wd[l], m.bq[l], m.bk[l], m.bv[l]};
        for (size_t j = 0; j < sizeof a / sizeof *a; j++) free(a[j]);
    }
}

/* ---------- the program's model (src/model, one forward pass over bk_ops) on both backends ---------- */

/* The committed fixtures: logits of the whole sequence and of a KV-cached prefill + greedy decode, GPU against
 * CPU. f32 fixtures agree to fp32 rounding (1e-4 on logits of magnitude ~1..10), bf16 ones too: both backends
 * multiply exactly (bf16 weights widened / split in three parts). Greedy tokens must be equal. */
static void model_case(const char *name) {
    char dir[4096], err[512];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/model/%s", getenv("HF_SOURCE_DIR") ? getenv("HF_SOURCE_DIR") : HF_SOURCE_DIR, name);
    model *mc = model_load(dir, err, sizeof err);
    if (!mc) fail_msg("%s", err);
    model *mg = model_load_on(dir, G, err, sizeof err);
    if (!mg) fail_msg("GPU: %s", err);
    const model_config *c = model_get_config(mc);
    int V = c->vocab_size, n = 12, tok[12];
    for (int i = 0; i < n; i++) tok[i] = (i * 37 + 5) % V;
    float *lc = malloc((size_t)n * V * 4), *lg = malloc((size_t)n * V * 4);
    assert_int_equal(model_forward_full(mc, tok, n, lc, err, sizeof err), 0);
    if (model_forward_full(mg, tok, n, lg, err, sizeof err)) fail_msg("GPU forward: %s", err);
    char what[128];
    snprintf(what, sizeof what, "model %s: full-sequence logits (1e-4)", name);
    close_to(what, lg, lc, (size_t)n * V, 1e-4, 1e-4);
    /* greedy: prefill 5 tokens, then 16 steps, through the KV cache */
    int seq[2][32];
    model *ms[2] = {mc, mg};
    for (int b = 0; b < 2; b++) {
        kv_cache *kv = kv_create(ms[b], 1, 32);
        assert_non_null(kv);
        int slot = 0, cur[32], len = 5;
        memcpy(cur, tok, 5 * sizeof(int));
        const int *tp = cur;
        float *row = malloc((size_t)V * 4);
        if (model_forward(ms[b], kv, 1, &slot, &tp, &len, row, err, sizeof err)) fail_msg("%s: %s", b ? "GPU" : "CPU", err);
        for (int s = 0; s < 16; s++) {
            int best = 0;
            for (int j = 1; j < V; j++) if (row[j] > row[best]) best = j;
            seq[b][s] = best;
            int one = 1;
            const int *bp = &seq[b][s];
            if (model_forward(ms[b], kv, 1, &slot, &bp, &one, row, err, sizeof err)) fail_msg("%s", err);
        }
        free(row);
        kv_free(kv);
    }
    for (int s = 0; s < 16; s++)
        if (seq[0][s] != seq[1][s]) fail_msg("model %s: greedy token %d: GPU %d, CPU %d", name, s, seq[1][s], seq[0][s]);
    printf("  model %s: 16 greedy tokens equal on GPU and CPU\n", name);
    free(lc); free(lg);
    model_free(mg);
    model_free(mc);
}

static void test_model_fixtures(void **st) {
    (void)st;
    model_case("llama_untied_f32");
    model_case("gqa1_tied_f32");
    model_case("gqa7_tied_bf16");
}

/* ---------- CUDA graph: a decode-like step captured once, replayed ---------- */

static void test_graph(void **st) {
    (void)st;
    char err[512];
    int B = 8, D = 256, N = 1000;
    float *x = randv((size_t)B * D, 1), *w = randv(D, 1), *W = randv((size_t)N * D, 0.05f);
    uint16_t *Wb = to_bf16(W, (size_t)N * D);
    float *dx = H->alloc((size_t)B * D * 4, err, sizeof err), *dw = H->alloc((size_t)D * 4, err, sizeof err);
    void *dW = H->alloc((size_t)N * D * 2, err, sizeof err), *xb = H->alloc((size_t)B * D * 2, err, sizeof err);
    float *lg = H->alloc((size_t)B * N * 4, err, sizeof err);
    int *tok = H->alloc((size_t)B * 4, err, sizeof err), *pos = H->alloc((size_t)B * 4, err, sizeof err);
    float *temp = H->alloc((size_t)B * 4, err, sizeof err), *topp = H->alloc((size_t)B * 4, err, sizeof err);
    int *topk = H->alloc((size_t)B * 4, err, sizeof err);
    uint64_t *seed = H->alloc((size_t)B * 8, err, sizeof err), *ctr = H->alloc((size_t)B * 8, err, sizeof err);
    assert_non_null(ctr);
    H->upload(dx, x, (size_t)B * D * 4, err, sizeof err);
    H->upload(dw, w, (size_t)D * 4, err, sizeof err);
    H->upload(dW, Wb, (size_t)N * D * 2, err, sizeof err);
    uint64_t hs[8];
    float ht[8], hp[8];
    int hk[8], z[8] = {0};
    for (int i = 0; i < B; i++) hs[i] = 42 + (uint64_t)i, ht[i] = 1.0f, hp[i] = 0.95f, hk[i] = 50;
    H->upload(seed, hs, sizeof hs, err, sizeof err);
    H->upload(temp, ht, sizeof ht, err, sizeof err);
    H->upload(topp, hp, sizeof hp, err, sizeof err);
    H->upload(topk, hk, sizeof hk, err, sizeof err);
    H->upload(pos, z, sizeof z, err, sizeof err);
    /* eager: three steps, each ids from the same logits with the counter advancing */
    int eager[3][8], replay[3][8];
    H->zero(ctr, (size_t)B * 8);
    for (int s = 0; s < 3; s++) {
        H->rmsnorm(xb, HFC_BF16, NULL, dx, dw, B, D, 1e-6f);
        H->matmul(lg, xb, dW, NULL, HFC_BF16, B, N, D, 0);
        H->sample(tok, NULL, lg, NULL, B, N, temp, topk, topp, seed, ctr);
        H->advance(pos, NULL, B);
        assert_int_equal(H->sync(err, sizeof err), 0);
        H->download(eager[s], tok, sizeof eager[s], err, sizeof err);
    }
    int hpos[8];
    H->download(hpos, pos, sizeof hpos, err, sizeof err);
    assert_int_equal(hpos[0], 3);
    H->zero(ctr, (size_t)B * 8);
    assert_int_equal(H->sync(err, sizeof err), 0);
    if (H->graph_begin(err, sizeof err)) fail_msg("%s", err);
    H->rmsnorm(xb, HFC_BF16, NULL, dx, dw, B, D, 1e-6f);
    H->matmul(lg, xb, dW, NULL, HFC_BF16, B, N, D, 0);
    H->sample(tok, NULL, lg, NULL, B, N, temp, topk, topp, seed, ctr);
    H->advance(pos, NULL, B);
    hfc_graph *g = H->graph_end(err, sizeof err);
    if (!g) fail_msg("%s", err);
    for (int s = 0; s < 3; s++) {
        assert_int_equal(H->graph_launch(g, err, sizeof err), 0);
        assert_int_equal(H->sync(err, sizeof err), 0);
        H->download(replay[s], tok, sizeof replay[s], err, sizeof err);
    }
    H->download(hpos, pos, sizeof hpos, err, sizeof err);
    assert_int_equal(hpos[0], 6); /* the captured advance ran on each replay */
    int same_steps = 1;
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < B; i++) assert_int_equal(replay[s][i], eager[s][i]);
    for (int i = 0; i < B; i++) same_steps &= eager[0][i] == eager[1][i];
    assert_false(same_steps); /* the counter moved: each step draws anew */
    printf("  graph: 3 replays equal 3 eager steps (rmsnorm, bf16 matmul, sample, advance)\n");
    H->graph_free(g);
    void *all[] = {dx, dw, dW, xb, lg, tok, pos, temp, topp, topk, seed, ctr};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) H->free(all[i]);
    free(x); free(w); free(W); free(Wb);
}

int main(void) {
    char err[1024];
    bk_device_choice ch;
    bk_device_spec spec = {BK_DEVICE_CUDA, -1};
    const char *dev = getenv("HF_TEST_CUDA_DEVICE");
    if (dev) spec.index = atoi(dev);
    if (bk_device_choose(&spec, 0, "the tests", &ch, err, sizeof err)) {
        printf("SKIPPED: no usable GPU: %s\n", err);
        return 77;
    }
    H = bk_cuda_api(err, sizeof err);
    G = bk_cuda_backend(ch.index, err, sizeof err);
    if (!G) {
        printf("FAILED: the CUDA backend does not start on cuda:%d: %s\n", ch.index, err);
        return 1;
    }
    C = bk_cpu();
    printf("GPU: %s, module %s (%s)\n", G->name, bk_cuda_module_path(), H->build);
    rng_seed(&R, 20261204);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embed),      cmocka_unit_test(test_rmsnorm),  cmocka_unit_test(test_rope),
        cmocka_unit_test(test_swiglu_add_rows), cmocka_unit_test(test_linear), cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_attn_packed), cmocka_unit_test(test_kv_attn), cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_sample),     cmocka_unit_test(test_tiny_model), cmocka_unit_test(test_model_fixtures),
        cmocka_unit_test(test_graph),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    G->destroy(G);
    return rc;
}
