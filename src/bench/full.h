/* full: `benchmark full`, the seed's demo benchmark of one model: a baseline evaluation, N quick RAFT
 * cycles, a final evaluation, with the hardware monitor on in every phase.
 *
 * Output folder (the seed's layout):
 *   summary.json                                   bench/summary.h schema
 *   baseline_samples.jsonl, baseline_hardware.csv  evaluation of the base model
 *   cycle_N/samples.jsonl, kept.jsonl, hardware.csv, checkpoint/ (the cycle's PEFT adapter, or with
 *           full_finetune its full model folder), cycle.json (the cycle's figures, for resuming)
 *   final_samples.jsonl, final_hardware.csv        evaluation of base + the last adapter (applied in
 *                                                  memory at the base's dtype) or of the last full model
 *   baseline_phase.json, final_phase.json          the phase's options and figures (for resuming)
 *   raft/                                          the RAFT loop's own files (raft/loop.h)
 * Samples records: prompt_id, prompt, expected_output, code (the completion), sample_idx, compiles,
 * reward, error (null when it compiled), passes, actual_output (the program's real output), status.
 * An evaluation generates samples_per_prompt completions per prompt and verifies each on the worker
 * pool as soon as it is decoded (vf_stream), so verification overlaps generation.
 *
 * Resume: rerunning the same command continues in the same folder. A finished phase (baseline, a
 * cycle, final) is skipped; a half-done evaluation keeps the completions saved in
 * <phase>_generated.jsonl and generates the rest; a half-done cycle resumes as raft train does.
 * An evaluation whose options changed (model, weights, prompts, samples, tokens, temperature, seed)
 * starts over. Ctrl-C stops within seconds (running programs are killed) and keeps what is done.
 *
 * Errors: -1 with the reason in err. */
#ifndef HF_BENCH_FULL_H
#define HF_BENCH_FULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bench/prompts.h"
#include "verify/verify.h"

typedef struct {
    const char *model_name;       /* as the user gave it (summary.json) */
    const char *model_dir;        /* local model folder */
    const char *output_dir;
    int cycles;
    int samples_per_prompt;       /* 8 */
    int max_new_tokens;           /* 1024 */
    int gen_batch_size;
    double temperature;           /* 0.7 */
    uint64_t seed;
    const bench_prompt_set *prompts; /* NULL: the 16 built-in C++ prompts */
    vf_config verifier;           /* g++, run after compiling */
    double hw_interval_s;         /* 2 */
    const char *system_prompt;
    double learning_rate;
    int batch_size, grad_accum, lora_rank;
    float lora_alpha;
    bool full_finetune;           /* RAFT cycles train every parameter (`--no-lora`) */
    const volatile int *cancel;   /* optional */
    struct bk_backend *train_backend; /* where the RAFT cycles train (borrowed); NULL: the CPU */
} bench_full_options;

void bench_full_options_default(bench_full_options *o);

/* Runs the benchmark. *summary gets the summary.json document (caller frees). Returns 0, 1 when
 * cancelled (finished phases stay on disk), -1 on error. */
int bench_full_run(const bench_full_options *o, cJSON **summary, char *err, size_t errcap);

#endif
