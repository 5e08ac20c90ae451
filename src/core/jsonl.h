/* jsonl: reading and writing JSON Lines files (one JSON object per line) with cJSON.
 * Readers report bad lines by file and line number and go on; writers append one object per
 * line and flush, so a crash loses at most the line being written. */
#ifndef HF_JSONL_H
#define HF_JSONL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    char *path;
    char *line;
    size_t cap;
    long lineno; /* line number of the record last returned */
} jsonl_reader;

/* Opens path ("-" for stdin). Returns 0, or -1 with errno set (EISDIR for a folder). */
int jsonl_open(jsonl_reader *r, const char *path);
/* Reads the next non-blank line. Returns 1 with *out an object (caller frees with cJSON_Delete),
 * 0 at end of file, or -1 for a line that is not a JSON object (or not valid UTF-8, or has a key twice,
 * see json_utf8_valid), with "PATH:LINE: reason" in err
 * (reading may continue after -1). */
int jsonl_next(jsonl_reader *r, cJSON **out, char *err, size_t errcap);
void jsonl_close(jsonl_reader *r);

/* Writes obj as one compact line plus '\n' and flushes. Returns 0 or -1. */
int jsonl_write(FILE *f, const cJSON *obj);

/* What our JSON readers check beyond cJSON's syntax. cJSON passes any bytes through inside strings and
 * keeps the first of two equal keys where Python's json keeps the last, so a file another tool wrote
 * could silently mean something else here; such input is refused instead.
 * json_utf8_valid: true when s[0..n) is valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF); otherwise false with the 1-based line and column of the first bad byte.
 * json_duplicate_key: the first key that appears twice in one object anywhere in the tree (depth
 * first), or NULL. The pointer is into the tree. */
bool json_utf8_valid(const char *s, size_t n, long *line, long *col);
const char *json_duplicate_key(const cJSON *node);

/* Convenience getters: the string / number at key, or dflt when absent or of another type. */
const char *json_get_str(const cJSON *obj, const char *key, const char *dflt);
double json_get_num(const cJSON *obj, const char *key, double dflt);

/* True with *out set when v is a JSON number with no fractional part inside [lo, hi]; false (and *out
 * untouched) for anything else: absent, another type, 1.5, NaN, or too large for a long. Use it instead of
 * casting valuedouble, which is undefined behaviour for values a long cannot hold (e.g. 2e55). */
bool json_long_in(const cJSON *v, long lo, long hi, long *out);

/* The integer at key, or dflt when absent, not a whole number, or outside a long's / an int's range. */
long json_get_long(const cJSON *obj, const char *key, long dflt);
int json_get_int(const cJSON *obj, const char *key, int dflt);

#endif
