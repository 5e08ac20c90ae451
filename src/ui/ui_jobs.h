/* ui_jobs: the runs the dashboard starts and stops.
 *
 * A launch request names one of three commands (benchmark full, raft train, sft train) and a flat object
 * of flags. ui_launch_argv checks every flag against the command's table (known name, type, range,
 * allowed values; paths that must exist; an output folder that must be a new or existing plain folder
 * inside a run root) and builds the argument vector: the program itself (/proc/self/exe), the command
 * words, then "--flag" "value" pairs, each its own argv element. No shell is ever involved, and no value
 * can start with '-' (so none can pose as a flag).
 *
 * ui_jobs runs such a vector as a child process (its own process group, stdin /dev/null, stdout and
 * stderr appended to OUTPUT/launch.log), reaps it on a thread, stops it with SIGINT (the commands keep
 * their finished work and exit 130), and on shutdown interrupts what still runs and waits for it.
 *
 * Memory: argument vectors from ui_launch_argv are freed with ui_argv_free; cJSON results are the
 * caller's. Every ui_jobs function is thread-safe. */
#ifndef HF_UI_JOBS_H
#define HF_UI_JOBS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "ui/ui_runs.h"

#define UI_LAUNCH_LOG "launch.log"

/* The launchable commands and their flags: {"benchmark full": [{"name", "type", "required", "min",
 * "max", "choices", "help"}], ...}, for the page's form. */
cJSON *ui_launch_schema(void);

/* Validates req = {"command": "raft train", "root": 0, "output": "runs/r1", "flags": {"model": "...",
 * "cycles": 2, "no-lora": true, ...}} and builds argv (NULL-terminated; argv[0] = self_exe). The output
 * folder goes in out_dir (absolute) and the run id in run_id. Returns 0, or -1 with a message naming
 * the field in err. */
int ui_launch_argv(const cJSON *req, ui_roots *roots, const char *self_exe, char ***argv, char *out_dir,
                   size_t out_cap, char *run_id, size_t id_cap, char *err, size_t errcap);
void ui_argv_free(char **argv);

typedef struct ui_jobs ui_jobs;

ui_jobs *ui_jobs_new(void);
/* Starts argv as a child with its output in out_dir/launch.log. Returns the job number (>= 1), or -1
 * with err set. argv is copied. */
int ui_jobs_start(ui_jobs *j, char *const *argv, const char *out_dir, const char *run_id, char *err, size_t errcap);
/* Sends SIGINT to a running job. 0, or -1 with err ("no such job", "not running"). */
int ui_jobs_stop(ui_jobs *j, int job, char *err, size_t errcap);
/* [{"job", "pid", "command", "argv", "run_id", "log", "running", "exit_code", "signal", "started_unix",
 * "ended_unix"}], newest first. */
cJSON *ui_jobs_list(ui_jobs *j);
/* The log of a job from byte offset on (at most max bytes): {"job", "offset", "next", "size", "text",
 * "running"}. NULL when there is no such job. */
cJSON *ui_jobs_log(ui_jobs *j, int job, long offset, long max);
/* SIGINT to every running job, waits up to wait_s seconds, then SIGKILL; frees j. */
void ui_jobs_free(ui_jobs *j, double wait_s);

#endif
