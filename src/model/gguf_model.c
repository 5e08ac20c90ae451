/* GGUF and the models of model.h: llama.cpp's metadata, tensor names and tokenizer keys for qwen2 / llama,
 * read into a model_config + tensors + tokenizer (gguf_load_weights, gguf_model_tokenizer). See gguf.h. */
#include "model/gguf.h"
#include "core/err.h"
#include "core/fs.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* llama.cpp's token types (tokenizer.ggml.token_type). */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6 };

/* The pre-tokenizer regexes llama.cpp applies for tokenizer.ggml.pre, as Hugging Face writes them in
 * tokenizer.json: Qwen2 / Qwen2.5 ("qwen2") and Llama 3 ("llama-bpe"; digits in runs of up to three). */
const char *const gguf_pre_qwen2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
const char *const gguf_pre_llama3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* ---------- tensor names ---------- */

/* Hugging Face name -> llama.cpp name; 0, or -1 for a name outside the model. */
int gguf_hf_to_gguf_name(const char *hf, char *out, size_t cap) {
    static const char *const top[][2] = {{"model.embed_tokens.weight", "token_embd.weight"},
                                         {"model.norm.weight", "output_norm.weight"},
                                         {"lm_head.weight", "output.weight"}};
    static const char *const layer[][2] = {
        {"input_layernorm.weight", "attn_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"self_attn.q_proj.weight", "attn_q.weight"},   {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"},   {"self_attn.o_proj.weight", "attn_output.weight"},
        {"self_attn.q_proj.bias", "attn_q.bias"},       {"self_attn.k_proj.bias", "attn_k.bias"},
        {"self_attn.v_proj.bias", "attn_v.bias"},       {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"},        {"mlp.down_proj.weight", "ffn_down.weight"}};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(hf, top[i][0])) return snprintf(out, cap, "%s", top[i][1]) < (int)cap ? 0 : -1;
    int l, n = 0;
    if (sscanf(hf, "model.layers.%d.%n", &l, &n) != 1 || n == 0 || l < 0) return -1;
    for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++)
        if (!strcmp(hf + n, layer[i][0])) return snprintf(out, cap, "blk.%d.%s", l, layer[i][1]) < (int)cap ? 0 : -1;
    return -1;
}

/* The inverse. */
static int gguf_to_hf_name(const char *g, char *out, size_t cap) {
    static const char *const top[][2] = {{"token_embd.weight", "model.embed_tokens.weight"},
                                         {"output_norm.weight", "model.norm.weight"},
                                         {"output.weight", "lm_head.weight"}};
    static const char *const layer[][2] = {
        {"attn_norm.weight", "input_layernorm.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
        {"attn_q.weight", "self_attn.q_proj.weight"},   {"attn_k.weight", "self_attn.k_proj.weight"},
        {"attn_v.weight", "self_attn.v_proj.weight"},   {"attn_output.weight", "self_attn.o_proj.weight"},
        {"attn_q.bias", "self_attn.q_proj.bias"},       {"attn_k.bias", "self_attn.k_proj.bias"},
        {"attn_v.bias", "self_attn.v_proj.bias"},       {"ffn_gate.weight", "mlp.gate_proj.weight"},
        {"ffn_up.weight", "mlp.up_proj.weight"},        {"ffn_down.weight", "mlp.down_proj.weight"}};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(g, top[i][0])) return snprintf(out, cap, "%s", top[i][1]) < (int)cap ? 0 : -1;
    int l, n = 0;
    if (sscanf(g, "blk.%d.%n", &l, &n) != 1 || n == 0 || l < 0) return -1;
    for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++)
        if (!strcmp(g + n, layer[i][0])) return snprintf(out, cap, "model.layers.%d.%s", l, layer[i][1]) < (int)cap ? 0 : -1;
    return -1;
}

/* llama.cpp's llama architecture rotates interleaved pairs (x[2j], x[2j+1]); Hugging Face's Llama rotates halves
 * (x[j], x[j + hd/2]). Its converter reorders the rows of Q and K per head so the same weights give the same
 * attention: GGUF row 2j + i of a head is Hugging Face row i * hd/2 + j. Qwen2 uses llama.cpp's NEOX rotation
 * (halves) and needs nothing. to_gguf picks the direction. */
void gguf_permute_rows(void *dst, const void *src, int rows, size_t row_bytes, int head_dim, bool to_gguf) {
    const int half = head_dim / 2;
    for (int r = 0; r < rows; r++) {
        int h = r / head_dim, k = r % head_dim;
        int hf = h * head_dim + (k % 2) * half + k / 2; /* k = 2j + i in the GGUF layout */
        int g = r;
        const char *s = src;
        char *d = dst;
        if (to_gguf) memcpy(d + (size_t)g * row_bytes, s + (size_t)hf * row_bytes, row_bytes);
        else memcpy(d + (size_t)hf * row_bytes, s + (size_t)g * row_bytes, row_bytes);
    }
}

/* ---------- GGUF -> model_config + weights ---------- */

static int get_req_int(const gguf_file *f, const char *arch, const char *suffix, bool required, int64_t def, int64_t lo,
                       int64_t hi, int *out, char *err, size_t errcap) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v = def;
    int got = gguf_get_int(f, key, &v, err, errcap);
    if (got < 0) return -1;
    if (!got && required) { err_set(err, errcap, "%s: missing metadata '%s'", f->path, key); return -1; }
    if (v < lo || v > hi) {
        err_set(err, errcap, "%s: metadata '%s' is %lld, outside %lld..%lld", f->path, key, (long long)v, (long long)lo,
                (long long)hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void add_eos(model_config *c, int id) {
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_ids[i] == id) return;
    if (c->n_eos < MODEL_MAX_EOS) c->eos_ids[c->n_eos++] = id;
}

static int read_config(const gguf_file *f, model_config *c, char *err, size_t errcap) {
    memset(c, 0, sizeof *c);
    const char *s;
    size_t n;
    int got = gguf_get_str(f, "general.architecture", &s, &n, err, errcap);
    if (got < 0) return -1;
    if (!got) { err_set(err, errcap, "%s: missing metadata 'general.architecture'", f->path); return -1; }
    char arch[32];
    snprintf(arch, sizeof arch, "%.*s", (int)(n < 31 ? n : 31), s);
    bool qwen = !strcmp(arch, "qwen2");
    if (!qwen && strcmp(arch, "llama") != 0) {
        err_set(err, errcap, "%s: architecture \"%.*s\" is not supported (qwen2 and llama are)", f->path, (int)n, s);
        return -1;
    }
    snprintf(c->arch, sizeof c->arch, "%s", qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (!emb || emb->n_dims != 2) { err_set(err, errcap, "%s: missing 2-D tensor 'token_embd.weight'", f->path); return -1; }
    if (emb->ne[1] > (1 << 24)) { err_set(err, errcap, "%s: vocabulary of %lld tokens is too large", f->path, (long long)emb->ne[1]); return -1; }
    c->vocab_size = (int)emb->ne[1];
    if (get_req_int(f, arch, "embedding_length", true, 0, 1, 1 << 17, &c->hidden_size, err, errcap) ||
        get_req_int(f, arch, "feed_forward_length", true, 0, 1, 1 << 20, &c->intermediate_size, err, errcap) ||
        get_req_int(f, arch, "block_count", true, 0, 1, 4096, &c->num_layers, err, errcap) ||
        get_req_int(f, arch, "attention.head_count", true, 0, 1, 4096, &c->num_heads, err, errcap) ||
        get_req_int(f, arch, "attention.head_count_kv", false, c->num_heads, 1, 4096, &c->num_kv_heads, err, errcap) ||
        get_req_int(f, arch, "context_length", true, 0, 1, 1 << 30, &c->max_position, err, errcap))
        return -1;
    if (c->num_heads % c->num_kv_heads) {
        err_set(err, errcap, "%s: %s.attention.head_count (%d) is not a multiple of head_count_kv (%d)", f->path, arch,
                c->num_heads, c->num_kv_heads);
        return -1;
    }
    int vlen;
    if (get_req_int(f, arch, "attention.key_length", false, c->hidden_size / c->num_heads, 2, 1 << 16, &c->head_dim, err,
                    errcap) ||
        get_req_int(f, arch, "attention.value_length", false, c->head_dim, 1, 1 << 16, &vlen, err, errcap))
        return -1;
    int rot;
    if (get_req_int(f, arch, "rope.dimension_count", false, c->head_dim, 1, 1 << 16, &rot, err, errcap)) return -1;
    if (vlen != c->head_dim || rot != c->head_dim || c->head_dim % 2) {
        err_set(err, errcap, "%s: key_length %d, value_length %d and rope.dimension_count %d must be one even number",
                f->path, c->head_dim, vlen, rot);
        return -1;
    }
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if ((got = gguf_get_str(f, key, &s, &n, err, errcap)) < 0) return -1;
    if (got && !(n == 4 && !memcmp(s, "none", 4))) {
        err_set(err, errcap, "%s: %s \"%.*s\" is not supported (only plain RoPE)", f->path, key, (int)n, s);
        return -1;
    }
    c->rope_theta = 10000.0;
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    if (gguf_get_float(f, key, &c->rope_theta, err, errcap) < 0) return -1;
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if ((got = gguf_get_float(f, key, &c->rms_eps, err, errcap)) < 0) return -1;
    if (!got) { err_set(err, errcap, "%s: missing metadata '%s'", f->path, key); return -1; }
    if (!(c->rope_theta > 0) || !(c->rms_eps > 0)) {
        err_set(err, errcap, "%s: rope.freq_base and layer_norm_rms_epsilon must be positive", f->path);
        return -1;
    }
    c->tie_embeddings = gguf_find_tensor(f, "output.weight") == NULL;
    c->attn_bias = qwen;
    c->bos_id = -1;
    int64_t v;
    if ((got = gguf_get_int(f, "tokenizer.ggml.bos_token_id", &v, err, errcap)) < 0) return -1;
    if (got) {
        if (v < 0 || v >= c->vocab_size) { err_set(err, errcap, "%s: tokenizer.ggml.bos_token_id %lld is outside the vocabulary", f->path, (long long)v); return -1; }
        c->bos_id = (int)v;
    }
    static const char *const eos_keys[] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                                           "tokenizer.ggml.eom_token_id"};
    for (int i = 0; i < 3; i++) {
        if ((got = gguf_get_int(f, eos_keys[i], &v, err, errcap)) < 0) return -1;
        if (!got) continue;
        if (v < 0 || v >= c->vocab_size) {
            err_set(err, errcap, "%s: %s %lld is outside the vocabulary (%d)", f->path, eos_keys[i], (long long)v, c->vocab_size);
            return -1;
        }
        add_eos(c, (int)v);
    }
    return 0;
}

/* Adds one tensor to the st_file under its Hugging Face name. */
static int add_tensor(st_file *sf, const gguf_file *f, const gguf_tensor *t, const char *hf, const model_config *c,
                      char *err, size_t errcap) {
    st_tensor *o = &sf->tensors[sf->n_tensors];
    memset(o, 0, sizeof *o);
    o->ndim = (int)t->n_dims;
    if (t->n_dims > 2) { err_set(err, errcap, "%s: tensor '%s' has %u dimensions (a weight has 1 or 2)", f->path, t->name, t->n_dims); return -1; }
    /* ne is fastest first; safetensors shapes slowest first. */
    for (uint32_t d = 0; d < t->n_dims; d++) o->shape[d] = t->ne[t->n_dims - 1 - d];
    const int64_t rows = t->n_dims == 2 ? t->ne[1] : 1, cols = t->ne[0];
    bool q = t->type == GGUF_Q8_0 || t->type == GGUF_Q4_0;
    bool qk = !strcmp(c->arch, "LlamaForCausalLM") && (strstr(t->name, ".attn_q.") || strstr(t->name, ".attn_k."));
    if (qk && rows % c->head_dim) {
        err_set(err, errcap, "%s: tensor '%s' has %lld rows, not a multiple of the head size %d", f->path, t->name,
                (long long)rows, c->head_dim);
        return -1;
    }
    o->dtype = t->type == GGUF_BF16 ? ST_BF16 : t->type == GGUF_F16 ? ST_F16 : ST_F32;
    size_t esz = st_dtype_size(o->dtype);
    o->nbytes = (size_t)rows * (size_t)cols * esz;
    o->data = t->data;
    if (q || qk) {
        void *buf = malloc(o->nbytes), *tmp = NULL;
        if (!buf) { err_set(err, errcap, "%s: out of memory for tensor '%s'", f->path, t->name); return -1; }
        sf->copies[sf->n_copies++] = buf; /* freed by st_close */
        const void *src = t->data;
        if (q) {
            if (qk && !(tmp = malloc(o->nbytes))) { err_set(err, errcap, "%s: out of memory", f->path); return -1; }
            float *dst = qk ? tmp : buf;
            size_t rb = gguf_row_size((int)t->type, cols);
            for (int64_t r = 0; r < rows; r++)
                gguf_dequantize_row((int)t->type, (const char *)t->data + (size_t)r * rb, dst + (size_t)r * (size_t)cols, cols);
            src = dst;
        }
        if (qk) gguf_permute_rows(buf, src, (int)rows, (size_t)cols * esz, c->head_dim, false);
        else if (src != buf) memcpy(buf, src, o->nbytes);
        free(tmp);
        o->data = buf;
    }
    if (!(o->name = strdup(hf))) { err_set(err, errcap, "%s: out of memory", f->path); return -1; }
    sf->n_tensors++;
    return 0;
}

st_file *gguf_load_weights(const char *path, model_config *cfg, char *err, size_t errcap) {
    gguf_file *f = gguf_open(path, err, errcap);
    if (!f) return NULL;
    st_file *sf = NULL;
    if (read_config(f, cfg, err, errcap)) goto fail;
    sf = calloc(1, sizeof *sf);
    if (!sf || !(sf->path = strdup(path)) || !(sf->tensors = calloc((size_t)f->n_tensors + 1, sizeof *sf->tensors)) ||
        !(sf->copies = calloc((size_t)f->n_tensors + 1, sizeof *sf->copies))) {
        err_set(err, errcap, "%s: out of memory", path);
        goto fail;
    }
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char hf[160];
        if (gguf_to_hf_name(t->name, hf, sizeof hf)) {
            err_set(err, errcap, "%s: tensor '%s' is not part of a %s model as halo-forge runs it", path, t->name, cfg->arch);
            goto fail;
        }
        if (add_tensor(sf, f, t, hf, cfg, err, errcap)) goto fail;
    }
    /* The st_file takes the mapping over. */
    sf->map = f->map;
    sf->map_len = f->size;
    f->map = NULL;
    gguf_close(f);
    return sf;
fail:
    gguf_close(f);
    st_close(sf);
    return NULL;
}

/* ---------- GGUF -> tokenizer ---------- */

static char *dupn(const char *s, size_t n) {
    char *o = malloc(n + 1);
    if (o) { memcpy(o, s, n); o[n] = 0; }
    return o;
}

static tokenizer *tokenizer_from_gguf(const gguf_file *f, chat_template *tpl, char *err, size_t errcap) {
    const char *s;
    size_t n;
    int got = gguf_get_str(f, "tokenizer.ggml.model", &s, &n, err, errcap);
    if (got < 0) return NULL;
    if (!got || n != 4 || memcmp(s, "gpt2", 4)) {
        err_set(err, errcap, "%s: tokenizer.ggml.model is %s%.*s%s; halo-forge reads byte-level BPE (\"gpt2\")", f->path,
                got ? "\"" : "(missing)", got ? (int)n : 0, got ? s : "", got ? "\"" : "");
        return NULL;
    }
    const char *rx = gguf_pre_qwen2;
    bool nfc = true, ignore_merges = false;
    if ((got = gguf_get_str(f, "tokenizer.ggml.pre", &s, &n, err, errcap)) < 0) return NULL;
    if (got && n == 9 && !memcmp(s, "llama-bpe", 9)) { rx = gguf_pre_llama3; nfc = false; ignore_merges = true; }
    else if (got && !(n == 5 && !memcmp(s, "qwen2", 5))) {
        err_set(err, errcap, "%s: tokenizer.ggml.pre \"%.*s\" is not supported (qwen2 and llama-bpe are)", f->path, (int)n, s);
        return NULL;
    }
    if (!got) { err_set(err, errcap, "%s: missing metadata 'tokenizer.ggml.pre'", f->path); return NULL; }
    const gguf_kv *toks = gguf_find(f, "tokenizer.ggml.tokens"), *types = gguf_find(f, "tokenizer.ggml.token_type"),
                  *merges = gguf_find(f, "tokenizer.ggml.merges");
    if (!toks || toks->type != GGUF_V_ARRAY || toks->arr_type != GGUF_V_STRING) {
        err_set(err, errcap, "%s: missing string array 'tokenizer.ggml.tokens'", f->path);
        return NULL;
    }
    if (!merges || merges->type != GGUF_V_ARRAY || merges->arr_type != GGUF_V_STRING) {
        err_set(err, errcap, "%s: missing string array 'tokenizer.ggml.merges'", f->path);
        return NULL;
    }
    if (types && (types->type != GGUF_V_ARRAY || types->arr_type == GGUF_V_STRING || types->arr_type == GGUF_V_FLOAT32 ||
                  types->arr_type == GGUF_V_FLOAT64 || types->n != toks->n)) {
        err_set(err, errcap, "%s: tokenizer.ggml.token_type must be an integer array as long as tokenizer.ggml.tokens", f->path);
        return NULL;
    }
    cJSON *root = cJSON_CreateObject(), *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer"), *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(root, "version", "1.0");
    if (nfc) cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "normalizer"), "type", "NFC");
    else cJSON_AddNullToObject(root, "normalizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *steps = cJSON_AddArrayToObject(pre, "pretokenizers"), *split = cJSON_CreateObject(), *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", rx);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddFalseToObject(split, "invert");
    cJSON_AddItemToArray(steps, split);
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddFalseToObject(bl, "add_prefix_space");
    cJSON_AddFalseToObject(bl, "trim_offsets");
    cJSON_AddFalseToObject(bl, "use_regex");
    cJSON_AddItemToObject(root, "decoder", cJSON_Duplicate(bl, true));
    cJSON_AddItemToArray(steps, bl);
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddBoolToObject(model, "ignore_merges", ignore_merges);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab"), *mlist = cJSON_AddArrayToObject(model, "merges");
    tokenizer *t = NULL;
    for (uint64_t i = 0; i < toks->n; i++) {
        const char *ts = gguf_arr_str(toks, i, &n);
        char *tok = dupn(ts, n);
        if (!tok) { err_set(err, errcap, "%s: out of memory", f->path); goto out; }
        int64_t ty = types ? gguf_arr_int(types, i) : TT_NORMAL;
        if (ty == TT_CONTROL || ty == TT_USER_DEFINED) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)i);
            cJSON_AddStringToObject(a, "content", tok);
            cJSON_AddFalseToObject(a, "single_word");
            cJSON_AddFalseToObject(a, "lstrip");
            cJSON_AddFalseToObject(a, "rstrip");
            cJSON_AddBoolToObject(a, "normalized", ty == TT_USER_DEFINED);
            cJSON_AddBoolToObject(a, "special", ty == TT_CONTROL);
            cJSON_AddItemToArray(added, a);
        } else if (ty == TT_NORMAL || ty == TT_BYTE) {
            cJSON_AddNumberToObject(vocab, tok, (double)i);
        } /* unused / unknown slots (padding rows) have no string */
        free(tok);
    }
    for (uint64_t i = 0; i < merges->n; i++) {
        const char *ms = gguf_arr_str(merges, i, &n);
        char *m = dupn(ms, n);
        if (!m) { err_set(err, errcap, "%s: out of memory", f->path); goto out; }
        cJSON_AddItemToArray(mlist, cJSON_CreateString(m));
        free(m);
    }
    char *text = cJSON_PrintUnformatted(root);
    if (!text) { err_set(err, errcap, "%s: out of memory", f->path); goto out; }
    char name[4200];
    snprintf(name, sizeof name, "%s (tokenizer.ggml.*)", f->path);
    t = tok_load_json(text, strlen(text), name, err, errcap);
    free(text);
    if (t && tpl) {
        *tpl = CHAT_CHATML;
        if (gguf_get_str(f, "tokenizer.chat_template", &s, &n, err, errcap) > 0) {
            char *body = dupn(s, n);
            if (body) *tpl = chat_classify(body, CHAT_CHATML);
            free(body);
        }
    }
out:
    cJSON_Delete(root);
    return t;
}

tokenizer *gguf_model_tokenizer(const char *tok_dir, chat_template *tpl, char *err, size_t errcap) {
    if (!gguf_is_path(tok_dir) || fs_is_dir(tok_dir)) {
        char path[4200];
        if (!fs_join(path, sizeof path, tok_dir, "tokenizer.json")) { err_set(err, errcap, "%s: path too long", tok_dir); return NULL; }
        tokenizer *t = tok_load(path, err, errcap);
        if (t && tpl) *tpl = chat_detect(tok_dir);
        return t;
    }
    gguf_file *f = gguf_open(tok_dir, err, errcap);
    if (!f) return NULL;
    tokenizer *t = tokenizer_from_gguf(f, tpl, err, errcap);
    gguf_close(f);
    return t;
}
