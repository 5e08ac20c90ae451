/* sysinfo: facts about the machine, read, never guessed.
 *
 * Two kinds of readers:
 *  - a one-off probe (sys_info_collect) for `halo-forge info` and for the hardware section of
 *    benchmark reports: CPU model and SIMD features (from cpuid), cores, memory, the BLAS library
 *    we link, GPUs (NVIDIA through NVML loaded with dlopen, AMD through sysfs and rocm-smi), the
 *    energy counter, and the compilers/interpreters the verifiers can use with their versions;
 *  - cheap readers meant for a sampling thread (a hardware monitor): process RSS, system memory,
 *    CPU utilisation, package energy, GPU utilisation/memory/power. They allocate nothing per call
 *    and read a few small files from /proc and /sys.
 *
 * Unknown values: integers are -1, doubles are NAN, strings are "" (JSON null, text "unavailable").
 * A missing NVML library, RAPL counter or GPU is not an error: it is reported as unavailable, with
 * the reason, never as 0. */
#ifndef HF_SYSINFO_H
#define HF_SYSINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* ---- CPU ---- */

/* SIMD features, named as Linux names them in /proc/cpuinfo "flags". */
typedef enum {
    SYS_SSE4_2, SYS_AVX, SYS_AVX2, SYS_FMA, SYS_F16C,
    SYS_AVX512F, SYS_AVX512DQ, SYS_AVX512BW, SYS_AVX512VL, SYS_AVX512_VNNI, SYS_AVX512_BF16, SYS_AVX512_FP16,
    SYS_AVX_VNNI, SYS_AMX_TILE, SYS_AMX_BF16, SYS_AMX_INT8,
    SYS_NFEATURES
} sys_feature;
extern const char *const sys_feature_names[SYS_NFEATURES];

typedef struct {
    char vendor[16];   /* cpuid vendor string: "AuthenticAMD", "GenuineIntel" */
    char model[96];    /* brand string ("AMD EPYC"), from cpuid, else /proc/cpuinfo */
    int family, model_id, stepping;
    /* True when the CPU has the feature and the OS saves its registers (XGETBV), which is what
     * decides whether code using it can run; this matches the kernel's /proc/cpuinfo flags. */
    bool feature[SYS_NFEATURES];
    int logical_cpus;   /* online logical CPUs */
    int usable_cpus;    /* CPUs this process may run on (affinity mask) */
    int physical_cores; /* distinct cores (SMT siblings counted once); -1 unknown */
} sys_cpu;

void sys_cpu_read(sys_cpu *out);

/* ---- memory ---- */

typedef struct {
    int64_t total_bytes;      /* MemTotal */
    int64_t available_bytes;  /* MemAvailable */
    int64_t used_bytes;       /* total - available (what the original's monitor called "used") */
} sys_memory;

/* Reads /proc/meminfo. Returns 0, or -1 (fields -1) when it cannot be read. Cheap. */
int sys_memory_read(sys_memory *out);

/* Resident set size of this process, current (VmRSS) and peak (VmHWM), from /proc/self/status.
 * Either pointer may be NULL. Returns 0, or -1 (values -1). Cheap. */
int sys_proc_rss(int64_t *current_bytes, int64_t *peak_bytes);

/* CPU time (user + system) this process has used so far, in seconds. */
double sys_proc_cpu_seconds(void);

/* Whole-machine CPU utilisation from /proc/stat deltas. Zero-initialise, then call
 * sys_cpu_util() at each sample: it returns the busy percentage (0..100, all CPUs together)
 * since the previous call, or NAN on the first call or when /proc/stat cannot be read. */
typedef struct {
    uint64_t busy, total;
    bool primed;
} sys_cpu_sampler;
double sys_cpu_util(sys_cpu_sampler *s);

/* ---- BLAS ---- */

typedef struct {
    char name[32];      /* "OpenBLAS" */
    char version[32];   /* "0.3.21", "" unknown */
    char config[256];   /* openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY ..." */
    char core[64];      /* kernel set chosen at run time: "Cooperlake" */
    char library[512];  /* file the symbols come from (dladdr), "" unknown */
    int threads;        /* threads OpenBLAS will use */
} sys_blas;

void sys_blas_read(sys_blas *out);

/* ---- compilers and interpreters ---- */

/* The tools the verifiers can use, in report order: gcc g++ clang clang++
 * x86_64-w64-mingw32-g++ python3 rustc cargo go. */
#define SYS_NTOOLS 9
extern const char *const sys_tool_names[SYS_NTOOLS];

typedef struct {
    char name[40];
    char path[512];     /* "" when not on PATH */
    char version[200];  /* first line of `NAME --version` (`go version`), "" when it gave none */
} sys_tool;

/* Looks name up on PATH and runs it with version_arg ("--version") under a wall-clock limit
 * (the process group is killed at the deadline). Returns 0 when the tool was found (version
 * may still be "" if it printed nothing in time), -1 when it is not on PATH. */
int sys_tool_probe(const char *name, const char *version_arg, double timeout_s, sys_tool *out);

/* Probes all SYS_NTOOLS tools, concurrently, each under timeout_s. */
void sys_tools_probe_all(sys_tool out[SYS_NTOOLS], double timeout_s);

/* ---- GPUs ---- */

typedef struct {
    char vendor[16];   /* "nvidia" or "amd" */
    char name[128];    /* "NVIDIA H100 80GB HBM3", "AMD Radeon 8060S"; "" unknown */
    char source[32];   /* "nvml", "sysfs", "sysfs+rocm-smi" */
    char id[96];       /* NVML UUID, or the PCI slot of the DRM card */
    char driver[64];   /* driver version, "" unknown */
    char arch[32];     /* AMD gfx target from rocm-smi ("gfx1151"), "" unknown */
    int64_t mem_total_bytes, mem_used_bytes; /* device memory (AMD: VRAM); -1 unknown */
    int64_t gtt_total_bytes, gtt_used_bytes; /* AMD GTT (system memory the GPU maps); -1 unknown */
    double util_pct;   /* busy percentage; NAN unknown */
    double power_w;    /* board / package power; NAN unknown */
    double temp_c;     /* NAN unknown */
    double energy_j;   /* the board's energy counter (NVML: total since the driver loaded), J; NAN unknown */
} sys_gpu;

#define SYS_MAX_GPUS 16

typedef struct {
    const char *nvml_library; /* NULL: $HF_NVML_LIBRARY if set, else "libnvidia-ml.so.1" */
    const char *drm_dir;      /* NULL: "/sys/class/drm" */
    const char *rocm_smi;     /* NULL: "rocm-smi" looked up on PATH; "" to skip it */
} sys_gpu_opts;

typedef struct sys_gpus sys_gpus;

/* Finds the GPUs: loads NVML if it is there, scans DRM cards with AMD's PCI vendor id and asks
 * rocm-smi for their names. Never fails for lack of GPUs; returns NULL only when out of memory.
 * Keep the handle for sampling: NVML is initialised once. */
sys_gpus *sys_gpus_open(const sys_gpu_opts *opts);
int sys_gpus_count(const sys_gpus *g);
/* Why NVML is not in use ("libnvidia-ml.so.1: cannot open shared object file ..."), or "" when it is. */
const char *sys_gpus_nvml_status(const sys_gpus *g);
/* Fills out[0..min(count,cap)) with the current readings (utilisation, memory, power,
 * temperature refreshed; names cached). Returns the number filled. Cheap enough for a
 * sampling thread (NVML calls and small sysfs reads). */
int sys_gpus_read(sys_gpus *g, sys_gpu *out, int cap);
void sys_gpus_close(sys_gpus *g);

/* ---- energy ---- */

typedef struct sys_energy sys_energy;

/* Opens the CPU package energy counters: powercap RAPL zones named "package-N" under
 * powercap_dir (Intel, and AMD Zen with kernel >= 5.8), else the amd_energy hwmon driver's socket
 * counters under hwmon_dir. NULL dirs mean /sys/class/powercap and /sys/class/hwmon. Returns
 * NULL with the reason in why when no counter can be read (absent, or root-only). */
sys_energy *sys_energy_open(const char *powercap_dir, const char *hwmon_dir, char *why, size_t whycap);
/* Joules used by all packages since sys_energy_open, counter wrap-around handled (read at
 * least once per wrap period: minutes at full load). Returns 0, or -1 when a counter could not be
 * read or went back without a known wrap range (that interval is not counted; *joules still gets
 * the total so far, and later intervals are counted again). */
int sys_energy_read(sys_energy *e, double *joules);
/* "powercap:package-0" / "amd_energy:Esocket0" style description of what is summed. */
const char *sys_energy_source(const sys_energy *e);
void sys_energy_close(sys_energy *e);

/* ---- everything, for `info` and reports ---- */

typedef struct {
    const char *nvml_library, *drm_dir, *rocm_smi; /* see sys_gpu_opts */
    const char *powercap_dir, *hwmon_dir;          /* see sys_energy_open */
    double tool_timeout_s;                         /* 0: 5 s */
} sys_probe_opts;

typedef struct {
    char kernel[160];  /* uname: "Linux 6.1.0-13-amd64" */
    char machine[32];  /* "x86_64" */
    sys_cpu cpu;
    sys_memory mem;
    sys_blas blas;
    sys_gpu gpus[SYS_MAX_GPUS];
    int ngpus;
    char nvml_status[256];   /* "" when NVML is in use, else why not */
    char energy_source[256]; /* "" when no counter */
    char energy_status[256]; /* "" when a counter is readable, else why not */
    char rocm_smi[512];      /* path of rocm-smi, "" when absent */
    sys_tool tools[SYS_NTOOLS];
} sys_info;

/* Probes everything (about the time of the slowest `--version`, usually well under a second). */
void sys_info_collect(sys_info *out, const sys_probe_opts *opts);

/* The info as one JSON object with the stable keys documented in docs/info.md
 * (unknown values are null). Caller frees with cJSON_Delete. */
cJSON *sys_info_json(const sys_info *info);

#endif
