/* attn: causal grouped-query attention over the KV cache, for prefill (many queries of one sequence) and
 * for decode (one query per sequence), both fp32 with an online softmax (no score matrix in memory).
 *
 * Lanes own head dimensions d = lane + 32*i (i < NDL, NDL = ceil(hd/32), hd <= 256). Scores use the
 * softmax scale folded into q. A row whose keys are all masked cannot occur (a query sees its own key). */
#include "backend/cuda/common.cuh"

#include <math.h>

/* ---------- prefill: flash-style tiles ----------
 * Block = (tile of QT query positions) x (one KV head): its R = QT*G query rows (G heads of the group)
 * share every K/V tile loaded into shared memory, so each K/V tile is read once per group and per query
 * tile. 8 warps; warp w owns rows w, w+8, w+16, w+24. Key tiles of 32: lane j scores key j. */
enum { PF_WARPS = 8, PF_KT = 32, PF_MAXR = 32 };

template <int NDL>
__global__ void __launch_bounds__(PF_WARPS * 32)
k_attn_prefill(void *out, hfc_dtype out_dt, float *lse, const float *q, const void *kc, const void *vc, hfc_dtype cdt,
               size_t slot_stride, int slot, int start, int n, int heads, int kv_heads, int hd, int QT, float scale) {
    extern __shared__ float smem[];
    const int G = heads / kv_heads, R = QT * G, g = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int kvd = kv_heads * hd, t0 = blockIdx.x * QT;
    const int nq = min(QT, n - t0);
    float *Qs = smem;                       /* [R][hd] */
    float *Ks = Qs + (size_t)R * hd;        /* [KT][hd+1] */
    float *Vs = Ks + (size_t)PF_KT * (hd + 1); /* [KT][hd] */
    for (int i = threadIdx.x; i < R * hd; i += blockDim.x) {
        int r = i / hd, d = i % hd, qi = r / G, h = r % G;
        Qs[i] = qi < nq ? q[((size_t)(t0 + qi) * heads + (size_t)g * G + h) * hd + d] * scale : 0.0f;
    }
    float o[4][NDL], m[4], l[4];
#pragma unroll
    for (int rr = 0; rr < 4; rr++) {
        m[rr] = -INFINITY;
        l[rr] = 0.0f;
#pragma unroll
        for (int i = 0; i < NDL; i++) o[rr][i] = 0.0f;
    }
    const size_t cbase = (size_t)slot * slot_stride + (size_t)g * hd;
    const int last_key = start + t0 + nq - 1;
    for (int kt = 0; kt <= last_key; kt += PF_KT) {
        __syncthreads();
        for (int i = threadIdx.x; i < PF_KT * hd; i += blockDim.x) {
            int j = i / hd, d = i % hd, p = kt + j;
            float kv = 0.0f, vv = 0.0f;
            if (p <= last_key) {
                size_t off = cbase + (size_t)p * kvd + d;
                kv = load_as_f(kc, cdt, off);
                vv = load_as_f(vc, cdt, off);
            }
            Ks[j * (hd + 1) + d] = kv;
            Vs[j * hd + d] = vv;
        }
        __syncthreads();
#pragma unroll
        for (int rr = 0; rr < 4; rr++) {
            int r = warp + PF_WARPS * rr;
            if (r >= R || r / G >= nq) continue;
            int qp = start + t0 + r / G, p = kt + lane;
            float s = -INFINITY;
            if (p <= qp) {
                const float *qr = Qs + (size_t)r * hd, *kr = Ks + lane * (hd + 1);
                float acc = 0.0f;
                for (int d = 0; d < hd; d++) acc = fmaf(qr[d], kr[d], acc);
                s = acc;
            }
            float mx = warp_max(s);
            if (mx == -INFINITY) continue; /* the whole tile is in this row's future */
            float mn = fmaxf(m[rr], mx);
            float pj = s == -INFINITY ? 0.0f : expf(s - mn);
            float alpha = m[rr] == -INFINITY ? 0.0f : expf(m[rr] - mn);
            l[rr] = l[rr] * alpha + warp_sum(pj);
            m[rr] = mn;
#pragma unroll
            for (int i = 0; i < NDL; i++) o[rr][i] *= alpha;
            for (int j = 0; j < PF_KT; j++) {
                float w = __shfl_sync(0xffffffffu, pj, j);
#pragma unroll
                for (int i = 0; i < NDL; i++) {
                    int d = lane + 32 * i;
                    if (d < hd) o[rr][i] = fmaf(w, Vs[j * hd + d], o[rr][i]);
                }
            }
        }
    }
#pragma unroll
    for (int rr = 0; rr < 4; rr++) {
        int r = warp + PF_WARPS * rr;
        if (r >= R || r / G >= nq) continue;
        int qi = r / G, h = r % G;
        size_t ob = ((size_t)(t0 + qi) * heads + (size_t)g * G + h) * hd;
        float inv = 1.0f / l[rr];
        if (lse && lane == 0) lse[(size_t)(t0 + qi) * heads + (size_t)g * G + h] = m[rr] + logf(l[rr]);
#pragma unroll
        for (int i = 0; i < NDL; i++) {
            int d = lane + 32 * i;
            if (d < hd) store_as(out, out_dt, ob + d, o[rr][i] * inv);
        }
    }
}

template <int NDL>
static void launch_prefill(void *out, hfc_dtype out_dt, float *lse, const float *q, const void *kc, const void *vc,
                           hfc_dtype cdt, size_t slot_stride, int slot, int start, int n, int heads, int kv_heads,
                           int hd) {
    int G = heads / kv_heads;
    /* G > 32 rows cannot share a block: split the group (each block then takes G' heads). Not needed by any
     * supported model (G <= 8), so refused rather than handled slowly. */
    if (G > PF_MAXR) { hfc_note_error("attn_prefill", "more than 32 query heads per KV head"); return; }
    int QT = PF_MAXR / G;
    size_t smem = ((size_t)QT * G * hd + (size_t)PF_KT * (hd + 1) + (size_t)PF_KT * hd) * sizeof(float);
    static size_t smem_set[9];
    if (smem > 48 * 1024 && smem_set[NDL] < smem) {
        cudaFuncSetAttribute((const void *)k_attn_prefill<NDL>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        smem_set[NDL] = smem;
    }
    dim3 grid((unsigned)((n + QT - 1) / QT), (unsigned)kv_heads);
    k_attn_prefill<NDL><<<grid, PF_WARPS * 32, smem, hfc_stream>>>(out, out_dt, lse, q, kc, vc, cdt, slot_stride, slot,
                                                                   start, n, heads, kv_heads, hd, QT,
                                                                   1.0f / sqrtf((float)hd));
}

void hfc_attn_prefill(void *out, hfc_dtype out_dt, float *lse, const float *q, const void *kc, const void *vc, hfc_dtype cache_dt,
                      size_t slot_stride, int slot, int start, int n, int heads, int kv_heads, int hd) {
    if (n <= 0) return;
    if (hd <= 32) launch_prefill<1>(out, out_dt, lse, q, kc, vc, cache_dt, slot_stride, slot, start, n, heads, kv_heads, hd);
    else if (hd <= 64) launch_prefill<2>(out, out_dt, lse, q, kc, vc, cache_dt, slot_stride, slot, start, n, heads, kv_heads, hd);
    else if (hd <= 128) launch_prefill<4>(out, out_dt, lse, q, kc, vc, cache_dt, slot_stride, slot, start, n, heads, kv_heads, hd);
    else if (hd <= 256) launch_prefill<8>(out, out_dt, lse, q, kc, vc, cache_dt, slot_stride, slot, start, n, heads, kv_heads, hd);
    else hfc_note_error("attn_prefill", "head_dim above 256");
    hfc_check_launch("attn_prefill");
}

/* ---------- decode ----------
 * Block = (sequence b, KV head g, chunk of up to 8 of the group's heads). Its 8 warps take the cached
 * positions in chunks of 32 (warp w: chunks w, w+8, ...); lane j scores key j of a chunk against every head
 * of the block, so each K row and each V row is loaded once for the whole group. The warps' partial
 * softmax states are merged in shared memory at the end. */
enum { DC_WARPS = 8, DC_HEADS = 8 };

template <int NDL>
__global__ void __launch_bounds__(DC_WARPS * 32)
k_attn_decode(void *out, hfc_dtype out_dt, const float *q, const void *kc, const void *vc, hfc_dtype cdt,
              size_t slot_stride, const int *slots, const int *lens, const int *rows, int heads, int kv_heads, int hd,
              float scale) {
    __shared__ float Qs[DC_HEADS][NDL * 32];
    __shared__ float wm[DC_WARPS][DC_HEADS];
    __shared__ float acc[DC_HEADS][NDL * 32];
    __shared__ float L[DC_HEADS];
    const int b = blockIdx.x, qr = rows ? rows[blockIdx.x] : blockIdx.x, g = blockIdx.y, G = heads / kv_heads, h0 = blockIdx.z * DC_HEADS;
    const int hc = min(DC_HEADS, G - h0), lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int kvd = kv_heads * hd, len = lens[b];
    const size_t cbase = (size_t)slots[b] * slot_stride + (size_t)g * hd;
    for (int i = threadIdx.x; i < DC_HEADS * NDL * 32; i += blockDim.x) {
        int h = i / (NDL * 32), d = i % (NDL * 32);
        Qs[h][d] = (h < hc && d < hd) ? q[((size_t)qr * heads + (size_t)g * G + h0 + h) * hd + d] * scale : 0.0f;
        acc[h][d] = 0.0f;
    }
    if (threadIdx.x < DC_HEADS) L[threadIdx.x] = 0.0f;
    __syncthreads();
    float o[DC_HEADS][NDL], m[DC_HEADS], l[DC_HEADS];
#pragma unroll
    for (int h = 0; h < DC_HEADS; h++) {
        m[h] = -INFINITY;
        l[h] = 0.0f;
#pragma unroll
        for (int i = 0; i < NDL; i++) o[h][i] = 0.0f;
    }
    for (int c0 = warp * 32; c0 < len; c0 += DC_WARPS * 32) {
        int p = c0 + lane;
        float s[DC_HEADS];
#pragma unroll
        for (int h = 0; h < DC_HEADS; h++) s[h] = 0.0f;
        if (p < len) {
            size_t off = cbase + (size_t)p * kvd;
            for (int d = 0; d < hd; d++) {
                float kv = load_as_f(kc, cdt, off + d);
#pragma unroll
                for (int h = 0; h < DC_HEADS; h++) s[h] = fmaf(Qs[h][d], kv, s[h]);
            }
        }
        float pj[DC_HEADS];
#pragma unroll
        for (int h = 0; h < DC_HEADS; h++) {
            float sv = p < len && h < hc ? s[h] : -INFINITY;
            float mx = warp_max(sv);
            float mn = fmaxf(m[h], mx); /* mx is finite: lane 0's key p = c0 < len exists */
            pj[h] = sv == -INFINITY ? 0.0f : expf(sv - mn);
            float alpha = m[h] == -INFINITY ? 0.0f : expf(m[h] - mn);
            l[h] = l[h] * alpha + warp_sum(pj[h]);
            m[h] = mn;
#pragma unroll
            for (int i = 0; i < NDL; i++) o[h][i] *= alpha;
        }
        int nj = min(32, len - c0);
        for (int j = 0; j < nj; j++) {
            size_t off = cbase + (size_t)(c0 + j) * kvd;
            float v[NDL];
#pragma unroll
            for (int i = 0; i < NDL; i++) {
                int d = lane + 32 * i;
                v[i] = d < hd ? load_as_f(vc, cdt, off + d) : 0.0f;
            }
#pragma unroll
            for (int h = 0; h < DC_HEADS; h++) {
                float w = __shfl_sync(0xffffffffu, pj[h], j);
#pragma unroll
                for (int i = 0; i < NDL; i++) o[h][i] = fmaf(w, v[i], o[h][i]);
            }
        }
    }
    /* merge the warps: the block's max per head, then every warp adds its rescaled state */
    if (lane == 0)
        for (int h = 0; h < DC_HEADS; h++) wm[warp][h] = m[h];
    __syncthreads();
#pragma unroll
    for (int h = 0; h < DC_HEADS; h++) {
        if (h >= hc) continue;
        float M = -INFINITY;
        for (int w = 0; w < DC_WARPS; w++) M = fmaxf(M, wm[w][h]);
        float f = m[h] == -INFINITY ? 0.0f : expf(m[h] - M);
        if (lane == 0 && f > 0.0f) atomicAdd(&L[h], l[h] * f);
        if (f > 0.0f)
#pragma unroll
            for (int i = 0; i < NDL; i++) atomicAdd(&acc[h][lane + 32 * i], o[h][i] * f);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < hc * hd; i += blockDim.x) {
        int h = i / hd, d = i % hd;
        store_as(out, out_dt, ((size_t)qr * heads + (size_t)g * G + h0 + h) * hd + d, acc[h][d] / L[h]);
    }
}

void hfc_attn_decode(void *out, hfc_dtype out_dt, const float *q, const void *kc, const void *vc, hfc_dtype cache_dt,
                     size_t slot_stride, const int *slot, const int *len, const int *rows, int B, int heads, int kv_heads,
                     int hd) {
    if (B <= 0) return;
    int G = heads / kv_heads;
    dim3 grid((unsigned)B, (unsigned)kv_heads, (unsigned)((G + DC_HEADS - 1) / DC_HEADS));
    float scale = 1.0f / sqrtf((float)hd);
#define DC_LAUNCH(N) k_attn_decode<N><<<grid, DC_WARPS * 32, 0, hfc_stream>>>(out, out_dt, q, kc, vc, cache_dt, \
                                                                               slot_stride, slot, len, rows, heads, kv_heads, hd, scale)
    if (hd <= 32) DC_LAUNCH(1);
    else if (hd <= 64) DC_LAUNCH(2);
    else if (hd <= 128) DC_LAUNCH(4);
    else if (hd <= 256) DC_LAUNCH(8);
    else hfc_note_error("attn_decode", "head_dim above 256");
#undef DC_LAUNCH
    hfc_check_launch("attn_decode");
}
