/* Writing GGUF: a small key/value + tensor-info serialiser, and gguf_export (Hugging Face folder -> .gguf for
 * llama.cpp). See gguf.h. */
#include "model/gguf.h"
#include "core/err.h"
#include "core/fs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGN 32

/* ---------- a growing byte buffer ---------- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }

/* The metadata section, one pair at a time. */
typedef struct {
    buf kv;
    uint64_t n_kv;
} meta;

static void key(meta *m, const char *k, uint32_t type) { put_str(&m->kv, k); put_u32(&m->kv, type); m->n_kv++; }
static void kv_u32(meta *m, const char *k, uint32_t v) { key(m, k, GGUF_V_UINT32); put_u32(&m->kv, v); }
static void kv_f32(meta *m, const char *k, float v) { key(m, k, GGUF_V_FLOAT32); put(&m->kv, &v, 4); }
static void kv_bool(meta *m, const char *k, bool v) { key(m, k, GGUF_V_BOOL); unsigned char c = v; put(&m->kv, &c, 1); }
static void kv_str(meta *m, const char *k, const char *v) { key(m, k, GGUF_V_STRING); put_str(&m->kv, v); }
static void kv_arch_u32(meta *m, const char *arch, const char *k, uint32_t v) {
    char full[160];
    snprintf(full, sizeof full, "%s.%s", arch, k);
    kv_u32(m, full, v);
}
static void kv_arch_f32(meta *m, const char *arch, const char *k, float v) {
    char full[160];
    snprintf(full, sizeof full, "%s.%s", arch, k);
    kv_f32(m, full, v);
}

/* ---------- the source model ---------- */

typedef struct {
    st_file **files;
    int n;
} source;

static void source_close(source *s) {
    for (int i = 0; i < s->n; i++) st_close(s->files[i]);
    free(s->files);
    memset(s, 0, sizeof *s);
}

static int source_open(source *s, const char *dir, char *err, size_t errcap) {
    char ipath[4200], path[4200];
    fs_join(ipath, sizeof ipath, dir, "model.safetensors.index.json");
    if (!fs_exists(ipath)) {
        fs_join(path, sizeof path, dir, "model.safetensors");
        if (!(s->files = calloc(1, sizeof *s->files))) { err_set(err, errcap, "%s: out of memory", dir); return -1; }
        if (!(s->files[0] = st_open(path, err, errcap))) return -1;
        s->n = 1;
        return 0;
    }
    char *text = fs_read_file(ipath, NULL);
    if (!text) { err_set(err, errcap, "%s: cannot read: %s", ipath, strerror(errno)); return -1; }
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    int rc = -1;
    if (!cJSON_IsObject(wm)) { err_set(err, errcap, "%s: no \"weight_map\" object", ipath); goto done; }
    if (!(s->files = calloc((size_t)cJSON_GetArraySize(wm) + 1, sizeof *s->files))) { err_set(err, errcap, "%s: out of memory", ipath); goto done; }
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e) || !e->valuestring[0] || strchr(e->valuestring, '/')) {
            err_set(err, errcap, "%s: weight_map entry for '%s' must be a file name in the model folder", ipath, e->string);
            goto done;
        }
        fs_join(path, sizeof path, dir, e->valuestring);
        bool have = false;
        for (int i = 0; i < s->n && !have; i++) have = !strcmp(s->files[i]->path, path);
        if (have) continue;
        if (!(s->files[s->n] = st_open(path, err, errcap))) goto done;
        s->n++;
    }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

static const st_tensor *source_find(const source *s, const char *name) {
    for (int i = 0; i < s->n; i++) {
        const st_tensor *t = st_find(s->files[i], name);
        if (t) return t;
    }
    return NULL;
}

static void row_to_f32(const st_tensor *t, int64_t row, int64_t cols, float *out) {
    const unsigned char *p = (const unsigned char *)t->data + (size_t)row * (size_t)cols * st_dtype_size(t->dtype);
    if (t->dtype == ST_F32) { memcpy(out, p, (size_t)cols * 4); return; }
    for (int64_t i = 0; i < cols; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        out[i] = t->dtype == ST_BF16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
    }
}

/* ---------- the tokenizer ---------- */

typedef struct {
    int n;            /* vocab_size of the model: length of the arrays */
    char **tokens;
    int32_t *types;
    char **merges;
    int n_merges;
    const char *pre;  /* "qwen2" | "llama-bpe" */
    char *chat_template;
    int bos, eos, pad;
    int add_bos;      /* -1: not said */
} tok_meta;

static void tok_meta_free(tok_meta *t) {
    for (int i = 0; i < t->n; i++) free(t->tokens ? t->tokens[i] : NULL);
    for (int i = 0; i < t->n_merges; i++) free(t->merges[i]);
    free(t->tokens);
    free(t->types);
    free(t->merges);
    free(t->chat_template);
}

/* The Split regex of a pre_tokenizer (alone or in a Sequence), and whether a ByteLevel step is there. */
static void find_pre(const cJSON *p, const char **rx, bool *byte_level, bool *bl_regex) {
    if (!cJSON_IsObject(p)) return;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
    if (!cJSON_IsString(type)) return;
    if (!strcmp(type->valuestring, "Sequence")) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "pretokenizers")) find_pre(e, rx, byte_level, bl_regex);
    } else if (!strcmp(type->valuestring, "Split")) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "pattern"), "Regex");
        if (cJSON_IsString(r)) *rx = r->valuestring;
    } else if (!strcmp(type->valuestring, "ByteLevel")) {
        *byte_level = true;
        const cJSON *ur = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
        if (!cJSON_IsBool(ur) || cJSON_IsTrue(ur)) *bl_regex = true;
    }
}

/* A special token named in tokenizer_config.json: "<|x|>" or {"content": "<|x|>"}. */
static const char *token_text(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

static int tok_id(const tok_meta *t, const char *s) {
    if (!s) return -1;
    for (int i = t->n - 1; i >= 0; i--)
        if (t->tokens[i] && !strcmp(t->tokens[i], s)) return i;
    return -1;
}

static int read_tokenizer(const char *dir, const model_config *c, tok_meta *t, char *err, size_t errcap) {
    char path[4200], cpath[4200];
    fs_join(path, sizeof path, dir, "tokenizer.json");
    fs_join(cpath, sizeof cpath, dir, "tokenizer_config.json");
    char *text = fs_read_file(path, NULL);
    if (!text) { err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno)); return -1; }
    cJSON *j = cJSON_Parse(text), *cj = NULL;
    free(text);
    int rc = -1;
    if (!j) { err_set(err, errcap, "%s: not valid JSON", path); goto done; }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsString(mt) || strcmp(mt->valuestring, "BPE") != 0) {
        err_set(err, errcap, "%s: model.type must be \"BPE\" (GGUF's gpt2 tokenizer is byte-level BPE)", path);
        goto done;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"))) {
        err_set(err, errcap, "%s: byte_fallback BPE (SentencePiece style) is not byte-level BPE", path);
        goto done;
    }
    const char *rx = NULL;
    bool bl = false, bl_regex = false;
    find_pre(cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer"), &rx, &bl, &bl_regex);
    if (!bl || bl_regex || !rx) {
        err_set(err, errcap, "%s: the pre-tokenizer must be a Split regex followed by ByteLevel without its own regex "
                "(as Qwen2 and Llama 3 have it)", path);
        goto done;
    }
    if (!strcmp(rx, gguf_pre_qwen2)) t->pre = "qwen2";
    else if (!strcmp(rx, gguf_pre_llama3)) t->pre = "llama-bpe";
    else {
        err_set(err, errcap, "%s: the pre-tokenizer regex is neither Qwen2's nor Llama 3's, the ones llama.cpp knows "
                "here (tokenizer.ggml.pre qwen2 / llama-bpe): llama.cpp would split text differently", path);
        goto done;
    }
    t->n = c->vocab_size;
    t->tokens = calloc((size_t)t->n, sizeof *t->tokens);
    t->types = calloc((size_t)t->n, sizeof *t->types);
    if (!t->tokens || !t->types) { err_set(err, errcap, "%s: out of memory", path); goto done; }
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(model, "vocab")) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= t->n || e->valuedouble != (int)e->valuedouble) {
            err_set(err, errcap, "%s: vocab entry '%s' has id outside 0..%d (vocab_size of config.json)", path, e->string, t->n - 1);
            goto done;
        }
        int id = (int)e->valuedouble;
        if (t->tokens[id]) { err_set(err, errcap, "%s: id %d is used by two vocab entries", path, id); goto done; }
        if (!(t->tokens[id] = strdup(e->string))) { err_set(err, errcap, "%s: out of memory", path); goto done; }
        t->types[id] = 1; /* normal */
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "added_tokens")) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *ct = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(ct) || id->valuedouble < 0 || id->valuedouble >= t->n) {
            err_set(err, errcap, "%s: an added token needs an id inside 0..%d and a content string", path, t->n - 1);
            goto done;
        }
        int i = (int)id->valuedouble;
        free(t->tokens[i]);
        if (!(t->tokens[i] = strdup(ct->valuestring))) { err_set(err, errcap, "%s: out of memory", path); goto done; }
        t->types[i] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special")) ? 3 : 4; /* control / user-defined */
    }
    /* Rows of the embedding past the tokenizer (Qwen pads its vocabulary to a multiple of 128) get
     * placeholders, as llama.cpp's converter writes them. */
    for (int i = 0; i < t->n; i++)
        if (!t->tokens[i]) {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%d]", i);
            if (!(t->tokens[i] = strdup(pad))) { err_set(err, errcap, "%s: out of memory", path); goto done; }
            t->types[i] = 5; /* unused */
        }
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    int nm = cJSON_GetArraySize(merges);
    if (!(t->merges = calloc((size_t)nm + 1, sizeof *t->merges))) { err_set(err, errcap, "%s: out of memory", path); goto done; }
    cJSON_ArrayForEach(e, merges) {
        char *m = NULL;
        if (cJSON_IsString(e)) m = strdup(e->valuestring);
        else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(e->child) && cJSON_IsString(e->child->next)) {
            size_t n = strlen(e->child->valuestring) + strlen(e->child->next->valuestring) + 2;
            if ((m = malloc(n))) snprintf(m, n, "%s %s", e->child->valuestring, e->child->next->valuestring);
        } else {
            err_set(err, errcap, "%s: merge %d is neither \"a b\" nor [\"a\", \"b\"]", path, t->n_merges);
            goto done;
        }
        if (!m) { err_set(err, errcap, "%s: out of memory", path); goto done; }
        t->merges[t->n_merges++] = m;
    }
    /* Special ids: tokenizer_config.json names them; config.json / generation_config.json give ids. */
    t->bos = c->bos_id;
    t->eos = c->n_eos ? c->eos_ids[0] : -1;
    t->pad = -1;
    t->add_bos = -1;
    if ((text = fs_read_file(cpath, NULL))) {
        cj = cJSON_Parse(text);
        free(text);
        if (!cj) { err_set(err, errcap, "%s: not valid JSON", cpath); goto done; }
        int id;
        if ((id = tok_id(t, token_text(cJSON_GetObjectItemCaseSensitive(cj, "eos_token")))) >= 0) t->eos = id;
        if (t->bos < 0 && (id = tok_id(t, token_text(cJSON_GetObjectItemCaseSensitive(cj, "bos_token")))) >= 0) t->bos = id;
        t->pad = tok_id(t, token_text(cJSON_GetObjectItemCaseSensitive(cj, "pad_token")));
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cj, "add_bos_token");
        if (cJSON_IsBool(ab)) t->add_bos = cJSON_IsTrue(ab);
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cj, "chat_template");
        const char *tpl = NULL;
        if (cJSON_IsString(ct)) tpl = ct->valuestring;
        else if (cJSON_IsArray(ct)) /* [{"name": "default", "template": "..."}, ...] */
            cJSON_ArrayForEach(e, ct) {
                const cJSON *nm2 = cJSON_GetObjectItemCaseSensitive(e, "name"), *b = cJSON_GetObjectItemCaseSensitive(e, "template");
                if (cJSON_IsString(b) && (!tpl || (cJSON_IsString(nm2) && !strcmp(nm2->valuestring, "default")))) tpl = b->valuestring;
            }
        if (tpl && !(t->chat_template = strdup(tpl))) { err_set(err, errcap, "%s: out of memory", cpath); goto done; }
    }
    if (t->eos < 0) {
        err_set(err, errcap, "%s: no end-of-sequence token (eos_token_id in config.json or eos_token in %s)", dir, cpath);
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(j);
    cJSON_Delete(cj);
    return rc;
}

/* ---------- the tensors ---------- */

typedef struct {
    char hf[160], name[160];
    int n_dims;
    int64_t ne[2];   /* ne[0]: values per row */
    int type;
    bool permute;    /* llama Q / K */
    const st_tensor *src;
} out_tensor;

static int plan_tensors(const model_config *c, const source *s, int type, out_tensor **out, int *n_out, char *err,
                        size_t errcap) {
    const int L = c->num_layers, H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim;
    const int qd = c->num_heads * hd, kvd = c->num_kv_heads * hd;
    bool llama = !strcmp(c->arch, "LlamaForCausalLM");
    out_tensor *t = calloc((size_t)(3 + 12 * L), sizeof *t);
    if (!t) { err_set(err, errcap, "out of memory"); return -1; }
    int n = 0;
#define ADD(NAME, ROWS, COLS) do { \
        out_tensor *x = &t[n++]; \
        snprintf(x->hf, sizeof x->hf, "%s", NAME); \
        x->ne[0] = (COLS); x->ne[1] = (ROWS); x->n_dims = (ROWS) > 0 ? 2 : 1; \
        if (x->n_dims == 1) x->ne[1] = 1; \
    } while (0)
    ADD("model.embed_tokens.weight", c->vocab_size, H);
    if (!c->tie_embeddings) ADD("lm_head.weight", c->vocab_size, H);
    ADD("model.norm.weight", 0, H);
    for (int l = 0; l < L; l++) {
        char nm[160];
#define LNAME(suffix) (snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix), nm)
        ADD(LNAME("input_layernorm.weight"), 0, H);
        ADD(LNAME("self_attn.q_proj.weight"), qd, H);
        t[n - 1].permute = llama;
        ADD(LNAME("self_attn.k_proj.weight"), kvd, H);
        t[n - 1].permute = llama;
        ADD(LNAME("self_attn.v_proj.weight"), kvd, H);
        if (c->attn_bias) {
            ADD(LNAME("self_attn.q_proj.bias"), 0, qd);
            ADD(LNAME("self_attn.k_proj.bias"), 0, kvd);
            ADD(LNAME("self_attn.v_proj.bias"), 0, kvd);
        }
        ADD(LNAME("self_attn.o_proj.weight"), H, qd);
        ADD(LNAME("post_attention_layernorm.weight"), 0, H);
        ADD(LNAME("mlp.gate_proj.weight"), I, H);
        ADD(LNAME("mlp.up_proj.weight"), I, H);
        ADD(LNAME("mlp.down_proj.weight"), H, I);
#undef LNAME
    }
#undef ADD
    for (int i = 0; i < n; i++) {
        out_tensor *x = &t[i];
        gguf_hf_to_gguf_name(x->hf, x->name, sizeof x->name);
        if (!(x->src = source_find(s, x->hf))) {
            err_set(err, errcap, "%s: missing tensor '%s'", s->files[0]->path, x->hf);
            free(t);
            return -1;
        }
        int64_t want = x->ne[0] * x->ne[1];
        if (st_numel(x->src) != want || x->src->ndim != x->n_dims) {
            err_set(err, errcap, "%s: tensor '%s' does not have the shape config.json implies", s->files[0]->path, x->hf);
            free(t);
            return -1;
        }
        x->type = x->n_dims == 1 ? GGUF_F32 : type;
        if ((x->type == GGUF_Q8_0 || x->type == GGUF_Q4_0) && x->ne[0] % GGUF_QK) x->type = GGUF_F16;
    }
    *out = t;
    *n_out = n;
    return 0;
}

static int write_all(FILE *fp, const void *p, size_t n) { return fwrite(p, 1, n, fp) == n ? 0 : -1; }
static int pad_to(FILE *fp, uint64_t pos) {
    static const unsigned char zero[ALIGN];
    size_t pad = (size_t)((ALIGN - pos % ALIGN) % ALIGN);
    return pad ? write_all(fp, zero, pad) : 0;
}

/* One tensor's data: rows converted to f32 (Q / K reordered for llama) then to the file's type. */
static int write_tensor(FILE *fp, const out_tensor *x, const model_config *c) {
    const int64_t rows = x->ne[1], cols = x->ne[0];
    size_t rb = gguf_row_size(x->type, cols);
    float *all = NULL, *row = malloc((size_t)cols * sizeof *row);
    unsigned char *q = malloc(rb);
    int rc = -1;
    if (!row || !q) goto out;
    if (x->permute) {
        float *hf = malloc((size_t)rows * (size_t)cols * sizeof *hf);
        if (!hf || !(all = malloc((size_t)rows * (size_t)cols * sizeof *all))) { free(hf); goto out; }
        for (int64_t r = 0; r < rows; r++) row_to_f32(x->src, r, cols, hf + (size_t)r * (size_t)cols);
        gguf_permute_rows(all, hf, (int)rows, (size_t)cols * sizeof(float), c->head_dim, true);
        free(hf);
    }
    for (int64_t r = 0; r < rows; r++) {
        if (all) memcpy(row, all + (size_t)r * (size_t)cols, (size_t)cols * sizeof *row);
        else row_to_f32(x->src, r, cols, row);
        gguf_quantize_row(x->type, row, q, cols);
        if (write_all(fp, q, rb)) goto out;
    }
    rc = 0;
out:
    free(all);
    free(row);
    free(q);
    return rc;
}

static uint32_t file_type(int type) {
    switch (type) {
    case GGUF_F16: return 1;
    case GGUF_Q4_0: return 2;
    case GGUF_Q8_0: return 7;
    case GGUF_BF16: return 32;
    default: return 0;
    }
}

int gguf_export(const gguf_export_opts *o, void (*progress)(void *ctx, int done, int total), void *ctx, char *err,
                size_t errcap) {
    model_config c;
    source s = {0};
    tok_meta tm = {0};
    out_tensor *ts = NULL;
    int nt = 0, rc = -1;
    meta m = {0};
    buf info = {0};
    FILE *fp = NULL;
    char tmp[4200] = "";
    if (o->type != GGUF_F32 && o->type != GGUF_F16 && o->type != GGUF_BF16 && o->type != GGUF_Q8_0 && o->type != GGUF_Q4_0) {
        err_set(err, errcap, "unknown GGUF type %d", o->type);
        return -1;
    }
    if (model_read_config(o->model_dir, &c, err, errcap)) return -1;
    if (read_tokenizer(o->tok_dir ? o->tok_dir : o->model_dir, &c, &tm, err, errcap)) goto out;
    if (source_open(&s, o->model_dir, err, errcap)) goto out;
    if (plan_tensors(&c, &s, o->type, &ts, &nt, err, errcap)) goto out;

    const bool llama = !strcmp(c.arch, "LlamaForCausalLM");
    const char *arch = llama ? "llama" : "qwen2";
    char name[256];
    if (o->name) snprintf(name, sizeof name, "%s", o->name);
    else {
        const char *b = strrchr(o->model_dir, '/');
        snprintf(name, sizeof name, "%s", b && b[1] ? b + 1 : o->model_dir);
        size_t nl = strlen(name);
        while (nl > 1 && name[nl - 1] == '/') name[--nl] = 0;
    }
    kv_str(&m, "general.architecture", arch);
    kv_str(&m, "general.name", name);
    kv_u32(&m, "general.alignment", ALIGN);
    kv_u32(&m, "general.file_type", file_type(o->type));
    if (o->type == GGUF_Q8_0 || o->type == GGUF_Q4_0) kv_u32(&m, "general.quantization_version", 2);
    kv_arch_u32(&m, arch, "context_length", (uint32_t)c.max_position);
    kv_arch_u32(&m, arch, "embedding_length", (uint32_t)c.hidden_size);
    kv_arch_u32(&m, arch, "block_count", (uint32_t)c.num_layers);
    kv_arch_u32(&m, arch, "feed_forward_length", (uint32_t)c.intermediate_size);
    kv_arch_u32(&m, arch, "attention.head_count", (uint32_t)c.num_heads);
    kv_arch_u32(&m, arch, "attention.head_count_kv", (uint32_t)c.num_kv_heads);
    kv_arch_f32(&m, arch, "rope.freq_base", (float)c.rope_theta);
    kv_arch_f32(&m, arch, "attention.layer_norm_rms_epsilon", (float)c.rms_eps);
    if (c.head_dim * c.num_heads != c.hidden_size) {
        kv_arch_u32(&m, arch, "attention.key_length", (uint32_t)c.head_dim);
        kv_arch_u32(&m, arch, "attention.value_length", (uint32_t)c.head_dim);
    }
    if (llama) {
        kv_arch_u32(&m, arch, "rope.dimension_count", (uint32_t)c.head_dim);
        kv_arch_u32(&m, arch, "vocab_size", (uint32_t)c.vocab_size);
    }
    kv_str(&m, "tokenizer.ggml.model", "gpt2");
    kv_str(&m, "tokenizer.ggml.pre", tm.pre);
    key(&m, "tokenizer.ggml.tokens", GGUF_V_ARRAY);
    put_u32(&m.kv, GGUF_V_STRING);
    put_u64(&m.kv, (uint64_t)tm.n);
    for (int i = 0; i < tm.n; i++) put_str(&m.kv, tm.tokens[i]);
    key(&m, "tokenizer.ggml.token_type", GGUF_V_ARRAY);
    put_u32(&m.kv, GGUF_V_INT32);
    put_u64(&m.kv, (uint64_t)tm.n);
    put(&m.kv, tm.types, (size_t)tm.n * sizeof *tm.types);
    key(&m, "tokenizer.ggml.merges", GGUF_V_ARRAY);
    put_u32(&m.kv, GGUF_V_STRING);
    put_u64(&m.kv, (uint64_t)tm.n_merges);
    for (int i = 0; i < tm.n_merges; i++) put_str(&m.kv, tm.merges[i]);
    if (tm.bos >= 0) kv_u32(&m, "tokenizer.ggml.bos_token_id", (uint32_t)tm.bos);
    kv_u32(&m, "tokenizer.ggml.eos_token_id", (uint32_t)tm.eos);
    /* A second end-of-sequence id (Qwen2.5 Instruct stops on <|im_end|> and <|endoftext|>) goes in as eot. */
    for (int i = 0; i < c.n_eos; i++)
        if (c.eos_ids[i] != tm.eos) { kv_u32(&m, "tokenizer.ggml.eot_token_id", (uint32_t)c.eos_ids[i]); break; }
    if (tm.pad >= 0) kv_u32(&m, "tokenizer.ggml.padding_token_id", (uint32_t)tm.pad);
    kv_bool(&m, "tokenizer.ggml.add_bos_token", tm.add_bos >= 0 ? tm.add_bos : (llama && tm.bos >= 0));
    if (tm.chat_template) kv_str(&m, "tokenizer.chat_template", tm.chat_template);

    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        put_str(&info, ts[i].name);
        put_u32(&info, (uint32_t)ts[i].n_dims);
        for (int d = 0; d < ts[i].n_dims; d++) put_u64(&info, (uint64_t)ts[i].ne[d]);
        put_u32(&info, (uint32_t)ts[i].type);
        put_u64(&info, off);
        off += gguf_row_size(ts[i].type, ts[i].ne[0]) * (uint64_t)ts[i].ne[1];
        off = (off + ALIGN - 1) / ALIGN * ALIGN;
    }
    if (m.kv.oom || info.oom) { err_set(err, errcap, "%s: out of memory", o->output); goto out; }

    snprintf(tmp, sizeof tmp, "%s.tmp.%d", o->output, (int)getpid());
    if (!(fp = fopen(tmp, "wb"))) { err_set(err, errcap, "%s: cannot write: %s", tmp, strerror(errno)); tmp[0] = 0; goto out; }
    uint32_t version = 3;
    uint64_t n_tensors = (uint64_t)nt;
    if (write_all(fp, "GGUF", 4) || write_all(fp, &version, 4) || write_all(fp, &n_tensors, 8) ||
        write_all(fp, &m.n_kv, 8) || write_all(fp, m.kv.p, m.kv.len) || write_all(fp, info.p, info.len) ||
        pad_to(fp, 24 + m.kv.len + info.len))
        goto io;
    for (int i = 0; i < nt; i++) {
        if (write_tensor(fp, &ts[i], &c)) goto io;
        if (pad_to(fp, gguf_row_size(ts[i].type, ts[i].ne[0]) * (uint64_t)ts[i].ne[1])) goto io;
        if (progress) progress(ctx, i + 1, nt);
    }
    if (fflush(fp) || fsync(fileno(fp))) goto io;
    int cr = fclose(fp);
    fp = NULL;
    if (cr || rename(tmp, o->output)) goto io;
    tmp[0] = 0;
    rc = 0;
    goto out;
io:
    err_set(err, errcap, "%s: cannot write: %s", o->output, errno ? strerror(errno) : "out of memory");
out:
    if (fp) fclose(fp);
    if (tmp[0]) unlink(tmp);
    free(m.kv.p);
    free(info.p);
    free(ts);
    tok_meta_free(&tm);
    source_close(&s);
    return rc;
}
