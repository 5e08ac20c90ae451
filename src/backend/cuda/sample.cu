/* sample: temperature, top-k, top-p and the draw on the device, one block per row, deterministic.
 *
 * Logits are mapped to order-preserving 32-bit keys (non-finite -> excluded). top-k finds the exact key of
 * the k-th largest logit by a 4-pass radix select on counts; top-p finds, among what top-k kept, the largest
 * key whose tail (keys >= it) holds top_p of the mass, by the same radix select on mass. Mass is fixed point
 * (weights exp((l - max)/T) scaled by 2^40, as 64-bit integers), so every sum, histogram and prefix scan is an
 * integer sum: the same on every run whatever order threads add in. Weights below 2^-40 of the top weight are
 * 0 (such a token is never drawn: its probability is below 1e-12). The draw is a 64-bit counter-based random
 * number r = mix(seed, counter); the token is the first id (in id order) where the running kept mass passes
 * mulhi(r, total). Ties at a boundary are all kept (the CPU sampler breaks them by id). */
#include "backend/cuda/common.cuh"

#include <math.h>

enum { SM_THREADS = 1024, SM_WARPS = SM_THREADS / 32 };
#define SM_SCALE 1099511627776.0 /* 2^40 */

__device__ __forceinline__ uint32_t logit_key(float v) {
    if (!isfinite(v)) return 0u;
    uint32_t u = __float_as_uint(v);
    uint32_t k = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return k ? k : 1u; /* 0 is "excluded"; only -NaN patterns could map there */
}

__device__ __forceinline__ uint64_t weight_of(float v, float maxv, float inv_t) {
    float e = expf((v - maxv) * inv_t);
    return (uint64_t)((double)e * SM_SCALE + 0.5);
}

/* Block-wide inclusive scan of one uint64 per thread; returns the inclusive value, *total the block sum. */
__device__ uint64_t block_scan(uint64_t v, uint64_t *ws, uint64_t *total) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 1; o < 32; o <<= 1) {
        uint64_t n = __shfl_up_sync(0xffffffffu, v, o);
        if (lane >= o) v += n;
    }
    if (lane == 31) ws[warp] = v;
    __syncthreads();
    if (warp == 0) {
        uint64_t w = lane < SM_WARPS ? ws[lane] : 0;
        for (int o = 1; o < 32; o <<= 1) {
            uint64_t n = __shfl_up_sync(0xffffffffu, w, o);
            if (lane >= o) w += n;
        }
        ws[lane] = w;
    }
    __syncthreads();
    uint64_t r = v + (warp ? ws[warp - 1] : 0);
    *total = ws[SM_WARPS - 1];
    __syncthreads();
    return r;
}

__global__ void __launch_bounds__(SM_THREADS)
k_sample(int *tokens, float *lp, const float *logits, const int *rows, int vocab, const float *temperature,
         const int *top_k, const float *top_p, const uint64_t *seed, uint64_t *counter) {
    __shared__ uint64_t hist[256];
    __shared__ uint64_t ws[32];
    __shared__ float bmax[SM_WARPS];
    __shared__ int bid[SM_WARPS];
    __shared__ uint32_t s_prefix;
    __shared__ uint64_t s_remaining;
    __shared__ int s_found, s_all;
    const int b = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float *row = logits + (size_t)(rows ? rows[b] : b) * vocab;
    const float T = temperature[b];
    const int K = top_k[b];
    const float P = top_p[b];

    /* 1. the largest finite logit and its lowest id */
    float mv = -INFINITY;
    int mi = -1;
    for (int i = threadIdx.x; i < vocab; i += SM_THREADS) {
        float v = row[i];
        if (isfinite(v) && (v > mv || (v == mv && i < mi))) mv = v, mi = i;
    }
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, mv, o);
        int oi = __shfl_xor_sync(0xffffffffu, mi, o);
        if (oi >= 0 && (mi < 0 || ov > mv || (ov == mv && oi < mi))) mv = ov, mi = oi;
    }
    if (lane == 0) bmax[warp] = mv, bid[warp] = mi;
    __syncthreads();
    if (threadIdx.x == 0) {
        float v = -INFINITY;
        int id = -1;
        for (int w = 0; w < SM_WARPS; w++)
            if (bid[w] >= 0 && (id < 0 || bmax[w] > v || (bmax[w] == v && bid[w] < id))) v = bmax[w], id = bid[w];
        bmax[0] = v;
        bid[0] = id;
    }
    __syncthreads();
    const float maxv = bmax[0];
    const int best = bid[0];
    if (best < 0 || T <= 0.0f || K == 1) {
        if (threadIdx.x == 0) {
            tokens[b] = best;
            if (lp) lp[b] = 0.0f;
            counter[b] += 1;
        }
        return;
    }
    const float inv_t = 1.0f / T;

    /* 2. top-k: the key of the k-th largest finite logit */
    uint32_t thr = 1u;
    if (K > 0 && K < vocab) {
        if (threadIdx.x == 0) s_prefix = 0u, s_remaining = (uint64_t)K, s_all = 0;
        uint32_t mask = 0u;
        for (int shift = 24; shift >= 0; shift -= 8) {
            if (threadIdx.x < 256) hist[threadIdx.x] = 0;
            __syncthreads();
            uint32_t prefix = s_prefix;
            for (int i = threadIdx.x; i < vocab; i += SM_THREADS) {
                uint32_t k = logit_key(row[i]);
                if (k && (k & mask) == prefix) atomicAdd((unsigned long long *)&hist[(k >> shift) & 255u], 1ull);
            }
            __syncthreads();
            if (threadIdx.x == 0) {
                uint64_t cum = 0, rem = s_remaining;
                int bin = -1;
                for (int j = 255; j >= 0; j--) {
                    if (cum + hist[j] >= rem) { bin = j; break; }
                    cum += hist[j];
                }
                if (bin < 0) s_all = 1, bin = 0; /* fewer finite logits than k: all are kept */
                s_remaining = rem - cum;
                s_prefix = prefix | ((uint32_t)bin << shift);
            }
            mask |= 255u << shift;
            __syncthreads();
        }
        thr = s_all || !s_prefix ? 1u : s_prefix;
    }

    /* 3. top-p among the kept: the largest key whose tail holds top_p of their mass */
    if (P < 1.0f) {
        uint64_t part = 0;
        for (int i = threadIdx.x; i < vocab; i += SM_THREADS) {
            float v = row[i];
            if (logit_key(v) >= thr) part += weight_of(v, maxv, inv_t);
        }
        uint64_t total;
        block_scan(part, ws, &total);
        uint64_t target = (uint64_t)((double)P * (double)total);
        if (target == 0) target = 1;
        if (threadIdx.x == 0) s_prefix = 0u, s_remaining = target;
        uint32_t mask = 0u;
        for (int shift = 24; shift >= 0; shift -= 8) {
            if (threadIdx.x < 256) hist[threadIdx.x] = 0;
            __syncthreads();
            uint32_t prefix = s_prefix;
            for (int i = threadIdx.x; i < vocab; i += SM_THREADS) {
                float v = row[i];
                uint32_t k = logit_key(v);
                if (k >= thr && (k & mask) == prefix)
                    atomicAdd((unsigned long long *)&hist[(k >> shift) & 255u],
                              (unsigned long long)weight_of(v, maxv, inv_t));
            }
            __syncthreads();
            if (threadIdx.x == 0) {
                uint64_t cum = 0, rem = s_remaining;
                int bin = 0;
                for (int j = 255; j >= 0; j--) {
                    if (hist[j] && cum + hist[j] >= rem) { bin = j; break; }
                    cum += hist[j];
                }
                s_remaining = rem > cum ? rem - cum : 1;
                s_prefix = prefix | ((uint32_t)bin << shift);
            }
            mask |= 255u << shift;
            __syncthreads();
        }
        if (s_prefix > thr) thr = s_prefix;
    }

    /* 4. the draw over the kept ids, in id order: each thread owns one contiguous run of ids */
    const int per = (vocab + SM_THREADS - 1) / SM_THREADS;
    const int lo = threadIdx.x * per, hi = min(vocab, lo + per);
    uint64_t part = 0;
    for (int i = lo; i < hi; i++) {
        float v = row[i];
        if (logit_key(v) >= thr) part += weight_of(v, maxv, inv_t);
    }
    uint64_t total;
    uint64_t incl = block_scan(part, ws, &total);
    uint64_t r = hfc_mix64(hfc_mix64(seed[b] + 0x9e3779b97f4a7c15ULL) ^ (counter[b] * 0xd1b54a32d192ed03ULL + 1));
    uint64_t target = __umul64hi(r, total); /* uniform in [0, total) */
    if (threadIdx.x == 0) s_found = best;
    __syncthreads();
    uint64_t acc = incl - part;
    if (part && target >= acc && target < incl) {
        for (int i = lo; i < hi; i++) {
            float v = row[i];
            if (logit_key(v) < thr) continue;
            acc += weight_of(v, maxv, inv_t);
            if (acc > target) { s_found = i; break; }
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        tokens[b] = s_found;
        /* the drawn id's share of the kept mass, in the fixed point the draw used */
        if (lp) lp[b] = (float)(log((double)weight_of(row[s_found], maxv, inv_t)) - log((double)total));
        counter[b] += 1;
    }
}

void hfc_sample(int *tokens, float *lp, const float *logits, const int *rows, int B, int vocab,
                const float *temperature, const int *top_k, const float *top_p, const uint64_t *seed,
                uint64_t *counter) {
    if (B <= 0) return;
    k_sample<<<B, SM_THREADS, 0, hfc_stream>>>(tokens, lp, logits, rows, vocab, temperature, top_k, top_p, seed,
                                               counter);
    hfc_check_launch("sample");
}
