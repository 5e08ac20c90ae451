/* log: human-readable messages to the terminal and to a per-command log file.
 *
 * Messages go to stderr (stdout is reserved for a command's data: JSON, JSONL, ids),
 * and, once log_open_file() was called, also to logs/<command>_<YYYYmmdd_HHMMSS>.log.
 * -q/--quiet hides info and progress on the terminal (warnings and errors still show);
 * -v/--verbose shows debug messages. The file always receives info and above. */
#ifndef HF_LOG_H
#define HF_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level;

/* Sets the terminal verbosity. Call once, early, from main. */
void log_set_terminal(bool quiet, bool verbose);
bool log_is_quiet(void);
bool log_is_verbose(void);

/* Opens <dir>/<command>_<YYYYmmdd_HHMMSS>.log (dir is usually "logs", relative to the current
 * directory, as in the original) and prints "Logging to: PATH". A run started in the same second
 * as another gets "_2", "_3"... appended instead of sharing the file. A file already open is
 * closed. Returns 0, or -1 (with a warning) if the file cannot be made: the command then goes on
 * without a log file. Long-running commands (training, batch verification, benchmarks) call it. */
int log_open_file(const char *dir, const char *command);
/* What a long-running command calls right after parsing its flags: log_open_file("logs", NAME)
 * with NAME its command path, spaces and dashes made '_' ("raft train" -> logs/raft_train_<ts>.log). */
int log_open_command(const char *command_path);
const char *log_file_path(void); /* NULL when no file is open */
void log_close_file(void);

void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Writes a line to the log file only (for data echoed elsewhere, e.g. a summary printed on stdout). */
void log_file_only(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when stderr is a terminal and not quiet: progress displays redraw in place. */
bool log_stderr_is_tty(void);
/* For progress: says a line without newline is being redrawn on the terminal, so the next
 * message clears it first instead of being glued to it. */
void log_set_status_line(bool on);
/* Writes the wall-clock time "HH:MM:SS" used in log file lines. */
void log_stamp(char *out, size_t cap);

#endif
