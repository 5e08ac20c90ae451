/* halo-forge inference benchmark: greedy decoding latency of a model (src/bench/latency.h). */
#include "bench/latency.h"
#include "cli/commands.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "model/hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const arg_spec bench_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Model folder, Hub id, LoRA adapter folder or .gguf file", "model.name", NULL, 0, 0,
     "DIR|FILE"},
    {"prompts", 'p', ARG_STR, NULL, "JSONL file of prompts ('prompt' or 'text' field; default: five built-in ones)",
     NULL, NULL, 0, 0, "FILE"},
    {"num-prompts", 0, ARG_INT, "10", "Use at most this many prompts (the first ones)", NULL, NULL, 1, 1e6, NULL},
    {"max-tokens", 0, ARG_INT, "100", "New tokens per prompt at most", NULL, NULL, 1, 1e6, NULL},
    {"warmup", 0, ARG_INT, "3", "Unmeasured greedy runs of the first prompt before timing", NULL, NULL, 0, 1000, NULL},
    {"ignore-eos", 0, ARG_BOOL, NULL, "Always decode --max-tokens tokens (do not stop at end-of-sequence)", NULL, NULL,
     0, 0, NULL},
    {"precision", 0, ARG_STR, "fast", "Matrix products: fast (bf16 activations) or exact (fp32)", NULL, "fast|exact",
     0, 0, NULL},
    {"output", 'o', ARG_STR, NULL, "Also write the JSON result to this file (atomically)", NULL, NULL, 0, 0, "FILE"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec bench_cmd = {
    "inference benchmark", "Latency of greedy decoding: time to first token, per-token percentiles, tokens/s.", NULL,
    0, 0, bench_flags,
    "Each prompt (raw text, no chat template) is prefilled in one pass and decoded greedily one sequence at a time.\n"
    "Reports time to first token (prefill + first token), per-token latency p50/p90/p99, tokens/s (generated\n"
    "tokens / generation time) and the peak resident memory of the process. The JSON result goes to stdout.\n"
    "Example: halo-forge inference benchmark -m models/tiny-coder --max-tokens 64 --warmup 1\n"
    "See docs/benchmark.md.",
    NULL,
};

static int inference_benchmark(int argc, char **argv) {
    int rc;
    args *a = args_parse(&bench_cmd, argc, argv, &rc);
    if (!a) return rc;
    char err[2048], resolved[4096];
    char *json = NULL;
    rc = 2;
    if (!args_str(a, "model")) { rc = args_usage_error(&bench_cmd, "--model is required"); goto done; }
    rc = 1;
    log_open_command("inference benchmark");
    if (hub_resolve(args_str(a, "model"), resolved, sizeof resolved, NULL, err, sizeof err)) { log_error("%s", err); goto done; }
    lat_opts o = {.model = resolved, .prompts_file = args_str(a, "prompts"), .num_prompts = (int)args_int(a, "num-prompts"),
                  .max_tokens = (int)args_int(a, "max-tokens"), .warmup = (int)args_int(a, "warmup"),
                  .ignore_eos = args_bool(a, "ignore-eos"),
                  .precision = strcmp(args_str(a, "precision"), "exact") ? MODEL_PRECISION_FAST : MODEL_PRECISION_EXACT};
    lat_result r;
    if (lat_run(&o, &r, err, sizeof err)) { log_error("%s", err); goto done; }
    log_info("%d prompts, %ld prompt tokens, %ld generated tokens, %d threads, load %.2f s", r.n_prompts,
             r.prompt_tokens, r.generated_tokens, r.threads, r.load_s);
    log_info("time to first token: mean %.2f ms, p50 %.2f, p90 %.2f, p99 %.2f", r.ttft_ms.mean, r.ttft_ms.p50,
             r.ttft_ms.p90, r.ttft_ms.p99);
    log_info("per-token latency:   mean %.2f ms, p50 %.2f, p90 %.2f, p99 %.2f", r.token_ms.mean, r.token_ms.p50,
             r.token_ms.p90, r.token_ms.p99);
    log_info("latency per prompt:  mean %.1f ms, min %.1f, max %.1f", r.total_ms.mean, r.total_ms.min, r.total_ms.max);
    log_info("throughput: %.1f tokens/s (decode only %.1f), peak memory %.1f MiB", r.tokens_per_s,
             r.decode_tokens_per_s, r.peak_rss_mib);
    if (!(json = lat_json(&o, &r))) { log_error("out of memory"); goto done; }
    const char *out = args_str(a, "output");
    if (out) {
        size_t n = strlen(json);
        json[n] = '\n';
        int w = fs_write_atomic(out, json, n + 1);
        json[n] = 0;
        if (w) { log_error("%s: cannot write: %s", out, strerror(errno)); goto done; }
    }
    printf("%s\n", json);
    rc = 0;
done:
    free(json);
    args_free(a);
    return rc;
}

const cli_command cli_inference_cmds[] = {
    {"benchmark", "Latency of greedy decoding: time to first token, per-token p50/p90/p99, tokens/s, peak memory",
     inference_benchmark},
    {NULL, NULL, NULL},
};
