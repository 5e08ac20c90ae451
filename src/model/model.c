/* Loading a Hugging Face Qwen2/Llama folder and its forward pass (see model.h). */
#include "model/model.h"
#include "core/err.h"

#include "backend/backend.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "kernels/expf.h"
#include "kernels/matmul.h"
#include "model/gguf.h"
#include "model/forward.h"
#include "model/lora_apply.h"
#include "model/model_internal.h"
#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The weights as loaded, in host memory: memory-mapped from the safetensors files (matrices) or owned fp32
 * copies (vectors). lora_apply edits the matrices here; map_weights gives the backend its copies. */
typedef struct {
    float *attn_norm, *mlp_norm; /* [H], fp32 copies */
    mm_weight q, k, v, o, gate, up, down;
    float *bq, *bk, *bv;         /* fp32 copies, NULL without attention biases */
} layer_weights;

/* Activations (backend memory) for up to cap_tokens rows, grown on demand. */
typedef struct {
    int cap_tokens;
    float *x, *xb, *q, *k, *v, *att, *x_mid, *proj, *gate, *up, *cs;
    int *pos, *slot, *tok; /* host */
} scratch;

struct model {
    model_config cfg;
    st_file **files;
    int n_files;
    mm_weight embed, head;
    float *final_norm;
    layer_weights *layers;
    size_t n_params;
    void **owned;    /* weight buffers that replaced memory-mapped ones (model_own) */
    int n_owned, cap_owned;
    fwd_model core;  /* the one model the forward pass runs: the weights above as the backend holds them */
    bool mapped;     /* core's weights are mapped (map_weights) */
    scratch s;
    /* device sampling (model_forward_sample): logits of up to dl_rows rows, the kept prefill row, host rows */
    float *dl, *kept;
    int dl_rows;
    int *rows_host;
};

struct kv_cache {
    bk_backend *bk;
    bk_kv *kv;
    int n_slots, max_len;
    int *len;
    bool bf16;
};

/* ---------- config ---------- */

static cJSON *read_json(const char *path, bool required, char *err, size_t errcap, int *missing) {
    size_t len;
    char *text = fs_read_file(path, &len);
    *missing = 0;
    if (!text) {
        if (errno == ENOENT && !required) { *missing = 1; return NULL; }
        err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno));
        if (errno == ENOENT) *missing = 1;
        return NULL;
    }
    const char *endp = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &endp, 0);
    if (!j || !cJSON_IsObject(j)) {
        int line = 1;
        if (endp)
            for (const char *c = text; c < endp && *c; c++) line += *c == '\n';
        err_set(err, errcap, "%s:%d: %s", path, line, j ? "top level is not a JSON object" : "invalid JSON");
        cJSON_Delete(j);
        free(text);
        return NULL;
    }
    long bl, bc;
    const char *dup = NULL;
    if (!json_utf8_valid(text, len, &bl, &bc) || (dup = json_duplicate_key(j))) {
        if (dup) err_set(err, errcap, "%s: duplicate key \"%.100s\"", path, dup);
        else err_set(err, errcap, "%s:%ld: invalid UTF-8 at column %ld", path, bl, bc);
        cJSON_Delete(j);
        free(text);
        return NULL;
    }
    free(text);
    return j;
}

/* Reads an integer key; absent keys take def (or fail when required). */
static int json_int(const cJSON *o, const char *key, bool required, long def, long lo, long hi, long *out,
                    const char *path, char *err, size_t errcap) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) {
        if (required) { err_set(err, errcap, "%s: missing required key \"%s\"", path, key); return -1; }
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < (double)lo ||
        j->valuedouble > (double)hi) {
        err_set(err, errcap, "%s: \"%s\" must be an integer in [%ld, %ld]", path, key, lo, hi);
        return -1;
    }
    *out = (long)j->valuedouble;
    return 0;
}

static int json_num(const cJSON *o, const char *key, double def, double *out, const char *path, char *err,
                    size_t errcap) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) { *out = def; return 0; }
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0)) {
        err_set(err, errcap, "%s: \"%s\" must be a positive number", path, key);
        return -1;
    }
    *out = j->valuedouble;
    return 0;
}

static bool json_true(const cJSON *o, const char *key, bool def) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || !cJSON_IsBool(j)) return def;
    return cJSON_IsTrue(j);
}

static void add_eos(model_config *c, int id) {
    if (id < 0) return;
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_ids[i] == id) return;
    if (c->n_eos < MODEL_MAX_EOS) c->eos_ids[c->n_eos++] = id;
}

/* eos_token_id may be an int or a list of ints. */
static int read_eos(const cJSON *o, model_config *c, const char *path, char *err, size_t errcap) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "eos_token_id");
    if (!j || cJSON_IsNull(j)) return 0;
    /* checked here, where the file is known, and before the cast (a double past INT_MAX is undefined) */
    const cJSON *one = cJSON_IsNumber(j) ? j : NULL;
    for (const cJSON *e = one ? one : (cJSON_IsArray(j) ? j->child : NULL); e; e = one ? NULL : e->next) {
        if (!cJSON_IsNumber(e)) break;
        double v = e->valuedouble;
        if (v < 0) continue; /* -1 and the like: no id */
        if (v >= c->vocab_size || v != floor(v)) {
            err_set(err, errcap, "%s: \"eos_token_id\" %g is not a token id of the vocabulary (%d)", path, v,
                    c->vocab_size);
            return -1;
        }
        add_eos(c, (int)v);
    }
    if (one || cJSON_IsArray(j)) return 0;
    err_set(err, errcap, "%s: \"eos_token_id\" must be an integer or a list of integers", path);
    return -1;
}

int model_read_config(const char *dir, model_config *c, char *err, size_t errcap) {
    char path[4096], gpath[4096];
    memset(c, 0, sizeof *c);
    if (!fs_join(path, sizeof path, dir, "config.json") || !fs_join(gpath, sizeof gpath, dir, "generation_config.json")) {
        err_set(err, errcap, "%s: path too long", dir);
        return -1;
    }
    int missing;
    cJSON *j = read_json(path, true, err, errcap, &missing);
    if (!j) {
        if (missing && !fs_is_dir(dir)) err_set(err, errcap, "%s: not a model folder (no such directory)", dir);
        return -1;
    }
    int rc = -1;
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(j, "architectures");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    const char *arch = NULL;
    if (cJSON_IsArray(archs) && cJSON_IsString(archs->child)) arch = archs->child->valuestring;
    else if (cJSON_IsString(mt) && !strcmp(mt->valuestring, "qwen2")) arch = "Qwen2ForCausalLM";
    else if (cJSON_IsString(mt) && !strcmp(mt->valuestring, "llama")) arch = "LlamaForCausalLM";
    if (!arch) {
        err_set(err, errcap, "%s: no \"architectures\" list (nor a known \"model_type\")", path);
        goto done;
    }
    if (strcmp(arch, "Qwen2ForCausalLM") != 0 && strcmp(arch, "LlamaForCausalLM") != 0) {
        err_set(err, errcap, "%s: unsupported architecture \"%s\" (supported: Qwen2ForCausalLM, LlamaForCausalLM)",
               path, arch);
        goto done;
    }
    snprintf(c->arch, sizeof c->arch, "%s", arch);
    bool qwen = !strcmp(arch, "Qwen2ForCausalLM");
    long v;
    if (json_int(j, "vocab_size", true, 0, 1, 1 << 24, &v, path, err, errcap)) goto done;
    c->vocab_size = (int)v;
    if (json_int(j, "hidden_size", true, 0, 1, 1 << 17, &v, path, err, errcap)) goto done;
    c->hidden_size = (int)v;
    if (json_int(j, "intermediate_size", true, 0, 1, 1 << 20, &v, path, err, errcap)) goto done;
    c->intermediate_size = (int)v;
    if (json_int(j, "num_hidden_layers", true, 0, 1, 4096, &v, path, err, errcap)) goto done;
    c->num_layers = (int)v;
    if (json_int(j, "num_attention_heads", true, 0, 1, 4096, &v, path, err, errcap)) goto done;
    c->num_heads = (int)v;
    if (json_int(j, "num_key_value_heads", false, c->num_heads, 1, 4096, &v, path, err, errcap)) goto done;
    c->num_kv_heads = (int)v;
    if (c->num_heads % c->num_kv_heads != 0) {
        err_set(err, errcap, "%s: num_attention_heads (%d) is not a multiple of num_key_value_heads (%d)", path,
               c->num_heads, c->num_kv_heads);
        goto done;
    }
    long def_hd = c->hidden_size / c->num_heads;
    if (json_int(j, "head_dim", false, def_hd, 1, 1 << 16, &v, path, err, errcap)) goto done;
    c->head_dim = (int)v;
    if (c->head_dim < 2 || c->head_dim % 2) {
        err_set(err, errcap, "%s: head_dim %d must be even (rotary embedding works on halves)", path, c->head_dim);
        goto done;
    }
    if (json_int(j, "max_position_embeddings", false, 32768, 1, 1L << 30, &v, path, err, errcap)) goto done;
    c->max_position = (int)v;
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(j, "rope_parameters");
    double theta_def = 10000.0;
    if (cJSON_IsObject(rp)) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(rp, "rope_theta");
        if (cJSON_IsNumber(t) && t->valuedouble > 0) theta_def = t->valuedouble;
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(rp, "rope_type");
        if (cJSON_IsString(rt) && strcmp(rt->valuestring, "default") != 0) {
            err_set(err, errcap, "%s: rope_type \"%s\" is not supported (only plain RoPE)", path, rt->valuestring);
            goto done;
        }
    }
    if (json_num(j, "rope_theta", theta_def, &c->rope_theta, path, err, errcap)) goto done;
    if (json_num(j, "rms_norm_eps", 1e-6, &c->rms_eps, path, err, errcap)) goto done;
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "rope_scaling");
    if (rs && !cJSON_IsNull(rs)) {
        const cJSON *rt = cJSON_IsObject(rs) ? cJSON_GetObjectItemCaseSensitive(rs, "rope_type") : NULL;
        if (!rt && cJSON_IsObject(rs)) rt = cJSON_GetObjectItemCaseSensitive(rs, "type");
        if (!cJSON_IsString(rt) || strcmp(rt->valuestring, "default") != 0) {
            err_set(err, errcap, "%s: rope_scaling %s is not supported (only plain RoPE)", path,
                   cJSON_IsString(rt) ? rt->valuestring : "(set)");
            goto done;
        }
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(j, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0)) {
        err_set(err, errcap, "%s: hidden_act must be \"silu\"", path);
        goto done;
    }
    if (json_true(j, "use_sliding_window", false)) {
        err_set(err, errcap, "%s: use_sliding_window=true is not supported", path);
        goto done;
    }
    c->tie_embeddings = json_true(j, "tie_word_embeddings", false);
    c->attn_bias = qwen;
    if (!qwen && (json_true(j, "attention_bias", false) || json_true(j, "mlp_bias", false))) {
        err_set(err, errcap, "%s: Llama with attention_bias or mlp_bias is not supported", path);
        goto done;
    }
    /* -1: no BOS token; otherwise an id of the vocabulary, in whichever file sets it */
    if (json_int(j, "bos_token_id", false, -1, -1, c->vocab_size - 1, &v, path, err, errcap)) goto done;
    c->bos_id = (int)v;
    if (read_eos(j, c, path, err, errcap)) goto done;
    cJSON *g = read_json(gpath, false, err, errcap, &missing);
    if (!g && !missing) goto done;
    if (g) {
        /* generation_config's list is the one generation uses; config.json's id is kept as well. */
        model_config tmp = *c;
        tmp.n_eos = 0;
        if (read_eos(g, &tmp, gpath, err, errcap)) { cJSON_Delete(g); goto done; }
        for (int i = 0; i < c->n_eos; i++) add_eos(&tmp, c->eos_ids[i]);
        c->n_eos = tmp.n_eos;
        memcpy(c->eos_ids, tmp.eos_ids, sizeof c->eos_ids);
        if (json_int(g, "bos_token_id", false, c->bos_id, -1, c->vocab_size - 1, &v, gpath, err, errcap)) {
            cJSON_Delete(g);
            goto done;
        }
        c->bos_id = (int)v;
        cJSON_Delete(g);
    }
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_ids[i] >= c->vocab_size) {
            err_set(err, errcap, "%s: eos token id %d is outside the vocabulary (%d)", path, c->eos_ids[i], c->vocab_size);
            goto done;
        }
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

/* ---------- weights ---------- */

static int map_weights(model *m, char *err, size_t errcap);

static mm_dtype mm_dtype_of(st_dtype d) {
    return d == ST_BF16 ? MM_DTYPE_BF16 : d == ST_F16 ? MM_DTYPE_F16 : MM_DTYPE_F32;
}

typedef struct {
    const char *dir;
    cJSON *weight_map; /* NULL for a single file */
    const char *index_path;
    st_file **files;
    int n_files;
} loader;

static const st_tensor *find_tensor(loader *L, const char *name, const char **file, char *err, size_t errcap) {
    if (!L->weight_map) {
        *file = L->files[0]->path;
        const st_tensor *t = st_find(L->files[0], name);
        if (!t) err_set(err, errcap, "%s: missing tensor '%s'", L->files[0]->path, name);
        return t;
    }
    const cJSON *fj = cJSON_GetObjectItemCaseSensitive(L->weight_map, name);
    if (!cJSON_IsString(fj)) {
        err_set(err, errcap, "%s: missing tensor '%s' (not in weight_map)", L->index_path, name);
        return NULL;
    }
    char path[4096];
    fs_join(path, sizeof path, L->dir, fj->valuestring);
    for (int i = 0; i < L->n_files; i++)
        if (!strcmp(L->files[i]->path, path)) {
            *file = L->files[i]->path;
            const st_tensor *t = st_find(L->files[i], name);
            if (!t) err_set(err, errcap, "%s: missing tensor '%s' (listed in the index)", path, name);
            return t;
        }
    err_set(err, errcap, "%s: shard '%s' was not opened", L->index_path, fj->valuestring);
    return NULL;
}

static int get_matrix(loader *L, const char *name, int rows, int cols, mm_weight *w, size_t *nparams, char *err,
                      size_t errcap) {
    const char *file;
    const st_tensor *t = find_tensor(L, name, &file, err, errcap);
    if (!t) return -1;
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
        char got[128] = "";
        for (int d = 0; d < t->ndim; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        err_set(err, errcap, "%s: tensor '%s' has shape [%s], config.json implies [%d, %d]", file, name, got, rows, cols);
        return -1;
    }
    w->data = t->data;
    w->dtype = mm_dtype_of(t->dtype);
    w->rows = rows;
    w->cols = cols;
    *nparams += (size_t)rows * (size_t)cols;
    return 0;
}

/* A vector (norm weight or bias) as an owned fp32 copy. */
static float *get_vector(loader *L, const char *name, int n, size_t *nparams, char *err, size_t errcap) {
    const char *file;
    const st_tensor *t = find_tensor(L, name, &file, err, errcap);
    if (!t) return NULL;
    if (t->ndim != 1 || t->shape[0] != n) {
        err_set(err, errcap, "%s: tensor '%s' must have shape [%d] (from config.json)", file, name, n);
        return NULL;
    }
    float *v = malloc((size_t)n * sizeof(float));
    if (!v) { err_set(err, errcap, "%s: out of memory", file); return NULL; }
    mm_weight w = {mm_dtype_of(t->dtype), 1, n, t->data};
    mm_weight_row(v, &w, 0);
    *nparams += (size_t)n;
    return v;
}

static int open_files(loader *L, model *m, char *err, size_t errcap) {
    char ipath[4096], spath[4096];
    fs_join(ipath, sizeof ipath, L->dir, "model.safetensors.index.json");
    fs_join(spath, sizeof spath, L->dir, "model.safetensors");
    if (fs_exists(ipath)) {
        int missing;
        cJSON *idx = read_json(ipath, true, err, errcap, &missing);
        if (!idx) return -1;
        L->weight_map = cJSON_DetachItemFromObjectCaseSensitive(idx, "weight_map");
        cJSON_Delete(idx);
        if (!cJSON_IsObject(L->weight_map) || !L->weight_map->child) {
            err_set(err, errcap, "%s: no \"weight_map\" object", ipath);
            return -1;
        }
        L->index_path = strdup(ipath);
        m->files = calloc((size_t)cJSON_GetArraySize(L->weight_map), sizeof *m->files);
        if (!L->index_path || !m->files) { err_set(err, errcap, "%s: out of memory", ipath); return -1; }
        for (cJSON *e = L->weight_map->child; e; e = e->next) {
            if (!cJSON_IsString(e) || !e->valuestring[0] || strchr(e->valuestring, '/') ||
                !strcmp(e->valuestring, "..")) {
                err_set(err, errcap, "%s: weight_map entry for '%s' must be a file name in the model folder", ipath,
                       e->string);
                return -1;
            }
            char path[4096];
            if (!fs_join(path, sizeof path, L->dir, e->valuestring)) { err_set(err, errcap, "%s: path too long", ipath); return -1; }
            bool have = false;
            for (int i = 0; i < m->n_files && !have; i++) have = !strcmp(m->files[i]->path, path);
            if (have) continue;
            st_file *f = st_open(path, err, errcap);
            if (!f) return -1;
            m->files[m->n_files++] = f;
        }
    } else {
        m->files = calloc(1, sizeof *m->files);
        if (!m->files) { err_set(err, errcap, "%s: out of memory", spath); return -1; }
        if (!fs_exists(spath)) {
            err_set(err, errcap, "%s: no model.safetensors or model.safetensors.index.json in the model folder", L->dir);
            return -1;
        }
        st_file *f = st_open(spath, err, errcap);
        if (!f) return -1;
        m->files[m->n_files++] = f;
    }
    L->files = m->files;
    L->n_files = m->n_files;
    return 0;
}

static model *model_load_folder(const char *dir, bk_backend *bk, char *err, size_t errcap) {
    model *m = calloc(1, sizeof *m);
    if (!m) { err_set(err, errcap, "%s: out of memory", dir); return NULL; }
    loader L = {.dir = dir};
    m->core.bk = bk;
    /* One thread pool: the products run inside the ops' OpenMP regions, BLAS single-threaded. */
    m->core.bk->op.set_threads(m->core.bk, 0, false);
    if (gguf_is_path(dir) && !fs_is_dir(dir)) { /* a llama.cpp file: config and weights from gguf.c */
        if (!(m->files = calloc(1, sizeof *m->files))) { err_set(err, errcap, "%s: out of memory", dir); goto fail; }
        if (!(m->files[0] = gguf_load_weights(dir, &m->cfg, err, errcap))) goto fail;
        L.files = m->files;
        L.n_files = m->n_files = 1;
    } else {
        if (model_read_config(dir, &m->cfg, err, errcap) != 0) goto fail;
        if (open_files(&L, m, err, errcap) != 0) goto fail;
    }
    const model_config *c = &m->cfg;
    const int H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim;
    const int qd = c->num_heads * hd, kvd = c->num_kv_heads * hd;
    size_t np = 0;
    if (get_matrix(&L, "model.embed_tokens.weight", c->vocab_size, H, &m->embed, &np, err, errcap)) goto fail;
    if (c->tie_embeddings) m->head = m->embed;
    else if (get_matrix(&L, "lm_head.weight", c->vocab_size, H, &m->head, &np, err, errcap)) goto fail;
    if (!(m->final_norm = get_vector(&L, "model.norm.weight", H, &np, err, errcap))) goto fail;
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!m->layers) { err_set(err, errcap, "%s: out of memory", dir); goto fail; }
    for (int l = 0; l < c->num_layers; l++) {
        layer_weights *w = &m->layers[l];
        char nm[160];
#define NAME(suffix) (snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix), nm)
        if (!(w->attn_norm = get_vector(&L, NAME("input_layernorm.weight"), H, &np, err, errcap))) goto fail;
        if (!(w->mlp_norm = get_vector(&L, NAME("post_attention_layernorm.weight"), H, &np, err, errcap))) goto fail;
        if (get_matrix(&L, NAME("self_attn.q_proj.weight"), qd, H, &w->q, &np, err, errcap)) goto fail;
        if (get_matrix(&L, NAME("self_attn.k_proj.weight"), kvd, H, &w->k, &np, err, errcap)) goto fail;
        if (get_matrix(&L, NAME("self_attn.v_proj.weight"), kvd, H, &w->v, &np, err, errcap)) goto fail;
        if (get_matrix(&L, NAME("self_attn.o_proj.weight"), H, qd, &w->o, &np, err, errcap)) goto fail;
        if (get_matrix(&L, NAME("mlp.gate_proj.weight"), I, H, &w->gate, &np, err, errcap)) goto fail;
        if (get_matrix(&L, NAME("mlp.up_proj.weight"), I, H, &w->up, &np, err, errcap)) goto fail;
        if (get_matrix(&L, NAME("mlp.down_proj.weight"), H, I, &w->down, &np, err, errcap)) goto fail;
        if (c->attn_bias) {
            if (!(w->bq = get_vector(&L, NAME("self_attn.q_proj.bias"), qd, &np, err, errcap))) goto fail;
            if (!(w->bk = get_vector(&L, NAME("self_attn.k_proj.bias"), kvd, &np, err, errcap))) goto fail;
            if (!(w->bv = get_vector(&L, NAME("self_attn.v_proj.bias"), kvd, &np, err, errcap))) goto fail;
        }
#undef NAME
    }
    m->n_params = np;
    if (map_weights(m, err, errcap) != 0) goto fail;
    cJSON_Delete(L.weight_map);
    free((void *)L.index_path);
    return m;
fail:
    cJSON_Delete(L.weight_map);
    free((void *)L.index_path);
    model_free(m);
    return NULL;
}

/* An adapter folder loads its base (which may itself be an adapter: a RAFT adapter trained on top of an SFT
 * one), then applies itself. depth bounds a chain that loops back on itself. */
static model *load_any(const char *dir, bk_backend *bk, int depth, char *err, size_t errcap) {
    char base[4096];
    int is_adapter = model_adapter_base(dir, base, sizeof base, err, errcap);
    if (is_adapter < 0) return NULL;
    if (!is_adapter) return model_load_folder(dir, bk, err, errcap);
    if (depth >= 8) {
        err_set(err, errcap, "%s: more than 8 adapters stacked on each other (does base_model_name_or_path loop?)", dir);
        return NULL;
    }
    model *m = load_any(base, bk, depth + 1, err, errcap);
    if (!m) return NULL;
    if (model_apply_adapter(m, dir, err, errcap) != 0) {
        model_free(m);
        return NULL;
    }
    return m;
}

static bk_backend *default_bk;

void model_set_default_backend(bk_backend *bk) { default_bk = bk; }
bk_backend *model_default_backend(void) { return default_bk ? default_bk : bk_cpu(); }

model *model_load_on(const char *dir, bk_backend *bk, char *err, size_t errcap) {
    /* every op the forward pass and the cache call must be there: a clear error now, not a NULL call later */
    char e[512];
    if (bk_ops_check(bk, BK_NEED_INFER, e, sizeof e) != 0) {
        err_set(err, errcap, "%s: %s", dir, e);
        return NULL;
    }
    return load_any(dir, bk, 0, err, errcap);
}

model *model_load(const char *dir, char *err, size_t errcap) {
    return model_load_on(dir, model_default_backend(), err, errcap);
}

const char *const model_proj_names[MODEL_NPROJ] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                   "gate_proj", "up_proj", "down_proj"};

mm_weight *model_proj_weight(model *m, int layer, int proj) {
    if (layer < 0 || layer >= m->cfg.num_layers || proj < 0 || proj >= MODEL_NPROJ) return NULL;
    layer_weights *w = &m->layers[layer];
    mm_weight *p[MODEL_NPROJ] = {&w->q, &w->k, &w->v, &w->o, &w->gate, &w->up, &w->down};
    return p[proj];
}

int model_own(model *m, void *buf) {
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **o = realloc(m->owned, (size_t)cap * sizeof *o);
        if (!o) return -1;
        m->owned = o;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = buf;
    return 0;
}

/* ---------- the weights as the backend holds them ---------- */

static size_t weight_bytes(const mm_weight *w) {
    return (size_t)w->rows * (size_t)w->cols * (w->dtype == MM_DTYPE_F32 ? 4 : 2);
}

/* Bytes of the weights as the backend holds them (matrices at their dtype, fp32 vectors). */
static size_t model_weight_bytes(const model *m) {
    const model_config *c = &m->cfg;
    size_t H = (size_t)c->hidden_size, qd = (size_t)c->num_heads * c->head_dim;
    size_t kvd = (size_t)c->num_kv_heads * c->head_dim;
    size_t n = weight_bytes(&m->embed) + (c->tie_embeddings ? 0 : weight_bytes(&m->head)) + H * 4;
    for (int l = 0; l < c->num_layers; l++) {
        const layer_weights *w = &m->layers[l];
        n += 2 * H * 4 + weight_bytes(&w->q) + weight_bytes(&w->k) + weight_bytes(&w->v) + weight_bytes(&w->o) +
             weight_bytes(&w->gate) + weight_bytes(&w->up) + weight_bytes(&w->down);
        if (w->bq) n += (qd + 2 * kvd) * 4;
    }
    return n;
}

static void unmap_weights(model *m) {
    if (!m->mapped) return;
    bk_backend *bk = m->core.bk;
    fwd_model *c = &m->core;
    bk->op.weight_unmap(bk, c->embed.data);
    if (!m->cfg.tie_embeddings) bk->op.weight_unmap(bk, c->head.data);
    bk->op.weight_unmap(bk, c->norm);
    for (int l = 0; l < m->cfg.num_layers; l++) {
        fwd_layer *L = &c->layers[l];
        bk->op.weight_unmap(bk, L->ln1);
        bk->op.weight_unmap(bk, L->ln2);
        for (int p = 0; p < FWD_NPROJ; p++) {
            bk->op.weight_unmap(bk, L->p[p].w.data);
            bk->op.weight_unmap(bk, L->p[p].b);
        }
    }
    m->mapped = false;
}

/* Gives the backend the loaded weights: core points at its copies (on the CPU the host memory itself). */
static int map_weights(model *m, char *err, size_t errcap) {
    bk_backend *bk = m->core.bk;
    fwd_model *c = &m->core;
    const model_config *cfg = &m->cfg;
    const size_t H = (size_t)cfg->hidden_size, qd = (size_t)cfg->num_heads * cfg->head_dim;
    const size_t kvd = (size_t)cfg->num_kv_heads * cfg->head_dim;
    if (!c->layers && !(c->layers = calloc((size_t)cfg->num_layers, sizeof *c->layers))) goto oom;
    c->cfg = *cfg;
    bool ok = true;
#define MAPW(dst, src)                                                                                                 \
    do {                                                                                                               \
        (dst) = (bk_weight){(src).dtype, (src).rows, (src).cols, bk->op.weight_map(bk, (src).data, weight_bytes(&(src)))}; \
        ok = ok && (dst).data;                                                                                         \
    } while (0)
#define MAPV(dst, src, n)                                                                                              \
    do {                                                                                                               \
        (dst) = (src) ? bk->op.weight_map(bk, (src), (n) * sizeof(float)) : NULL;                                      \
        ok = ok && (!(src) || (dst));                                                                                  \
    } while (0)
    MAPW(c->embed, m->embed);
    if (cfg->tie_embeddings) c->head = c->embed;
    else MAPW(c->head, m->head);
    MAPV(c->norm, m->final_norm, H);
    for (int l = 0; l < cfg->num_layers; l++) {
        const layer_weights *w = &m->layers[l];
        fwd_layer *L = &c->layers[l];
        MAPV(L->ln1, w->attn_norm, H);
        MAPV(L->ln2, w->mlp_norm, H);
        const mm_weight *ws[FWD_NPROJ] = {&w->q, &w->k, &w->v, &w->o, &w->gate, &w->up, &w->down};
        for (int p = 0; p < FWD_NPROJ; p++) MAPW(L->p[p].w, *ws[p]);
        MAPV(L->p[FWD_Q].b, w->bq, qd);
        MAPV(L->p[FWD_K].b, w->bk, kvd);
        MAPV(L->p[FWD_V].b, w->bv, kvd);
    }
#undef MAPW
#undef MAPV
    m->mapped = true;
    if (ok) return 0;
    unmap_weights(m);
oom:
    if (bk->host_memory) err_set(err, errcap, "model: out of %s memory for the weights", bk->name);
    else /* the device's allocator says how much was asked for and how much is free */
        err_set(err, errcap, "model: %.2f GiB of weights do not fit on %s: %s", (double)model_weight_bytes(m) / (1 << 30),
                bk->name, bk->err);
    return -1;
}

int model_weights_changed(model *m, char *err, size_t errcap) {
    unmap_weights(m);
    return map_weights(m, err, errcap);
}

/* ---------- scratch ---------- */

static void scratch_free(model *m) {
    scratch *s = &m->s;
    bk_backend *bk = m->core.bk;
    float *dev[] = {s->x, s->xb, s->q, s->k, s->v, s->att, s->x_mid, s->proj, s->gate, s->up, s->cs};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) bk->op.free(bk, dev[i]);
    free(s->pos); free(s->slot); free(s->tok);
    memset(s, 0, sizeof *s);
}

static int scratch_reserve(model *m, int T) {
    scratch *s = &m->s;
    if (T <= s->cap_tokens) return 0;
    const model_config *c = &m->cfg;
    bk_backend *bk = m->core.bk;
    size_t t = (size_t)T, H = (size_t)c->hidden_size, qd = (size_t)c->num_heads * c->head_dim;
    size_t kvd = (size_t)c->num_kv_heads * c->head_dim, I = (size_t)c->intermediate_size;
    scratch_free(m);
#define DEV(n) bk->op.alloc(bk, (n) * sizeof(float))
    s->x = DEV(t * H); s->xb = DEV(t * H); s->q = DEV(t * qd); s->k = DEV(t * kvd); s->v = DEV(t * kvd);
    s->att = DEV(t * qd); s->x_mid = DEV(t * H); s->proj = DEV(t * H); s->gate = DEV(t * I); s->up = DEV(t * I);
    s->cs = DEV(t * (size_t)c->head_dim);
#undef DEV
    s->pos = malloc(t * sizeof(int));
    s->slot = malloc(t * sizeof(int));
    s->tok = malloc(t * sizeof(int));
    if (!s->x || !s->xb || !s->q || !s->k || !s->v || !s->att || !s->x_mid || !s->proj || !s->gate || !s->up ||
        !s->cs || !s->pos || !s->slot || !s->tok) {
        scratch_free(m);
        return -1;
    }
    s->cap_tokens = T;
    return 0;
}

void model_free(model *m) {
    if (!m) return;
    fwd_profile_print();
    if (m->core.bk) {
        m->core.bk->op.free(m->core.bk, m->dl);
        m->core.bk->op.free(m->core.bk, m->kept);
        free(m->rows_host);
        scratch_free(m);
        unmap_weights(m);
    }
    free(m->core.layers);
    if (m->layers)
        for (int l = 0; l < m->cfg.num_layers; l++) {
            layer_weights *w = &m->layers[l];
            free(w->attn_norm); free(w->mlp_norm); free(w->bq); free(w->bk); free(w->bv);
        }
    free(m->layers);
    free(m->final_norm);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    for (int i = 0; i < m->n_files; i++) st_close(m->files[i]);
    free(m->files);
    free(m);
}

const model_config *model_get_config(const model *m) { return &m->cfg; }

void model_set_precision(model *m, model_precision p) { m->core.flags = p == MODEL_PRECISION_FAST ? BK_FAST : 0; }
model_precision model_get_precision(const model *m) {
    return (m->core.flags & BK_FAST) ? MODEL_PRECISION_FAST : MODEL_PRECISION_EXACT;
}
size_t model_num_params(const model *m) { return m->n_params; }

/* ---------- KV cache ---------- */

kv_cache *kv_create_dtype(const model *m, int n_slots, int max_len, bool bf16) {
    if (n_slots <= 0 || max_len <= 0) return NULL;
    kv_cache *kv = calloc(1, sizeof *kv);
    if (!kv) return NULL;
    kv->bk = m->core.bk;
    kv->n_slots = n_slots;
    kv->max_len = max_len;
    kv->bf16 = bf16;
    kv->len = calloc((size_t)n_slots, sizeof *kv->len);
    kv->kv = kv->bk->op.kv_create(kv->bk, n_slots, max_len, m->cfg.num_layers, m->cfg.num_kv_heads * m->cfg.head_dim,
                                  bf16);
    if (!kv->len || !kv->kv) { kv_free(kv); return NULL; }
    return kv;
}

kv_cache *kv_create(const model *m, int n_slots, int max_len) { return kv_create_dtype(m, n_slots, max_len, false); }

size_t kv_bytes_per_token(const model *m, bool bf16) {
    return (size_t)2 * m->cfg.num_layers * m->cfg.num_kv_heads * m->cfg.head_dim * (bf16 ? 2 : 4);
}

void kv_free(kv_cache *kv) {
    if (!kv) return;
    if (kv->kv) kv->bk->op.kv_free(kv->bk, kv->kv);
    free(kv->len);
    free(kv);
}

static inline bool slot_ok(const kv_cache *kv, int slot) { return slot >= 0 && slot < kv->n_slots; }
int kv_len(const kv_cache *kv, int slot) { return slot_ok(kv, slot) ? kv->len[slot] : -1; }
int kv_max_len(const kv_cache *kv) { return kv->max_len; }
void kv_clear(kv_cache *kv, int slot) {
    if (slot_ok(kv, slot)) kv->len[slot] = 0;
}

void kv_copy(kv_cache *kv, int dst, int src) {
    if (dst == src || !slot_ok(kv, dst) || !slot_ok(kv, src)) return;
    kv->bk->op.kv_copy(kv->bk, kv->kv, dst, src, kv->len[src]);
    kv->len[dst] = kv->len[src];
}

/* ---------- forward ---------- */

/* Runs all layers for T rows that belong to slots (s->slot, s->pos filled in, s->x embedded) and leaves the
 * residual stream in s->x. Rows of one slot are consecutive and in position order. */
static int run_layers(model *m, kv_cache *kv, int T, char *err, size_t errcap) {
    const model_config *c = &m->cfg;
    scratch *s = &m->s;
    bk_backend *bk = m->core.bk;
    bk->op.rope_table(bk, s->cs, s->pos, T, c->head_dim, (float)c->rope_theta);
    const fwd_batch b = {.T = T, .cs = s->cs, .kv = kv->kv, .slots = s->slot, .pos = s->pos};
    /* Inference keeps nothing for a backward: one norm buffer, and the SwiGLU written over the gate. */
    fwd_acts a = {.h1 = s->xb, .q = s->q, .k = s->k, .v = s->v, .att = s->att, .x_mid = s->x_mid, .h2 = s->xb,
                  .g = s->gate, .u = s->up, .act = s->gate};
    fwd_work w = {.tmp = s->proj};
    for (int l = 0; l < c->num_layers; l++)
        if (fwd_layer_forward(&m->core, l, &b, &a, &w, s->x, s->x, false, err, errcap) != 0) return -1;
    return 0;
}

static int check_token(const model *m, int tok, char *err, size_t errcap) {
    if (tok < 0 || tok >= m->cfg.vocab_size) {
        err_set(err, errcap, "model: token id %d is outside the vocabulary (0..%d)", tok, m->cfg.vocab_size - 1);
        return -1;
    }
    return 0;
}

/* Embeds the entries' tokens into s->x and records slot/position per row. */
static int prepare(model *m, kv_cache *kv, int n, const int *slots, const int *const *tokens, const int *ntok, int *T_out,
                   char *err, size_t errcap) {
    int T = 0;
    for (int i = 0; i < n; i++) {
        if (slots[i] < 0 || slots[i] >= kv->n_slots) {
            err_set(err, errcap, "model: slot %d does not exist (cache has %d)", slots[i], kv->n_slots);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (slots[j] == slots[i]) {
                err_set(err, errcap, "model: slot %d appears twice in one batch", slots[i]);
                return -1;
            }
        if (ntok[i] < 1) { err_set(err, errcap, "model: entry %d has no tokens", i); return -1; }
        if (kv->len[slots[i]] + ntok[i] > kv->max_len) {
            err_set(err, errcap, "model: slot %d would hold %d tokens, more than the cache's %d", slots[i],
                   kv->len[slots[i]] + ntok[i], kv->max_len);
            return -1;
        }
        for (int j = 0; j < ntok[i]; j++)
            if (check_token(m, tokens[i][j], err, errcap)) return -1;
        T += ntok[i];
    }
    if (scratch_reserve(m, T) != 0) { err_set(err, errcap, "model: out of memory for %d tokens", T); return -1; }
    scratch *s = &m->s;
    int t = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < ntok[i]; j++, t++) {
            s->slot[t] = slots[i];
            s->pos[t] = kv->len[slots[i]] + j;
            s->tok[t] = tokens[i][j];
        }
    m->core.bk->op.embed(m->core.bk, s->x, &m->core.embed, s->tok, T);
    *T_out = T;
    return 0;
}

/* Final norm of rows (gathered by index) and the head: logits[r] (host) for rows[r]. */
static int head_rows(model *m, const int *rows, int nr, float *logits, char *err, size_t errcap) {
    bk_backend *bk = m->core.bk;
    const size_t H = (size_t)m->cfg.hidden_size, V = (size_t)m->cfg.vocab_size;
    float *h = bk->op.alloc(bk, (size_t)nr * H * sizeof(float));
    float *lg = bk->host_memory ? logits : bk->op.alloc(bk, (size_t)nr * V * sizeof(float));
    int rc = -1;
    if (!h || !lg) {
        err_set(err, errcap, "model: out of memory");
    } else {
        fwd_logits(&m->core, lg, m->s.x, rows, nr, h);
        rc = lg == logits ? 0 : bk->op.download(bk, logits, lg, (size_t)nr * V * sizeof(float));
        if (rc) err_set(err, errcap, "model: %s", bk->err);
    }
    bk->op.free(bk, h);
    if (lg != logits) bk->op.free(bk, lg);
    return rc;
}

int model_forward(model *m, kv_cache *kv, int n, const int *slots, const int *const *tokens, const int *ntok,
                  float *logits, char *err, size_t errcap) {
    int T;
    if (n <= 0) return 0;
    if (prepare(m, kv, n, slots, tokens, ntok, &T, err, errcap) != 0) return -1;
    if (run_layers(m, kv, T, err, errcap) != 0) return -1;
    for (int i = 0; i < n; i++) kv->len[slots[i]] += ntok[i];
    if (!logits) return 0;
    int *last = malloc((size_t)n * sizeof(int));
    if (!last) { err_set(err, errcap, "model: out of memory"); return -1; }
    for (int i = 0, t = 0; i < n; i++) {
        t += ntok[i];
        last[i] = t - 1;
    }
    int rc = head_rows(m, last, n, logits, err, errcap);
    free(last);
    return rc;
}

/* Runs the layers over a whole sequence in a temporary one-slot cache. */
static kv_cache *run_full(model *m, const int *tokens, int ntok, char *err, size_t errcap) {
    if (ntok < 1) { err_set(err, errcap, "model: no tokens"); return NULL; }
    kv_cache *kv = kv_create(m, 1, ntok);
    if (!kv) { err_set(err, errcap, "model: out of memory for a %d-token cache", ntok); return NULL; }
    int slot = 0, T;
    if (prepare(m, kv, 1, &slot, &tokens, &ntok, &T, err, errcap) != 0 || run_layers(m, kv, T, err, errcap) != 0) {
        kv_free(kv);
        return NULL;
    }
    return kv;
}

int model_forward_full(model *m, const int *tokens, int ntok, float *logits, char *err, size_t errcap) {
    kv_cache *kv = run_full(m, tokens, ntok, err, errcap);
    if (!kv) return -1;
    kv_free(kv);
    int *rows = malloc((size_t)ntok * sizeof(int));
    if (!rows) { err_set(err, errcap, "model: out of memory"); return -1; }
    for (int i = 0; i < ntok; i++) rows[i] = i;
    int rc = head_rows(m, rows, ntok, logits, err, errcap);
    free(rows);
    return rc;
}

int model_logprobs(model *m, const int *tokens, int ntok, float *logprobs, char *err, size_t errcap) {
    if (ntok < 2) { err_set(err, errcap, "model: scoring needs at least 2 tokens, got %d", ntok); return -1; }
    kv_cache *kv = run_full(m, tokens, ntok, err, errcap);
    if (!kv) return -1;
    kv_free(kv);
    bk_backend *bk = m->core.bk;
    const int V = m->cfg.vocab_size, H = m->cfg.hidden_size, chunk = 16;
    float *lg = bk->op.alloc(bk, (size_t)chunk * V * sizeof(float));
    float *h = bk->op.alloc(bk, (size_t)chunk * H * sizeof(float));
    float *lp = bk->op.alloc(bk, (size_t)chunk * sizeof(float));
    int rows[16], rc = 0;
    if (!lg || !h || !lp) { err_set(err, errcap, "model: out of memory"); rc = -1; }
    for (int r0 = 0; rc == 0 && r0 < ntok - 1; r0 += chunk) {
        int nr = ntok - 1 - r0 < chunk ? ntok - 1 - r0 : chunk;
        for (int r = 0; r < nr; r++) rows[r] = r0 + r;
        fwd_logits(&m->core, lg, m->s.x, rows, nr, h);
        bk->op.logprobs(bk, lp, lg, tokens + r0 + 1, nr, V);
        if (bk->op.download(bk, logprobs + r0, lp, (size_t)nr * sizeof(float)) != 0) {
            err_set(err, errcap, "model: %s", bk->err);
            rc = -1;
        }
    }
    bk->op.free(bk, lg);
    bk->op.free(bk, h);
    bk->op.free(bk, lp);
    return rc;
}

/* ---------- sampling on the backend ---------- */

bool model_samples_on_device(const model *m) { return m->core.bk->op.sample != NULL && !m->core.bk->host_memory; }

/* Device logits for n rows and host row indices for n (+ the kept row). */
static int sample_reserve(model *m, int n, char *err, size_t errcap) {
    bk_backend *bk = m->core.bk;
    const size_t V = (size_t)m->cfg.vocab_size;
    if (!m->kept && !(m->kept = bk->op.alloc(bk, V * sizeof(float)))) goto oom;
    if (n <= m->dl_rows) return 0;
    bk->op.free(bk, m->dl);
    free(m->rows_host);
    m->dl_rows = 0;
    m->dl = bk->op.alloc(bk, (size_t)n * V * sizeof(float));
    m->rows_host = malloc((size_t)n * sizeof(int));
    if (!m->dl || !m->rows_host) goto oom;
    m->dl_rows = n;
    return 0;
oom:
    err_set(err, errcap, "model: out of %s memory for the logits of %d rows: %s", bk->name, n, bk->err);
    return -1;
}

int model_forward_sample(model *m, kv_cache *kv, int n, const int *slots, const int *const *tokens, const int *ntok,
                         int n_draw, float temperature, float top_p, int top_k, const uint64_t *seeds, int *ids,
                         float *lps, bool keep_last, char *err, size_t errcap) {
    bk_backend *bk = m->core.bk;
    if (!model_samples_on_device(m)) {
        err_set(err, errcap, "model: the %s backend does not sample on its own", bk->name);
        return -1;
    }
    if (n <= 0) return 0;
    if (n_draw < 0 || n_draw > n) {
        err_set(err, errcap, "model: %d draws for %d entries", n_draw, n);
        return -1;
    }
    int T;
    if (prepare(m, kv, n, slots, tokens, ntok, &T, err, errcap) != 0) return -1;
    if (run_layers(m, kv, T, err, errcap) != 0) return -1;
    for (int i = 0; i < n; i++) kv->len[slots[i]] += ntok[i];
    if (sample_reserve(m, n, err, errcap) != 0) return -1;
    for (int i = 0, t = 0; i < n; i++) {
        t += ntok[i];
        m->rows_host[i] = t - 1;
    }
    const int V = m->cfg.vocab_size;
    /* the normed rows go where the layers' norm output was (s->xb, T >= n rows): nothing else to allocate */
    fwd_logits(&m->core, m->dl, m->s.x, m->rows_host, n, m->s.xb);
    if (keep_last) bk->op.copy(bk, m->kept, m->dl + (size_t)(n - 1) * V, (size_t)V * sizeof(float));
    const bk_sample_params sp = {temperature, top_p, top_k};
    if (n_draw && bk->op.sample(bk, ids, lps, m->dl, NULL, n_draw, V, &sp, seeds) != 0) {
        err_set(err, errcap, "model: sampling on %s: %s", bk->name, bk->err);
        return -1;
    }
    if (!n_draw && bk->op.sync(bk) != 0) {
        err_set(err, errcap, "model: %s", bk->err);
        return -1;
    }
    return 0;
}

int model_sample_kept(model *m, int n, float temperature, float top_p, int top_k, const uint64_t *seeds, int *ids,
                      float *lps, char *err, size_t errcap) {
    bk_backend *bk = m->core.bk;
    if (!model_samples_on_device(m) || !m->kept) {
        err_set(err, errcap, "model: no kept logits to sample from");
        return -1;
    }
    if (n <= 0) return 0;
    int *rows = calloc((size_t)n, sizeof *rows); /* every draw from row 0: the kept row */
    if (!rows) {
        err_set(err, errcap, "model: out of memory");
        return -1;
    }
    const bk_sample_params sp = {temperature, top_p, top_k};
    int rc = bk->op.sample(bk, ids, lps, m->kept, rows, n, m->cfg.vocab_size, &sp, seeds);
    free(rows);
    if (rc) err_set(err, errcap, "model: sampling on %s: %s", bk->name, bk->err);
    return rc;
}
