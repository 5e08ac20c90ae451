/* The policy-gradient update of one rollout batch (see update.h). */
#include "rl/update.h"

#include "core/err.h"
#include "dist/dist.h"
#include "dist/dist_train.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timing.h"
#include "train/opt_adamw.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void rl_update_opts_default(rl_update_opts *o, rl_algo a) {
    memset(o, 0, sizeof *o);
    rl_objective_default(&o->obj, a);
    o->temperature = 0.7;
    o->learning_rate = 1e-5;
    o->epochs = 1;
    o->mini_batches = 2;
    o->batch_tokens = 4096;
    o->max_grad_norm = 1.0;
    o->drop_equal_groups = a == RL_DAPO;
    o->overlong_filter = a == RL_DAPO;
    o->seed = 42;
}

/* The tokens of one forward: what the coefficient callback needs per target row. */
typedef struct {
    const rl_objective *obj;
    const float *old, *ref;    /* [nr] */
    const double *adv, *w;     /* [nr] */
    bool has_ref, first;
    /* sums over the step */
    double loss, kl, ent, mism_sum, mism_max, ratio_dev;
    long n, clipped;
    bool bad;
} coef_ctx;

static int coef_cb(void *user, int r0, int n, const float *lp, const float *ent, float *scale, char *err,
                   size_t errcap) {
    coef_ctx *c = user;
    (void)err;
    (void)errcap;
    for (int i = 0; i < n; i++) {
        const int r = r0 + i;
        double d, kl;
        bool clipped;
        const double term =
            rl_token_term(c->obj, lp[i], c->old[r], c->ref ? c->ref[r] : 0, c->has_ref, c->adv[r], &d, &clipped, &kl);
        if (!isfinite(term) || !isfinite(d)) {
            c->bad = true;
            scale[i] = 0;
            continue;
        }
        scale[i] = (float)(-c->w[r] * d);
        c->loss += c->w[r] * term;
        c->kl += kl;
        c->ent += ent[i];
        c->clipped += clipped;
        c->n++;
        if (c->first) {
            const double dm = fabs((double)lp[i] - c->old[r]), rd = fabs(exp((double)lp[i] - c->old[r]) - 1);
            c->mism_sum += dm;
            if (dm > c->mism_max) c->mism_max = dm;
            if (rd > c->ratio_dev) c->ratio_dev = rd;
        }
    }
    return 0;
}

/* One packed forward of sequences seqs[0..ns-1]. Host arrays sized by the caller. */
typedef struct {
    int *tokens, *seq_start;
    uint8_t *target;
    float *old, *ref, *lp;
    double *adv, *w;
    int cap_tok, cap_seq;
} pack;

static int pack_reserve(pack *p, int ntok, int nseq) {
    if (ntok > p->cap_tok) {
        int *t = realloc(p->tokens, (size_t)ntok * sizeof *t);
        uint8_t *g = t ? realloc(p->target, (size_t)ntok) : NULL;
        float *o = g ? realloc(p->old, (size_t)ntok * sizeof *o) : NULL;
        float *rf = o ? realloc(p->ref, (size_t)ntok * sizeof *rf) : NULL;
        float *lp = rf ? realloc(p->lp, (size_t)ntok * sizeof *lp) : NULL;
        double *a = lp ? realloc(p->adv, (size_t)ntok * sizeof *a) : NULL;
        double *w = a ? realloc(p->w, (size_t)ntok * sizeof *w) : NULL;
        if (t) p->tokens = t;
        if (g) p->target = g;
        if (o) p->old = o;
        if (rf) p->ref = rf;
        if (lp) p->lp = lp;
        if (a) p->adv = a;
        if (w) p->w = w;
        if (!w) return -1;
        p->cap_tok = ntok;
    }
    if (nseq + 1 > p->cap_seq) {
        int *s = realloc(p->seq_start, (size_t)(nseq + 1) * sizeof *s);
        if (!s) return -1;
        p->seq_start = s;
        p->cap_seq = nseq + 1;
    }
    return 0;
}

static void pack_free(pack *p) {
    free(p->tokens);
    free(p->seq_start);
    free(p->target);
    free(p->old);
    free(p->ref);
    free(p->lp);
    free(p->adv);
    free(p->w);
}

/* Fills p with sequences idx[0..ns-1] of s; per target row (generated token, in row order) the old and reference
 * log-probs, advantage and weight. Returns the number of target rows, -1 out of memory. */
static long pack_fill(pack *p, const rl_sample *s, const int *idx, int ns, float *const *ref_lp,
                      float *const *old_lp, const double *adv, const double *wseq) {
    int ntok = 0;
    for (int k = 0; k < ns; k++) ntok += s[idx[k]].n_prompt + s[idx[k]].n_gen;
    if (pack_reserve(p, ntok, ns)) return -1;
    int t = 0;
    long nr = 0;
    for (int k = 0; k < ns; k++) {
        const rl_sample *x = &s[idx[k]];
        p->seq_start[k] = t;
        for (int j = 0; j < x->n_prompt + x->n_gen; j++) {
            p->tokens[t] = x->ids[j];
            p->target[t] = j >= x->n_prompt; /* every generated id, the end-of-sequence id included */
            t++;
        }
        for (int j = 0; j < x->n_gen; j++, nr++) {
            p->old[nr] = old_lp && old_lp[idx[k]] ? old_lp[idx[k]][j] : x->lp_old[j];
            p->ref[nr] = ref_lp && ref_lp[idx[k]] ? ref_lp[idx[k]][j] : 0;
            p->adv[nr] = adv[idx[k]];
            p->w[nr] = wseq ? wseq[idx[k]] : 0;
        }
    }
    p->seq_start[ns] = t;
    return nr;
}

static train_batch pack_batch(const pack *p, int ns) {
    return (train_batch){.n_tokens = p->seq_start[ns], .n_seqs = ns, .tokens = p->tokens, .seq_start = p->seq_start,
                         .target = p->target};
}

/* Splits idx[0..n-1] into runs of up to batch_tokens tokens (at least one sequence each); returns the run ends. */
static int next_run(const rl_sample *s, const int *idx, int from, int n, int batch_tokens) {
    int tok = 0, k = from;
    while (k < n) {
        const int len = s[idx[k]].n_prompt + s[idx[k]].n_gen;
        if (k > from && tok + len > batch_tokens) break;
        tok += len;
        k++;
    }
    return k;
}

static void put_num(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

int rl_update(train_model *m, const rl_sample *s, int n_groups, int G, const rl_update_opts *o,
              rl_update_report *rep, char *err, size_t errcap) {
    memset(rep, 0, sizeof *rep);
    rep->mismatch_max = rep->mismatch_mean = rep->ratio_dev_max = NAN;
    const int n = n_groups * G;
    if (n <= 0 || !(o->temperature > 0) || o->epochs < 1 || o->mini_batches < 1 || o->batch_tokens < 1) {
        err_set(err, errcap, "rl: empty batch, or a temperature / epochs / mini-batches / batch tokens below range");
        return -1;
    }
    const double t_start = time_now();
    const float inv_temp = 1.0f / (float)o->temperature; /* as the sampler computes it */
    const bool has_ref = o->obj.kl_coef != 0;
    double *rew = malloc((size_t)n * sizeof *rew), *adv = malloc((size_t)n * sizeof *adv);
    double *wseq = malloc((size_t)n * sizeof *wseq);
    int *active = malloc((size_t)n * sizeof *active), *order = malloc((size_t)n * sizeof *order);
    float **ref_lp = calloc((size_t)n, sizeof *ref_lp), **old_tr = NULL;
    pack pk = {0};
    opt_adamw opt = {0};
    int rc = -1;
    size_t n_par = 0;
    train_model_params(m, &n_par);
    if (!rew || !adv || !wseq || !active || !order || !ref_lp || opt_adamw_init_on(&opt, train_model_backend(m), n_par)) {
        err_set(err, errcap, "rl: out of memory");
        goto out;
    }

    /* 1. rewards, advantages, which samples enter the loss */
    double rsum = 0, rss = 0, len_sum = 0;
    long trunc = 0;
    for (int i = 0; i < n; i++) {
        rew[i] = s[i].reward;
        rsum += rew[i];
        len_sum += s[i].n_gen;
        trunc += s[i].truncated;
    }
    rep->mean_reward = rsum / n;
    for (int i = 0; i < n; i++) rss += (rew[i] - rep->mean_reward) * (rew[i] - rep->mean_reward);
    rep->reward_std = sqrt(rss / n);
    rep->response_length = len_sum / n;
    rep->clipped_length_ratio = (double)trunc / n;
    rep->groups = n_groups;
    rl_advantages(o->obj.algo, rew, n_groups, G, adv);
    int zero_std = 0, n_act = 0;
    for (int g = 0; g < n_groups; g++) {
        bool equal = true;
        for (int i = 1; i < G; i++) equal &= rew[g * G + i] == rew[g * G];
        zero_std += equal;
        if (equal && o->drop_equal_groups) {
            rep->groups_dropped++;
            continue;
        }
        rep->groups_used++;
        for (int i = 0; i < G; i++) {
            const int k = g * G + i;
            if (s[k].n_gen < 1 || (o->overlong_filter && s[k].truncated)) continue;
            active[n_act++] = k;
            rep->tokens_used += s[k].n_gen;
        }
    }
    rep->zero_std_fraction = n_groups ? (double)zero_std / n_groups : 0;
    rep->samples_used = n_act;
    if (n_act == 0) {
        rep->loss = rep->clip_fraction = rep->kl = rep->entropy = NAN;
        log_warn("Cycle %d: no sample carries a learning signal (every group's rewards are equal, or every sample "
                 "was filtered); the weights stay as they were", o->cycle);
        rc = 0;
        goto out;
    }

    /* 2. the reference's log-probs: the same weights, adapters off */
    if (has_ref) {
        train_model_set_adapters(m, false);
        for (int a = 0; a < n_act; a++)
            if (!(ref_lp[active[a]] = malloc((size_t)s[active[a]].n_gen * sizeof(float)))) {
                train_model_set_adapters(m, true);
                err_set(err, errcap, "rl: out of memory");
                goto out;
            }
        for (int a0 = 0; a0 < n_act;) {
            const int a1 = next_run(s, active, a0, n_act, o->batch_tokens);
            long nr = pack_fill(&pk, s, active + a0, a1 - a0, NULL, NULL, adv, NULL);
            if (nr < 0) {
                train_model_set_adapters(m, true);
                err_set(err, errcap, "rl: out of memory");
                goto out;
            }
            const train_batch b = pack_batch(&pk, a1 - a0);
            train_pg pg = {.inv_temp = inv_temp, .lp = pk.lp};
            long nt;
            if (train_model_pg(m, &b, &pg, &nt, err, errcap)) {
                train_model_set_adapters(m, true);
                goto out;
            }
            for (int k = a0, r = 0; k < a1; k++) {
                memcpy(ref_lp[active[k]], pk.lp + r, (size_t)s[active[k]].n_gen * sizeof(float));
                r += s[active[k]].n_gen;
            }
            a0 = a1;
        }
        train_model_set_adapters(m, true);
    }

    /* 2b. the old policy's log-probs from the trainer (the weights that sampled), and the mismatch on every token */
    if (o->old_from_trainer) {
        double msum = 0, mmax = 0, rdev = 0;
        long mn = 0;
        if (!(old_tr = calloc((size_t)n, sizeof *old_tr))) {
            err_set(err, errcap, "rl: out of memory");
            goto out;
        }
        for (int a = 0; a < n_act; a++)
            if (!(old_tr[active[a]] = malloc((size_t)s[active[a]].n_gen * sizeof(float)))) {
                err_set(err, errcap, "rl: out of memory");
                goto out;
            }
        for (int a0 = 0; a0 < n_act;) {
            const int a1 = next_run(s, active, a0, n_act, o->batch_tokens);
            if (pack_fill(&pk, s, active + a0, a1 - a0, NULL, NULL, adv, NULL) < 0) {
                err_set(err, errcap, "rl: out of memory");
                goto out;
            }
            const train_batch b = pack_batch(&pk, a1 - a0);
            train_pg pg = {.inv_temp = inv_temp, .lp = pk.lp};
            long nt;
            if (train_model_pg(m, &b, &pg, &nt, err, errcap)) goto out;
            for (int k = a0, r = 0; k < a1; k++) {
                const rl_sample *x = &s[active[k]];
                memcpy(old_tr[active[k]], pk.lp + r, (size_t)x->n_gen * sizeof(float));
                for (int j = 0; j < x->n_gen; j++) {
                    const double d = fabs((double)pk.lp[r + j] - x->lp_old[j]);
                    msum += d;
                    mn++;
                    if (d > mmax) mmax = d;
                    const double rd = fabs(exp((double)x->lp_old[j] - pk.lp[r + j]) - 1);
                    if (rd > rdev) rdev = rd;
                }
                r += x->n_gen;
            }
            a0 = a1;
        }
        rep->mismatch_max = mmax;
        rep->mismatch_mean = mn ? msum / mn : 0;
        rep->ratio_dev_max = rdev;
    }

    /* 3. the optimizer steps */
    rng_state rng;
    rng_seed(&rng, o->seed ^ 0x5eed5eedull);
    opt_adamw_config oc = {0.9f, 0.999f, 1e-8f, 0.0f};
    double loss_sum = 0, clip_sum = 0, kl_sum = 0, ent_sum = 0;
    long applied = 0, step = 0, train_tokens = 0;
    for (int ep = 0; ep < o->epochs; ep++) {
        memcpy(order, active, (size_t)n_act * sizeof *order);
        for (int i = n_act - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)rng_below(&rng, (uint64_t)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        const int nmb = o->mini_batches < n_act ? o->mini_batches : n_act;
        for (int mb = 0; mb < nmb; mb++) {
            if (o->cancel && *o->cancel) {
                rc = 1;
                goto out;
            }
            const int b0 = (int)((long)n_act * mb / nmb), b1 = (int)((long)n_act * (mb + 1) / nmb);
            long sum_tok = 0;
            for (int k = b0; k < b1; k++) sum_tok += s[order[k]].n_gen;
            for (int k = b0; k < b1; k++) wseq[order[k]] = rl_seq_weight(&o->obj, s[order[k]].n_gen, sum_tok, b1 - b0);
            const double ts = time_now();
            coef_ctx cc = {.obj = &o->obj, .has_ref = has_ref, .first = step == 0 && !o->old_from_trainer};
            long step_tokens = 0;
            train_model_zero_grad(m);
            for (int a0 = b0, run = 0; a0 < b1; run++) {
                const int a1 = next_run(s, order, a0, b1, o->batch_tokens);
                if (run % dist_size() != dist_rank()) { a0 = a1; continue; } /* data-parallel: this rank's runs */
                long nr = pack_fill(&pk, s, order + a0, a1 - a0, has_ref ? ref_lp : NULL, old_tr, adv, wseq);
                if (nr < 0) {
                    err_set(err, errcap, "rl: out of memory");
                    goto out;
                }
                const train_batch b = pack_batch(&pk, a1 - a0);
                cc.old = pk.old;
                cc.ref = has_ref ? pk.ref : NULL;
                cc.adv = pk.adv;
                cc.w = pk.w;
                train_model_set_dropout_key(m, o->seed, (uint64_t)step * 1000003u + (uint64_t)a0);
                train_pg pg = {.inv_temp = inv_temp, .coef = coef_cb, .user = &cc};
                long nt;
                if (train_model_pg(m, &b, &pg, &nt, err, errcap)) goto out;
                train_tokens += b.n_tokens;
                step_tokens += b.n_tokens;
                a0 = a1;
            }
            { long bad = cc.bad; dist_allreduce_long(&bad, 1); cc.bad = bad != 0; dist_allreduce_grads(m, &cc.loss); }
            double gnorm = cc.bad ? NAN : opt_clip_grad_norm(m, o->max_grad_norm);
            const bool skip = cc.bad || !isfinite(cc.loss) || !isfinite(gnorm);
            if (skip) {
                train_model_zero_grad(m);
                rep->skipped_steps++;
                log_warn("Cycle %d: step %ld: the loss or its gradient is not finite (NaN/Inf); the step is not "
                         "applied and the weights stay the last good ones", o->cycle, step + 1);
            } else {
                opt_adamw_step(&opt, m, (float)o->learning_rate, &oc);
                applied++;
                loss_sum += cc.loss;
                clip_sum += cc.n ? (double)cc.clipped / cc.n : 0;
                kl_sum += cc.n ? cc.kl / cc.n : 0;
                ent_sum += cc.n ? cc.ent / cc.n : 0;
            }
            if (cc.first && cc.n) {
                rep->mismatch_max = cc.mism_max;
                rep->mismatch_mean = cc.mism_sum / cc.n;
                rep->ratio_dev_max = cc.ratio_dev;
            }
            const double dt = time_now() - ts;
            if (o->metrics) {
                cJSON *j = cJSON_CreateObject();
                cJSON_AddNumberToObject(j, "cycle", o->cycle);
                cJSON_AddNumberToObject(j, "step", (double)(step + 1));
                cJSON_AddStringToObject(j, "algorithm", rl_algo_name(o->obj.algo));
                cJSON_AddBoolToObject(j, "skipped", skip);
                put_num(j, "loss", cc.loss);
                put_num(j, "grad_norm", gnorm);
                cJSON_AddNumberToObject(j, "learning_rate", o->learning_rate);
                cJSON_AddNumberToObject(j, "mean_reward", rep->mean_reward);
                cJSON_AddNumberToObject(j, "reward_std", rep->reward_std);
                cJSON_AddNumberToObject(j, "zero_std_group_fraction", rep->zero_std_fraction);
                cJSON_AddNumberToObject(j, "groups", rep->groups);
                cJSON_AddNumberToObject(j, "groups_used", rep->groups_used);
                cJSON_AddNumberToObject(j, "groups_dropped", rep->groups_dropped);
                cJSON_AddNumberToObject(j, "groups_refilled", o->groups_refilled);
                put_num(j, "clip_fraction", cc.n ? (double)cc.clipped / cc.n : NAN);
                put_num(j, "kl", has_ref && cc.n ? cc.kl / cc.n : NAN);
                put_num(j, "entropy", cc.n ? cc.ent / cc.n : NAN);
                cJSON_AddNumberToObject(j, "response_length", rep->response_length);
                cJSON_AddNumberToObject(j, "clipped_length_ratio", rep->clipped_length_ratio);
                /* the sampler/trainer figures belong to the first step (measured there, or in the extra pass) */
                put_num(j, "logprob_mismatch_max", step == 0 ? rep->mismatch_max : NAN);
                put_num(j, "logprob_mismatch_mean", step == 0 ? rep->mismatch_mean : NAN);
                put_num(j, "ratio_deviation_max", step == 0 ? rep->ratio_dev_max : NAN);
                cJSON_AddNumberToObject(j, "sequences", b1 - b0);
                cJSON_AddNumberToObject(j, "loss_tokens", (double)cc.n);
                put_num(j, "sampling_tokens_per_s", o->sampling_tokens_per_s);
                put_num(j, "training_tokens_per_s", dt > 0 ? (double)step_tokens / dt : NAN);
                int wrc = jsonl_write(o->metrics, j);
                cJSON_Delete(j);
                if (wrc) {
                    err_set(err, errcap, "rl: cannot write the metrics: %s", strerror(errno));
                    goto out;
                }
            }
            step++;
        }
    }
    rep->steps = step;
    if (applied) {
        rep->loss = loss_sum / applied;
        rep->clip_fraction = clip_sum / applied;
        rep->kl = has_ref ? kl_sum / applied : NAN;
        rep->entropy = ent_sum / applied;
    } else {
        rep->loss = rep->clip_fraction = rep->kl = rep->entropy = NAN;
    }
    rep->train_seconds = time_now() - t_start;
    rep->train_tokens_per_s = rep->train_seconds > 0 ? (double)train_tokens / rep->train_seconds : 0;
    rc = 0;
out:
    train_model_zero_grad(m);
    if (ref_lp)
        for (int i = 0; i < n; i++) free(ref_lp[i]);
    free(ref_lp);
    if (old_tr)
        for (int i = 0; i < n; i++) free(old_tr[i]);
    free(old_tr);
    free(rew);
    free(adv);
    free(wseq);
    free(active);
    free(order);
    pack_free(&pk);
    opt_adamw_free(&opt);
    return rc;
}
