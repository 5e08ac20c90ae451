/* linear: the older entry points of the model's products, kept for callers written against them. The kernels
 * live in src/kernels (matmul.h); this only maps the safetensors dtype to the kernels' and calls them. */
#include "model/linear.h"

#include "kernels/matmul.h"

static mm_weight to_mm(const linear_weight *w) {
    mm_dtype d = w->dtype == ST_BF16 ? MM_DTYPE_BF16 : w->dtype == ST_F16 ? MM_DTYPE_F16 : MM_DTYPE_F32;
    return (mm_weight){d, w->rows, w->cols, w->data};
}

void linear_row(float *dst, const linear_weight *w, int r) {
    mm_weight m = to_mm(w);
    mm_weight_row(dst, &m, r);
}

void linear_init_threads(void) { mm_blas_single_thread(); }

void linear_forward_many(int count, float *const *outs, const linear_weight *const *ws, const float *const *biases,
                         const float *x, int M) {
    mm_weight mw[MM_MANY_MAX];
    const mm_weight *pw[MM_MANY_MAX];
    for (int i0 = 0; i0 < count; i0 += MM_MANY_MAX) {
        int n = count - i0 < MM_MANY_MAX ? count - i0 : MM_MANY_MAX;
        for (int i = 0; i < n; i++) {
            mw[i] = to_mm(ws[i0 + i]);
            pw[i] = &mw[i];
        }
        mm_linear_many(n, outs + i0, pw, biases ? biases + i0 : NULL, x, M, 0);
    }
}

void linear_forward(float *out, const float *x, const linear_weight *w, const float *bias, int M) {
    linear_forward_many(1, &out, &w, &bias, x, M);
}
