/* ops: the element-wise and row-wise kernels of the forward pass (see hf_cuda.h for each op's contract).
 * fp32 arithmetic everywhere; bf16 only at loads (weights, cache) and at the stores that feed a product. */
#include "backend/cuda/common.cuh"

__global__ void k_embed(float *out, const void *table, hfc_dtype dt, const int *tokens, int dim) {
    int row = blockIdx.x;
    size_t base = (size_t)tokens[row] * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) out[(size_t)row * dim + i] = load_as_f(table, dt, base + i);
}

void hfc_embed(float *out, const void *table, hfc_dtype dt, const int *tokens, int n, int dim) {
    if (n <= 0) return;
    k_embed<<<n, 256, 0, hfc_stream>>>(out, table, dt, tokens, dim);
    hfc_check_launch("embed");
}

/* One block per row; the sum of squares in double (as the CPU), reduced in a fixed tree (deterministic). */
__global__ void k_rmsnorm(void *out, hfc_dtype out_dt, float *rstd, const float *x, const float *w, int dim,
                          float eps) {
    __shared__ double part[32];
    __shared__ float s_r;
    const float *xr = x + (size_t)blockIdx.x * dim;
    double ss = 0.0;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += (double)xr[i] * xr[i];
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int i = 0; i < (int)(blockDim.x >> 5); i++) t += part[i];
        s_r = 1.0f / sqrtf((float)(t / dim) + eps);
        if (rstd) rstd[blockIdx.x] = s_r;
    }
    __syncthreads();
    float r = s_r;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        store_as(out, out_dt, (size_t)blockIdx.x * dim + i, xr[i] * r * w[i]);
}

void hfc_rmsnorm(void *out, hfc_dtype out_dt, float *rstd, const float *x, const float *w, int n, int dim, float eps) {
    if (n <= 0) return;
    k_rmsnorm<<<n, 256, 0, hfc_stream>>>(out, out_dt, rstd, x, w, dim, eps);
    hfc_check_launch("rmsnorm");
}

__global__ void k_bias_add(float *x, const float *b, size_t total, int dim) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < total) x[i] += b[i % dim];
}

void hfc_bias_add(float *x, const float *b, int n, int dim) {
    size_t total = (size_t)n * dim;
    if (!total) return;
    k_bias_add<<<hfc_blocks(total, 256), 256, 0, hfc_stream>>>(x, b, total, dim);
    hfc_check_launch("bias_add");
}

__global__ void k_residual_add(float *y, const float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += x[i];
}

void hfc_residual_add(float *y, const float *x, size_t n) {
    if (!n) return;
    k_residual_add<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(y, x, n);
    hfc_check_launch("residual_add");
}

/* One block per row (token); the angle as the CPU computes it: (float)pos * inv_freq, then cosf/sinf. */
__global__ void k_rope(float *x, const int *pos, const float *inv_freq, int heads, int hd) {
    int half = hd / 2;
    float *row = x + (size_t)blockIdx.x * heads * hd;
    float p = (float)pos[blockIdx.x];
    for (int t = threadIdx.x; t < heads * half; t += blockDim.x) {
        int h = t / half, i = t % half;
        float s, c;
        sincosf(p * inv_freq[i], &s, &c);
        float *v = row + (size_t)h * hd;
        float a = v[i], b = v[i + half];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
    }
}

void hfc_rope(float *x, const int *pos, const float *inv_freq, int n, int heads, int head_dim) {
    if (n <= 0) return;
    k_rope<<<n, 128, 0, hfc_stream>>>(x, pos, inv_freq, heads, head_dim);
    hfc_check_launch("rope");
}

__device__ __forceinline__ float silu(float g) { return g / (1.0f + expf(-g)); }

__global__ void k_silu_gate(void *out, hfc_dtype dt, const float *gu, size_t total, int inter) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    size_t r = i / inter, j = i % inter;
    const float *row = gu + r * 2 * (size_t)inter;
    store_as(out, dt, i, silu(row[j]) * row[inter + j]);
}

void hfc_silu_gate(void *out, hfc_dtype out_dt, const float *gate_up, int n, int inter) {
    size_t total = (size_t)n * inter;
    if (!total) return;
    k_silu_gate<<<hfc_blocks(total, 256), 256, 0, hfc_stream>>>(out, out_dt, gate_up, total, inter);
    hfc_check_launch("silu_gate");
}

__global__ void k_silu_mul(void *out, hfc_dtype dt, const float *g, const float *u, size_t total) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < total) store_as(out, dt, i, silu(g[i]) * u[i]);
}

void hfc_silu_mul(void *out, hfc_dtype out_dt, const float *gate, const float *up, int n, int inter) {
    size_t total = (size_t)n * inter;
    if (!total) return;
    k_silu_mul<<<hfc_blocks(total, 256), 256, 0, hfc_stream>>>(out, out_dt, gate, up, total);
    hfc_check_launch("silu_mul");
}

__global__ void k_kv_store(void *kc, void *vc, hfc_dtype dt, size_t slot_stride, const float *k, const float *v,
                           const int *slot, const int *pos, int kv_dim) {
    int r = blockIdx.x;
    size_t base = (size_t)slot[r] * slot_stride + (size_t)pos[r] * kv_dim;
    for (int i = threadIdx.x; i < kv_dim; i += blockDim.x) {
        store_as(kc, dt, base + i, k[(size_t)r * kv_dim + i]);
        store_as(vc, dt, base + i, v[(size_t)r * kv_dim + i]);
    }
}

void hfc_kv_store(void *kc, void *vc, hfc_dtype cache_dt, size_t slot_stride, const float *k, const float *v,
                  const int *slot, const int *pos, int n, int kv_dim) {
    if (n <= 0) return;
    k_kv_store<<<n, 128, 0, hfc_stream>>>(kc, vc, cache_dt, slot_stride, k, v, slot, pos, kv_dim);
    hfc_check_launch("kv_store");
}

/* A fork is contiguous copies: per layer and destination, the first len*kv_dim elements (keys and values). */
void hfc_kv_fork(void *kc, void *vc, hfc_dtype cache_dt, size_t slot_stride, size_t layer_stride, int kv_dim, int src,
                 const int *dst, int n, int len, int n_layers) {
    if (len <= 0) return;
    size_t esz = cache_dt == HFC_BF16 ? 2 : 4, bytes = (size_t)len * (size_t)kv_dim * esz;
    for (int d = 0; d < n; d++) {
        if (dst[d] == src) continue;
        for (int l = 0; l < n_layers; l++) {
            size_t from = ((size_t)src * slot_stride + (size_t)l * layer_stride) * esz;
            size_t to = ((size_t)dst[d] * slot_stride + (size_t)l * layer_stride) * esz;
            cudaMemcpyAsync((char *)kc + to, (const char *)kc + from, bytes, cudaMemcpyDeviceToDevice, hfc_stream);
            cudaMemcpyAsync((char *)vc + to, (const char *)vc + from, bytes, cudaMemcpyDeviceToDevice, hfc_stream);
        }
    }
    hfc_check_launch("kv_fork");
}

__global__ void k_advance(int *pos, int *len, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        if (pos) pos[i] += 1;
        if (len) len[i] += 1;
    }
}

void hfc_advance(int *pos, int *len, int n) {
    if (n <= 0) return;
    k_advance<<<hfc_blocks((size_t)n, 128), 128, 0, hfc_stream>>>(pos, len, n);
    hfc_check_launch("advance");
}

__global__ void k_fill_normal(void *p, hfc_dtype dt, size_t n, float std, uint64_t seed) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint64_t h = hfc_mix64(seed ^ hfc_mix64(i + 0x9e3779b97f4a7c15ULL));
    float u1 = ((float)(h >> 40) + 0.5f) * (1.0f / 16777216.0f);
    float u2 = (float)((h >> 16) & 0xffffff) * (1.0f / 16777216.0f);
    store_as(p, dt, i, std * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2));
}

void hfc_fill_normal(void *p, hfc_dtype dt, size_t n, float std, uint64_t seed) {
    if (!n) return;
    k_fill_normal<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(p, dt, n, std, seed);
    hfc_check_launch("fill_normal");
}

__global__ void k_fill_const(float *p, size_t n, float v) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) p[i] = v;
}

void hfc_fill_const(float *p, size_t n, float v) {
    if (!n) return;
    k_fill_const<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(p, n, v);
    hfc_check_launch("fill_const");
}

/* f32 -> f16 bits, round to nearest even (overflow to inf). */
__device__ __forceinline__ uint16_t f_to_f16(float f) {
    uint32_t u = __float_as_uint(f), s = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(s | 0x7e00u);
    if (a >= 0x477ff000u) return (uint16_t)(s | 0x7c00u); /* rounds to >= 65536: inf */
    if (a < 0x38800000u) {                                /* below 2^-14: subnormal half */
        float v = __uint_as_float(a) * 16777216.0f;         /* units of 2^-24 */
        return (uint16_t)(s | (uint32_t)__float2uint_rn(v));
    }
    uint32_t r = a - 0x38000000u; /* rebias exponent 127 -> 15 */
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(s | (r >> 13));
}

__global__ void k_convert(void *dst, hfc_dtype dt, const float *src, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    ((uint16_t *)dst)[i] = dt == HFC_F16 ? f_to_f16(src[i]) : f_to_bf16(src[i]);
}

void hfc_convert(void *dst, hfc_dtype dt, const float *src, size_t n) {
    if (!n) return;
    k_convert<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(dst, dt, src, n);
    hfc_check_launch("convert");
}

__global__ void k_split3(uint16_t *hi, uint16_t *mid, uint16_t *lo, const float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float v = x[i];
    uint16_t h = f_to_bf16(v);
    float r = v - bf16_to_f(h);
    uint16_t m = f_to_bf16(r);
    hi[i] = h;
    mid[i] = m;
    lo[i] = f_to_bf16(r - bf16_to_f(m));
}

void hfc_split3(uint16_t *hi, uint16_t *mid, uint16_t *lo, const float *x, size_t n) {
    if (!n) return;
    k_split3<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(hi, mid, lo, x, n);
    hfc_check_launch("split3");
}

__global__ void k_add(float *y, const float *a, const float *c, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a[i] + c[i];
}

void hfc_add(float *y, const float *a, const float *c, size_t n) {
    if (!n) return;
    k_add<<<hfc_blocks(n, 256), 256, 0, hfc_stream>>>(y, a, c, n);
    hfc_check_launch("add");
}

__global__ void k_gather_rows(float *dst, const float *src, const int *rows, int H) {
    const float *s = src + (size_t)rows[blockIdx.x] * H;
    for (int i = threadIdx.x; i < H; i += blockDim.x) dst[(size_t)blockIdx.x * H + i] = s[i];
}

void hfc_gather_rows(float *dst, const float *src, const int *rows, int n, int H) {
    if (n <= 0) return;
    k_gather_rows<<<n, 256, 0, hfc_stream>>>(dst, src, rows, H);
    hfc_check_launch("gather_rows");
}

/* Rows may repeat: atomics (the order of the additions to a repeated row is not fixed: fp32 rounding only). */
__global__ void k_scatter_add_rows(float *dst, const float *src, const int *rows, int H) {
    float *d = dst + (size_t)rows[blockIdx.x] * H;
    for (int i = threadIdx.x; i < H; i += blockDim.x) atomicAdd(&d[i], src[(size_t)blockIdx.x * H + i]);
}

void hfc_scatter_add_rows(float *dst, const float *src, const int *rows, int n, int H) {
    if (n <= 0) return;
    k_scatter_add_rows<<<n, 256, 0, hfc_stream>>>(dst, src, rows, H);
    hfc_check_launch("scatter_add_rows");
}

/* RoPE from a precomputed table cs [T, hd] (cos of the hd/2 frequencies, then their sin). */
__global__ void k_rope_cs(float *v, int nheads, int hd, const float *cs) {
    int half = hd / 2;
    float *row = v + (size_t)blockIdx.x * nheads * hd;
    const float *c = cs + (size_t)blockIdx.x * hd, *s = c + half;
    for (int t = threadIdx.x; t < nheads * half; t += blockDim.x) {
        int h = t / half, i = t % half;
        float *x = row + (size_t)h * hd;
        float a = x[i], b = x[i + half];
        x[i] = a * c[i] - b * s[i];
        x[i + half] = b * c[i] + a * s[i];
    }
}

void hfc_rope_cs(float *v, int T, int nheads, int hd, const float *cs) {
    if (T <= 0) return;
    k_rope_cs<<<T, 128, 0, hfc_stream>>>(v, nheads, hd, cs);
    hfc_check_launch("rope");
}

/* log softmax(row)[target], the exponentials summed in double in a fixed tree (as the CPU: max, then sum). */
__global__ void k_logprobs(float *lp, const float *logits, const int *targets, int V) {
    __shared__ float smax[32];
    __shared__ double ssum[32];
    const float *row = logits + (size_t)blockIdx.x * V;
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, row[i]);
    mx = warp_max(mx);
    if ((threadIdx.x & 31) == 0) smax[threadIdx.x >> 5] = mx;
    __syncthreads();
    mx = -INFINITY;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++) mx = fmaxf(mx, smax[i]);
    double s = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) s += exp((double)(row[i] - mx));
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if ((threadIdx.x & 31) == 0) ssum[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int i = 0; i < (int)(blockDim.x >> 5); i++) t += ssum[i];
        lp[blockIdx.x] = (float)((double)(row[targets[blockIdx.x]] - mx) - log(t));
    }
}

void hfc_logprobs(float *lp, const float *logits, const int *targets, int n, int V) {
    if (n <= 0) return;
    k_logprobs<<<n, 1024, 0, hfc_stream>>>(lp, logits, targets, V);
    hfc_check_launch("logprobs");
}
