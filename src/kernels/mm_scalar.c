/* Portable C kernels for bf16 weights (exact fp32 arithmetic): the fallback on CPUs without AVX2, and the
 * baseline the vector kernels are tested against. */
#include "kernels/mm_internal.h"

static inline float bf16f(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

void mm_nt_scalar(const mm_nt_job *j, int n0, int n1) {
    const int M = j->M, N = j->N, K = j->K;
    for (int n = n0; n < n1; n++) {
        const uint16_t *w = j->w + (size_t)n * K;
        for (int m = 0; m < M; m++) {
            const float *x = j->x + (size_t)m * K;
            /* four partial sums: independent chains let the compiler keep the FPU busy */
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            int k = 0;
            for (; k + 4 <= K; k += 4) {
                s0 += x[k] * bf16f(w[k]);
                s1 += x[k + 1] * bf16f(w[k + 1]);
                s2 += x[k + 2] * bf16f(w[k + 2]);
                s3 += x[k + 3] * bf16f(w[k + 3]);
            }
            for (; k < K; k++) s0 += x[k] * bf16f(w[k]);
            float v = (s0 + s1) + (s2 + s3);
            float *yp = j->y + (size_t)m * N + n;
            if (j->bias) v += j->bias[n];
            if (j->accumulate) v += *yp;
            *yp = v;
        }
    }
}

void mm_nn_scalar(const mm_nn_job *j, int k0, int k1) {
    const int M = j->M, N = j->N, K = j->K;
    for (int m = 0; m < M; m++) {
        float *dx = j->dx + (size_t)m * K;
        const float *dy = j->dy + (size_t)m * N;
        if (!j->accumulate)
            for (int k = k0; k < k1; k++) dx[k] = 0.0f;
        for (int n = 0; n < N; n++) {
            const float g = dy[n];
            const uint16_t *w = j->w + (size_t)n * K;
            for (int k = k0; k < k1; k++) dx[k] += g * bf16f(w[k]);
        }
    }
}

void mm_transpose_pad(float *xt, const float *x, int M, int K, int Mp, int k0, int k1) {
    enum { B = 16 }; /* 16 x 16 blocks: both sides touch whole cache lines */
    for (int kb = k0; kb < k1; kb += B) {
        int ke = kb + B < k1 ? kb + B : k1;
        for (int mb = 0; mb < Mp; mb += B)
            for (int k = kb; k < ke; k++) {
                float *dst = xt + (size_t)k * Mp;
                for (int m = mb; m < mb + B; m++) dst[m] = m < M ? x[(size_t)m * K + k] : 0.0f;
            }
    }
}
