/* dval: `data validate` — checks a JSONL training or prompts file and, optionally, that each record's own
 * reference solution passes its own tests.
 *
 * Each line is classified as one of
 *   sft              {"text"}
 *   messages         {"messages": [{role, content}, ...]} with an assistant turn
 *   rlvr             {"prompt", tests | expected_output, ...} (a prompts file raft / benchmark verify)
 *   prompt_response  {"prompt", "completion" | "response"} or alpaca {"instruction", "output"}
 *   prompts_only     {"prompt"}
 * and checked: valid JSON object, field types, empty text/prompt (errors), short prompt or response (< 10
 * characters) and text over 16000 characters (warnings), malformed messages or tests (errors), duplicate
 * ids (errors, naming the first line). The file's format is the class of at least 90% of its records, else
 * "mixed".
 *
 * Verification (--verify): every record with a reference solution (completion / response, or the assistant
 * turn) and something to check it against (tests or expected_output) is run through the verifier of its
 * language: Python test code (HumanEval check(), MBPP asserts) with the python verifier, C/C++ I/O cases
 * with the execution verifier, other I/O cases and expected outputs by running the program (gcc/g++,
 * python, rustc, go). A record passes when every test does.
 *
 * Memory: the report owns nothing; problems are handed to the callback as they are found. */
#ifndef HF_DVAL_H
#define HF_DVAL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { DV_SFT, DV_MESSAGES, DV_RLVR, DV_PROMPT_RESPONSE, DV_PROMPTS_ONLY, DV_KIND_COUNT } dv_kind;

const char *dv_kind_name(dv_kind k);

typedef struct {
    bool verify;
    int workers;          /* verifier threads, 0: one per core */
    const volatile int *cancel;
} dval_options;

typedef struct {
    long lines;           /* non-blank lines */
    long records;         /* lines that are JSON objects */
    long errors, warnings;
    long by_kind[DV_KIND_COUNT];
    const char *format;   /* dv_kind_name of the file's format, "mixed", or "empty" */
    long n_prompt, n_response;
    double sum_prompt, sum_response;   /* characters */
    long max_prompt, max_response;
    long with_tests;      /* records with tests or an expected output */
    long verifiable;      /* with tests and a reference solution */
    long verified_ok, verified_failed, not_verifiable; /* not_verifiable: no verifier for the language */
    bool cancelled;
} dval_report;

/* Called for every problem: line (1-based), error or warning, and the message (without file and line). */
typedef void (*dval_problem_fn)(void *user, long line, bool error, const char *msg);
/* Called after each verified record. */
typedef void (*dval_progress_fn)(void *user, long done, long total);

/* Checks path. Returns 0 with the report filled (errors may be > 0), or -1 with "PATH: reason" in err
 * when the file cannot be read or the verifier cannot start. */
int dval_run(const char *path, const dval_options *o, dval_report *r, dval_problem_fn fn, dval_progress_fn pfn,
             void *user, char *err, size_t errcap);

#endif
