/* Unit tests of src/bench/hwmon: the sampling thread and its CSV (against fake sysfs GPU and RAPL
 * trees), unavailable sensors as null, stopping promptly, and the summary arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/hwmon.h"
#include "core/fs.h"
#include "core/timing.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[256];

static void put(const char *rel, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    fs_mkdirs(dir);
    /* In place with one write and no truncation first, as a sysfs value changes: the sampling
     * thread may read at any moment (through a descriptor it keeps open) and must never see an
     * empty file. */
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(pwrite(fd, text, n, 0), (ssize_t)n);
    assert_int_equal(ftruncate(fd, (off_t)n), 0);
    close(fd);
}

static int setup(void **state) {
    (void)state;
    snprintf(root, sizeof root, "/tmp/hf_hwmon_%d", (int)getpid());
    fs_remove_tree(root);
    return fs_mkdirs(root);
}

static int teardown(void **state) {
    (void)state;
    return fs_remove_tree(root);
}

/* Splits a CSV line into fields (in place); returns the count. */
static int split(char *line, char **f, int cap) {
    int n = 0;
    char *p = line;
    while (n < cap) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    char *nl = strchr(f[n - 1], '\n');
    if (nl) *nl = '\0';
    return n;
}

static void test_csv_with_fake_gpu_and_energy(void **state) {
    (void)state;
    put("drm/card0/device/vendor", "0x1002\n");
    put("drm/card0/device/device", "0x1586\n");
    put("drm/card0/device/mem_info_vram_total", "1073741824\n");
    put("drm/card0/device/mem_info_vram_used", "536870912\n");
    put("drm/card0/device/mem_info_gtt_total", "2147483648\n");
    put("drm/card0/device/mem_info_gtt_used", "1073741824\n");
    put("drm/card0/device/gpu_busy_percent", "25\n");
    put("drm/card0/device/hwmon/hwmon2/power1_average", "50000000\n"); /* 50 W */
    put("drm/card0/device/hwmon/hwmon2/temp1_input", "60000\n");
    put("powercap/intel-rapl:0/name", "package-0\n");
    put("powercap/intel-rapl:0/energy_uj", "1000000\n");
    put("powercap/intel-rapl:0/max_energy_range_uj", "1000000000000\n");
    char drm[512], pc[512], csv[512], nohw[512];
    snprintf(drm, sizeof drm, "%s/drm", root);
    snprintf(pc, sizeof pc, "%s/powercap", root);
    snprintf(nohw, sizeof nohw, "%s/no-hwmon", root);
    snprintf(csv, sizeof csv, "%s/hardware.csv", root);

    hw_opts o;
    memset(&o, 0, sizeof o);
    o.interval_s = 0.05;
    o.csv_path = csv;
    o.gpu_opts.nvml_library = "/nonexistent/libnvidia-ml.so.1";
    o.gpu_opts.drm_dir = drm;
    o.gpu_opts.rocm_smi = "";
    o.powercap_dir = pc;
    o.hwmon_dir = nohw;
    char err[256];
    hw_monitor *m = hw_monitor_start(&o, err, sizeof err);
    assert_non_null(m);
    usleep(150000);
    put("drm/card0/device/power1_average", "0\n"); /* not where the reader looks: no effect */
    put("drm/card0/device/hwmon/hwmon2/power1_average", "70000000\n"); /* 70 W */
    put("powercap/intel-rapl:0/energy_uj", "37000000\n");               /* +36 J */
    usleep(150000);
    hw_summary s;
    assert_int_equal(hw_monitor_stop(m, &s), 0);

    /* summary */
    assert_true(s.samples_count >= 4);
    assert_true(s.duration_sec > 0.2 && s.duration_sec < 5);
    assert_int_equal(s.gpu_count, 1);
    assert_true(s.gpu_util_avg_pct == 25.0 && s.gpu_util_peak_pct == 25.0);
    assert_true(fabs(s.gpu_mem_peak_gb - 1.5) < 1e-9); /* VRAM + GTT used */
    assert_true(s.gpu_power_peak_w == 70.0);
    assert_true(s.gpu_power_avg_w > 50.0 && s.gpu_power_avg_w < 70.0);
    /* GPU energy: between 50 W and 70 W over the duration */
    assert_true(s.gpu_energy_wh * 3600 >= 50.0 * s.duration_sec - 1e-6);
    assert_true(s.gpu_energy_wh * 3600 <= 70.0 * s.duration_sec + 1e-6);
    /* CPU energy: the counter's own total */
    assert_true(fabs(s.cpu_energy_wh * 3600 - 36.0) < 1e-6);
    assert_true(fabs(s.cpu_power_avg_w - 36.0 / s.duration_sec) < 1e-6);
    assert_true(s.cpu_power_peak_w > 0);
    assert_true(fabs(s.energy_wh - (s.gpu_energy_wh + s.cpu_energy_wh)) < 1e-12);
    assert_string_equal(s.energy_source, "powercap:package-0");
    assert_true(s.rss_peak_gb > 0 && s.sys_mem_peak_gb > 0);

    /* CSV: header, one row per sample, every row as many fields as the header */
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[1024], *fields[32];
    assert_non_null(fgets(line, sizeof line, f));
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(line, HW_CSV_HEADER);
    long rows = 0;
    double prev_t = 0;
    bool saw_power = false;
    while (fgets(line, sizeof line, f)) {
        int n = split(line, fields, 32);
        assert_int_equal(n, 11);
        double t = atof(fields[0]);
        assert_true(t >= prev_t && t > 1e9);
        prev_t = t;
        assert_string_equal(fields[1], "25.0");
        assert_string_equal(fields[2], "1.50");
        assert_string_equal(fields[3], "3.00");
        assert_string_equal(fields[4], "60.0");
        assert_true(atof(fields[6]) > 0 && atof(fields[7]) >= atof(fields[6]));
        assert_true(fields[10][0] != '\0');
        if (rows == 0) assert_string_equal(fields[9], ""); /* no earlier reading: unknown, not 0 */
        else if (fields[9][0]) saw_power = true;
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, s.samples_count);
    assert_true(saw_power);
}

static void test_missing_sensors_are_null(void **state) {
    (void)state;
    char drm[512], pc[512], nohw[512], csv[512];
    snprintf(drm, sizeof drm, "%s/empty-drm", root);
    snprintf(pc, sizeof pc, "%s/empty-powercap", root);
    snprintf(nohw, sizeof nohw, "%s/empty-hwmon", root);
    snprintf(csv, sizeof csv, "%s/none.csv", root);
    fs_mkdirs(drm);
    fs_mkdirs(pc);
    fs_mkdirs(nohw);
    hw_opts o;
    memset(&o, 0, sizeof o);
    o.interval_s = 0.05;
    o.csv_path = csv;
    o.gpu_opts.nvml_library = "/nonexistent/libnvidia-ml.so.1";
    o.gpu_opts.drm_dir = drm;
    o.gpu_opts.rocm_smi = "";
    o.powercap_dir = pc;
    o.hwmon_dir = nohw;
    char err[256];
    hw_monitor *m = hw_monitor_start(&o, err, sizeof err);
    assert_non_null(m);
    usleep(120000);
    hw_summary s;
    assert_int_equal(hw_monitor_stop(m, &s), 0);
    assert_int_equal(s.gpu_count, 0);
    assert_true(isnan(s.gpu_util_avg_pct) && isnan(s.gpu_mem_peak_gb) && isnan(s.gpu_power_avg_w));
    assert_true(isnan(s.gpu_energy_wh) && isnan(s.cpu_energy_wh) && isnan(s.energy_wh));
    assert_true(s.energy_status[0] != '\0');
    cJSON *j = hw_summary_to_json(&s);
    cJSON *g = cJSON_GetObjectItem(j, "gpu");
    const char *keys[] = {"utilization_avg_pct", "utilization_peak_pct", "memory_avg_gb", "memory_peak_gb", "temp_avg_c",
                          "temp_peak_c", "power_avg_w", "power_peak_w", "energy_wh"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        cJSON *v = cJSON_GetObjectItem(g, keys[i]);
        assert_non_null(v);
        assert_true(cJSON_IsNull(v)); /* unavailable, never 0 */
    }
    cJSON *y = cJSON_GetObjectItem(j, "system");
    const char *sys_keys[] = {"memory_avg_gb", "memory_peak_gb", "cpu_util_avg_pct", "cpu_util_peak_pct"};
    for (size_t i = 0; i < 4; i++) assert_true(cJSON_IsNumber(cJSON_GetObjectItem(y, sys_keys[i])));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(y, "cpu_energy_wh")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "energy_wh")));
    assert_non_null(cJSON_GetObjectItem(j, "duration_sec"));
    assert_non_null(cJSON_GetObjectItem(j, "samples_count"));
    cJSON_Delete(j);
    /* the CSV leaves the GPU and power fields empty */
    char *text = fs_read_file(csv, NULL);
    char *row = strchr(text, '\n') + 1;
    assert_true(strncmp(strchr(row, ','), ",,,,,,", 6) == 0);
    free(text);
}

static void test_stops_promptly_and_bad_csv_path(void **state) {
    (void)state;
    hw_opts o;
    memset(&o, 0, sizeof o);
    o.interval_s = 30; /* far longer than the test */
    o.no_gpu = true;
    o.no_energy = true;
    char err[256];
    hw_monitor *m = hw_monitor_start(&o, err, sizeof err);
    assert_non_null(m);
    double t0 = time_now();
    hw_summary s;
    assert_int_equal(hw_monitor_stop(m, &s), 0);
    assert_true(time_now() - t0 < 1.0);
    assert_int_equal(s.samples_count, 2); /* one at each end */
    assert_string_equal(s.energy_status, "not measured (disabled)");

    o.csv_path = "/nonexistent/dir/hw.csv";
    assert_null(hw_monitor_start(&o, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/dir/hw.csv"));
}

static hw_sample mk(double t, double gpu_w, double cpu_w) {
    hw_sample s;
    memset(&s, 0, sizeof s);
    s.timestamp = t;
    s.gpu_util_pct = s.gpu_mem_used_gb = s.gpu_mem_total_gb = s.gpu_temp_c = NAN;
    s.gpu_power_w = gpu_w;
    s.gpu_energy_j = NAN;
    s.cpu_power_w = cpu_w;
    s.sys_mem_used_gb = 1;
    s.cpu_util_pct = 10;
    s.rss_gb = 0.5;
    return s;
}

static void test_energy_is_the_integral_of_power(void **state) {
    (void)state;
    /* GPU: constant 100 W for an hour = 100 Wh; a ramp 0 -> 200 W over an hour = 100 Wh (the
     * original's mean x duration would agree here but not on uneven intervals) */
    hw_sample a[3] = {mk(0, 100, NAN), mk(1800, 100, 20), mk(3600, 100, 20)};
    hw_summary s;
    hw_summarize(a, 3, NAN, &s);
    assert_true(fabs(s.gpu_energy_wh - 100.0) < 1e-9);
    assert_true(fabs(s.cpu_energy_wh - 20.0) < 1e-9); /* from sampled CPU power without a counter total */
    hw_sample b[3] = {mk(0, 0, NAN), mk(600, 20, NAN), mk(3600, 200, NAN)};
    hw_summarize(b, 3, NAN, &s);
    /* trapezoids: (0+20)/2*600 + (20+200)/2*3000 = 6000 + 330000 J */
    assert_true(fabs(s.gpu_energy_wh - 336000.0 / 3600.0) < 1e-9);
    assert_true(fabs(s.gpu_power_avg_w - 220.0 / 3.0) < 1e-9);
    assert_true(isnan(s.cpu_energy_wh));
    /* a gap in the readings is bridged, not counted as 0 W */
    hw_sample c[3] = {mk(0, 100, NAN), mk(1800, NAN, NAN), mk(3600, 100, NAN)};
    hw_summarize(c, 3, 7200.0, &s);
    assert_true(fabs(s.gpu_energy_wh - 100.0) < 1e-9);
    assert_true(fabs(s.cpu_energy_wh - 2.0) < 1e-12);
    assert_true(fabs(s.cpu_power_avg_w - 2.0) < 1e-12);
    assert_string_equal(s.gpu_energy_source, "power");
    /* the boards' counters win over the sampled power: 360 kJ between the ends = 100 Wh, whatever the
       power samples say (they saw 0 W at the sampled moments) */
    hw_sample d[3] = {mk(0, 0, NAN), mk(1800, 0, NAN), mk(3600, 0, NAN)};
    d[0].gpu_energy_j = 5000;
    d[1].gpu_energy_j = 100000;
    d[2].gpu_energy_j = 365000;
    hw_summarize(d, 3, NAN, &s);
    assert_true(fabs(s.gpu_energy_wh - 100.0) < 1e-9);
    assert_string_equal(s.gpu_energy_source, "counter");
    /* a counter that went back (driver reloaded) or a sample without one: the power integral */
    d[2].gpu_energy_j = 10;
    hw_summarize(d, 3, NAN, &s);
    assert_true(fabs(s.gpu_energy_wh) < 1e-12);
    assert_string_equal(s.gpu_energy_source, "power");
    d[2].gpu_energy_j = 365000;
    d[1].gpu_energy_j = NAN;
    hw_summarize(d, 3, NAN, &s);
    assert_string_equal(s.gpu_energy_source, "power");
    /* no GPU at all: no source */
    hw_sample e[2] = {mk(0, NAN, NAN), mk(10, NAN, NAN)};
    hw_summarize(e, 2, NAN, &s);
    assert_true(isnan(s.gpu_energy_wh));
    assert_string_equal(s.gpu_energy_source, "");
    /* rows */
    char row[256];
    hw_format_row(&c[1], row, sizeof row);
    assert_string_equal(row, "1800.000,,,,,,1.00,0.00,10.0,,0.50");
}

/* NVIDIA boards through a stand-in NVML (tests/fixtures/sysinfo/fake_nvml.c, built here): the run's GPU
 * energy is the energy counters' difference, 70 J per reading of both boards. */
static void test_nvml_energy_counter(void **state) {
    (void)state;
    char gcc[512], lib[512], cmd[2048], drm[512];
    if (!fs_which("gcc", gcc, sizeof gcc)) skip();
    snprintf(lib, sizeof lib, "%s/libfake-nvml.so", root);
    snprintf(cmd, sizeof cmd, "gcc -shared -fPIC -O0 -o '%s' '%s/tests/fixtures/sysinfo/fake_nvml.c'", lib,
             HF_SOURCE_DIR);
    assert_int_equal(system(cmd), 0);
    snprintf(drm, sizeof drm, "%s/empty-drm", root);
    fs_mkdirs(drm);
    hw_opts o;
    memset(&o, 0, sizeof o);
    o.interval_s = 0.05;
    o.gpu_opts.nvml_library = lib;
    o.gpu_opts.drm_dir = drm;
    o.gpu_opts.rocm_smi = "";
    o.no_energy = true;
    char err[256];
    hw_monitor *m = hw_monitor_start(&o, err, sizeof err);
    assert_non_null(m);
    usleep(120000);
    hw_summary s;
    assert_int_equal(hw_monitor_stop(m, &s), 0);
    assert_int_equal(s.gpu_count, 2);
    assert_true(s.samples_count >= 2);
    assert_string_equal(s.gpu_energy_source, "counter");
    assert_true(fabs(s.gpu_energy_wh - 70.0 * (double)(s.samples_count - 1) / 3600.0) < 1e-9);
    assert_true(fabs(s.energy_wh - s.gpu_energy_wh) < 1e-12); /* no CPU energy: the GPU's alone */
    cJSON *j = hw_summary_to_json(&s);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "gpu"), "energy_source")->valuestring, "counter");
    cJSON_Delete(j);
    /* boards without the counter: the sampled power (device 0's 123.456 W) integrated */
    setenv("FAKE_NVML_NO_ENERGY", "1", 1);
    m = hw_monitor_start(&o, err, sizeof err);
    assert_non_null(m);
    usleep(120000);
    assert_int_equal(hw_monitor_stop(m, &s), 0);
    unsetenv("FAKE_NVML_NO_ENERGY");
    assert_string_equal(s.gpu_energy_source, "power");
    assert_true(fabs(s.gpu_energy_wh - 123.456 * s.duration_sec / 3600.0) < 1e-9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_with_fake_gpu_and_energy),
        cmocka_unit_test(test_missing_sensors_are_null),
        cmocka_unit_test(test_stops_promptly_and_bad_csv_path),
        cmocka_unit_test(test_energy_is_the_integral_of_power),
        cmocka_unit_test(test_nvml_energy_counter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
