/* ui_runs: what the dashboard knows about run folders, read from the files the commands write
 * (docs/ui.md lists them): which folders under the roots are runs (benchmark full, raft train,
 * sft train), their status, and their figures as JSON for the page.
 *
 * Every reader is tolerant: a file that is missing, half-written (a JSONL line cut short, a CSV row
 * being appended) or malformed becomes an entry of the run's "problems" list ({"file", "line",
 * "message"}) and the rest of the run is still shown. Nothing here writes.
 *
 * A run id is "<root index>/<path relative to that root>" ("0/bf", or "0" for the root itself); ids
 * are resolved with ui_path (no "..", no absolute paths, no links out of the root).
 *
 * Memory: every cJSON returned is the caller's (cJSON_Delete). */
#ifndef HF_UI_RUNS_H
#define HF_UI_RUNS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define UI_MAX_ROOTS 16

typedef struct {
    int n;
    char *given[UI_MAX_ROOTS]; /* as on the command line */
    char *real[UI_MAX_ROOTS];  /* realpath(3) of each; NULL for a root that does not exist (yet) */
} ui_roots;

/* Adds a root folder (copied). A missing folder is kept (it may appear later) and resolved when it
 * does. Returns 0, or -1 when there are already UI_MAX_ROOTS. */
int ui_roots_add(ui_roots *r, const char *dir);
void ui_roots_free(ui_roots *r);
/* The resolved path of root i, resolving it now when it did not exist before; NULL when missing.
 * Thread-safe (the string stays valid until ui_roots_free). */
const char *ui_roots_real(ui_roots *r, int i);

/* Resolves a run id to the run's absolute folder. Returns 0, or a ui_path_rc error (negative). */
int ui_run_dir(ui_roots *r, const char *id, char *out, size_t cap);

/* The runs under every root: {"roots": [{"index", "path", "exists"}], "runs": [entry, ...]}, newest
 * first. An entry: {"id", "root", "path", "kind", "status", "status_note", "model", "command",
 * "started", "started_unix", "duration_s", "headline", "problems"}. kind is "benchmark full",
 * "raft train" or "sft train"; status is "running", "finished", "failed" or "interrupted". */
cJSON *ui_runs_list(ui_roots *r);

/* The kind of the run in folder dir, or NULL when dir is not a run folder. */
const char *ui_run_kind(const char *dir);

/* Everything the run view shows, for the run in folder dir (id is echoed): the list entry's fields
 * plus "info" (run.json), "summary" (benchmark full's summary.json), "training" ({"steps": [{"x",
 * "step", "cycle", "loss", "lr", "grad_norm", "tokens_per_sec"}], "eval": [{"x", "step", "eval_loss"}]}),
 * "phases" ([{"name", "cycle", "samples", "verified", "compiled", "compile_rate", "correct",
 * "pass_at_1", "pass_at_k", "k", "avg_reward", "kept", "reward_hist", "file"}]: baseline, cycles,
 * final in order), "hardware" ({"columns": [...], "t": [...], "phase": [...], COLUMN: [...]}),
 * "launch_log" (whether the folder has the launch.log of a run started from the dashboard), "problems". NULL only when out of memory. */
cJSON *ui_run_detail(const char *dir, const char *id);

/* Samples of a run with filters (NULL or "" for none): set (a phase name as in "phases", e.g.
 * "cycle 1"), prompt (a prompt id, or text the prompt contains), status (a verifier status, or
 * "unverified"). {"total", "matched", "offset", "samples": [{"set", "line", "prompt_id", "prompt"
 * (first 160 characters), "sample_idx", "status", "reward", "compiles", "passes"}], "sets": [names],
 * "statuses": [names]}; offset / limit page through the matches. */
cJSON *ui_run_samples(const char *dir, const char *set, const char *prompt, const char *status, long offset,
                      long limit);

/* One sample record in full (the file's own fields, plus "set" and "line"), or NULL when there is no
 * such set or line. */
cJSON *ui_run_sample(const char *dir, const char *set, long line);

/* The comparison table (the specification's Summary Table) of the runs in dirs[i] (ids[i]): one row
 * per run {"id", "model", "kind", "status", "baseline_compile", "final_compile", "improvement",
 * "baseline_pass_at_1", "final_pass_at_1", "time_s", "energy_wh"}; "baseline" is the first phase
 * (benchmark full: the baseline; raft train: cycle 1), "final" the last one. */
cJSON *ui_runs_compare(const char *const *dirs, const char *const *ids, size_t n);

#endif
