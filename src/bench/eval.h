/* eval: the evaluation step every benchmark shares. Generate n samples per prompt of a prompt set
 * with one model, verify them all, write the samples records, return the scored results.
 *
 * bench_eval_run does it in two steps, one after the other:
 *   1. generation: gen_run over every prompt, each completion (and its token count) kept in memory;
 *   2. verification: vf_verify_batch over all samples on the worker pool.
 * Sample i answers prompt i / samples_per_prompt (sample index i % samples_per_prompt). Then the
 * samples JSONL is written (one bench_sample_record per sample, score.h: the original's fields plus
 * the program's real output) and the metrics computed (summary.h's bench_eval).
 * The hardware monitor, when asked for, runs from the model load to the end of verification.
 *
 * bench_eval_report turns verified samples into the `benchmark run` report (the original's JSON
 * keys plus ours); `benchmark run`, `benchmark eval` and `benchmark score` share it.
 *
 * Memory: options are borrowed; a bench_eval_result owns its arrays (bench_eval_result_free). */
#ifndef HF_BENCH_EVAL_H
#define HF_BENCH_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bench/prompts.h"
#include "bench/summary.h"
#include "generate/generate.h"
#include "verify/verify.h"

typedef struct {
    const char *label;               /* names the phase in logs: "baseline", "final", "run" */
    const char *model_dir;           /* tokenizer.json and the chat template come from here */
    const char *weights_dir;         /* the weights to sample with; NULL: model_dir */
    const bench_prompt_set *prompts; /* at least one prompt */
    int samples_per_prompt;          /* >= 1 */
    int max_new_tokens;
    int gen_batch_size;
    double temperature;
    uint64_t seed;
    const char *system_prompt;       /* NULL or "": none */
    const vf_config *verifier;
    const long *ks;                  /* extra k values for metrics.pass_at (may be NULL) */
    size_t nk;
    const char *samples_path;        /* NULL, or where the samples JSONL goes */
    bool monitor;                    /* sample the hardware (metrics.hw) */
    const char *hardware_csv;        /* NULL, or the monitor's CSV (with monitor) */
    double hw_interval_s;            /* <= 0: 2 s */
    const volatile int *cancel;      /* optional: stops generation (bench_eval_run returns 1) */
} bench_eval_opts;

/* Defaults: 8 samples, 1024 new tokens, batch 16, temperature 0.7, seed 42, monitor every 2 s. */
void bench_eval_opts_default(bench_eval_opts *o);

typedef struct {
    size_t n;                 /* prompts x samples_per_prompt */
    int samples_per_prompt;
    char **completions;       /* [n] */
    long *tokens;             /* [n] generated tokens of each sample */
    vf_result *results;       /* [n] */
    bench_eval metrics;       /* times, tokens/s and hardware filled in */
    gen_stats gen;
    double generation_seconds, verification_seconds;
} bench_eval_result;

/* Runs the evaluation. Returns 0 with *out filled (free with bench_eval_result_free), 1 when
 * cancelled, -1 with the reason in err (out then holds nothing to free). */
int bench_eval_run(const bench_eval_opts *o, bench_eval_result *out, char *err, size_t errcap);
void bench_eval_result_free(bench_eval_result *r);

/* The prompt that sample i of r answers. */
const bench_prompt *bench_eval_prompt_of(const bench_eval_opts *o, size_t i);

/* The `benchmark run` report of n verified samples (prompt_of[i] is the prompt sample i answers):
 *   the original's {"total", "passed", "pass_rate", "pass_at_k": {"1": ..}, "by_category": {..}}
 *   (passk.h's pk_tally_to_json, with "samples_per_prompt" and "skipped_k"), plus
 *   "samples", "compiled", "compile_rate", "samples_passed", "sample_pass_rate", "avg_reward",
 *   "verifier", "run", "status_counts".
 * Returns NULL when out of memory. Caller frees. */
cJSON *bench_eval_report(const bench_prompt *const *prompt_of, const vf_result *res, size_t n, const long *ks,
                         size_t nk, const vf_config *verifier);

#endif
