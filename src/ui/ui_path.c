/* ui_path: relative names from requests, kept inside their base folder. */
#include "ui/ui_path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ui_path_rc ui_path_check(const char *rel) {
    if (!rel) return UI_PATH_BAD;
    size_t n = strlen(rel);
    if (n == 0) return UI_PATH_OK;
    if (n > UI_PATH_MAX || rel[0] == '/') return UI_PATH_BAD;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rel[i];
        if (c < 0x20 || c == 0x7f || c == '\\') return UI_PATH_BAD;
    }
    /* every component must be a plain name */
    const char *p = rel;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) return UI_PATH_BAD;                          /* "a//b", or a trailing '/' */
        if (len == 1 && p[0] == '.') return UI_PATH_BAD;           /* "." */
        if (len == 2 && p[0] == '.' && p[1] == '.') return UI_PATH_BAD; /* ".." */
        if (!e) break;
        p = e + 1;
        if (!*p) return UI_PATH_BAD;
    }
    return UI_PATH_OK;
}

int ui_path_within(const char *base_real, const char *path) {
    size_t n = strlen(base_real);
    if (n == 1 && base_real[0] == '/') return path[0] == '/';
    return !strncmp(path, base_real, n) && (path[n] == 0 || path[n] == '/');
}

ui_path_rc ui_path_resolve(const char *base_real, const char *rel, char *out, size_t cap) {
    ui_path_rc rc = ui_path_check(rel);
    if (rc != UI_PATH_OK) return rc;
    if (cap < PATH_MAX) return UI_PATH_BAD;
    char joined[PATH_MAX + UI_PATH_MAX + 2];
    int w = *rel ? snprintf(joined, sizeof joined, "%s/%s", base_real, rel) : snprintf(joined, sizeof joined, "%s", base_real);
    if (w < 0 || (size_t)w >= sizeof joined) return UI_PATH_BAD;
    char *real = realpath(joined, NULL);
    if (!real) return errno == ENOENT || errno == ENOTDIR ? UI_PATH_MISSING : UI_PATH_BAD;
    if (!ui_path_within(base_real, real)) {
        free(real);
        return UI_PATH_OUTSIDE;
    }
    snprintf(out, cap, "%s", real);
    free(real);
    return UI_PATH_OK;
}
