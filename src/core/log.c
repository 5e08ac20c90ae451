#include "core/log.h"
#include "dist/dist.h"
#include "core/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool g_quiet, g_verbose;
static bool g_status_line; /* a progress line without newline is on the terminal */
static FILE *g_file;
static char g_path[4096];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_terminal(bool quiet, bool verbose) {
    g_quiet = quiet;
    g_verbose = verbose;
}
bool log_is_quiet(void) { return g_quiet; }
bool log_is_verbose(void) { return g_verbose; }
bool log_stderr_is_tty(void) { return !g_quiet && isatty(STDERR_FILENO); }
void log_set_status_line(bool on) { g_status_line = on; }

void log_stamp(char *out, size_t cap) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, cap, "%H:%M:%S", &tm);
}
const char *log_file_path(void) { return g_file ? g_path : NULL; }

int log_open_file(const char *dir, const char *command) {
    if (!dist_is_root()) return -1; /* data-parallel runs: rank 0 alone writes the log */
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
    if (fs_mkdirs(dir) != 0) {
        log_warn("cannot create log directory %s: %s (continuing without a log file)", dir, strerror(errno));
        return -1;
    }
    /* Two runs of one command in the same second get their own files (_2, _3, ...), never one
     * shared file with interleaved lines. */
    char path[sizeof g_path];
    int fd = -1;
    for (int n = 1; n < 100 && fd < 0; n++) {
        if (n == 1) snprintf(path, sizeof path, "%s/%s_%s.log", dir, command, stamp);
        else snprintf(path, sizeof path, "%s/%s_%s_%d.log", dir, command, stamp, n);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        log_warn("cannot open log file %s: %s (continuing without a log file)", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    pthread_mutex_lock(&g_lock);
    if (g_file) fclose(g_file);
    g_file = f;
    memcpy(g_path, path, sizeof g_path);
    pthread_mutex_unlock(&g_lock);
    log_info("Logging to: %s", g_path);
    return 0;
}

int log_open_command(const char *command_path) {
    char name[128];
    snprintf(name, sizeof name, "%s", command_path);
    for (char *p = name; *p; p++)
        if (*p == ' ' || *p == '-' || *p == '/') *p = '_';
    return log_open_file("logs", name);
}

void log_close_file(void) {
    pthread_mutex_lock(&g_lock);
    if (g_file) fclose(g_file);
    g_file = NULL;
    pthread_mutex_unlock(&g_lock);
}

static const char *level_prefix(log_level level) {
    switch (level) {
    case LOG_DEBUG: return "debug: ";
    case LOG_WARN: return "warning: ";
    case LOG_ERROR: return "error: ";
    default: return "";
    }
}

void log_msg(log_level level, const char *fmt, ...) {
    bool to_term = level >= LOG_WARN || (level == LOG_INFO && !g_quiet) || (level == LOG_DEBUG && g_verbose);
    bool to_file = g_file && (level >= LOG_INFO || g_verbose);
    if (!to_term && !to_file) return;
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_lock);
    if (to_term) {
        if (g_status_line) fputs("\r\033[K", stderr); /* the message replaces the progress line */
        g_status_line = false;
        fprintf(stderr, "%s%s\n", level_prefix(level), buf);
    }
    if (to_file) {
        char stamp[32];
        log_stamp(stamp, sizeof stamp);
        fprintf(g_file, "[%s] %s%s\n", stamp, level_prefix(level), buf);
    }
    pthread_mutex_unlock(&g_lock);
}

void log_file_only(const char *fmt, ...) {
    if (!g_file) return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&g_lock);
    if (g_file) { /* it may have been closed since the check above */
        vfprintf(g_file, fmt, ap);
        fputc('\n', g_file);
    }
    pthread_mutex_unlock(&g_lock);
    va_end(ap);
}
