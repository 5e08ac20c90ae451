/* matmul dispatcher: picks the kernel for the CPU, splits the work over OpenMP threads, calls OpenBLAS for
 * fp32 weights. The kernels themselves are in mm_avx512.c, mm_avx2.c and mm_scalar.c. */
#include "kernels/matmul.h"

#include "kernels/mm_internal.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* From this many rows of x on, the exact AVX-512 forward uses the outer-product kernel on x transposed. */
#define MM_XT_MIN_M 16

/* Below this many multiply-adds a product runs on one thread: waking the team would cost more than it saves. */
#define MM_MIN_PARALLEL_WORK (1L << 15)

static int g_isa = -1; /* mm_isa, or -1 before the first use */

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512bf16"};

const char *mm_isa_name(mm_isa isa) {
    return (isa >= MM_ISA_SCALAR && isa <= MM_ISA_AVX512BF16) ? isa_names[isa] : "unknown";
}

mm_isa mm_detect_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
        return __builtin_cpu_supports("avx512bf16") ? MM_ISA_AVX512BF16 : MM_ISA_AVX512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return MM_ISA_AVX2;
#endif
    return MM_ISA_SCALAR;
}

int mm_set_isa(mm_isa isa) {
    if (isa < MM_ISA_SCALAR || isa > mm_detect_isa()) return -1;
    __atomic_store_n(&g_isa, (int)isa, __ATOMIC_RELAXED);
    return 0;
}

mm_isa mm_get_isa(void) {
    int isa = __atomic_load_n(&g_isa, __ATOMIC_RELAXED);
    if (isa >= 0) return (mm_isa)isa;
    mm_isa best = mm_detect_isa();
    isa = (int)best;
    const char *env = getenv("HF_MM_ISA");
    if (env && *env) {
        for (int i = MM_ISA_SCALAR; i <= MM_ISA_AVX512BF16; i++)
            if (strcmp(env, isa_names[i]) == 0 && i <= (int)best) isa = i;
    }
    __atomic_store_n(&g_isa, isa, __ATOMIC_RELAXED);
    return (mm_isa)isa;
}

static int team_size(double work, int max_by_shape) {
    if (omp_in_parallel() || work < (double)MM_MIN_PARALLEL_WORK) return 1;
    int nt = omp_get_max_threads();
    if (nt > max_by_shape) nt = max_by_shape;
    return nt < 1 ? 1 : nt;
}

/* [lo, hi) of thread t's share of n items, cut at multiples of align. */
static void share(int n, int align, int t, int nt, int *lo, int *hi) {
    int units = (n + align - 1) / align;
    int u0 = (int)((long)units * t / nt), u1 = (int)((long)units * (t + 1) / nt);
    *lo = u0 * align < n ? u0 * align : n;
    *hi = u1 * align < n ? u1 * align : n;
}

/* The products are handed out in chunks from a shared counter rather than in one fixed share per thread: on a
 * busy machine (verifier processes, other programs) a thread that loses its core for a scheduler tick then delays
 * only its current chunk while the others take the rest. About 8 chunks per thread, multiples of align. */
static int chunk_size(int n, int align, int nt) {
    int c = n / (8 * nt);
    c = (c + align - 1) / align * align;
    return c < align ? align : c;
}

static int next_chunk(int *counter, int chunk, int n, int *lo, int *hi) {
    int c = __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
    if ((long)c * chunk >= n) return 0;
    *lo = c * chunk;
    *hi = *lo + chunk < n ? *lo + chunk : n;
    return 1;
}

void mm_bf16(float *y, const float *x, const uint16_t *W, const float *bias, int M, int N, int K, unsigned flags) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    mm_isa isa = mm_get_isa();
    void (*kernel)(const mm_nt_job *, int, int) = mm_nt_scalar;
    uint16_t xb_small[4096 + 32] __attribute__((aligned(64)));
    uint16_t *xb = NULL, *xb_raw = NULL;
    float *xt = NULL;
    const int Mp = (M + 15) / 16 * 16;
#if defined(__x86_64__)
    if (isa == MM_ISA_AVX2) kernel = mm_nt_avx2;
    if (isa >= MM_ISA_AVX512) kernel = mm_nt_avx512;
    if (isa == MM_ISA_AVX512BF16 && (flags & MM_FAST)) {
        /* Decode-size x goes on the stack (a malloc per call would cost as much as a small product). The buffer
         * starts at the same offset within a cache line as W, so that when K*2 is a multiple of 64 (all Qwen
         * shapes) the kernel's alignment peel aligns the loads of x and of W together. */
        size_t need = (size_t)M * K + 32;
        xb_raw = need <= sizeof xb_small / sizeof *xb_small ? xb_small : malloc(need * sizeof *xb_raw);
        if (xb_raw) {
            size_t shift = ((uintptr_t)W - (uintptr_t)xb_raw) & 63u;
            xb = xb_raw + shift / 2;
            kernel = mm_nt_avx512bf16; /* out of memory: the exact kernel needs no buffer */
        }
    } else if (isa >= MM_ISA_AVX512 && M >= MM_XT_MIN_M) {
        xt = malloc((size_t)K * Mp * sizeof *xt);
        if (xt) kernel = mm_nt_avx512_xt;
    }
#endif
    mm_nt_job job = {y, x, xb, xt, Mp, W, bias, M, N, K, (flags & MM_ACCUMULATE) != 0};
    int nt = team_size((double)M * N * K, (N + 3) / 4);
    const int chunk = chunk_size(N, xt ? 48 : 16, nt); /* 48: whole 6-row tiles of the transposed-x kernel */
    int counter = 0;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#if defined(__x86_64__)
        if (xb) {
            int r0 = (int)((long)M * t / T), r1 = (int)((long)M * (t + 1) / T);
            mm_cvt_bf16_avx512bf16(xb + (size_t)r0 * K, x + (size_t)r0 * K, (size_t)(r1 - r0) * K);
        }
#endif
        if (xt) {
            int k0, k1;
            share(K, 16, t, T, &k0, &k1);
            mm_transpose_pad(xt, x, M, K, Mp, k0, k1);
        }
#pragma omp barrier
        int n0, n1;
        while (next_chunk(&counter, chunk, N, &n0, &n1)) kernel(&job, n0, n1);
    }
    if (xb_raw != xb_small) free(xb_raw);
    free(xt);
}

void mm_bf16_dx(float *dx, const float *dy, const uint16_t *W, int M, int N, int K, unsigned flags) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    mm_isa isa = mm_get_isa();
    void (*kernel)(const mm_nn_job *, int, int) = mm_nn_scalar;
    int align = 16;
    uint16_t *dyb = NULL;
    const int Np = N + (N & 1);
#if defined(__x86_64__)
    if (isa == MM_ISA_AVX2) kernel = mm_nn_avx2;
    if (isa >= MM_ISA_AVX512) {
        kernel = mm_nn_avx512;
        align = 64;
    }
    if (isa == MM_ISA_AVX512BF16 && (flags & MM_FAST)) {
        dyb = malloc((size_t)M * Np * sizeof *dyb);
        if (dyb) kernel = mm_nn_avx512bf16;
    }
#endif
    mm_nn_job job = {dx, dy, dyb, W, M, N, K, (flags & MM_ACCUMULATE) != 0};
    int nt = team_size((double)M * N * K, (K + align - 1) / align);
    const int chunk = chunk_size(K, align, nt);
    int counter = 0;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#if defined(__x86_64__)
        if (dyb) {
            int r0 = (int)((long)M * t / T), r1 = (int)((long)M * (t + 1) / T);
            for (int m = r0; m < r1; m++) {
                mm_cvt_bf16_avx512bf16(dyb + (size_t)m * Np, dy + (size_t)m * N, (size_t)N);
                if (Np != N) dyb[(size_t)m * Np + N] = 0;
            }
        }
#endif
#pragma omp barrier
        int k0, k1;
        while (next_chunk(&counter, chunk, K, &k0, &k1)) kernel(&job, k0, k1);
    }
    free(dyb);
}

/* y rows = bias (or y + bias when accumulating); returns the beta for the BLAS call that adds x·Wᵀ. */
static float prepare_output(float *y, const float *bias, int M, int N, unsigned flags) {
    if (!bias) return (flags & MM_ACCUMULATE) ? 1.0f : 0.0f;
    for (int m = 0; m < M; m++) {
        float *yr = y + (size_t)m * N;
        if (flags & MM_ACCUMULATE)
            for (int n = 0; n < N; n++) yr[n] += bias[n];
        else
            memcpy(yr, bias, (size_t)N * sizeof *yr);
    }
    return 1.0f;
}

void mm_f32(float *y, const float *x, const float *W, const float *bias, int M, int N, int K, unsigned flags) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    float beta = prepare_output(y, bias, M, N, flags);
    if (M == 1) /* OpenBLAS's sgemm is 2-5x slower than sgemv for one row */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, W, K, x, 1, beta, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, W, K, beta, y, N);
}

void mm_f32_dx(float *dx, const float *dy, const float *W, int M, int N, int K, unsigned flags) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    float beta = (flags & MM_ACCUMULATE) ? 1.0f : 0.0f;
    if (M == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, N, K, 1.0f, W, K, dy, 1, beta, dx, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dy, N, W, K, beta, dx, K);
}

void mm_f32_dw(float *dw, const float *dy, const float *x, int M, int N, int K, unsigned flags) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    float beta = (flags & MM_ACCUMULATE) ? 1.0f : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dy, N, x, K, beta, dw, K);
}

void mm_linear(float *y, const float *x, int M, const mm_weight *w, const float *bias, unsigned flags) {
    if (w->dtype == MM_DTYPE_BF16)
        mm_bf16(y, x, (const uint16_t *)w->data, bias, M, w->rows, w->cols, flags);
    else
        mm_f32(y, x, (const float *)w->data, bias, M, w->rows, w->cols, flags);
}

void mm_linear_dx(float *dx, const float *dy, int M, const mm_weight *w, unsigned flags) {
    if (w->dtype == MM_DTYPE_BF16)
        mm_bf16_dx(dx, dy, (const uint16_t *)w->data, M, w->rows, w->cols, flags);
    else
        mm_f32_dx(dx, dy, (const float *)w->data, M, w->rows, w->cols, flags);
}

void mm_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = mm_f32_to_bf16(src[i]);
}

void mm_bf16_to_f32_array(float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = mm_bf16_to_f32(src[i]);
}
