/* ui_runs: run folders read into JSON for the dashboard. */
#include "ui/ui_runs.h"

#include "bench/passk.h"
#include "bench/score.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/runinfo.h"
#include "core/timing.h"
#include "ui/ui_path.h"
#include "verify/verify.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILE_BYTES (256L << 20) /* a file larger than this is reported, not read */
#define SCAN_MAX_DEPTH 4
#define SCAN_MAX_DIRS 4000
#define MAX_CYCLES 200

/* ---- roots ---- */

int ui_roots_add(ui_roots *r, const char *dir) {
    if (r->n >= UI_MAX_ROOTS) return -1;
    r->given[r->n] = strdup(dir);
    r->real[r->n] = realpath(dir, NULL);
    r->n++;
    return 0;
}

void ui_roots_free(ui_roots *r) {
    for (int i = 0; i < r->n; i++) {
        free(r->given[i]);
        free(r->real[i]);
    }
    r->n = 0;
}

/* the server's request threads share the roots: a root resolved late is set under this lock */
static pthread_mutex_t roots_mu = PTHREAD_MUTEX_INITIALIZER;

const char *ui_roots_real(ui_roots *r, int i) {
    if (i < 0 || i >= r->n) return NULL;
    pthread_mutex_lock(&roots_mu);
    if (!r->real[i]) r->real[i] = realpath(r->given[i], NULL); /* a folder created since the start */
    const char *real = r->real[i];
    pthread_mutex_unlock(&roots_mu);
    if (real && !fs_is_dir(real)) return NULL;
    return real;
}

int ui_run_dir(ui_roots *r, const char *id, char *out, size_t cap) {
    if (!id || !*id) return UI_PATH_BAD;
    char *end;
    errno = 0;
    long idx = strtol(id, &end, 10);
    if (end == id || errno || (*end && *end != '/') || idx < 0 || idx >= r->n) return UI_PATH_BAD;
    const char *root = ui_roots_real(r, (int)idx);
    if (!root) return UI_PATH_MISSING;
    int rc = ui_path_resolve(root, *end ? end + 1 : "", out, cap);
    if (rc == UI_PATH_OK && !fs_is_dir(out)) return UI_PATH_MISSING;
    return rc;
}

/* ---- tolerant readers ---- */

static void problem(cJSON *problems, const char *file, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(cJSON *problems, const char *file, long line, const char *fmt, ...) {
    if (!problems) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "file", file);
    if (line > 0) cJSON_AddNumberToObject(p, "line", (double)line);
    else cJSON_AddNullToObject(p, "line");
    cJSON_AddStringToObject(p, "message", msg);
    cJSON_AddItemToArray(problems, p);
}

/* Reads dir/rel whole; NULL when missing (silently) or unreadable / too large (a problem). */
static char *read_rel(const char *dir, const char *rel, size_t *len, cJSON *problems) {
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct stat st;
    if (stat(path, &st) != 0) return NULL;
    if (!S_ISREG(st.st_mode)) {
        problem(problems, rel, 0, "not a regular file");
        return NULL;
    }
    if (st.st_size > MAX_FILE_BYTES) {
        problem(problems, rel, 0, "%lld bytes: too large to show", (long long)st.st_size);
        return NULL;
    }
    char *text = fs_read_file(path, len);
    if (!text) problem(problems, rel, 0, "cannot read: %s", strerror(errno));
    return text;
}

/* A JSON file: NULL when missing; a parse failure is a problem. */
static cJSON *read_json(const char *dir, const char *rel, cJSON *problems) {
    size_t len;
    char *text = read_rel(dir, rel, &len, problems);
    if (!text) return NULL;
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!o) {
        long line = 1;
        for (const char *p = text; end && p < end; p++) line += *p == '\n';
        problem(problems, rel, end ? line : 0, len ? "not valid JSON (half-written or damaged)" : "empty file");
    }
    free(text);
    return o;
}

/* Calls fn for every line of a JSONL file that holds a JSON object (line numbers from 1). A line that
 * is not one is a problem, except a last line without its newline while the run is being written
 * (partial), which is skipped quietly. Returns the number of objects, -1 when the file is missing. */
typedef int (*line_fn)(void *user, cJSON *obj, long line);
static long read_jsonl(const char *dir, const char *rel, bool partial, cJSON *problems, line_fn fn, void *user) {
    size_t len;
    char *text = read_rel(dir, rel, &len, problems);
    if (!text) return -1;
    long n = 0, line = 0, bad = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        bool complete = nl != NULL;
        char *e = nl ? nl : end;
        line++;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q < e) {
            cJSON *o = cJSON_ParseWithLength(p, (size_t)(e - p));
            if (cJSON_IsObject(o)) {
                n++;
                int stop = fn ? fn(user, o, line) : 0;
                cJSON_Delete(o);
                if (stop) break;
            } else {
                cJSON_Delete(o);
                if (!complete && partial) {
                    /* the line being appended right now */
                } else if (bad++ < 20) {
                    problem(problems, rel, line, complete ? "not a JSON object" : "last line cut short (no newline)");
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (bad > 20) problem(problems, rel, 0, "%ld bad lines in all", bad);
    free(text);
    return n;
}

static bool exists_rel(const char *dir, const char *rel) {
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return fs_exists(path);
}

static double mtime_rel(const char *dir, const char *rel) {
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct stat st;
    if (stat(path, &st) != 0) return NAN;
    return (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec * 1e-9;
}

static void add_num_or_null(cJSON *o, const char *k, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

static double num_or_nan(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ---- kinds and status ---- */

static const char *kind_from_command(const char *c) {
    if (!c) return NULL;
    if (!strcmp(c, "benchmark full")) return "benchmark full";
    if (!strcmp(c, "raft train")) return "raft train";
    if (!strcmp(c, "sft train")) return "sft train";
    return NULL;
}

static bool is_model_dir(const char *dir) {
    return exists_rel(dir, "config.json") || exists_rel(dir, "adapter_config.json");
}

const char *ui_run_kind(const char *dir) {
    cJSON *ri = read_json(dir, RUNINFO_FILE, NULL);
    const char *k = kind_from_command(json_get_str(ri, "command", NULL));
    cJSON_Delete(ri);
    if (k) return k;
    if (exists_rel(dir, "baseline_phase.json") || exists_rel(dir, "summary.json")) return "benchmark full";
    if (exists_rel(dir, "raft_statistics.json") || exists_rel(dir, "cycle_1_samples.jsonl")) return "raft train";
    if (exists_rel(dir, "metrics.jsonl") && !is_model_dir(dir) &&
        (exists_rel(dir, "final_model") || exists_rel(dir, "training_config.json") || exists_rel(dir, "checkpoint-1") ||
         exists_rel(dir, "best_model")))
        return "sft train";
    if (exists_rel(dir, "metrics.jsonl") && !is_model_dir(dir)) {
        /* an sft run before its first checkpoint: metrics lines with a "loss" */
        DIR *d = opendir(dir);
        bool ck = false;
        for (struct dirent *e; d && (e = readdir(d));) ck |= !strncmp(e->d_name, "checkpoint-", 11);
        if (d) closedir(d);
        if (ck) return "sft train";
    }
    return NULL;
}

/* The folder of a benchmark full run's RAFT loop files. */
static void raft_dir_of(const char *dir, const char *kind, char *out, size_t cap) {
    if (!strcmp(kind, "benchmark full")) snprintf(out, cap, "%s/raft", dir);
    else snprintf(out, cap, "%s", dir);
}

/* Whether the run's last artefact is there (for folders without run.json). */
static bool looks_finished(const char *dir, const char *kind, const cJSON *ri) {
    if (!strcmp(kind, "benchmark full")) return exists_rel(dir, "summary.json") || exists_rel(dir, "comparison_summary.json");
    if (!strcmp(kind, "sft train")) return exists_rel(dir, "final_model");
    /* raft: the cycle count is in run.json's args when there is one; else the last cycle of the
     * statistics has its final weights */
    cJSON *st = read_json(dir, "raft_statistics.json", NULL);
    int last = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, st) {
        int c = json_get_int(e, "cycle", 0);
        if (c > last) last = c;
    }
    cJSON_Delete(st);
    (void)ri;
    char rel[64];
    snprintf(rel, sizeof rel, "cycle_%d_final", last);
    return last > 0 && exists_rel(dir, rel);
}

/* Fills the list entry's fields from run.json and the files. */
static void fill_entry(cJSON *o, const char *dir, const char *kind, cJSON *problems) {
    cJSON *ri = read_json(dir, RUNINFO_FILE, problems);
    cJSON_AddStringToObject(o, "kind", kind);
    const char *status = NULL;
    char note[256] = "";
    double started = NAN, duration = NAN;
    if (cJSON_IsObject(ri)) {
        status = json_get_str(ri, "status", NULL);
        started = num_or_nan(ri, "started_unix");
        duration = num_or_nan(ri, "duration_s");
        if (status && !strcmp(status, "running")) {
            char host[256] = "";
            gethostname(host, sizeof host);
            host[sizeof host - 1] = 0;
            const char *rh = json_get_str(ri, "host", "");
            long pid = json_get_long(ri, "pid", 0);
            unsigned long long ps = (unsigned long long)json_get_long(ri, "pid_start", 0);
            if (*rh && strcmp(rh, host) != 0) {
                snprintf(note, sizeof note, "running on %s (cannot be checked from here)", rh);
            } else if (!runinfo_alive(pid, ps)) {
                status = "interrupted";
                snprintf(note, sizeof note, "process %ld ended without recording its end (killed?)", pid);
            } else {
                duration = time_wall() - started;
            }
        } else if (status && strcmp(status, "finished") && strcmp(status, "failed") && strcmp(status, "interrupted")) {
            problem(problems, RUNINFO_FILE, 0, "unknown status '%s'", status);
            status = NULL;
        }
        const char *model = json_get_str(ri, "model", NULL);
        if (model) cJSON_AddStringToObject(o, "model", model);
        char cmd[2048];
        int w = snprintf(cmd, sizeof cmd, "halo-forge %s", json_get_str(ri, "command", kind));
        const cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(ri, "args")) {
            if (cJSON_IsString(a) && w >= 0 && (size_t)w < sizeof cmd)
                w += snprintf(cmd + w, sizeof cmd - (size_t)w, " %s", a->valuestring);
        }
        cJSON_AddStringToObject(o, "command", cmd);
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ri, "started")))
            cJSON_AddStringToObject(o, "started", json_get_str(ri, "started", ""));
    }
    if (!status) {
        status = looks_finished(dir, kind, ri) ? "finished" : "interrupted";
        snprintf(note, sizeof note, "no run.json: status inferred from the files");
    }
    if (!cJSON_HasObjectItem(o, "model")) {
        /* older folders: the model from summary.json or training_config.json */
        cJSON *s = read_json(dir, !strcmp(kind, "sft train") ? "final_model/training_config.json" : "summary.json", NULL);
        const char *m = json_get_str(s, !strcmp(kind, "sft train") ? "model" : "model_name", NULL);
        if (m) cJSON_AddStringToObject(o, "model", m);
        else cJSON_AddNullToObject(o, "model");
        cJSON_Delete(s);
    }
    if (!cJSON_HasObjectItem(o, "command")) cJSON_AddNullToObject(o, "command");
    if (!isfinite(started)) started = mtime_rel(dir, "");
    if (!cJSON_HasObjectItem(o, "started")) {
        char buf[64] = "";
        if (isfinite(started)) {
            time_t t = (time_t)started;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        cJSON_AddStringToObject(o, "started", buf);
    }
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "status_note", note);
    add_num_or_null(o, "started_unix", started);
    add_num_or_null(o, "duration_s", duration);
    cJSON_Delete(ri);
}

/* ---- samples of a phase ---- */

typedef struct {
    pk_tally tally;
    long n, verified, compiled, correct;
    double reward_sum;
    long hist[5];
} phase_acc;

static int bucket(double r) { return r < 0.15 ? 0 : r < 0.4 ? 1 : r < 0.6 ? 2 : r < 0.9 ? 3 : 4; }
static const char *const bucket_names[5] = {"0.0", "0.3", "0.5", "0.7", "1.0"};

/* A record's verdict: whether it was verified, compiled, passed. Benchmark records carry "compiles" and
 * "passes"; RAFT records the verifier's fields, judged by the benchmark's own rule. */
typedef struct {
    bool verified, compiles, passes;
    double reward;
    const char *status;
} verdict;

static verdict judge(const cJSON *o) {
    verdict v = {false, false, false, NAN, "unverified"};
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
    const cJSON *rw = cJSON_GetObjectItemCaseSensitive(o, "reward");
    if (!cJSON_IsString(st) || !cJSON_IsNumber(rw)) return v;
    v.verified = true;
    v.status = st->valuestring;
    v.reward = rw->valuedouble;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "compiles"), *p = cJSON_GetObjectItemCaseSensitive(o, "passes");
    if (cJSON_IsBool(c) && cJSON_IsBool(p)) {
        v.compiles = cJSON_IsTrue(c);
        v.passes = cJSON_IsTrue(p);
        return v;
    }
    vf_result r;
    if (vf_result_from_json(o, &r) == 0) {
        v.compiles = bench_sample_compiles(&r);
        v.passes = bench_sample_passes(&r);
        vf_result_free(&r);
    }
    return v;
}

static int acc_line(void *user, cJSON *o, long line) {
    phase_acc *a = user;
    (void)line;
    verdict v = judge(o);
    a->n++;
    if (!v.verified) return 0;
    a->verified++;
    a->compiled += v.compiles;
    a->correct += v.passes;
    a->reward_sum += v.reward;
    a->hist[bucket(v.reward)]++;
    pk_tally_add(&a->tally, json_get_str(o, "prompt_id", "?"), json_get_str(o, "category", NULL), v.passes);
    return 0;
}

typedef struct {
    char name[32];
    char file[96];
    int cycle; /* 0 for baseline / final */
} phase_ref;

/* The sample sets of a run in order, each with the most complete file there is for it now. */
static size_t phase_refs(const char *dir, const char *kind, phase_ref *out, size_t cap) {
    size_t n = 0;
    if (!strcmp(kind, "sft train")) return 0;
    bool bench = !strcmp(kind, "benchmark full");
    /* an evaluation being sampled has only its journal (unverified completions) */
    if (bench && n < cap && exists_rel(dir, "baseline_samples.jsonl")) out[n++] = (phase_ref){"baseline", "baseline_samples.jsonl", 0};
    else if (bench && n < cap && exists_rel(dir, "baseline_generated.jsonl"))
        out[n++] = (phase_ref){"baseline", "baseline_generated.jsonl", 0};
    for (int c = 1; c <= MAX_CYCLES && n < cap; c++) {
        const char *cands[3];
        char a[96], b[96], d[96];
        if (bench) {
            snprintf(a, sizeof a, "cycle_%d/samples.jsonl", c);
            snprintf(b, sizeof b, "raft/cycle_%d_verified.jsonl", c);
            snprintf(d, sizeof d, "raft/cycle_%d_samples.jsonl", c);
        } else {
            snprintf(a, sizeof a, "cycle_%d_verified.jsonl", c);
            snprintf(b, sizeof b, "cycle_%d_samples.jsonl", c);
            d[0] = 0;
        }
        cands[0] = a, cands[1] = b, cands[2] = d;
        const char *found = NULL;
        for (int i = 0; i < 3 && !found; i++)
            if (cands[i][0] && exists_rel(dir, cands[i])) found = cands[i];
        if (!found) break;
        snprintf(out[n].name, sizeof out[n].name, "cycle %d", c);
        snprintf(out[n].file, sizeof out[n].file, "%s", found);
        out[n].cycle = c;
        n++;
    }
    if (bench && n < cap && exists_rel(dir, "final_samples.jsonl")) out[n++] = (phase_ref){"final", "final_samples.jsonl", 0};
    else if (bench && n < cap && exists_rel(dir, "final_generated.jsonl"))
        out[n++] = (phase_ref){"final", "final_generated.jsonl", 0};
    return n;
}

static int count_cb(void *user, cJSON *o, long line) {
    (void)o, (void)line;
    (*(long *)user)++;
    return 0;
}

static cJSON *phase_json(const char *dir, const char *kind, const phase_ref *p, const cJSON *raft_stats, bool partial,
                         cJSON *problems) {
    phase_acc a;
    memset(&a, 0, sizeof a);
    pk_tally_init(&a.tally);
    read_jsonl(dir, p->file, partial, problems, acc_line, &a);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", p->name);
    if (p->cycle) cJSON_AddNumberToObject(o, "cycle", p->cycle);
    else cJSON_AddNullToObject(o, "cycle");
    cJSON_AddStringToObject(o, "file", p->file);
    cJSON_AddNumberToObject(o, "samples", (double)a.n);
    cJSON_AddNumberToObject(o, "verified", (double)a.verified);
    cJSON_AddNumberToObject(o, "compiled", (double)a.compiled);
    cJSON_AddNumberToObject(o, "correct", (double)a.correct);
    double dv = (double)a.verified;
    add_num_or_null(o, "compile_rate", a.verified ? (double)a.compiled / dv : NAN);
    add_num_or_null(o, "avg_reward", a.verified ? a.reward_sum / dv : NAN);
    long k = pk_tally_min_n(&a.tally);
    add_num_or_null(o, "pass_at_1", k >= 1 ? pk_tally_pass_at_k(&a.tally, NULL, 1) : NAN);
    add_num_or_null(o, "pass_at_k", k >= 1 ? pk_tally_pass_at_k(&a.tally, NULL, k) : NAN);
    if (k >= 1) cJSON_AddNumberToObject(o, "k", (double)k);
    else cJSON_AddNullToObject(o, "k");
    cJSON_AddNumberToObject(o, "prompts", (double)a.tally.count);
    cJSON *h = cJSON_AddObjectToObject(o, "reward_hist");
    for (int i = 0; i < 5; i++) cJSON_AddNumberToObject(h, bucket_names[i], (double)a.hist[i]);
    /* kept samples and training figures of a cycle: raft_statistics.json, else kept.jsonl */
    double kept = NAN, loss = NAN, lr = NAN;
    if (p->cycle) {
        const cJSON *e, *found = NULL;
        cJSON_ArrayForEach(e, raft_stats) if (json_get_int(e, "cycle", 0) == p->cycle) found = e;
        if (found) {
            kept = num_or_nan(found, "kept");
            loss = num_or_nan(found, "train_loss");
            lr = num_or_nan(found, "learning_rate");
        } else {
            char rel[96];
            snprintf(rel, sizeof rel, "%scycle_%d/kept.jsonl", !strcmp(kind, "benchmark full") ? "raft/" : "", p->cycle);
            long c = 0;
            if (read_jsonl(dir, rel, partial, problems, count_cb, &c) >= 0) kept = (double)c;
        }
    }
    add_num_or_null(o, "kept", kept);
    add_num_or_null(o, "train_loss", loss);
    add_num_or_null(o, "learning_rate", lr);
    pk_tally_free(&a.tally);
    return o;
}

/* ---- training metrics ---- */

typedef struct {
    cJSON *steps, *eval;
    int cycle;
    long x; /* running index over cycles */
} train_acc;

static int train_line(void *user, cJSON *o, long line) {
    train_acc *t = user;
    (void)line;
    double step = num_or_nan(o, "step");
    if (cJSON_HasObjectItem(o, "eval_loss")) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "x", (double)t->x);
        add_num_or_null(e, "step", step);
        add_num_or_null(e, "eval_loss", num_or_nan(o, "eval_loss"));
        cJSON_AddItemToArray(t->eval, e);
        return 0;
    }
    if (!cJSON_HasObjectItem(o, "loss")) return 0;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "x", (double)++t->x);
    add_num_or_null(e, "step", step);
    if (t->cycle) cJSON_AddNumberToObject(e, "cycle", t->cycle);
    else cJSON_AddNullToObject(e, "cycle");
    static const char *const keys[] = {"loss", "lr", "grad_norm", "tokens_per_sec", "epoch"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) add_num_or_null(e, keys[i], num_or_nan(o, keys[i]));
    cJSON_AddItemToArray(t->steps, e);
    return 0;
}

static cJSON *training_json(const char *dir, const char *kind, bool partial, cJSON *problems) {
    cJSON *o = cJSON_CreateObject();
    train_acc t = {cJSON_AddArrayToObject(o, "steps"), cJSON_AddArrayToObject(o, "eval"), 0, 0};
    if (!strcmp(kind, "sft train")) {
        read_jsonl(dir, "metrics.jsonl", partial, problems, train_line, &t);
        return o;
    }
    for (int c = 1; c <= MAX_CYCLES; c++) {
        char rel[128], cdir[96];
        snprintf(cdir, sizeof cdir, "%scycle_%d", !strcmp(kind, "benchmark full") ? "raft/" : "", c);
        if (!exists_rel(dir, cdir)) {
            /* a cycle still sampling has no folder yet; look one further before stopping */
            char next[96];
            snprintf(next, sizeof next, "%scycle_%d", !strcmp(kind, "benchmark full") ? "raft/" : "", c + 1);
            if (!exists_rel(dir, next)) break;
            continue;
        }
        snprintf(rel, sizeof rel, "%s/metrics.jsonl", cdir);
        t.cycle = c;
        read_jsonl(dir, rel, partial, problems, train_line, &t);
    }
    return o;
}

/* ---- hardware CSV ---- */

#define HW_MAX_COLS 24

static void hardware_csv(const char *dir, const char *rel, const char *phase, bool partial, cJSON *hw, cJSON *problems) {
    size_t len;
    char *text = read_rel(dir, rel, &len, problems);
    if (!text) return;
    cJSON *cols = cJSON_GetObjectItemCaseSensitive(hw, "columns");
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    char *names[HW_MAX_COLS];
    int ncol = 0;
    if (line) {
        char *s2 = NULL;
        for (char *f = strtok_r(line, ",", &s2); f && ncol < HW_MAX_COLS; f = strtok_r(NULL, ",", &s2)) {
            f[strcspn(f, "\r")] = 0;
            names[ncol++] = f;
        }
    }
    int ts = -1;
    for (int i = 0; i < ncol; i++)
        if (!strcmp(names[i], "timestamp")) ts = i;
    if (ts < 0) {
        problem(problems, rel, 1, "no timestamp column in the header");
        free(text);
        return;
    }
    for (int i = 0; i < ncol; i++) {
        if (i == ts) continue;
        if (!cJSON_HasObjectItem(hw, names[i])) {
            cJSON_AddItemToArray(cols, cJSON_CreateString(names[i]));
            /* earlier rows (other phases) had no such column */
            cJSON *arr = cJSON_AddArrayToObject(hw, names[i]);
            int rows = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(hw, "t"));
            for (int r = 0; r < rows; r++) cJSON_AddItemToArray(arr, cJSON_CreateNull());
        }
    }
    long lineno = 1;
    bool last_complete = len > 0 && text[len - 1] == '\n';
    for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        bool is_last = line + strlen(line) >= text + len - (last_complete ? 1 : 0);
        double v[HW_MAX_COLS];
        int nf = 0;
        bool ok = true;
        char *p = line;
        while (nf < HW_MAX_COLS) {
            char *c = strchr(p, ',');
            if (c) *c = 0;
            p[strcspn(p, "\r")] = 0;
            if (!*p) v[nf] = NAN;
            else {
                char *e;
                v[nf] = strtod(p, &e);
                if (*e) ok = false;
            }
            nf++;
            if (!c) break;
            p = c + 1;
        }
        if (nf != ncol || !ok || !isfinite(v[ts])) {
            bool cut = is_last && !last_complete;
            if (!(cut && partial)) problem(problems, rel, lineno, cut ? "last row cut short (no newline)" : "malformed row");
            continue;
        }
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(hw, "t"), cJSON_CreateNumber(v[ts]));
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(hw, "phase"), cJSON_CreateString(phase));
        const cJSON *cn;
        cJSON_ArrayForEach(cn, cols) {
            int idx = -1;
            for (int i = 0; i < ncol; i++)
                if (!strcmp(names[i], cn->valuestring)) idx = i;
            cJSON *arr = cJSON_GetObjectItemCaseSensitive(hw, cn->valuestring);
            cJSON_AddItemToArray(arr, idx >= 0 && isfinite(v[idx]) ? cJSON_CreateNumber(v[idx]) : cJSON_CreateNull());
        }
    }
    free(text);
}

static cJSON *hardware_json(const char *dir, const char *kind, bool partial, cJSON *problems) {
    cJSON *hw = cJSON_CreateObject();
    cJSON_AddArrayToObject(hw, "columns");
    cJSON_AddArrayToObject(hw, "t");
    cJSON_AddArrayToObject(hw, "phase");
    if (strcmp(kind, "benchmark full") != 0) return hw;
    hardware_csv(dir, "baseline_hardware.csv", "baseline", partial, hw, problems);
    for (int c = 1; c <= MAX_CYCLES; c++) {
        char rel[96], name[32];
        snprintf(rel, sizeof rel, "cycle_%d/hardware.csv", c);
        if (!exists_rel(dir, rel)) break;
        snprintf(name, sizeof name, "cycle %d", c);
        hardware_csv(dir, rel, name, partial, hw, problems);
    }
    hardware_csv(dir, "final_hardware.csv", "final", partial, hw, problems);
    return hw;
}

/* ---- list ---- */

typedef struct {
    cJSON *runs;
    int root;
    const char *root_real;
    long visited;
} scan_ctx;

static void add_entry(scan_ctx *s, const char *dir, const char *kind) {
    cJSON *o = cJSON_CreateObject(), *problems = cJSON_CreateArray();
    const char *rel = dir + strlen(s->root_real);
    while (*rel == '/') rel++;
    char id[PATH_MAX + 16];
    snprintf(id, sizeof id, "%d%s%s", s->root, *rel ? "/" : "", rel);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddNumberToObject(o, "root", s->root);
    cJSON_AddStringToObject(o, "path", *rel ? rel : ".");
    fill_entry(o, dir, kind, problems);
    /* a one-line figure for the list, from the file that has it */
    char headline[256] = "";
    if (!strcmp(kind, "benchmark full")) {
        cJSON *sum = read_json(dir, "summary.json", problems);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(sum, "baseline"), *f = cJSON_GetObjectItemCaseSensitive(sum, "final");
        if (b && f)
            snprintf(headline, sizeof headline, "compile %.1f%% -> %.1f%%, pass@1 %.1f%% -> %.1f%%",
                     100 * json_get_num(b, "compile_rate", 0), 100 * json_get_num(f, "compile_rate", 0),
                     100 * json_get_num(b, "pass_at_1", 0), 100 * json_get_num(f, "pass_at_1", 0));
        cJSON_Delete(sum);
    } else if (!strcmp(kind, "raft train")) {
        cJSON *st = read_json(dir, "raft_statistics.json", problems);
        int n = cJSON_GetArraySize(st);
        const cJSON *e = n > 0 ? cJSON_GetArrayItem(st, n - 1) : NULL;
        if (e)
            snprintf(headline, sizeof headline, "cycle %d: compile %.1f%%, mean reward %.3f, kept %d",
                     json_get_int(e, "cycle", 0), 100 * json_get_num(e, "compile_rate", 0),
                     json_get_num(e, "avg_reward", 0), json_get_int(e, "kept", 0));
        cJSON_Delete(st);
    }
    cJSON_AddStringToObject(o, "headline", headline);
    cJSON_AddNumberToObject(o, "problems", cJSON_GetArraySize(problems));
    cJSON_Delete(problems);
    cJSON_AddItemToArray(s->runs, o);
}

static bool skip_name(const char *n) {
    return n[0] == '.' || !strcmp(n, "logs") || !strncmp(n, "checkpoint", 10) || !strcmp(n, "final_model") ||
           !strcmp(n, "best_model") || !strcmp(n, "node_modules");
}

static void scan(scan_ctx *s, const char *dir, int depth) {
    if (s->visited++ > SCAN_MAX_DIRS) return;
    const char *kind = ui_run_kind(dir);
    if (kind) {
        add_entry(s, dir, kind);
        /* a suite of benchmark full: the models' folders are runs of their own */
        if (strcmp(kind, "benchmark full") != 0 || exists_rel(dir, "baseline_phase.json")) return;
    } else if (is_model_dir(dir)) {
        return;
    }
    if (depth >= SCAN_MAX_DEPTH) return;
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (skip_name(e->d_name)) continue;
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        struct stat st;
        /* links are not followed: a run folder is a real folder under its root */
        if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(path);
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        if (names[i]) scan(s, names[i], depth + 1);
        free(names[i]);
    }
    free(names);
}

static int by_start_desc(const void *a, const void *b) {
    double x = json_get_num(*(cJSON *const *)a, "started_unix", 0), y = json_get_num(*(cJSON *const *)b, "started_unix", 0);
    return x < y ? 1 : x > y ? -1 : 0;
}

cJSON *ui_runs_list(ui_roots *r) {
    cJSON *out = cJSON_CreateObject(), *roots = cJSON_AddArrayToObject(out, "roots");
    cJSON *runs = cJSON_CreateArray();
    for (int i = 0; i < r->n; i++) {
        const char *real = ui_roots_real(r, i);
        cJSON *ro = cJSON_CreateObject();
        cJSON_AddNumberToObject(ro, "index", i);
        cJSON_AddStringToObject(ro, "path", r->given[i]);
        cJSON_AddBoolToObject(ro, "exists", real != NULL);
        cJSON_AddItemToArray(roots, ro);
        if (!real) continue;
        scan_ctx s = {runs, i, real, 0};
        scan(&s, real, 0);
    }
    /* newest first */
    int n = cJSON_GetArraySize(runs);
    cJSON **items = n ? malloc((size_t)n * sizeof *items) : NULL;
    cJSON *sorted = cJSON_AddArrayToObject(out, "runs");
    if (items) {
        for (int i = 0; i < n; i++) items[i] = cJSON_DetachItemFromArray(runs, 0);
        qsort(items, (size_t)n, sizeof *items, by_start_desc);
        for (int i = 0; i < n; i++) cJSON_AddItemToArray(sorted, items[i]);
        free(items);
    }
    cJSON_Delete(runs);
    return out;
}

/* ---- detail ---- */

cJSON *ui_run_detail(const char *dir, const char *id) {
    const char *kind = ui_run_kind(dir);
    cJSON *o = cJSON_CreateObject(), *problems = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "id", id);
    if (!kind) {
        cJSON_AddNullToObject(o, "kind");
        cJSON_AddStringToObject(o, "status", "unknown");
        cJSON_AddItemToObject(o, "problems", problems);
        problem(problems, ".", 0, "not a run folder (no run.json, summary.json, raft_statistics.json or metrics.jsonl)");
        return o;
    }
    fill_entry(o, dir, kind, problems);
    bool partial = !strcmp(json_get_str(o, "status", ""), "running");
    cJSON *ri = read_json(dir, RUNINFO_FILE, NULL);
    cJSON_AddItemToObject(o, "info", ri ? ri : cJSON_CreateNull());
    cJSON *sum = !strcmp(kind, "benchmark full") ? read_json(dir, "summary.json", problems) : NULL;
    cJSON_AddItemToObject(o, "summary", sum ? sum : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "training", training_json(dir, kind, partial, problems));
    char rdir[PATH_MAX + 8];
    raft_dir_of(dir, kind, rdir, sizeof rdir);
    cJSON *stats = strcmp(kind, "sft train") ? read_json(rdir, "raft_statistics.json", problems) : NULL;
    if (stats && !cJSON_IsArray(stats)) {
        problem(problems, "raft_statistics.json", 0, "not a JSON array");
        cJSON_Delete(stats);
        stats = NULL;
    }
    phase_ref refs[MAX_CYCLES + 2];
    size_t np = phase_refs(dir, kind, refs, sizeof refs / sizeof *refs);
    cJSON *phases = cJSON_AddArrayToObject(o, "phases");
    for (size_t i = 0; i < np; i++) cJSON_AddItemToArray(phases, phase_json(dir, kind, &refs[i], stats, partial, problems));
    cJSON_Delete(stats);
    cJSON_AddItemToObject(o, "hardware", hardware_json(dir, kind, partial, problems));
    cJSON_AddBoolToObject(o, "launch_log", exists_rel(dir, "launch.log")); /* started from the dashboard */
    cJSON_AddItemToObject(o, "problems", problems);
    return o;
}

/* ---- samples ---- */

typedef struct {
    const char *set_name, *prompt, *status;
    long offset, limit, total, matched;
    cJSON *out;
    cJSON *statuses;
    long want_line; /* ui_run_sample: the one line wanted, else 0 */
    cJSON *found;
} sample_ctx;

static void note_status(cJSON *statuses, const char *s) {
    const cJSON *e;
    cJSON_ArrayForEach(e, statuses) if (!strcmp(e->valuestring, s)) return;
    cJSON_AddItemToArray(statuses, cJSON_CreateString(s));
}

static int sample_line(void *user, cJSON *o, long line) {
    sample_ctx *c = user;
    if (c->want_line) {
        if (line != c->want_line) return 0;
        c->found = cJSON_Duplicate(o, true);
        return 1;
    }
    c->total++;
    verdict v = judge(o);
    note_status(c->statuses, v.status);
    const char *pid = json_get_str(o, "prompt_id", ""), *ptext = json_get_str(o, "prompt", "");
    if (c->prompt && *c->prompt && strcmp(pid, c->prompt) != 0 && !strstr(ptext, c->prompt)) return 0;
    if (c->status && *c->status && strcmp(v.status, c->status) != 0) return 0;
    long m = c->matched++;
    if (m < c->offset || m >= c->offset + c->limit) return 0;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "set", c->set_name);
    cJSON_AddNumberToObject(s, "line", (double)line);
    cJSON_AddStringToObject(s, "prompt_id", pid);
    char head[161];
    snprintf(head, sizeof head, "%s", ptext);
    cJSON_AddStringToObject(s, "prompt", head);
    add_num_or_null(s, "sample_idx", num_or_nan(o, "sample_idx"));
    cJSON_AddStringToObject(s, "status", v.status);
    add_num_or_null(s, "reward", v.reward);
    if (v.verified) {
        cJSON_AddBoolToObject(s, "compiles", v.compiles);
        cJSON_AddBoolToObject(s, "passes", v.passes);
    } else {
        cJSON_AddNullToObject(s, "compiles");
        cJSON_AddNullToObject(s, "passes");
    }
    cJSON_AddItemToArray(c->out, s);
    return 0;
}

cJSON *ui_run_samples(const char *dir, const char *set, const char *prompt, const char *status, long offset,
                      long limit) {
    const char *kind = ui_run_kind(dir);
    cJSON *o = cJSON_CreateObject(), *sets = cJSON_CreateArray(), *statuses = cJSON_CreateArray();
    cJSON *arr = cJSON_CreateArray();
    sample_ctx c = {NULL, prompt, status, offset < 0 ? 0 : offset, limit <= 0 ? 100 : limit, 0, 0, arr, statuses, 0, NULL};
    phase_ref refs[MAX_CYCLES + 2];
    size_t np = kind ? phase_refs(dir, kind, refs, sizeof refs / sizeof *refs) : 0;
    for (size_t i = 0; i < np; i++) {
        cJSON_AddItemToArray(sets, cJSON_CreateString(refs[i].name));
        if (set && *set && strcmp(set, refs[i].name) != 0) continue;
        c.set_name = refs[i].name;
        read_jsonl(dir, refs[i].file, true, NULL, sample_line, &c);
    }
    cJSON_AddNumberToObject(o, "total", (double)c.total);
    cJSON_AddNumberToObject(o, "matched", (double)c.matched);
    cJSON_AddNumberToObject(o, "offset", (double)c.offset);
    cJSON_AddItemToObject(o, "samples", arr);
    cJSON_AddItemToObject(o, "sets", sets);
    cJSON_AddItemToObject(o, "statuses", statuses);
    return o;
}

cJSON *ui_run_sample(const char *dir, const char *set, long line) {
    const char *kind = ui_run_kind(dir);
    if (!kind || !set || line < 1) return NULL;
    phase_ref refs[MAX_CYCLES + 2];
    size_t np = phase_refs(dir, kind, refs, sizeof refs / sizeof *refs);
    for (size_t i = 0; i < np; i++) {
        if (strcmp(set, refs[i].name) != 0) continue;
        sample_ctx c = {0};
        c.want_line = line;
        read_jsonl(dir, refs[i].file, true, NULL, sample_line, &c);
        if (c.found) {
            cJSON_AddStringToObject(c.found, "set", set);
            cJSON_AddNumberToObject(c.found, "line", (double)line);
            cJSON_AddStringToObject(c.found, "file", refs[i].file);
        }
        return c.found;
    }
    return NULL;
}

/* ---- comparison ---- */

cJSON *ui_runs_compare(const char *const *dirs, const char *const *ids, size_t n) {
    cJSON *rows = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *d = ui_run_detail(dirs[i], ids[i]);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "id", ids[i]);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, "model");
        cJSON_AddItemToObject(row, "model", cJSON_IsString(m) ? cJSON_CreateString(m->valuestring) : cJSON_CreateNull());
        cJSON_AddStringToObject(row, "kind", json_get_str(d, "kind", "unknown"));
        cJSON_AddStringToObject(row, "status", json_get_str(d, "status", "unknown"));
        const cJSON *ph = cJSON_GetObjectItemCaseSensitive(d, "phases");
        int np = cJSON_GetArraySize(ph);
        const cJSON *b = np > 0 ? cJSON_GetArrayItem(ph, 0) : NULL, *f = np > 1 ? cJSON_GetArrayItem(ph, np - 1) : NULL;
        double bc = num_or_nan(b, "compile_rate"), fc = num_or_nan(f, "compile_rate");
        cJSON_AddStringToObject(row, "baseline_phase", b ? json_get_str(b, "name", "") : "");
        cJSON_AddStringToObject(row, "final_phase", f ? json_get_str(f, "name", "") : "");
        add_num_or_null(row, "baseline_compile", bc);
        add_num_or_null(row, "final_compile", fc);
        add_num_or_null(row, "improvement", fc - bc);
        add_num_or_null(row, "baseline_pass_at_1", num_or_nan(b, "pass_at_1"));
        add_num_or_null(row, "final_pass_at_1", num_or_nan(f, "pass_at_1"));
        const cJSON *sum = cJSON_GetObjectItemCaseSensitive(d, "summary");
        double t = num_or_nan(sum, "total_time_sec");
        if (!isfinite(t)) t = num_or_nan(d, "duration_s");
        add_num_or_null(row, "time_s", t);
        add_num_or_null(row, "energy_wh",
                        num_or_nan(cJSON_GetObjectItemCaseSensitive(sum, "hardware_summary"), "total_energy_wh"));
        cJSON_AddItemToArray(rows, row);
        cJSON_Delete(d);
    }
    return rows;
}
