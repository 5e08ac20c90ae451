/* hwmon: the hardware monitor of the benchmarks and of training runs.
 *
 * A background thread samples the machine every interval (default 2 s, as the original), from the
 * moment hw_monitor_start returns until hw_monitor_stop (one sample at each end, so even a short
 * phase has two). Each sample is one row of the CSV file (when a path is given), with the
 * original's columns followed by ours:
 *   timestamp,gpu_util_pct,gpu_mem_used_gb,gpu_mem_total_gb,gpu_temp_c,gpu_power_w,
 *   sys_mem_used_gb,sys_mem_total_gb,cpu_util_pct,cpu_power_w,rss_gb
 * timestamp is UNIX seconds; a value that is not available (no GPU, no readable energy counter,
 * the first CPU reading) is an empty field, never 0. GPU values cover all GPUs: utilisation is
 * the mean, memory (VRAM + GTT) and power the sums, temperature the maximum. cpu_power_w is the
 * CPU package power from the RAPL energy counter over the last interval; rss_gb is this
 * process's resident memory.
 *
 * The summary gives averages and peaks of each series and energies: the CPU energy is the RAPL
 * counter's own total over the run (exact); the GPU energy is the difference of the boards' energy
 * counters (NVML's total energy, Volta and later) between the first and the last sample when every
 * GPU has one, else the sampled power integrated with the trapezoid rule (gpu_energy_source says
 * which). Unavailable values are NAN (JSON null). */
#ifndef HF_BENCH_HWMON_H
#define HF_BENCH_HWMON_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "core/sysinfo.h"

#define HW_CSV_HEADER                                                                                             \
    "timestamp,gpu_util_pct,gpu_mem_used_gb,gpu_mem_total_gb,gpu_temp_c,gpu_power_w,sys_mem_used_gb,"            \
    "sys_mem_total_gb,cpu_util_pct,cpu_power_w,rss_gb"

typedef struct {
    double interval_s;        /* <= 0: 2 s */
    const char *csv_path;     /* NULL: no CSV (the summary still works) */
    sys_gpus *gpus;           /* an open handle to share (borrowed), or NULL to open one with gpu_opts */
    sys_gpu_opts gpu_opts;    /* used when gpus is NULL; zero for the system defaults */
    bool no_gpu;              /* do not look for GPUs at all */
    const char *powercap_dir; /* NULL: /sys/class/powercap (see sys_energy_open) */
    const char *hwmon_dir;    /* NULL: /sys/class/hwmon */
    bool no_energy;           /* do not read the CPU energy counter */
} hw_opts;

typedef struct {
    double timestamp;                       /* UNIX seconds */
    double gpu_util_pct, gpu_mem_used_gb, gpu_mem_total_gb, gpu_temp_c, gpu_power_w;
    double sys_mem_used_gb, sys_mem_total_gb, cpu_util_pct, cpu_power_w, rss_gb;
    double gpu_energy_j; /* sum of the GPUs' energy counters when every GPU has one, else NAN (not in the CSV) */
} hw_sample;

typedef struct {
    double duration_sec; /* last sample - first sample */
    long samples_count;
    double gpu_util_avg_pct, gpu_util_peak_pct, gpu_mem_avg_gb, gpu_mem_peak_gb;
    double gpu_temp_avg_c, gpu_temp_peak_c, gpu_power_avg_w, gpu_power_peak_w, gpu_energy_wh;
    double sys_mem_avg_gb, sys_mem_peak_gb, sys_mem_total_gb, cpu_util_avg_pct, cpu_util_peak_pct;
    double cpu_power_avg_w, cpu_power_peak_w, cpu_energy_wh;
    double rss_avg_gb, rss_peak_gb;
    double energy_wh;        /* gpu_energy_wh + cpu_energy_wh over the known ones; NAN when neither */
    int gpu_count;
    char energy_source[256]; /* "powercap:package-0", or "" */
    char energy_status[256]; /* why there is no CPU energy, or "" */
    char gpu_energy_source[32]; /* "counter" (NVML total energy), "power" (sampled power integrated), or "" */
} hw_summary;

typedef struct hw_monitor hw_monitor;

/* Starts sampling. Returns NULL with "PATH: reason" in err only when the CSV cannot be created;
 * missing sensors are not errors. */
hw_monitor *hw_monitor_start(const hw_opts *opts, char *err, size_t errcap);
/* Stops the thread (within milliseconds, whatever the interval), takes a last sample, closes the
 * CSV and fills *out (may be NULL). Frees the monitor. Returns 0, or -1 when a CSV row could not
 * be written (the summary is still filled). */
int hw_monitor_stop(hw_monitor *m, hw_summary *out);

/* One reading, as the thread takes it (prev carries the CPU and energy state between calls;
 * zero it before the first). */
typedef struct {
    sys_cpu_sampler cpu;
    double last_joules, last_t;
    bool have_joules;
} hw_reader_state;
void hw_read_sample(sys_gpus *gpus, sys_energy *energy, hw_reader_state *st, hw_sample *out);

/* Summary of samples (in time order). cpu_joules is the energy counter's total over the run
 * (NAN when unknown). */
void hw_summarize(const hw_sample *s, long n, double cpu_joules, hw_summary *out);

/* The original's HW dict, extended (rounded like the original: GB 2 decimals, %, W, C 1, Wh 2):
 * {"duration_sec","samples_count",
 *  "gpu":{"utilization_avg_pct","utilization_peak_pct","memory_avg_gb","memory_peak_gb","temp_avg_c",
 *         "temp_peak_c","power_avg_w","power_peak_w","energy_wh","count"},
 *  "system":{"memory_avg_gb","memory_peak_gb","memory_total_gb","cpu_util_avg_pct","cpu_util_peak_pct",
 *            "cpu_power_avg_w","cpu_power_peak_w","cpu_energy_wh","rss_avg_gb","rss_peak_gb",
 *            "energy_source"},
 *  "energy_wh"}
 * Unavailable values are null. Caller frees. */
cJSON *hw_summary_to_json(const hw_summary *s);

/* Writes one CSV row (no header) for a sample into buf; returns its length. */
int hw_format_row(const hw_sample *s, char *buf, size_t cap);

#endif
