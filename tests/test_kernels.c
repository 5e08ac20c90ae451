/* Unit tests of src/kernels/matmul: every product, on every ISA this CPU has (scalar fallback included),
 * against naive double-precision references, over shapes that hit every tile remainder and blocking edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "kernels/matmul.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int M, N, K;
} shape;

/* M=1 decode, small M, M and N not multiples of the 4x4 tile, K not a multiple of 16/32 (masked tails),
 * K beyond one K block (1024 exact, 2048 fast), M beyond one M block (64), large enough to be threaded. */
static const shape shapes[] = {
    {1, 1, 1},    {1, 37, 45},  {1, 64, 64},   {2, 5, 31},    {3, 5, 7},     {4, 16, 32},    {5, 33, 17},
    {7, 130, 100}, {13, 67, 129}, {64, 48, 96}, {70, 20, 2100}, {130, 9, 33}, {5, 301, 133}, {1, 1000, 300},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static float *randv(rng_state *r, size_t n, float scale) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (float)((rng_double(r) * 2.0 - 1.0) * scale);
    return v;
}

static uint16_t *rand_bf16(rng_state *r, size_t n) {
    uint16_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = mm_f32_to_bf16((float)(rng_double(r) * 2.0 - 1.0));
    return v;
}

/* Checks got against ref elementwise: |got - ref| <= tol * scale, where scale[i] is the sum of the magnitudes
 * of the terms that made ref[i] (the natural yardstick of floating-point summation error). */
static void check_close(const float *got, const double *ref, const double *scale, size_t n, double tol,
                        const char *what) {
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        if (!(err <= tol * scale[i] + 1e-30)) {
            fail_msg("%s: element %zu: got %.9g, want %.9g (err %.3g, allowed %.3g)", what, i, got[i], ref[i], err,
                     tol * scale[i]);
        }
    }
}

/* y = y0 (if acc) + x·Wᵀ + bias in double; xround rounds x to bf16 first (the fast path's numerics). */
static void ref_nt(double *ref, double *scale, const float *y0, const float *x, const uint16_t *w, const float *bias,
                   int M, int N, int K, int acc, int xround) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0.0, a = 0.0;
            for (int k = 0; k < K; k++) {
                float xv = x[(size_t)m * K + k];
                if (xround) xv = mm_bf16_to_f32(mm_f32_to_bf16(xv));
                double p = (double)xv * mm_bf16_to_f32(w[(size_t)n * K + k]);
                s += p;
                a += fabs(p);
            }
            if (bias) {
                s += bias[n];
                a += fabs(bias[n]);
            }
            if (acc) {
                s += y0[(size_t)m * N + n];
                a += fabs(y0[(size_t)m * N + n]);
            }
            ref[(size_t)m * N + n] = s;
            scale[(size_t)m * N + n] = a;
        }
}

static int isa_available(mm_isa isa) { return isa <= mm_detect_isa(); }

static void test_bf16_forward_all_isas_shapes_flags(void **state) {
    (void)state;
    mm_isa saved = mm_get_isa();
    rng_state r;
    rng_seed(&r, 1234);
    for (int s = 0; s < NSHAPES; s++) {
        const int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
        float *x = randv(&r, (size_t)M * K, 1.0f);
        uint16_t *w = rand_bf16(&r, (size_t)N * K);
        float *bias = randv(&r, (size_t)N, 0.5f);
        float *y0 = randv(&r, (size_t)M * N, 2.0f);
        float *y = malloc((size_t)M * N * sizeof *y);
        double *ref = malloc((size_t)M * N * sizeof *ref), *scale = malloc((size_t)M * N * sizeof *scale);
        double *ref_x16 = malloc((size_t)M * N * sizeof *ref), *scale_x16 = malloc((size_t)M * N * sizeof *scale);
        for (int use_bias = 0; use_bias < 2; use_bias++)
            for (int acc = 0; acc < 2; acc++) {
                const float *b = use_bias ? bias : NULL;
                ref_nt(ref, scale, y0, x, w, b, M, N, K, acc, 0);
                ref_nt(ref_x16, scale_x16, y0, x, w, b, M, N, K, acc, 1);
                for (int isa = MM_ISA_SCALAR; isa <= MM_ISA_AVX512BF16; isa++) {
                    if (!isa_available((mm_isa)isa)) continue;
                    assert_int_equal(mm_set_isa((mm_isa)isa), 0);
                    for (int fast = 0; fast < 2; fast++) {
                        char what[160];
                        snprintf(what, sizeof what, "mm_bf16 %s M=%d N=%d K=%d bias=%d acc=%d fast=%d",
                                 mm_isa_name((mm_isa)isa), M, N, K, use_bias, acc, fast);
                        if (acc)
                            memcpy(y, y0, (size_t)M * N * sizeof *y);
                        else
                            for (size_t i = 0; i < (size_t)M * N; i++) y[i] = NAN; /* must not be read */
                        unsigned flags = (acc ? MM_ACCUMULATE : 0) | (fast ? MM_FAST : 0);
                        mm_bf16(y, x, w, b, M, N, K, flags);
                        if (fast && isa == MM_ISA_AVX512BF16) {
                            /* the same products as the exact path on bf16-rounded x, summed in fp32 */
                            check_close(y, ref_x16, scale_x16, (size_t)M * N, 1e-5, what);
                            /* and within bf16 accuracy of the exact result */
                            check_close(y, ref, scale, (size_t)M * N, 1e-2, what);
                        } else {
                            check_close(y, ref, scale, (size_t)M * N, 1e-5, what);
                        }
                    }
                }
            }
        free(x);
        free(w);
        free(bias);
        free(y0);
        free(y);
        free(ref);
        free(scale);
        free(ref_x16);
        free(scale_x16);
    }
    assert_int_equal(mm_set_isa(saved), 0);
}

/* dx = dx0 (if acc) + dy·W in double; dyround rounds dy to bf16 first (the fast path's numerics). */
static void ref_nn(double *ref, double *scale, const float *dx0, const float *dy, const uint16_t *w, int M, int N,
                   int K, int acc, int dyround) {
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            double s = 0.0, a = 0.0;
            for (int n = 0; n < N; n++) {
                float g = dy[(size_t)m * N + n];
                if (dyround) g = mm_bf16_to_f32(mm_f32_to_bf16(g));
                double p = (double)g * mm_bf16_to_f32(w[(size_t)n * K + k]);
                s += p;
                a += fabs(p);
            }
            if (acc) {
                s += dx0[(size_t)m * K + k];
                a += fabs(dx0[(size_t)m * K + k]);
            }
            ref[(size_t)m * K + k] = s;
            scale[(size_t)m * K + k] = a;
        }
}

static void test_bf16_dx_all_isas_shapes(void **state) {
    (void)state;
    mm_isa saved = mm_get_isa();
    rng_state r;
    rng_seed(&r, 99);
    /* dx reduces over N: also cover N beyond one N block (128) */
    static const shape dx_shapes[] = {{1, 1, 1},     {1, 37, 45},    {3, 5, 7},      {6, 16, 64},
                                      {7, 130, 100}, {13, 67, 129},  {20, 300, 200}, {1, 40, 1000},
                                      {9, 257, 65},  {12, 2, 33},    {8, 129, 96}};
    for (size_t s = 0; s < sizeof dx_shapes / sizeof dx_shapes[0]; s++) {
        const int M = dx_shapes[s].M, N = dx_shapes[s].N, K = dx_shapes[s].K;
        float *dy = randv(&r, (size_t)M * N, 1.0f);
        uint16_t *w = rand_bf16(&r, (size_t)N * K);
        float *dx0 = randv(&r, (size_t)M * K, 1.0f);
        float *dx = malloc((size_t)M * K * sizeof *dx);
        double *ref = malloc((size_t)M * K * sizeof *ref), *scale = malloc((size_t)M * K * sizeof *scale);
        double *ref16 = malloc((size_t)M * K * sizeof *ref), *scale16 = malloc((size_t)M * K * sizeof *scale);
        for (int acc = 0; acc < 2; acc++) {
            ref_nn(ref, scale, dx0, dy, w, M, N, K, acc, 0);
            ref_nn(ref16, scale16, dx0, dy, w, M, N, K, acc, 1);
            for (int isa = MM_ISA_SCALAR; isa <= MM_ISA_AVX512BF16; isa++) {
                if (!isa_available((mm_isa)isa)) continue;
                assert_int_equal(mm_set_isa((mm_isa)isa), 0);
                for (int fast = 0; fast < 2; fast++) {
                    char what[160];
                    snprintf(what, sizeof what, "mm_bf16_dx %s M=%d N=%d K=%d acc=%d fast=%d",
                             mm_isa_name((mm_isa)isa), M, N, K, acc, fast);
                    if (acc)
                        memcpy(dx, dx0, (size_t)M * K * sizeof *dx);
                    else
                        for (size_t i = 0; i < (size_t)M * K; i++) dx[i] = NAN;
                    mm_bf16_dx(dx, dy, w, M, N, K, (acc ? MM_ACCUMULATE : 0) | (fast ? MM_FAST : 0));
                    if (fast && isa == MM_ISA_AVX512BF16) {
                        check_close(dx, ref16, scale16, (size_t)M * K, 1e-5, what);
                        check_close(dx, ref, scale, (size_t)M * K, 1e-2, what);
                    } else {
                        check_close(dx, ref, scale, (size_t)M * K, 1e-5, what);
                    }
                }
            }
        }
        free(ref16);
        free(scale16);
        free(dy);
        free(w);
        free(dx0);
        free(dx);
        free(ref);
        free(scale);
    }
    assert_int_equal(mm_set_isa(saved), 0);
}

/* The fp32 (OpenBLAS) paths and the dtype dispatch of mm_linear / mm_linear_dx. */
static void test_f32_paths_and_linear_dispatch(void **state) {
    (void)state;
    rng_state r;
    rng_seed(&r, 7);
    static const shape f_shapes[] = {{1, 37, 45}, {1, 300, 17}, {5, 33, 17}, {16, 64, 96}};
    for (size_t s = 0; s < sizeof f_shapes / sizeof f_shapes[0]; s++) {
        const int M = f_shapes[s].M, N = f_shapes[s].N, K = f_shapes[s].K;
        float *x = randv(&r, (size_t)M * K, 1.0f);
        uint16_t *wb = rand_bf16(&r, (size_t)N * K);
        float *wf = malloc((size_t)N * K * sizeof *wf);
        mm_bf16_to_f32_array(wf, wb, (size_t)N * K); /* same values in both dtypes */
        float *bias = randv(&r, (size_t)N, 0.5f);
        float *y0 = randv(&r, (size_t)M * N, 2.0f);
        float *y = malloc((size_t)M * N * sizeof *y);
        double *ref = malloc((size_t)M * N * sizeof *ref), *scale = malloc((size_t)M * N * sizeof *scale);
        mm_weight wt_f = {MM_DTYPE_F32, N, K, wf}, wt_b = {MM_DTYPE_BF16, N, K, wb};
        for (int use_bias = 0; use_bias < 2; use_bias++)
            for (int acc = 0; acc < 2; acc++) {
                const float *b = use_bias ? bias : NULL;
                ref_nt(ref, scale, y0, x, wb, b, M, N, K, acc, 0);
                for (int dt = 0; dt < 3; dt++) {
                    char what[128];
                    snprintf(what, sizeof what, "forward %s M=%d N=%d K=%d bias=%d acc=%d",
                             dt == 0 ? "mm_f32" : dt == 1 ? "mm_linear f32" : "mm_linear bf16", M, N, K, use_bias,
                             acc);
                    if (acc)
                        memcpy(y, y0, (size_t)M * N * sizeof *y);
                    else
                        for (size_t i = 0; i < (size_t)M * N; i++) y[i] = NAN;
                    unsigned flags = acc ? MM_ACCUMULATE : 0;
                    if (dt == 0) mm_f32(y, x, wf, b, M, N, K, flags);
                    if (dt == 1) mm_linear(y, x, M, &wt_f, b, flags);
                    if (dt == 2) mm_linear(y, x, M, &wt_b, b, flags);
                    check_close(y, ref, scale, (size_t)M * N, 1e-5, what);
                }
            }
        /* dx = dy·W: dy is M x N */
        float *dy = randv(&r, (size_t)M * N, 1.0f);
        float *dx0 = randv(&r, (size_t)M * K, 1.0f);
        float *dx = malloc((size_t)M * K * sizeof *dx);
        double *rdx = malloc((size_t)M * K * sizeof *rdx), *sdx = malloc((size_t)M * K * sizeof *sdx);
        for (int acc = 0; acc < 2; acc++) {
            ref_nn(rdx, sdx, dx0, dy, wb, M, N, K, acc, 0);
            for (int dt = 0; dt < 3; dt++) {
                if (acc)
                    memcpy(dx, dx0, (size_t)M * K * sizeof *dx);
                else
                    for (size_t i = 0; i < (size_t)M * K; i++) dx[i] = NAN;
                unsigned flags = acc ? MM_ACCUMULATE : 0;
                if (dt == 0) mm_f32_dx(dx, dy, wf, M, N, K, flags);
                if (dt == 1) mm_linear_dx(dx, dy, M, &wt_f, flags);
                if (dt == 2) mm_linear_dx(dx, dy, M, &wt_b, flags);
                check_close(dx, rdx, sdx, (size_t)M * K, 1e-5, dt == 0 ? "mm_f32_dx" : "mm_linear_dx");
            }
        }
        /* dW[N,K] (+)= dyᵀ·x */
        float *dw0 = randv(&r, (size_t)N * K, 1.0f);
        float *dw = malloc((size_t)N * K * sizeof *dw);
        double *rdw = malloc((size_t)N * K * sizeof *rdw), *sdw = malloc((size_t)N * K * sizeof *sdw);
        for (int acc = 0; acc < 2; acc++) {
            for (int n = 0; n < N; n++)
                for (int k = 0; k < K; k++) {
                    double sum = acc ? dw0[(size_t)n * K + k] : 0.0, a = fabs(sum);
                    for (int m = 0; m < M; m++) {
                        double p = (double)dy[(size_t)m * N + n] * x[(size_t)m * K + k];
                        sum += p;
                        a += fabs(p);
                    }
                    rdw[(size_t)n * K + k] = sum;
                    sdw[(size_t)n * K + k] = a;
                }
            if (acc)
                memcpy(dw, dw0, (size_t)N * K * sizeof *dw);
            else
                for (size_t i = 0; i < (size_t)N * K; i++) dw[i] = NAN;
            mm_f32_dw(dw, dy, x, M, N, K, acc ? MM_ACCUMULATE : 0);
            check_close(dw, rdw, sdw, (size_t)N * K, 1e-5, "mm_f32_dw");
        }
        free(x);
        free(wb);
        free(wf);
        free(bias);
        free(y0);
        free(y);
        free(ref);
        free(scale);
        free(dy);
        free(dx0);
        free(dx);
        free(rdx);
        free(sdx);
        free(dw0);
        free(dw);
        free(rdw);
        free(sdw);
    }
}

/* mm_linear_many (q/k/v, gate/up in one region) gives the same bits as one mm_linear per matrix, for every ISA,
 * both precisions, M from decode to the transposed-x sizes, with and without biases and accumulation. */
static void test_linear_many_equals_separate_products(void **state) {
    (void)state;
    rng_state r;
    rng_seed(&r, 11);
    mm_isa saved = mm_get_isa();
    static const int Ms[] = {1, 3, 8, 20, 70};
    const int K = 133, Ns[3] = {37, 5, 130};
    uint16_t *w[3];
    float *b[3], *y[3], *y1[3];
    mm_weight wt[3];
    const mm_weight *pw[3];
    for (int i = 0; i < 3; i++) {
        w[i] = rand_bf16(&r, (size_t)Ns[i] * K);
        b[i] = randv(&r, (size_t)Ns[i], 0.5f);
        y[i] = malloc((size_t)70 * Ns[i] * sizeof(float));
        y1[i] = malloc((size_t)70 * Ns[i] * sizeof(float));
        wt[i] = (mm_weight){MM_DTYPE_BF16, Ns[i], K, w[i]};
        pw[i] = &wt[i];
    }
    float *x = randv(&r, (size_t)70 * K, 1.0f);
    for (int isa = MM_ISA_SCALAR; isa <= MM_ISA_AVX512BF16; isa++) {
        if (!isa_available((mm_isa)isa)) continue;
        assert_int_equal(mm_set_isa((mm_isa)isa), 0);
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
            for (int variant = 0; variant < 4; variant++) {
                const int M = Ms[mi], fast = variant & 1, acc = variant >> 1;
                const unsigned flags = (fast ? MM_FAST : 0) | (acc ? MM_ACCUMULATE : 0);
                const float *bs[3] = {b[0], NULL, b[2]}; /* a NULL entry among the biases */
                for (int i = 0; i < 3; i++)
                    for (size_t e = 0; e < (size_t)M * Ns[i]; e++) y[i][e] = y1[i][e] = (float)e * 0.25f;
                mm_linear_many(3, y, pw, bs, x, M, flags);
                for (int i = 0; i < 3; i++) mm_linear(y1[i], x, M, &wt[i], bs[i], flags);
                for (int i = 0; i < 3; i++)
                    if (memcmp(y[i], y1[i], (size_t)M * Ns[i] * sizeof(float)) != 0)
                        fail_msg("mm_linear_many %s M=%d matrix %d fast=%d acc=%d differs from mm_linear",
                                 mm_isa_name((mm_isa)isa), M, i, fast, acc);
            }
    }
    assert_int_equal(mm_set_isa(saved), 0);
    for (int i = 0; i < 3; i++) {
        free(w[i]);
        free(b[i]);
        free(y[i]);
        free(y1[i]);
    }
    free(x);
}

/* IEEE half weights (f16 checkpoints) and fp32 weights with OpenBLAS on one thread inside OpenMP (as the model
 * runs them): forward, one and several matrices, dx, and the row lookup, against double references. */
static void test_f16_and_single_thread_blas_paths(void **state) {
    (void)state;
    assert_true(mm_f16_to_f32(0x3c00) == 1.0f);
    assert_true(mm_f16_to_f32(0xc000) == -2.0f);
    assert_true(mm_f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
    assert_true(mm_f16_to_f32(0x03ff) == 1023.0f * ldexpf(1.0f, -24));
    assert_true(mm_f16_to_f32(0x7bff) == 65504.0f);
    assert_true(isinf(mm_f16_to_f32(0x7c00)) && isnan(mm_f16_to_f32(0x7e00)));
    assert_true(mm_f16_to_f32(0x8000) == 0.0f && signbit(mm_f16_to_f32(0x8000)));
    mm_blas_single_thread();
    rng_state r;
    rng_seed(&r, 13);
    static const shape h_shapes[] = {{1, 37, 45}, {3, 300, 17}, {16, 70, 96}};
    for (size_t s = 0; s < sizeof h_shapes / sizeof h_shapes[0]; s++) {
        const int M = h_shapes[s].M, N = h_shapes[s].N, K = h_shapes[s].K;
        uint16_t *wh = malloc((size_t)N * K * sizeof *wh), *wb = malloc((size_t)N * K * sizeof *wb);
        float *wf = malloc((size_t)N * K * sizeof *wf);
        for (size_t i = 0; i < (size_t)N * K; i++) { /* random halves in [2^-6, 2), both signs, subnormals too */
            uint16_t h = (uint16_t)(rng_below(&r, 2) << 15 | (rng_below(&r, 10) + 6) << 10 | rng_below(&r, 1024));
            if (i % 97 == 0) h = (uint16_t)rng_below(&r, 1024); /* subnormal */
            wh[i] = h;
            wf[i] = mm_f16_to_f32(h);
        }
        float *x = randv(&r, (size_t)M * K, 1.0f), *bias = randv(&r, (size_t)N, 0.5f);
        float *y = malloc((size_t)M * N * sizeof *y), *y2 = malloc((size_t)M * N * sizeof *y2);
        double *ref = malloc((size_t)M * N * sizeof *ref), *scale = malloc((size_t)M * N * sizeof *scale);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double acc = bias[n], a = fabs(bias[n]);
                for (int k = 0; k < K; k++) {
                    double p = (double)x[(size_t)m * K + k] * wf[(size_t)n * K + k];
                    acc += p;
                    a += fabs(p);
                }
                ref[(size_t)m * N + n] = acc;
                scale[(size_t)m * N + n] = a;
            }
        mm_weight w16 = {MM_DTYPE_F16, N, K, wh}, w32 = {MM_DTYPE_F32, N, K, wf};
        mm_linear(y, x, M, &w16, bias, MM_FAST); /* MM_FAST is ignored for f16: exact */
        check_close(y, ref, scale, (size_t)M * N, 1e-5, "mm_linear f16");
        float *ys[2] = {y, y2};
        const mm_weight *ws[2] = {&w16, &w32};
        const float *bs[2] = {bias, bias};
        mm_linear_many(2, ys, ws, bs, x, M, 0); /* mixed dtypes: the OpenBLAS-per-thread path */
        check_close(y, ref, scale, (size_t)M * N, 1e-5, "mm_linear_many f16");
        check_close(y2, ref, scale, (size_t)M * N, 1e-5, "mm_linear_many f32");
        float row[300];
        mm_weight_row(row, &w16, N - 1);
        assert_memory_equal(row, wf + (size_t)(N - 1) * K, (size_t)K * sizeof(float));
        mm_weight_row(row, &w32, 0);
        assert_memory_equal(row, wf, (size_t)K * sizeof(float));
        for (size_t i = 0; i < (size_t)N * K; i++) wb[i] = mm_f32_to_bf16(wf[i]);
        mm_weight wbf = {MM_DTYPE_BF16, N, K, wb};
        mm_weight_row(row, &wbf, 1);
        for (int k = 0; k < K; k++) assert_true(row[k] == mm_bf16_to_f32(wb[(size_t)K + k]));
        /* dx = dy·W with f16 W, accumulating */
        float *dy = randv(&r, (size_t)M * N, 1.0f), *dx = randv(&r, (size_t)M * K, 1.0f);
        double *rdx = malloc((size_t)M * K * sizeof *rdx), *sdx = malloc((size_t)M * K * sizeof *sdx);
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) {
                double acc = dx[(size_t)m * K + k], a = fabs(acc);
                for (int n = 0; n < N; n++) {
                    double p = (double)dy[(size_t)m * N + n] * wf[(size_t)n * K + k];
                    acc += p;
                    a += fabs(p);
                }
                rdx[(size_t)m * K + k] = acc;
                sdx[(size_t)m * K + k] = a;
            }
        mm_linear_dx(dx, dy, M, &w16, MM_ACCUMULATE);
        check_close(dx, rdx, sdx, (size_t)M * K, 1e-5, "mm_linear_dx f16");
        free(wh); free(wb); free(wf); free(x); free(bias); free(y); free(y2); free(ref); free(scale);
        free(dy); free(dx); free(rdx); free(sdx);
    }
}

static void test_empty_shapes_touch_nothing(void **state) {
    (void)state;
    float y[4] = {1, 2, 3, 4}, x[4] = {0};
    uint16_t w[4] = {0};
    mm_bf16(y, x, w, NULL, 0, 4, 1, 0);
    mm_bf16(y, x, w, NULL, 1, 0, 4, 0);
    mm_bf16(y, x, w, NULL, 1, 4, 0, MM_FAST);
    mm_bf16_dx(y, x, w, 0, 1, 4, 0);
    mm_f32(y, x, x, NULL, 1, 4, 0, 0);
    for (int i = 0; i < 4; i++) assert_true(y[i] == (float)(i + 1));
}

static void test_isa_selection(void **state) {
    (void)state;
    mm_isa best = mm_detect_isa(), saved = mm_get_isa();
    assert_true(saved <= best);
    assert_int_equal(mm_set_isa(MM_ISA_SCALAR), 0);
    assert_int_equal(mm_get_isa(), MM_ISA_SCALAR);
    assert_int_equal(mm_set_isa((mm_isa)99), -1);
    assert_int_equal(mm_get_isa(), MM_ISA_SCALAR);
    if (best < MM_ISA_AVX512BF16) {
        assert_int_equal(mm_set_isa(MM_ISA_AVX512BF16), -1); /* the CPU lacks it: refused */
        assert_int_equal(mm_get_isa(), MM_ISA_SCALAR);
    }
    assert_string_equal(mm_isa_name(MM_ISA_AVX512BF16), "avx512bf16");
    assert_string_equal(mm_isa_name(MM_ISA_SCALAR), "scalar");
    assert_int_equal(mm_set_isa(saved), 0);
}

static void test_bf16_rounding_is_nearest_even(void **state) {
    (void)state;
    union { uint32_t u; float f; } v;
    v.f = 1.0f;
    assert_int_equal(mm_f32_to_bf16(v.f), 0x3f80);
    v.u = 0x3f808000u; /* exactly halfway, even below */
    assert_int_equal(mm_f32_to_bf16(v.f), 0x3f80);
    v.u = 0x3f818000u; /* exactly halfway, odd below: rounds up */
    assert_int_equal(mm_f32_to_bf16(v.f), 0x3f82);
    v.u = 0x3f808001u; /* just above halfway */
    assert_int_equal(mm_f32_to_bf16(v.f), 0x3f81);
    assert_int_equal(mm_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(mm_f32_to_bf16(-INFINITY), 0xff80);
    assert_true(isnan(mm_bf16_to_f32(mm_f32_to_bf16(NAN))));
    v.u = 0x7f7fffffu; /* the largest float rounds to infinity, as in PyTorch */
    assert_int_equal(mm_f32_to_bf16(v.f), 0x7f80);
    assert_true(mm_bf16_to_f32(0xc040) == -3.0f);
    float src[3] = {1.5f, -2.25f, 0.0f}, back[3];
    uint16_t h[3];
    mm_f32_to_bf16_array(h, src, 3);
    mm_bf16_to_f32_array(back, h, 3);
    for (int i = 0; i < 3; i++) assert_true(back[i] == src[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_forward_all_isas_shapes_flags),
        cmocka_unit_test(test_bf16_dx_all_isas_shapes),
        cmocka_unit_test(test_f32_paths_and_linear_dispatch),
        cmocka_unit_test(test_linear_many_equals_separate_products),
        cmocka_unit_test(test_f16_and_single_thread_blas_paths),
        cmocka_unit_test(test_empty_shapes_touch_nothing),
        cmocka_unit_test(test_isa_selection),
        cmocka_unit_test(test_bf16_rounding_is_nearest_even),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
