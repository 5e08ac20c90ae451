/* Unit tests of src/raft: filtering (global, per prompt, no-signal prompts, rescue, buckets),
 * learning rate and warmup per cycle, reward shaping, curriculum strategies and their stats file,
 * raft_statistics.json and resume bookkeeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "raft/curriculum.h"
#include "raft/filter.h"
#include "raft/resume.h"
#include "raft/schedule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/hf_raft_%d", (int)getpid());
    fs_remove_tree(tmp);
    return fs_mkdirs(tmp);
}
static int teardown(void **state) {
    (void)state;
    return fs_remove_tree(tmp);
}

/* prompt 0: 1.0 0.5 0.0 0.7 ; prompt 1: 0.5 0.5 0.3 0.0 ; success = correct output */
static const raft_scored eight[] = {
    {0, 1.0, true}, {0, 0.5, false}, {0, 0.0, false}, {0, 0.7, false},
    {1, 0.5, false}, {1, 0.5, false}, {1, 0.3, false}, {1, 0.0, false},
};

static void test_global_filter_is_the_originals(void **state) {
    (void)state;
    raft_filter_cfg c;
    raft_filter_cfg_default(&c);
    long *kept;
    raft_filter_stats st;
    /* above threshold: 1.0 0.7 0.5 0.5 0.5 -> keep floor(5 x 0.5) = 2 */
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), 2);
    assert_int_equal(kept[0], 0);
    assert_int_equal(kept[1], 3);
    assert_int_equal(st.total_samples, 8);
    assert_int_equal(st.above_threshold, 5);
    assert_true(fabs(st.avg_kept_reward - 0.85) < 1e-12);
    assert_true(fabs(st.avg_reward - 3.5 / 8) < 1e-12);
    assert_true(fabs(st.success_rate - 1.0 / 8) < 1e-12);
    assert_false(st.threshold_adjusted);
    assert_true(st.effective_threshold == 0.5);
    assert_int_equal(st.prompts, 2);
    assert_int_equal(st.prompts_kept, 1); /* the global sort can leave a prompt out entirely */
    free(kept);
    /* every bucket counted once: the 0.3 reward has its own bucket (the original dropped it) */
    long total = 0;
    for (int b = 0; b < RAFT_NBUCKETS; b++) total += st.reward_distribution[b];
    assert_int_equal(total, 8);
    assert_int_equal(st.reward_distribution[0], 2);
    assert_int_equal(st.reward_distribution[1], 1);
    assert_int_equal(st.reward_distribution[2], 3);
    assert_int_equal(st.reward_distribution[3], 1);
    assert_int_equal(st.reward_distribution[4], 1);
    assert_int_equal(raft_reward_bucket(0.875), 3); /* execution partial credit */
    assert_int_equal(raft_reward_bucket(0.2), 1);

    /* keep everything above: best first, ties in input order */
    c.keep_percent = 1.0;
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), 5);
    long want[] = {0, 3, 1, 4, 5};
    for (int i = 0; i < 5; i++) assert_int_equal(kept[i], want[i]);
    free(kept);
    /* at least one when anything is above */
    c.keep_percent = 0.1;
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), 1);
    free(kept);
    /* nothing above: nothing kept */
    c.reward_threshold = 1.1;
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), 0);
    assert_null(kept);
    /* bad configs */
    c.keep_percent = 0;
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), -1);
    c.keep_percent = 1.5;
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), -1);
}

static void test_min_samples_rescue_never_takes_failures(void **state) {
    (void)state;
    raft_filter_cfg c;
    raft_filter_cfg_default(&c);
    c.reward_threshold = 1.1;
    c.min_samples = 3;
    long *kept;
    raft_filter_stats st;
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), 3);
    assert_int_equal(kept[0], 0);
    assert_int_equal(kept[1], 3);
    assert_int_equal(kept[2], 1);
    assert_true(st.threshold_adjusted);
    assert_true(st.effective_threshold == 0.5);
    assert_int_equal(st.rescued, 3);
    free(kept);
    /* asking for more than there are positive rewards: only the 6 positive ones */
    c.min_samples = 100;
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), 6);
    for (int i = 0; i < 6; i++) assert_true(eight[kept[i]].reward > 0);
    assert_true(st.effective_threshold == 0.3);
    free(kept);
    /* all failures: the rescue keeps nothing */
    raft_scored zeros[4] = {{0, 0, false}, {0, 0, false}, {1, 0, false}, {1, 0, false}};
    assert_int_equal(raft_filter(zeros, 4, &c, &kept, &st), 0);
    assert_false(st.threshold_adjusted);
}

static void test_per_prompt_and_no_signal(void **state) {
    (void)state;
    raft_filter_cfg c;
    raft_filter_cfg_default(&c);
    c.mode = RAFT_FILTER_PER_PROMPT;
    long *kept;
    raft_filter_stats st;
    /* prompt 0: 3 above -> 1 kept (the 1.0); prompt 1: 2 above -> 1 kept (the first 0.5) */
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), 2);
    assert_int_equal(kept[0], 0);
    assert_int_equal(kept[1], 4);
    assert_int_equal(st.prompts_kept, 2);
    free(kept);
    raft_filter_mode m;
    assert_int_equal(raft_filter_mode_parse("per-prompt", &m), 0);
    assert_int_equal(m, RAFT_FILTER_PER_PROMPT);
    assert_int_equal(raft_filter_mode_parse("best", &m), -1);

    /* prompt 1 never succeeded: dropped with drop_unsolved */
    c.mode = RAFT_FILTER_GLOBAL;
    c.keep_percent = 1.0;
    c.drop_unsolved = true;
    assert_int_equal(raft_filter(eight, 8, &c, &kept, &st), 3);
    for (int i = 0; i < 3; i++) assert_int_equal(eight[kept[i]].prompt, 0);
    assert_int_equal(st.prompts_unsolved, 1);
    assert_int_equal(st.prompts_dropped, 1);
    assert_int_equal(st.total_samples, 8); /* the cycle's stats still cover every sample */
    free(kept);
    /* a prompt whose samples all succeeded: dropped with drop_solved */
    raft_scored s[] = {{0, 1, true}, {0, 1, true}, {1, 1, true}, {1, 0.5, false}, {2, 0, false}, {2, 0, false}};
    c.drop_unsolved = false;
    c.drop_solved = true;
    assert_int_equal(raft_filter(s, 6, &c, &kept, &st), 2);
    assert_int_equal(kept[0], 2);
    assert_int_equal(kept[1], 3);
    assert_int_equal(st.prompts_solved, 1);
    assert_int_equal(st.prompts_unsolved, 1);
    free(kept);
    /* the rescue does not bring dropped prompts back */
    c.drop_unsolved = true;
    c.min_samples = 10;
    assert_int_equal(raft_filter(s, 6, &c, &kept, &st), 2);
    free(kept);
}

static void test_stats_json_and_statistics_file(void **state) {
    (void)state;
    raft_filter_cfg c;
    raft_filter_cfg_default(&c);
    long *kept;
    raft_filter_stats st;
    raft_filter(eight, 8, &c, &kept, &st);
    free(kept);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "cycle", 2);
    cJSON_AddNumberToObject(e, "elapsed_minutes", 1.5);
    raft_filter_stats_to_json(&st, e);
    const char *orig[] = {"total_samples", "above_threshold", "kept", "avg_reward", "avg_kept_reward", "success_rate",
                          "reward_distribution", "threshold_adjusted", "effective_threshold"};
    for (size_t i = 0; i < sizeof orig / sizeof orig[0]; i++) assert_non_null(cJSON_GetObjectItem(e, orig[i]));
    cJSON *d = cJSON_GetObjectItem(e, "reward_distribution");
    assert_int_equal(cJSON_GetObjectItem(d, "0.3")->valueint, 1);

    char path[512], err[256];
    snprintf(path, sizeof path, "%s/raft_statistics.json", tmp);
    cJSON *arr = raft_statistics_load(path, err, sizeof err);
    assert_int_equal(cJSON_GetArraySize(arr), 0); /* no file yet */
    cJSON_Delete(arr);
    assert_int_equal(raft_statistics_put(path, e, err, sizeof err), 0);
    cJSON_ReplaceItemInObject(e, "cycle", cJSON_CreateNumber(1));
    assert_int_equal(raft_statistics_put(path, e, err, sizeof err), 0);
    cJSON_ReplaceItemInObject(e, "cycle", cJSON_CreateNumber(2));
    cJSON_ReplaceItemInObject(e, "elapsed_minutes", cJSON_CreateNumber(9));
    assert_int_equal(raft_statistics_put(path, e, err, sizeof err), 0); /* a rerun of cycle 2 replaces it */
    arr = raft_statistics_load(path, err, sizeof err);
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "cycle")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "elapsed_minutes")->valueint, 9);
    cJSON_Delete(arr);
    /* a file that is not an array is reported, not overwritten */
    FILE *f = fopen(path, "w");
    fputs("{\"x\": 1}", f);
    fclose(f);
    assert_int_equal(raft_statistics_put(path, e, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    char *text = fs_read_file(path, NULL);
    assert_string_equal(text, "{\"x\": 1}");
    free(text);
    cJSON_DeleteItemFromObject(e, "cycle");
    assert_int_equal(raft_statistics_put(path, e, err, sizeof err), -1);
    cJSON_Delete(e);
}

static void test_learning_rate_and_warmup(void **state) {
    (void)state;
    assert_true(raft_cycle_lr(5e-5, 0.85, 1, 1e-6) == 5e-5);
    assert_true(fabs(raft_cycle_lr(5e-5, 0.85, 3, 1e-6) - 5e-5 * 0.85 * 0.85) < 1e-18);
    assert_true(raft_cycle_lr(5e-5, 0.85, 40, 1e-6) == 1e-6);
    /* warmup cannot take a short cycle */
    assert_int_equal(raft_cycle_warmup(10, 1), 0);
    assert_int_equal(raft_cycle_warmup(10, 3), 0);
    assert_int_equal(raft_cycle_warmup(10, 32), 8);
    assert_int_equal(raft_cycle_warmup(10, 100), 10);
    assert_int_equal(raft_cycle_warmup(0, 100), 0);
    /* one-step cycle trains at the full rate (the original's first step had LR 0) */
    assert_true(raft_step_lr(1e-4, 0, 1, raft_cycle_warmup(10, 1)) == 1e-4);
    for (long total = 1; total <= 64; total++) {
        long w = raft_cycle_warmup(10, total);
        double prev = 0;
        for (long s = 0; s < total; s++) {
            double lr = raft_step_lr(1e-4, s, total, w);
            assert_true(lr > 0 && lr <= 1e-4 + 1e-18);
            if (s < w) assert_true(lr > prev); /* rising during warmup */
            if (s == w) assert_true(lr == 1e-4); /* peak right after */
            if (s > w) assert_true(lr < prev); /* then decaying */
            prev = lr;
        }
    }
    assert_true(raft_cycle_temperature(0.7, NAN, NAN, 3, 5) == 0.7);
    assert_true(raft_cycle_temperature(0.7, 1.0, 0.5, 1, 5) == 1.0);
    assert_true(fabs(raft_cycle_temperature(0.7, 1.0, 0.5, 3, 5) - 0.75) < 1e-12);
    assert_true(raft_cycle_temperature(0.7, 1.0, 0.5, 5, 5) == 0.5);
    assert_true(raft_cycle_temperature(0.7, 1.0, 0.5, 1, 1) == 1.0);
    assert_int_equal(raft_cycle_steps(21, 2, 16, 1), 1);
    assert_int_equal(raft_cycle_steps(64, 2, 16, 1), 2);
    assert_int_equal(raft_cycle_steps(65, 2, 16, 2), 6);
    assert_int_equal(raft_cycle_steps(0, 2, 16, 1), 0);
}

static void test_reward_shaping(void **state) {
    (void)state;
    raft_shaper sh;
    double t, k;
    raft_shaping_kind kind;
    assert_int_equal(raft_shaping_parse("annealing", &kind), 0);
    assert_int_equal(raft_shaping_parse("linear", &kind), -1);

    raft_shaper_init(&sh, RAFT_SHAPING_FIXED, 0.5, 0.5, 5);
    raft_shaper_values(&sh, 1, &t, &k);
    assert_true(t == 0.5 && k == 0.5);

    raft_shaper_init(&sh, RAFT_SHAPING_WARMUP, 0.5, 0.5, 5);
    raft_shaper_values(&sh, 1, &t, &k);
    assert_true(t == 0.1 && k == 0.8);
    raft_shaper_values(&sh, 2, &t, &k);
    assert_true(t == 0.5 && k == 0.5);

    raft_shaper_init(&sh, RAFT_SHAPING_ANNEALING, 0.5, 0.5, 5);
    raft_shaper_values(&sh, 1, &t, &k);
    assert_true(fabs(t - 0.1) < 1e-12 && fabs(k - 0.8) < 1e-12);
    raft_shaper_values(&sh, 3, &t, &k);
    assert_true(fabs(t - 0.3) < 1e-12 && fabs(k - 0.65) < 1e-12);
    raft_shaper_values(&sh, 5, &t, &k);
    assert_true(t == 0.5 && k == 0.5);
    raft_shaper_init(&sh, RAFT_SHAPING_ANNEALING, 0.5, 0.5, 1); /* one cycle: no division by zero */
    raft_shaper_values(&sh, 1, &t, &k);
    assert_true(t == 0.5 && k == 0.5);

    raft_shaper_init(&sh, RAFT_SHAPING_ADAPTIVE, 0.5, 0.5, 5);
    raft_shaper_values(&sh, 1, &t, &k);
    assert_true(t == 0.1 && k == 0.8);
    assert_true(raft_shaper_update(&sh, 1, 10, 0.5)); /* few kept: easier */
    raft_shaper_values(&sh, 2, &t, &k);
    assert_true(fabs(t - 0.4) < 1e-12 && fabs(k - 0.6) < 1e-12);
    assert_false(raft_shaper_update(&sh, 1, 10, 0.5)); /* once per cycle */
    raft_shaper_values(&sh, 2, &t, &k);
    assert_true(fabs(t - 0.4) < 1e-12);
    assert_true(raft_shaper_update(&sh, 2, 100, 0.6)); /* doing well: harder */
    raft_shaper_values(&sh, 3, &t, &k);
    assert_true(fabs(t - 0.5) < 1e-12 && fabs(k - 0.55) < 1e-12);
    assert_true(raft_shaper_update(&sh, 3, 100, 0.3)); /* on target: unchanged */
    raft_shaper_values(&sh, 4, &t, &k);
    assert_true(fabs(t - 0.5) < 1e-12 && fabs(k - 0.55) < 1e-12);
    for (int c = 4; c < 30; c++) raft_shaper_update(&sh, c, 0, 0.0);
    raft_shaper_values(&sh, 30, &t, &k);
    assert_true(fabs(t - 0.1) < 1e-9 && k == 1.0); /* floors and caps hold */
}

static void test_complexity_score(void **state) {
    (void)state;
    /* 58 chars; keywords print(1) hello(1) write(2); a quoted string; no digit */
    double c = raft_complexity("Write a C++ program that prints 'Hello, World!' to stdout.");
    assert_true(fabs(c - (0.3 * 58 / 500.0 + 0.4 * 4 / 15.0 + 0.3 * 0.1)) < 1e-12);
    double hard = raft_complexity("Write a thread-safe async socket server with a mutex; handle every error, it must be "
                                  "efficient and you should test it on 10 clients. Encrypt traffic, hook the callback.");
    assert_true(hard > 0.6 && hard <= 1.0);
    assert_true(raft_complexity("") == 0.0);
    assert_true(raft_complexity("PRINT") == raft_complexity("print")); /* case-insensitive */
}

static const char *const texts[] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"};

static void set_complexities(raft_curriculum *cur) {
    double cx[10] = {0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0};
    for (int i = 0; i < 10; i++) cur->stats[i].complexity = cx[i];
}

static void test_curriculum_strategies(void **state) {
    (void)state;
    raft_curriculum cur;
    size_t idx[10];
    raft_curriculum_kind kind;
    assert_int_equal(raft_curriculum_parse("progressive", &kind), 0);
    assert_int_equal(raft_curriculum_parse("random", &kind), -1);

    assert_int_equal(raft_curriculum_init(&cur, RAFT_CURRICULUM_NONE, texts, 10), 0);
    set_complexities(&cur);
    assert_int_equal(raft_curriculum_select(&cur, 3, idx), 10);
    for (size_t i = 0; i < 10; i++) assert_int_equal(idx[i], i);
    cur.kind = RAFT_CURRICULUM_COMPLEXITY;
    assert_int_equal(raft_curriculum_select(&cur, 1, idx), 10);
    assert_int_equal(idx[0], 9);
    assert_int_equal(idx[9], 0);
    for (int i = 1; i < 10; i++) assert_true(cur.stats[idx[i - 1]].complexity <= cur.stats[idx[i]].complexity);

    cur.kind = RAFT_CURRICULUM_PROGRESSIVE;
    assert_int_equal(raft_curriculum_select(&cur, 1, idx), 2);
    assert_int_equal(idx[0], 9);
    assert_int_equal(idx[1], 1);
    assert_int_equal(raft_curriculum_select(&cur, 2, idx), 4);
    assert_int_equal(raft_curriculum_select(&cur, 5, idx), 10);
    assert_int_equal(raft_curriculum_select(&cur, 9, idx), 10);
    assert_int_equal(raft_curriculum_cycles_to_full(0.2, 0.2), 5);
    assert_int_equal(raft_curriculum_cycles_to_full(0.1, 0.1), 10);
    assert_int_equal(raft_curriculum_cycles_to_full(0.05, 0.05), 20);

    cur.kind = RAFT_CURRICULUM_ADAPTIVE;
    assert_int_equal(raft_curriculum_select(&cur, 1, idx), 5); /* the easier half */
    for (int i = 0; i < 5; i++) assert_true(cur.stats[idx[i]].complexity <= 0.4);
    assert_true(raft_curriculum_update(&cur, 1, 0.9));
    assert_true(fabs(cur.difficulty - 0.65) < 1e-12);
    assert_false(raft_curriculum_update(&cur, 1, 0.9)); /* the original moved it twice per cycle */
    assert_true(fabs(cur.difficulty - 0.65) < 1e-12);
    size_t n = raft_curriculum_select(&cur, 2, idx);
    assert_int_equal(n, 6); /* 0.4 .. 0.9 */
    for (size_t i = 0; i < n; i++) assert_true(fabs(cur.stats[idx[i]].complexity - 0.65) <= 0.3 + 1e-12);
    /* asking twice gives the same: selection does not move the difficulty */
    assert_int_equal(raft_curriculum_select(&cur, 2, idx), 6);
    raft_curriculum_update(&cur, 2, 0.1);
    raft_curriculum_update(&cur, 3, 0.1);
    assert_true(fabs(cur.difficulty - 0.35) < 1e-12);
    for (int c = 4; c < 20; c++) raft_curriculum_update(&cur, c, 0.0);
    assert_true(cur.difficulty == 0.0); /* kept within [0, 1] */
    assert_int_equal(raft_curriculum_select(&cur, 20, idx), 4); /* 0.0 .. 0.3: 4 >= n/4 */
    raft_curriculum_free(&cur);
}

static void test_curriculum_stats_file_and_historical(void **state) {
    (void)state;
    raft_curriculum cur;
    assert_int_equal(raft_curriculum_init(&cur, RAFT_CURRICULUM_ADAPTIVE, texts, 4), 0);
    raft_curriculum_record(&cur, 0, 8, 2);
    raft_curriculum_record(&cur, 1, 8, 8);
    raft_curriculum_record(&cur, 0, 8, 0); /* a second cycle adds up */
    raft_scored cyc[] = {{3, 1, true}, {3, 0, false}, {3, 1, true}, {3, 0.5, false}, {7, 1, true}};
    raft_curriculum_record_samples(&cur, cyc, 4);
    raft_curriculum_record_samples(&cur, cyc, 4);
    raft_curriculum_record_samples(&cur, cyc + 4, 1); /* out of range: ignored */
    raft_curriculum_update(&cur, 1, 0.9);
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/curriculum_stats.json", tmp);
    assert_int_equal(raft_curriculum_save(&cur, path, err, sizeof err), 0);
    raft_curriculum_free(&cur);

    char *text = fs_read_file(path, NULL);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cJSON *ps = cJSON_GetObjectItem(root, "prompt_stats");
    assert_int_equal(cJSON_GetArraySize(ps), 4);
    cJSON *p0 = cJSON_GetArrayItem(ps, 0);
    assert_string_equal(cJSON_GetObjectItem(p0, "prompt")->valuestring, "p0");
    assert_int_equal(cJSON_GetObjectItem(p0, "attempts")->valueint, 16);
    assert_true(fabs(cJSON_GetObjectItem(p0, "success_rate")->valuedouble - 0.125) < 1e-12); /* recorded, not 0 */
    assert_non_null(cJSON_GetObjectItem(p0, "complexity"));
    cJSON_Delete(root);

    /* historical: highest success first; never attempted counts 0.5 */
    assert_int_equal(raft_curriculum_init(&cur, RAFT_CURRICULUM_HISTORICAL, texts, 4), 0);
    assert_int_equal(raft_curriculum_load(&cur, path, false, err, sizeof err), 4);
    size_t idx[4];
    assert_int_equal(raft_curriculum_select(&cur, 1, idx), 4);
    assert_int_equal(idx[0], 1); /* 1.0 */
    assert_int_equal(idx[1], 2); /* unknown: 0.5, before p3 by file order */
    assert_int_equal(idx[2], 3); /* 0.5 */
    assert_int_equal(idx[3], 0); /* 0.125 */
    assert_int_equal(cur.stats[0].attempts, 0); /* not restored without restore */
    raft_curriculum_free(&cur);

    /* restore (resuming our own run) brings the counts and the difficulty back */
    assert_int_equal(raft_curriculum_init(&cur, RAFT_CURRICULUM_ADAPTIVE, texts, 4), 0);
    assert_int_equal(raft_curriculum_load(&cur, path, true, err, sizeof err), 4);
    assert_int_equal(cur.stats[0].attempts, 16);
    assert_int_equal(cur.stats[0].successes, 2);
    assert_true(fabs(cur.difficulty - 0.65) < 1e-12);
    assert_false(raft_curriculum_update(&cur, 1, 0.9));
    raft_curriculum_free(&cur);

    /* no stats file: historical falls back to complexity order */
    const char *two[] = {"Write a thread pool with a mutex and sockets", "print hi"};
    assert_int_equal(raft_curriculum_init(&cur, RAFT_CURRICULUM_HISTORICAL, two, 2), 0);
    assert_int_equal(raft_curriculum_load(&cur, "/nonexistent/cs.json", false, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/cs.json"));
    raft_curriculum_select(&cur, 1, idx);
    assert_int_equal(idx[0], 1);
    raft_curriculum_free(&cur);
}

static void touch(const char *rel, const char *text) {
    char path[1024], dir[1024];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    fs_mkdirs(dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_resume_stages(void **state) {
    (void)state;
    char out[512], err[256];
    snprintf(out, sizeof out, "%s/run", tmp);
    fs_mkdirs(out);
    raft_cycle_state st;
    assert_int_equal(raft_resume_first_cycle(out, 3), 1);
    assert_int_equal(raft_resume_cycle(out, 1, 16, &st, err, sizeof err), 0);
    assert_int_equal(st.stage, RAFT_STAGE_GENERATE);
    assert_int_equal(st.samples_done, 0);
    assert_false(st.samples_file);

    touch("run/cycle_1_samples.jsonl", "{\"a\":1}\n{\"a\":2}\n");
    touch("run/cycle_1_verified.jsonl", "{\"a\":1,\"reward\":1}\n");
    touch("run/cycle_1_final/config.json", "{}");
    touch("run/cycle_2_verified.jsonl", "");
    touch("run/cycle_2_final.tmp/adapter_config.json", "{}"); /* unfinished rename: not done */
    touch("run/cycle_3_samples.jsonl", "{\"i\":0}\n\n{\"i\":1}\n{\"i\":2}\n{\"i\":3, \"cut");
    touch("run/cycle_3_final/README", "no weights");

    assert_int_equal(raft_resume_first_cycle(out, 3), 2);
    assert_true(raft_cycle_trained(out, 1));
    assert_int_equal(raft_resume_cycle(out, 1, 2, &st, err, sizeof err), 0);
    assert_int_equal(st.stage, RAFT_STAGE_DONE);
    assert_int_equal(raft_resume_cycle(out, 2, 2, &st, err, sizeof err), 0);
    assert_int_equal(st.stage, RAFT_STAGE_TRAIN);
    assert_int_equal(raft_resume_cycle(out, 3, 3, &st, err, sizeof err), 0);
    assert_false(st.trained); /* a final folder without weights */
    assert_int_equal(st.samples_done, 3);
    assert_int_equal(st.stage, RAFT_STAGE_VERIFY);
    assert_int_equal(raft_resume_cycle(out, 3, 8, &st, err, sizeof err), 0);
    assert_int_equal(st.stage, RAFT_STAGE_GENERATE);
    assert_int_equal(raft_resume_cycle(out, 3, 0, &st, err, sizeof err), 0);
    assert_int_equal(st.stage, RAFT_STAGE_GENERATE); /* unknown size: never complete by itself */
    touch("run/cycle_4_samples.jsonl", "{\"prompt_id\":\"b\"}\n{\"prompt_id\":\"a\"}\n{\"prompt_id\":\"b\"}\n"
                                        "{\"prompt_id\":\"zz\"}\n{\"prompt_id\":\"a\"}\n{\"prompt_id\":\"a\", \"cut");
    assert_int_equal(raft_resume_cycle(out, 4, 6, &st, err, sizeof err), 0);
    assert_int_equal(st.samples_done, 5);
    touch("run/cycle_2_final/adapter_config.json", "{}");
    touch("run/cycle_3_final/adapter_config.json", "{}");
    assert_int_equal(raft_resume_first_cycle(out, 3), 4);
    char p[600];
    assert_non_null(raft_cycle_path(p, sizeof p, "o", 12, RAFT_FILE_VERIFIED));
    assert_string_equal(p, "o/cycle_12_verified.jsonl");
    assert_null(raft_cycle_path(p, 8, "o", 12, RAFT_FILE_VERIFIED));
    assert_string_equal(raft_stage_name(RAFT_STAGE_VERIFY), "verify");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global_filter_is_the_originals),
        cmocka_unit_test(test_min_samples_rescue_never_takes_failures),
        cmocka_unit_test(test_per_prompt_and_no_signal),
        cmocka_unit_test(test_stats_json_and_statistics_file),
        cmocka_unit_test(test_learning_rate_and_warmup),
        cmocka_unit_test(test_reward_shaping),
        cmocka_unit_test(test_complexity_score),
        cmocka_unit_test(test_curriculum_strategies),
        cmocka_unit_test(test_curriculum_stats_file_and_historical),
        cmocka_unit_test(test_resume_stages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
