/* The policy-gradient objectives (see pg.h). */
#include "rl/pg.h"

#include <math.h>
#include <string.h>

static const char *const names[RL_ALGO_COUNT] = {"raft", "grpo", "dapo", "dr-grpo", "rloo"};

int rl_algo_parse(const char *name, rl_algo *a) {
    for (int i = 0; i < RL_ALGO_COUNT; i++)
        if (!strcmp(name, names[i])) {
            *a = (rl_algo)i;
            return 0;
        }
    return -1;
}

const char *rl_algo_name(rl_algo a) { return a >= 0 && a < RL_ALGO_COUNT ? names[a] : "?"; }

void rl_objective_default(rl_objective *o, rl_algo a) {
    o->algo = a;
    o->clip_low = 0.2;
    o->clip_high = a == RL_DAPO ? 0.28 : 0.2;
    o->kl_coef = 0;
    o->max_new_tokens = 1024;
}

void rl_advantages(rl_algo a, const double *rewards, int n_groups, int G, double *adv) {
    for (int g = 0; g < n_groups; g++) {
        const double *r = rewards + (size_t)g * G;
        double *A = adv + (size_t)g * G;
        double sum = 0;
        for (int i = 0; i < G; i++) sum += r[i];
        const double mean = sum / G;
        if (G < 2) {
            for (int i = 0; i < G; i++) A[i] = 0;
            continue;
        }
        if (a == RL_RLOO) {
            for (int i = 0; i < G; i++) A[i] = r[i] - (sum - r[i]) / (G - 1);
        } else if (a == RL_DR_GRPO) {
            for (int i = 0; i < G; i++) A[i] = r[i] - mean;
        } else {
            double ss = 0;
            for (int i = 0; i < G; i++) ss += (r[i] - mean) * (r[i] - mean);
            const double sd = sqrt(ss / (G - 1));
            for (int i = 0; i < G; i++) A[i] = (r[i] - mean) / (sd + 1e-4);
        }
    }
}

double rl_seq_weight(const rl_objective *o, long n_tok_i, long sum_tok, int n_seq) {
    switch (o->algo) {
    case RL_DAPO: return sum_tok > 0 ? 1.0 / (double)sum_tok : 0;
    case RL_DR_GRPO: return n_seq > 0 ? 1.0 / ((double)n_seq * o->max_new_tokens) : 0;
    default: return n_seq > 0 && n_tok_i > 0 ? 1.0 / ((double)n_seq * (double)n_tok_i) : 0;
    }
}

double rl_token_term(const rl_objective *o, double lp, double lp_old, double lp_ref, bool has_ref, double adv,
                     double *dterm, bool *clipped, double *kl) {
    const double rho = exp(lp - lp_old);
    const double lo = 1 - o->clip_low, hi = 1 + o->clip_high;
    const double rc = rho < lo ? lo : rho > hi ? hi : rho;
    const double un = rho * adv, cl = rc * adv;
    double term, d;
    if (un <= cl) { /* the unclipped surrogate is the smaller: its gradient flows */
        term = -un;
        d = -adv * rho;
        *clipped = false;
    } else {
        term = -cl;
        d = 0;
        *clipped = true;
    }
    *kl = 0;
    if (has_ref && o->kl_coef != 0) {
        const double x = lp_ref - lp, e = exp(x);
        *kl = e - x - 1;
        term += o->kl_coef * *kl;
        d += o->kl_coef * (1 - e);
    }
    *dterm = d;
    return term;
}
