/* summary: metrics, summary.json, comparison_summary.json, console tables (see summary.h). */
#include "bench/summary.h"
#include "dist/dist.h"

#include "bench/passk.h"
#include "core/fs.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double rnd(double v, int decimals) {
    double f = pow(10.0, decimals);
    return round(v * f) / f;
}

static void add_num(cJSON *o, const char *key, double v, int decimals) {
    if (isnan(v) || isinf(v)) cJSON_AddNullToObject(o, key);
    else cJSON_AddNumberToObject(o, key, rnd(v, decimals));
}

int bench_eval_compute(const bench_scored *s, size_t n, const long *ks, size_t nk, bench_eval *e) {
    memset(e, 0, sizeof *e);
    e->generated_tokens = -1;
    e->generation_time_sec = e->verification_time_sec = e->tokens_per_sec = NAN;
    e->pass_at_1 = e->pass_at_k = NAN;
    pk_tally t;
    pk_tally_init(&t);
    double rsum = 0;
    for (size_t i = 0; i < n; i++) {
        if (pk_tally_add(&t, s[i].prompt_id, s[i].category, s[i].passes) < 0) {
            pk_tally_free(&t);
            return -1;
        }
        e->compiled += s[i].compiles;
        e->passed += s[i].passes;
        rsum += s[i].reward;
    }
    e->total_samples = (long)n;
    e->total_prompts = (long)t.count;
    e->compile_rate = n ? (double)e->compiled / (double)n : 0.0;
    e->pass_rate = n ? (double)e->passed / (double)n : 0.0;
    e->avg_reward = n ? rsum / (double)n : 0.0;
    e->k = pk_tally_min_n(&t);
    if (n) {
        e->pass_at_1 = pk_tally_pass_at_k(&t, NULL, 1);
        e->pass_at_k = pk_tally_pass_at_k(&t, NULL, e->k);
    }
    long all[BENCH_MAX_K + 2];
    size_t na = 0;
    all[na++] = 1;
    for (size_t i = 0; i < nk && na < BENCH_MAX_K; i++) all[na++] = ks[i];
    if (na < BENCH_MAX_K && e->k > 0) all[na++] = e->k;
    for (size_t i = 0; i < na; i++) {
        if (all[i] < 1 || all[i] > e->k) continue;
        bool dup = false;
        for (size_t j = 0; j < e->nks; j++) dup |= e->ks[j] == all[i];
        if (dup) continue;
        size_t j = e->nks++;
        while (j > 0 && e->ks[j - 1] > all[i]) { /* keep ascending */
            e->ks[j] = e->ks[j - 1];
            e->pass_at[j] = e->pass_at[j - 1];
            j--;
        }
        e->ks[j] = all[i];
        e->pass_at[j] = pk_tally_pass_at_k(&t, NULL, all[i]);
    }
    cJSON *pk = pk_tally_to_json(&t, e->ks, e->nks);
    if (!pk) {
        pk_tally_free(&t);
        return -1;
    }
    e->by_category = cJSON_DetachItemFromObjectCaseSensitive(pk, "by_category");
    cJSON_Delete(pk);
    pk_tally_free(&t);
    return 0;
}

void bench_eval_free(bench_eval *e) {
    cJSON_Delete(e->by_category);
    e->by_category = NULL;
}

void bench_eval_set_generation(bench_eval *e, long tokens, double seconds) {
    e->generated_tokens = tokens;
    e->generation_time_sec = seconds;
    e->tokens_per_sec = tokens >= 0 && seconds > 0 ? (double)tokens / seconds : NAN;
}

cJSON *bench_eval_to_json(const bench_eval *e) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "total_prompts", (double)e->total_prompts);
    cJSON_AddNumberToObject(o, "total_samples", (double)e->total_samples);
    cJSON_AddNumberToObject(o, "compiled", (double)e->compiled);
    cJSON_AddNumberToObject(o, "passed", (double)e->passed);
    add_num(o, "compile_rate", e->compile_rate, 4);
    add_num(o, "pass_rate", e->pass_rate, 4);
    add_num(o, "pass_at_1", e->pass_at_1, 4);
    add_num(o, "pass_at_k", e->pass_at_k, 4);
    add_num(o, "avg_reward", e->avg_reward, 4);
    add_num(o, "tokens_per_sec", e->tokens_per_sec, 1);
    add_num(o, "generation_time_sec", e->generation_time_sec, 1);
    add_num(o, "verification_time_sec", e->verification_time_sec, 1);
    if (e->have_hw) cJSON_AddItemToObject(o, "hardware", hw_summary_to_json(&e->hw));
    else cJSON_AddNullToObject(o, "hardware");
    cJSON_AddNumberToObject(o, "k", (double)e->k);
    cJSON *pa = cJSON_AddObjectToObject(o, "pass_at");
    for (size_t i = 0; i < e->nks; i++) {
        char key[24];
        snprintf(key, sizeof key, "%ld", e->ks[i]);
        add_num(pa, key, e->pass_at[i], 4);
    }
    if (e->generated_tokens >= 0) cJSON_AddNumberToObject(o, "generated_tokens", (double)e->generated_tokens);
    else cJSON_AddNullToObject(o, "generated_tokens");
    cJSON_AddItemToObject(o, "by_category", e->by_category ? cJSON_Duplicate(e->by_category, 1) : cJSON_CreateObject());
    return o;
}

void bench_cycle_init(bench_cycle *c, int cycle) {
    memset(c, 0, sizeof *c);
    c->cycle = cycle;
    c->training_loss = c->learning_rate = NAN;
    c->cycle_time_sec = c->generation_time_sec = c->verification_time_sec = c->training_time_sec = NAN;
}

cJSON *bench_cycle_to_json(const bench_cycle *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "cycle", c->cycle);
    cJSON_AddNumberToObject(o, "generated", (double)c->generated);
    cJSON_AddNumberToObject(o, "verified", (double)c->verified);
    cJSON_AddNumberToObject(o, "kept", (double)c->kept);
    add_num(o, "compile_rate", c->compile_rate, 4);
    add_num(o, "avg_reward", c->avg_reward, 4);
    add_num(o, "training_loss", c->training_loss, 6);
    cJSON_AddNumberToObject(o, "training_steps", (double)c->training_steps);
    add_num(o, "cycle_time_sec", c->cycle_time_sec, 1);
    if (c->have_hw) cJSON_AddItemToObject(o, "hardware", hw_summary_to_json(&c->hw));
    else cJSON_AddNullToObject(o, "hardware");
    add_num(o, "pass_rate", c->pass_rate, 4);
    if (isnan(c->learning_rate)) cJSON_AddNullToObject(o, "learning_rate");
    else cJSON_AddNumberToObject(o, "learning_rate", c->learning_rate);
    add_num(o, "generation_time_sec", c->generation_time_sec, 1);
    add_num(o, "verification_time_sec", c->verification_time_sec, 1);
    add_num(o, "training_time_sec", c->training_time_sec, 1);
    return o;
}

void bench_model_short(const char *name, char *out, size_t cap) {
    const char *base = name;
    size_t len = strlen(name);
    while (len > 1 && name[len - 1] == '/') len--; /* "models/foo/" */
    for (size_t i = 0; i + 1 < len; i++)
        if (name[i] == '/') base = name + i + 1;
    size_t j = 0;
    for (const char *p = base; p < name + len && j + 1 < cap; p++)
        out[j++] = *p == '.' ? '-' : (char)tolower((unsigned char)*p);
    if (cap) out[j] = '\0';
}

/* Folds one phase's hardware into the run's peaks and energies. */
typedef struct {
    double gpu_util_peak, gpu_mem_peak, sys_mem_peak, rss_peak, gpu_wh, cpu_wh;
} hw_totals;

static double nanmax(double a, double b) { return isnan(a) ? b : isnan(b) ? a : (a > b ? a : b); }
static double nanadd(double a, double b) { return isnan(a) ? b : isnan(b) ? a : a + b; }

static void fold(hw_totals *t, const hw_summary *h) {
    t->gpu_util_peak = nanmax(t->gpu_util_peak, h->gpu_util_peak_pct);
    t->gpu_mem_peak = nanmax(t->gpu_mem_peak, h->gpu_mem_peak_gb);
    t->sys_mem_peak = nanmax(t->sys_mem_peak, h->sys_mem_peak_gb);
    t->rss_peak = nanmax(t->rss_peak, h->rss_peak_gb);
    t->gpu_wh = nanadd(t->gpu_wh, h->gpu_energy_wh);
    t->cpu_wh = nanadd(t->cpu_wh, h->cpu_energy_wh);
}

cJSON *bench_summary_to_json(const bench_summary *s) {
    cJSON *o = cJSON_CreateObject();
    char short_name[256];
    bench_model_short(s->model_name ? s->model_name : "", short_name, sizeof short_name);
    cJSON_AddStringToObject(o, "model_name", s->model_name ? s->model_name : "");
    cJSON_AddStringToObject(o, "model_short", short_name);
    cJSON_AddNumberToObject(o, "n_cycles", s->n_cycles);
    add_num(o, "total_time_sec", s->total_time_sec, 1);
    cJSON_AddItemToObject(o, "baseline", s->have_baseline ? bench_eval_to_json(&s->baseline) : cJSON_CreateNull());
    cJSON *cycles = cJSON_AddArrayToObject(o, "cycles");
    for (int i = 0; i < s->n_done; i++) cJSON_AddItemToArray(cycles, bench_cycle_to_json(&s->cycles[i]));
    cJSON_AddItemToObject(o, "final", s->have_final ? bench_eval_to_json(&s->final) : cJSON_CreateNull());

    hw_totals t = {NAN, NAN, NAN, NAN, NAN, NAN};
    cJSON *hs = cJSON_AddObjectToObject(o, "hardware_summary");
    cJSON *phases = cJSON_CreateObject();
    if (s->have_baseline && s->baseline.have_hw) {
        fold(&t, &s->baseline.hw);
        cJSON_AddItemToObject(phases, "baseline", hw_summary_to_json(&s->baseline.hw));
    }
    for (int i = 0; i < s->n_done; i++) {
        if (!s->cycles[i].have_hw) continue;
        char key[32];
        snprintf(key, sizeof key, "cycle_%d", s->cycles[i].cycle);
        fold(&t, &s->cycles[i].hw);
        cJSON_AddItemToObject(phases, key, hw_summary_to_json(&s->cycles[i].hw));
    }
    if (s->have_final && s->final.have_hw) {
        fold(&t, &s->final.hw);
        cJSON_AddItemToObject(phases, "final", hw_summary_to_json(&s->final.hw));
    }
    add_num(hs, "gpu_peak_utilization_pct", t.gpu_util_peak, 1);
    add_num(hs, "gpu_peak_memory_gb", t.gpu_mem_peak, 2);
    add_num(hs, "sys_peak_memory_gb", t.sys_mem_peak, 2);
    add_num(hs, "total_energy_wh", nanadd(t.gpu_wh, t.cpu_wh), 2);
    add_num(hs, "rss_peak_gb", t.rss_peak, 2);
    add_num(hs, "gpu_energy_wh", t.gpu_wh, 2);
    add_num(hs, "cpu_energy_wh", t.cpu_wh, 2);
    cJSON_AddItemToObject(hs, "phases", phases);

    cJSON *imp = cJSON_AddObjectToObject(o, "improvement");
    if (s->have_baseline && s->have_final) {
        add_num(imp, "compile_rate", s->final.compile_rate - s->baseline.compile_rate, 4);
        add_num(imp, "pass_at_1", s->final.pass_at_1 - s->baseline.pass_at_1, 4);
        add_num(imp, "pass_rate", s->final.pass_rate - s->baseline.pass_rate, 4);
    } else {
        cJSON_AddNullToObject(imp, "compile_rate");
        cJSON_AddNullToObject(imp, "pass_at_1");
        cJSON_AddNullToObject(imp, "pass_rate");
    }
    cJSON_AddNumberToObject(o, "schema_version", 1);
    return o;
}

static const cJSON *get(const cJSON *o, const char *path) {
    char key[64];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof key) return NULL;
        memcpy(key, path, len);
        key[len] = '\0';
        o = cJSON_GetObjectItemCaseSensitive(o, key);
        path += len + (dot ? 1 : 0);
    }
    return o;
}

static double num(const cJSON *o, const char *path) {
    const cJSON *v = get(o, path);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

cJSON *bench_comparison_to_json(const cJSON *const *summaries, size_t n) {
    cJSON *o = cJSON_CreateObject();
    cJSON *models = cJSON_AddArrayToObject(o, "models");
    cJSON *cmp = cJSON_AddObjectToObject(o, "comparison");
    cJSON *base = cJSON_AddObjectToObject(cmp, "baseline_compile_rates");
    cJSON *fin = cJSON_AddObjectToObject(cmp, "final_compile_rates");
    cJSON *imp = cJSON_AddObjectToObject(cmp, "improvements");
    cJSON *bp = cJSON_AddObjectToObject(cmp, "baseline_pass_at_1");
    cJSON *fp = cJSON_AddObjectToObject(cmp, "final_pass_at_1");
    for (size_t i = 0; i < n; i++) {
        cJSON_AddItemToArray(models, cJSON_Duplicate(summaries[i], 1));
        const cJSON *sh = get(summaries[i], "model_short");
        const char *name = cJSON_IsString(sh) ? sh->valuestring : "unknown";
        add_num(base, name, num(summaries[i], "baseline.compile_rate"), 4);
        add_num(fin, name, num(summaries[i], "final.compile_rate"), 4);
        add_num(imp, name, num(summaries[i], "improvement.compile_rate"), 4);
        add_num(bp, name, num(summaries[i], "baseline.pass_at_1"), 4);
        add_num(fp, name, num(summaries[i], "final.pass_at_1"), 4);
    }
    return o;
}

int bench_write_json(const char *path, const cJSON *doc, char *err, size_t errcap) {
    if (!dist_is_root()) return 0; /* several MPI ranks: rank 0 alone writes outputs */
    char *text = cJSON_Print(doc);
    if (!text) {
        snprintf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    size_t len = strlen(text);
    char *buf = realloc(text, len + 2);
    if (!buf) {
        free(text);
        snprintf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    buf[len] = '\n';
    buf[len + 1] = '\0';
    int rc = fs_write_atomic(path, buf, len + 1);
    if (rc != 0) snprintf(err, errcap, "%s: %s", path, strerror(errno));
    free(buf);
    return rc;
}

static void pct(char *out, size_t cap, double v, int decimals) {
    if (isnan(v)) snprintf(out, cap, "n/a");
    else snprintf(out, cap, "%.*f%%", decimals, v * 100.0);
}

static void display_name(const cJSON *s, char *out, size_t cap) {
    const cJSON *m = get(s, "model_name");
    const char *name = cJSON_IsString(m) && *m->valuestring ? m->valuestring : "unknown";
    size_t len = strlen(name);
    while (len > 1 && name[len - 1] == '/') len--;
    const char *base = name;
    for (size_t i = 0; i + 1 < len; i++)
        if (name[i] == '/') base = name + i + 1;
    snprintf(out, cap, "%.*s", (int)(name + len - base), base);
}

static void duration(char *out, size_t cap, double sec) {
    if (isnan(sec)) snprintf(out, cap, "n/a");
    else if (sec < 60) snprintf(out, cap, "%.0f s", sec);
    else snprintf(out, cap, "%.0f min", sec / 60.0);
}

void bench_print_summary_table(FILE *f, const cJSON *const *summaries, size_t n) {
    fprintf(f, "| Model | Baseline Compile | Final Compile | Improvement | pass@1 | Time | Energy |\n");
    fprintf(f, "|-------|-----------------|---------------|-------------|--------|------|--------|\n");
    for (size_t i = 0; i < n; i++) {
        const cJSON *s = summaries[i];
        char name[256], bc[32], fc[32], imp[32], p1[80], pb[32], pf[32], t[32], en[32];
        display_name(s, name, sizeof name);
        pct(bc, sizeof bc, num(s, "baseline.compile_rate"), 1);
        pct(fc, sizeof fc, num(s, "final.compile_rate"), 1);
        double d = num(s, "improvement.compile_rate");
        if (isnan(d)) snprintf(imp, sizeof imp, "n/a");
        else snprintf(imp, sizeof imp, "%+.1f%%", d * 100.0);
        pct(pb, sizeof pb, num(s, "baseline.pass_at_1"), 0);
        pct(pf, sizeof pf, num(s, "final.pass_at_1"), 0);
        snprintf(p1, sizeof p1, "%s \xe2\x86\x92 %s", pb, pf);
        duration(t, sizeof t, num(s, "total_time_sec"));
        double wh = num(s, "hardware_summary.total_energy_wh");
        if (isnan(wh)) snprintf(en, sizeof en, "n/a");
        else snprintf(en, sizeof en, "%.0f Wh", wh);
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s |\n", name, bc, fc, imp, p1, t, en);
    }
}

void bench_print_detailed(FILE *f, const cJSON *s) {
    char name[256], c[32], p[32];
    display_name(s, name, sizeof name);
    fprintf(f, "**%s**\n", name);
    if (cJSON_IsObject(get(s, "baseline"))) {
        pct(c, sizeof c, num(s, "baseline.compile_rate"), 1);
        pct(p, sizeof p, num(s, "baseline.pass_at_1"), 1);
        fprintf(f, "Baseline: %s compile, %s pass@1\n", c, p);
    }
    const cJSON *cycles = get(s, "cycles"), *cy;
    cJSON_ArrayForEach(cy, cycles) {
        char label[32], loss[32];
        snprintf(label, sizeof label, "Cycle %d:", (int)num(cy, "cycle"));
        pct(c, sizeof c, num(cy, "compile_rate"), 1);
        double l = num(cy, "training_loss");
        if (isnan(l)) snprintf(loss, sizeof loss, "n/a");
        else snprintf(loss, sizeof loss, "%.3f", l);
        fprintf(f, "%-9s %s compile (kept %.0f samples, loss=%s)\n", label, c, num(cy, "kept"), loss);
    }
    if (cJSON_IsObject(get(s, "final"))) {
        pct(c, sizeof c, num(s, "final.compile_rate"), 1);
        pct(p, sizeof p, num(s, "final.pass_at_1"), 1);
        fprintf(f, "Final:    %s compile, %s pass@1\n", c, p);
    }
    double gpu = num(s, "hardware_summary.gpu_peak_memory_gb"), rss = num(s, "hardware_summary.rss_peak_gb");
    double wh = num(s, "hardware_summary.total_energy_wh");
    char mem[64], en[32];
    if (!isnan(gpu)) snprintf(mem, sizeof mem, "Peak GPU Memory: %.1f GB", gpu);
    else if (!isnan(rss)) snprintf(mem, sizeof mem, "Peak Memory (RSS): %.1f GB", rss);
    else snprintf(mem, sizeof mem, "Peak Memory: n/a");
    if (isnan(wh)) snprintf(en, sizeof en, "n/a");
    else snprintf(en, sizeof en, "%.1f Wh", wh);
    fprintf(f, "%s | Energy: %s\n", mem, en);
}
