/* halo-forge sft train: supervised fine-tuning (LoRA or full) of a model folder on JSONL data. */
#include "cli/commands.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "data/dprep.h"
#include "model/hub.h"
#include "core/runinfo.h"
#include "train/sched.h"
#include "backend/bk_device.h"
#include "train/train_run.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const arg_spec train_flags[] = {
    {"model", 'm', ARG_STR, "Qwen/Qwen2.5-Coder-7B", "Base model folder (or an adapter folder: its base is loaded "
     "and the adapter merged)", "model.name|model.model_name", NULL, 0, 0, "DIR"},
    {"data", 0, ARG_STR, NULL, "Local JSONL: text, messages, prompt+completion/response or alpaca records",
     "data.train_file", NULL, 0, 0, "FILE"},
    {"dataset", 'd', ARG_STR, NULL, "A dataset of `sft datasets`: prepared (cached) with `data prepare`, then trained on",
     "data.dataset", NULL, 0, 0, "NAME"},
    {"output", 'o', ARG_STR, "models/sft", "Output folder (checkpoints, final_model, metrics.jsonl)",
     "training.output_dir|output_dir", NULL, 0, 0, "DIR"},
    {"resume", 0, ARG_STR, NULL, "Continue from a checkpoint-N folder of this output (same data and flags)", NULL,
     NULL, 0, 0, "DIR"},
    {"dry-run", 0, ARG_BOOL, NULL, "Check the model, data and settings, then stop before training", NULL, NULL, 0, 0,
     NULL},
    {"epochs", 0, ARG_INT, "3", "Passes over the training data", "training.num_train_epochs|training.num_epochs",
     NULL, 1, 100000, NULL},
    {"batch-size", 0, ARG_INT, "2", "Sequences per micro-batch (packed, no padding)",
     "training.per_device_train_batch_size|training.batch_size", NULL, 1, 65536, NULL},
    {"learning-rate", 0, ARG_FLOAT, "2e-4", "Peak learning rate", "training.learning_rate", NULL, 1e-12, 10, NULL},
    {"warmup-ratio", 0, ARG_FLOAT, "0.03", "Fraction of the steps spent warming up (see --warmup-steps)",
     "training.warmup_ratio", NULL, 0, 1, NULL},
    {"warmup-steps", 0, ARG_INT, "0", "Warmup steps (overrides --warmup-ratio when > 0)", "training.warmup_steps",
     NULL, 0, 1e9, NULL},
    {"lr-scheduler", 0, ARG_STR, "cosine", "Learning-rate schedule after warmup",
     "training.lr_scheduler_type|training.lr_scheduler", "constant|linear|cosine", 0, 0, NULL},
    {"weight-decay", 0, ARG_FLOAT, "0.01", "AdamW weight decay (matrices only)", "training.weight_decay", NULL, 0, 10,
     NULL},
    {"max-grad-norm", 0, ARG_FLOAT, "0.3", "Clip the global gradient norm (0: no clipping)", "training.max_grad_norm",
     NULL, 0, 1e9, NULL},
    {"gradient-accumulation", 0, ARG_INT, "16", "Micro-batches per optimizer step",
     "training.gradient_accumulation_steps", NULL, 1, 1e6, NULL},
    {"lora-rank", 0, ARG_INT, "16", "LoRA rank r", "lora.r|lora.lora_r", NULL, 1, 4096, NULL},
    {"lora-alpha", 0, ARG_FLOAT, "32", "LoRA alpha (scaling alpha / r)", "lora.alpha|lora.lora_alpha", NULL, 1e-6, 1e6,
     NULL},
    {"lora-dropout", 0, ARG_FLOAT, "0.05", "Dropout on the adapters' inputs", "lora.dropout|lora.lora_dropout", NULL,
     0, 0.99, NULL},
    {"target-modules", 0, ARG_LIST, "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
     "Projections that get adapters", "lora.target_modules", NULL, 0, 0, "LIST"},
    {"no-lora", 0, ARG_BOOL, NULL, "Full fine-tuning of every parameter instead of LoRA", "lora.disabled", NULL, 0, 0,
     NULL},
    {"save-steps", 0, ARG_INT, "500", "Checkpoint every N optimizer steps (0: only the final model)",
     "training.save_steps", NULL, 0, 1e9, NULL},
    {"eval-steps", 0, ARG_INT, "250", "Validation loss every N steps (0: never)", "training.eval_steps", NULL, 0, 1e9,
     NULL},
    {"save-total-limit", 0, ARG_INT, "3", "Keep the newest N checkpoints (0: all)", "training.save_total_limit", NULL,
     0, 1e6, NULL},
    {"early-stopping-patience", 0, ARG_INT, "5", "Stop after N evaluations without improvement (0: never)",
     "training.early_stopping_patience", NULL, 0, 1e6, NULL},
    {"early-stopping-threshold", 0, ARG_FLOAT, "0.001", "Smallest eval-loss decrease that counts as improvement",
     "training.early_stopping_threshold", NULL, 0, 1e3, NULL},
    {"max-samples", 0, ARG_INT, NULL, "Use at most N records (a seeded random subset)", "data.max_samples", NULL, 1,
     1e12, NULL},
    {"device", 0, ARG_STR, "cpu", BK_DEVICE_HELP, NULL, NULL, 0, 0, "DEVICE"},
    {"validation-split", 0, ARG_FLOAT, "0.05", "Fraction of the records held out for eval loss",
     "data.validation_split", NULL, 0, 0.9, NULL},
    {"max-seq-length", 0, ARG_INT, "2048", "Truncate examples to N tokens", "data.max_seq_length", NULL, 2, 1 << 20,
     NULL},
    {"no-gradient-checkpointing", 0, ARG_BOOL, NULL, "Keep every layer's activations (faster, more memory)", NULL,
     NULL, 0, 0, NULL},
    {"seed", 0, ARG_INT, "42", "Seed of shuffling, the split, adapter init and dropout", "training.seed", NULL, 0,
     9.2e18, NULL},
    {"no-shuffle", 0, ARG_BOOL, NULL, "Use records in file order", NULL, NULL, 0, 0, NULL},
    {"train-on-prompt", 0, ARG_BOOL, NULL, "Loss on prompt tokens too (default: completions only)",
     "data.train_on_prompt", NULL, 0, 0, NULL},
    {"matmul", 0, ARG_STR, "fast", "bf16 base weights (LoRA): fast = bf16-rounded activations (PyTorch bf16 "
     "accuracy), exact = fp32 products", "training.matmul", "fast|exact", 0, 0, NULL},
    {"max-steps", 0, ARG_INT, "0", "Stop after N optimizer steps (0: all epochs)", "training.max_steps", NULL, 0, 1e12,
     NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec train_cmd = {
    "sft train", "Supervised fine-tuning (LoRA or full) on JSONL data.", NULL, 0, 0, train_flags,
    "The model folder holds config.json, model.safetensors and tokenizer.json. Loss is the token-level\n"
    "mean over the completion tokens of each optimizer step. Writes <output>/metrics.jsonl (and the same\n"
    "as TensorBoard events in <output>/tensorboard/), <output>/checkpoint-N/ (with the training state\n"
    "for --resume) and <output>/final_model/ (a PEFT adapter, or a full Hugging Face model with --no-lora).\n"
    "Config sections: model, data, lora, training.",
    "training.bf16=weights stay bf16 and training runs in fp32 (see --matmul)|"
    "training.gradient_checkpointing=on by default (--no-gradient-checkpointing turns it off)|"
    "training.logging_steps=every optimizer step is written to metrics.jsonl|"
    "training.save_strategy=checkpoints are by steps (--save-steps)|"
    "training.eval_strategy=evaluation is by steps (--eval-steps)|"
    "training.load_best_model_at_end=final_model is the last weights; best_model/ keeps the best eval loss|"
    "training.dataloader_num_workers=no data loader processes (data is tokenized up front)|"
    "training.dataloader_pin_memory=no GPU transfer|"
    "training.per_device_eval_batch_size=evaluation uses --batch-size|"
    "model.trust_remote_code=no model code is ever run|"
    "model.attn_implementation=one attention implementation|"
    "qlora.*=no 4-bit quantisation (QLoRA); LoRA on bf16 weights|load_in_4bit=no 4-bit quantisation (QLoRA)|"
    "hardware.*=no device settings (CPU)",
};

static volatile sig_atomic_t sft_interrupted;
static void sft_on_signal(int sig) { sft_interrupted = sig; }

static int sft_train(int argc, char **argv) {
    int rc;
    args *a = args_parse(&train_cmd, argc, argv, &rc);
    if (!a) return rc;
    train_options o;
    train_options_default(&o);
    char err[2048];
    bool ri = false; /* run.json written */
    rc = 2;
    const char *data = args_str(a, "data"), *dataset = args_str(a, "dataset");
    if (!data && !dataset) { rc = args_usage_error(&train_cmd, "give --data FILE (or --dataset NAME)"); goto out; }
    char prepared[4096], model_dir[4096];
    if (!data) {
        const dp_spec *spec = dp_find(dataset);
        if (!spec) {
            rc = args_usage_error(&train_cmd,
                                  "--dataset: unknown dataset '%s' (run 'halo-forge sft datasets'; for other data, "
                                  "'data prepare --input FILE' and --data)", dataset);
            goto out;
        }
        if (dp_prepare_cached(spec, prepared, sizeof prepared, err, sizeof err) != 0) {
            log_error("--dataset %s: %s", dataset, err);
            rc = 1;
            goto out;
        }
        data = prepared;
    }
    o.model_dir = args_str(a, "model");
    char rid[160], rrev[256], perr[256];
    if (!fs_is_dir(o.model_dir) &&
        hub_parse_id(o.model_dir, rid, sizeof rid, rrev, sizeof rrev, perr, sizeof perr) == 0) { /* a Hub id */
        if (hub_resolve(o.model_dir, model_dir, sizeof model_dir, NULL, err, sizeof err) != 0) {
            log_error("%s", err);
            rc = 1;
            goto out;
        }
        o.model_dir = model_dir;
    }
    o.data_path = data;
    o.output_dir = args_str(a, "output");
    o.resume_dir = args_str(a, "resume");
    o.epochs = (int)args_int(a, "epochs");
    o.batch_size = (int)args_int(a, "batch-size");
    o.learning_rate = (float)args_float(a, "learning-rate");
    o.warmup_ratio = (float)args_float(a, "warmup-ratio");
    o.warmup_steps = args_int(a, "warmup-steps");
    sched_parse(args_str(a, "lr-scheduler"), &o.scheduler);
    o.weight_decay = (float)args_float(a, "weight-decay");
    o.max_grad_norm = (float)args_float(a, "max-grad-norm");
    o.grad_accum = (int)args_int(a, "gradient-accumulation");
    o.lora.rank = args_bool(a, "no-lora") ? 0 : (int)args_int(a, "lora-rank");
    o.lora.alpha = (float)args_float(a, "lora-alpha");
    o.lora.dropout = (float)args_float(a, "lora-dropout");
    char **items;
    size_t n = args_list(a, "target-modules", &items);
    o.lora.targets = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned mask;
        if (lora_parse_targets(items[i], &mask, err, sizeof err)) {
            args_list_free(items);
            rc = args_usage_error(&train_cmd, "--target-modules: %s", err);
            goto out;
        }
        o.lora.targets |= mask;
    }
    args_list_free(items);
    if (!o.lora.targets) o.lora.targets = LORA_ALL_TARGETS;
    o.save_steps = args_int(a, "save-steps");
    o.eval_steps = args_int(a, "eval-steps");
    o.save_total_limit = (int)args_int(a, "save-total-limit");
    o.early_stopping_patience = (int)args_int(a, "early-stopping-patience");
    o.early_stopping_threshold = (float)args_float(a, "early-stopping-threshold");
    o.max_samples = args_int(a, "max-samples");
    o.validation_split = args_float(a, "validation-split");
    o.max_seq_len = (int)args_int(a, "max-seq-length");
    o.gradient_checkpointing = !args_bool(a, "no-gradient-checkpointing");
    o.seed = (uint64_t)args_int(a, "seed");
    o.shuffle = !args_bool(a, "no-shuffle");
    o.train_on_prompt = args_bool(a, "train-on-prompt");
    o.max_steps = args_int(a, "max-steps");
    o.fast_matmul = !strcmp(args_str(a, "matmul"), "fast");
    if (o.resume_dir && !fs_is_dir(o.resume_dir)) {
        rc = args_usage_error(&train_cmd, "--resume %s: no such folder", o.resume_dir);
        goto out;
    }
    if (args_bool(a, "dry-run")) o.max_steps = -1;
    log_open_file("logs", "sft_train");
    /* Ctrl-C / SIGTERM stop before the next optimizer step; the checkpoints written so far stay */
    o.cancel = (const volatile int *)&sft_interrupted;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = sft_on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    ri = o.max_steps >= 0 && runinfo_begin(o.output_dir, "sft train", argc, argv, o.model_dir) == 0;
    /* --device: training on a GPU (the same files as on the CPU) */
    bk_backend *dev = NULL;
    int dev_kind = BK_DEVICE_CPU;
    if (o.max_steps >= 0 && (rc = cli_device_setup(a, "sft train", o.model_dir, &dev_kind)) != 0) goto out;
    /* the backend cli_device_setup opened on the chosen GPU (the module holds one at a time) */
    if ((rc = cli_device_train_backend(a, "sft train", dev_kind, &dev)) != 0) goto out;
    o.backend = dev;
    int trc = train_run(&o, err, sizeof err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (trc && sft_interrupted) {
        log_warn("%s; checkpoints written so far are kept in %s", err, o.output_dir);
        rc = 128 + sft_interrupted;
        goto out;
    }
    if (trc) {
        log_error("%s", err);
        rc = 1;
        goto out;
    }
    if (o.max_steps >= 0) printf("%s/final_model\n", o.output_dir);
    rc = 0;
out:
    if (ri) runinfo_end(o.output_dir, rc);
    args_free(a);
    return rc;
}

static const cmd_spec datasets_cmd = {
    "sft datasets", "List the datasets 'sft train --dataset NAME' accepts.", NULL, 0, 0, NULL,
    "Each is prepared with 'data prepare' (downloaded once, cached under $HF_HOME/datasets) and trained on\n"
    "as system + prompt -> reference solution. Other data: prepare it yourself, or give --data FILE.", NULL,
};

static int sft_datasets(int argc, char **argv) {
    int rc;
    args *a = args_parse(&datasets_cmd, argc, argv, &rc);
    if (!a) return rc;
    size_t n;
    const dp_spec *r = dp_registry(&n);
    printf("%-18s %-38s %-7s %5s  %s\n", "name", "source", "lang", "max", "contents");
    for (size_t i = 0; i < n; i++) {
        if (r[i].kind == DP_LIVECODEBENCH) continue; /* no reference solutions: nothing to train on */
        printf("%-18s %-38s %-7s %5ld  %s\n", r[i].name, r[i].hf_path, r[i].language, r[i].max_examples, r[i].about);
    }
    printf("\n'codeforces' means codeforces_cpp. 'data prepare --list' also shows livecodebench (prompts only).\n");
    args_free(a);
    return 0;
}

const cli_command cli_sft_cmds[] = {
    {"train", "Supervised fine-tuning (LoRA or full) on JSONL data", sft_train},
    {"datasets", "List the datasets sft train --dataset accepts", sft_datasets},
    {NULL, NULL, NULL},
};
