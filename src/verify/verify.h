/* verify: turn a model's completion into a reward by compiling and running it in the sandbox.
 *
 * One call verifies one sample (vf_verify) or an array of them on a worker pool (vf_verify_batch),
 * with a verifier configuration (vf_config). Every result carries a reward on the ladder
 *   0.0 does not compile | 0.3 compiles with warnings | 0.5 compiles clean (or crashes / times out
 *   when run) | 0.7 runs, output wrong or nothing to compare | 1.0 correct output
 * and a status saying why. The execution verifier gives 0.5 + 0.5 x (tests passed / tests run); the
 * python verifier runs HumanEval check(entry_point) or MBPP asserts (top-level, or in a test_solution()
 * that the tests define and do not call: it is called); custom gives 1.0 or 0.0.
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
    const char *test_code;       /* python verifier: HumanEval `def check(candidate)`, MBPP asserts or `def test_solution()` */
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
    int workers;              /* vf_verify_batch / vf_stream: 0 = one per core */
    /* Optional cancel flag (set by a signal handler or another thread): when it becomes nonzero, running
     * compiles and programs are killed within ~50 ms and no new one starts; a sample stopped that way
     * gets VF_SANDBOX_ERROR with the error "sandbox: cancelled". Borrowed. */
    const volatile int *cancel;
} vf_config;

typedef struct {
    double reward;
    vf_status status;
    bool success;           /* correct, or the best this verifier can give (compile-only: compiled) */
    vf_lang language;
    double compile_s, run_s;
    double run_cpu_s;       /* CPU time of the (last) run's main process */
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
 * samples[i]. Identical sources are compiled once. Samples that timed out on the wall clock with
 * little CPU used (starved by a neighbour, e.g. a fork bomb) are run again alone at the end.
 * Returns 0; 1 when cfg->cancel stopped it (out is filled all the same, unfinished samples with
 * VF_SANDBOX_ERROR "sandbox: cancelled", free them as usual); -1 for a bad configuration or out of
 * memory (out untouched but zeroed). */
int vf_verify_batch(const vf_config *cfg, const vf_sample *samples, size_t n, vf_result *out, vf_progress_fn fn,
                    void *user, char *err, size_t errcap);

/* ---- streaming verification ----
 * A worker pool that verifies samples while the caller is still producing them (the RAFT loop and
 * the benchmarks submit each completion from gen_run's callback, so compiling and running overlap
 * decoding):
 *
 *   vf_stream *s = vf_stream_start(&cfg, on_result, user, err, errcap);
 *   for each sample:  vf_stream_submit(s, &sample);      // returns its index 0, 1, 2, ...
 *   vf_stream_finish(s, &results, &n);                    // waits, hands the results over, frees s
 *
 * Threads are started on demand, up to cfg->workers (0: one per core), at a nice value 10 above the
 * caller's (environment HF_VERIFY_NICE=N to change it; the compilers and programs inherit it), so the
 * model decoding next to them keeps its cores and verification fills the time it leaves idle; the
 * re-runs of vf_stream_finish run on the caller's thread, at its priority. Identical (language, source)
 * pairs are compiled once per stream: a sample whose source is being compiled waits for that compile
 * without holding a thread. vf_stream_finish re-runs, one at a time, the samples that timed out on the
 * wall clock with little CPU used (starved by neighbours or by the model decoding next to them).
 *
 * Cancelling: cfg->cancel (the caller's flag, e.g. set by a signal handler) is noticed within ~50 ms
 * while vf_stream_finish waits, by idle workers, and at each submit; vf_stream_cancel stops the stream
 * from any thread. Either kills the running compiles and programs and starts nothing new.
 *
 * Ownership: the config and samples are borrowed for the call only (the stream copies both). */
typedef struct vf_stream vf_stream;

/* Called once per sample when its verdict is in, from a worker thread (or the submitting thread for a
 * sample graded at once), never two at once; r is valid during the call only. A sample re-run by
 * vf_stream_finish (a starved timeout) is not reported again: the results finish returns are final. */
typedef void (*vf_stream_fn)(void *user, size_t index, const vf_result *r);

/* Starts a stream (no thread yet). fn may be NULL. Returns NULL for a bad configuration (err). */
vf_stream *vf_stream_start(const vf_config *cfg, vf_stream_fn fn, void *user, char *err, size_t errcap);
/* Queues a copy of sample. Returns its index (submission order, from 0), or -1 when out of memory. */
long vf_stream_submit(vf_stream *s, const vf_sample *sample);
/* Samples finished so far. */
size_t vf_stream_done(vf_stream *s);
/* Stops the stream: running jobs are killed, queued ones dropped. Thread-safe; call finish afterwards. */
void vf_stream_cancel(vf_stream *s);
/* Waits for every submitted sample and frees the stream. With out not NULL, *out gets a heap array of
 * *n results in submission order (caller frees each with vf_result_free, then the array). Returns 0
 * when every sample was verified, 1 when cancelled (unfinished samples: VF_SANDBOX_ERROR "sandbox:
 * cancelled"), -1 when out of memory (*out NULL). */
int vf_stream_finish(vf_stream *s, vf_result **out, size_t *n);

void vf_result_free(vf_result *r);

/* Adds the result's fields to obj: reward, status, success, language, compile_time, run_time,
 * exit_code, signal, tests_passed/tests_total (when tests ran), actual_output, output_truncated, stderr,
 * compile_log, compile_warnings, error, details, compile_cached. */
void vf_result_to_json(const vf_result *r, cJSON *obj);
/* The inverse of vf_result_to_json: a result from a record that carries its fields (a verified samples
 * line). Fields that are absent read as 0 / false / "". Returns 0 (free with vf_result_free), or -1
 * when "status" is missing or unknown, or out of memory (r then holds nothing to free). */
int vf_result_from_json(const cJSON *obj, vf_result *r);

/* Resolves the compiler/interpreter a verifier uses for a language into out (absolute path).
 * Returns false when it is not installed. */
bool vf_find_tool(const vf_config *cfg, vf_lang lang, char *out, size_t cap);

#endif
