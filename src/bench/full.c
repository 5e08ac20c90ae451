/* full: baseline evaluation, quick RAFT cycles, final evaluation, summary. */
#include "bench/full.h"

#include "bench/eval.h"
#include "bench/hwmon.h"
#include "bench/summary.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/timing.h"
#include "raft/loop.h"
#include "raft/resume.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void seterr(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

void bench_full_options_default(bench_full_options *o) {
    memset(o, 0, sizeof *o);
    o->output_dir = "results/benchmarks";
    o->cycles = 2;
    o->samples_per_prompt = 8;
    o->max_new_tokens = 1024;
    o->gen_batch_size = 16;
    o->temperature = 0.7;
    o->seed = 42;
    vf_config_default(&o->verifier, VF_GCC);
    o->verifier.run = true;
    o->hw_interval_s = 2;
    o->system_prompt = RAFT_DEFAULT_SYSTEM_PROMPT;
    o->learning_rate = 5e-5;
    o->batch_size = 2;
    o->grad_accum = 16;
    o->lora_rank = 16;
    o->lora_alpha = 32;
}

static bool is_compiled(const char *status) {
    return strcmp(status, "compile_error") != 0 && strcmp(status, "sandbox_error") != 0;
}

/* A samples record in the seed's format from a verified record (vf_result_to_json fields + completion). */
static cJSON *seed_record(const bench_prompt *p, const cJSON *v) {
    cJSON *r = cJSON_CreateObject();
    const char *status = json_get_str(v, "status", "");
    bool compiles = is_compiled(status);
    cJSON_AddStringToObject(r, "prompt_id", p->id);
    cJSON_AddStringToObject(r, "prompt", p->prompt);
    if (p->expected_output) cJSON_AddStringToObject(r, "expected_output", p->expected_output);
    else cJSON_AddNullToObject(r, "expected_output");
    cJSON_AddStringToObject(r, "code", json_get_str(v, "completion", ""));
    cJSON_AddNumberToObject(r, "sample_idx", json_get_num(v, "sample_idx", 0));
    cJSON_AddBoolToObject(r, "compiles", compiles);
    cJSON_AddNumberToObject(r, "reward", json_get_num(v, "reward", 0));
    if (compiles) cJSON_AddNullToObject(r, "error");
    else cJSON_AddStringToObject(r, "error", json_get_str(v, "error", ""));
    cJSON_AddBoolToObject(r, "passes", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "success")));
    cJSON_AddStringToObject(r, "actual_output", json_get_str(v, "actual_output", ""));
    cJSON_AddStringToObject(r, "status", status);
    return r;
}

/* Converts a file of verified records into the seed's samples format. */
static int convert_samples(const bench_prompt_set *ps, const char *in, const char *out, char *err, size_t errcap) {
    jsonl_reader r;
    if (jsonl_open(&r, in) != 0) {
        seterr(err, errcap, "%s: cannot open: %s", in, strerror(errno));
        return -1;
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        jsonl_close(&r);
        seterr(err, errcap, "%s: cannot write: %s", out, strerror(errno));
        return -1;
    }
    cJSON *obj;
    char e[512];
    int rc, bad = 0;
    while ((rc = jsonl_next(&r, &obj, e, sizeof e)) != 0) {
        if (rc < 0) continue;
        long pi = bench_prompts_find(ps, json_get_str(obj, "prompt_id", ""));
        if (pi >= 0) {
            cJSON *s = seed_record(&ps->items[pi], obj);
            bad |= jsonl_write(f, s);
            cJSON_Delete(s);
        }
        cJSON_Delete(obj);
    }
    jsonl_close(&r);
    if (fclose(f) != 0 || bad) {
        seterr(err, errcap, "%s: write failed: %s", out, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- evaluation ---- */

/* Generates and verifies every prompt's samples with the weights in weights_dir; writes
 * <name>_samples.jsonl and <name>_hardware.csv; fills ev (the caller frees it). 0, 1 cancelled, -1 error. */
static int eval_phase(const bench_full_options *o, const bench_prompt_set *ps, const char *weights_dir,
                      const char *name, bench_eval *ev, char *err, size_t errcap) {
    char samples[4400], csv[4400];
    snprintf(samples, sizeof samples, "%s/%s_samples.jsonl", o->output_dir, name);
    snprintf(csv, sizeof csv, "%s/%s_hardware.csv", o->output_dir, name);
    bench_eval_opts eo;
    bench_eval_opts_default(&eo);
    eo.label = name;
    eo.model_dir = o->model_dir;
    eo.weights_dir = weights_dir;
    eo.prompts = ps;
    eo.samples_per_prompt = o->samples_per_prompt;
    eo.max_new_tokens = o->max_new_tokens;
    eo.gen_batch_size = o->gen_batch_size;
    eo.temperature = o->temperature;
    eo.seed = o->seed;
    eo.system_prompt = o->system_prompt;
    eo.verifier = &o->verifier;
    eo.samples_path = samples;
    eo.monitor = true;
    eo.hardware_csv = csv;
    eo.hw_interval_s = o->hw_interval_s;
    eo.cancel = o->cancel;
    bench_eval_result r;
    int rc = bench_eval_run(&eo, &r, err, errcap);
    if (rc) return rc;
    *ev = r.metrics; /* the metrics move to the caller */
    memset(&r.metrics, 0, sizeof r.metrics);
    bench_eval_result_free(&r);
    return 0;
}

/* ---- RAFT cycles ---- */

typedef struct {
    const bench_full_options *o;
    const bench_prompt_set *ps;
    char raft_dir[4200];
    hw_monitor *hw;
    double t0;
    bench_cycle *cycles;
    int n_done;
} cycle_ctx;

static void cycle_begin(void *user, int c) {
    cycle_ctx *x = user;
    char dir[4300], csv[4400], err[512];
    snprintf(dir, sizeof dir, "%s/cycle_%d", x->o->output_dir, c);
    fs_mkdirs(dir);
    snprintf(csv, sizeof csv, "%s/hardware.csv", dir);
    hw_opts ho = {.interval_s = x->o->hw_interval_s, .csv_path = csv};
    if (!(x->hw = hw_monitor_start(&ho, err, sizeof err))) log_warn("%s", err);
    x->t0 = time_now();
}

/* Hard-links (or copies) every file of from/ into to/. */
static int link_dir(const char *from, const char *to, char *err, size_t errcap) {
    DIR *d = opendir(from);
    if (!d || fs_mkdirs(to) != 0) {
        if (d) closedir(d);
        seterr(err, errcap, "%s: %s", d ? to : from, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char a[4700], b[4700];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        unlink(b);
        if (link(a, b) == 0) continue;
        size_t len;
        char *data = fs_read_file(a, &len);
        if (!data || fs_write_atomic(b, data, len) != 0) {
            seterr(err, errcap, "%s: cannot copy to %s: %s", a, b, strerror(errno));
            rc = -1;
        }
        free(data);
    }
    closedir(d);
    return rc;
}

static int cycle_end(void *user, const raft_cycle_report *r, char *err, size_t errcap) {
    cycle_ctx *x = user;
    bench_cycle *bc = &x->cycles[x->n_done];
    bench_cycle_init(bc, r->cycle);
    if (x->hw) {
        hw_monitor_stop(x->hw, &bc->hw);
        bc->have_hw = true;
        x->hw = NULL;
    }
    bc->generated = bc->verified = r->samples;
    bc->kept = r->kept;
    bc->compile_rate = r->compile_rate;
    bc->pass_rate = r->success_rate;
    bc->avg_reward = r->avg_reward;
    bc->training_loss = r->train_loss;
    bc->training_steps = r->train_steps;
    bc->learning_rate = r->learning_rate;
    bc->cycle_time_sec = time_now() - x->t0;
    bc->generation_time_sec = r->gen_seconds;
    bc->verification_time_sec = r->verify_seconds;
    bc->training_time_sec = r->train_seconds;
    x->n_done++;
    char in[4400], out[4400], dir[4300];
    snprintf(dir, sizeof dir, "%s/cycle_%d", x->o->output_dir, r->cycle);
    raft_cycle_path(in, sizeof in, x->raft_dir, r->cycle, RAFT_FILE_VERIFIED);
    snprintf(out, sizeof out, "%s/samples.jsonl", dir);
    if (convert_samples(x->ps, in, out, err, errcap)) return -1;
    snprintf(in, sizeof in, "%s/cycle_%d/kept.jsonl", x->raft_dir, r->cycle);
    snprintf(out, sizeof out, "%s/kept.jsonl", dir);
    if (fs_exists(in)) {
        if (convert_samples(x->ps, in, out, err, errcap)) return -1;
    } else if (fs_write_atomic(out, "", 0) != 0) {
        seterr(err, errcap, "%s: cannot write: %s", out, strerror(errno));
        return -1;
    }
    raft_cycle_path(in, sizeof in, x->raft_dir, r->cycle, RAFT_FILE_FINAL);
    snprintf(out, sizeof out, "%s/checkpoint", dir);
    if (link_dir(in, out, err, errcap)) return -1;
    log_info("Cycle %d: %.1f%% compile (kept %ld samples, loss=%.3f)", r->cycle, 100 * r->compile_rate, r->kept,
             r->train_loss);
    return 0;
}

int bench_full_run(const bench_full_options *o, cJSON **summary, char *err, size_t errcap) {
    *summary = NULL;
    bench_prompt_set builtin = {0};
    const bench_prompt_set *ps = o->prompts;
    bench_eval base = {0}, fin = {0};
    bool have_base = false, have_fin = false;
    cycle_ctx x = {.o = o};
    int rc = -1;
    double t_start = time_now();
    if (!ps) {
        if (bench_prompts_builtin(&builtin)) {
            seterr(err, errcap, "benchmark: out of memory");
            return -1;
        }
        ps = &builtin;
    }
    x.ps = ps;
    x.cycles = calloc((size_t)o->cycles + 1, sizeof *x.cycles);
    if (!x.cycles || fs_mkdirs(o->output_dir) != 0) {
        seterr(err, errcap, "%s: cannot create: %s", o->output_dir, strerror(errno));
        goto out;
    }
    snprintf(x.raft_dir, sizeof x.raft_dir, "%s/raft", o->output_dir);
    fs_remove_tree(x.raft_dir);

    int e = eval_phase(o, ps, o->model_dir, "baseline", &base, err, errcap);
    if (e) {
        rc = e;
        goto out;
    }
    have_base = true;

    raft_loop_options lo;
    raft_loop_options_default(&lo);
    lo.model_dir = o->model_dir;
    lo.prompts = ps;
    lo.output_dir = x.raft_dir;
    lo.cycles = o->cycles;
    lo.verifier = o->verifier;
    lo.filter.reward_threshold = 0.3; /* compiling samples, as the original's demo keeps */
    lo.filter.keep_percent = 0.5;
    lo.system_prompt = o->system_prompt;
    lo.samples_per_prompt = o->samples_per_prompt;
    lo.temperature = o->temperature;
    lo.max_new_tokens = o->max_new_tokens;
    lo.gen_batch_size = o->gen_batch_size;
    lo.seed = o->seed;
    lo.learning_rate = o->learning_rate;
    lo.batch_size = o->batch_size;
    lo.grad_accum = o->grad_accum;
    lo.lora_rank = o->lora_rank;
    lo.lora_alpha = o->lora_alpha;
    lo.cancel = o->cancel;
    raft_loop_hooks hooks = {cycle_begin, cycle_end, &x};
    int lrc = raft_loop_run(&lo, &hooks, err, errcap);
    if (x.hw) hw_monitor_stop(x.hw, NULL);
    if (lrc) {
        rc = lrc;
        goto out;
    }

    char final_adapter[4200], work[4300];
    raft_cycle_path(final_adapter, sizeof final_adapter, x.raft_dir, o->cycles, RAFT_FILE_FINAL);
    snprintf(work, sizeof work, "%s/final_model", x.raft_dir);
    if (raft_merge_model(o->model_dir, final_adapter, work, err, errcap)) goto out;
    e = eval_phase(o, ps, work, "final", &fin, err, errcap);
    if (e) {
        rc = e;
        goto out;
    }
    have_fin = true;
    /* the merged f32 weights are only needed while sampling; the adapters stay in cycle_N/checkpoint */
    fs_remove_tree(work);
    snprintf(work, sizeof work, "%s/work_model", x.raft_dir);
    fs_remove_tree(work);

    bench_summary s = {.model_name = o->model_name, .n_cycles = o->cycles, .total_time_sec = time_now() - t_start,
                       .have_baseline = true, .have_final = true, .baseline = base, .final = fin,
                       .cycles = x.cycles, .n_done = x.n_done};
    *summary = bench_summary_to_json(&s);
    char path[4400];
    fs_join(path, sizeof path, o->output_dir, "summary.json");
    if (!*summary || bench_write_json(path, *summary, err, errcap)) goto out;
    rc = 0;
out:
    if (rc) {
        cJSON_Delete(*summary);
        *summary = NULL;
    }
    if (have_base) bench_eval_free(&base);
    if (have_fin) bench_eval_free(&fin);
    free(x.cycles);
    bench_prompts_free(&builtin);
    return rc;
}
