/* The policy-gradient head (see forward_pg.h). */
#include "model/forward_pg.h"

#include "core/err.h"

#include <stdlib.h>
#include <string.h>

#define PG_CHUNK_FLOATS (1u << 25) /* logits held at once, as fwd_loss */

int fwd_pg_loss(const fwd_model *m, const float *hf, const int *rows, const int *targets, int nr, float inv_temp,
                fwd_pg_coef_fn coef, void *user, float *dh, float *lp_out, float *ent_out, char *err, size_t errcap) {
    bk_backend *bk = m->bk;
    const int H = m->cfg.hidden_size, V = m->cfg.vocab_size;
    const bool backward = coef && dh;
    if (nr <= 0) return 0;
    int chunk = (int)(PG_CHUNK_FLOATS / (unsigned)V);
    if (chunk < 1) chunk = 1;
    if (chunk > nr) chunk = nr;
    float *logits = bk->op.alloc(bk, (size_t)chunk * V * sizeof(float));
    float *xin = bk->op.alloc(bk, (size_t)chunk * H * sizeof(float));
    float *dxin = backward ? bk->op.alloc(bk, (size_t)chunk * H * sizeof(float)) : NULL;
    float *lp_d = bk->op.alloc(bk, (size_t)chunk * sizeof(float));
    float *ent_d = bk->op.alloc(bk, (size_t)chunk * sizeof(float));
    float *host = malloc((size_t)chunk * 3 * sizeof(float)); /* lp, ent, scale */
    int rc = -1;
    if (!logits || !xin || (backward && !dxin) || !lp_d || !ent_d || !host) {
        err_set(err, errcap, "train: out of memory for the policy-gradient loss");
        goto done;
    }
    float *lp = host, *ent = host + chunk, *scale = host + 2 * chunk;
    for (int r0 = 0; r0 < nr; r0 += chunk) {
        const int cn = nr - r0 < chunk ? nr - r0 : chunk;
        bk->op.gather_rows(bk, xin, hf, rows + r0, cn, H);
        float *ys[1] = {logits};
        const bk_weight *ws[1] = {&m->head};
        bk->op.linear(bk, 1, ys, ws, NULL, xin, cn, m->flags);
        bk->op.xent_temp(bk, logits, targets + r0, lp_d, ent_d, cn, V, inv_temp, NULL);
        if (bk->op.download(bk, lp, lp_d, (size_t)cn * sizeof(float)) != 0 ||
            bk->op.download(bk, ent, ent_d, (size_t)cn * sizeof(float)) != 0) {
            err_set(err, errcap, "train: %s", bk->err);
            goto done;
        }
        if (lp_out) memcpy(lp_out + r0, lp, (size_t)cn * sizeof(float));
        if (ent_out) memcpy(ent_out + r0, ent, (size_t)cn * sizeof(float));
        if (!backward) continue;
        if (coef(user, r0, cn, lp, ent, scale, err, errcap) != 0) goto done;
        /* the rows again, now replaced by their gradient (softmax recomputed: V per row, small beside the head) */
        bk->op.xent_temp(bk, logits, targets + r0, lp_d, NULL, cn, V, inv_temp, scale);
        bk->op.linear_dx(bk, dxin, logits, cn, &m->head, m->flags);
        bk->op.scatter_add_rows(bk, dh, dxin, rows + r0, cn, H);
        if (m->dhead) bk->op.linear_dw(bk, m->dhead, NULL, logits, xin, cn, V, H);
    }
    rc = 0;
done:
    bk->op.free(bk, logits);
    bk->op.free(bk, xin);
    bk->op.free(bk, dxin);
    bk->op.free(bk, lp_d);
    bk->op.free(bk, ent_d);
    free(host);
    return rc;
}
