/* rng: a small, fast, seedable random generator (xoshiro256** seeded through splitmix64).
 * The same seed gives the same stream on every machine; the state is plain data, so it can
 * be saved in a checkpoint and restored bit-exactly. */
#ifndef HF_RNG_H
#define HF_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng_state;

void rng_seed(rng_state *r, uint64_t seed);
uint64_t rng_next(rng_state *r);
/* Uniform in [0, 1) with 24 random bits (float) or 53 (double). */
float rng_float(rng_state *r);
double rng_double(rng_state *r);
/* Uniform integer in [0, n); n > 0. */
uint64_t rng_below(rng_state *r, uint64_t n);
/* Standard normal (Box-Muller). */
double rng_normal(rng_state *r);

#endif
