/* sbx: run one untrusted command (a compiler or a candidate program) in a sandbox.
 *
 * Every job runs in its own process tree:
 *   - new PID, network, mount, IPC and UTS namespaces where the kernel lets us (as root, or through a
 *     user namespace otherwise). The job's first process is PID 1 of its namespace, so when the
 *     program exits every process it left behind is killed by the kernel. As root, the network
 *     namespace is one empty namespace made once per process and joined by every job (setns), as
 *     creating and destroying one per job is the costliest part of a job's setup;
 *   - a read-only view of the whole file system except its working directory, which is a fresh
 *     size-limited tmpfs for runs (or the compile directory for compiles), and a private /proc;
 *   - as root, an unprivileged uid of its own (RLIMIT_NPROC does not bind root); a toolchain that
 *     only root can reach runs as uid 0 with every capability dropped instead;
 *   - rlimits CPU, AS, NPROC, FSIZE, NOFILE and CORE=0, a clean environment, no_new_privs, and a
 *     seccomp filter that refuses sockets (socketpair still works), ptrace, mount, namespaces,
 *     kernel modules, bpf, perf, keyrings and the like;
 *   - stdin from the given bytes or /dev/null, stdout/stderr read with byte caps (a flood is killed),
 *     and a wall-clock deadline after which the whole process group / namespace is SIGKILLed.
 * Where namespaces are refused, the job still gets its own session and process group (killed as a
 * group), the rlimits, the uid switch (as root), no_new_privs and seccomp; sbx_describe() says which.
 *
 * Thread-safe: a worker pool may run many jobs at once (each takes its own uid slot). The first call
 * probes what the kernel allows and sets SIGPIPE to ignored for the process (children get it back). */
#ifndef HF_SBX_H
#define HF_SBX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    double wall_s;      /* wall-clock deadline, seconds */
    double cpu_s;       /* RLIMIT_CPU seconds (0: the wall time rounded up) */
    long mem_mb;        /* RLIMIT_AS in MiB (0: none) */
    int max_procs;      /* RLIMIT_NPROC (processes and threads of the sandbox uid) */
    long max_file_mb;   /* RLIMIT_FSIZE in MiB, and the size of a fresh working tmpfs */
    int max_files;      /* RLIMIT_NOFILE */
    size_t stdout_cap;  /* bytes of stdout kept; more than this kills the job (SBX_OUTPUT_LIMIT) */
    size_t stderr_cap;  /* bytes of stderr kept; the rest is read and dropped */
} sbx_limits;

typedef struct {
    const char *const *argv;  /* argv[0] must be an absolute path */
    const char *const *envp;  /* NULL: PATH=/usr/local/bin:/usr/bin:/bin HOME=TMPDIR=<cwd> LANG=C.UTF-8 */
    /* NULL: a fresh private working directory, removed afterwards (a run). Otherwise an existing
     * directory the job may write into (a compile); it is handed back owned by the caller. */
    const char *workdir;
    const char *stdin_data;   /* NULL: /dev/null */
    size_t stdin_len;
    sbx_limits lim;
    bool as_root_nocaps;      /* as root: stay uid 0 without capabilities (for toolchains under /root) */
    /* Optional: when *cancel becomes nonzero (a signal handler, another thread) the job is killed within
     * ~50 ms and sbx_run returns -1 with "sandbox: cancelled"; a job is not started once it is set. */
    const volatile int *cancel;
} sbx_job;

typedef enum {
    SBX_EXITED,       /* exit_code is valid */
    SBX_SIGNALED,     /* signal is valid (SIGXCPU: CPU limit; SIGXFSZ: file size limit) */
    SBX_TIMEOUT,      /* wall-clock deadline, killed */
    SBX_OUTPUT_LIMIT, /* stdout exceeded its cap, killed */
} sbx_outcome;

typedef struct {
    sbx_outcome outcome;
    int exit_code, signal;
    double wall_s, cpu_s;  /* of the program (user+sys CPU) */
    long max_rss_kb;
    char *out, *err;       /* NUL-terminated heap copies (owned, sbx_result_free) */
    size_t out_len, err_len;
    bool out_truncated, err_truncated;
    char out_tail[256];    /* the last bytes of stdout even when truncated (NUL-terminated) */
} sbx_result;

typedef struct {
    bool pid_ns, net_ns, mount_ns, user_ns; /* user_ns: namespaces obtained without root */
    bool net_ns_shared;                     /* the network namespace is one empty namespace shared by
                                               every job of this process (as root), not one per job */
    bool readonly_root;                     /* everything read-only but the working directory */
    bool private_tmpfs;                     /* runs get a size-limited tmpfs as working directory */
    bool uid_switch;                        /* jobs run as an unprivileged uid of their own */
    bool seccomp;
} sbx_features;

/* Fills lim with the defaults for a program run (5 s, 256 MiB, 32 procs, 16 MiB files, 1 MiB stdout). */
void sbx_limits_default(sbx_limits *lim);

/* Runs the job to completion. Returns 0 when the program was started and res describes how it ended
 * (free with sbx_result_free), -1 when the sandbox could not start it (bad path, setup failure) or
 * job->cancel stopped it, with the reason in err. Never leaves a process behind; a fresh working directory is removed. */
int sbx_run(const sbx_job *job, sbx_result *res, char *err, size_t errcap);
void sbx_result_free(sbx_result *res);

/* Creates a fresh private directory for a job's input files (/tmp/hf-sbx-<pid>-XXXXXX, mode 0755)
 * into out. Remove it with sbx_remove_dir. Returns 0 or -1 with err. */
int sbx_make_dir(char *out, size_t cap, char *err, size_t errcap);
int sbx_remove_dir(const char *path);
/* Removes the job directories (hf-sbx-<pid>-*, under $TMPDIR or /tmp) that a halo-forge process
 * which no longer exists left behind (it was killed before it could clean up). Only directories of
 * the calling user (as root: also of the job uids) are touched, and never through a link. A
 * directory of a process in another PID namespace that shares this /tmp looks dead from here: do not
 * share a /tmp across PID namespaces with a running halo-forge. Returns how many were removed. */
int sbx_clean_stale_dirs(void);

const sbx_features *sbx_get_features(void);
/* One line saying what is isolated on this machine, e.g. "pid+net+mount namespaces, ...". */
const char *sbx_describe(void);
/* The range of uids jobs of any halo-forge process run as: [*first, *first + *count). */
void sbx_uid_range(unsigned *first, unsigned *count);
/* The uids this process's jobs run as (a block of 256 inside the range). */
void sbx_uid_block(unsigned *first, unsigned *count);

#endif
