/* AVX2+FMA kernels for bf16 weights (exact fp32 arithmetic), for x86 CPUs without AVX-512.
 * Same structure as the AVX-512 kernels (mm_avx512.c) with 8-lane vectors and smaller tiles, since AVX2 has
 * only 16 vector registers: forward tiles of 2 rows of x by 4 rows of W, backward tiles of 4 rows by 16 columns. */
#include "kernels/mm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define T2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

static inline int imin(int a, int b) { return a < b ? a : b; }

T2 INLINE __m256 widen8(const uint16_t *p) {
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* Sums of a, b, c, d (8 lanes each) as the 4 lanes of one __m128. */
T2 INLINE __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

T2 INLINE void tile(const int MR, const int NR, const float *x, int K, const uint16_t *w, float out[2][4]) {
    __m256 acc[2][4];
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < MR; i++)
        for (int c = 0; c < NR; c++) acc[i][c] = zero;
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 wv[4];
        for (int c = 0; c < NR; c++) wv[c] = widen8(w + (size_t)c * K + k);
        for (int i = 0; i < MR; i++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)i * K + k);
            for (int c = 0; c < NR; c++) acc[i][c] = _mm256_fmadd_ps(xv, wv[c], acc[i][c]);
        }
    }
    const int kt = k;
    for (int i = 0; i < MR; i++) {
        __m128 s = reduce4(acc[i][0], NR > 1 ? acc[i][1] : zero, NR > 2 ? acc[i][2] : zero, NR > 3 ? acc[i][3] : zero);
        _mm_storeu_ps(out[i], s);
        for (int kk = kt; kk < K; kk++) /* the K tail, at most 7 products per output */
            for (int c = 0; c < NR; c++) {
                union { uint32_t u; float f; } v = {(uint32_t)w[(size_t)c * K + kk] << 16};
                out[i][c] += x[(size_t)i * K + kk] * v.f;
            }
    }
}

#define CASE(MR, NR)                                                                                        \
    case (MR) * 8 + (NR):                                                                                   \
        tile(MR, NR, x, K, w, out);                                                                         \
        break;

T2 void mm_nt_avx2(const mm_nt_job *j, int n0, int n1) {
    const int M = j->M, K = j->K, N = j->N;
    for (int n = n0; n < n1; n += 4) {
        int nr = imin(4, n1 - n);
        const uint16_t *w = j->w + (size_t)n * K;
        for (int m = 0; m < M; m += 2) {
            int mr = imin(2, M - m);
            const float *x = j->x + (size_t)m * K;
            float out[2][4];
            switch (mr * 8 + nr) {
                CASE(1, 1) CASE(1, 2) CASE(1, 3) CASE(1, 4) CASE(2, 1) CASE(2, 2) CASE(2, 3) CASE(2, 4)
            default:
                break;
            }
            for (int i = 0; i < mr; i++) {
                float *yr = j->y + (size_t)(m + i) * N + n;
                for (int c = 0; c < nr; c++) {
                    float v = out[i][c];
                    if (j->bias) v += j->bias[n + c];
                    if (j->accumulate) v += yr[c];
                    yr[c] = v;
                }
            }
        }
    }
}

#define NN_NB 128

T2 void mm_nn_avx2(const mm_nn_job *j, int k0, int k1) {
    const int M = j->M, N = j->N, K = j->K;
    int kc = k0;
    for (; kc + 16 <= k1; kc += 16) {
        for (int nb = 0; nb < N; nb += NN_NB) {
            int ne = imin(N, nb + NN_NB);
            int load_dx = nb > 0 || j->accumulate;
            for (int m = 0; m < M; m += 4) {
                int mr = imin(4, M - m);
                __m256 acc[4][2];
                for (int i = 0; i < 4; i++)
                    for (int c = 0; c < 2; c++)
                        acc[i][c] = (load_dx && i < mr) ? _mm256_loadu_ps(j->dx + (size_t)(m + i) * K + kc + 8 * c)
                                                        : _mm256_setzero_ps();
                for (int n = nb; n < ne; n++) {
                    const uint16_t *wr = j->w + (size_t)n * K + kc;
                    __m256 w0 = widen8(wr), w1 = widen8(wr + 8);
                    for (int i = 0; i < 4; i++) {
                        if (i >= mr) break;
                        __m256 b = _mm256_broadcast_ss(j->dy + (size_t)(m + i) * N + n);
                        acc[i][0] = _mm256_fmadd_ps(b, w0, acc[i][0]);
                        acc[i][1] = _mm256_fmadd_ps(b, w1, acc[i][1]);
                    }
                }
                for (int i = 0; i < mr; i++)
                    for (int c = 0; c < 2; c++) _mm256_storeu_ps(j->dx + (size_t)(m + i) * K + kc + 8 * c, acc[i][c]);
            }
        }
    }
    if (kc < k1) mm_nn_scalar(j, kc, k1);
}

#endif /* __x86_64__ */
