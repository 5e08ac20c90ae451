/* Unit tests of src/core/sysinfo: CPU features agree with the kernel, memory and CPU readers
 * are sane, toolchains are found with versions (and a hanging tool is cut off), GPUs through a
 * fake NVML library and a fake AMD sysfs tree, RAPL counters with wrap-around, and the JSON of
 * `info` carries the keys docs/info.md documents, with null for what is unavailable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/sysinfo.h"
#include "core/timing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_tmp[256];

static int setup_tmp(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/hf_sysinfo_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}
static int teardown_tmp(void **state) {
    (void)state;
    return fs_remove_tree(g_tmp);
}

/* Writes text to g_tmp/rel, creating directories. */
static void put(const char *rel, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_tmp, rel);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(fs_mkdirs(dir), 0);
    FILE *f = fopen(path, "w"); /* in place: open descriptors see the new value */
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void tmp_path(char *out, size_t cap, const char *rel) { snprintf(out, cap, "%s/%s", g_tmp, rel); }

static void test_cpu_features_match_proc_cpuinfo(void **state) {
    (void)state;
#if !defined(__x86_64__)
    skip();
#endif
    sys_cpu c;
    sys_cpu_read(&c);
    char *info = fs_read_file("/proc/cpuinfo", NULL);
    assert_non_null(info);
    char *flags = strstr(info, "\nflags");
    assert_non_null(flags);
    flags[strcspn(flags + 1, "\n") + 1] = '\0';
    for (int i = 0; i < SYS_NFEATURES; i++) {
        char word[64];
        snprintf(word, sizeof word, " %s ", sys_feature_names[i]);
        char line[8192];
        snprintf(line, sizeof line, "%s ", strchr(flags, ':'));
        bool in_kernel = strstr(line, word) != NULL;
        if (in_kernel != c.feature[i])
            fail_msg("%s: cpuid says %d, /proc/cpuinfo says %d", sys_feature_names[i], c.feature[i], in_kernel);
    }
    free(info);
    assert_true(c.model[0] != '\0');
    assert_true(c.family > 0);
    assert_int_equal(c.logical_cpus, (int)sysconf(_SC_NPROCESSORS_ONLN));
    assert_true(c.usable_cpus >= 1 && c.usable_cpus <= c.logical_cpus);
    assert_true(c.physical_cores == -1 || (c.physical_cores >= 1 && c.physical_cores <= c.logical_cpus));
    /* AVX2 implies AVX; AVX-512 extensions imply the foundation. */
    if (c.feature[SYS_AVX2]) assert_true(c.feature[SYS_AVX]);
    if (c.feature[SYS_AVX512BW] || c.feature[SYS_AVX512_BF16]) assert_true(c.feature[SYS_AVX512F]);
}

static void test_memory_and_rss_are_sane(void **state) {
    (void)state;
    sys_memory m;
    assert_int_equal(sys_memory_read(&m), 0);
    assert_true(m.total_bytes > (64ll << 20));
    assert_true(m.available_bytes > 0 && m.available_bytes <= m.total_bytes);
    assert_int_equal(m.used_bytes, m.total_bytes - m.available_bytes);

    int64_t cur0, peak0, cur1, peak1;
    assert_int_equal(sys_proc_rss(&cur0, &peak0), 0);
    assert_true(cur0 > 0 && peak0 >= cur0);
    size_t n = 64u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, 1, n); /* touched pages are resident */
    assert_int_equal(sys_proc_rss(&cur1, &peak1), 0);
    assert_true(cur1 - cur0 > (48ll << 20));
    assert_true(peak1 >= cur1);
    free(big);
}

static void test_cpu_util_from_proc_stat_deltas(void **state) {
    (void)state;
    sys_cpu_sampler s = {0};
    assert_true(isnan(sys_cpu_util(&s))); /* no previous reading yet */
    /* Burn 0.3 s of CPU time (however long that takes on a busy machine). */
    double cpu0 = sys_proc_cpu_seconds(), t0 = time_now();
    volatile double x = 0;
    while (sys_proc_cpu_seconds() - cpu0 < 0.3 && time_now() - t0 < 20.0)
        for (int i = 0; i < 100000; i++) x += 1.0;
    (void)x;
    double wall = time_now() - t0, used = sys_proc_cpu_seconds() - cpu0;
    double pct = sys_cpu_util(&s);
    assert_true(used >= 0.3);
    assert_false(isnan(pct));
    assert_true(pct <= 100.0);
    /* The machine was at least as busy as we made it (ticks are 10 ms: allow some rounding). */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double ours = 100.0 * used / (wall * (double)ncpu);
    if (pct < 0.7 * ours) fail_msg("machine busy %.1f%%, but this process alone used %.1f%%", pct, ours);
}

static void test_blas_is_openblas_with_version(void **state) {
    (void)state;
    sys_blas b;
    sys_blas_read(&b);
    assert_string_equal(b.name, "OpenBLAS");
    assert_true(strchr(b.version, '.') != NULL);
    assert_true(strstr(b.config, b.version) != NULL);
    assert_true(b.threads >= 1);
    assert_true(b.core[0] != '\0');
    assert_true(fs_exists(b.library));
}

static void test_tools_found_with_versions(void **state) {
    (void)state;
    sys_tool t;
    assert_int_equal(sys_tool_probe("gcc", "--version", 5.0, &t), 0);
    assert_true(t.path[0] == '/');
    /* "gcc (Debian 12.2.0-14) 12.2.0": a dotted number somewhere */
    bool has_version = false;
    for (const char *p = t.version; *p; p++)
        if (p[0] >= '0' && p[0] <= '9' && p[1] == '.' && p[2] >= '0' && p[2] <= '9') has_version = true;
    if (!has_version) fail_msg("gcc version line without a version: '%s'", t.version);

    assert_int_equal(sys_tool_probe("hf-no-such-compiler", "--version", 1.0, &t), -1);
    assert_string_equal(t.path, "");
    assert_string_equal(t.version, "");

    sys_tool all[SYS_NTOOLS];
    sys_tools_probe_all(all, 5.0);
    for (int i = 0; i < SYS_NTOOLS; i++) {
        assert_string_equal(all[i].name, sys_tool_names[i]);
        char where[512];
        assert_int_equal(all[i].path[0] != '\0', fs_which(sys_tool_names[i], where, sizeof where));
    }
    assert_string_equal(all[0].name, "gcc");
    assert_true(all[0].version[0] != '\0');
}

/* A tool that prints to stderr only, and one that hangs and leaves a child: the first is read,
 * the second is cut off at the deadline with its whole process group. */
static void test_tool_probe_reads_stderr_and_kills_hanging_tools(void **state) {
    (void)state;
    char path[512], pidfile[512];
    put("bin/stderr-tool", "#!/bin/sh\necho '' >&2\necho 'stderr-tool 3.14' >&2\n");
    tmp_path(path, sizeof path, "bin/stderr-tool");
    chmod(path, 0755);
    sys_tool t;
    assert_int_equal(sys_tool_probe(path, "--version", 5.0, &t), 0);
    assert_string_equal(t.version, "stderr-tool 3.14");

    tmp_path(pidfile, sizeof pidfile, "sleeper.pid");
    char script[1024];
    snprintf(script, sizeof script, "#!/bin/sh\nsleep 30 &\necho $! > %s\nwait\n", pidfile);
    put("bin/hang-tool", script);
    tmp_path(path, sizeof path, "bin/hang-tool");
    chmod(path, 0755);
    double t0 = time_now();
    assert_int_equal(sys_tool_probe(path, "--version", 0.3, &t), 0);
    assert_true(time_now() - t0 < 3.0);
    assert_string_equal(t.version, "");
    char *pid = fs_read_file(pidfile, NULL);
    assert_non_null(pid);
    /* The background sleep was in the tool's process group: it must be gone (or a zombie). */
    char stat_path[64], st[512];
    snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", atoi(pid));
    free(pid);
    bool running = false;
    for (int i = 0; i < 50; i++) {
        FILE *f = fopen(stat_path, "r");
        running = false;
        if (!f) break;
        if (fgets(st, sizeof st, f)) {
            const char *close_paren = strrchr(st, ')');
            running = close_paren && close_paren[2] != 'Z' && close_paren[2] != 'X';
        }
        fclose(f);
        if (!running) break;
        usleep(20000);
    }
    assert_false(running);
}

static void test_gpus_absent_nvml_is_unavailable_not_zero(void **state) {
    (void)state;
    char drm[512];
    tmp_path(drm, sizeof drm, "empty-drm");
    fs_mkdirs(drm);
    sys_gpu_opts o = {"/nonexistent/libnvidia-ml.so.1", drm, ""};
    sys_gpus *g = sys_gpus_open(&o);
    assert_non_null(g);
    assert_int_equal(sys_gpus_count(g), 0);
    assert_true(strstr(sys_gpus_nvml_status(g), "libnvidia-ml") != NULL);
    sys_gpu out[2];
    assert_int_equal(sys_gpus_read(g, out, 2), 0);
    sys_gpus_close(g);
}

/* Builds tests/fixtures/sysinfo/fake_nvml.c into a shared library; false when no gcc. */
static bool build_fake_nvml(char *lib, size_t cap) {
    char gcc[512];
    if (!fs_which("gcc", gcc, sizeof gcc)) return false;
    tmp_path(lib, cap, "libfake-nvml.so");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "gcc -shared -fPIC -O0 -o '%s' '%s/tests/fixtures/sysinfo/fake_nvml.c'", lib,
             HF_SOURCE_DIR);
    return system(cmd) == 0;
}

static void test_gpus_through_nvml(void **state) {
    (void)state;
    char lib[512], drm[512];
    if (!build_fake_nvml(lib, sizeof lib)) skip();
    tmp_path(drm, sizeof drm, "empty-drm");
    fs_mkdirs(drm);
    sys_gpu_opts o = {lib, drm, ""};
    sys_gpus *g = sys_gpus_open(&o);
    assert_string_equal(sys_gpus_nvml_status(g), "");
    assert_int_equal(sys_gpus_count(g), 2);
    sys_gpu out[4];
    assert_int_equal(sys_gpus_read(g, out, 4), 2);
    assert_string_equal(out[0].vendor, "nvidia");
    assert_string_equal(out[0].source, "nvml");
    assert_string_equal(out[0].name, "Fake GPU 0");
    assert_string_equal(out[1].id, "GPU-fake-1");
    assert_string_equal(out[0].driver, "999.12");
    assert_true(out[0].mem_total_bytes == (80ll << 30));
    assert_true(out[1].mem_used_bytes == (2ll << 30));
    assert_true(out[0].util_pct == 40.0 && out[1].util_pct == 41.0);
    assert_true(fabs(out[0].power_w - 123.456) < 1e-9);
    assert_true(isnan(out[1].power_w)); /* not supported: unavailable, not 0 */
    assert_true(out[1].temp_c == 56.0);
    assert_true(out[0].gtt_total_bytes == -1);
    double e0 = out[0].energy_j, e1 = out[1].energy_j;
    assert_true(e0 > 1000.0 && e1 > 7.0); /* the counters, in J */
    /* Reading again (as a sampling thread does) gives the same. */
    assert_int_equal(sys_gpus_read(g, out, 1), 1);
    assert_string_equal(out[0].name, "Fake GPU 0");
    assert_true(fabs(out[0].energy_j - e0 - 50.0) < 1e-9); /* the counter advanced by what the board used */
    setenv("FAKE_NVML_NO_ENERGY", "1", 1);
    assert_int_equal(sys_gpus_read(g, out, 1), 1);
    unsetenv("FAKE_NVML_NO_ENERGY");
    assert_true(isnan(out[0].energy_j)); /* not supported: unknown, not 0 */
    sys_gpus_close(g);

    setenv("FAKE_NVML_INIT_FAIL", "1", 1);
    g = sys_gpus_open(&o);
    unsetenv("FAKE_NVML_INIT_FAIL");
    assert_int_equal(sys_gpus_count(g), 0);
    assert_true(strstr(sys_gpus_nvml_status(g), "Driver Not Loaded") != NULL);
    sys_gpus_close(g);
}

static void test_amd_gpus_from_sysfs_and_rocm_smi(void **state) {
    (void)state;
    put("drm/card1/device/vendor", "0x1002\n");
    put("drm/card1/device/device", "0x1586\n");
    put("drm/card1/device/mem_info_vram_total", "536870912\n");
    put("drm/card1/device/mem_info_vram_used", "104857600\n");
    put("drm/card1/device/mem_info_gtt_total", "120259084288\n");
    put("drm/card1/device/mem_info_gtt_used", "1073741824\n");
    put("drm/card1/device/gpu_busy_percent", "37\n");
    put("drm/card1/device/hwmon/hwmon4/power1_average", "45500000\n");
    put("drm/card1/device/hwmon/hwmon4/temp1_input", "61000\n");
    put("drm/card1-DP-1/status", "connected\n");       /* a connector, not a card */
    put("drm/renderD128/dev", "226:128\n");            /* the render node of the same card */
    put("drm/card0/device/vendor", "0x8086\n");        /* an Intel iGPU: not ours */
    char drm[512];
    tmp_path(drm, sizeof drm, "drm");

    sys_gpu_opts o = {"/nonexistent/libnvidia-ml.so.1", drm, ""};
    sys_gpus *g = sys_gpus_open(&o);
    assert_int_equal(sys_gpus_count(g), 1);
    sys_gpu out[2];
    assert_int_equal(sys_gpus_read(g, out, 2), 1);
    assert_string_equal(out[0].vendor, "amd");
    assert_string_equal(out[0].source, "sysfs");
    assert_string_equal(out[0].name, "AMD GPU [1002:1586]");
    assert_true(out[0].mem_total_bytes == 536870912 && out[0].mem_used_bytes == 104857600);
    assert_true(out[0].gtt_total_bytes == 120259084288ll && out[0].gtt_used_bytes == 1073741824);
    assert_true(out[0].util_pct == 37.0);
    assert_true(fabs(out[0].power_w - 45.5) < 1e-9);
    assert_true(out[0].temp_c == 61.0);
    /* A sampling thread sees new values. */
    put("drm/card1/device/gpu_busy_percent", "90\n");
    sys_gpus_read(g, out, 2);
    assert_true(out[0].util_pct == 90.0);
    sys_gpus_close(g);

    put("bin/rocm-smi",
        "#!/bin/sh\necho 'WARNING: noise on stderr' >&2\necho 'WARNING: low-power state'\n"
        "echo '{\"card0\": {\"Card Series\": \"AMD Radeon 8060S\", \"GFX Version\": \"gfx1151\"}, \"system\": {}}'\n");
    char rocm[512];
    tmp_path(rocm, sizeof rocm, "bin/rocm-smi");
    chmod(rocm, 0755);
    o.rocm_smi = rocm;
    g = sys_gpus_open(&o);
    sys_gpus_read(g, out, 2);
    assert_string_equal(out[0].name, "AMD Radeon 8060S");
    assert_string_equal(out[0].arch, "gfx1151");
    assert_string_equal(out[0].source, "sysfs+rocm-smi");
    sys_gpus_close(g);
}

static void test_energy_counters(void **state) {
    (void)state;
    char pc[512], hw[512], why[256] = "";
    tmp_path(pc, sizeof pc, "powercap-none");
    tmp_path(hw, sizeof hw, "hwmon-none");
    fs_mkdirs(pc);
    fs_mkdirs(hw);
    assert_null(sys_energy_open(pc, hw, why, sizeof why));
    assert_true(strstr(why, "no RAPL") != NULL);

    put("powercap/intel-rapl:0/name", "package-0\n");
    put("powercap/intel-rapl:0/energy_uj", "1000000\n");
    put("powercap/intel-rapl:0/max_energy_range_uj", "2000000\n");
    put("powercap/intel-rapl:0:0/name", "core\n");       /* part of package 0: not added again */
    put("powercap/intel-rapl:0:0/energy_uj", "5\n");
    put("powercap/intel-rapl:1/name", "psys\n");         /* platform zone: not a package */
    put("powercap/intel-rapl:1/energy_uj", "7\n");
    tmp_path(pc, sizeof pc, "powercap");
    sys_energy *e = sys_energy_open(pc, hw, why, sizeof why);
    assert_non_null(e);
    assert_string_equal(sys_energy_source(e), "powercap:package-0");
    double j;
    assert_int_equal(sys_energy_read(e, &j), 0);
    assert_true(j == 0.0);
    put("powercap/intel-rapl:0/energy_uj", "1500000\n");
    assert_int_equal(sys_energy_read(e, &j), 0);
    assert_true(fabs(j - 0.5) < 1e-9);
    put("powercap/intel-rapl:0/energy_uj", "100000\n"); /* wrapped at 2 J */
    assert_int_equal(sys_energy_read(e, &j), 0);
    assert_true(fabs(j - 1.1) < 1e-9);
    sys_energy_close(e);

    /* Two sockets are summed, in zone order; a counter that steps back without a known range
     * loses that interval only. */
    for (int z = 3; z >= 0; z--) {
        char rel[128], text[64];
        snprintf(rel, sizeof rel, "powercap2/intel-rapl:%d/name", z);
        snprintf(text, sizeof text, "package-%d\n", z);
        put(rel, text);
        snprintf(rel, sizeof rel, "powercap2/intel-rapl:%d/energy_uj", z);
        put(rel, "1000000\n");
    }
    tmp_path(pc, sizeof pc, "powercap2");
    e = sys_energy_open(pc, hw, why, sizeof why);
    assert_non_null(e);
    assert_string_equal(sys_energy_source(e),
                        "powercap:package-0,powercap:package-1,powercap:package-2,powercap:package-3");
    put("powercap2/intel-rapl:0/energy_uj", "1250000\n");
    put("powercap2/intel-rapl:3/energy_uj", "1500000\n");
    assert_int_equal(sys_energy_read(e, &j), 0);
    assert_true(fabs(j - 0.75) < 1e-9);
    put("powercap2/intel-rapl:3/energy_uj", "10\n"); /* no max_energy_range_uj */
    assert_int_equal(sys_energy_read(e, &j), -1);
    assert_true(fabs(j - 0.75) < 1e-9);
    put("powercap2/intel-rapl:3/energy_uj", "500010\n");
    assert_int_equal(sys_energy_read(e, &j), 0);
    assert_true(fabs(j - 1.25) < 1e-9);
    sys_energy_close(e);

    put("hwmon/hwmon2/name", "amd_energy\n");
    put("hwmon/hwmon2/energy1_label", "Ecore000\n");
    put("hwmon/hwmon2/energy1_input", "1\n");
    put("hwmon/hwmon2/energy2_label", "Esocket0\n");
    put("hwmon/hwmon2/energy2_input", "3000000\n");
    tmp_path(pc, sizeof pc, "powercap-none");
    tmp_path(hw, sizeof hw, "hwmon");
    e = sys_energy_open(pc, hw, why, sizeof why);
    assert_non_null(e);
    assert_string_equal(sys_energy_source(e), "amd_energy:Esocket0");
    put("hwmon/hwmon2/energy2_input", "5000000\n");
    assert_int_equal(sys_energy_read(e, &j), 0);
    assert_true(fabs(j - 2.0) < 1e-9);
    sys_energy_close(e);

    if (geteuid() != 0) { /* root reads anything; elsewhere a 0400 counter is "not readable" */
        char counter[512];
        tmp_path(counter, sizeof counter, "powercap/intel-rapl:0/energy_uj");
        chmod(counter, 0);
        tmp_path(pc, sizeof pc, "powercap");
        tmp_path(hw, sizeof hw, "hwmon-none");
        assert_null(sys_energy_open(pc, hw, why, sizeof why));
        assert_true(strstr(why, "none readable") != NULL);
    }
}

/* Every key of the JSON (at any depth, except the tool names and feature names listed in
 * tables) must be documented in docs/info.md as `key`. */
static void check_documented(const cJSON *obj, const char *doc) {
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (it->string) {
            char quoted[128];
            snprintf(quoted, sizeof quoted, "`%s`", it->string);
            if (!strstr(doc, quoted)) fail_msg("JSON key %s is not documented in docs/info.md", quoted);
        }
        if (cJSON_IsObject(it) || cJSON_IsArray(it)) check_documented(it, doc);
    }
}

static void test_info_json_has_documented_keys_and_nulls(void **state) {
    (void)state;
    char drm[512], pc[512], hw[512];
    tmp_path(drm, sizeof drm, "none-drm");
    tmp_path(pc, sizeof pc, "none-pc");
    tmp_path(hw, sizeof hw, "none-hw");
    sys_probe_opts o = {"/nonexistent/libnvidia-ml.so.1", drm, "", pc, hw, 5.0};
    sys_info *in = malloc(sizeof *in);
    /* The system directories only: a user's shims (pyenv's python3 takes a second) are not needed here. */
    char *path = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", "/usr/bin:/bin", 1);
    sys_info_collect(in, &o);
    setenv("PATH", path, 1);
    free(path);
    cJSON *j = sys_info_json(in);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cJSON *back = cJSON_Parse(text); /* what a user's program would read */
    free(text);
    assert_non_null(back);

    const char *top[] = {"halo_forge_version", "os", "cpu", "memory", "blas", "gpus", "nvml", "rocm_smi", "energy",
                         "tools"};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (!cJSON_HasObjectItem(back, top[i])) fail_msg("missing key %s", top[i]);
    const cJSON *cpu = cJSON_GetObjectItem(back, "cpu");
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(cpu, "features")));
    assert_true(cJSON_IsBool(cJSON_GetObjectItem(cJSON_GetObjectItem(cpu, "features"), "avx2")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cpu, "logical_cpus")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(back, "memory"), "total_bytes")));
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(back, "gpus")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(back, "gpus")), 0);
    const cJSON *nvml = cJSON_GetObjectItem(back, "nvml");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(nvml, "available")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(nvml, "reason")));
    const cJSON *energy = cJSON_GetObjectItem(back, "energy");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(energy, "available")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(energy, "source")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(back, "rocm_smi")));
    const cJSON *tools = cJSON_GetObjectItem(back, "tools");
    for (int i = 0; i < SYS_NTOOLS; i++) assert_true(cJSON_HasObjectItem(tools, sys_tool_names[i]));
    const cJSON *gcc = cJSON_GetObjectItem(tools, "gcc");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(gcc, "path")));
    assert_true(cJSON_IsString(cJSON_GetObjectItem(gcc, "version")));

    char *doc = fs_read_file(HF_SOURCE_DIR "/docs/info.md", NULL);
    assert_non_null(doc);
    check_documented(back, doc);
    free(doc);
    cJSON_Delete(back);
    free(in);
}

/* A GPU entry in JSON: unknown readings are null, known ones numbers. */
static void test_info_json_gpu_fields(void **state) {
    (void)state;
    char lib[512], drm[512];
    if (!build_fake_nvml(lib, sizeof lib)) skip();
    tmp_path(drm, sizeof drm, "none-drm");
    sys_probe_opts o = {lib, drm, "", drm, drm, 5.0};
    sys_info *in = malloc(sizeof *in);
    char *path = strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", "/nonexistent", 1); /* no tools needed here */
    sys_info_collect(in, &o);
    setenv("PATH", path, 1);
    free(path);
    assert_int_equal(in->ngpus, 2);
    cJSON *j = sys_info_json(in);
    const cJSON *g1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "gpus"), 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(g1, "power_w")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(g1, "gtt_total_bytes")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(g1, "memory_total_bytes")));
    assert_true(cJSON_GetObjectItem(g1, "utilization_pct")->valuedouble == 41.0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "nvml"), "available")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "nvml"), "reason")));
    char *doc = fs_read_file(HF_SOURCE_DIR "/docs/info.md", NULL);
    assert_non_null(doc);
    check_documented(j, doc);
    free(doc);
    cJSON_Delete(j);
    free(in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_features_match_proc_cpuinfo),
        cmocka_unit_test(test_memory_and_rss_are_sane),
        cmocka_unit_test(test_cpu_util_from_proc_stat_deltas),
        cmocka_unit_test(test_blas_is_openblas_with_version),
        cmocka_unit_test(test_tools_found_with_versions),
        cmocka_unit_test_setup_teardown(test_tool_probe_reads_stderr_and_kills_hanging_tools, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_gpus_absent_nvml_is_unavailable_not_zero, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_gpus_through_nvml, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_amd_gpus_from_sysfs_and_rocm_smi, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_energy_counters, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_info_json_has_documented_keys_and_nulls, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_info_json_gpu_fields, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
