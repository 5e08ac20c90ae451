/* score: pass@k of completions that were generated elsewhere (or earlier).
 *
 * Reads a samples JSONL file, one completion per line:
 *   completion (or code)              the model's answer (the code is extracted from it)
 *   prompt_id (or id, task_id)        which prompt it answers: looked up in the prompt set
 *   prompt                            used when there is no id: matched against the set's texts
 * A record whose prompt is not in the set is scored on its own fields (expected_output, stdin,
 * tests, entry_point, category), grouped by its id (or prompt text). Bad lines are reported as
 * "FILE:LINE: reason" and skipped. Every sample is verified (worker pool), then grouped per prompt
 * for pass@k: a sample is correct as bench_sample_passes says (right output when there is one). The report has the original `benchmark run` keys plus ours. */
#ifndef HF_BENCH_SCORE_H
#define HF_BENCH_SCORE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "bench/prompts.h"
#include "bench/summary.h"
#include "verify/verify.h"

typedef struct {
    const bench_prompt_set *prompts; /* borrowed; may be empty */
    const vf_config *verifier;       /* borrowed */
    const long *ks;                  /* k values (ascending) */
    size_t nk;
    const char *results_path;        /* NULL, or where each record goes with its result (JSONL) */
    const char *model_path;          /* NULL, or what produced the samples (reported as model_path) */
    bool progress;                   /* show a progress display */
    bool monitor;                    /* sample the hardware while verifying (report key "hardware") */
    const char *hardware_csv;        /* NULL, or the monitor's CSV (with monitor) */
    double monitor_interval_s;       /* <= 0: 2 s */
} bench_score_opts;

/* A sample compiles unless the verifier says compile error (or could not run at all). */
bool bench_sample_compiles(const vf_result *r);
/* A sample is correct for pass@k when its output is right: status correct, or, when there is
 * nothing to compare (compile-only, no expected output), the verifier's success. A wrong output
 * never passes, even where the execution verifier calls half the tests a success. */
bool bench_sample_passes(const vf_result *r);

/* The record of one sample in the benchmark's samples.jsonl / kept.jsonl: the original's fields
 * prompt_id, prompt, expected_output, code (the raw completion), sample_idx, compiles, reward, error,
 * passes, actual_output (the program's real output, which the original always left empty), plus
 * category, status, language, compile_time, run_time, and generated_tokens when >= 0.
 * reward is the verifier's ladder reward (the original stored its compile-only 0.5 / 0.0); error is
 * the verifier's one-line reason, null when the sample is correct. Caller frees. */
cJSON *bench_sample_record(const bench_prompt *p, const char *completion, int sample_idx, const vf_result *r,
                           long generated_tokens);
/* The metrics' view of a verified sample (strings borrowed from p). */
bench_scored bench_scored_of(const bench_prompt *p, const vf_result *r);

/* Scores the samples in input. On success returns 0 and *report (caller frees):
 *   {"total", "passed", "pass_rate", "pass_at_k": {"1": ..}, "by_category": {..},
 *    "timing": {"generation_time": null, "verification_time", "total_time"}, "model_path", "timestamp",
 *    "samples", "samples_per_prompt", "skipped_k", "compiled", "compile_rate", "samples_passed",
 *    "sample_pass_rate", "avg_reward", "verifier", "status_counts", "bad_lines", and with monitor
 *    "hardware" (hwmon.h's summary of the verification)}
 * Returns -1 with "FILE: reason" in err when the input cannot be read, holds no usable sample,
 * the verifier is misconfigured, or the results file cannot be written. */
int bench_score(const char *input, const bench_score_opts *opts, cJSON **report, char *err, size_t errcap);

#endif
