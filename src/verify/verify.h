/* verify: turn a model's completion into a reward by compiling and running it in the sandbox.
 *
 * One call verifies one sample (vf_verify) or an array of them on a worker pool (vf_verify_batch),
 * with a verifier configuration (vf_config). Every result carries a reward on the ladder
 *   0.0 does not compile | 0.3 compiles with warnings | 0.5 compiles clean (or crashes / times out
 *   when run) | 0.7 runs, output wrong or nothing to compare | 1.0 correct output
 * and a status saying why. The execution verifier gives 0.5 + 0.5 x (tests passed / tests run); the
 * python verifier runs HumanEval check(entry_point) or MBPP asserts; custom gives 1.0 or 0.0.
 *
 * Memory: results own their strings (vf_result_free); configs and samples are borrowed. */
#ifndef HF_VERIFY_H
#define HF_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef enum { VF_GCC, VF_CLANG, VF_MINGW, VF_EXECUTION, VF_PYTHON, VF_RUST, VF_GO, VF_CUSTOM, VF_KIND_COUNT } vf_kind;

typedef enum { VF_LANG_UNKNOWN, VF_LANG_C, VF_LANG_CPP, VF_LANG_PYTHON, VF_LANG_RUST, VF_LANG_GO } vf_lang;

typedef enum {
    VF_CORRECT,                /* 1.0 */
    VF_WRONG_OUTPUT,           /* 0.7 (execution: 0.5 + 0.5 x pass rate) */
    VF_RAN,                    /* 0.7: ran cleanly, nothing to compare against */
    VF_COMPILED,               /* 0.5: compile-only, clean */
    VF_COMPILED_WITH_WARNINGS, /* 0.3: compile-only, warnings */
    VF_COMPILE_ERROR,          /* 0.0 */
    VF_RUNTIME_ERROR,          /* crashed or non-zero exit: the compile reward (0.5, or 0.3 with warnings) */
    VF_TIMEOUT,                /* CPU or wall limit: as a crash */
    VF_MEMORY_LIMIT,           /* ran out of its address-space limit: as a crash */
    VF_OUTPUT_LIMIT,           /* flooded stdout: as a crash */
    VF_SANDBOX_ERROR,          /* our failure (missing compiler, cannot start): 0.0 */
    VF_STATUS_COUNT
} vf_status;

typedef enum { VF_MATCH_EXACT, VF_MATCH_CONTAINS, VF_MATCH_REGEX, VF_MATCH_NUMERIC } vf_match;

typedef struct {
    const char *input;    /* stdin, may be NULL */
    const char *expected; /* expected stdout */
} vf_test_case;

typedef struct {
    const char *completion;      /* model output (code is extracted from it) or plain code */
    const char *expected_output; /* NULL: nothing to compare (a clean run gets 0.7) */
    const char *stdin_text;      /* NULL: /dev/null */
    const vf_test_case *tests;   /* execution verifier: I/O cases */
    size_t n_tests;
    const char *test_code;       /* python verifier: HumanEval `def check(candidate)` or MBPP asserts */
    const char *entry_point;     /* python: the function check() is called with (HumanEval) */
    const char *prompt;          /* python: prepended when the completion does not define entry_point */
} vf_sample;

typedef struct {
    vf_kind kind;
    bool run;                 /* compile verifiers: run the program after compiling */
    double compile_timeout_s; /* default 30 */
    double run_timeout_s;     /* per run / per test case, default 5 */
    long memory_limit_mb;     /* address space of a run, default 256 */
    long compile_memory_mb;   /* address space of a compile, default 4096 */
    const char *compiler;     /* NULL: the verifier's (gcc/g++, clang/clang++, x86_64-w64-mingw32-g++, rustc, go) */
    const char *flags;        /* NULL: defaults (see vf_default_flags); space-separated */
    const char *python;       /* NULL: /usr/bin/python3, else python3 from PATH */
    vf_match match;           /* execution verifier */
    bool partial_credit;      /* execution verifier: 0.5 + 0.5 x rate (else 1.0 / 0.5); default true */
    const char *custom_command; /* custom: argv template with {file}, split on spaces, no shell */
    const char *custom_regex;   /* custom: success when stdout matches (else exit code 0) */
    const char *custom_ext;     /* custom: extension of {file}, default from the language or ".txt" */
    size_t keep_output_bytes; /* stdout/stderr kept in a result, default 2000 */
    int workers;              /* vf_verify_batch: 0 = one per core */
} vf_config;

typedef struct {
    double reward;
    vf_status status;
    bool success;           /* correct, or the best this verifier can give (compile-only: compiled) */
    vf_lang language;
    double compile_s, run_s;
    int exit_code, signal;  /* of the (last failing) run */
    int tests_passed, tests_total;
    bool compile_warnings;  /* the compiler printed warnings */
    bool compile_cached;    /* an identical source was compiled once for this batch */
    char *stdout_text;      /* program output (truncated to keep_output_bytes), "" when not run */
    char *stderr_text;      /* program stderr, truncated */
    char *compile_log;      /* compiler diagnostics, truncated */
    char *error;            /* one line saying what went wrong, "" when correct */
    bool stdout_truncated, stderr_truncated;
} vf_result;

/* Fills cfg with the defaults for a verifier. */
void vf_config_default(vf_config *cfg, vf_kind kind);
/* "gcc" -> VF_GCC ... Returns 0, or -1 for an unknown name. */
int vf_kind_parse(const char *name, vf_kind *out);
const char *vf_kind_name(vf_kind k);
int vf_match_parse(const char *name, vf_match *out);
const char *vf_status_name(vf_status s);
const char *vf_lang_name(vf_lang l);
/* The reward of a status on the ladder (compile-only and crash levels depend on warnings). */
double vf_status_reward(vf_status s, bool warnings);

/* Code extraction: the first fenced block (any tag, the tag dropped), else a <code> block, else the
 * span from the first #include to the end of main(), else the trimmed text. Returns a heap string
 * (caller frees) and, when hint is not NULL, the language named by the fence tag (or UNKNOWN). */
char *vf_extract_code(const char *completion, vf_lang *hint);
/* Guesses the language of code; hint (a fence tag) decides between close calls. */
vf_lang vf_detect_language(const char *code, vf_lang hint);

/* Verifies one sample. Returns 0 with out filled (free with vf_result_free); -1 only for a bad
 * configuration (message in err), in which case out is untouched. */
int vf_verify(const vf_config *cfg, const vf_sample *sample, vf_result *out, char *err, size_t errcap);

/* Progress callback of a batch: called once per finished sample, from worker threads but never two
 * at once. */
typedef void (*vf_progress_fn)(void *user, size_t done, size_t total);

/* Verifies n samples with cfg->workers threads (0: one per core); out[i] is the result of
 * samples[i]. Identical sources are compiled once. Returns 0, or -1 for a bad configuration. */
int vf_verify_batch(const vf_config *cfg, const vf_sample *samples, size_t n, vf_result *out, vf_progress_fn fn,
                    void *user, char *err, size_t errcap);

void vf_result_free(vf_result *r);

/* Adds the result's fields to obj: reward, status, success, language, compile_time, run_time,
 * exit_code, signal, tests_passed/tests_total (when tests ran), actual_output, output_truncated, stderr,
 * compile_log, compile_warnings, error, details, compile_cached. */
void vf_result_to_json(const vf_result *r, cJSON *obj);

/* Resolves the compiler/interpreter a verifier uses for a language into out (absolute path).
 * Returns false when it is not installed. */
bool vf_find_tool(const vf_config *cfg, vf_lang lang, char *out, size_t cap);

#endif
