/* halo-forge lora merge: a PEFT LoRA adapter folded into its base model, written as a Hugging Face model. */
#include "cli/commands.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "backend/bk_device.h"
#include "train/train_model.h"

#include <stdio.h>
#include <string.h>

static const arg_spec merge_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Base model folder (default: the adapter's base_model_name_or_path)", "model.name",
     NULL, 0, 0, "DIR"},
    {"adapter", 'a', ARG_STR, NULL, "Adapter folder (adapter_config.json, adapter_model.safetensors)", NULL, NULL, 0,
     0, "DIR"},
    {"output", 'o', ARG_STR, NULL, "Folder for the merged model", NULL, NULL, 0, 0, "DIR"},
    {"dtype", 0, ARG_STR, "bf16", "Weight dtype of the merged model.safetensors", NULL, "bf16|f32", 0, 0, NULL},
    {"device", 0, ARG_STR, "cpu", BK_DEVICE_HELP, NULL, NULL, 0, 0, "DEVICE"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec merge_cmd = {
    "lora merge", "Merge a LoRA adapter into its base model (W + alpha/r B A).", NULL, 0, 0, merge_flags,
    "Writes model.safetensors, config.json, generation_config.json and the tokenizer files of the base\n"
    "into --output, loadable here and by Hugging Face transformers. Prints the output folder.",
    NULL,
};

static int lora_merge(int argc, char **argv) {
    int rc;
    args *a = args_parse(&merge_cmd, argc, argv, &rc);
    if (!a) return rc;
    const char *adapter = args_str(a, "adapter"), *out = args_str(a, "output"), *base = args_str(a, "model");
    char err[2048], base_buf[4096];
    train_model *m = NULL;
    bk_backend *dev = NULL;
    rc = 2;
    if (!adapter || !out) { rc = args_usage_error(&merge_cmd, "--adapter DIR and --output DIR are required"); goto done; }
    rc = 1;
    int is = train_adapter_base(adapter, base_buf, sizeof base_buf, err, sizeof err);
    if (is < 0) { log_error("%s", err); goto done; }
    if (is == 0) { log_error("%s: no adapter_config.json (not a LoRA adapter folder)", adapter); goto done; }
    if (!base) base = base_buf;
    lora_config lc = {.rank = 0, .no_grad = true};
    /* --device: the merge products on a GPU; the written file is the CPU's */
    int kind = BK_DEVICE_CPU;
    if ((rc = cli_device_setup(a, "lora merge", base, &kind)) != 0) goto done;
    rc = 1;
    if (kind == BK_DEVICE_CUDA) {
        bk_device_spec spec;
        bk_device_parse(args_str(a, "device"), &spec, err, sizeof err);
        if (!(dev = bk_cuda_backend(spec.index < 0 ? 0 : spec.index, err, sizeof err))) {
            log_error("--device %s: %s", args_str(a, "device"), err);
            rc = 2;
            goto done;
        }
    }
    if (!(m = train_model_load_on(base, &lc, 0, dev, err, sizeof err))) { log_error("%s", err); goto done; }
    if (train_model_merge_adapter(m, adapter, err, sizeof err)) { log_error("%s", err); goto done; }
    if (train_model_save_full(m, out, !strcmp(args_str(a, "dtype"), "bf16"), err, sizeof err)) {
        log_error("%s", err);
        goto done;
    }
    log_info("Merged %s into %s: %s", adapter, base, out);
    printf("%s\n", out);
    rc = 0;
done:
    train_model_free(m);
    if (dev) dev->destroy(dev);
    args_free(a);
    return rc;
}

const cli_command cli_lora_cmds[] = {
    {"merge", "Merge a LoRA adapter into its base model", lora_merge},
    {NULL, NULL, NULL},
};
