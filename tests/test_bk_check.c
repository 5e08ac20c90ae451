/* Unit tests of bk_ops_check (backend.h's required and optional ops) and of how a model is put on a backend:
 * the CPU table is complete; a table that lacks an op the forward pass calls (as a GPU module without
 * training ops does) makes model_load_on / model_load fail at once with a message naming the op, never a NULL
 * call; optional ops (op.sample) may be missing; a table of another interface version is refused; the default
 * backend that `--device` sets is the one model_load uses, and NULL restores the CPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backend/backend.h"
#include "core/fs.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256], modeldir[300];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hf_test_bkcheck_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(modeldir, sizeof modeldir, "%s/m", tmpdir);
    model_config c;
    char err[512];
    if (model_preset("tiny", &c) != 0) return -1;
    return model_write_random(modeldir, &c, false, 3, 0.1, false, err, sizeof err);
}

static int teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A copy of the CPU backend under another name, so ops can be removed from its table. */
static bk_backend copy_cpu(const char *name) {
    bk_backend b = *bk_cpu();
    snprintf(b.name, sizeof b.name, "%s", name);
    return b;
}

static void test_cpu_table_is_complete(void **state) {
    (void)state;
    char err[512] = "";
    assert_int_equal(bk_ops_check(bk_cpu(), BK_NEED_INFER, err, sizeof err), 0);
    assert_int_equal(bk_ops_check(bk_cpu(), BK_NEED_INFER | BK_NEED_TRAIN, err, sizeof err), 0);
    assert_null(bk_cpu()->op.sample); /* optional: the CPU samples on the host */
}

static void test_missing_inference_op(void **state) {
    (void)state;
    bk_backend b = copy_cpu("fake:0");
    b.op.kv_attn = NULL;
    b.op.logprobs = NULL;
    char err[512] = "";
    assert_int_equal(bk_ops_check(&b, BK_NEED_INFER, err, sizeof err), -1);
    assert_non_null(strstr(err, "fake:0"));
    assert_non_null(strstr(err, "op.kv_attn"));
    assert_non_null(strstr(err, "op.logprobs"));
    assert_non_null(strstr(err, "inference"));
    /* the model refuses the table before reading a weight */
    char merr[1024] = "";
    model *m = model_load_on(modeldir, &b, merr, sizeof merr);
    assert_null(m);
    assert_non_null(strstr(merr, modeldir));
    assert_non_null(strstr(merr, "op.kv_attn"));
}

static void test_training_ops_only_for_training(void **state) {
    (void)state;
    /* what a GPU module without part 2 looks like: every backward op NULL */
    bk_backend b = copy_cpu("fake:1");
    b.op.linear_dx = NULL;
    b.op.attn_bwd = NULL;
    b.op.xent = NULL;
    b.op.sample = NULL;
    char err[512] = "";
    assert_int_equal(bk_ops_check(&b, BK_NEED_INFER, err, sizeof err), 0);
    assert_int_equal(bk_ops_check(&b, BK_NEED_TRAIN, err, sizeof err), -1);
    assert_non_null(strstr(err, "op.linear_dx, op.attn_bwd, op.xent"));
    assert_non_null(strstr(err, "needed for training"));
    /* inference on such a table works: the model loads and scores */
    char merr[512];
    model *m = model_load_on(modeldir, &b, merr, sizeof merr);
    assert_non_null(m);
    int toks[4] = {1, 2, 3, 4};
    float lp[3];
    assert_int_equal(model_logprobs(m, toks, 4, lp, merr, sizeof merr), 0);
    model_free(m);
}

static void test_abi_version_refused(void **state) {
    (void)state;
    bk_backend b = copy_cpu("old:0");
    b.abi_version = BK_ABI_VERSION + 1;
    char err[512] = "";
    assert_int_equal(bk_ops_check(&b, BK_NEED_INFER, err, sizeof err), -1);
    assert_non_null(strstr(err, "interface"));
}

static void test_default_backend(void **state) {
    (void)state;
    assert_ptr_equal(model_default_backend(), bk_cpu());
    bk_backend b = copy_cpu("fake:2");
    b.op.embed = NULL;
    model_set_default_backend(&b);
    assert_ptr_equal(model_default_backend(), &b);
    char err[1024] = "";
    assert_null(model_load(modeldir, err, sizeof err)); /* model_load goes to the default backend */
    assert_non_null(strstr(err, "fake:2"));
    assert_non_null(strstr(err, "op.embed"));
    model_set_default_backend(NULL);
    assert_ptr_equal(model_default_backend(), bk_cpu());
    model *m = model_load(modeldir, err, sizeof err);
    assert_non_null(m);
    model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_table_is_complete),
        cmocka_unit_test(test_missing_inference_op),
        cmocka_unit_test(test_training_ops_only_for_training),
        cmocka_unit_test(test_abi_version_refused),
        cmocka_unit_test(test_default_backend),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
