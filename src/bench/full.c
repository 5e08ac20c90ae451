/* full: baseline evaluation, quick RAFT cycles, final evaluation, summary. */
#include "bench/full.h"
#include "dist/dist.h"

#include "bench/hwmon.h"
#include "bench/summary.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/timing.h"
#include "plot/tblog.h"
#include "bench/eval.h"
#include "bench/score.h"
#include "raft/loop.h"
#include "raft/resume.h"

#include <stddef.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    o->gen_batch_size = 0; /* gen_auto_batch */
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

/* Writes the benchmark's samples records (bench_sample_record) of a file of verified records (the RAFT
 * loop's: journal fields + vf_result_to_json fields). */
static int convert_samples(const bench_prompt_set *ps, const char *in, const char *out, char *err, size_t errcap) {
    jsonl_reader r;
    if (jsonl_open(&r, in) != 0) {
        seterr(err, errcap, "%s: cannot open: %s", in, strerror(errno));
        return -1;
    }
    char tmp[4500];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *f = fopen(tmp, "w");
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
        vf_result vr;
        if (pi >= 0 && vf_result_from_json(obj, &vr) == 0) {
            cJSON *s = bench_sample_record(&ps->items[pi], json_get_str(obj, "completion", ""),
                                           json_get_int(obj, "sample_idx", 0), &vr,
                                           json_get_long(obj, "n_tokens", -1));
            bad |= !s || jsonl_write(f, s) != 0;
            cJSON_Delete(s);
            vf_result_free(&vr);
        }
        cJSON_Delete(obj);
    }
    jsonl_close(&r);
    if (fclose(f) != 0 || bad || rename(tmp, out) != 0) {
        unlink(tmp);
        seterr(err, errcap, "%s: write failed: %s", out, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- saved phase figures (resume) ---- */

#define HW_D(f) {#f, offsetof(hw_summary, f)}
static const struct {
    const char *name;
    size_t off;
} hw_fields[] = {
    HW_D(duration_sec), HW_D(gpu_util_avg_pct), HW_D(gpu_util_peak_pct), HW_D(gpu_mem_avg_gb), HW_D(gpu_mem_peak_gb),
    HW_D(gpu_temp_avg_c), HW_D(gpu_temp_peak_c), HW_D(gpu_power_avg_w), HW_D(gpu_power_peak_w), HW_D(gpu_energy_wh),
    HW_D(sys_mem_avg_gb), HW_D(sys_mem_peak_gb), HW_D(sys_mem_total_gb), HW_D(cpu_util_avg_pct),
    HW_D(cpu_util_peak_pct), HW_D(cpu_power_avg_w), HW_D(cpu_power_peak_w), HW_D(cpu_energy_wh), HW_D(rss_avg_gb),
    HW_D(rss_peak_gb), HW_D(energy_wh),
};

/* NAN is written as null and read back as NAN. */
static void put_num(cJSON *o, const char *k, double v) {
    if (isnan(v)) cJSON_AddNullToObject(o, k);
    else cJSON_AddNumberToObject(o, k, v);
}
static double get_num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static cJSON *hw_save(const hw_summary *h) {
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof hw_fields / sizeof hw_fields[0]; i++)
        put_num(o, hw_fields[i].name, *(const double *)((const char *)h + hw_fields[i].off));
    cJSON_AddNumberToObject(o, "samples_count", (double)h->samples_count);
    cJSON_AddNumberToObject(o, "gpu_count", h->gpu_count);
    cJSON_AddStringToObject(o, "energy_source", h->energy_source);
    cJSON_AddStringToObject(o, "energy_status", h->energy_status);
    cJSON_AddStringToObject(o, "gpu_energy_source", h->gpu_energy_source);
    return o;
}

static void hw_load(const cJSON *o, hw_summary *h) {
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < sizeof hw_fields / sizeof hw_fields[0]; i++)
        *(double *)((char *)h + hw_fields[i].off) = get_num(o, hw_fields[i].name);
    h->samples_count = json_get_long(o, "samples_count", 0);
    h->gpu_count = json_get_int(o, "gpu_count", 0);
    snprintf(h->energy_source, sizeof h->energy_source, "%s", json_get_str(o, "energy_source", ""));
    snprintf(h->energy_status, sizeof h->energy_status, "%s", json_get_str(o, "energy_status", ""));
    snprintf(h->gpu_energy_source, sizeof h->gpu_energy_source, "%s", json_get_str(o, "gpu_energy_source", ""));
}

static cJSON *read_json_file(const char *path) {
    char *text = fs_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

/* ---- evaluation ---- */

/* What decides whether a saved phase is still valid. */
static void phase_key(const bench_full_options *o, const bench_prompt_set *ps, const char *weights, char *out,
                      size_t cap) {
    /* the weights folder's mtime tells a cycle trained again apart from the one evaluated */
    struct stat st;
    long long stamp = weights && stat(weights, &st) == 0 ? (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec : 0;
    snprintf(out, cap,
             "model=%s weights=%s@%lld prompts=%zu samples=%d max_new_tokens=%d temperature=%g seed=%llu",
             o->model_dir, weights ? weights : "base", stamp, ps->count, o->samples_per_prompt, o->max_new_tokens,
             o->temperature, (unsigned long long)o->seed);
}

/* Fills ev from a finished phase's samples file and saved figures. 0, or -1 when they cannot be read. */
static int eval_load(const bench_prompt_set *ps, const char *samples_path, const cJSON *saved, bench_eval *ev) {
    jsonl_reader r;
    if (jsonl_open(&r, samples_path) != 0) return -1;
    size_t n = 0, cap = 0;
    bench_scored *sc = NULL;
    cJSON *obj;
    char e[256];
    int jrc, rc = -1;
    while ((jrc = jsonl_next(&r, &obj, e, sizeof e)) != 0) {
        if (jrc < 0) continue;
        long pi = bench_prompts_find(ps, json_get_str(obj, "prompt_id", ""));
        if (pi >= 0 && (n < cap || (cap = cap ? 2 * cap : 64, sc = realloc(sc, cap * sizeof *sc)))) {
            sc[n].prompt_id = ps->items[pi].id;
            sc[n].category = ps->items[pi].category;
            sc[n].compiles = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "compiles"));
            sc[n].passes = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "passes"));
            sc[n].reward = json_get_num(obj, "reward", 0);
            n++;
        }
        cJSON_Delete(obj);
        if (!sc) break;
    }
    jsonl_close(&r);
    if (sc && bench_eval_compute(sc, n, NULL, 0, ev) == 0) {
        bench_eval_set_generation(ev, (long)get_num(saved, "run_generated_tokens"), get_num(saved, "generation_time_sec"));
        ev->generated_tokens = json_get_long(saved, "generated_tokens", -1);
        ev->verification_time_sec = get_num(saved, "verification_time_sec");
        const cJSON *hw = cJSON_GetObjectItemCaseSensitive(saved, "hardware");
        ev->have_hw = cJSON_IsObject(hw);
        if (ev->have_hw) hw_load(hw, &ev->hw);
        rc = 0;
    }
    free(sc);
    return rc;
}

/* Samples every prompt with the base model (weights NULL) or the base with a cycle's weights
 * (model_load_weights), verifying as they come (bench_eval_run); writes <name>_samples.jsonl,
 * <name>_hardware.csv and <name>_phase.json (the figures, written last: the phase is done); fills ev.
 * A rerun skips a done phase, and continues a half-done one from <name>_generated.jsonl (the rollout
 * journal). 0, 1 cancelled, -1 error. */
static int eval_phase(const bench_full_options *o, const bench_prompt_set *ps, const char *weights,
                      const char *name, bench_eval *ev, char *err, size_t errcap) {
    int rc = -1;
    char path[4400], csv[4400], gen_path[4400], phase_path[4400], key[9000];
    snprintf(path, sizeof path, "%s/%s_samples.jsonl", o->output_dir, name);
    snprintf(gen_path, sizeof gen_path, "%s/%s_generated.jsonl", o->output_dir, name);
    snprintf(phase_path, sizeof phase_path, "%s/%s_phase.json", o->output_dir, name);
    snprintf(csv, sizeof csv, "%s/%s_hardware.csv", o->output_dir, name);
    phase_key(o, ps, weights, key, sizeof key);

    /* a finished phase with the same options: nothing to do */
    cJSON *saved = read_json_file(phase_path);
    if (saved) {
        bool same = !strcmp(json_get_str(saved, "key", ""), key);
        if (same && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(saved, "done")) && fs_exists(path) &&
            eval_load(ps, path, saved, ev) == 0) {
            log_info("%s evaluation: already done, skipped", name);
            cJSON_Delete(saved);
            return 0;
        }
        if (!same) rollout_journal_remove(gen_path); /* other options: the completions so far do not count */
        cJSON_Delete(saved);
    } else {
        rollout_journal_remove(gen_path);
    }
    saved = cJSON_CreateObject();
    cJSON_AddStringToObject(saved, "key", key);
    cJSON_AddFalseToObject(saved, "done");
    if (bench_write_json(phase_path, saved, err, errcap)) goto out;

    bench_eval_opts eo;
    bench_eval_opts_default(&eo);
    eo.label = name;
    eo.roll.model_dir = o->model_dir;
    eo.roll.weights_dir = weights;
    eo.roll.prompts = ps;
    eo.roll.samples_per_prompt = o->samples_per_prompt;
    eo.roll.max_new_tokens = o->max_new_tokens;
    eo.roll.gen_batch_size = o->gen_batch_size;
    eo.roll.temperature = o->temperature;
    eo.roll.seed = o->seed;
    eo.roll.system_prompt = o->system_prompt;
    eo.roll.verifier = &o->verifier;
    eo.roll.journal_path = gen_path;
    eo.roll.cancel = o->cancel;
    eo.samples_path = path;
    eo.monitor = true;
    eo.hardware_csv = csv;
    eo.hw_interval_s = o->hw_interval_s;
    bench_eval_result r;
    int erc = bench_eval_run(&eo, &r, err, errcap);
    if (erc) {
        rc = erc;
        goto out;
    }
    *ev = r.metrics; /* moved: ev owns the metrics' arrays now */
    memset(&r.metrics, 0, sizeof r.metrics);
    const long run_tokens = r.roll.gen.generated_tokens;
    bench_eval_result_free(&r);

    cJSON_ReplaceItemInObjectCaseSensitive(saved, "done", cJSON_CreateTrue());
    cJSON_AddNumberToObject(saved, "generated_tokens", (double)ev->generated_tokens);
    cJSON_AddNumberToObject(saved, "run_generated_tokens", (double)run_tokens);
    put_num(saved, "generation_time_sec", ev->generation_time_sec);
    put_num(saved, "verification_time_sec", ev->verification_time_sec);
    cJSON_AddItemToObject(saved, "hardware", hw_save(&ev->hw));
    if (bench_write_json(phase_path, saved, err, errcap)) {
        bench_eval_free(ev);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(saved);
    return rc;
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
    hw_opts ho = {.interval_s = x->o->hw_interval_s, .csv_path = dist_is_root() ? csv : NULL};
    if (!(x->hw = hw_monitor_start(&ho, err, sizeof err))) log_warn("%s", err);
    x->t0 = time_now();
}

/* cycle_N/cycle.json: the cycle's figures, written last (after samples, kept and checkpoint), so a
 * rerun can rebuild summary.json without running the cycle again. */
#define CY_D(f) {#f, offsetof(bench_cycle, f)}
static const struct {
    const char *name;
    size_t off;
} cycle_dfields[] = {
    CY_D(compile_rate), CY_D(pass_rate), CY_D(avg_reward), CY_D(training_loss), CY_D(learning_rate),
    CY_D(cycle_time_sec), CY_D(generation_time_sec), CY_D(verification_time_sec), CY_D(training_time_sec),
};

static int cycle_save(const char *dir, const bench_cycle *bc, char *err, size_t errcap) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "cycle", bc->cycle);
    cJSON_AddNumberToObject(o, "generated", (double)bc->generated);
    cJSON_AddNumberToObject(o, "verified", (double)bc->verified);
    cJSON_AddNumberToObject(o, "kept", (double)bc->kept);
    cJSON_AddNumberToObject(o, "training_steps", (double)bc->training_steps);
    for (size_t i = 0; i < sizeof cycle_dfields / sizeof cycle_dfields[0]; i++)
        put_num(o, cycle_dfields[i].name, *(const double *)((const char *)bc + cycle_dfields[i].off));
    if (bc->have_hw) cJSON_AddItemToObject(o, "hardware", hw_save(&bc->hw));
    char path[4500];
    snprintf(path, sizeof path, "%s/cycle.json", dir);
    int rc = bench_write_json(path, o, err, errcap);
    cJSON_Delete(o);
    return rc;
}

static bool cycle_restore(const char *dir, int cycle, bench_cycle *bc) {
    char path[4500];
    snprintf(path, sizeof path, "%s/cycle.json", dir);
    cJSON *o = read_json_file(path);
    if (!o || json_get_num(o, "cycle", -1) != cycle) {
        cJSON_Delete(o);
        return false;
    }
    bench_cycle_init(bc, cycle);
    bc->generated = json_get_long(o, "generated", 0);
    bc->verified = json_get_long(o, "verified", 0);
    bc->kept = json_get_long(o, "kept", 0);
    bc->training_steps = json_get_long(o, "training_steps", 0);
    for (size_t i = 0; i < sizeof cycle_dfields / sizeof cycle_dfields[0]; i++)
        *(double *)((char *)bc + cycle_dfields[i].off) = get_num(o, cycle_dfields[i].name);
    const cJSON *hw = cJSON_GetObjectItemCaseSensitive(o, "hardware");
    bc->have_hw = cJSON_IsObject(hw);
    if (bc->have_hw) hw_load(hw, &bc->hw);
    cJSON_Delete(o);
    return true;
}

/* The seed's files of a trained cycle (samples, kept, checkpoint) from the RAFT loop's, then cycle.json. */
static int cycle_outputs_root(cycle_ctx *x, const bench_cycle *bc, char *err, size_t errcap) {
    char in[4400], out[4400], dir[4300];
    snprintf(dir, sizeof dir, "%s/cycle_%d", x->o->output_dir, bc->cycle);
    if (fs_mkdirs(dir) != 0) {
        seterr(err, errcap, "%s: cannot create: %s", dir, strerror(errno));
        return -1;
    }
    raft_cycle_path(in, sizeof in, x->raft_dir, bc->cycle, RAFT_FILE_VERIFIED);
    snprintf(out, sizeof out, "%s/samples.jsonl", dir);
    if (convert_samples(x->ps, in, out, err, errcap)) return -1;
    snprintf(in, sizeof in, "%s/cycle_%d/kept.jsonl", x->raft_dir, bc->cycle);
    snprintf(out, sizeof out, "%s/kept.jsonl", dir);
    if (fs_exists(in)) {
        if (convert_samples(x->ps, in, out, err, errcap)) return -1;
    } else if (fs_write_atomic(out, "", 0) != 0) {
        seterr(err, errcap, "%s: cannot write: %s", out, strerror(errno));
        return -1;
    }
    raft_cycle_path(in, sizeof in, x->raft_dir, bc->cycle, RAFT_FILE_FINAL);
    snprintf(out, sizeof out, "%s/checkpoint", dir);
    fs_remove_tree(out);
    char failed[4700];
    if (fs_link_files(in, out, failed, sizeof failed) != 0) {
        seterr(err, errcap, "%s: cannot copy to %s: %s", failed, out, strerror(errno));
        return -1;
    }
    return cycle_save(dir, bc, err, errcap);
}

/* Rank 0 alone writes them; the others go on once they are there. */
static int cycle_outputs(cycle_ctx *x, const bench_cycle *bc, char *err, size_t errcap) {
    return dist_root_rc(dist_is_root() ? cycle_outputs_root(x, bc, err, errcap) : 0, err, errcap);
}

static int cycle_end(void *user, const raft_cycle_report *r, char *err, size_t errcap) {
    cycle_ctx *x = user;
    bench_cycle *bc = &x->cycles[r->cycle - 1];
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
    if (cycle_outputs(x, bc, err, errcap)) return -1;
    log_info("Cycle %d: %.1f%% compile (kept %ld samples, loss=%.3f)", r->cycle, 100 * r->compile_rate, r->kept,
             r->train_loss);
    return 0;
}

/* A cycle the RAFT loop finished in an earlier run whose cycle.json is missing (the run stopped between
 * the two): its figures from raft_statistics.json (no hardware figures). */
static int cycle_from_statistics(cycle_ctx *x, int c, bench_cycle *bc, char *err, size_t errcap) {
    char path[4400];
    fs_join(path, sizeof path, x->raft_dir, "raft_statistics.json");
    cJSON *hist = raft_statistics_load(path, err, errcap);
    if (!hist) return -1;
    const cJSON *h, *found = NULL;
    cJSON_ArrayForEach(h, hist) if (json_get_num(h, "cycle", 0) == c) found = h;
    if (!found) {
        cJSON_Delete(hist);
        seterr(err, errcap, "%s: no entry for cycle %d", path, c);
        return -1;
    }
    bench_cycle_init(bc, c);
    bc->generated = bc->verified = json_get_long(found, "total_samples", 0);
    bc->kept = json_get_long(found, "kept", 0);
    bc->compile_rate = get_num(found, "compile_rate");
    bc->pass_rate = get_num(found, "success_rate");
    bc->avg_reward = get_num(found, "avg_reward");
    bc->training_loss = get_num(found, "train_loss");
    bc->training_steps = json_get_long(found, "train_steps", 0);
    bc->learning_rate = get_num(found, "learning_rate");
    bc->generation_time_sec = get_num(found, "generation_time_s");
    bc->verification_time_sec = get_num(found, "verification_time_s");
    bc->training_time_sec = get_num(found, "training_time_s");
    bc->cycle_time_sec = 60 * get_num(found, "elapsed_minutes");
    cJSON_Delete(hist);
    return cycle_outputs(x, bc, err, errcap);
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
    for (int c = 0; x.cycles && c <= o->cycles; c++) bench_cycle_init(&x.cycles[c], c + 1);
    if (!x.cycles || fs_mkdirs(o->output_dir) != 0) {
        seterr(err, errcap, "%s: cannot create: %s", o->output_dir, strerror(errno));
        goto out;
    }
    snprintf(x.raft_dir, sizeof x.raft_dir, "%s/raft", o->output_dir);

    /* every phase resumes: a finished one is skipped, a half-done one continues */
    int e = eval_phase(o, ps, NULL, "baseline", &base, err, errcap);
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
    lo.train_backend = o->train_backend;
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
    lo.full_finetune = o->full_finetune;
    lo.cancel = o->cancel;
    raft_loop_hooks hooks = {cycle_begin, cycle_end, &x};
    int lrc = raft_loop_run(&lo, &hooks, err, errcap);
    if (x.hw) hw_monitor_stop(x.hw, NULL);
    if (lrc) {
        rc = lrc;
        goto out;
    }

    for (int c = 1; c <= o->cycles; c++) {
        char dir[4300];
        snprintf(dir, sizeof dir, "%s/cycle_%d", o->output_dir, c);
        if (cycle_restore(dir, c, &x.cycles[c - 1])) continue;
        if (cycle_from_statistics(&x, c, &x.cycles[c - 1], err, errcap)) goto out;
    }
    x.n_done = o->cycles;

    char final_weights[4200];
    raft_cycle_path(final_weights, sizeof final_weights, x.raft_dir, o->cycles, RAFT_FILE_FINAL);
    e = eval_phase(o, ps, final_weights, "final", &fin, err, errcap);
    if (e) {
        rc = e;
        goto out;
    }
    have_fin = true;

    bench_summary s = {.model_name = o->model_name, .n_cycles = o->cycles, .total_time_sec = time_now() - t_start,
                       .have_baseline = true, .have_final = true, .baseline = base, .final = fin,
                       .cycles = x.cycles, .n_done = x.n_done};
    *summary = bench_summary_to_json(&s);
    char path[4400];
    fs_join(path, sizeof path, o->output_dir, "summary.json");
    if (!*summary || bench_write_json(path, *summary, err, errcap)) goto out;
    char tberr[512]; /* the TensorBoard view of the summary; summary.json stays the record */
    if (tblog_benchmark(o->output_dir, *summary, tberr, sizeof tberr))
        log_warn("%s (TensorBoard events not written)", tberr);
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
