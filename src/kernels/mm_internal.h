/* Internal interface between the matmul dispatcher (matmul.c) and the per-ISA kernels (mm_*.c).
 * Each kernel computes one thread's share of a product; the dispatcher splits the work and owns buffers. */
#ifndef HF_KERNELS_MM_INTERNAL_H
#define HF_KERNELS_MM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* y[M,N] (+)= x[M,K]·W[N,K]ᵀ (+ bias). xb, when set, is x rounded to bf16 (same layout), used by the fast kernel;
 * xt, when set, is x transposed to [K][Mp] (Mp = M rounded up to 16, the extra columns zero), used by the exact
 * kernel for larger M (mm_nt_avx512_xt). */
typedef struct {
    float *y;
    const float *x;
    const uint16_t *xb;
    const float *xt;
    int Mp;
    const uint16_t *w;
    const float *bias;
    int M, N, K;
    int accumulate;
} mm_nt_job;

/* dx[M,K] (+)= dy[M,N]·W[N,K]. dyb, when set, is dy rounded to bf16 with rows padded to an even length
 * (N + N%2, the pad zero), used by the fast kernel. */
typedef struct {
    float *dx;
    const float *dy;
    const uint16_t *dyb;
    const uint16_t *w;
    int M, N, K;
    int accumulate;
} mm_nn_job;

/* Output columns [n0, n1) of an NT job, all M rows. */
void mm_nt_scalar(const mm_nt_job *j, int n0, int n1);
void mm_nt_avx2(const mm_nt_job *j, int n0, int n1);
void mm_nt_avx512(const mm_nt_job *j, int n0, int n1);
void mm_nt_avx512bf16(const mm_nt_job *j, int n0, int n1);
void mm_nt_avx512_xt(const mm_nt_job *j, int n0, int n1);

/* xt[k][m] = x[m][k] for k in [k0, k1), all m < Mp (zero for m >= M). */
void mm_transpose_pad(float *xt, const float *x, int M, int K, int Mp, int k0, int k1);

/* Output columns [k0, k1) of an NN job, all M rows. */
void mm_nn_scalar(const mm_nn_job *j, int k0, int k1);
void mm_nn_avx2(const mm_nn_job *j, int k0, int k1);
void mm_nn_avx512(const mm_nn_job *j, int k0, int k1);
void mm_nn_avx512bf16(const mm_nn_job *j, int k0, int k1);

/* fp32 -> bf16, round to nearest even, with VCVTNEPS2BF16 (AVX512_BF16 CPUs only). */
void mm_cvt_bf16_avx512bf16(uint16_t *dst, const float *src, size_t n);

#endif
