/* opt_adamw: AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias correction),
 * and global-norm gradient clipping as torch.nn.utils.clip_grad_norm_.
 *
 * The moments are flat arrays parallel to the model's trainable arena, in the memory of the backend the model
 * runs on (host memory on the CPU, device memory on a GPU); the arithmetic is the backend's (op.adamw, op.sumsq,
 * op.scale), so the same loop trains on either. The state (moments, step) is plain data that a checkpoint saves
 * and restores bit-exactly (train_run downloads / uploads the moments). */
#ifndef HF_OPT_ADAMW_H
#define HF_OPT_ADAMW_H

#include <stddef.h>

#include "backend/backend.h"
#include "train/train_model.h"

typedef struct {
    float beta1, beta2, eps, weight_decay;
} opt_adamw_config;

typedef struct {
    float *m, *v;   /* first and second moments, n floats each (owned; backend memory of bk) */
    size_t n;
    long step;      /* optimizer steps taken */
    bk_backend *bk; /* where m and v live */
} opt_adamw;

/* Zeroed moments for n parameters in host memory (the CPU backend). 0, or -1 when out of memory. */
int opt_adamw_init(opt_adamw *o, size_t n);
/* The same in the memory of bk (the backend of the model it will update: train_model_backend). 0, or -1 when
 * out of memory. */
int opt_adamw_init_on(opt_adamw *o, bk_backend *bk, size_t n);
void opt_adamw_free(opt_adamw *o);

/* The L2 norm of all trainable gradients (one reduction over the gradient arena, on the model's backend). */
double opt_grad_norm(train_model *m);
/* Scales the gradients by max_norm / (norm + 1e-6) when that is below 1 (max_norm <= 0: no clipping).
 * Returns the norm before clipping. */
double opt_clip_grad_norm(train_model *m, double max_norm);

/* One update of every trainable tensor with learning rate lr (weight decay only where tensor->decay), on the
 * model's backend (which must be the moments' backend). */
void opt_adamw_step(opt_adamw *o, train_model *m, float lr, const opt_adamw_config *c);

#endif
