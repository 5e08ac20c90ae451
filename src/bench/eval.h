/* eval: the evaluation step every benchmark shares. Sample n completions of each prompt of a prompt
 * set with one model, verifying each as it is decoded (rollout.h), write the samples records, return
 * the scored results.
 *
 * Sample i answers prompt i / samples_per_prompt (sample index i % samples_per_prompt). Once every
 * sample has its verdict the samples JSONL is written (one bench_sample_record per sample, score.h:
 * the original's fields plus the program's real output) and the metrics computed (summary.h's
 * bench_eval). With a journal, an interrupted evaluation continues from the samples it had made
 * (rollout.h: roll.journal_path); the journal is removed once the evaluation is complete.
 * The hardware monitor, when asked for, runs from the model load to the last verdict.
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
#include "bench/rollout.h"
#include "verify/verify.h"

typedef struct {
    const char *label;               /* names the phase in logs: "baseline", "final", "run" */
    rollout_opts roll;               /* what to sample and how to verify it (its label is set from label;
                                        select must be NULL: every prompt is evaluated) */
    const long *ks;                  /* extra k values for metrics.pass_at (may be NULL) */
    size_t nk;
    const char *samples_path;        /* NULL, or where the samples JSONL goes */
    bool monitor;                    /* sample the hardware (metrics.hw) */
    const char *hardware_csv;        /* NULL, or the monitor's CSV (with monitor) */
    double hw_interval_s;            /* <= 0: 2 s */
} bench_eval_opts;

/* Defaults: rollout_opts_default's, monitor every 2 s. */
void bench_eval_opts_default(bench_eval_opts *o);

typedef struct {
    rollout_result roll;      /* the samples, in prompt order, with their verdicts */
    bench_eval metrics;       /* times, tokens/s and hardware filled in */
} bench_eval_result;

/* Runs the evaluation. Returns 0 with *out filled (free with bench_eval_result_free), 1 when
 * cancelled, -1 with the reason in err (out then holds nothing to free). */
int bench_eval_run(const bench_eval_opts *o, bench_eval_result *out, char *err, size_t errcap);
void bench_eval_result_free(bench_eval_result *r);

/* The prompt that sample i answers. */
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
