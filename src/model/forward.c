/* The one forward pass of the model and its backward (see forward.h): each step calls the backend, the
 * backward of a step sits beside it in reverse order. */
#include "model/forward.h"

#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Logits held at once by the loss: chunk rows x vocab <= this many floats (128 MiB: about 220 rows of a
 * 151936-word vocabulary; the bf16 head products run ~15% faster on 220 rows than on 55). */
#define XENT_CHUNK_FLOATS (1u << 25)

/* ---------- HF_PROFILE=1: wall time per step of the layers, summed over calls (fwd_profile_print) ---------- */

enum { PROF_NORM_QKV, PROF_ATTN, PROF_O, PROF_NORM_GU, PROF_SILU, PROF_DOWN, PROF_RESID, PROF_N };
static const char *const prof_names[PROF_N] = {"norm+qkv", "rope+kv+attention", "o_proj", "norm+gate/up", "silu",
                                               "down", "residual"};
static double prof_sec[PROF_N];
static int prof_on = -1;
static double prof_t0;
static int prof_last = -1;

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Ends the step that was running and starts step (-1: none). A GPU backend's ops are asynchronous, so the
 * profile waits for them (op.sync) at each mark; without HF_PROFILE nothing is timed or synchronised. */
static void prof_mark(bk_backend *bk, int step) {
    if (prof_on < 0) prof_on = getenv("HF_PROFILE") && atoi(getenv("HF_PROFILE")) > 0;
    if (!prof_on) return;
    bk->op.sync(bk);
    double t = now_sec();
    if (prof_last >= 0) prof_sec[prof_last] += t - prof_t0;
    prof_t0 = t;
    prof_last = step;
}

void fwd_profile_print(void) {
    if (prof_on <= 0) return;
    for (int i = 0; i < PROF_N; i++) fprintf(stderr, "profile: %-18s %8.3f s\n", prof_names[i], prof_sec[i]);
    memset(prof_sec, 0, sizeof prof_sec);
}

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t fwd_drop_key(uint64_t seed, uint64_t counter, int layer, int proj) {
    return mix64(mix64(seed + 0x9e3779b97f4a7c15ull * (counter + 1)) ^ ((uint64_t)layer * FWD_NPROJ + (uint64_t)proj + 1));
}

/* ---------- linear layers: the adapter's part (the base products are op.linear calls in fwd_layer) ---------- */

/* lt = dropout(x) A^T, and y += lora_scale * lt B^T when y is not NULL. */
static void lora_fwd(const fwd_model *m, const fwd_linear *P, const float *x, int T, float *y, float *lt,
                     const fwd_batch *b, fwd_work *w, int l, int proj) {
    if (!P->A) return;
    bk_backend *bk = m->bk;
    const int r = m->lora_rank;
    const float *xd = x;
    if (b->train && m->lora_dropout > 0) {
        bk->op.dropout(bk, w->drop, x, (size_t)T * P->w.cols, fwd_drop_key(b->drop_seed, b->drop_counter, l, proj),
                       m->lora_dropout);
        xd = w->drop;
    }
    bk->op.gemm(bk, false, true, T, r, P->w.cols, 1.0f, xd, P->w.cols, P->A, P->w.cols, 0.0f, lt, r);
    if (y) bk->op.gemm(bk, false, true, T, P->w.rows, r, m->lora_scale, lt, r, P->B, r, 1.0f, y, P->w.rows);
}

/* Backward of y = x W^T + b + s (dropout(x) A^T) B^T: dx (+)= dy W + s ((dy B) A) masked; dW, db, dA, dB +=. */
static void lin_bwd(const fwd_model *m, const fwd_linear *P, const float *x, int T, const float *dy, float *dx,
                    bool accumulate, const float *lt, const fwd_batch *b, fwd_work *w, int l, int proj) {
    bk_backend *bk = m->bk;
    const int rows = P->w.rows, cols = P->w.cols;
    if (P->dw) bk->op.linear_dw(bk, P->dw, P->db, dy, x, T, rows, cols);
    bk->op.linear_dx(bk, dx, dy, T, &P->w, m->flags | (accumulate ? BK_ACCUMULATE : 0));
    if (!P->A) return;
    const int r = m->lora_rank;
    const float s = m->lora_scale, p = m->lora_dropout;
    const uint64_t key = fwd_drop_key(b->drop_seed, b->drop_counter, l, proj);
    bk->op.gemm(bk, true, false, rows, r, T, s, dy, rows, lt, r, 1.0f, P->dB, r);
    bk->op.gemm(bk, false, false, T, r, rows, s, dy, rows, P->B, r, 0.0f, w->dt, r);
    const float *xd = x;
    if (p > 0) {
        bk->op.dropout(bk, w->drop, x, (size_t)T * cols, key, p);
        xd = w->drop;
    }
    bk->op.linear_dw(bk, P->dA, NULL, w->dt, xd, T, r, cols);
    if (p > 0) {
        bk->op.gemm(bk, false, false, T, cols, r, 1.0f, w->dt, r, P->A, cols, 0.0f, w->drop, cols);
        bk->op.dropout_bwd_add(bk, dx, w->drop, (size_t)T * cols, key, p);
    } else {
        bk->op.gemm(bk, false, false, T, cols, r, 1.0f, w->dt, r, P->A, cols, 1.0f, dx, cols);
    }
}

/* ---------- one layer ---------- */

int fwd_layer_forward(const fwd_model *m, int l, const fwd_batch *b, fwd_acts *a, fwd_work *w, const float *x, float *y,
              bool recompute, char *err, size_t errcap) {
    bk_backend *bk = m->bk;
    const model_config *c = &m->cfg;
    const int T = b->T, H = c->hidden_size, hd = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    const float eps = (float)c->rms_eps;
    const fwd_layer *L = &m->layers[l];
    const fwd_linear *P = L->p;
    const size_t n = (size_t)T * H;

    prof_mark(bk, PROF_NORM_QKV);
    bk->op.rmsnorm(bk, a->h1, a->rstd1, x, L->ln1, T, H, eps);
    {
        float *ys[3] = {a->q, a->k, a->v};
        const bk_weight *ws[3] = {&P[FWD_Q].w, &P[FWD_K].w, &P[FWD_V].w};
        const float *bs[3] = {P[FWD_Q].b, P[FWD_K].b, P[FWD_V].b};
        bk->op.linear(bk, 3, ys, ws, bs, a->h1, T, m->flags);
    }
    lora_fwd(m, &P[FWD_Q], a->h1, T, a->q, a->lt[FWD_Q], b, w, l, FWD_Q);
    lora_fwd(m, &P[FWD_K], a->h1, T, a->k, a->lt[FWD_K], b, w, l, FWD_K);
    lora_fwd(m, &P[FWD_V], a->h1, T, a->v, a->lt[FWD_V], b, w, l, FWD_V);
    prof_mark(bk, PROF_ATTN);
    if (b->kv) {
        if (bk->op.kv_attn(bk, b->kv, l, a->att, a->q, a->k, a->v, b->cs, T, b->slots, b->pos, nh, nkv, hd) != 0) {
            err_set(err, errcap, "model: out of memory for the attention of %d tokens", T);
            return -1;
        }
    } else {
        bk->op.rope(bk, a->q, T, nh, hd, b->cs);
        bk->op.rope(bk, a->k, T, nkv, hd, b->cs);
        bk->op.attn(bk, a->att, a->lse, a->q, a->k, a->v, b->n_seqs, b->seq_start, nh, nkv, hd);
    }
    prof_mark(bk, PROF_O);
    {
        float *ys[1] = {w->tmp};
        const bk_weight *ws[1] = {&P[FWD_O].w};
        bk->op.linear(bk, 1, ys, ws, NULL, a->att, T, m->flags);
    }
    lora_fwd(m, &P[FWD_O], a->att, T, w->tmp, a->lt[FWD_O], b, w, l, FWD_O);
    prof_mark(bk, PROF_NORM_GU);
    bk->op.add(bk, a->x_mid, x, w->tmp, n);
    bk->op.rmsnorm(bk, a->h2, a->rstd2, a->x_mid, L->ln2, T, H, eps);
    {
        float *ys[2] = {a->g, a->u};
        const bk_weight *ws[2] = {&P[FWD_GATE].w, &P[FWD_UP].w};
        bk->op.linear(bk, 2, ys, ws, NULL, a->h2, T, m->flags);
    }
    lora_fwd(m, &P[FWD_GATE], a->h2, T, a->g, a->lt[FWD_GATE], b, w, l, FWD_GATE);
    lora_fwd(m, &P[FWD_UP], a->h2, T, a->u, a->lt[FWD_UP], b, w, l, FWD_UP);
    prof_mark(bk, PROF_SILU);
    bk->op.swiglu(bk, a->act, a->g, a->u, (size_t)T * c->intermediate_size);
    if (recompute) { /* the layer's output is already known: only the down adapter's intermediate is needed */
        lora_fwd(m, &P[FWD_DOWN], a->act, T, NULL, a->lt[FWD_DOWN], b, w, l, FWD_DOWN);
        prof_mark(bk, -1);
        return 0;
    }
    prof_mark(bk, PROF_DOWN);
    {
        float *ys[1] = {w->tmp};
        const bk_weight *ws[1] = {&P[FWD_DOWN].w};
        bk->op.linear(bk, 1, ys, ws, NULL, a->act, T, m->flags);
    }
    lora_fwd(m, &P[FWD_DOWN], a->act, T, w->tmp, a->lt[FWD_DOWN], b, w, l, FWD_DOWN);
    prof_mark(bk, PROF_RESID);
    bk->op.add(bk, y, a->x_mid, w->tmp, n);
    prof_mark(bk, -1);
    return 0;
}

void fwd_layer_backward(const fwd_model *m, int l, const fwd_batch *b, const fwd_acts *a, fwd_work *w, const float *x) {
    bk_backend *bk = m->bk;
    const model_config *c = &m->cfg;
    const int T = b->T, H = c->hidden_size, hd = c->head_dim, nh = c->num_heads, nkv = c->num_kv_heads;
    const fwd_layer *L = &m->layers[l];
    const fwd_linear *P = L->p;
    const size_t n = (size_t)T * H;
    lin_bwd(m, &P[FWD_DOWN], a->act, T, w->dx, w->dact, false, a->lt[FWD_DOWN], b, w, l, FWD_DOWN);
    bk->op.swiglu_bwd(bk, w->dg, w->du, w->dact, a->g, a->u, (size_t)T * c->intermediate_size);
    lin_bwd(m, &P[FWD_GATE], a->h2, T, w->dg, w->dh, false, a->lt[FWD_GATE], b, w, l, FWD_GATE);
    lin_bwd(m, &P[FWD_UP], a->h2, T, w->du, w->dh, true, a->lt[FWD_UP], b, w, l, FWD_UP);
    bk->op.rmsnorm_bwd(bk, w->dtmp, L->dln2, w->dh, a->x_mid, L->ln2, a->rstd2, T, H);
    bk->op.add(bk, w->dx, w->dx, w->dtmp, n);
    lin_bwd(m, &P[FWD_O], a->att, T, w->dx, w->datt, false, a->lt[FWD_O], b, w, l, FWD_O);
    bk->op.attn_bwd(bk, w->dq, w->dk, w->dv, w->datt, a->att, a->lse, a->q, a->k, a->v, b->n_seqs, b->seq_start, nh,
                    nkv, hd);
    bk->op.rope_bwd(bk, w->dq, T, nh, hd, b->cs);
    bk->op.rope_bwd(bk, w->dk, T, nkv, hd, b->cs);
    lin_bwd(m, &P[FWD_Q], a->h1, T, w->dq, w->dh, false, a->lt[FWD_Q], b, w, l, FWD_Q);
    lin_bwd(m, &P[FWD_K], a->h1, T, w->dk, w->dh, true, a->lt[FWD_K], b, w, l, FWD_K);
    lin_bwd(m, &P[FWD_V], a->h1, T, w->dv, w->dh, true, a->lt[FWD_V], b, w, l, FWD_V);
    bk->op.rmsnorm_bwd(bk, w->dtmp, L->dln1, w->dh, x, L->ln1, a->rstd1, T, H);
    bk->op.add(bk, w->dx, w->dx, w->dtmp, n);
}

/* ---------- head and loss ---------- */

void fwd_logits(const fwd_model *m, float *logits, const float *x, const int *rows, int nr, float *h) {
    bk_backend *bk = m->bk;
    const int H = m->cfg.hidden_size;
    bk->op.gather_rows(bk, h, x, rows, nr, H);
    bk->op.rmsnorm(bk, h, NULL, h, m->norm, nr, H, (float)m->cfg.rms_eps);
    float *ys[1] = {logits};
    const bk_weight *ws[1] = {&m->head};
    bk->op.linear(bk, 1, ys, ws, NULL, h, nr, m->flags);
}

int fwd_loss(const fwd_model *m, const float *hf, const int *rows, const int *targets, int nr, float scale, float *dh,
             double *nll_sum, float *nll, char *err, size_t errcap) {
    bk_backend *bk = m->bk;
    const int H = m->cfg.hidden_size, V = m->cfg.vocab_size;
    *nll_sum = 0;
    if (nr <= 0) return 0;
    int chunk = (int)(XENT_CHUNK_FLOATS / (unsigned)V);
    if (chunk < 1) chunk = 1;
    if (chunk > nr) chunk = nr;
    float *logits = bk->op.alloc(bk, (size_t)chunk * V * sizeof(float));
    float *xin = bk->op.alloc(bk, (size_t)chunk * H * sizeof(float));
    float *dxin = dh ? bk->op.alloc(bk, (size_t)chunk * H * sizeof(float)) : NULL;
    float *nll_d = bk->op.alloc(bk, (size_t)chunk * sizeof(float));
    float nll_h[1024];
    float *nll_host = chunk <= 1024 ? nll_h : malloc((size_t)chunk * sizeof(float));
    int rc = -1;
    if (!logits || !xin || (dh && !dxin) || !nll_d || !nll_host) {
        err_set(err, errcap, "train: out of memory for the loss");
        goto done;
    }
    double total = 0;
    for (int r0 = 0; r0 < nr; r0 += chunk) {
        const int cn = nr - r0 < chunk ? nr - r0 : chunk;
        bk->op.gather_rows(bk, xin, hf, rows + r0, cn, H);
        float *ys[1] = {logits};
        const bk_weight *ws[1] = {&m->head};
        bk->op.linear(bk, 1, ys, ws, NULL, xin, cn, m->flags);
        bk->op.xent(bk, logits, targets + r0, nll_d, cn, V, dh ? scale : 0.0f);
        if (bk->op.download(bk, nll_host, nll_d, (size_t)cn * sizeof(float)) != 0) {
            err_set(err, errcap, "train: %s", bk->err);
            goto done;
        }
        for (int i = 0; i < cn; i++) total += nll_host[i];
        if (nll) memcpy(nll + r0, nll_host, (size_t)cn * sizeof(float));
        if (!dh) continue;
        bk->op.linear_dx(bk, dxin, logits, cn, &m->head, m->flags);
        bk->op.scatter_add_rows(bk, dh, dxin, rows + r0, cn, H);
        if (m->dhead) bk->op.linear_dw(bk, m->dhead, NULL, logits, xin, cn, V, H);
    }
    *nll_sum = total;
    rc = 0;
done:
    bk->op.free(bk, logits);
    bk->op.free(bk, xin);
    bk->op.free(bk, dxin);
    bk->op.free(bk, nll_d);
    if (nll_host != nll_h) free(nll_host);
    return rc;
}
