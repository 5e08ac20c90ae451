/* backend: the operations the Qwen2/Llama model is made of, behind one table of function pointers, so that the
 * same model code (src/model/forward.c) runs on the CPU (src/backend/cpu.c: today's kernels) and on a GPU module
 * loaded at run time (dlopen fills the same table).
 *
 * The model owns no arithmetic: it holds pointers into the backend's memory (weights, activations, gradients,
 * the KV cache) and calls these ops in order; it never reads or writes activation memory itself. Each op that
 * training needs has its backward beside its forward (llm.c style).
 *
 * Conventions for every op:
 *   - "Backend memory" means memory from op.alloc (or op.weight_map): host memory on the CPU, device memory on a
 *     GPU. Pointers named host_* or typed const int * (index arrays: tokens, positions, slots, sequence starts,
 *     rows) are HOST memory, read during the call only; a GPU backend copies them (a few hundred bytes per call)
 *     before it returns, so the caller may reuse them at once.
 *   - Activations are fp32, row-major, T rows of a logical width with no padding (row t of q is q + t * nh * hd).
 *   - Weights are bk_weight: [rows, cols] row-major, the PyTorch nn.Linear layout ([out, in]), in bf16, f32 or
 *     f16, used as they are (no packing), so a memory-mapped safetensors tensor is used in place on the CPU.
 *   - Backward ops OVERWRITE input gradients (dx, dq, ...) unless the op says otherwise and ACCUMULATE (+=) into
 *     parameter gradients (dw, db); a NULL parameter gradient means frozen (not computed).
 *   - Outputs must not overlap inputs unless the op allows it ("may alias").
 *   - Shapes are positive; an op with a zero count does nothing.
 *   - Ordering: ops run in the order they are called, as if one after the other (a GPU backend queues them on
 *     one stream and returns at once). op.download and op.sync wait for everything queued before them; nothing
 *     else needs to. A backend and what it allocates are used from one host thread at a time.
 *   - Determinism: the same inputs and thread count give the same bits run to run. Sums may be ordered
 *     differently from a reference (fp32 rounding), never randomly.
 *
 * Required and optional ops: a backend fills every op that inference needs (BK_NEED_INFER below: memory,
 * embed, rmsnorm, rope_table, rope, linear, gemm, attn, kv_*, swiglu, add, gather_rows, logprobs) and, to
 * train, every backward op, dropout, xent and xent_temp (BK_NEED_TRAIN). Ops marked "Optional" may be NULL.
 * Whoever puts a model on a backend checks the table first (bk_ops_check), so a missing op is a clear error
 * at load, never a NULL call in the middle of a run.
 *
 * Errors: ops have no error return (but op.kv_attn, whose scratch grows); they are given valid shapes by the model (which checks the user's input)
 * and memory the backend allocated. op.alloc and op.kv_create return NULL when out of memory; a GPU backend that
 * hits a device error keeps it and reports it from the next op.sync / op.download (-1 and a message). */
#ifndef HF_BACKEND_H
#define HF_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_ABI_VERSION 3 /* bumped whenever bk_ops changes; a module built for another version is refused */

/* Weight dtypes: the numbering of kernels/matmul.h's mm_dtype (the CPU backend relies on it). */
enum { BK_F32 = 0, BK_BF16 = 1, BK_F16 = 2 };

/* A weight matrix in backend memory: rows x cols ([out, in]), row-major. data is not owned by the struct. Same
 * layout as kernels/matmul.h's mm_weight. */
typedef struct {
    int dtype; /* BK_F32, BK_BF16 (uint16_t bits), BK_F16 (IEEE half bits) */
    int rows;  /* N: output features */
    int cols;  /* K: input features */
    const void *data;
} bk_weight;

/* Flags of the products. */
enum {
    BK_ACCUMULATE = 1u << 0, /* add to the output instead of overwriting it */
    BK_FAST = 1u << 1,       /* bf16 weights: activations rounded to bf16, bf16 x bf16 products summed in fp32 (the
                                accuracy of PyTorch's bf16 matmul); without it (exact) weights are widened to fp32
                                and products and sums are fp32. Ignored for f32/f16 weights. */
};

#define BK_LINEAR_MAX 8 /* most products one op.linear call takes */

typedef struct bk_backend bk_backend;
typedef struct bk_kv bk_kv; /* a KV cache, owned by the backend that created it */

/* Sampling of one next token per row (optional op, see op.sample). */
typedef struct {
    float temperature; /* <= 0: greedy (argmax, lowest id on ties) */
    float top_p;       /* 1: off */
    int top_k;         /* 0: off */
} bk_sample_params;

/* The scalars of one AdamW step (op.adamw), computed once per step by the optimizer in fp32. */
typedef struct {
    float beta1, beta2, eps;
    float decay;     /* 1 - lr * weight_decay, or 1 where weight decay does not apply */
    float step_size; /* lr / (1 - beta1^step) */
    float bc2_sqrt;  /* sqrt(1 - beta2^step) */
} bk_adamw_args;

typedef struct {
    /* ---------------- memory ---------------- */

    /* bytes of backend memory, uninitialised, aligned to 64 bytes; NULL when out of memory. */
    void *(*alloc)(bk_backend *b, size_t bytes);
    /* Frees what alloc returned (NULL is ignored). */
    void (*free)(bk_backend *b, void *p);
    /* host -> backend and backend -> host copies of bytes bytes. download waits for every op queued before it.
     * Returns 0, or -1 with a message in b->err after a device error. */
    int (*upload)(bk_backend *b, void *dst, const void *host_src, size_t bytes);
    int (*download)(bk_backend *b, void *host_dst, const void *src, size_t bytes);
    /* backend -> backend copy (dst and src must not overlap). */
    void (*copy)(bk_backend *b, void *dst, const void *src, size_t bytes);
    /* Sets n floats at p to zero. */
    void (*zero)(bk_backend *b, float *p, size_t n);
    /* Waits for every queued op. 0, or -1 (message in b->err) when an earlier op failed on the device. */
    int (*sync)(bk_backend *b);

    /* Weights, biases and norm vectors: the backend's copy of bytes bytes of host memory that stays unchanged
     * while it is mapped. The CPU backend returns host itself (memory-mapped bf16 weights are used in place, no
     * copy); a GPU backend allocates device memory and uploads. NULL when out of memory. weight_unmap releases
     * what weight_map returned (on the CPU: nothing). The caller keeps host alive while it is mapped. */
    const void *(*weight_map)(bk_backend *b, const void *host, size_t bytes);
    void (*weight_unmap)(bk_backend *b, const void *p);

    /* CPU parallelism (a GPU backend ignores it): the ops use n threads (0: every thread the process started
     * with), and blas_threads says whether fp32 products may use the BLAS library's own thread pool (large
     * single products one at a time: fp32 training) instead of running inside the ops' one OpenMP pool (bf16
     * products, inference; the default). */
    void (*set_threads)(bk_backend *b, int n, bool blas_threads);

    /* ---------------- embedding ---------------- */

    /* x[T, cols] = rows tokens[t] of table (any dtype, widened to fp32 exactly). tokens: host, each in
     * [0, table->rows) (checked by the model). */
    void (*embed)(bk_backend *b, float *x, const bk_weight *table, const int *tokens, int T);
    /* Embedding backward: dtable[tokens[t]] += dx[t] (fp32 table gradient [rows, H]; repeated tokens add up). */
    void (*embed_bwd)(bk_backend *b, float *dtable, const float *dx, const int *tokens, int T, int H);

    /* ---------------- RMSNorm (Hugging Face): y = w * x / sqrt(mean(x^2) + eps) ---------------- */

    /* y, x [T, H]; w [H]; y may alias x. rstd [T] receives 1/sqrt(mean(x^2) + eps) when not NULL (training keeps
     * it for the backward). The mean is summed in double so long rows stay exact. */
    void (*rmsnorm)(bk_backend *b, float *y, float *rstd, const float *x, const float *w, int T, int H, float eps);
    /* dx [T, H] = d/dx (overwritten); dw [H] += d/dw (may be NULL); rstd from the forward. */
    void (*rmsnorm_bwd)(bk_backend *b, float *dx, float *dw, const float *dy, const float *x, const float *w,
                        const float *rstd, int T, int H);

    /* ---------------- RoPE (rotate-half, pairs (i, i + hd/2)) ---------------- */

    /* cs[T, hd] = per row cos of the hd/2 frequencies, then their sin, at positions pos[T] (host), with
     * inv_freq[j] = 1 / theta^(2j / hd) in fp32 and fp32 angles (as Hugging Face computes them). */
    void (*rope_table)(bk_backend *b, float *cs, const int *pos, int T, int hd, float theta);
    /* In place on v [T, nheads * hd]; the backward rotates a gradient by the opposite angle. */
    void (*rope)(bk_backend *b, float *v, int T, int nheads, int hd, const float *cs);
    void (*rope_bwd)(bk_backend *b, float *dv, int T, int nheads, int hd, const float *cs);

    /* ---------------- products ---------------- */

    /* count (1..BK_LINEAR_MAX) products of the same x [M, K]: ys[i][M, ws[i]->rows] (+)= x . ws[i]^T
     * (+ biases[i][ws[i]->rows]). All ws share cols K. biases may be NULL or hold NULL entries. flags: BK_FAST,
     * BK_ACCUMULATE. One call for q/k/v (and gate/up) so the CPU forks its threads once and converts x once;
     * results equal count separate calls (bit for bit for bf16 weights on the CPU; to fp32 rounding for f32,
     * which BLAS may block differently). ys must not alias x. */
    void (*linear)(bk_backend *b, int count, float *const *ys, const bk_weight *const *ws, const float *const *biases,
                   const float *x, int M, unsigned flags);
    /* dx [M, K] (+)= dy [M, N] . W [N, K] (flags: BK_ACCUMULATE, BK_FAST as in the forward). */
    void (*linear_dx)(bk_backend *b, float *dx, const float *dy, int M, const bk_weight *w, unsigned flags);
    /* dw [N, K] += dy^T . x and db [N] += column sums of dy (either may be NULL); fp32. */
    void (*linear_dw)(bk_backend *b, float *dw, float *db, const float *dy, const float *x, int M, int N, int K);
    /* General fp32 product (LoRA adapters, merges): C [M, N] = alpha op(A) op(B) + beta C, row-major with leading
     * dimensions lda/ldb/ldc (cblas_sgemm's row-major arguments). beta == 0 overwrites C without reading it. */
    void (*gemm)(bk_backend *b, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

    /* ---------------- dropout (LoRA inputs, training) ---------------- */

    /* dst[i] = x[i] * mask(key, i): 0 with probability p, else 1 / (1 - p). The mask is a hash of (key, i) (no
     * state), so the backward redraws the forward's mask from the same key. dst may alias x. */
    void (*dropout)(bk_backend *b, float *dst, const float *x, size_t n, uint64_t key, float p);
    /* dx[i] += g[i] * mask(key, i) (the backward of dropout, accumulated). */
    void (*dropout_bwd_add)(bk_backend *b, float *dx, const float *g, size_t n, uint64_t key, float p);

    /* ---------------- attention (causal, GQA: query head h reads KV head h / (nh / nkv)) ---------------- */

    /* Packed prefill without a cache (training, scoring): n_seqs sequences, sequence s is rows
     * seq_start[s]..seq_start[s+1]-1 (host array of n_seqs + 1), positions restart at 0 in each. q, out
     * [T, nh*hd]; k, v [T, nkv*hd]; scale 1/sqrt(hd). lse [T, nh] receives each row's log-sum-exp of the scaled
     * scores, so the backward recomputes the probabilities instead of storing T^2 of them. */
    void (*attn)(bk_backend *b, float *out, float *lse, const float *q, const float *k, const float *v, int n_seqs,
                 const int *seq_start, int nh, int nkv, int hd);
    /* dq, dk, dv overwritten. */
    void (*attn_bwd)(bk_backend *b, float *dq, float *dk, float *dv, const float *dout, const float *out,
                     const float *lse, const float *q, const float *k, const float *v, int n_seqs, const int *seq_start,
                     int nh, int nkv, int hd);

    /* ---------------- KV cache ---------------- */

    /* A cache of n_slots independent sequences of up to max_len tokens, for n_layers layers of kv_dim
     * (= nkv * hd) keys and values per token, stored as fp32 or (bf16) bf16 rounded to nearest even. Layout is
     * the backend's ([slot][layer][pos][kv_dim] on the CPU); memory is reserved whole but may be touched only
     * as slots fill. The backend does not track lengths: the model does (positions are passed in). NULL when
     * out of memory. */
    bk_kv *(*kv_create)(bk_backend *b, int n_slots, int max_len, int n_layers, int kv_dim, bool bf16);
    void (*kv_free)(bk_backend *b, bk_kv *kv);
    /* Slot dst's first n positions become a copy of slot src's (all layers): a prefix fork, one prefill shared by
     * the samples of a prompt. dst != src. */
    void (*kv_copy)(bk_backend *b, bk_kv *kv, int dst, int src, int n);
    /* One layer of T rows: applies RoPE (cs from rope_table) to q [T, nh*hd] and k [T, nkv*hd] in place, stores k
     * and v [T, nkv*hd] of row t at (slots[t], layer, pos[t]), then out [T, nh*hd] = causal attention of each q row
     * over its slot's positions 0..pos[t] (what this call and earlier calls stored). Rows of one slot are
     * consecutive and in position order; slots differ between runs of rows (host arrays slots[T], pos[T]). Long
     * runs of one slot (a prompt) and single rows (a decode step over many slots) may take different code paths
     * that agree to fp32 rounding. Fused so that the CPU walks the rows once and a GPU launches few kernels
     * per layer of a decode step. Returns 0, or -1 when out of memory for its scratch (out is then undefined). */
    int (*kv_attn)(bk_backend *b, bk_kv *kv, int layer, float *out, float *q, float *k, const float *v,
                    const float *cs, int T, const int *slots, const int *pos, int nh, int nkv, int hd);

    /* ---------------- MLP and residual ---------------- */

    /* a[i] = silu(g[i]) * u[i] = g / (1 + e^-g) * u over n values; a may alias g or u. */
    void (*swiglu)(bk_backend *b, float *a, const float *g, const float *u, size_t n);
    /* dg, du overwritten (the forward's g and u are inputs). */
    void (*swiglu_bwd)(bk_backend *b, float *dg, float *du, const float *da, const float *g, const float *u,
                       size_t n);
    /* y[i] = a[i] + c[i] over n values (residual adds); y may alias a or c. */
    void (*add)(bk_backend *b, float *y, const float *a, const float *c, size_t n);

    /* ---------------- rows, head, loss, sampling ---------------- */

    /* dst[i, :] = src[rows[i], :] for n rows of width H (rows: host). dst must not alias src. */
    void (*gather_rows)(bk_backend *b, float *dst, const float *src, const int *rows, int n, int H);
    /* dst[rows[i], :] += src[i, :] (the backward of gather_rows; rows may repeat). */
    void (*scatter_add_rows)(bk_backend *b, float *dst, const float *src, const int *rows, int n, int H);
    /* Cross-entropy of logits rows [n, V] against targets[n] (host): nll[i] (backend memory, n floats) =
     * logsumexp(row) - row[target] (fp32 partial sums added in double). When scale != 0 the rows are replaced by
     * their gradient scale * (softmax - onehot); with scale == 0 they are left unchanged. */
    void (*xent)(bk_backend *b, float *logits, const int *targets, float *nll, int n, int V, float scale);
    /* Scoring: lp[i] (backend memory) = log softmax(row i)[targets[i]] with the exponentials summed in double
     * (what `score` reports). logits unchanged. */
    void (*logprobs)(bk_backend *b, float *lp, const float *logits, const int *targets, int n, int V);
    /* Optional (NULL on the CPU, where the sampler in src/generate works on downloaded logits): draws one token
     * per row into ids[n] (host) from row rows[i] (host; NULL: row i) of logits [*, V] with the given parameters
     * and seeds[n] (host; the same seed and logits give the same id), so that only token ids cross the bus.
     * lps[n] (host, may be NULL) receives each drawn id's log-probability under the distribution it was drawn
     * from (temperature, top-k / top-p applied, renormalised; 0 for greedy), as gen_sample_lp reports it.
     * Returns 0, or -1 (message in b->err). */
    int (*sample)(bk_backend *b, int *ids, float *lps, const float *logits, const int *rows, int n, int V,
                  const bk_sample_params *sp, const uint64_t *seeds);

    /* ---------------- policy gradient (rl/) ---------------- */

    /* The sampled distribution at temperature 1/inv_temp: with s = inv_temp * row, lp[i] (backend memory) =
     * log softmax(s)[targets[i]] and, when ent is not NULL, ent[i] = the entropy of softmax(s). With host_scale
     * (host, n floats) not NULL the rows are then replaced by the gradient of sum_i host_scale[i] * -lp[i] with
     * respect to the raw logits, host_scale[i] * inv_temp * (softmax(s) - onehot); else they are unchanged.
     * The exponentials are summed as op.xent sums them (fp32 parts added in double). */
    void (*xent_temp)(bk_backend *b, float *logits, const int *targets, float *lp, float *ent, int n, int V,
                      float inv_temp, const float *host_scale);

    /* ---------------- training: optimizer, clipping (train/opt_adamw.c) ----------------
     * The trainable parameters, their gradients and the optimizer's moments are fp32 arrays in backend memory,
     * so one optimizer step runs where the model runs (no parameter crosses the bus). */

    /* One AdamW update of n parameters (torch.optim.AdamW): p *= a->decay; m = b1 m + (1 - b1) g;
     * v = b2 v + (1 - b2) g^2; p -= a->step_size * m / (sqrt(v) / a->bc2_sqrt + a->eps), each in fp32 in this
     * order. With p_bf16 not NULL the updated p is also written there rounded to bf16 (the working copy of bf16
     * weights whose fp32 master copy p is; NULL: none). */
    void (*adamw)(bk_backend *b, float *p, const float *g, float *m, float *v, uint16_t *p_bf16, size_t n,
                  const bk_adamw_args *a);
    /* The sum of x[i]^2 over n floats in double (the global gradient norm's square; also finite exactly when
     * every x[i] is). Waits for the queued ops; returns NaN after a device error (message in b->err). */
    double (*sumsq)(bk_backend *b, const float *x, size_t n);
    /* x[i] *= s over n floats (global-norm clipping). */
    void (*scale)(bk_backend *b, float *x, size_t n, float s);
} bk_ops;

struct bk_backend {
    int abi_version;    /* BK_ABI_VERSION of the code that filled op */
    char name[64];      /* "cpu", "cuda:0 (NVIDIA H200)" */
    bool host_memory;   /* backend memory is host memory (the CPU): the model may read its results in place */
    bk_ops op;
    void *impl;         /* the backend's own state */
    char err[512];      /* the last device error, for sync/download/upload failures */
    void (*destroy)(bk_backend *b); /* frees impl and b itself */
};

/* What a model is about to use a backend for (bk_ops_check). */
enum { BK_NEED_INFER = 1u << 0, BK_NEED_TRAIN = 1u << 1 };
/* 0 when b's table has every op that need (BK_NEED_* bits) calls, else -1 with "cuda:0 (...) lacks op.X,
 * needed for training" in err (the first missing op; all of them, comma-separated, up to errcap). Also refuses
 * a table of another BK_ABI_VERSION. src/backend/bk_check.c. */
int bk_ops_check(const bk_backend *b, unsigned need, char *err, size_t errcap);

/* The CPU backend (src/backend/cpu.c): one process-wide instance, never freed (destroy is NULL), used from one
 * thread at a time (the ops keep no state between calls except grown scratch inside KV caches). The first call
 * sets BLAS to one thread (one OpenMP pool for everything; see op.set_threads). */
bk_backend *bk_cpu(void);

/* A backend built as a shared module (the CUDA one) exports one function under this name, which the program finds
 * with dlopen/dlsym: it opens device (e.g. "cuda:0"; "cuda" for the first usable one) and returns a backend whose
 * abi_version is BK_ABI_VERSION (the caller refuses another), or NULL with the reason in err (no driver, no such
 * device, out of memory). The caller frees it with b->destroy(b) after every model on it is freed. */
#define BK_MODULE_OPEN_SYMBOL "bk_module_open"
typedef bk_backend *(*bk_module_open_fn)(const char *device, char *err, size_t errcap);

#endif
