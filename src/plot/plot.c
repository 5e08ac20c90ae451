/* plot: training and benchmark figures from run folders (see plot.h). */
#include "plot/plot.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/summary.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "plot/chart.h"
#include "plot/tfevents.h"

/* ---- growable arrays of doubles */

typedef struct {
    double *v;
    size_t n, cap;
} dvec;

static int dv_push(dvec *d, double x) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        double *q = realloc(d->v, cap * sizeof *q);
        if (!q) return -1;
        d->v = q;
        d->cap = cap;
    }
    d->v[d->n++] = x;
    return 0;
}

static double num_or_nan(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ---- loading training runs */

typedef struct {
    dvec step, loss, lr, gn, tps, es, el;
} run_builder;

static void rb_free(run_builder *b) {
    free(b->step.v), free(b->loss.v), free(b->lr.v), free(b->gn.v), free(b->tps.v), free(b->es.v), free(b->el.v);
}

static int rb_step(run_builder *b, double step, double loss, double lr, double gn, double tps) {
    return dv_push(&b->step, step) | dv_push(&b->loss, loss) | dv_push(&b->lr, lr) | dv_push(&b->gn, gn) |
           dv_push(&b->tps, tps);
}

/* Appends a metrics.jsonl (train_run's lines) with steps moved by offset; *last gets the highest step. */
static int load_metrics(const char *path, run_builder *b, double offset, double *last, char *err, size_t errcap) {
    jsonl_reader r;
    if (jsonl_open(&r, path) != 0) {
        err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (;;) {
        cJSON *o = NULL;
        char e[512];
        int k = jsonl_next(&r, &o, e, sizeof e);
        if (k == 0) break;
        if (k < 0) {
            log_warn("%s (skipped)", e);
            continue;
        }
        double step = num_or_nan(o, "step");
        if (!isfinite(step)) {
            log_warn("%s:%ld: no \"step\" (skipped)", path, r.lineno);
        } else if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "loss"))) {
            rc = rb_step(b, step + offset, num_or_nan(o, "loss"), num_or_nan(o, "lr"), num_or_nan(o, "grad_norm"),
                         num_or_nan(o, "tokens_per_sec"));
            if (step + offset > *last) *last = step + offset;
        } else if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "eval_loss"))) {
            rc = dv_push(&b->es, step + offset) | dv_push(&b->el, num_or_nan(o, "eval_loss"));
        }
        cJSON_Delete(o);
        if (rc) {
            err_set(err, errcap, "%s: out of memory", path);
            break;
        }
    }
    jsonl_close(&r);
    return rc;
}

static int cmp_point(const void *a, const void *b) {
    const tfev_point *p = a, *q = b;
    int c = strcmp(p->tag, q->tag);
    return c ? c : (p->step > q->step) - (p->step < q->step);
}

/* The value of tag (or alt) at step among sorted points, NAN when absent. */
static double point_at(const tfev_point *p, long n, const char *tag, const char *alt, int64_t step) {
    for (int t = 0; t < 2; t++) {
        const char *want = t ? alt : tag;
        if (!want) continue;
        long lo = 0, hi = n;
        while (lo < hi) {
            long mid = (lo + hi) / 2;
            int c = strcmp(p[mid].tag, want);
            if (c < 0 || (c == 0 && p[mid].step < step)) lo = mid + 1;
            else hi = mid;
        }
        if (lo < n && !strcmp(p[lo].tag, want) && p[lo].step == step) return p[lo].value;
    }
    return NAN;
}

static int load_events(const char *dir, run_builder *b, char *err, size_t errcap) {
    tfev_point *p;
    long n = tfev_read_dir(dir, &p, err, errcap);
    if (n < 0) return -1;
    if (n) qsort(p, (size_t)n, sizeof *p, cmp_point);
    int rc = 0;
    /* the last value of a step wins (a resumed run may have written a step twice) */
    for (long i = 0; i < n && !rc; i++) {
        bool train = !strcmp(p[i].tag, "train/loss") || !strcmp(p[i].tag, "loss");
        bool eval = !strcmp(p[i].tag, "eval/loss") || !strcmp(p[i].tag, "eval_loss");
        if ((!train && !eval) || (i + 1 < n && !strcmp(p[i + 1].tag, p[i].tag) && p[i + 1].step == p[i].step))
            continue;
        if (train)
            rc = rb_step(b, (double)p[i].step, p[i].value, point_at(p, n, "train/learning_rate", "learning_rate", p[i].step),
                         point_at(p, n, "train/grad_norm", "grad_norm", p[i].step),
                         point_at(p, n, "train/tokens_per_sec", NULL, p[i].step));
        else rc = dv_push(&b->es, (double)p[i].step) | dv_push(&b->el, p[i].value);
    }
    tfev_points_free(p, n);
    if (rc) err_set(err, errcap, "%s: out of memory", dir);
    return rc;
}

static bool has_events(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d))) found = e->d_name[0] != '.' && strstr(e->d_name, "tfevents");
    closedir(d);
    return found;
}

/* raft train's cycle_N/metrics.jsonl, steps numbered on across cycles; each cycle's first step goes into
 * run's marks. Returns cycles read, or -1. */
static int load_raft(const char *dir, run_builder *b, plot_run *run, char *err, size_t errcap) {
    double offset = 0;
    int cycles = 0;
    for (int c = 1; c < 10000; c++) {
        char cdir[4200], mp[4300], sp[4300];
        snprintf(cdir, sizeof cdir, "%s/cycle_%d", dir, c);
        snprintf(mp, sizeof mp, "%s/metrics.jsonl", cdir);
        snprintf(sp, sizeof sp, "%s/cycle_%d_samples.jsonl", dir, c);
        if (!fs_is_dir(cdir) && !fs_exists(sp)) break;
        if (!fs_exists(mp)) continue; /* a cycle that kept nothing, or has not trained yet */
        double last = offset;
        size_t before = b->step.n;
        if (load_metrics(mp, b, offset, &last, err, errcap)) return -1;
        if (b->step.n > before) {
            double *ms = realloc(run->mark_step, (run->n_marks + 1) * sizeof *ms);
            char **ml = ms ? realloc(run->mark_label, (run->n_marks + 1) * sizeof *ml) : NULL;
            if (ms) run->mark_step = ms;
            if (ml) run->mark_label = ml;
            char lab[32];
            snprintf(lab, sizeof lab, "cycle %d", c);
            if (!ms || !ml || !(ml[run->n_marks] = strdup(lab))) {
                err_set(err, errcap, "out of memory");
                return -1;
            }
            ms[run->n_marks++] = b->step.v[before];
        }
        offset = last;
        cycles = c;
    }
    return cycles;
}

int plot_load_run(const char *path, plot_run *run, char *err, size_t errcap) {
    memset(run, 0, sizeof *run);
    run_builder b = {0};
    char p[4200], q[4200];
    int rc = -1;
    double last = 0;
    if (!fs_exists(path)) {
        err_set(err, errcap, "%s: no such file or folder", path);
        return -1;
    }
    if (!fs_is_dir(path)) {
        rc = load_metrics(path, &b, 0, &last, err, errcap);
    } else if (fs_exists(fs_join(p, sizeof p, path, "metrics.jsonl"))) {
        rc = load_metrics(p, &b, 0, &last, err, errcap);
    } else if (fs_exists(fs_join(p, sizeof p, path, "cycle_1_samples.jsonl")) ||
               fs_exists(fs_join(q, sizeof q, path, "raft_statistics.json"))) {
        rc = (run->cycles = load_raft(path, &b, run, err, errcap)) < 0 ? -1 : 0;
    } else if (fs_is_dir(fs_join(p, sizeof p, path, "raft"))) { /* benchmark full: its RAFT loop's folder */
        rc = (run->cycles = load_raft(p, &b, run, err, errcap)) < 0 ? -1 : 0;
    } else {
        const char *subs[] = {"", "tensorboard", "logs"};
        for (size_t i = 0; i < 3 && rc; i++) {
            fs_join(p, sizeof p, path, subs[i]);
            if (has_events(p)) rc = load_events(p, &b, err, errcap);
        }
        if (rc && !err[0])
            err_set(err, errcap, "%s: not a training run (no metrics.jsonl, cycle_N/metrics.jsonl, raft/ or "
                                 "TensorBoard event files)", path);
    }
    if (rc == 0 && b.step.n == 0) {
        err_set(err, errcap, "%s: no training steps with a loss", path);
        rc = -1;
    }
    if (rc) {
        rb_free(&b);
        plot_run_free(run);
        return -1;
    }
    run->name = strdup(path);
    size_t L = strlen(run->name);
    while (L > 1 && run->name[L - 1] == '/') run->name[--L] = 0;
    run->n = b.step.n;
    run->step = b.step.v, run->loss = b.loss.v, run->lr = b.lr.v, run->grad_norm = b.gn.v, run->tokens_per_sec = b.tps.v;
    run->n_eval = b.es.n;
    run->eval_step = b.es.v, run->eval_loss = b.el.v;
    return 0;
}

void plot_run_free(plot_run *r) {
    free(r->name), free(r->step), free(r->loss), free(r->lr), free(r->grad_norm), free(r->tokens_per_sec);
    free(r->eval_step), free(r->eval_loss);
    for (size_t i = 0; i < r->n_marks; i++) free(r->mark_label[i]);
    free(r->mark_step), free(r->mark_label);
    memset(r, 0, sizeof *r);
}

/* ---- training figures */

static int save(const chart_figure *f, const char *dir, const char *name, plot_file_fn cb, void *ctx, char *err,
                size_t errcap) {
    char base[4300], path[4400];
    snprintf(base, sizeof base, "%s/%s", dir, name);
    if (chart_save(f, base, err, errcap)) return -1;
    if (cb) {
        snprintf(path, sizeof path, "%s.png", base);
        cb(path, ctx);
        snprintf(path, sizeof path, "%s.svg", base);
        cb(path, ctx);
    }
    return 0;
}

static const char *x_label(const plot_run *r) { return r->cycles ? "optimizer step (all RAFT cycles)" : "optimizer step"; }

#define LOSS_LABEL "loss (cross-entropy, nats/token)"
#define LR_LABEL "learning rate"
#define GN_LABEL "gradient L2 norm (before clipping)"
#define TPS_LABEL "throughput (tokens/s)"

int plot_training_figures(const plot_run *r, const char *out, plot_file_fn cb, void *ctx, char *err, size_t errcap) {
    if (fs_mkdirs(out) != 0) {
        err_set(err, errcap, "%s: cannot create: %s", out, strerror(errno));
        return -1;
    }
    char t_loss[600], t_lr[600], t_gn[600], t_sum[600];
    snprintf(t_loss, sizeof t_loss, "Training loss: %s", r->name);
    snprintf(t_lr, sizeof t_lr, "Learning rate: %s", r->name);
    snprintf(t_gn, sizeof t_gn, "Gradient norm: %s", r->name);
    snprintf(t_sum, sizeof t_sum, "Training summary: %s (%zu steps%s)", r->name, r->n, r->cycles ? ", RAFT" : "");
    chart_series loss[2] = {{r->step, r->loss, r->n, "training loss", false},
                            {r->eval_step, r->eval_loss, r->n_eval, "validation loss", true}};
    size_t nl = r->n_eval ? 2 : 1;
    chart_series lr = {r->step, r->lr, r->n, NULL, false}, gn = {r->step, r->grad_norm, r->n, NULL, false},
                 tps = {r->step, r->tokens_per_sec, r->n, NULL, false};
    chart_lines c_loss = {t_loss, x_label(r), LOSS_LABEL, loss, nl, CHART_NUM, false, true, NULL, NULL, 0};
    chart_lines c_lr = {t_lr, x_label(r), LR_LABEL, &lr, 1, CHART_NUM, true, true, NULL, NULL, 0};
    chart_lines c_gn = {t_gn, x_label(r), GN_LABEL, &gn, 1, CHART_NUM, true, true, NULL, NULL, 0};
    /* RAFT: dashed lines where each cycle's training starts (the schedule restarts there) */
    chart_lines *marked[3] = {&c_loss, &c_lr, &c_gn};
    for (int k = 0; k < 3 && r->n_marks > 1; k++) {
        marked[k]->vlines = r->mark_step;
        marked[k]->vline_labels = (const char *const *)r->mark_label;
        marked[k]->n_vlines = r->n_marks;
    }
    chart_panel p_loss = {CHART_PANEL_LINES, &c_loss, NULL}, p_lr = {CHART_PANEL_LINES, &c_lr, NULL},
                p_gn = {CHART_PANEL_LINES, &c_gn, NULL};
    chart_figure f = chart_single(1200, 720, &p_loss);
    if (save(&f, out, "loss_curve", cb, ctx, err, errcap)) return -1;
    f = chart_single(1200, 720, &p_lr);
    if (save(&f, out, "learning_rate", cb, ctx, err, errcap)) return -1;
    f = chart_single(1200, 720, &p_gn);
    if (save(&f, out, "grad_norm", cb, ctx, err, errcap)) return -1;
    /* the 2x2 summary: the same series under short panel titles */
    chart_lines s_loss = c_loss, s_lr = c_lr, s_gn = c_gn;
    s_loss.title = "Loss", s_lr.title = "Learning rate", s_gn.title = "Gradient norm";
    chart_lines s_tps = {"Throughput", x_label(r), TPS_LABEL, &tps, 1, CHART_NUM, true, true, NULL, NULL, 0};
    s_tps.vlines = c_loss.vlines, s_tps.vline_labels = c_loss.vline_labels, s_tps.n_vlines = c_loss.n_vlines;
    chart_panel grid[4] = {{CHART_PANEL_LINES, &s_loss, NULL},
                           {CHART_PANEL_LINES, &s_lr, NULL},
                           {CHART_PANEL_LINES, &s_gn, NULL},
                           {CHART_PANEL_LINES, &s_tps, NULL}};
    f = (chart_figure){t_sum, 1600, 1100, 2, 2, grid, 4};
    return save(&f, out, "training_summary", cb, ctx, err, errcap);
}

int plot_training_compare(const plot_run *runs, size_t n, const char *out, plot_file_fn cb, void *ctx, char *err,
                          size_t errcap) {
    if (fs_mkdirs(out) != 0) {
        err_set(err, errcap, "%s: cannot create: %s", out, strerror(errno));
        return -1;
    }
    chart_series *s = calloc(3 * n, sizeof *s);
    if (!s) {
        err_set(err, errcap, "out of memory");
        return -1;
    }
    bool raft = false;
    for (size_t i = 0; i < n; i++) {
        s[i] = (chart_series){runs[i].step, runs[i].loss, runs[i].n, runs[i].name, false};
        s[n + i] = (chart_series){runs[i].step, runs[i].lr, runs[i].n, runs[i].name, false};
        s[2 * n + i] = (chart_series){runs[i].step, runs[i].grad_norm, runs[i].n, runs[i].name, false};
        raft |= runs[i].cycles > 0;
    }
    const char *xl = raft ? "optimizer step (RAFT runs: all cycles)" : "optimizer step";
    chart_lines c[3] = {{"Training loss", xl, LOSS_LABEL, s, n, CHART_NUM, false, true, NULL, NULL, 0},
                        {"Learning rate", xl, LR_LABEL, s + n, n, CHART_NUM, true, true, NULL, NULL, 0},
                        {"Gradient norm", xl, GN_LABEL, s + 2 * n, n, CHART_NUM, true, true, NULL, NULL, 0}};
    const char *names[3] = {"loss_comparison", "lr_comparison", "grad_norm_comparison"};
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++) {
        chart_panel p = {CHART_PANEL_LINES, &c[k], NULL};
        chart_figure f = chart_single(1200, 720, &p);
        rc = save(&f, out, names[k], cb, ctx, err, errcap);
    }
    free(s);
    return rc;
}

/* ---- benchmark figures */

typedef struct {
    cJSON *summary; /* owned */
    char dir[4200]; /* the model's benchmark folder (hardware CSVs) */
    char label[256];
} bench_entry;

static cJSON *read_json(const char *path, char *err, size_t errcap) {
    char *text = fs_read_file(path, NULL);
    if (!text) {
        err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j || !cJSON_IsObject(j)) {
        err_set(err, errcap, "%s: not a JSON object", path);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static int check_summary(const cJSON *s, const char *path, char *err, size_t errcap) {
    const char *need[] = {"baseline", "final"};
    for (int i = 0; i < 2; i++)
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(s, need[i]))) {
            err_set(err, errcap, "%s: no \"%s\" object (not a benchmark full summary)", path, need[i]);
            return -1;
        }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(s, "cycles"))) {
        err_set(err, errcap, "%s: no \"cycles\" array (not a benchmark full summary)", path);
        return -1;
    }
    return 0;
}

static int add_entry(bench_entry **es, size_t *n, cJSON *s, const char *dir) {
    bench_entry *q = realloc(*es, (*n + 1) * sizeof *q);
    if (!q) return -1;
    *es = q;
    bench_entry *e = &q[(*n)++];
    e->summary = s;
    snprintf(e->dir, sizeof e->dir, "%s", dir);
    const char *m = json_get_str(s, "model_short", NULL);
    if (!m || !*m) m = json_get_str(s, "model_name", "model");
    snprintf(e->label, sizeof e->label, "%s", m);
    return 0;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int load_benchmarks(const char *dir, bench_entry **es, size_t *n, char *err, size_t errcap) {
    char p[4300];
    *es = NULL;
    *n = 0;
    if (fs_exists(fs_join(p, sizeof p, dir, "comparison_summary.json"))) {
        cJSON *c = read_json(p, err, errcap);
        if (!c) return -1;
        cJSON *models = cJSON_GetObjectItemCaseSensitive(c, "models"), *m;
        if (!cJSON_IsArray(models) || !cJSON_GetArraySize(models)) {
            err_set(err, errcap, "%s: no \"models\" array", p);
            cJSON_Delete(c);
            return -1;
        }
        int i = 0;
        cJSON_ArrayForEach(m, models) {
            char what[4400], sub[4400];
            snprintf(what, sizeof what, "%s: models[%d]", p, i++);
            if (check_summary(m, what, err, errcap)) {
                cJSON_Delete(c);
                return -1;
            }
            snprintf(sub, sizeof sub, "%s/%s", dir, json_get_str(m, "model_short", ""));
            if (add_entry(es, n, cJSON_Duplicate(m, 1), sub)) break;
        }
        cJSON_Delete(c);
        return 0;
    }
    if (fs_exists(fs_join(p, sizeof p, dir, "summary.json"))) {
        cJSON *s = read_json(p, err, errcap);
        if (!s || check_summary(s, p, err, errcap) || add_entry(es, n, s, dir)) {
            cJSON_Delete(s);
            return -1;
        }
        return 0;
    }
    /* a folder of benchmark folders */
    DIR *d = opendir(dir);
    if (!d) {
        err_set(err, errcap, "%s: cannot open: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sp[4400];
        snprintf(sp, sizeof sp, "%s/%s/summary.json", dir, e->d_name);
        if (!fs_exists(sp)) continue;
        char **q = realloc(names, (nn + 1) * sizeof *q);
        if (!q) break;
        names = q;
        if ((names[nn] = strdup(e->d_name))) nn++;
    }
    closedir(d);
    if (nn) qsort(names, nn, sizeof *names, cmp_name);
    int rc = 0;
    for (size_t i = 0; i < nn; i++) {
        char sub[4400], sp[4500];
        snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
        snprintf(sp, sizeof sp, "%s/summary.json", sub);
        cJSON *s = read_json(sp, err, errcap);
        if (!s || check_summary(s, sp, err, errcap) || add_entry(es, n, s, sub)) {
            cJSON_Delete(s);
            rc = -1;
            break;
        }
    }
    for (size_t i = 0; i < nn; i++) free(names[i]);
    free(names);
    if (!rc && !*n) {
        err_set(err, errcap, "%s: no benchmark results (summary.json, comparison_summary.json or */summary.json)", dir);
        rc = -1;
    }
    return rc;
}

static double sub_num(const cJSON *o, const char *obj, const char *key) {
    return num_or_nan(cJSON_GetObjectItemCaseSensitive(o, obj), key);
}

/* One hardware CSV (hwmon's columns) appended to the timeline; t0 is the first timestamp seen. */
typedef struct {
    dvec t, cpu, gpu, sys, rss, gmem, cpw, gpw;
} hw_series;

static const char *const hw_cols[] = {"timestamp", "cpu_util_pct", "gpu_util_pct", "sys_mem_used_gb", "rss_gb",
                                      "gpu_mem_used_gb", "cpu_power_w", "gpu_power_w"};

static void hw_free(hw_series *h) {
    dvec *v[] = {&h->t, &h->cpu, &h->gpu, &h->sys, &h->rss, &h->gmem, &h->cpw, &h->gpw};
    for (int i = 0; i < 8; i++) free(v[i]->v);
}

static int load_csv(const char *path, hw_series *h, double *bound) {
    char *text = fs_read_file(path, NULL);
    if (!text) return 0; /* a phase without its CSV (not run yet, or an older run) */
    int col[8];
    for (int i = 0; i < 8; i++) col[i] = -1;
    dvec *dst[] = {&h->t, &h->cpu, &h->gpu, &h->sys, &h->rss, &h->gmem, &h->cpw, &h->gpw};
    char *save = NULL;
    long lineno = 0;
    int rc = 0;
    bool first = true;
    for (char *line = strtok_r(text, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *f[32];
        int nf = 0;
        for (char *c = line;; c++) {
            if (nf < 32 && (c == line || c[-1] == 0)) f[nf++] = c;
            if (!*c) break;
            if (*c == ',') *c = 0;
            if (*c == '\r') *c = 0;
        }
        if (lineno == 1) {
            for (int k = 0; k < 8; k++)
                for (int i = 0; i < nf; i++)
                    if (!strcmp(f[i], hw_cols[k])) col[k] = i;
            if (col[0] < 0) {
                log_warn("%s:1: no timestamp column (skipped)", path);
                break;
            }
            continue;
        }
        double v[8];
        bool ok = true;
        for (int k = 0; k < 8; k++) {
            v[k] = NAN;
            if (col[k] < 0 || col[k] >= nf || !*f[col[k]]) continue;
            char *end;
            v[k] = strtod(f[col[k]], &end);
            if (*end) ok = false;
        }
        if (!ok || !isfinite(v[0])) {
            log_warn("%s:%ld: not a row of numbers (skipped)", path, lineno);
            continue;
        }
        if (first && bound) *bound = v[0];
        first = false;
        for (int k = 0; k < 8 && !rc; k++) rc = dv_push(dst[k], v[k]);
    }
    free(text);
    return rc;
}

static bool any_finite(const dvec *d) {
    for (size_t i = 0; i < d->n; i++)
        if (isfinite(d->v[i])) return true;
    return false;
}

static int hardware_figure(const bench_entry *e, const char *out, const char *name, plot_file_fn cb, void *ctx,
                           char *err, size_t errcap) {
    hw_series h = {0};
    int n_cycles = json_get_int(e->summary, "n_cycles", 0);
    double bounds[1100];
    char blabels[1100][32];
    int nb = 0;
    char p[4400];
    int rc = 0;
    for (int ph = 0; ph <= n_cycles + 1 && !rc; ph++) {
        if (ph == 0) snprintf(p, sizeof p, "%s/baseline_hardware.csv", e->dir);
        else if (ph <= n_cycles) snprintf(p, sizeof p, "%s/cycle_%d/hardware.csv", e->dir, ph);
        else snprintf(p, sizeof p, "%s/final_hardware.csv", e->dir);
        double b = NAN;
        rc = load_csv(p, &h, &b);
        if (isfinite(b) && nb < 1100) {
            bounds[nb] = b;
            if (ph == 0) snprintf(blabels[nb], sizeof blabels[nb], "baseline");
            else if (ph <= n_cycles) snprintf(blabels[nb], sizeof blabels[nb], "cycle %d", ph);
            else snprintf(blabels[nb], sizeof blabels[nb], "final");
            nb++;
        }
    }
    if (rc) {
        err_set(err, errcap, "out of memory");
        hw_free(&h);
        return -1;
    }
    if (!h.t.n) {
        log_warn("%s: no hardware CSVs (baseline_hardware.csv, ...): no hardware timeline", e->dir);
        hw_free(&h);
        return 0;
    }
    double t0 = h.t.v[0];
    for (size_t i = 0; i < h.t.n; i++)
        if (h.t.v[i] < t0) t0 = h.t.v[i];
    double span = 0;
    for (size_t i = 0; i < h.t.n; i++) {
        h.t.v[i] -= t0;
        if (h.t.v[i] > span) span = h.t.v[i];
    }
    bool minutes = span > 300;
    for (size_t i = 0; i < h.t.n; i++) h.t.v[i] /= minutes ? 60 : 1;
    for (int i = 0; i < nb; i++) bounds[i] = (bounds[i] - t0) / (minutes ? 60 : 1);
    const char *xl = minutes ? "time since the baseline started (min)" : "time since the baseline started (s)";

    chart_series util[2], mem[3], pow_[2];
    size_t nu = 0, nm = 0, np = 0;
    if (any_finite(&h.cpu)) util[nu++] = (chart_series){h.t.v, h.cpu.v, h.t.n, "CPU (all cores)", false};
    if (any_finite(&h.gpu)) util[nu++] = (chart_series){h.t.v, h.gpu.v, h.t.n, "GPU", false};
    for (size_t i = 0; i < h.t.n; i++) h.cpu.v[i] /= 100, h.gpu.v[i] /= 100;
    if (any_finite(&h.sys)) mem[nm++] = (chart_series){h.t.v, h.sys.v, h.t.n, "system memory used", false};
    if (any_finite(&h.rss)) mem[nm++] = (chart_series){h.t.v, h.rss.v, h.t.n, "halo-forge resident (RSS)", false};
    if (any_finite(&h.gmem)) mem[nm++] = (chart_series){h.t.v, h.gmem.v, h.t.n, "GPU memory used", false};
    if (any_finite(&h.cpw)) pow_[np++] = (chart_series){h.t.v, h.cpw.v, h.t.n, "CPU package", false};
    if (any_finite(&h.gpw)) pow_[np++] = (chart_series){h.t.v, h.gpw.v, h.t.n, "GPU", false};
    chart_lines cu = {"Utilisation", xl, "utilisation (%)", util, nu, CHART_PERCENT, true, false, NULL, NULL, 0};
    chart_lines cm = {"Memory", xl, "memory (GB)", mem, nm, CHART_NUM, true, false, NULL, NULL, 0};
    chart_lines cp = {"Power", xl, "power (W)", pow_, np, CHART_NUM, true, false, NULL, NULL, 0};
    cu.vlines = cm.vlines = cp.vlines = bounds;
    cu.n_vlines = cm.n_vlines = cp.n_vlines = (size_t)nb;
    const char *bl[1100];
    for (int i = 0; i < nb; i++) bl[i] = blabels[i];
    cu.vline_labels = cm.vline_labels = cp.vline_labels = bl;
    chart_panel panels[3] = {{CHART_PANEL_LINES, &cu, NULL}, {CHART_PANEL_LINES, &cm, NULL}, {CHART_PANEL_LINES, &cp, NULL}};
    char title[512];
    snprintf(title, sizeof title, "Hardware during benchmark full: %s", e->label);
    int rows = np ? 3 : 2;
    chart_figure f = {title, 1400, rows == 3 ? 1400 : 1000, rows, 1, panels, (size_t)rows};
    rc = save(&f, out, name, cb, ctx, err, errcap);
    hw_free(&h);
    return rc;
}

/* Writes the console's Summary Table and Detailed Results into out/summary.txt. */
static int summary_text(const bench_entry *es, size_t n, const char *out, plot_file_fn cb, void *ctx, char *err,
                        size_t errcap) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        err_set(err, errcap, "out of memory");
        return -1;
    }
    const cJSON **ss = malloc(n * sizeof *ss);
    for (size_t i = 0; ss && i < n; i++) ss[i] = es[i].summary;
    if (ss) bench_print_summary_table(f, (const cJSON *const *)ss, n);
    for (size_t i = 0; ss && i < n; i++) {
        fputc('\n', f);
        bench_print_detailed(f, es[i].summary);
    }
    free(ss);
    fclose(f);
    char path[4400];
    snprintf(path, sizeof path, "%.4300s/summary.txt", out);
    int rc = fs_write_atomic(path, buf, len);
    free(buf);
    if (rc) err_set(err, errcap, "%s: cannot write: %s", path, strerror(errno));
    else if (cb) cb(path, ctx);
    return rc;
}

int plot_benchmarks(const char *dir, const char *out_dir, plot_file_fn cb, void *ctx, char *err, size_t errcap) {
    bench_entry *es = NULL;
    size_t n = 0;
    if (load_benchmarks(dir, &es, &n, err, errcap)) return -1;
    char out[4300];
    if (out_dir) snprintf(out, sizeof out, "%s", out_dir);
    else snprintf(out, sizeof out, "%s/figures", dir);
    int rc = -1;
    const char **groups = calloc(n, sizeof *groups);
    double *vals = calloc(n * 6, sizeof *vals);
    int max_cycles = 0;
    if (!groups || !vals) {
        err_set(err, errcap, "out of memory");
        goto out;
    }
    if (fs_mkdirs(out) != 0) {
        err_set(err, errcap, "%s: cannot create: %s", out, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        groups[i] = es[i].label;
        int c = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(es[i].summary, "cycles"));
        if (c > max_cycles) max_cycles = c;
    }

    /* baseline vs final: compile rate, then pass@1 */
    static const char *const bf[] = {"baseline", "after RAFT (final)"};
    const char *keys[2] = {"compile_rate", "pass_at_1"};
    const char *titles[2] = {"Compile rate: baseline vs after RAFT", "pass@1: baseline vs after RAFT"};
    const char *ylabels[2] = {"samples that compile (%)", "pass@1 (correct output, %)"};
    const char *files[2] = {"compile_rate_comparison", "pass_at_1_comparison"};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < n; i++) {
            vals[i * 2] = sub_num(es[i].summary, "baseline", keys[k]);
            vals[i * 2 + 1] = sub_num(es[i].summary, "final", keys[k]);
        }
        chart_bars b = {titles[k], ylabels[k], groups, n, bf, 2, vals, CHART_PERCENT, false, true};
        chart_panel p = {CHART_PANEL_BARS, NULL, &b};
        chart_figure f = chart_single(n > 4 ? 1400 : 1100, 720, &p);
        if (save(&f, out, files[k], cb, ctx, err, errcap)) goto out;
    }

    /* per cycle: compile rate and pass rate (0 = the baseline evaluation), training loss, kept samples */
    {
        size_t npts = (size_t)max_cycles + 1;
        double *buf = malloc(n * npts * 5 * sizeof *buf);
        chart_series *s = calloc(4 * n, sizeof *s);
        if (!buf || !s) {
            free(buf);
            free(s);
            err_set(err, errcap, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n * npts * 5; i++) buf[i] = NAN;
        for (size_t i = 0; i < n; i++) {
            double *x = buf + i * npts * 5, *cr = x + npts, *pr = cr + npts, *loss = pr + npts, *kept = loss + npts;
            for (size_t c = 0; c < npts; c++) x[c] = (double)c;
            cr[0] = sub_num(es[i].summary, "baseline", "compile_rate");
            pr[0] = sub_num(es[i].summary, "baseline", "pass_rate");
            const cJSON *cy;
            cJSON_ArrayForEach(cy, cJSON_GetObjectItemCaseSensitive(es[i].summary, "cycles")) {
                int c = json_get_int(cy, "cycle", 0);
                if (c < 1 || c > max_cycles) continue;
                cr[c] = num_or_nan(cy, "compile_rate");
                pr[c] = num_or_nan(cy, "pass_rate");
                loss[c] = num_or_nan(cy, "training_loss");
                kept[c] = num_or_nan(cy, "kept");
            }
            const char *lab = n > 1 ? es[i].label : NULL;
            s[i] = (chart_series){x, cr, npts, lab, false};
            s[n + i] = (chart_series){x, pr, npts, lab, false};
            s[2 * n + i] = (chart_series){x, loss, npts, lab, false};
            s[3 * n + i] = (chart_series){x, kept, npts, lab, false};
        }
        const char *xl = "RAFT cycle (0 = baseline evaluation)";
        chart_lines c[4] = {{"Compile rate", xl, "samples that compile (%)", s, n, CHART_PERCENT, true, true, NULL, NULL, 0},
                            {"Pass rate", xl, "samples with correct output (%)", s + n, n, CHART_PERCENT, true, true, NULL, NULL, 0},
                            {"Training loss", "RAFT cycle", "mean loss of the cycle (nats/token)", s + 2 * n, n,
                             CHART_NUM, true, true, NULL, NULL, 0},
                            {"Kept samples", "RAFT cycle", "samples kept for training", s + 3 * n, n, CHART_NUM, true,
                             true, NULL, NULL, 0}};
        chart_panel p[4] = {{CHART_PANEL_LINES, &c[0], NULL},
                            {CHART_PANEL_LINES, &c[1], NULL},
                            {CHART_PANEL_LINES, &c[2], NULL},
                            {CHART_PANEL_LINES, &c[3], NULL}};
        char title[512];
        snprintf(title, sizeof title, "RAFT progress per cycle%s%s", n == 1 ? ": " : "", n == 1 ? es[0].label : "");
        chart_figure f = {title, 1600, 1100, 2, 2, p, 4};
        int src = save(&f, out, "training_progress", cb, ctx, err, errcap);
        free(buf);
        free(s);
        if (src) goto out;
    }

    /* peak memory per model */
    {
        static const char *const mb[] = {"system memory used", "halo-forge resident (RSS)", "GPU memory used"};
        for (size_t i = 0; i < n; i++) {
            vals[i * 3] = sub_num(es[i].summary, "hardware_summary", "sys_peak_memory_gb");
            vals[i * 3 + 1] = sub_num(es[i].summary, "hardware_summary", "rss_peak_gb");
            vals[i * 3 + 2] = sub_num(es[i].summary, "hardware_summary", "gpu_peak_memory_gb");
        }
        chart_bars b = {"Peak memory during benchmark full", "peak memory (GB)", groups, n, mb, 3, vals, CHART_NUM,
                        false, true};
        chart_panel p = {CHART_PANEL_BARS, NULL, &b};
        chart_figure f = chart_single(n > 4 ? 1400 : 1100, 720, &p);
        if (save(&f, out, "memory_usage", cb, ctx, err, errcap)) goto out;
    }

    /* where the time went, stacked per model */
    {
        static const char *const tb[] = {"baseline evaluation", "cycles: generation", "cycles: verification",
                                         "cycles: training", "final evaluation", "other"};
        double longest = 0;
        for (size_t i = 0; i < n; i++) {
            const cJSON *s = es[i].summary;
            double base = num_or_nan(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "baseline"),
                                                                      "hardware"), "duration_sec");
            double fin = num_or_nan(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "final"),
                                                                     "hardware"), "duration_sec");
            if (!isfinite(base))
                base = sub_num(s, "baseline", "generation_time_sec") + sub_num(s, "baseline", "verification_time_sec");
            if (!isfinite(fin))
                fin = sub_num(s, "final", "generation_time_sec") + sub_num(s, "final", "verification_time_sec");
            double g = 0, v = 0, t = 0;
            const cJSON *cy;
            cJSON_ArrayForEach(cy, cJSON_GetObjectItemCaseSensitive(s, "cycles")) {
                double x;
                if (isfinite(x = num_or_nan(cy, "generation_time_sec"))) g += x;
                if (isfinite(x = num_or_nan(cy, "verification_time_sec"))) v += x;
                if (isfinite(x = num_or_nan(cy, "training_time_sec"))) t += x;
            }
            double total = num_or_nan(s, "total_time_sec"), known = 0;
            double *row = vals + i * 6;
            row[0] = base, row[1] = g, row[2] = v, row[3] = t, row[4] = fin;
            for (int k = 0; k < 5; k++)
                if (isfinite(row[k])) known += row[k];
            row[5] = isfinite(total) && total > known ? total - known : 0;
            if (isfinite(total) && total > longest) longest = total;
            if (known > longest) longest = known;
        }
        bool minutes = longest >= 120;
        for (size_t i = 0; i < n * 6; i++) vals[i] /= minutes ? 60 : 1;
        chart_bars b = {"Time breakdown of benchmark full", minutes ? "wall time (min)" : "wall time (s)", groups, n, tb,
                        6, vals, CHART_NUM, true, true};
        chart_panel p = {CHART_PANEL_BARS, NULL, &b};
        chart_figure f = chart_single(n > 4 ? 1400 : 1100, 760, &p);
        if (save(&f, out, "time_breakdown", cb, ctx, err, errcap)) goto out;
    }

    for (size_t i = 0; i < n; i++) {
        char name[300];
        if (n == 1) snprintf(name, sizeof name, "hardware_timeline");
        else snprintf(name, sizeof name, "hardware_timeline_%s", es[i].label);
        for (char *c = name; *c; c++)
            if (*c == '/') *c = '_';
        if (hardware_figure(&es[i], out, name, cb, ctx, err, errcap)) goto out;
    }
    if (summary_text(es, n, out, cb, ctx, err, errcap)) goto out;
    rc = 0;
out:
    free(groups);
    free(vals);
    for (size_t i = 0; i < n; i++) cJSON_Delete(es[i].summary);
    free(es);
    return rc;
}
