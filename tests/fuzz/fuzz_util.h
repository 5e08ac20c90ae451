/* fuzz_util: what every libFuzzer target in tests/fuzz/ shares.
 *
 * Inputs that stand for several files are split on FZ_SEP ("\n--8<--\n"): part 0 is the first file,
 * part 1 the second... A missing part is an empty string. Targets whose parser reads a path write the
 * parts into a private temporary folder (made once per process, removed at exit), so the code under
 * test is exactly what the program runs on files. */
#ifndef HF_FUZZ_UTIL_H
#define HF_FUZZ_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"

#define FZ_SEP "\n--8<--\n"
#define FZ_MAX_PARTS 8

typedef struct {
    char *p[FZ_MAX_PARTS]; /* NUL-terminated heap copies */
    size_t n[FZ_MAX_PARTS];
    int count;             /* parts actually present in the input */
} fz_parts;

static inline void fz_split(const uint8_t *data, size_t size, fz_parts *out) {
    const size_t seplen = strlen(FZ_SEP);
    size_t pos = 0;
    bool more = true; /* another part starts at pos */
    out->count = 0;
    for (int i = 0; i < FZ_MAX_PARTS; i++) {
        size_t n = 0;
        if (more) {
            const uint8_t *hit = NULL;
            if (i < FZ_MAX_PARTS - 1 && size - pos >= seplen) hit = memmem(data + pos, size - pos, FZ_SEP, seplen);
            size_t end = hit ? (size_t)(hit - data) : size;
            n = end - pos;
            out->count = i + 1;
            out->p[i] = malloc(n + 1);
            if (n) memcpy(out->p[i], data + pos, n);
            more = hit != NULL;
            pos = hit ? end + seplen : size;
        } else {
            out->p[i] = malloc(1);
        }
        out->p[i][n] = '\0';
        out->n[i] = n;
    }
}

static inline void fz_parts_free(fz_parts *p) {
    for (int i = 0; i < FZ_MAX_PARTS; i++) free(p->p[i]);
}

static char fz_dir_path[64];
static void fz_cleanup(void) {
    if (fz_dir_path[0]) fs_remove_tree(fz_dir_path);
}

/* The process's temporary folder (created on first use). Also silences the terminal log: the
 * messages of rejected inputs are the expected outcome and would only slow the fuzzer down. */
static inline const char *fz_dir(void) {
    if (!fz_dir_path[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(fz_dir_path, sizeof fz_dir_path, "%s/hf-fuzz-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(fz_dir_path)) { perror("mkdtemp"); abort(); }
        atexit(fz_cleanup);
        log_set_terminal(true, false);
    }
    return fz_dir_path;
}

/* Writes n bytes to DIR/name (DIR = fz_dir() or a folder under it) and returns the path (static). */
static inline const char *fz_write(const char *dir, const char *name, const void *data, size_t n) {
    static char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) abort();
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); abort(); }
    if (n && fwrite(data, 1, n, f) != n) { perror(path); abort(); }
    fclose(f);
    return path;
}

#endif
