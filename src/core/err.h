/* err: the one way library code reports a failure to its caller — a message written into a
 * caller-owned buffer ("FILE: what is wrong"), next to a -1 / NULL return value. */
#ifndef HF_ERR_H
#define HF_ERR_H

#include <stddef.h>

/* printf-style into err (capacity cap, always NUL-terminated). A NULL err or zero cap is allowed
 * and ignored, for callers that do not want the message. */
void err_set(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
