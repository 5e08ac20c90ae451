/* eval: generate, verify, record and score one evaluation (see eval.h). */
#include "bench/eval.h"
#include "model/lora_apply.h"

#include "bench/hwmon.h"
#include "bench/passk.h"
#include "bench/score.h"
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
#include <unistd.h>

void bench_eval_opts_default(bench_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->label = "eval";
    o->samples_per_prompt = 8;
    o->max_new_tokens = 1024;
    o->gen_batch_size = 16;
    o->temperature = 0.7;
    o->seed = 42;
    o->hw_interval_s = 2;
}

const bench_prompt *bench_eval_prompt_of(const bench_eval_opts *o, size_t i) {
    return &o->prompts->items[i / (size_t)o->samples_per_prompt];
}

/* ---- step 1: generation ---- */

typedef struct {
    char **completion; /* [prompt * spp + sample] */
    long *tokens;
    int spp;
    const volatile int *cancel;
    progress prog;
} eval_gen;

static int on_result(void *user, const gen_result *r) {
    eval_gen *g = user;
    size_t k = (size_t)r->prompt_idx * (size_t)g->spp + (size_t)r->sample_idx;
    g->completion[k] = strdup(r->completion);
    g->tokens[k] = r->n_tokens;
    progress_add(&g->prog, 1);
    return g->completion[k] ? 0 : 1;
}

static int on_step(void *user, const gen_stats *st) {
    eval_gen *g = user;
    (void)st;
    progress_update(&g->prog, g->prog.done);
    return g->cancel && *g->cancel;
}

/* Fills g with every completion. 0, 1 cancelled, -1 error. */
static int generate_all(const bench_eval_opts *o, eval_gen *g, gen_stats *gst, char *err, size_t errcap) {
    const bench_prompt_set *ps = o->prompts;
    const size_t n = ps->count * (size_t)o->samples_per_prompt;
    char path[4400];
    int rc = -1;
    model *m = NULL;
    tokenizer *t = NULL;
    const char **texts = malloc(ps->count * sizeof *texts);
    if (!texts) {
        snprintf(err, errcap, "benchmark: out of memory");
        return -1;
    }
    for (size_t i = 0; i < ps->count; i++) texts[i] = ps->items[i].prompt;
    char tok_dir[4096];
    if (model_tokenizer_dir(o->model_dir, tok_dir, sizeof tok_dir, err, errcap) != 0) goto out;
    fs_join(path, sizeof path, tok_dir, "tokenizer.json");
    if (!(t = tok_load(path, err, errcap))) goto out;
    if (!(m = model_load(o->weights_dir ? o->weights_dir : o->model_dir, err, errcap))) goto out;
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
    p.on_step = on_step;
    p.step_user = g;
    log_info("%s evaluation: %zu prompts x %d samples", o->label, ps->count, o->samples_per_prompt);
    progress_start(&g->prog, "generate", (long)n, "samples");
    int grc = gen_run(m, t, texts, (int)ps->count, &p, on_result, g, gst, err, errcap);
    progress_finish(&g->prog);
    if (grc == 1) {
        if (o->cancel && *o->cancel) rc = 1;
        else snprintf(err, errcap, "benchmark: out of memory");
        goto out;
    }
    rc = grc;
out:
    model_free(m);
    tok_free(t);
    free(texts);
    return rc;
}

/* ---- step 2: verification ---- */

static void on_verified(void *user, size_t done, size_t total) {
    (void)total;
    progress_update(user, (long)done);
}

static int verify_all(const bench_eval_opts *o, char *const *completions, size_t n, vf_result *res, char *err,
                      size_t errcap) {
    vf_sample *smp = calloc(n, sizeof *smp);
    if (!smp) {
        snprintf(err, errcap, "benchmark: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) bench_prompt_sample(bench_eval_prompt_of(o, i), completions[i], &smp[i]);
    progress prog;
    progress_start(&prog, "verify", (long)n, "samples");
    int rc = vf_verify_batch(o->verifier, smp, n, res, on_verified, &prog, err, errcap);
    progress_finish(&prog);
    free(smp);
    return rc;
}

/* ---- records and metrics ---- */

static int write_samples(const bench_eval_opts *o, const bench_eval_result *r, char *err, size_t errcap) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", o->samples_path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errcap, "%s: cannot write: %s", o->samples_path, strerror(errno));
        return -1;
    }
    int bad = 0;
    for (size_t i = 0; i < r->n; i++) {
        cJSON *s = bench_sample_record(bench_eval_prompt_of(o, i), r->completions[i],
                                       (int)(i % (size_t)r->samples_per_prompt), &r->results[i], r->tokens[i]);
        bad |= !s || jsonl_write(f, s) != 0;
        cJSON_Delete(s);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) bad = 1;
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, o->samples_path) != 0) {
        snprintf(err, errcap, "%s: write failed: %s", o->samples_path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void free_arrays(bench_eval_result *r, bool verified) {
    for (size_t i = 0; r->completions && i < r->n; i++) {
        free(r->completions[i]);
        if (verified) vf_result_free(&r->results[i]);
    }
    free(r->completions);
    free(r->tokens);
    free(r->results);
    r->completions = NULL;
    r->tokens = NULL;
    r->results = NULL;
}

int bench_eval_run(const bench_eval_opts *o, bench_eval_result *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    if (!o->prompts || o->prompts->count == 0 || o->samples_per_prompt < 1 || !o->verifier) {
        snprintf(err, errcap, "benchmark: nothing to evaluate (no prompt, or fewer than 1 sample per prompt)");
        return -1;
    }
    const size_t n = o->prompts->count * (size_t)o->samples_per_prompt;
    out->n = n;
    out->samples_per_prompt = o->samples_per_prompt;
    out->completions = calloc(n, sizeof *out->completions);
    out->tokens = calloc(n, sizeof *out->tokens);
    out->results = calloc(n, sizeof *out->results);
    bench_scored *sc = calloc(n, sizeof *sc);
    hw_monitor *hw = NULL;
    hw_summary hs;
    bool verified = false;
    int rc = -1;
    if (!out->completions || !out->tokens || !out->results || !sc) {
        snprintf(err, errcap, "benchmark: out of memory");
        goto out;
    }
    if (o->monitor) {
        hw_opts ho = {.interval_s = o->hw_interval_s > 0 ? o->hw_interval_s : 2, .csv_path = o->hardware_csv};
        if (!(hw = hw_monitor_start(&ho, err, errcap))) goto out;
    }

    eval_gen g = {.completion = out->completions, .tokens = out->tokens, .spp = o->samples_per_prompt,
                  .cancel = o->cancel};
    int grc = generate_all(o, &g, &out->gen, err, errcap);
    if (grc) {
        rc = grc;
        goto out;
    }
    out->generation_seconds = out->gen.seconds;

    double t0 = time_now();
    if (verify_all(o, out->completions, n, out->results, err, errcap)) goto out;
    verified = true;
    out->verification_seconds = time_now() - t0;
    if (hw) {
        if (hw_monitor_stop(hw, &hs) != 0 && o->hardware_csv) log_warn("%s: some rows could not be written", o->hardware_csv);
        hw = NULL;
    }

    if (o->samples_path && write_samples(o, out, err, errcap)) goto out;
    for (size_t i = 0; i < n; i++) sc[i] = bench_scored_of(bench_eval_prompt_of(o, i), &out->results[i]);
    if (bench_eval_compute(sc, n, o->ks, o->nk, &out->metrics)) {
        snprintf(err, errcap, "benchmark: out of memory");
        goto out;
    }
    bench_eval_set_generation(&out->metrics, out->gen.generated_tokens, out->gen.seconds);
    out->metrics.verification_time_sec = out->verification_seconds;
    if (o->monitor) {
        out->metrics.have_hw = true;
        out->metrics.hw = hs;
    }
    log_info("%s: %.1f%% compile, %.1f%% correct, pass@1 %.3f, %.1f tokens/s", o->label,
             100 * out->metrics.compile_rate, 100 * out->metrics.pass_rate, out->metrics.pass_at_1,
             out->metrics.tokens_per_sec);
    rc = 0;
out:
    if (hw) hw_monitor_stop(hw, NULL);
    free(sc);
    if (rc) {
        free_arrays(out, verified);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

void bench_eval_result_free(bench_eval_result *r) {
    if (!r->completions) return;
    free_arrays(r, true);
    bench_eval_free(&r->metrics);
    memset(r, 0, sizeof *r);
}

cJSON *bench_eval_report(const bench_prompt *const *prompt_of, const vf_result *res, size_t n, const long *ks,
                         size_t nk, const vf_config *verifier) {
    pk_tally t;
    pk_tally_init(&t);
    long n_compiled = 0, n_passed = 0;
    double rsum = 0;
    long status_counts[VF_STATUS_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        bool pass = bench_sample_passes(&res[i]);
        if (pk_tally_add(&t, prompt_of[i]->id, prompt_of[i]->category, pass) < 0) {
            pk_tally_free(&t);
            return NULL;
        }
        n_compiled += bench_sample_compiles(&res[i]);
        n_passed += pass;
        rsum += res[i].reward;
        status_counts[res[i].status]++;
    }
    cJSON *rep = pk_tally_to_json(&t, ks, nk);
    pk_tally_free(&t);
    if (!rep) return NULL;
    double dn = n ? (double)n : 1;
    cJSON_AddNumberToObject(rep, "samples", (double)n);
    cJSON_AddNumberToObject(rep, "compiled", (double)n_compiled);
    cJSON_AddNumberToObject(rep, "compile_rate", round((double)n_compiled / dn * 1e4) / 1e4);
    cJSON_AddNumberToObject(rep, "samples_passed", (double)n_passed);
    cJSON_AddNumberToObject(rep, "sample_pass_rate", round((double)n_passed / dn * 1e4) / 1e4);
    cJSON_AddNumberToObject(rep, "avg_reward", round(rsum / dn * 1e4) / 1e4);
    cJSON_AddStringToObject(rep, "verifier", vf_kind_name(verifier->kind));
    cJSON_AddBoolToObject(rep, "run", verifier->run);
    cJSON *sc = cJSON_AddObjectToObject(rep, "status_counts");
    for (int s = 0; s < VF_STATUS_COUNT; s++)
        if (status_counts[s]) cJSON_AddNumberToObject(sc, vf_status_name((vf_status)s), (double)status_counts[s]);
    return rep;
}
