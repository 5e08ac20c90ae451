/* expf: a vectorisable e^x for the kernels' inner loops (attention softmax, training ops). */
#ifndef HF_KERNELS_EXPF_H
#define HF_KERNELS_EXPF_H

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
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale2;
    memcpy(&scale2, &bits, sizeof scale2);
    return p * scale2 * big;
}

#endif
