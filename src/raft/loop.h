/* raft loop: the RAFT training loop behind `halo-forge raft train`.
 *
 * Cycle c (1-based) of n:
 *   1. prompts: the curriculum's choice for c; reward shaping gives the cycle's threshold and keep fraction;
 *   2. generate samples_per_prompt completions per prompt from the current weights (the base model
 *      with the adapter of cycle c-1 merged in) -> cycle_c_samples.jsonl, one line per sample, flushed
 *      as each sample finishes;
 *   3. verify every sample on the worker pool -> cycle_c_verified.jsonl (each record + its reward);
 *   4. filter (raft_filter) and fine-tune the LoRA adapter on the kept samples (system + prompt +
 *      completion as a chat, only the completion is a target), starting from cycle c-1's adapter, so
 *      one adapter keeps training across cycles as in the original -> cycle_c/ (trainer output,
 *      metrics.jsonl) and cycle_c_final/ (PEFT adapter on the base model + tokenizer files);
 *   5. raft_statistics.json (one entry per cycle) and curriculum_stats.json are updated.
 * The next cycle samples from base + cycle_c_final merged, written (f32) to work_model/, so the
 * weights that generate are always the ones just trained, in the same process.
 * A cycle that keeps no sample carries the previous adapter over unchanged (a fresh, zero-effect
 * adapter for cycle 1) and says so.
 *
 * Resume (raft/resume.h): a rerun with the same options skips cycles whose cycle_c_final/ is complete,
 * continues a half-generated samples file (the missing (prompt, sample) pairs are generated; a line cut
 * by a crash is dropped), and does not verify again a cycle whose verified file exists.
 * Cancelling: *cancel (set by a signal handler) is checked after each decoding step, after
 * verification and before each optimizer step; what is finished stays on disk.
 *
 * Errors: -1 with "PATH: reason" or "raft: reason" in err. */
#ifndef HF_RAFT_LOOP_H
#define HF_RAFT_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "raft/curriculum.h"
#include "raft/filter.h"
#include "raft/schedule.h"
#include "verify/verify.h"

/* The default system prompt: a general coding one (the original's was about Windows programming). */
#define RAFT_DEFAULT_SYSTEM_PROMPT \
    "You are an expert programmer. Write correct, complete and efficient code, in a single code block."

typedef struct {
    const char *model_dir;      /* base model folder (local) */
    const char *init_adapter;   /* LoRA adapter of model_dir (an SFT result) that cycle 1 samples with and
                                   trains on; its rank and alpha replace lora_rank / lora_alpha. NULL: none */
    const char *prompts_path;   /* prompts JSONL (bench/prompts.h format) */
    const struct bench_prompt_set_s *prompts; /* or the prompts themselves (borrowed); used when not NULL */
    const char *output_dir;
    int cycles;
    vf_config verifier;
    raft_filter_cfg filter;     /* threshold and keep fraction are the base values of reward shaping */
    raft_shaping_kind shaping;
    raft_curriculum_kind curriculum;
    const char *curriculum_stats; /* historical: stats file of an earlier run, or NULL */
    double curriculum_start, curriculum_increment;
    const char *system_prompt;
    int samples_per_prompt;
    double temperature;
    int max_new_tokens;
    int gen_batch_size;         /* sequences decoded together */
    uint64_t seed;
    double learning_rate, lr_decay, min_lr;
    int batch_size, grad_accum, epochs;
    long warmup_steps;
    int lora_rank;
    float lora_alpha, lora_dropout;
    int max_seq_len;
    const volatile int *cancel; /* optional */
} raft_loop_options;

/* Defaults of `raft train` (the original's, with a general coding system prompt). */
void raft_loop_options_default(raft_loop_options *o);

/* Per-cycle figures, for callers that report them (benchmark full). */
typedef struct {
    int cycle;
    long samples, kept;
    double success_rate, compile_rate, avg_reward;
    double train_loss;          /* mean training loss of the cycle; NAN when nothing was trained */
    double learning_rate;
    long train_steps;
    double gen_seconds, verify_seconds, train_seconds;
    long generated_tokens;
    int skipped;                /* finished by an earlier run */
} raft_cycle_report;

/* Hooks for callers that watch the cycles (benchmark full); any may be NULL. begin is called before a
 * cycle this call runs (not for skipped ones), end after it finished; end returning nonzero stops the
 * loop with an error (its message in err). */
typedef struct {
    void (*begin)(void *user, int cycle);
    int (*end)(void *user, const raft_cycle_report *r, char *err, size_t errcap);
    void *user;
} raft_loop_hooks;

/* Runs (or resumes) every cycle. Besides the files above, cycle_c/kept.jsonl holds the verified
 * records of the kept samples, best first. Returns 0 when all cycles are done, 1 when cancelled, -1 on error. */
int raft_loop_run(const raft_loop_options *o, const raft_loop_hooks *hooks, char *err, size_t errcap);

/* Writes base + adapter (NULL: none) merged as a model folder (f32 weights, config and tokenizer files)
 * to out_dir, replacing it. Returns 0 or -1 with err. */
int raft_merge_model(const char *base_dir, const char *adapter_dir, const char *out_dir, char *err, size_t errcap);

#endif
