/* rl/update: the policy-gradient update of one rollout batch (rl/pg.h's objectives through the model's one
 * forward pass, train_model_pg).
 *
 * The batch is n_groups groups of G samples (sample g*G+i is sample i of prompt g). Each sample is its prompt's
 * token ids followed by the generated ids (the end-of-sequence id included when it stopped on one) with the
 * sampler's log-probability of each generated id. rl_update:
 *   1. advantages per group (rl_advantages); with drop_equal_groups, groups whose rewards are all equal leave
 *      the loss (DAPO's dynamic sampling: they carry no signal); with overlong_filter, samples cut at the token
 *      limit leave it (DAPO's overlong filtering);
 *   2. with a KL coefficient, the reference's log-probs of every loss token: the same weights with LoRA off
 *      (train_model_set_adapters), forward only;
 *   3. epochs passes over the remaining samples, each shuffled (from seed) into mini_batches optimizer steps;
 *      a step packs its sequences into forwards of up to batch_tokens tokens, recomputes each token's log-prob
 *      at the sampling temperature, and accumulates the gradient of the clipped objective against the sampler's
 *      log-probs (kept from sampling, never recomputed: the importance ratios are those of the policy that
 *      sampled); then gradient clipping and one AdamW step;
 *   4. a step whose loss or gradient is not finite is not applied: the weights stay the last good ones, the step
 *      is logged as skipped (warning and metrics), and the update goes on with the next step.
 * At the first step the weights are those that sampled, so |lp - lp_old| there is the sampler/trainer mismatch:
 * reported as mismatch_max / mismatch_mean, with the ratios' largest deviation from 1 (with old_from_trainer
 * the mismatch is measured over every token in the extra pass, and the first step's ratios are 1 to ~1e-7).
 *
 * Metrics: one JSON line per optimizer step appended to metrics (when not NULL), see docs/rl.md.
 * Memory: samples are borrowed. Errors: -1 with "rl: ..." in err; 1 when cancelled (before a step). */
#ifndef HF_RL_UPDATE_H
#define HF_RL_UPDATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rl/pg.h"
#include "train/train_model.h"

typedef struct {
    const int *ids;      /* n_prompt + n_gen ids */
    int n_prompt, n_gen;
    const float *lp_old; /* [n_gen] */
    double reward;
    bool truncated;      /* stopped at the token limit */
} rl_sample;

typedef struct {
    rl_objective obj;
    double temperature;       /* the sampling temperature (> 0) */
    double learning_rate;
    int epochs;               /* passes over the batch */
    int mini_batches;         /* optimizer steps per pass */
    int batch_tokens;         /* tokens per forward */
    double max_grad_norm;     /* <= 0: no clipping */
    bool drop_equal_groups;
    bool overlong_filter;
    bool old_from_trainer;    /* the ratios' old log-probs: recomputed by the trainer before the first step (from
                                 the same weights; the sampler's then only measure the mismatch, over every
                                 token) instead of the sampler's own. The sampler's depend on which samples were
                                 decoded together in the last bits (~1e-6), the trainer's do not, so a resumed
                                 rollout then trains bit for bit the adapter an uninterrupted one trains. */
    bool fast;                /* bf16 products with bf16-rounded activations, in sampling and training (faster;
                                 log-probs then disagree by ~1e-2), instead of exact fp32 products in both */
    uint64_t seed;
    int cycle;                /* for the metrics lines */
    double sampling_tokens_per_s; /* copied into the metrics lines */
    int groups_refilled;      /* groups of the batch that DAPO's refill sampled (copied into the metrics lines) */
    FILE *metrics;
    const volatile int *cancel;
} rl_update_opts;

void rl_update_opts_default(rl_update_opts *o, rl_algo a);

typedef struct {
    long steps, skipped_steps;
    int groups, groups_used;      /* all groups, and those left after dynamic sampling */
    int groups_dropped;           /* groups left out for equal rewards (drop_equal_groups; else 0) */
    long samples_used, tokens_used;
    double mean_reward, reward_std, zero_std_fraction;
    double response_length, clipped_length_ratio;
    double loss, clip_fraction, kl, entropy; /* means over the applied steps */
    double mismatch_max, mismatch_mean, ratio_dev_max; /* first step */
    double train_seconds, train_tokens_per_s;
} rl_update_report;

int rl_update(train_model *m, const rl_sample *s, int n_groups, int G, const rl_update_opts *o,
              rl_update_report *rep, char *err, size_t errcap);

#endif
