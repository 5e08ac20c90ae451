/* suites: the named benchmarks of `benchmark eval` and the prompt set each one evaluates.
 *
 *   cpp        the 16 built-in C++ prompts (prompts.h) with expected outputs; gcc verifier
 *   rust       10 built-in Rust prompts (the original's ids and expected outputs); rust verifier
 *   go         10 built-in Go prompts (the original's ids and expected outputs); go verifier
 *   humaneval  a HumanEval file, JSONL {task_id, prompt, tests, entry_point} (tests define
 *              check(candidate)); python verifier, which runs check(entry_point) on the prompt's
 *              function completed by the model
 *   mbpp       an MBPP file, JSONL {task_id, prompt, tests, entry_point} (tests are asserts, or
 *              "def test_solution(): assert ...", which the python verifier calls);
 *              python verifier. The prompt gets a sentence naming the function the tests call
 *              (entry_point), which the original's prompts left the model to guess.
 * HumanEval and MBPP are not bundled (no network at run time): --dataset FILE names the file.
 * A dataset given for cpp, rust or go replaces the built-in prompts (prompts JSONL, prompts.h).
 * Prompts keep their category, or get the benchmark's name as category when they have none. */
#ifndef HF_BENCH_SUITES_H
#define HF_BENCH_SUITES_H

#include <stdbool.h>
#include <stddef.h>

#include "bench/prompts.h"
#include "verify/verify.h"

typedef struct {
    const char *name;          /* "humaneval", "mbpp", "cpp", "rust", "go" */
    const char *language;      /* "python", "cpp", "rust", "go" */
    vf_kind verifier;
    vf_lang lang;              /* the language the verifier's toolchain is looked up for */
    bool needs_dataset;        /* no built-in prompts: --dataset is required */
    const char *system_prompt; /* "You are an expert <Language> programmer. Write clean, correct code." */
} bench_suite;

/* The suite called name, or NULL. */
const bench_suite *bench_suite_find(const char *name);
/* "humaneval|mbpp|cpp|rust|go" */
const char *bench_suite_names(void);

/* Fills out (a new set, caller frees with bench_prompts_free) with the suite's prompts: the
 * dataset file when given, else the built-in set; keeps the first limit prompts when limit > 0.
 * Returns 0, or -1 with the reason in err: no dataset for humaneval/mbpp (the message says how to
 * pass one), a file that cannot be read, or a record that is not a task of that benchmark
 * ("FILE:LINE: ..."). */
int bench_suite_load(const bench_suite *s, const char *dataset, long limit, bench_prompt_set *out, char *err,
                     size_t errcap);

#endif
