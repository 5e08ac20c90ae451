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
    log_file_only("%s: started (%lld %s)", p->what, (long long)total, p->unit);
}

static void draw(progress *p, double now) {
    double el = now - p->t_start;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[32] = "";
    if (p->total > 0 && rate > 0) fmt_eta(eta, sizeof eta, (double)(p->total - p->done) / rate);
    if (p->tty) {
        if (p->total > 0)
            fprintf(stderr, "\r\033[K%s  %lld/%lld %s  %.1f %s/s  ETA %s", p->what, (long long)p->done,
                    (long long)p->total, p->unit, rate, p->unit, eta);
        else
            fprintf(stderr, "\r\033[K%s  %lld %s  %.1f %s/s", p->what, (long long)p->done, p->unit, rate, p->unit);
        fflush(stderr);
    } else if (!log_is_quiet()) {
        if (p->total > 0)
            fprintf(stderr, "%s: %lld/%lld %s (%.0f%%), %.1f %s/s, ETA %s\n", p->what, (long long)p->done,
                    (long long)p->total, p->unit, 100.0 * (double)p->done / (double)p->total, rate, p->unit, eta);
        else
            fprintf(stderr, "%s: %lld %s, %.1f %s/s\n", p->what, (long long)p->done, p->unit, rate, p->unit);
    }
}

void progress_update(progress *p, int64_t done) {
    p->done = done;
    double now = time_now();
    if (p->tty) {
        if (now - p->t_last_draw >= 0.1 || (p->total > 0 && done >= p->total)) {
            p->t_last_draw = now;
            draw(p, now);
        }
        return;
    }
    int decile = p->total > 0 ? (int)(10 * done / p->total) : 0;
    if (decile > p->last_decile || now - p->t_last_line >= 30.0) {
        p->last_decile = decile;
        p->t_last_line = now;
        if (p->total <= 0 || done < p->total) draw(p, now);
    }
}

void progress_add(progress *p, int64_t n) { progress_update(p, p->done + n); }

void progress_finish(progress *p) {
    double el = time_now() - p->t_start;
    if (p->tty) fprintf(stderr, "\r\033[K");
    log_info("%s: %lld %s in %.1f s (%.1f %s/s)", p->what, (long long)p->done, p->unit, el,
             el > 0 ? (double)p->done / el : 0.0, p->unit);
}
