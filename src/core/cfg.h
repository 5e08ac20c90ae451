/* cfg: a YAML configuration file read into a flat list of dotted keys.
 *
 * Nested mappings become dotted keys ("training.learning_rate"); a sequence of scalars
 * becomes one entry whose value is the items joined with ',' (is_list set). Every entry
 * remembers its line, so messages can say "config.yaml:12: training.learning_rate: ...".
 * Values stay text: callers convert with cfg_parse_* helpers, which accept YAML number forms
 * such as 5e-5 (PyYAML famously reads that as a string; we read it as a number). */
#ifndef HF_CFG_H
#define HF_CFG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *key;     /* dotted path */
    char *value;   /* scalar text, or comma-joined list items; "" for null / empty */
    int line;      /* 1-based line of the key in the file */
    bool is_list;
    bool is_null;  /* "~", "null" or an empty value */
    bool used;     /* set by whoever consumes the key; unused keys are warned about */
} cfg_entry;

typedef struct {
    char *path;
    cfg_entry *entries;
    size_t count;
} cfg_file;

/* Parses a YAML file. Returns NULL and writes "FILE:LINE: what is wrong" into err on failure
 * (missing file, syntax error, top level not a mapping, sequences of mappings). */
cfg_file *cfg_load(const char *path, char *err, size_t errcap);
/* Same, from a string; name is used in messages. */
cfg_file *cfg_load_string(const char *name, const char *text, char *err, size_t errcap);
void cfg_free(cfg_file *cfg);

/* Finds an entry by exact dotted key; NULL if absent. */
cfg_entry *cfg_find(cfg_file *cfg, const char *key);

/* Conversions of YAML scalars. Return true on success. */
bool cfg_parse_double(const char *text, double *out);
bool cfg_parse_long(const char *text, long *out);
bool cfg_parse_bool(const char *text, bool *out); /* true/false/yes/no/on/off/1/0, any case */

#endif
