/* train_model: a Qwen2/Llama model held in fp32 for training: forward pass that saves what the
 * backward needs, backward pass, LoRA adapters or full fine-tuning, and a chunked cross-entropy
 * that never holds the logits of more than a few rows.
 *
 * Parameters: the base weights are converted to fp32 once, at load, into one arena, except that with
 * LoRA the bf16 matrices of a bf16 model are used in place from the memory-mapped file (kernels/matmul.h
 * bf16 products). With LoRA the base is frozen (never copied or written per step) and the trainable parameters are the
 * adapters (A [r, in], B [out, r] per adapted projection, y = W x + b + (alpha / r) B A dropout(x)).
 * With full fine-tuning every base tensor is trainable (a tied head and embedding are one tensor).
 * Either way the trainable parameters and their gradients are flat arrays (params, grads) described
 * by a table of named tensors (Hugging Face names for full models, PEFT names for adapters), which is
 * what the optimizer and the checkpoint code walk.
 *
 * Ownership: train_model_load() returns a model that owns everything; train_model_free() frees it.
 * Errors: 0 / -1 with "FILE: what is wrong" (or "train: ...") in err. */
#ifndef HF_TRAIN_MODEL_H
#define HF_TRAIN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "model/model.h"

enum { LORA_Q, LORA_K, LORA_V, LORA_O, LORA_GATE, LORA_UP, LORA_DOWN, LORA_NPROJ };
#define LORA_ALL_TARGETS 0x7fu
/* "q_proj", "k_proj", ..., "down_proj" (index = LORA_Q ...). */
extern const char *const lora_proj_names[LORA_NPROJ];
/* Parses a comma-separated list of projection names (or "all") into a bit mask; -1 on an unknown name. */
int lora_parse_targets(const char *list, unsigned *mask, char *err, size_t errcap);

typedef struct {
    int rank;             /* 0: full fine-tuning */
    float alpha;
    float dropout;        /* probability of zeroing an input of an adapter, training only */
    unsigned targets;     /* bit mask of LORA_* projections */
    bool no_grad;         /* rank 0 only: load for inference / merging, without a gradient arena */
    bool fp32_base;       /* LoRA: hold bf16 base matrices in fp32 too (needed to merge another adapter into them) */
} lora_config;

typedef struct {
    char name[160];
    float *data;          /* into the trainable arena (backend memory: on a GPU, device memory) */
    float *grad;          /* into the gradient arena (backend memory) */
    float *host;          /* the host mirror of data (== data on the CPU); current after train_model_pull */
    size_t numel;
    int ndim;
    int64_t shape[2];
    bool decay;           /* weight decay applies (matrices yes; biases and norm weights no) */
} train_tensor;

/* One batch: n_seqs sequences packed into n_tokens rows (sequence s is rows seq_start[s] ..
 * seq_start[s+1]-1, positions restart at 0 for each). Row t is a prediction target (its token is
 * predicted from row t-1 of the same sequence and enters the loss) when target[t] is nonzero;
 * the first row of a sequence is never a target. */
typedef struct {
    int n_tokens;
    int n_seqs;
    const int *tokens;
    const int *seq_start; /* n_seqs + 1 entries, seq_start[0] = 0, seq_start[n_seqs] = n_tokens */
    const uint8_t *target;
} train_batch;

typedef struct train_model train_model;

/* Loads the model folder dir (config.json + model.safetensors or a sharded index) in fp32 and sets
 * up LoRA adapters (lc->rank > 0; A Kaiming-uniform as PEFT initialises it, B zero, drawn from
 * init_seed) or full fine-tuning (lc->rank == 0). An adapter folder (adapter_config.json) loads its base
 * model (train_adapter_base) with the adapter merged into fp32 base weights (train_model_dir then names the
 * base folder). */
train_model *train_model_load(const char *dir, const lora_config *lc, uint64_t init_seed, char *err, size_t errcap);
/* The same, then held on backend bk (NULL or the CPU: as train_model_load): loading runs on the host, then the
 * parameters, gradients and frozen weights are copied to bk and every step, optimizer update and merge runs there.
 * Out of device memory is an error naming the sizes. bk must outlive the model. */
train_model *train_model_load_on(const char *dir, const lora_config *lc, uint64_t init_seed, bk_backend *bk,
                                 char *err, size_t errcap);
void train_model_free(train_model *m);
/* The backend the model runs on (bk_cpu() unless loaded on another). */
bk_backend *train_model_backend(const train_model *m);

const model_config *train_model_config(const train_model *m);
const lora_config *train_model_lora(const train_model *m);
const char *train_model_dir(const train_model *m);
/* The trainable tensors. */
int train_model_n_tensors(const train_model *m);
train_tensor *train_model_tensor(train_model *m, int i);
train_tensor *train_model_find(train_model *m, const char *name);
/* The whole trainable arena and its gradient (n floats each), in backend memory (host memory on the CPU). */
float *train_model_params(train_model *m, size_t *n);
float *train_model_grads(train_model *m, size_t *n);
void train_model_zero_grad(train_model *m);
/* The host mirror of the trainable arena (== train_model_params on the CPU). train_model_pull makes it current
 * (device -> host; also the base weights after a merge on the device), train_model_push copies it to the device
 * after the host wrote it (resume). Both do nothing on the CPU. 0, or -1 with the device's message. The saving
 * functions below pull first themselves. */
float *train_model_host_params(train_model *m, size_t *n);
int train_model_pull(train_model *m, char *err, size_t errcap);
int train_model_push(train_model *m, char *err, size_t errcap);
/* The bf16 working copy of trainable tensor i that op.adamw refreshes (full fine-tuning of bf16 weights on a
 * device), or NULL. */
uint16_t *train_model_bf16_copy(train_model *m, int i);

/* Recompute each layer's activations in the backward pass instead of keeping them (less memory,
 * one more forward). Default on. */
void train_model_set_checkpointing(train_model *m, bool on);
/* bf16 base weights (LoRA): products with bf16-rounded activations (MM_FAST, about PyTorch bf16's
 * accuracy, about twice as fast) instead of exact fp32 products. Default off (exact). */
void train_model_set_fast(train_model *m, bool on);
/* Selects the dropout masks: the same (seed, counter) gives the same masks, so a resumed run
 * draws what the uninterrupted one drew. */
void train_model_set_dropout_key(train_model *m, uint64_t seed, uint64_t counter);

/* Forward and backward on one batch. Gradients are ADDED to the gradient arena, each target's
 * negative log-likelihood weighted by loss_scale (1 / number of targets in the optimizer step gives
 * the token-level mean over the step's micro-batches). *nll_sum gets the summed NLL of the targets
 * and *n_targets their number. */
int train_model_step(train_model *m, const train_batch *b, float loss_scale, double *nll_sum, long *n_targets,
                     char *err, size_t errcap);
/* Forward only (no dropout): summed NLL and number of targets. */
int train_model_eval(train_model *m, const train_batch *b, double *nll_sum, long *n_targets, char *err,
                     size_t errcap);

/* Forward only, as train_model_eval, and each target's NLL (-log p) into nll (host, one float per target, in
 * row order: the rows t whose target[t + 1] is set). The log-probs the trainer computes, to compare with the
 * sampler's (model_forward) for the same tokens. */
int train_model_eval_tokens(train_model *m, const train_batch *b, float *nll, double *nll_sum, long *n_targets,
                            char *err, size_t errcap);

/* Policy-gradient pass (rl/): the log-probability of each target at temperature 1 / inv_temp (the distribution
 * the sampler drew from) through the same forward pass, into lp (host, one float per target in row order as
 * train_model_eval_tokens), entropies into ent (may be NULL). With coef (see model/forward_pg.h: it gets each
 * chunk's log-probs and returns each token's weight) the backward runs too and gradients are ADDED as
 * train_model_step adds them; coef NULL: forward only, no dropout. */
typedef int (*train_pg_coef_fn)(void *user, int r0, int n, const float *lp, const float *ent, float *scale,
                                char *err, size_t errcap);
typedef struct {
    float inv_temp;
    train_pg_coef_fn coef;
    void *user;
    float *lp, *ent;
} train_pg;
int train_model_pg(train_model *m, const train_batch *b, const train_pg *pg, long *n_targets, char *err,
                   size_t errcap);
/* LoRA off (false) or on again: with them off the forward is the base model's (the KL reference, served by the
 * same weights instead of a second copy). Gradients of the adapters are not computed while off. */
void train_model_set_adapters(train_model *m, bool on);

/* Writes the base weights with the adapters merged in (W + alpha/r B A), or the fine-tuned weights,
 * as a Hugging Face model folder: model.safetensors (bf16 or f32), config.json, generation_config.json.
 * Tokenizer files are not written here. */
int train_model_save_full(train_model *m, const char *dir, bool bf16, char *err, size_t errcap);
/* Writes adapter_config.json and adapter_model.safetensors (PEFT format) into dir. */
int train_model_save_adapter(train_model *m, const char *dir, const char *base_name, char *err, size_t errcap);
/* Loads adapter_model.safetensors from dir into the adapters (the shapes must match). */
int train_model_load_adapter_weights(train_model *m, const char *dir, char *err, size_t errcap);

/* Adds an adapter folder (adapter_config.json + adapter_model.safetensors, PEFT format) into the
 * base weights: W += lora_alpha / r * B A for every adapted projection. */
int train_model_merge_adapter(train_model *m, const char *adapter_dir, char *err, size_t errcap);
/* When dir holds an adapter (adapter_config.json), writes its base model folder into base and returns 1;
 * returns 0 for a plain model folder, -1 on a malformed adapter_config.json or a base that cannot be found.
 * The same resolution as model_adapter_base (model/lora_apply.h). */
int train_adapter_base(const char *dir, char *base, size_t cap, char *err, size_t errcap);

#endif
