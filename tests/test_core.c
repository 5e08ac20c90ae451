/* Unit tests of src/core: YAML config reading, flag parsing and precedence, atomic files, rng. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/args.h"
#include "core/cfg.h"
#include "core/fs.h"
#include "core/rng.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_flattens_nested_keys_with_lines),
        cmocka_unit_test(test_cfg_reports_syntax_errors_with_line),
        cmocka_unit_test(test_args_precedence_cli_over_config_over_default),
        cmocka_unit_test(test_args_rejects_bad_values),
        cmocka_unit_test(test_args_model_defaults_sit_between_config_and_builtin),
        cmocka_unit_test(test_fs_write_atomic_replaces_whole_file),
        cmocka_unit_test(test_fs_link_files),
        cmocka_unit_test(test_rng_is_reproducible_and_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
