/* train_run: the supervised fine-tuning loop behind `halo-forge sft train`: data, batches,
 * gradient accumulation, AdamW with a schedule, evaluation and early stopping, metrics,
 * checkpoints with the full training state, bit-exact resume, and the final model.
 *
 * Output folder layout:
 *   metrics.jsonl          one line per optimizer step {"step","epoch","loss","lr","grad_norm","tokens",
 *                          "tokens_per_sec"} and per evaluation {"step","eval_loss"}
 *   checkpoint-N/          the adapter (PEFT) or the full model (HF safetensors, f32) after step N, tokenizer
 *                          files, training_config.json and trainer_state.bin (optimizer moments, trainable
 *                          parameters in fp32, step, early-stopping state); written to checkpoint-N.tmp and
 *                          renamed, so a checkpoint folder is always complete
 *   final_model/           the same for the end of training (adapter, or full model): the last step's weights,
 *                          also after early stopping
 *   best_model/            with evaluation on (validation split and eval_steps > 0): the weights at the
 *                          evaluation with the lowest eval_loss (an improvement counts when it beats the best by
 *                          more than early_stopping_threshold, as for early stopping), tokenizer files and
 *                          best_eval.json {"step", "eval_loss"}; rewritten at each improvement
 * Resuming (resume_dir) needs the same data and flags: batches are a function of (seed, step), and
 * dropout masks of (seed, micro-batch counter), so the continued run computes what the uninterrupted
 * one would have, bit for bit, on the same machine and thread count. */
#ifndef HF_TRAIN_RUN_H
#define HF_TRAIN_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "train/sched.h"
#include "train/train_model.h"

typedef struct {
    const char *model_dir;     /* a model folder, or an adapter folder (its base is loaded and the adapter merged) */
    const char *data_path;     /* JSONL */
    const char *output_dir;
    const char *resume_dir;    /* a checkpoint-N folder, or NULL */
    int epochs;
    int batch_size;            /* sequences per micro-batch */
    int grad_accum;            /* micro-batches per optimizer step */
    float learning_rate;
    float warmup_ratio;
    long warmup_steps;         /* > 0 overrides warmup_ratio */
    sched_kind scheduler;
    float weight_decay, max_grad_norm, beta1, beta2, eps;
    lora_config lora;          /* rank 0: full fine-tuning */
    long save_steps, eval_steps;
    int save_total_limit;      /* 0: keep all */
    int early_stopping_patience; /* 0: off */
    float early_stopping_threshold;
    long max_samples;
    double validation_split;
    int max_seq_len;
    bool gradient_checkpointing, shuffle, train_on_prompt;
    bool fast_matmul;          /* bf16 products with bf16-rounded activations for bf16 base weights (LoRA) */
    uint64_t seed;
    long max_steps;            /* > 0: stop after this many optimizer steps (the schedule still spans the epochs) */
    const char *init_adapter;  /* LoRA: start the adapters from this adapter folder's weights (same rank and
                                  targets) instead of a fresh init; NULL: fresh. RAFT continues one adapter. */
    bk_backend *backend;       /* where training runs (NULL: the CPU); borrowed, must outlive train_run. The
                                  checkpoints and final model are the same files as on the CPU. */
    const volatile int *cancel; /* optional: checked before each optimizer step; when nonzero train_run
                                   returns -1 with "train: interrupted" (checkpoints already written stay) */
} train_options;

/* Default values as `sft train` documents them. */
void train_options_default(train_options *o);

/* Runs training. 0 on success (including early stopping), -1 with a message in err. */
int train_run(const train_options *o, char *err, size_t errcap);

#endif
