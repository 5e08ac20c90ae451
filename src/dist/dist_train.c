/* dist_train: see dist_train.h. */
#include "dist/dist_train.h"

#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "dist/dist.h"

void dist_allreduce_grads(train_model *m, double *loss_sum) {
    if (dist_size() == 1) return;
    size_t n;
    float *g = train_model_grads(m, &n);
    bk_backend *bk = train_model_backend(m);
    if (!bk || bk->host_memory) {
        dist_allreduce_f32(g, n, 1.0f);
    } else {
        /* Gradients in device memory: staged through the host, since a plain MPI build cannot read device
         * pointers. A reduction between GPUs without the host (NCCL) is the next step: docs/scaling.md. */
        float *h = malloc(n * sizeof *h);
        if (!h) dist_abort(1, "out of host memory staging the gradients for the all-reduce");
        if (bk->op.download(bk, h, g, n * sizeof *h)) {
            char msg[600];
            snprintf(msg, sizeof msg, "downloading the gradients for the all-reduce: %s", bk->err);
            dist_abort(1, msg);
        }
        dist_allreduce_f32(h, n, 1.0f);
        if (bk->op.upload(bk, g, h, n * sizeof *h)) {
            char msg[600];
            snprintf(msg, sizeof msg, "uploading the reduced gradients: %s", bk->err);
            dist_abort(1, msg);
        }
        free(h);
    }
    if (loss_sum) dist_allreduce_f64(loss_sum, 1);
}
