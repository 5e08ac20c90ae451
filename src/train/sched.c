#include "train/sched.h"

#include <math.h>
#include <string.h>

int sched_parse(const char *name, sched_kind *out) {
    static const char *const names[] = {"constant", "linear", "cosine"};
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i])) {
            *out = (sched_kind)i;
            return 0;
        }
    return -1;
}

const char *sched_name(sched_kind k) { return k == SCHED_LINEAR ? "linear" : k == SCHED_COSINE ? "cosine" : "constant"; }

long sched_warmup(long warmup_steps, double ratio, long total) {
    long w = warmup_steps > 0 ? warmup_steps : (long)ceil(ratio * (double)total - 1e-9);
    if (w < 0) w = 0;
    if (total > 0 && w >= total) w = total - 1;
    return w;
}

float sched_lr(sched_kind k, float peak, long step, long warmup, long total) {
    if (step < warmup) return peak * (float)(step + 1) / (float)(warmup + 1);
    if (k == SCHED_CONSTANT || total <= warmup) return peak;
    double q = (double)(step - warmup) / (double)(total - warmup);
    if (q > 1) q = 1;
    if (k == SCHED_LINEAR) return (float)(peak * (1.0 - q));
    return (float)(peak * 0.5 * (1.0 + cos(M_PI * q)));
}
