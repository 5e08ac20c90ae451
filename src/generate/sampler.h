/* sampler: picks the next token from a row of logits with temperature, top-k and top-p (nucleus),
 * as Hugging Face's generate() does (temperature, then top-k, then top-p), or greedily.
 *
 * Work is linear in the vocabulary: top-k and top-p find their cut with a partial selection
 * (quickselect), never a full sort of the 151936 logits.
 *
 * Ties are broken by token id, so every result is a pure function of (logits, settings, rng state):
 * tokens are ranked by probability, highest first, and among equal probabilities the lower id first.
 * Greedy picks the lowest id among equal maxima.
 *
 * Ownership: a gen_sampler holds scratch memory for one vocabulary size; it is not shared between
 * threads (make one per thread). gen_sampler_free() releases it. */
#ifndef HF_GEN_SAMPLER_H
#define HF_GEN_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

typedef struct {
    float temperature; /* 0: greedy (argmax); otherwise logits are divided by it before the softmax */
    float top_p;       /* in (0, 1]; 1 keeps everything. Keeps the fewest top tokens whose mass reaches top_p */
    int top_k;         /* 0: off; otherwise keeps the top_k most likely tokens */
} gen_sampling;

typedef struct gen_sampler gen_sampler;

gen_sampler *gen_sampler_create(int vocab);
void gen_sampler_free(gen_sampler *s);

/* Checks the settings; returns 0, or -1 with the reason in err. */
int gen_sampling_check(const gen_sampling *p, char *err, size_t errcap);

/* Draws one token id from logits[0..vocab-1] (vocab as given at creation). Uses the rng only when
 * sampling (not for greedy), exactly one draw per call. Non-finite logits (NaN, +-inf) count as -infinity.
 * Returns the id, or -1 when no logit is finite. */
int gen_sample(gen_sampler *s, const float *logits, const gen_sampling *p, rng_state *rng);

/* gen_sample, and *lp (when not NULL) = the log-probability of the drawn id under the distribution it was drawn
 * from: softmax(logits / temperature), restricted to the top-k / top-p support and renormalised (0 for greedy).
 * The trainer's log-probability of the same token at the same temperature (rl/) is this up to fp32 rounding. */
int gen_sample_lp(gen_sampler *s, const float *logits, const gen_sampling *p, rng_state *rng, float *lp);

/* The distribution gen_sample draws from: writes the ids that may be drawn into ids[] and their
 * probabilities (normalised to sum to 1) into probs[], both sized vocab, ordered by id, and returns
 * their count (1 for greedy), or -1 when no logit is finite. For tests and diagnostics. */
int gen_sample_support(gen_sampler *s, const float *logits, const gen_sampling *p, int *ids, double *probs);

/* Seeds the random stream of one sample from (seed, prompt index, sample index): the stream of a
 * sample does not depend on which other samples run, nor in which order or batch. */
void gen_seed_stream(rng_state *r, uint64_t seed, uint64_t prompt_idx, uint64_t sample_idx);

#endif
