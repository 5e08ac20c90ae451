/* linear: products with safetensors-typed weights, in exact precision (fp32 products and sums).
 *
 * out[M,N] = x[M,K] . W[N,K]^T (+ bias[N]), W in the file's dtype (F32, BF16 or F16, row-major
 * [out, in] as Hugging Face stores nn.Linear weights), x/out/bias fp32, fp32 accumulation.
 * A thin layer over src/kernels/matmul.h (mm_linear_many, mm_weight_row), which the model now calls
 * directly; kept for code written against it. */
#ifndef HF_MODEL_LINEAR_H
#define HF_MODEL_LINEAR_H

#include <stddef.h>

#include "model/safetensors.h"

typedef struct {
    const void *data;
    st_dtype dtype;
    int rows; /* N: output features */
    int cols; /* K: input features */
} linear_weight;

/* out must not alias x. bias may be NULL. */
void linear_forward(float *out, const float *x, const linear_weight *w, const float *bias, int M);

/* Several products of the same x (q/k/v, gate/up) in one parallel region: outs[i] = x . ws[i]^T
 * (+ biases[i]). All ws share cols. biases may be NULL, or hold NULL entries. */
void linear_forward_many(int count, float *const *outs, const linear_weight *const *ws, const float *const *biases,
                         const float *x, int M);

/* Makes BLAS single-threaded so that OpenMP alone schedules threads; model_load() calls it. */
void linear_init_threads(void);

/* dst[0..K) = row r of w as fp32 (embedding lookup). */
void linear_row(float *dst, const linear_weight *w, int r);

#endif
