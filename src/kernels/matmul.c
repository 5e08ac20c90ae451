/* matmul dispatcher: picks the kernel for the CPU, splits the work over OpenMP threads, calls OpenBLAS for
 * fp32 weights. The kernels themselves are in mm_avx512.c, mm_avx2.c and mm_scalar.c. */
#include "kernels/matmul.h"

#include "kernels/mm_internal.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The products of mm_linear_many with bf16 weights (all sharing x and K): x is converted once (bf16 for the fast
 * kernel, transposed for the exact one at larger M), then the threads take chunks of rows of all the matrices
 * from one counter. */
static void bf16_many(int count, float *const *ys, const uint16_t *const *Ws, const int *Ns,
                      const float *const *biases, const float *x, int M, int K, unsigned flags) {
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
            size_t shift = ((uintptr_t)Ws[0] - (uintptr_t)xb_raw) & 63u;
            xb = xb_raw + shift / 2;
            kernel = mm_nt_avx512bf16; /* out of memory: the exact kernel needs no buffer */
        }
    } else if (isa >= MM_ISA_AVX512 && M >= MM_XT_MIN_M) {
        xt = malloc((size_t)K * Mp * sizeof *xt);
        if (xt) kernel = mm_nt_avx512_xt;
    }
#endif
    mm_nt_job jobs[MM_MANY_MAX];
    int chunk[MM_MANY_MAX], first_chunk[MM_MANY_MAX + 1];
    double work = 0;
    int tiles = 0;
    for (int i = 0; i < count; i++) {
        jobs[i] = (mm_nt_job){ys[i], x, xb, xt, Mp, Ws[i], biases ? biases[i] : NULL, M, Ns[i], K,
                              (flags & MM_ACCUMULATE) != 0};
        work += (double)M * Ns[i] * K;
        tiles += (Ns[i] + 3) / 4;
    }
    int nt = team_size(work, tiles);
    first_chunk[0] = 0;
    for (int i = 0; i < count; i++) {
        chunk[i] = chunk_size(Ns[i], xt ? 48 : 16, nt); /* 48: whole 6-row tiles of the transposed-x kernel */
        first_chunk[i + 1] = first_chunk[i] + (Ns[i] + chunk[i] - 1) / chunk[i];
    }
    const int n_chunks = first_chunk[count];
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
        for (;;) {
            int c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
            if (c >= n_chunks) break;
            int i = 0;
            while (c >= first_chunk[i + 1]) i++;
            int n0 = (c - first_chunk[i]) * chunk[i];
            int n1 = n0 + chunk[i] < Ns[i] ? n0 + chunk[i] : Ns[i];
            kernel(&jobs[i], n0, n1);
        }
    }
    if (xb_raw != xb_small) free(xb_raw);
    free(xt);
}

void mm_bf16(float *y, const float *x, const uint16_t *W, const float *bias, int M, int N, int K, unsigned flags) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    bf16_many(1, &y, &W, &N, &bias, x, M, K, flags);
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

void mm_f32_nt_strided(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int M, int N, int K,
                       float alpha) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, alpha, a, lda, b, ldb, 0.0f, c, ldc);
}

void mm_f32_nn_strided(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int M, int N, int K) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
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

float mm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (e == 0 && man == 0) {
        u = sign;
    } else if (e == 0) { /* subnormal: shift the mantissa up until its leading one is the implicit bit */
        int shift = 0;
        while (!(man & 0x400u)) {
            man <<= 1;
            shift++;
        }
        u = sign | ((uint32_t)(127 - 15 + 1 - shift) << 23) | ((man & 0x3ffu) << 13);
    } else if (e == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((e + 127 - 15) << 23) | (man << 13);
    }
    union { uint32_t u; float f; } v = {u};
    return v.f;
}

void mm_weight_row(float *dst, const mm_weight *w, int r) {
    const size_t K = (size_t)w->cols, off = (size_t)r * K;
    if (w->dtype == MM_DTYPE_F32)
        memcpy(dst, (const float *)w->data + off, K * sizeof *dst);
    else if (w->dtype == MM_DTYPE_BF16)
        mm_bf16_to_f32_array(dst, (const uint16_t *)w->data + off, K);
    else
        for (size_t k = 0; k < K; k++) dst[k] = mm_f16_to_f32(((const uint16_t *)w->data)[off + k]);
}

/* Rows of f16 (or single-threaded-BLAS fp32) weights widened this many at a time into a per-thread buffer. */
#define MM_WIDEN_ROWS 64

/* y[:, n0:n1] of one product through single-threaded OpenBLAS; f16 rows are widened into buf first. */
static void blas_rows(float *y, const float *x, int M, const mm_weight *w, const float *bias, int n0, int n1,
                      float *buf, unsigned flags) {
    const int N = w->rows, K = w->cols;
    for (int r0 = n0; r0 < n1; r0 += MM_WIDEN_ROWS) {
        int nr = n1 - r0 < MM_WIDEN_ROWS ? n1 - r0 : MM_WIDEN_ROWS;
        const float *W;
        if (w->dtype == MM_DTYPE_F32) {
            W = (const float *)w->data + (size_t)r0 * K;
        } else {
            for (int r = 0; r < nr; r++) mm_weight_row(buf + (size_t)r * K, w, r0 + r);
            W = buf;
        }
        float beta = (flags & MM_ACCUMULATE) ? 1.0f : 0.0f;
        if (M == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, nr, K, 1.0f, W, K, x, 1, beta, y + r0, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, nr, K, 1.0f, x, K, W, K, beta, y + r0, N);
        if (bias)
            for (int m = 0; m < M; m++)
                for (int n = r0; n < r0 + nr; n++) y[(size_t)m * N + n] += bias[n];
    }
}

/* f16 weights, and fp32 weights when OpenBLAS runs single-threaded: OpenMP threads take chunks of rows and run
 * OpenBLAS on them. */
static void blas_many(int count, float *const *ys, const mm_weight *const *ws, const float *const *biases,
                      const float *x, int M, unsigned flags) {
    int chunk[MM_MANY_MAX], first_chunk[MM_MANY_MAX + 1];
    double work = 0;
    int tiles = 0, need_buf = 0;
    for (int i = 0; i < count; i++) {
        work += (double)M * ws[i]->rows * ws[i]->cols;
        tiles += (ws[i]->rows + 15) / 16;
        need_buf |= ws[i]->dtype != MM_DTYPE_F32;
    }
    int nt = team_size(work, tiles);
    first_chunk[0] = 0;
    for (int i = 0; i < count; i++) {
        chunk[i] = chunk_size(ws[i]->rows, 16, nt);
        first_chunk[i + 1] = first_chunk[i] + (ws[i]->rows + chunk[i] - 1) / chunk[i];
    }
    const int n_chunks = first_chunk[count], K = ws[0]->cols;
    int counter = 0;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *buf = need_buf ? malloc((size_t)MM_WIDEN_ROWS * K * sizeof *buf) : NULL;
        for (;;) {
            int c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
            if (c >= n_chunks) break;
            int i = 0;
            while (c >= first_chunk[i + 1]) i++;
            const mm_weight *w = ws[i];
            int n0 = (c - first_chunk[i]) * chunk[i];
            int n1 = n0 + chunk[i] < w->rows ? n0 + chunk[i] : w->rows;
            if (w->dtype != MM_DTYPE_F32 && !buf) { /* out of memory for the block: plain loops */
                for (int n = n0; n < n1; n++)
                    for (int m = 0; m < M; m++) {
                        double acc = biases && biases[i] ? biases[i][n] : 0.0;
                        if (flags & MM_ACCUMULATE) acc += ys[i][(size_t)m * w->rows + n];
                        for (int k = 0; k < K; k++) {
                            float wv = mm_f16_to_f32(((const uint16_t *)w->data)[(size_t)n * K + k]);
                            acc += (double)x[(size_t)m * K + k] * wv;
                        }
                        ys[i][(size_t)m * w->rows + n] = (float)acc;
                    }
                continue;
            }
            blas_rows(ys[i], x, M, w, biases ? biases[i] : NULL, n0, n1, buf, flags);
        }
        free(buf);
    }
}

void mm_linear_many(int count, float *const *ys, const mm_weight *const *ws, const float *const *biases,
                    const float *x, int M, unsigned flags) {
    if (count <= 0 || M <= 0) return;
    if (count > MM_MANY_MAX) {
        mm_linear_many(MM_MANY_MAX, ys, ws, biases, x, M, flags);
        mm_linear_many(count - MM_MANY_MAX, ys + MM_MANY_MAX, ws + MM_MANY_MAX, biases ? biases + MM_MANY_MAX : NULL,
                       x, M, flags);
        return;
    }
    const int K = ws[0]->cols;
    int all_bf16 = 1, any_f32 = 0;
    for (int i = 0; i < count; i++) {
        if (ws[i]->rows <= 0 || ws[i]->cols != K) return;
        all_bf16 &= ws[i]->dtype == MM_DTYPE_BF16;
        any_f32 |= ws[i]->dtype == MM_DTYPE_F32;
    }
    if (K <= 0) return;
    if (all_bf16) {
        const uint16_t *Ws[MM_MANY_MAX];
        int Ns[MM_MANY_MAX];
        for (int i = 0; i < count; i++) {
            Ws[i] = (const uint16_t *)ws[i]->data;
            Ns[i] = ws[i]->rows;
        }
        bf16_many(count, ys, Ws, Ns, biases, x, M, K, flags);
        return;
    }
    if (!any_f32 || openblas_get_num_threads() == 1) {
        blas_many(count, ys, ws, biases, x, M, flags);
        return;
    }
    for (int i = 0; i < count; i++) mm_linear(ys[i], x, M, ws[i], biases ? biases[i] : NULL, flags);
}

void mm_threads_setup(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
}

void mm_blas_single_thread(void) { openblas_set_num_threads(1); }

void mm_linear(float *y, const float *x, int M, const mm_weight *w, const float *bias, unsigned flags) {
    if (w->dtype == MM_DTYPE_BF16)
        mm_bf16(y, x, (const uint16_t *)w->data, bias, M, w->rows, w->cols, flags);
    else if (w->dtype == MM_DTYPE_F32)
        mm_f32(y, x, (const float *)w->data, bias, M, w->rows, w->cols, flags);
    else
        mm_linear_many(1, &y, &w, &bias, x, M, flags);
}

void mm_linear_dx(float *dx, const float *dy, int M, const mm_weight *w, unsigned flags) {
    if (w->dtype == MM_DTYPE_BF16) {
        mm_bf16_dx(dx, dy, (const uint16_t *)w->data, M, w->rows, w->cols, flags);
    } else if (w->dtype == MM_DTYPE_F32) {
        mm_f32_dx(dx, dy, (const float *)w->data, M, w->rows, w->cols, flags);
    } else if (M > 0 && w->rows > 0 && w->cols > 0) { /* f16 (rare): widened whole, then as fp32 */
        float *wf = malloc((size_t)w->rows * w->cols * sizeof *wf);
        if (!wf) return;
        for (int n = 0; n < w->rows; n++) mm_weight_row(wf + (size_t)n * w->cols, w, n);
        mm_f32_dx(dx, dy, wf, M, w->rows, w->cols, flags);
        free(wf);
    }
}

void mm_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = mm_f32_to_bf16(src[i]);
}

void mm_bf16_to_f32_array(float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = mm_bf16_to_f32(src[i]);
}
