/* halo-forge export gguf: a model folder (optionally with a LoRA adapter merged in) written as a GGUF file
 * for llama.cpp / Ollama. The format and the mapping live in src/model/gguf.h. */
#include "cli/commands.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/progress.h"
#include "model/gguf.h"
#include "model/lora_apply.h"
#include "train/train_model.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const arg_spec gguf_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Model folder (config.json, safetensors, tokenizer.json); a LoRA adapter folder "
     "is merged into its base", "model.name", NULL, 0, 0, "DIR"},
    {"adapter", 'a', ARG_STR, NULL, "LoRA adapter folder to merge into --model first (W + alpha/r B A, in fp32)", NULL,
     NULL, 0, 0, "DIR"},
    {"output", 'o', ARG_STR, NULL, "The .gguf file to write (atomically)", NULL, NULL, 0, 0, "FILE"},
    {"type", 't', ARG_STR, "f16", "Tensor type of the weight matrices (norms and biases stay f32)", NULL,
     "f32|f16|bf16|q8_0|q4_0", 0, 0, NULL},
    {"name", 0, ARG_STR, NULL, "general.name in the file (default: the model folder's name)", NULL, NULL, 0, 0, "TEXT"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec gguf_cmd = {
    "export gguf", "Write a model as a GGUF file for llama.cpp / Ollama.", NULL, 0, 0, gguf_flags,
    "GGUF v3 with llama.cpp's qwen2 / llama metadata, the tokenizer (byte-level BPE vocabulary, merges,\n"
    "pre-tokenizer, special ids, chat template) and the tensors under llama.cpp's names. q8_0 and q4_0 are\n"
    "ggml's 32-value block formats; a matrix whose rows are not a multiple of 32 is written as f16.\n"
    "The file loads back here too: --model FILE.gguf for generate, score and inference benchmark.\n"
    "Example: halo-forge export gguf -m models/tiny-coder -o tiny-coder.q8_0.gguf -t q8_0\n"
    "See docs/export.md.",
    NULL,
};

static void on_tensor(void *ctx, int done, int total) {
    progress *p = ctx;
    p->total = total;
    progress_update(p, done);
}

static int export_gguf(int argc, char **argv) {
    int rc;
    args *a = args_parse(&gguf_cmd, argc, argv, &rc);
    if (!a) return rc;
    const char *model = args_str(a, "model"), *adapter = args_str(a, "adapter"), *out = args_str(a, "output");
    char err[2048], base[4096], tok_dir[4096], merged[4200] = "";
    train_model *tm = NULL;
    rc = 2;
    if (!model && !adapter) { rc = args_usage_error(&gguf_cmd, "--model DIR is required"); goto done; }
    if (!out) { rc = args_usage_error(&gguf_cmd, "--output FILE is required"); goto done; }
    rc = 1;
    log_open_command("export gguf");
    if ((model && gguf_is_path(model) && !fs_is_dir(model)) || (adapter && gguf_is_path(adapter) && !fs_is_dir(adapter))) {
        log_error("%s: already a GGUF file; export gguf reads a Hugging Face model folder", model ? model : adapter);
        goto done;
    }
    /* An adapter given as --model stands for itself on its base. */
    if (model && !adapter) {
        int is = model_adapter_base(model, base, sizeof base, err, sizeof err);
        if (is < 0) { log_error("%s", err); goto done; }
        if (is) { adapter = model; model = NULL; }
    }
    if (adapter && !model) {
        int is = train_adapter_base(adapter, base, sizeof base, err, sizeof err);
        if (is < 0) { log_error("%s", err); goto done; }
        if (!is) { log_error("%s: no adapter_config.json (not a LoRA adapter folder)", adapter); goto done; }
        model = base;
    }
    if (model_tokenizer_dir(model, tok_dir, sizeof tok_dir, err, sizeof err)) { log_error("%s", err); goto done; }
    const char *src = model;
    if (adapter) {
        /* The merge is written in fp32 next to the output and removed afterwards, so the GGUF's rounding is
         * the only one. */
        snprintf(merged, sizeof merged, "%s.merge.%d", out, (int)getpid());
        lora_config lc = {.rank = 0, .no_grad = true};
        if (!(tm = train_model_load(model, &lc, 0, err, sizeof err)) || train_model_merge_adapter(tm, adapter, err, sizeof err) ||
            train_model_save_full(tm, merged, false, err, sizeof err)) {
            log_error("%s", err);
            goto done;
        }
        train_model_free(tm);
        tm = NULL;
        log_info("merged %s into %s", adapter, model);
        src = merged;
    }
    progress p;
    progress_start(&p, "export gguf", 0, "tensors");
    gguf_export_opts o = {.model_dir = src, .tok_dir = tok_dir, .output = out,
                          .type = gguf_type_parse(args_str(a, "type")), .name = args_str(a, "name")};
    if (!o.name && adapter) {
        const char *b = strrchr(adapter, '/');
        o.name = b && b[1] ? b + 1 : adapter;
    }
    if (gguf_export(&o, on_tensor, &p, err, sizeof err)) { log_error("%s", err); goto done; }
    progress_finish(&p);
    log_info("wrote %s (%s)", out, gguf_type_name(o.type));
    printf("%s\n", out);
    rc = 0;
done:
    train_model_free(tm);
    if (merged[0]) fs_remove_tree(merged);
    args_free(a);
    return rc;
}

const cli_command cli_export_cmds[] = {
    {"gguf", "Write a model as GGUF for llama.cpp / Ollama (f32, f16, bf16, q8_0, q4_0)", export_gguf},
    {NULL, NULL, NULL},
};
