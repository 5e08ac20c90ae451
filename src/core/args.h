/* args: command-line flags and YAML config values for one command, from one table.
 *
 * A command declares its flags once (cmd_spec + arg_spec[]); args_parse() reads the command
 * line, then the YAML file given by --config, then the built-in defaults, with that
 * precedence: command line > config file > default. Every flag can come from the config under
 * its own name with '-' written as '_' ("learning_rate: 5e-5") and under any extra dotted keys
 * it lists ("training.learning_rate"). Unknown config keys are warned about with file and line.
 *
 * Every command also gets -h/--help, --config FILE, -q/--quiet and -v/--verbose. */
#ifndef HF_ARGS_H
#define HF_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/cfg.h"

typedef enum { ARG_STR, ARG_INT, ARG_FLOAT, ARG_BOOL, ARG_LIST } arg_type;

typedef struct {
    const char *name;        /* long flag without dashes: "learning-rate"; NULL ends a table */
    char short_name;         /* 'm' for -m, or 0 */
    arg_type type;           /* ARG_BOOL takes no value on the command line; ARG_LIST is comma separated */
    const char *def;         /* default as text, NULL for none (the flag is then unset) */
    const char *help;
    const char *config_keys; /* extra YAML keys, '|'-separated dotted paths, or NULL */
    const char *choices;     /* allowed values "a|b|c", or NULL */
    double min, max;         /* inclusive numeric range, checked when min < max */
    const char *metavar;     /* value name in help ("FILE"), or NULL for one derived from the type */
} arg_spec;

typedef struct {
    const char *path;        /* "verify", "config validate" */
    const char *summary;     /* one line */
    const char *positional;  /* help text for positionals ("FILE"), or NULL */
    int min_pos, max_pos;    /* allowed number of positionals; max_pos -1 for any */
    const arg_spec *specs;   /* table ended by an entry with name NULL */
    const char *details;     /* optional paragraph(s) printed after the flags in --help */
    const char *config_extra;/* '|'-separated config keys the command reads itself (not warned about) */
} cmd_spec;

/* Where a value came from, weakest first. ARG_FROM_MODEL: the recommended settings a model folder
 * ships (args_apply_model_defaults). */
typedef enum { ARG_UNSET = 0, ARG_FROM_DEFAULT, ARG_FROM_MODEL, ARG_FROM_CONFIG, ARG_FROM_CLI } arg_source;

typedef struct args args;

/* Parses argv (argv[0] is the command name, skipped). On success returns the values (free with
 * args_free). On --help prints help to stdout and returns NULL with *rc = 0; on a usage error
 * prints "halo-forge PATH: what is wrong" plus a hint to stderr and returns NULL with *rc = 2. */
args *args_parse(const cmd_spec *cmd, int argc, char **argv, int *rc);
void args_free(args *a);

/* Accessors by long name. Asking for a name not in the table is a programming error (abort). */
const char *args_str(const args *a, const char *name);   /* NULL when unset */
long args_int(const args *a, const char *name);          /* 0 when unset */
double args_float(const args *a, const char *name);      /* 0 when unset */
bool args_bool(const args *a, const char *name);         /* false when unset */
arg_source args_source(const args *a, const char *name);
bool args_given(const args *a, const char *name);        /* from the command line or the config */
/* Splits a list value on ','; returns the item count and a NULL-terminated heap array of heap
 * strings in *items (free with args_list_free). Unset gives 0 and an empty array. */
size_t args_list(const args *a, const char *name, char ***items);
void args_list_free(char **items);

/* The file name, inside a model folder, of the settings its makers recommend for it (YAML, flag
 * names with '_' as in a --config file, e.g. "learning_rate: 1e-3"). */
#define ARGS_MODEL_DEFAULTS_FILE "halo-forge.yaml"

/* Applies model_dir/ARGS_MODEL_DEFAULTS_FILE, when the folder has one, as a layer between the
 * built-in defaults and the config file: command line > --config > the model's file > built-in.
 * Keys that name no flag of this command are ignored (one file serves every command). Returns the
 * number of values taken from the file (each logged), 0 when there is no file, or -1 after printing
 * "halo-forge CMD: FILE:LINE: KEY: what is wrong" for a bad value or an unreadable file. */
int args_apply_model_defaults(args *a, const char *model_dir);

int args_npos(const args *a);
const char *args_pos(const args *a, int i);
const char *args_config_path(const args *a); /* NULL without --config */
/* The loaded config (NULL without --config), for commands that read extra keys themselves. */
cfg_file *args_config(const args *a);

/* Prints a usage error for cmd and returns 2, for checks done after parsing
 * (e.g. "either --text or --file is required"). */
int args_usage_error(const cmd_spec *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the help of cmd to stdout. */
void args_print_help(const cmd_spec *cmd);

#endif
