#include "train/opt_adamw.h"

#include <math.h>
#include <stdlib.h>

int opt_adamw_init(opt_adamw *o, size_t n) {
    o->m = calloc(n ? n : 1, sizeof(float));
    o->v = calloc(n ? n : 1, sizeof(float));
    o->n = n;
    o->step = 0;
    if (!o->m || !o->v) {
        opt_adamw_free(o);
        return -1;
    }
    return 0;
}

void opt_adamw_free(opt_adamw *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

double opt_grad_norm(train_model *m) {
    size_t n;
    const float *g = train_model_grads(m, &n);
    double ss = 0;
#pragma omp parallel for reduction(+ : ss) schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    return sqrt(ss);
}

double opt_clip_grad_norm(train_model *m, double max_norm) {
    double norm = opt_grad_norm(m);
    if (max_norm <= 0) return norm;
    /* torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1, in fp32. */
    float coef = (float)max_norm / ((float)norm + 1e-6f);
    if (coef < 1.0f) {
        size_t n;
        float *g = train_model_grads(m, &n);
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) g[i] *= coef;
    }
    return norm;
}

void opt_adamw_step(opt_adamw *o, train_model *m, float lr, const opt_adamw_config *c) {
    o->step++;
    const float b1 = c->beta1, b2 = c->beta2;
    const float bc1 = 1.0f - powf(b1, (float)o->step);
    const float bc2_sqrt = sqrtf(1.0f - powf(b2, (float)o->step));
    const float step_size = lr / bc1;
    size_t n_all;
    float *base = train_model_params(m, &n_all);
    for (int t = 0; t < train_model_n_tensors(m); t++) {
        train_tensor *T = train_model_tensor(m, t);
        const size_t off = (size_t)(T->data - base);
        float *p = T->data, *g = T->grad, *mm = o->m + off, *vv = o->v + off;
        const float decay = T->decay ? 1.0f - lr * c->weight_decay : 1.0f;
        const size_t n = T->numel;
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) {
            p[i] *= decay;
            mm[i] = mm[i] * b1 + g[i] * (1.0f - b1);
            vv[i] = vv[i] * b2 + g[i] * g[i] * (1.0f - b2);
            float denom = sqrtf(vv[i]) / bc2_sqrt + c->eps;
            p[i] -= step_size * mm[i] / denom;
        }
    }
}
