/* eval: generate, verify, record and score one evaluation (see eval.h). */
#include "bench/eval.h"
#include "dist/dist.h"

#include "bench/hwmon.h"
#include "bench/passk.h"
#include "bench/score.h"
#include "core/jsonl.h"
#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void bench_eval_opts_default(bench_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->label = "eval";
    rollout_opts_default(&o->roll);
    o->hw_interval_s = 2;
}

const bench_prompt *bench_eval_prompt_of(const bench_eval_opts *o, size_t i) {
    return &o->roll.prompts->items[i / (size_t)o->roll.samples_per_prompt];
}

/* ---- records and metrics ---- */

static int write_samples(const bench_eval_opts *o, const rollout_result *r, char *err, size_t errcap) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", o->samples_path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errcap, "%s: cannot write: %s", o->samples_path, strerror(errno));
        return -1;
    }
    int bad = 0;
    for (size_t i = 0; i < r->n; i++) {
        cJSON *s = bench_sample_record(bench_eval_prompt_of(o, i), r->completion[i],
                                       (int)(i % (size_t)r->samples_per_prompt), &r->results[i], r->n_tokens[i]);
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

int bench_eval_run(const bench_eval_opts *o, bench_eval_result *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    hw_monitor *hw = NULL;
    hw_summary hs;
    bench_scored *sc = NULL;
    int rc = -1;
    if (o->monitor) {
        hw_opts ho = {.interval_s = o->hw_interval_s > 0 ? o->hw_interval_s : 2,
                      .csv_path = dist_is_root() ? o->hardware_csv : NULL}; /* rank 0 alone writes outputs */
        if (!(hw = hw_monitor_start(&ho, err, errcap))) return -1;
    }
    char label[128];
    snprintf(label, sizeof label, "%s evaluation", o->label);
    rollout_opts ro = o->roll;
    ro.label = label;
    ro.select = NULL;
    rollout_result *r = &out->roll;
    int rrc = rollout_run(&ro, r, err, errcap);
    if (rrc) {
        rc = rrc;
        goto out;
    }
    if (hw) {
        if (hw_monitor_stop(hw, &hs) != 0 && o->hardware_csv) log_warn("%s: some rows could not be written", o->hardware_csv);
        hw = NULL;
    }
    if (o->samples_path && dist_root_rc(dist_is_root() ? write_samples(o, r, err, errcap) : 0, err, errcap)) goto out;
    if (!(sc = calloc(r->n + 1, sizeof *sc))) {
        snprintf(err, errcap, "benchmark: out of memory");
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) sc[i] = bench_scored_of(bench_eval_prompt_of(o, i), &r->results[i]);
    if (bench_eval_compute(sc, r->n, o->ks, o->nk, &out->metrics)) {
        snprintf(err, errcap, "benchmark: out of memory");
        goto out;
    }
    /* tokens/s from this run's decoding; generated_tokens counts every sample, resumed ones too */
    bench_eval_set_generation(&out->metrics, r->gen.generated_tokens, r->gen.n_samples ? r->gen.seconds : NAN);
    out->metrics.generated_tokens = rollout_total_tokens(r);
    out->metrics.verification_time_sec = r->verify_wait_seconds;
    if (o->monitor) {
        out->metrics.have_hw = true;
        out->metrics.hw = hs;
    }
    if (ro.journal_path) rollout_journal_remove(ro.journal_path);
    log_info("%s: %.1f%% compile, %.1f%% correct, pass@1 %.3f, %.1f tokens/s", o->label,
             100 * out->metrics.compile_rate, 100 * out->metrics.pass_rate, out->metrics.pass_at_1,
             out->metrics.tokens_per_sec);
    rc = 0;
out:
    if (hw) hw_monitor_stop(hw, NULL);
    free(sc);
    if (rc) {
        rollout_result_free(&out->roll);
        bench_eval_free(&out->metrics);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

void bench_eval_result_free(bench_eval_result *r) {
    rollout_result_free(&r->roll);
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
