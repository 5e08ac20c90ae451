/* expf: a vectorisable e^x and the softmax of a row built on it, for the inner loops of attention,
 * SiLU, cross-entropy and the training ops. */
#ifndef HF_KERNELS_EXPF_H
#define HF_KERNELS_EXPF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^x in fp32 without a libm call, so that loops over it vectorise (softmax, cross-entropy, SiLU, attention): range
 * reduction x = n ln2 + r, a degree-6 polynomial for e^r (Cephes' expf coefficients) and 2^n built in the
 * exponent bits. Relative error below 2e-7 (libm's expf: 1 ulp); 0 below -87.3, and clamped to e^88.3 above. */
static inline float mm_expf(float x) {
    const float big = x < -87.3f ? 0.0f : 1.0f;
    x = x < -87.3f ? -87.3f : x > 88.3f ? 88.3f : x;
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    const float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    /* a NaN x leaves n NaN: its int conversion would be undefined, so 2^0 is built instead and the NaN
     * comes out through p (a diverged training run must see NaN, not a made-up number) */
    const float nn = n == n ? n : 0.0f;
    const uint32_t bits = (uint32_t)((int32_t)nn + 127) << 23;
    float scale2;
    memcpy(&scale2, &bits, sizeof scale2);
    return p * scale2 * big;
}

/* Softmax of row[0..n) in place (n >= 1). Returns the log of the sum of e^(row - max) plus the max: the
 * row's log-sum-exp, which a backward pass keeps. */
static inline float mm_softmax_row(float *row, int n) {
    float mx = row[0], sum = 0;
    for (int p = 1; p < n; p++) mx = row[p] > mx ? row[p] : mx;
#pragma omp simd reduction(+ : sum)
    for (int p = 0; p < n; p++) {
        row[p] = mm_expf(row[p] - mx);
        sum += row[p];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int p = 0; p < n; p++) row[p] *= inv;
    return mx + logf(sum);
}

#endif
