/* ui_path: the one rule by which the dashboard turns a name from a request into a file: a path
 * relative to a base folder that must stay inside it.
 *
 * A request names a run folder ("0/results/bf": root 0, then a relative path) or a file inside a run
 * ("cycle_1/samples.jsonl"). Refused before the file system is touched: absolute paths, empty
 * components ("a//b"), "." and ".." components, backslashes, control characters and anything
 * longer than UI_PATH_MAX. What passes is joined to the base and resolved with realpath(3): symbolic
 * links are followed, and the result must be the base itself or lie under it, so a link that points
 * outside is refused as well. (Percent-decoding happens once, in the HTTP library; a name that still
 * holds '%' after it is an ordinary character and cannot climb out.) */
#ifndef HF_UI_PATH_H
#define HF_UI_PATH_H

#include <stddef.h>

#define UI_PATH_MAX 1024

typedef enum {
    UI_PATH_OK = 0,
    UI_PATH_BAD = -1,     /* refused by its syntax (400) */
    UI_PATH_MISSING = -2, /* does not exist (404) */
    UI_PATH_OUTSIDE = -3, /* resolves outside the base, through a link (403) */
} ui_path_rc;

/* Checks the syntax of rel ("" means the base itself). */
ui_path_rc ui_path_check(const char *rel);

/* base_real must be an absolute path already resolved by realpath(3). Writes the resolved absolute
 * path of base_real/rel into out (cap >= PATH_MAX) and returns UI_PATH_OK, or one of the errors. */
ui_path_rc ui_path_resolve(const char *base_real, const char *rel, char *out, size_t cap);

/* True when path (resolved) is base_real or lies under it. */
int ui_path_within(const char *base_real, const char *path);

#endif
