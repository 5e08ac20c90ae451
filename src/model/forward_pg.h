/* forward_pg: the policy-gradient head of the one forward pass (model/forward.h). RL losses are functions of
 * each sampled token's log-probability under the sampling temperature, so instead of fwd_loss's uniform scale
 * the head asks the caller, chunk by chunk, for each token's weight once that token's log-probability is
 * known: one forward pass serves both the loss's value and its gradient.
 *
 * Memory: as forward.h (hf and dh backend memory, index arrays and lp / ent / scale host memory). */
#ifndef HF_MODEL_FORWARD_PG_H
#define HF_MODEL_FORWARD_PG_H

#include "model/forward.h"

/* Given the log-probabilities lp[0..n-1] (and entropies ent, or NULL) of target rows r0..r0+n-1, writes
 * scale[i] = dLoss / d(-lp[i]) (the weight of that token's NLL gradient). Returns 0, or nonzero to stop (the
 * head then returns -1 with err as the callback left it). */
typedef int (*fwd_pg_coef_fn)(void *user, int r0, int n, const float *lp, const float *ent, float *scale, char *err,
                              size_t errcap);

/* Target row rows[i] of the normed last residual hf [T, H] predicts targets[i] at temperature 1 / inv_temp.
 * lp_out / ent_out (host, nr floats, may be NULL) get each target's log-probability and entropy. With coef and
 * dh the head's gradient, each token weighted as coef says, is added to dh [T, H] (and to m->dhead); without
 * them nothing is written but lp_out / ent_out. Returns 0, or -1 (out of memory, device error, or the
 * callback stopped; err says which). */
int fwd_pg_loss(const fwd_model *m, const float *hf, const int *rows, const int *targets, int nr, float inv_temp,
                fwd_pg_coef_fn coef, void *user, float *dh, float *lp_out, float *ent_out, char *err, size_t errcap);

#endif
