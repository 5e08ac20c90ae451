/* forward: the one Qwen2/Llama model (fwd_model: config, weights, LoRA adapters and, when training, their
 * gradients) and its one forward pass, with the backward of each step beside it, written against the backend
 * (backend/backend.h). model.c (generate, score: KV cache, merged weights) and train/train_model.c (training:
 * packed sequences, saved activations, adapters or full fine-tuning) load weights into a fwd_model and call these
 * functions; neither has layer arithmetic of its own.
 *
 * Memory: every float pointer here is backend memory (op.alloc or op.weight_map), index arrays (tokens, slots,
 * positions, sequence starts, rows) are host memory. The caller owns all of it; these functions allocate only
 * the small scratch of fwd_loss. The model code never reads activation memory itself. */
#ifndef HF_MODEL_FORWARD_H
#define HF_MODEL_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "model/model.h"

/* The seven projections of a layer, in the order of PEFT's usual target_modules list. */
enum { FWD_Q, FWD_K, FWD_V, FWD_O, FWD_GATE, FWD_UP, FWD_DOWN, FWD_NPROJ };

/* One linear layer: y = x W^T + b + lora_scale * (dropout(x) A^T) B^T. */
typedef struct {
    bk_weight w;              /* base weight [rows, cols] */
    const float *b;           /* bias [rows], or NULL */
    float *A, *B;             /* adapter [r, cols] and [rows, r], NULL when not adapted */
    float *dw, *db, *dA, *dB; /* gradients (accumulated), NULL when frozen / absent */
} fwd_linear;

typedef struct {
    const float *ln1, *ln2; /* input_layernorm, post_attention_layernorm [H] */
    float *dln1, *dln2;     /* their gradients, NULL when frozen */
    fwd_linear p[FWD_NPROJ];
} fwd_layer;

typedef struct {
    model_config cfg;
    bk_backend *bk;
    bk_weight embed, head;  /* head == embed when tied */
    const float *norm;      /* final norm [H] */
    float *dembed, *dhead, *dnorm; /* gradients (full fine-tuning; dhead == dembed when tied), else NULL */
    fwd_layer *layers;      /* cfg.num_layers */
    int lora_rank;          /* 0: no adapters */
    float lora_scale;       /* alpha / r */
    float lora_dropout;     /* probability, training only */
    unsigned flags;         /* BK_FAST: bf16-rounded activations in the bf16 products */
} fwd_model;

/* What one layer computes, for T rows. The backward needs all of it; inference passes NULL for rstd1, rstd2,
 * lse and lt[] and may let h2 alias h1 and act alias g. */
typedef struct {
    float *h1, *rstd1;   /* norm of the layer input [T, H], its 1/rms [T] */
    float *q, *k, *v;    /* after RoPE [T, nh*hd], [T, nkv*hd] x2 */
    float *att, *lse;    /* attention output [T, nh*hd], log-sum-exp [T, nh] (packed attention only) */
    float *x_mid;        /* residual after attention [T, H] */
    float *h2, *rstd2;   /* its norm [T, H], 1/rms [T] */
    float *g, *u, *act;  /* gate, up, silu(gate) * up [T, I] */
    float *lt[FWD_NPROJ]; /* adapter intermediates dropout(x) A^T [T, r], for adapted projections */
} fwd_acts;

/* Scratch shared by the layers (T rows). tmp [T, H] always; drop [T, max(H, I, nh*hd)] when adapters have
 * dropout; the rest only for the backward: dx, dh, dtmp [T, H], dq, datt [T, nh*hd], dk, dv [T, nkv*hd],
 * dg, du, dact [T, I], dt [T, r]. */
typedef struct {
    float *tmp, *drop;
    float *dx, *dh, *dtmp, *dq, *dk, *dv, *datt, *dg, *du, *dact, *dt;
} fwd_work;

/* The rows one forward pass works on. Attention is over the KV cache kv (slots/pos per row: inference) when kv
 * is set, else over the n_seqs packed sequences seq_start (positions restart at 0 in each: training, scoring). */
typedef struct {
    int T;
    const float *cs;              /* RoPE table [T, hd] (op.rope_table of the rows' positions) */
    bk_kv *kv;
    const int *slots, *pos;       /* [T], host */
    int n_seqs;
    const int *seq_start;         /* [n_seqs + 1], host */
    bool train;                   /* dropout on adapter inputs */
    uint64_t drop_seed, drop_counter; /* the dropout key (see fwd_drop_key) */
} fwd_batch;

/* Layer l on T rows: y = layer(x). y may alias x (inference keeps one residual stream). With recompute
 * (gradient checkpointing: the activations again, for the backward) y is not written and the down projection's
 * base product is skipped (the backward needs only its adapter intermediate). Returns 0, or -1 when the backend
 * ran out of memory (err says so). */
int fwd_layer_forward(const fwd_model *m, int l, const fwd_batch *b, fwd_acts *a, fwd_work *w, const float *x, float *y,
              bool recompute, char *err, size_t errcap);
/* Backward of layer l: w->dx holds dLoss/d(output) on entry and dLoss/d(input x) on return; parameter gradients
 * are accumulated. a holds what fwd_layer computed for the same rows and x. */
void fwd_layer_backward(const fwd_model *m, int l, const fwd_batch *b, const fwd_acts *a, fwd_work *w, const float *x);

/* Next-token logits [nr, V] of the rows rows[nr] of the last residual x: final norm and head. h is scratch
 * [nr, H]. */
void fwd_logits(const fwd_model *m, float *logits, const float *x, const int *rows, int nr, float *h);

/* The loss over targets: row rows[i] of the normed last residual hf [T, H] predicts token targets[i]. Logits are
 * made chunk rows at a time (never nr x V at once). *nll_sum gets the summed negative log-likelihood; nll (host,
 * nr floats, may be NULL) each target's. With dh (backward) the head's gradient, each NLL weighted by scale, is
 * added to dh [T, H] (and to m->dhead). Returns 0, or -1 out of memory. */
int fwd_loss(const fwd_model *m, const float *hf, const int *rows, const int *targets, int nr, float scale, float *dh,
             double *nll_sum, float *nll, char *err, size_t errcap);

/* With HF_PROFILE=1 in the environment fwd_layer_forward sums the wall time of each of its steps over all calls
 * (synchronising the backend at each step); this prints the sums to stderr and resets them. model_free calls it. */
void fwd_profile_print(void);

/* The dropout key of projection proj of layer l under (seed, counter): the same triple gives the same mask. */
uint64_t fwd_drop_key(uint64_t seed, uint64_t counter, int layer, int proj);

#endif
