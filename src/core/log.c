#include "core/log.h"
#include "core/fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool g_quiet, g_verbose;
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
const char *log_file_path(void) { return g_file ? g_path : NULL; }

int log_open_file(const char *dir, const char *command) {
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
    if (fs_mkdirs(dir) != 0) {
        log_warn("cannot create log directory %s: %s (continuing without a log file)", dir, strerror(errno));
        return -1;
    }
    snprintf(g_path, sizeof g_path, "%s/%s_%s.log", dir, command, stamp);
    FILE *f = fopen(g_path, "a");
    if (!f) {
        log_warn("cannot open log file %s: %s (continuing without a log file)", g_path, strerror(errno));
        return -1;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    pthread_mutex_lock(&g_lock);
    g_file = f;
    pthread_mutex_unlock(&g_lock);
    log_info("Logging to: %s", g_path);
    return 0;
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
    if (to_term) fprintf(stderr, "%s%s\n", level_prefix(level), buf);
    if (to_file) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
        fprintf(g_file, "[%s] %s%s\n", stamp, level_prefix(level), buf);
    }
    pthread_mutex_unlock(&g_lock);
}

void log_file_only(const char *fmt, ...) {
    if (!g_file) return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&g_lock);
    vfprintf(g_file, fmt, ap);
    fputc('\n', g_file);
    pthread_mutex_unlock(&g_lock);
    va_end(ap);
}
