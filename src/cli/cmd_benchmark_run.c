/* halo-forge benchmark run / benchmark eval: pass@k of a model on a prompt set or a named benchmark. */
#include "bench/passk.h"
#include "bench/prompts.h"
#include "bench/run.h"
#include "bench/suites.h"
#include "cli/commands.h"
#include "backend/bk_device.h"
#include "core/args.h"
#include "core/log.h"
#include "raft/loop.h"
#include "verify/sbx.h"
#include "verify/verify.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Flags both commands share, after their own ones. */
#define SHARED_FLAGS                                                                                                   \
    {"k", 0, ARG_STR, "1,5,10", "k values of pass@k (a k above the samples per prompt is reported as skipped)", NULL,  \
     NULL, 0, 0, "K,K"},                                                                                               \
    {"output", 'o', ARG_STR, NULL, "FILE.json (samples go to FILE_samples.jsonl) or a folder (results.json, "         \
     "samples.jsonl, hardware.csv)", NULL, NULL, 0, 0, "PATH"},                                                        \
    {"max-new-tokens", 0, ARG_INT, "1024", "Generated tokens per sample at most", NULL, NULL, 1, 10000000, "N"},      \
    {"temperature", 't', ARG_FLOAT, "0.7", "Sampling temperature (0: greedy)", NULL, NULL, 0, 100, "T"},               \
    {"seed", 's', ARG_INT, "42", "Random seed", NULL, NULL, 0, 0, NULL},                                              \
    {"generation-batch-size", 0, ARG_INT, "0", "Sequences decoded together (0: auto: every sample at once up to 64, " \
     "fewer when their KV cache would pass 4 GiB)", NULL, NULL, 0, 65536, "N"},                                        \
    {"compile-only", 0, ARG_BOOL, NULL, "Compile verifiers: do not run the program (a sample passes when it "          \
     "compiles, as the original's default)", NULL, NULL, 0, 0, NULL},                                                  \
    {"workers", 'w', ARG_INT, "0", "Verification workers (0: one per core)", NULL, NULL, 0, 256, "N"},               \
    {"compiler", 0, ARG_STR, NULL, "Compiler (or python interpreter) the verifier uses instead of its default", NULL,   \
     NULL, 0, 0, "PATH"},                                                                                              \
    {"timeout", 0, ARG_FLOAT, "30", "Compile time limit, seconds", NULL, NULL, 0.1, 3600, "S"},                      \
    {"run-timeout", 0, ARG_FLOAT, "5", "Time limit of one run, seconds", NULL, NULL, 0.1, 3600, "S"},                 \
    {"monitor-interval", 0, ARG_FLOAT, "2", "Hardware monitor interval, seconds", NULL, NULL, 0.01, 3600, "S"}

static const arg_spec run_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Model folder, Hub id, .gguf file, or LoRA adapter folder (merged onto its base)", NULL, NULL, 0,
     0, "DIR"},
    {"prompts", 'p', ARG_STR, NULL, "Prompts JSONL (prompt or text, id, category, expected_output, tests, ...)", NULL,
     NULL, 0, 0, "FILE"},
    {"samples", 'n', ARG_INT, "10", "Samples per prompt", NULL, NULL, 1, 100000, "N"},
    {"max-prompts", 0, ARG_INT, NULL, "Use only the first N prompts", NULL, NULL, 1, 1e9, "N"},
    {"verifier", 0, ARG_STR, "gcc", "Verifier (compile verifiers run the program unless --compile-only)", NULL,
     "gcc|clang|mingw|execution|python|humaneval|mbpp|rust|go", 0, 0, "NAME"},
    {"system-prompt", 0, ARG_STR, RAFT_DEFAULT_SYSTEM_PROMPT, "System message of the chat", NULL, NULL, 0, 0, "TEXT"},
    SHARED_FLAGS,
    {"device", 0, ARG_STR, "cpu", BK_DEVICE_HELP, NULL, NULL, 0, 0, "DEVICE"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec run_cmd = {
    "benchmark run", "Generate samples for a prompts file, verify them and report pass@k per category.", NULL, 0, 0,
    run_flags,
    "Every prompt gets --samples completions; each is compiled and run in the sandbox against the\n"
    "prompt's expected output (or tests). pass@k is the unbiased estimator 1 - C(n-c,k)/C(n,k) averaged\n"
    "over prompts. The report JSON (the original's keys plus ours) goes to stdout and to --output, the\n"
    "readable summary to stderr. Example:\n"
    "  halo-forge benchmark run -m models/tiny-coder -p prompts.jsonl --samples 10 --k 1,5,10 -o run/\n"
    "See docs/benchmark.md.",
    NULL,
};

static const arg_spec eval_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Model folder, Hub id, .gguf file, or LoRA adapter folder (merged onto its base)", NULL, NULL, 0,
     0, "DIR"},
    {"benchmark", 'b', ARG_STR, "humaneval", "Benchmark to run", NULL, "humaneval|mbpp|cpp|rust|go", 0, 0, "NAME"},
    {"dataset", 'd', ARG_STR, NULL, "Tasks JSONL {task_id, prompt, tests, entry_point} (required for humaneval and "
     "mbpp; replaces the built-in prompts of cpp, rust, go)", NULL, NULL, 0, 0, "FILE"},
    {"samples", 'n', ARG_INT, "5", "Samples per prompt", NULL, NULL, 1, 100000, "N"},
    {"samples-per-prompt", 0, ARG_INT, NULL, "Same as --samples (the original's name)", NULL, NULL, 1, 100000, "N"},
    {"limit", 0, ARG_INT, NULL, "Use only the first N prompts", NULL, NULL, 1, 1e9, "N"},
    {"verifier", 0, ARG_STR, NULL, "cpp only: gcc (default), clang or mingw (compile only)", NULL, "gcc|clang|mingw", 0,
     0, "NAME"},
    {"system-prompt", 0, ARG_STR, NULL, "System message (default: \"You are an expert <language> programmer. Write "
     "clean, correct code.\")", NULL, NULL, 0, 0, "TEXT"},
    SHARED_FLAGS,
    {"device", 0, ARG_STR, "cpu", BK_DEVICE_HELP, NULL, NULL, 0, 0, "DEVICE"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec eval_cmd = {
    "benchmark eval", "Evaluate a model on a named benchmark: humaneval, mbpp, cpp, rust or go.", NULL, 0, 0, eval_flags,
    "cpp: the 16 built-in C++ prompts, gcc verifier. rust, go: 10 built-in prompts each, rust / go\n"
    "verifiers (the toolchain must be installed). humaneval, mbpp: a --dataset JSONL of\n"
    "{task_id, prompt, tests, entry_point} records, python verifier (HumanEval check(), MBPP asserts).\n"
    "Programs are run and their output compared with the expected output. Same report as `benchmark run`\n"
    "plus the original's eval keys (model, benchmark, language, backend, metrics). See docs/benchmark.md.",
    NULL,
};

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

/* Runs the benchmark and prints the results; the CLI's shared tail. */
static int execute(const char *command, bench_run_opts *o) {
    char err[2048];
    cJSON *rep = NULL;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    o->cancel = (const volatile int *)&interrupted;
    log_open_command(command);
    log_info("%s: %s on %zu prompts x %d samples, %s verifier%s (%s)", command, o->model, o->prompts->count,
             o->samples_per_prompt, vf_kind_name(o->verifier->kind),
             o->verifier->run ? " (compile and run)" : " (compile only)", sbx_describe());
    int brc = bench_run(o, &rep, err, sizeof err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (brc == 1 || (brc < 0 && interrupted)) {
        log_warn("interrupted: nothing was written");
        return 128 + (interrupted ? interrupted : SIGINT);
    }
    if (brc < 0) {
        log_error("%s", err);
        return 1;
    }
    if (!log_is_quiet()) bench_run_print(stderr, rep);
    const cJSON *sk = cJSON_GetObjectItemCaseSensitive(rep, "skipped_k"), *it;
    cJSON_ArrayForEach(it, sk)
        log_warn("pass@%.0f skipped: it needs at least %.0f samples per prompt (have %d)", it->valuedouble,
                 it->valuedouble, o->samples_per_prompt);
    char *text = cJSON_Print(rep);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(rep);
    return 0;
}

/* The k list: usage error when malformed or when no k fits the samples per prompt. */
static int parse_ks(const cmd_spec *cmd, const char *text, int spp, long *ks, int *nk) {
    char err[256];
    if ((*nk = pk_parse_ks(text, ks, BENCH_K_MAX, err, sizeof err)) < 0) return args_usage_error(cmd, "--k: %s", err);
    if (ks[0] > spp)
        return args_usage_error(cmd, "--k %s: every k is above the %d samples per prompt; pass@k needs k <= samples "
                                "(raise --samples or lower --k)", text, spp);
    return 0;
}

static void verifier_from_args(const args *a, vf_kind kind, vf_config *cfg) {
    vf_config_default(cfg, kind);
    cfg->run = !args_bool(a, "compile-only") && kind != VF_MINGW;
    cfg->compile_timeout_s = args_float(a, "timeout");
    cfg->run_timeout_s = args_float(a, "run-timeout");
    cfg->workers = (int)args_int(a, "workers");
    if (kind == VF_PYTHON) cfg->python = args_str(a, "compiler");
    else cfg->compiler = args_str(a, "compiler");
}

static void common_from_args(const args *a, bench_run_opts *o) {
    o->max_new_tokens = (int)args_int(a, "max-new-tokens");
    o->gen_batch_size = (int)args_int(a, "generation-batch-size");
    o->temperature = args_float(a, "temperature");
    o->seed = (uint64_t)args_int(a, "seed");
    o->output = args_str(a, "output");
    o->hw_interval_s = args_float(a, "monitor-interval");
}

int cli_benchmark_run(int argc, char **argv) {
    int rc;
    args *a = args_parse(&run_cmd, argc, argv, &rc);
    if (!a) return rc;
    int device_kind;
    if ((rc = cli_device_setup(a, "benchmark run", args_str(a, "model"), &device_kind)) != 0) {
        args_free(a);
        return rc;
    }
    bench_prompt_set set;
    memset(&set, 0, sizeof set);
    long ks[BENCH_K_MAX];
    int nk;
    char err[2048];
    vf_kind kind;
    vf_config cfg;
    bench_run_opts o;
    memset(&o, 0, sizeof o);
    const char *vname = args_str(a, "verifier");
    if (!args_str(a, "model") || !args_str(a, "prompts")) {
        rc = args_usage_error(&run_cmd, "--model DIR and --prompts FILE are required");
        goto done;
    }
    o.samples_per_prompt = (int)args_int(a, "samples");
    if ((rc = parse_ks(&run_cmd, args_str(a, "k"), o.samples_per_prompt, ks, &nk)) != 0) goto done;
    /* the original maps both humaneval and mbpp onto its pytest-style python verifier */
    if (!strcmp(vname, "humaneval") || !strcmp(vname, "mbpp")) vname = "python";
    if (vf_kind_parse(vname, &kind) != 0) {
        rc = args_usage_error(&run_cmd, "unknown verifier '%s'", vname);
        goto done;
    }
    verifier_from_args(a, kind, &cfg);
    rc = 1;
    if (bench_prompts_load(args_str(a, "prompts"), &set, err, sizeof err) != 0) {
        log_error("%s", err);
        goto done;
    }
    if (args_given(a, "max-prompts") && (size_t)args_int(a, "max-prompts") < set.count) {
        for (size_t i = (size_t)args_int(a, "max-prompts"); i < set.count; i++) bench_prompt_free(&set.items[i]);
        set.count = (size_t)args_int(a, "max-prompts");
    }
    o.model = args_str(a, "model");
    o.prompts_file = args_str(a, "prompts");
    o.prompts = &set;
    o.system_prompt = args_str(a, "system-prompt");
    o.verifier = &cfg;
    o.ks = ks;
    o.nk = (size_t)nk;
    common_from_args(a, &o);
    rc = execute("benchmark run", &o);
done:
    bench_prompts_free(&set);
    args_free(a);
    return rc;
}

int cli_benchmark_eval(int argc, char **argv) {
    int rc;
    args *a = args_parse(&eval_cmd, argc, argv, &rc);
    if (!a) return rc;
    int device_kind;
    if ((rc = cli_device_setup(a, "benchmark eval", args_str(a, "model"), &device_kind)) != 0) {
        args_free(a);
        return rc;
    }
    bench_prompt_set set;
    memset(&set, 0, sizeof set);
    long ks[BENCH_K_MAX];
    int nk;
    char err[2048];
    vf_config cfg;
    bench_run_opts o;
    memset(&o, 0, sizeof o);
    const bench_suite *s = bench_suite_find(args_str(a, "benchmark"));
    if (!args_str(a, "model")) {
        rc = args_usage_error(&eval_cmd, "--model DIR is required");
        goto done;
    }
    if (!s) { /* the choices table already refuses other names; kept for a config file's value */
        rc = args_usage_error(&eval_cmd, "unknown benchmark '%s' (choose %s)", args_str(a, "benchmark"),
                              bench_suite_names());
        goto done;
    }
    o.samples_per_prompt =
        (int)(args_given(a, "samples-per-prompt") ? args_int(a, "samples-per-prompt") : args_int(a, "samples"));
    if ((rc = parse_ks(&eval_cmd, args_str(a, "k"), o.samples_per_prompt, ks, &nk)) != 0) goto done;
    vf_kind kind = s->verifier;
    if (args_str(a, "verifier")) {
        if (strcmp(s->name, "cpp") != 0) {
            rc = args_usage_error(&eval_cmd, "--verifier %s: only the cpp benchmark takes a verifier (%s uses the %s one)",
                                  args_str(a, "verifier"), s->name, vf_kind_name(s->verifier));
            goto done;
        }
        vf_kind_parse(args_str(a, "verifier"), &kind);
    }
    verifier_from_args(a, kind, &cfg);
    rc = 1;
    char tool[512];
    if (!vf_find_tool(&cfg, s->lang, tool, sizeof tool)) {
        static const char *const names[] = {[VF_LANG_PYTHON] = "python3", [VF_LANG_CPP] = "g++",
                                            [VF_LANG_RUST] = "rustc", [VF_LANG_GO] = "go"};
        const char *missing = args_str(a, "compiler")   ? args_str(a, "compiler")
                              : kind == VF_CLANG ? "clang++"
                              : kind == VF_MINGW ? "x86_64-w64-mingw32-g++"
                                                 : names[s->lang];
        log_error("benchmark %s needs %s, which is not installed (not found on PATH): install it, then run again",
                  s->name, missing);
        goto done;
    }
    if (bench_suite_load(s, args_str(a, "dataset"), args_given(a, "limit") ? args_int(a, "limit") : 0, &set, err,
                         sizeof err) != 0) {
        log_error("%s", err);
        goto done;
    }
    o.model = args_str(a, "model");
    o.benchmark = s->name;
    o.language = s->language;
    o.prompts_file = args_str(a, "dataset");
    o.prompts = &set;
    o.system_prompt = args_str(a, "system-prompt") ? args_str(a, "system-prompt") : s->system_prompt;
    o.verifier = &cfg;
    o.ks = ks;
    o.nk = (size_t)nk;
    common_from_args(a, &o);
    rc = execute("benchmark eval", &o);
done:
    bench_prompts_free(&set);
    args_free(a);
    return rc;
}

