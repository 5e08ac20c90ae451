/* AVX-512 kernels for bf16 weights: exact (widen to fp32, FMA) and fast (VDPBF16PS).
 *
 * Forward (NT, y = x·Wᵀ): a dot-product kernel on the unpacked [N,K] weights. A tile of up to 4 rows of x and
 * 4 rows of W keeps 16 zmm accumulators, each holding 16 partial sums of one y[m,n] along k; the 16 sums are
 * reduced together at the end of a K block (reduce4). W is read exactly as stored, so no packing is needed and
 * M=1 streams each weight once. Blocking: K in blocks (the 4 W rows of a tile stay in L1), M in blocks (the x
 * block stays in L2 while a thread walks its W rows).
 *
 * Backward (NN, dx = dy·W): an outer-product kernel: for each weight row n, 64 consecutive k of W[n,:] (4 zmm,
 * widened) are multiplied by dy[m,n] broadcast, for up to 6 rows m; W rows are contiguous along k, so again no
 * packing. N is blocked so the 64-column strip of W being reused stays in L1.
 *
 * Compiled with target attributes so that the rest of the program does not need -march flags; the dispatcher
 * only calls these functions on CPUs that have the features. */
#include "kernels/mm_internal.h"

#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define T512BF __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")))
#define INLINE static inline __attribute__((always_inline))

#define NT_MB 64        /* rows of x per M block */
#define NT_KB_EXACT 1024 /* k per K block, exact (fp32 x: 64 rows x 4 KB = 256 KB of x per block) */
#define NT_KB_FAST 2048  /* k per K block, fast (bf16 x: 64 rows x 4 KB) */

static inline int imin(int a, int b) { return a < b ? a : b; }

/* Sums of a, b, c, d (16 lanes each) as the 4 lanes of one __m128. */
T512 INLINE __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512 t2 = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 t3 = _mm256_add_ps(_mm512_castps512_ps256(t2), _mm512_extractf32x8_ps(t2, 1));
    return _mm_add_ps(_mm256_castps256_ps128(t3), _mm256_extractf128_ps(t3, 1));
}

T512 INLINE __m512 widen16(const uint16_t *p) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

T512 INLINE __m512 widen16_mask(const uint16_t *p, __mmask16 m) {
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Writes back an MR x NR tile of sums: the first K block adds bias and (when accumulating) the old y,
 * later K blocks add to y. */
INLINE void store_tile(const mm_nt_job *j, int m, int n, int mr, int nr, float out[4][4], int first) {
    for (int i = 0; i < mr; i++) {
        float *yr = j->y + (size_t)(m + i) * j->N + n;
        for (int c = 0; c < nr; c++) {
            float v = out[i][c];
            if (first) {
                if (j->bias) v += j->bias[n + c];
                if (j->accumulate) v += yr[c];
            } else {
                v += yr[c];
            }
            yr[c] = v;
        }
    }
}

/* ---------------- exact forward ---------------- */

/* W rows either bf16 (w16, widened on the fly: M <= 4, each weight used once) or already widened to fp32
 * (w32: larger M, where the 4 rows of a tile are widened once into an L1 buffer and reused by every x tile;
 * w32 holds columns k0.. of each row, ldw apart). */
T512 INLINE void tile_exact(const int MR, const int NR, const float *x, int ldx, const uint16_t *w16,
                            const float *w32, int ldw, int k0, int k1, float out[4][4]) {
    __m512 acc[4][4];
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) acc[i][c] = zero;
    int k = k0;
    for (; k + 16 <= k1; k += 16) {
        __m512 wv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            wv[c] = w32 ? _mm512_loadu_ps(w32 + (size_t)c * ldw + (k - k0)) : widen16(w16 + (size_t)c * ldw + k);
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)i * ldx + k);
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) acc[i][c] = _mm512_fmadd_ps(xv, wv[c], acc[i][c]);
        }
    }
    if (k < k1) {
        __mmask16 mask = (__mmask16)((1u << (k1 - k)) - 1u);
        __m512 wv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++)
            wv[c] = w32 ? _mm512_maskz_loadu_ps(mask, w32 + (size_t)c * ldw + (k - k0))
                        : widen16_mask(w16 + (size_t)c * ldw + k, mask);
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m512 xv = _mm512_maskz_loadu_ps(mask, x + (size_t)i * ldx + k);
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) acc[i][c] = _mm512_fmadd_ps(xv, wv[c], acc[i][c]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
        __m128 s = reduce4(acc[i][0], NR > 1 ? acc[i][1] : zero, NR > 2 ? acc[i][2] : zero, NR > 3 ? acc[i][3] : zero);
        _mm_storeu_ps(out[i], s);
    }
}

#define EXACT_CASE(MR, NR)                                                                                  \
    case (MR) * 8 + (NR):                                                                                   \
        if (w32)                                                                                            \
            tile_exact(MR, NR, x, K, NULL, w32, ldw, k0, k1, out);                                          \
        else                                                                                                \
            tile_exact(MR, NR, x, K, w16, NULL, ldw, k0, k1, out);                                          \
        break;

T512 static void tile_exact_any(int mr, int nr, const float *x, int K, const uint16_t *w16, const float *w32,
                                int ldw, int k0, int k1, float out[4][4]) {
    switch (mr * 8 + nr) {
        EXACT_CASE(1, 1) EXACT_CASE(1, 2) EXACT_CASE(1, 3) EXACT_CASE(1, 4)
        EXACT_CASE(2, 1) EXACT_CASE(2, 2) EXACT_CASE(2, 3) EXACT_CASE(2, 4)
        EXACT_CASE(3, 1) EXACT_CASE(3, 2) EXACT_CASE(3, 3) EXACT_CASE(3, 4)
        EXACT_CASE(4, 1) EXACT_CASE(4, 2) EXACT_CASE(4, 3) EXACT_CASE(4, 4)
    default:
        break;
    }
}

/* One row of x (decode): each weight row is read start to end, so the whole of W is one sequential stream,
 * which the hardware prefetchers follow best; four accumulators hide the FMA latency. */
INLINE void store_row1(const mm_nt_job *j, int n, float v) {
    if (j->bias) v += j->bias[n];
    if (j->accumulate) v += j->y[n];
    j->y[n] = v;
}

T512 static void row1_exact(const mm_nt_job *j, int n0, int n1) {
    const int K = j->K;
    const float *x = j->x;
    for (int n = n0; n < n1; n++) {
        const uint16_t *r = j->w + (size_t)n * K;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int k = imin(K, (int)(((32u - ((uintptr_t)r & 31u)) & 31u) / 2u)); /* peel to 32-byte aligned W loads */
        if (k > 0) {
            __mmask16 mask = (__mmask16)((1u << k) - 1u);
            a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x), widen16_mask(r, mask), a3);
        }
        for (; k + 64 <= K; k += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), widen16(r + k), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), widen16(r + k + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 32), widen16(r + k + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 48), widen16(r + k + 48), a3);
        }
        for (; k + 16 <= K; k += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), widen16(r + k), a0);
        if (k < K) {
            __mmask16 mask = (__mmask16)((1u << (K - k)) - 1u);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + k), widen16_mask(r + k, mask), a1);
        }
        store_row1(j, n, _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))));
    }
}

T512 void mm_nt_avx512(const mm_nt_job *j, int n0, int n1) {
    const int M = j->M, K = j->K;
    if (M == 1) {
        row1_exact(j, n0, n1);
        return;
    }
    /* 4 weight rows of one K block, widened: 16 KB, stays in L1 while the x tiles stream past */
    float wbuf[4 * NT_KB_EXACT] __attribute__((aligned(64)));
    const int widen_once = M > 4;
    for (int kb = 0; kb < K; kb += NT_KB_EXACT) {
        int ke = imin(K, kb + NT_KB_EXACT);
        for (int mb = 0; mb < M; mb += NT_MB) {
            int me = imin(M, mb + NT_MB);
            for (int n = n0; n < n1; n += 4) {
                int nr = imin(4, n1 - n);
                const uint16_t *w = j->w + (size_t)n * K;
                if (widen_once) {
                    for (int c = 0; c < nr; c++) {
                        const uint16_t *src = w + (size_t)c * K;
                        float *dst = wbuf + (size_t)c * NT_KB_EXACT;
                        int k = kb;
                        for (; k + 16 <= ke; k += 16) _mm512_storeu_ps(dst + (k - kb), widen16(src + k));
                        if (k < ke) {
                            __mmask16 mask = (__mmask16)((1u << (ke - k)) - 1u);
                            _mm512_mask_storeu_ps(dst + (k - kb), mask, widen16_mask(src + k, mask));
                        }
                    }
                }
                for (int m = mb; m < me; m += 4) {
                    int mr = imin(4, me - m);
                    float out[4][4];
                    if (widen_once)
                        tile_exact_any(mr, nr, j->x + (size_t)m * K, K, NULL, wbuf, NT_KB_EXACT, kb, ke, out);
                    else
                        tile_exact_any(mr, nr, j->x + (size_t)m * K, K, w, NULL, K, kb, ke, out);
                    store_tile(j, m, n, mr, nr, out, kb == 0);
                }
            }
        }
    }
}

/* ---------------- exact forward, larger M: outer products on transposed x ----------------
 * For M >= 16 the dot-product tiles above spend much of their time on loads and reductions. Here a tile keeps
 * 6 weight rows x 64 rows of x in 24 accumulators with no reduction at all: for each k, 4 vectors of x^T[k][m..m+63]
 * are multiplied by 6 broadcast weights. The 6 weight rows of a K block are widened once into an L1 buffer, and
 * x^T (built once per call by the dispatcher) is read along k, 256 contiguous bytes per step. */

#define XT_NR 6
#define XT_KB 512

T512 INLINE void xt_tile(const int MZ, const float *xt, int Mp, const float *wb, int klen, float out[XT_NR][64]) {
    __m512 acc[XT_NR][4];
#pragma GCC unroll 6
    for (int i = 0; i < XT_NR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < MZ; c++) acc[i][c] = _mm512_setzero_ps();
    for (int k = 0; k < klen; k++) {
        const float *xr = xt + (size_t)k * Mp;
        __m512 xv[4];
#pragma GCC unroll 4
        for (int c = 0; c < MZ; c++) xv[c] = _mm512_loadu_ps(xr + 16 * c);
#pragma GCC unroll 6
        for (int i = 0; i < XT_NR; i++) {
            __m512 b = _mm512_set1_ps(wb[i * XT_KB + k]);
#pragma GCC unroll 4
            for (int c = 0; c < MZ; c++) acc[i][c] = _mm512_fmadd_ps(b, xv[c], acc[i][c]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < XT_NR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < MZ; c++) _mm512_storeu_ps(out[i] + 16 * c, acc[i][c]);
}

T512 void mm_nt_avx512_xt(const mm_nt_job *j, int n0, int n1) {
    const int M = j->M, N = j->N, K = j->K, Mp = j->Mp;
    float wb[XT_NR * XT_KB] __attribute__((aligned(64)));
    float out[XT_NR][64] __attribute__((aligned(64)));
    for (int kb = 0; kb < K; kb += XT_KB) {
        const int ke = imin(K, kb + XT_KB), klen = ke - kb, first = kb == 0;
        for (int n = n0; n < n1; n += XT_NR) {
            const int nr = imin(XT_NR, n1 - n);
            for (int i = 0; i < XT_NR; i++) {
                float *dst = wb + i * XT_KB;
                if (i >= nr) { /* rows past the end compute zeros that are never stored */
                    for (int k = 0; k < klen; k++) dst[k] = 0.0f;
                    continue;
                }
                const uint16_t *src = j->w + (size_t)(n + i) * K + kb;
                int k = 0;
                for (; k + 16 <= klen; k += 16) _mm512_storeu_ps(dst + k, widen16(src + k));
                if (k < klen) {
                    __mmask16 mask = (__mmask16)((1u << (klen - k)) - 1u);
                    _mm512_mask_storeu_ps(dst + k, mask, widen16_mask(src + k, mask));
                }
            }
            for (int mc = 0; mc < M; mc += 64) {
                const int mz = imin(4, (Mp - mc) / 16);
                const float *xt = j->xt + (size_t)kb * Mp + mc;
                switch (mz) {
                case 1: xt_tile(1, xt, Mp, wb, klen, out); break;
                case 2: xt_tile(2, xt, Mp, wb, klen, out); break;
                case 3: xt_tile(3, xt, Mp, wb, klen, out); break;
                default: xt_tile(4, xt, Mp, wb, klen, out); break;
                }
                const int ml = imin(64, M - mc);
                for (int l = 0; l < ml; l++) {
                    float *yr = j->y + (size_t)(mc + l) * N + n;
                    for (int i = 0; i < nr; i++) {
                        float v = out[i][l];
                        if (first) {
                            if (j->bias) v += j->bias[n + i];
                            if (j->accumulate) v += yr[i];
                        } else {
                            v += yr[i];
                        }
                        yr[i] = v;
                    }
                }
            }
        }
    }
}

/* ---------------- fast forward (VDPBF16PS) ---------------- */

T512BF INLINE __m512 dp(__m512 acc, __m512i a, __m512i b) {
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}

T512BF INLINE void tile_fast(const int MR, const int NR, const uint16_t *x, int ldx, const uint16_t *w, int ldw,
                             int k0, int k1, float out[4][4]) {
    __m512 acc[4][4];
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) acc[i][c] = zero;
    int k = k0;
    /* Peel up to 31 k so that the weight loads (of row 0, and of every row when K*2 is a multiple of 64) are
     * 64-byte aligned: a zmm load that straddles two cache lines costs two, which shows when streaming from DRAM. */
    const int head = imin(k1 - k0, (int)(((64u - ((uintptr_t)(w + k0) & 63u)) & 63u) / 2u));
    if (head > 0) {
        __mmask32 mask = (__mmask32)((1u << head) - 1u);
        __m512i wv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) wv[c] = _mm512_maskz_loadu_epi16(mask, w + (size_t)c * ldw + k);
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m512i xv = _mm512_maskz_loadu_epi16(mask, x + (size_t)i * ldx + k);
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) acc[i][c] = dp(acc[i][c], xv, wv[c]);
        }
        k += head;
    }
    for (; k + 32 <= k1; k += 32) {
        __m512i wv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) wv[c] = _mm512_loadu_si512((const void *)(w + (size_t)c * ldw + k));
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m512i xv = _mm512_loadu_si512((const void *)(x + (size_t)i * ldx + k));
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) acc[i][c] = dp(acc[i][c], xv, wv[c]);
        }
    }
    if (k < k1) {
        __mmask32 mask = (__mmask32)((1ull << (k1 - k)) - 1u);
        __m512i wv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NR; c++) wv[c] = _mm512_maskz_loadu_epi16(mask, w + (size_t)c * ldw + k);
#pragma GCC unroll 4
        for (int i = 0; i < MR; i++) {
            __m512i xv = _mm512_maskz_loadu_epi16(mask, x + (size_t)i * ldx + k);
#pragma GCC unroll 4
            for (int c = 0; c < NR; c++) acc[i][c] = dp(acc[i][c], xv, wv[c]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
        __m128 s = reduce4(acc[i][0], NR > 1 ? acc[i][1] : zero, NR > 2 ? acc[i][2] : zero, NR > 3 ? acc[i][3] : zero);
        _mm_storeu_ps(out[i], s);
    }
}

#define FAST_CASE(MR, NR)                                                                                   \
    case (MR) * 8 + (NR):                                                                                   \
        tile_fast(MR, NR, x, K, w, K, k0, k1, out);                                                         \
        break;

T512BF static void tile_fast_any(int mr, int nr, const uint16_t *x, int K, const uint16_t *w, int k0, int k1,
                                 float out[4][4]) {
    switch (mr * 8 + nr) {
        FAST_CASE(1, 1) FAST_CASE(1, 2) FAST_CASE(1, 3) FAST_CASE(1, 4)
        FAST_CASE(2, 1) FAST_CASE(2, 2) FAST_CASE(2, 3) FAST_CASE(2, 4)
        FAST_CASE(3, 1) FAST_CASE(3, 2) FAST_CASE(3, 3) FAST_CASE(3, 4)
        FAST_CASE(4, 1) FAST_CASE(4, 2) FAST_CASE(4, 3) FAST_CASE(4, 4)
    default:
        break;
    }
}

T512BF static void row1_fast(const mm_nt_job *j, int n0, int n1) {
    const int K = j->K;
    const uint16_t *x = j->xb;
    for (int n = n0; n < n1; n++) {
        const uint16_t *r = j->w + (size_t)n * K;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int k = imin(K, (int)(((64u - ((uintptr_t)r & 63u)) & 63u) / 2u)); /* peel to 64-byte aligned W loads */
        if (k > 0) {
            __mmask32 mask = (__mmask32)((1u << k) - 1u);
            a3 = dp(a3, _mm512_maskz_loadu_epi16(mask, x), _mm512_maskz_loadu_epi16(mask, r));
        }
        for (; k + 128 <= K; k += 128) {
            a0 = dp(a0, _mm512_loadu_si512((const void *)(x + k)), _mm512_loadu_si512((const void *)(r + k)));
            a1 = dp(a1, _mm512_loadu_si512((const void *)(x + k + 32)), _mm512_loadu_si512((const void *)(r + k + 32)));
            a2 = dp(a2, _mm512_loadu_si512((const void *)(x + k + 64)), _mm512_loadu_si512((const void *)(r + k + 64)));
            a3 = dp(a3, _mm512_loadu_si512((const void *)(x + k + 96)), _mm512_loadu_si512((const void *)(r + k + 96)));
        }
        for (; k + 32 <= K; k += 32)
            a0 = dp(a0, _mm512_loadu_si512((const void *)(x + k)), _mm512_loadu_si512((const void *)(r + k)));
        if (k < K) {
            __mmask32 mask = (__mmask32)((1ull << (K - k)) - 1u);
            a1 = dp(a1, _mm512_maskz_loadu_epi16(mask, x + k), _mm512_maskz_loadu_epi16(mask, r + k));
        }
        store_row1(j, n, _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))));
    }
}

T512BF void mm_nt_avx512bf16(const mm_nt_job *j, int n0, int n1) {
    const int M = j->M, K = j->K;
    if (M == 1) {
        row1_fast(j, n0, n1);
        return;
    }
    for (int kb = 0; kb < K; kb += NT_KB_FAST) {
        int ke = imin(K, kb + NT_KB_FAST);
        for (int mb = 0; mb < M; mb += NT_MB) {
            int me = imin(M, mb + NT_MB);
            for (int n = n0; n < n1; n += 4) {
                int nr = imin(4, n1 - n);
                for (int m = mb; m < me; m += 4) {
                    int mr = imin(4, me - m);
                    float out[4][4];
                    tile_fast_any(mr, nr, j->xb + (size_t)m * K, K, j->w + (size_t)n * K, kb, ke, out);
                    store_tile(j, m, n, mr, nr, out, kb == 0);
                }
            }
        }
    }
}

T512BF void mm_cvt_bf16_avx512bf16(uint16_t *dst, const float *src, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
        _mm512_storeu_si512((void *)(dst + i), (__m512i)h);
    }
    for (; i < n; i += 16) {
        size_t r = n - i < 16 ? n - i : 16;
        __mmask16 mask = (__mmask16)((1u << r) - 1u);
        __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, src + i));
        _mm256_mask_storeu_epi16(dst + i, mask, (__m256i)h);
    }
}

/* ---------------- exact backward dx = dy·W ---------------- */

#define NN_NB 128 /* weight rows per N block: a 64-column strip of 128 rows is 16 KB of bf16 */
#define NN_MR 6

T512 INLINE void nn_tile(const int MR, const int MASKED, const float *dy, int ldy, const uint16_t *w, int ldw,
                         int nb, int ne, float *dx, int ldx, const __mmask16 *mask, int load_dx) {
    __m512 acc[NN_MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            if (!load_dx)
                acc[i][c] = _mm512_setzero_ps();
            else if (MASKED)
                acc[i][c] = _mm512_maskz_loadu_ps(mask[c], dx + (size_t)i * ldx + 16 * c);
            else
                acc[i][c] = _mm512_loadu_ps(dx + (size_t)i * ldx + 16 * c);
        }
    for (int n = nb; n < ne; n++) {
        const uint16_t *wr = w + (size_t)n * ldw;
        __m512 wv[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) wv[c] = MASKED ? widen16_mask(wr + 16 * c, mask[c]) : widen16(wr + 16 * c);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m512 b = _mm512_set1_ps(dy[(size_t)i * ldy + n]);
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) acc[i][c] = _mm512_fmadd_ps(b, wv[c], acc[i][c]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            if (MASKED)
                _mm512_mask_storeu_ps(dx + (size_t)i * ldx + 16 * c, mask[c], acc[i][c]);
            else
                _mm512_storeu_ps(dx + (size_t)i * ldx + 16 * c, acc[i][c]);
        }
}

#define NN_CASE(MR)                                                                                         \
    case MR:                                                                                                \
        if (masked)                                                                                         \
            nn_tile(MR, 1, dy, N, w, K, nb, ne, dx, K, mask, load_dx);                                      \
        else                                                                                                \
            nn_tile(MR, 0, dy, N, w, K, nb, ne, dx, K, mask, load_dx);                                      \
        break;

T512 void mm_nn_avx512(const mm_nn_job *j, int k0, int k1) {
    const int M = j->M, N = j->N, K = j->K;
    for (int kc = k0; kc < k1; kc += 64) {
        int kr = imin(64, k1 - kc);
        int masked = kr < 64;
        __mmask16 mask[4];
        for (int c = 0; c < 4; c++) {
            int r = kr - 16 * c;
            mask[c] = r >= 16 ? (__mmask16)0xffff : r <= 0 ? (__mmask16)0 : (__mmask16)((1u << r) - 1u);
        }
        const uint16_t *w = j->w + kc;
        for (int nb = 0; nb < N; nb += NN_NB) {
            int ne = imin(N, nb + NN_NB);
            int load_dx = nb > 0 || j->accumulate;
            for (int m = 0; m < M; m += NN_MR) {
                int mr = imin(NN_MR, M - m);
                const float *dy = j->dy + (size_t)m * N;
                float *dx = j->dx + (size_t)m * K + kc;
                switch (mr) {
                    NN_CASE(1) NN_CASE(2) NN_CASE(3) NN_CASE(4) NN_CASE(5) NN_CASE(6)
                default:
                    break;
                }
            }
        }
    }
}

/* ---------------- fast backward dx = dy·W (VDPBF16PS) ----------------
 * VDPBF16PS sums pairs along the reduced dimension, here n: the pair (W[n,k], W[n+1,k]) must share a 32-bit lane.
 * Interleaving two weight rows with unpacklo/hi_epi16 gives exactly that, for the k of each 128-bit lane's low
 * (unpacklo) or high (unpackhi) half, so the accumulators hold dx in a permuted k order that is undone once per
 * N block (unpermute). dy is given in bf16 (dyb) with rows padded to an even length Np (zero last column). */

T512BF INLINE void unpermute(__m512 lo, __m512 hi, __m512 *k0_15, __m512 *k16_31) {
    const __m512i ia = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i ib = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    *k0_15 = _mm512_permutex2var_ps(lo, ia, hi);
    *k16_31 = _mm512_permutex2var_ps(lo, ib, hi);
}

T512BF INLINE void nn_fast_tile(const int MR, const int MASKED, const uint16_t *dyb, int ldy, const uint16_t *w,
                                int ldw, int N, int nb, int ne, float *dx, int ldx, const __mmask32 *mask32,
                                const __mmask16 *mask16, int load_dx) {
    __m512 acc[NN_MR][4];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[i][c] = _mm512_setzero_ps();
    for (int n = nb; n < ne; n += 2) {
        const uint16_t *r0 = w + (size_t)n * ldw;
        const int has1 = n + 1 < N;
        __m512i a[2], b[2];
#pragma GCC unroll 2
        for (int g = 0; g < 2; g++) {
            a[g] = MASKED ? _mm512_maskz_loadu_epi16(mask32[g], r0 + 32 * g)
                          : _mm512_loadu_si512((const void *)(r0 + 32 * g));
            b[g] = !has1   ? _mm512_setzero_si512()
                   : MASKED ? _mm512_maskz_loadu_epi16(mask32[g], r0 + ldw + 32 * g)
                            : _mm512_loadu_si512((const void *)(r0 + ldw + 32 * g));
        }
        __m512i wp[4] = {_mm512_unpacklo_epi16(a[0], b[0]), _mm512_unpackhi_epi16(a[0], b[0]),
                         _mm512_unpacklo_epi16(a[1], b[1]), _mm512_unpackhi_epi16(a[1], b[1])};
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            int32_t pair;
            __builtin_memcpy(&pair, dyb + (size_t)i * ldy + n, sizeof pair);
            __m512i d = _mm512_set1_epi32(pair);
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) acc[i][c] = dp(acc[i][c], d, wp[c]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        __m512 v[4];
        unpermute(acc[i][0], acc[i][1], &v[0], &v[1]);
        unpermute(acc[i][2], acc[i][3], &v[2], &v[3]);
        float *out = dx + (size_t)i * ldx;
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            if (MASKED) {
                if (load_dx) v[c] = _mm512_add_ps(v[c], _mm512_maskz_loadu_ps(mask16[c], out + 16 * c));
                _mm512_mask_storeu_ps(out + 16 * c, mask16[c], v[c]);
            } else {
                if (load_dx) v[c] = _mm512_add_ps(v[c], _mm512_loadu_ps(out + 16 * c));
                _mm512_storeu_ps(out + 16 * c, v[c]);
            }
        }
    }
}

#define NN_FAST_CASE(MR)                                                                                    \
    case MR:                                                                                                \
        if (masked)                                                                                         \
            nn_fast_tile(MR, 1, dyb, Np, w, K, N, nb, ne, dx, K, mask32, mask16, load_dx);                  \
        else                                                                                                \
            nn_fast_tile(MR, 0, dyb, Np, w, K, N, nb, ne, dx, K, mask32, mask16, load_dx);                  \
        break;

T512BF void mm_nn_avx512bf16(const mm_nn_job *j, int k0, int k1) {
    const int M = j->M, N = j->N, K = j->K, Np = N + (N & 1);
    for (int kc = k0; kc < k1; kc += 64) {
        int kr = imin(64, k1 - kc);
        int masked = kr < 64;
        __mmask16 mask16[4];
        __mmask32 mask32[2];
        for (int c = 0; c < 4; c++) {
            int r = kr - 16 * c;
            mask16[c] = r >= 16 ? (__mmask16)0xffff : r <= 0 ? (__mmask16)0 : (__mmask16)((1u << r) - 1u);
        }
        for (int g = 0; g < 2; g++) {
            int r = kr - 32 * g;
            mask32[g] = r >= 32 ? (__mmask32)0xffffffffu : r <= 0 ? (__mmask32)0 : (__mmask32)((1u << r) - 1u);
        }
        const uint16_t *w = j->w + kc;
        for (int nb = 0; nb < N; nb += NN_NB) {
            int ne = imin(N, nb + NN_NB);
            int load_dx = nb > 0 || j->accumulate;
            for (int m = 0; m < M; m += NN_MR) {
                int mr = imin(NN_MR, M - m);
                const uint16_t *dyb = j->dyb + (size_t)m * Np;
                float *dx = j->dx + (size_t)m * K + kc;
                switch (mr) {
                    NN_FAST_CASE(1) NN_FAST_CASE(2) NN_FAST_CASE(3) NN_FAST_CASE(4) NN_FAST_CASE(5) NN_FAST_CASE(6)
                default:
                    break;
                }
            }
        }
    }
}

#endif /* __x86_64__ */
