/* Unit tests of src/bench/passk: the unbiased pass@k estimator against values worked out by hand
 * and by an independent formula, and its aggregation per prompt and category. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/passk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 1 - C(n-c,k)/C(n,k) through log-gamma: an independent way to the same number. */
static double by_lgamma(long n, long c, long k) {
    if (n - c < k) return 1.0;
    double l = lgamma((double)(n - c + 1)) - lgamma((double)(n - c - k + 1)) - lgamma((double)(n + 1)) +
               lgamma((double)(n - k + 1));
    return 1.0 - exp(l);
}

static void test_known_values(void **state) {
    (void)state;
    /* n=10, c=3: pass@1 = 3/10; pass@5 = 1 - C(7,5)/C(10,5) = 1 - 21/252; pass@10 = 1 */
    assert_true(fabs(pk_estimate(10, 3, 1) - 0.3) < 1e-12);
    assert_true(fabs(pk_estimate(10, 3, 5) - (1.0 - 21.0 / 252.0)) < 1e-12);
    assert_true(pk_estimate(10, 3, 10) == 1.0);
    /* pass@2 = 1 - C(7,2)/C(10,2) = 1 - 21/45 */
    assert_true(fabs(pk_estimate(10, 3, 2) - (1.0 - 21.0 / 45.0)) < 1e-12);
    /* nothing correct: 0 for every k; everything correct: 1 for every k */
    for (long k = 1; k <= 10; k++) {
        assert_true(pk_estimate(10, 0, k) == 0.0);
        assert_true(pk_estimate(10, 10, k) == 1.0);
    }
    /* pass@1 is always c/n */
    for (long c = 0; c <= 8; c++) assert_true(fabs(pk_estimate(8, c, 1) - (double)c / 8.0) < 1e-12);
    /* one correct of 200, k = 100: exactly one half */
    assert_true(fabs(pk_estimate(200, 1, 100) - 0.5) < 1e-12);
}

static void test_big_n_is_stable(void **state) {
    (void)state;
    /* C(1000, 500) overflows a double; the product form does not need it */
    long cases[][3] = {{1000, 500, 50}, {1000, 3, 100}, {5000, 1, 1}, {100000, 10, 1000}, {2000, 1999, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = pk_estimate(cases[i][0], cases[i][1], cases[i][2]);
        double ref = by_lgamma(cases[i][0], cases[i][1], cases[i][2]);
        assert_true(v >= 0.0 && v <= 1.0);
        assert_true(fabs(v - ref) < 1e-9);
    }
    /* increasing in k and in c */
    double prev = 0;
    for (long k = 1; k <= 50; k++) {
        double v = pk_estimate(50, 5, k);
        assert_true(v >= prev);
        prev = v;
    }
}

static void test_undefined_cases(void **state) {
    (void)state;
    assert_true(isnan(pk_estimate(5, 1, 6))); /* k > n: no unbiased estimate */
    assert_true(isnan(pk_estimate(5, 1, 0)));
    assert_true(isnan(pk_estimate(5, 6, 1)));
    assert_true(isnan(pk_estimate(5, -1, 1)));
}

static void test_tally_per_prompt_and_category(void **state) {
    (void)state;
    pk_tally t;
    pk_tally_init(&t);
    /* a: 4 samples, 1 correct (cat x); b: 4 samples, 4 correct (cat x); c: 4 samples, 0 correct (no category) */
    for (int i = 0; i < 4; i++) {
        assert_true(pk_tally_add(&t, "a", "x", i == 2) == 0);
        assert_true(pk_tally_add(&t, "b", "x", true) == 1);
        assert_true(pk_tally_add(&t, "c", NULL, false) == 2);
    }
    assert_int_equal(t.count, 3);
    assert_string_equal(t.prompts[2].category, "unknown");
    assert_int_equal(pk_tally_min_n(&t), 4);
    double p1 = pk_tally_pass_at_k(&t, NULL, 1);
    assert_true(fabs(p1 - (0.25 + 1.0 + 0.0) / 3.0) < 1e-12);
    double p2x = pk_tally_pass_at_k(&t, "x", 2);
    assert_true(fabs(p2x - (pk_estimate(4, 1, 2) + 1.0) / 2.0) < 1e-12);
    assert_true(isnan(pk_tally_pass_at_k(&t, NULL, 5)));
    assert_true(isnan(pk_tally_pass_at_k(&t, "nope", 1)));

    long ks[] = {1, 2, 8};
    cJSON *j = pk_tally_to_json(&t, ks, 3);
    assert_int_equal(cJSON_GetObjectItem(j, "total")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(j, "passed")->valueint, 2);
    assert_true(fabs(cJSON_GetObjectItem(j, "pass_rate")->valuedouble - 0.6667) < 1e-9);
    cJSON *pk = cJSON_GetObjectItem(j, "pass_at_k");
    assert_non_null(cJSON_GetObjectItem(pk, "1"));
    assert_non_null(cJSON_GetObjectItem(pk, "2"));
    assert_null(cJSON_GetObjectItem(pk, "8")); /* k > n is not estimated ... */
    cJSON *sk = cJSON_GetObjectItem(j, "skipped_k");
    assert_int_equal(cJSON_GetArraySize(sk), 1); /* ... but said so */
    assert_int_equal(cJSON_GetArrayItem(sk, 0)->valueint, 8);
    cJSON *cats = cJSON_GetObjectItem(j, "by_category");
    assert_int_equal(cJSON_GetArraySize(cats), 2);
    cJSON *x = cJSON_GetObjectItem(cats, "x");
    assert_int_equal(cJSON_GetObjectItem(x, "total")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(x, "passed")->valueint, 2);
    assert_non_null(cJSON_GetObjectItem(cats, "unknown"));
    assert_int_equal(cJSON_GetObjectItem(j, "samples_per_prompt")->valueint, 4);
    cJSON_Delete(j);

    /* uneven sample counts: only k <= the smallest n */
    pk_tally_add(&t, "d", "y", true);
    assert_int_equal(pk_tally_min_n(&t), 1);
    assert_int_equal(pk_tally_max_n(&t), 4);
    j = pk_tally_to_json(&t, ks, 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "pass_at_k")), 1);
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(j, "samples_per_prompt")));
    cJSON_Delete(j);
    pk_tally_free(&t);
}

static void test_parse_ks(void **state) {
    (void)state;
    long ks[8];
    char err[128];
    assert_int_equal(pk_parse_ks("10,1,5,5", ks, 8, err, sizeof err), 3);
    assert_true(ks[0] == 1 && ks[1] == 5 && ks[2] == 10);
    assert_int_equal(pk_parse_ks("0", ks, 8, err, sizeof err), -1);
    assert_int_equal(pk_parse_ks("1,x", ks, 8, err, sizeof err), -1);
    assert_non_null(strstr(err, "positive integers"));
    assert_int_equal(pk_parse_ks("", ks, 8, err, sizeof err), -1);
    assert_int_equal(pk_parse_ks("1,2,3", ks, 2, err, sizeof err), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_big_n_is_stable),
        cmocka_unit_test(test_undefined_cases),
        cmocka_unit_test(test_tally_per_prompt_and_category),
        cmocka_unit_test(test_parse_ks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
