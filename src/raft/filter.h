/* raft filter: which verified samples a RAFT cycle trains on, and the cycle's statistics.
 *
 * Global mode (the original's): sort all samples by reward (descending, ties in input order), keep
 * those with reward >= threshold, then the top max(1, floor(above x keep_percent)) of them.
 * Per-prompt mode: the same rule applied to each prompt's samples separately, so every prompt
 * with a good sample contributes (an easy prompt cannot crowd out the rest).
 * Before either, prompts that carry no signal can be dropped: all samples failed (drop_unsolved)
 * or all succeeded (drop_solved), "succeeded" being the verifier's success flag.
 * Min-samples rescue: when fewer than min_samples are kept, the best remaining samples are added
 * (threshold ignored) until min_samples, and effective_threshold becomes the lowest kept reward.
 * Unlike the original, the rescue never adds a reward-0 sample (code that does not compile) and
 * never re-adds a dropped prompt; it keeps what it can.
 *
 * Reward buckets (fixed: every reward falls in exactly one; the original skipped 0.2-0.4):
 *   "0.0" r < 0.15 | "0.3" 0.15 <= r < 0.4 | "0.5" 0.4 <= r < 0.6 | "0.7" 0.6 <= r < 0.9 | "1.0" r >= 0.9 */
#ifndef HF_RAFT_FILTER_H
#define HF_RAFT_FILTER_H

#include <stdbool.h>

#include <cjson/cJSON.h>

typedef struct {
    long prompt;   /* index of the prompt this sample answers (>= 0) */
    double reward;
    bool success;  /* the verifier's success flag */
} raft_scored;

typedef enum { RAFT_FILTER_GLOBAL, RAFT_FILTER_PER_PROMPT } raft_filter_mode;

typedef struct {
    raft_filter_mode mode;
    double reward_threshold; /* default 0.5 */
    double keep_percent;     /* fraction in (0, 1], default 0.5 */
    long min_samples;        /* 0: no rescue */
    bool drop_unsolved;      /* drop prompts none of whose samples succeeded */
    bool drop_solved;        /* drop prompts all of whose samples succeeded */
} raft_filter_cfg;

#define RAFT_NBUCKETS 5
extern const char *const raft_bucket_names[RAFT_NBUCKETS];
int raft_reward_bucket(double reward);

typedef struct {
    /* over all samples of the cycle (the original's keys) */
    long total_samples, above_threshold, kept;
    double avg_reward, avg_kept_reward, success_rate;
    long reward_distribution[RAFT_NBUCKETS];
    bool threshold_adjusted;
    double effective_threshold;
    /* ours */
    long prompts;          /* distinct prompts */
    long prompts_unsolved; /* no sample succeeded */
    long prompts_solved;   /* every sample succeeded */
    long prompts_dropped;  /* removed by drop_unsolved / drop_solved */
    long prompts_kept;     /* prompts with at least one kept sample */
    long rescued;          /* samples added by the min-samples rescue */
} raft_filter_stats;

void raft_filter_cfg_default(raft_filter_cfg *cfg);
/* "global" / "per-prompt". Returns 0 or -1. */
int raft_filter_mode_parse(const char *name, raft_filter_mode *out);

/* Filters n samples. *kept receives a heap array (caller frees; NULL when nothing is kept) of
 * sample indices, best reward first (ties in input order); stats is filled. Returns the number
 * kept, or -1 when out of memory or the config is invalid (keep_percent outside (0, 1], negative
 * prompt index). */
long raft_filter(const raft_scored *s, long n, const raft_filter_cfg *cfg, long **kept, raft_filter_stats *stats);

/* Adds the stats to obj: total_samples, above_threshold, kept, avg_reward, avg_kept_reward,
 * success_rate, reward_distribution {"0.0","0.3","0.5","0.7","1.0"}, threshold_adjusted,
 * effective_threshold, prompts, prompts_unsolved, prompts_solved, prompts_dropped, prompts_kept,
 * rescued. */
void raft_filter_stats_to_json(const raft_filter_stats *st, cJSON *obj);

/* raft_statistics.json is a JSON array of per-cycle objects, each with "cycle". Replaces the
 * entry of entry's cycle (or adds it), keeps the array sorted by cycle, and writes the file
 * atomically. entry is copied. Returns 0, or -1 with "PATH: reason" in err (a file that exists
 * but is not such an array is an error, not overwritten). */
int raft_statistics_put(const char *path, const cJSON *entry, char *err, size_t errcap);
/* Reads raft_statistics.json: a new array (caller frees), an empty array when the file does not
 * exist, or NULL with "PATH: reason" in err when it is not a JSON array. */
cJSON *raft_statistics_load(const char *path, char *err, size_t errcap);

#endif
