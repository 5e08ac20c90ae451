#include "core/progress.h"
#include "core/log.h"
#include "core/timing.h"

#include <stdio.h>
#include <string.h>

static void fmt_eta(char *out, size_t cap, double secs) {
    if (secs < 0 || secs > 360000) { snprintf(out, cap, "--:--"); return; }
    int s = (int)(secs + 0.5);
    if (s >= 3600) snprintf(out, cap, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else snprintf(out, cap, "%02d:%02d", s / 60, s % 60);
}

void progress_start(progress *p, const char *what, int64_t total, const char *unit) {
    memset(p, 0, sizeof *p);
    snprintf(p->what, sizeof p->what, "%s", what);
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "items");
    p->total = total;
    p->t_start = p->t_last_line = time_now();
    p->tty = log_stderr_is_tty();
    p->last_decile = 0;
    char stamp[16];
    log_stamp(stamp, sizeof stamp);
    if (total > 0) log_file_only("[%s] %s: started (%lld %s)", stamp, p->what, (long long)total, p->unit);
    else log_file_only("[%s] %s: started", stamp, p->what);
}

/* "what  done/total unit (pct%), rate unit/s, ETA mm:ss" without a newline. */
static void format(const progress *p, double now, char *out, size_t cap) {
    double el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0;
    if (p->total > 0) {
        char eta[32];
        fmt_eta(eta, sizeof eta, rate > 0 ? (double)(p->total - p->done) / rate : -1);
        snprintf(out, cap, "%s: %lld/%lld %s (%.0f%%), %.1f %s/s, ETA %s", p->what, (long long)p->done,
                 (long long)p->total, p->unit, 100.0 * (double)p->done / (double)p->total, rate, p->unit, eta);
    } else {
        snprintf(out, cap, "%s: %lld %s, %.1f %s/s", p->what, (long long)p->done, p->unit, rate, p->unit);
    }
}

void progress_update(progress *p, int64_t done) {
    p->done = done;
    double now = time_now();
    char line[256];
    if (p->tty && (now - p->t_last_draw >= 0.1 || (p->total > 0 && done >= p->total))) {
        p->t_last_draw = now;
        format(p, now, line, sizeof line);
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
        log_set_status_line(true);
    }
    /* Plain lines (a pipe, CI) and the log file: at most one per 10% or per 30 s. */
    int decile = p->total > 0 ? (int)(10 * done / p->total) : 0;
    if (decile > p->last_decile || now - p->t_last_line >= 30.0) {
        p->last_decile = decile;
        p->t_last_line = now;
        if (p->total > 0 && done >= p->total) return; /* progress_finish says it */
        format(p, now, line, sizeof line);
        if (!p->tty && !log_is_quiet()) fprintf(stderr, "%s\n", line);
        char stamp[16];
        log_stamp(stamp, sizeof stamp);
        log_file_only("[%s] %s", stamp, line);
    }
}

void progress_add(progress *p, int64_t n) { progress_update(p, p->done + n); }

void progress_finish(progress *p) {
    double el = time_now() - p->t_start;
    if (p->tty) {
        fprintf(stderr, "\r\033[K");
        log_set_status_line(false);
    }
    log_info("%s: %lld %s in %.1f s (%.1f %s/s)", p->what, (long long)p->done, p->unit, el,
             el > 0 ? (double)p->done / el : 0.0, p->unit);
}
