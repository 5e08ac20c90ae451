#include "core/sysinfo.h"
#include "core/fs.h"
#include "core/timing.h"

#include <cblas.h>
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HF_X86 1
#endif

/* ---- small file readers (no stdio, no allocation: usable at every sample) ---- */

/* Reads up to cap-1 bytes of path into buf, NUL-terminated. Returns the length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Copies src into dst (size cap), truncating. */
static void copy_str(char *dst, size_t cap, const char *src) {
    size_t n = 0;
    while (n + 1 < cap && src[n]) n++;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void trim(char *s) {
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    size_t lead = strspn(s, " \t\r\n");
    if (lead) memmove(s, s + lead, n - lead + 1);
}

/* First line of a small file, trimmed. Returns 0 or -1. */
static int read_line(const char *path, char *out, size_t cap) {
    char buf[512];
    if (read_small(path, buf, sizeof buf) < 0) return -1;
    buf[strcspn(buf, "\n")] = '\0';
    trim(buf);
    copy_str(out, cap, buf);
    return 0;
}

static int read_i64(const char *path, int64_t *out) {
    char buf[64];
    if (read_small(path, buf, sizeof buf) <= 0) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 0);
    if (errno || end == buf) return -1;
    *out = v;
    return 0;
}

/* Value in kB of "Key:" in a /proc file buffer, as bytes; -1 when absent. */
static int64_t proc_kb(const char *buf, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ':') return strtoll(p + kl + 1, NULL, 10) * 1024;
    }
    return -1;
}

/* ---- CPU ---- */

const char *const sys_feature_names[SYS_NFEATURES] = {
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8",
};

#ifdef HF_X86
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void cpu_read_cpuid(sys_cpu *c) {
    unsigned a, b, cx, d;
    if (!__get_cpuid(0, &a, &b, &cx, &d)) return;
    unsigned max_leaf = a;
    memcpy(c->vendor, &b, 4);
    memcpy(c->vendor + 4, &d, 4);
    memcpy(c->vendor + 8, &cx, 4);
    c->vendor[12] = '\0';

    __get_cpuid(1, &a, &b, &cx, &d);
    unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    c->family = (int)(base_family == 0xf ? base_family + ((a >> 20) & 0xff) : base_family);
    c->model_id = (int)(base_family == 0x6 || base_family == 0xf ? base_model | (((a >> 16) & 0xf) << 4) : base_model);
    c->stepping = (int)(a & 0xf);
    bool osxsave = cx & (1u << 27);
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    /* The OS must save the wider registers, or using them faults (Linux hides such flags too). */
    bool os_avx = (xcr0 & 0x6) == 0x6;
    bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
    bool os_amx = (xcr0 & 0x60000) == 0x60000;
    c->feature[SYS_SSE4_2] = cx & (1u << 20);
    c->feature[SYS_FMA] = os_avx && (cx & (1u << 12));
    c->feature[SYS_AVX] = os_avx && (cx & (1u << 28));
    c->feature[SYS_F16C] = os_avx && (cx & (1u << 29));
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        unsigned max_sub = a;
        c->feature[SYS_AVX2] = os_avx && (b & (1u << 5));
        c->feature[SYS_AVX512F] = os_avx512 && (b & (1u << 16));
        c->feature[SYS_AVX512DQ] = os_avx512 && (b & (1u << 17));
        c->feature[SYS_AVX512BW] = os_avx512 && (b & (1u << 30));
        c->feature[SYS_AVX512VL] = os_avx512 && (b & (1u << 31));
        c->feature[SYS_AVX512_VNNI] = os_avx512 && (cx & (1u << 11));
        c->feature[SYS_AMX_BF16] = os_amx && (d & (1u << 22));
        c->feature[SYS_AVX512_FP16] = os_avx512 && (d & (1u << 23));
        c->feature[SYS_AMX_TILE] = os_amx && (d & (1u << 24));
        c->feature[SYS_AMX_INT8] = os_amx && (d & (1u << 25));
        if (max_sub >= 1) {
            __cpuid_count(7, 1, a, b, cx, d);
            c->feature[SYS_AVX_VNNI] = os_avx && (a & (1u << 4));
            c->feature[SYS_AVX512_BF16] = os_avx512 && (a & (1u << 5));
        }
    }
    __get_cpuid(0x80000000, &a, &b, &cx, &d);
    if (a >= 0x80000004) {
        unsigned brand[12];
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2], &brand[4 * i + 3]);
        char s[49];
        memcpy(s, brand, 48);
        s[48] = '\0';
        trim(s);
        copy_str(c->model, sizeof c->model, s);
    }
}
#endif

/* A CPU counts as a core when it is the lowest-numbered of its SMT siblings. */
static int count_physical_cores(void) {
    int cores = 0, seen = 0;
    for (int cpu = 0; cpu < 8192; cpu++) {
        char path[128], list[256];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d", cpu);
        if (!fs_is_dir(path)) break;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
        if (read_line(path, list, sizeof list) != 0) continue; /* offline */
        seen++;
        if (atoi(list) == cpu) cores++;
    }
    return seen ? cores : -1;
}

void sys_cpu_read(sys_cpu *out) {
    memset(out, 0, sizeof *out);
    out->family = out->model_id = out->stepping = -1;
#ifdef HF_X86
    cpu_read_cpuid(out);
#endif
    if (!out->model[0]) {
        char *info = fs_read_file("/proc/cpuinfo", NULL);
        const char *p = info ? strstr(info, "model name") : NULL;
        if (p && (p = strchr(p, ':'))) {
            snprintf(out->model, sizeof out->model, "%.*s", (int)strcspn(p + 1, "\n"), p + 1);
            trim(out->model);
        }
        free(info);
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    out->logical_cpus = online > 0 ? (int)online : -1;
    cpu_set_t set;
    out->usable_cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
    out->physical_cores = count_physical_cores();
}

/* ---- memory and CPU time ---- */

int sys_memory_read(sys_memory *out) {
    char buf[4096];
    out->total_bytes = out->available_bytes = out->used_bytes = -1;
    if (read_small("/proc/meminfo", buf, sizeof buf) <= 0) return -1;
    out->total_bytes = proc_kb(buf, "MemTotal");
    out->available_bytes = proc_kb(buf, "MemAvailable");
    if (out->total_bytes >= 0 && out->available_bytes >= 0) out->used_bytes = out->total_bytes - out->available_bytes;
    return out->total_bytes >= 0 ? 0 : -1;
}

int sys_proc_rss(int64_t *current_bytes, int64_t *peak_bytes) {
    char buf[4096];
    int64_t cur = -1, peak = -1;
    if (read_small("/proc/self/status", buf, sizeof buf) > 0) {
        cur = proc_kb(buf, "VmRSS");
        peak = proc_kb(buf, "VmHWM");
    }
    if (current_bytes) *current_bytes = cur;
    if (peak_bytes) *peak_bytes = peak;
    return cur >= 0 && peak >= 0 ? 0 : -1;
}

double sys_proc_cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return NAN;
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

double sys_cpu_util(sys_cpu_sampler *s) {
    char buf[512];
    if (read_small("/proc/stat", buf, sizeof buf) <= 0 || strncmp(buf, "cpu ", 4) != 0) return NAN;
    /* user nice system idle iowait irq softirq steal (guest time is already in user). */
    unsigned long long v[8] = {0};
    if (sscanf(buf + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
               &v[7]) < 4)
        return NAN;
    uint64_t total = 0;
    for (int i = 0; i < 8; i++) total += v[i];
    uint64_t busy = total - v[3] - v[4];
    double pct = NAN;
    if (s->primed && total > s->total) {
        /* iowait may step back (a kernel quirk), so the ratio is clamped. */
        pct = 100.0 * (double)(busy - s->busy) / (double)(total - s->total);
        pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
    }
    if (s->primed && total == s->total) pct = 0.0; /* no tick elapsed */
    s->busy = busy;
    s->total = total;
    s->primed = true;
    return pct;
}

/* ---- BLAS ---- */

void sys_blas_read(sys_blas *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "OpenBLAS");
    const char *config = openblas_get_config();
    if (config) {
        copy_str(out->config, sizeof out->config, config);
        trim(out->config);
        if (strncmp(out->config, "OpenBLAS ", 9) == 0)
            snprintf(out->version, sizeof out->version, "%.*s", (int)strcspn(out->config + 9, " "), out->config + 9);
    }
    const char *core = openblas_get_corename();
    if (core) copy_str(out->core, sizeof out->core, core);
    out->threads = openblas_get_num_threads();
    Dl_info dli;
    if (dladdr((void *)openblas_get_config, &dli) && dli.dli_fname) {
        char real[PATH_MAX];
        copy_str(out->library, sizeof out->library, realpath(dli.dli_fname, real) ? real : dli.dli_fname);
    }
}

/* ---- running a tool for its version ---- */

typedef struct {
    pid_t pid;
    int fd;
    char *buf;
    size_t len, cap;
} child_out;

/* Starts argv[0] (a path) with argv, stdout (and stderr when merge_stderr, else /dev/null) into a
 * pipe, stdin from /dev/null, in its own process group so the whole group can be killed. */
static int spawn_capture(char *const argv[], bool merge_stderr, child_out *c) {
    int p[2];
    c->pid = -1;
    c->fd = -1;
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(p[1], 1);
        if (merge_stderr) dup2(p[1], 2);
        else if (devnull >= 0) dup2(devnull, 2);
        if (devnull > 2) close(devnull);
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid); /* also here, so the group exists before we might kill it */
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    c->pid = pid;
    c->fd = p[0];
    return 0;
}

/* Reads all children's output until each closes its pipe or the deadline passes, then kills
 * each process group (so nothing a tool started outlives the probe) and reaps. */
static void collect_children(child_out *cs, int n, double timeout_s) {
    double deadline = time_now() + timeout_s;
    for (;;) {
        struct pollfd pfd[SYS_NTOOLS + 1];
        int idx[SYS_NTOOLS + 1], np = 0;
        for (int i = 0; i < n && np < SYS_NTOOLS + 1; i++)
            if (cs[i].fd >= 0) {
                pfd[np].fd = cs[i].fd;
                pfd[np].events = POLLIN;
                idx[np++] = i;
            }
        double left = deadline - time_now();
        if (np == 0 || left <= 0) break;
        int r = poll(pfd, (nfds_t)np, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        for (int k = 0; k < np; k++) {
            if (!pfd[k].revents) continue;
            child_out *c = &cs[idx[k]];
            char tmp[4096];
            ssize_t got = read(c->fd, tmp, sizeof tmp);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (got <= 0) {
                close(c->fd);
                c->fd = -1;
                continue;
            }
            size_t keep = (size_t)got;
            if (c->len + keep > c->cap - 1) keep = c->cap - 1 - c->len;
            memcpy(c->buf + c->len, tmp, keep);
            c->len += keep;
            c->buf[c->len] = '\0';
        }
    }
    for (int i = 0; i < n; i++) {
        if (cs[i].fd >= 0) close(cs[i].fd);
        cs[i].fd = -1;
        if (cs[i].pid > 0) {
            kill(-cs[i].pid, SIGKILL);
            while (waitpid(cs[i].pid, NULL, 0) < 0 && errno == EINTR) {}
        }
    }
}

/* First non-blank line of text, control characters dropped. */
static void first_line(const char *text, char *out, size_t cap) {
    out[0] = '\0';
    while (*text) {
        size_t n = strcspn(text, "\n");
        size_t o = 0;
        for (size_t i = 0; i < n && o + 1 < cap; i++)
            if (!iscntrl((unsigned char)text[i])) out[o++] = text[i];
        out[o] = '\0';
        trim(out);
        if (out[0]) return;
        text += n;
        if (*text) text++;
    }
}

const char *const sys_tool_names[SYS_NTOOLS] = {
    "gcc", "g++", "clang", "clang++", "x86_64-w64-mingw32-g++", "python3", "rustc", "cargo", "go",
};

static const char *version_arg_of(const char *name) { return strcmp(name, "go") == 0 ? "version" : "--version"; }

static void probe_many(sys_tool *tools, const char *const *args, int n, double timeout_s) {
    child_out cs[SYS_NTOOLS];
    char bufs[SYS_NTOOLS][1024];
    for (int i = 0; i < n; i++) {
        cs[i] = (child_out){.pid = -1, .fd = -1, .buf = bufs[i], .len = 0, .cap = sizeof bufs[i]};
        bufs[i][0] = '\0';
        char *const argv[] = {tools[i].path, (char *)args[i], NULL};
        if (tools[i].path[0]) spawn_capture(argv, true, &cs[i]);
    }
    collect_children(cs, n, timeout_s);
    for (int i = 0; i < n; i++) first_line(bufs[i], tools[i].version, sizeof tools[i].version);
}

int sys_tool_probe(const char *name, const char *version_arg, double timeout_s, sys_tool *out) {
    memset(out, 0, sizeof *out);
    copy_str(out->name, sizeof out->name, name);
    if (!fs_which(name, out->path, sizeof out->path)) {
        out->path[0] = '\0';
        return -1;
    }
    const char *args[1] = {version_arg ? version_arg : "--version"};
    probe_many(out, args, 1, timeout_s);
    return 0;
}

void sys_tools_probe_all(sys_tool out[SYS_NTOOLS], double timeout_s) {
    const char *args[SYS_NTOOLS];
    for (int i = 0; i < SYS_NTOOLS; i++) {
        memset(&out[i], 0, sizeof out[i]);
        copy_str(out[i].name, sizeof out[i].name, sys_tool_names[i]);
        if (!fs_which(sys_tool_names[i], out[i].path, sizeof out[i].path)) out[i].path[0] = '\0';
        args[i] = version_arg_of(sys_tool_names[i]);
    }
    probe_many(out, args, SYS_NTOOLS, timeout_s);
}

/* ---- GPUs ---- */

/* NVML's C API, declared here because its header is not installed where the driver is absent. */
typedef struct {
    unsigned long long total, free, used;
} nvml_memory;
typedef struct {
    unsigned gpu, memory;
} nvml_utilization;
typedef void *nvml_device;

typedef struct {
    void *lib;
    int (*init)(void);
    int (*shutdown)(void);
    int (*count)(unsigned *);
    int (*handle)(unsigned, nvml_device *);
    int (*name)(nvml_device, char *, unsigned);
    int (*uuid)(nvml_device, char *, unsigned);
    int (*memory)(nvml_device, nvml_memory *);
    int (*utilization)(nvml_device, nvml_utilization *);
    int (*power_mw)(nvml_device, unsigned *);
    int (*temperature)(nvml_device, int, unsigned *);
    int (*energy_mj)(nvml_device, unsigned long long *);
    int (*driver)(char *, unsigned);
    const char *(*error_string)(int);
} nvml_api;

typedef struct {
    sys_gpu info;
    nvml_device nv;     /* NVIDIA */
    char dir[512];      /* AMD: DRM card's device directory */
    char hwmon[1024];   /* AMD: its hwmon directory, "" if none */
} gpu_slot;

struct sys_gpus {
    nvml_api nvml;
    bool nvml_ok;
    char nvml_status[256];
    gpu_slot slot[SYS_MAX_GPUS];
    int n;
};

static void *nvml_sym(void *lib, const char *a, const char *b) {
    void *f = dlsym(lib, a);
    return f || !b ? f : dlsym(lib, b);
}

static void nvml_open(sys_gpus *g, const char *library) {
    nvml_api *api = &g->nvml;
    api->lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!api->lib) {
        const char *e = dlerror();
        copy_str(g->nvml_status, sizeof g->nvml_status, e ? e : library);
        return;
    }
    /* Casting through a union avoids the object-to-function pointer warning. */
#define NVML_LOAD(field, a, b)                                                                                        \
    do {                                                                                                              \
        union { void *p; __typeof__(api->field) f; } u = {nvml_sym(api->lib, a, b)};                                 \
        api->field = u.f;                                                                                             \
    } while (0)
    NVML_LOAD(init, "nvmlInit_v2", "nvmlInit");
    NVML_LOAD(shutdown, "nvmlShutdown", NULL);
    NVML_LOAD(count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    NVML_LOAD(handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    NVML_LOAD(name, "nvmlDeviceGetName", NULL);
    NVML_LOAD(uuid, "nvmlDeviceGetUUID", NULL);
    NVML_LOAD(memory, "nvmlDeviceGetMemoryInfo", NULL);
    NVML_LOAD(utilization, "nvmlDeviceGetUtilizationRates", NULL);
    NVML_LOAD(power_mw, "nvmlDeviceGetPowerUsage", NULL);
    NVML_LOAD(temperature, "nvmlDeviceGetTemperature", NULL);
    NVML_LOAD(energy_mj, "nvmlDeviceGetTotalEnergyConsumption", NULL); /* Volta and later; optional */
    NVML_LOAD(driver, "nvmlSystemGetDriverVersion", NULL);
    NVML_LOAD(error_string, "nvmlErrorString", NULL);
#undef NVML_LOAD
    if (!api->init || !api->shutdown || !api->count || !api->handle) {
        snprintf(g->nvml_status, sizeof g->nvml_status, "%s lacks the NVML entry points", library);
        dlclose(api->lib);
        api->lib = NULL;
        return;
    }
    int rc = api->init();
    if (rc != 0) {
        snprintf(g->nvml_status, sizeof g->nvml_status, "nvmlInit failed: %s",
                 api->error_string ? api->error_string(rc) : "error");
        dlclose(api->lib);
        api->lib = NULL;
        return;
    }
    g->nvml_ok = true;
    char driver[64] = "";
    if (api->driver && api->driver(driver, sizeof driver) != 0) driver[0] = '\0';
    unsigned count = 0;
    if (api->count(&count) != 0) count = 0;
    for (unsigned i = 0; i < count && g->n < SYS_MAX_GPUS; i++) {
        nvml_device dev;
        if (api->handle(i, &dev) != 0) continue;
        gpu_slot *s = &g->slot[g->n++];
        s->nv = dev;
        sys_gpu *gi = &s->info;
        snprintf(gi->vendor, sizeof gi->vendor, "nvidia");
        snprintf(gi->source, sizeof gi->source, "nvml");
        copy_str(gi->driver, sizeof gi->driver, driver);
        if (api->name && api->name(dev, gi->name, sizeof gi->name) != 0) gi->name[0] = '\0';
        if (api->uuid && api->uuid(dev, gi->id, sizeof gi->id) != 0) gi->id[0] = '\0';
    }
}

static void nvml_read(sys_gpus *g, gpu_slot *s) {
    nvml_api *api = &g->nvml;
    sys_gpu *gi = &s->info;
    nvml_memory m;
    if (api->memory && api->memory(s->nv, &m) == 0) {
        gi->mem_total_bytes = (int64_t)m.total;
        gi->mem_used_bytes = (int64_t)m.used;
    }
    nvml_utilization u;
    if (api->utilization && api->utilization(s->nv, &u) == 0) gi->util_pct = u.gpu;
    unsigned v;
    if (api->power_mw && api->power_mw(s->nv, &v) == 0) gi->power_w = v / 1000.0;
    if (api->temperature && api->temperature(s->nv, 0 /* NVML_TEMPERATURE_GPU */, &v) == 0) gi->temp_c = v;
    unsigned long long mj;
    if (api->energy_mj && api->energy_mj(s->nv, &mj) == 0) gi->energy_j = (double)mj / 1000.0;
}

static int cmp_card(const void *a, const void *b) {
    return atoi(*(const char *const *)a + 4) - atoi(*(const char *const *)b + 4);
}

static void amd_scan(sys_gpus *g, const char *drm_dir) {
    DIR *d = opendir(drm_dir);
    if (!d) return;
    char *names[64];
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 64) {
        /* "card0" only: "card0-DP-1" are connectors, "renderD128" the same GPU again. */
        const char *p = e->d_name;
        if (strncmp(p, "card", 4) != 0 || !p[4] || strspn(p + 4, "0123456789") != strlen(p + 4)) continue;
        names[nn++] = strdup(p);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_card);
    for (int i = 0; i < nn; i++) {
        char dir[512], path[600], vendor[32] = "";
        snprintf(dir, sizeof dir, "%s/%s/device", drm_dir, names[i]);
        snprintf(path, sizeof path, "%s/vendor", dir);
        if (g->n < SYS_MAX_GPUS && read_line(path, vendor, sizeof vendor) == 0 && strtol(vendor, NULL, 16) == 0x1002) {
            gpu_slot *s = &g->slot[g->n++];
            sys_gpu *gi = &s->info;
            copy_str(s->dir, sizeof s->dir, dir);
            snprintf(gi->vendor, sizeof gi->vendor, "amd");
            snprintf(gi->source, sizeof gi->source, "sysfs");
            char link[512], devid[32] = "";
            ssize_t ll = readlink(dir, link, sizeof link - 1);
            if (ll > 0) {
                link[ll] = '\0';
                const char *base = strrchr(link, '/');
                copy_str(gi->id, sizeof gi->id, base ? base + 1 : link);
            } else {
                copy_str(gi->id, sizeof gi->id, names[i]);
            }
            snprintf(path, sizeof path, "%s/device", dir);
            read_line(path, devid, sizeof devid);
            snprintf(gi->name, sizeof gi->name, "AMD GPU [1002:%s]", devid[0] ? devid + (devid[1] == 'x' ? 2 : 0) : "?");
            snprintf(path, sizeof path, "%s/hwmon", dir);
            DIR *h = opendir(path);
            struct dirent *he;
            while (h && (he = readdir(h)))
                if (strncmp(he->d_name, "hwmon", 5) == 0) {
                    snprintf(s->hwmon, sizeof s->hwmon, "%s/%s", path, he->d_name);
                    break;
                }
            if (h) closedir(h);
            char ver[64];
            if (read_line("/sys/module/amdgpu/version", ver, sizeof ver) == 0) copy_str(gi->driver, sizeof gi->driver, ver);
        }
        free(names[i]);
    }
}

static const cJSON *get_ci(const cJSON *obj, const char *key) {
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) if (it->string && strcasecmp(it->string, key) == 0) return it;
    return NULL;
}

/* Names the AMD cards from `rocm-smi --showproductname --json`. rocm-smi numbers its cards in
 * the order of the DRM cards; names are applied only when both lists have the same length. */
static void amd_rocm_names(sys_gpus *g, const char *rocm_smi) {
    int namd = 0;
    for (int i = 0; i < g->n; i++) namd += strcmp(g->slot[i].info.vendor, "amd") == 0;
    if (namd == 0) return;
    char *buf = malloc(1 << 16);
    if (!buf) return;
    child_out c = {.pid = -1, .fd = -1, .buf = buf, .len = 0, .cap = 1 << 16};
    buf[0] = '\0';
    char *const argv[] = {(char *)rocm_smi, "--showproductname", "--json", NULL};
    if (spawn_capture(argv, false, &c) == 0) collect_children(&c, 1, 15.0); /* rocm-smi is slow to start */
    /* Some versions print warnings on stdout before the JSON. */
    const char *json = strchr(buf, '{');
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    free(buf);
    if (!root) return;
    const cJSON *cards[SYS_MAX_GPUS];
    int nc = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) if (it->string && strncasecmp(it->string, "card", 4) == 0 && nc < SYS_MAX_GPUS)
        cards[nc++] = it;
    if (nc == namd) {
        int k = 0;
        for (int i = 0; i < g->n; i++) {
            sys_gpu *gi = &g->slot[i].info;
            if (strcmp(gi->vendor, "amd") != 0) continue;
            const cJSON *series = get_ci(cards[k], "Card Series");
            const cJSON *gfx = get_ci(cards[k], "GFX Version");
            if (cJSON_IsString(series) && series->valuestring[0] && strcasecmp(series->valuestring, "N/A") != 0) {
                copy_str(gi->name, sizeof gi->name, series->valuestring);
                snprintf(gi->source, sizeof gi->source, "sysfs+rocm-smi");
            }
            if (cJSON_IsString(gfx) && gfx->valuestring[0] && strcasecmp(gfx->valuestring, "N/A") != 0)
                copy_str(gi->arch, sizeof gi->arch, gfx->valuestring);
            k++;
        }
    }
    cJSON_Delete(root);
}

static void amd_read(gpu_slot *s) {
    sys_gpu *gi = &s->info;
    char path[1100];
    int64_t v;
#define AMD_FILE(name, field)                                                                                         \
    snprintf(path, sizeof path, "%s/" name, s->dir);                                                                  \
    if (read_i64(path, &v) == 0) gi->field = v;
    AMD_FILE("mem_info_vram_total", mem_total_bytes);
    AMD_FILE("mem_info_vram_used", mem_used_bytes);
    AMD_FILE("mem_info_gtt_total", gtt_total_bytes);
    AMD_FILE("mem_info_gtt_used", gtt_used_bytes);
#undef AMD_FILE
    snprintf(path, sizeof path, "%s/gpu_busy_percent", s->dir);
    if (read_i64(path, &v) == 0) gi->util_pct = (double)v;
    if (s->hwmon[0]) {
        snprintf(path, sizeof path, "%s/power1_average", s->hwmon);
        if (read_i64(path, &v) != 0) snprintf(path, sizeof path, "%s/power1_input", s->hwmon);
        if (read_i64(path, &v) == 0) gi->power_w = (double)v / 1e6; /* microwatts */
        snprintf(path, sizeof path, "%s/temp1_input", s->hwmon);
        if (read_i64(path, &v) == 0) gi->temp_c = (double)v / 1000.0; /* millidegrees */
    }
}

sys_gpus *sys_gpus_open(const sys_gpu_opts *opts) {
    sys_gpus *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    sys_gpu_opts o = opts ? *opts : (sys_gpu_opts){0};
    const char *nvml = o.nvml_library;
    if (!nvml) nvml = getenv("HF_NVML_LIBRARY");
    nvml_open(g, nvml && nvml[0] ? nvml : "libnvidia-ml.so.1");
    amd_scan(g, o.drm_dir ? o.drm_dir : "/sys/class/drm");
    char rocm[512] = "";
    if (!o.rocm_smi) fs_which("rocm-smi", rocm, sizeof rocm);
    else if (o.rocm_smi[0]) copy_str(rocm, sizeof rocm, o.rocm_smi);
    if (rocm[0]) amd_rocm_names(g, rocm);
    return g;
}

int sys_gpus_count(const sys_gpus *g) { return g ? g->n : 0; }
const char *sys_gpus_nvml_status(const sys_gpus *g) { return g ? g->nvml_status : "out of memory"; }

int sys_gpus_read(sys_gpus *g, sys_gpu *out, int cap) {
    int n = 0;
    for (int i = 0; g && i < g->n && n < cap; i++) {
        gpu_slot *s = &g->slot[i];
        sys_gpu *gi = &s->info;
        gi->mem_total_bytes = gi->mem_used_bytes = gi->gtt_total_bytes = gi->gtt_used_bytes = -1;
        gi->util_pct = gi->power_w = gi->temp_c = gi->energy_j = NAN;
        if (s->nv) nvml_read(g, s);
        else amd_read(s);
        out[n++] = *gi;
    }
    return n;
}

void sys_gpus_close(sys_gpus *g) {
    if (!g) return;
    if (g->nvml_ok) g->nvml.shutdown();
    if (g->nvml.lib) dlclose(g->nvml.lib);
    free(g);
}

/* ---- energy ---- */

#define SYS_MAX_COUNTERS 16

struct sys_energy {
    int n;
    int fd[SYS_MAX_COUNTERS];
    uint64_t last_uj[SYS_MAX_COUNTERS];
    uint64_t range_uj[SYS_MAX_COUNTERS]; /* wraps at this value; 0: 64-bit, no wrap */
    double total_j;
    char source[256];
};

static int counter_read(int fd, uint64_t *uj) {
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *end;
    unsigned long long v = strtoull(buf, &end, 10);
    if (end == buf) return -1;
    *uj = v;
    return 0;
}

static void energy_add(sys_energy *e, const char *path, uint64_t range, const char *label) {
    if (e->n >= SYS_MAX_COUNTERS) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    uint64_t v;
    if (fd < 0) return;
    if (counter_read(fd, &v) != 0) {
        close(fd);
        return;
    }
    e->fd[e->n] = fd;
    e->last_uj[e->n] = v;
    e->range_uj[e->n] = range;
    e->n++;
    size_t l = strlen(e->source);
    snprintf(e->source + l, sizeof e->source - l, "%s%s", l ? "," : "", label);
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int sorted_dir(const char *dir, const char *prefix, char ***out) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 8;
    char **names = malloc((size_t)cap * sizeof *names);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (n == cap) names = realloc(names, (size_t)(cap *= 2) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_name);
    *out = names;
    return n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

sys_energy *sys_energy_open(const char *powercap_dir, const char *hwmon_dir, char *why, size_t whycap) {
    sys_energy *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    powercap_dir = powercap_dir ? powercap_dir : "/sys/class/powercap";
    hwmon_dir = hwmon_dir ? hwmon_dir : "/sys/class/hwmon";
    int found = 0;
    char **names;
    int nn = sorted_dir(powercap_dir, "intel-rapl:", &names);
    for (int i = 0; i < nn; i++) {
        /* Top-level zones only ("intel-rapl:0"); "intel-rapl:0:0" are parts of a package. */
        if (strchr(names[i] + strlen("intel-rapl:"), ':')) continue;
        char path[700], zone[64] = "";
        snprintf(path, sizeof path, "%s/%s/name", powercap_dir, names[i]);
        if (read_line(path, zone, sizeof zone) != 0 || strncmp(zone, "package", 7) != 0) continue;
        found++;
        int64_t range = 0;
        snprintf(path, sizeof path, "%s/%s/max_energy_range_uj", powercap_dir, names[i]);
        if (read_i64(path, &range) != 0) range = 0;
        snprintf(path, sizeof path, "%s/%s/energy_uj", powercap_dir, names[i]);
        char label[96];
        snprintf(label, sizeof label, "powercap:%s", zone);
        energy_add(e, path, (uint64_t)range, label);
    }
    if (nn >= 0) free_names(names, nn);
    if (e->n == 0) {
        nn = sorted_dir(hwmon_dir, "hwmon", &names);
        for (int i = 0; i < nn; i++) {
            char path[700], drv[64] = "";
            snprintf(path, sizeof path, "%s/%s/name", hwmon_dir, names[i]);
            if (read_line(path, drv, sizeof drv) != 0 || strcmp(drv, "amd_energy") != 0) continue;
            for (int k = 1; k < 1024; k++) {
                char label[64];
                snprintf(path, sizeof path, "%s/%s/energy%d_label", hwmon_dir, names[i], k);
                if (read_line(path, label, sizeof label) != 0) break;
                if (strncmp(label, "Esocket", 7) != 0) continue;
                found++;
                snprintf(path, sizeof path, "%s/%s/energy%d_input", hwmon_dir, names[i], k);
                char src[96];
                snprintf(src, sizeof src, "amd_energy:%s", label);
                energy_add(e, path, 0, src);
            }
        }
        if (nn >= 0) free_names(names, nn);
    }
    if (e->n > 0) return e;
    if (found)
        snprintf(why, whycap, "%d package energy counter(s) under %s or %s, none readable (root only since Linux 5.10)",
                 found, powercap_dir, hwmon_dir);
    else
        snprintf(why, whycap, "no RAPL package zone in %s and no amd_energy sensor in %s", powercap_dir, hwmon_dir);
    free(e);
    return NULL;
}

int sys_energy_read(sys_energy *e, double *joules) {
    int rc = 0;
    for (int i = 0; i < e->n; i++) {
        uint64_t v;
        if (counter_read(e->fd[i], &v) != 0) {
            rc = -1;
            continue;
        }
        if (v >= e->last_uj[i]) {
            e->total_j += (double)(v - e->last_uj[i]) * 1e-6;
        } else if (e->range_uj[i] > e->last_uj[i]) {
            e->total_j += (double)(e->range_uj[i] - e->last_uj[i] + v) * 1e-6; /* wrapped */
        } else {
            rc = -1; /* went back with no known range: this interval is lost, the next is counted */
        }
        e->last_uj[i] = v;
    }
    *joules = e->total_j;
    return rc;
}

const char *sys_energy_source(const sys_energy *e) { return e->source; }

void sys_energy_close(sys_energy *e) {
    if (!e) return;
    for (int i = 0; i < e->n; i++) close(e->fd[i]);
    free(e);
}

/* ---- everything ---- */

void sys_info_collect(sys_info *out, const sys_probe_opts *opts) {
    memset(out, 0, sizeof *out);
    sys_probe_opts o = opts ? *opts : (sys_probe_opts){0};
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(out->kernel, sizeof out->kernel, "%s %s", u.sysname, u.release);
        copy_str(out->machine, sizeof out->machine, u.machine);
    }
    sys_cpu_read(&out->cpu);
    sys_memory_read(&out->mem);
    sys_blas_read(&out->blas);

    sys_gpu_opts go = {o.nvml_library, o.drm_dir, o.rocm_smi};
    sys_gpus *g = sys_gpus_open(&go);
    out->ngpus = sys_gpus_read(g, out->gpus, SYS_MAX_GPUS);
    copy_str(out->nvml_status, sizeof out->nvml_status, sys_gpus_nvml_status(g));
    sys_gpus_close(g);
    if (!o.rocm_smi) {
        if (!fs_which("rocm-smi", out->rocm_smi, sizeof out->rocm_smi)) out->rocm_smi[0] = '\0';
    } else if (o.rocm_smi[0] && access(o.rocm_smi, X_OK) == 0) {
        copy_str(out->rocm_smi, sizeof out->rocm_smi, o.rocm_smi);
    }

    sys_energy *e = sys_energy_open(o.powercap_dir, o.hwmon_dir, out->energy_status, sizeof out->energy_status);
    if (e) {
        copy_str(out->energy_source, sizeof out->energy_source, sys_energy_source(e));
        sys_energy_close(e);
    }
    sys_tools_probe_all(out->tools, o.tool_timeout_s > 0 ? o.tool_timeout_s : 5.0);
}

static void add_str(cJSON *o, const char *key, const char *v) {
    if (v && v[0]) cJSON_AddStringToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}
static void add_int(cJSON *o, const char *key, int64_t v) {
    if (v >= 0) cJSON_AddNumberToObject(o, key, (double)v);
    else cJSON_AddNullToObject(o, key);
}
static void add_num(cJSON *o, const char *key, double v) {
    if (isnan(v)) cJSON_AddNullToObject(o, key);
    else cJSON_AddNumberToObject(o, key, round(v * 100) / 100);
}

cJSON *sys_info_json(const sys_info *in) {
    cJSON *root = cJSON_CreateObject();
    add_str(root, "halo_forge_version", HF_VERSION);
    cJSON *os = cJSON_AddObjectToObject(root, "os");
    add_str(os, "kernel", in->kernel);
    add_str(os, "machine", in->machine);

    cJSON *cpu = cJSON_AddObjectToObject(root, "cpu");
    add_str(cpu, "vendor", in->cpu.vendor);
    add_str(cpu, "model", in->cpu.model);
    add_int(cpu, "family", in->cpu.family);
    add_int(cpu, "model_id", in->cpu.model_id);
    add_int(cpu, "stepping", in->cpu.stepping);
    add_int(cpu, "logical_cpus", in->cpu.logical_cpus);
    add_int(cpu, "usable_cpus", in->cpu.usable_cpus);
    add_int(cpu, "physical_cores", in->cpu.physical_cores);
    cJSON *feat = cJSON_AddObjectToObject(cpu, "features");
    for (int i = 0; i < SYS_NFEATURES; i++) cJSON_AddBoolToObject(feat, sys_feature_names[i], in->cpu.feature[i]);

    cJSON *mem = cJSON_AddObjectToObject(root, "memory");
    add_int(mem, "total_bytes", in->mem.total_bytes);
    add_int(mem, "available_bytes", in->mem.available_bytes);

    cJSON *blas = cJSON_AddObjectToObject(root, "blas");
    add_str(blas, "name", in->blas.name);
    add_str(blas, "version", in->blas.version);
    add_str(blas, "core", in->blas.core);
    add_int(blas, "threads", in->blas.threads > 0 ? in->blas.threads : -1);
    add_str(blas, "config", in->blas.config);
    add_str(blas, "library", in->blas.library);

    cJSON *gpus = cJSON_AddArrayToObject(root, "gpus");
    for (int i = 0; i < in->ngpus; i++) {
        const sys_gpu *g = &in->gpus[i];
        cJSON *o = cJSON_CreateObject();
        add_str(o, "vendor", g->vendor);
        add_str(o, "name", g->name);
        add_str(o, "source", g->source);
        add_str(o, "id", g->id);
        add_str(o, "driver", g->driver);
        add_str(o, "arch", g->arch);
        add_int(o, "memory_total_bytes", g->mem_total_bytes);
        add_int(o, "memory_used_bytes", g->mem_used_bytes);
        add_int(o, "gtt_total_bytes", g->gtt_total_bytes);
        add_int(o, "gtt_used_bytes", g->gtt_used_bytes);
        add_num(o, "utilization_pct", g->util_pct);
        add_num(o, "power_w", g->power_w);
        add_num(o, "temperature_c", g->temp_c);
        add_num(o, "energy_j", g->energy_j);
        cJSON_AddItemToArray(gpus, o);
    }
    cJSON *nvml = cJSON_AddObjectToObject(root, "nvml");
    cJSON_AddBoolToObject(nvml, "available", in->nvml_status[0] == '\0');
    add_str(nvml, "reason", in->nvml_status);
    add_str(root, "rocm_smi", in->rocm_smi);

    cJSON *energy = cJSON_AddObjectToObject(root, "energy");
    cJSON_AddBoolToObject(energy, "available", in->energy_source[0] != '\0');
    add_str(energy, "source", in->energy_source);
    add_str(energy, "reason", in->energy_status);

    cJSON *tools = cJSON_AddObjectToObject(root, "tools");
    for (int i = 0; i < SYS_NTOOLS; i++) {
        const sys_tool *t = &in->tools[i];
        if (!t->path[0]) {
            cJSON_AddNullToObject(tools, t->name);
            continue;
        }
        cJSON *o = cJSON_AddObjectToObject(tools, t->name);
        add_str(o, "path", t->path);
        add_str(o, "version", t->version);
    }
    return root;
}
