/* hwmon: sampling thread, CSV rows and summary (see hwmon.h). */
#include "bench/hwmon.h"

#include "core/timing.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GB (1024.0 * 1024.0 * 1024.0)

struct hw_monitor {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    double interval_s;
    FILE *csv;
    bool write_failed;
    sys_gpus *gpus;
    bool own_gpus;
    sys_energy *energy;
    hw_reader_state st;
    hw_sample *samples;
    long n, cap;
    char energy_source[256], energy_status[256];
    int gpu_count;
};

void hw_read_sample(sys_gpus *gpus, sys_energy *energy, hw_reader_state *st, hw_sample *out) {
    out->timestamp = time_wall();
    double now = time_now();

    out->gpu_util_pct = out->gpu_mem_used_gb = out->gpu_mem_total_gb = NAN;
    out->gpu_temp_c = out->gpu_power_w = out->gpu_energy_j = NAN;
    if (gpus) {
        sys_gpu g[SYS_MAX_GPUS];
        int n = sys_gpus_read(gpus, g, SYS_MAX_GPUS);
        double util = 0, used = 0, total = 0, temp = NAN, power = 0, energy = 0;
        int n_util = 0, n_mem = 0, n_power = 0, n_energy = 0;
        for (int i = 0; i < n; i++) {
            if (!isnan(g[i].util_pct)) util += g[i].util_pct, n_util++;
            bool mem = false;
            if (g[i].mem_used_bytes >= 0) used += (double)g[i].mem_used_bytes, mem = true;
            if (g[i].gtt_used_bytes >= 0) used += (double)g[i].gtt_used_bytes, mem = true;
            if (g[i].mem_total_bytes >= 0) total += (double)g[i].mem_total_bytes;
            if (g[i].gtt_total_bytes >= 0) total += (double)g[i].gtt_total_bytes;
            n_mem += mem;
            if (!isnan(g[i].temp_c) && (isnan(temp) || g[i].temp_c > temp)) temp = g[i].temp_c;
            if (!isnan(g[i].power_w)) power += g[i].power_w, n_power++;
            if (!isnan(g[i].energy_j)) energy += g[i].energy_j, n_energy++;
        }
        if (n_util) out->gpu_util_pct = util / n_util;
        if (n_mem) {
            out->gpu_mem_used_gb = used / GB;
            out->gpu_mem_total_gb = total > 0 ? total / GB : NAN;
        }
        out->gpu_temp_c = temp;
        if (n_power) out->gpu_power_w = power;
        if (n && n_energy == n) out->gpu_energy_j = energy;
    }

    sys_memory mem;
    if (sys_memory_read(&mem) == 0) {
        out->sys_mem_used_gb = (double)mem.used_bytes / GB;
        out->sys_mem_total_gb = (double)mem.total_bytes / GB;
    } else {
        out->sys_mem_used_gb = out->sys_mem_total_gb = NAN;
    }
    out->cpu_util_pct = sys_cpu_util(&st->cpu);
    int64_t rss;
    out->rss_gb = sys_proc_rss(&rss, NULL) == 0 ? (double)rss / GB : NAN;

    out->cpu_power_w = NAN;
    if (energy) {
        double j;
        int rc = sys_energy_read(energy, &j);
        if (rc == 0) {
            if (st->have_joules && now > st->last_t) out->cpu_power_w = (j - st->last_joules) / (now - st->last_t);
            st->last_joules = j;
            st->last_t = now;
            st->have_joules = true;
        }
    }
}

static void fmt_val(char **p, char *end, double v, int decimals) {
    int w = isnan(v) ? snprintf(*p, (size_t)(end - *p), ",") : snprintf(*p, (size_t)(end - *p), ",%.*f", decimals, v);
    if (w > 0 && *p + w < end) *p += w;
}

int hw_format_row(const hw_sample *s, char *buf, size_t cap) {
    char *p = buf, *end = buf + cap;
    int w = snprintf(p, cap, "%.3f", s->timestamp);
    if (w < 0 || (size_t)w >= cap) return 0;
    p += w;
    fmt_val(&p, end, s->gpu_util_pct, 1);
    fmt_val(&p, end, s->gpu_mem_used_gb, 2);
    fmt_val(&p, end, s->gpu_mem_total_gb, 2);
    fmt_val(&p, end, s->gpu_temp_c, 1);
    fmt_val(&p, end, s->gpu_power_w, 2);
    fmt_val(&p, end, s->sys_mem_used_gb, 2);
    fmt_val(&p, end, s->sys_mem_total_gb, 2);
    fmt_val(&p, end, s->cpu_util_pct, 1);
    fmt_val(&p, end, s->cpu_power_w, 2);
    fmt_val(&p, end, s->rss_gb, 2);
    return (int)(p - buf);
}

/* Takes a sample, keeps it and writes its row. Called with m->mu NOT held (reads may be slow). */
static void take_sample(hw_monitor *m) {
    hw_sample s;
    hw_read_sample(m->gpus, m->energy, &m->st, &s);
    if (m->n == m->cap) {
        long cap = m->cap ? m->cap * 2 : 256;
        hw_sample *ns = realloc(m->samples, (size_t)cap * sizeof *ns);
        if (!ns) return; /* out of memory: this sample is lost, the monitor goes on */
        m->samples = ns;
        m->cap = cap;
    }
    m->samples[m->n++] = s;
    if (m->csv) {
        char row[512];
        int len = hw_format_row(&s, row, sizeof row);
        if (fprintf(m->csv, "%.*s\n", len, row) < 0 || fflush(m->csv) != 0) m->write_failed = true;
    }
}

static void *monitor_thread(void *arg) {
    hw_monitor *m = arg;
    double next = time_now() + m->interval_s;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double wait = next - ((double)ts.tv_sec + ts.tv_nsec * 1e-9);
        if (wait > 0) {
            double dl = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + wait;
            ts.tv_sec = (time_t)dl;
            ts.tv_nsec = (long)((dl - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&m->cv, &m->mu, &ts);
            continue; /* re-check stop and the deadline */
        }
        pthread_mutex_unlock(&m->mu);
        take_sample(m);
        next += m->interval_s;
        double now = time_now();
        if (next < now) next = now + m->interval_s; /* a slow read: do not burst to catch up */
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

hw_monitor *hw_monitor_start(const hw_opts *opts, char *err, size_t errcap) {
    hw_opts def;
    if (!opts) {
        memset(&def, 0, sizeof def);
        opts = &def;
    }
    hw_monitor *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    m->interval_s = opts->interval_s > 0 ? opts->interval_s : 2.0;
    if (opts->csv_path) {
        m->csv = fopen(opts->csv_path, "w");
        if (!m->csv) {
            snprintf(err, errcap, "%s: %s", opts->csv_path, strerror(errno));
            free(m);
            return NULL;
        }
        fprintf(m->csv, "%s\n", HW_CSV_HEADER);
        fflush(m->csv);
    }
    if (!opts->no_gpu) {
        if (opts->gpus) {
            m->gpus = opts->gpus;
        } else {
            m->gpus = sys_gpus_open(&opts->gpu_opts);
            m->own_gpus = true;
        }
        m->gpu_count = m->gpus ? sys_gpus_count(m->gpus) : 0;
        if (m->gpus && m->gpu_count == 0) {
            if (m->own_gpus) sys_gpus_close(m->gpus);
            m->gpus = NULL;
            m->own_gpus = false;
        }
    }
    if (opts->no_energy) {
        snprintf(m->energy_status, sizeof m->energy_status, "not measured (disabled)");
    } else {
        m->energy = sys_energy_open(opts->powercap_dir, opts->hwmon_dir, m->energy_status, sizeof m->energy_status);
        if (m->energy) snprintf(m->energy_source, sizeof m->energy_source, "%s", sys_energy_source(m->energy));
    }
    sys_cpu_util(&m->st.cpu); /* prime: the first sample then has a utilisation since start */
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    take_sample(m);
    if (pthread_create(&m->thread, NULL, monitor_thread, m) != 0) {
        snprintf(err, errcap, "cannot start the monitor thread");
        if (m->csv) fclose(m->csv);
        if (m->own_gpus) sys_gpus_close(m->gpus);
        sys_energy_close(m->energy);
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        free(m->samples);
        free(m);
        return NULL;
    }
    return m;
}

int hw_monitor_stop(hw_monitor *m, hw_summary *out) {
    if (!m) return -1;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    take_sample(m);
    double joules = NAN;
    if (m->energy && sys_energy_read(m->energy, &joules) != 0 && joules <= 0) joules = NAN;
    int rc = m->write_failed ? -1 : 0;
    if (m->csv && fclose(m->csv) != 0) rc = -1;
    if (out) {
        hw_summarize(m->samples, m->n, joules, out);
        out->gpu_count = m->gpu_count;
        snprintf(out->energy_source, sizeof out->energy_source, "%s", m->energy_source);
        snprintf(out->energy_status, sizeof out->energy_status, "%s", m->energy_status);
    }
    if (m->own_gpus) sys_gpus_close(m->gpus);
    sys_energy_close(m->energy);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m->samples);
    free(m);
    return rc;
}

/* avg and peak of one series over the known values (NAN when none). */
static void series(const hw_sample *s, long n, size_t off, double *avg, double *peak) {
    double sum = 0, mx = NAN;
    long k = 0;
    for (long i = 0; i < n; i++) {
        double v = *(const double *)((const char *)&s[i] + off);
        if (isnan(v)) continue;
        sum += v;
        k++;
        if (isnan(mx) || v > mx) mx = v;
    }
    *avg = k ? sum / (double)k : NAN;
    *peak = mx;
}

void hw_summarize(const hw_sample *s, long n, double cpu_joules, hw_summary *out) {
    memset(out, 0, sizeof *out);
    out->samples_count = n;
    out->duration_sec = n >= 2 ? s[n - 1].timestamp - s[0].timestamp : 0.0;
    series(s, n, offsetof(hw_sample, gpu_util_pct), &out->gpu_util_avg_pct, &out->gpu_util_peak_pct);
    series(s, n, offsetof(hw_sample, gpu_mem_used_gb), &out->gpu_mem_avg_gb, &out->gpu_mem_peak_gb);
    series(s, n, offsetof(hw_sample, gpu_temp_c), &out->gpu_temp_avg_c, &out->gpu_temp_peak_c);
    series(s, n, offsetof(hw_sample, gpu_power_w), &out->gpu_power_avg_w, &out->gpu_power_peak_w);
    series(s, n, offsetof(hw_sample, sys_mem_used_gb), &out->sys_mem_avg_gb, &out->sys_mem_peak_gb);
    double tot_avg;
    series(s, n, offsetof(hw_sample, sys_mem_total_gb), &tot_avg, &out->sys_mem_total_gb);
    series(s, n, offsetof(hw_sample, cpu_util_pct), &out->cpu_util_avg_pct, &out->cpu_util_peak_pct);
    double cpu_avg_samples;
    series(s, n, offsetof(hw_sample, cpu_power_w), &cpu_avg_samples, &out->cpu_power_peak_w);
    series(s, n, offsetof(hw_sample, rss_gb), &out->rss_avg_gb, &out->rss_peak_gb);

    /* GPU energy: trapezoids between consecutive readings; a sample without a reading is bridged
     * (the power on both sides is known), never counted as 0 W. */
    double gpu_j = 0, last_t = NAN, last_p = NAN;
    bool gpu_known = false;
    for (long i = 0; i < n; i++) {
        double p = s[i].gpu_power_w;
        if (isnan(p)) continue;
        if (!isnan(last_p) && s[i].timestamp > last_t) gpu_j += 0.5 * (last_p + p) * (s[i].timestamp - last_t);
        last_t = s[i].timestamp;
        last_p = p;
        gpu_known = true;
    }
    out->gpu_energy_wh = gpu_known ? gpu_j / 3600.0 : NAN;
    if (gpu_known) snprintf(out->gpu_energy_source, sizeof out->gpu_energy_source, "power");
    /* the boards' own counters, when every sample of the run has them and they did not go back (driver
       reloaded), are exact: they see every millisecond, not just the sampled moments */
    bool counters = n >= 2;
    for (long i = 0; i < n && counters; i++) counters = !isnan(s[i].gpu_energy_j);
    if (counters && s[n - 1].gpu_energy_j >= s[0].gpu_energy_j) {
        out->gpu_energy_wh = (s[n - 1].gpu_energy_j - s[0].gpu_energy_j) / 3600.0;
        snprintf(out->gpu_energy_source, sizeof out->gpu_energy_source, "counter");
    }

    /* CPU energy: the counter's own total is exact; otherwise integrate the sampled power. */
    if (!isnan(cpu_joules)) {
        out->cpu_energy_wh = cpu_joules / 3600.0;
        out->cpu_power_avg_w = out->duration_sec > 0 ? cpu_joules / out->duration_sec : cpu_avg_samples;
    } else {
        double j = 0;
        bool known = false;
        for (long i = 1; i < n; i++) {
            double p = s[i].cpu_power_w, dt = s[i].timestamp - s[i - 1].timestamp;
            if (isnan(p) || dt <= 0) continue; /* a sample's power is the mean over the interval before it */
            j += p * dt;
            known = true;
        }
        out->cpu_energy_wh = known ? j / 3600.0 : NAN;
        out->cpu_power_avg_w = cpu_avg_samples;
    }
    if (isnan(out->gpu_energy_wh) && isnan(out->cpu_energy_wh)) out->energy_wh = NAN;
    else out->energy_wh = (isnan(out->gpu_energy_wh) ? 0 : out->gpu_energy_wh) + (isnan(out->cpu_energy_wh) ? 0 : out->cpu_energy_wh);
}

static void add_num(cJSON *o, const char *key, double v, int decimals) {
    if (isnan(v) || isinf(v)) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    double f = pow(10.0, decimals);
    cJSON_AddNumberToObject(o, key, round(v * f) / f);
}

cJSON *hw_summary_to_json(const hw_summary *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_num(o, "duration_sec", s->duration_sec, 1);
    cJSON_AddNumberToObject(o, "samples_count", (double)s->samples_count);
    cJSON *g = cJSON_AddObjectToObject(o, "gpu");
    add_num(g, "utilization_avg_pct", s->gpu_util_avg_pct, 1);
    add_num(g, "utilization_peak_pct", s->gpu_util_peak_pct, 1);
    add_num(g, "memory_avg_gb", s->gpu_mem_avg_gb, 2);
    add_num(g, "memory_peak_gb", s->gpu_mem_peak_gb, 2);
    add_num(g, "temp_avg_c", s->gpu_temp_avg_c, 1);
    add_num(g, "temp_peak_c", s->gpu_temp_peak_c, 1);
    add_num(g, "power_avg_w", s->gpu_power_avg_w, 1);
    add_num(g, "power_peak_w", s->gpu_power_peak_w, 1);
    add_num(g, "energy_wh", s->gpu_energy_wh, 2);
    if (s->gpu_energy_source[0]) cJSON_AddStringToObject(g, "energy_source", s->gpu_energy_source);
    else cJSON_AddNullToObject(g, "energy_source");
    cJSON_AddNumberToObject(g, "count", s->gpu_count);
    cJSON *y = cJSON_AddObjectToObject(o, "system");
    add_num(y, "memory_avg_gb", s->sys_mem_avg_gb, 2);
    add_num(y, "memory_peak_gb", s->sys_mem_peak_gb, 2);
    add_num(y, "memory_total_gb", s->sys_mem_total_gb, 2);
    add_num(y, "cpu_util_avg_pct", s->cpu_util_avg_pct, 1);
    add_num(y, "cpu_util_peak_pct", s->cpu_util_peak_pct, 1);
    add_num(y, "cpu_power_avg_w", s->cpu_power_avg_w, 1);
    add_num(y, "cpu_power_peak_w", s->cpu_power_peak_w, 1);
    add_num(y, "cpu_energy_wh", s->cpu_energy_wh, 2);
    add_num(y, "rss_avg_gb", s->rss_avg_gb, 2);
    add_num(y, "rss_peak_gb", s->rss_peak_gb, 2);
    if (s->energy_source[0]) cJSON_AddStringToObject(y, "energy_source", s->energy_source);
    else cJSON_AddNullToObject(y, "energy_source");
    add_num(o, "energy_wh", s->energy_wh, 2);
    return o;
}
