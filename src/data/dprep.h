/* dprep: `data prepare` — public code datasets (and local files) turned into the two kinds of records
 * halo-forge trains on.
 *
 * The registry holds the original halo-forge's datasets, with its names, sources and sizes (plus
 * mbpp_plus). Rows come from the dataset viewer (data/dsv.h). Each row becomes one record:
 *
 *   rlvr (default)  {id, source, language, category, difficulty, system, prompt, completion?, tests?,
 *                    entry_point?, expected_output?}
 *                   a prompts file for `raft train` and `benchmark run/eval` (tests: Python test code for
 *                   HumanEval/MBPP, or a list of {input, expected} cases for stdin programs), and a
 *                   training file for `sft train` (system + prompt -> completion) when it has a completion;
 *   sft             {"text": the conversation in a chat template, "metadata": {...}} (the original's format);
 *   messages        {"messages": [system, user, assistant], "metadata": {...}}.
 *
 * Rows without the language asked for (codeforces_*: the row's "language", else the tag of its first code
 * fence), without a prompt, or already seen (same id) are skipped; the sft and messages formats also skip
 * rows without a reference solution. When more rows match than max_examples, a random max_examples of them
 * are kept (seed 42 by default, as the original), in dataset order. Large datasets are read in pages in a
 * random order until enough rows matched, so a 4000-row sample of a 48k-row dataset reads ~4000 rows, not
 * 48k.
 *
 * Memory: dp_prepare returns one heap buffer; everything else is static or the caller's. */
#ifndef HF_DPREP_H
#define HF_DPREP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef enum { DP_CODEFORCES, DP_MBPP, DP_HUMANEVAL, DP_MBPP_PLUS, DP_LIVECODEBENCH, DP_LOCAL } dp_kind;

typedef struct {
    const char *name;
    const char *hf_path;
    const char *hf_config;   /* NULL: the first config with the split */
    const char *split;
    const char *language;    /* cpp, python, rust */
    dp_kind kind;
    long max_examples;
    const char *system_key;  /* competitive, code_python, code_rust */
    const char *about;       /* one line for --list */
} dp_spec;

typedef enum { DP_FMT_RLVR, DP_FMT_SFT, DP_FMT_MESSAGES } dp_format;
typedef enum { DP_TPL_QWEN, DP_TPL_LLAMA, DP_TPL_CHATML } dp_template;

typedef struct {
    const dp_spec *spec;       /* a registry dataset, or NULL with input set */
    const char *input;         /* local .jsonl / .json (an array of objects) */
    const char *prompt_field;  /* local files: NULL = prompt|instruction|question|problem */
    const char *response_field;/* NULL = completion|response|output|solution|code */
    const char *id_field;      /* NULL = id|task_id */
    const char *tests_field;   /* NULL = tests */
    const char *entry_point_field; /* NULL = entry_point */
    const char *language;      /* local files: the language of every record (NULL: the record's or its fence's) */
    const char *hf_config, *split; /* override the registry's */
    long max_examples;         /* 0: the registry's (local files: all) */
    uint64_t seed;             /* default 42 */
    dp_format format;
    dp_template tpl;
    const char *system_prompt; /* NULL: the dataset's; "" none */
    bool no_reasoning;         /* drop <think>...</think> from codeforces solutions */
    bool require_solution;     /* rlvr format: skip rows without a reference solution too */
} dp_options;

typedef struct {
    long rows_read;       /* rows looked at */
    long rows_total;      /* rows in the split (local: records in the file) */
    long matched;         /* rows that made a record */
    long other_language;  /* skipped: not the language asked for */
    long no_prompt;       /* skipped: no prompt */
    long no_solution;     /* skipped (sft/messages formats): no reference solution */
    long duplicates;      /* skipped: an id seen before */
    long written;
    long with_tests;      /* records with tests or an expected output */
    long pages_fetched;   /* pages downloaded (the rest came from the cache) */
} dp_stats;

void dp_options_default(dp_options *o);

/* The registry: *n entries. dp_find also accepts "codeforces" (the specification's spelling of codeforces_cpp). */
const dp_spec *dp_registry(size_t *n);
const dp_spec *dp_find(const char *name);
/* The system prompt text of a key ("competitive", "code_python", ...), or NULL. */
const char *dp_system_prompt(const char *key);
int dp_template_parse(const char *name, dp_template *out);
int dp_format_parse(const char *name, dp_format *out);

/* Renders a one-turn conversation in a template (heap string, caller frees). */
char *dp_render(dp_template t, const char *system, const char *prompt, const char *response);

/* Progress callback: records matched so far and the number wanted. */
typedef void (*dp_progress_fn)(void *user, long matched, long wanted);

/* Runs the whole preparation; *out gets the JSONL text (heap, caller frees) and *out_len its length.
 * Returns 0, or -1 with the reason in err (download failure, bad local file with its line, nothing matched). */
int dp_prepare(const dp_options *o, char **out, size_t *out_len, dp_stats *st, dp_progress_fn fn, void *user,
               char *err, size_t errcap);

/* Prepares spec with the defaults (rlvr records that have a solution) into the cache file
 * $HF_DATASETS_CACHE|$HF_HOME/datasets/halo-forge/NAME.jsonl, unless it is there already; path gets its name.
 * For `sft train --dataset NAME`. Returns 0, or -1 with err. */
int dp_prepare_cached(const dp_spec *spec, char *path, size_t cap, char *err, size_t errcap);

/* Converts one dataset row into a record in the rlvr form (NULL when the row is skipped; *why says which
 * dp_stats counter: 1 other language, 2 no prompt). Exposed for tests. */
cJSON *dp_convert_row(const dp_options *o, const cJSON *row, long row_idx, int *why);

#endif
