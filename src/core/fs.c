#include "core/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fs_read_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); errno = e; return NULL; }
    if (S_ISDIR(st.st_mode)) { close(fd); errno = EISDIR; return NULL; }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) { close(fd); errno = ENOMEM; return NULL; }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); close(fd); errno = ENOMEM; return NULL; }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno; free(buf); close(fd); errno = e; return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int fs_write_atomic(const char *path, const void *data, size_t len) {
    size_t plen = strlen(path) + 32;
    char *tmp = malloc(plen);
    if (!tmp) { errno = ENOMEM; return -1; }
    snprintf(tmp, plen, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { int e = errno; free(tmp); errno = e; return -1; }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno; close(fd); unlink(tmp); free(tmp); errno = e; return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) { int e = errno; unlink(tmp); free(tmp); errno = e; return -1; }
    if (rename(tmp, path) != 0) { int e = errno; unlink(tmp); free(tmp); errno = e; return -1; }
    free(tmp);
    return 0;
}

int fs_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
            buf[i] = saved;
        }
    }
    if (!fs_is_dir(path)) { errno = ENOTDIR; return -1; }
    return 0;
}

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    if (remove(p) != 0 && errno != ENOENT) {
        /* A directory made read-only by a sandboxed program: make it writable and retry. */
        chmod(p, 0700);
        return remove(p) != 0 && errno != ENOENT ? -1 : 0;
    }
    return 0;
}

int fs_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    /* Make every directory traversable first so nftw can see inside. */
    chmod(path, 0700);
    return nftw(path, remove_entry, 64, FTW_DEPTH | FTW_PHYS);
}

bool fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

bool fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *fs_join(char *out, size_t cap, const char *a, const char *b) {
    size_t la = strlen(a);
    bool slash = la > 0 && a[la - 1] != '/';
    int n = snprintf(out, cap, "%s%s%s", a, slash ? "/" : "", b);
    return n < 0 || (size_t)n >= cap ? NULL : out;
}

bool fs_which(const char *name, char *out, size_t cap) {
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0) return false;
        snprintf(out, cap, "%s", name);
        return true;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t dl = end ? (size_t)(end - p) : strlen(p);
        if (dl > 0 && dl + strlen(name) + 2 < cap) {
            snprintf(out, cap, "%.*s/%s", (int)dl, p, name);
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0) return true;
        }
        if (!end) break;
        p = end + 1;
    }
    return false;
}

int fs_link_files(const char *from, const char *to, char *failed, size_t cap) {
    if (failed && cap) failed[0] = '\0';
    DIR *d = opendir(from);
    if (!d || fs_mkdirs(to) != 0) {
        int saved = errno;
        if (d) closedir(d);
        if (failed) snprintf(failed, cap, "%s", d ? to : from);
        errno = saved;
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char a[4700], b[4700];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        if (fs_is_dir(a)) continue;
        unlink(b);
        if (link(a, b) == 0) continue;
        size_t len;
        char *data = fs_read_file(a, &len);
        if (!data || fs_write_atomic(b, data, len) != 0) {
            int saved = errno;
            if (failed) snprintf(failed, cap, "%s", a);
            errno = saved;
            rc = -1;
        }
        free(data);
    }
    closedir(d);
    return rc;
}

const char *fs_bundled(const char *rel, char *out, size_t cap) {
    if (fs_exists(rel) || rel[0] == '/') return rel;
#if defined(HF_DATA_DIR) && defined(HF_DATA_REL)
    /* PREFIX/bin/halo-forge -> PREFIX/share/halo-forge: an install moved to another prefix still works */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(exe, '/');
            if (slash) *slash = '\0';
        }
        if (snprintf(out, cap, "%s/%s/%s", exe, HF_DATA_REL, rel) < (int)cap && fs_exists(out)) return out;
    }
    if (fs_join(out, cap, HF_DATA_DIR, rel) && fs_exists(out)) return out;
#else
    (void)out;
    (void)cap;
#endif
    return rel;
}

int fs_replace_dir(const char *tmp, const char *dir) {
    if (!fs_exists(dir)) return rename(tmp, dir);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
        fs_remove_tree(tmp); /* the old folder, now at tmp: leftovers are harmless */
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) return -1;
    if (fs_remove_tree(dir) != 0) return -1;
    return rename(tmp, dir);
}
