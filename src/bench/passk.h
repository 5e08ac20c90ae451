/* passk: the unbiased pass@k estimator (Chen et al. 2021) and its aggregation per prompt and per
 * category.
 *
 * For one prompt with n samples of which c are correct, pass@k = 1 - C(n-c, k) / C(n, k): the
 * probability that at least one of k samples drawn without replacement from the n is correct.
 * It is defined only for 1 <= k <= n (there is no unbiased estimate with fewer samples than k).
 * The benchmark value is the mean over prompts; a category's value is the mean over its prompts.
 *
 * Memory: a pk_tally owns copies of the ids and categories it is given. */
#ifndef HF_BENCH_PASSK_H
#define HF_BENCH_PASSK_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* pass@k of one prompt, computed as 1 - prod_{i=n-c+1..n} (1 - k/i), which never forms a binomial
 * coefficient and so is exact to rounding for any n. Returns NAN when k < 1, k > n, c < 0 or c > n. */
double pk_estimate(long n, long c, long k);

typedef struct {
    char *id;       /* prompt id */
    char *category; /* "unknown" when none was given */
    long n;         /* samples seen */
    long c;         /* correct samples */
} pk_prompt;

typedef struct {
    pk_prompt *prompts; /* in the order first seen */
    size_t count, cap;
} pk_tally;

void pk_tally_init(pk_tally *t);
void pk_tally_free(pk_tally *t);
/* Counts one sample of prompt `id` (category NULL or "" means "unknown"; the first category seen
 * for an id sticks). Returns the prompt's index, or -1 when out of memory. */
long pk_tally_add(pk_tally *t, const char *id, const char *category, bool correct);
/* Index of a prompt, or -1. */
long pk_tally_find(const pk_tally *t, const char *id);

/* Smallest and largest number of samples over the prompts (0 when empty). pass@k is reported for
 * k <= min_n only, so every prompt contributes to every reported value. */
long pk_tally_min_n(const pk_tally *t);
long pk_tally_max_n(const pk_tally *t);

/* Mean pass@k over the prompts of `category` (NULL: all prompts). Returns NAN when there is no such
 * prompt or k is not defined for one of them (k > its n). */
double pk_tally_pass_at_k(const pk_tally *t, const char *category, long k);

/* The pass@k block of the original's `benchmark run` JSON, extended:
 *   {"total", "passed", "pass_rate", "pass_at_k": {"1": .., "5": ..},
 *    "by_category": {cat: {"total", "passed", "pass_rate", "pass_at_k": {..}}},
 *    "samples_per_prompt": n (or {"min", "max"} when prompts differ), "skipped_k": [k > min n]}
 * total = prompts, passed = prompts with at least one correct sample, pass_rate = passed/total.
 * A k larger than some prompt's n is left out of pass_at_k and listed in skipped_k.
 * Categories appear in the order first seen. Caller frees with cJSON_Delete. */
cJSON *pk_tally_to_json(const pk_tally *t, const long *ks, size_t nk);

/* Parses "1,5,10" into ascending unique positive values. Returns the count (at most cap), or -1
 * with a message for an empty list, a non-number, a value < 1 or too many values. */
#define BENCH_K_MAX 32
int pk_parse_ks(const char *text, long *ks, size_t cap, char *err, size_t errcap);

#endif
