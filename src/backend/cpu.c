/* The CPU backend: the ops of backend.h on host memory with today's kernels (src/kernels for the products,
 * src/train/train_ops.c for the training ops, the decode/prefill attention loops over the KV cache here). The
 * ops use OpenMP inside; each opens at most one parallel region (the q/k/v and gate/up products one for all
 * their matrices), so a decode step forks as few times per layer as the model did before the backend existed. */
#include "backend/backend.h"

#include "kernels/expf.h"
#include "kernels/matmul.h"
#include "train/train_ops.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(bk_weight) == sizeof(mm_weight) && offsetof(bk_weight, dtype) == offsetof(mm_weight, dtype) &&
                   offsetof(bk_weight, rows) == offsetof(mm_weight, rows) &&
                   offsetof(bk_weight, cols) == offsetof(mm_weight, cols) &&
                   offsetof(bk_weight, data) == offsetof(mm_weight, data),
               "bk_weight and mm_weight must have one layout");
_Static_assert((int)BK_F32 == (int)MM_DTYPE_F32 && (int)BK_BF16 == (int)MM_DTYPE_BF16 && (int)BK_F16 == (int)MM_DTYPE_F16,
               "dtype numbering");
_Static_assert((int)BK_ACCUMULATE == (int)MM_ACCUMULATE && (int)BK_FAST == (int)MM_FAST, "flag numbering");
_Static_assert(BK_LINEAR_MAX == MM_MANY_MAX, "most products per call");

static inline const mm_weight *mmw(const bk_weight *w) { return (const mm_weight *)(const void *)w; }

/* ---------- memory ---------- */

static void *cpu_alloc(bk_backend *b, size_t bytes) {
    (void)b;
    size_t n = (bytes + 63) & ~(size_t)63;
    return aligned_alloc(64, n ? n : 64);
}
static void cpu_free(bk_backend *b, void *p) { (void)b; free(p); }
static int cpu_upload(bk_backend *b, void *dst, const void *src, size_t n) {
    (void)b;
    if (n) memcpy(dst, src, n);
    return 0;
}
static void cpu_copy(bk_backend *b, void *dst, const void *src, size_t n) {
    (void)b;
    if (n) memcpy(dst, src, n);
}
static void cpu_zero(bk_backend *b, float *p, size_t n) {
    (void)b;
    if (n) memset(p, 0, n * sizeof(float));
}
static int cpu_sync(bk_backend *b) { (void)b; return 0; }
static const void *cpu_weight_map(bk_backend *b, const void *host, size_t bytes) {
    (void)b; (void)bytes;
    return host;
}
static void cpu_weight_unmap(bk_backend *b, const void *p) { (void)b; (void)p; }

static int g_max_threads; /* omp_get_max_threads() when the backend was first asked for */

static void cpu_set_threads(bk_backend *b, int n, bool blas_threads) {
    (void)b;
    if (n <= 0) n = g_max_threads;
    omp_set_num_threads(n);
    openblas_set_num_threads(blas_threads ? n : 1);
}

/* ---------- embedding ---------- */

static void cpu_embed(bk_backend *b, float *x, const bk_weight *table, const int *tokens, int T) {
    (void)b;
    for (int t = 0; t < T; t++) mm_weight_row(x + (size_t)t * table->cols, mmw(table), tokens[t]);
}

static void cpu_embed_bwd(bk_backend *b, float *dtable, const float *dx, const int *tokens, int T, int H) {
    (void)b;
    for (int t = 0; t < T; t++) {
        float *d = dtable + (size_t)tokens[t] * H;
        const float *g = dx + (size_t)t * H;
        for (int j = 0; j < H; j++) d[j] += g[j];
    }
}

/* ---------- RMSNorm, RoPE ---------- */

static void cpu_rmsnorm(bk_backend *b, float *y, float *rstd, const float *x, const float *w, int T, int H, float eps) {
    (void)b;
#pragma omp parallel for schedule(static) if ((size_t)T * H > 32768)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * H;
        float *o = y + (size_t)t * H;
        double ss = 0;
        for (int i = 0; i < H; i++) ss += (double)xr[i] * xr[i];
        float r = 1.0f / sqrtf((float)(ss / H) + eps);
        if (rstd) rstd[t] = r;
        for (int i = 0; i < H; i++) o[i] = xr[i] * r * w[i];
    }
}

static void cpu_rmsnorm_bwd(bk_backend *b, float *dx, float *dw, const float *dy, const float *x, const float *w,
                            const float *rstd, int T, int H) {
    (void)b;
    train_rmsnorm_bwd(dx, dw, dy, x, w, rstd, T, H);
}

static void cpu_rope_table(bk_backend *b, float *cs, const int *pos, int T, int hd, float theta) {
    (void)b;
    const int half = hd / 2;
    float inv[512];
    if (half > 512) { /* no model has such heads; computed per element rather than allocated */
        for (int t = 0; t < T; t++)
            for (int i = 0; i < half; i++) {
                float ang = (float)pos[t] * (1.0f / powf(theta, (float)(2 * i) / (float)hd));
                cs[(size_t)t * hd + i] = cosf(ang);
                cs[(size_t)t * hd + half + i] = sinf(ang);
            }
        return;
    }
    /* As Hugging Face computes it: in fp32, theta ** (2j / hd). */
    for (int j = 0; j < half; j++) inv[j] = 1.0f / powf(theta, (float)(2 * j) / (float)hd);
    train_rope_table(cs, pos, T, hd, inv);
}

static void cpu_rope(bk_backend *b, float *v, int T, int nheads, int hd, const float *cs) {
    (void)b;
    train_rope_fwd(v, T, nheads, hd, cs);
}
static void cpu_rope_bwd(bk_backend *b, float *dv, int T, int nheads, int hd, const float *cs) {
    (void)b;
    train_rope_bwd(dv, T, nheads, hd, cs);
}

/* ---------- products ---------- */

static void cpu_linear(bk_backend *b, int count, float *const *ys, const bk_weight *const *ws,
                       const float *const *biases, const float *x, int M, unsigned flags) {
    (void)b;
    mm_linear_many(count, ys, (const mm_weight *const *)(const void *)ws, biases, x, M, flags);
}
static void cpu_linear_dx(bk_backend *b, float *dx, const float *dy, int M, const bk_weight *w, unsigned flags) {
    (void)b;
    mm_linear_dx(dx, dy, M, mmw(w), flags);
}
static void cpu_linear_dw(bk_backend *b, float *dw, float *db, const float *dy, const float *x, int M, int N, int K) {
    (void)b;
    train_matmul_dw(dw, db, dy, x, M, N, K);
}
static void cpu_gemm(bk_backend *b, bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
    (void)b;
    train_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---------- dropout: a counter-based hash, so the backward redraws the forward's mask ---------- */

/* Scale of element i: 0 (dropped) or 1 / (1 - p), from the top 16 bits of a 32-bit hash of (key, i) (Murmur3's
 * finaliser): 32-bit lanes, so the loops over a layer's inputs vectorise. */
static inline float drop_scale(uint64_t key, size_t i, uint32_t threshold, float keep_scale) {
    uint32_t h = (uint32_t)(key ^ (key >> 32)) ^ ((uint32_t)i * 0x9e3779b1u) ^ ((uint32_t)((uint64_t)i >> 32) * 0x27d4eb2fu);
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return (h >> 16) < threshold ? 0.0f : keep_scale;
}

static inline uint32_t drop_threshold(float p) { return (uint32_t)lrint((double)p * 65536.0); }

static void cpu_dropout(bk_backend *b, float *dst, const float *x, size_t n, uint64_t key, float p) {
    (void)b;
    const float ks = 1.0f / (1.0f - p);
    const uint32_t th = drop_threshold(p);
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) dst[i] = x[i] * drop_scale(key, i, th, ks);
}

static void cpu_dropout_bwd_add(bk_backend *b, float *dx, const float *g, size_t n, uint64_t key, float p) {
    (void)b;
    const float ks = 1.0f / (1.0f - p);
    const uint32_t th = drop_threshold(p);
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) dx[i] += g[i] * drop_scale(key, i, th, ks);
}

/* ---------- packed attention (training, scoring) ---------- */

static void cpu_attn(bk_backend *b, float *out, float *lse, const float *q, const float *k, const float *v, int n_seqs,
                     const int *seq_start, int nh, int nkv, int hd) {
    (void)b;
    train_attn_fwd(out, lse, q, k, v, n_seqs, seq_start, nh, nkv, hd);
}
static void cpu_attn_bwd(bk_backend *b, float *dq, float *dk, float *dv, const float *dout, const float *out,
                         const float *lse, const float *q, const float *k, const float *v, int n_seqs,
                         const int *seq_start, int nh, int nkv, int hd) {
    (void)b;
    train_attn_bwd(dq, dk, dv, dout, out, lse, q, k, v, n_seqs, seq_start, nh, nkv, hd);
}

/* ---------- KV cache ---------- */

struct bk_kv {
    int n_slots, max_len, n_layers, kv_dim;
    bool bf16;    /* elements are bf16 bits (uint16_t) instead of floats */
    size_t esz;   /* bytes per element */
    char *k, *v;  /* [slot][layer][pos][kv_dim] */
    /* scratch of kv_attn, grown on demand and kept (a decode step calls it once per layer) */
    float *scores, *blk;
    size_t scores_cap, blk_cap;
    int *run_of, *runs;
    size_t run_of_cap, runs_cap;
};

static bk_kv *cpu_kv_create(bk_backend *b, int n_slots, int max_len, int n_layers, int kv_dim, bool bf16) {
    (void)b;
    if (n_slots <= 0 || max_len <= 0 || n_layers <= 0 || kv_dim <= 0) return NULL;
    bk_kv *kv = calloc(1, sizeof *kv);
    if (!kv) return NULL;
    kv->n_slots = n_slots;
    kv->max_len = max_len;
    kv->n_layers = n_layers;
    kv->kv_dim = kv_dim;
    kv->bf16 = bf16;
    kv->esz = bf16 ? 2 : 4;
    size_t per = (size_t)n_layers * (size_t)max_len * (size_t)kv_dim;
    if ((size_t)n_slots > SIZE_MAX / kv->esz / per) { free(kv); return NULL; }
    /* calloc of a large block maps zero pages lazily: memory is used only as slots fill. */
    kv->k = calloc((size_t)n_slots * per, kv->esz);
    kv->v = calloc((size_t)n_slots * per, kv->esz);
    if (!kv->k || !kv->v) {
        free(kv->k);
        free(kv->v);
        free(kv);
        return NULL;
    }
    return kv;
}

static void cpu_kv_free(bk_backend *b, bk_kv *kv) {
    (void)b;
    if (!kv) return;
    free(kv->k);
    free(kv->v);
    free(kv->scores);
    free(kv->blk);
    free(kv->run_of);
    free(kv->runs);
    free(kv);
}

/* Byte offset of (slot, layer, pos). */
static inline size_t kv_off(const bk_kv *kv, int slot, int layer, int pos) {
    return (((size_t)slot * kv->n_layers + (size_t)layer) * kv->max_len + (size_t)pos) * kv->kv_dim * kv->esz;
}

static void cpu_kv_copy(bk_backend *b, bk_kv *kv, int dst, int src, int n) {
    (void)b;
    if (dst == src || n <= 0) return;
    for (int l = 0; l < kv->n_layers; l++) {
        memcpy(kv->k + kv_off(kv, dst, l, 0), kv->k + kv_off(kv, src, l, 0), (size_t)n * kv->kv_dim * kv->esz);
        memcpy(kv->v + kv_off(kv, dst, l, 0), kv->v + kv_off(kv, src, l, 0), (size_t)n * kv->kv_dim * kv->esz);
    }
}

/* Grows a scratch array to at least n elements of size esz; 0 or -1. */
static int grow(void **p, size_t *cap, size_t n, size_t esz) {
    if (n <= *cap) return 0;
    void *q = realloc(*p, n * esz);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* Decode attention of the group query heads that share one KV head, over an fp32 cache: out[i] =
 * softmax(scale * q[i] . K[p]) . V[p] over the n cached positions p. q and out hold group rows of hd
 * floats; K and V rows are kvd floats apart; scores is scratch for group * n floats. Own loops (AVX-512
 * where the build has it, plain loops the compiler vectorises otherwise): with a handful of queries
 * against a few hundred keys, a BLAS call costs more than the arithmetic (it made attention 55% of a
 * 256-token decode). */
static void attend_decode_f32(float *out, const float *q, const float *K, const float *V, size_t kvd, int group,
                              int n, int hd, float scale, float *scores) {
    for (int p = 0; p < n; p++) {
        const float *kr = K + (size_t)p * kvd;
        for (int i = 0; i < group; i++) {
            const float *qi = q + (size_t)i * hd;
            float d = 0;
#ifdef __AVX512F__
            if (hd % 16 == 0) { /* one tree reduction per dot product, not a scalar loop over the lanes */
                __m512 acc = _mm512_setzero_ps();
                for (int j = 0; j < hd; j += 16)
                    acc = _mm512_fmadd_ps(_mm512_loadu_ps(qi + j), _mm512_loadu_ps(kr + j), acc);
                scores[(size_t)i * n + p] = _mm512_reduce_add_ps(acc) * scale;
                continue;
            }
#endif
#pragma omp simd reduction(+ : d)
            for (int j = 0; j < hd; j++) d += qi[j] * kr[j];
            scores[(size_t)i * n + p] = d * scale;
        }
    }
    for (int i = 0; i < group; i++) {
        mm_softmax_row(scores + (size_t)i * n, n);
        memset(out + (size_t)i * hd, 0, (size_t)hd * sizeof(float));
    }
#ifdef __AVX512F__
    if (group <= 8 && hd % 32 == 0) { /* every Qwen2.5 size: the group's outputs stay in registers, 32 dims at a time */
        for (int h0 = 0; h0 < hd; h0 += 32) {
            __m512 a0[8], a1[8];
            for (int i = 0; i < group; i++) a0[i] = a1[i] = _mm512_setzero_ps();
            for (int p = 0; p < n; p++) {
                const float *vr = V + (size_t)p * kvd + h0;
                const __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);
                for (int i = 0; i < group; i++) {
                    const __m512 w = _mm512_set1_ps(scores[(size_t)i * n + p]);
                    a0[i] = _mm512_fmadd_ps(w, v0, a0[i]);
                    a1[i] = _mm512_fmadd_ps(w, v1, a1[i]);
                }
            }
            for (int i = 0; i < group; i++) {
                _mm512_storeu_ps(out + (size_t)i * hd + h0, a0[i]);
                _mm512_storeu_ps(out + (size_t)i * hd + h0 + 16, a1[i]);
            }
        }
        return;
    }
#endif
    for (int p = 0; p < n; p++) {
        const float *vr = V + (size_t)p * kvd;
        for (int i = 0; i < group; i++) {
            const float w = scores[(size_t)i * n + p];
            float *oi = out + (size_t)i * hd;
#pragma omp simd
            for (int j = 0; j < hd; j++) oi[j] += w * vr[j];
        }
    }
}

/* Blocked attention for prompt rows: runs of at least ATT_BLOCK_MIN rows, ATT_QB queries per block. */
#define ATT_BLOCK_MIN 16
#define ATT_QB 64

static int cpu_kv_attn(bk_backend *b, bk_kv *kv, int l, float *out, float *q, float *k, const float *v,
                        const float *cs, int T, const int *slot, const int *pos, int nh, int nkv, int hd) {
    (void)b;
    const int qd = nh * hd, kvd = nkv * hd, group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)hd);
    const int nthreads = omp_get_max_threads();
    int maxpos = 0;
    long attn_work = 0; /* multiply-adds of the layer's attention */
    for (int t = 0; t < T; t++) {
        maxpos = pos[t] + 1 > maxpos ? pos[t] + 1 : maxpos;
        attn_work += (long)(pos[t] + 1) * nh * hd;
    }
    /* Scratch: decode scores per thread; prompt rows (runs of >= ATT_BLOCK_MIN consecutive rows of one slot, fp32
     * cache) take the blocked path: per head and block of ATT_QB queries, scores and weighted values are two small
     * sgemms. */
    if (grow((void **)&kv->scores, &kv->scores_cap, (size_t)nthreads * group * maxpos, sizeof(float)) != 0 ||
        grow((void **)&kv->run_of, &kv->run_of_cap, (size_t)T, sizeof(int)) != 0 ||
        grow((void **)&kv->runs, &kv->runs_cap, (size_t)T, sizeof(int)) != 0)
        return -1;
    int nruns = 0, n_att_tasks = 0;
    int *run_of = kv->run_of, *runs = kv->runs;
    for (int t = 0; t < T;) {
        int e = t + 1;
        while (e < T && slot[e] == slot[t] && pos[e] == pos[e - 1] + 1) e++;
        bool blocked = !kv->bf16 && e - t >= ATT_BLOCK_MIN;
        for (int r = t; r < e; r++) run_of[r] = blocked ? nruns : -1;
        if (blocked) {
            runs[nruns++] = t;
            n_att_tasks += (e - t + ATT_QB - 1) / ATT_QB * nh;
        }
        t = e;
    }
    if (nruns && grow((void **)&kv->blk, &kv->blk_cap, (size_t)nthreads * ATT_QB * maxpos, sizeof(float)) != 0)
        return -1;
    float *scores = kv->scores, *blk = kv->blk;
    for (int t = 0; t < T; t++) {
        const float *c = cs + (size_t)t * hd;
        /* train_rope_fwd on one row: the same rotation the packed path applies */
        train_rope_fwd(q + (size_t)t * qd, 1, nh, hd, c);
        train_rope_fwd(k + (size_t)t * kvd, 1, nkv, hd, c);
        size_t off = kv_off(kv, slot[t], l, pos[t]);
        if (kv->bf16) {
            uint16_t *kd = (uint16_t *)(kv->k + off), *vd = (uint16_t *)(kv->v + off);
            for (int i = 0; i < kvd; i++) {
                kd[i] = mm_f32_to_bf16(k[(size_t)t * kvd + i]);
                vd[i] = mm_f32_to_bf16(v[(size_t)t * kvd + i]);
            }
        } else {
            memcpy(kv->k + off, k + (size_t)t * kvd, (size_t)kvd * sizeof(float));
            memcpy(kv->v + off, v + (size_t)t * kvd, (size_t)kvd * sizeof(float));
        }
    }
    if (nruns) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int task = 0; task < n_att_tasks; task++) {
            /* task -> (run, query block, head) */
            int rem = task, r = 0, len = 0;
            for (;; r++) {
                int t0 = runs[r];
                len = 1;
                while (t0 + len < T && run_of[t0 + len] == r) len++;
                int nt_r = (len + ATT_QB - 1) / ATT_QB * nh;
                if (rem < nt_r) break;
                rem -= nt_r;
            }
            const int h = rem % nh, qb0 = (rem / nh) * ATT_QB, t0 = runs[r] + qb0;
            const int nq = len - qb0 < ATT_QB ? len - qb0 : ATT_QB;
            const int kvh = h / group, nkeys = pos[t0 + nq - 1] + 1, p0 = pos[t0];
            const size_t base = kv_off(kv, slot[t0], l, 0);
            const float *K = (const float *)(kv->k + base) + (size_t)kvh * hd;
            const float *V = (const float *)(kv->v + base) + (size_t)kvh * hd;
            float *S = blk + (size_t)omp_get_thread_num() * ATT_QB * maxpos;
            mm_f32_nt_strided(S, nkeys, q + (size_t)t0 * qd + (size_t)h * hd, qd, K, kvd, nq, nkeys, hd, scale);
            for (int i = 0; i < nq; i++) {
                float *row = S + (size_t)i * nkeys;
                const int n = p0 + i + 1; /* causal: keys 0..pos */
                mm_softmax_row(row, n);
                for (int p = n; p < nkeys; p++) row[p] = 0;
            }
            mm_f32_nn_strided(out + (size_t)t0 * qd + (size_t)h * hd, qd, S, nkeys, V, kvd, nq, hd, nkeys);
        }
    }
    /* Decode rows, fp32 cache: the heads that share a KV head attend together (each cached key and value is
     * read once for the whole group). Threads only when there is enough work to pay for waking them (a
     * short one-sequence step is a few us). */
    if (!kv->bf16) {
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (attn_work >= (1L << 18))
        for (int t = 0; t < T; t++)
            for (int g = 0; g < nkv; g++) {
                if (run_of[t] >= 0) continue; /* done above */
                const int n = pos[t] + 1;
                const size_t base = kv_off(kv, slot[t], l, 0);
                const float *K = (const float *)(kv->k + base) + (size_t)g * hd;
                const float *V = (const float *)(kv->v + base) + (size_t)g * hd;
                float *S = scores + (size_t)omp_get_thread_num() * group * maxpos;
                const size_t qoff = (size_t)t * qd + (size_t)g * group * hd;
                attend_decode_f32(out + qoff, q + qoff, K, V, (size_t)kvd, group, n, hd, scale, S);
            }
        return 0;
    }
    /* Decode rows, bf16 cache: one head at a time. */
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (attn_work >= (1L << 18))
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++) {
            float *sc = scores + (size_t)omp_get_thread_num() * group * maxpos;
            const float *qh = q + (size_t)t * qd + (size_t)h * hd;
            const int kvh = h / group, n = pos[t] + 1;
            const size_t base = kv_off(kv, slot[t], l, 0);
            float mx = -INFINITY;
            const uint16_t *K = (const uint16_t *)(kv->k + base) + (size_t)kvh * hd;
            for (int p = 0; p < n; p++) {
                const uint16_t *kr = K + (size_t)p * kvd;
                float d = 0;
#pragma omp simd reduction(+ : d)
                for (int i = 0; i < hd; i++) d += qh[i] * mm_bf16_to_f32(kr[i]);
                sc[p] = d * scale;
                if (sc[p] > mx) mx = sc[p];
            }
            float sum = 0;
            for (int p = 0; p < n; p++) {
                sc[p] = expf(sc[p] - mx);
                sum += sc[p];
            }
            float inv = 1.0f / sum;
            float *o = out + (size_t)t * qd + (size_t)h * hd;
            for (int i = 0; i < hd; i++) o[i] = 0;
            const uint16_t *V = (const uint16_t *)(kv->v + base) + (size_t)kvh * hd;
            for (int p = 0; p < n; p++) {
                const uint16_t *vr = V + (size_t)p * kvd;
                float a = sc[p] * inv;
#pragma omp simd
                for (int i = 0; i < hd; i++) o[i] += a * mm_bf16_to_f32(vr[i]);
            }
        }
    return 0;
}

/* ---------- MLP, residual ---------- */

static void cpu_swiglu(bk_backend *b, float *a, const float *g, const float *u, size_t n) {
    (void)b;
    train_swiglu_fwd(a, g, u, n);
}
static void cpu_swiglu_bwd(bk_backend *b, float *dg, float *du, const float *da, const float *g, const float *u,
                           size_t n) {
    (void)b;
    train_swiglu_bwd(dg, du, da, g, u, n);
}
/* Serial: a residual add is memory-bound and short; a parallel region per add would cost a fork-join each. */
static void cpu_add(bk_backend *b, float *y, const float *a, const float *c, size_t n) {
    (void)b;
    for (size_t i = 0; i < n; i++) y[i] = a[i] + c[i];
}

/* ---------- rows, head, loss ---------- */

static void cpu_gather_rows(bk_backend *b, float *dst, const float *src, const int *rows, int n, int H) {
    (void)b;
    for (int i = 0; i < n; i++) memcpy(dst + (size_t)i * H, src + (size_t)rows[i] * H, (size_t)H * sizeof(float));
}
static void cpu_scatter_add_rows(bk_backend *b, float *dst, const float *src, const int *rows, int n, int H) {
    (void)b;
    for (int i = 0; i < n; i++) {
        float *d = dst + (size_t)rows[i] * H;
        const float *s = src + (size_t)i * H;
        for (int j = 0; j < H; j++) d[j] += s[j];
    }
}
static void cpu_xent(bk_backend *b, float *logits, const int *targets, float *nll, int n, int V, float scale) {
    (void)b;
    train_xent_rows(logits, targets, nll, n, V, scale);
}
static void cpu_logprobs(bk_backend *b, float *lp, const float *logits, const int *targets, int n, int V) {
    (void)b;
    for (int r = 0; r < n; r++) {
        const float *row = logits + (size_t)r * V;
        float mx = -INFINITY;
        for (int i = 0; i < V; i++) mx = row[i] > mx ? row[i] : mx;
        double sum = 0;
        for (int i = 0; i < V; i++) sum += exp((double)(row[i] - mx));
        lp[r] = (float)((double)(row[targets[r]] - mx) - log(sum));
    }
}
static void cpu_xent_temp(bk_backend *b, float *logits, const int *targets, float *lp, float *ent, int n, int V,
                          float inv_temp, const float *host_scale) {
    (void)b;
#pragma omp parallel for schedule(static) if ((size_t)n * V > 65536)
    for (int r = 0; r < n; r++) {
        float *row = logits + (size_t)r * V;
        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
        for (int i = 0; i < V; i++) mx = row[i] > mx ? row[i] : mx;
        double sum = 0;
        for (int i0 = 0; i0 < V; i0 += 4096) {
            const int i1 = V - i0 < 4096 ? V : i0 + 4096;
            float part = 0;
#pragma omp simd reduction(+ : part)
            for (int i = i0; i < i1; i++) part += mm_expf((row[i] - mx) * inv_temp);
            sum += part;
        }
        const float lse = (float)log(sum); /* of the shifted, scaled row */
        lp[r] = (row[targets[r]] - mx) * inv_temp - lse;
        if (ent) { /* H = lse - sum p s */
            double ps = 0;
            for (int i0 = 0; i0 < V; i0 += 4096) {
                const int i1 = V - i0 < 4096 ? V : i0 + 4096;
                float part = 0;
#pragma omp simd reduction(+ : part)
                for (int i = i0; i < i1; i++) {
                    const float s = (row[i] - mx) * inv_temp;
                    part += mm_expf(s - lse) * s;
                }
                ps += part;
            }
            ent[r] = (float)((double)lse - ps);
        }
        if (host_scale) {
            const float g = host_scale[r] * inv_temp;
#pragma omp simd
            for (int i = 0; i < V; i++) row[i] = g * mm_expf((row[i] - mx) * inv_temp - lse);
            row[targets[r]] -= g;
        }
    }
}

/* ---------- training: AdamW, gradient norm, clipping (moved here from train/opt_adamw.c) ---------- */

static void cpu_adamw(bk_backend *b, float *p, const float *g, float *mm, float *vv, uint16_t *p_bf16, size_t n,
                      const bk_adamw_args *a) {
    (void)b;
    const float b1 = a->beta1, b2 = a->beta2, decay = a->decay, step_size = a->step_size, bc2_sqrt = a->bc2_sqrt;
    const float eps = a->eps;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        p[i] *= decay;
        mm[i] = mm[i] * b1 + g[i] * (1.0f - b1);
        vv[i] = vv[i] * b2 + g[i] * g[i] * (1.0f - b2);
        float denom = sqrtf(vv[i]) / bc2_sqrt + eps;
        p[i] -= step_size * mm[i] / denom;
    }
    if (p_bf16)
        for (size_t i = 0; i < n; i++) p_bf16[i] = mm_f32_to_bf16(p[i]);
}

static double cpu_sumsq(bk_backend *b, const float *x, size_t n) {
    (void)b;
    double ss = 0;
#pragma omp parallel for reduction(+ : ss) schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    return ss;
}

static void cpu_scale(bk_backend *b, float *x, size_t n, float s) {
    (void)b;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

static bk_backend cpu_backend = {
    .abi_version = BK_ABI_VERSION,
    .name = "cpu",
    .host_memory = true,
    .op = {
        .alloc = cpu_alloc, .free = cpu_free, .upload = cpu_upload, .download = cpu_upload, .copy = cpu_copy,
        .zero = cpu_zero, .sync = cpu_sync, .weight_map = cpu_weight_map, .weight_unmap = cpu_weight_unmap,
        .set_threads = cpu_set_threads,
        .embed = cpu_embed, .embed_bwd = cpu_embed_bwd,
        .rmsnorm = cpu_rmsnorm, .rmsnorm_bwd = cpu_rmsnorm_bwd,
        .rope_table = cpu_rope_table, .rope = cpu_rope, .rope_bwd = cpu_rope_bwd,
        .linear = cpu_linear, .linear_dx = cpu_linear_dx, .linear_dw = cpu_linear_dw, .gemm = cpu_gemm,
        .dropout = cpu_dropout, .dropout_bwd_add = cpu_dropout_bwd_add,
        .attn = cpu_attn, .attn_bwd = cpu_attn_bwd,
        .kv_create = cpu_kv_create, .kv_free = cpu_kv_free, .kv_copy = cpu_kv_copy, .kv_attn = cpu_kv_attn,
        .swiglu = cpu_swiglu, .swiglu_bwd = cpu_swiglu_bwd, .add = cpu_add,
        .gather_rows = cpu_gather_rows, .scatter_add_rows = cpu_scatter_add_rows, .xent = cpu_xent,
        .logprobs = cpu_logprobs, .sample = NULL,
        .xent_temp = cpu_xent_temp,
        .adamw = cpu_adamw, .sumsq = cpu_sumsq, .scale = cpu_scale,
    },
};

bk_backend *bk_cpu(void) {
    if (!g_max_threads) {
        g_max_threads = omp_get_max_threads();
        /* One thread pool: OpenMP schedules the threads and BLAS runs single-threaded inside the ops. */
        mm_blas_single_thread();
    }
    return &cpu_backend;
}
