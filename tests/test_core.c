/* Unit tests of src/core: YAML config reading, flag parsing and precedence, atomic files, rng, JSON integers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/args.h"
#include "core/cfg.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/rng.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_cfg_flattens_nested_keys_with_lines(void **state) {
    (void)state;
    char err[256];
    cfg_file *c = cfg_load_string("t.yaml", "a: 1\ntraining:\n  learning_rate: 5e-5\n  mods: [q_proj, v_proj]\nz: ~\n",
                                  err, sizeof err);
    assert_non_null(c);
    cfg_entry *e = cfg_find(c, "training.learning_rate");
    assert_non_null(e);
    assert_int_equal(e->line, 3);
    double d;
    assert_true(cfg_parse_double(e->value, &d));
    assert_true(d == 5e-5);
    e = cfg_find(c, "training.mods");
    assert_true(e->is_list);
    assert_string_equal(e->value, "q_proj,v_proj");
    assert_true(cfg_find(c, "z")->is_null);
    cfg_free(c);
}

static void test_cfg_reports_syntax_errors_with_line(void **state) {
    (void)state;
    char err[256];
    cfg_file *c = cfg_load_string("bad.yaml", "a: 1\nb: [1, 2\nc: 3\n", err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, "bad.yaml:"));
    c = cfg_load_string("dup.yaml", "a: 1\na: 2\n", err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, "dup.yaml:2"));
    c = cfg_load_string("list.yaml", "- 1\n- 2\n", err, sizeof err);
    assert_null(c);
}

/* Aliases: shared values are fine, a node inside itself or an exponential expansion is refused with the
 * file and line instead of recursing until the stack or the memory runs out (a fuzz finding). */
static void test_cfg_bounds_what_aliases_expand_to(void **state) {
    (void)state;
    char err[512];
    cfg_file *c = cfg_load_string("ok.yaml", "base: &b {lr: 1e-3, steps: 4}\nrun: *b\ntags: &t [x, y]\nmore: *t\n",
                                  err, sizeof err);
    assert_non_null(c);
    assert_string_equal(cfg_find(c, "run.lr")->value, "1e-3");
    assert_string_equal(cfg_find(c, "more")->value, "x,y");
    cfg_free(c);

    c = cfg_load_string("loop.yaml", "a: &x\n  b: 1\n  c: *x\n", err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, "loop.yaml:"));
    assert_non_null(strstr(err, "levels deep"));

    /* 2^15 keys from 16 lines of text */
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof text, "l0: &l0 {a: 1, b: 2}\n");
    for (int i = 1; i < 16; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "l%d: &l%d {p: *l%d, q: *l%d}\n", i, i, i - 1, i - 1);
    c = cfg_load_string("laughs.yaml", text, err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, "laughs.yaml:"));
    assert_non_null(strstr(err, "expands to more than"));

    /* one long value named many times: bounded by bytes, not by keys */
    size_t big = (size_t)1 << 20;
    char *t2 = malloc(big + 4096);
    assert_non_null(t2);
    size_t m = (size_t)sprintf(t2, "v: &v ");
    memset(t2 + m, 'x', big);
    m += big;
    m += (size_t)sprintf(t2 + m, "\nl: [");
    for (int i = 0; i < 100; i++) m += (size_t)sprintf(t2 + m, "%s*v", i ? ", " : "");
    sprintf(t2 + m, "]\n");
    c = cfg_load_string("long.yaml", t2, err, sizeof err);
    free(t2);
    assert_null(c);
    assert_non_null(strstr(err, "expands to more than"));
}

static const arg_spec flags[] = {
    {"learning-rate", 0, ARG_FLOAT, "2e-4", "lr", "training.learning_rate", NULL, 0, 1, NULL},
    {"cycles", 'c', ARG_INT, "3", "cycles", "raft.num_cycles", NULL, 1, 100, NULL},
    {"mode", 0, ARG_STR, "a", "mode", NULL, "a|b", 0, 0, NULL},
    {"no-lora", 0, ARG_BOOL, NULL, "full", NULL, NULL, 0, 0, NULL},
    {"targets", 0, ARG_LIST, "q,v", "t", "lora.target_modules", NULL, 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};
static const cmd_spec cmd = {"test cmd", "A test command.", "[FILE]", 0, 1, flags, NULL, NULL};

static char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/hf_test_%d.yaml", (int)getpid());
    assert_int_equal(fs_write_atomic(path, text, strlen(text)), 0);
    return path;
}

static void test_args_precedence_cli_over_config_over_default(void **state) {
    (void)state;
    char *path = write_tmp("training:\n  learning_rate: 5e-5\nraft:\n  num_cycles: 7\ntargets: [o_proj, up_proj]\n");
    char *argv[] = {"cmd", "--config", path, "-c", "4", "file.txt"};
    int rc;
    args *a = args_parse(&cmd, 6, argv, &rc);
    assert_non_null(a);
    assert_int_equal(args_int(a, "cycles"), 4);              /* command line wins */
    assert_int_equal(args_source(a, "cycles"), ARG_FROM_CLI);
    assert_true(args_float(a, "learning-rate") == 5e-5);     /* config beats default */
    assert_int_equal(args_source(a, "learning-rate"), ARG_FROM_CONFIG);
    assert_string_equal(args_str(a, "mode"), "a");           /* default */
    assert_false(args_given(a, "mode"));
    char **items;
    assert_int_equal(args_list(a, "targets", &items), 2);
    assert_string_equal(items[1], "up_proj");
    args_list_free(items);
    assert_string_equal(args_pos(a, 0), "file.txt");
    args_free(a);
    unlink(path);
}

static void test_args_model_defaults_sit_between_config_and_builtin(void **state) {
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/hf_test_model_%d", (int)getpid());
    assert_int_equal(fs_mkdirs(dir), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, ARGS_MODEL_DEFAULTS_FILE);
    const char *rec = "learning_rate: 1e-3\ncycles: 9\nmode: b\nnot_a_flag_here: 1\n";
    assert_int_equal(fs_write_atomic(path, rec, strlen(rec)), 0);
    char *cfg = write_tmp("raft:\n  num_cycles: 7\n");
    char *argv[] = {"cmd", "--config", cfg, "--mode", "a"};
    int rc;
    args *a = args_parse(&cmd, 5, argv, &rc);
    assert_non_null(a);
    assert_int_equal(args_apply_model_defaults(a, dir), 1); /* only learning-rate was still at its default */
    assert_float_equal(args_float(a, "learning-rate"), 1e-3, 1e-12);
    assert_int_equal(args_source(a, "learning-rate"), ARG_FROM_MODEL);
    assert_int_equal(args_int(a, "cycles"), 7);    /* the config wins */
    assert_string_equal(args_str(a, "mode"), "a"); /* the command line wins */
    args_free(a);

    const char *bad = "cycles: 0\n"; /* out of the flag's range */
    assert_int_equal(fs_write_atomic(path, bad, strlen(bad)), 0);
    char *argv2[] = {"cmd"};
    a = args_parse(&cmd, 1, argv2, &rc);
    assert_non_null(a);
    assert_int_equal(args_apply_model_defaults(a, dir), -1);
    args_free(a);
    /* A folder without the file changes nothing. */
    unlink(path);
    a = args_parse(&cmd, 1, argv2, &rc);
    assert_int_equal(args_apply_model_defaults(a, dir), 0);
    assert_int_equal(args_int(a, "cycles"), 3);
    args_free(a);
    rmdir(dir);
    unlink(cfg);
}

static void test_args_rejects_bad_values(void **state) {
    (void)state;
    int rc;
    char *bad_num[] = {"cmd", "--cycles", "many"};
    assert_null(args_parse(&cmd, 3, bad_num, &rc));
    assert_int_equal(rc, 2);
    char *bad_range[] = {"cmd", "--cycles=0"};
    assert_null(args_parse(&cmd, 2, bad_range, &rc));
    assert_int_equal(rc, 2);
    char *bad_choice[] = {"cmd", "--mode", "c"};
    assert_null(args_parse(&cmd, 3, bad_choice, &rc));
    char *unknown[] = {"cmd", "--nope"};
    assert_null(args_parse(&cmd, 2, unknown, &rc));
    assert_int_equal(rc, 2);
    char *missing[] = {"cmd", "--mode"};
    assert_null(args_parse(&cmd, 2, missing, &rc));
    char *too_many[] = {"cmd", "a", "b"};
    assert_null(args_parse(&cmd, 3, too_many, &rc));
    char *path = write_tmp("learning_rate: fast\n");
    char *bad_cfg[] = {"cmd", "--config", path};
    assert_null(args_parse(&cmd, 3, bad_cfg, &rc));
    assert_int_equal(rc, 2);
    unlink(path);
}

static void test_fs_write_atomic_replaces_whole_file(void **state) {
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/hf_atomic_%d", (int)getpid());
    assert_int_equal(fs_write_atomic(path, "first version", 13), 0);
    assert_int_equal(fs_write_atomic(path, "2nd", 3), 0);
    size_t n;
    char *s = fs_read_file(path, &n);
    assert_int_equal(n, 3);
    assert_string_equal(s, "2nd");
    free(s);
    unlink(path);
}

/* Files (not subfolders, not dotfiles) of one folder into another, replacing same-named files. */
static void test_fs_link_files(void **state) {
    (void)state;
    char root[64], from[96], to[96], p[160], failed[256];
    snprintf(root, sizeof root, "/tmp/hf_link_%d", (int)getpid());
    fs_remove_tree(root);
    snprintf(from, sizeof from, "%s/from", root);
    snprintf(to, sizeof to, "%s/to", root);
    snprintf(p, sizeof p, "%s/sub", from);
    assert_int_equal(fs_mkdirs(p), 0);
    snprintf(p, sizeof p, "%s/a.json", from);
    assert_int_equal(fs_write_atomic(p, "{}", 2), 0);
    snprintf(p, sizeof p, "%s/.hidden", from);
    assert_int_equal(fs_write_atomic(p, "x", 1), 0);
    snprintf(p, sizeof p, "%s/a.json", to);
    assert_int_equal(fs_mkdirs(to), 0);
    assert_int_equal(fs_write_atomic(p, "old", 3), 0);
    assert_int_equal(fs_link_files(from, to, failed, sizeof failed), 0);
    char *text = fs_read_file(p, NULL);
    assert_string_equal(text, "{}");
    free(text);
    snprintf(p, sizeof p, "%s/sub", to);
    assert_false(fs_exists(p));
    snprintf(p, sizeof p, "%s/.hidden", to);
    assert_false(fs_exists(p));
    snprintf(p, sizeof p, "%s/missing", root);
    assert_int_equal(fs_link_files(p, to, failed, sizeof failed), -1);
    assert_string_equal(failed, p);
    fs_remove_tree(root);
}

static void test_rng_is_reproducible_and_uniform(void **state) {
    (void)state;
    rng_state a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t x = rng_next(&a);
        assert_true(x == rng_next(&b));
        sum += rng_double(&a);
        rng_double(&b);
    }
    assert_true(sum / 100000 > 0.49 && sum / 100000 < 0.51);
    for (int i = 0; i < 1000; i++) assert_true(rng_below(&a, 7) < 7);
}

/* Damaged files hold numbers no integer type can take (a fuzzer found a journal slot of 2e55); casting
 * valuedouble is then undefined behaviour, so every integer read goes through json_long_in. */
static void test_json_integers_refuse_what_does_not_fit(void **state) {
    (void)state;
    cJSON *o = cJSON_Parse("{\"ok\": 7, \"neg\": -3, \"big\": 2e55, \"edge\": 9223372036854775808, "
                           "\"frac\": 1.5, \"str\": \"7\", \"int_big\": 3000000000, \"whole\": 4.0}");
    assert_non_null(o);
    long v = 99;
    assert_true(json_long_in(cJSON_GetObjectItem(o, "ok"), 0, 10, &v));
    assert_int_equal(v, 7);
    v = 99;
    assert_false(json_long_in(cJSON_GetObjectItem(o, "ok"), 0, 6, &v)); /* outside [lo, hi] */
    assert_false(json_long_in(cJSON_GetObjectItem(o, "neg"), 0, 10, &v));
    assert_false(json_long_in(cJSON_GetObjectItem(o, "big"), LONG_MIN, LONG_MAX, &v));
    assert_false(json_long_in(cJSON_GetObjectItem(o, "edge"), LONG_MIN, LONG_MAX, &v)); /* 2^63 */
    assert_false(json_long_in(cJSON_GetObjectItem(o, "frac"), 0, 10, &v));
    assert_false(json_long_in(cJSON_GetObjectItem(o, "str"), 0, 10, &v));
    assert_false(json_long_in(cJSON_GetObjectItem(o, "absent"), 0, 10, &v));
    assert_int_equal(v, 99); /* untouched by every refusal */
    assert_true(json_long_in(cJSON_GetObjectItem(o, "neg"), -5, 0, &v));
    assert_int_equal(v, -3);
    assert_int_equal(json_get_long(o, "whole", -1), 4);
    assert_int_equal(json_get_long(o, "big", -1), -1);
    assert_int_equal(json_get_long(o, "int_big", -1), 3000000000L);
    assert_int_equal(json_get_int(o, "int_big", -1), -1); /* fits a long, not an int */
    assert_int_equal(json_get_int(o, "frac", -1), -1);
    assert_int_equal(json_get_int(o, "ok", -1), 7);
    cJSON_Delete(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_flattens_nested_keys_with_lines),
        cmocka_unit_test(test_cfg_reports_syntax_errors_with_line),
        cmocka_unit_test(test_cfg_bounds_what_aliases_expand_to),
        cmocka_unit_test(test_args_precedence_cli_over_config_over_default),
        cmocka_unit_test(test_args_rejects_bad_values),
        cmocka_unit_test(test_args_model_defaults_sit_between_config_and_builtin),
        cmocka_unit_test(test_fs_write_atomic_replaces_whole_file),
        cmocka_unit_test(test_fs_link_files),
        cmocka_unit_test(test_rng_is_reproducible_and_uniform),
        cmocka_unit_test(test_json_integers_refuse_what_does_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
