/* progress: one progress display for long-running work.
 *
 * On a terminal it redraws one line in place: "what  done/total  rate unit/s  ETA mm:ss".
 * When stderr is not a terminal (a pipe, CI, a log), it prints a plain line at most every
 * 10% or 30 s, so logs stay short and readable. The log file gets the same plain lines (with
 * the time), plus the start and end lines, with or without --quiet; with --quiet the terminal
 * shows nothing. A message logged while the terminal line is drawn clears it first.
 * Not thread-safe: update from one thread. */
#ifndef HF_PROGRESS_H
#define HF_PROGRESS_H

#include <stdint.h>

typedef struct {
    char what[96];
    char unit[24];
    int64_t total;   /* 0 when unknown */
    int64_t done;
    double t_start, t_last_draw, t_last_line;
    int last_decile;
    int tty;
} progress;

void progress_start(progress *p, const char *what, int64_t total, const char *unit);
void progress_update(progress *p, int64_t done);
/* Adds to done. */
void progress_add(progress *p, int64_t n);
/* Ends the display with a summary line ("what: done unit in 12.3 s (x unit/s)"). */
void progress_finish(progress *p);

#endif
