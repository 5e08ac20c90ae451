/* Presets and random-initialised model folders for `model init` (see model.h). */
#include "model/model.h"
#include "core/err.h"

#include "core/fs.h"
#include "core/rng.h"
#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int model_preset(const char *name, model_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->arch, sizeof c->arch, "Qwen2ForCausalLM");
    c->rope_theta = 1000000.0;
    c->rms_eps = 1e-6;
    c->attn_bias = true;
    c->tie_embeddings = true;
    c->max_position = 32768;
    if (!strcmp(name, "tiny")) {
        c->vocab_size = 512;
        c->hidden_size = 64;
        c->intermediate_size = 176;
        c->num_layers = 2;
        c->num_heads = 4;
        c->num_kv_heads = 2;
        c->head_dim = 16;
        c->max_position = 4096;
        c->bos_id = -1;
        c->n_eos = 0;
        return 0;
    }
    c->vocab_size = 151936;
    c->bos_id = 151643;
    c->eos_ids[0] = 151645;
    c->eos_ids[1] = 151643;
    c->n_eos = 2;
    if (!strcmp(name, "qwen2.5-0.5b")) {
        c->hidden_size = 896;
        c->intermediate_size = 4864;
        c->num_layers = 24;
        c->num_heads = 14;
        c->num_kv_heads = 2;
        c->head_dim = 64;
        return 0;
    }
    if (!strcmp(name, "qwen2.5-1.5b")) {
        c->hidden_size = 1536;
        c->intermediate_size = 8960;
        c->num_layers = 28;
        c->num_heads = 12;
        c->num_kv_heads = 2;
        c->head_dim = 128;
        return 0;
    }
    if (!strcmp(name, "qwen2.5-3b")) {
        c->hidden_size = 2048;
        c->intermediate_size = 11008;
        c->num_layers = 36;
        c->num_heads = 16;
        c->num_kv_heads = 2;
        c->head_dim = 128;
        return 0;
    }
    if (!strcmp(name, "qwen2.5-7b")) { /* untied head, larger vocabulary */
        c->vocab_size = 152064;
        c->hidden_size = 3584;
        c->intermediate_size = 18944;
        c->num_layers = 28;
        c->num_heads = 28;
        c->num_kv_heads = 4;
        c->head_dim = 128;
        c->tie_embeddings = false;
        return 0;
    }
    return -1;
}

static char *config_json(const model_config *c, bool bf16) {
    bool qwen = !strcmp(c->arch, "Qwen2ForCausalLM");
    cJSON *j = cJSON_CreateObject(), *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateString(c->arch));
    cJSON_AddItemToObject(j, "architectures", a);
    cJSON_AddStringToObject(j, "model_type", qwen ? "qwen2" : "llama");
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(j, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(j, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->num_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", c->num_heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", c->num_kv_heads);
    if (c->head_dim * c->num_heads != c->hidden_size || !qwen) cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_position);
    cJSON_AddNumberToObject(j, "rms_norm_eps", c->rms_eps);
    cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
    cJSON_AddNullToObject(j, "rope_scaling");
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tie_embeddings);
    cJSON_AddNumberToObject(j, "initializer_range", 0.02);
    cJSON_AddNumberToObject(j, "attention_dropout", 0.0);
    if (qwen) {
        cJSON_AddBoolToObject(j, "use_sliding_window", false);
        cJSON_AddNumberToObject(j, "sliding_window", c->max_position);
        cJSON_AddNumberToObject(j, "max_window_layers", c->num_layers);
    } else {
        cJSON_AddBoolToObject(j, "attention_bias", false);
        cJSON_AddBoolToObject(j, "mlp_bias", false);
        cJSON_AddNumberToObject(j, "pretraining_tp", 1);
    }
    if (c->bos_id >= 0) cJSON_AddNumberToObject(j, "bos_token_id", c->bos_id);
    if (c->n_eos > 0) cJSON_AddNumberToObject(j, "eos_token_id", c->eos_ids[0]);
    cJSON_AddStringToObject(j, "torch_dtype", bf16 ? "bfloat16" : "float32");
    cJSON_AddBoolToObject(j, "use_cache", true);
    cJSON_AddStringToObject(j, "transformers_version", "4.45.0");
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

static char *generation_config_json(const model_config *c) {
    cJSON *j = cJSON_CreateObject();
    if (c->bos_id >= 0) cJSON_AddNumberToObject(j, "bos_token_id", c->bos_id);
    if (c->n_eos == 1) cJSON_AddNumberToObject(j, "eos_token_id", c->eos_ids[0]);
    else if (c->n_eos > 1) {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; i < c->n_eos; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(c->eos_ids[i]));
        cJSON_AddItemToObject(j, "eos_token_id", a);
    }
    cJSON_AddStringToObject(j, "transformers_version", "4.45.0");
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    return s;
}

typedef enum { KIND_MATRIX, KIND_NORM, KIND_BIAS } tensor_kind;

typedef struct {
    st_spec *specs;
    tensor_kind *kinds;
    bool bf16, perturb;
    uint64_t seed;
    float std;
} init_ctx;

#define CHUNK 65536

/* Values come in chunks with their own seed, so threads can fill chunks in any order and the
 * result does not depend on the thread count. */
static int fill_tensor(void *vctx, int idx, void *dst, size_t nbytes) {
    init_ctx *x = vctx;
    size_t n = nbytes / (x->bf16 ? 2 : 4);
    size_t nchunks = (n + CHUNK - 1) / CHUNK;
    tensor_kind kind = x->kinds[idx];
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t ch = 0; ch < nchunks; ch++) {
        rng_state r;
        rng_seed(&r, x->seed * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)idx << 40) ^ (uint64_t)ch);
        size_t lo = ch * CHUNK, hi = lo + CHUNK < n ? lo + CHUNK : n;
        for (size_t i = lo; i < hi; i += 2) {
            /* Box-Muller in float from one 64-bit draw: two 24-bit uniforms, u1 in (0, 1]. */
            uint64_t bits = rng_next(&r);
            float u1 = (float)((bits >> 40) + 1) * (1.0f / 16777216.0f);
            float u2 = (float)((bits >> 16) & 0xffffff) * (1.0f / 16777216.0f);
            float rad = sqrtf(-2.0f * logf(u1)), sn, cs;
            sincosf(6.28318530718f * u2, &sn, &cs);
            float z[2] = {rad * cs, rad * sn};
            for (int k = 0; k < 2 && i + k < hi; k++) {
                float val;
                if (kind == KIND_MATRIX) val = z[k] * x->std;
                else if (kind == KIND_NORM) val = 1.0f + (x->perturb ? 0.1f * z[k] : 0.0f);
                else val = x->perturb ? z[k] * x->std : 0.0f;
                if (x->bf16) ((uint16_t *)dst)[i + k] = st_f32_to_bf16(val);
                else ((float *)dst)[i + k] = val;
            }
        }
    }
    return 0;
}

static int write_text(const char *dir, const char *name, char *text, char *err, size_t errcap) {
    char path[4096];
    int rc = 0;
    if (!text) { err_set(err, errcap, "%s: out of memory", dir); return -1; }
    fs_join(path, sizeof path, dir, name);
    size_t len = strlen(text);
    char *t = realloc(text, len + 2);
    if (t) {
        text = t;
        text[len++] = '\n';
        text[len] = 0;
    }
    if (fs_write_atomic(path, text, len) != 0) {
        err_set(err, errcap, "%s: cannot write: %s", path, strerror(errno));
        rc = -1;
    }
    free(text);
    return rc;
}

int model_write_random(const char *dir, const model_config *c, bool bf16, uint64_t seed, double init_std, bool perturb,
                       char *err, size_t errcap) {
    if (c->hidden_size <= 0 || c->num_layers <= 0 || c->num_heads <= 0 || c->num_kv_heads <= 0 ||
        c->num_heads % c->num_kv_heads || c->head_dim <= 0 || c->head_dim % 2 || c->vocab_size <= 0 ||
        c->intermediate_size <= 0) {
        err_set(err, errcap, "%s: invalid model shape (heads must be a multiple of kv heads, head_dim even)", dir);
        return -1;
    }
    if (fs_mkdirs(dir) != 0) {
        err_set(err, errcap, "%s: cannot create directory: %s", dir, strerror(errno));
        return -1;
    }
    if (write_text(dir, "config.json", config_json(c, bf16), err, errcap) != 0) return -1;
    if (write_text(dir, "generation_config.json", generation_config_json(c), err, errcap) != 0) return -1;
    const int H = c->hidden_size, qd = c->num_heads * c->head_dim, kvd = c->num_kv_heads * c->head_dim;
    const int I = c->intermediate_size;
    int cap = 4 + c->num_layers * 12, n = 0;
    st_spec *specs = calloc((size_t)cap, sizeof *specs);
    tensor_kind *kinds = calloc((size_t)cap, sizeof *kinds);
    char **names = calloc((size_t)cap, sizeof *names);
    int rc = -1;
    if (!specs || !kinds || !names) { err_set(err, errcap, "%s: out of memory", dir); goto done; }
    st_dtype dt = bf16 ? ST_BF16 : ST_F32;
#define ADD(kind_, r, cc, ...)                                                       \
    do {                                                                             \
        char nm[160];                                                                \
        snprintf(nm, sizeof nm, __VA_ARGS__);                                        \
        names[n] = strdup(nm);                                                       \
        if (!names[n]) { err_set(err, errcap, "%s: out of memory", dir); goto done; } \
        specs[n].name = names[n];                                                    \
        specs[n].dtype = dt;                                                         \
        specs[n].ndim = (cc) > 0 ? 2 : 1;                                            \
        specs[n].shape[0] = (r);                                                     \
        specs[n].shape[1] = (cc);                                                    \
        kinds[n] = (kind_);                                                          \
        n++;                                                                         \
    } while (0)
    ADD(KIND_MATRIX, c->vocab_size, H, "model.embed_tokens.weight");
    for (int l = 0; l < c->num_layers; l++) {
        ADD(KIND_NORM, H, 0, "model.layers.%d.input_layernorm.weight", l);
        ADD(KIND_MATRIX, qd, H, "model.layers.%d.self_attn.q_proj.weight", l);
        ADD(KIND_MATRIX, kvd, H, "model.layers.%d.self_attn.k_proj.weight", l);
        ADD(KIND_MATRIX, kvd, H, "model.layers.%d.self_attn.v_proj.weight", l);
        if (c->attn_bias) {
            ADD(KIND_BIAS, qd, 0, "model.layers.%d.self_attn.q_proj.bias", l);
            ADD(KIND_BIAS, kvd, 0, "model.layers.%d.self_attn.k_proj.bias", l);
            ADD(KIND_BIAS, kvd, 0, "model.layers.%d.self_attn.v_proj.bias", l);
        }
        ADD(KIND_MATRIX, H, qd, "model.layers.%d.self_attn.o_proj.weight", l);
        ADD(KIND_NORM, H, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(KIND_MATRIX, I, H, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(KIND_MATRIX, I, H, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(KIND_MATRIX, H, I, "model.layers.%d.mlp.down_proj.weight", l);
    }
    ADD(KIND_NORM, H, 0, "model.norm.weight");
    if (!c->tie_embeddings) ADD(KIND_MATRIX, c->vocab_size, H, "lm_head.weight");
#undef ADD
    init_ctx ctx = {specs, kinds, bf16, perturb, seed, (float)init_std};
    char path[4096];
    fs_join(path, sizeof path, dir, "model.safetensors");
    rc = st_write(path, specs, n, "{\"format\":\"pt\"}", fill_tensor, &ctx, err, errcap);
done:
    if (names)
        for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(specs);
    free(kinds);
    return rc;
}
