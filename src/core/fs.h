/* fs: small file-system helpers with explicit error reporting.
 * Functions return 0 on success and -1 on failure with errno set, unless stated otherwise. */
#ifndef HF_FS_H
#define HF_FS_H

#include <stdbool.h>
#include <stddef.h>

/* Reads a whole file into a NUL-terminated heap buffer (caller frees). *len gets the size
 * without the NUL (may be NULL). Returns NULL with errno set on failure. */
char *fs_read_file(const char *path, size_t *len);

/* Writes data to path atomically: to "path.tmp.<pid>" then fsync + rename, so readers
 * see either the old or the new file, never a partial one. */
int fs_write_atomic(const char *path, const void *data, size_t len);

/* mkdir -p (mode 0755). Existing directories are fine. */
int fs_mkdirs(const char *path);

/* rm -rf; a missing path is success. Does not follow symlinks. */
int fs_remove_tree(const char *path);

/* Puts every file of the folder from (not its subfolders, not names starting with '.') into the folder to
 * (created if missing; files of the same name are replaced): a hard link where the file system allows,
 * else a copy written atomically. Links share the data, so neither side may be written in place later.
 * Returns 0, or -1 with errno set and, when failed is not NULL, the file that failed written into it. */
int fs_link_files(const char *from, const char *to, char *failed, size_t cap);

/* A file or folder that ships with halo-forge, by its path in the source tree ("models/tiny-coder"):
 * rel itself when it exists from the working directory (a source checkout), else the installed copy
 * (cmake --install): PREFIX/share/halo-forge/rel next to the running program's PREFIX/bin, or the
 * configured HF_DATA_DIR/rel, when one exists; else rel. Returns rel or out. */
const char *fs_bundled(const char *rel, char *out, size_t cap);

/* Puts the folder tmp in place of the folder dir: a plain rename when dir does not exist, else an atomic
 * exchange of the two (renameat2 RENAME_EXCHANGE) followed by removing the old one, so at every moment
 * one complete folder is at dir, whenever the process dies. Where the file system cannot exchange,
 * dir is removed first and there is a moment without it. */
int fs_replace_dir(const char *tmp, const char *dir);

bool fs_exists(const char *path);
bool fs_is_dir(const char *path);

/* Joins a and b with one '/' into out (size cap); returns out, or NULL if it does not fit. */
char *fs_join(char *out, size_t cap, const char *a, const char *b);

/* Looks up an executable by name in $PATH (or checks it if it contains '/').
 * Writes the full path into out and returns true when found. */
bool fs_which(const char *name, char *out, size_t cap);

#endif
