/* prompts: the benchmark's built-in C++ prompts and the prompts JSONL files RAFT and the
 * benchmarks read.
 *
 * The 16 built-in prompts are the original's (ids, texts, difficulties and expected outputs
 * unchanged); we add a category to each, following the seed's table (basic_io, arithmetic,
 * arrays, algorithms, strings, plus data_structures for the linked list).
 *
 * A prompts JSONL line is an object with
 *   prompt (or text)            the user message (required, a non-empty string)
 *   id (or task_id)             string or number; default "prompt_<line>"
 *   category, difficulty        strings; default "unknown"
 *   expected_output             what the program must print (compared after trimming)
 *   stdin                       text given on standard input
 *   tests                       a string (Python test code: HumanEval check() or MBPP asserts),
 *                               a list of strings (asserts, joined with newlines), or a list of
 *                               {input|stdin, expected|output|expected_output} cases
 *   entry_point                 the function HumanEval's check() is called with
 * Lines that are not such an object are reported as "FILE:LINE: reason" and skipped.
 *
 * Memory: a bench_prompt_set owns every string and array in it. */
#ifndef HF_BENCH_PROMPTS_H
#define HF_BENCH_PROMPTS_H

#include <stddef.h>

#include "verify/verify.h"

typedef struct {
    char *id;
    char *prompt;
    char *category;        /* "unknown" when not given */
    char *difficulty;      /* "easy" | "medium" | "hard" for the built-ins; "unknown" when not given */
    char *expected_output; /* NULL: none */
    char *stdin_text;      /* NULL: none */
    vf_test_case *tests;   /* I/O cases (strings owned by the set); NULL when none */
    size_t n_tests;
    char *test_code;       /* Python tests; NULL when none */
    char *entry_point;     /* NULL when none */
    long line;             /* line in the JSONL file (0 for built-ins) */
} bench_prompt;

typedef struct bench_prompt_set_s {
    bench_prompt *items;
    size_t count, cap;
    size_t bad_lines; /* lines skipped by bench_prompts_load */
} bench_prompt_set;

#define BENCH_BUILTIN_COUNT 16

/* Appends *p to set, which takes ownership of p's strings. Returns 0, or -1 out of memory (p unchanged,
 * still the caller's). */
int bench_prompts_push(bench_prompt_set *set, bench_prompt *p);

/* The 16 built-in C++ prompts as a new set (caller frees with bench_prompts_free).
 * Returns 0, or -1 when out of memory. */
int bench_prompts_builtin(bench_prompt_set *out);

/* Reads a prompts JSONL file into out (appending). Bad lines are logged as warnings
 * ("FILE:LINE: reason") and counted in out->bad_lines. Duplicate ids are bad lines too.
 * Returns 0, or -1 with "FILE: reason" in err when the file cannot be read or holds no good prompt. */
int bench_prompts_load(const char *path, bench_prompt_set *out, char *err, size_t errcap);

/* Parses one JSON record into *out (fields owned by out). lineno names the default id.
 * Returns 0, or -1 with the reason (without file and line) in why. */
int bench_prompt_from_json(const cJSON *obj, long lineno, bench_prompt *out, char *why, size_t whycap);

void bench_prompt_free(bench_prompt *p);
void bench_prompts_free(bench_prompt_set *set);

/* Index of the prompt with this id, or -1. */
long bench_prompts_find(const bench_prompt_set *set, const char *id);

/* Fills a verifier sample for a completion of prompt p (pointers borrowed from p and completion). */
void bench_prompt_sample(const bench_prompt *p, const char *completion, vf_sample *out);

#endif
