/* sbx: the sandbox. See sbx.h for what a job gets.
 *
 * Process layout of one job:
 *   caller thread ──clone(namespaces)──► "init" (PID 1 of a new PID namespace when allowed)
 *                                           └─clone──► the program (rlimits, uid, seccomp, execve)
 * init sets up the mounts, starts the program, waits for it, reports its wait status and rusage
 * through a pipe and exits; the kernel then kills whatever the program left in the namespace.
 *
 * Between clone and execve only raw system calls run: the caller may be one thread of a pool, so
 * the child must not touch locks (malloc, stdio) another thread may have held, and glibc's setuid
 * would try to signal threads that do not exist in the child. Everything the child needs (argv,
 * environment, mount options, the seccomp program) is prepared before the clone. */
#include "verify/sbx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/timing.h"

#ifndef SECBIT_NOROOT
#define SECBIT_NOROOT (1 << 0)
#define SECBIT_NOROOT_LOCKED (1 << 1)
#define SECBIT_NO_SETUID_FIXUP (1 << 2)
#define SECBIT_NO_SETUID_FIXUP_LOCKED (1 << 3)
#define SECBIT_KEEP_CAPS_LOCKED (1 << 5)
#endif

/* Job uids: base + (pid % 4096) * 256 + slot, so two halo-forge processes rarely share a uid and
 * one process runs at most 256 jobs at once. Far above the ranges distributions give to users. */
#define SBX_UID_BASE 1700000000u
#define SBX_UID_PROCS 4096u
#define SBX_SLOTS 256

enum { STAGE_USERNS = 1, STAGE_NETNS, STAGE_MOUNT, STAGE_SETSID, STAGE_FORK, STAGE_FDS, STAGE_CHDIR, STAGE_RLIMIT,
       STAGE_CREDS, STAGE_CAPS, STAGE_NNP, STAGE_SECCOMP, STAGE_EXEC };
static const char *stage_names[] = {"", "user namespace", "joining the network namespace", "mounts", "setsid", "fork",
                                    "file descriptors", "chdir", "rlimits", "uid switch", "dropping capabilities",
                                    "no_new_privs", "seccomp", "exec"};

typedef struct {
    int ns_flags;   /* CLONE_NEW* */
    bool mounts;    /* private read-only root + writable workdir */
    bool seccomp;
    bool join_net;  /* join the process's shared empty network namespace (g_net_fd) */
} sbx_plan;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static sbx_plan g_plan;
static sbx_features g_feat;
static char g_describe[512];
static struct sock_filter *g_filter;
static unsigned short g_filter_len;
static pthread_mutex_t g_slot_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char g_slots[SBX_SLOTS];
static bool g_is_root;
static int g_net_fd = -1;  /* the shared network namespace, open for the life of the process */

void sbx_limits_default(sbx_limits *lim) {
    lim->wall_s = 5.0;
    lim->cpu_s = 0;
    lim->mem_mb = 256;
    lim->max_procs = 32;
    lim->max_file_mb = 16;
    lim->max_files = 64;
    lim->stdout_cap = 1 << 20;
    lim->stderr_cap = 64 << 10;
}

static void set_err(char *err, size_t cap, const char *fmt, const char *a, int e) {
    if (!err || !cap) return;
    char tmp[256];
    snprintf(tmp, sizeof tmp, fmt, a);
    if (e) snprintf(err, cap, "%s: %s", tmp, strerror(e));
    else snprintf(err, cap, "%s", tmp);
}

/* ---- seccomp program, built once with libseccomp and kept as raw BPF for the children ---- */

static void build_seccomp(void) {
    static const char *deny[] = {
        "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot", "unshare",
        "setns", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "init_module", "finit_module",
        "delete_module", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
        "io_uring_setup", "acct", "quotactl", "syslog", "settimeofday", "clock_settime", "open_by_handle_at",
        "name_to_handle_at", "fanotify_init", "mount_setattr", "move_mount", "open_tree", "fsopen", "fsmount",
        "fspick", "socket", NULL};
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return;
    for (const char **n = deny; *n; n++) {
        int nr = seccomp_syscall_resolve_name(*n);
        if (nr == __NR_SCMP_ERROR) continue;
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 0) != 0) goto out;
    }
    int fd = memfd_create("hf-seccomp", MFD_CLOEXEC);
    if (fd < 0) goto out;
    if (seccomp_export_bpf(ctx, fd) == 0) {
        off_t len = lseek(fd, 0, SEEK_END);
        if (len > 0 && len % (off_t)sizeof(struct sock_filter) == 0 && len / 8 < 65535) {
            g_filter = malloc((size_t)len);
            if (g_filter && pread(fd, g_filter, (size_t)len, 0) == len) {
                g_filter_len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
            } else {
                free(g_filter);
                g_filter = NULL;
            }
        }
    }
    close(fd);
out:
    seccomp_release(ctx);
}

/* ---- everything the child needs, prepared before the clone ---- */

typedef struct {
    sbx_plan plan;
    const char *const *argv;
    const char *const *envp;
    const char *cwd;
    bool fresh_cwd;
    char tmpfs_opts[160];
    char uid_map[64], gid_map[64];
    unsigned uid;           /* the job's uid when switching */
    bool switch_uid, drop_caps;
    struct rlimit rl_cpu, rl_as, rl_nproc, rl_fsize, rl_nofile, rl_core;
    bool limit_as;
    int stdin_fd, out_w, err_w, status_w, errp_w;
    /* the parent's ends, closed in the child */
    int close_fds[8];
    int n_close;
} child_ctx;

typedef struct {
    int status;
    struct rusage ru;
} init_report;

static void child_fail(int errp, int stage) {
    int msg[2] = {stage, errno};
    ssize_t w = write(errp, msg, sizeof msg);
    (void)w;
    _exit(127);
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int set_mount_attr(const char *path, unsigned flags, uint64_t set, uint64_t clr) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = set;
    attr.attr_clr = clr;
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr);
}

static void drop_all_caps(void) {
    for (int c = 0; c <= 63; c++) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
    prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                 SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0);
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    syscall(SYS_capset, &hdr, data);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

/* The program: runs in the child of init. Never returns. */
static void program_main(const child_ctx *c) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < 65; s++) sigaction(s, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (dup2(c->stdin_fd, 0) < 0 || dup2(c->out_w, 1) < 0 || dup2(c->err_w, 2) < 0) child_fail(c->errp_w, STAGE_FDS);
    int errp = c->errp_w;
    if (errp != 3) {
        if (dup2(errp, 3) < 0) child_fail(errp, STAGE_FDS);
        errp = 3;
    }
    fcntl(3, F_SETFD, FD_CLOEXEC);
    syscall(SYS_close_range, 4u, ~0u, 0u);
    if (chdir(c->cwd) != 0) child_fail(errp, STAGE_CHDIR);
    umask(022);
    if (setrlimit(RLIMIT_CPU, &c->rl_cpu) || setrlimit(RLIMIT_NPROC, &c->rl_nproc) ||
        setrlimit(RLIMIT_FSIZE, &c->rl_fsize) || setrlimit(RLIMIT_NOFILE, &c->rl_nofile) ||
        setrlimit(RLIMIT_CORE, &c->rl_core) || (c->limit_as && setrlimit(RLIMIT_AS, &c->rl_as)))
        child_fail(errp, STAGE_RLIMIT);
    if (c->switch_uid) {
        if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, c->uid, c->uid, c->uid) != 0 ||
            syscall(SYS_setresuid, c->uid, c->uid, c->uid) != 0)
            child_fail(errp, STAGE_CREDS);
    } else if (c->drop_caps) {
        drop_all_caps();
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(errp, STAGE_NNP);
    if (c->plan.seccomp) {
        struct sock_fprog prog = {g_filter_len, g_filter};
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) child_fail(errp, STAGE_SECCOMP);
    }
    execve(c->argv[0], (char *const *)c->argv, (char *const *)c->envp);
    child_fail(errp, STAGE_EXEC);
}

/* init: PID 1 of the job's namespace (or a plain process group leader without namespaces). */
static void init_main(const child_ctx *c) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    for (int i = 0; i < c->n_close; i++) close(c->close_fds[i]);
    if (setsid() < 0) child_fail(c->errp_w, STAGE_SETSID);
    if (c->plan.join_net && setns(g_net_fd, CLONE_NEWNET) != 0) child_fail(c->errp_w, STAGE_NETNS);
    if (c->plan.ns_flags & CLONE_NEWUSER) {
        if (write_file("/proc/self/setgroups", "deny") != 0 || write_file("/proc/self/gid_map", c->gid_map) != 0 ||
            write_file("/proc/self/uid_map", c->uid_map) != 0)
            child_fail(c->errp_w, STAGE_USERNS);
    }
    if (c->plan.mounts) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) child_fail(c->errp_w, STAGE_MOUNT);
        if (c->plan.ns_flags & CLONE_NEWPID) mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        if (c->fresh_cwd) {
            if (mount("tmpfs", c->cwd, "tmpfs", MS_NOSUID | MS_NODEV, c->tmpfs_opts) != 0)
                child_fail(c->errp_w, STAGE_MOUNT);
        } else if (mount(c->cwd, c->cwd, NULL, MS_BIND, NULL) != 0) {
            child_fail(c->errp_w, STAGE_MOUNT);
        }
        if (set_mount_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0) != 0 ||
            set_mount_attr(c->cwd, 0, 0, MOUNT_ATTR_RDONLY) != 0)
            child_fail(c->errp_w, STAGE_MOUNT);
    }
    /* vfork: no page tables to copy (most of a job's cost on a VM); init sleeps until the exec */
    pid_t pid = vfork();
    if (pid < 0) child_fail(c->errp_w, STAGE_FORK);
    if (pid == 0) program_main(c);
    close(c->stdin_fd);
    close(c->out_w);
    close(c->err_w);
    close(c->errp_w);
    for (;;) {
        init_report rep;
        memset(&rep, 0, sizeof rep);
        pid_t r = wait4(-1, &rep.status, __WALL, &rep.ru);
        if (r == pid) {
            ssize_t w = write(c->status_w, &rep, sizeof rep);
            (void)w;
            _exit(0);
        }
        if (r < 0 && errno != EINTR) _exit(1);
    }
}

/* ---- uid slots ---- */

static int slot_take(void) {
    pthread_mutex_lock(&g_slot_lock);
    int s = -1;
    for (int i = 0; i < SBX_SLOTS; i++)
        if (!g_slots[i]) {
            g_slots[i] = 1;
            s = i;
            break;
        }
    pthread_mutex_unlock(&g_slot_lock);
    return s;
}

static void slot_give(int s) {
    if (s < 0) return;
    pthread_mutex_lock(&g_slot_lock);
    g_slots[s] = 0;
    pthread_mutex_unlock(&g_slot_lock);
}

void sbx_uid_range(unsigned *first, unsigned *count) {
    *first = SBX_UID_BASE;
    *count = SBX_UID_PROCS * SBX_SLOTS;
}

void sbx_uid_block(unsigned *first, unsigned *count) {
    *first = SBX_UID_BASE + ((unsigned)getpid() % SBX_UID_PROCS) * SBX_SLOTS;
    *count = SBX_SLOTS;
}

/* Without a PID namespace, a program can escape its process group (setsid). As root we can still
 * find everything it left: every process of its private uid. kill(-1) from that uid reaches them. */
static void kill_uid(unsigned uid) {
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        if (syscall(SYS_setresuid, uid, uid, uid) == 0) kill(-1, SIGKILL);
        _exit(0);
    }
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
}

/* ---- the parent side ---- */

static double now_s(void) { return time_now(); }

typedef struct {
    char *buf;
    size_t len, cap, limit;
    bool truncated, over;
    char tail[256];
    size_t tail_len;
} capture;

static void cap_add(capture *c, const char *data, size_t n) {
    if (n == 0) return;
    if (c->len < c->limit) {
        size_t take = n < c->limit - c->len ? n : c->limit - c->len;
        if (c->len + take + 1 > c->cap) {
            size_t nc = c->cap ? c->cap : 4096;
            while (nc < c->len + take + 1) nc *= 2;
            char *nb = realloc(c->buf, nc);
            if (!nb) {
                c->truncated = true;
                return;
            }
            c->buf = nb;
            c->cap = nc;
        }
        memcpy(c->buf + c->len, data, take);
        c->len += take;
        if (take < n) c->truncated = c->over = true;
    } else {
        c->truncated = c->over = true;
    }
    /* keep the last bytes */
    size_t keep = sizeof c->tail - 1;
    if (n >= keep) {
        memcpy(c->tail, data + n - keep, keep);
        c->tail_len = keep;
    } else {
        size_t old = c->tail_len + n > keep ? keep - n : c->tail_len;
        memmove(c->tail, c->tail + c->tail_len - old, old);
        memcpy(c->tail + old, data, n);
        c->tail_len = old + n;
    }
}

static char *cap_take(capture *c, size_t *len) {
    char *b = c->buf ? c->buf : malloc(1);
    if (!b) return NULL;
    b[c->len] = '\0';
    *len = c->len;
    c->buf = NULL;
    return b;
}

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    if (lchown(path, 0, 0) != 0) return 0;
    return 0;
}

static int run_plan(const sbx_plan *plan, const sbx_job *job, sbx_result *res, char *err, size_t errcap) {
    memset(res, 0, sizeof *res);
    const sbx_limits *lim = &job->lim;
    child_ctx c;
    memset(&c, 0, sizeof c);
    c.plan = *plan;
    c.argv = job->argv;
    c.stdin_fd = c.out_w = c.err_w = c.status_w = c.errp_w = -1;
    if (!job->argv || !job->argv[0] || job->argv[0][0] != '/') {
        set_err(err, errcap, "sandbox: program path must be absolute: '%s'", job->argv && job->argv[0] ? job->argv[0] : "", 0);
        return -1;
    }
    int slot = -1;
    bool root = g_is_root;
    if (root && !job->as_root_nocaps) {
        slot = slot_take();
        if (slot < 0) {
            set_err(err, errcap, "sandbox: %s", "more than 256 jobs at once in one process", 0);
            return -1;
        }
        c.switch_uid = true;
        c.uid = SBX_UID_BASE + ((unsigned)getpid() % SBX_UID_PROCS) * SBX_SLOTS + (unsigned)slot;
    } else {
        c.drop_caps = root || (plan->ns_flags & CLONE_NEWUSER);
    }
    unsigned owner = c.switch_uid ? c.uid : 0;

    /* working directory */
    char fresh[256] = "";
    if (job->workdir) {
        c.cwd = job->workdir;
        if (c.switch_uid && chown(job->workdir, owner, owner) != 0) {
            set_err(err, errcap, "sandbox: cannot hand '%s' to the job uid", job->workdir, errno);
            slot_give(slot);
            return -1;
        }
    } else {
        if (sbx_make_dir(fresh, sizeof fresh, err, errcap) != 0) {
            slot_give(slot);
            return -1;
        }
        c.cwd = fresh;
        c.fresh_cwd = true;
        if (c.switch_uid && !plan->mounts && chown(fresh, owner, owner) != 0) {
            set_err(err, errcap, "sandbox: cannot hand '%s' to the job uid", fresh, errno);
            sbx_remove_dir(fresh);
            slot_give(slot);
            return -1;
        }
    }
    unsigned inner_owner = (plan->ns_flags & CLONE_NEWUSER) ? 0 : owner;
    snprintf(c.tmpfs_opts, sizeof c.tmpfs_opts, "size=%ldm,nr_inodes=4096,mode=0700,uid=%u,gid=%u",
             lim->max_file_mb > 0 ? lim->max_file_mb : 16, inner_owner, inner_owner);
    snprintf(c.uid_map, sizeof c.uid_map, "0 %u 1", (unsigned)geteuid());
    snprintf(c.gid_map, sizeof c.gid_map, "0 %u 1", (unsigned)getegid());

    /* environment */
    char env_home[300], env_tmp[300];
    const char *env_default[] = {"PATH=/usr/local/bin:/usr/bin:/bin", env_home, env_tmp, "LANG=C.UTF-8", NULL};
    snprintf(env_home, sizeof env_home, "HOME=%s", c.cwd);
    snprintf(env_tmp, sizeof env_tmp, "TMPDIR=%s", c.cwd);
    c.envp = job->envp ? job->envp : env_default;

    /* limits */
    double cpu = lim->cpu_s > 0 ? lim->cpu_s : lim->wall_s;
    rlim_t cpu_s = (rlim_t)(cpu + 0.999);
    if (cpu_s < 1) cpu_s = 1;
    c.rl_cpu = (struct rlimit){cpu_s, cpu_s + 1};
    c.limit_as = lim->mem_mb > 0;
    c.rl_as = (struct rlimit){(rlim_t)lim->mem_mb << 20, (rlim_t)lim->mem_mb << 20};
    rlim_t np = lim->max_procs > 0 ? (rlim_t)lim->max_procs : 64;
    c.rl_nproc = (struct rlimit){np, np};
    rlim_t fs = (rlim_t)(lim->max_file_mb > 0 ? lim->max_file_mb : 16) << 20;
    c.rl_fsize = (struct rlimit){fs, fs};
    rlim_t nf = lim->max_files > 0 ? (rlim_t)lim->max_files : 64;
    c.rl_nofile = (struct rlimit){nf, nf};
    c.rl_core = (struct rlimit){0, 0};

    /* pipes */
    int outp[2] = {-1, -1}, errpp[2] = {-1, -1}, inp[2] = {-1, -1}, statp[2] = {-1, -1}, xp[2] = {-1, -1};
    int rc = -1;
    pid_t pid = -1;
    capture cout = {0}, cerr = {0};
    cout.limit = lim->stdout_cap ? lim->stdout_cap : (1 << 20);
    cerr.limit = lim->stderr_cap ? lim->stderr_cap : (64 << 10);
    if (pipe2(outp, O_CLOEXEC) || pipe2(errpp, O_CLOEXEC) || pipe2(statp, O_CLOEXEC) || pipe2(xp, O_CLOEXEC)) {
        set_err(err, errcap, "sandbox: %s", "pipe", errno);
        goto done;
    }
    if (job->stdin_data) {
        if (pipe2(inp, O_CLOEXEC)) {
            set_err(err, errcap, "sandbox: %s", "pipe", errno);
            goto done;
        }
        c.stdin_fd = inp[0];
    } else {
        inp[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (inp[0] < 0) {
            set_err(err, errcap, "sandbox: %s", "/dev/null", errno);
            goto done;
        }
        c.stdin_fd = inp[0];
    }
    c.out_w = outp[1];
    c.err_w = errpp[1];
    c.status_w = statp[1];
    c.errp_w = xp[1];
    c.close_fds[c.n_close++] = outp[0];
    c.close_fds[c.n_close++] = errpp[0];
    c.close_fds[c.n_close++] = statp[0];
    c.close_fds[c.n_close++] = xp[0];
    if (inp[1] >= 0) c.close_fds[c.n_close++] = inp[1];

    double t0 = now_s();
    long cl = syscall(SYS_clone, (unsigned long)plan->ns_flags | SIGCHLD, 0, 0, 0, 0);
    if (cl < 0) {
        set_err(err, errcap, "sandbox: %s", "clone", errno);
        goto done;
    }
    if (cl == 0) init_main(&c);
    pid = (pid_t)cl;
    close(outp[1]);
    outp[1] = -1;
    close(errpp[1]);
    errpp[1] = -1;
    close(statp[1]);
    statp[1] = -1;
    close(xp[1]);
    xp[1] = -1;
    close(inp[0]);
    inp[0] = -1;
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    fcntl(errpp[0], F_SETFL, O_NONBLOCK);
    if (inp[1] >= 0) fcntl(inp[1], F_SETFL, O_NONBLOCK);

    size_t in_off = 0;
    if (inp[1] >= 0 && job->stdin_len == 0) {
        close(inp[1]);
        inp[1] = -1;
    }
    init_report rep;
    memset(&rep, 0, sizeof rep);
    bool got_report = false, init_gone = false, killed = false, timed_out = false, flood = false, stopped = false;
    double deadline = t0 + lim->wall_s, t_end = 0, grace = 0;
    char buf[65536];
    while (outp[0] >= 0 || errpp[0] >= 0 || !init_gone) {
        struct pollfd pf[4];
        int n = 0, i_out = -1, i_err = -1, i_in = -1, i_st = -1;
        if (outp[0] >= 0) { pf[n] = (struct pollfd){outp[0], POLLIN, 0}; i_out = n++; }
        if (errpp[0] >= 0) { pf[n] = (struct pollfd){errpp[0], POLLIN, 0}; i_err = n++; }
        if (inp[1] >= 0) { pf[n] = (struct pollfd){inp[1], POLLOUT, 0}; i_in = n++; }
        if (!init_gone) { pf[n] = (struct pollfd){statp[0], POLLIN, 0}; i_st = n++; }
        double t = now_s();
        if (job->cancel && *job->cancel && !killed) {
            stopped = killed = true;
            kill(pid, SIGKILL);
            kill(-pid, SIGKILL);
            deadline = t + 5.0;
        }
        double until = init_gone ? grace : deadline;
        if (t >= until) {
            if (!init_gone && !killed) {
                timed_out = true;
                killed = true;
                kill(pid, SIGKILL);
                kill(-pid, SIGKILL);
                deadline = t + 5.0; /* the kernel needs a moment to tear a namespace down */
                continue;
            }
            break; /* something outside our reach still holds the pipes (no PID namespace) */
        }
        int ms = (int)((until - t) * 1000) + 1;
        if (job->cancel && !killed && ms > 50) ms = 50; /* a signal handler's flag is only seen by looking */
        int pr = poll(pf, (nfds_t)n, ms);
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        if (i_out >= 0 && pf[i_out].revents) {
            ssize_t r = read(outp[0], buf, sizeof buf);
            if (r > 0) cap_add(&cout, buf, (size_t)r);
            else if (r == 0 || (errno != EAGAIN && errno != EINTR)) { close(outp[0]); outp[0] = -1; }
            if (cout.over && !killed) {
                flood = true;
                killed = true;
                kill(pid, SIGKILL);
                kill(-pid, SIGKILL);
            }
        }
        if (i_err >= 0 && pf[i_err].revents) {
            ssize_t r = read(errpp[0], buf, sizeof buf);
            if (r > 0) cap_add(&cerr, buf, (size_t)r);
            else if (r == 0 || (errno != EAGAIN && errno != EINTR)) { close(errpp[0]); errpp[0] = -1; }
        }
        if (i_in >= 0 && pf[i_in].revents) {
            ssize_t w = write(inp[1], job->stdin_data + in_off, job->stdin_len - in_off);
            if (w > 0) in_off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off >= job->stdin_len || (pf[i_in].revents & (POLLERR | POLLHUP))) {
                close(inp[1]);
                inp[1] = -1;
            }
        }
        if (i_st >= 0 && pf[i_st].revents) {
            ssize_t r = read(statp[0], &rep, sizeof rep);
            if (r == (ssize_t)sizeof rep) {
                got_report = true;
                t_end = now_s();
            } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                /* init is gone: the program is done. Without a PID namespace, kill what it left
                 * in its group (and, as root, under its uid); with one, the kernel already did. */
                if (!t_end) t_end = now_s();
                if (!(plan->ns_flags & CLONE_NEWPID)) {
                    kill(-pid, SIGKILL);
                    if (c.switch_uid) kill_uid(c.uid);
                }
                init_gone = true;
                grace = now_s() + 1.0;
            }
        }
    }
    if (inp[1] >= 0) { close(inp[1]); inp[1] = -1; }
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {}
    if (!(plan->ns_flags & CLONE_NEWPID)) {
        kill(-pid, SIGKILL);
        if (c.switch_uid) kill_uid(c.uid);
    }
    pid = -1;
    if (!t_end) t_end = now_s();

    int xmsg[2] = {0, 0};
    ssize_t xr = read(xp[0], xmsg, sizeof xmsg);
    if (xr == (ssize_t)sizeof xmsg) {
        int st = xmsg[0] > 0 && xmsg[0] <= STAGE_EXEC ? xmsg[0] : 0;
        char what[128];
        snprintf(what, sizeof what, "sandbox: %s failed for '%%s'", stage_names[st]);
        set_err(err, errcap, what, job->argv[0], xmsg[1]);
        goto done;
    }
    if (stopped) {
        set_err(err, errcap, "sandbox: %s", "cancelled", 0);
        goto done;
    }
    res->wall_s = t_end - t0;
    if (got_report) {
        res->cpu_s = (double)rep.ru.ru_utime.tv_sec + rep.ru.ru_utime.tv_usec * 1e-6 +
                     (double)rep.ru.ru_stime.tv_sec + rep.ru.ru_stime.tv_usec * 1e-6;
        res->max_rss_kb = rep.ru.ru_maxrss;
    }
    if (flood) res->outcome = SBX_OUTPUT_LIMIT;
    else if (timed_out) res->outcome = SBX_TIMEOUT;
    else if (!got_report) {
        set_err(err, errcap, "sandbox: the job's supervisor for '%s' ended without a report", job->argv[0], 0);
        goto done;
    } else if (WIFEXITED(rep.status)) {
        res->outcome = SBX_EXITED;
        res->exit_code = WEXITSTATUS(rep.status);
    } else {
        res->outcome = SBX_SIGNALED;
        res->signal = WIFSIGNALED(rep.status) ? WTERMSIG(rep.status) : SIGKILL;
    }
    res->out = cap_take(&cout, &res->out_len);
    res->err = cap_take(&cerr, &res->err_len);
    res->out_truncated = cout.truncated;
    res->err_truncated = cerr.truncated;
    memcpy(res->out_tail, cout.tail, cout.tail_len);
    res->out_tail[cout.tail_len] = '\0';
    if (!res->out || !res->err) {
        sbx_result_free(res);
        set_err(err, errcap, "sandbox: %s", "out of memory", 0);
        goto done;
    }
    rc = 0;
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    int fds[] = {outp[0], outp[1], errpp[0], errpp[1], inp[0], inp[1], statp[0], statp[1], xp[0], xp[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(cout.buf);
    free(cerr.buf);
    if (fresh[0]) sbx_remove_dir(fresh);
    else if (job->workdir && c.switch_uid) nftw(job->workdir, chown_entry, 16, FTW_PHYS);
    slot_give(slot);
    return rc;
}

/* ---- probing what this machine allows ---- */

/* One empty network namespace for every job of the process. A network namespace is by far the
 * dearest to create and tear down (the kernel dismantles it in a workqueue under a global lock,
 * with RCU grace periods), and that work lands on the same cores the jobs need. Sharing it gives
 * up nothing the jobs could use: it has no interface but a loopback that is down, the jobs hold no
 * capability to bring it up, and seccomp refuses socket(2), so they cannot reach each other
 * through it either (abstract unix sockets live in the network namespace). Only as root: without
 * it, a new network namespace needs a user namespace of its own, created with each job. */
static int make_shared_netns(void) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    long pid = syscall(SYS_clone, (unsigned long)CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        /* hold the namespace until the parent has opened it */
        char ch;
        close(p[1]);
        ssize_t r = read(p[0], &ch, 1);
        (void)r;
        _exit(0);
    }
    close(p[0]);
    int fd = -1;
    if (pid > 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/ns/net", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    close(p[1]);
    if (pid > 0)
        while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR) {}
    return fd;
}

static void probe(void) {
    g_is_root = geteuid() == 0;
    signal(SIGPIPE, SIG_IGN);
    build_seccomp();
    int ns = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
    int user = g_is_root ? 0 : CLONE_NEWUSER;
    /* HF_SANDBOX=minimal: no namespaces (to compare, or where probing itself misbehaves);
     * HF_SANDBOX=net-per-job: a fresh network namespace for each job (to measure what sharing saves) */
    const char *mode = getenv("HF_SANDBOX");
    bool minimal = mode && !strcmp(mode, "minimal");
    bool net_per_job = mode && !strcmp(mode, "net-per-job");
    if (g_is_root && g_filter && !minimal && !net_per_job) g_net_fd = make_shared_netns();
    sbx_plan plans[] = {
        {ns & ~CLONE_NEWNET, true, true, true},
        {ns | user, true, true, false}, {ns | user, true, false, false}, {ns | user, false, true, false},
        {CLONE_NEWNET | user, false, true, false}, {0, false, true, false}, {0, false, false, false},
    };
    const char *const argv[] = {"/bin/true", NULL};
    sbx_job job;
    memset(&job, 0, sizeof job);
    job.argv = argv;
    sbx_limits_default(&job.lim);
    size_t first = minimal ? 5 : 0;
    g_plan = plans[sizeof plans / sizeof plans[0] - 1];
    for (size_t i = first; i < sizeof plans / sizeof plans[0]; i++) {
        if (plans[i].seccomp && !g_filter) continue;
        if (plans[i].join_net && g_net_fd < 0) continue;
        sbx_result r;
        char err[256];
        if (run_plan(&plans[i], &job, &r, err, sizeof err) == 0) {
            bool ok = r.outcome == SBX_EXITED && r.exit_code == 0;
            sbx_result_free(&r);
            if (ok) {
                g_plan = plans[i];
                break;
            }
        }
    }
    if (!g_plan.join_net && g_net_fd >= 0) {
        close(g_net_fd);
        g_net_fd = -1;
    }
    g_feat.pid_ns = g_plan.ns_flags & CLONE_NEWPID;
    g_feat.net_ns = (g_plan.ns_flags & CLONE_NEWNET) || g_plan.join_net;
    g_feat.net_ns_shared = g_plan.join_net;
    g_feat.mount_ns = g_plan.ns_flags & CLONE_NEWNS;
    g_feat.user_ns = g_plan.ns_flags & CLONE_NEWUSER;
    g_feat.readonly_root = g_plan.mounts;
    g_feat.private_tmpfs = g_plan.mounts;
    g_feat.uid_switch = g_is_root;
    g_feat.seccomp = g_plan.seccomp;
    snprintf(g_describe, sizeof g_describe, "%s%s%s%s%s%s%s%s; rlimits cpu/as/nproc/fsize/nofile/core; no_new_privs",
             g_feat.pid_ns ? "pid+" : "", g_feat.net_ns ? "net+" : "", g_feat.mount_ns ? "mount+ipc+uts " : "",
             g_feat.pid_ns || g_feat.net_ns ? (g_feat.user_ns ? "namespaces (via a user namespace)" : "namespaces")
                                            : "no namespaces (process group only)",
             g_feat.net_ns_shared ? " (one empty network namespace shared by the process's jobs)" : "",
             g_feat.readonly_root ? "; read-only root, private tmpfs working dir" : "; shared file system",
             g_feat.uid_switch ? "; private unprivileged uid per job" : "; runs as the calling user",
             g_feat.seccomp ? "; seccomp (no sockets, ptrace, mount, ...)" : "; no seccomp");
}

static void ensure_init(void) { pthread_once(&g_once, probe); }

int sbx_run(const sbx_job *job, sbx_result *res, char *err, size_t errcap) {
    if (job->cancel && *job->cancel) {
        set_err(err, errcap, "sandbox: %s", "cancelled", 0);
        return -1;
    }
    ensure_init();
    return run_plan(&g_plan, job, res, err, errcap);
}

void sbx_result_free(sbx_result *res) {
    if (!res) return;
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

int sbx_make_dir(char *out, size_t cap, char *err, size_t errcap) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base || !fs_is_dir(base)) base = "/tmp";
    int n = snprintf(out, cap, "%s/hf-sbx-%d-XXXXXX", base, (int)getpid());
    if (n < 0 || (size_t)n >= cap) {
        set_err(err, errcap, "sandbox: temporary path too long under '%s'", base, 0);
        return -1;
    }
    if (!mkdtemp(out)) {
        set_err(err, errcap, "sandbox: cannot create a directory under '%s'", base, errno);
        return -1;
    }
    chmod(out, 0755);
    return 0;
}

int sbx_remove_dir(const char *path) { return fs_remove_tree(path); }

/* A directory is ours to remove when its name is hf-sbx-<pid>-<anything>, that pid no longer
 * exists, it is a real directory (not a link), and it belongs to us or, as root, to a job uid
 * (a job's compile directory is handed to its uid while the job runs). */
static bool stale_entry(const char *base, const char *name, char *path, size_t cap) {
    static const char prefix[] = "hf-sbx-";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0) return false;
    const char *digits = name + sizeof prefix - 1;
    char *end;
    errno = 0;
    long pid = strtol(digits, &end, 10);
    if (end == digits || *end != '-' || errno || pid <= 0 || pid > INT32_MAX) return false;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) return false; /* alive (or not ours to signal) */
    if (!fs_join(path, cap, base, name)) return false;
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
    unsigned first, count;
    sbx_uid_range(&first, &count);
    bool job_uid = geteuid() == 0 && st.st_uid >= first && st.st_uid - first < count;
    return st.st_uid == geteuid() || job_uid;
}

int sbx_clean_stale_dirs(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base || !fs_is_dir(base)) base = "/tmp";
    DIR *d = opendir(base);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)))
        if (stale_entry(base, e->d_name, path, sizeof path) && fs_remove_tree(path) == 0 && !fs_exists(path))
            removed++;
    closedir(d);
    return removed;
}

const sbx_features *sbx_get_features(void) {
    ensure_init();
    return &g_feat;
}

const char *sbx_describe(void) {
    ensure_init();
    return g_describe;
}
