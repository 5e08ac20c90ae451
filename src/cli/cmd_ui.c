/* halo-forge ui: the web dashboard over the run folders (src/ui). */
#include "cli/commands.h"
#include "core/args.h"
#include "core/log.h"
#include "ui/ui.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const arg_spec ui_flags[] = {
    {"host", 0, ARG_STR, "127.0.0.1", "Address to listen on; any address but loopback needs the token printed at start", NULL, NULL, 0, 0, "ADDR"},
    {"port", 0, ARG_INT, "8080", "Port to listen on (0: any free port, printed)", NULL, NULL, 0, 65535, "N"},
    {"runs", 0, ARG_LIST, NULL, "More run folders besides results/ and models/ (comma separated; more can follow as arguments)", NULL, NULL, 0, 0, "DIR"},
    {"stop-wait", 0, ARG_FLOAT, "60", "At exit, seconds the runs started from the page get to stop after SIGINT before SIGKILL", NULL, NULL, 0, 86400, "S"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec ui_cmd = {
    "ui", "Web dashboard: runs, live charts, samples, comparison, verifier playground, launch and stop.", "[DIR...]", 0,
    -1, ui_flags,
    "Serves one page and a JSON API over the run folders results/, models/ and those of --runs (and any\n"
    "DIR given as an argument): benchmark full, raft train and sft train outputs. Open the address it\n"
    "prints. Bound to 127.0.0.1 by default; with --host set to any other address every request needs the\n"
    "token printed at start (the printed address carries it). Ctrl-C stops the server; runs started from\n"
    "the page are sent SIGINT and waited for (--stop-wait). See docs/ui.md.",
    NULL,
};

static volatile sig_atomic_t ui_stop;
static void on_signal(int sig) { ui_stop = sig; }

int cmd_ui(int argc, char **argv) {
    int rc;
    args *a = args_parse(&ui_cmd, argc, argv, &rc);
    if (!a) return rc;
    ui_roots roots = {0};
    ui_roots_add(&roots, "results");
    ui_roots_add(&roots, "models");
    char **items;
    size_t n = args_list(a, "runs", &items);
    rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        if (ui_roots_add(&roots, items[i]) != 0) rc = args_usage_error(&ui_cmd, "at most %d run folders", UI_MAX_ROOTS);
    args_list_free(items);
    for (int i = 0; i < args_npos(a) && !rc; i++)
        if (ui_roots_add(&roots, args_pos(a, i)) != 0) rc = args_usage_error(&ui_cmd, "at most %d run folders", UI_MAX_ROOTS);
    if (rc) goto out;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    ui_options o = {args_str(a, "host"), (int)args_int(a, "port"), &roots, &ui_stop, args_float(a, "stop-wait")};
    char err[1024];
    if (ui_serve(&o, err, sizeof err) != 0) {
        log_error("%s", err);
        rc = 1;
    } else {
        log_info("ui: stopped");
    }
out:
    ui_roots_free(&roots);
    args_free(a);
    return rc;
}
