/* Unit tests of streaming verification (vf_stream_*) and of cancelling verification: a stream gives
 * the same verdicts as verifying each sample alone, in submission order, compiling identical sources
 * once even when they arrive while the first compile runs; a cancel flag stops a batch of endless
 * programs within seconds and leaves no process and no sandbox directory behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/timing.h"
#include "verify/sbx.h"
#include "verify/verify.h"

#include "sandbox_leaks.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double slack(void) { return getenv("HF_SANITIZED") ? 3.0 : 1.0; }

static bool have_gcc(void) {
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    char path[512];
    return vf_find_tool(&cfg, VF_LANG_C, path, sizeof path);
}

typedef struct {
    int calls;
    size_t max_index;
} seen;

static void on_result(void *user, size_t index, const vf_result *r) {
    seen *s = user;
    (void)r;
    s->calls++;
    if (index > s->max_index) s->max_index = index;
}

static void test_stream_matches_single_verification(void **state) {
    (void)state;
    if (!have_gcc()) skip();
    const char *codes[] = {
        "```c\n#include <stdio.h>\nint main(void){ puts(\"A\"); return 0; }\n```",
        "```c\n#include <stdio.h>\nint main(void){ puts(\"B\"); return 0; }\n```",
        "int main( {",
        "```python\nprint('A')\n```",
    };
    enum { N = 14 };
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.workers = 3;
    char err[256];
    seen sn = {0};
    vf_stream *s = vf_stream_start(&cfg, on_result, &sn, err, sizeof err);
    assert_non_null(s);
    vf_sample smp[N];
    memset(smp, 0, sizeof smp);
    for (int i = 0; i < N; i++) {
        /* the stream copies the sample: hand it a buffer that is overwritten right after */
        char completion[256], expected[8];
        snprintf(completion, sizeof completion, "%s", codes[i % 4]);
        snprintf(expected, sizeof expected, "%s", (i % 2) ? "A" : "B");
        vf_sample one = {.completion = completion, .expected_output = expected};
        assert_int_equal(vf_stream_submit(s, &one), i);
        memset(completion, 'x', sizeof completion - 1);
        completion[sizeof completion - 1] = 0;
        smp[i].completion = codes[i % 4];
        smp[i].expected_output = (i % 2) ? "A" : "B";
        if (i == 5) usleep(200000); /* let some finish while more arrive */
    }
    vf_result *res = NULL;
    size_t n = 0;
    assert_int_equal(vf_stream_finish(s, &res, &n), 0);
    assert_int_equal(n, N);
    assert_int_equal(sn.calls, N);
    assert_int_equal(sn.max_index, N - 1);
    int cached = 0;
    for (int i = 0; i < N; i++) {
        vf_result one;
        assert_int_equal(vf_verify(&cfg, &smp[i], &one, err, sizeof err), 0);
        assert_int_equal(res[i].status, one.status);
        assert_true(res[i].reward == one.reward);
        cached += res[i].compile_cached;
        vf_result_free(&one);
        vf_result_free(&res[i]);
    }
    free(res);
    /* 3 compiled sources (the python one is refused before compiling): each compiled once */
    assert_int_equal(cached, N - (N + 1) / 4 - 3);
    assert_int_equal(our_temp_dirs(), 0);
}

static void test_stream_empty_and_bad_config(void **state) {
    (void)state;
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    char err[256];
    vf_stream *s = vf_stream_start(&cfg, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    vf_result *res = (vf_result *)1;
    size_t n = 7;
    assert_int_equal(vf_stream_finish(s, &res, &n), 0);
    assert_null(res);
    assert_int_equal(n, 0);
    cfg.kind = VF_CUSTOM;
    cfg.custom_command = NULL;
    err[0] = 0;
    assert_null(vf_stream_start(&cfg, NULL, NULL, err, sizeof err));
    assert_true(err[0] != 0);
}

static volatile int g_cancel;

static void *raise_cancel(void *arg) {
    usleep((useconds_t)(*(double *)arg * 1e6));
    g_cancel = 1;
    return NULL;
}

static const char *SPIN = "```c\nint main(void){ volatile unsigned long x = 0; for (;;) x++; }\n```";
static const char *SLEEPER = "```c\n#include <unistd.h>\nint main(void){ for (;;) sleep(1); }\n```";

static void test_batch_cancel_stops_fast_and_cleans_up(void **state) {
    (void)state;
    if (!have_gcc()) skip();
    enum { N = 6 };
    vf_sample s[N];
    memset(s, 0, sizeof s);
    char codes[N][128];
    for (int i = 0; i < N; i++) {
        /* distinct sources: several compiles and runs are in flight when the flag rises */
        snprintf(codes[i], sizeof codes[i], "%s// %d\n", i % 2 ? SPIN : SLEEPER, i);
        s[i].completion = codes[i];
        s[i].expected_output = "never";
    }
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.run_timeout_s = 120;
    cfg.workers = 3;
    g_cancel = 0;
    cfg.cancel = &g_cancel;
    vf_result r[N];
    char err[256];
    double delay = 1.5 * slack();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, raise_cancel, &delay), 0);
    double t0 = time_now();
    int rc = vf_verify_batch(&cfg, s, N, r, NULL, NULL, err, sizeof err);
    double took = time_now() - t0;
    pthread_join(th, NULL);
    assert_int_equal(rc, 1);
    assert_true(took < delay + 3.0 * slack());
    int cancelled = 0;
    for (int i = 0; i < N; i++) {
        assert_true(r[i].status != VF_CORRECT);
        if (r[i].status == VF_SANDBOX_ERROR && strstr(r[i].error, "cancelled")) cancelled++;
        vf_result_free(&r[i]);
    }
    assert_int_equal(cancelled, N); /* none could finish: every program runs forever */
    assert_int_equal(child_processes(), 0);
    assert_int_equal(sandbox_processes_settled(), 0);
    assert_int_equal(our_temp_dirs(), 0);

    /* a flag already set: nothing starts */
    t0 = time_now();
    assert_int_equal(vf_verify_batch(&cfg, s, N, r, NULL, NULL, err, sizeof err), 1);
    assert_true(time_now() - t0 < 1.0 * slack());
    for (int i = 0; i < N; i++) vf_result_free(&r[i]);
    g_cancel = 0;
}

typedef struct {
    vf_stream *s;
    double delay;
} canceller;

static void *cancel_stream(void *arg) {
    canceller *c = arg;
    usleep((useconds_t)(c->delay * 1e6));
    vf_stream_cancel(c->s);
    return NULL;
}

static void test_stream_cancel_while_running(void **state) {
    (void)state;
    if (!have_gcc()) skip();
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.run_timeout_s = 120;
    cfg.workers = 2;
    char err[256];
    vf_stream *s = vf_stream_start(&cfg, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    for (int i = 0; i < 4; i++) {
        vf_sample one = {.completion = SLEEPER, .expected_output = "x"};
        assert_int_equal(vf_stream_submit(s, &one), i);
    }
    canceller c = {s, 1.5 * slack()};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_stream, &c), 0);
    double t0 = time_now();
    vf_result *res;
    size_t n;
    assert_int_equal(vf_stream_finish(s, &res, &n), 1);
    assert_true(time_now() - t0 < c.delay + 3.0 * slack());
    pthread_join(th, NULL);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(res[i].status, VF_SANDBOX_ERROR);
        vf_result_free(&res[i]);
    }
    free(res);
    assert_int_equal(child_processes(), 0);
    assert_int_equal(our_temp_dirs(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_matches_single_verification),
        cmocka_unit_test(test_stream_empty_and_bad_config),
        cmocka_unit_test(test_batch_cancel_stops_fast_and_cleans_up),
        cmocka_unit_test(test_stream_cancel_while_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
