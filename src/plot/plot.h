/* plot: the figures of `halo-forge plot training` and `halo-forge plot benchmarks`, read from the folders
 * that sft train, raft train and benchmark full write (drawn by chart.h, PNG + SVG each).
 *
 * Training runs (plot_load_run): a folder with metrics.jsonl (sft train), a metrics.jsonl file, a raft
 * train folder (cycle_N/metrics.jsonl, steps numbered on across cycles), a benchmark full folder (its raft/
 * folder), or a folder of TensorBoard event files (ours, or the original's Trainer logs: train/loss,
 * train/learning_rate, train/grad_norm, eval/loss).
 *
 * Benchmark results (plot_benchmarks): a benchmark full folder (summary.json), a suite folder
 * (comparison_summary.json), or a folder whose subfolders hold summary.json files. */
#ifndef HF_PLOT_H
#define HF_PLOT_H

#include <stdbool.h>
#include <stddef.h>

/* One training run's per-step series (NAN where a step lacks a value). */
typedef struct {
    char *name;            /* the path given, for titles and legends */
    size_t n;              /* optimizer steps */
    double *step, *loss, *lr, *grad_norm, *tokens_per_sec;
    size_t n_eval;
    double *eval_step, *eval_loss;
    int cycles;            /* raft: the number of cycles read (0 for sft) */
    size_t n_marks;        /* raft: where each trained cycle's steps begin, marked in the figures */
    double *mark_step;
    char **mark_label;     /* "cycle 2" */
} plot_run;

/* Called with the path of each file written (PNG, SVG, text). */
typedef void (*plot_file_fn)(const char *path, void *ctx);

/* Reads one run (see above). Returns 0, or -1 with "PATH: reason" in err (nothing readable, or no step
 * with a loss). Bad lines of a metrics file are skipped with a warning naming file and line. */
int plot_load_run(const char *path, plot_run *run, char *err, size_t errcap);
void plot_run_free(plot_run *run);

/* Writes loss_curve, learning_rate, grad_norm and training_summary (2x2: loss, learning rate, grad norm,
 * tokens/s) into out_dir (created). Returns 0 or -1 with err. */
int plot_training_figures(const plot_run *run, const char *out_dir, plot_file_fn cb, void *ctx, char *err,
                          size_t errcap);

/* Overlays runs: loss_comparison, lr_comparison, grad_norm_comparison into out_dir. */
int plot_training_compare(const plot_run *runs, size_t n, const char *out_dir, plot_file_fn cb, void *ctx,
                          char *err, size_t errcap);

/* Reads the summaries under dir and writes into out_dir (default dir/figures when NULL):
 * compile_rate_comparison, pass_at_1_comparison (baseline vs final per model), training_progress
 * (compile rate, pass rate and training loss per cycle), hardware_timeline (utilisation and memory over
 * the run, from the phases' hardware CSVs; one per model), memory_usage (peak memory per model),
 * time_breakdown (stacked minutes per model) and summary.txt (the Summary Table). Returns 0 or -1 with
 * err. */
int plot_benchmarks(const char *dir, const char *out_dir, plot_file_fn cb, void *ctx, char *err, size_t errcap);

#endif
