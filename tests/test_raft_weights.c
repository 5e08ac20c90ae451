/* The weights a RAFT cycle samples from (model_load_weights): a bf16 base with a LoRA adapter applied
 * in memory stays bf16 (so sampling runs at the base's speed) and equals the adapter merged in f32,
 * within bf16 rounding; a full model folder is loaded as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "model/model.h"
#include "model/model_internal.h"
#include "model/lora_apply.h"
#include "train/train_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[256];

static float bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float weight_at(const mm_weight *w, size_t i) {
    if (w->dtype == MM_DTYPE_BF16) return bf16_to_f32(((const uint16_t *)w->data)[i]);
    return ((const float *)w->data)[i];
}

static int setup(void **state) {
    (void)state;
    snprintf(root, sizeof root, "/tmp/hf-test-raftw-%d", (int)getpid());
    fs_remove_tree(root);
    assert_int_equal(fs_mkdirs(root), 0);
    char dir[512], err[512];
    model_config c;
    assert_int_equal(model_preset("tiny", &c), 0);
    snprintf(dir, sizeof dir, "%s/base", root);
    assert_int_equal(model_write_random(dir, &c, true, 7, 0.3, false, err, sizeof err), 0);
    /* an adapter with non-zero B (a fresh one would change nothing) */
    lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_ALL_TARGETS};
    train_model *tm = train_model_load(dir, &lc, 11, err, sizeof err);
    assert_non_null(tm);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < train_model_n_tensors(tm); i++) {
        train_tensor *t = train_model_tensor(tm, i);
        if (!strstr(t->name, "lora_B")) continue;
        for (size_t k = 0; k < t->numel; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t->data[k] = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5) * 0.2f;
        }
    }
    char adir[512];
    snprintf(adir, sizeof adir, "%s/adapter", root);
    assert_int_equal(fs_mkdirs(adir), 0);
    assert_int_equal(train_model_save_adapter(tm, adir, dir, err, sizeof err), 0);
    train_model_free(tm);
    /* the reference: the adapter merged into f32 weights, written as a model folder */
    lora_config full = {.rank = 0, .no_grad = true};
    tm = train_model_load(dir, &full, 0, err, sizeof err);
    assert_non_null(tm);
    assert_int_equal(train_model_merge_adapter(tm, adir, err, sizeof err), 0);
    char mdir[512];
    snprintf(mdir, sizeof mdir, "%s/merged_f32", root);
    assert_int_equal(train_model_save_full(tm, mdir, false, err, sizeof err), 0);
    train_model_free(tm);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fs_remove_tree(root);
    return 0;
}

static void test_adapter_applied_at_bf16_equals_f32_merge(void **state) {
    (void)state;
    char base[512], adir[512], mdir[512], err[512];
    snprintf(base, sizeof base, "%s/base", root);
    snprintf(adir, sizeof adir, "%s/adapter", root);
    snprintf(mdir, sizeof mdir, "%s/merged_f32", root);
    model *applied = model_load_weights(base, adir, err, sizeof err);
    assert_non_null(applied);
    model *ref = model_load(mdir, err, sizeof err);
    assert_non_null(ref);
    model *plain = model_load_weights(base, NULL, err, sizeof err);
    assert_non_null(plain);
    const model_config *c = model_get_config(applied);
    size_t changed = 0, total = 0;
    for (int l = 0; l < c->num_layers; l++)
        for (int p = 0; p < MODEL_NPROJ; p++) {
            const mm_weight *a = model_proj_weight(applied, l, p), *r = model_proj_weight(ref, l, p),
                            *b = model_proj_weight(plain, l, p);
            assert_int_equal(a->dtype, MM_DTYPE_BF16); /* the base's dtype: same bytes to read when sampling */
            assert_int_equal(r->dtype, MM_DTYPE_F32);
            for (size_t i = 0; i < (size_t)a->rows * (size_t)a->cols; i++) {
                float va = weight_at(a, i), vr = weight_at(r, i), vb = weight_at(b, i);
                /* bf16 keeps 8 significant bits: rounding to nearest is off by at most 2^-9 relative */
                assert_true(fabsf(va - vr) <= ldexpf(fabsf(vr), -8) + 1e-30f);
                changed += va != vb;
                total++;
            }
        }
    assert_true(changed > total / 2); /* the adapter did change the weights */

    /* and the model computes what the f32 merge computes, up to that rounding */
    int toks[6] = {1, 5, 9, 2, 7, 3};
    size_t V = (size_t)c->vocab_size;
    float *la = malloc(6 * V * sizeof(float)), *lr = malloc(6 * V * sizeof(float)), *lb = malloc(6 * V * sizeof(float));
    assert_int_equal(model_forward_full(applied, toks, 6, la, err, sizeof err), 0);
    assert_int_equal(model_forward_full(ref, toks, 6, lr, err, sizeof err), 0);
    assert_int_equal(model_forward_full(plain, toks, 6, lb, err, sizeof err), 0);
    double d_applied = 0, d_base = 0, scale = 0;
    for (size_t i = 0; i < 6 * V; i++) {
        scale = fmax(scale, fabs((double)lr[i]));
        d_applied = fmax(d_applied, fabs((double)la[i] - lr[i]));
        d_base = fmax(d_base, fabs((double)lb[i] - lr[i]));
    }
    /* bf16 weights (2^-9 relative) move logits by about a percent of their size */
    assert_true(d_applied < 0.02 * scale);
    assert_true(d_base > 10 * d_applied); /* the check can tell the adapter's effect apart */
    free(la);
    free(lr);
    free(lb);
    model_free(applied);
    model_free(ref);
    model_free(plain);
}

static void test_full_model_folder_loads_as_is(void **state) {
    (void)state;
    char base[512], mdir[512], err[512];
    snprintf(base, sizeof base, "%s/base", root);
    snprintf(mdir, sizeof mdir, "%s/merged_f32", root);
    model *m = model_load_weights(base, mdir, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(model_proj_weight(m, 0, MODEL_PROJ_Q)->dtype, MM_DTYPE_F32);
    model_free(m);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/nope", root);
    assert_null(model_load_weights(base, bad, err, sizeof err));
    assert_non_null(strstr(err, "nope"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adapter_applied_at_bf16_equals_f32_merge),
        cmocka_unit_test(test_full_model_folder_loads_as_is),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
