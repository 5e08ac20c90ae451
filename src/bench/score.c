/* score: verify samples JSONL and report pass@k (see score.h). */
#include "bench/score.h"

#include "bench/eval.h"
#include "bench/hwmon.h"
#include "bench/passk.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    cJSON *obj;       /* the record as read */
    long prompt;      /* index into the prompt set, or -1: own prompt */
    long own;         /* index into own[] when prompt < 0 */
    long line;
} rec;

typedef struct {
    rec *recs;
    size_t n, cap;
    bench_prompt_set own; /* prompts made from records */
} loaded;

static const char *code_of(const cJSON *o) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "completion");
    if (!cJSON_IsString(v)) v = cJSON_GetObjectItemCaseSensitive(o, "code");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The record's prompt key: an id as text, or NULL. */
static const char *id_of(const cJSON *o, char *buf, size_t cap) {
    static const char *keys[] = {"prompt_id", "id", "task_id", NULL};
    for (const char **k = keys; *k; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, *k);
        if (cJSON_IsString(v) && *v->valuestring) return v->valuestring;
        if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble)) {
            snprintf(buf, cap, "%.0f", v->valuedouble);
            return buf;
        }
    }
    return NULL;
}

static long find_text(const bench_prompt_set *set, const char *text) {
    for (size_t i = 0; i < set->count; i++)
        if (!strcmp(set->items[i].prompt, text)) return (long)i;
    return -1;
}

/* Resolves the prompt of a record. Returns 0, or -1 with why. */
static int resolve(loaded *L, const bench_prompt_set *set, rec *r, char *why, size_t cap) {
    char idbuf[64];
    const char *id = id_of(r->obj, idbuf, sizeof idbuf);
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(r->obj, "prompt");
    const char *text = cJSON_IsString(pt) && *pt->valuestring ? pt->valuestring : NULL;
    r->prompt = r->own = -1;
    if (id && set) r->prompt = bench_prompts_find(set, id);
    if (r->prompt < 0 && !id && text && set) r->prompt = find_text(set, text);
    if (r->prompt >= 0) return 0;
    if (!id && !text) {
        snprintf(why, cap, "no prompt_id (or id, task_id) and no prompt text: cannot tell which prompt it answers");
        return -1;
    }
    /* the record's own prompt, shared by records with the same id (or text) */
    char key[80];
    if (!id) {
        r->own = find_text(&L->own, text);
        if (r->own >= 0) return 0;
        snprintf(key, sizeof key, "prompt_%zu", L->own.count + 1);
        id = key;
    } else {
        r->own = bench_prompts_find(&L->own, id);
        if (r->own >= 0) return 0;
        if (set && set->count)
            log_warn("prompt id '%s' (first at line %ld) is not among the %zu prompts: its samples are scored on their "
                     "own fields (expected_output, tests)", id, r->line, set->count);
    }
    cJSON *tmp = cJSON_Duplicate(r->obj, 1);
    if (!tmp) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(tmp, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(tmp, "task_id");
    cJSON_AddStringToObject(tmp, "id", id);
    if (!text) {
        cJSON_DeleteItemFromObjectCaseSensitive(tmp, "prompt");
        cJSON_DeleteItemFromObjectCaseSensitive(tmp, "text");
        cJSON_AddStringToObject(tmp, "prompt", id);
    }
    bench_prompt p;
    int rc = bench_prompt_from_json(tmp, r->line, &p, why, cap);
    cJSON_Delete(tmp);
    if (rc != 0) return -1;
    if (L->own.count == L->own.cap) {
        size_t nc = L->own.cap ? L->own.cap * 2 : 16;
        bench_prompt *ni = realloc(L->own.items, nc * sizeof *ni);
        if (!ni) {
            bench_prompt_free(&p);
            snprintf(why, cap, "out of memory");
            return -1;
        }
        L->own.items = ni;
        L->own.cap = nc;
    }
    L->own.items[L->own.count] = p;
    r->own = (long)L->own.count++;
    return 0;
}

static const bench_prompt *prompt_of_rec(const loaded *L, const bench_prompt_set *set, const rec *r) {
    return r->prompt >= 0 ? &set->items[r->prompt] : &L->own.items[r->own];
}

cJSON *bench_sample_record(const bench_prompt *p, const char *completion, int sample_idx, const vf_result *r,
                           long generated_tokens) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "prompt_id", p->id);
    cJSON_AddStringToObject(o, "prompt", p->prompt);
    if (p->expected_output) cJSON_AddStringToObject(o, "expected_output", p->expected_output);
    else cJSON_AddNullToObject(o, "expected_output");
    cJSON_AddStringToObject(o, "code", completion ? completion : "");
    cJSON_AddNumberToObject(o, "sample_idx", sample_idx);
    cJSON_AddBoolToObject(o, "compiles", bench_sample_compiles(r));
    cJSON_AddNumberToObject(o, "reward", r->reward);
    if (r->error && *r->error) cJSON_AddStringToObject(o, "error", r->error);
    else cJSON_AddNullToObject(o, "error");
    cJSON_AddBoolToObject(o, "passes", bench_sample_passes(r));
    cJSON_AddStringToObject(o, "actual_output", r->stdout_text ? r->stdout_text : "");
    cJSON_AddStringToObject(o, "category", p->category);
    cJSON_AddStringToObject(o, "status", vf_status_name(r->status));
    cJSON_AddStringToObject(o, "language", vf_lang_name(r->language));
    cJSON_AddNumberToObject(o, "compile_time", round(r->compile_s * 1e3) / 1e3);
    cJSON_AddNumberToObject(o, "run_time", round(r->run_s * 1e3) / 1e3);
    if (generated_tokens >= 0) cJSON_AddNumberToObject(o, "generated_tokens", (double)generated_tokens);
    return o;
}

bench_scored bench_scored_of(const bench_prompt *p, const vf_result *r) {
    bench_scored s = {p->id, p->category, bench_sample_compiles(r), bench_sample_passes(r), r->reward};
    return s;
}

static void on_progress(void *user, size_t done, size_t total) {
    (void)total;
    progress_update(user, (int64_t)done);
}

bool bench_sample_compiles(const vf_result *r) { return r->status != VF_COMPILE_ERROR && r->status != VF_SANDBOX_ERROR; }

bool bench_sample_passes(const vf_result *r) { return r->status == VF_CORRECT || (r->success && r->status != VF_WRONG_OUTPUT); }

int bench_score(const char *input, const bench_score_opts *o, cJSON **report, char *err, size_t errcap) {
    *report = NULL;
    double t0 = time_now();
    jsonl_reader rd;
    if (jsonl_open(&rd, input) != 0) {
        snprintf(err, errcap, "%s: %s", input, strerror(errno));
        return -1;
    }
    loaded L;
    memset(&L, 0, sizeof L);
    size_t bad = 0;
    int rc = -1;
    for (;;) {
        cJSON *obj;
        char msg[512];
        int r = jsonl_next(&rd, &obj, msg, sizeof msg);
        if (r == 0) break;
        if (r < 0) {
            log_warn("%s (line skipped)", msg);
            bad++;
            continue;
        }
        char why[256] = "";
        rec rr = {obj, -1, -1, rd.lineno};
        if (!code_of(obj)) snprintf(why, sizeof why, "no 'completion' (or 'code') string");
        else if (resolve(&L, o->prompts, &rr, why, sizeof why) != 0 && !*why) snprintf(why, sizeof why, "out of memory");
        if (*why) {
            log_warn("%s:%ld: %s (line skipped)", input, rd.lineno, why);
            cJSON_Delete(obj);
            bad++;
            continue;
        }
        if (L.n == L.cap) {
            L.cap = L.cap ? L.cap * 2 : 64;
            rec *nr = realloc(L.recs, L.cap * sizeof *nr);
            if (!nr) {
                cJSON_Delete(obj);
                snprintf(err, errcap, "%s: out of memory", input);
                goto out;
            }
            L.recs = nr;
        }
        L.recs[L.n++] = rr;
    }
    jsonl_close(&rd);
    rd.f = NULL;
    if (L.n == 0) {
        snprintf(err, errcap, "%s: no sample to score (%zu bad line%s)", input, bad, bad == 1 ? "" : "s");
        goto out;
    }

    vf_sample *samples = calloc(L.n, sizeof *samples);
    vf_result *res = calloc(L.n, sizeof *res);
    if (!samples || !res) {
        free(samples);
        free(res);
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < L.n; i++) bench_prompt_sample(prompt_of_rec(&L, o->prompts, &L.recs[i]), code_of(L.recs[i].obj), &samples[i]);
    progress pr;
    memset(&pr, 0, sizeof pr);
    if (o->progress) progress_start(&pr, "verify", (int64_t)L.n, "samples");
    hw_monitor *mon = NULL;
    hw_summary hws;
    bool have_hw = false;
    if (o->monitor) {
        hw_opts ho;
        memset(&ho, 0, sizeof ho);
        ho.interval_s = o->monitor_interval_s;
        ho.csv_path = o->hardware_csv;
        char merr[512];
        mon = hw_monitor_start(&ho, merr, sizeof merr);
        if (!mon) {
            free(samples);
            free(res);
            snprintf(err, errcap, "%s", merr);
            goto out;
        }
    }
    double tv = time_now();
    char verr[512];
    int vrc = vf_verify_batch(o->verifier, samples, L.n, res, o->progress ? on_progress : NULL, &pr, verr, sizeof verr);
    double verify_s = time_now() - tv;
    if (mon) {
        if (hw_monitor_stop(mon, &hws) != 0) log_warn("%s: some rows could not be written", o->hardware_csv);
        have_hw = true;
    }
    if (o->progress) progress_finish(&pr);
    free(samples);
    if (vrc != 0) {
        free(res);
        snprintf(err, errcap, "%s", verr);
        goto out;
    }

    FILE *rf = NULL;
    char tmp_path[4200];
    if (o->results_path) {
        snprintf(tmp_path, sizeof tmp_path, "%s.tmp.%d", o->results_path, (int)getpid());
        rf = fopen(tmp_path, "w");
        if (!rf) snprintf(err, errcap, "%s: %s", o->results_path, strerror(errno));
    }
    bool write_failed = o->results_path && !rf;
    const bench_prompt **prompt_of = malloc(L.n * sizeof *prompt_of);
    for (size_t i = 0; i < L.n; i++) {
        const bench_prompt *p = prompt_of_rec(&L, o->prompts, &L.recs[i]);
        if (prompt_of) prompt_of[i] = p;
        if (rf) {
            cJSON *obj = L.recs[i].obj;
            cJSON_DeleteItemFromObjectCaseSensitive(obj, "prompt_id");
            cJSON_AddStringToObject(obj, "prompt_id", p->id);
            cJSON_DeleteItemFromObjectCaseSensitive(obj, "category");
            cJSON_AddStringToObject(obj, "category", p->category);
            vf_result_to_json(&res[i], obj);
            cJSON_AddBoolToObject(obj, "compiles", bench_sample_compiles(&res[i]));
            cJSON_AddBoolToObject(obj, "passes", bench_sample_passes(&res[i]));
            if (jsonl_write(rf, obj) != 0) write_failed = true;
        }
    }
    cJSON *rep = prompt_of ? bench_eval_report(prompt_of, res, L.n, o->ks, o->nk, o->verifier) : NULL;
    free(prompt_of);
    for (size_t i = 0; i < L.n; i++) vf_result_free(&res[i]);
    free(res);
    if (rf) {
        if (fflush(rf) != 0 || fsync(fileno(rf)) != 0) write_failed = true;
        if (fclose(rf) != 0) write_failed = true;
        if (!write_failed && rename(tmp_path, o->results_path) != 0) write_failed = true;
        if (write_failed) {
            snprintf(err, errcap, "%s: %s", o->results_path, strerror(errno));
            unlink(tmp_path);
        }
    }
    if (write_failed || !rep) {
        if (!write_failed) snprintf(err, errcap, "out of memory");
        cJSON_Delete(rep);
        goto out;
    }
    cJSON *timing = cJSON_AddObjectToObject(rep, "timing");
    cJSON_AddNullToObject(timing, "generation_time");
    cJSON_AddNumberToObject(timing, "verification_time", round(verify_s * 1e3) / 1e3);
    cJSON_AddNumberToObject(timing, "total_time", round((time_now() - t0) * 1e3) / 1e3);
    if (o->model_path) cJSON_AddStringToObject(rep, "model_path", o->model_path);
    else cJSON_AddNullToObject(rep, "model_path");
    char ts[64];
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tmv);
    cJSON_AddStringToObject(rep, "timestamp", ts);
    cJSON_AddNumberToObject(rep, "bad_lines", (double)bad);
    if (have_hw) cJSON_AddItemToObject(rep, "hardware", hw_summary_to_json(&hws));
    *report = rep;
    rc = 0;
out:
    if (rd.f) jsonl_close(&rd);
    for (size_t i = 0; i < L.n; i++) cJSON_Delete(L.recs[i].obj);
    free(L.recs);
    bench_prompts_free(&L.own);
    return rc;
}
