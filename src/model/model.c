/* Loading a Hugging Face Qwen2/Llama folder and its forward pass (see model.h). */
#include "model/model.h"
#include "core/err.h"

#include "core/fs.h"
#include "core/jsonl.h"
#include "kernels/expf.h"
#include "kernels/matmul.h"
#include "model/gguf.h"
#include "model/lora_apply.h"
#include "model/model_internal.h"
#include "model/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *attn_norm, *mlp_norm; /* [H], fp32 copies */
    mm_weight q, k, v, o, gate, up, down;
    float *bq, *bk, *bv;         /* fp32 copies, NULL without attention biases */
} layer_weights;

/* Activations for up to cap_tokens rows, grown on demand. */
typedef struct {
    int cap_tokens;
    float *x, *xb, *q, *k, *v, *att, *proj, *gate, *up;
    int *pos, *slot;
} scratch;

struct model {
    model_config cfg;
    st_file **files;
    int n_files;
    mm_weight embed, head;
    unsigned mm_flags; /* MM_FAST in MODEL_PRECISION_FAST */
    float *final_norm;
    layer_weights *layers;
    float *inv_freq; /* [head_dim/2] */
    size_t n_params;
    void **owned;    /* weight buffers that replaced memory-mapped ones (model_own) */
    int n_owned, cap_owned;
    scratch s;
};

struct kv_cache {
    int n_slots, max_len, n_layers, kv_dim;
    int *len;
    bool bf16;    /* elements are bf16 bits (uint16_t) instead of floats */
    size_t esz;   /* bytes per element */
    char *k, *v;  /* [slot][layer][pos][kv_dim] */
};

/* HF_PROFILE=1: wall time per step of the layers, summed over calls, printed to stderr by model_free. */
static const char *const prof_names[] = {"norm+qkv", "rope+kv", "attention", "o_proj",
                                         "norm+gate/up", "silu", "down", "residual"};
static double prof_sec[8];
static int prof_on = -1;
static double prof_t0;
static int prof_last = -1;
static void prof_mark(int step) {
    if (prof_on < 0) prof_on = getenv("HF_PROFILE") && atoi(getenv("HF_PROFILE")) > 0;
    if (!prof_on) return;
    double now = omp_get_wtime();
    if (prof_last >= 0) prof_sec[prof_last] += now - prof_t0;
    prof_t0 = now;
    prof_last = step;
}
#define PROF_MARK(i) prof_mark(i)

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
    if (json_int(j, "bos_token_id", false, -1, -1, 1 << 24, &v, path, err, errcap)) goto done;
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
        if (json_int(g, "bos_token_id", false, c->bos_id, -1, 1 << 24, &v, gpath, err, errcap)) { cJSON_Delete(g); goto done; }
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

static model *model_load_folder(const char *dir, char *err, size_t errcap) {
    model *m = calloc(1, sizeof *m);
    if (!m) { err_set(err, errcap, "%s: out of memory", dir); return NULL; }
    loader L = {.dir = dir};
    mm_blas_single_thread();
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
    m->inv_freq = malloc((size_t)(hd / 2) * sizeof(float));
    if (!m->inv_freq) { err_set(err, errcap, "%s: out of memory", dir); goto fail; }
    /* As HF computes it: in fp32, theta ** (2j / hd). */
    for (int j = 0; j < hd / 2; j++) m->inv_freq[j] = 1.0f / powf((float)c->rope_theta, (float)(2 * j) / (float)hd);
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
static model *load_any(const char *dir, int depth, char *err, size_t errcap) {
    char base[4096];
    int is_adapter = model_adapter_base(dir, base, sizeof base, err, errcap);
    if (is_adapter < 0) return NULL;
    if (!is_adapter) return model_load_folder(dir, err, errcap);
    if (depth >= 8) {
        err_set(err, errcap, "%s: more than 8 adapters stacked on each other (does base_model_name_or_path loop?)", dir);
        return NULL;
    }
    model *m = load_any(base, depth + 1, err, errcap);
    if (!m) return NULL;
    if (model_apply_adapter(m, dir, err, errcap) != 0) {
        model_free(m);
        return NULL;
    }
    return m;
}

model *model_load(const char *dir, char *err, size_t errcap) { return load_any(dir, 0, err, errcap); }

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

static void scratch_free(scratch *s) {
    free(s->x); free(s->xb); free(s->q); free(s->k); free(s->v); free(s->att); free(s->proj);
    free(s->gate); free(s->up); free(s->pos); free(s->slot);
    memset(s, 0, sizeof *s);
}

void model_free(model *m) {
    if (!m) return;
    if (prof_on > 0) {
        for (int i = 0; i < 8; i++) fprintf(stderr, "profile: %-10s %8.3f s\n", prof_names[i], prof_sec[i]);
        memset(prof_sec, 0, sizeof prof_sec);
    }
    if (m->layers)
        for (int l = 0; l < m->cfg.num_layers; l++) {
            layer_weights *w = &m->layers[l];
            free(w->attn_norm); free(w->mlp_norm); free(w->bq); free(w->bk); free(w->bv);
        }
    free(m->layers);
    free(m->final_norm);
    free(m->inv_freq);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    for (int i = 0; i < m->n_files; i++) st_close(m->files[i]);
    free(m->files);
    scratch_free(&m->s);
    free(m);
}

const model_config *model_get_config(const model *m) { return &m->cfg; }

void model_set_precision(model *m, model_precision p) { m->mm_flags = p == MODEL_PRECISION_FAST ? MM_FAST : 0; }
model_precision model_get_precision(const model *m) {
    return (m->mm_flags & MM_FAST) ? MODEL_PRECISION_FAST : MODEL_PRECISION_EXACT;
}
size_t model_num_params(const model *m) { return m->n_params; }

/* ---------- KV cache ---------- */

kv_cache *kv_create_dtype(const model *m, int n_slots, int max_len, bool bf16) {
    if (n_slots <= 0 || max_len <= 0) return NULL;
    kv_cache *kv = calloc(1, sizeof *kv);
    if (!kv) return NULL;
    kv->n_slots = n_slots;
    kv->max_len = max_len;
    kv->n_layers = m->cfg.num_layers;
    kv->kv_dim = m->cfg.num_kv_heads * m->cfg.head_dim;
    kv->bf16 = bf16;
    kv->esz = bf16 ? 2 : 4;
    size_t per = (size_t)kv->n_layers * (size_t)max_len * (size_t)kv->kv_dim;
    if (per && (size_t)n_slots > SIZE_MAX / kv->esz / per) { free(kv); return NULL; }
    /* calloc of a large block maps zero pages lazily: memory is used only as slots fill. */
    kv->len = calloc((size_t)n_slots, sizeof *kv->len);
    kv->k = calloc((size_t)n_slots * per, kv->esz);
    kv->v = calloc((size_t)n_slots * per, kv->esz);
    if (!kv->len || !kv->k || !kv->v) { kv_free(kv); return NULL; }
    return kv;
}

kv_cache *kv_create(const model *m, int n_slots, int max_len) { return kv_create_dtype(m, n_slots, max_len, false); }

size_t kv_bytes_per_token(const model *m, bool bf16) {
    return (size_t)2 * m->cfg.num_layers * m->cfg.num_kv_heads * m->cfg.head_dim * (bf16 ? 2 : 4);
}

void kv_free(kv_cache *kv) {
    if (!kv) return;
    free(kv->len);
    free(kv->k);
    free(kv->v);
    free(kv);
}

static inline bool slot_ok(const kv_cache *kv, int slot) { return slot >= 0 && slot < kv->n_slots; }
int kv_len(const kv_cache *kv, int slot) { return slot_ok(kv, slot) ? kv->len[slot] : -1; }
int kv_max_len(const kv_cache *kv) { return kv->max_len; }
void kv_clear(kv_cache *kv, int slot) {
    if (slot_ok(kv, slot)) kv->len[slot] = 0;
}

/* Byte offset of (slot, layer, pos). */
static inline size_t kv_off(const kv_cache *kv, int slot, int layer, int pos) {
    return (((size_t)slot * kv->n_layers + (size_t)layer) * kv->max_len + (size_t)pos) * kv->kv_dim * kv->esz;
}

void kv_copy(kv_cache *kv, int dst, int src) {
    if (dst == src || !slot_ok(kv, dst) || !slot_ok(kv, src)) return;
    int n = kv->len[src];
    for (int l = 0; l < kv->n_layers; l++) {
        memcpy(kv->k + kv_off(kv, dst, l, 0), kv->k + kv_off(kv, src, l, 0), (size_t)n * kv->kv_dim * kv->esz);
        memcpy(kv->v + kv_off(kv, dst, l, 0), kv->v + kv_off(kv, src, l, 0), (size_t)n * kv->kv_dim * kv->esz);
    }
    kv->len[dst] = n;
}

/* ---------- forward ---------- */

static int scratch_reserve(model *m, int T) {
    scratch *s = &m->s;
    if (T <= s->cap_tokens) return 0;
    const model_config *c = &m->cfg;
    size_t t = (size_t)T, H = (size_t)c->hidden_size, qd = (size_t)c->num_heads * c->head_dim;
    size_t kvd = (size_t)c->num_kv_heads * c->head_dim, I = (size_t)c->intermediate_size;
    scratch_free(s);
    s->x = malloc(t * H * sizeof(float));
    s->xb = malloc(t * H * sizeof(float));
    s->q = malloc(t * qd * sizeof(float));
    s->k = malloc(t * kvd * sizeof(float));
    s->v = malloc(t * kvd * sizeof(float));
    s->att = malloc(t * qd * sizeof(float));
    s->proj = malloc(t * H * sizeof(float));
    s->gate = malloc(t * I * sizeof(float));
    s->up = malloc(t * I * sizeof(float));
    s->pos = malloc(t * sizeof(int));
    s->slot = malloc(t * sizeof(int));
    if (!s->x || !s->xb || !s->q || !s->k || !s->v || !s->att || !s->proj || !s->gate || !s->up || !s->pos || !s->slot) {
        scratch_free(s);
        return -1;
    }
    s->cap_tokens = T;
    return 0;
}

/* HF RMSNorm: x * rsqrt(mean(x^2) + eps), then * weight; the sum in double keeps long rows exact. */
static void rmsnorm_rows(float *out, const float *x, const float *w, int T, int H, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)T * H > 32768)
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * H;
        float *o = out + (size_t)t * H;
        double ss = 0;
        for (int i = 0; i < H; i++) ss += (double)xr[i] * xr[i];
        float r = 1.0f / sqrtf((float)(ss / H) + eps);
        for (int i = 0; i < H; i++) o[i] = xr[i] * r * w[i];
    }
}

/* Rotate-half RoPE on every head of one row: pairs (i, i + hd/2). */
static void rope_row(float *v, int nheads, int hd, const float *cosv, const float *sinv) {
    int half = hd / 2;
    for (int h = 0; h < nheads; h++) {
        float *x = v + (size_t)h * hd;
        for (int i = 0; i < half; i++) {
            float a = x[i], b = x[i + half];
            x[i] = a * cosv[i] - b * sinv[i];
            x[i + half] = b * cosv[i] + a * sinv[i];
        }
    }
}


/* Decode attention of the group query heads that share one KV head, over an fp32 cache: out[i] =
 * softmax(scale * q[i] . K[p]) . V[p] over the n cached positions p. q and out hold group rows of hd
 * floats; K and V rows are kvd floats apart; scores is scratch for group * n floats. Own loops (AVX-512
 * where the build has it, plain loops the compiler vectorises otherwise): with a handful of queries
 * against a few hundred keys, a BLAS call costs more than the arithmetic (it made attention 55% of a
 * 256-token decode). */
static void attend_decode_f32(float *out, const float *q, const float *K, const float *V, size_t kvd, int group,
                              int n, int hd, float scale, float *scores) {
    for (int p = 0; p < n; p++) {
        const float *kr = K + (size_t)p * kvd;
        for (int i = 0; i < group; i++) {
            const float *qi = q + (size_t)i * hd;
            float d = 0;
#ifdef __AVX512F__
            if (hd % 16 == 0) { /* one tree reduction per dot product, not a scalar loop over the lanes */
                __m512 acc = _mm512_setzero_ps();
                for (int j = 0; j < hd; j += 16)
                    acc = _mm512_fmadd_ps(_mm512_loadu_ps(qi + j), _mm512_loadu_ps(kr + j), acc);
                scores[(size_t)i * n + p] = _mm512_reduce_add_ps(acc) * scale;
                continue;
            }
#endif
#pragma omp simd reduction(+ : d)
            for (int j = 0; j < hd; j++) d += qi[j] * kr[j];
            scores[(size_t)i * n + p] = d * scale;
        }
    }
    for (int i = 0; i < group; i++) {
        mm_softmax_row(scores + (size_t)i * n, n);
        memset(out + (size_t)i * hd, 0, (size_t)hd * sizeof(float));
    }
#ifdef __AVX512F__
    if (group <= 8 && hd % 32 == 0) { /* every Qwen2.5 size: the group's outputs stay in registers, 32 dims at a time */
        for (int h0 = 0; h0 < hd; h0 += 32) {
            __m512 a0[8], a1[8];
            for (int i = 0; i < group; i++) a0[i] = a1[i] = _mm512_setzero_ps();
            for (int p = 0; p < n; p++) {
                const float *vr = V + (size_t)p * kvd + h0;
                const __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);
                for (int i = 0; i < group; i++) {
                    const __m512 w = _mm512_set1_ps(scores[(size_t)i * n + p]);
                    a0[i] = _mm512_fmadd_ps(w, v0, a0[i]);
                    a1[i] = _mm512_fmadd_ps(w, v1, a1[i]);
                }
            }
            for (int i = 0; i < group; i++) {
                _mm512_storeu_ps(out + (size_t)i * hd + h0, a0[i]);
                _mm512_storeu_ps(out + (size_t)i * hd + h0 + 16, a1[i]);
            }
        }
        return;
    }
#endif
    for (int p = 0; p < n; p++) {
        const float *vr = V + (size_t)p * kvd;
        for (int i = 0; i < group; i++) {
            const float w = scores[(size_t)i * n + p];
            float *oi = out + (size_t)i * hd;
#pragma omp simd
            for (int j = 0; j < hd; j++) oi[j] += w * vr[j];
        }
    }
}

/* Blocked attention for prompt rows: runs of at least ATT_BLOCK_MIN rows, ATT_QB queries per block. */
#define ATT_BLOCK_MIN 16
#define ATT_QB 64

/* Runs all layers for T rows that belong to slots (s->slot, s->pos filled in) and leaves the
 * residual stream in s->x. Rows of one slot are consecutive and in position order. */
static int run_layers(model *m, kv_cache *kv, int T, char *err, size_t errcap) {
    const model_config *c = &m->cfg;
    scratch *s = &m->s;
    const int H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    const int qd = nh * hd, kvd = nkv * hd, group = nh / nkv, half = hd / 2;
    const float eps = (float)c->rms_eps, scale = 1.0f / sqrtf((float)hd);
    int nthreads = omp_get_max_threads();
    int maxpos = 0;
    for (int t = 0; t < T; t++) maxpos = s->pos[t] + 1 > maxpos ? s->pos[t] + 1 : maxpos;
    long attn_work = 0; /* multiply-adds of one layer's attention */
    for (int t = 0; t < T; t++) attn_work += (long)(s->pos[t] + 1) * nh * hd;
    float *rope = malloc((size_t)T * hd * sizeof(float)); /* per row: cos[half], sin[half] */
    float *scores = malloc((size_t)nthreads * (size_t)group * (size_t)maxpos * sizeof(float));
    /* Prompt rows (runs of >= ATT_BLOCK_MIN consecutive rows of one slot, fp32 cache) take the blocked attention
     * path: per head and block of ATT_QB queries, scores and weighted values are two small sgemms. */
    int *run_of = malloc((size_t)T * sizeof(int)); /* row -> its blocked run, or -1 */
    int *runs = malloc((size_t)T * sizeof(int));   /* first row of each blocked run */
    int nruns = 0, n_att_tasks = 0;
    float *blk = NULL;
    if (run_of && runs) {
        for (int t = 0; t < T;) {
            int e = t + 1;
            while (e < T && s->slot[e] == s->slot[t] && s->pos[e] == s->pos[e - 1] + 1) e++;
            bool blocked = !kv->bf16 && e - t >= ATT_BLOCK_MIN;
            for (int r = t; r < e; r++) run_of[r] = blocked ? nruns : -1;
            if (blocked) {
                runs[nruns++] = t;
                n_att_tasks += (e - t + ATT_QB - 1) / ATT_QB * nh;
            }
            t = e;
        }
        if (nruns) blk = malloc((size_t)nthreads * ATT_QB * (size_t)maxpos * sizeof(float));
    }
    if (!rope || !scores || !run_of || !runs || (nruns && !blk)) {
        free(run_of);
        free(runs);
        free(blk);
        free(rope);
        free(scores);
        err_set(err, errcap, "model: out of memory for %d tokens", T);
        return -1;
    }
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            float ang = (float)s->pos[t] * m->inv_freq[i];
            rope[(size_t)t * hd + i] = cosf(ang);
            rope[(size_t)t * hd + half + i] = sinf(ang);
        }
    for (int l = 0; l < c->num_layers; l++) {
        const layer_weights *w = &m->layers[l];
        PROF_MARK(0);
        rmsnorm_rows(s->xb, s->x, w->attn_norm, T, H, eps);
        {
            float *outs[3] = {s->q, s->k, s->v};
            const mm_weight *ws[3] = {&w->q, &w->k, &w->v};
            const float *bs[3] = {w->bq, w->bk, w->bv};
            mm_linear_many(3, outs, ws, bs, s->xb, T, m->mm_flags);
        }
        PROF_MARK(1);
        for (int t = 0; t < T; t++) {
            const float *cs = rope + (size_t)t * hd;
            rope_row(s->q + (size_t)t * qd, nh, hd, cs, cs + half);
            rope_row(s->k + (size_t)t * kvd, nkv, hd, cs, cs + half);
            size_t off = kv_off(kv, s->slot[t], l, s->pos[t]);
            if (kv->bf16) {
                uint16_t *kd = (uint16_t *)(kv->k + off), *vd = (uint16_t *)(kv->v + off);
                for (int i = 0; i < kvd; i++) {
                    kd[i] = st_f32_to_bf16(s->k[(size_t)t * kvd + i]);
                    vd[i] = st_f32_to_bf16(s->v[(size_t)t * kvd + i]);
                }
            } else {
                memcpy(kv->k + off, s->k + (size_t)t * kvd, (size_t)kvd * sizeof(float));
                memcpy(kv->v + off, s->v + (size_t)t * kvd, (size_t)kvd * sizeof(float));
            }
        }
        PROF_MARK(2);
        if (nruns) {
#pragma omp parallel for schedule(dynamic, 1)
            for (int task = 0; task < n_att_tasks; task++) {
                /* task -> (run, query block, head) */
                int rem = task, r = 0, len = 0;
                for (;; r++) {
                    int t0 = runs[r];
                    len = 1;
                    while (t0 + len < T && run_of[t0 + len] == r) len++;
                    int nt_r = (len + ATT_QB - 1) / ATT_QB * nh;
                    if (rem < nt_r) break;
                    rem -= nt_r;
                }
                const int h = rem % nh, qb0 = (rem / nh) * ATT_QB, t0 = runs[r] + qb0;
                const int nq = len - qb0 < ATT_QB ? len - qb0 : ATT_QB;
                const int kvh = h / group, nkeys = s->pos[t0 + nq - 1] + 1, p0 = s->pos[t0];
                const size_t base = kv_off(kv, s->slot[t0], l, 0);
                const float *K = (const float *)(kv->k + base) + (size_t)kvh * hd;
                const float *V = (const float *)(kv->v + base) + (size_t)kvh * hd;
                float *S = blk + (size_t)omp_get_thread_num() * ATT_QB * maxpos;
                mm_f32_nt_strided(S, nkeys, s->q + (size_t)t0 * qd + (size_t)h * hd, qd, K, kvd, nq, nkeys, hd, scale);
                for (int i = 0; i < nq; i++) {
                    float *row = S + (size_t)i * nkeys;
                    const int n = p0 + i + 1; /* causal: keys 0..pos */
                    mm_softmax_row(row, n);
                    for (int p = n; p < nkeys; p++) row[p] = 0;
                }
                mm_f32_nn_strided(s->att + (size_t)t0 * qd + (size_t)h * hd, qd, S, nkeys, V, kvd, nq, hd, nkeys);
            }
        }
        /* Decode rows, fp32 cache: the heads that share a KV head attend together (each cached key and value is
         * read once for the whole group). Threads only when there is enough work to pay for waking them (a
         * short one-sequence step is a few us). */
        if (!kv->bf16) {
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (attn_work >= (1L << 18))
            for (int t = 0; t < T; t++)
                for (int g = 0; g < nkv; g++) {
                    if (run_of[t] >= 0) continue; /* done above */
                    const int n = s->pos[t] + 1;
                    const size_t base = kv_off(kv, s->slot[t], l, 0);
                    const float *K = (const float *)(kv->k + base) + (size_t)g * hd;
                    const float *V = (const float *)(kv->v + base) + (size_t)g * hd;
                    float *S = scores + (size_t)omp_get_thread_num() * group * maxpos;
                    const size_t qoff = (size_t)t * qd + (size_t)g * group * hd;
                    attend_decode_f32(s->att + qoff, s->q + qoff, K, V, (size_t)kvd, group, n, hd, scale, S);
                }
        }
        /* Decode rows, bf16 cache: one head at a time. */
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (kv->bf16 && attn_work >= (1L << 18))
        for (int t = 0; t < T; t++)
            for (int h = 0; h < nh; h++) {
                if (run_of[t] >= 0 || !kv->bf16) continue; /* done above */
                float *sc = scores + (size_t)omp_get_thread_num() * maxpos;
                const float *q = s->q + (size_t)t * qd + (size_t)h * hd;
                const int kvh = h / group, n = s->pos[t] + 1;
                const size_t base = kv_off(kv, s->slot[t], l, 0);
                float mx = -INFINITY;
                const uint16_t *K = (const uint16_t *)(kv->k + base) + (size_t)kvh * hd;
                for (int p = 0; p < n; p++) {
                    const uint16_t *kr = K + (size_t)p * kvd;
                    float d = 0;
#pragma omp simd reduction(+ : d)
                    for (int i = 0; i < hd; i++) d += q[i] * st_bf16_to_f32(kr[i]);
                    sc[p] = d * scale;
                    if (sc[p] > mx) mx = sc[p];
                }
                float sum = 0;
                for (int p = 0; p < n; p++) {
                    sc[p] = expf(sc[p] - mx);
                    sum += sc[p];
                }
                float inv = 1.0f / sum;
                float *o = s->att + (size_t)t * qd + (size_t)h * hd;
                for (int i = 0; i < hd; i++) o[i] = 0;
                const uint16_t *V = (const uint16_t *)(kv->v + base) + (size_t)kvh * hd;
                for (int p = 0; p < n; p++) {
                    const uint16_t *vr = V + (size_t)p * kvd;
                    float a = sc[p] * inv;
#pragma omp simd
                    for (int i = 0; i < hd; i++) o[i] += a * st_bf16_to_f32(vr[i]);
                }
            }
        PROF_MARK(3);
        mm_linear(s->proj, s->att, T, &w->o, NULL, m->mm_flags);
        PROF_MARK(4);
        for (size_t i = 0; i < (size_t)T * H; i++) s->x[i] += s->proj[i];
        rmsnorm_rows(s->xb, s->x, w->mlp_norm, T, H, eps);
        {
            float *outs[2] = {s->gate, s->up};
            const mm_weight *ws[2] = {&w->gate, &w->up};
            mm_linear_many(2, outs, ws, NULL, s->xb, T, m->mm_flags);
        }
        PROF_MARK(5);
#pragma omp parallel for schedule(static) if ((size_t)T * I > 65536)
        for (size_t i = 0; i < (size_t)T * I; i++) {
            float g = s->gate[i];
            s->gate[i] = g / (1.0f + mm_expf(-g)) * s->up[i];
        }
        PROF_MARK(6);
        mm_linear(s->proj, s->gate, T, &w->down, NULL, m->mm_flags);
        PROF_MARK(7);
        for (size_t i = 0; i < (size_t)T * H; i++) s->x[i] += s->proj[i];
    }
    prof_mark(-1);
    prof_last = -1;
    free(run_of);
    free(runs);
    free(blk);
    free(rope);
    free(scores);
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
    const int H = m->cfg.hidden_size;
    int t = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < ntok[i]; j++, t++) {
            s->slot[t] = slots[i];
            s->pos[t] = kv->len[slots[i]] + j;
            mm_weight_row(s->x + (size_t)t * H, &m->embed, tokens[i][j]);
        }
    *T_out = T;
    return 0;
}

/* Final norm of rows (gathered by index) and the head: logits[r] for rows[r]. */
static int head_rows(model *m, const int *rows, int nr, float *logits, char *err, size_t errcap) {
    const int H = m->cfg.hidden_size;
    float *h = malloc((size_t)nr * H * sizeof(float));
    if (!h) { err_set(err, errcap, "model: out of memory"); return -1; }
    for (int r = 0; r < nr; r++) memcpy(h + (size_t)r * H, m->s.x + (size_t)rows[r] * H, (size_t)H * sizeof(float));
    rmsnorm_rows(h, h, m->final_norm, nr, H, (float)m->cfg.rms_eps);
    mm_linear(logits, h, nr, &m->head, NULL, m->mm_flags);
    free(h);
    return 0;
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
    const int V = m->cfg.vocab_size, chunk = 16;
    float *lg = malloc((size_t)chunk * V * sizeof(float));
    int rows[16];
    if (!lg) { err_set(err, errcap, "model: out of memory"); return -1; }
    for (int r0 = 0; r0 < ntok - 1; r0 += chunk) {
        int nr = ntok - 1 - r0 < chunk ? ntok - 1 - r0 : chunk;
        for (int r = 0; r < nr; r++) rows[r] = r0 + r;
        if (head_rows(m, rows, nr, lg, err, errcap) != 0) { free(lg); return -1; }
        for (int r = 0; r < nr; r++) {
            const float *row = lg + (size_t)r * V;
            float mx = -INFINITY;
            for (int i = 0; i < V; i++) mx = row[i] > mx ? row[i] : mx;
            double sum = 0;
            for (int i = 0; i < V; i++) sum += exp((double)(row[i] - mx));
            logprobs[r0 + r] = (float)((double)(row[tokens[r0 + r + 1]] - mx) - log(sum));
        }
    }
    free(lg);
    return 0;
}
