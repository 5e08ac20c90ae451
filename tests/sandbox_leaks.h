/* sandbox_leaks: what a verifier test checks was left behind: processes (by a field of
 * /proc/PID/status) and this process's sandbox folders. Shared by test_verify and test_vf_stream. */
#ifndef HF_TESTS_SANDBOX_LEAKS_H
#define HF_TESTS_SANDBOX_LEAKS_H

#include "core/fs.h"
#include "verify/sbx.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Processes whose status line "<field>: <value>" (the first number) is in [lo, hi). */
static inline int processes_with(const char *field, unsigned lo, unsigned hi) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    char key[32];
    snprintf(key, sizeof key, "%s: %%u", field);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f)) {
            unsigned v;
            if (sscanf(line, key, &v) == 1) {
                if (v >= lo && v < hi) n++;
                break;
            }
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

/* Processes running under this process's sandbox uids (other test programs may run at the same time). */
static inline int sandbox_processes(void) {
    unsigned first, count;
    sbx_uid_block(&first, &count);
    return processes_with("Uid", first, first + count);
}

/* sandbox_processes once the kernel has had up to a second to reap a dead namespace (it does so
 * asynchronously). */
static inline int sandbox_processes_settled(void) {
    int n = 0;
    for (int i = 0; i < 50; i++) {
        if (!(n = sandbox_processes())) break;
        usleep(20000);
    }
    return n;
}

/* Our children (the sandboxes' supervisors). */
static inline int child_processes(void) { return processes_with("PPid", (unsigned)getpid(), (unsigned)getpid() + 1); }

/* This process's sandbox folders (hf-sbx-PID-*) in TMPDIR or /tmp. */
static inline int our_temp_dirs(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !fs_is_dir(base)) base = "/tmp";
    char prefix[64];
    snprintf(prefix, sizeof prefix, "hf-sbx-%d-", (int)getpid());
    DIR *d = opendir(base);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    closedir(d);
    return n;
}

#endif
