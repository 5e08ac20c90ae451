/* halo-forge benchmark: evaluation commands. `score` verifies completions generated elsewhere
 * (or by an earlier run) and reports pass@k per category. */
#include "bench/passk.h"
#include "bench/prompts.h"
#include "bench/score.h"
#include "bench/summary.h"
#include "cli/commands.h"
#include "core/args.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "verify/sbx.h"
#include "verify/verify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const arg_spec score_flags[] = {
    {"input", 'i', ARG_STR, NULL, "Samples JSONL: prompt_id (or id, task_id, prompt) + completion (or code) per line", NULL, NULL, 0, 0, "FILE"},
    {"prompts", 'p', ARG_STR, NULL, "Prompts JSONL the samples answer (default: the 16 built-in C++ prompts)", "prompts", NULL, 0, 0, "FILE"},
    {"k", 0, ARG_STR, "1,5,10", "k values of pass@k (each needs at least k samples per prompt)", NULL, NULL, 0, 0, "K,K"},
    {"verifier", 0, ARG_STR, "gcc", "Verifier to use", "verifier.type", "gcc|clang|mingw|execution|python|rust|go", 0, 0, "NAME"},
    {"compile-only", 0, ARG_BOOL, NULL, "Compile verifiers: do not run the program (a sample passes when it compiles, as the original)", NULL, NULL, 0, 0, NULL},
    {"output", 'o', ARG_STR, NULL, "Also write the report JSON to this file", NULL, NULL, 0, 0, "FILE"},
    {"results", 'r', ARG_STR, NULL, "Write every sample with its verification result (JSONL)", NULL, NULL, 0, 0, "FILE"},
    {"hardware-csv", 0, ARG_STR, NULL, "Write the hardware monitor's samples (CSV) taken while verifying", NULL, NULL, 0, 0, "FILE"},
    {"monitor-interval", 0, ARG_FLOAT, "2", "Seconds between hardware samples", NULL, NULL, 0.01, 3600, "S"},
    {"model", 'm', ARG_STR, NULL, "Name of the model that generated the samples (reported as model_path)", NULL, NULL, 0, 0, "NAME"},
    {"workers", 'w', ARG_INT, "0", "Parallel verification workers (0: one per core)", "verifier.max_workers", NULL, 0, 256, "N"},
    {"timeout", 0, ARG_FLOAT, "30", "Compile time limit, seconds", "verifier.timeout", NULL, 0.1, 3600, "S"},
    {"run-timeout", 0, ARG_FLOAT, "5", "Time limit of one run, seconds", "verifier.run_timeout", NULL, 0.1, 3600, "S"},
    {"memory-limit", 0, ARG_INT, "256", "Address-space limit of a run, MiB", "verifier.memory_limit_mb", NULL, 16, 1 << 20, "MB"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec score_cmd = {
    "benchmark score", "Verify already generated samples and report pass@k per category (no model needed).", NULL, 0,
    0, score_flags,
    "Each sample is compiled and run in the sandbox against its prompt's expected output (or tests);\n"
    "a sample is correct when the verifier says so. pass@k is the unbiased estimator 1 - C(n-c,k)/C(n,k)\n"
    "averaged over prompts, computed for k <= the samples per prompt. The report (the original's\n"
    "`benchmark run` JSON plus compile rate, rewards and status counts) goes to stdout.\n"
    "Example: halo-forge benchmark score -i final_samples.jsonl --k 1,8 --results scored.jsonl\n"
    "See docs/benchmark.md.",
    NULL,
};

static void log_report(const cJSON *rep) {
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(rep, "pass_at_k"), *it;
    char line[512];
    size_t len = 0;
    cJSON_ArrayForEach(it, pk) len += (size_t)snprintf(line + len, sizeof line - len, " pass@%s=%.1f%%", it->string, it->valuedouble * 100);
    log_info("scored %.0f samples of %.0f prompts: compile %.1f%%, correct %.1f%%,%s",
             json_get_num(rep, "samples", 0), json_get_num(rep, "total", 0), json_get_num(rep, "compile_rate", 0) * 100,
             json_get_num(rep, "sample_pass_rate", 0) * 100, len ? line : " no pass@k (too few samples per prompt)");
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(rep, "by_category"), *c;
    cJSON_ArrayForEach(c, cats) {
        const cJSON *p1 = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "pass_at_k"), "1");
        log_info("  %-18s %3.0f/%-3.0f prompts solved, pass@1 %s%.1f%%", c->string, json_get_num(c, "passed", 0),
                 json_get_num(c, "total", 0), p1 ? "" : "n/a ", p1 ? p1->valuedouble * 100 : 0.0);
    }
    const cJSON *sk = cJSON_GetObjectItemCaseSensitive(rep, "skipped_k");
    cJSON_ArrayForEach(it, sk)
        log_warn("pass@%.0f not reported: some prompt has fewer than %.0f samples", it->valuedouble, it->valuedouble);
}

static int benchmark_score(int argc, char **argv) {
    int rc;
    args *a = args_parse(&score_cmd, argc, argv, &rc);
    if (!a) return rc;
    bench_prompt_set set;
    memset(&set, 0, sizeof set);
    char err[1024];
    long ks[BENCH_K_MAX];
    int nk;
    vf_kind kind;
    vf_config cfg;
    cJSON *rep = NULL;
    rc = 1;
    if (!args_str(a, "input")) {
        rc = args_usage_error(&score_cmd, "--input FILE is required (a JSONL of samples with prompt_id and completion)");
        goto done;
    }
    if ((nk = pk_parse_ks(args_str(a, "k"), ks, BENCH_K_MAX, err, sizeof err)) < 0) {
        rc = args_usage_error(&score_cmd, "--k: %s", err);
        goto done;
    }
    if (vf_kind_parse(args_str(a, "verifier"), &kind) != 0) {
        rc = args_usage_error(&score_cmd, "unknown verifier '%s'", args_str(a, "verifier"));
        goto done;
    }
    vf_config_default(&cfg, kind);
    cfg.run = !args_bool(a, "compile-only") && kind != VF_MINGW;
    cfg.compile_timeout_s = args_float(a, "timeout");
    cfg.run_timeout_s = args_float(a, "run-timeout");
    cfg.memory_limit_mb = args_int(a, "memory-limit");
    cfg.workers = (int)args_int(a, "workers");
    if (args_str(a, "prompts")) {
        if (bench_prompts_load(args_str(a, "prompts"), &set, err, sizeof err) != 0) {
            fprintf(stderr, "error: %s\n", err);
            goto done;
        }
    } else if (bench_prompts_builtin(&set) != 0) {
        fprintf(stderr, "error: out of memory\n");
        goto done;
    }
    log_open_command("benchmark score");
    log_info("benchmark score: %s against %zu prompts with the %s verifier%s (%s)", args_str(a, "input"), set.count,
             vf_kind_name(kind), cfg.run ? " (compile and run)" : " (compile only)", sbx_describe());
    bench_score_opts o = {&set, &cfg, ks, (size_t)nk, args_str(a, "results"), args_str(a, "model"), true, true,
                          args_str(a, "hardware-csv"), args_float(a, "monitor-interval")};
    if (bench_score(args_str(a, "input"), &o, &rep, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        goto done;
    }
    log_report(rep);
    char *text = cJSON_Print(rep);
    printf("%s\n", text);
    free(text);
    if (args_str(a, "output") && bench_write_json(args_str(a, "output"), rep, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        goto done;
    }
    if (args_str(a, "results")) log_info("per-sample results: %s", args_str(a, "results"));
    rc = 0;
done:
    cJSON_Delete(rep);
    bench_prompts_free(&set);
    args_free(a);
    return rc;
}

const cli_command cli_benchmark_cmds[] = {
    {"full", "Baseline evaluation, quick RAFT cycles, final evaluation, summary", cli_benchmark_full},
    {"run", "Generate samples for a prompts file, verify them, report pass@k per category", cli_benchmark_run},
    {"eval", "Evaluate a model on a named benchmark: humaneval, mbpp, cpp, rust, go", cli_benchmark_eval},
    {"score", "Verify generated samples and report pass@k per category", benchmark_score},
    {NULL, NULL, NULL},
};
