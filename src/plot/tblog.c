/* tblog: TensorBoard events of raft train and benchmark full (see tblog.h). */
#include "plot/tblog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "plot/tfevents.h"

static const tfev_tag raft_tags[] = {
    {"compile_rate", "raft/compile_rate"},
    {"success_rate", "raft/success_rate"},
    {"avg_reward", "raft/avg_reward"},
    {"avg_kept_reward", "raft/avg_kept_reward"},
    {"kept", "raft/kept"},
    {"total_samples", "raft/total_samples"},
    {"train_loss", "raft/train_loss"},
    {"train_steps", "raft/train_steps"},
    {"learning_rate", "raft/learning_rate"},
    {"elapsed_minutes", "raft/elapsed_minutes"},
    {"generation_time_s", "raft/generation_time_s"},
    {"verification_time_s", "raft/verification_time_s"},
    {"training_time_s", "raft/training_time_s"},
    {"generated_tokens", "raft/generated_tokens"},
    {NULL, NULL},
};

/* When cycle c finished: its verified file's (or trained weights') modification time; 0 (now) if unknown. */
static double cycle_time(const char *dir, int c) {
    const char *names[] = {"cycle_%d/metrics.jsonl", "cycle_%d_verified.jsonl"};
    for (int i = 0; i < 2; i++) {
        char rel[64], p[4300];
        snprintf(rel, sizeof rel, names[i], c);
        snprintf(p, sizeof p, "%s/%s", dir, rel);
        struct stat st;
        if (stat(p, &st) == 0) return (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9;
    }
    return 0;
}

int tblog_raft(const char *dir, char *err, size_t errcap) {
    char p[4300], tb[4300];
    snprintf(p, sizeof p, "%s/raft_statistics.json", dir);
    snprintf(tb, sizeof tb, "%s/tensorboard", dir);
    char *text = fs_read_file(p, NULL);
    if (!text) {
        err_set(err, errcap, "%s: cannot read: %s", p, strerror(errno));
        return -1;
    }
    cJSON *stats = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsArray(stats)) {
        err_set(err, errcap, "%s: not a JSON array of cycles", p);
        cJSON_Delete(stats);
        return -1;
    }
    tfev_writer *w = tfev_open(tb, TFEV_REPLACE, err, errcap);
    int rc = w ? 0 : -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, stats) {
        if (rc) break;
        rc = tfev_json(w, e, "cycle", raft_tags, cycle_time(dir, json_get_int(e, "cycle", 0))) < 0 ? -1 : 0;
    }
    cJSON_Delete(stats);
    if (w && tfev_close(w) != 0) rc = -1;
    if (rc && w) err_set(err, errcap, "%s: cannot write the event file", tb);
    return rc;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *const hw_cols[] = {"cpu_util_pct", "sys_mem_used_gb", "rss_gb", "gpu_util_pct",
                                      "gpu_mem_used_gb", "gpu_power_w", "cpu_power_w", "gpu_temp_c"};
#define N_HW (sizeof hw_cols / sizeof *hw_cols)

/* One phase's hardware CSV as events; *sample numbers the samples across phases. */
static int hw_csv(tfev_writer *w, const char *path, long *sample) {
    char *text = fs_read_file(path, NULL);
    if (!text) return 0;
    int col[N_HW], tcol = -1, rc = 0;
    char tags[N_HW][48];
    const char *tp[N_HW];
    for (size_t k = 0; k < N_HW; k++) {
        col[k] = -1;
        snprintf(tags[k], sizeof tags[k], "hardware/%s", hw_cols[k]);
    }
    char *save = NULL;
    long lineno = 0;
    for (char *line = strtok_r(text, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        char *f[32];
        int nf = 0;
        for (char *c = line;; c++) {
            if (nf < 32 && (c == line || c[-1] == 0)) f[nf++] = c;
            if (!*c) break;
            if (*c == ',' || *c == '\r') *c = 0;
        }
        if (++lineno == 1) {
            for (int i = 0; i < nf; i++) {
                if (!strcmp(f[i], "timestamp")) tcol = i;
                for (size_t k = 0; k < N_HW; k++)
                    if (!strcmp(f[i], hw_cols[k])) col[k] = i;
            }
            if (tcol < 0) break;
            continue;
        }
        if (tcol >= nf) continue;
        double t = strtod(f[tcol], NULL), v[N_HW];
        size_t n = 0;
        for (size_t k = 0; k < N_HW; k++) {
            if (col[k] < 0 || col[k] >= nf || !*f[col[k]]) continue;
            tp[n] = tags[k];
            v[n++] = strtod(f[col[k]], NULL);
        }
        if (n) rc = tfev_scalars(w, (*sample)++, t, n, tp, v);
    }
    free(text);
    return rc;
}

int tblog_benchmark(const char *dir, const cJSON *s, char *err, size_t errcap) {
    char tb[4300], p[4400];
    snprintf(tb, sizeof tb, "%s/tensorboard", dir);
    tfev_writer *w = tfev_open(tb, TFEV_REPLACE, err, errcap);
    if (!w) return -1;
    int rc = 0, n_cycles = json_get_int(s, "n_cycles", 0);
    static const char *const ekeys[] = {"compile_rate", "pass_at_1", "pass_rate", "avg_reward", "tokens_per_sec"};
    static const char *const etags[] = {"eval/compile_rate", "eval/pass_at_1", "eval/pass_rate", "eval/avg_reward",
                                        "eval/tokens_per_sec"};
    for (int ph = 0; ph < 2 && !rc; ph++) {
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(s, ph ? "final" : "baseline");
        double v[5];
        for (int k = 0; k < 5; k++) v[k] = num(ev, ekeys[k]);
        rc = tfev_scalars(w, ph ? n_cycles : 0, 0, 5, etags, v);
    }
    static const tfev_tag ctags[] = {{"compile_rate", "cycle/compile_rate"}, {"pass_rate", "cycle/pass_rate"},
                                     {"avg_reward", "cycle/avg_reward"},     {"kept", "cycle/kept"},
                                     {"training_loss", "cycle/training_loss"}, {"cycle_time_sec", "cycle/cycle_time_sec"},
                                     {NULL, NULL}};
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(s, "cycles")) {
        if (rc) break;
        rc = tfev_json(w, c, "cycle", ctags, 0) < 0 ? -1 : 0;
    }
    long sample = 0;
    for (int ph = 0; ph <= n_cycles + 1 && !rc; ph++) {
        if (ph == 0) snprintf(p, sizeof p, "%s/baseline_hardware.csv", dir);
        else if (ph <= n_cycles) snprintf(p, sizeof p, "%s/cycle_%d/hardware.csv", dir, ph);
        else snprintf(p, sizeof p, "%s/final_hardware.csv", dir);
        rc = hw_csv(w, p, &sample);
    }
    if (tfev_close(w) != 0) rc = -1;
    if (rc) err_set(err, errcap, "%s: cannot write the event file", tb);
    return rc;
}
