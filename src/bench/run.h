/* run: `benchmark run` and `benchmark eval`: one evaluation of a model on a prompt set (eval.h),
 * reported as pass@k per benchmark and per category with timings, plus every sample's record.
 *
 * Output (--output):
 *   a FILE ending in .json: the report there, the samples next to it as FILE minus .json plus
 *   "_samples.jsonl", the hardware CSV as "..._hardware.csv";
 *   anything else is a folder: DIR/results.json, DIR/samples.jsonl, DIR/hardware.csv.
 *   Without --output nothing is written (the report still goes to the caller).
 *
 * Report: the original's `benchmark run` JSON
 *   {"total", "passed", "pass_rate", "pass_at_k": {"1": ..}, "by_category": {..},
 *    "timing": {"generation_time", "verification_time", "total_time"}, "model_path", "timestamp"}
 * plus eval.h's bench_eval_report keys, "generated_tokens", "tokens_per_sec", "max_new_tokens",
 * "temperature", "seed", "system_prompt", "prompts_file", "samples_file", "hardware".
 * For `benchmark eval` (benchmark set), also the original's eval keys: "model", "benchmark",
 * "language", "backend": "native", "metrics": {"pass_at_1", "pass_at_5", "pass_at_10", "pass_rate",
 * "total_prompts", "passed", "compile_rate"} (a pass@k that needs more samples than were drawn is
 * null, where the original wrote 0.0).
 *
 * The model may be a folder, a Hub id (hub.h), or a PEFT LoRA adapter folder: its base model is
 * merged with it into a temporary folder, removed afterwards. */
#ifndef HF_BENCH_RUN_H
#define HF_BENCH_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "bench/prompts.h"
#include "verify/verify.h"

typedef struct {
    const char *model;               /* folder, Hub id or adapter folder */
    const char *benchmark;           /* NULL: `benchmark run`; else the suite name (`benchmark eval`) */
    const char *language;            /* eval: the suite's language */
    const char *prompts_file;        /* reported; NULL for built-in prompts */
    const bench_prompt_set *prompts; /* borrowed */
    int samples_per_prompt;
    int max_new_tokens;
    int gen_batch_size;
    double temperature;
    uint64_t seed;
    const char *system_prompt;
    const vf_config *verifier;
    const long *ks;                  /* ascending */
    size_t nk;
    const char *output;              /* NULL, a folder, or FILE.json */
    double hw_interval_s;
    const volatile int *cancel;
} bench_run_opts;

/* Where the report, samples and hardware CSV of an --output go (see above). */
void bench_run_paths(const char *output, char *report, char *samples, char *csv, size_t cap);

/* Runs the evaluation and writes the files. Returns 0 with *report (caller frees), 1 when
 * cancelled, -1 with the reason in err. */
int bench_run(const bench_run_opts *o, cJSON **report, char *err, size_t errcap);

/* The readable summary of a report: pass@k, prompts solved, compile and correct rates, a table of
 * categories, times. */
void bench_run_print(FILE *f, const cJSON *report);

#endif
