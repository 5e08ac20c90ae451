/* ui: the dashboard's HTTP server (libmicrohttpd): one page (HTML, JavaScript, CSS and Chart.js, all
 * embedded in the program at build time) and a JSON API over the run folders (docs/ui.md lists the
 * endpoints).
 *
 * Security rules, enforced on every request before anything else:
 *  - bound to a loopback address (127.0.0.0/8, ::1, localhost) the Host header must name that address
 *    (a page of another site cannot reach the server through DNS rebinding);
 *  - bound to any other address a token is required: one is drawn at start (128 random bits), printed,
 *    and every request must carry it (header X-Halo-Token, Authorization: Bearer, the hf_token cookie
 *    that the page sets, or ?token= on the first page load);
 *  - requests that change something are POSTs with a JSON body (Content-Type application/json), which
 *    a page of another origin cannot send without the CORS approval this server never gives;
 *  - files are read only inside the run folders (ui_path), runs are started only through ui_jobs'
 *    validated flags. */
#ifndef HF_UI_H
#define HF_UI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "ui/ui_runs.h"

typedef struct {
    const char *host;                 /* address to bind, default 127.0.0.1 */
    int port;                         /* 0: any free port (printed) */
    ui_roots *roots;                  /* run folders */
    const volatile sig_atomic_t *stop; /* the server returns once this becomes nonzero */
    double stop_wait_s;               /* how long running jobs get to stop at the end (SIGINT, then SIGKILL) */
} ui_options;

/* True for 127.0.0.0/8, ::1 and "localhost". */
bool ui_host_is_loopback(const char *host);

/* Serves until *o->stop. Prints "halo-forge ui: http://HOST:PORT/" (with "?token=..." when a token is
 * needed) and the token on stdout at start. Returns 0, or -1 with err (cannot bind, ...). */
int ui_serve(const ui_options *o, char *err, size_t errcap);

#endif
