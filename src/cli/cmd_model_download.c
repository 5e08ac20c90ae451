/* halo-forge model download ID [--revision R] [--cache-dir DIR]: fetches a model from the Hugging Face Hub
 * into the standard cache and prints its local folder. */
#include "cli/commands.h"
#include "core/args.h"
#include "core/log.h"
#include "model/hub.h"

#include <limits.h>
#include <stdio.h>

static const arg_spec download_flags[] = {
    {"revision", 'r', ARG_STR, NULL, "Branch, tag or commit hash (overrides an @revision in the id; default main)",
     NULL, NULL, 0, 0, "REV"},
    {"cache-dir", 0, ARG_STR, NULL, "Hub cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub, else "
     "~/.cache/huggingface/hub)", NULL, NULL, 0, 0, "DIR"},
    {"retries", 0, ARG_INT, "5", "Retries of a failed request or transfer", NULL, NULL, 0, 100, "N"},
    {"no-progress", 0, ARG_BOOL, NULL, "No progress display", NULL, NULL, 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec download_cmd = {
    "model download",
    "Download a model from the Hugging Face Hub into the cache and print its local folder.",
    "ORG/NAME[@REV]", 1, 1, download_flags,
    "Fetches config.json, generation_config.json, tokenizer.json, tokenizer_config.json and the safetensors\n"
    "weights (all shards), or adapter_config.json and adapter_model.safetensors for a PEFT adapter. Files\n"
    "already cached are not downloaded again; an interrupted download resumes where it stopped.\n"
    "Environment: HF_ENDPOINT (server), HF_TOKEN (gated or private repos), HF_HOME / HF_HUB_CACHE (cache),\n"
    "HF_HUB_OFFLINE=1 (no network: only checks the cache). The cache is shared with Python's huggingface_hub.\n"
    "See docs/model-download.md.",
    NULL,
};

int cli_model_download(int argc, char **argv) {
    int rc;
    args *a = args_parse(&download_cmd, argc, argv, &rc);
    if (!a) return rc;
    hub_options opt;
    hub_options_init(&opt);
    opt.revision = args_str(a, "revision");
    opt.cache_dir = args_str(a, "cache-dir");
    opt.max_retries = (int)args_int(a, "retries");
    opt.no_progress = args_bool(a, "no-progress");
    char dir[PATH_MAX], err[2048];
    if (hub_resolve(args_pos(a, 0), dir, sizeof dir, &opt, err, sizeof err) != 0) {
        log_error("%s", err);
        args_free(a);
        return 1;
    }
    printf("%s\n", dir);
    args_free(a);
    return 0;
}
