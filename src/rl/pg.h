/* rl/pg: the objectives of group-relative policy-gradient RL, as plain functions of rewards and per-token
 * log-probabilities (no model here: rl/update.c feeds them through the one forward pass).
 *
 * A rollout batch is n_groups groups of G samples of one prompt each. Each sample i has a scalar reward r_i and
 * tokens t with the sampler's log-probability lp_old (the policy that sampled, at the sampling temperature), the
 * current policy's lp, and with a KL penalty the reference's lp_ref (the base model: LoRA off).
 *
 * Advantages (one per sample, shared by its tokens):
 *   grpo, dapo:  A_i = (r_i - mean_g) / (std_g + 1e-4), std the sample standard deviation (n - 1) of the group;
 *   dr-grpo:     A_i = r_i - mean_g (no std: Liu et al., "Understanding R1-Zero-like training");
 *   rloo:        A_i = r_i - mean of the other G - 1 rewards of the group (leave-one-out baseline).
 * Per-token term, ratio rho = exp(lp - lp_old):
 *   term = -min(rho A, clip(rho, 1 - clip_low, 1 + clip_high) A) + beta (exp(lp_ref - lp) - (lp_ref - lp) - 1)
 *   (PPO's clipped surrogate; the KL is Schulman's k3 estimator, >= 0). DAPO's "clip-higher" is clip_high >
 *   clip_low; the others use one value for both.
 * Normalisation over the sequences S of one optimizer step (L_i: loss tokens of sequence i):
 *   grpo, rloo:  Loss = 1/|S| sum_i 1/L_i sum_t term  (mean over each sequence, then over sequences);
 *   dapo:        Loss = 1/sum L_i sum_i sum_t term   (token-level mean);
 *   dr-grpo:     Loss = 1/(|S| L_max) sum_i sum_t term (a constant, max_new_tokens: no length bias).
 * Every generated token is a loss token, the end-of-sequence token included (Qwen's pad id is its eos id; the
 * mask here is by position, never by token id). */
#ifndef HF_RL_PG_H
#define HF_RL_PG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { RL_RAFT = 0, RL_GRPO, RL_DAPO, RL_DR_GRPO, RL_RLOO, RL_ALGO_COUNT } rl_algo;

/* "raft", "grpo", "dapo", "dr-grpo", "rloo" <-> rl_algo. parse returns 0, or -1 for an unknown name. */
int rl_algo_parse(const char *name, rl_algo *a);
const char *rl_algo_name(rl_algo a);

typedef struct {
    rl_algo algo;
    double clip_low, clip_high; /* ratios clipped to [1 - clip_low, 1 + clip_high] */
    double kl_coef;             /* beta; 0: no KL term (and no reference pass) */
    int max_new_tokens;         /* dr-grpo's L_max */
} rl_objective;

/* Defaults: clip 0.2 / 0.2 (dapo: 0.2 / 0.28), beta 0, L_max 1024. */
void rl_objective_default(rl_objective *o, rl_algo a);

/* adv[n_groups * G] from rewards[n_groups * G] (group g is entries g*G .. g*G+G-1). G == 1 gives zeros. */
void rl_advantages(rl_algo a, const double *rewards, int n_groups, int G, double *adv);

/* The weight 1/L_i, 1/sum L, or 1/L_max of every token of sequence i (n_tok[i] loss tokens, n_seq sequences). */
double rl_seq_weight(const rl_objective *o, long n_tok_i, long sum_tok, int n_seq);

/* One token's term (see above; has_ref false: no KL) and its derivative d term / d lp. *clipped says whether the
 * clip is active (the surrogate's gradient is zero there); *kl gets the k3 value (0 without reference). */
double rl_token_term(const rl_objective *o, double lp, double lp_old, double lp_ref, bool has_ref, double adv,
                     double *dterm, bool *clipped, double *kl);

#endif
