/* halo-forge benchmark full: baseline evaluation, quick RAFT cycles, final evaluation (the seed's demo). */
#include "bench/full.h"
#include "bench/summary.h"
#include "cli/commands.h"
#include "backend/bk_device.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/runinfo.h"
#include "model/hub.h"
#include "raft/loop.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const arg_spec full_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Model folder or Hub id", NULL, NULL, 0, 0, "DIR"},
    {"suite", 0, ARG_STR, NULL, "Benchmark a list of models instead: all (0.5B, 1.5B, 3B), small (0.5B), medium "
     "(0.5B, 1.5B) Qwen2.5-Coder", NULL, "all|small|medium", 0, 0, NULL},
    {"cycles", 0, ARG_INT, "2", "RAFT cycles between the two evaluations", NULL, NULL, 1, 1000, "N"},
    {"output", 'o', ARG_STR, "results/benchmarks", "Output folder", NULL, NULL, 0, 0, "DIR"},
    {"samples-per-prompt", 0, ARG_INT, "8", "Samples per prompt (evaluations and cycles)", NULL, NULL, 1, 10000, "N"},
    {"max-new-tokens", 0, ARG_INT, "1024", "Generated tokens per sample at most", NULL, NULL, 1, 10000000, "N"},
    {"temperature", 0, ARG_FLOAT, "0.7", "Sampling temperature", NULL, NULL, 0, 100, "T"},
    {"seed", 's', ARG_INT, "42", "Random seed", NULL, NULL, 0, 0, NULL},
    {"generation-batch-size", 0, ARG_INT, "0", "Sequences decoded together (0: auto: every sample at once up to 64, "
     "fewer when their KV cache would pass 4 GiB)", NULL, NULL, 0, 65536, "N"},
    {"prompts", 'p', ARG_STR, NULL, "Prompts JSONL instead of the 16 built-in C++ prompts", NULL, NULL, 0, 0, "FILE"},
    {"verifier", 0, ARG_STR, "gcc", "Verifier (compile verifiers run the program)", NULL,
     "gcc|clang|execution|python|rust|go|custom", 0, 0, "NAME"},
    {"verify-command", 0, ARG_STR, NULL, "custom verifier: command template with {file}", NULL, NULL, 0, 0, "CMD"},
    {"workers", 'w', ARG_INT, "0", "Verification workers (0: one per core)", NULL, NULL, 0, 256, "N"},
    {"monitor-interval", 0, ARG_FLOAT, "2", "Hardware monitor interval, seconds", NULL, NULL, 0.01, 3600, "S"},
    {"learning-rate", 0, ARG_FLOAT, "5e-5", "Learning rate of cycle 1", NULL, NULL, 0, 1, "LR"},
    {"batch-size", 0, ARG_INT, "2", "Training sequences per micro-batch", NULL, NULL, 1, 4096, "N"},
    {"gradient-accumulation", 0, ARG_INT, "16", "Micro-batches per optimizer step", NULL, NULL, 1, 65536, "N"},
    {"lora-rank", 0, ARG_INT, "16", "LoRA rank", NULL, NULL, 1, 4096, "R"},
    {"lora-alpha", 0, ARG_FLOAT, "32", "LoRA alpha", NULL, NULL, 0, 1e6, NULL},
    {"no-lora", 0, ARG_BOOL, NULL, "Full fine-tuning of every parameter in the cycles instead of LoRA", NULL, NULL, 0,
     0, NULL},
    {"device", 0, ARG_STR, "cpu", BK_DEVICE_HELP, NULL, NULL, 0, 0, "DEVICE"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec full_cmd = {
    "benchmark full", "Baseline evaluation, quick RAFT cycles, final evaluation, with hardware monitoring.", NULL, 0,
    0, full_flags,
    "Writes into --output (a suite: one subfolder per model and comparison_summary.json):\n"
    "  summary.json, baseline_samples.jsonl, baseline_hardware.csv,\n"
    "  cycle_N/{samples.jsonl,kept.jsonl,hardware.csv,checkpoint/}, final_samples.jsonl, final_hardware.csv,\n"
    "  tensorboard/ (TensorBoard events; `plot benchmarks` draws the figures)\n"
    "and prints the Summary Table and Detailed Results. Rerunning the same command resumes: finished\n"
    "phases are skipped, a half-done one continues; Ctrl-C stops within seconds keeping what is done.",
    NULL,
};

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

static const char *const suite_all[] = {"Qwen/Qwen2.5-Coder-0.5B", "Qwen/Qwen2.5-Coder-1.5B", "Qwen/Qwen2.5-Coder-3B",
                                        NULL};
static const char *const suite_medium[] = {"Qwen/Qwen2.5-Coder-0.5B", "Qwen/Qwen2.5-Coder-1.5B", NULL};
static const char *const suite_small[] = {"Qwen/Qwen2.5-Coder-0.5B", NULL};

int cli_benchmark_full(int argc, char **argv) {
    int rc;
    args *a = args_parse(&full_cmd, argc, argv, &rc);
    if (!a) return rc;
    int device_kind;
    struct bk_backend *train_backend = NULL;
    if ((rc = cli_device_setup(a, "benchmark full", args_str(a, "model"), &device_kind)) != 0 ||
        (rc = cli_device_train_backend(a, "benchmark full", device_kind, &train_backend)) != 0) {
        args_free(a);
        return rc;
    }
    bench_prompt_set set = {0};
    cJSON *summaries[8] = {0};
    size_t n_sum = 0;
    char err[2048];
    const char *ri_dir = NULL; /* run.json's folder once the run has begun */
    const char *model = args_str(a, "model"), *suite = args_str(a, "suite");
    if (!model == !suite) {
        rc = args_usage_error(&full_cmd, "give exactly one of --model M or --suite all|small|medium");
        goto done;
    }
    if (model && fs_is_dir(model) && args_apply_model_defaults(a, model) < 0) {
        rc = 2;
        goto done;
    }
    bench_full_options o;
    bench_full_options_default(&o);
    vf_kind kind;
    if (vf_kind_parse(args_str(a, "verifier"), &kind) != 0) {
        rc = args_usage_error(&full_cmd, "unknown verifier '%s'", args_str(a, "verifier"));
        goto done;
    }
    vf_config_default(&o.verifier, kind);
    o.verifier.run = true;
    o.verifier.workers = (int)args_int(a, "workers");
    o.verifier.custom_command = args_str(a, "verify-command");
    if (kind == VF_CUSTOM && (!o.verifier.custom_command || !strstr(o.verifier.custom_command, "{file}"))) {
        rc = args_usage_error(&full_cmd, "--verifier custom needs --verify-command 'PROGRAM ARGS {file}'");
        goto done;
    }
    o.cycles = (int)args_int(a, "cycles");
    o.samples_per_prompt = (int)args_int(a, "samples-per-prompt");
    o.max_new_tokens = (int)args_int(a, "max-new-tokens");
    o.temperature = args_float(a, "temperature");
    o.seed = (uint64_t)args_int(a, "seed");
    o.gen_batch_size = (int)args_int(a, "generation-batch-size");
    o.hw_interval_s = args_float(a, "monitor-interval");
    o.learning_rate = args_float(a, "learning-rate");
    o.batch_size = (int)args_int(a, "batch-size");
    o.grad_accum = (int)args_int(a, "gradient-accumulation");
    o.lora_rank = (int)args_int(a, "lora-rank");
    o.lora_alpha = (float)args_float(a, "lora-alpha");
    o.full_finetune = args_bool(a, "no-lora");
    o.cancel = (const volatile int *)&interrupted;
    o.train_backend = train_backend;
    rc = 1;
    if (args_str(a, "prompts")) {
        if (bench_prompts_load(args_str(a, "prompts"), &set, err, sizeof err) != 0) {
            log_error("%s", err);
            goto done;
        }
        o.prompts = &set;
    }
    log_open_command("benchmark full");
    const char *one[2] = {model, NULL};
    const char *const *models = model ? one
                                : !strcmp(suite, "all")  ? suite_all
                                : !strcmp(suite, "small") ? suite_small
                                                          : suite_medium;
    const char *root = args_str(a, "output");
    if (runinfo_begin(root, "benchmark full", argc, argv, model ? model : suite) == 0) ri_dir = root;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int brc = 0;
    for (size_t i = 0; models[i] && brc == 0; i++) {
        char dir[4096], out[4400], short_name[256];
        if (hub_resolve(models[i], dir, sizeof dir, NULL, err, sizeof err) != 0) {
            brc = -1;
            break;
        }
        bench_model_short(models[i], short_name, sizeof short_name);
        if (suite) snprintf(out, sizeof out, "%s/%s", root, short_name);
        else snprintf(out, sizeof out, "%s", root);
        o.model_name = models[i];
        o.model_dir = dir;
        o.output_dir = out;
        log_info("Benchmark of %s: baseline, %d RAFT cycle%s, final evaluation -> %s", models[i], o.cycles,
                 o.cycles == 1 ? "" : "s", out);
        brc = bench_full_run(&o, &summaries[n_sum], err, sizeof err);
        if (brc == 0) n_sum++;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (brc == 1 || (brc < 0 && interrupted)) {
        log_warn("interrupted: finished phases are kept in %s", root);
        rc = 128 + (interrupted ? interrupted : SIGINT);
        goto done;
    }
    if (brc < 0) {
        log_error("%s", err);
        goto done;
    }
    if (suite) {
        cJSON *cmp = bench_comparison_to_json((const cJSON *const *)summaries, n_sum);
        char path[4400];
        fs_join(path, sizeof path, root, "comparison_summary.json");
        int wrc = cmp ? bench_write_json(path, cmp, err, sizeof err) : -1;
        cJSON_Delete(cmp);
        if (wrc) {
            log_error("%s", cmp ? err : "out of memory");
            goto done;
        }
    }
    printf("Summary Table\n\n");
    bench_print_summary_table(stdout, (const cJSON *const *)summaries, n_sum);
    printf("\nDetailed Results\n\n");
    for (size_t i = 0; i < n_sum; i++) bench_print_detailed(stdout, summaries[i]);
    rc = 0;
done:
    if (ri_dir) runinfo_end(ri_dir, rc);
    for (size_t i = 0; i < n_sum; i++) cJSON_Delete(summaries[i]);
    bench_prompts_free(&set);
    args_free(a);
    return rc;
}
