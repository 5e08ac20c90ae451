/* runinfo: the run.json manifest that the long commands (benchmark full, raft train, sft train) keep in
 * their output folder, so that `halo-forge ui` (or a person) can tell a run that is still going from one
 * that finished, failed, or was interrupted, and see which command and model made it.
 *
 *   {"schema": 1, "command": "raft train", "args": ["--model", "m", ...], "model": "m", "cwd": "/work",
 *    "pid": 1234, "pid_start": 56789, "host": "box", "started": "2026-12-04T20:51:43Z",
 *    "started_unix": 1796417503.1, "status": "running"}
 *
 * runinfo_end adds "ended", "ended_unix", "duration_s", "exit_code" and sets "status" to "finished"
 * (exit 0), "interrupted" (130 / 143: SIGINT / SIGTERM) or "failed". A rerun (resume) in the same folder
 * replaces the file. A process killed outright leaves "running" behind with its pid: runinfo_alive()
 * tells a live process from a dead one (or from a pid the system gave to another process since, by its
 * start time). Files are written atomically. */
#ifndef HF_RUNINFO_H
#define HF_RUNINFO_H

#include <stdbool.h>

#define RUNINFO_FILE "run.json"

/* Writes dir/run.json for this process (dir is created when missing). args are the command's flags
 * (argv after the command name). Returns 0, or -1 with errno set (the run goes on without it). */
int runinfo_begin(const char *dir, const char *command, int argc, char *const *argv, const char *model);

/* Records the end of the run begun in dir by this process with its exit code. Does nothing when
 * dir/run.json belongs to another process. */
void runinfo_end(const char *dir, int exit_code);

/* Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), 0 when there is no
 * such process. */
unsigned long long runinfo_proc_start(long pid);

/* True when process pid is running and started at start_ticks (0: any start time). */
bool runinfo_alive(long pid, unsigned long long start_ticks);

#endif
