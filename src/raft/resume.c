/* raft resume: cycle files and stages (see resume.h). */
#include "raft/resume.h"

#include "core/fs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *raft_stage_name(raft_stage s) {
    static const char *const names[] = {"generate", "verify", "train", "done"};
    return (unsigned)s < 4 ? names[s] : "?";
}

char *raft_cycle_path(char *out, size_t cap, const char *out_dir, int cycle, raft_file which) {
    static const char *const suffix[] = {"samples.jsonl", "verified.jsonl", "final"};
    int n = snprintf(out, cap, "%s/cycle_%d_%s", out_dir, cycle, suffix[which]);
    return n >= 0 && (size_t)n < cap ? out : NULL;
}

bool raft_cycle_trained(const char *out_dir, int cycle) {
    char dir[4096], f[4200];
    if (!raft_cycle_path(dir, sizeof dir, out_dir, cycle, RAFT_FILE_FINAL) || !fs_is_dir(dir)) return false;
    snprintf(f, sizeof f, "%s/adapter_config.json", dir);
    if (fs_exists(f)) return true;
    snprintf(f, sizeof f, "%s/config.json", dir);
    return fs_exists(f);
}

int raft_resume_first_cycle(const char *out_dir, int n_cycles) {
    for (int c = 1; c <= n_cycles; c++)
        if (!raft_cycle_trained(out_dir, c)) return c;
    return n_cycles + 1;
}

/* Counts complete JSON-object lines from the start, stopping at the first bad or unfinished one. */
static int scan_samples(const char *path, long *count, char *err, size_t errcap) {
    *count = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') break; /* cut by a crash */
        bool blank = true;
        for (ssize_t i = 0; i < len; i++)
            if (line[i] != ' ' && line[i] != '\t' && line[i] != '\n' && line[i] != '\r') blank = false;
        if (blank) continue;
        cJSON *o = cJSON_Parse(line);
        bool ok = cJSON_IsObject(o);
        cJSON_Delete(o);
        if (!ok) break;
        (*count)++;
    }
    free(line);
    fclose(f);
    return 0;
}

int raft_resume_cycle(const char *out_dir, int cycle, long expected, raft_cycle_state *st, char *err, size_t errcap) {
    memset(st, 0, sizeof *st);
    st->cycle = cycle;
    char path[4096];
    st->trained = raft_cycle_trained(out_dir, cycle);
    if (!raft_cycle_path(path, sizeof path, out_dir, cycle, RAFT_FILE_VERIFIED)) {
        snprintf(err, errcap, "%s: path too long", out_dir);
        return -1;
    }
    st->verified = fs_exists(path);
    raft_cycle_path(path, sizeof path, out_dir, cycle, RAFT_FILE_SAMPLES);
    st->samples_file = fs_exists(path);
    if (st->samples_file && scan_samples(path, &st->samples_done, err, errcap) != 0)
        return -1;
    if (st->trained) st->stage = RAFT_STAGE_DONE;
    else if (st->verified) st->stage = RAFT_STAGE_TRAIN;
    else if (expected > 0 && st->samples_done >= expected) st->stage = RAFT_STAGE_VERIFY;
    else st->stage = RAFT_STAGE_GENERATE;
    return 0;
}
