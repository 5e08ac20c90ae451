#include "core/args.h"
#include "core/cfg.h"
#include "core/fs.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *value;
    arg_source source;
    int cfg_line;
    const char *cfg_key; /* the config key it came from (points into the loaded cfg) */
} arg_value;

struct args {
    const cmd_spec *cmd;
    size_t nspecs;
    arg_value *values;
    char **pos;
    int npos;
    char *config_path;
    cfg_file *cfg;
};

static const arg_spec builtin_specs[] = {
    {"config", 0, ARG_STR, NULL, "Read flag values from this YAML file (the command line wins)", NULL, NULL, 0, 0, "FILE"},
    {"quiet", 'q', ARG_BOOL, NULL, "Print nothing but errors on the terminal (the log file is still written)", NULL, NULL, 0, 0, NULL},
    {"verbose", 'v', ARG_BOOL, NULL, "Print debug detail", NULL, NULL, 0, 0, NULL},
    {"help", 'h', ARG_BOOL, NULL, "Show this help and exit", NULL, NULL, 0, 0, NULL},
    {"show-config", 0, ARG_BOOL, NULL, "Print every flag's value and where it came from (command line, FILE:LINE "
     "of --config, default), then exit", NULL, NULL, 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static size_t count_specs(const arg_spec *s) {
    size_t n = 0;
    while (s && s[n].name) n++;
    return n;
}

/* Index space: command specs first, then the built-ins. */
static const arg_spec *spec_at(const args *a, size_t i) {
    return i < a->nspecs ? &a->cmd->specs[i] : &builtin_specs[i - a->nspecs];
}
static size_t total_specs(const args *a) { return a->nspecs + count_specs(builtin_specs); }

static long find_long(const args *a, const char *name, size_t len) {
    for (size_t i = 0; i < total_specs(a); i++) {
        const char *n = spec_at(a, i)->name;
        if (strlen(n) == len && strncmp(n, name, len) == 0) return (long)i;
    }
    return -1;
}

static long find_short(const args *a, char c) {
    for (size_t i = 0; i < total_specs(a); i++)
        if (spec_at(a, i)->short_name == c) return (long)i;
    return -1;
}

static void print_error_prefix(const cmd_spec *cmd) { fprintf(stderr, "halo-forge %s: ", cmd->path); }

int args_usage_error(const cmd_spec *cmd, const char *fmt, ...) {
    va_list ap;
    print_error_prefix(cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'halo-forge %s --help' for usage.\n", cmd->path);
    return 2;
}

static bool in_choices(const char *choices, const char *v) {
    size_t vl = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == vl && strncmp(p, v, l) == 0) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

/* Checks a value against its spec; on failure writes a message into err. */
static bool check_value(const arg_spec *s, const char *v, char *err, size_t cap) {
    if (s->type == ARG_INT) {
        long l;
        if (!cfg_parse_long(v, &l)) { snprintf(err, cap, "expected a whole number, got '%s'", v); return false; }
        if (s->min < s->max && (l < s->min || l > s->max)) {
            snprintf(err, cap, "%ld is out of range [%g, %g]", l, s->min, s->max);
            return false;
        }
    } else if (s->type == ARG_FLOAT) {
        double d;
        if (!cfg_parse_double(v, &d)) { snprintf(err, cap, "expected a number, got '%s'", v); return false; }
        if (s->min < s->max && (d < s->min || d > s->max)) {
            snprintf(err, cap, "%g is out of range [%g, %g]", d, s->min, s->max);
            return false;
        }
    } else if (s->type == ARG_BOOL) {
        bool b;
        if (!cfg_parse_bool(v, &b)) { snprintf(err, cap, "expected true or false, got '%s'", v); return false; }
    }
    if (s->choices && s->type != ARG_LIST && !in_choices(s->choices, v)) {
        snprintf(err, cap, "'%s' is not one of: %s", v, s->choices);
        return false;
    }
    if (s->choices && s->type == ARG_LIST) {
        char *copy = strdup(v), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ') t++;
            if (!in_choices(s->choices, t)) {
                snprintf(err, cap, "'%s' is not one of: %s", t, s->choices);
                free(copy);
                return false;
            }
        }
        free(copy);
    }
    return true;
}

static void set_value(arg_value *v, const char *text, arg_source src, int line) {
    free(v->value);
    v->value = strdup(text);
    v->source = src;
    v->cfg_line = line;
}

static const char *metavar(const arg_spec *s) {
    if (s->metavar) return s->metavar;
    switch (s->type) {
    case ARG_INT: return "N";
    case ARG_FLOAT: return "X";
    case ARG_LIST: return "A,B,...";
    case ARG_BOOL: return "";
    default: return s->choices ? "CHOICE" : "VALUE";
    }
}

void args_print_help(const cmd_spec *cmd) {
    printf("Usage: halo-forge %s [flags]%s%s\n\n%s\n\nFlags:\n", cmd->path, cmd->positional ? " " : "",
           cmd->positional ? cmd->positional : "", cmd->summary);
    size_t n = count_specs(cmd->specs), nb = count_specs(builtin_specs);
    for (size_t i = 0; i < n + nb; i++) {
        const arg_spec *s = i < n ? &cmd->specs[i] : &builtin_specs[i - n];
        char left[96];
        const char *mv = metavar(s);
        if (s->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", s->short_name, s->name, *mv ? " " : "", mv);
        else
            snprintf(left, sizeof left, "    --%s%s%s", s->name, *mv ? " " : "", mv);
        printf("  %-30s %s", left, s->help ? s->help : "");
        if (s->choices) printf(" [%s]", s->choices);
        if (s->def) printf(" (default: %s)", s->def);
        printf("\n");
    }
    if (cmd->details) printf("\n%s\n", cmd->details);
}

void args_free(args *a) {
    if (!a) return;
    for (size_t i = 0; i < total_specs(a); i++) free(a->values[i].value);
    free(a->values);
    for (int i = 0; i < a->npos; i++) free(a->pos[i]);
    free(a->pos);
    free(a->config_path);
    cfg_free(a->cfg);
    free(a);
}

/* Looks the spec up in the config under its own name and its listed keys. */
static int apply_config(args *a, size_t i) {
    const arg_spec *s = spec_at(a, i);
    char own[128];
    snprintf(own, sizeof own, "%s", s->name);
    for (char *p = own; *p; p++)
        if (*p == '-') *p = '_';
    const char *keys = s->config_keys ? s->config_keys : "";
    bool own_done = false;
    for (;;) {
        char key[160];
        if (!own_done) {
            snprintf(key, sizeof key, "%s", own);
            own_done = true;
        } else {
            if (!*keys) break;
            const char *bar = strchr(keys, '|');
            size_t l = bar ? (size_t)(bar - keys) : strlen(keys);
            snprintf(key, sizeof key, "%.*s", (int)l, keys);
            keys = bar ? bar + 1 : keys + l;
        }
        cfg_entry *e = cfg_find(a->cfg, key);
        if (!e) continue;
        e->used = true;
        if (a->values[i].source == ARG_FROM_CLI) continue;
        if (a->values[i].source == ARG_FROM_CONFIG) {
            log_warn("%s:%d: '%s' also sets --%s (first value, from line %d, is used)", a->cfg->path, e->line, e->key,
                     s->name, a->values[i].cfg_line);
            continue;
        }
        if (e->is_null) continue;
        if (e->is_list && s->type != ARG_LIST) {
            fprintf(stderr, "halo-forge %s: %s:%d: %s: expected a single value, got a list\n", a->cmd->path, a->cfg->path,
                    e->line, e->key);
            return -1;
        }
        char err[256];
        if (!check_value(s, e->value, err, sizeof err)) {
            fprintf(stderr, "halo-forge %s: %s:%d: %s: %s\n", a->cmd->path, a->cfg->path, e->line, e->key, err);
            return -1;
        }
        set_value(&a->values[i], e->value, ARG_FROM_CONFIG, e->line);
        a->values[i].cfg_key = e->key;
    }
    return 0;
}

/* Whether the config key of some flag starts with prefix followed by '.' (prefix names a section of
 * flags), or is a proper prefix of key at a '.' (key is inside what should be a single value). */
static bool flag_key_under(const args *a, const char *prefix, const char *key, char *flag_key, size_t cap) {
    for (size_t i = 0; i < a->nspecs; i++) {
        const char *keys = spec_at(a, i)->config_keys;
        while (keys && *keys) {
            const char *bar = strchr(keys, '|');
            size_t l = bar ? (size_t)(bar - keys) : strlen(keys);
            bool hit = prefix ? strlen(prefix) < l && !strncmp(keys, prefix, strlen(prefix)) && keys[strlen(prefix)] == '.'
                              : strlen(key) > l && !strncmp(keys, key, l) && key[l] == '.';
            if (hit) {
                snprintf(flag_key, cap, "%.*s", (int)l, keys);
                return true;
            }
            keys = bar ? bar + 1 : keys + l;
        }
    }
    return false;
}

/* Whether key is one of the command's extra keys. An entry "key=why" (or "section.*=why") names a key the
 * command knows but does not use: *why then points at the reason (up to the next '|'), else it is NULL. */
static bool is_extra_key(const char *extra, const char *key, const char **why, size_t *why_len) {
    *why = NULL;
    *why_len = 0;
    if (!extra) return false;
    size_t kl = strlen(key);
    const char *p = extra;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t l = bar ? (size_t)(bar - p) : strlen(p);
        const char *eq = memchr(p, '=', l);
        size_t kn = eq ? (size_t)(eq - p) : l;
        /* "section.*" accepts every key under a section. */
        bool hit = (kn >= 2 && p[kn - 1] == '*' && p[kn - 2] == '.' && kl > kn - 1 && strncmp(p, key, kn - 1) == 0) ||
                   (kn == kl && strncmp(p, key, kn) == 0);
        if (hit) {
            if (eq) {
                *why = eq + 1;
                *why_len = l - kn - 1;
            }
            return true;
        }
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

static void show_config(const args *a) {
    printf("Settings of 'halo-forge %s'%s%s:\n", a->cmd->path, a->cfg ? " with --config " : "",
           a->cfg ? a->cfg->path : "");
    for (size_t i = 0; i < a->nspecs; i++) {
        const arg_spec *s = spec_at(a, i);
        const arg_value *v = &a->values[i];
        char from[400];
        switch (v->source) {
        case ARG_FROM_CLI: snprintf(from, sizeof from, "command line"); break;
        case ARG_FROM_CONFIG: snprintf(from, sizeof from, "%s:%d %s", a->cfg->path, v->cfg_line, v->cfg_key); break;
        case ARG_FROM_MODEL: snprintf(from, sizeof from, "model folder"); break;
        case ARG_FROM_DEFAULT: snprintf(from, sizeof from, "default"); break;
        default: snprintf(from, sizeof from, "unset"); break;
        }
        printf("  --%-28s %-30s (%s)\n", s->name, v->value ? v->value : "-", from);
    }
}

args *args_parse(const cmd_spec *cmd, int argc, char **argv, int *rc) {
    args *a = calloc(1, sizeof *a);
    a->cmd = cmd;
    a->nspecs = count_specs(cmd->specs);
    a->values = calloc(total_specs(a), sizeof *a->values);
    a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
    *rc = 2;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            a->pos[a->npos++] = strdup(arg);
            continue;
        }
        if (strcmp(arg, "--") == 0) { only_pos = true; continue; }
        long idx;
        const char *inline_val = NULL;
        char shown[128];
        if (arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            idx = find_long(a, name, len);
            if (eq) inline_val = eq + 1;
            snprintf(shown, sizeof shown, "--%.*s", (int)len, name);
        } else {
            if (strlen(arg) != 2) {
                args_usage_error(cmd, "unknown flag '%s' (short flags take their value as the next argument)", arg);
                goto fail;
            }
            idx = find_short(a, arg[1]);
            snprintf(shown, sizeof shown, "%s", arg);
        }
        if (idx < 0) {
            args_usage_error(cmd, "unknown flag '%s'", shown);
            goto fail;
        }
        const arg_spec *s = spec_at(a, (size_t)idx);
        const char *val;
        if (s->type == ARG_BOOL) {
            val = inline_val ? inline_val : "true";
        } else if (inline_val) {
            val = inline_val;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            args_usage_error(cmd, "%s needs a value (%s)", shown, metavar(s));
            goto fail;
        }
        char err[256];
        if (!check_value(s, val, err, sizeof err)) {
            args_usage_error(cmd, "%s: %s", shown, err);
            goto fail;
        }
        if (s->type == ARG_LIST && a->values[idx].source == ARG_FROM_CLI) {
            /* Repeating a list flag appends. */
            size_t need = strlen(a->values[idx].value) + strlen(val) + 2;
            char *joined = malloc(need);
            snprintf(joined, need, "%s,%s", a->values[idx].value, val);
            set_value(&a->values[idx], joined, ARG_FROM_CLI, 0);
            free(joined);
        } else {
            set_value(&a->values[idx], val, ARG_FROM_CLI, 0);
        }
    }
    if (args_bool(a, "help")) {
        args_print_help(cmd);
        *rc = 0;
        goto fail;
    }
    if (args_bool(a, "quiet") || args_bool(a, "verbose"))
        log_set_terminal(args_bool(a, "quiet") || log_is_quiet(), args_bool(a, "verbose") || log_is_verbose());
    if (a->npos < cmd->min_pos) {
        args_usage_error(cmd, "missing %s", cmd->positional ? cmd->positional : "argument");
        goto fail;
    }
    if (cmd->max_pos >= 0 && a->npos > cmd->max_pos) {
        args_usage_error(cmd, "unexpected argument '%s'", a->pos[cmd->max_pos]);
        goto fail;
    }
    const char *config = args_str(a, "config");
    if (config) {
        char err[512];
        a->cfg = cfg_load(config, err, sizeof err);
        if (!a->cfg) {
            fprintf(stderr, "halo-forge %s: %s\n", cmd->path, err);
            goto fail;
        }
        a->config_path = strdup(config);
        for (size_t i = 0; i < a->nspecs; i++)
            if (apply_config(a, i) != 0) goto fail;
        for (size_t i = 0; i < a->cfg->count; i++) {
            cfg_entry *e = &a->cfg->entries[i];
            const char *why;
            size_t wl;
            if (e->used) continue;
            if (is_extra_key(cmd->config_extra, e->key, &why, &wl)) {
                if (why) log_warn("%s:%d: '%s' is not used by '%s': %.*s", a->cfg->path, e->line, e->key, cmd->path,
                                  (int)wl, why);
                continue;
            }
            /* A value where a section of settings belongs, or a section where a value belongs: a wrong type. */
            char fk[160];
            if (!e->is_null && flag_key_under(a, e->key, "", fk, sizeof fk)) {
                fprintf(stderr, "halo-forge %s: %s:%d: %s: expected a section of settings (like %s), got a value\n",
                        cmd->path, a->cfg->path, e->line, e->key, fk);
                goto fail;
            }
            if (flag_key_under(a, NULL, e->key, fk, sizeof fk)) {
                fprintf(stderr, "halo-forge %s: %s:%d: %s: expected a single value, got a section\n", cmd->path,
                        a->cfg->path, e->line, fk);
                goto fail;
            }
            log_warn("%s:%d: unknown key '%s' is ignored by '%s'", a->cfg->path, e->line, e->key, cmd->path);
        }
    }
    for (size_t i = 0; i < a->nspecs; i++) {
        const arg_spec *s = spec_at(a, i);
        if (a->values[i].source == ARG_UNSET && s->def) set_value(&a->values[i], s->def, ARG_FROM_DEFAULT, 0);
    }
    if (args_bool(a, "show-config")) {
        show_config(a);
        *rc = 0;
        goto fail;
    }
    *rc = 0;
    return a;
fail:
    args_free(a);
    return NULL;
}

static const arg_value *lookup(const args *a, const char *name) {
    for (size_t i = 0; i < total_specs(a); i++)
        if (strcmp(spec_at(a, i)->name, name) == 0) return &a->values[i];
    fprintf(stderr, "internal error: command '%s' has no flag --%s\n", a->cmd->path, name);
    abort();
}

const char *args_str(const args *a, const char *name) { return lookup(a, name)->value; }

long args_int(const args *a, const char *name) {
    long v = 0;
    const char *s = args_str(a, name);
    if (s) cfg_parse_long(s, &v);
    return v;
}

double args_float(const args *a, const char *name) {
    double v = 0;
    const char *s = args_str(a, name);
    if (s) cfg_parse_double(s, &v);
    return v;
}

bool args_bool(const args *a, const char *name) {
    bool v = false;
    const char *s = args_str(a, name);
    if (s) cfg_parse_bool(s, &v);
    return v;
}

arg_source args_source(const args *a, const char *name) { return lookup(a, name)->source; }

bool args_given(const args *a, const char *name) {
    arg_source s = args_source(a, name);
    return s == ARG_FROM_CLI || s == ARG_FROM_CONFIG;
}

size_t args_list(const args *a, const char *name, char ***items) {
    const char *s = args_str(a, name);
    size_t n = 0, cap = 4;
    char **out = calloc(cap, sizeof *out);
    if (s && *s) {
        char *copy = strdup(s), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ') t++;
            size_t l = strlen(t);
            while (l > 0 && t[l - 1] == ' ') t[--l] = '\0';
            if (!*t) continue;
            if (n + 2 > cap) {
                cap *= 2;
                out = realloc(out, cap * sizeof *out);
            }
            out[n++] = strdup(t);
        }
        free(copy);
    }
    out[n] = NULL;
    *items = out;
    return n;
}

void args_list_free(char **items) {
    if (!items) return;
    for (char **p = items; *p; p++) free(*p);
    free(items);
}

int args_npos(const args *a) { return a->npos; }
const char *args_pos(const args *a, int i) { return i >= 0 && i < a->npos ? a->pos[i] : NULL; }
const char *args_config_path(const args *a) { return a->config_path; }
cfg_file *args_config(const args *a) { return a->cfg; }

int args_apply_model_defaults(args *a, const char *model_dir) {
    char path[4096];
    if (!model_dir || snprintf(path, sizeof path, "%s/%s", model_dir, ARGS_MODEL_DEFAULTS_FILE) >= (int)sizeof path)
        return 0;
    if (!fs_exists(path) || fs_is_dir(path)) return 0;
    char err[512];
    cfg_file *cfg = cfg_load(path, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "halo-forge %s: %s\n", a->cmd->path, err);
        return -1;
    }
    int taken = 0;
    for (size_t i = 0; i < a->nspecs; i++) {
        const arg_spec *s = spec_at(a, i);
        if (a->values[i].source != ARG_UNSET && a->values[i].source != ARG_FROM_DEFAULT) continue;
        char key[128];
        snprintf(key, sizeof key, "%s", s->name);
        for (char *p = key; *p; p++)
            if (*p == '-') *p = '_';
        cfg_entry *e = cfg_find(cfg, key);
        if (!e || e->is_null) continue;
        if (e->is_list && s->type != ARG_LIST) {
            fprintf(stderr, "halo-forge %s: %s:%d: %s: expected a single value, got a list\n", a->cmd->path, path,
                    e->line, e->key);
            cfg_free(cfg);
            return -1;
        }
        if (!check_value(s, e->value, err, sizeof err)) {
            fprintf(stderr, "halo-forge %s: %s:%d: %s: %s\n", a->cmd->path, path, e->line, e->key, err);
            cfg_free(cfg);
            return -1;
        }
        set_value(&a->values[i], e->value, ARG_FROM_MODEL, e->line);
        log_info("--%s %s (recommended by %s)", s->name, e->value, path);
        taken++;
    }
    cfg_free(cfg);
    return taken;
}
