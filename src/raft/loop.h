/* raft loop: the RAFT training loop behind `halo-forge raft train`.
 *
 * Cycle c (1-based) of n:
 *   1. prompts: the curriculum's choice for c; reward shaping gives the cycle's threshold and keep fraction;
 *   2. generate samples_per_prompt completions per prompt from the current weights (the base model
 *      with the adapter of cycle c-1 applied in memory) -> cycle_c_samples.jsonl, one line per sample,
 *      flushed as each sample finishes; each sample goes to a verification stream (vf_stream) at once,
 *      so compiling and running overlap decoding;
 *   3. once every sample has its verdict -> cycle_c_verified.jsonl (each record + its reward);
 *   4. filter (raft_filter) and fine-tune on the kept samples (system + prompt + completion as a chat,
 *      only the completion is a target): LoRA, starting from cycle c-1's adapter, so one adapter keeps
 *      training across cycles as in the original; or, with full_finetune, every parameter, starting from
 *      cycle c-1's weights -> cycle_c/ (trainer output, metrics.jsonl) and cycle_c_final/ (PEFT adapter
 *      on the base model, or a full Hugging Face model folder, + tokenizer files);
 *   5. raft_statistics.json (one entry per cycle) and curriculum_stats.json are updated.
 * The next cycle samples from the weights just trained, in the same process: the adapter is added to
 * the base weights in memory at the base's dtype (model_apply_adapter: a bf16 base stays bf16, so
 * sampling runs at the base's speed), nothing is written. Full fine-tuning's cycle_c_final/ is f32
 * (small updates would vanish in bf16 rounding), so its cycles sample from f32 weights.
 * A cycle that keeps no sample carries the previous weights over unchanged (a fresh, zero-effect
 * adapter for cycle 1; the base model's files in full mode) and says so.
 *
 * Resume (raft/resume.h): a rerun with the same options skips cycles whose cycle_c_final/ is complete,
 * continues a half-generated samples file (the missing (prompt, sample) pairs are generated; a line cut
 * by a crash is dropped), and does not verify again a cycle whose verified file exists.
 * Cancelling: *cancel (set by a signal handler) is checked after each decoding step, by the
 * verification stream (running compiles and programs are killed) and before each optimizer step;
 * what is finished stays on disk.
 *
 * Errors: -1 with "PATH: reason" or "raft: reason" in err. */
#ifndef HF_RAFT_LOOP_H
#define HF_RAFT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "raft/curriculum.h"
#include "raft/filter.h"
#include "raft/schedule.h"
#include "rl/update.h"
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
    bool full_finetune;         /* train every parameter instead of a LoRA adapter (`--no-lora`) */
    int max_seq_len;
    const volatile int *cancel; /* optional */
    /* `rl train`: RL_RAFT is the loop above; a policy-gradient algorithm replaces step 4 (filter and fine-tune)
       by rl/cycle.h's update on every sample (the samples keep their token ids and the sampler's log-probs);
       rl's learning rate, temperature, seed, cycle and cancel flag are set per cycle from the fields above */
    rl_algo algorithm;
    rl_update_opts rl;
    /* DAPO's dynamic sampling with refill (rl.drop_equal_groups): the cycle wants as many groups whose rewards
       differ as it selected prompts; while it has fewer, up to this many refill rounds sample further prompts
       (cycle_c_refill_r_samples.jsonl / _verified.jsonl, journalled and resumed as the cycle's own samples).
       0: equal groups are only dropped. Default 3. */
    int max_refill_rounds;
    /* where a cycle's fine-tuning (train_options.backend) or policy-gradient update (rl_cycle_opts.backend)
       runs; borrowed. NULL: the CPU. */
    struct bk_backend *train_backend;
} raft_loop_options;

/* Defaults of `raft train` (the original's, with a general coding system prompt). */
void raft_loop_options_default(raft_loop_options *o);

#define RAFT_MAX_REFILL_ROUNDS 100

/* Refill order: the prompts a cycle did not select, then the selected ones, each part shuffled from (seed,
 * cycle); round r takes the next prompts of that order (cyclically), never one twice in a round. A round
 * samples min(prompts selected, shortfall x groups so far / signal groups so far) prompts (all selected when
 * none had signal yet). The batch is every group, in order of round then prompt, up to the one that makes
 * the wanted count; groups after it are surplus and left out. */

/* Per-cycle figures, for callers that report them (benchmark full). */
typedef struct {
    int cycle;
    long samples, kept;
    double success_rate, compile_rate, avg_reward;
    double train_loss;          /* mean training loss of the cycle; NAN when nothing was trained */
    double learning_rate;
    long train_steps;
    double gen_seconds;         /* decoding (verification runs alongside) */
    double verify_seconds;      /* waiting for the verdicts after decoding ended (the part not overlapped) */
    double train_seconds;
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

#endif
