/* matmul: the matrix products of the model, forward (y = x·Wᵀ + b) and backward (dX = dY·W, dW += dYᵀ·X),
 * for weights stored the PyTorch way, [out, in] row-major, in bf16, fp32 or f16. This is the one home of the
 * program's matrix kernels: the model calls only this API.
 *
 * Which code runs:
 *   - fp32 weights: OpenBLAS (cblas_sgemv for one row, cblas_sgemm otherwise).
 *   - f16 weights (rare in practice): rows widened to fp32 in blocks, then OpenBLAS on each thread's block.
 *   - bf16 weights: our kernels, chosen at run time from the CPU's features (mm_get_isa):
 *       MM_ISA_AVX512BF16  AVX-512 fp32 FMA (exact) and VDPBF16PS (fast)
 *       MM_ISA_AVX512      AVX-512 fp32 FMA (exact; fast is computed exactly)
 *       MM_ISA_AVX2        AVX2+FMA fp32 (exact; fast is computed exactly)
 *       MM_ISA_SCALAR      plain C (exact; fast is computed exactly)
 *     The weights are read in place (no packing, no copy): a memory-mapped safetensors tensor can be passed as is.
 *     Work is split over OpenMP threads by output columns (weight rows), so each core streams its own part of W.
 *     Scratch: the fast path rounds x to bf16 (M*K*2 bytes), the exact path for M >= 16 transposes x
 *     (K*M*4 bytes); both are allocated and freed inside the call.
 *
 * Precisions (flag MM_FAST):
 *   exact: bf16 weights widened to fp32, fp32 products and sums; equal to an fp32 computation up to the order
 *          of the additions (what tests against PyTorch fp32 need).
 *   fast:  activations (x forward, dY for dX) rounded to bf16 (nearest even), bf16 x bf16 products summed in
 *          fp32 with VDPBF16PS: about twice the arithmetic rate, the accuracy of PyTorch's bf16 matmul (relative
 *          error up to 2^-9 per product, errors average out in sums). Only on MM_ISA_AVX512BF16; elsewhere
 *          the flag is accepted and the exact code runs.
 *   Each kernel sums in its own order, so the same row computed with different M agrees to fp32 rounding,
 *   not bit for bit.
 *
 * All pointers are caller-owned; nothing is retained after a call returns. Arrays must not overlap, except
 * that nothing is read from y/dx when MM_ACCUMULATE is not set. Row strides are the logical widths (no padding).
 * Shapes must be positive; a call with M, N or K <= 0 does nothing.
 *
 * Threads: the bf16 kernels use OpenMP (omp_get_max_threads() threads, one when called inside a parallel
 * region); the fp32 paths use OpenBLAS's own threads (OPENBLAS_NUM_THREADS). */
#ifndef HF_KERNELS_MATMUL_H
#define HF_KERNELS_MATMUL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MM_ISA_SCALAR = 0,
    MM_ISA_AVX2 = 1,
    MM_ISA_AVX512 = 2,
    MM_ISA_AVX512BF16 = 3,
} mm_isa;

/* Flags for the products. */
enum {
    MM_ACCUMULATE = 1u << 0, /* add to the output instead of overwriting it */
    MM_FAST = 1u << 1,       /* bf16 weights only: bf16 activations and VDPBF16PS (see above) */
};

typedef enum { MM_DTYPE_F32 = 0, MM_DTYPE_BF16 = 1, MM_DTYPE_F16 = 2 } mm_dtype;

/* A weight matrix of rows x cols ([out, in], row-major). data is not owned (float *, or uint16_t * holding
 * bf16 or IEEE half bits). */
typedef struct {
    mm_dtype dtype;
    int rows; /* N, output features */
    int cols; /* K, input features */
    const void *data;
} mm_weight;

/* ---- dispatch ---- */

/* The best ISA this CPU (and OS) supports. */
mm_isa mm_detect_isa(void);
/* The ISA the bf16 kernels use now: mm_detect_isa(), or the value of the environment variable
 * HF_MM_ISA (scalar|avx2|avx512|avx512bf16) read at first use, or what mm_set_isa chose. */
mm_isa mm_get_isa(void);
/* Forces an ISA (for tests and benchmarks). Returns 0, or -1 (and changes nothing) when the CPU lacks it. */
int mm_set_isa(mm_isa isa);
const char *mm_isa_name(mm_isa isa);

/* ---- forward: y[M,N] (+)= x[M,K] · W[N,K]ᵀ (+ bias[N]) ---- */

/* Any weight dtype: bf16 through mm_bf16, fp32 through mm_f32, f16 widened to fp32 in blocks of rows (exact;
 * MM_FAST is ignored for f16). bias may be NULL. */
void mm_linear(float *y, const float *x, int M, const mm_weight *w, const float *bias, unsigned flags);

/* Several products of the same x, ys[i][M, ws[i]->rows] (+)= x · ws[i]ᵀ (+ biases[i]) (q/k/v, gate/up), in one
 * parallel region: one fork/join and one conversion of x for all of them, and the threads share out the rows
 * of all the matrices together (a small k/v projection does not leave a core idle). All ws must have the same
 * cols K; 1 <= count <= MM_MANY_MAX. biases may be NULL or hold NULL entries. Results are the same as count
 * mm_linear calls (bit for bit). fp32 weights run OpenBLAS on each thread's rows when OpenBLAS is set to one
 * thread (as the model sets it), else call mm_f32 per matrix. */
#define MM_MANY_MAX 8
void mm_linear_many(int count, float *const *ys, const mm_weight *const *ws, const float *const *biases,
                    const float *x, int M, unsigned flags);

/* dst[0..cols) = row r of w as fp32 (an embedding lookup). */
void mm_weight_row(float *dst, const mm_weight *w, int r);
/* bf16 weights W (uint16 bits), fp32 x and y. flags: MM_ACCUMULATE, MM_FAST. */
void mm_bf16(float *y, const float *x, const uint16_t *W, const float *bias, int M, int N, int K, unsigned flags);
/* fp32 weights through OpenBLAS. flags: MM_ACCUMULATE (MM_FAST is ignored). */
void mm_f32(float *y, const float *x, const float *W, const float *bias, int M, int N, int K, unsigned flags);

/* Plain fp32 products with row strides (attention over the KV cache), through OpenBLAS (use from inside an
 * OpenMP region with OpenBLAS on one thread, see mm_blas_single_thread):
 *   nt: c[M,N] = alpha * a[M,K] · b[N,K]ᵀ          nn: c[M,N] = a[M,K] · b[K,N]
 * lda/ldb/ldc are the distances between rows, in floats. */
void mm_f32_nt_strided(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int M, int N, int K,
                       float alpha);
void mm_f32_nn_strided(float *c, int ldc, const float *a, int lda, const float *b, int ldb, int M, int N, int K);

/* ---- backward ---- */

/* dX[M,K] (+)= dY[M,N] · W[N,K] for any weight dtype (f16 is widened whole into a temporary fp32 copy). */
void mm_linear_dx(float *dx, const float *dy, int M, const mm_weight *w, unsigned flags);
/* bf16 W. flags: MM_ACCUMULATE, MM_FAST (dy rounded to bf16, VDPBF16PS, as in the forward). */
void mm_bf16_dx(float *dx, const float *dy, const uint16_t *W, int M, int N, int K, unsigned flags);
/* fp32 W through OpenBLAS. flags: MM_ACCUMULATE. */
void mm_f32_dx(float *dx, const float *dy, const float *W, int M, int N, int K, unsigned flags);
/* dW[N,K] (+)= dY[M,N]ᵀ · X[M,K] in fp32 through OpenBLAS. flags: MM_ACCUMULATE. */
void mm_f32_dw(float *dw, const float *dy, const float *x, int M, int N, int K, unsigned flags);

/* Makes the OpenMP threads sleep instead of spinning while they wait (OMP_WAIT_POLICY=passive) unless the user
 * chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set): a forward pass opens a few parallel regions per layer,
 * and on a machine busy with other work (the verifiers' compilers, another program) spinning threads take the
 * cores from the threads that have work: measured 2-10x slower decoding with the default (spin) policy when
 * another process keeps the cores busy. libgomp reads the variable once, before main(), so this sets it and
 * re-executes the program (/proc/self/exe with the same argv); call it first thing in main(). Returns only when
 * nothing was to be done or the exec failed (the program then runs with the default policy). */
void mm_threads_setup(char **argv);

/* Sets OpenBLAS to one thread, so that OpenMP alone schedules threads and the fp32/f16 products of
 * mm_linear_many run OpenBLAS on each OpenMP thread's rows (two pools spin against each other on a small machine).
 * model_load() calls it. */
void mm_blas_single_thread(void);

/* ---- bf16 helpers ---- */

/* fp32 -> bf16 with round to nearest even (NaN stays NaN, quiet), as PyTorch's .to(torch.bfloat16). */
static inline uint16_t mm_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = {f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40u);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}
static inline float mm_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}
void mm_f32_to_bf16_array(uint16_t *dst, const float *src, size_t n);
void mm_bf16_to_f32_array(float *dst, const uint16_t *src, size_t n);
/* IEEE half -> fp32 (exact, subnormals included). */
float mm_f16_to_f32(uint16_t h);

#endif
