/* PEFT LoRA adapters applied to a loaded model in memory (see lora_apply.h). */
#include "model/lora_apply.h"

#include "core/err.h"
#include "core/fs.h"
#include "model/hub.h"
#include "model/model_internal.h"
#include "model/safetensors.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *read_adapter_config(const char *path, char *err, size_t errcap) {
    size_t len;
    char *text = fs_read_file(path, &len);
    if (!text) {
        err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        err_set(err, errcap, "%s: not a JSON object", path);
        return NULL;
    }
    return j;
}

int model_adapter_base(const char *dir, char *base, size_t cap, char *err, size_t errcap) {
    char path[4096];
    if (!fs_join(path, sizeof path, dir, "adapter_config.json")) {
        err_set(err, errcap, "%s: path too long", dir);
        return -1;
    }
    if (!fs_exists(path)) return 0;
    cJSON *j = read_adapter_config(path, err, errcap);
    if (!j) return -1;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "base_model_name_or_path");
    if (!cJSON_IsString(b) || !b->valuestring[0]) {
        err_set(err, errcap, "%s: no \"base_model_name_or_path\" string: the adapter does not say its base model", path);
        cJSON_Delete(j);
        return -1;
    }
    char name[4096];
    snprintf(name, sizeof name, "%s", b->valuestring);
    cJSON_Delete(j);
    char rel[4096] = "", found[4096] = "";
    if (name[0] == '/') {
        if (fs_is_dir(name)) snprintf(found, sizeof found, "%s", name);
    } else if (fs_join(rel, sizeof rel, dir, name) && fs_is_dir(rel)) {
        snprintf(found, sizeof found, "%s", rel);
    } else if (fs_is_dir(name)) {
        snprintf(found, sizeof found, "%s", name);
    } else {
        char id[128], rev[256], herr[1024];
        if (hub_parse_id(name, id, sizeof id, rev, sizeof rev, herr, sizeof herr) == 0) {
            hub_options o;
            hub_options_init(&o);
            o.offline = HUB_OFFLINE_YES;
            o.no_progress = true;
            if (hub_resolve(name, found, sizeof found, &o, herr, sizeof herr) != 0) {
                err_set(err, errcap,
                        "%s: base model \"%s\" not found: not a folder (as given, nor relative to %s) and not in the "
                        "Hugging Face cache (%s); download it with `halo-forge model download %s`",
                        path, name, dir, herr, name);
                return -1;
            }
        }
    }
    if (!found[0]) {
        err_set(err, errcap, "%s: base model \"%s\" not found (no such folder%s%s, and not a Hub id)", path, name,
                rel[0] ? ", nor " : "", rel);
        return -1;
    }
    char cfg[4096], acfg[4096];
    fs_join(cfg, sizeof cfg, found, "config.json");
    fs_join(acfg, sizeof acfg, found, "adapter_config.json");
    if (!fs_exists(cfg) && !fs_exists(acfg)) {
        err_set(err, errcap, "%s: base model \"%s\" (%s) is not a model folder (no config.json)", path, name, found);
        return -1;
    }
    if (strlen(found) >= cap) {
        err_set(err, errcap, "%s: base model path too long", path);
        return -1;
    }
    snprintf(base, cap, "%s", found);
    return 1;
}

int model_tokenizer_dir(const char *dir, char *out, size_t cap, char *err, size_t errcap) {
    char cur[4096], path[4096], base[4096];
    snprintf(cur, sizeof cur, "%s", dir);
    for (int depth = 0; depth <= 8; depth++) {
        fs_join(path, sizeof path, cur, "tokenizer.json");
        int is_adapter = fs_exists(path) ? 0 : model_adapter_base(cur, base, sizeof base, err, errcap);
        if (is_adapter < 0) return -1;
        if (!is_adapter) {
            snprintf(out, cap, "%s", cur);
            return 0;
        }
        snprintf(cur, sizeof cur, "%s", base);
    }
    err_set(err, errcap, "%s: more than 8 adapters stacked on each other (does base_model_name_or_path loop?)", dir);
    return -1;
}

/* ---------- adapter_config.json ---------- */

typedef struct {
    int rank;
    float scale;
    unsigned targets; /* bit per MODEL_PROJ_* */
} adapter_spec;

static int proj_index(const char *name) {
    for (int p = 0; p < MODEL_NPROJ; p++)
        if (!strcmp(name, model_proj_names[p])) return p;
    return -1;
}

/* A target module name as PEFT accepts it: the module's own name ("q_proj") or a dotted path that ends in it
 * ("self_attn.q_proj"). */
static int add_target(const char *name, unsigned *targets, const char *path, char *err, size_t errcap) {
    const char *last = strrchr(name, '.');
    int p = proj_index(last ? last + 1 : name);
    if (p < 0) {
        err_set(err, errcap,
                "%s: target module \"%s\" does not exist in this model (its linear modules are q_proj, k_proj, "
                "v_proj, o_proj, gate_proj, up_proj, down_proj)", path, name);
        return -1;
    }
    *targets |= 1u << p;
    return 0;
}

/* A PEFT option that is set to something other than its neutral value (null, false, {} or []). */
static bool option_set(const cJSON *j) {
    return j && !cJSON_IsNull(j) && !cJSON_IsFalse(j) &&
           !((cJSON_IsObject(j) || cJSON_IsArray(j)) && cJSON_GetArraySize(j) == 0);
}

static int read_spec(const char *dir, adapter_spec *s, char *err, size_t errcap) {
    char path[4096];
    fs_join(path, sizeof path, dir, "adapter_config.json");
    if (!fs_exists(path)) {
        err_set(err, errcap, "%s: not a LoRA adapter folder (no adapter_config.json)", dir);
        return -1;
    }
    cJSON *j = read_adapter_config(path, err, errcap);
    if (!j) return -1;
    int rc = -1;
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(j, "peft_type");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "r");
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(j, "lora_alpha");
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(j, "target_modules");
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(j, "bias");
    static const char *const unsupported[] = {"use_dora", "rank_pattern", "alpha_pattern", "modules_to_save",
                                              "fan_in_fan_out", NULL};
    if (pt && !(cJSON_IsString(pt) && !strcmp(pt->valuestring, "LORA"))) {
        err_set(err, errcap, "%s: \"peft_type\" is %s, only LORA adapters are supported", path,
                cJSON_IsString(pt) ? pt->valuestring : "not a string");
        goto out;
    }
    if (!r || !cJSON_IsNumber(r) || r->valuedouble != floor(r->valuedouble) || r->valuedouble < 1 ||
        r->valuedouble > 65536) {
        err_set(err, errcap, "%s: %s \"r\" (the LoRA rank, a positive integer)", path, r ? "invalid" : "missing");
        goto out;
    }
    if (!al || !cJSON_IsNumber(al) || !isfinite(al->valuedouble)) {
        err_set(err, errcap, "%s: %s \"lora_alpha\" (a number)", path, al ? "invalid" : "missing");
        goto out;
    }
    for (int i = 0; unsupported[i]; i++)
        if (option_set(cJSON_GetObjectItemCaseSensitive(j, unsupported[i]))) {
            err_set(err, errcap, "%s: \"%s\" is set; halo-forge applies plain LoRA adapters only", path,
                    unsupported[i]);
            goto out;
        }
    if (bias && !cJSON_IsNull(bias) && !(cJSON_IsString(bias) && !strcmp(bias->valuestring, "none"))) {
        err_set(err, errcap, "%s: \"bias\" must be \"none\" (trained biases are not supported)", path);
        goto out;
    }
    s->rank = (int)r->valuedouble;
    s->scale = (float)(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "use_rslora"))
                           ? al->valuedouble / sqrt((double)s->rank)
                           : al->valuedouble / s->rank);
    s->targets = 0;
    if (cJSON_IsString(tm)) {
        if (!strcmp(tm->valuestring, "all-linear")) s->targets = (1u << MODEL_NPROJ) - 1;
        else if (add_target(tm->valuestring, &s->targets, path, err, errcap)) goto out;
    } else if (cJSON_IsArray(tm) && cJSON_GetArraySize(tm) > 0) {
        for (const cJSON *e = tm->child; e; e = e->next) {
            if (!cJSON_IsString(e)) {
                err_set(err, errcap, "%s: \"target_modules\" must list module names (strings)", path);
                goto out;
            }
            if (add_target(e->valuestring, &s->targets, path, err, errcap)) goto out;
        }
    } else {
        err_set(err, errcap, "%s: %s \"target_modules\" (a list of module names)", path, tm ? "invalid" : "missing");
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

/* ---------- adapter_model.safetensors ---------- */

/* Parses a PEFT tensor name "base_model.model.model.layers.L.{self_attn|mlp}.PROJ.lora_{A|B}[.ADAPTER].weight".
 * Returns 0 with layer, proj and which (0 = A, 1 = B), or -1 for any other name. */
static int parse_tensor_name(const char *name, int *layer, int *proj, int *which) {
    static const char prefix[] = "base_model.model.model.layers.";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0) return -1;
    const char *p = name + sizeof prefix - 1;
    if (*p < '0' || *p > '9') return -1;
    char *end;
    long l = strtol(p, &end, 10);
    if (*end != '.' || l > 1000000) return -1;
    p = end + 1;
    bool attn = !strncmp(p, "self_attn.", 10), mlp = !strncmp(p, "mlp.", 4);
    if (!attn && !mlp) return -1;
    p += attn ? 10 : 4;
    const char *dot = strchr(p, '.');
    if (!dot || dot - p >= 16) return -1;
    char pname[16];
    memcpy(pname, p, (size_t)(dot - p));
    pname[dot - p] = '\0';
    int pi = proj_index(pname);
    if (pi < 0 || attn != (pi <= MODEL_PROJ_O)) return -1;
    p = dot + 1;
    if (strncmp(p, "lora_A", 6) != 0 && strncmp(p, "lora_B", 6) != 0) return -1;
    int w = p[5] == 'B';
    p += 6;
    if (strcmp(p, ".weight") != 0) {
        /* one adapter-name component, as some PEFT versions write ("lora_A.default.weight") */
        if (*p != '.') return -1;
        const char *q = strchr(p + 1, '.');
        if (!q || q == p + 1 || strcmp(q, ".weight") != 0) return -1;
    }
    *layer = (int)l;
    *proj = pi;
    *which = w;
    return 0;
}

static void tensor_to_f32(float *dst, const st_tensor *t, size_t n) {
    if (t->dtype == ST_F32) {
        memcpy(dst, t->data, n * sizeof(float));
        return;
    }
    const uint16_t *h = t->data;
    if (t->dtype == ST_BF16)
        for (size_t i = 0; i < n; i++) dst[i] = st_bf16_to_f32(h[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] = st_f16_to_f32(h[i]);
}

static void weight_rows_to_f32(float *dst, const mm_weight *w, int r0, int nr) {
    size_t n = (size_t)nr * (size_t)w->cols, off = (size_t)r0 * (size_t)w->cols;
    if (w->dtype == MM_DTYPE_F32) {
        memcpy(dst, (const float *)w->data + off, n * sizeof(float));
        return;
    }
    const uint16_t *h = (const uint16_t *)w->data + off;
    if (w->dtype == MM_DTYPE_BF16)
        for (size_t i = 0; i < n; i++) dst[i] = st_bf16_to_f32(h[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] = st_f16_to_f32(h[i]);
}

static void f32_to_weight_rows(void *out, mm_dtype dt, const float *src, size_t off, size_t n) {
    if (dt == MM_DTYPE_F32) {
        memcpy((float *)out + off, src, n * sizeof(float));
        return;
    }
    uint16_t *h = (uint16_t *)out + off;
    if (dt == MM_DTYPE_BF16)
        for (size_t i = 0; i < n; i++) h[i] = st_f32_to_bf16(src[i]);
    else
        for (size_t i = 0; i < n; i++) h[i] = st_f32_to_f16(src[i]);
}

/* out = W + scale * B A at W's dtype, in blocks of rows over the OpenMP threads (OpenBLAS runs single-threaded
 * inside, as model_load sets it). -1 when out of memory. */
static int merge_one(void *out, mm_dtype out_dtype, const mm_weight *w, const float *A, const float *B, int rank,
                     float scale) {
    enum { ROWS = 32 };
    const int rows = w->rows, cols = w->cols;
    int failed = 0;
#pragma omp parallel
    {
        float *tmp = malloc((size_t)ROWS * (size_t)cols * sizeof(float));
        if (!tmp) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int r0 = 0; r0 < rows; r0 += ROWS) {
            if (!tmp) continue;
            int nr = rows - r0 < ROWS ? rows - r0 : ROWS;
            weight_rows_to_f32(tmp, w, r0, nr);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, cols, rank, scale, B + (size_t)r0 * rank,
                        rank, A, cols, 1.0f, tmp, cols);
            f32_to_weight_rows(out, out_dtype, tmp, (size_t)r0 * cols, (size_t)nr * cols);
        }
        free(tmp);
    }
    return failed ? -1 : 0;
}

static int apply_adapter(model *m, const char *adapter_dir, bool f32, char *err, size_t errcap) {
    adapter_spec s;
    if (read_spec(adapter_dir, &s, err, errcap)) return -1;
    const model_config *c = model_get_config(m);
    char path[4096];
    fs_join(path, sizeof path, adapter_dir, "adapter_model.safetensors");
    if (!fs_exists(path)) {
        char bin[4096];
        fs_join(bin, sizeof bin, adapter_dir, "adapter_model.bin");
        err_set(err, errcap, "%s: no adapter_model.safetensors%s", adapter_dir,
                fs_exists(bin) ? " (adapter_model.bin is a pickle file, which halo-forge does not read: save the "
                                 "adapter with safe_serialization)"
                               : "");
        return -1;
    }
    st_file *f = st_open(path, err, errcap);
    if (!f) return -1;
    const int nl = c->num_layers;
    const size_t nslots = (size_t)nl * MODEL_NPROJ;
    const st_tensor **pairs = calloc(nslots * 2, sizeof *pairs); /* [layer][proj][A, B] */
    void **outs = calloc(nslots, sizeof *outs);                   /* merged weights, ours until handed over */
    void **given = calloc(nslots, sizeof *given);                 /* merged weights the model owns */
    float *A = NULL, *B = NULL;
    int rc = -1;
    if (!pairs || !outs || !given) {
        err_set(err, errcap, "%s: out of memory", path);
        goto out;
    }

    /* Check everything first: no weight changes unless the whole adapter fits. */
    for (int i = 0; i < f->n_tensors; i++) {
        const st_tensor *t = &f->tensors[i];
        int l, p, which;
        if (parse_tensor_name(t->name, &l, &p, &which) != 0) {
            err_set(err, errcap,
                    "%s: tensor '%s' is not the LoRA A or B weight of a q/k/v/o/gate/up/down projection (halo-forge "
                    "applies LoRA to those only)", path, t->name);
            goto out;
        }
        if (l >= nl) {
            err_set(err, errcap, "%s: tensor '%s' is for layer %d, the base model has %d layers", path, t->name, l, nl);
            goto out;
        }
        if (!(s.targets & (1u << p))) {
            err_set(err, errcap, "%s: tensor '%s' adapts %s, which is not in target_modules", path, t->name,
                    model_proj_names[p]);
            goto out;
        }
        const st_tensor **slot = &pairs[((size_t)l * MODEL_NPROJ + (size_t)p) * 2 + (size_t)which];
        if (*slot) {
            err_set(err, errcap, "%s: two tensors for lora_%c of layer %d %s", path, which ? 'B' : 'A', l,
                    model_proj_names[p]);
            goto out;
        }
        *slot = t;
    }
    unsigned seen = 0;
    for (size_t i = 0; i < nslots; i++) {
        const st_tensor *ta = pairs[2 * i], *tb = pairs[2 * i + 1];
        int l = (int)(i / MODEL_NPROJ), p = (int)(i % MODEL_NPROJ);
        if (!ta && !tb) continue;
        if (!ta || !tb) {
            err_set(err, errcap, "%s: layer %d %s has lora_%c but no lora_%c", path, l, model_proj_names[p],
                    ta ? 'A' : 'B', ta ? 'B' : 'A');
            goto out;
        }
        const mm_weight *w = model_proj_weight(m, l, p);
        if (ta->ndim != 2 || tb->ndim != 2 || ta->shape[0] != s.rank || ta->shape[1] != w->cols ||
            tb->shape[0] != w->rows || tb->shape[1] != s.rank) {
            err_set(err, errcap,
                    "%s: layer %d %s: lora_A has shape [%lld, %lld] and lora_B [%lld, %lld], but r=%d and the base "
                    "model's [%d, %d] weight need [%d, %d] and [%d, %d]",
                    path, l, model_proj_names[p], (long long)ta->shape[0], (long long)(ta->ndim > 1 ? ta->shape[1] : 0),
                    (long long)tb->shape[0], (long long)(tb->ndim > 1 ? tb->shape[1] : 0), s.rank, w->rows, w->cols,
                    s.rank, w->cols, w->rows, s.rank);
            goto out;
        }
        seen |= 1u << p;
    }
    for (int p = 0; p < MODEL_NPROJ; p++)
        if ((s.targets & (1u << p)) && !(seen & (1u << p))) {
            err_set(err, errcap, "%s: target module %s has no lora_A/lora_B tensors", path, model_proj_names[p]);
            goto out;
        }

    /* Merge into new buffers; the model's weights still point at the old ones. */
    for (size_t i = 0; i < nslots; i++) {
        const st_tensor *ta = pairs[2 * i], *tb = pairs[2 * i + 1];
        if (!ta) continue;
        const mm_weight *w = model_proj_weight(m, (int)(i / MODEL_NPROJ), (int)(i % MODEL_NPROJ));
        const mm_dtype odt = f32 ? MM_DTYPE_F32 : w->dtype;
        size_t esz = odt == MM_DTYPE_F32 ? sizeof(float) : sizeof(uint16_t);
        free(A);
        free(B);
        A = malloc((size_t)s.rank * (size_t)w->cols * sizeof(float));
        B = malloc((size_t)s.rank * (size_t)w->rows * sizeof(float));
        /* 64-byte aligned: the matmul kernels peel a scalar head up to the next 64-byte boundary, so a
         * weight's address decides how its sums are split; with malloc's 16 bytes the numbers (and now and
         * then a sampled token) would depend on the process's allocation history, and a resumed run
         * would not sample what an uninterrupted one does. */
        size_t bytes = (size_t)w->rows * (size_t)w->cols * esz;
        outs[i] = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!outs[i] || !A || !B) {
            err_set(err, errcap, "%s: out of memory", path);
            goto out;
        }
        tensor_to_f32(A, ta, (size_t)s.rank * (size_t)w->cols);
        tensor_to_f32(B, tb, (size_t)s.rank * (size_t)w->rows);
        if (merge_one(outs[i], odt, w, A, B, s.rank, s.scale)) {
            err_set(err, errcap, "%s: out of memory", path);
            goto out;
        }
    }
    /* The model owns every new buffer before any weight points at one (on failure none does). */
    for (size_t i = 0; i < nslots; i++) {
        if (!outs[i]) continue;
        if (model_own(m, outs[i])) {
            err_set(err, errcap, "%s: out of memory", path);
            goto out;
        }
        given[i] = outs[i];
        outs[i] = NULL;
    }
    for (size_t i = 0; i < nslots; i++)
        if (given[i]) {
            mm_weight *w = model_proj_weight(m, (int)(i / MODEL_NPROJ), (int)(i % MODEL_NPROJ));
            w->data = given[i];
            if (f32) w->dtype = MM_DTYPE_F32;
        }
    rc = model_weights_changed(m, err, errcap);
out:
    if (outs)
        for (size_t i = 0; i < nslots; i++) free(outs[i]);
    free(outs);
    free(given);
    free(pairs);
    free(A);
    free(B);
    st_close(f);
    return rc;
}

int model_apply_adapter(model *m, const char *adapter_dir, char *err, size_t errcap) {
    return apply_adapter(m, adapter_dir, false, err, errcap);
}

int model_apply_adapter_f32(model *m, const char *adapter_dir, char *err, size_t errcap) {
    return apply_adapter(m, adapter_dir, true, err, errcap);
}

model *model_load_weights_f32(const char *base_dir, const char *weights, bool f32_merge, char *err, size_t errcap) {
    char cfgp[4300];
    bool full = false;
    if (weights) {
        fs_join(cfgp, sizeof cfgp, weights, "adapter_config.json");
        full = !fs_exists(cfgp);
    }
    model *m = model_load(full ? weights : base_dir, err, errcap);
    if (!m) return NULL;
    if (weights && !full && apply_adapter(m, weights, f32_merge, err, errcap)) {
        model_free(m);
        return NULL;
    }
    return m;
}

model *model_load_weights(const char *base_dir, const char *weights, char *err, size_t errcap) {
    return model_load_weights_f32(base_dir, weights, false, err, errcap);
}
