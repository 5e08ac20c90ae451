/* Unit tests of the sampler (src/generate/sampler.c): greedy, exact top-k / top-p supports against
 * a brute-force sort, frequencies of draws against the expected distribution, seeded streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "generate/sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double p;
    int id;
} ranked;

static int cmp_ranked(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->p != b->p) return a->p > b->p ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Logits with a realistic spread and some exact ties. */
static void make_logits(float *l, int v, uint64_t seed) {
    rng_state r;
    rng_seed(&r, seed);
    for (int i = 0; i < v; i++) l[i] = (float)(rng_normal(&r) * 3.0);
    for (int i = 0; i + 7 < v; i += 97) l[i + 7] = l[i]; /* ties */
}

/* Brute force: full sort by (prob desc, id asc), softmax in double, then top-k and top-p cuts.
 * Writes the kept ids (sorted) and returns their count. *ambiguous is set when the top-p cut lies
 * within rounding distance of the target, where float and double may disagree. */
static int reference_support(const float *l, int v, const gen_sampling *p, int *ids, double *probs, bool *ambiguous) {
    ranked *r = malloc((size_t)v * sizeof *r);
    double maxv = -INFINITY;
    for (int i = 0; i < v; i++)
        if (isfinite(l[i]) && l[i] > maxv) maxv = l[i];
    int n = 0;
    for (int i = 0; i < v; i++)
        if (isfinite(l[i])) r[n++] = (ranked){exp((l[i] - maxv) / p->temperature), i};
    qsort(r, (size_t)n, sizeof *r, cmp_ranked);
    int k = p->top_k > 0 && p->top_k < n ? p->top_k : n;
    double total = 0;
    for (int i = 0; i < k; i++) total += r[i].p;
    int m = k;
    *ambiguous = false;
    if (p->top_p < 1.0f) {
        double target = p->top_p * total, acc = 0;
        for (int i = 0; i < k; i++) {
            double before = acc;
            acc += r[i].p;
            if (acc >= target) {
                m = i + 1;
                if (fabs(acc - target) < 1e-6 * total || fabs(before - target) < 1e-6 * total) *ambiguous = true;
                break;
            }
        }
    }
    double mass = 0;
    for (int i = 0; i < m; i++) mass += r[i].p;
    double *by_id = calloc((size_t)v, sizeof *by_id);
    for (int i = 0; i < m; i++) {
        ids[i] = r[i].id;
        by_id[r[i].id] = r[i].p / mass;
    }
    qsort(ids, (size_t)m, sizeof *ids, cmp_int);
    for (int i = 0; i < m; i++) probs[i] = by_id[ids[i]];
    free(by_id);
    free(r);
    return m;
}

static void check_support(gen_sampler *s, const float *l, int v, gen_sampling p, int *tested) {
    int *ids = malloc((size_t)v * sizeof *ids), *ref = malloc((size_t)v * sizeof *ref);
    double *pr = malloc((size_t)v * sizeof *pr), *refp = malloc((size_t)v * sizeof *refp);
    bool amb;
    int nref = reference_support(l, v, &p, ref, refp, &amb);
    int n = gen_sample_support(s, l, &p, ids, pr);
    if (!amb) {
        assert_int_equal(n, nref);
        for (int i = 0; i < n; i++) {
            assert_int_equal(ids[i], ref[i]);
            assert_true(fabs(pr[i] - refp[i]) < 1e-5 * (refp[i] + 1e-3));
        }
        (*tested)++;
    }
    free(ids);
    free(ref);
    free(pr);
    free(refp);
}

static void test_greedy_is_argmax_with_lowest_id_on_ties(void **state) {
    (void)state;
    gen_sampler *s = gen_sampler_create(8);
    float l[8] = {0.5f, 2.0f, -1.0f, 2.0f, NAN, 1.0f, -INFINITY, 0.0f};
    gen_sampling g = {0.0f, 1.0f, 0};
    rng_state r;
    rng_seed(&r, 1);
    rng_state before = r;
    assert_int_equal(gen_sample(s, l, &g, &r), 1);
    assert_memory_equal(&before, &r, sizeof r); /* greedy draws nothing */
    gen_sampling k1 = {0.9f, 1.0f, 1};        /* top-k 1 is greedy too */
    assert_int_equal(gen_sample(s, l, &k1, &r), 1);
    l[1] = NAN;
    assert_int_equal(gen_sample(s, l, &g, &r), 3);
    float none[8] = {NAN, -INFINITY, NAN, NAN, -INFINITY, NAN, NAN, NAN};
    assert_int_equal(gen_sample(s, none, &g, &r), -1);
    gen_sampling t = {1.0f, 0.9f, 0};
    assert_int_equal(gen_sample(s, none, &t, &r), -1);
    gen_sampler_free(s);
}

static void test_top_k_support_is_exact(void **state) {
    (void)state;
    enum { V = 1000 };
    float l[V];
    make_logits(l, V, 7);
    gen_sampler *s = gen_sampler_create(V);
    int tested = 0;
    const int ks[] = {2, 3, 5, 50, 500, 999, 1000, 5000};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
        check_support(s, l, V, (gen_sampling){0.8f, 1.0f, ks[i]}, &tested);
        check_support(s, l, V, (gen_sampling){1.3f, 1.0f, ks[i]}, &tested);
    }
    assert_int_equal(tested, 16);
    /* non-finite logits are never kept, even when k asks for more */
    l[3] = NAN;
    l[4] = -INFINITY;
    int ids[V];
    double pr[V];
    int n = gen_sample_support(s, l, &(gen_sampling){1.0f, 1.0f, V}, ids, pr);
    assert_int_equal(n, V - 2);
    for (int i = 0; i < n; i++) assert_true(ids[i] != 3 && ids[i] != 4);
    gen_sampler_free(s);
}

static void test_top_p_support_is_exact(void **state) {
    (void)state;
    /* A small vocabulary and the Qwen one, so the selection runs on both short and long inputs. */
    const int vocabs[] = {300, 151936};
    for (size_t vi = 0; vi < 2; vi++) {
        int v = vocabs[vi];
        float *l = malloc((size_t)v * sizeof *l);
        make_logits(l, v, 11 + vi);
        gen_sampler *s = gen_sampler_create(v);
        int tested = 0, cases = 0;
        const float ps[] = {0.01f, 0.1f, 0.37f, 0.5f, 0.8f, 0.9f, 0.95f, 0.99f};
        const float ts[] = {0.3f, 0.7f, 1.0f, 1.5f};
        /* fewer cases on the large vocabulary (each costs a full sort), fewer still under sanitizers */
        size_t step = v <= 1000 ? 1 : getenv("HF_SANITIZED") ? 7 : 3;
        for (size_t a = 0; a < sizeof ps / sizeof *ps; a++)
            for (size_t b = (a % step); b < sizeof ts / sizeof *ts; b += step) {
                check_support(s, l, v, (gen_sampling){ts[b], ps[a], 0}, &tested);
                check_support(s, l, v, (gen_sampling){ts[b], ps[a], 40}, &tested);
                cases += 2;
            }
        printf("vocab %d: %d of %d top-p cuts compared\n", v, tested, cases);
        assert_true(tested >= cases * 8 / 10); /* only cuts within rounding of the target may be skipped */
        gen_sampler_free(s);
        free(l);
    }
}

static void test_top_p_keeps_at_least_one_token(void **state) {
    (void)state;
    float l[4] = {1.0f, 3.0f, 2.0f, 3.0f};
    gen_sampler *s = gen_sampler_create(4);
    int ids[4];
    double pr[4];
    int n = gen_sample_support(s, l, &(gen_sampling){1.0f, 1e-6f, 0}, ids, pr);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1); /* of the tied best two, the lower id */
    assert_true(pr[0] == 1.0);
    /* top_p 1 keeps everything */
    n = gen_sample_support(s, l, &(gen_sampling){1.0f, 1.0f, 0}, ids, pr);
    assert_int_equal(n, 4);
    gen_sampler_free(s);
}

/* Pearson chi-square of observed counts against expected probabilities. */
static double chi_square(const long *count, const double *p, int n, long draws) {
    double chi = 0;
    for (int i = 0; i < n; i++) {
        double e = p[i] * (double)draws;
        chi += (count[i] - e) * (count[i] - e) / e;
    }
    return chi;
}

static void test_draw_frequencies_match_the_distribution(void **state) {
    (void)state;
    enum { V = 6, DRAWS = 40000 };
    const float l[V] = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.5f};
    gen_sampler *s = gen_sampler_create(V);
    struct {
        gen_sampling p;
        int kept;
    } cases[] = {
        {{0.7f, 1.0f, 0}, 6},
        {{1.0f, 1.0f, 3}, 3},
        {{1.0f, 0.8f, 0}, 3},  /* nucleus: ids 3, 5, 0 */
        {{1.5f, 0.9f, 4}, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int ids[V];
        double pr[V];
        int n = gen_sample_support(s, l, &cases[c].p, ids, pr);
        assert_int_equal(n, cases[c].kept);
        long count[V] = {0};
        rng_state r;
        rng_seed(&r, 1234 + c);
        for (int d = 0; d < DRAWS; d++) {
            int t = gen_sample(s, l, &cases[c].p, &r);
            int j = 0;
            while (j < n && ids[j] != t) j++;
            assert_true(j < n); /* never outside the support */
            count[j]++;
        }
        /* chi-square critical values at p = 0.001: df 2: 13.8, df 3: 16.3, df 5: 20.5 */
        const double crit[] = {0, 10.8, 13.8, 16.3, 18.5, 20.5};
        double chi = chi_square(count, pr, n, DRAWS);
        assert_true(chi < crit[n - 1]);
        /* and the draws are told apart from the distribution at temperature 1 without cuts */
        if (c == 0) {
            double p1[V], z = 0;
            for (int i = 0; i < V; i++) z += (p1[i] = exp(l[i]));
            for (int i = 0; i < V; i++) p1[i] /= z;
            assert_true(chi_square(count, p1, V, DRAWS) > 100.0);
        }
    }
    gen_sampler_free(s);
}

static void test_seed_streams_depend_on_seed_prompt_and_sample_only(void **state) {
    (void)state;
    rng_state a, b;
    gen_seed_stream(&a, 5, 2, 3);
    gen_seed_stream(&b, 5, 2, 3);
    assert_memory_equal(&a, &b, sizeof a);
    const uint64_t other[][3] = {{6, 2, 3}, {5, 3, 3}, {5, 2, 4}, {5, 3, 2}};
    for (int i = 0; i < 4; i++) {
        gen_seed_stream(&b, other[i][0], other[i][1], other[i][2]);
        assert_true(rng_next(&a) != rng_next(&b));
        gen_seed_stream(&a, 5, 2, 3);
    }
}

static void test_settings_are_checked(void **state) {
    (void)state;
    char err[128];
    assert_int_equal(gen_sampling_check(&(gen_sampling){0.7f, 1.0f, 0}, err, sizeof err), 0);
    assert_int_equal(gen_sampling_check(&(gen_sampling){0.0f, 0.5f, 10}, err, sizeof err), 0);
    assert_int_equal(gen_sampling_check(&(gen_sampling){-0.1f, 1.0f, 0}, err, sizeof err), -1);
    assert_non_null(strstr(err, "temperature"));
    assert_int_equal(gen_sampling_check(&(gen_sampling){NAN, 1.0f, 0}, err, sizeof err), -1);
    assert_int_equal(gen_sampling_check(&(gen_sampling){1.0f, 0.0f, 0}, err, sizeof err), -1);
    assert_non_null(strstr(err, "top_p"));
    assert_int_equal(gen_sampling_check(&(gen_sampling){1.0f, 1.5f, 0}, err, sizeof err), -1);
    assert_int_equal(gen_sampling_check(&(gen_sampling){1.0f, 1.0f, -2}, err, sizeof err), -1);
    assert_non_null(strstr(err, "top_k"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_is_argmax_with_lowest_id_on_ties),
        cmocka_unit_test(test_top_k_support_is_exact),
        cmocka_unit_test(test_top_p_support_is_exact),
        cmocka_unit_test(test_top_p_keeps_at_least_one_token),
        cmocka_unit_test(test_draw_frequencies_match_the_distribution),
        cmocka_unit_test(test_seed_streams_depend_on_seed_prompt_and_sample_only),
        cmocka_unit_test(test_settings_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
