/* jsonl: reading and writing JSON Lines files (one JSON object per line) with cJSON.
 * Readers report bad lines by file and line number and go on; writers append one object per
 * line and flush, so a crash loses at most the line being written. */
#ifndef HF_JSONL_H
#define HF_JSONL_H

#include <cjson/cJSON.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    char *path;
    char *line;
    size_t cap;
    long lineno; /* line number of the record last returned */
} jsonl_reader;

/* Opens path ("-" for stdin). Returns 0, or -1 with errno set. */
int jsonl_open(jsonl_reader *r, const char *path);
/* Reads the next non-blank line. Returns 1 with *out an object (caller frees with cJSON_Delete),
 * 0 at end of file, or -1 for a line that is not a JSON object, with "PATH:LINE: reason" in err
 * (reading may continue after -1). */
int jsonl_next(jsonl_reader *r, cJSON **out, char *err, size_t errcap);
void jsonl_close(jsonl_reader *r);

/* Writes obj as one compact line plus '\n' and flushes. Returns 0 or -1. */
int jsonl_write(FILE *f, const cJSON *obj);

/* Convenience getters: the string / number at key, or dflt when absent or of another type. */
const char *json_get_str(const cJSON *obj, const char *key, const char *dflt);
double json_get_num(const cJSON *obj, const char *key, double dflt);

#endif
