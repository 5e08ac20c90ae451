/* latency: the inference latency benchmark (`inference benchmark`): greedy decoding of each prompt, one sequence
 * at a time, timed per token.
 *
 * For each prompt (raw text, no chat template, as the original project ran it): the prompt is prefilled in one
 * forward pass and the first token picked (time to first token), then one forward pass per token up to
 * max_tokens (per-token latency) or an end-of-sequence id. Warm-up runs of the first prompt come first and are
 * not counted. Peak memory is the process's peak resident set (getrusage), which includes the touched weights
 * and the KV cache. */
#ifndef HF_BENCH_LATENCY_H
#define HF_BENCH_LATENCY_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"

typedef struct {
    const char *model;        /* model folder, adapter folder or .gguf file */
    const char *prompts_file; /* JSONL with a "prompt" field, or NULL for the five built-in prompts */
    int num_prompts;          /* at most this many prompts (first ones), >= 1 */
    int max_tokens;           /* new tokens per prompt, >= 1 */
    int warmup;               /* unmeasured runs of the first prompt, >= 0 */
    bool ignore_eos;          /* always decode max_tokens */
    model_precision precision;
} lat_opts;

typedef struct { double mean, min, max, p50, p90, p99; } lat_stats;

typedef struct {
    int n_prompts;
    long prompt_tokens, generated_tokens;
    double load_s;            /* tokenizer + model */
    lat_stats ttft_ms;        /* per prompt: prefill + the first token */
    lat_stats token_ms;       /* per generated token after the first */
    lat_stats total_ms;       /* per prompt: the whole generation */
    double tokens_per_s;      /* generated tokens / summed generation time (the original's figure) */
    double decode_tokens_per_s; /* tokens after the first / their summed time */
    double peak_rss_mib;
    int threads;
} lat_result;

/* Runs the benchmark. 0, or -1 with "FILE: what is wrong" in err. progress is shown per prompt. */
int lat_run(const lat_opts *o, lat_result *r, char *err, size_t errcap);
/* Percentile p (0..100) of n sorted values by nearest rank: the smallest value with at least p% of the values
 * at or below it. 0 for n = 0. */
double lat_percentile(const double *sorted, size_t n, double p);
/* The result as a JSON object text (heap; caller frees), with the options that produced it. */
char *lat_json(const lat_opts *o, const lat_result *r);

#endif
