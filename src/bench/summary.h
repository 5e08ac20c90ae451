/* summary: the benchmark's results as data (bench_eval, bench_cycle, bench_summary), as the
 * `summary.json` / `comparison_summary.json` documents, and as the console "Summary Table" and
 * "Detailed Results" blocks of the benchmarking guide.
 *
 * summary.json keeps every key of the original (docs/benchmark.md lists them) and adds ours.
 * Definitions we fixed: pass_at_1 is the unbiased pass@1 of correct output (the original counted
 * prompts with a compiling sample); pass_at_k is the unbiased pass@k at k = samples per prompt
 * (the original counted prompts whose samples all compiled); tokens_per_sec counts generated
 * tokens only. Unknown values are null. */
#ifndef HF_BENCH_SUMMARY_H
#define HF_BENCH_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "bench/hwmon.h"

/* One verified sample, as the metrics see it. */
typedef struct {
    const char *prompt_id;
    const char *category;  /* NULL: "unknown" */
    bool compiles;
    bool passes;           /* correct output (or the verifier's success) */
    double reward;
} bench_scored;

#define BENCH_MAX_K 16

typedef struct {
    long total_prompts, total_samples, compiled, passed;
    double compile_rate, pass_rate, avg_reward;
    double pass_at_1;        /* unbiased; NAN without samples */
    long k;                  /* samples per prompt (the smallest, when prompts differ) */
    double pass_at_k;        /* unbiased pass@k at that k */
    long ks[BENCH_MAX_K];    /* extra k values asked for (k <= the smallest n) ... */
    double pass_at[BENCH_MAX_K]; /* ... and their pass@k */
    size_t nks;
    long generated_tokens;   /* -1 unknown */
    double generation_time_sec, verification_time_sec; /* NAN unknown */
    double tokens_per_sec;   /* generated_tokens / generation_time_sec; NAN unknown */
    bool have_hw;
    hw_summary hw;
    cJSON *by_category;      /* owned: {cat: {total, passed, pass_rate, pass_at_k}} */
} bench_eval;

/* Computes the metrics of n samples; ks (may be NULL) are extra k values (1 is always included).
 * Times, tokens and hardware are left unknown for the caller to fill. Returns 0, or -1 when out of
 * memory. Free with bench_eval_free. */
int bench_eval_compute(const bench_scored *s, size_t n, const long *ks, size_t nk, bench_eval *out);
void bench_eval_free(bench_eval *e);
/* Sets generated tokens and generation time (and tokens_per_sec from them). */
void bench_eval_set_generation(bench_eval *e, long generated_tokens, double seconds);
/* The original's EvalResult keys (total_prompts, total_samples, compiled, passed, compile_rate,
 * pass_rate, pass_at_1, pass_at_k, avg_reward, tokens_per_sec, generation_time_sec,
 * verification_time_sec, hardware) plus k, pass_at {"1":..}, generated_tokens, by_category. */
cJSON *bench_eval_to_json(const bench_eval *e);

typedef struct {
    int cycle;
    long generated, verified, kept;
    double compile_rate, pass_rate, avg_reward;
    double training_loss;    /* NAN unknown */
    long training_steps;
    double learning_rate;    /* NAN unknown */
    double cycle_time_sec, generation_time_sec, verification_time_sec, training_time_sec; /* NAN unknown */
    bool have_hw;
    hw_summary hw;
} bench_cycle;

void bench_cycle_init(bench_cycle *c, int cycle); /* zeros, unknowns NAN */
cJSON *bench_cycle_to_json(const bench_cycle *c);

typedef struct {
    const char *model_name;  /* as given (--model) */
    int n_cycles;
    double total_time_sec;
    bool have_baseline, have_final;
    bench_eval baseline, final;   /* borrowed */
    const bench_cycle *cycles;    /* borrowed, n_done of them */
    int n_done;
} bench_summary;

/* "Qwen/Qwen2.5-Coder-0.5B" -> "qwen2-5-coder-0-5b" (basename, lower case, '.' -> '-'). */
void bench_model_short(const char *model_name, char *out, size_t cap);

/* summary.json: {"model_name", "model_short", "n_cycles", "total_time_sec", "baseline", "cycles",
 * "final", "hardware_summary": {"gpu_peak_utilization_pct", "gpu_peak_memory_gb",
 * "sys_peak_memory_gb", "total_energy_wh", "rss_peak_gb", "gpu_energy_wh", "cpu_energy_wh",
 * "phases": {"baseline", "cycle_N", "final"}}, "improvement": {"compile_rate", "pass_at_1",
 * "pass_rate"}, "schema_version"}. total_energy_wh adds the GPU and CPU energy that was measured. */
cJSON *bench_summary_to_json(const bench_summary *s);

/* comparison_summary.json of a suite: {"models": [summary...], "comparison": {
 * "baseline_compile_rates": {short: rate}, "final_compile_rates", "improvements",
 * "baseline_pass_at_1", "final_pass_at_1"}}. The summaries are copied. */
cJSON *bench_comparison_to_json(const cJSON *const *summaries, size_t n);

/* Writes a JSON document atomically (pretty-printed, newline at the end). Returns 0 or -1 with err. */
int bench_write_json(const char *path, const cJSON *doc, char *err, size_t errcap);

/* The seed's "Summary Table" (markdown) for summary.json documents:
 * | Model | Baseline Compile | Final Compile | Improvement | pass@1 | Time | Energy | */
void bench_print_summary_table(FILE *f, const cJSON *const *summaries, size_t n);
/* The seed's "Detailed Results" block of one summary.json document. */
void bench_print_detailed(FILE *f, const cJSON *summary);

#endif
