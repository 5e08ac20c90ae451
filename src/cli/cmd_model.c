/* halo-forge model init: random-initialised Hugging Face model folders. */
#include "cli/commands.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/timing.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const arg_spec init_flags[] = {
    {"preset", 'p', ARG_STR, "tiny", "Model shape to start from", NULL, "tiny|qwen2.5-0.5b|qwen2.5-1.5b|qwen2.5-3b|qwen2.5-7b", 0, 0, NULL},
    {"output", 'o', ARG_STR, NULL, "Model folder to write (created if missing)", NULL, NULL, 0, 0, "DIR"},
    {"seed", 0, ARG_INT, "0", "Random seed (same seed, same bytes)", NULL, NULL, 0, 0, NULL},
    {"arch", 0, ARG_STR, "qwen2", "Architecture: qwen2 (q/k/v biases) or llama (no biases)", NULL, "qwen2|llama", 0, 0,
     NULL},
    {"dtype", 0, ARG_STR, "bf16", "Weight dtype in model.safetensors", NULL, "bf16|f32", 0, 0, NULL},
    {"hidden-size", 0, ARG_INT, NULL, "Override hidden_size", NULL, NULL, 1, 65536, NULL},
    {"intermediate-size", 0, ARG_INT, NULL, "Override intermediate_size", NULL, NULL, 1, 1 << 20, NULL},
    {"num-layers", 0, ARG_INT, NULL, "Override num_hidden_layers", NULL, NULL, 1, 1024, NULL},
    {"num-heads", 0, ARG_INT, NULL, "Override num_attention_heads", NULL, NULL, 1, 1024, NULL},
    {"num-kv-heads", 0, ARG_INT, NULL, "Override num_key_value_heads", NULL, NULL, 1, 1024, NULL},
    {"head-dim", 0, ARG_INT, NULL, "Override head_dim (default hidden_size / num_heads)", NULL, NULL, 2, 4096, NULL},
    {"vocab-size", 0, ARG_INT, NULL, "Override vocab_size (default: the preset's, or the tokenizer's for tiny)", NULL,
     NULL, 1, 1 << 24, NULL},
    {"max-position", 0, ARG_INT, NULL, "Override max_position_embeddings", NULL, NULL, 1, 1 << 24, NULL},
    {"rope-theta", 0, ARG_FLOAT, NULL, "Override rope_theta", NULL, NULL, 1, 1e12, NULL},
    {"rms-eps", 0, ARG_FLOAT, NULL, "Override rms_norm_eps", NULL, NULL, 1e-12, 1, NULL},
    {"tie-embeddings", 0, ARG_BOOL, NULL, "lm_head shares the embedding (the presets' default)", NULL, NULL, 0, 0, NULL},
    {"no-tie", 0, ARG_BOOL, NULL, "Separate lm_head.weight", NULL, NULL, 0, 0, NULL},
    {"init-std", 0, ARG_FLOAT, "0.02", "Standard deviation of the normal init of weight matrices", NULL, NULL, 1e-6, 10,
     NULL},
    {"perturb", 0, ARG_BOOL, NULL, "Also randomise biases and norm weights (for numerical tests)", NULL, NULL, 0, 0,
     NULL},
    {"tokenizer", 0, ARG_STR, NULL,
     "tokenizer.json, or a folder holding one, to copy (with tokenizer_config.json next to it, if any); default: "
     "a small byte-level BPE tokenizer with the ChatML special tokens", NULL,
     NULL, 0, 0, "FILE|DIR"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec init_cmd = {
    "model init", "Write a random-initialised model folder (config, safetensors, tokenizer).", NULL, 0, 0, init_flags,
    "The folder holds config.json, generation_config.json, model.safetensors (metadata format=pt) and the\n"
    "tokenizer files, with Hugging Face names, so transformers can load it too. Weights are N(0, init-std),\n"
    "biases 0 and norm weights 1, as Hugging Face initialises them (--perturb randomises those too).\n"
    "Presets: tiny (64 hidden, 2 layers, 4/2 heads), qwen2.5-0.5b (896, 24 layers, 14/2 heads, 4864, vocab\n"
    "151936, tied), qwen2.5-1.5b (1536, 28 layers, 12/2 heads, 8960, tied), qwen2.5-3b (2048, 36 layers, 16/2 heads, 11008, tied),\n"
    "qwen2.5-7b (3584, 28 layers, 28/4 heads, 18944, vocab 152064, untied). The 0.5B preset is about 1 GB in bf16.\n"
    "The tiny preset takes its vocab_size and eos ids (<|im_end|>, <|endoftext|>) from the tokenizer.",
    NULL,
};

/* Highest id in a tokenizer.json (vocab and added tokens) and the ids of a few special tokens. */
static int scan_tokenizer(const char *path, int *max_id, int *id_endoftext, int *id_im_end) {
    size_t len;
    char *text = fs_read_file(path, &len);
    if (!text) {
        log_error("%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!j) {
        log_error("%s: invalid JSON", path);
        return -1;
    }
    *max_id = -1;
    *id_endoftext = *id_im_end = -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *vocab = model ? cJSON_GetObjectItemCaseSensitive(model, "vocab") : NULL;
    for (const cJSON *e = vocab ? vocab->child : NULL; e; e = e->next)
        if (cJSON_IsNumber(e) && e->valueint > *max_id) *max_id = e->valueint;
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
    for (const cJSON *e = added ? added->child : NULL; e; e = e->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *ct = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsNumber(id)) continue;
        if (id->valueint > *max_id) *max_id = id->valueint;
        if (cJSON_IsString(ct) && !strcmp(ct->valuestring, "<|endoftext|>")) *id_endoftext = id->valueint;
        if (cJSON_IsString(ct) && !strcmp(ct->valuestring, "<|im_end|>")) *id_im_end = id->valueint;
    }
    cJSON_Delete(j);
    if (*max_id < 0) {
        log_error("%s: no vocabulary found (model.vocab / added_tokens)", path);
        return -1;
    }
    return 0;
}

static int copy_file(const char *src, const char *dst) {
    size_t len;
    char *data = fs_read_file(src, &len);
    if (!data) {
        log_error("%s: cannot read: %s", src, strerror(errno));
        return -1;
    }
    int rc = fs_write_atomic(dst, data, len);
    if (rc != 0) log_error("%s: cannot write: %s", dst, strerror(errno));
    free(data);
    return rc;
}

static int model_init(int argc, char **argv) {
    int rc;
    args *a = args_parse(&init_cmd, argc, argv, &rc);
    if (!a) return rc;
    rc = 1;
    const char *out = args_str(a, "output");
    if (!out) { rc = args_usage_error(&init_cmd, "--output DIR is required"); goto done; }
    if (args_given(a, "tie-embeddings") && args_given(a, "no-tie")) {
        rc = args_usage_error(&init_cmd, "--tie-embeddings and --no-tie contradict each other");
        goto done;
    }
    model_config c;
    const char *preset = args_str(a, "preset");
    model_preset(preset, &c);
    bool tiny = !strcmp(preset, "tiny");
    if (!strcmp(args_str(a, "arch"), "llama")) {
        snprintf(c.arch, sizeof c.arch, "LlamaForCausalLM");
        c.attn_bias = false;
    }
    if (args_given(a, "hidden-size")) c.hidden_size = (int)args_int(a, "hidden-size");
    if (args_given(a, "intermediate-size")) c.intermediate_size = (int)args_int(a, "intermediate-size");
    if (args_given(a, "num-layers")) c.num_layers = (int)args_int(a, "num-layers");
    if (args_given(a, "num-heads")) c.num_heads = (int)args_int(a, "num-heads");
    if (args_given(a, "num-kv-heads")) c.num_kv_heads = (int)args_int(a, "num-kv-heads");
    if (args_given(a, "hidden-size") || args_given(a, "num-heads")) c.head_dim = c.hidden_size / c.num_heads;
    if (args_given(a, "head-dim")) c.head_dim = (int)args_int(a, "head-dim");
    if (args_given(a, "max-position")) c.max_position = (int)args_int(a, "max-position");
    if (args_given(a, "rope-theta")) c.rope_theta = args_float(a, "rope-theta");
    if (args_given(a, "rms-eps")) c.rms_eps = args_float(a, "rms-eps");
    if (args_bool(a, "no-tie")) c.tie_embeddings = false;
    if (args_bool(a, "tie-embeddings")) c.tie_embeddings = true;
    if (c.num_heads % c.num_kv_heads) {
        rc = args_usage_error(&init_cmd, "--num-heads (%d) must be a multiple of --num-kv-heads (%d)", c.num_heads,
                              c.num_kv_heads);
        goto done;
    }
    if (c.head_dim < 2 || c.head_dim % 2) {
        rc = args_usage_error(&init_cmd, "head_dim %d must be even (set --head-dim)", c.head_dim);
        goto done;
    }
    const char *tokpath = args_str(a, "tokenizer");
    char err[1024], small_tok[4096], tok_in_dir[4096];
    if (tokpath && fs_is_dir(tokpath)) { /* a folder (tokenizer train's output, a model): its tokenizer.json */
        if (!fs_join(tok_in_dir, sizeof tok_in_dir, tokpath, "tokenizer.json")) {
            log_error("%s: path too long", tokpath);
            goto done;
        }
        tokpath = tok_in_dir;
    }
    if (!tokpath) {
        /* The small byte-level BPE tokenizer with the ChatML special tokens goes straight into the folder. */
        if (tok_write_small(out, err, sizeof err) != 0) {
            log_error("%s", err);
            goto done;
        }
        fs_join(small_tok, sizeof small_tok, out, "tokenizer.json");
    }
    const char *scan = tokpath ? tokpath : small_tok;
    int tok_max = -1, id_eot = -1, id_im_end = -1;
    if (scan_tokenizer(scan, &tok_max, &id_eot, &id_im_end) != 0) goto done;
    if (tiny) c.vocab_size = tok_max + 1;
    /* Stop ids follow the tokenizer actually shipped ([151645, 151643] with Qwen's own). */
    if (id_im_end >= 0 || id_eot >= 0) {
        c.n_eos = 0;
        if (id_im_end >= 0) c.eos_ids[c.n_eos++] = id_im_end;
        if (id_eot >= 0) c.eos_ids[c.n_eos++] = id_eot;
        if (!tiny) c.bos_id = id_eot;
    }
    if (args_given(a, "vocab-size")) c.vocab_size = (int)args_int(a, "vocab-size");
    if (tok_max >= c.vocab_size) {
        log_error("%s: the tokenizer has ids up to %d, more than vocab_size %d allows", scan, tok_max, c.vocab_size);
        goto done;
    }
    int keep = 0;
    for (int i = 0; i < c.n_eos; i++)
        if (c.eos_ids[i] < c.vocab_size) c.eos_ids[keep++] = c.eos_ids[i];
    c.n_eos = keep;
    if (c.bos_id >= c.vocab_size) c.bos_id = -1;

    double t0 = time_now();
    bool bf16 = !strcmp(args_str(a, "dtype"), "bf16");
    log_info("Writing %s model (%s, hidden %d, %d layers, heads %d/%d, vocab %d, %s) to %s", preset, c.arch,
             c.hidden_size, c.num_layers, c.num_heads, c.num_kv_heads, c.vocab_size, bf16 ? "bf16" : "f32", out);
    if (model_write_random(out, &c, bf16, (uint64_t)args_int(a, "seed"), args_float(a, "init-std"),
                           args_bool(a, "perturb"), err, sizeof err) != 0) {
        log_error("%s", err);
        goto done;
    }
    if (tokpath) {
        char dst[4096], cfgsrc[4096];
        fs_join(dst, sizeof dst, out, "tokenizer.json");
        if (copy_file(tokpath, dst) != 0) goto done;
        snprintf(cfgsrc, sizeof cfgsrc, "%s", tokpath);
        char *slash = strrchr(cfgsrc, '/');
        if (slash) slash[1] = 0;
        else cfgsrc[0] = 0;
        strncat(cfgsrc, "tokenizer_config.json", sizeof cfgsrc - strlen(cfgsrc) - 1);
        if (fs_exists(cfgsrc)) {
            fs_join(dst, sizeof dst, out, "tokenizer_config.json");
            if (copy_file(cfgsrc, dst) != 0) goto done;
        }
    }
    log_info("Model written in %.1f s", time_now() - t0);
    printf("%s\n", out);
    rc = 0;
done:
    args_free(a);
    return rc;
}

const cli_command cli_model_cmds[] = {
    {"init", "Write a random-initialised model folder", model_init},
    {"download", "Download a model from the Hugging Face Hub into the cache", cli_model_download},
    {NULL, NULL, NULL},
};
