/* dist_train: the data-parallel step of the trainers. Each rank computes the gradients of its share of
 * the global batch, every share already scaled by 1 / (the global batch's target count); one call then
 * sums the gradient arrays (and the loss sum) over ranks, so every rank holds the one-process gradient
 * of the global batch before clipping and AdamW, and the weights stay identical on every rank.
 * One rank: nothing happens. */
#ifndef HF_DIST_DIST_TRAIN_H
#define HF_DIST_DIST_TRAIN_H

#include "train/train_model.h"

/* Sums train_model_grads(m) over ranks in place; with loss_sum, sums *loss_sum as well. */
void dist_allreduce_grads(train_model *m, double *loss_sum);

#endif
