/* runinfo: run.json, the manifest of a long command's output folder. */
#include "core/runinfo.h"
#include "dist/dist.h"

#include "core/fs.h"
#include "core/jsonl.h"
#include "core/timing.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

unsigned long long runinfo_proc_start(long pid) {
    if (pid <= 0) return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    char *s = fs_read_file(path, NULL);
    if (!s) return 0;
    /* the command name (field 2) may hold spaces and parentheses: fields resume after the last ')' */
    const char *p = strrchr(s, ')');
    unsigned long long start = 0;
    if (p) {
        p++;
        for (int field = 3; field < 22 && *p; field++) {
            while (*p == ' ') p++;
            while (*p && *p != ' ') p++;
        }
        start = strtoull(p, NULL, 10);
    }
    free(s);
    return start;
}

bool runinfo_alive(long pid, unsigned long long start_ticks) {
    unsigned long long st = runinfo_proc_start(pid);
    if (!st) return false;
    return start_ticks == 0 || st == start_ticks;
}

static void iso_utc(double t, char *out, size_t cap) {
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_json(const char *path, cJSON *o) {
    char *text = cJSON_Print(o);
    if (!text) {
        errno = ENOMEM;
        return -1;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL: written with its length */
    int rc = fs_write_atomic(path, text, n + 1);
    free(text);
    return rc;
}

int runinfo_begin(const char *dir, const char *command, int argc, char *const *argv, const char *model) {
    if (!dist_is_root()) return -1; /* rank 0 alone writes run.json */
    char path[4300], buf[4096];
    if (!fs_join(path, sizeof path, dir, RUNINFO_FILE)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (fs_mkdirs(dir) != 0) return -1;
    cJSON *o = cJSON_CreateObject(), *args = cJSON_AddArrayToObject(o, "args");
    cJSON_AddNumberToObject(o, "schema", 1);
    cJSON_AddStringToObject(o, "command", command);
    for (int i = 1; i < argc; i++) cJSON_AddItemToArray(args, cJSON_CreateString(argv[i]));
    if (model) cJSON_AddStringToObject(o, "model", model);
    else cJSON_AddNullToObject(o, "model");
    if (getcwd(buf, sizeof buf)) cJSON_AddStringToObject(o, "cwd", buf);
    long pid = (long)getpid();
    cJSON_AddNumberToObject(o, "pid", (double)pid);
    cJSON_AddNumberToObject(o, "pid_start", (double)runinfo_proc_start(pid));
    if (gethostname(buf, sizeof buf) == 0) {
        buf[sizeof buf - 1] = 0;
        cJSON_AddStringToObject(o, "host", buf);
    }
    double now = time_wall();
    iso_utc(now, buf, sizeof buf);
    cJSON_AddStringToObject(o, "started", buf);
    cJSON_AddNumberToObject(o, "started_unix", now);
    cJSON_AddStringToObject(o, "status", "running");
    int rc = write_json(path, o);
    cJSON_Delete(o);
    return rc;
}

void runinfo_end(const char *dir, int exit_code) {
    char path[4300], when[64];
    if (!fs_join(path, sizeof path, dir, RUNINFO_FILE)) return;
    char *text = fs_read_file(path, NULL);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cJSON_IsObject(o) || json_get_long(o, "pid", -1) != (long)getpid()) {
        cJSON_Delete(o);
        return;
    }
    double now = time_wall();
    iso_utc(now, when, sizeof when);
    const char *status = exit_code == 0 ? "finished" : (exit_code == 130 || exit_code == 143) ? "interrupted" : "failed";
    cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddNumberToObject(o, "exit_code", exit_code);
    cJSON_AddStringToObject(o, "ended", when);
    cJSON_AddNumberToObject(o, "ended_unix", now);
    cJSON_AddNumberToObject(o, "duration_s", now - json_get_num(o, "started_unix", now));
    write_json(path, o);
    cJSON_Delete(o);
}
