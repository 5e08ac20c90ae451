/* run: `benchmark run` / `benchmark eval` (see run.h). */
#include "bench/run.h"
#include "model/lora_apply.h"

#include "bench/eval.h"
#include "bench/hwmon.h"
#include "bench/passk.h"
#include "bench/score.h"
#include "bench/summary.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/timing.h"
#include "model/hub.h"
#include "raft/loop.h"
#include "train/train_model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void bench_run_paths(const char *output, char *report, char *samples, char *csv, size_t cap) {
    if (ends_with(output, ".json")) {
        int stem = (int)(strlen(output) - 5);
        snprintf(report, cap, "%s", output);
        snprintf(samples, cap, "%.*s_samples.jsonl", stem, output);
        snprintf(csv, cap, "%.*s_hardware.csv", stem, output);
    } else {
        snprintf(report, cap, "%s/results.json", output);
        snprintf(samples, cap, "%s/samples.jsonl", output);
        snprintf(csv, cap, "%s/hardware.csv", output);
    }
}

/* The folder of the output files (created). */
static int make_output_dir(const char *output, char *err, size_t errcap) {
    char dir[4200];
    if (ends_with(output, ".json")) {
        snprintf(dir, sizeof dir, "%s", output);
        char *slash = strrchr(dir, '/');
        if (!slash) return 0;
        *slash = '\0';
        if (!*dir) return 0;
    } else {
        snprintf(dir, sizeof dir, "%s", output);
    }
    if (fs_mkdirs(dir) != 0) {
        snprintf(err, errcap, "%s: cannot create: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Resolves the model into a folder to sample with. An adapter folder is used as it is: model_load
 * loads its base and applies the adapter in memory. */
static int prepare_model(const char *model, char *dir, size_t cap, char *tmp_root, size_t tmpcap, char *err,
                         size_t errcap) {
    (void)tmpcap;
    tmp_root[0] = '\0';
    if (hub_resolve(model, dir, cap, NULL, err, errcap) != 0) return -1;
    char base[4096];
    int is_adapter = model_adapter_base(dir, base, sizeof base, err, errcap);
    if (is_adapter < 0) return -1;
    if (is_adapter > 0) log_info("%s is a LoRA adapter of %s: applied to it in memory for sampling", dir, base);
    return 0;
}

static double rounded(double v, double scale) { return round(v * scale) / scale; }

static void add_num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* The original's eval keys: model, benchmark, language, backend, metrics (verifier is there already).
 * metrics has pass@1, 5 and 10 whatever --k asked for; null where k is above the samples. */
static int add_eval_keys(const bench_run_opts *o, const bench_eval_opts *eo, const vf_result *res, size_t n,
                         cJSON *rep) {
    pk_tally t;
    pk_tally_init(&t);
    for (size_t i = 0; i < n; i++) {
        const bench_prompt *p = bench_eval_prompt_of(eo, i);
        if (pk_tally_add(&t, p->id, p->category, bench_sample_passes(&res[i])) < 0) {
            pk_tally_free(&t);
            return -1;
        }
    }
    cJSON_AddStringToObject(rep, "model", o->model);
    cJSON_AddStringToObject(rep, "benchmark", o->benchmark);
    cJSON_AddStringToObject(rep, "language", o->language ? o->language : "unknown");
    cJSON_AddStringToObject(rep, "backend", "native");
    cJSON *m = cJSON_AddObjectToObject(rep, "metrics");
    static const long ks[] = {1, 5, 10};
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof key, "pass_at_%ld", ks[i]);
        add_num_or_null(m, key, rounded(pk_tally_pass_at_k(&t, NULL, ks[i]), 1e4));
    }
    pk_tally_free(&t);
    cJSON_AddNumberToObject(m, "pass_rate", json_get_num(rep, "pass_rate", 0));
    cJSON_AddNumberToObject(m, "total_prompts", json_get_num(rep, "total", 0));
    cJSON_AddNumberToObject(m, "passed", json_get_num(rep, "passed", 0));
    cJSON_AddNumberToObject(m, "compile_rate", json_get_num(rep, "compile_rate", 0));
    return 0;
}

int bench_run(const bench_run_opts *o, cJSON **report, char *err, size_t errcap) {
    *report = NULL;
    double t0 = time_now();
    char model_dir[4200], tmp_root[4200] = "", rpath[4400], spath[4400], cpath[4400];
    int rc = -1;
    if (o->output) {
        bench_run_paths(o->output, rpath, spath, cpath, sizeof rpath);
        if (make_output_dir(o->output, err, errcap)) return -1;
    }
    if (prepare_model(o->model, model_dir, sizeof model_dir, tmp_root, sizeof tmp_root, err, errcap)) goto out;

    bench_eval_opts eo;
    bench_eval_opts_default(&eo);
    eo.label = o->benchmark ? o->benchmark : "run";
    eo.roll.model_dir = model_dir;
    eo.roll.prompts = o->prompts;
    eo.roll.samples_per_prompt = o->samples_per_prompt;
    eo.roll.max_new_tokens = o->max_new_tokens;
    eo.roll.gen_batch_size = o->gen_batch_size;
    eo.roll.temperature = o->temperature;
    eo.roll.seed = o->seed;
    eo.roll.system_prompt = o->system_prompt;
    eo.roll.verifier = o->verifier;
    eo.roll.cancel = o->cancel;
    eo.ks = o->ks;
    eo.nk = o->nk;
    eo.samples_path = o->output ? spath : NULL;
    eo.monitor = true;
    eo.hardware_csv = o->output ? cpath : NULL;
    eo.hw_interval_s = o->hw_interval_s;
    bench_eval_result r;
    int erc = bench_eval_run(&eo, &r, err, errcap);
    if (erc) {
        rc = erc;
        goto out;
    }
    const bench_prompt **prompt_of = malloc((r.roll.n + 1) * sizeof *prompt_of);
    cJSON *rep = NULL;
    if (prompt_of) {
        for (size_t i = 0; i < r.roll.n; i++) prompt_of[i] = bench_eval_prompt_of(&eo, i);
        rep = bench_eval_report(prompt_of, r.roll.results, r.roll.n, o->ks, o->nk, o->verifier);
        free(prompt_of);
    }
    if (!rep) {
        bench_eval_result_free(&r);
        snprintf(err, errcap, "benchmark: out of memory");
        goto out;
    }
    cJSON *timing = cJSON_AddObjectToObject(rep, "timing");
    cJSON_AddNumberToObject(timing, "generation_time", rounded(r.roll.generation_seconds, 1e3));
    cJSON_AddNumberToObject(timing, "verification_time", rounded(r.roll.verify_wait_seconds, 1e3));
    cJSON_AddNumberToObject(timing, "total_time", rounded(time_now() - t0, 1e3));
    cJSON_AddStringToObject(rep, "model_path", o->model);
    char ts[64];
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tmv);
    cJSON_AddStringToObject(rep, "timestamp", ts);
    cJSON_AddNumberToObject(rep, "generated_tokens", (double)r.roll.gen.generated_tokens);
    add_num_or_null(rep, "tokens_per_sec", rounded(r.metrics.tokens_per_sec, 10));
    cJSON_AddNumberToObject(rep, "max_new_tokens", o->max_new_tokens);
    cJSON_AddNumberToObject(rep, "temperature", o->temperature);
    cJSON_AddNumberToObject(rep, "seed", (double)o->seed);
    if (o->system_prompt) cJSON_AddStringToObject(rep, "system_prompt", o->system_prompt);
    else cJSON_AddNullToObject(rep, "system_prompt");
    if (o->prompts_file) cJSON_AddStringToObject(rep, "prompts_file", o->prompts_file);
    else cJSON_AddNullToObject(rep, "prompts_file");
    if (o->output) cJSON_AddStringToObject(rep, "samples_file", spath);
    else cJSON_AddNullToObject(rep, "samples_file");
    if (r.metrics.have_hw) cJSON_AddItemToObject(rep, "hardware", hw_summary_to_json(&r.metrics.hw));
    int krc = o->benchmark ? add_eval_keys(o, &eo, r.roll.results, r.roll.n, rep) : 0;
    bench_eval_result_free(&r);
    if (krc) {
        cJSON_Delete(rep);
        snprintf(err, errcap, "benchmark: out of memory");
        goto out;
    }
    if (o->output && bench_write_json(rpath, rep, err, errcap) != 0) {
        cJSON_Delete(rep);
        goto out;
    }
    *report = rep;
    rc = 0;
out:
    if (tmp_root[0]) fs_remove_tree(tmp_root);
    return rc;
}

static double pct(double v) { return 100 * v; }

void bench_run_print(FILE *f, const cJSON *rep) {
    const char *bench = json_get_str(rep, "benchmark", NULL);
    fprintf(f, "\nbenchmark %s%s: %s\n", bench ? "eval " : "run", bench ? bench : "", json_get_str(rep, "model_path", "?"));
    long spp = json_get_long(rep, "samples_per_prompt", 0);
    fprintf(f, "  %.0f prompts x %ld samples, verifier %s (%s)\n", json_get_num(rep, "total", 0), spp,
            json_get_str(rep, "verifier", "?"),
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "run")) ? "compile and run" : "compile only");
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(rep, "pass_at_k"), *it;
    cJSON_ArrayForEach(it, pk) fprintf(f, "  pass@%-4s %6.1f%%\n", it->string, pct(it->valuedouble));
    const cJSON *sk = cJSON_GetObjectItemCaseSensitive(rep, "skipped_k");
    cJSON_ArrayForEach(it, sk)
        fprintf(f, "  pass@%-4.0f skipped (needs %.0f samples per prompt)\n", it->valuedouble, it->valuedouble);
    fprintf(f, "  prompts solved   %.0f/%.0f (%.1f%%)\n", json_get_num(rep, "passed", 0), json_get_num(rep, "total", 0),
            pct(json_get_num(rep, "pass_rate", 0)));
    fprintf(f, "  samples compiled %.0f/%.0f (%.1f%%), correct %.0f/%.0f (%.1f%%), mean reward %.3f\n",
            json_get_num(rep, "compiled", 0), json_get_num(rep, "samples", 0), pct(json_get_num(rep, "compile_rate", 0)),
            json_get_num(rep, "samples_passed", 0), json_get_num(rep, "samples", 0),
            pct(json_get_num(rep, "sample_pass_rate", 0)), json_get_num(rep, "avg_reward", 0));
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(rep, "by_category"), *c;
    if (cJSON_GetArraySize(cats) > 0) {
        fprintf(f, "\n  %-20s %8s %8s %8s\n", "category", "prompts", "solved", "pass@1");
        cJSON_ArrayForEach(c, cats) {
            const cJSON *p1 =
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "pass_at_k"), "1");
            char p1s[32] = "n/a";
            if (cJSON_IsNumber(p1)) snprintf(p1s, sizeof p1s, "%.1f%%", pct(p1->valuedouble));
            fprintf(f, "  %-20s %8.0f %8.0f %8s\n", c->string, json_get_num(c, "total", 0), json_get_num(c, "passed", 0),
                    p1s);
        }
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rep, "timing");
    const cJSON *tps = cJSON_GetObjectItemCaseSensitive(rep, "tokens_per_sec");
    fprintf(f, "\n  time: generation %.1f s", json_get_num(t, "generation_time", 0));
    if (cJSON_IsNumber(tps)) fprintf(f, " (%.1f tokens/s)", tps->valuedouble);
    fprintf(f, ", verification %.1f s, total %.1f s\n", json_get_num(t, "verification_time", 0),
            json_get_num(t, "total_time", 0));
    const char *sf = json_get_str(rep, "samples_file", NULL);
    if (sf) fprintf(f, "  samples: %s\n", sf);
}
