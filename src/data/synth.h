/* synth: a generator of (instruction, C/C++ program) training pairs in the style of the benchmark's
 * prompt categories (basic_io, arithmetic, arrays, algorithms, strings, data_structures).
 *
 * Each record comes from one task family (factorial, bubble sort, count vowels, ...) with random
 * parameters drawn from a seeded generator, one of several phrasings of the instruction and one of
 * several program styles (loop or recursion, printf or std::cout, array or std::vector, helper
 * function or inline code). The generator computes the expected output itself from the parameters;
 * synth_generate then compiles and runs every program with our gcc verifier and keeps only those
 * that print exactly that output with no compiler warning (-Wall -Wextra).
 *
 * Hold-out: no record is one of the 16 built-in benchmark tasks, neither by text (the normalised
 * prompt equals a built-in's) nor by task (the same task with the same parameters, e.g. the factorial
 * of 6 in any wording): see synth_task_held_out.
 *
 * Memory: a synth_set owns all its strings (synth_set_free). */
#ifndef HF_SYNTH_H
#define HF_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

typedef struct {
    char *family;          /* task family: "factorial", "bubble_sort", ... */
    char *task;            /* canonical task + parameters: "factorial:7" (what the hold-out compares) */
    const char *category;  /* static: basic_io | arithmetic | arrays | algorithms | strings | data_structures */
    const char *difficulty;/* static: easy | medium | hard */
    bool cpp;              /* C++ (else C) */
    char *prompt;          /* the instruction */
    char *code;            /* the program */
    char *expected_output; /* what it prints, without the final newline */
} synth_record;

typedef struct {
    synth_record *items;
    size_t count, cap;
} synth_set;

typedef struct {
    uint64_t seed;
    size_t count;           /* records wanted */
    bool allow_c, allow_cpp;/* languages (at least one) */
    double cpp_share;       /* share of C++ records when both are allowed (0..1) */
    int workers;            /* verifier threads, 0: one per core */
    bool verify;            /* compile and run every program (false: trust the templates) */
    const char *system_prompt; /* written into each record's "system" field; NULL: none */
    const char *compile_flags; /* flags the programs must compile cleanly with; NULL: "-O0 -Wall -Wextra" */
} synth_options;

/* Defaults: seed 0, count 100, both languages, cpp_share 0.6, all cores, verify on, system prompt the
 * benchmark's (RAFT_DEFAULT_SYSTEM_PROMPT). */
void synth_options_default(synth_options *o);

/* Draws one candidate record from r (not verified, not checked against the hold-out). Returns 0, or
 * -1 when out of memory. */
int synth_candidate(rng_state *r, bool cpp, synth_record *out);

/* Statistics of a synth_generate run. */
typedef struct {
    size_t candidates;   /* drawn */
    size_t held_out;     /* dropped: a built-in benchmark task */
    size_t duplicates;   /* dropped: same prompt and program as an earlier record */
    size_t failed;       /* dropped: did not compile cleanly or printed something else (a template bug) */
    size_t compiled;     /* programs verified */
} synth_stats;

typedef void (*synth_progress_fn)(void *user, size_t done, size_t total);

/* Generates o->count records (deterministic for seed, count and languages) into out, in order.
 * Programs that fail verification are dropped with a warning (counted in stats->failed) and replaced
 * by new candidates. Returns 0, or -1 with the reason in err (bad options, verifier unusable, out of
 * memory, or too many failures to reach the count). */
int synth_generate(const synth_options *o, synth_set *out, synth_stats *stats, synth_progress_fn fn, void *user,
                   char *err, size_t errcap);

void synth_set_free(synth_set *s);
void synth_record_free(synth_record *r);

/* The record as one JSON line (no newline) with fields id, category, difficulty, language ("c" or
 * "cpp"), family, task, prompt, completion (the program in one fenced block), expected_output and,
 * when system_prompt is not NULL, system. Heap string (caller frees), NULL when out of memory. */
char *synth_record_json(const synth_record *r, const char *id, const char *system_prompt);

/* The completion a model should answer for r: "```cpp\n<code>```" (or ```c). Heap string. */
char *synth_completion(const synth_record *r);

/* Canonical task key "task:p1,p2,...|text" into out. nums are sorted first when the task does not
 * depend on their order (sums, maxima, sorting, gcd, ...). text is lowercased, and for messages
 * reduced to letters and digits. Returns out. */
char *synth_task_key(char *out, size_t cap, const char *task, const long *nums, size_t n_nums, const char *text);

/* True when the task with these parameters is one of the 16 built-in benchmark tasks. */
bool synth_task_held_out(const char *task, const long *nums, size_t n_nums, const char *text);
/* True when key (from synth_task_key) is held out. */
bool synth_key_held_out(const char *key);

/* True when prompt, normalised (case, whitespace, quotes), equals a built-in benchmark prompt. */
bool synth_prompt_is_builtin(const char *prompt);

/* Number of task families. */
size_t synth_family_count(void);

#endif
