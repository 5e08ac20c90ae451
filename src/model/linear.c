#include "model/linear.h"

#include <cblas.h>
#include <omp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#define HAVE_AVX512 1
#else
#define HAVE_AVX512 0
#endif

/* Up to this many rows of x, half-precision weights are dotted row by row (each weight row is
 * read from memory once and reused from L1 for every x row); above it they are widened to fp32
 * in blocks and handed to sgemm, where the widening cost is spread over many rows. */
#define DOT_MAX_M 8
/* fp32 floats per widened block for sgemm (512 KiB: stays in L2 while sgemm reads it). */
#define BLOCK_FLOATS (1u << 17)

static void to_f32(float *dst, const void *src, st_dtype dt, size_t n) {
    if (dt == ST_F32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    const uint16_t *s = src;
    size_t i = 0;
#if HAVE_AVX512
    if (dt == ST_BF16)
        for (; i + 16 <= n; i += 16) {
            __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(s + i)));
            _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
        }
    else
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(s + i))));
#endif
    if (dt == ST_BF16)
        for (; i < n; i++) dst[i] = st_bf16_to_f32(s[i]);
    else
        for (; i < n; i++) dst[i] = st_f16_to_f32(s[i]);
}

void linear_row(float *dst, const linear_weight *w, int r) {
    to_f32(dst, (const char *)w->data + (size_t)r * (size_t)w->cols * st_dtype_size(w->dtype), w->dtype,
           (size_t)w->cols);
}

#if HAVE_AVX512
static inline __m512 load16(const void *base, size_t k, st_dtype dt) {
    if (dt == ST_BF16) {
        __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)base + k)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    }
    if (dt == ST_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)base + k)));
    return _mm512_loadu_ps((const float *)base + k);
}
static inline __m512 load16_tail(const void *base, size_t k, st_dtype dt, __mmask16 mk) {
    if (dt == ST_BF16) {
        __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mk, (const uint16_t *)base + k));
        return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    }
    if (dt == ST_F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, (const uint16_t *)base + k));
    return _mm512_maskz_loadu_ps(mk, (const float *)base + k);
}

/* out[m*ldo] = dot(row, x[m]) for mc <= 4 vectors x[m] (stride K). */
static inline void dot_row(float *out, size_t ldo, const void *row, st_dtype dt, const float *x, int mc, int K) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t k = 0, kk = (size_t)K;
    for (; k + 16 <= kk; k += 16) {
        __m512 w = load16(row, k, dt);
        a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + k), a0);
        if (mc > 1) a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + kk + k), a1);
        if (mc > 2) a2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 2 * kk + k), a2);
        if (mc > 3) a3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 3 * kk + k), a3);
    }
    if (k < kk) {
        __mmask16 mk = (__mmask16)((1u << (kk - k)) - 1);
        __m512 w = load16_tail(row, k, dt, mk);
        a0 = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mk, x + k), a0);
        if (mc > 1) a1 = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mk, x + kk + k), a1);
        if (mc > 2) a2 = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mk, x + 2 * kk + k), a2);
        if (mc > 3) a3 = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mk, x + 3 * kk + k), a3);
    }
    out[0] = _mm512_reduce_add_ps(a0);
    if (mc > 1) out[ldo] = _mm512_reduce_add_ps(a1);
    if (mc > 2) out[2 * ldo] = _mm512_reduce_add_ps(a2);
    if (mc > 3) out[3 * ldo] = _mm512_reduce_add_ps(a3);
}
#else
static inline float wval(const void *row, int k, st_dtype dt) {
    if (dt == ST_BF16) return st_bf16_to_f32(((const uint16_t *)row)[k]);
    if (dt == ST_F16) return st_f16_to_f32(((const uint16_t *)row)[k]);
    return ((const float *)row)[k];
}
static inline void dot_row(float *out, size_t ldo, const void *row, st_dtype dt, const float *x, int mc, int K) {
    float acc[4] = {0, 0, 0, 0};
    for (int k = 0; k < K; k++) {
        float w = wval(row, k, dt);
        for (int m = 0; m < mc; m++) acc[m] += w * x[(size_t)m * K + k];
    }
    for (int m = 0; m < mc; m++) out[m * ldo] = acc[m];
}
#endif

static void linear_dot(float *out, const float *x, const linear_weight *w, int M) {
    const int N = w->rows, K = w->cols;
    const size_t rb = (size_t)K * st_dtype_size(w->dtype);
    const char *base = w->data;
#pragma omp parallel for schedule(static) if ((size_t)N * K > 65536)
    for (int n = 0; n < N; n++)
        for (int m0 = 0; m0 < M; m0 += 4) {
            int mc = M - m0 < 4 ? M - m0 : 4;
            dot_row(out + (size_t)m0 * N + n, (size_t)N, base + (size_t)n * rb, w->dtype, x + (size_t)m0 * K, mc, K);
        }
}

/* Half-precision weights, many rows: each thread widens blocks of weight rows to fp32 in its own
 * buffer and multiplies them with a single-threaded sgemm. */
static void linear_blocked_sgemm(float *out, const float *x, const linear_weight *w, int M) {
    const int N = w->rows, K = w->cols;
    int nb = (int)(BLOCK_FLOATS / (unsigned)K);
    nb = nb < 16 ? 16 : nb > 256 ? 256 : nb;
    const int nblocks = (N + nb - 1) / nb;
    const size_t rb = (size_t)K * st_dtype_size(w->dtype);
    bool failed = false;
#pragma omp parallel
    {
        float *blk = malloc((size_t)nb * (size_t)K * sizeof(float));
        if (!blk) {
#pragma omp atomic write
            failed = true;
        }
#pragma omp for schedule(dynamic, 1)
        for (int bi = 0; bi < nblocks; bi++) {
            if (!blk) continue;
            int n0 = bi * nb, cnt = N - n0 < nb ? N - n0 : nb;
            to_f32(blk, (const char *)w->data + (size_t)n0 * rb, w->dtype, (size_t)cnt * K);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, cnt, K, 1.0f, x, K, blk, K, 0.0f, out + n0, N);
        }
        free(blk);
    }
    if (failed) linear_dot(out, x, w, M); /* no memory for blocks: the row-by-row path needs none */
}

/* fp32 weights: OpenBLAS on slices of the output features, one slice per thread
 * (sgemv for one row, as sgemm is slow there). */
static void linear_f32(float *out, const float *x, const linear_weight *w, int M) {
    const int N = w->rows, K = w->cols;
    const float *W = w->data;
    int nt = omp_get_max_threads();
    if ((size_t)N * K * (size_t)M < 262144) nt = 1;
    int per = (N + nt - 1) / nt;
    per = (per + 15) / 16 * 16;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int n0 = 0; n0 < N; n0 += per) {
        int cnt = N - n0 < per ? N - n0 : per;
        if (M == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, cnt, K, 1.0f, W + (size_t)n0 * K, K, x, 1, 0.0f, out + n0, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, cnt, K, 1.0f, x, K, W + (size_t)n0 * K, K, 0.0f,
                        out + n0, N);
    }
}

void linear_init_threads(void) {
    /* One thread pool: OpenMP splits the work and every BLAS call runs single-threaded inside it.
     * Two pools (OpenMP and OpenBLAS's own) spin against each other on a small machine. */
    openblas_set_num_threads(1);
}

void linear_forward(float *out, const float *x, const linear_weight *w, const float *bias, int M) {
    const int N = w->rows;
    if (M <= 0) return;
    if (w->dtype == ST_F32) {
        linear_f32(out, x, w, M);
    } else if (M <= DOT_MAX_M) {
        linear_dot(out, x, w, M);
    } else {
        linear_blocked_sgemm(out, x, w, M);
    }
    if (bias)
        for (int m = 0; m < M; m++) {
            float *o = out + (size_t)m * N;
            for (int n = 0; n < N; n++) o[n] += bias[n];
        }
}
