#include "train/opt_adamw.h"

#include <math.h>
#include <stdlib.h>

int opt_adamw_init(opt_adamw *o, size_t n) { return opt_adamw_init_on(o, bk_cpu(), n); }

int opt_adamw_init_on(opt_adamw *o, bk_backend *bk, size_t n) {
    const size_t bytes = (n ? n : 1) * sizeof(float);
    o->bk = bk;
    o->m = bk->op.alloc(bk, bytes);
    o->v = bk->op.alloc(bk, bytes);
    o->n = n;
    o->step = 0;
    if (!o->m || !o->v) {
        opt_adamw_free(o);
        return -1;
    }
    bk->op.zero(bk, o->m, n ? n : 1);
    bk->op.zero(bk, o->v, n ? n : 1);
    return 0;
}

void opt_adamw_free(opt_adamw *o) {
    if (o->bk) {
        o->bk->op.free(o->bk, o->m);
        o->bk->op.free(o->bk, o->v);
    }
    o->m = o->v = NULL;
}

double opt_grad_norm(train_model *m) {
    size_t n;
    const float *g = train_model_grads(m, &n);
    bk_backend *bk = train_model_backend(m);
    return sqrt(bk->op.sumsq(bk, g, n));
}

double opt_clip_grad_norm(train_model *m, double max_norm) {
    double norm = opt_grad_norm(m);
    if (max_norm <= 0) return norm;
    /* torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1, in fp32. */
    float coef = (float)max_norm / ((float)norm + 1e-6f);
    if (coef < 1.0f) {
        size_t n;
        float *g = train_model_grads(m, &n);
        bk_backend *bk = train_model_backend(m);
        bk->op.scale(bk, g, n, coef);
    }
    return norm;
}

void opt_adamw_step(opt_adamw *o, train_model *m, float lr, const opt_adamw_config *c) {
    o->step++;
    bk_backend *bk = train_model_backend(m);
    bk_adamw_args a = {.beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps};
    a.step_size = lr / (1.0f - powf(c->beta1, (float)o->step));
    a.bc2_sqrt = sqrtf(1.0f - powf(c->beta2, (float)o->step));
    size_t n_all;
    float *base = train_model_params(m, &n_all);
    for (int t = 0; t < train_model_n_tensors(m); t++) {
        train_tensor *T = train_model_tensor(m, t);
        const size_t off = (size_t)(T->data - base);
        a.decay = T->decay ? 1.0f - lr * c->weight_decay : 1.0f;
        bk->op.adamw(bk, T->data, T->grad, o->m + off, o->v + off, train_model_bf16_copy(m, t), T->numel, &a);
    }
}
