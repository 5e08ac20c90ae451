/* Unit tests of src/plot: the TensorBoard writer against the CRC-32C check value and its own reader
 * (round trip, torn tail, REPLACE leaving exactly one complete file, non-finite values skipped), and
 * chart_save's size checks. The event files are also read by tests/plot_check.py (an independent reader)
 * in the CLI tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "plot/chart.h"
#include "plot/tfevents.h"

static char g_tmp[256];

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/hf_plot_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    return fs_remove_tree(g_tmp);
}

/* Files in dir (names not starting with '.' unless hidden is set). */
static int count_files(const char *dir, bool hidden) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (hidden || e->d_name[0] != '.')) n++;
    closedir(d);
    return n;
}

static void test_crc32c(void **state) {
    (void)state;
    assert_int_equal(tfev_crc32c("123456789", 9), 0xE3069283u); /* the CRC-32C check value */
    assert_int_equal(tfev_crc32c("", 0), 0);
    uint32_t c = 0x12345678u;
    assert_int_equal(tfev_mask_crc(c), ((c >> 15) | (c << 17)) + 0xA282EAD8u);
}

static void test_roundtrip(void **state) {
    (void)state;
    char dir[300], err[512];
    snprintf(dir, sizeof dir, "%s/tb", g_tmp);
    tfev_writer *w = tfev_open(dir, TFEV_STREAM, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(tfev_scalar(w, "train/loss", 1, 1000.5, 2.5), 0);
    const char *tags[3] = {"a", "b", "c"};
    double vals[3] = {1.0, NAN, -3.25};
    assert_int_equal(tfev_scalars(w, 7, 0, 3, tags, vals), 0);
    cJSON *j = cJSON_Parse("{\"step\": 9, \"loss\": 0.5, \"lr\": 1e-4, \"other\": 3, \"eval_loss\": \"x\"}");
    assert_int_equal(tfev_json(w, j, "step", tfev_train_tags, 0), 2);
    cJSON_Delete(j);
    assert_int_equal(tfev_close(w), 0);

    tfev_point *p;
    long n = tfev_read_dir(dir, &p, err, sizeof err);
    assert_int_equal(n, 5); /* loss; a, c (b is NaN: skipped); loss, learning_rate */
    assert_string_equal(p[0].tag, "train/loss");
    assert_int_equal(p[0].step, 1);
    assert_true(p[0].wall_time == 1000.5);
    assert_true(p[0].value == 2.5);
    assert_string_equal(p[1].tag, "a");
    assert_string_equal(p[2].tag, "c");
    assert_true(p[2].value == -3.25);
    assert_int_equal(p[2].step, 7);
    assert_string_equal(p[4].tag, "train/learning_rate");
    assert_true(fabs(p[4].value - 1e-4) < 1e-10);
    tfev_points_free(p, n);

    /* a torn last record: the complete ones are read, the file is warned about */
    char path[600];
    snprintf(path, sizeof path, "%s", dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, "tfevents")) snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    closedir(d);
    size_t len;
    char *data = fs_read_file(path, &len);
    assert_non_null(data);
    assert_int_equal(fs_write_atomic(path, data, len - 3), 0);
    free(data);
    n = tfev_read_dir(dir, &p, err, sizeof err);
    assert_int_equal(n, 3);
    tfev_points_free(p, n);

    /* a new STREAM writer replaces the old file */
    w = tfev_open(dir, TFEV_STREAM, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(tfev_close(w), 0);
    assert_int_equal(count_files(dir, true), 1);
    assert_int_equal(tfev_read_dir(dir, &p, err, sizeof err), 0);
    tfev_points_free(p, 0);
}

static void test_replace(void **state) {
    (void)state;
    char dir[300], err[512];
    snprintf(dir, sizeof dir, "%s/rep", g_tmp);
    tfev_writer *w = tfev_open(dir, TFEV_REPLACE, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(tfev_scalar(w, "x", 1, 0, 1), 0);
    /* while being written only the hidden temporary file exists */
    assert_int_equal(count_files(dir, false), 0);
    assert_int_equal(tfev_close(w), 0);
    assert_int_equal(count_files(dir, true), 1);
    /* an older file is removed when the new one is in place */
    char old[400];
    snprintf(old, sizeof old, "%s/events.out.tfevents.1.old", dir);
    assert_int_equal(fs_write_atomic(old, "", 0), 0);
    w = tfev_open(dir, TFEV_REPLACE, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(tfev_scalar(w, "x", 2, 0, 2), 0);
    assert_int_equal(tfev_scalar(w, "x", 3, 0, 3), 0);
    assert_int_equal(count_files(dir, false), 2);
    assert_int_equal(tfev_close(w), 0);
    assert_int_equal(count_files(dir, true), 1);
    assert_false(fs_exists(old));
    tfev_point *p;
    long n = tfev_read_dir(dir, &p, err, sizeof err);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].step, 2);
    assert_int_equal(p[1].step, 3);
    tfev_points_free(p, n);
    /* no event file at all: an error naming the folder */
    char empty[300];
    snprintf(empty, sizeof empty, "%s/none", g_tmp);
    assert_int_equal(fs_mkdirs(empty), 0);
    assert_int_equal(tfev_read_dir(empty, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "none: no TensorBoard event files"));
}

static void test_chart_errors(void **state) {
    (void)state;
    char base[300], err[512];
    snprintf(base, sizeof base, "%s/fig", g_tmp);
    double x[2] = {1, 2}, y[2] = {3, 4};
    chart_series s = {x, y, 2, "s", false};
    chart_lines l = {"t", "x (s)", "y (m)", &s, 1, CHART_NUM, false, false, NULL, NULL, 0};
    chart_panel p = {CHART_PANEL_LINES, &l, NULL};
    chart_figure f = chart_single(50, 50, &p);
    assert_int_equal(chart_save(&f, base, err, sizeof err), -1);
    assert_non_null(strstr(err, "figure size 50x50"));
    f = chart_single(400, 300, &p);
    assert_int_equal(chart_save(&f, base, err, sizeof err), 0);
    assert_int_equal(count_files(g_tmp, true), 2); /* fig.png, fig.svg; no temporary left */
    snprintf(base, sizeof base, "%s/no/such/folder/fig", g_tmp);
    assert_int_equal(chart_save(&f, base, err, sizeof err), -1);
    assert_non_null(strstr(err, "no/such/folder/fig.png: cannot write"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chart_errors, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    chart_release();
    return rc;
}
