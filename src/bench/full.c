/* full: baseline evaluation, quick RAFT cycles, final evaluation, summary. */
#include "bench/full.h"

#include "bench/hwmon.h"
#include "bench/summary.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"
#include "generate/generate.h"
#include "raft/loop.h"
#include "raft/resume.h"

#include <dirent.h>
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
    return o;
}

static void hw_load(const cJSON *o, hw_summary *h) {
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < sizeof hw_fields / sizeof hw_fields[0]; i++)
        *(double *)((char *)h + hw_fields[i].off) = get_num(o, hw_fields[i].name);
    h->samples_count = (long)json_get_num(o, "samples_count", 0);
    h->gpu_count = (int)json_get_num(o, "gpu_count", 0);
    snprintf(h->energy_source, sizeof h->energy_source, "%s", json_get_str(o, "energy_source", ""));
    snprintf(h->energy_status, sizeof h->energy_status, "%s", json_get_str(o, "energy_status", ""));
}

static cJSON *read_json_file(const char *path) {
    char *text = fs_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

/* ---- evaluation ---- */

typedef struct {
    const bench_full_options *o;
    const bench_prompt_set *ps;
    char **completion;    /* [prompt * spp + sample]; NULL: not generated yet */
    long *index_of;       /* [prompt * spp + sample] -> stream index, -1 */
    long *n_tokens;
    const size_t *sel;    /* prompt index of each prompt given to gen_run */
    vf_stream *vs;
    FILE *f;              /* <name>_generated.jsonl, appended */
    bool failed;
    progress prog;
} eval_gen;

/* Keeps a completion (k = prompt * spp + sample), appends it to the generated file and submits it. */
static int eval_add(eval_gen *g, size_t k, const char *completion, long n_tokens, bool append) {
    const size_t spp = (size_t)g->o->samples_per_prompt;
    const bench_prompt *bp = &g->ps->items[k / spp];
    if (!(g->completion[k] = strdup(completion))) return -1;
    g->n_tokens[k] = n_tokens;
    if (append) {
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "prompt_id", bp->id);
        cJSON_AddNumberToObject(rec, "sample_idx", (double)(k % spp));
        cJSON_AddStringToObject(rec, "completion", completion);
        cJSON_AddNumberToObject(rec, "n_tokens", (double)n_tokens);
        int bad = jsonl_write(g->f, rec) != 0 || fflush(g->f) != 0;
        cJSON_Delete(rec);
        if (bad) return -1;
    }
    vf_sample smp;
    bench_prompt_sample(bp, completion, &smp);
    return (g->index_of[k] = vf_stream_submit(g->vs, &smp)) < 0 ? -1 : 0;
}

static int eval_on_result(void *user, const gen_result *r) {
    eval_gen *g = user;
    size_t k = g->sel[r->prompt_idx] * (size_t)g->o->samples_per_prompt + (size_t)r->sample_idx;
    if (g->completion[k]) return 0; /* generated by an earlier run */
    progress_add(&g->prog, 1);
    if (eval_add(g, k, r->completion, r->n_tokens, true)) {
        g->failed = true;
        return 1;
    }
    return 0;
}

static int eval_on_step(void *user, const gen_stats *st) {
    eval_gen *g = user;
    (void)st;
    progress_update(&g->prog, g->prog.done);
    return g->o->cancel && *g->o->cancel;
}

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
        ev->generated_tokens = (long)json_get_num(saved, "generated_tokens", -1);
        ev->verification_time_sec = get_num(saved, "verification_time_sec");
        const cJSON *hw = cJSON_GetObjectItemCaseSensitive(saved, "hardware");
        ev->have_hw = cJSON_IsObject(hw);
        if (ev->have_hw) hw_load(hw, &ev->hw);
        rc = 0;
    }
    free(sc);
    return rc;
}

/* Generates every prompt's samples with the base model (weights NULL) or the base with a cycle's
 * weights (raft_load_weights) and verifies them as they come; writes <name>_samples.jsonl,
 * <name>_hardware.csv and <name>_phase.json (the figures, written last: the phase is done); fills ev.
 * A rerun skips a done phase, and continues a half-done one from <name>_generated.jsonl (the
 * completions so far, one line each). 0, 1 cancelled, -1 error. */
static int eval_phase(const bench_full_options *o, const bench_prompt_set *ps, const char *weights,
                      const char *name, bench_eval *ev, char *err, size_t errcap) {
    const size_t spp = (size_t)o->samples_per_prompt, n = ps->count * spp;
    int rc = -1;
    model *m = NULL;
    tokenizer *t = NULL;
    hw_monitor *hw = NULL;
    vf_result *res = NULL;
    size_t nres = 0;
    cJSON *saved = NULL;
    eval_gen g = {.o = o, .ps = ps};
    char path[4400], csv[4400], gen_path[4400], phase_path[4400], key[9000];
    snprintf(path, sizeof path, "%s/%s_samples.jsonl", o->output_dir, name);
    snprintf(gen_path, sizeof gen_path, "%s/%s_generated.jsonl", o->output_dir, name);
    snprintf(phase_path, sizeof phase_path, "%s/%s_phase.json", o->output_dir, name);
    snprintf(csv, sizeof csv, "%s/%s_hardware.csv", o->output_dir, name);
    phase_key(o, ps, weights, key, sizeof key);

    /* a finished phase with the same options: nothing to do */
    if ((saved = read_json_file(phase_path))) {
        bool same = !strcmp(json_get_str(saved, "key", ""), key);
        if (same && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(saved, "done")) && fs_exists(path) &&
            eval_load(ps, path, saved, ev) == 0) {
            log_info("%s evaluation: already done, skipped", name);
            cJSON_Delete(saved);
            return 0;
        }
        if (!same) unlink(gen_path); /* other options: the completions so far do not count */
        cJSON_Delete(saved);
        saved = NULL;
    } else {
        unlink(gen_path);
    }
    saved = cJSON_CreateObject();
    cJSON_AddStringToObject(saved, "key", key);
    cJSON_AddFalseToObject(saved, "done");
    if (bench_write_json(phase_path, saved, err, errcap)) goto out;

    g.completion = calloc(n, sizeof *g.completion);
    g.index_of = malloc(n * sizeof *g.index_of);
    g.n_tokens = calloc(n, sizeof *g.n_tokens);
    size_t *todo = malloc(ps->count * sizeof *todo);
    const char **texts = malloc(ps->count * sizeof *texts);
    g.sel = todo;
    if (!g.completion || !g.index_of || !g.n_tokens || !todo || !texts) {
        seterr(err, errcap, "benchmark: out of memory");
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) g.index_of[i] = -1;
    vf_config vc = o->verifier;
    vc.cancel = o->cancel;
    if (!(g.vs = vf_stream_start(&vc, NULL, NULL, err, errcap))) goto out_free;
    /* completions of an interrupted run of this phase */
    long resumed = 0;
    jsonl_reader jr;
    if (fs_exists(gen_path) && jsonl_open(&jr, gen_path) == 0) {
        cJSON *obj;
        char e[256];
        int jrc;
        while ((jrc = jsonl_next(&jr, &obj, e, sizeof e)) != 0) {
            if (jrc < 0) continue; /* a line cut by the interruption */
            long pi = bench_prompts_find(ps, json_get_str(obj, "prompt_id", ""));
            double si = json_get_num(obj, "sample_idx", -1);
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, "completion");
            if (pi >= 0 && si >= 0 && si < (double)spp && cJSON_IsString(c)) {
                size_t k = (size_t)pi * spp + (size_t)si;
                if (!g.completion[k]) {
                    if (eval_add(&g, k, c->valuestring, (long)json_get_num(obj, "n_tokens", 0), false)) {
                        cJSON_Delete(obj);
                        jsonl_close(&jr);
                        seterr(err, errcap, "benchmark: out of memory");
                        goto out_free;
                    }
                    resumed++;
                }
            }
            cJSON_Delete(obj);
        }
        jsonl_close(&jr);
    }
    /* rewritten with the complete lines only, then appended to */
    if (!(g.f = fopen(gen_path, "w"))) {
        seterr(err, errcap, "%s: cannot write: %s", gen_path, strerror(errno));
        goto out_free;
    }
    for (size_t k = 0; k < n; k++) {
        if (!g.completion[k]) continue;
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "prompt_id", ps->items[k / spp].id);
        cJSON_AddNumberToObject(rec, "sample_idx", (double)(k % spp));
        cJSON_AddStringToObject(rec, "completion", g.completion[k]);
        cJSON_AddNumberToObject(rec, "n_tokens", (double)g.n_tokens[k]);
        jsonl_write(g.f, rec);
        cJSON_Delete(rec);
    }
    fflush(g.f);
    size_t ntodo = 0;
    long missing = 0;
    for (size_t i = 0; i < ps->count; i++) {
        long miss = 0;
        for (size_t s = 0; s < spp; s++) miss += !g.completion[i * spp + s];
        if (miss) {
            todo[ntodo] = i;
            texts[ntodo++] = ps->items[i].prompt;
            missing += miss;
        }
    }
    hw_opts ho = {.interval_s = o->hw_interval_s, .csv_path = csv};
    if (!(hw = hw_monitor_start(&ho, err, errcap))) goto out_free;
    gen_stats gst = {0};
    if (ntodo > 0) {
        fs_join(path, sizeof path, o->model_dir, "tokenizer.json");
        if (!(t = tok_load(path, err, errcap))) goto out_free;
        if (!(m = raft_load_weights(o->model_dir, weights, err, errcap))) goto out_free;
        model_set_precision(m, MODEL_PRECISION_FAST); /* the speed generate uses by default */
        gen_params p;
        gen_params_default(&p);
        p.n_samples = o->samples_per_prompt;
        p.max_new_tokens = o->max_new_tokens;
        p.sampling.temperature = (float)o->temperature;
        p.seed = o->seed;
        p.batch_size = o->gen_batch_size;
        p.system_prompt = o->system_prompt;
        p.tpl = chat_detect(o->model_dir);
        p.on_step = eval_on_step;
        p.step_user = &g;
        if (resumed) log_info("%s evaluation: %ld samples kept from an interrupted run", name, resumed);
        log_info("%s evaluation: %zu prompts x %d samples, %ld to generate, verified as they come", name, ps->count,
                 o->samples_per_prompt, missing);
        progress_start(&g.prog, "generate", missing, "samples");
        int grc = gen_run(m, t, texts, (int)ntodo, &p, eval_on_result, &g, &gst, err, errcap);
        progress_finish(&g.prog);
        model_free(m);
        m = NULL;
        if (grc < 0) goto out_free;
        if (g.failed) {
            seterr(err, errcap, "%s: cannot write, or out of memory: %s", gen_path, strerror(errno));
            goto out_free;
        }
        if (grc == 1) {
            rc = 1;
            goto out_free;
        }
    }
    double t0 = time_now();
    int frc = vf_stream_finish(g.vs, &res, &nres);
    g.vs = NULL;
    double vsec = time_now() - t0;
    if (frc == 1) {
        rc = 1;
        goto out_free;
    }
    if (frc < 0) {
        seterr(err, errcap, "benchmark: out of memory");
        goto out_free;
    }
    hw_summary hs;
    hw_monitor_stop(hw, &hs);
    hw = NULL;

    /* the samples file, in prompt order */
    snprintf(path, sizeof path, "%s/%s_samples.jsonl", o->output_dir, name);
    char tmp[4500];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        seterr(err, errcap, "%s: cannot write: %s", tmp, strerror(errno));
        goto out_free;
    }
    bench_scored *sc = calloc(n, sizeof *sc);
    int bad = !sc;
    long total_tokens = 0;
    for (size_t k = 0; sc && k < n; k++) {
        const bench_prompt *bp = &ps->items[k / spp];
        const vf_result *vr = &res[g.index_of[k]];
        cJSON *v = cJSON_CreateObject();
        vf_result_to_json(vr, v);
        cJSON_AddStringToObject(v, "completion", g.completion[k]);
        cJSON_AddNumberToObject(v, "sample_idx", (double)(k % spp));
        cJSON *s = seed_record(bp, v);
        bad |= jsonl_write(f, s);
        cJSON_Delete(s);
        cJSON_Delete(v);
        sc[k].prompt_id = bp->id;
        sc[k].category = bp->category;
        sc[k].compiles = is_compiled(vf_status_name(vr->status));
        sc[k].passes = vr->success;
        sc[k].reward = vr->reward;
        total_tokens += g.n_tokens[k];
    }
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        free(sc);
        seterr(err, errcap, "%s: write failed: %s", path, strerror(errno));
        goto out_free;
    }
    int crc = bench_eval_compute(sc, n, NULL, 0, ev);
    free(sc);
    if (crc) {
        seterr(err, errcap, "benchmark: out of memory");
        goto out_free;
    }
    /* tokens/s from this run's decoding; generated_tokens counts every sample, resumed ones too */
    bench_eval_set_generation(ev, gst.generated_tokens, ntodo ? gst.seconds : NAN);
    ev->generated_tokens = total_tokens;
    ev->verification_time_sec = vsec;
    ev->have_hw = true;
    ev->hw = hs;
    cJSON_ReplaceItemInObjectCaseSensitive(saved, "done", cJSON_CreateTrue());
    cJSON_AddNumberToObject(saved, "generated_tokens", (double)total_tokens);
    cJSON_AddNumberToObject(saved, "run_generated_tokens", (double)gst.generated_tokens);
    put_num(saved, "generation_time_sec", ntodo ? gst.seconds : NAN);
    put_num(saved, "verification_time_sec", vsec);
    cJSON_AddItemToObject(saved, "hardware", hw_save(&hs));
    if (bench_write_json(phase_path, saved, err, errcap)) {
        bench_eval_free(ev);
        goto out_free;
    }
    fclose(g.f);
    g.f = NULL;
    unlink(gen_path);
    log_info("%s: %.1f%% compile, %.1f%% correct, pass@1 %.3f, %.1f tokens/s", name, 100 * ev->compile_rate,
             100 * ev->pass_rate, ev->pass_at_1, ev->tokens_per_sec);
    rc = 0;
out_free:
    if (g.vs) {
        vf_stream_cancel(g.vs);
        vf_stream_finish(g.vs, NULL, NULL);
    }
    if (g.f) fclose(g.f);
    if (hw) hw_monitor_stop(hw, NULL);
    model_free(m);
    tok_free(t);
    for (size_t i = 0; i < nres; i++) vf_result_free(&res[i]);
    free(res);
    for (size_t i = 0; g.completion && i < n; i++) free(g.completion[i]);
    free(g.completion);
    free(g.index_of);
    free(g.n_tokens);
    free(todo);
    free(texts);
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
    bc->generated = (long)json_get_num(o, "generated", 0);
    bc->verified = (long)json_get_num(o, "verified", 0);
    bc->kept = (long)json_get_num(o, "kept", 0);
    bc->training_steps = (long)json_get_num(o, "training_steps", 0);
    for (size_t i = 0; i < sizeof cycle_dfields / sizeof cycle_dfields[0]; i++)
        *(double *)((char *)bc + cycle_dfields[i].off) = get_num(o, cycle_dfields[i].name);
    const cJSON *hw = cJSON_GetObjectItemCaseSensitive(o, "hardware");
    bc->have_hw = cJSON_IsObject(hw);
    if (bc->have_hw) hw_load(hw, &bc->hw);
    cJSON_Delete(o);
    return true;
}

/* The seed's files of a trained cycle (samples, kept, checkpoint) from the RAFT loop's, then cycle.json. */
static int cycle_outputs(cycle_ctx *x, const bench_cycle *bc, char *err, size_t errcap) {
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
    if (link_dir(in, out, err, errcap)) return -1;
    return cycle_save(dir, bc, err, errcap);
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
    bc->generated = bc->verified = (long)json_get_num(found, "total_samples", 0);
    bc->kept = (long)json_get_num(found, "kept", 0);
    bc->compile_rate = get_num(found, "compile_rate");
    bc->pass_rate = get_num(found, "success_rate");
    bc->avg_reward = get_num(found, "avg_reward");
    bc->training_loss = get_num(found, "train_loss");
    bc->training_steps = (long)json_get_num(found, "train_steps", 0);
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
