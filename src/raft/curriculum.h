/* raft curriculum: which prompts a RAFT cycle uses, and the per-prompt record kept across cycles.
 *
 * Complexity of a prompt (the original's heuristic, in [0, 1]):
 *   0.3 x min(1, characters/500) + 0.4 x min(1, keyword weights/15) + 0.3 x min(1, specifics)
 * keywords (case-insensitive substrings, each counted once): weight 1 print hello sum add count loop
 * array string; 2 sort search recursion class struct pointer memory file read write parse; 3 thread
 * async mutex socket network encrypt syscall injection hook shellcode exploit evasion obfuscate
 * callback vtable. Specifics: a digit 0.1, a quoted string 0.1, must|should|exactly|specific 0.15,
 * optimize|efficient|fast 0.1, error|exception|handle 0.1, test|verify|validate 0.1.
 *
 * Strategies (cycles are 1-based; "easiest first" = ascending complexity, ties in file order):
 *   none         every prompt, in file order;
 *   complexity   every prompt, easiest first;
 *   progressive  the easiest max(1, floor(n x min(1, start + (c-1) x increment)));
 *   adaptive     cycle 1: the easier half; later: the prompts whose complexity is within 0.3 of the
 *                current difficulty (all prompts when fewer than n/4 match), in file order. The
 *                difficulty starts at 0.5 and moves once per finished cycle: +0.15 when that
 *                cycle's success rate > 0.7, -0.15 when < 0.2 (kept within [0, 1]);
 *   historical   every prompt, highest success rate first, from a stats file (a prompt not in it
 *                counts 0.5); complexity order when there is no file.
 * Every strategy records per-prompt attempts and successes (raft_curriculum_record), written to
 * curriculum_stats.json; that file is what a later `historical` run reads.
 *
 * Memory: the curriculum keeps its own copy of the prompts' first 200 characters. */
#ifndef HF_RAFT_CURRICULUM_H
#define HF_RAFT_CURRICULUM_H

#include <stdbool.h>
#include <stddef.h>

#include "raft/filter.h"

typedef enum {
    RAFT_CURRICULUM_NONE,
    RAFT_CURRICULUM_COMPLEXITY,
    RAFT_CURRICULUM_PROGRESSIVE,
    RAFT_CURRICULUM_ADAPTIVE,
    RAFT_CURRICULUM_HISTORICAL
} raft_curriculum_kind;

typedef struct {
    char *key;           /* the prompt's first 200 characters (UTF-8 safe) */
    double complexity;
    long attempts, successes; /* samples and successful samples over all recorded cycles */
    double history_rate; /* success rate from a loaded stats file; NAN when unknown */
} raft_prompt_stat;

typedef struct {
    raft_curriculum_kind kind;
    size_t n;
    raft_prompt_stat *stats; /* one per prompt, in file order */
    double start, increment; /* progressive: default 0.2 and 0.2 */
    double difficulty;       /* adaptive: starts at 0.5 */
    int updated_cycle;       /* last cycle that moved the difficulty (0: none) */
    bool have_history;       /* historical: a stats file was loaded */
} raft_curriculum;

int raft_curriculum_parse(const char *name, raft_curriculum_kind *out); /* none|complexity|progressive|adaptive|historical */
const char *raft_curriculum_name(raft_curriculum_kind k);

double raft_complexity(const char *prompt);

/* Sets up a curriculum over n prompts (texts borrowed during the call). Returns 0, or -1 when out of memory. */
int raft_curriculum_init(raft_curriculum *cur, raft_curriculum_kind kind, const char *const *prompts, size_t n);
void raft_curriculum_free(raft_curriculum *cur);

/* Prompt indices for cycle c into out (capacity cur->n). Returns how many. Does not change cur. */
size_t raft_curriculum_select(const raft_curriculum *cur, int cycle, size_t *out);

/* Adds a cycle's results for prompt i: samples tried and how many succeeded. */
void raft_curriculum_record(raft_curriculum *cur, size_t i, long attempts, long successes);
/* Records a cycle's verified samples: for each, one attempt (and a success when it succeeded) for
 * prompt s[i].prompt (an index into the curriculum's prompts; others are ignored). */
void raft_curriculum_record_samples(raft_curriculum *cur, const raft_scored *s, long n);

/* Ends cycle c with its overall success rate: adaptive moves its difficulty, once per cycle (a
 * repeated or earlier cycle is ignored and returns false). */
bool raft_curriculum_update(raft_curriculum *cur, int cycle, double success_rate);

/* Cycles progressive needs to reach every prompt (the original warns above 10). */
int raft_curriculum_cycles_to_full(double start, double increment);

/* Reads a curriculum_stats.json ({"prompt_stats": [{"prompt", "success_rate", "attempts", ...}]}),
 * matching prompts by their first 100 characters. Sets history_rate of matched prompts; with
 * restore (resuming our own run) also attempts, successes, difficulty and updated_cycle.
 * Returns the number of prompts matched, or -1 with "PATH: reason" in err. */
long raft_curriculum_load(raft_curriculum *cur, const char *path, bool restore, char *err, size_t errcap);
/* Writes curriculum_stats.json atomically: {"strategy", "difficulty", "updated_cycle",
 * "prompt_stats": [{"prompt" (first 200 chars), "complexity", "success_rate", "attempts", "successes"}]}.
 * success_rate = successes / attempts (0 when never attempted). Returns 0 or -1 with err. */
int raft_curriculum_save(const raft_curriculum *cur, const char *path, char *err, size_t errcap);

#endif
