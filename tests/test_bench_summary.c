/* Unit tests of src/bench/summary: metrics of scored samples, the summary.json schema (every key of
 * the original's, plus ours), comparison_summary.json, and the console tables of the guide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/passk.h"
#include "bench/summary.h"
#include "core/fs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 2 prompts x 4 samples: a compiles 3, passes 1; b compiles 2, passes 2 */
static void scored(bench_scored *s, double shift) {
    for (int i = 0; i < 4; i++) {
        s[i] = (bench_scored){"a", "cat_a", i < 3, i == 0, i == 0 ? 1.0 : i < 3 ? 0.7 : 0.0};
        s[4 + i] = (bench_scored){"b", "cat_b", i < 2, i < 2, i < 2 ? 1.0 : 0.0};
    }
    if (shift > 0) s[7].compiles = s[7].passes = true, s[7].reward = 1.0;
}

static hw_summary fake_hw(double gpu_mem, double gpu_wh, double cpu_wh) {
    hw_summary h;
    memset(&h, 0, sizeof h);
    h.duration_sec = 60;
    h.samples_count = 31;
    h.gpu_util_avg_pct = h.gpu_util_peak_pct = h.gpu_mem_avg_gb = NAN;
    h.gpu_temp_avg_c = h.gpu_temp_peak_c = h.gpu_power_avg_w = h.gpu_power_peak_w = NAN;
    h.gpu_mem_peak_gb = gpu_mem;
    h.gpu_energy_wh = gpu_wh;
    h.cpu_energy_wh = cpu_wh;
    h.energy_wh = (isnan(gpu_wh) ? 0 : gpu_wh) + cpu_wh;
    h.sys_mem_peak_gb = 3;
    h.rss_peak_gb = 1.25;
    h.cpu_power_avg_w = h.cpu_power_peak_w = 30;
    return h;
}

static void test_eval_metrics(void **state) {
    (void)state;
    bench_scored s[8];
    scored(s, 0);
    long ks[] = {2, 8};
    bench_eval e;
    assert_int_equal(bench_eval_compute(s, 8, ks, 2, &e), 0);
    assert_int_equal(e.total_prompts, 2);
    assert_int_equal(e.total_samples, 8);
    assert_int_equal(e.compiled, 5);
    assert_int_equal(e.passed, 3);
    assert_true(fabs(e.compile_rate - 5.0 / 8) < 1e-12);
    assert_true(fabs(e.pass_rate - 3.0 / 8) < 1e-12);
    /* unbiased pass@1 of correct output: mean(1/4, 2/4); the original's pass_at_1 would say 1.0 */
    assert_true(fabs(e.pass_at_1 - 0.375) < 1e-12);
    assert_int_equal(e.k, 4);
    assert_true(e.pass_at_k == 1.0);
    assert_int_equal(e.nks, 3); /* 1, 2, 4; 8 > n is left out */
    assert_int_equal(e.ks[0], 1);
    assert_int_equal(e.ks[1], 2);
    assert_int_equal(e.ks[2], 4);
    assert_true(fabs(e.pass_at[1] - (pk_estimate(4, 1, 2) + pk_estimate(4, 2, 2)) / 2) < 1e-12);
    assert_true(isnan(e.tokens_per_sec));
    bench_eval_set_generation(&e, 1000, 4.0);
    assert_true(e.tokens_per_sec == 250.0);
    cJSON *j = bench_eval_to_json(&e);
    const char *orig[] = {"total_prompts", "total_samples", "compiled", "passed", "compile_rate", "pass_rate",
                          "pass_at_1", "pass_at_k", "avg_reward", "tokens_per_sec", "generation_time_sec",
                          "verification_time_sec", "hardware"};
    for (size_t i = 0; i < sizeof orig / sizeof orig[0]; i++) {
        if (!cJSON_GetObjectItem(j, orig[i])) fail_msg("EvalResult key %s missing", orig[i]);
    }
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "verification_time_sec"))); /* unknown, not 0 */
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "pass_at_k")));       /* a number, as the original's */
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "by_category"), "cat_b"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "pass_at"), "2"));
    cJSON_Delete(j);
    bench_eval_free(&e);
}

static cJSON *make_summary(const char *model, double shift) {
    bench_scored s[8];
    bench_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.model_name = model;
    sum.n_cycles = 2;
    sum.total_time_sec = 2460;
    scored(s, 0);
    bench_eval_compute(s, 8, NULL, 0, &sum.baseline);
    sum.baseline.have_hw = true;
    sum.baseline.hw = fake_hw(NAN, NAN, 10);
    scored(s, shift);
    bench_eval_compute(s, 8, NULL, 0, &sum.final);
    sum.final.have_hw = true;
    sum.final.hw = fake_hw(NAN, NAN, 12.5);
    sum.have_baseline = sum.have_final = true;
    bench_cycle cy[2];
    for (int c = 0; c < 2; c++) {
        bench_cycle_init(&cy[c], c + 1);
        cy[c].generated = cy[c].verified = 128;
        cy[c].kept = 21 - c * 2;
        cy[c].compile_rate = 0.32;
        cy[c].training_loss = 0.444 + c * 0.072;
        cy[c].training_steps = 1;
        cy[c].have_hw = c == 0;
        cy[c].hw = fake_hw(NAN, NAN, 20);
    }
    sum.cycles = cy;
    sum.n_done = 2;
    cJSON *j = bench_summary_to_json(&sum);
    bench_eval_free(&sum.baseline);
    bench_eval_free(&sum.final);
    return j;
}

static void test_summary_schema(void **state) {
    (void)state;
    cJSON *j = make_summary("Qwen/Qwen2.5-Coder-0.5B", 1);
    const char *top[] = {"model_name", "model_short", "n_cycles", "total_time_sec", "baseline", "cycles", "final",
                         "hardware_summary", "improvement"};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!cJSON_GetObjectItem(j, top[i])) fail_msg("summary key %s missing", top[i]);
    assert_string_equal(cJSON_GetObjectItem(j, "model_short")->valuestring, "qwen2-5-coder-0-5b");
    cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "cycles"), 0);
    const char *cyc[] = {"cycle", "generated", "verified", "kept", "compile_rate", "avg_reward", "training_loss",
                         "training_steps", "cycle_time_sec", "hardware"};
    for (size_t i = 0; i < sizeof cyc / sizeof cyc[0]; i++)
        if (!cJSON_GetObjectItem(c1, cyc[i])) fail_msg("cycle key %s missing", cyc[i]);
    cJSON *hs = cJSON_GetObjectItem(j, "hardware_summary");
    const char *hk[] = {"gpu_peak_utilization_pct", "gpu_peak_memory_gb", "sys_peak_memory_gb", "total_energy_wh", "phases"};
    for (size_t i = 0; i < sizeof hk / sizeof hk[0]; i++)
        if (!cJSON_GetObjectItem(hs, hk[i])) fail_msg("hardware_summary key %s missing", hk[i]);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(hs, "gpu_peak_memory_gb"))); /* no GPU: null, not 0 */
    /* energy: baseline 10 + cycle 1 20 + final 12.5 (cycle 2 had no monitor) */
    assert_true(fabs(cJSON_GetObjectItem(hs, "total_energy_wh")->valuedouble - 42.5) < 1e-9);
    cJSON *ph = cJSON_GetObjectItem(hs, "phases");
    assert_non_null(cJSON_GetObjectItem(ph, "baseline"));
    assert_non_null(cJSON_GetObjectItem(ph, "cycle_1"));
    assert_null(cJSON_GetObjectItem(ph, "cycle_2"));
    assert_non_null(cJSON_GetObjectItem(ph, "final"));
    cJSON *hw = cJSON_GetObjectItem(ph, "final");
    const char *hwk[] = {"duration_sec", "samples_count", "gpu", "system"};
    for (size_t i = 0; i < 4; i++) assert_non_null(cJSON_GetObjectItem(hw, hwk[i]));
    cJSON *imp = cJSON_GetObjectItem(j, "improvement");
    assert_true(fabs(cJSON_GetObjectItem(imp, "compile_rate")->valuedouble - 0.125) < 1e-9);
    assert_true(fabs(cJSON_GetObjectItem(imp, "pass_at_1")->valuedouble - 0.125) < 1e-9);

    /* written file parses back to the same document */
    char path[128], err[256];
    snprintf(path, sizeof path, "/tmp/hf_summary_%d.json", (int)getpid());
    assert_int_equal(bench_write_json(path, j, err, sizeof err), 0);
    size_t len;
    char *text = fs_read_file(path, &len);
    assert_true(text[len - 1] == '\n');
    cJSON *back = cJSON_Parse(text);
    assert_true(cJSON_Compare(back, j, 1));
    cJSON_Delete(back);
    free(text);
    unlink(path);
    assert_int_equal(bench_write_json("/nonexistent/x/summary.json", j, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x/summary.json"));
    cJSON_Delete(j);

    char s[64];
    bench_model_short("models/My.Model-1.5B/", s, sizeof s);
    assert_string_equal(s, "my-model-1-5b");
}

static void test_comparison_and_console(void **state) {
    (void)state;
    cJSON *a = make_summary("Qwen/Qwen2.5-Coder-0.5B", 1), *b = make_summary("Qwen/Qwen2.5-Coder-1.5B", 0);
    const cJSON *list[2] = {a, b};
    cJSON *cmp = bench_comparison_to_json(list, 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cmp, "models")), 2);
    cJSON *c = cJSON_GetObjectItem(cmp, "comparison");
    cJSON *base = cJSON_GetObjectItem(c, "baseline_compile_rates");
    assert_true(fabs(cJSON_GetObjectItem(base, "qwen2-5-coder-0-5b")->valuedouble - 0.625) < 1e-9);
    cJSON *imp = cJSON_GetObjectItem(c, "improvements");
    assert_true(cJSON_GetObjectItem(imp, "qwen2-5-coder-1-5b")->valuedouble == 0.0);
    assert_non_null(cJSON_GetObjectItem(c, "final_compile_rates"));
    cJSON_Delete(cmp);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bench_print_summary_table(f, list, 2);
    fclose(f);
    assert_non_null(strstr(buf, "| Model | Baseline Compile | Final Compile | Improvement | pass@1 | Time | Energy |"));
    assert_non_null(strstr(buf, "| Qwen2.5-Coder-0.5B | 62.5% | 75.0% | +12.5% | 38% \xe2\x86\x92 50% | 41 min | 42 Wh |"));
    assert_non_null(strstr(buf, "| Qwen2.5-Coder-1.5B | 62.5% | 62.5% | +0.0% |"));
    free(buf);
    f = open_memstream(&buf, &len);
    bench_print_detailed(f, a);
    fclose(f);
    assert_non_null(strstr(buf, "**Qwen2.5-Coder-0.5B**\n"));
    assert_non_null(strstr(buf, "Baseline: 62.5% compile, 37.5% pass@1\n"));
    assert_non_null(strstr(buf, "Cycle 1:  32.0% compile (kept 21 samples, loss=0.444)\n"));
    assert_non_null(strstr(buf, "Cycle 2:  32.0% compile (kept 19 samples, loss=0.516)\n"));
    assert_non_null(strstr(buf, "Final:    75.0% compile, 50.0% pass@1\n"));
    assert_non_null(strstr(buf, "Peak Memory (RSS): 1.2 GB | Energy: 42.5 Wh\n"));
    free(buf);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_metrics),
        cmocka_unit_test(test_summary_schema),
        cmocka_unit_test(test_comparison_and_console),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
