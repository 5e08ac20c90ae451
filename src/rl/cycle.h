/* rl/cycle: the training half of one policy-gradient cycle of `halo-forge rl train`: the cycle's verified
 * samples (raft/loop.c's cycle_c_verified.jsonl records, with the sampler's "tokens" and "logprobs") become a
 * rollout batch, rl_update trains the weights the cycle sampled from, and the result is written as
 * cycle_c_final/ exactly as a RAFT cycle writes it (PEFT adapter of the base model, or a full f32 model folder).
 *
 * Prompts are formatted and tokenized as the sampler did (chat template of the model, system prompt), so the
 * trainer sees the very ids that were sampled from; completions are the sampled ids themselves (never the
 * completion text tokenized again).
 *
 * A rerun after a crash in the update redoes the update from the same inputs (the update is deterministic for
 * a machine and thread count), so the adapter equals an uninterrupted run's; nothing is written until the
 * final folder is renamed into place. Errors: -1 with "PATH: reason" or "rl: reason" in err; 1 cancelled. */
#ifndef HF_RL_CYCLE_H
#define HF_RL_CYCLE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "rl/update.h"

typedef struct {
    const char *model_dir;     /* the base model */
    const char *prev;          /* the weights the cycle sampled from: an adapter folder (LoRA) or a model folder
                                  (full); NULL: the base (and, for LoRA, a fresh adapter) */
    bool full_finetune;
    int lora_rank;
    float lora_alpha;
    const char *system_prompt;
    const char *verified_path; /* for messages */
    const char *cycle_dir;     /* cycle_c/: rl_metrics.jsonl */
    const char *final_dir;     /* cycle_c_final/ */
    int samples_per_prompt;    /* the group size */
    rl_update_opts update;     /* metrics is set here */
    struct bk_backend *backend; /* where the update runs (borrowed); NULL: the CPU */
} rl_cycle_opts;

/* recs: the verified records (any order); groups are the records of one prompt_id and "refill_round" (absent:
 * 0; a prompt sampled again by DAPO's refill is a new group), ordered by sample_idx, and a group with other than
 * samples_per_prompt records is left out with a warning. */
int rl_cycle_train(const rl_cycle_opts *o, cJSON *const *recs, size_t n, rl_update_report *rep, char *err,
                   size_t errcap);

#endif
