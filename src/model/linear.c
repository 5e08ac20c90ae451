#include "model/linear.h"

#include "kernels/matmul.h"

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

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* out[m*ldo] = dot(row, x[m]) for mc <= 4 vectors x[m] (stride K). mc and dt are compile-time
 * constants at every call site below, so the branches fold away. */
static ALWAYS_INLINE void dot_row_k(float *out, size_t ldo, const void *row, st_dtype dt, const float *x, int mc,
                                    int K) {
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

/* One x, four consecutive rows: four independent FMA chains hide the FMA latency (decode, M = 1). */
static ALWAYS_INLINE void dot_4rows_k(float *out, const char *rows, size_t rb, st_dtype dt, const float *x, int K) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t k = 0, kk = (size_t)K;
    for (; k + 16 <= kk; k += 16) {
        __m512 xv = _mm512_loadu_ps(x + k);
        a0 = _mm512_fmadd_ps(load16(rows, k, dt), xv, a0);
        a1 = _mm512_fmadd_ps(load16(rows + rb, k, dt), xv, a1);
        a2 = _mm512_fmadd_ps(load16(rows + 2 * rb, k, dt), xv, a2);
        a3 = _mm512_fmadd_ps(load16(rows + 3 * rb, k, dt), xv, a3);
    }
    if (k < kk) {
        __mmask16 mk = (__mmask16)((1u << (kk - k)) - 1);
        __m512 xv = _mm512_maskz_loadu_ps(mk, x + k);
        a0 = _mm512_fmadd_ps(load16_tail(rows, k, dt, mk), xv, a0);
        a1 = _mm512_fmadd_ps(load16_tail(rows + rb, k, dt, mk), xv, a1);
        a2 = _mm512_fmadd_ps(load16_tail(rows + 2 * rb, k, dt, mk), xv, a2);
        a3 = _mm512_fmadd_ps(load16_tail(rows + 3 * rb, k, dt, mk), xv, a3);
    }
    out[0] = _mm512_reduce_add_ps(a0);
    out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2);
    out[3] = _mm512_reduce_add_ps(a3);
}

#define DISPATCH_DT(dt, CALL)                  \
    do {                                       \
        if ((dt) == ST_BF16) { CALL(ST_BF16); }         \
        else if ((dt) == ST_F16) { CALL(ST_F16); }      \
        else { CALL(ST_F32); }                          \
    } while (0)

static void dot_row(float *out, size_t ldo, const void *row, st_dtype dt, const float *x, int mc, int K) {
#define CALL_MC(D)                                          \
    switch (mc) {                                           \
    case 1: dot_row_k(out, ldo, row, D, x, 1, K); break;    \
    case 2: dot_row_k(out, ldo, row, D, x, 2, K); break;    \
    case 3: dot_row_k(out, ldo, row, D, x, 3, K); break;    \
    default: dot_row_k(out, ldo, row, D, x, 4, K); break;   \
    }
    DISPATCH_DT(dt, CALL_MC);
#undef CALL_MC
}

static void dot_4rows(float *out, const char *rows, size_t rb, st_dtype dt, const float *x, int K) {
#define CALL4(D) dot_4rows_k(out, rows, rb, D, x, K)
    DISPATCH_DT(dt, CALL4);
#undef CALL4
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

/* A unit of work: rows [n0, n0+cnt) of one weight matrix. The matrices of one call (q/k/v, or
 * gate/up) are cut into tasks and run in a single parallel region: one fork/join instead of one
 * per matrix, which matters for the small k/v projections and on a busy machine. */
typedef struct {
    const linear_weight *w;
    float *out;
    int n0, cnt;
} task;

static void dot_task(const task *t, const float *x, int M) {
    const int N = t->w->rows, K = t->w->cols;
    const size_t rb = (size_t)K * st_dtype_size(t->w->dtype);
    const char *base = t->w->data;
    const st_dtype dt = t->w->dtype;
    int n = t->n0, end = t->n0 + t->cnt;
#if HAVE_AVX512
    if (M == 1) {
        for (; n + 4 <= end; n += 4) dot_4rows(t->out + n, base + (size_t)n * rb, rb, dt, x, K);
        for (; n < end; n++) dot_row(t->out + n, 1, base + (size_t)n * rb, dt, x, 1, K);
        return;
    }
#endif
    for (; n < end; n++)
        for (int m0 = 0; m0 < M; m0 += 4) {
            int mc = M - m0 < 4 ? M - m0 : 4;
            dot_row(t->out + (size_t)m0 * N + n, (size_t)N, base + (size_t)n * rb, dt, x + (size_t)m0 * K, mc, K);
        }
}

/* Widens the task's rows to fp32 in blk and multiplies them with a single-threaded sgemm. */
static void sgemm_task(const task *t, const float *x, int M, float *blk) {
    const int N = t->w->rows, K = t->w->cols;
    const size_t rb = (size_t)K * st_dtype_size(t->w->dtype);
    to_f32(blk, (const char *)t->w->data + (size_t)t->n0 * rb, t->w->dtype, (size_t)t->cnt * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, t->cnt, K, 1.0f, x, K, blk, K, 0.0f, t->out + t->n0, N);
}

/* Half-precision weights: up to DOT_MAX_M rows of x, each weight row is dotted with every x row
 * while it sits in L1; beyond that, blocks of weight rows are widened and handed to sgemm. */
static void linear_half(int count, float *const *outs, const linear_weight *const *ws, const float *x, int M) {
    const bool blocked = M > DOT_MAX_M;
    const int K = ws[0]->cols;
    int rows_per = 64;
    if (blocked) {
        rows_per = (int)(BLOCK_FLOATS / (unsigned)K);
        rows_per = rows_per < 16 ? 16 : rows_per > 256 ? 256 : rows_per;
    }
    int ntasks = 0;
    size_t work = 0;
    for (int i = 0; i < count; i++) {
        ntasks += (ws[i]->rows + rows_per - 1) / rows_per;
        work += (size_t)ws[i]->rows * (size_t)K * (size_t)M;
    }
    task stack[64], *tasks = ntasks <= 64 ? stack : malloc((size_t)ntasks * sizeof *tasks);
    if (!tasks) { /* no memory for the task list: one matrix at a time, serially */
        for (int i = 0; i < count; i++) {
            task t = {ws[i], outs[i], 0, ws[i]->rows};
            dot_task(&t, x, M);
        }
        return;
    }
    int nt = 0;
    for (int i = 0; i < count; i++)
        for (int n0 = 0; n0 < ws[i]->rows; n0 += rows_per)
            tasks[nt++] = (task){ws[i], outs[i], n0, ws[i]->rows - n0 < rows_per ? ws[i]->rows - n0 : rows_per};
    if (!blocked) {
#pragma omp parallel for schedule(static) if (work > 65536)
        for (int i = 0; i < ntasks; i++) dot_task(&tasks[i], x, M);
    } else {
#pragma omp parallel
        {
            float *blk = malloc((size_t)rows_per * (size_t)K * sizeof(float));
#pragma omp for schedule(dynamic, 1)
            for (int i = 0; i < ntasks; i++) {
                if (blk) sgemm_task(&tasks[i], x, M, blk);
                else dot_task(&tasks[i], x, M); /* no memory for a block: the row-by-row path needs none */
            }
            free(blk);
        }
    }
    if (tasks != stack) free(tasks);
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

void linear_forward_many(int count, float *const *outs, const linear_weight *const *ws, const float *const *biases,
                         const float *x, int M) {
    if (M <= 0 || count <= 0) return;
    bool all_half = true;
    for (int i = 0; i < count; i++) all_half = all_half && ws[i]->dtype != ST_F32;
    if (M > DOT_MAX_M) {
        /* Many rows: the bf16 kernels of src/kernels (exact mode: fp32 products and sums, as the
         * tests against the fp32 reference need) beat widening blocks for sgemm. */
        for (int i = 0; i < count; i++) {
            if (ws[i]->dtype == ST_BF16)
                mm_bf16(outs[i], x, ws[i]->data, NULL, M, ws[i]->rows, ws[i]->cols, 0);
            else if (ws[i]->dtype == ST_F32) linear_f32(outs[i], x, ws[i], M);
            else linear_half(1, &outs[i], &ws[i], x, M);
        }
    } else if (all_half) linear_half(count, outs, ws, x, M);
    else
        for (int i = 0; i < count; i++) {
            if (ws[i]->dtype == ST_F32) linear_f32(outs[i], x, ws[i], M);
            else linear_half(1, &outs[i], &ws[i], x, M);
        }
    for (int i = 0; i < count; i++) {
        if (!biases || !biases[i]) continue;
        const int N = ws[i]->rows;
        for (int m = 0; m < M; m++) {
            float *o = outs[i] + (size_t)m * N;
            for (int n = 0; n < N; n++) o[n] += biases[i][n];
        }
    }
}

void linear_forward(float *out, const float *x, const linear_weight *w, const float *bias, int M) {
    linear_forward_many(1, &out, &w, &bias, x, M);
}
