/* backend: the CUDA implementation of backend.h's bk_ops over the module's kernels.
 *
 * Index arrays (tokens, positions, slots, rows, targets) arrive as host pointers; each op copies them into a
 * device staging area of its own (stream-ordered, so the next op's copy cannot overtake this op's kernels).
 * Products: bf16 weights with BK_FAST multiply bf16 x bf16 on the tensor cores; without it (exact) x is split
 * into three bf16 parts (hfc_split3) and the three products are summed in fp32, which keeps x's 24 bits: an
 * fp32-accurate product at three times the tensor-core work. f32 weights use SGEMM (no TF32); f16 weights
 * multiply f16 x f16 in both modes (x rounded to f16: not exact; no shipped model stores f16).
 *
 * Training ops: train.cu (hfc_train_ops), never run on a GPU yet; attn_bwd is still NULL. */
#include "backend/backend.h"
#include "backend/cuda/common.cuh"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bk_kv {
    int n_slots, max_len, n_layers, kv_dim;
    bool bf16;
    void *k, *v;
};

enum { N_STAGE = 4 };

typedef struct {
    const hfc_api *api;
    void *stage[N_STAGE];          /* device copies of host index arrays */
    size_t stage_cap[N_STAGE];
    void *xs;                      /* x converted or split for the products */
    size_t xs_cap;
    float *host_cs;                /* host scratch of rope_table */
    size_t host_cs_cap;
} cuda_impl;

static cuda_impl *IMPL(bk_backend *b) { return (cuda_impl *)b->impl; }

static void *grow(bk_backend *b, void **p, size_t *cap, size_t need) {
    cuda_impl *I = IMPL(b);
    if (need <= *cap) return *p;
    if (*p) I->api->free(*p);
    size_t n = need < 4096 ? 4096 : need + need / 2;
    *p = I->api->alloc(n, b->err, sizeof b->err);
    *cap = *p ? n : 0;
    if (!*p) hfc_note_error("scratch", b->err);
    return *p;
}

/* A device copy of n elements of size esz at host (staging area i). */
static void *stage(bk_backend *b, int i, const void *host, size_t n, size_t esz) {
    cuda_impl *I = IMPL(b);
    void *d = grow(b, &I->stage[i], &I->stage_cap[i], n * esz);
    if (d && n) {
        cudaMemcpyAsync(d, host, n * esz, cudaMemcpyHostToDevice, hfc_stream);
        hfc_check_launch("index upload");
    }
    return d;
}

void *hfc_bk_stage(bk_backend *b, int i, const void *host, size_t n, size_t esz) { return stage(b, i, host, n, esz); }
void hfc_train_ops(bk_ops *o);
void hfc_train_shutdown(void);

/* ---------- memory ---------- */
static void *c_alloc(bk_backend *b, size_t bytes) { return IMPL(b)->api->alloc(bytes ? bytes : 64, b->err, sizeof b->err); }
static void c_free(bk_backend *b, void *p) { IMPL(b)->api->free(p); }
static int c_upload(bk_backend *b, void *dst, const void *src, size_t n) {
    return n ? IMPL(b)->api->upload(dst, src, n, b->err, sizeof b->err) : 0;
}
static int c_download(bk_backend *b, void *dst, const void *src, size_t n) {
    if (IMPL(b)->api->sync(b->err, sizeof b->err)) return -1;
    return n ? IMPL(b)->api->download(dst, src, n, b->err, sizeof b->err) : 0;
}
static void c_copy(bk_backend *b, void *dst, const void *src, size_t n) { if (n) IMPL(b)->api->copy(dst, src, n); }
static void c_zero(bk_backend *b, float *p, size_t n) { if (n) IMPL(b)->api->zero(p, n * sizeof(float)); }
static int c_sync(bk_backend *b) { return IMPL(b)->api->sync(b->err, sizeof b->err); }
static const void *c_weight_map(bk_backend *b, const void *host, size_t bytes) {
    void *d = c_alloc(b, bytes);
    if (d && c_upload(b, d, host, bytes)) {
        c_free(b, d);
        return NULL;
    }
    return d;
}
static void c_weight_unmap(bk_backend *b, const void *p) { c_free(b, (void *)p); }
/* A CPU threading hint: nothing to do on a GPU. */
static void c_set_threads(bk_backend *b, int n, bool blas_threads) { (void)b; (void)n; (void)blas_threads; }

/* ---------- embedding, norm, RoPE ---------- */
static void c_embed(bk_backend *b, float *x, const bk_weight *table, const int *tokens, int T) {
    const int *d = (const int *)stage(b, 0, tokens, (size_t)T, sizeof(int));
    if (d) hfc_embed(x, table->data, (hfc_dtype)table->dtype, d, T, table->cols);
}
static void c_rmsnorm(bk_backend *b, float *y, float *rstd, const float *x, const float *w, int T, int H, float eps) {
    hfc_rmsnorm(y, HFC_F32, rstd, x, w, T, H, eps);
}
/* The table on the host exactly as the CPU backend computes it (fp32 powf, fp32 angles, cosf/sinf), uploaded. */
static void c_rope_table(bk_backend *b, float *cs, const int *pos, int T, int hd, float theta) {
    cuda_impl *I = IMPL(b);
    size_t need = (size_t)T * hd * sizeof(float);
    if (need > I->host_cs_cap) {
        float *n = (float *)realloc(I->host_cs, need);
        if (!n) { hfc_note_error("rope_table", "out of host memory"); return; }
        I->host_cs = n;
        I->host_cs_cap = need;
    }
    int half = hd / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            float inv = 1.0f / powf(theta, (float)(2 * i) / (float)hd);
            float ang = (float)pos[t] * inv;
            I->host_cs[(size_t)t * hd + i] = cosf(ang);
            I->host_cs[(size_t)t * hd + half + i] = sinf(ang);
        }
    cudaMemcpyAsync(cs, I->host_cs, need, cudaMemcpyHostToDevice, hfc_stream);
    hfc_check_launch("rope_table");
}
static void c_rope(bk_backend *b, float *v, int T, int nheads, int hd, const float *cs) { hfc_rope_cs(v, T, nheads, hd, cs); }

/* ---------- products ---------- */
static void c_linear(bk_backend *b, int count, float *const *ys, const bk_weight *const *ws, const float *const *biases,
                     const float *x, int M, unsigned flags) {
    if (count <= 0 || M <= 0) return;
    cuda_impl *I = IMPL(b);
    const int K = ws[0]->cols, dt = ws[0]->dtype;
    const int acc = (flags & BK_ACCUMULATE) != 0;
    size_t n = (size_t)M * K;
    uint16_t *parts = NULL;
    bool exact3 = dt == BK_BF16 && !(flags & BK_FAST);
    if (dt != BK_F32) {
        parts = (uint16_t *)grow(b, &I->xs, &I->xs_cap, n * sizeof(uint16_t) * (exact3 ? 3 : 1));
        if (!parts) return;
        if (exact3) hfc_split3(parts, parts + n, parts + 2 * n, x, n);
        else hfc_convert(parts, (hfc_dtype)dt, x, n);
    }
    for (int i = 0; i < count; i++) {
        const bk_weight *w = ws[i];
        if (w->dtype != dt || w->cols != K) { hfc_note_error("linear", "products of one call differ in dtype or K"); return; }
        if (dt == BK_F32) {
            hfc_matmul(ys[i], x, w->data, NULL, HFC_F32, M, w->rows, K, acc);
        } else if (exact3) {
            hfc_matmul(ys[i], parts, w->data, NULL, HFC_BF16, M, w->rows, K, acc);
            hfc_matmul(ys[i], parts + n, w->data, NULL, HFC_BF16, M, w->rows, K, 1);
            hfc_matmul(ys[i], parts + 2 * n, w->data, NULL, HFC_BF16, M, w->rows, K, 1);
        } else {
            hfc_matmul(ys[i], parts, w->data, NULL, (hfc_dtype)dt, M, w->rows, K, acc);
        }
        if (biases && biases[i]) hfc_bias_add(ys[i], biases[i], M, w->rows);
    }
}
static void c_gemm(bk_backend *b, bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {
    hfc_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---------- attention ---------- */
static void c_attn(bk_backend *b, float *out, float *lse, const float *q, const float *k, const float *v, int n_seqs,
                   const int *seq_start, int nh, int nkv, int hd) {
    const size_t qd = (size_t)nh * hd, kvd = (size_t)nkv * hd;
    for (int s = 0; s < n_seqs; s++) {
        int t0 = seq_start[s], n = seq_start[s + 1] - t0;
        if (n <= 0) continue;
        hfc_attn_prefill(out + t0 * qd, HFC_F32, lse ? lse + (size_t)t0 * nh : NULL, q + t0 * qd, k + t0 * kvd,
                         v + t0 * kvd, HFC_F32, 0, 0, 0, n, nh, nkv, hd);
    }
}

static bk_kv *c_kv_create(bk_backend *b, int n_slots, int max_len, int n_layers, int kv_dim, bool bf16) {
    bk_kv *kv = (bk_kv *)calloc(1, sizeof *kv);
    if (!kv) return NULL;
    *kv = (bk_kv){n_slots, max_len, n_layers, kv_dim, bf16, NULL, NULL};
    size_t bytes = (size_t)n_slots * max_len * n_layers * kv_dim * (bf16 ? 2 : 4);
    kv->k = c_alloc(b, bytes);
    kv->v = kv->k ? c_alloc(b, bytes) : NULL;
    if (!kv->v) {
        c_free(b, kv->k);
        free(kv);
        return NULL;
    }
    return kv;
}
static void c_kv_free(bk_backend *b, bk_kv *kv) {
    if (!kv) return;
    c_free(b, kv->k);
    c_free(b, kv->v);
    free(kv);
}
static size_t layer_stride(const bk_kv *kv) { return (size_t)kv->max_len * kv->kv_dim; }
static size_t slot_stride(const bk_kv *kv) { return layer_stride(kv) * kv->n_layers; }
static void c_kv_copy(bk_backend *b, bk_kv *kv, int dst, int src, int n) {
    hfc_kv_fork(kv->k, kv->v, kv->bf16 ? HFC_BF16 : HFC_F32, slot_stride(kv), layer_stride(kv), kv->kv_dim, src, &dst,
                1, n, kv->n_layers);
}

/* RoPE, the cache write, then prefill runs (a slot's consecutive rows) one launch each and the single rows of a
 * decode step in one launch. */
static int c_kv_attn(bk_backend *b, bk_kv *kv, int layer, float *out, float *q, float *k, const float *v,
                     const float *cs, int T, const int *slots, const int *pos, int nh, int nkv, int hd) {
    if (T <= 0) return 0;
    hfc_rope_cs(q, T, nh, hd, cs);
    hfc_rope_cs(k, T, nkv, hd, cs);
    hfc_dtype cdt = kv->bf16 ? HFC_BF16 : HFC_F32;
    size_t esz = kv->bf16 ? 2 : 4, off = (size_t)layer * layer_stride(kv) * esz;
    char *kc = (char *)kv->k + off, *vc = (char *)kv->v + off;
    const int *ds = (const int *)stage(b, 0, slots, (size_t)T, sizeof(int));
    const int *dp = (const int *)stage(b, 1, pos, (size_t)T, sizeof(int));
    if (!ds || !dp) return -1;
    hfc_kv_store(kc, vc, cdt, slot_stride(kv), k, v, ds, dp, T, kv->kv_dim);
    int *host = (int *)malloc((size_t)T * 3 * sizeof(int));
    if (!host) return -1;
    int *rows = host, *dslot = host + T, *dlen = host + 2 * T, nd = 0;
    const size_t qd = (size_t)nh * hd;
    for (int i = 0; i < T;) {
        int j = i;
        while (j + 1 < T && slots[j + 1] == slots[i]) j++;
        if (j > i) {
            hfc_attn_prefill(out + i * qd, HFC_F32, NULL, q + i * qd, kc, vc, cdt, slot_stride(kv), slots[i], pos[i],
                             j - i + 1, nh, nkv, hd);
        } else {
            rows[nd] = i;
            dslot[nd] = slots[i];
            dlen[nd] = pos[i] + 1;
            nd++;
        }
        i = j + 1;
    }
    int rc = 0;
    if (nd) {
        /* rows, slots and lengths in one staging copy */
        memmove(host + nd, dslot, (size_t)nd * sizeof(int));
        memmove(host + 2 * nd, dlen, (size_t)nd * sizeof(int));
        int *d = (int *)stage(b, 2, host, (size_t)nd * 3, sizeof(int));
        if (d) hfc_attn_decode(out, HFC_F32, q, kc, vc, cdt, slot_stride(kv), d + nd, d + 2 * nd, d, nd, nh, nkv, hd);
        else rc = -1;
    }
    free(host);
    return rc;
}

/* ---------- MLP, rows, head, sampling ---------- */
static void c_swiglu(bk_backend *b, float *a, const float *g, const float *u, size_t n) {
    /* in chunks below 2^30 values: the kernel takes the row width as an int */
    for (size_t i = 0; i < n; i += (size_t)1 << 30) {
        size_t c = n - i < ((size_t)1 << 30) ? n - i : ((size_t)1 << 30);
        hfc_silu_mul(a + i, HFC_F32, g + i, u + i, 1, (int)c);
    }
    (void)b;
}
static void c_add(bk_backend *b, float *y, const float *a, const float *c, size_t n) { hfc_add(y, a, c, n); }
static void c_gather_rows(bk_backend *b, float *dst, const float *src, const int *rows, int n, int H) {
    const int *d = (const int *)stage(b, 0, rows, (size_t)n, sizeof(int));
    if (d) hfc_gather_rows(dst, src, d, n, H);
}
static void c_scatter_add_rows(bk_backend *b, float *dst, const float *src, const int *rows, int n, int H) {
    const int *d = (const int *)stage(b, 0, rows, (size_t)n, sizeof(int));
    if (d) hfc_scatter_add_rows(dst, src, d, n, H);
}
static void c_logprobs(bk_backend *b, float *lp, const float *logits, const int *targets, int n, int V) {
    const int *d = (const int *)stage(b, 0, targets, (size_t)n, sizeof(int));
    if (d) hfc_logprobs(lp, logits, d, n, V);
}

/* Staged per call in one copy: n seeds, zero counters, temperatures, top-ps, top-ks and rows; then the n ids
 * and log-probabilities come back in one copy. */
static int c_sample(bk_backend *b, int *ids, float *lps, const float *logits, const int *rows, int n, int V,
                    const bk_sample_params *sp, const uint64_t *seeds) {
    if (n <= 0) return 0;
    size_t bytes = (size_t)n * (sizeof(uint64_t) * 2 + sizeof(float) * 3 + sizeof(int) * 3);
    char *h = (char *)calloc(1, bytes);
    if (!h) { snprintf(b->err, sizeof b->err, "sample: out of host memory"); return -1; }
    uint64_t *seed = (uint64_t *)h, *counter = seed + n;
    float *temp = (float *)(counter + n), *topp = temp + n;
    int *topk = (int *)(topp + n), *row = topk + n;
    for (int i = 0; i < n; i++) {
        seed[i] = seeds[i];
        temp[i] = sp->temperature;
        topp[i] = sp->top_p;
        topk[i] = sp->top_k;
        row[i] = rows ? rows[i] : i;
    }
    char *d = (char *)stage(b, 3, h, bytes, 1);
    int rc = -1;
    if (d) {
        uint64_t *dseed = (uint64_t *)d, *dctr = dseed + n;
        float *dtemp = (float *)(dctr + n), *dtopp = dtemp + n;
        int *dtopk = (int *)(dtopp + n), *drow = dtopk + n;
        /* outputs over the staged row indices (not needed once the kernel has read them): ids, then lps */
        int *dtok = drow + n;
        float *dlp = (float *)(dtok + n);
        hfc_sample(dtok, dlp, logits, drow, n, V, dtemp, dtopk, dtopp, dseed, dctr);
        /* ids and lps are adjacent: one download */
        int *back = (int *)h;
        rc = c_download(b, back, dtok, (size_t)n * (sizeof(int) + sizeof(float)));
        if (rc == 0) {
            memcpy(ids, back, (size_t)n * sizeof(int));
            if (lps) memcpy(lps, back + n, (size_t)n * sizeof(float));
        }
    }
    free(h);
    return rc;
}

static void c_destroy(bk_backend *b) {
    if (!b) return;
    cuda_impl *I = IMPL(b);
    for (int i = 0; i < N_STAGE; i++) I->api->free(I->stage[i]);
    I->api->free(I->xs);
    hfc_train_shutdown();
    free(I->host_cs);
    I->api->shutdown();
    free(I);
    free(b);
}

extern "C" __attribute__((visibility("default"))) bk_backend *hf_cuda_backend(int bk_abi, int device, char *err,
                                                                             size_t errcap) {
    if (bk_abi != BK_ABI_VERSION) {
        snprintf(err, errcap, "the CUDA module implements backend interface %d, the program needs %d", BK_ABI_VERSION,
                 bk_abi);
        return NULL;
    }
    const hfc_api *api = hf_cuda_module(HFC_ABI_VERSION);
    if (api->init(device, err, errcap)) return NULL;
    bk_backend *b = (bk_backend *)calloc(1, sizeof *b);
    cuda_impl *I = (cuda_impl *)calloc(1, sizeof *I);
    if (!b || !I) {
        free(b);
        free(I);
        api->shutdown();
        snprintf(err, errcap, "out of host memory");
        return NULL;
    }
    I->api = api;
    hfc_device_info info;
    char e2[128];
    api->device_info(device, &info, e2, sizeof e2);
    b->abi_version = BK_ABI_VERSION;
    snprintf(b->name, sizeof b->name, "cuda:%d (%.48s)", device, info.name);
    b->host_memory = false;
    b->impl = I;
    b->destroy = c_destroy;
    bk_ops *o = &b->op;
    o->alloc = c_alloc;
    o->free = c_free;
    o->upload = c_upload;
    o->download = c_download;
    o->copy = c_copy;
    o->zero = c_zero;
    o->sync = c_sync;
    o->weight_map = c_weight_map;
    o->weight_unmap = c_weight_unmap;
    o->set_threads = c_set_threads;
    o->embed = c_embed;
    o->rmsnorm = c_rmsnorm;
    o->rope_table = c_rope_table;
    o->rope = c_rope;
    o->linear = c_linear;
    o->gemm = c_gemm;
    o->attn = c_attn;
    o->kv_create = c_kv_create;
    o->kv_free = c_kv_free;
    o->kv_copy = c_kv_copy;
    o->kv_attn = c_kv_attn;
    o->swiglu = c_swiglu;
    o->add = c_add;
    o->gather_rows = c_gather_rows;
    o->scatter_add_rows = c_scatter_add_rows;
    o->logprobs = c_logprobs;
    o->sample = c_sample;
    hfc_train_ops(o);
    return b;
}

/* backend.h's module entry point (BK_MODULE_OPEN_SYMBOL): device is "cuda" (device 0) or "cuda:N". */
extern "C" __attribute__((visibility("default"))) bk_backend *bk_module_open(const char *device, char *err,
                                                                            size_t errcap) {
    int dev = 0;
    if (device && strcmp(device, "cuda") != 0) {
        char *end = NULL;
        long v = strncmp(device, "cuda:", 5) == 0 ? strtol(device + 5, &end, 10) : -1;
        if (v < 0 || v > 1023 || !end || *end || end == device + 5) {
            snprintf(err, errcap, "'%s' is not a CUDA device (cuda or cuda:N)", device);
            return NULL;
        }
        dev = (int)v;
    }
    return hf_cuda_backend(BK_ABI_VERSION, dev, err, errcap);
}
