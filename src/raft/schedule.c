/* raft schedule: learning rate per cycle and per step, reward shaping (see schedule.h). */
#include "raft/schedule.h"

#include <math.h>
#include <string.h>

double raft_cycle_lr(double base_lr, double decay, int cycle, double min_lr) {
    double lr = base_lr * pow(decay, cycle > 1 ? cycle - 1 : 0);
    return lr > min_lr ? lr : min_lr;
}

long raft_cycle_warmup(long warmup_steps, long total_steps) {
    if (warmup_steps <= 0 || total_steps <= 0) return 0;
    long cap = total_steps / 4;
    return warmup_steps < cap ? warmup_steps : cap;
}

double raft_step_lr(double lr, long step, long total_steps, long warmup) {
    if (step < 0) step = 0;
    if (step < warmup) return lr * (double)(step + 1) / (double)(warmup + 1);
    if (total_steps <= warmup || step >= total_steps) return lr / (double)(total_steps > warmup ? total_steps - warmup : 1);
    return lr * ((double)(total_steps - step) / (double)(total_steps - warmup));
}

double raft_cycle_temperature(double temperature, double t_start, double t_end, int cycle, int n_cycles) {
    if (isnan(t_start) || isnan(t_end)) return temperature;
    if (n_cycles <= 1 || cycle <= 1) return t_start;
    if (cycle >= n_cycles) return t_end;
    return t_start + (double)(cycle - 1) / (double)(n_cycles - 1) * (t_end - t_start);
}

long raft_cycle_steps(long samples, long batch_size, long grad_accum, long epochs) {
    if (samples <= 0) return 0;
    long per = (batch_size > 0 ? batch_size : 1) * (grad_accum > 0 ? grad_accum : 1);
    return (samples + per - 1) / per * (epochs > 0 ? epochs : 1);
}

static const char *const shaping_names[] = {"fixed", "warmup", "annealing", "adaptive"};

int raft_shaping_parse(const char *name, raft_shaping_kind *out) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, shaping_names[i])) {
            *out = (raft_shaping_kind)i;
            return 0;
        }
    return -1;
}

const char *raft_shaping_name(raft_shaping_kind k) { return (unsigned)k < 4 ? shaping_names[k] : "?"; }

#define EASY_THRESHOLD 0.1
#define EASY_KEEP 0.8

void raft_shaper_init(raft_shaper *sh, raft_shaping_kind kind, double base_threshold, double base_keep, int n_cycles) {
    memset(sh, 0, sizeof *sh);
    sh->kind = kind;
    sh->base_threshold = base_threshold;
    sh->base_keep = base_keep;
    sh->warmup_cycles = 1;
    sh->n_cycles = n_cycles;
    sh->threshold = base_threshold;
    sh->keep = base_keep;
}

void raft_shaper_values(const raft_shaper *sh, int cycle, double *thr, double *keep) {
    switch (sh->kind) {
    case RAFT_SHAPING_WARMUP:
        if (cycle <= sh->warmup_cycles) {
            *thr = EASY_THRESHOLD;
            *keep = EASY_KEEP;
            return;
        }
        break;
    case RAFT_SHAPING_ANNEALING:
        if (sh->n_cycles > 1 && cycle < sh->n_cycles) {
            double t = (double)(cycle > 1 ? cycle - 1 : 0) / (double)(sh->n_cycles - 1);
            *thr = EASY_THRESHOLD + t * (sh->base_threshold - EASY_THRESHOLD);
            *keep = EASY_KEEP + t * (sh->base_keep - EASY_KEEP);
            return;
        }
        break;
    case RAFT_SHAPING_ADAPTIVE:
        if (cycle <= 1) {
            *thr = EASY_THRESHOLD;
            *keep = EASY_KEEP;
        } else {
            *thr = sh->threshold;
            *keep = sh->keep;
        }
        return;
    case RAFT_SHAPING_FIXED:
        break;
    }
    *thr = sh->base_threshold;
    *keep = sh->base_keep;
}

bool raft_shaper_update(raft_shaper *sh, int cycle, long kept, double success_rate) {
    if (cycle <= sh->updated_cycle) return false;
    sh->updated_cycle = cycle;
    if (sh->kind != RAFT_SHAPING_ADAPTIVE) return true;
    const double target = 0.3;
    if (kept < 50 || success_rate < 0.5 * target) {
        sh->threshold = fmax(0.1, sh->threshold - 0.1);
        sh->keep = fmin(1.0, sh->keep + 0.1);
    } else if (success_rate > 1.5 * target) {
        sh->threshold = fmin(1.0, sh->threshold + 0.1);
        sh->keep = fmax(0.2, sh->keep - 0.05);
    }
    return true;
}
