/* train_ops: forward and backward of the operations of a Qwen2/Llama decoder, in fp32, on packed
 * batches (the tokens of several sequences concatenated: row t of every [T, ...] array is one token).
 *
 * Conventions: row-major arrays, caller-owned, no allocation except where noted. Backward functions
 * ACCUMULATE (+=) into parameter gradients (dw) and, unless noted, OVERWRITE input gradients (dx),
 * so a caller can chain them without zeroing. Parameter-gradient pointers may be NULL (frozen). */
#ifndef HF_TRAIN_OPS_H
#define HF_TRAIN_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/expf.h"

/* RMSNorm as Hugging Face computes it: y = w * x / sqrt(mean(x^2) + eps); rstd[t] keeps 1/sqrt(.). */
void train_rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int T, int H, float eps);
/* dx = d/dx (overwritten); dw += (may be NULL). */
void train_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd, int T,
                       int H);

/* Rotate-half RoPE in place on T rows of nheads heads of hd dims; cs holds per row hd floats:
 * cos of the hd/2 frequencies, then their sin. The backward applies the inverse rotation to a gradient. */
void train_rope_fwd(float *v, int T, int nheads, int hd, const float *cs);
void train_rope_bwd(float *dv, int T, int nheads, int hd, const float *cs);
/* cs[T, hd] for positions pos[T] and inv_freq[hd/2] (fp32 angles, as HF). */
void train_rope_table(float *cs, const int *pos, int T, int hd, const float *inv_freq);

/* Causal GQA attention over n_seqs packed sequences (sequence s is rows seq_start[s]..seq_start[s+1]-1),
 * query head h using key/value head h / (nh / nkv). q[T, nh*hd], k and v [T, nkv*hd], out [T, nh*hd],
 * lse [T, nh] keeps the log-sum-exp of the scaled scores so that the backward recomputes probabilities
 * instead of storing T^2 of them. */
void train_attn_fwd(float *out, float *lse, const float *q, const float *k, const float *v, int n_seqs,
                    const int *seq_start, int nh, int nkv, int hd);
/* dq, dk, dv overwritten. */
void train_attn_bwd(float *dq, float *dk, float *dv, const float *dout, const float *out, const float *lse,
                    const float *q, const float *k, const float *v, int n_seqs, const int *seq_start, int nh, int nkv,
                    int hd);

/* SwiGLU: a = silu(g) * u elementwise over n values; backward overwrites dg and du. */
void train_swiglu_fwd(float *a, const float *g, const float *u, size_t n);
void train_swiglu_bwd(float *dg, float *du, const float *da, const float *g, const float *u, size_t n);

/* C = alpha op(A) op(B) + beta C with cblas_sgemm's row-major arguments. When OpenBLAS is single-threaded (LoRA
 * training on bf16 weights keeps it so) and the product is not small, the OpenMP threads share C out in blocks
 * of rows (or of columns, when C is wider than tall), each computed by its own sgemm call; otherwise one call.
 * The result depends on the thread count in the last bits only, and not at all from run to run. */
void train_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                 int ldb, float beta, float *C, int ldc);

/* Linear layers: y[M,N] = x[M,K] W[N,K]^T (+ b); dx[M,K] (+)= dy W; dW[N,K] += dy^T x; db[N] += colsum(dy).
 * Through OpenBLAS sgemm. accumulate chooses += or = for y / dx. */
void train_matmul_fwd(float *y, const float *x, const float *W, const float *b, int M, int N, int K, int accumulate);
void train_matmul_dx(float *dx, const float *dy, const float *W, int M, int N, int K, int accumulate);
void train_matmul_dw(float *dW, float *db, const float *dy, const float *x, int M, int N, int K);

/* Cross-entropy of logits rows [n, V] against targets[n]: nll[i] = logsumexp(row) - row[target].
 * If scale != 0 the rows are replaced by their gradient scale * (softmax - onehot). */
void train_xent_rows(float *logits, const int *targets, float *nll, int n, int V, float scale);

#endif
