/* halo-forge raft train: the RAFT loop (generate, verify, filter, fine-tune, repeat). */
#include "cli/commands.h"
#include "backend/bk_device.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/runinfo.h"
#include "model/hub.h"
#include "raft/loop.h"
#include "rl/pg.h"
#include "train/train_model.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const arg_spec raft_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Base model folder or Hub id (an SFT adapter folder: its base + the adapter)",
     "base_model|model.name", NULL, 0, 0, "DIR"},
    {"checkpoint", 0, ARG_STR, NULL, "LoRA adapter (e.g. an SFT final_model) to start the RAFT adapter from",
     "sft_checkpoint", NULL, 0, 0, "DIR"},
    {"prompts", 'p', ARG_STR, NULL, "Prompts JSONL (prompt|text, id, category, expected_output, stdin, tests, ...)",
     "data.prompts", NULL, 0, 0, "FILE"},
    {"output", 'o', ARG_STR, "models/raft", "Output folder (rerunning the same command resumes there)",
     "output_dir", NULL, 0, 0, "DIR"},
    {"cycles", 0, ARG_INT, "3", "RAFT cycles", "raft.num_cycles|num_cycles", NULL, 1, 1000, "N"},
    {"verifier", 0, ARG_STR, "gcc", "Verifier (humaneval, mbpp, pytest: the python verifier)", "verifier.type",
     "gcc|clang|mingw|execution|python|humaneval|mbpp|pytest|rlvr_pytest|rust|go|custom", 0, 0, "NAME"},
    {"run", 0, ARG_BOOL, NULL, "Run programs after compiling (compile verifiers; needed for expected outputs)",
     "verifier.run_after_compile", NULL, 0, 0, NULL},
    {"verify-command", 0, ARG_STR, NULL, "custom verifier: command template with {file}", "verifier.command", NULL, 0,
     0, "CMD"},
    {"success-regex", 0, ARG_STR, NULL, "custom verifier: success when stdout matches", "verifier.success_pattern",
     NULL, 0, 0, "RE"},
    {"match", 0, ARG_STR, "exact", "execution verifier: how output is compared", "verifier.match_mode",
     "exact|contains|regex|numeric", 0, 0, NULL},
    {"workers", 'w', ARG_INT, "0", "Verification workers (0: one per core)", "verifier.max_workers", NULL, 0, 256,
     "N"},
    {"keep-percent", 0, ARG_FLOAT, "0.5", "Keep this fraction of the samples above the threshold",
     "raft.keep_top_percent|keep_top_percent", NULL, 0.001, 1, "F"},
    {"reward-threshold", 0, ARG_FLOAT, "0.5", "Minimum reward of a kept sample", "raft.reward_threshold", NULL, 0, 1,
     "R"},
    {"min-samples", 0, ARG_INT, "0", "Rescue: keep at least this many samples (never reward-0 ones)",
     "raft.min_samples", NULL, 0, 100000000, "N"},
    {"filter", 0, ARG_STR, "global", "Filtering: one global ranking, or the best samples of each prompt",
     "raft.filter", "global|per-prompt", 0, 0, NULL},
    {"drop-unsolved", 0, ARG_BOOL, NULL, "Drop prompts none of whose samples succeeded (no signal)",
     "raft.drop_unsolved", NULL, 0, 0, NULL},
    {"drop-solved", 0, ARG_BOOL, NULL, "Drop prompts all of whose samples succeeded (no signal)", "raft.drop_solved",
     NULL, 0, 0, NULL},
    {"curriculum", 0, ARG_STR, "none", "Which prompts each cycle uses", "curriculum_strategy|raft.curriculum",
     "none|complexity|progressive|adaptive|historical", 0, 0, NULL},
    {"curriculum-stats", 0, ARG_STR, NULL, "historical: curriculum_stats.json of an earlier run",
     "curriculum_stats_path", NULL, 0, 0, "FILE"},
    {"curriculum-start", 0, ARG_FLOAT, "0.2", "progressive: fraction of the prompts in cycle 1",
     "curriculum_start", NULL, 0.001, 1, "F"},
    {"curriculum-increment", 0, ARG_FLOAT, "0.2", "progressive: fraction added per cycle", "curriculum_increment",
     NULL, 0, 1, "F"},
    {"reward-shaping", 0, ARG_STR, "fixed", "Threshold / keep fraction per cycle",
     "reward_shaping_strategy|raft.reward_shaping", "fixed|warmup|annealing|adaptive", 0, 0, NULL},
    {"lr-decay", 0, ARG_FLOAT, "0.85", "Learning rate factor per cycle", "lr_decay_per_cycle|training.lr_decay_factor|training.lr_decay_per_cycle",
     NULL, 0.001, 1, "F"},
    {"min-lr", 0, ARG_FLOAT, "1e-6", "Learning rate floor", "min_lr|training.min_lr", NULL, 0, 1, "LR"},
    {"system-prompt", 0, ARG_STR, RAFT_DEFAULT_SYSTEM_PROMPT, "System message for generation and training",
     "system_prompt", NULL, 0, 0, "TEXT"},
    {"samples-per-prompt", 0, ARG_INT, "8", "Completions per prompt per cycle", "raft.samples_per_prompt", NULL, 1,
     10000, "N"},
    {"temperature", 0, ARG_FLOAT, "0.7", "Sampling temperature", "generation.temperature|raft.temperature", NULL, 0, 100, "T"},
    {"max-new-tokens", 0, ARG_INT, "1024", "Generated tokens per completion at most", "generation.max_new_tokens",
     NULL, 1, 10000000, "N"},
    {"generation-batch-size", 0, ARG_INT, "0", "Sequences decoded together (0: auto: every sample at once up to 64, fewer "
     "when their KV cache would pass 4 GiB)", "generation.batch_size", NULL, 0, 65536, "N"},
    {"seed", 's', ARG_INT, "42", "Random seed (sampling, adapter init, batches)", "seed", NULL, 0, 0, NULL},
    {"learning-rate", 0, ARG_FLOAT, "5e-5", "Learning rate of cycle 1",
     "training.learning_rate|training.base_learning_rate", NULL, 0, 1, "LR"},
    {"batch-size", 0, ARG_INT, "2", "Training sequences per micro-batch", "training.batch_size", NULL, 1, 4096, "N"},
    {"gradient-accumulation", 0, ARG_INT, "16", "Micro-batches per optimizer step",
     "training.gradient_accumulation_steps", NULL, 1, 65536, "N"},
    {"epochs", 0, ARG_INT, "1", "Passes over the kept samples per cycle", "training.epochs|training.epochs_per_cycle", NULL, 1, 1000, "N"},
    {"warmup-steps", 0, ARG_INT, "10", "Warmup steps (at most a quarter of a cycle's steps)", "training.warmup_steps",
     NULL, 0, 1000000, "N"},
    {"lora-rank", 0, ARG_INT, "16", "LoRA rank", "lora.r", NULL, 1, 4096, "R"},
    {"lora-alpha", 0, ARG_FLOAT, "32", "LoRA alpha", "lora.alpha", NULL, 0, 1e6, NULL},
    {"lora-dropout", 0, ARG_FLOAT, "0.05", "LoRA dropout", "lora.dropout", NULL, 0, 0.99, "P"},
    {"no-lora", 0, ARG_BOOL, NULL, "Full fine-tuning of every parameter instead of a LoRA adapter",
     "lora.disabled", NULL, 0, 0, NULL},
    {"max-seq-len", 0, ARG_INT, "2048", "Training examples are cut to this many tokens", "training.max_seq_length",
     NULL, 8, 1000000, "N"},
    {"device", 0, ARG_STR, "cpu", BK_DEVICE_HELP, NULL, NULL, 0, 0, "DEVICE"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec raft_train_cmd = {
    "raft train", "RAFT: sample, verify, keep the best, fine-tune LoRA, repeat.", NULL, 0, 0, raft_flags,
    "Each cycle generates --samples-per-prompt completions per prompt from the current weights,\n"
    "verifies them while generation goes on, keeps the best (threshold, top fraction) and fine-tunes\n"
    "one LoRA adapter on them (every parameter with --no-lora); the next cycle samples from the base\n"
    "model with that adapter applied in memory (or from the fine-tuned model).\n"
    "Output: cycle_N_samples.jsonl, cycle_N_verified.jsonl, cycle_N/ (trainer output), cycle_N_final/\n"
    "(PEFT adapter of the base model, or a full model folder with --no-lora), raft_statistics.json,\n"
    "curriculum_stats.json, tensorboard/ (TensorBoard events). Rerunning the same command resumes;\n"
    "Ctrl-C stops within seconds keeping what is finished. The final model is cycle_<cycles>_final.",
    "training.lr_scheduler=a cycle's schedule is warmup then cosine|"
    "training.lr_scheduler_type=a cycle's schedule is warmup then cosine|"
    "training.dataloader_num_workers=no data loader processes|training.dataloader_pin_memory=no GPU transfer|"
    "training.gradient_checkpointing=always on in RAFT training|training.bf16=weights stay bf16, training runs in fp32|"
    "training.weight_decay=RAFT training uses the trainer's default (0.01)|"
    "training.max_grad_norm=RAFT training uses the trainer's default (0.3)|"
    "training.learning_rate_schedule.*=reference only in the original too (use --learning-rate and --lr-decay)|"
    "hardware.*=no device settings (CPU)|model.trust_remote_code=no model code is ever run|"
    "model.attn_implementation=one attention implementation|"
    "generation.top_p=RAFT samples with temperature only|raft.top_p=RAFT samples with temperature only|"
    "lora.target_modules=RAFT adapters cover all seven projections|"
    "verifier.timeout=the verifier's limits are fixed here (compile 30 s, run 5 s, 256 MB)|"
    "verifier.run_timeout=the verifier's limits are fixed here (run 5 s)|"
    "verifier.memory_limit_mb=the verifier's limits are fixed here (256 MB)|"
    "verifier.flags=the compile verifiers use their own flags|verifier.dataset=tests come from the prompts file|"
    "verifier.dataset_type=tests come from the prompts file|verifier.reward_partial=rewards follow the ladder|"
    "verifier.host=no MSVC-over-SSH verifier|verifier.user=no MSVC-over-SSH verifier|"
    "verifier.ssh_key=no MSVC-over-SSH verifier|data.tests=tests come from the prompts file|"
    "logging.*=every command logs to logs/ on its own|checkpointing.*=every cycle is kept in --output|"
    "experiment.*=a description only|rewards.*=the reward ladder is fixed (0, 0.3, 0.5, 0.7, 1.0)",
};

/* rl train: every raft train flag, then these. */
static const arg_spec rl_extra_flags[] = {
    {"algorithm", 0, ARG_STR, "grpo", "grpo, dapo, dr-grpo, rloo: policy gradient on every sample; raft: the RAFT loop",
     "rl.algorithm", "grpo|dapo|dr-grpo|rloo|raft", 0, 0, NULL},
    {"clip-low", 0, ARG_FLOAT, "0.2", "Importance ratios are clipped below at 1 - this", "rl.clip_low", NULL, 0, 1,
     "E"},
    {"clip-high", 0, ARG_FLOAT, NULL, "... and above at 1 + this (default: --clip-low; dapo: 0.28)", "rl.clip_high",
     NULL, 0, 100, "E"},
    {"kl-coef", 0, ARG_FLOAT, "0", "Weight of the k3 KL penalty to the base model (LoRA off; 0: none)", "rl.kl_coef",
     NULL, 0, 100, "BETA"},
    {"update-epochs", 0, ARG_INT, "1", "Passes over each rollout batch", "rl.update_epochs", NULL, 1, 1000, "N"},
    {"mini-batches", 0, ARG_INT, "2", "Optimizer steps per pass (the batch is split into this many)",
     "rl.mini_batches", NULL, 1, 100000, "N"},
    {"batch-tokens", 0, ARG_INT, "4096", "Tokens per forward pass when training (sequences packed)",
     "rl.batch_tokens", NULL, 16, 100000000, "N"},
    {"max-grad-norm", 0, ARG_FLOAT, "1.0", "Gradient clipping (0: off)", "rl.max_grad_norm", NULL, 0, 1e9, "N"},
    {"dynamic-sampling", 0, ARG_STR, "auto", "Leave out groups whose rewards are all equal (auto: dapo only)",
     "rl.dynamic_sampling", "auto|on|off", 0, 0, NULL},
    {"max-refill-rounds", 0, ARG_INT, "3", "Dynamic sampling: while fewer groups than prompts carry a signal, sample "
     "further prompts in up to this many extra rounds (0: only drop)", "rl.max_refill_rounds", NULL, 0, 100, "N"},
    {"old-logprobs", 0, ARG_STR, "sampler", "Old-policy log-probs of the ratios: the sampler's own, or the trainer's "
     "recomputed before the first step (a resumed rollout then trains the identical adapter)", "rl.old_logprobs",
     "sampler|trainer", 0, 0, NULL},
    {"fast-products", 0, ARG_BOOL, NULL, "bf16 products in sampling and training (faster; log-probs of sampler and "
     "trainer then differ by ~1e-2 instead of ~1e-6)", "rl.fast_products", NULL, 0, 0, NULL},
    {"overlong-filter", 0, ARG_STR, "auto", "Leave out samples cut at --max-new-tokens (auto: dapo only)",
     "rl.overlong_filter", "auto|on|off", 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static arg_spec rl_flags[sizeof raft_flags / sizeof raft_flags[0] + sizeof rl_extra_flags / sizeof rl_extra_flags[0]];

static const cmd_spec rl_train_cmd = {
    "rl train", "Policy-gradient RL (GRPO, DAPO, Dr. GRPO, RLOO): sample, verify, update on every sample, repeat.",
    NULL, 0, 0, rl_flags,
    "The raft train loop (prompts, verifiers, reward ladder, curriculum, resume, outputs) with step 4\n"
    "replaced: each prompt's --samples-per-prompt samples are a group; advantages are relative to the\n"
    "group; a token-level clipped policy-gradient loss against the sampler's own log-probabilities\n"
    "trains the LoRA adapter (or every parameter, --no-lora) in --update-epochs x --mini-batches\n"
    "optimizer steps per cycle. RAFT-only flags (--keep-percent, --reward-threshold, --filter,\n"
    "--batch-size, --gradient-accumulation, --epochs, --warmup-steps, --lora-dropout) do not apply\n"
    "(adapter dropout is off so that the first step's ratios are 1). Metrics per step:\n"
    "cycle_N/rl_metrics.jsonl; per cycle: raft_statistics.json (\"rl\"). See docs/rl.md.",
    "training.lr_scheduler",
};

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

static bool tristate(const char *v, bool dflt) { return !strcmp(v, "auto") ? dflt : !strcmp(v, "on"); }

static int train_main(const cmd_spec *spec, bool rl, int argc, char **argv) {
    int rc;
    args *a = args_parse(spec, argc, argv, &rc);
    if (!a) return rc;
    int device_kind;
    if ((rc = cli_device_setup(a, rl ? "rl train" : "raft train", args_str(a, "model"), &device_kind)) != 0) {
        args_free(a);
        return rc;
    }
    struct bk_backend *train_backend = NULL;
    if ((rc = cli_device_train_backend(a, rl ? "rl train" : "raft train", device_kind, &train_backend)) != 0) {
        args_free(a);
        return rc;
    }
    rc = 2;
    bool ri = false; /* run.json written */
    char err[2048], model_dir[4096], base_buf[4096], ck_base[4096];
    raft_loop_options o;
    raft_loop_options_default(&o);
    o.train_backend = train_backend;
    const char *model = args_str(a, "model"), *prompts = args_str(a, "prompts");
    const char *checkpoint = args_str(a, "checkpoint");
    if (checkpoint && !*checkpoint) checkpoint = NULL; /* the original's sft_checkpoint: "" means none */
    if (!model && checkpoint) {
        /* the specification's example gives only --checkpoint: the adapter names its base model */
        int is = train_adapter_base(checkpoint, base_buf, sizeof base_buf, err, sizeof err);
        if (is != 1) {
            rc = args_usage_error(spec, "--model is missing and %s does not name a base model: %s",
                                  checkpoint, is < 0 ? err : "not a LoRA adapter folder");
            goto done;
        }
        snprintf(ck_base, sizeof ck_base, "%s", base_buf);
        model = ck_base;
        log_info("--model %s (the base model of --checkpoint %s)", model, checkpoint);
    }
    if (!model) {
        rc = args_usage_error(spec, "--model DIR is required (or --checkpoint ADAPTER, whose base is used)");
        goto done;
    }
    if (fs_is_dir(model) && args_apply_model_defaults(a, model) < 0) goto done;
    if (!prompts) {
        rc = args_usage_error(spec, "--prompts FILE is required");
        goto done;
    }
    const char *vname = args_str(a, "verifier");
    vf_kind kind;
    if (!strcmp(vname, "humaneval") || !strcmp(vname, "mbpp") || !strcmp(vname, "pytest") ||
        !strcmp(vname, "rlvr_pytest"))
        vname = "python";
    if (vf_kind_parse(vname, &kind) != 0) {
        rc = args_usage_error(spec, "unknown verifier '%s'", vname);
        goto done;
    }
    vf_config_default(&o.verifier, kind);
    o.verifier.run = args_bool(a, "run");
    o.verifier.workers = (int)args_int(a, "workers");
    o.verifier.custom_command = args_str(a, "verify-command");
    o.verifier.custom_regex = args_str(a, "success-regex");
    vf_match_parse(args_str(a, "match"), &o.verifier.match);
    if (kind == VF_CUSTOM && (!o.verifier.custom_command || !strstr(o.verifier.custom_command, "{file}"))) {
        rc = args_usage_error(spec, "--verifier custom needs --verify-command 'PROGRAM ARGS {file}'");
        goto done;
    }
    raft_filter_mode_parse(args_str(a, "filter"), &o.filter.mode);
    o.filter.reward_threshold = args_float(a, "reward-threshold");
    o.filter.keep_percent = args_float(a, "keep-percent");
    o.filter.min_samples = args_int(a, "min-samples");
    o.filter.drop_unsolved = args_bool(a, "drop-unsolved");
    o.filter.drop_solved = args_bool(a, "drop-solved");
    raft_curriculum_parse(args_str(a, "curriculum"), &o.curriculum);
    o.curriculum_stats = args_str(a, "curriculum-stats");
    if (o.curriculum_stats && !fs_exists(o.curriculum_stats)) {
        rc = args_usage_error(spec, "--curriculum-stats %s: no such file", o.curriculum_stats);
        goto done;
    }
    o.curriculum_start = args_float(a, "curriculum-start");
    o.curriculum_increment = args_float(a, "curriculum-increment");
    raft_shaping_parse(args_str(a, "reward-shaping"), &o.shaping);
    o.cycles = (int)args_int(a, "cycles");
    o.lr_decay = args_float(a, "lr-decay");
    o.min_lr = args_float(a, "min-lr");
    o.system_prompt = args_str(a, "system-prompt");
    o.samples_per_prompt = (int)args_int(a, "samples-per-prompt");
    o.temperature = args_float(a, "temperature");
    o.max_new_tokens = (int)args_int(a, "max-new-tokens");
    o.gen_batch_size = (int)args_int(a, "generation-batch-size");
    o.seed = (uint64_t)args_int(a, "seed");
    o.learning_rate = args_float(a, "learning-rate");
    o.batch_size = (int)args_int(a, "batch-size");
    o.grad_accum = (int)args_int(a, "gradient-accumulation");
    o.epochs = (int)args_int(a, "epochs");
    o.warmup_steps = args_int(a, "warmup-steps");
    o.lora_rank = (int)args_int(a, "lora-rank");
    o.lora_alpha = (float)args_float(a, "lora-alpha");
    o.lora_dropout = (float)args_float(a, "lora-dropout");
    o.max_seq_len = (int)args_int(a, "max-seq-len");
    o.full_finetune = args_bool(a, "no-lora");
    o.prompts_path = prompts;
    o.output_dir = args_str(a, "output");
    o.cancel = (const volatile int *)&interrupted;
    if (rl) {
        rl_algo_parse(args_str(a, "algorithm"), &o.algorithm);
        rl_update_opts_default(&o.rl, o.algorithm == RL_RAFT ? RL_GRPO : o.algorithm);
        o.rl.obj.clip_low = args_float(a, "clip-low");
        o.rl.obj.clip_high = args_given(a, "clip-high") ? args_float(a, "clip-high")
                             : o.algorithm == RL_DAPO ? o.rl.obj.clip_high : o.rl.obj.clip_low;
        o.rl.obj.kl_coef = args_float(a, "kl-coef");
        o.rl.obj.max_new_tokens = o.max_new_tokens;
        o.rl.epochs = (int)args_int(a, "update-epochs");
        o.rl.mini_batches = (int)args_int(a, "mini-batches");
        o.rl.batch_tokens = (int)args_int(a, "batch-tokens");
        o.rl.max_grad_norm = args_float(a, "max-grad-norm");
        o.rl.fast = args_bool(a, "fast-products");
        o.rl.old_from_trainer = !strcmp(args_str(a, "old-logprobs"), "trainer");
        o.rl.drop_equal_groups = tristate(args_str(a, "dynamic-sampling"), o.algorithm == RL_DAPO);
        o.max_refill_rounds = (int)args_int(a, "max-refill-rounds");
        o.rl.overlong_filter = tristate(args_str(a, "overlong-filter"), o.algorithm == RL_DAPO);
        if (o.algorithm != RL_RAFT && !(o.temperature > 0)) {
            rc = args_usage_error(spec, "--temperature must be above 0 for policy gradient (greedy samples have no "
                                        "distribution to take ratios of)");
            goto done;
        }
        if (o.algorithm != RL_RAFT && o.rl.obj.kl_coef != 0 && o.full_finetune) {
            rc = args_usage_error(spec, "--kl-coef needs LoRA: the reference is the base model with the adapter off "
                                        "(no second copy of the weights)");
            goto done;
        }
        if (o.algorithm != RL_RAFT && o.samples_per_prompt < 2) {
            rc = args_usage_error(spec, "--samples-per-prompt must be at least 2: advantages are relative to a group");
            goto done;
        }
    }
    if (!fs_exists(prompts)) {
        rc = args_usage_error(spec, "--prompts %s: no such file", prompts);
        goto done;
    }

    rc = 1;
    log_open_command(rl ? "rl" : "raft");
    ri = runinfo_begin(o.output_dir, rl ? "rl train" : "raft train", argc, argv, model) == 0;
    if (hub_resolve(model, model_dir, sizeof model_dir, NULL, err, sizeof err) != 0) {
        log_error("%s", err);
        goto done;
    }
    /* an SFT adapter as --model: its base is the model, the adapter the starting point */
    int is = train_adapter_base(model_dir, base_buf, sizeof base_buf, err, sizeof err);
    if (is < 0) {
        log_error("%s", err);
        goto done;
    }
    if (is == 1) {
        if (!checkpoint) checkpoint = model;
        snprintf(model_dir, sizeof model_dir, "%s", base_buf);
    }
    if (checkpoint) {
        char cpath[4200];
        fs_join(cpath, sizeof cpath, checkpoint, "adapter_config.json");
        if (!fs_exists(cpath)) {
            log_error("%s: not a LoRA adapter folder (no adapter_config.json)", checkpoint);
            goto done;
        }
    }
    o.init_adapter = checkpoint;
    o.model_dir = model_dir;

    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int lrc = raft_loop_run(&o, NULL, err, sizeof err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (lrc == 1 || (lrc < 0 && interrupted)) {
        log_warn("interrupted: finished work is kept in %s; run the same command again to resume", o.output_dir);
        rc = 128 + (interrupted ? interrupted : SIGINT);
        goto done;
    }
    if (lrc < 0) {
        log_error("%s", err);
        goto done;
    }
    char final_dir[4200];
    snprintf(final_dir, sizeof final_dir, "%s/cycle_%d_final", o.output_dir, o.cycles);
    log_info("%s done: %d cycle%s; final %s %s", rl ? rl_algo_name(o.algorithm) : "RAFT", o.cycles,
             o.cycles == 1 ? "" : "s",
             o.full_finetune ? "model" : "adapter", final_dir);
    printf("%s\n", final_dir);
    rc = 0;
done:
    if (ri) runinfo_end(o.output_dir, rc);
    args_free(a);
    return rc;
}

int cli_raft_train(int argc, char **argv) { return train_main(&raft_train_cmd, false, argc, argv); }

static int cli_rl_train(int argc, char **argv) {
    if (!rl_flags[0].name) {
        size_t k = 0;
        for (size_t i = 0; raft_flags[i].name; i++) rl_flags[k++] = raft_flags[i];
        for (size_t i = 0; rl_extra_flags[i].name; i++) rl_flags[k++] = rl_extra_flags[i];
    }
    return train_main(&rl_train_cmd, true, argc, argv);
}

const cli_command cli_rl_cmds[] = {
    {"train", "Policy-gradient RL training: grpo, dapo, dr-grpo, rloo (or raft), LoRA or full", cli_rl_train},
    {NULL, NULL, NULL},
};

const cli_command cli_raft_cmds[] = {
    {"train", "RAFT training: generate, verify, filter, fine-tune (LoRA or full), repeat", cli_raft_train},
    {NULL, NULL, NULL},
};
