/* halo-forge plot training / plot benchmarks: PNG and SVG figures of run folders (src/plot/plot.h). */
#include "cli/commands.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "plot/chart.h"
#include "plot/plot.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const arg_spec training_flags[] = {
    {"output", 'o', ARG_STR, NULL, "Folder for the figures (default: RUN_DIR/figures; with several runs, one "
     "subfolder per run here)", NULL, NULL, 0, 0, "DIR"},
    {"compare", 0, ARG_BOOL, NULL, "Also overlay the runs: loss, learning-rate and grad-norm comparisons in "
     "OUTPUT/comparison (OUTPUT defaults to ./figures)", NULL, NULL, 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec training_cmd = {
    "plot training", "Figures of training runs: loss, learning rate, grad norm, a 2x2 summary.", "RUN_DIR...", 1, -1,
    training_flags,
    "RUN_DIR is an sft train output (metrics.jsonl), a metrics.jsonl file, a raft train output (cycle_N/\n"
    "metrics.jsonl, steps numbered on across cycles), a benchmark full output (its raft/ folder), or a folder\n"
    "of TensorBoard event files (ours, or the original's trainer logs).\n"
    "Writes loss_curve, learning_rate, grad_norm and training_summary, each as .png and .svg, and prints\n"
    "the path of every file written.",
    NULL,
};

static const arg_spec bench_flags[] = {
    {"output", 'o', ARG_STR, NULL, "Folder for the figures (default: DIR/figures)", NULL, NULL, 0, 0, "DIR"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec bench_cmd = {
    "plot benchmarks", "Figures of benchmark full results: baseline vs final, per cycle, hardware, time.", "DIR", 1, 1,
    bench_flags,
    "DIR is a benchmark full output (summary.json), a --suite output (comparison_summary.json), or a folder\n"
    "whose subfolders are benchmark full outputs. Writes compile_rate_comparison, pass_at_1_comparison,\n"
    "training_progress, memory_usage, time_breakdown, hardware_timeline (one per model), each as .png and\n"
    ".svg, and summary.txt (the Summary Table); prints the path of every file written.",
    NULL,
};

static void print_path(const char *path, void *ctx) {
    int *count = ctx;
    (*count)++;
    printf("%s\n", path);
    fflush(stdout);
}

/* The default figures folder of a run: RUN/figures, or next to a metrics file. */
static void default_out(const char *run, char *out, size_t cap) {
    if (fs_is_dir(run)) {
        fs_join(out, cap, run, "figures");
        return;
    }
    char *copy = strdup(run);
    fs_join(out, cap, copy ? dirname(copy) : ".", "figures");
    free(copy);
}

static int plot_training_cmd(int argc, char **argv) {
    int rc;
    args *a = args_parse(&training_cmd, argc, argv, &rc);
    if (!a) return rc;
    const int n = args_npos(a);
    const char *output = args_str(a, "output");
    const bool compare = args_bool(a, "compare");
    char err[4600];
    int files = 0;
    plot_run *runs = calloc((size_t)n, sizeof *runs);
    rc = 1;
    if (!runs) {
        log_error("out of memory");
        goto done;
    }
    if (compare && n < 2) {
        rc = args_usage_error(&training_cmd, "--compare needs two or more RUN_DIRs");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        err[0] = 0;
        if (plot_load_run(args_pos(a, i), &runs[i], err, sizeof err)) {
            log_error("%s", err);
            goto done;
        }
        log_info("%s: %zu steps%s%s", runs[i].name, runs[i].n, runs[i].n_eval ? ", with validation loss" : "",
                 runs[i].cycles ? " (RAFT cycles)" : "");
    }
    for (int i = 0; i < n; i++) {
        char out[4400];
        if (!output) {
            default_out(args_pos(a, i), out, sizeof out);
        } else if (n == 1) {
            snprintf(out, sizeof out, "%s", output);
        } else {
            /* one subfolder per run, named after it (numbered when two runs share a name) */
            char *copy = strdup(runs[i].name);
            const char *b = copy ? basename(copy) : "run";
            int same = 0;
            for (int j = 0; j < i; j++) {
                char *c2 = strdup(runs[j].name);
                if (c2 && !strcmp(basename(c2), b)) same++;
                free(c2);
            }
            if (same) snprintf(out, sizeof out, "%s/%s_%d", output, b, same + 1);
            else snprintf(out, sizeof out, "%s/%s", output, b);
            free(copy);
        }
        if (plot_training_figures(&runs[i], out, print_path, &files, err, sizeof err)) {
            log_error("%s", err);
            goto done;
        }
    }
    if (compare) {
        char out[4400];
        snprintf(out, sizeof out, "%s/comparison", output ? output : "figures");
        if (plot_training_compare(runs, (size_t)n, out, print_path, &files, err, sizeof err)) {
            log_error("%s", err);
            goto done;
        }
    }
    log_info("plot training: %d files written", files);
    rc = 0;
done:
    chart_release();
    for (int i = 0; runs && i < n; i++) plot_run_free(&runs[i]);
    free(runs);
    args_free(a);
    return rc;
}

static int plot_benchmarks_cmd(int argc, char **argv) {
    int rc;
    args *a = args_parse(&bench_cmd, argc, argv, &rc);
    if (!a) return rc;
    char err[4600] = "";
    int files = 0;
    rc = 1;
    if (plot_benchmarks(args_pos(a, 0), args_str(a, "output"), print_path, &files, err, sizeof err)) {
        log_error("%s", err);
    } else {
        log_info("plot benchmarks: %d files written", files);
        rc = 0;
    }
    chart_release();
    args_free(a);
    return rc;
}

const cli_command cli_plot_cmds[] = {
    {"training", "Figures of training runs (loss, learning rate, grad norm; --compare overlays runs)",
     plot_training_cmd},
    {"benchmarks", "Figures of benchmark full results (baseline vs final, cycles, hardware, time)",
     plot_benchmarks_cmd},
    {NULL, NULL, NULL},
};
