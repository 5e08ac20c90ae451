/* halo-forge score --model DIR (--text T | --file F) [--special]: per-token log-probabilities of raw text. */
#include "cli/commands.h"
#include "backend/bk_device.h"
#include "model/hub.h"
#include "model/lora_apply.h"
#include "model/gguf.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/timing.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const arg_spec score_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Model folder, Hub id or .gguf file (a LoRA adapter folder: its base model with the adapter applied)", "model.name", NULL, 0, 0,
     "DIR"},
    {"text", 0, ARG_STR, NULL, "Text to score", NULL, NULL, 0, 0, "TEXT"},
    {"file", 'f', ARG_STR, NULL, "File whose contents to score ('-' for standard input)", NULL, NULL, 0, 0, "FILE"},
    {"special", 0, ARG_BOOL, NULL, "Special tokens written in the text (<|im_end|>) become their ids", NULL, NULL, 0,
     0, NULL},
    {"device", 0, ARG_STR, "cpu", BK_DEVICE_HELP, NULL, NULL, 0, 0, "DEVICE"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec score_cmd = {
    "score", "Log-probability of each token of a text under a model (raw text, no chat template).", NULL, 0, 0,
    score_flags,
    "Prints one JSON object: {\"tokens\":[ids], \"logprobs\":[...], \"nll\":x, \"perplexity\":y} where\n"
    "logprobs[i] is the natural-log probability of tokens[i+1] given tokens[0..i], nll is the mean of\n"
    "-logprobs and perplexity is exp(nll). No BOS token is added, so the first token is not scored.\n"
    "The text needs at least 2 tokens.",
    NULL,
};

int cmd_score(int argc, char **argv) {
    int rc;
    args *a = args_parse(&score_cmd, argc, argv, &rc);
    if (!a) return rc;
    int device_kind;
    if ((rc = cli_device_setup(a, "score", args_str(a, "model"), &device_kind)) != 0) {
        args_free(a);
        return rc;
    }
    const char *dir = args_str(a, "model"), *text = args_str(a, "text"), *file = args_str(a, "file");
    char *buf = NULL, err[1024];
    tokenizer *t = NULL;
    model *m = NULL;
    int *ids = NULL;
    float *lp = NULL;
    rc = 1;
    if (!dir) { rc = args_usage_error(&score_cmd, "--model DIR is required"); goto out; }
    if (!!text + !!file != 1) { rc = args_usage_error(&score_cmd, "give exactly one of --text or --file"); goto out; }
    size_t len;
    if (file) {
        buf = fs_read_file(strcmp(file, "-") ? file : "/dev/stdin", &len);
        if (!buf) { log_error("%s: cannot read: %s", file, strerror(errno)); goto out; }
    } else {
        len = strlen(text);
    }
    char resolved[4096];
    if (hub_resolve(dir, resolved, sizeof resolved, NULL, err, sizeof err) != 0) { log_error("%s", err); goto out; }
    dir = resolved;
    char tdir[4096];
    if (model_tokenizer_dir(dir, tdir, sizeof tdir, err, sizeof err)) { log_error("%s", err); goto out; }
    if (!(t = gguf_model_tokenizer(tdir, NULL, err, sizeof err))) { log_error("%s", err); goto out; }
    double t0 = time_now();
    if (!(m = model_load(dir, err, sizeof err))) { log_error("%s", err); goto out; }
    log_debug("model loaded in %.2f s", time_now() - t0);
    size_t n = 0;
    if (tok_encode(t, file ? buf : text, len, args_bool(a, "special"), &ids, &n) != 0) {
        log_error("%s: the text is not valid UTF-8", file ? file : "--text");
        goto out;
    }
    const model_config *c = model_get_config(m);
    if (n < 2) { log_error("the text has %zu token%s; scoring needs at least 2", n, n == 1 ? "" : "s"); goto out; }
    if (n > (size_t)c->max_position) {
        log_error("the text has %zu tokens, more than the model's max_position_embeddings (%d)", n, c->max_position);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= c->vocab_size) {
            log_error("token id %d is outside the model's vocabulary (%d): tokenizer and model do not match", ids[i],
                      c->vocab_size);
            goto out;
        }
    lp = malloc((n - 1) * sizeof *lp);
    if (!lp) { log_error("out of memory"); goto out; }
    t0 = time_now();
    if (model_logprobs(m, ids, (int)n, lp, err, sizeof err) != 0) { log_error("%s", err); goto out; }
    log_info("scored %zu tokens in %.2f s", n, time_now() - t0);
    double sum = 0;
    printf("{\"tokens\":[");
    for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
    printf("],\"logprobs\":[");
    for (size_t i = 0; i + 1 < n; i++) {
        printf(i ? ",%.6f" : "%.6f", lp[i]);
        sum += lp[i];
    }
    double nll = -sum / (double)(n - 1);
    printf("],\"nll\":%.6f,\"perplexity\":%.6f}\n", nll, exp(nll));
    rc = fflush(stdout) ? 1 : 0;
out:
    free(lp);
    free(ids);
    model_free(m);
    tok_free(t);
    free(buf);
    args_free(a);
    return rc;
}
