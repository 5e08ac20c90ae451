/* The verifiers: compile, run, compare, grade. The worker pool is in vf_pool.c. */
#include "verify/vf_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/fs.h"
#include "core/rng.h"
#include "core/timing.h"

static const char *kind_names[VF_KIND_COUNT] = {"gcc", "clang", "mingw", "execution", "python", "rust", "go", "custom"};
static const char *status_names[VF_STATUS_COUNT] = {
    "correct", "wrong_output", "ran", "compiled", "compiled_with_warnings", "compile_error",
    "runtime_error", "timeout", "memory_limit", "output_limit", "sandbox_error"};
static const char *lang_names[] = {"unknown", "c", "cpp", "python", "rust", "go"};

void vf_config_default(vf_config *cfg, vf_kind kind) {
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->compile_timeout_s = 30;
    cfg->run_timeout_s = 5;
    cfg->memory_limit_mb = 256;
    cfg->compile_memory_mb = 4096;
    cfg->match = VF_MATCH_EXACT;
    cfg->partial_credit = true;
    cfg->keep_output_bytes = 2000;
}

int vf_kind_parse(const char *name, vf_kind *out) {
    for (int k = 0; k < VF_KIND_COUNT; k++)
        if (name && !strcmp(name, kind_names[k])) {
            *out = (vf_kind)k;
            return 0;
        }
    return -1;
}

const char *vf_kind_name(vf_kind k) { return k < VF_KIND_COUNT ? kind_names[k] : "?"; }

int vf_match_parse(const char *name, vf_match *out) {
    static const char *names[] = {"exact", "contains", "regex", "numeric"};
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, names[i])) {
            *out = (vf_match)i;
            return 0;
        }
    return -1;
}

const char *vf_status_name(vf_status s) { return s < VF_STATUS_COUNT ? status_names[s] : "?"; }
const char *vf_lang_name(vf_lang l) { return (unsigned)l < 6 ? lang_names[l] : "unknown"; }

double vf_status_reward(vf_status s, bool warnings) {
    switch (s) {
    case VF_CORRECT: return 1.0;
    case VF_WRONG_OUTPUT:
    case VF_RAN: return 0.7;
    case VF_COMPILED: return 0.5;
    case VF_COMPILED_WITH_WARNINGS: return 0.3;
    case VF_RUNTIME_ERROR:
    case VF_TIMEOUT:
    case VF_MEMORY_LIMIT:
    case VF_OUTPUT_LIMIT: return warnings ? 0.3 : 0.5;
    default: return 0.0;
    }
}

/* ---- small string helpers ---- */

static char *xstrdup(const char *s) {
    char *d = strdup(s ? s : "");
    if (!d) abort(); /* out of memory while building a result: nothing sensible left to do */
    return d;
}

/* A copy of at most keep bytes of s (cut at a UTF-8 boundary), with *truncated set when cut. */
static char *clip(const char *s, size_t len, size_t keep, bool *truncated) {
    if (!s) return xstrdup("");
    if (len <= keep) {
        if (truncated) *truncated = *truncated || false;
        char *d = malloc(len + 1);
        if (!d) abort();
        memcpy(d, s, len);
        d[len] = '\0';
        return d;
    }
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--;
    char *d = malloc(keep + 1);
    if (!d) abort();
    memcpy(d, s, keep);
    d[keep] = '\0';
    if (truncated) *truncated = true;
    return d;
}

static void set_error(vf_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(vf_result *r, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(r->error);
    r->error = xstrdup(buf);
}

/* ---- tools ---- */

static pthread_once_t g_rust_once = PTHREAD_ONCE_INIT;
static char g_rustc[512];

/* rustup installs proxies in ~/.cargo/bin that need the user's environment; the real compiler is
 * in the toolchain's sysroot, which we ask for once, outside the sandbox. */
static void find_rustc(void) {
    char path[512];
    const char *home = getenv("HOME");
    char guess[512];
    bool found = fs_which("rustc", path, sizeof path);
    if (!found && home) {
        snprintf(guess, sizeof guess, "%s/.cargo/bin/rustc", home);
        found = fs_which(guess, path, sizeof path);
    }
    if (!found) found = fs_which("/root/.cargo/bin/rustc", path, sizeof path);
    if (!found) return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' --print sysroot 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    char sysroot[400] = "";
    if (p) {
        if (!fgets(sysroot, sizeof sysroot, p)) sysroot[0] = '\0';
        pclose(p);
    }
    sysroot[strcspn(sysroot, "\n")] = '\0';
    char real[512];
    snprintf(real, sizeof real, "%s/bin/rustc", sysroot);
    if (sysroot[0] && access(real, X_OK) == 0) snprintf(g_rustc, sizeof g_rustc, "%s", real);
    else snprintf(g_rustc, sizeof g_rustc, "%s", path);
}

bool vf_find_tool(const vf_config *cfg, vf_lang lang, char *out, size_t cap) {
    const char *name = NULL;
    bool cpp = lang != VF_LANG_C;
    switch (cfg->kind) {
    case VF_GCC:
    case VF_EXECUTION: name = cpp ? "g++" : "gcc"; break;
    case VF_CLANG: name = cpp ? "clang++" : "clang"; break;
    case VF_MINGW: name = cpp ? "x86_64-w64-mingw32-g++" : "x86_64-w64-mingw32-gcc"; break;
    case VF_RUST:
        if (cfg->compiler) break;
        pthread_once(&g_rust_once, find_rustc);
        if (!g_rustc[0]) return false;
        snprintf(out, cap, "%s", g_rustc);
        return true;
    case VF_GO:
        if (cfg->compiler) break;
        if (fs_which("go", out, cap)) return true;
        if (fs_which("/usr/lib/go/bin/go", out, cap)) return true;
        return fs_which("/usr/local/go/bin/go", out, cap);
    case VF_PYTHON:
        if (cfg->python) return fs_which(cfg->python, out, cap);
        if (fs_which("/usr/bin/python3", out, cap)) return true;
        return fs_which("python3", out, cap);
    case VF_CUSTOM:
    default: return false;
    }
    if (cfg->compiler) {
        /* "clang" given for C++ code means clang++; "gcc" means g++ */
        const char *c = cfg->compiler;
        if (cpp && !strcmp(c, "gcc")) c = "g++";
        else if (cpp && !strcmp(c, "clang")) c = "clang++";
        name = c;
    }
    return name && fs_which(name, out, cap);
}

/* True when every directory on the way to path can be searched by anyone (so an unprivileged uid
 * can run it). rustup under /root is the usual exception. */
static bool reachable_by_others(const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = strrchr(buf, '/'); s && s > buf; s = strrchr(buf, '/')) {
        *s = '\0';
        struct stat st;
        if (stat(buf, &st) != 0 || !(st.st_mode & S_IXOTH)) return false;
    }
    return true;
}

static void default_flags(const vf_config *cfg, vf_lang lang, char *out, size_t cap) {
    if (cfg->flags) {
        snprintf(out, cap, "%s", cfg->flags);
        return;
    }
    switch (cfg->kind) {
    case VF_MINGW: snprintf(out, cap, "%s", lang == VF_LANG_C ? "-O2 -Wall -static" : "-O2 -Wall -static -std=gnu++17"); break;
    case VF_RUST: snprintf(out, cap, "--edition 2021 -C opt-level=1"); break;
    case VF_GO: out[0] = '\0'; break;
    default: snprintf(out, cap, "%s", lang == VF_LANG_C ? "-O2 -Wall" : "-O2 -Wall -std=gnu++17"); break;
    }
}

/* Splits on spaces into argv slots (pointers into buf). Returns the count. */
static int split_words(char *buf, const char **argv, int max) {
    int n = 0;
    char *save = NULL;
    for (char *s = strtok_r(buf, " \t\n", &save); s && n < max; s = strtok_r(NULL, " \t\n", &save)) argv[n++] = s;
    return n;
}

/* ---- compiling ---- */

void vf_unit_free(vf_unit *u) {
    if (u->dir[0]) sbx_remove_dir(u->dir);
    u->dir[0] = '\0';
    free(u->log);
    free(u->error);
    free(u->code);
    u->log = u->error = u->code = NULL;
}

static void base_limits(sbx_limits *lim) { sbx_limits_default(lim); }

/* Writes code to dir/name. Returns 0 or -1 with msg. */
static int write_source(const char *dir, const char *name, const char *code, char *path, size_t cap, char *msg, size_t mcap) {
    if (!fs_join(path, cap, dir, name) || fs_write_atomic(path, code, strlen(code)) != 0) {
        snprintf(msg, mcap, "cannot write %s/%s: %s", dir, name, strerror(errno));
        return -1;
    }
    chmod(path, 0644);
    return 0;
}

int vf_compile(const vf_config *cfg, const char *code, vf_lang lang, vf_unit *u) {
    char msg[600];
    u->lang = lang;
    double t0 = time_now();
    if (sbx_make_dir(u->dir, sizeof u->dir, msg, sizeof msg) != 0) {
        u->sandbox_failed = true;
        u->error = xstrdup(msg);
        return -1;
    }
    char tool[512];
    if (!vf_find_tool(cfg, lang, tool, sizeof tool)) {
        u->sandbox_failed = true;
        snprintf(msg, sizeof msg, "%s verifier: compiler for %s not found (install it, or pass --compiler)",
                 vf_kind_name(cfg->kind), vf_lang_name(lang));
        u->error = xstrdup(msg);
        return -1;
    }
    const char *src_name = lang == VF_LANG_C ? "main.c" : lang == VF_LANG_RUST ? "main.rs" : lang == VF_LANG_GO ? "main.go" : "main.cpp";
    char src[600];
    if (write_source(u->dir, src_name, code, src, sizeof src, msg, sizeof msg) != 0) {
        u->sandbox_failed = true;
        u->error = xstrdup(msg);
        return -1;
    }
    fs_join(u->binary, sizeof u->binary, u->dir, cfg->kind == VF_MINGW ? "prog.exe" : "prog");

    char flags[1024];
    default_flags(cfg, lang, flags, sizeof flags);
    const char *argv[128];
    int n = 0;
    argv[n++] = tool;
    if (cfg->kind == VF_GO) {
        argv[n++] = "build";
        argv[n++] = "-o";
        argv[n++] = u->binary;
        n += split_words(flags, argv + n, 100);
        argv[n++] = src;
    } else {
        n += split_words(flags, argv + n, 100);
        argv[n++] = "-o";
        argv[n++] = u->binary;
        argv[n++] = src;
        if (lang == VF_LANG_C && cfg->kind != VF_RUST) argv[n++] = "-lm";
    }
    argv[n] = NULL;

    /* The toolchain's own directory first: gcc finds its helpers, rustc its linker driver. */
    char tooldir[512], env_path[700], env_home[600], env_tmp[600], env_gocache[620], env_gopath[620];
    snprintf(tooldir, sizeof tooldir, "%s", tool);
    char *slash = strrchr(tooldir, '/');
    if (slash) *slash = '\0';
    snprintf(env_path, sizeof env_path, "PATH=%s:/usr/local/bin:/usr/bin:/bin", tooldir);
    snprintf(env_home, sizeof env_home, "HOME=%s", u->dir);
    snprintf(env_tmp, sizeof env_tmp, "TMPDIR=%s", u->dir);
    snprintf(env_gocache, sizeof env_gocache, "GOCACHE=%s/.gocache", u->dir);
    snprintf(env_gopath, sizeof env_gopath, "GOPATH=%s/.gopath", u->dir);
    const char *env_c[] = {env_path, env_home, env_tmp, "LANG=C.UTF-8", "LC_ALL=C", NULL};
    const char *env_go[] = {env_path, env_home, env_tmp, "LANG=C.UTF-8", env_gocache, env_gopath,
                            "GO111MODULE=off", "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=", NULL};

    sbx_job job;
    memset(&job, 0, sizeof job);
    job.cancel = cfg->cancel;
    job.argv = argv;
    job.envp = cfg->kind == VF_GO ? env_go : env_c;
    job.workdir = u->dir;
    base_limits(&job.lim);
    job.lim.wall_s = cfg->compile_timeout_s > 0 ? cfg->compile_timeout_s : 30;
    job.lim.mem_mb = cfg->compile_memory_mb > 0 ? cfg->compile_memory_mb : 4096;
    job.lim.max_procs = 256;
    job.lim.max_file_mb = 256;
    job.lim.max_files = 256;
    job.lim.stdout_cap = 256 << 10;
    job.lim.stderr_cap = 256 << 10;
    job.as_root_nocaps = !reachable_by_others(tool);
    sbx_result r;
    if (sbx_run(&job, &r, msg, sizeof msg) != 0) {
        u->sandbox_failed = true;
        u->error = xstrdup(msg);
        u->compile_s = time_now() - t0;
        return -1;
    }
    u->compile_s = time_now() - t0;
    size_t keep = cfg->keep_output_bytes ? cfg->keep_output_bytes : 2000;
    /* go prints its diagnostics on stderr too; keep whichever has text */
    char *log = r.err_len ? r.err : r.out;
    size_t log_len = r.err_len ? r.err_len : r.out_len;
    /* diagnostics name files relative to the sandbox directory, not our temporary path */
    char prefix[320];
    snprintf(prefix, sizeof prefix, "%s/", u->dir);
    size_t pl = strlen(prefix);
    for (char *p = strstr(log, prefix); p; p = strstr(p, prefix)) {
        memmove(p, p + pl, strlen(p + pl) + 1);
        log_len -= pl;
    }
    u->log = clip(log, log_len, keep, NULL);
    if (r.outcome == SBX_TIMEOUT) {
        snprintf(msg, sizeof msg, "compiler timed out after %.0f s", job.lim.wall_s);
        u->error = xstrdup(msg);
    } else if (r.outcome != SBX_EXITED || r.exit_code != 0 || access(u->binary, F_OK) != 0) {
        /* the first error line says most */
        const char *e = strstr(log, "error");
        const char *line = e ? e : log;
        const char *ls = line;
        while (ls > log && ls[-1] != '\n') ls--;
        size_t ll = strcspn(ls, "\n");
        if (ll > 300) ll = 300;
        snprintf(msg, sizeof msg, "compile failed: %.*s", (int)ll, ls);
        if (r.outcome == SBX_SIGNALED) snprintf(msg, sizeof msg, "compiler killed by signal %d", r.signal);
        u->error = xstrdup(msg);
    } else {
        u->ok = true;
        u->warnings = strstr(log, "warning") != NULL;
    }
    sbx_result_free(&r);
    /* sources and the binary stay until the unit is freed; the go cache goes now */
    if (cfg->kind == VF_GO) {
        char gc[600];
        snprintf(gc, sizeof gc, "%s/.gocache", u->dir);
        fs_remove_tree(gc);
        snprintf(gc, sizeof gc, "%s/.gopath", u->dir);
        fs_remove_tree(gc);
    }
    return 0;
}

/* ---- running and comparing ---- */

static void normalize(const char *s, char *out) {
    /* CRLF -> LF, trailing blanks of every line dropped, leading/trailing blank lines dropped */
    char *o = out;
    while (*s) {
        if (*s == '\r' && s[1] == '\n') {
            s++;
            continue;
        }
        if (*s == '\n') {
            while (o > out && (o[-1] == ' ' || o[-1] == '\t')) o--;
        }
        *o++ = *s++;
    }
    while (o > out && isspace((unsigned char)o[-1])) o--;
    *o = '\0';
    char *st = out;
    while (isspace((unsigned char)*st)) st++;
    memmove(out, st, strlen(st) + 1);
}

static int extract_numbers(const char *s, double *v, int max) {
    int n = 0;
    while (*s && n < max) {
        if (isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1])) ||
            (*s == '.' && isdigit((unsigned char)s[1]))) {
            char *end;
            v[n++] = strtod(s, &end);
            if (end == s) end = (char *)s + 1;
            s = end;
        } else {
            s++;
        }
    }
    return n;
}

bool vf_output_matches(vf_match mode, const char *actual, const char *expected) {
    if (!expected) return true;
    size_t la = strlen(actual), le = strlen(expected);
    char *a = malloc(la + 1), *e = malloc(le + 1);
    if (!a || !e) abort();
    normalize(actual, a);
    normalize(expected, e);
    bool ok = false;
    switch (mode) {
    case VF_MATCH_EXACT: ok = !strcmp(a, e); break;
    case VF_MATCH_CONTAINS: ok = strstr(a, e) != NULL; break;
    case VF_MATCH_REGEX: {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)expected, PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, &ec, &eo, NULL);
        if (re) {
            pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
            ok = md && pcre2_match(re, (PCRE2_SPTR)a, strlen(a), 0, 0, md, NULL) >= 0;
            pcre2_match_data_free(md);
            pcre2_code_free(re);
        }
        break;
    }
    case VF_MATCH_NUMERIC: {
        double va[256], ve[256];
        int na = extract_numbers(a, va, 256), ne = extract_numbers(e, ve, 256);
        ok = na == ne && ne > 0;
        for (int i = 0; ok && i < ne; i++)
            ok = fabs(va[i] - ve[i]) <= 1e-6 + 1e-9 * fabs(ve[i]);
        break;
    }
    }
    free(a);
    free(e);
    return ok;
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGBUS: return "SIGBUS";
    case SIGKILL: return "SIGKILL";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGPIPE: return "SIGPIPE";
    case SIGTERM: return "SIGTERM";
    case SIGTRAP: return "SIGTRAP";
    default: return "signal";
    }
}

static bool mentions_oom(const char *err) {
    static const char *marks[] = {"bad_alloc", "MemoryError", "Cannot allocate memory", "out of memory",
                                  "memory allocation of", "failed to reserve", NULL};
    for (const char **m = marks; *m; m++)
        if (strstr(err, *m)) return true;
    return false;
}

/* How a finished run failed, or VF_RAN when it exited 0. */
static vf_status classify(const sbx_result *r, long mem_mb, double cpu_limit, char *why, size_t cap) {
    switch (r->outcome) {
    case SBX_TIMEOUT: snprintf(why, cap, "timed out after %.1f s (wall clock)", r->wall_s); return VF_TIMEOUT;
    case SBX_OUTPUT_LIMIT: snprintf(why, cap, "printed more than the output limit"); return VF_OUTPUT_LIMIT;
    case SBX_SIGNALED:
        /* SIGXCPU at the soft CPU limit, SIGKILL at the hard one when SIGXCPU was ignored */
        if (r->signal == SIGXCPU || (r->signal == SIGKILL && cpu_limit > 0 && r->cpu_s >= cpu_limit)) {
            snprintf(why, cap, "CPU time limit exceeded (%.1f s)", r->cpu_s);
            return VF_TIMEOUT;
        }
        if (mem_mb > 0 && (r->max_rss_kb >= mem_mb * 1024 * 7 / 10 || mentions_oom(r->err))) {
            snprintf(why, cap, "memory limit (%ld MiB) exhausted, then %s", mem_mb, signal_name(r->signal));
            return VF_MEMORY_LIMIT;
        }
        if (r->signal == SIGXFSZ) snprintf(why, cap, "file size limit exceeded (SIGXFSZ)");
        else snprintf(why, cap, "killed by %s (%d)", signal_name(r->signal), r->signal);
        return VF_RUNTIME_ERROR;
    case SBX_EXITED:
        if (r->exit_code == 0) return VF_RAN;
        if (mem_mb > 0 && (mentions_oom(r->err) || r->max_rss_kb >= mem_mb * 1024 * 7 / 10)) {
            snprintf(why, cap, "memory limit (%ld MiB) exhausted (exit code %d)", mem_mb, r->exit_code);
            return VF_MEMORY_LIMIT;
        }
        snprintf(why, cap, "exit code %d", r->exit_code);
        return VF_RUNTIME_ERROR;
    }
    return VF_RUNTIME_ERROR;
}

static long run_memory_mb(const vf_config *cfg, vf_lang lang) {
    long mb = cfg->memory_limit_mb > 0 ? cfg->memory_limit_mb : 0;
    /* the Go runtime reserves ~800 MiB of address space before main() */
    if (mb && lang == VF_LANG_GO) mb += 1024;
    return mb;
}

/* Runs argv in a fresh sandbox directory. Returns 0 or -1 (sandbox failure, message in why). */
static int run_program(const vf_config *cfg, vf_lang lang, const char *const *argv, const char *stdin_text,
                       sbx_result *r, char *why, size_t cap) {
    sbx_job job;
    memset(&job, 0, sizeof job);
    job.cancel = cfg->cancel;
    job.argv = argv;
    sbx_limits_default(&job.lim);
    job.lim.wall_s = cfg->run_timeout_s > 0 ? cfg->run_timeout_s : 5;
    job.lim.mem_mb = run_memory_mb(cfg, lang);
    job.stdin_data = stdin_text;
    job.stdin_len = stdin_text ? strlen(stdin_text) : 0;
    if (lang == VF_LANG_PYTHON && !reachable_by_others(argv[0])) job.as_root_nocaps = true;
    return sbx_run(&job, r, why, cap);
}

static void fill_run(const vf_config *cfg, vf_result *res, const sbx_result *r) {
    size_t keep = cfg->keep_output_bytes ? cfg->keep_output_bytes : 2000;
    free(res->stdout_text);
    free(res->stderr_text);
    res->stdout_truncated = r->out_truncated;
    res->stderr_truncated = r->err_truncated;
    res->stdout_text = clip(r->out, r->out_len, keep, &res->stdout_truncated);
    res->stderr_text = clip(r->err, r->err_len, keep, &res->stderr_truncated);
    res->run_cpu_s = r->cpu_s;
    res->exit_code = r->outcome == SBX_EXITED ? r->exit_code : -1;
    res->signal = r->outcome == SBX_SIGNALED ? r->signal : (r->outcome == SBX_EXITED ? 0 : SIGKILL);
}

static void finish(vf_result *res, vf_status st, bool warnings) {
    res->status = st;
    res->reward = vf_status_reward(st, warnings);
    if (!res->error) res->error = xstrdup("");
    if (!res->stdout_text) res->stdout_text = xstrdup("");
    if (!res->stderr_text) res->stderr_text = xstrdup("");
    if (!res->compile_log) res->compile_log = xstrdup("");
}

/* Grades a compiled unit against a sample (compile verifiers and execution). */
void vf_grade_compiled(const vf_config *cfg, const vf_sample *s, const vf_unit *u, vf_result *res) {
    res->language = u->lang;
    res->compile_s = u->compile_s;
    size_t keep = cfg->keep_output_bytes ? cfg->keep_output_bytes : 2000;
    res->compile_log = clip(u->log ? u->log : "", u->log ? strlen(u->log) : 0, keep, NULL);
    if (u->sandbox_failed) {
        set_error(res, "%s", u->error ? u->error : "sandbox failure");
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    if (!u->ok) {
        set_error(res, "%s", u->error ? u->error : "compile failed");
        finish(res, VF_COMPILE_ERROR, false);
        return;
    }
    bool warn = u->warnings;
    res->compile_warnings = warn;
    vf_status compiled = warn ? VF_COMPILED_WITH_WARNINGS : VF_COMPILED;
    if (cfg->kind == VF_MINGW) {
        /* a Windows PE: we only compile it */
        finish(res, compiled, warn);
        res->success = true;
        return;
    }
    vf_test_case single = {s->stdin_text, s->expected_output};
    const vf_test_case *tests = s->tests;
    size_t nt = s->n_tests;
    if (cfg->kind == VF_EXECUTION && nt == 0 && s->expected_output) {
        tests = &single;
        nt = 1;
    }
    bool run = cfg->run || (cfg->kind == VF_EXECUTION && nt > 0);
    if (!run) {
        finish(res, compiled, warn);
        res->success = true;
        return;
    }
    const char *argv[] = {u->binary, NULL};
    char why[400] = "";
    if (cfg->kind != VF_EXECUTION || nt == 0) {
        sbx_result r;
        double t0 = time_now();
        if (run_program(cfg, u->lang, argv, s->stdin_text, &r, why, sizeof why) != 0) {
            set_error(res, "%s", why);
            finish(res, VF_SANDBOX_ERROR, warn);
            return;
        }
        res->run_s = time_now() - t0;
        fill_run(cfg, res, &r);
        vf_status st = classify(&r, run_memory_mb(cfg, u->lang), cfg->run_timeout_s, why, sizeof why);
        if (st == VF_RAN && s->expected_output) {
            if (vf_output_matches(cfg->match, r.out, s->expected_output)) {
                st = VF_CORRECT;
            } else {
                st = VF_WRONG_OUTPUT;
                snprintf(why, sizeof why, "output differs from the expected output");
            }
        }
        sbx_result_free(&r);
        set_error(res, "%s", why);
        finish(res, st, warn);
        res->success = st == VF_CORRECT || (st == VF_RAN);
        return;
    }
    /* execution: every test case */
    int passed = 0, ran_ok = 0;
    vf_status first_fail = VF_CORRECT;
    char fail_why[480] = "";
    double t0 = time_now();
    for (size_t i = 0; i < nt; i++) {
        sbx_result r;
        if (run_program(cfg, u->lang, argv, tests[i].input, &r, why, sizeof why) != 0) {
            set_error(res, "%s", why);
            finish(res, VF_SANDBOX_ERROR, warn);
            return;
        }
        vf_status st = classify(&r, run_memory_mb(cfg, u->lang), cfg->run_timeout_s, why, sizeof why);
        bool ok = false;
        if (st == VF_RAN) {
            ran_ok++;
            ok = vf_output_matches(cfg->match, r.out, tests[i].expected);
            if (!ok) snprintf(why, sizeof why, "test %zu: output differs from the expected output", i + 1);
        }
        if (ok) passed++;
        if ((!ok && first_fail == VF_CORRECT) || i + 1 == nt) {
            if (!ok && first_fail == VF_CORRECT) {
                first_fail = st == VF_RAN ? VF_WRONG_OUTPUT : st;
                if (st != VF_RAN) snprintf(fail_why, sizeof fail_why, "test %zu: %.400s", i + 1, why);
                else snprintf(fail_why, sizeof fail_why, "%s", why);
            }
            if (!ok || !res->stdout_text) fill_run(cfg, res, &r);
        }
        sbx_result_free(&r);
    }
    res->run_s = time_now() - t0;
    res->tests_passed = passed;
    res->tests_total = (int)nt;
    vf_status st = passed == (int)nt ? VF_CORRECT : ran_ok > 0 ? VF_WRONG_OUTPUT : first_fail;
    set_error(res, "%s", st == VF_CORRECT ? "" : fail_why);
    finish(res, st, warn);
    double rate = (double)passed / (double)nt;
    res->reward = cfg->partial_credit ? 0.5 + 0.5 * rate : (passed == (int)nt ? 1.0 : 0.5);
    res->success = rate >= 0.5;
}

/* ---- python ---- */

static void make_nonce(char *out, size_t cap) {
    static __thread rng_state rng;
    static __thread bool seeded;
    if (!seeded) {
        uint64_t seed = (uint64_t)time_now() * 1000003u ^ (uint64_t)pthread_self() ^ ((uint64_t)getpid() << 32);
        rng_seed(&rng, seed);
        seeded = true;
    }
    snprintf(out, cap, "HFDONE%016llx%016llx", (unsigned long long)rng_next(&rng), (unsigned long long)rng_next(&rng));
}

static bool defines(const char *code, const char *name) {
    char pat[256];
    snprintf(pat, sizeof pat, "def %s", name);
    return strstr(code, pat) != NULL;
}

/* True when a line of code starts with the call "name(" (a top-level call). */
static bool calls_at_top(const char *code, const char *name) {
    size_t n = strlen(name);
    for (const char *line = code; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, name, n) && line[n] == '(') return true;
    return false;
}

/* Removes the harness's marker lines from the captured output. */
static void strip_markers(char *s, const char *nonce) {
    char *p;
    size_t nl = strlen(nonce);
    while ((p = strstr(s, nonce))) {
        char *start = p;
        if (start > s && start[-1] == '\n') start--;
        char *end = p + nl;
        while (*end && *end != '\n') end++;
        if (*end == '\n') end++;
        memmove(start, end, strlen(end) + 1);
    }
}

static void grade_python(const vf_config *cfg, const vf_sample *s, const char *code, vf_result *res) {
    res->language = VF_LANG_PYTHON;
    char dir[300], msg[600], py[512];
    if (!vf_find_tool(cfg, VF_LANG_PYTHON, py, sizeof py)) {
        set_error(res, "python verifier: python3 not found (install python3 or pass --compiler)");
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    if (sbx_make_dir(dir, sizeof dir, msg, sizeof msg) != 0) {
        set_error(res, "%s", msg);
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    char nonce[48];
    make_nonce(nonce, sizeof nonce);
    /* HumanEval completions often continue the prompt instead of repeating the signature */
    char *full = NULL;
    if (s->entry_point && s->prompt && !defines(code, s->entry_point)) {
        size_t n = strlen(s->prompt) + strlen(code) + 2;
        full = malloc(n);
        if (!full) abort();
        snprintf(full, n, "%s%s%s", s->prompt, s->prompt[0] && s->prompt[strlen(s->prompt) - 1] == '\n' ? "" : "\n", code);
    }
    const char *src = full ? full : code;
    bool has_tests = s->test_code && s->test_code[0];
    char call[300] = "";
    if (has_tests && strstr(s->test_code, "def check")) {
        /* HumanEval: check(entry_point). Without an entry_point, the first top-level function of
         * the code (never a check() that is defined and not called: that would pass anything). */
        char ep[128] = "";
        if (s->entry_point && s->entry_point[0]) snprintf(ep, sizeof ep, "%s", s->entry_point);
        else {
            const char *d = src;
            while (d && strncmp(d, "def ", 4) != 0) {
                d = strstr(d, "\ndef ");
                if (d) d++;
            }
            if (d) snprintf(ep, sizeof ep, "%.*s", (int)strcspn(d + 4, "( :\n"), d + 4);
        }
        bool ident = ep[0] != '\0';
        for (const char *q = ep; *q; q++)
            if (!(isalnum((unsigned char)*q) || *q == '_')) ident = false;
        snprintf(call, sizeof call, "    g['check'](g[%s%s%s])\n", "'", ident ? ep : "__hf_no_entry_point__", "'");
    } else if (has_tests && strstr(s->test_code, "def test_solution(") && !calls_at_top(s->test_code, "test_solution")) {
        /* MBPP's other form: the asserts sit in a test_solution() that the tests only define */
        snprintf(call, sizeof call, "    g['test_solution']()\n");
    }
    char harness[4096];
    /* The candidate runs in its own namespace; the markers are written with os.write after the
     * last test, so an early exit, a closed stdout or a replaced sys.stdout never looks like success. */
    snprintf(harness, sizeof harness,
             "import os, sys\n"
             "def _hf_main():\n"
             "    d = %s\n"
             "    def mark(w):\n"
             "        try:\n"
             "            sys.stdout.flush()\n"
             "        except Exception:\n"
             "            pass\n"
             "        os.write(1, b'\\n%s:' + w + b'\\n')\n"
             "    with open(d + '/solution.py', 'rb') as f:\n"
             "        src = f.read()\n"
             "    try:\n"
             "        code = compile(src, 'solution.py', 'exec')\n"
             "    except (SyntaxError, ValueError) as e:\n"
             "        sys.stderr.write('%%s: %%s\\n' %% (type(e).__name__, e))\n"
             "        mark(b'syntax')\n"
             "        return\n"
             "    g = {'__name__': %s, '__builtins__': __builtins__}\n"
             "    exec(code, g)\n"
             "    mark(b'defined')\n"
             "%s"
             "%s"
             "    mark(b'passed')\n"
             "_hf_main()\n",
             "repr_dir_placeholder", nonce, has_tests ? "'solution'" : "'__main__'",
             has_tests ? "    with open(d + '/tests.py', 'rb') as f:\n        exec(compile(f.read(), 'tests.py', 'exec'), g)\n" : "",
             call);
    /* put the directory in as a Python string literal */
    char dirlit[400];
    snprintf(dirlit, sizeof dirlit, "'%s'", dir);
    char *ph = strstr(harness, "repr_dir_placeholder");
    char final[4600];
    snprintf(final, sizeof final, "%.*s%s%s", (int)(ph - harness), harness, dirlit, ph + strlen("repr_dir_placeholder"));
    char p1[600], p2[600], p3[600];
    if (write_source(dir, "solution.py", src, p1, sizeof p1, msg, sizeof msg) != 0 ||
        (has_tests && write_source(dir, "tests.py", s->test_code, p2, sizeof p2, msg, sizeof msg) != 0) ||
        write_source(dir, "harness.py", final, p3, sizeof p3, msg, sizeof msg) != 0) {
        free(full);
        sbx_remove_dir(dir);
        set_error(res, "%s", msg);
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    free(full);
    const char *argv[] = {py, "-I", "-B", p3, NULL};
    sbx_result r;
    char why[400] = "";
    double t0 = time_now();
    int rc = run_program(cfg, VF_LANG_PYTHON, argv, s->stdin_text, &r, why, sizeof why);
    res->run_s = time_now() - t0;
    sbx_remove_dir(dir);
    if (rc != 0) {
        set_error(res, "%s", why);
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    char m_syntax[80], m_defined[80], m_passed[80];
    snprintf(m_syntax, sizeof m_syntax, "%s:syntax", nonce);
    snprintf(m_defined, sizeof m_defined, "%s:defined", nonce);
    snprintf(m_passed, sizeof m_passed, "%s:passed\n", nonce);
    size_t tl = strlen(r.out_tail), pl = strlen(m_passed);
    bool passed = tl >= pl && !strcmp(r.out_tail + tl - pl, m_passed);
    bool syntax = strstr(r.out_tail, m_syntax) != NULL;
    bool defined = strstr(r.out, m_defined) != NULL;
    strip_markers(r.out, nonce);
    r.out_len = strlen(r.out);
    fill_run(cfg, res, &r);
    vf_status st = classify(&r, run_memory_mb(cfg, VF_LANG_PYTHON), cfg->run_timeout_s, why, sizeof why);
    if (syntax) {
        st = VF_COMPILE_ERROR;
        const char *e = r.err;
        snprintf(why, sizeof why, "%.*s", (int)strcspn(e, "\n"), e);
    } else if (st == VF_RAN && !passed) {
        st = VF_RUNTIME_ERROR;
        snprintf(why, sizeof why, "the program exited before the tests finished");
    } else if (st == VF_RUNTIME_ERROR && defined && has_tests && strstr(r.err, "AssertionError")) {
        st = VF_WRONG_OUTPUT;
        snprintf(why, sizeof why, "a test assertion failed");
    } else if (st == VF_RAN && has_tests) {
        st = VF_CORRECT;
    } else if (st == VF_RAN && s->expected_output) {
        if (vf_output_matches(cfg->match, r.out, s->expected_output)) st = VF_CORRECT;
        else {
            st = VF_WRONG_OUTPUT;
            snprintf(why, sizeof why, "output differs from the expected output");
        }
    }
    sbx_result_free(&r);
    set_error(res, "%s", st == VF_CORRECT || st == VF_RAN ? "" : why);
    finish(res, st, false);
    res->success = st == VF_CORRECT || st == VF_RAN;
    if (has_tests) {
        res->tests_total = 1;
        res->tests_passed = st == VF_CORRECT;
    }
}

/* ---- custom ---- */

static void grade_custom(const vf_config *cfg, const char *code, vf_lang lang, vf_result *res) {
    res->language = lang;
    char dir[300], msg[600];
    if (!cfg->custom_command || !cfg->custom_command[0]) {
        set_error(res, "custom verifier: no command given (--command)");
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    if (sbx_make_dir(dir, sizeof dir, msg, sizeof msg) != 0) {
        set_error(res, "%s", msg);
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    const char *ext = cfg->custom_ext ? cfg->custom_ext
                      : lang == VF_LANG_C ? ".c" : lang == VF_LANG_CPP ? ".cpp" : lang == VF_LANG_PYTHON ? ".py"
                      : lang == VF_LANG_RUST ? ".rs" : lang == VF_LANG_GO ? ".go" : ".txt";
    char name[64], file[600];
    snprintf(name, sizeof name, "solution%s%s", ext[0] == '.' ? "" : ".", ext);
    if (write_source(dir, name, code, file, sizeof file, msg, sizeof msg) != 0) {
        sbx_remove_dir(dir);
        set_error(res, "%s", msg);
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    /* argv from the template, {file} replaced in every word; no shell */
    char tpl[2048];
    snprintf(tpl, sizeof tpl, "%s", cfg->custom_command);
    const char *words[64];
    int n = split_words(tpl, words, 63);
    static __thread char expanded[64][700];
    const char *argv[65];
    for (int i = 0; i < n; i++) {
        const char *w = words[i], *ph = strstr(w, "{file}");
        if (ph) snprintf(expanded[i], sizeof expanded[i], "%.*s%s%s", (int)(ph - w), w, file, ph + 6);
        else snprintf(expanded[i], sizeof expanded[i], "%s", w);
        argv[i] = expanded[i];
    }
    argv[n] = NULL;
    char prog[512];
    if (n == 0 || !fs_which(argv[0], prog, sizeof prog)) {
        sbx_remove_dir(dir);
        set_error(res, "custom verifier: command '%s' not found", n ? argv[0] : "");
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    argv[0] = prog;
    sbx_job job;
    memset(&job, 0, sizeof job);
    job.cancel = cfg->cancel;
    job.argv = argv;
    job.workdir = dir;
    sbx_limits_default(&job.lim);
    job.lim.wall_s = cfg->compile_timeout_s > 0 ? cfg->compile_timeout_s : 30;
    job.lim.mem_mb = cfg->compile_memory_mb > 0 ? cfg->compile_memory_mb : 4096;
    job.lim.max_procs = 256;
    job.as_root_nocaps = !reachable_by_others(prog);
    sbx_result r;
    char why[400] = "";
    double t0 = time_now();
    int rc = sbx_run(&job, &r, why, sizeof why);
    res->run_s = time_now() - t0;
    sbx_remove_dir(dir);
    if (rc != 0) {
        set_error(res, "%s", why);
        finish(res, VF_SANDBOX_ERROR, false);
        return;
    }
    fill_run(cfg, res, &r);
    vf_status st = classify(&r, 0, cfg->compile_timeout_s, why, sizeof why);
    bool ok;
    if (cfg->custom_regex) {
        ok = st == VF_RAN || st == VF_RUNTIME_ERROR ? vf_output_matches(VF_MATCH_REGEX, r.out, cfg->custom_regex) : false;
        if (!ok && (st == VF_RAN || st == VF_RUNTIME_ERROR)) snprintf(why, sizeof why, "output does not match /%s/", cfg->custom_regex);
    } else {
        ok = st == VF_RAN;
    }
    sbx_result_free(&r);
    if (!ok && (st == VF_RAN || st == VF_RUNTIME_ERROR)) st = VF_WRONG_OUTPUT;
    set_error(res, "%s", ok ? "" : why);
    finish(res, ok ? VF_CORRECT : st, false);
    res->reward = ok ? 1.0 : 0.0;
    res->success = ok;
}

/* ---- one sample ---- */

static int check_config(const vf_config *cfg, char *err, size_t errcap) {
    if (cfg->kind >= VF_KIND_COUNT) {
        snprintf(err, errcap, "unknown verifier kind %d", (int)cfg->kind);
        return -1;
    }
    if (cfg->kind == VF_CUSTOM && (!cfg->custom_command || !strstr(cfg->custom_command, "{file}"))) {
        snprintf(err, errcap, "custom verifier: the command must contain {file} (got '%s')",
                 cfg->custom_command ? cfg->custom_command : "");
        return -1;
    }
    if (cfg->custom_regex) {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)cfg->custom_regex, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
        if (!re) {
            snprintf(err, errcap, "custom verifier: bad regex '%s' at offset %zu", cfg->custom_regex, (size_t)eo);
            return -1;
        }
        pcre2_code_free(re);
    }
    return 0;
}

int vf_check_config(const vf_config *cfg, char *err, size_t errcap) { return check_config(cfg, err, errcap); }

vf_lang vf_pick_language(const vf_config *cfg, const char *code, vf_lang hint) {
    switch (cfg->kind) {
    case VF_PYTHON: return VF_LANG_PYTHON;
    case VF_RUST: return VF_LANG_RUST;
    case VF_GO: return VF_LANG_GO;
    default: break;
    }
    vf_lang l = vf_detect_language(code, hint);
    if (cfg->kind == VF_CUSTOM) return l;
    return l == VF_LANG_C ? VF_LANG_C : l == VF_LANG_UNKNOWN ? VF_LANG_CPP : l;
}

bool vf_kind_compiles(vf_kind k) { return k != VF_PYTHON && k != VF_CUSTOM; }

/* A C-family verifier given Python, Rust or Go: say so instead of feeding it to gcc. */
bool vf_wrong_family(const vf_config *cfg, vf_lang lang, vf_result *res) {
    bool cfam = cfg->kind == VF_GCC || cfg->kind == VF_CLANG || cfg->kind == VF_MINGW || cfg->kind == VF_EXECUTION;
    if (!cfam || lang == VF_LANG_C || lang == VF_LANG_CPP) return false;
    res->language = lang;
    set_error(res, "the code looks like %s; the %s verifier compiles C and C++ (use --verifier %s)", vf_lang_name(lang),
              vf_kind_name(cfg->kind), lang == VF_LANG_PYTHON ? "python" : vf_lang_name(lang));
    finish(res, VF_COMPILE_ERROR, false);
    return true;
}

void vf_grade_uncompiled(const vf_config *cfg, const vf_sample *s, const char *code, vf_lang lang, vf_result *res) {
    if (cfg->kind == VF_PYTHON) grade_python(cfg, s, code, res);
    else grade_custom(cfg, code, lang, res);
}

int vf_verify(const vf_config *cfg, const vf_sample *s, vf_result *out, char *err, size_t errcap) {
    if (check_config(cfg, err, errcap) != 0) return -1;
    memset(out, 0, sizeof *out);
    vf_lang hint;
    char *code = vf_extract_code(s->completion, &hint);
    if (!code) abort();
    vf_lang lang = vf_pick_language(cfg, code, hint);
    if (vf_wrong_family(cfg, lang, out)) {
        free(code);
        return 0;
    }
    if (!vf_kind_compiles(cfg->kind)) {
        vf_grade_uncompiled(cfg, s, code, lang, out);
    } else {
        vf_unit u;
        memset(&u, 0, sizeof u);
        vf_compile(cfg, code, lang, &u);
        vf_grade_compiled(cfg, s, &u, out);
        vf_unit_free(&u);
    }
    free(code);
    return 0;
}

void vf_result_free(vf_result *r) {
    if (!r) return;
    free(r->stdout_text);
    free(r->stderr_text);
    free(r->compile_log);
    free(r->error);
    r->stdout_text = r->stderr_text = r->compile_log = r->error = NULL;
}

static double round3(double x) { return round(x * 1000.0) / 1000.0; }

void vf_result_to_json(const vf_result *r, cJSON *obj) {
    static const char *keys[] = {"reward", "status", "success", "language", "compile_time", "run_time", "exit_code",
                                 "signal", "tests_passed", "tests_total", "actual_output", "stderr", "compile_log",
                                 "error", "details", "compile_cached", "output_truncated", "compile_warnings"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) cJSON_DeleteItemFromObjectCaseSensitive(obj, keys[i]);
    cJSON_AddNumberToObject(obj, "reward", r->reward);
    cJSON_AddStringToObject(obj, "status", vf_status_name(r->status));
    cJSON_AddBoolToObject(obj, "success", r->success);
    cJSON_AddStringToObject(obj, "language", vf_lang_name(r->language));
    cJSON_AddNumberToObject(obj, "compile_time", round3(r->compile_s));
    cJSON_AddNumberToObject(obj, "run_time", round3(r->run_s));
    cJSON_AddNumberToObject(obj, "exit_code", r->exit_code);
    cJSON_AddNumberToObject(obj, "signal", r->signal);
    if (r->tests_total) {
        cJSON_AddNumberToObject(obj, "tests_passed", r->tests_passed);
        cJSON_AddNumberToObject(obj, "tests_total", r->tests_total);
    }
    cJSON_AddStringToObject(obj, "actual_output", r->stdout_text ? r->stdout_text : "");
    cJSON_AddBoolToObject(obj, "output_truncated", r->stdout_truncated);
    cJSON_AddStringToObject(obj, "stderr", r->stderr_text ? r->stderr_text : "");
    cJSON_AddStringToObject(obj, "compile_log", r->compile_log ? r->compile_log : "");
    cJSON_AddBoolToObject(obj, "compile_warnings", r->compile_warnings);
    cJSON_AddStringToObject(obj, "error", r->error ? r->error : "");
    static const char *details[VF_STATUS_COUNT] = {
        "Correct output", "Runs, wrong output", "Runs without expected output", "Compiles clean",
        "Compiles with warnings", "Does not compile", "Crashes when run", "Timed out", "Out of memory",
        "Output limit exceeded", "Sandbox error"};
    cJSON_AddStringToObject(obj, "details", r->status < VF_STATUS_COUNT ? details[r->status] : "");
    cJSON_AddBoolToObject(obj, "compile_cached", r->compile_cached);
}

static char *json_dup_str(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return strdup(cJSON_IsString(v) ? v->valuestring : "");
}

static double json_num(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int vf_result_from_json(const cJSON *obj, vf_result *r) {
    memset(r, 0, sizeof *r);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
    int status = -1;
    for (int i = 0; cJSON_IsString(st) && i < VF_STATUS_COUNT; i++)
        if (!strcmp(st->valuestring, status_names[i])) status = i;
    if (status < 0) return -1;
    r->status = (vf_status)status;
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(obj, "language");
    for (int i = 0; cJSON_IsString(lang) && i < 6; i++)
        if (!strcmp(lang->valuestring, lang_names[i])) r->language = (vf_lang)i;
    r->reward = json_num(obj, "reward");
    r->success = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "success"));
    r->compile_s = json_num(obj, "compile_time");
    r->run_s = json_num(obj, "run_time");
    r->exit_code = (int)json_num(obj, "exit_code");
    r->signal = (int)json_num(obj, "signal");
    r->tests_passed = (int)json_num(obj, "tests_passed");
    r->tests_total = (int)json_num(obj, "tests_total");
    r->compile_warnings = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "compile_warnings"));
    r->compile_cached = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "compile_cached"));
    r->stdout_truncated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "output_truncated"));
    r->stdout_text = json_dup_str(obj, "actual_output");
    r->stderr_text = json_dup_str(obj, "stderr");
    r->compile_log = json_dup_str(obj, "compile_log");
    r->error = json_dup_str(obj, "error");
    if (!r->stdout_text || !r->stderr_text || !r->compile_log || !r->error) {
        vf_result_free(r);
        return -1;
    }
    return 0;
}
