/* hf_cuda: the C interface of the CUDA backend module (libhf-cuda.so), shared by the module (compiled by
 * nvcc, or hipcc through hip_map.h) and the program that loads it with dlopen (src/backend/bk_device.c).
 * The program never links CUDA: it looks up one symbol, hf_cuda_module, and calls everything through
 * the table it returns.
 *
 * Style (llm.c): every op takes plain pointers into device memory and plain sizes, and is queued
 * asynchronously on the module's one stream; nothing is allocated inside an op except where said.
 * Only alloc/free/upload/download/sync/device queries return status; an op's launch error is kept and
 * reported by the next sync (so a decode step can be captured into a CUDA graph as it is).
 *
 * Data types: weights are bf16 (HFC_BF16) or fp32 (HFC_F32, for the tiny test models); the residual
 * stream, q/k/v, logits and every accumulation are fp32. Inputs of the matrix products (the "act" buffers:
 * norm output, attention output, SiLU-gate output) have the weights' dtype, so a bf16 model multiplies
 * bf16 x bf16 on the tensor cores with fp32 accumulation and an fp32 model multiplies fp32 x fp32 (no TF32).
 *
 * The KV cache is caller-allocated device memory, one array for keys and one for values, laid out
 * [slot][layer][pos][n_kv_heads*head_dim] in the cache dtype (bf16 or fp32); ops take the base pointer of
 * the layer (k + layer*layer_stride) and slot_stride (elements from one slot to the next).
 *
 * Positions and lengths live in device memory (int arrays), so a step's launches do not depend on host
 * values other than the batch size: that is what lets the decode step be captured once and replayed. */
#ifndef HF_CUDA_H
#define HF_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Raised whenever the table changes in any way; the loader refuses a module of another version. */
#define HFC_ABI_VERSION 2

/* The numbering of backend.h (BK_F32, BK_BF16, BK_F16). f16 is read (embedding, products) but never written. */
typedef enum { HFC_F32 = 0, HFC_BF16 = 1, HFC_F16 = 2 } hfc_dtype;

typedef struct {
    char name[256];
    int64_t mem_total, mem_free;   /* bytes */
    int cc_major, cc_minor;        /* compute capability */
    int multiprocessors;
    int driver_version;            /* CUDA driver API version, e.g. 13000 for 13.0 */
    int runtime_version;           /* runtime the module was linked with */
    char pci_bus_id[32];
} hfc_device_info;

typedef struct hfc_graph hfc_graph;

typedef struct {
    int abi_version;               /* HFC_ABI_VERSION of the module */
    const char *build;             /* "CUDA 13.0, sm_80 sm_90 compute_90" or "HIP ..." */

    /* ---- devices (usable before init) ----
     * device_count: 0 and *n >= 0, or -1 with the reason (no driver, driver older than the runtime...). */
    int (*device_count)(int *n, char *err, size_t errcap);
    int (*device_info)(int dev, hfc_device_info *out, char *err, size_t errcap);
    /* Selects device dev, creates the stream, the cuBLAS(Lt) handles and their workspace. 0 or -1. */
    int (*init)(int dev, char *err, size_t errcap);
    void (*shutdown)(void);        /* frees what init made; device memory from alloc must be freed first */

    /* ---- memory ---- (alloc: NULL when out of memory, err says how much was free) */
    void *(*alloc)(size_t bytes, char *err, size_t errcap);
    void (*free)(void *p);
    int (*upload)(void *dst, const void *src, size_t bytes, char *err, size_t errcap);   /* host -> device, sync */
    int (*download)(void *dst, const void *src, size_t bytes, char *err, size_t errcap); /* device -> host, sync */
    void (*copy)(void *dst, const void *src, size_t bytes);                             /* device -> device, async */
    void (*zero)(void *p, size_t bytes);                                                /* async */
    int (*sync)(char *err, size_t errcap);  /* waits for the stream; reports the first error since the last sync */
    int64_t (*peak_bytes)(void);            /* most device memory held through alloc at once */

    /* ---- ops ---- (async on the stream) */
    /* out[i,:] = table[tokens[i],:] (fp32 out); table [vocab, dim] in dtype. */
    void (*embed)(float *out, const void *table, hfc_dtype dt, const int *tokens, int n, int dim);
    /* out[i,:] = x[i,:] / rms(x[i,:]) * w (w fp32), written in out_dt (out may alias x when fp32); rstd[i] (when
     * not NULL) = 1/rms. The sum of squares in double, as the CPU does. */
    void (*rmsnorm)(void *out, hfc_dtype out_dt, float *rstd, const float *x, const float *w, int n, int dim,
                    float eps);
    /* y[M,N] (fp32) = x[M,K] (dt) . W[N,K]^T (dt) (+ bias[N] fp32 when not NULL) (+ y when accumulate):
     * cuBLASLt, bf16 in / fp32 compute for bf16, plain fp32 for fp32. accumulate fuses a residual add. */
    void (*matmul)(float *y, const void *x, const void *w, const float *bias, hfc_dtype dt, int M, int N, int K,
                   int accumulate);
    /* x[i,:] += b (fp32), n rows of dim. */
    void (*bias_add)(float *x, const float *b, int n, int dim);
    /* y += x, n elements fp32. */
    void (*residual_add)(float *y, const float *x, size_t n);
    /* Rotate-half RoPE in place: x [n, heads, head_dim] fp32, row i at position pos[i]; inv_freq [head_dim/2]. */
    void (*rope)(float *x, const int *pos, const float *inv_freq, int n, int heads, int head_dim);
    /* out[i,j] = silu(gu[i,j]) * gu[i,inter+j] for the gate|up product [n, 2*inter], out in out_dt. */
    void (*silu_gate)(void *out, hfc_dtype out_dt, const float *gate_up, int n, int inter);
    /* out[i,j] = silu(gate[i,j]) * up[i,j], separate arrays [n, inter]. */
    void (*silu_mul)(void *out, hfc_dtype out_dt, const float *gate, const float *up, int n, int inter);
    /* Writes k,v rows ([n, kv_dim] fp32) into the cache of one layer at (slot[i], pos[i]). */
    void (*kv_store)(void *kc, void *vc, hfc_dtype cache_dt, size_t slot_stride, const float *k, const float *v,
                     const int *slot, const int *pos, int n, int kv_dim);
    /* Copies positions [0, len) of every layer of slot src to each of the n slots dst[] (host array):
     * a prompt's prefill shared by its samples. layer_stride = max_len*kv_dim elements. */
    void (*kv_fork)(void *kc, void *vc, hfc_dtype cache_dt, size_t slot_stride, size_t layer_stride, int kv_dim,
                    int src, const int *dst, int n, int len, int n_layers);
    /* Prefill attention of one sequence (flash-style tiles, causal, GQA): queries q [n, heads, hd] at positions
     * start..start+n-1 of slot `slot`, whose keys/values 0..start+n-1 are already in the cache (kv_store first);
     * out [n, heads*hd] in out_dt. */
    /* lse [n, heads] (when not NULL) receives each row's log-sum-exp of the scaled scores. */
    void (*attn_prefill)(void *out, hfc_dtype out_dt, float *lse, const float *q, const void *kc, const void *vc,
                         hfc_dtype cache_dt, size_t slot_stride, int slot, int start, int n, int heads, int kv_heads,
                         int hd);
    /* Decode attention, one query per sequence: q [B, heads, hd]; sequence b is slot slot[b] with len[b] cached
     * positions (its new key included); each K/V block is read once per group of heads. out [B, heads*hd]. */
    /* rows (device, may be NULL = 0..B-1): sequence b's query is row rows[b] of q and out. */
    void (*attn_decode)(void *out, hfc_dtype out_dt, const float *q, const void *kc, const void *vc,
                        hfc_dtype cache_dt, size_t slot_stride, const int *slot, const int *len, const int *rows, int B,
                        int heads, int kv_heads, int hd);
    /* Sampling on the device: for each row b of logits [B, vocab] picks a token into tokens[b]:
     * greedy when temperature[b] <= 0 or top_k[b] == 1, else temperature, then top-k (0: off), then top-p
     * ((0,1]), then a draw u = rng(seed[b], counter[b]) (counter-based: a pure function of the pair, so a run
     * is reproducible and independent of the batch it is in); counter[b] is incremented on the device.
     * NaN / inf logits count as -inf; a row without a finite logit gives -1. Ties at the top-k / top-p
     * boundary are all kept. rows (may be NULL = 0..B-1): row b draws from logits row rows[b]. lp (may be NULL)
     * receives the drawn id's log-probability under the kept, renormalised distribution (0 for greedy). All
     * arrays are device memory. */
    void (*sample)(int *tokens, float *lp, const float *logits, const int *rows, int B, int vocab,
                   const float *temperature, const int *top_k, const float *top_p, const uint64_t *seed,
                   uint64_t *counter);
    /* dst[i,:] = src[rows[i],:], n rows of H floats (rows in device memory). */
    void (*gather_rows)(float *dst, const float *src, const int *rows, int n, int H);
    /* pos[i] += 1 and len[i] += 1 for i < n (the decode step's bookkeeping, on the device). */
    void (*advance)(int *pos, int *len, int n);
    /* Fills a device array with bf16 or fp32 values ~ N(0, std) from (seed, index): benchmarks' random weights. */
    void (*fill_normal)(void *p, hfc_dtype dt, size_t n, float std, uint64_t seed);
    void (*fill_const)(float *p, size_t n, float v);

    /* ---- CUDA graphs ---- capture the ops queued between graph_begin and graph_end; launch replays them. */
    int (*graph_begin)(char *err, size_t errcap);
    hfc_graph *(*graph_end)(char *err, size_t errcap);
    int (*graph_launch)(hfc_graph *g, char *err, size_t errcap);
    void (*graph_free)(hfc_graph *g);

    /* ---- timing ---- seconds between two points of the stream (events); for benchmarks. */
    int (*timer_mark)(int i);                 /* records event i (0..7) */
    double (*timer_seconds)(int a, int b);    /* after sync: seconds from mark a to mark b, <0 on error */
} hfc_api;

/* The one exported symbol. Returns the table when abi_version equals the module's HFC_ABI_VERSION, else
 * NULL (the loader then names both versions from hf_cuda_module_abi). */
typedef const hfc_api *(*hf_cuda_module_fn)(int abi_version);
const hfc_api *hf_cuda_module(int abi_version);
int hf_cuda_module_abi(void);

#ifdef __cplusplus
}
#endif

#endif
