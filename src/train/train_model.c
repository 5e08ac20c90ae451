#include "train/train_model.h"
#include "core/err.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/fs.h"
#include "core/rng.h"
#include "kernels/matmul.h"
#include "model/forward.h"
#include "model/forward_pg.h"
#include "model/lora_apply.h"
#include "model/safetensors.h"

const char *const lora_proj_names[LORA_NPROJ] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                   "gate_proj", "up_proj", "down_proj"};

_Static_assert((int)LORA_NPROJ == (int)FWD_NPROJ && (int)LORA_DOWN == (int)FWD_DOWN, "projection numbering");

typedef struct {
    float *w, *b;       /* base weight [rows, cols] and bias (NULL when none), fp32 arena */
    const uint16_t *w16; /* or the weight as bf16, memory-mapped from the file (frozen base of LoRA) */
    float *dw, *db;     /* their gradients (full fine-tuning), else NULL */
    int rows, cols;
    float *A, *B;       /* adapter [r, cols] and [rows, r], NULL when not adapted */
    float *dA, *dB;
} tlin;

typedef struct {
    float *ln1, *ln2, *dln1, *dln2;
    tlin p[LORA_NPROJ];
} tlayer;


typedef struct {
    st_file **files;
    int n;
    cJSON *weight_map;
    char index_path[4096];
    const char *dir;
} wsrc;

struct train_model {
    model_config cfg;
    char dir[4096];
    lora_config lc;
    float lora_scale;
    float *base, *base_grad;
    size_t n_base;
    float *embed, *head, *norm, *dembed, *dhead, *dnorm;
    const uint16_t *embed16, *head16; /* bf16 embedding / head (frozen, mapped) when embed / head are NULL */
    wsrc src;           /* the open safetensors files (bf16 weights are used in place) */
    unsigned mmflags;   /* MM_FAST for the bf16 products */
    tlayer *layers;     /* the tensors by name and role, for loading, saving and merging */
    fwd_model core;     /* the same weights as the one forward pass (model/forward.h) sees them */
    bk_backend *bk;
    float *lora, *lora_grad;
    size_t n_lora;
    /* On a backend without host memory (a GPU): the device copies of the arenas above (on the CPU these are the
     * host arenas themselves), the device copies of the bf16 matrices used in place on the CPU (mapped[], freed
     * with weight_unmap) and, for full fine-tuning of bf16 weights, per trainable tensor a bf16 working copy of
     * its fp32 master (bf16[i], NULL where none). The host arenas stay as the mirror that checkpoints are
     * written from (train_model_pull) and that loading writes into (train_model_push). */
    float *d_base, *d_base_grad, *d_lora, *d_lora_grad;
    const void **mapped;
    int n_mapped;
    uint16_t **bf16;
    bool base_dirty;    /* the device's base arena was changed (an adapter merged on the device) */
    train_tensor *tens;
    int n_tens;
    bool ckpt;
    uint64_t drop_seed, drop_counter;
    /* buffers sized for cap_T tokens */
    int cap_T, cap_acts;
    float *xs;          /* [L + 1, T, H]: the input of each layer, then the last residual */
    fwd_acts *acts;     /* cap_acts entries (1 with checkpointing, L without) */
    float *acts_arena;
    int *pos;
    float *cs, *dx, *dh, *dtmp, *dq, *dk, *dv, *datt, *dg, *du, *dact, *drop, *dt, *hf, *rstdf;
};

int lora_parse_targets(const char *list, unsigned *mask, char *err, size_t errcap) {
    *mask = 0;
    if (!list || !*list || !strcmp(list, "all") || !strcmp(list, "all-linear")) {
        *mask = LORA_ALL_TARGETS;
        return 0;
    }
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        if (!*p) break;
        size_t n = strcspn(p, ", ");
        int found = -1;
        for (int i = 0; i < LORA_NPROJ; i++)
            if (strlen(lora_proj_names[i]) == n && !strncmp(p, lora_proj_names[i], n)) found = i;
        if (found < 0) {
            err_set(err, errcap, "unknown LoRA target module '%.*s' (expected q_proj, k_proj, v_proj, o_proj, gate_proj, "
                   "up_proj, down_proj or all)", (int)n, p);
            return -1;
        }
        *mask |= 1u << found;
        p += n;
    }
    if (!*mask) {
        err_set(err, errcap, "no LoRA target modules given");
        return -1;
    }
    return 0;
}

/* ---------- loading ---------- */


static void wsrc_close(wsrc *s) {
    for (int i = 0; i < s->n; i++) st_close(s->files[i]);
    free(s->files);
    cJSON_Delete(s->weight_map);
}

static int wsrc_open(wsrc *s, const char *dir, char *err, size_t errcap) {
    memset(s, 0, sizeof *s);
    s->dir = dir;
    char spath[4096];
    fs_join(s->index_path, sizeof s->index_path, dir, "model.safetensors.index.json");
    fs_join(spath, sizeof spath, dir, "model.safetensors");
    if (fs_exists(s->index_path)) {
        char *text = fs_read_file(s->index_path, NULL);
        cJSON *j = text ? cJSON_Parse(text) : NULL;
        free(text);
        cJSON *wm = j ? cJSON_DetachItemFromObjectCaseSensitive(j, "weight_map") : NULL;
        cJSON_Delete(j);
        if (!cJSON_IsObject(wm)) {
            cJSON_Delete(wm);
            err_set(err, errcap, "%s: not JSON with a \"weight_map\" object", s->index_path);
            return -1;
        }
        s->weight_map = wm;
        s->files = calloc((size_t)cJSON_GetArraySize(wm) + 1, sizeof *s->files);
        if (!s->files) { err_set(err, errcap, "%s: out of memory", s->index_path); return -1; }
        for (cJSON *e = wm->child; e; e = e->next) {
            if (!cJSON_IsString(e) || strchr(e->valuestring, '/')) {
                err_set(err, errcap, "%s: bad weight_map entry for '%s'", s->index_path, e->string);
                return -1;
            }
            char path[4096];
            fs_join(path, sizeof path, dir, e->valuestring);
            bool have = false;
            for (int i = 0; i < s->n && !have; i++) have = !strcmp(s->files[i]->path, path);
            if (have) continue;
            if (!(s->files[s->n] = st_open(path, err, errcap))) return -1;
            s->n++;
        }
        return 0;
    }
    s->files = calloc(1, sizeof *s->files);
    if (!s->files) { err_set(err, errcap, "%s: out of memory", dir); return -1; }
    if (!(s->files[0] = st_open(spath, err, errcap))) return -1;
    s->n = 1;
    return 0;
}

static const st_tensor *wsrc_find(wsrc *s, const char *name) {
    for (int i = 0; i < s->n; i++) {
        const st_tensor *t = st_find(s->files[i], name);
        if (t) return t;
    }
    return NULL;
}

static void to_f32(float *dst, const st_tensor *t, size_t n) {
    if (t->dtype == ST_F32) { memcpy(dst, t->data, n * sizeof(float)); return; }
    const uint16_t *h = t->data;
    if (t->dtype == ST_BF16) for (size_t i = 0; i < n; i++) dst[i] = st_bf16_to_f32(h[i]);
    else for (size_t i = 0; i < n; i++) dst[i] = st_f16_to_f32(h[i]);
}

/* The base tensors in a fixed order; visit() is called with the HF name, the address of the
 * pointer to set, its shape (cols = 0 for vectors) and whether weight decay applies. */
typedef void (*visit_fn)(void *ctx, const char *name, float **slot, float **gslot, const uint16_t **slot16, int rows,
                         int cols, bool decay);

static void visit_base(train_model *m, visit_fn visit, void *ctx) {
    const model_config *c = &m->cfg;
    const int H = c->hidden_size, FF = c->intermediate_size, qd = c->num_heads * c->head_dim;
    const int kvd = c->num_kv_heads * c->head_dim;
    visit(ctx, "model.embed_tokens.weight", &m->embed, &m->dembed, &m->embed16, c->vocab_size, H, true);
    if (!c->tie_embeddings) visit(ctx, "lm_head.weight", &m->head, &m->dhead, &m->head16, c->vocab_size, H, true);
    visit(ctx, "model.norm.weight", &m->norm, &m->dnorm, NULL, H, 0, false);
    static const char *const part[LORA_NPROJ] = {"self_attn", "self_attn", "self_attn", "self_attn", "mlp", "mlp", "mlp"};
    for (int l = 0; l < c->num_layers; l++) {
        tlayer *L = &m->layers[l];
        char nm[192];
        snprintf(nm, sizeof nm, "model.layers.%d.input_layernorm.weight", l);
        visit(ctx, nm, &L->ln1, &L->dln1, NULL, H, 0, false);
        snprintf(nm, sizeof nm, "model.layers.%d.post_attention_layernorm.weight", l);
        visit(ctx, nm, &L->ln2, &L->dln2, NULL, H, 0, false);
        const int rows[LORA_NPROJ] = {qd, kvd, kvd, H, FF, FF, H}, cols[LORA_NPROJ] = {H, H, H, qd, H, H, FF};
        for (int p = 0; p < LORA_NPROJ; p++) {
            tlin *P = &L->p[p];
            P->rows = rows[p];
            P->cols = cols[p];
            snprintf(nm, sizeof nm, "model.layers.%d.%s.%s.weight", l, part[p], lora_proj_names[p]);
            visit(ctx, nm, &P->w, &P->dw, &P->w16, rows[p], cols[p], true);
            if (c->attn_bias && p <= LORA_V) {
                snprintf(nm, sizeof nm, "model.layers.%d.%s.%s.bias", l, part[p], lora_proj_names[p]);
                visit(ctx, nm, &P->b, &P->db, NULL, rows[p], 0, false);
            }
        }
    }
}

typedef struct {
    train_model *m;
    size_t off;
    bool assign, grads;
    wsrc *src;
    int rc;
    char *err;
    size_t errcap;
} load_ctx;

static void load_visit(void *vctx, const char *name, float **slot, float **gslot, const uint16_t **slot16, int rows,
                       int cols, bool decay) {
    load_ctx *x = vctx;
    size_t n = (size_t)rows * (size_t)(cols ? cols : 1);
    /* A frozen bf16 matrix is used where the file maps it: no fp32 copy. */
    const st_tensor *t16 = slot16 && x->m->lc.rank > 0 && !x->m->lc.fp32_base ? wsrc_find(x->src, name) : NULL;
    if (t16 && t16->dtype == ST_BF16 && t16->ndim == 2 && t16->shape[0] == rows && t16->shape[1] == cols) {
        *slot16 = t16->data;
        *slot = NULL;
        return;
    }
    if (x->assign) {
        *slot = x->m->base + x->off;
        if (x->grads) {
            *gslot = x->m->base_grad + x->off;
            train_tensor *t = &x->m->tens[x->m->n_tens++];
            snprintf(t->name, sizeof t->name, "%s", name);
            t->data = *slot;
            t->host = *slot;
            t->grad = *gslot;
            t->numel = n;
            t->ndim = cols ? 2 : 1;
            t->shape[0] = rows;
            t->shape[1] = cols;
            t->decay = decay;
        }
        if (x->rc == 0 && x->src) {
            const st_tensor *t = wsrc_find(x->src, name);
            if (!t) {
                err_set(x->err, x->errcap, "%s: missing tensor '%s'", x->m->dir, name);
                x->rc = -1;
            } else if ((cols && (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols)) ||
                       (!cols && (t->ndim != 1 || t->shape[0] != rows))) {
                err_set(x->err, x->errcap, "%s: tensor '%s' does not have the shape config.json implies", x->m->dir, name);
                x->rc = -1;
            } else {
                to_f32(*slot, t, n);
            }
        }
    } else {
        x->m->n_tens++;
    }
    x->off += n;
}

static void kaiming_uniform(float *a, int rows, int cols, rng_state *r) {
    /* PEFT: nn.init.kaiming_uniform_(A, a=sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    float bound = 1.0f / sqrtf((float)cols);
    for (size_t i = 0; i < (size_t)rows * cols; i++) a[i] = (2.0f * rng_float(r) - 1.0f) * bound;
}

/* The one model the forward pass runs (model/forward.h), pointing at the tensors loaded above: the CPU backend
 * works on host memory, so its weights are these arrays themselves (bf16 matrices where the file maps them). */
static bk_weight as_weight(const float *w, const uint16_t *w16, int rows, int cols) {
    return (bk_weight){w16 ? BK_BF16 : BK_F32, rows, cols, w16 ? (const void *)w16 : (const void *)w};
}

/* The backend's copy of a host pointer into one of the arenas (itself on the CPU, and NULL for NULL). */
static float *dev_of(const train_model *m, const float *p) {
    if (!p) return NULL;
    if (m->d_base && p >= m->base && p < m->base + m->n_base) return m->d_base + (p - m->base);
    if (m->d_base_grad && p >= m->base_grad && p < m->base_grad + m->n_base)
        return m->d_base_grad + (p - m->base_grad);
    if (m->d_lora && p >= m->lora && p < m->lora + m->n_lora) return m->d_lora + (p - m->lora);
    if (m->d_lora_grad && p >= m->lora_grad && p < m->lora_grad + m->n_lora)
        return m->d_lora_grad + (p - m->lora_grad);
    return (float *)p;
}

/* The device copy of a memory-mapped bf16 matrix (mapped[] holds them in the order build_core asks). */
static const uint16_t *dev_of16(train_model *m, const uint16_t *w16) {
    if (!w16 || m->bk->host_memory) return w16;
    for (int i = 0; i < m->n_mapped; i += 2)
        if (m->mapped[i] == (const void *)w16) return m->mapped[i + 1];
    return NULL; /* not mapped: build_core's caller maps every one first */
}

static bk_weight dev_weight(train_model *m, const float *w, const uint16_t *w16, int rows, int cols) {
    if (w16) return as_weight(NULL, dev_of16(m, w16), rows, cols);
    return as_weight(dev_of(m, w), NULL, rows, cols);
}

static int build_core(train_model *m) {
    fwd_model *c = &m->core;
    const model_config *cfg = &m->cfg;
    c->cfg = *cfg;
    c->bk = m->bk;
    free(c->layers);
    c->layers = calloc((size_t)cfg->num_layers, sizeof *c->layers);
    if (!c->layers) return -1;
    c->embed = dev_weight(m, m->embed, m->embed16, cfg->vocab_size, cfg->hidden_size);
    c->head = dev_weight(m, m->head, m->head16, cfg->vocab_size, cfg->hidden_size);
    c->norm = dev_of(m, m->norm);
    c->dembed = dev_of(m, m->dembed);
    c->dhead = dev_of(m, m->dhead);
    c->dnorm = dev_of(m, m->dnorm);
    c->lora_rank = m->lc.rank;
    c->lora_scale = m->lora_scale;
    c->lora_dropout = m->lc.dropout;
    c->flags = (m->mmflags & MM_FAST) ? BK_FAST : 0;
    for (int l = 0; l < cfg->num_layers; l++) {
        const tlayer *L = &m->layers[l];
        fwd_layer *F = &c->layers[l];
        F->ln1 = dev_of(m, L->ln1);
        F->ln2 = dev_of(m, L->ln2);
        F->dln1 = dev_of(m, L->dln1);
        F->dln2 = dev_of(m, L->dln2);
        for (int p = 0; p < LORA_NPROJ; p++) {
            const tlin *P = &L->p[p];
            F->p[p] = (fwd_linear){.w = dev_weight(m, P->w, P->w16, P->rows, P->cols), .b = dev_of(m, P->b),
                                   .A = dev_of(m, P->A), .B = dev_of(m, P->B), .dw = dev_of(m, P->dw),
                                   .db = dev_of(m, P->db), .dA = dev_of(m, P->dA), .dB = dev_of(m, P->dB)};
        }
    }
    return 0;
}

static train_model *load_folder(const char *dir, const lora_config *lc, uint64_t init_seed, char *err, size_t errcap) {
    train_model *m = calloc(1, sizeof *m);
    if (!m) { err_set(err, errcap, "%s: out of memory", dir); return NULL; }
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    m->lc = *lc;
    m->ckpt = true;
    m->bk = bk_cpu();
    if (model_read_config(dir, &m->cfg, err, errcap)) goto fail;
    const model_config *c = &m->cfg;
    if (lc->rank < 0 || (lc->rank > 0 && (!(lc->targets & LORA_ALL_TARGETS) || lc->alpha <= 0)) || lc->dropout < 0 ||
        lc->dropout >= 1) {
        err_set(err, errcap, "train: bad LoRA settings (rank %d, alpha %g, dropout %g)", lc->rank, lc->alpha, lc->dropout);
        goto fail;
    }
    m->lora_scale = lc->rank > 0 ? lc->alpha / (float)lc->rank : 0;
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!m->layers) { err_set(err, errcap, "%s: out of memory", dir); goto fail; }
    const bool full = lc->rank == 0;
    if (wsrc_open(&m->src, dir, err, errcap)) goto fail;
    load_ctx lx = {.m = m, .src = &m->src, .err = err, .errcap = errcap};
    visit_base(m, load_visit, &lx); /* sizes and tensor count */
    m->n_base = lx.off;
    int n_base_tens = m->n_tens;
    m->n_tens = 0;
    m->base = malloc(m->n_base * sizeof(float));
    if (full && !lc->no_grad) m->base_grad = calloc(m->n_base, sizeof(float));
    m->tens = calloc((size_t)n_base_tens + (size_t)c->num_layers * LORA_NPROJ * 2, sizeof *m->tens);
    if (!m->base || (full && !lc->no_grad && !m->base_grad) || !m->tens) {
        err_set(err, errcap, "%s: out of memory for %zu parameters", dir, m->n_base);
        goto fail;
    }
    lx = (load_ctx){.m = m, .assign = true, .grads = full && !lc->no_grad, .src = &m->src, .err = err, .errcap = errcap};
    visit_base(m, load_visit, &lx);
    if (lx.rc) goto fail;
    if (c->tie_embeddings) {
        m->head = m->embed;
        m->head16 = m->embed16;
        m->dhead = m->dembed;
    }
    if (!full) {
        const int r = lc->rank;
        size_t n = 0;
        for (int l = 0; l < c->num_layers; l++)
            for (int p = 0; p < LORA_NPROJ; p++)
                if (lc->targets & (1u << p)) n += (size_t)r * (m->layers[l].p[p].rows + m->layers[l].p[p].cols);
        m->n_lora = n;
        m->lora = calloc(n, sizeof(float));
        m->lora_grad = calloc(n, sizeof(float));
        if (!m->lora || !m->lora_grad) { err_set(err, errcap, "train: out of memory for adapters"); goto fail; }
        rng_state rs;
        rng_seed(&rs, init_seed);
        size_t off = 0;
        for (int l = 0; l < c->num_layers; l++)
            for (int p = 0; p < LORA_NPROJ; p++) {
                if (!(lc->targets & (1u << p))) continue;
                tlin *P = &m->layers[l].p[p];
                const char *part = p <= LORA_O ? "self_attn" : "mlp";
                P->A = m->lora + off;
                P->dA = m->lora_grad + off;
                kaiming_uniform(P->A, r, P->cols, &rs);
                train_tensor *t = &m->tens[m->n_tens++];
                *t = (train_tensor){.data = P->A, .host = P->A, .grad = P->dA, .numel = (size_t)r * P->cols, .ndim = 2,
                                    .shape = {r, P->cols}, .decay = true};
                snprintf(t->name, sizeof t->name, "base_model.model.model.layers.%d.%s.%s.lora_A.weight", l, part,
                         lora_proj_names[p]);
                off += (size_t)r * P->cols;
                P->B = m->lora + off;
                P->dB = m->lora_grad + off;
                t = &m->tens[m->n_tens++];
                *t = (train_tensor){.data = P->B, .host = P->B, .grad = P->dB, .numel = (size_t)r * P->rows, .ndim = 2,
                                    .shape = {P->rows, r}, .decay = true};
                snprintf(t->name, sizeof t->name, "base_model.model.model.layers.%d.%s.%s.lora_B.weight", l, part,
                         lora_proj_names[p]);
                off += (size_t)r * P->rows;
            }
    }
    if (build_core(m)) { err_set(err, errcap, "train: out of memory"); goto fail; }
    /* Training multiplies large matrices one at a time: let BLAS use every core. */
    m->bk->op.set_threads(m->bk, 0, true);
    return m;
fail:
    train_model_free(m);
    return NULL;
}

static void free_buffers(train_model *m) {
    bk_backend *bk = m->bk;
    float *dev[] = {m->xs, m->acts_arena, m->cs, m->dx, m->dh, m->dtmp, m->dq, m->dk, m->dv, m->datt,
                    m->dg, m->du, m->dact, m->drop, m->dt, m->hf, m->rstdf};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) bk->op.free(bk, dev[i]);
    free(m->acts);
    free(m->pos);
    m->xs = NULL; m->acts = NULL; m->acts_arena = NULL; m->pos = NULL;
    m->cs = m->dx = m->dh = m->dtmp = m->dq = m->dk = m->dv = m->datt = NULL;
    m->dg = m->du = m->dact = m->drop = m->dt = m->hf = m->rstdf = NULL;
    m->cap_T = 0;
    m->cap_acts = 0;
}

/* An adapter folder: its base (perhaps an adapter itself, up to 8 deep) with the adapter merged into the
 * base weights, which must then be fp32. */
static train_model *load_any(const char *dir, const lora_config *lc, uint64_t init_seed, int depth, char *err,
                             size_t errcap) {
    char base[4096];
    int is_adapter = model_adapter_base(dir, base, sizeof base, err, errcap);
    if (is_adapter < 0) return NULL;
    if (!is_adapter) return load_folder(dir, lc, init_seed, err, errcap);
    if (depth >= 8) {
        err_set(err, errcap, "%s: more than 8 adapters stacked on each other (does base_model_name_or_path loop?)", dir);
        return NULL;
    }
    lora_config l2 = *lc;
    l2.fp32_base = true;
    train_model *m = load_any(base, &l2, init_seed, depth + 1, err, errcap);
    if (m && train_model_merge_adapter(m, dir, err, errcap) != 0) {
        train_model_free(m);
        return NULL;
    }
    return m;
}

train_model *train_model_load(const char *dir, const lora_config *lc, uint64_t init_seed, char *err, size_t errcap) {
    return load_any(dir, lc, init_seed, 0, err, errcap);
}

/* "1.23 GiB" or "4.5 MiB" into a buffer of 32. */
static const char *human_bytes(char *buf, size_t bytes) {
    if (bytes >= (size_t)1 << 30) snprintf(buf, 32, "%.2f GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
    else snprintf(buf, 32, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    return buf;
}

/* Backend memory for n floats holding a copy of host (host NULL: zeroed); NULL when out of memory. */
static float *dev_copy(bk_backend *bk, const float *host, size_t n) {
    float *d = bk->op.alloc(bk, (n ? n : 1) * sizeof(float));
    if (!d) return NULL;
    if (host) {
        if (bk->op.upload(bk, d, host, n * sizeof(float))) {
            bk->op.free(bk, d);
            return NULL;
        }
    } else {
        bk->op.zero(bk, d, n ? n : 1);
    }
    return d;
}

static int map16(train_model *m, const uint16_t *w16, size_t n) {
    if (!w16) return 0;
    for (int i = 0; i < m->n_mapped; i += 2)
        if (m->mapped[i] == (const void *)w16) return 0;
    const void *d = m->bk->op.weight_map(m->bk, w16, n * sizeof(uint16_t));
    if (!d) return -1;
    m->mapped[m->n_mapped++] = w16;
    m->mapped[m->n_mapped++] = d;
    return 0;
}

/* Moves a model loaded on the CPU to bk (no host memory): the arenas are copied to the device, the bf16 matrices
 * mapped, and the one forward pass rebuilt over the device copies. */
static int to_device(train_model *m, bk_backend *bk, char *err, size_t errcap) {
    const model_config *c = &m->cfg;
    const bool full = m->lc.rank == 0;
    size_t need = m->n_base * sizeof(float) * (m->base_grad ? 2 : 1) + m->n_lora * sizeof(float) * 2;
    if (full && !m->lc.no_grad) need += m->n_base * sizeof(float) * 2; /* AdamW moments, allocated later */
    else need += m->n_lora * sizeof(float) * 2;
    size_t n16 = 0; /* bf16 matrices used in place */
    if (m->embed16) n16 += (size_t)c->vocab_size * c->hidden_size;
    if (m->head16 && m->head16 != m->embed16) n16 += (size_t)c->vocab_size * c->hidden_size;
    int n_w16 = 2;
    for (int l = 0; l < c->num_layers; l++)
        for (int p = 0; p < LORA_NPROJ; p++)
            if (m->layers[l].p[p].w16) {
                n16 += (size_t)m->layers[l].p[p].rows * m->layers[l].p[p].cols;
                n_w16++;
            }
    need += n16 * sizeof(uint16_t);
    m->bk = bk;
    m->mapped = calloc((size_t)n_w16 * 2, sizeof *m->mapped);
    if (!m->mapped) { err_set(err, errcap, "train: out of host memory"); return -1; }
    bool ok = true;
    if (m->n_base) ok = (m->d_base = dev_copy(bk, m->base, m->n_base)) != NULL;
    if (ok && m->base_grad) ok = (m->d_base_grad = dev_copy(bk, NULL, m->n_base)) != NULL;
    if (ok && m->n_lora) ok = (m->d_lora = dev_copy(bk, m->lora, m->n_lora)) && (m->d_lora_grad = dev_copy(bk, NULL, m->n_lora));
    ok = ok && map16(m, m->embed16, (size_t)c->vocab_size * c->hidden_size) == 0 &&
         map16(m, m->head16, (size_t)c->vocab_size * c->hidden_size) == 0;
    for (int l = 0; l < c->num_layers && ok; l++)
        for (int p = 0; p < LORA_NPROJ && ok; p++)
            ok = map16(m, m->layers[l].p[p].w16, (size_t)m->layers[l].p[p].rows * m->layers[l].p[p].cols) == 0;
    if (!ok) {
        err_set(err, errcap,
                "train: out of memory on %s for the model: %s of weights, gradients and optimizer state "
                "(%zu parameters, %zu trainable) before activations (%s); use %sa smaller model, or --device cpu",
                bk->name, human_bytes((char[32]){0}, need), m->n_base + n16, full ? m->n_base : m->n_lora, bk->err,
                full ? "LoRA instead of full fine-tuning, " : "");
        return -1;
    }
    for (int i = 0; i < m->n_tens; i++) {
        m->tens[i].data = dev_of(m, m->tens[i].host);
        m->tens[i].grad = dev_of(m, m->tens[i].grad);
    }
    if (build_core(m)) { err_set(err, errcap, "train: out of host memory"); return -1; }
    if (bk->op.sync(bk)) { err_set(err, errcap, "train: %s: %s", bk->name, bk->err); return -1; }
    return 0;
}

train_model *train_model_load_on(const char *dir, const lora_config *lc, uint64_t init_seed, bk_backend *bk,
                                 char *err, size_t errcap) {
    train_model *m = load_any(dir, lc, init_seed, 0, err, errcap);
    if (!m || !bk || bk->host_memory) return m;
    if (!lc->no_grad && (!bk->op.adamw || !bk->op.attn_bwd || !bk->op.xent)) {
        err_set(err, errcap, "train: the %s backend has no training ops (a module built before training on the "
                "device existed?)", bk->name);
        train_model_free(m);
        return NULL;
    }
    if (to_device(m, bk, err, errcap)) {
        train_model_free(m);
        return NULL;
    }
    return m;
}

int train_model_pull(train_model *m, char *err, size_t errcap) {
    if (m->bk->host_memory) return 0;
    size_t n;
    float *d = train_model_params(m, &n), *h = train_model_host_params(m, &n);
    /* a merged-in adapter or full fine-tuning changes the base arena: bring all of it back */
    if (m->d_base && m->d_base != d && m->base_dirty && m->bk->op.download(m->bk, m->base, m->d_base, m->n_base * sizeof(float))) {
        err_set(err, errcap, "train: %s: %s", m->bk->name, m->bk->err);
        return -1;
    }
    if (d && d != h && m->bk->op.download(m->bk, h, d, n * sizeof(float))) {
        err_set(err, errcap, "train: %s: %s", m->bk->name, m->bk->err);
        return -1;
    }
    return 0;
}

int train_model_push(train_model *m, char *err, size_t errcap) {
    if (m->bk->host_memory) return 0;
    size_t n;
    float *d = train_model_params(m, &n), *h = train_model_host_params(m, &n);
    if (d && d != h && m->bk->op.upload(m->bk, d, h, n * sizeof(float))) {
        err_set(err, errcap, "train: %s: %s", m->bk->name, m->bk->err);
        return -1;
    }
    return 0;
}

void train_model_free(train_model *m) {
    if (!m) return;
    if (m->bk) free_buffers(m);
    if (m->bk && !m->bk->host_memory) {
        bk_backend *bk = m->bk;
        bk->op.free(bk, m->d_base);
        bk->op.free(bk, m->d_base_grad);
        bk->op.free(bk, m->d_lora);
        bk->op.free(bk, m->d_lora_grad);
        for (int i = 1; i < m->n_mapped; i += 2) bk->op.weight_unmap(bk, m->mapped[i]);
        if (m->bf16)
            for (int i = 0; i < m->n_tens; i++) bk->op.free(bk, m->bf16[i]);
    }
    free(m->mapped);
    free(m->bf16);
    free(m->base); free(m->base_grad); free(m->lora); free(m->lora_grad); free(m->tens); free(m->layers);
    free(m->core.layers);
    wsrc_close(&m->src);
    free(m);
}

const model_config *train_model_config(const train_model *m) { return &m->cfg; }
const lora_config *train_model_lora(const train_model *m) { return &m->lc; }
const char *train_model_dir(const train_model *m) { return m->dir; }
int train_model_n_tensors(const train_model *m) { return m->n_tens; }
train_tensor *train_model_tensor(train_model *m, int i) { return &m->tens[i]; }
train_tensor *train_model_find(train_model *m, const char *name) {
    for (int i = 0; i < m->n_tens; i++)
        if (!strcmp(m->tens[i].name, name)) return &m->tens[i];
    return NULL;
}
float *train_model_params(train_model *m, size_t *n) {
    *n = m->lc.rank ? m->n_lora : m->n_base;
    return m->lc.rank ? dev_of(m, m->lora) : dev_of(m, m->base);
}
float *train_model_grads(train_model *m, size_t *n) {
    *n = m->lc.rank ? m->n_lora : m->n_base;
    return m->lc.rank ? dev_of(m, m->lora_grad) : dev_of(m, m->base_grad);
}
float *train_model_host_params(train_model *m, size_t *n) {
    *n = m->lc.rank ? m->n_lora : m->n_base;
    return m->lc.rank ? m->lora : m->base;
}
bk_backend *train_model_backend(const train_model *m) { return m->bk; }
uint16_t *train_model_bf16_copy(train_model *m, int i) { return m->bf16 ? m->bf16[i] : NULL; }
void train_model_zero_grad(train_model *m) {
    size_t n;
    float *g = train_model_grads(m, &n);
    if (g) m->bk->op.zero(m->bk, g, n);
}
void train_model_set_checkpointing(train_model *m, bool on) { m->ckpt = on; }
void train_model_set_fast(train_model *m, bool on) {
    m->mmflags = on ? MM_FAST : 0;
    m->core.flags = on ? BK_FAST : 0;
}
void train_model_set_dropout_key(train_model *m, uint64_t seed, uint64_t counter) {
    m->drop_seed = seed;
    m->drop_counter = counter;
}

/* ---------- buffers ---------- */

static int reserve(train_model *m, int T, int n_acts, char *err, size_t errcap) {
    if (T <= m->cap_T && n_acts <= m->cap_acts) return 0;
    if (T < m->cap_T) T = m->cap_T;
    free_buffers(m);
    const model_config *c = &m->cfg;
    const size_t t = (size_t)T, H = (size_t)c->hidden_size, FF = (size_t)c->intermediate_size;
    const size_t qd = (size_t)c->num_heads * c->head_dim, kvd = (size_t)c->num_kv_heads * c->head_dim;
    const size_t nh = (size_t)c->num_heads, r = (size_t)m->lc.rank;
    size_t per = t * (2 * H + 2 + 2 * qd + 2 * kvd + nh + H + 3 * FF);
    if (r)
        for (int p = 0; p < LORA_NPROJ; p++)
            if (m->lc.targets & (1u << p)) per += t * r;
    size_t maxcols = H > FF ? H : FF;
    if (qd > maxcols) maxcols = qd;
    bk_backend *bk = m->bk;
#define DEV(n) bk->op.alloc(bk, (n) * sizeof(float))
    m->xs = DEV(((size_t)c->num_layers + 1) * t * H);
    m->acts = calloc((size_t)n_acts, sizeof *m->acts);
    m->acts_arena = DEV((size_t)n_acts * per);
    m->pos = malloc(t * sizeof(int));
    m->cs = DEV(t * (size_t)c->head_dim);
    m->dx = DEV(t * H);
    m->dh = DEV(t * H);
    m->dtmp = DEV(t * H);
    m->dq = DEV(t * qd);
    m->dk = DEV(t * kvd);
    m->dv = DEV(t * kvd);
    m->datt = DEV(t * qd);
    m->dg = DEV(t * FF);
    m->du = DEV(t * FF);
    m->dact = DEV(t * FF);
    m->drop = DEV(t * maxcols);
    m->dt = DEV(t * (r ? r : 1));
    m->hf = DEV(t * H);
    m->rstdf = DEV(t);
#undef DEV
    if (!m->xs || !m->acts || !m->acts_arena || !m->pos || !m->cs || !m->dx || !m->dh || !m->dtmp || !m->dq || !m->dk ||
        !m->dv || !m->datt || !m->dg || !m->du || !m->dact || !m->drop || !m->dt || !m->hf || !m->rstdf) {
        char why[600];
        snprintf(why, sizeof why, "%s", bk->host_memory ? "" : bk->err);
        free_buffers(m);
        const size_t bytes = (((size_t)c->num_layers + 1) * t * H + (size_t)n_acts * per +
                              t * (5 * H + 2 * qd + 2 * kvd + 3 * FF + maxcols + (r ? r : 1) + (size_t)c->head_dim + 1)) *
                             sizeof(float);
        err_set(err, errcap,
                "train: out of memory%s%s for the activations of %d tokens (%s: %d layers x %d tokens%s)%s%s; "
                "use a smaller --batch-size or --max-seq-len%s",
                bk->host_memory ? "" : " on ", bk->host_memory ? "" : bk->name, T, human_bytes((char[32]){0}, bytes), c->num_layers, T,
                n_acts > 1 ? ", every layer's activations kept" : ", gradient checkpointing on", why[0] ? ": " : "",
                why, n_acts > 1 ? ", or turn gradient checkpointing on" : "");
        return -1;
    }
    for (int a = 0; a < n_acts; a++) {
        float *p = m->acts_arena + (size_t)a * per;
        fwd_acts *A = &m->acts[a];
#define TAKE(f, n) (A->f = p, p += (n))
        TAKE(h1, t * H); TAKE(rstd1, t); TAKE(q, t * qd); TAKE(k, t * kvd); TAKE(v, t * kvd); TAKE(att, t * qd);
        TAKE(lse, t * nh); TAKE(x_mid, t * H); TAKE(h2, t * H); TAKE(rstd2, t); TAKE(g, t * FF); TAKE(u, t * FF);
        TAKE(act, t * FF);
        for (int pj = 0; pj < LORA_NPROJ; pj++)
            if (r && (m->lc.targets & (1u << pj))) TAKE(lt[pj], t * r);
#undef TAKE
    }
    m->cap_T = T;
    m->cap_acts = n_acts;
    return 0;
}

static int check_batch(const train_model *m, const train_batch *b, char *err, size_t errcap) {
    if (b->n_tokens <= 0 || b->n_seqs <= 0 || b->seq_start[0] != 0 || b->seq_start[b->n_seqs] != b->n_tokens) {
        err_set(err, errcap, "train: malformed batch (%d tokens, %d sequences)", b->n_tokens, b->n_seqs);
        return -1;
    }
    for (int s = 0; s < b->n_seqs; s++)
        if (b->seq_start[s + 1] <= b->seq_start[s]) {
            err_set(err, errcap, "train: empty sequence %d in batch", s);
            return -1;
        }
    for (int t = 0; t < b->n_tokens; t++)
        if (b->tokens[t] < 0 || b->tokens[t] >= m->cfg.vocab_size) {
            err_set(err, errcap, "train: token id %d is outside the vocabulary (0..%d)", b->tokens[t],
                   m->cfg.vocab_size - 1);
            return -1;
        }
    return 0;
}

/* Forward through all layers (keeping what the backward needs), then the head and loss in chunks;
 * with backward, the head's gradient goes to m->dx and then back through the layers. nll (host, may be NULL)
 * receives each target's NLL in row order. */
static int run(train_model *m, const train_batch *b, bool backward, float loss_scale, double *nll_sum,
               long *n_targets, float *nll, const train_pg *pg, char *err, size_t errcap) {
    const model_config *c = &m->cfg;
    bk_backend *bk = m->bk;
    if (check_batch(m, b, err, errcap)) return -1;
    const int T = b->n_tokens, H = c->hidden_size, NL = c->num_layers;
    const size_t TH = (size_t)T * H;
    const bool keep = backward && !m->ckpt;
    if (reserve(m, T, keep ? NL : 1, err, errcap)) return -1;
    for (int s = 0; s < b->n_seqs; s++)
        for (int t = b->seq_start[s]; t < b->seq_start[s + 1]; t++) m->pos[t] = t - b->seq_start[s];
    bk->op.rope_table(bk, m->cs, m->pos, T, c->head_dim, (float)c->rope_theta);
    bk->op.embed(bk, m->xs, &m->core.embed, b->tokens, T);
    const fwd_batch fb = {.T = T, .cs = m->cs, .n_seqs = b->n_seqs, .seq_start = b->seq_start, .train = backward,
                          .drop_seed = m->drop_seed, .drop_counter = m->drop_counter};
    /* tmp (the o/down products) and dtmp (norm gradients) are never live at once */
    fwd_work w = {.tmp = m->dtmp, .drop = m->drop, .dx = m->dx, .dh = m->dh, .dtmp = m->dtmp, .dq = m->dq,
                  .dk = m->dk, .dv = m->dv, .datt = m->datt, .dg = m->dg, .du = m->du, .dact = m->dact, .dt = m->dt};
    for (int l = 0; l < NL; l++)
        if (fwd_layer_forward(&m->core, l, &fb, &m->acts[keep ? l : 0], &w, m->xs + (size_t)l * TH,
                              m->xs + (size_t)(l + 1) * TH, false, err, errcap))
            return -1;
    const float *xl = m->xs + (size_t)NL * TH;
    bk->op.rmsnorm(bk, m->hf, m->rstdf, xl, m->core.norm, T, H, (float)c->rms_eps);

    /* Rows whose next token is a target. */
    int *rows = malloc((size_t)T * sizeof(int)), *tg = malloc((size_t)T * sizeof(int));
    if (!rows || !tg) {
        free(rows);
        free(tg);
        err_set(err, errcap, "train: out of memory for the loss");
        return -1;
    }
    int nr = 0;
    for (int s = 0; s < b->n_seqs; s++)
        for (int t = b->seq_start[s]; t + 1 < b->seq_start[s + 1]; t++)
            if (b->target[t + 1]) {
                rows[nr] = t;
                tg[nr++] = b->tokens[t + 1];
            }
    if (backward) bk->op.zero(bk, m->dh, TH);
    int rc = pg ? fwd_pg_loss(&m->core, m->hf, rows, tg, nr, pg->inv_temp, pg->coef, pg->user,
                              backward ? m->dh : NULL, pg->lp, pg->ent, err, errcap)
                : fwd_loss(&m->core, m->hf, rows, tg, nr, loss_scale, backward ? m->dh : NULL, nll_sum, nll, err,
                           errcap);
    free(rows);
    free(tg);
    if (rc) return -1;
    *n_targets = nr;
    if (!backward || nr == 0) return 0;

    bk->op.rmsnorm_bwd(bk, m->dx, m->core.dnorm, m->dh, xl, m->core.norm, m->rstdf, T, H);
    for (int l = NL - 1; l >= 0; l--) {
        fwd_acts *a = &m->acts[keep ? l : 0];
        const float *x = m->xs + (size_t)l * TH;
        if (!keep && l != NL - 1 && /* the last layer's are still there */
            fwd_layer_forward(&m->core, l, &fb, a, &w, x, NULL, true, err, errcap))
            return -1;
        fwd_layer_backward(&m->core, l, &fb, a, &w, x);
    }
    if (m->core.dembed) bk->op.embed_bwd(bk, m->core.dembed, m->dx, b->tokens, T, H);
    return 0;
}

/* Small batches of small models run on one thread: waking threads costs more than the work (far more
 * on a busy machine). Sums depend on the thread count in their last bits, so the choice depends on the
 * batch alone: a resumed run chooses as the uninterrupted one did. */
static int threads_for(const train_model *m, const train_batch *b) {
    double flops = 6.0 * b->n_tokens * (double)m->n_base;
    return flops < 2e8 ? 1 : 0; /* 0: all */
}

static int run_threaded(train_model *m, const train_batch *b, bool backward, float loss_scale, double *nll_sum,
                        long *n_targets, float *nll, const train_pg *pg, char *err, size_t errcap) {
    /* With bf16 base weights the big products run on the ops' OpenMP threads; BLAS (the small adapter products)
     * stays on one thread so that its spinning workers do not take the cores from them. */
    m->bk->op.set_threads(m->bk, threads_for(m, b), !m->embed16);
    int rc = run(m, b, backward, loss_scale, nll_sum, n_targets, nll, pg, err, errcap);
    m->bk->op.set_threads(m->bk, 0, true);
    return rc;
}

int train_model_step(train_model *m, const train_batch *b, float loss_scale, double *nll_sum, long *n_targets,
                     char *err, size_t errcap) {
    return run_threaded(m, b, true, loss_scale, nll_sum, n_targets, NULL, NULL, err, errcap);
}

int train_model_eval(train_model *m, const train_batch *b, double *nll_sum, long *n_targets, char *err,
                     size_t errcap) {
    return run_threaded(m, b, false, 0, nll_sum, n_targets, NULL, NULL, err, errcap);
}

int train_model_eval_tokens(train_model *m, const train_batch *b, float *nll, double *nll_sum, long *n_targets,
                            char *err, size_t errcap) {
    return run_threaded(m, b, false, 0, nll_sum, n_targets, nll, NULL, err, errcap);
}

int train_model_pg(train_model *m, const train_batch *b, const train_pg *pg, long *n_targets, char *err,
                   size_t errcap) {
    double unused = 0;
    return run_threaded(m, b, pg->coef != NULL, 0, &unused, n_targets, NULL, pg, err, errcap);
}

void train_model_set_adapters(train_model *m, bool on) {
    for (int l = 0; l < m->cfg.num_layers; l++)
        for (int p = 0; p < LORA_NPROJ; p++) m->core.layers[l].p[p].A = on ? dev_of(m, m->layers[l].p[p].A) : NULL;
}

/* ---------- saving ---------- */

typedef struct {
    const char *name;
    const float *src;     /* fp32 values, or NULL with src16 */
    const uint16_t *src16;
    const tlin *merge;    /* W + s B A when adapters are merged */
    int rows, cols;
} out_tensor;

typedef struct {
    train_model *m;
    out_tensor *t;
    char (*names)[192];
    int n;
    bool bf16;
} save_list;

static void save_visit(void *vctx, const char *name, float **slot, float **gslot, const uint16_t **slot16, int rows,
                       int cols, bool decay) {
    save_list *s = vctx;
    snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
    s->t[s->n] = (out_tensor){.name = s->names[s->n], .src = *slot, .src16 = slot16 ? *slot16 : NULL, .rows = rows,
                              .cols = cols ? cols : 0};
    /* A linear weight with an adapter is written merged. */
    for (int l = 0; l < s->m->cfg.num_layers; l++)
        for (int p = 0; p < LORA_NPROJ; p++)
            if (&s->m->layers[l].p[p].w == slot && s->m->layers[l].p[p].A) s->t[s->n].merge = &s->m->layers[l].p[p];
    s->n++;
}

static int fill_out(void *vctx, int index, void *dst, size_t nbytes) {
    save_list *s = vctx;
    const out_tensor *t = &s->t[index];
    size_t n = (size_t)t->rows * (size_t)(t->cols ? t->cols : 1);
    const float *v = t->src;
    float *tmp = NULL;
    if (t->merge || !t->src) {
        tmp = malloc(n * sizeof(float));
        if (!tmp) return -1;
        if (t->src) memcpy(tmp, t->src, n * sizeof(float));
        else mm_bf16_to_f32_array(tmp, t->src16, n);
        v = tmp;
    }
    if (t->merge) {
        const tlin *P = t->merge;
        bk_backend *bk = bk_cpu(); /* host copies (train_model_pull) */
        bk->op.gemm(bk, false, false, P->rows, P->cols, s->m->lc.rank, s->m->lora_scale, P->B, s->m->lc.rank, P->A,
                    P->cols, 1.0f, tmp, P->cols);
        v = tmp;
    }
    if (s->bf16) {
        uint16_t *o = dst;
        for (size_t i = 0; i < n; i++) o[i] = st_f32_to_bf16(v[i]);
    } else {
        memcpy(dst, v, nbytes);
    }
    free(tmp);
    return 0;
}

static int copy_file_if_present(const char *from_dir, const char *to_dir, const char *name, char *err, size_t errcap) {
    char src[4096], dst[4096];
    fs_join(src, sizeof src, from_dir, name);
    fs_join(dst, sizeof dst, to_dir, name);
    if (!fs_exists(src)) return 0;
    size_t len;
    char *data = fs_read_file(src, &len);
    if (!data || fs_write_atomic(dst, data, len)) {
        free(data);
        err_set(err, errcap, "%s: cannot copy to %s", src, dst);
        return -1;
    }
    free(data);
    return 0;
}

static const char *const tokenizer_files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                              "vocab.json", "merges.txt", "added_tokens.json", NULL};

int train_model_save_full(train_model *m, const char *dir, bool bf16, char *err, size_t errcap) {
    if (train_model_pull(m, err, errcap)) return -1;
    if (fs_mkdirs(dir)) { err_set(err, errcap, "%s: cannot create folder", dir); return -1; }
    int cap = 3 + m->cfg.num_layers * 12;
    save_list s = {.m = m, .bf16 = bf16};
    s.t = calloc((size_t)cap, sizeof *s.t);
    s.names = calloc((size_t)cap, sizeof *s.names);
    st_spec *specs = calloc((size_t)cap, sizeof *specs);
    int rc = -1;
    if (!s.t || !s.names || !specs) { err_set(err, errcap, "%s: out of memory", dir); goto done; }
    visit_base(m, save_visit, &s);
    for (int i = 0; i < s.n; i++) {
        specs[i].name = s.t[i].name;
        specs[i].dtype = bf16 ? ST_BF16 : ST_F32;
        specs[i].ndim = s.t[i].cols ? 2 : 1;
        specs[i].shape[0] = s.t[i].rows;
        specs[i].shape[1] = s.t[i].cols;
    }
    char path[4096];
    fs_join(path, sizeof path, dir, "model.safetensors");
    if (st_write(path, specs, s.n, "{\"format\":\"pt\"}", fill_out, &s, err, errcap)) goto done;
    /* config.json: the base model's, with the dtype written. */
    fs_join(path, sizeof path, m->dir, "config.json");
    char *text = fs_read_file(path, NULL);
    cJSON *cj = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cj) { err_set(err, errcap, "%s: cannot read", path); goto done; }
    cJSON_DeleteItemFromObjectCaseSensitive(cj, "torch_dtype");
    cJSON_AddStringToObject(cj, "torch_dtype", bf16 ? "bfloat16" : "float32");
    char *out = cJSON_Print(cj);
    cJSON_Delete(cj);
    fs_join(path, sizeof path, dir, "config.json");
    if (!out || fs_write_atomic(path, out, strlen(out))) {
        free(out);
        err_set(err, errcap, "%s: cannot write", path);
        goto done;
    }
    free(out);
    if (copy_file_if_present(m->dir, dir, "generation_config.json", err, errcap)) goto done;
    for (int i = 0; tokenizer_files[i]; i++)
        if (copy_file_if_present(m->dir, dir, tokenizer_files[i], err, errcap)) goto done;
    rc = 0;
done:
    free(s.t);
    free(s.names);
    free(specs);
    return rc;
}

static int fill_adapter(void *vctx, int index, void *dst, size_t nbytes) {
    train_model *m = vctx;
    memcpy(dst, m->tens[index].host, nbytes);
    return 0;
}

int train_model_save_adapter(train_model *m, const char *dir, const char *base_name, char *err, size_t errcap) {
    if (m->lc.rank <= 0) { err_set(err, errcap, "train: no adapter to save (full fine-tuning)"); return -1; }
    if (train_model_pull(m, err, errcap)) return -1;
    if (fs_mkdirs(dir)) { err_set(err, errcap, "%s: cannot create folder", dir); return -1; }
    st_spec *specs = calloc((size_t)m->n_tens, sizeof *specs);
    if (!specs) { err_set(err, errcap, "%s: out of memory", dir); return -1; }
    for (int i = 0; i < m->n_tens; i++) {
        specs[i].name = m->tens[i].name;
        specs[i].dtype = ST_F32;
        specs[i].ndim = 2;
        specs[i].shape[0] = m->tens[i].shape[0];
        specs[i].shape[1] = m->tens[i].shape[1];
    }
    char path[4096];
    fs_join(path, sizeof path, dir, "adapter_model.safetensors");
    int rc = st_write(path, specs, m->n_tens, "{\"format\":\"pt\"}", fill_adapter, m, err, errcap);
    free(specs);
    if (rc) return -1;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "alpha_pattern", cJSON_CreateObject());
    cJSON_AddItemToObject(j, "auto_mapping", cJSON_CreateNull());
    cJSON_AddStringToObject(j, "base_model_name_or_path", base_name ? base_name : m->dir);
    cJSON_AddStringToObject(j, "bias", "none");
    cJSON_AddBoolToObject(j, "fan_in_fan_out", false);
    cJSON_AddBoolToObject(j, "inference_mode", true);
    cJSON_AddBoolToObject(j, "init_lora_weights", true);
    cJSON_AddItemToObject(j, "layers_pattern", cJSON_CreateNull());
    cJSON_AddItemToObject(j, "layers_to_transform", cJSON_CreateNull());
    cJSON_AddNumberToObject(j, "lora_alpha", round((double)m->lc.alpha * 1e6) / 1e6);
    cJSON_AddNumberToObject(j, "lora_dropout", round((double)m->lc.dropout * 1e6) / 1e6);
    cJSON_AddItemToObject(j, "modules_to_save", cJSON_CreateNull());
    cJSON_AddStringToObject(j, "peft_type", "LORA");
    cJSON_AddNumberToObject(j, "r", m->lc.rank);
    cJSON_AddItemToObject(j, "rank_pattern", cJSON_CreateObject());
    cJSON_AddItemToObject(j, "revision", cJSON_CreateNull());
    cJSON *tm = cJSON_AddArrayToObject(j, "target_modules");
    for (int p = 0; p < LORA_NPROJ; p++)
        if (m->lc.targets & (1u << p)) cJSON_AddItemToArray(tm, cJSON_CreateString(lora_proj_names[p]));
    cJSON_AddStringToObject(j, "task_type", "CAUSAL_LM");
    cJSON_AddBoolToObject(j, "use_dora", false);
    cJSON_AddBoolToObject(j, "use_rslora", false);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    fs_join(path, sizeof path, dir, "adapter_config.json");
    if (!text || fs_write_atomic(path, text, strlen(text))) {
        free(text);
        err_set(err, errcap, "%s: cannot write", path);
        return -1;
    }
    free(text);
    for (int i = 0; tokenizer_files[i]; i++)
        if (copy_file_if_present(m->dir, dir, tokenizer_files[i], err, errcap)) return -1;
    return 0;
}

int train_model_load_adapter_weights(train_model *m, const char *dir, char *err, size_t errcap) {
    char path[4096];
    fs_join(path, sizeof path, dir, "adapter_model.safetensors");
    st_file *f = st_open(path, err, errcap);
    if (!f) return -1;
    int rc = 0;
    for (int i = 0; i < m->n_tens && rc == 0; i++) {
        train_tensor *t = &m->tens[i];
        const st_tensor *s = st_find(f, t->name);
        if (!s) {
            /* PEFT also writes names with the adapter name ("...lora_A.default.weight") in some versions. */
            char alt[200];
            snprintf(alt, sizeof alt, "%.*s.default.weight", (int)(strlen(t->name) - 7), t->name);
            s = st_find(f, alt);
        }
        if (!s) {
            err_set(err, errcap, "%s: missing tensor '%s'", path, t->name);
            rc = -1;
        } else if (s->ndim != t->ndim || s->shape[0] != t->shape[0] || (t->ndim == 2 && s->shape[1] != t->shape[1])) {
            err_set(err, errcap, "%s: tensor '%s' has the wrong shape for this model and rank", path, t->name);
            rc = -1;
        } else {
            to_f32(t->host, s, t->numel);
        }
    }
    st_close(f);
    return rc ? rc : train_model_push(m, err, errcap);
}

int train_adapter_base(const char *dir, char *base, size_t cap, char *err, size_t errcap) {
    return model_adapter_base(dir, base, cap, err, errcap);
}

int train_model_merge_adapter(train_model *m, const char *adapter_dir, char *err, size_t errcap) {
    char path[4096];
    fs_join(path, sizeof path, adapter_dir, "adapter_config.json");
    char *text = fs_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!j) { err_set(err, errcap, "%s: cannot read or not JSON", path); return -1; }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "r"), *al = cJSON_GetObjectItemCaseSensitive(j, "lora_alpha");
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(j, "target_modules");
    if (!cJSON_IsNumber(r) || r->valueint <= 0 || !cJSON_IsNumber(al)) {
        cJSON_Delete(j);
        err_set(err, errcap, "%s: needs a positive \"r\" and a number \"lora_alpha\"", path);
        return -1;
    }
    const int rank = r->valueint;
    const float scale = (float)(al->valuedouble / rank);
    unsigned targets = 0;
    if (cJSON_IsString(tm)) {
        if (lora_parse_targets(tm->valuestring, &targets, err, errcap)) { cJSON_Delete(j); return -1; }
    } else if (cJSON_IsArray(tm)) {
        for (const cJSON *e = tm->child; e; e = e->next)
            for (int p = 0; p < LORA_NPROJ; p++)
                if (cJSON_IsString(e) && !strcmp(e->valuestring, lora_proj_names[p])) targets |= 1u << p;
    }
    cJSON_Delete(j);
    if (!targets) { err_set(err, errcap, "%s: no target_modules this model has", path); return -1; }
    fs_join(path, sizeof path, adapter_dir, "adapter_model.safetensors");
    st_file *f = st_open(path, err, errcap);
    if (!f) return -1;
    int rc = 0;
    float *A = NULL, *B = NULL;
    for (int l = 0; l < m->cfg.num_layers && rc == 0; l++)
        for (int p = 0; p < LORA_NPROJ && rc == 0; p++) {
            if (!(targets & (1u << p))) continue;
            tlin *P = &m->layers[l].p[p];
            if (!P->w) {
                err_set(err, errcap, "train: cannot merge an adapter into frozen bf16 weights (load with fp32_base)");
                rc = -1;
                break;
            }
            const st_tensor *ta = NULL, *tb = NULL;
            for (int form = 0; form < 2 && (!ta || !tb); form++) {
                char na[200], nb[200];
                const char *part = p <= LORA_O ? "self_attn" : "mlp";
                snprintf(na, sizeof na, "base_model.model.model.layers.%d.%s.%s.lora_A%s.weight", l, part,
                         lora_proj_names[p], form ? ".default" : "");
                snprintf(nb, sizeof nb, "base_model.model.model.layers.%d.%s.%s.lora_B%s.weight", l, part,
                         lora_proj_names[p], form ? ".default" : "");
                ta = st_find(f, na);
                tb = st_find(f, nb);
            }
            if (!ta || !tb) {
                err_set(err, errcap, "%s: missing lora_A/lora_B of layer %d %s", path, l, lora_proj_names[p]);
                rc = -1;
                break;
            }
            if (ta->ndim != 2 || tb->ndim != 2 || ta->shape[0] != rank || ta->shape[1] != P->cols ||
                tb->shape[0] != P->rows || tb->shape[1] != rank) {
                err_set(err, errcap, "%s: adapter of layer %d %s does not fit this model (r=%d)", path, l,
                       lora_proj_names[p], rank);
                rc = -1;
                break;
            }
            free(A);
            free(B);
            A = malloc((size_t)rank * P->cols * sizeof(float));
            B = malloc((size_t)rank * P->rows * sizeof(float));
            if (!A || !B) { err_set(err, errcap, "%s: out of memory", path); rc = -1; break; }
            to_f32(A, ta, (size_t)rank * P->cols);
            to_f32(B, tb, (size_t)rank * P->rows);
            bk_backend *bk = m->bk;
            if (bk->host_memory) {
                bk->op.gemm(bk, false, false, P->rows, P->cols, rank, scale, B, rank, A, P->cols, 1.0f, P->w, P->cols);
                continue;
            }
            /* on the device: the factors go up, the product is added to the device copy of W */
            float *dA = dev_copy(bk, A, (size_t)rank * P->cols), *dB = dA ? dev_copy(bk, B, (size_t)rank * P->rows) : NULL;
            if (!dB) {
                bk->op.free(bk, dA);
                err_set(err, errcap, "%s: out of memory on %s for the factors of layer %d %s (%s)", path, bk->name, l,
                        lora_proj_names[p], bk->err);
                rc = -1;
                break;
            }
            bk->op.gemm(bk, false, false, P->rows, P->cols, rank, scale, dB, rank, dA, P->cols, 1.0f, dev_of(m, P->w),
                        P->cols);
            m->base_dirty = true;
            if (bk->op.sync(bk)) {
                err_set(err, errcap, "%s: %s: %s", path, bk->name, bk->err);
                rc = -1;
            }
            bk->op.free(bk, dA);
            bk->op.free(bk, dB);
        }
    free(A);
    free(B);
    st_close(f);
    return rc;
}
