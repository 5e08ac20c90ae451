/* common: state and helpers shared by the module's .cu files (not part of its interface). */
#ifndef HF_CUDA_COMMON_CUH
#define HF_CUDA_COMMON_CUH

#include "backend/cuda/hf_cuda.h"
#include "backend/cuda/hip_map.h"

#include <stdint.h>
#include <stdio.h>

/* The module's one stream and the first error seen since the last sync (launch errors are sticky here so
 * that ops need not return status, and so a captured step stays a plain sequence of launches). */
extern cudaStream_t hfc_stream;
extern cudaError_t hfc_first_error;
extern char hfc_error_where[128];

/* Records the launch status of the op just queued. */
static inline void hfc_check_launch(const char *op) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess && hfc_first_error == cudaSuccess) {
        hfc_first_error = e;
        snprintf(hfc_error_where, sizeof hfc_error_where, "%s", op);
    }
}
void hfc_note_error(const char *op, const char *what);

/* bf16 as raw bits (uint16_t): our own conversions keep the kernels free of the vendor bf16 types, which
 * differ between CUDA and ROCm versions. Round to nearest even; NaN stays NaN. */
__device__ __forceinline__ float bf16_to_f(uint16_t b) { return __uint_as_float((uint32_t)b << 16); }
__device__ __forceinline__ uint16_t f_to_bf16(float f) {
    uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
/* IEEE half bits to float (subnormals, inf and NaN included). */
__device__ __forceinline__ float f16_to_f(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return __uint_as_float(s | 0x7f800000u | (m << 13));
    if (e == 0) return __uint_as_float(s) + (s ? -1.0f : 1.0f) * (float)m * 5.9604644775390625e-8f;
    return __uint_as_float(s | ((e + 112u) << 23) | (m << 13));
}
__device__ __forceinline__ float load_as_f(const void *p, hfc_dtype dt, size_t i) {
    return dt == HFC_BF16  ? bf16_to_f(((const uint16_t *)p)[i])
           : dt == HFC_F16 ? f16_to_f(((const uint16_t *)p)[i])
                           : ((const float *)p)[i];
}
__device__ __forceinline__ void store_as(void *p, hfc_dtype dt, size_t i, float v) {
    if (dt == HFC_BF16) ((uint16_t *)p)[i] = f_to_bf16(v);
    else ((float *)p)[i] = v;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static inline unsigned hfc_blocks(size_t n, unsigned threads) { return (unsigned)((n + threads - 1) / threads); }

/* ops implemented in the other files, put into the table by module.cu */
void hfc_gemm_init(void);
void hfc_gemm_shutdown(void);
int hfc_gemm_setup(char *err, size_t errcap);
void hfc_matmul(float *y, const void *x, const void *w, const float *bias, hfc_dtype dt, int M, int N, int K,
                int accumulate);
void hfc_embed(float *out, const void *table, hfc_dtype dt, const int *tokens, int n, int dim);
void hfc_rmsnorm(void *out, hfc_dtype out_dt, float *rstd, const float *x, const float *w, int n, int dim, float eps);
void hfc_bias_add(float *x, const float *b, int n, int dim);
void hfc_residual_add(float *y, const float *x, size_t n);
void hfc_rope(float *x, const int *pos, const float *inv_freq, int n, int heads, int head_dim);
void hfc_silu_gate(void *out, hfc_dtype out_dt, const float *gate_up, int n, int inter);
void hfc_silu_mul(void *out, hfc_dtype out_dt, const float *gate, const float *up, int n, int inter);
void hfc_kv_store(void *kc, void *vc, hfc_dtype cache_dt, size_t slot_stride, const float *k, const float *v,
                  const int *slot, const int *pos, int n, int kv_dim);
void hfc_kv_fork(void *kc, void *vc, hfc_dtype cache_dt, size_t slot_stride, size_t layer_stride, int kv_dim, int src,
                 const int *dst, int n, int len, int n_layers);
void hfc_attn_prefill(void *out, hfc_dtype out_dt, float *lse, const float *q, const void *kc, const void *vc,
                      hfc_dtype cache_dt, size_t slot_stride, int slot, int start, int n, int heads, int kv_heads,
                      int hd);
void hfc_attn_decode(void *out, hfc_dtype out_dt, const float *q, const void *kc, const void *vc,
                     hfc_dtype cache_dt, size_t slot_stride, const int *slot, const int *len, const int *rows, int B,
                     int heads, int kv_heads, int hd);
void hfc_sample(int *tokens, float *lp, const float *logits, const int *rows, int B, int vocab,
                const float *temperature, const int *top_k, const float *top_p, const uint64_t *seed,
                uint64_t *counter);
void hfc_advance(int *pos, int *len, int n);
void hfc_fill_normal(void *p, hfc_dtype dt, size_t n, float std, uint64_t seed);
void hfc_fill_const(float *p, size_t n, float v);

void hfc_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc);
/* dst (bf16 or f16 bits) = src rounded to nearest even. */
void hfc_convert(void *dst, hfc_dtype dt, const float *src, size_t n);
/* x = hi + mid + lo with each part bf16: the three carry x's 24 significant bits, so three bf16 products summed in
 * fp32 give an fp32-accurate product on the tensor cores (exact mode of bf16 weights). */
void hfc_split3(uint16_t *hi, uint16_t *mid, uint16_t *lo, const float *x, size_t n);
void hfc_add(float *y, const float *a, const float *c, size_t n);
void hfc_gather_rows(float *dst, const float *src, const int *rows, int n, int H);
void hfc_scatter_add_rows(float *dst, const float *src, const int *rows, int n, int H);
void hfc_rope_cs(float *v, int T, int nheads, int hd, const float *cs);
void hfc_logprobs(float *lp, const float *logits, const int *targets, int n, int V);

/* backend.cu: a device copy of n elements of size esz at host, in staging area i (0..3) of backend b. train.cu: the
 * training ops into o, and the release of their scratch. */
struct bk_backend;
void *hfc_bk_stage(struct bk_backend *b, int i, const void *host, size_t n, size_t esz);

/* splitmix64 finaliser: the counter-based generator of sampling and of fill_normal. */
__host__ __device__ __forceinline__ uint64_t hfc_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
