/* train: the training ops of backend.h on the GPU (part 2 of the CUDA backend), beside their forwards in style:
 * one thread per element or one block per row, fp32 arithmetic, no atomics (every sum has a fixed order, so a
 * run repeats bit for bit on the same GPU: the deterministic mode is the only mode), products through cuBLAS.
 *
 * NOT RUN YET: written and compiled without a GPU. Present: AdamW (fp32 master, optional bf16 working copy),
 * the sum of squares for the global norm, scaling, SiLU-gate / RoPE / RMSNorm / dropout backward, the embedding
 * backward (one block per distinct token, rows in order), the linear backward products, the cross-entropy rows
 * (plain, and at a temperature for policy gradient), the packed causal attention backward (untiled). */
#include "backend/backend.h"
#include "backend/cuda/common.cuh"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------- AdamW, norm, scale ---------- */

__global__ void k_adamw(float *p, const float *g, float *m, float *v, uint16_t *p16, size_t n, bk_adamw_args a) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float pi = p[i] * a.decay;
    float mi = m[i] * a.beta1 + g[i] * (1.0f - a.beta1);
    float vi = v[i] * a.beta2 + g[i] * g[i] * (1.0f - a.beta2);
    float denom = __fadd_rn(__fdiv_rn(sqrtf(vi), a.bc2_sqrt), a.eps);
    pi = pi - __fdiv_rn(a.step_size * mi, denom);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
    if (p16) p16[i] = f_to_bf16(pi);
}

static void c_adamw(bk_backend *b, float *p, const float *g, float *m, float *v, uint16_t *p16, size_t n,
                    const bk_adamw_args *a) {
    (void)b;
    if (!n) return;
    k_adamw<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(p, g, m, v, p16, n, *a);
    hfc_check_launch("adamw");
}

enum { SS_BLOCKS = 1024, SS_THREADS = 256 };

/* Pass 1: block j sums a fixed strided share in double; pass 2: one block adds the partials in order. */
__global__ void k_sumsq_part(double *part, const float *x, size_t n) {
    __shared__ double sh[SS_THREADS];
    double s = 0;
    for (size_t i = (size_t)blockIdx.x * SS_THREADS + threadIdx.x; i < n; i += (size_t)SS_BLOCKS * SS_THREADS)
        s += (double)x[i] * x[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int o = SS_THREADS / 2; o > 0; o >>= 1) {
        if ((int)threadIdx.x < o) sh[threadIdx.x] += sh[threadIdx.x + o];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[blockIdx.x] = sh[0];
}
__global__ void k_sumsq_final(double *out, const double *part) {
    if (threadIdx.x == 0) {
        double s = 0;
        for (int i = 0; i < SS_BLOCKS; i++) s += part[i];
        *out = s;
    }
}

static double c_sumsq(bk_backend *b, const float *x, size_t n) {
    if (!n) return 0;
    double *d = NULL, h = NAN;
    if (cudaMalloc((void **)&d, (SS_BLOCKS + 1) * sizeof(double)) != cudaSuccess) {
        cudaGetLastError();
        snprintf(b->err, sizeof b->err, "sumsq: out of device memory");
        return NAN;
    }
    k_sumsq_part<<<SS_BLOCKS, SS_THREADS, 0, hfc_stream>>>(d + 1, x, n);
    k_sumsq_final<<<1, 32, 0, hfc_stream>>>(d, d + 1);
    hfc_check_launch("sumsq");
    if (cudaMemcpyAsync(&h, d, sizeof h, cudaMemcpyDeviceToHost, hfc_stream) != cudaSuccess ||
        cudaStreamSynchronize(hfc_stream) != cudaSuccess) {
        snprintf(b->err, sizeof b->err, "sumsq: %s", cudaGetErrorString(cudaGetLastError()));
        h = NAN;
    }
    cudaFree(d);
    return h;
}

__global__ void k_scale(float *x, size_t n, float s) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= s;
}
static void c_scale(bk_backend *b, float *x, size_t n, float s) {
    (void)b;
    if (!n) return;
    k_scale<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(x, n, s);
    hfc_check_launch("scale");
}

/* ---------- element-wise backward ---------- */

__global__ void k_swiglu_bwd(float *dg, float *du, const float *da, const float *g, const float *u, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i], s = 1.0f / (1.0f + expf(-gi)), silu = gi * s;
    float d = da[i];
    du[i] = d * silu;
    dg[i] = d * u[i] * (s * (1.0f + gi * (1.0f - s)));
}
static void c_swiglu_bwd(bk_backend *b, float *dg, float *du, const float *da, const float *g, const float *u,
                         size_t n) {
    (void)b;
    if (!n) return;
    k_swiglu_bwd<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(dg, du, da, g, u, n);
    hfc_check_launch("swiglu_bwd");
}

/* The inverse rotation of k_rope_cs. */
__global__ void k_rope_bwd(float *v, int nheads, int hd, const float *cs) {
    int half = hd / 2;
    float *row = v + (size_t)blockIdx.x * nheads * hd;
    const float *c = cs + (size_t)blockIdx.x * hd, *s = c + half;
    for (int t = threadIdx.x; t < nheads * half; t += blockDim.x) {
        int h = t / half, i = t % half;
        float *x = row + (size_t)h * hd;
        float a = x[i], bb = x[i + half];
        x[i] = a * c[i] + bb * s[i];
        x[i + half] = bb * c[i] - a * s[i];
    }
}
static void c_rope_bwd(bk_backend *b, float *dv, int T, int nheads, int hd, const float *cs) {
    (void)b;
    if (T <= 0) return;
    k_rope_bwd<<<T, 128, 0, hfc_stream>>>(dv, nheads, hd, cs);
    hfc_check_launch("rope_bwd");
}

/* The dropout mask of cpu.c (the same hash, so a mask drawn on either backend is the same mask). */
__device__ __forceinline__ float drop_scale(uint64_t key, size_t i, uint32_t threshold, float keep_scale) {
    uint32_t h = (uint32_t)(key ^ (key >> 32)) ^ ((uint32_t)i * 0x9e3779b1u) ^
                 ((uint32_t)((uint64_t)i >> 32) * 0x27d4eb2fu);
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return (h >> 16) < threshold ? 0.0f : keep_scale;
}
__global__ void k_dropout(float *dst, const float *x, size_t n, uint64_t key, uint32_t th, float ks, int add) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i] * drop_scale(key, i, th, ks);
    dst[i] = add ? dst[i] + v : v;
}
static void c_dropout(bk_backend *b, float *dst, const float *x, size_t n, uint64_t key, float p) {
    (void)b;
    if (!n) return;
    k_dropout<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(dst, x, n, key, (uint32_t)lrint((double)p * 65536.0),
                                                            1.0f / (1.0f - p), 0);
    hfc_check_launch("dropout");
}
static void c_dropout_bwd_add(bk_backend *b, float *dx, const float *g, size_t n, uint64_t key, float p) {
    (void)b;
    if (!n) return;
    k_dropout<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(dx, g, n, key, (uint32_t)lrint((double)p * 65536.0),
                                                            1.0f / (1.0f - p), 1);
    hfc_check_launch("dropout_bwd_add");
}

/* RMSNorm backward, one block per row: dx = r w dy - x r^3 mean(w dy x); dw is summed over rows by a second
 * kernel (one thread per column, rows in order: no atomics). */
__global__ void k_rmsnorm_bwd_dx(float *dx, const float *dy, const float *x, const float *w, const float *rstd, int H) {
    __shared__ double part[32];
    __shared__ float s_c;
    const size_t o = (size_t)blockIdx.x * H;
    const float r = rstd[blockIdx.x];
    double s = 0;
    for (int i = threadIdx.x; i < H; i += blockDim.x) s += (double)(dy[o + i] * w[i]) * x[o + i];
    for (int k = 16; k > 0; k >>= 1) s += __shfl_xor_sync(0xffffffffu, s, k);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0;
        for (int i = 0; i < (int)(blockDim.x >> 5); i++) t += part[i];
        s_c = (float)(t / H) * r * r * r;
    }
    __syncthreads();
    const float c = s_c;
    for (int i = threadIdx.x; i < H; i += blockDim.x) dx[o + i] = r * w[i] * dy[o + i] - x[o + i] * c;
}
__global__ void k_rmsnorm_bwd_dw(float *dw, const float *dy, const float *x, const float *rstd, int T, int H) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= H) return;
    float s = 0;
    for (int t = 0; t < T; t++) s += dy[(size_t)t * H + j] * x[(size_t)t * H + j] * rstd[t];
    dw[j] += s;
}
static void c_rmsnorm_bwd(bk_backend *b, float *dx, float *dw, const float *dy, const float *x, const float *w,
                          const float *rstd, int T, int H) {
    (void)b;
    if (T <= 0) return;
    if (dw) {
        k_rmsnorm_bwd_dw<<<hfc_blocks((size_t)H, 128), 128, 0, hfc_stream>>>(dw, dy, x, rstd, T, H);
        hfc_check_launch("rmsnorm_bwd dw");
    }
    k_rmsnorm_bwd_dx<<<T, 256, 0, hfc_stream>>>(dx, dy, x, w, rstd, H);
    hfc_check_launch("rmsnorm_bwd");
}

/* ---------- products ---------- */

__global__ void k_colsum_add(float *db, const float *dy, int M, int N) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= N) return;
    float s = 0;
    for (int t = 0; t < M; t++) s += dy[(size_t)t * N + j];
    db[j] += s;
}

/* dw [N, K] += dy^T x: column-major dw^T [K, N] += x^T [K, M] . dy [M, N]. */
static void c_linear_dw(bk_backend *b, float *dw, float *db, const float *dy, const float *x, int M, int N, int K) {
    (void)b;
    if (M <= 0) return;
    if (dw) hfc_sgemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dw, K);
    if (db) {
        k_colsum_add<<<hfc_blocks((size_t)N, 128), 128, 0, hfc_stream>>>(db, dy, M, N);
        hfc_check_launch("linear_dw bias");
    }
}

/* dx [M, K] (+)= dy [M, N] . W [N, K]: fp32 weights by SGEMM; bf16 weights widened to fp32 in a scratch copy
 * (exact, as the CPU without BK_FAST; the fast bf16 path is future work). */
__global__ void k_widen(float *dst, const uint16_t *src, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = bf16_to_f(src[i]);
}
static float *g_wide;
static size_t g_wide_cap;
static void c_linear_dx(bk_backend *b, float *dx, const float *dy, int M, const bk_weight *w, unsigned flags) {
    if (M <= 0) return;
    const int N = w->rows, K = w->cols;
    const float beta = (flags & BK_ACCUMULATE) ? 1.0f : 0.0f;
    const float *W = (const float *)w->data;
    if (w->dtype != BK_F32) {
        size_t n = (size_t)N * K;
        if (n > g_wide_cap) {
            cudaFree(g_wide);
            g_wide = NULL;
            g_wide_cap = 0;
            if (cudaMalloc((void **)&g_wide, n * sizeof(float)) != cudaSuccess) {
                cudaGetLastError();
                snprintf(b->err, sizeof b->err, "linear_dx: out of device memory for %zu floats", n);
                hfc_note_error("linear_dx", "out of device memory");
                return;
            }
            g_wide_cap = n;
        }
        k_widen<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(g_wide, (const uint16_t *)w->data, n);
        hfc_check_launch("linear_dx widen");
        W = g_wide;
    }
    hfc_sgemm(false, false, M, K, N, 1.0f, dy, N, W, K, beta, dx, K);
}

/* ---------- embedding backward: rows grouped by token on the host, each token's rows summed in order ---------- */

__global__ void k_embed_bwd(float *dtable, const float *dx, const int *tok, const int *start, const int *rows, int H) {
    const int u = blockIdx.x;
    float *d = dtable + (size_t)tok[u] * H;
    for (int j = threadIdx.x; j < H; j += blockDim.x) {
        float s = 0;
        for (int r = start[u]; r < start[u + 1]; r++) s += dx[(size_t)rows[r] * H + j];
        d[j] += s;
    }
}
static int cmp_pair(const void *a, const void *b) {
    const int *x = (const int *)a, *y = (const int *)b;
    return x[0] != y[0] ? (x[0] > y[0]) - (x[0] < y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}
static void c_embed_bwd(bk_backend *b, float *dtable, const float *dx, const int *tokens, int T, int H) {
    if (T <= 0) return;
    int *pair = (int *)malloc((size_t)T * 2 * sizeof(int)), *h = (int *)malloc((size_t)(3 * T + 1) * sizeof(int));
    if (!pair || !h) {
        free(pair);
        free(h);
        hfc_note_error("embed_bwd", "out of host memory");
        return;
    }
    for (int t = 0; t < T; t++) pair[2 * t] = tokens[t], pair[2 * t + 1] = t;
    qsort(pair, (size_t)T, 2 * sizeof(int), cmp_pair);
    int nu = 0;
    int *tok = h, *start = h + T, *rows = h + 2 * T + 1;
    for (int t = 0; t < T; t++) {
        if (t == 0 || pair[2 * t] != pair[2 * t - 2]) {
            tok[nu] = pair[2 * t];
            start[nu++] = t;
        }
        rows[t] = pair[2 * t + 1];
    }
    start[nu] = T;
    /* one staged block: tok[nu], start[nu + 1], rows[T] */
    memmove(h + nu, start, (size_t)(nu + 1) * sizeof(int));
    memmove(h + 2 * nu + 1, rows, (size_t)T * sizeof(int));
    int *d = (int *)hfc_bk_stage(b, 3, h, (size_t)(2 * nu + 1 + T), sizeof(int));
    if (d) {
        k_embed_bwd<<<nu, 256, 0, hfc_stream>>>(dtable, dx, d, d + nu, d + 2 * nu + 1, H);
        hfc_check_launch("embed_bwd");
    }
    /* the staging copy is stream-ordered but reads h asynchronously: wait before freeing it */
    cudaStreamSynchronize(hfc_stream);
    free(pair);
    free(h);
}

/* ---------- cross-entropy rows (the loss of fwd_loss's chunks) ---------- */

__global__ void k_xent(float *logits, const int *targets, float *nll, int V, float scale) {
    __shared__ float smax[32];
    __shared__ double ssum[32];
    __shared__ float s_lse;
    float *row = logits + (size_t)blockIdx.x * V;
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, row[i]);
    mx = warp_max(mx);
    if ((threadIdx.x & 31) == 0) smax[threadIdx.x >> 5] = mx;
    __syncthreads();
    mx = -INFINITY;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++) mx = fmaxf(mx, smax[i]);
    double s = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) s += (double)expf(row[i] - mx);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0) ssum[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int i = 0; i < (int)(blockDim.x >> 5); i++) t += ssum[i];
        s_lse = mx + (float)log(t);
        nll[blockIdx.x] = s_lse - row[targets[blockIdx.x]];
    }
    __syncthreads();
    if (scale == 0.0f) return;
    const float lse = s_lse;
    const int tg = targets[blockIdx.x];
    for (int i = threadIdx.x; i < V; i += blockDim.x) row[i] = scale * (expf(row[i] - lse) - (i == tg ? 1.0f : 0.0f));
}
static void c_xent(bk_backend *b, float *logits, const int *targets, float *nll, int n, int V, float scale) {
    if (n <= 0) return;
    const int *d = (const int *)hfc_bk_stage(b, 0, targets, (size_t)n, sizeof(int));
    if (!d) return;
    k_xent<<<n, 1024, 0, hfc_stream>>>(logits, d, nll, V, scale);
    hfc_check_launch("xent");
}

/* ---------- cross-entropy at a temperature (policy gradient: rl/) ----------
 * One block per row, as k_xent: s = inv_temp * (row - max), lp = s[target] - lse(s), the entropy lse - sum p s,
 * then (scale not NULL) the row becomes scale[r] * inv_temp * (softmax(s) - onehot). Sums of exponentials in
 * double, in a fixed order. */
__device__ float block_max(float v, float *sh) {
    v = warp_max(v);
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
    __syncthreads();
    float m = -INFINITY;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++) m = fmaxf(m, sh[i]);
    __syncthreads();
    return m;
}
__device__ double block_sum(double v, double *sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
    __syncthreads();
    double t = 0.0;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++) t += sh[i];
    __syncthreads();
    return t;
}

__global__ void k_xent_temp(float *logits, const int *targets, float *lp, float *ent, const float *scale, int V,
                            float inv_temp) {
    __shared__ float smax[32];
    __shared__ double ssum[32];
    float *row = logits + (size_t)blockIdx.x * V;
    const int tg = targets[blockIdx.x];
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, row[i]);
    mx = block_max(mx, smax);
    double s = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) s += (double)expf((row[i] - mx) * inv_temp);
    const float lse = (float)log(block_sum(s, ssum));
    if (threadIdx.x == 0) lp[blockIdx.x] = (row[tg] - mx) * inv_temp - lse;
    if (ent) {
        double ps = 0.0;
        for (int i = threadIdx.x; i < V; i += blockDim.x) {
            const float si = (row[i] - mx) * inv_temp;
            ps += (double)(expf(si - lse) * si);
        }
        ps = block_sum(ps, ssum);
        if (threadIdx.x == 0) ent[blockIdx.x] = (float)((double)lse - ps);
    }
    if (!scale) return;
    __syncthreads(); /* lp read row[tg] */
    const float g = scale[blockIdx.x] * inv_temp;
    for (int i = threadIdx.x; i < V; i += blockDim.x) row[i] = g * expf((row[i] - mx) * inv_temp - lse);
    __syncthreads();
    if (threadIdx.x == 0) row[tg] -= g;
}
static void c_xent_temp(bk_backend *b, float *logits, const int *targets, float *lp, float *ent, int n, int V,
                        float inv_temp, const float *host_scale) {
    if (n <= 0) return;
    const int *d = (const int *)hfc_bk_stage(b, 0, targets, (size_t)n, sizeof(int));
    const float *ds = host_scale ? (const float *)hfc_bk_stage(b, 1, host_scale, (size_t)n, sizeof(float)) : NULL;
    if (!d || (host_scale && !ds)) return;
    k_xent_temp<<<n, 1024, 0, hfc_stream>>>(logits, d, lp, ent, ds, V, inv_temp);
    hfc_check_launch("xent_temp");
}

/* ---------- attention backward (packed causal GQA, one sequence per launch) ----------
 * With the forward's probabilities recomputed from its log-sum-exp, p_ij = exp(scale q_i.k_j - lse_i), and
 * D_i = dout_i.out_i: dv_j = sum_i p_ij dout_i; ds_ij = p_ij (dout_i.v_j - D_i); dq_i = scale sum_j ds_ij k_j;
 * dk_j = scale sum_i ds_ij q_i, i over the rows (and the group's heads) that see key j. Two passes recompute the
 * products so that neither needs atomics: one warp per (query row, head) writes dq and D, then one warp per
 * (key row, KV head) writes dk and dv; every sum has a fixed order. O(n^2 hd) per head and untiled: each K/V
 * (or Q) row is read from memory by every warp that needs it. Lanes own dims d = lane + 32 i. */
enum { AB_WARPS = 8 };

template <int NDL>
__global__ void __launch_bounds__(AB_WARPS * 32)
k_attn_bwd_dq(float *dq, float *D, const float *dout, const float *out, const float *lse, const float *q,
              const float *k, const float *v, int n, int nh, int nkv, int hd, float scale) {
    const int lane = threadIdx.x & 31, w = blockIdx.x * AB_WARPS + (threadIdx.x >> 5);
    if (w >= n * nh) return;
    const int t = w / nh, h = w % nh, g = h / (nh / nkv);
    const size_t qo = ((size_t)t * nh + h) * hd;
    float qr[NDL], dor[NDL], acc[NDL], dd = 0.0f;
#pragma unroll
    for (int i = 0; i < NDL; i++) {
        const int d = lane + 32 * i;
        qr[i] = d < hd ? q[qo + d] * scale : 0.0f;
        dor[i] = d < hd ? dout[qo + d] : 0.0f;
        acc[i] = 0.0f;
        if (d < hd) dd = fmaf(dor[i], out[qo + d], dd);
    }
    dd = warp_sum(dd);
    if (lane == 0) D[(size_t)t * nh + h] = dd;
    const float L = lse[(size_t)t * nh + h];
    for (int j = 0; j <= t; j++) {
        const size_t ko = ((size_t)j * nkv + g) * hd;
        float s = 0.0f, dp = 0.0f;
#pragma unroll
        for (int i = 0; i < NDL; i++) {
            const int d = lane + 32 * i;
            if (d < hd) {
                s = fmaf(qr[i], k[ko + d], s);
                dp = fmaf(dor[i], v[ko + d], dp);
            }
        }
        s = warp_sum(s);
        dp = warp_sum(dp);
        const float ds = expf(s - L) * (dp - dd);
#pragma unroll
        for (int i = 0; i < NDL; i++) {
            const int d = lane + 32 * i;
            if (d < hd) acc[i] = fmaf(ds, k[ko + d], acc[i]);
        }
    }
#pragma unroll
    for (int i = 0; i < NDL; i++) {
        const int d = lane + 32 * i;
        if (d < hd) dq[qo + d] = acc[i] * scale;
    }
}

template <int NDL>
__global__ void __launch_bounds__(AB_WARPS * 32)
k_attn_bwd_dkv(float *dk, float *dv, const float *D, const float *dout, const float *lse, const float *q,
               const float *k, const float *v, int n, int nh, int nkv, int hd, float scale) {
    const int lane = threadIdx.x & 31, w = blockIdx.x * AB_WARPS + (threadIdx.x >> 5);
    if (w >= n * nkv) return;
    const int j = w / nkv, g = w % nkv, G = nh / nkv;
    const size_t ko = ((size_t)j * nkv + g) * hd;
    float kr[NDL], vr[NDL], adk[NDL], adv[NDL];
#pragma unroll
    for (int i = 0; i < NDL; i++) {
        const int d = lane + 32 * i;
        kr[i] = d < hd ? k[ko + d] : 0.0f;
        vr[i] = d < hd ? v[ko + d] : 0.0f;
        adk[i] = adv[i] = 0.0f;
    }
    for (int hh = 0; hh < G; hh++) {
        const int h = g * G + hh;
        for (int t = j; t < n; t++) {
            const size_t qo = ((size_t)t * nh + h) * hd;
            float s = 0.0f, dp = 0.0f;
#pragma unroll
            for (int i = 0; i < NDL; i++) {
                const int d = lane + 32 * i;
                if (d < hd) {
                    s = fmaf(q[qo + d] * scale, kr[i], s);
                    dp = fmaf(dout[qo + d], vr[i], dp);
                }
            }
            s = warp_sum(s);
            dp = warp_sum(dp);
            const float p = expf(s - lse[(size_t)t * nh + h]);
            const float ds = p * (dp - D[(size_t)t * nh + h]);
#pragma unroll
            for (int i = 0; i < NDL; i++) {
                const int d = lane + 32 * i;
                if (d < hd) {
                    adv[i] = fmaf(p, dout[qo + d], adv[i]);
                    adk[i] = fmaf(ds, q[qo + d], adk[i]);
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < NDL; i++) {
        const int d = lane + 32 * i;
        if (d < hd) {
            dk[ko + d] = adk[i] * scale;
            dv[ko + d] = adv[i];
        }
    }
}

template <int NDL>
static void launch_attn_bwd(float *dq, float *dk, float *dv, float *D, const float *dout, const float *out,
                            const float *lse, const float *q, const float *k, const float *v, int n, int nh, int nkv,
                            int hd) {
    const float scale = 1.0f / sqrtf((float)hd);
    k_attn_bwd_dq<NDL><<<hfc_blocks((size_t)n * nh, AB_WARPS), AB_WARPS * 32, 0, hfc_stream>>>(
        dq, D, dout, out, lse, q, k, v, n, nh, nkv, hd, scale);
    k_attn_bwd_dkv<NDL><<<hfc_blocks((size_t)n * nkv, AB_WARPS), AB_WARPS * 32, 0, hfc_stream>>>(
        dk, dv, D, dout, lse, q, k, v, n, nh, nkv, hd, scale);
}

static float *g_delta; /* D of attn_bwd, [T, nh] */
static size_t g_delta_cap;

static void c_attn_bwd(bk_backend *b, float *dq, float *dk, float *dv, const float *dout, const float *out,
                       const float *lse, const float *q, const float *k, const float *v, int n_seqs,
                       const int *seq_start, int nh, int nkv, int hd) {
    const int T = seq_start[n_seqs] - seq_start[0];
    if (T <= 0) return;
    if (hd > 256 || nh % nkv) {
        hfc_note_error("attn_bwd", hd > 256 ? "head_dim above 256" : "query heads not a multiple of KV heads");
        return;
    }
    const size_t need = (size_t)T * nh;
    if (need > g_delta_cap) {
        cudaFree(g_delta);
        g_delta = NULL;
        g_delta_cap = 0;
        if (cudaMalloc((void **)&g_delta, need * sizeof(float)) != cudaSuccess) {
            cudaGetLastError();
            snprintf(b->err, sizeof b->err, "attn_bwd: out of device memory for %zu floats", need);
            hfc_note_error("attn_bwd", "out of device memory");
            return;
        }
        g_delta_cap = need;
    }
    const size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    for (int s = 0; s < n_seqs; s++) {
        const int t0 = seq_start[s], n = seq_start[s + 1] - t0;
        if (n <= 0) continue;
        const size_t o = (size_t)t0 - (size_t)seq_start[0];
        float *D = g_delta + o * nh;
        const float *L = lse + (size_t)t0 * nh;
#define AB_ARGS dq + t0 * qd, dk + t0 * kvd, dv + t0 * kvd, D, dout + t0 * qd, out + t0 * qd, L, q + t0 * qd, \
                k + t0 * kvd, v + t0 * kvd, n, nh, nkv, hd
        if (hd <= 32) launch_attn_bwd<1>(AB_ARGS);
        else if (hd <= 64) launch_attn_bwd<2>(AB_ARGS);
        else if (hd <= 128) launch_attn_bwd<4>(AB_ARGS);
        else launch_attn_bwd<8>(AB_ARGS);
#undef AB_ARGS
    }
    hfc_check_launch("attn_bwd");
}

void hfc_train_ops(bk_ops *o) {
    o->adamw = c_adamw;
    o->sumsq = c_sumsq;
    o->scale = c_scale;
    o->swiglu_bwd = c_swiglu_bwd;
    o->rope_bwd = c_rope_bwd;
    o->dropout = c_dropout;
    o->dropout_bwd_add = c_dropout_bwd_add;
    o->rmsnorm_bwd = c_rmsnorm_bwd;
    o->linear_dw = c_linear_dw;
    o->linear_dx = c_linear_dx;
    o->embed_bwd = c_embed_bwd;
    o->xent = c_xent;
    o->xent_temp = c_xent_temp;
    o->attn_bwd = c_attn_bwd;
}

void hfc_train_shutdown(void) {
    cudaFree(g_wide);
    g_wide = NULL;
    g_wide_cap = 0;
    cudaFree(g_delta);
    g_delta = NULL;
    g_delta_cap = 0;
}
