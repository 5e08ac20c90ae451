/* halo-forge config validate FILE [--type raft|sft|auto] */
#include "cli/commands.h"
#include "core/args.h"
#include "core/cfg.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

static const arg_spec validate_flags[] = {
    {"type", 't', ARG_STR, "auto", "Which schema to check", NULL, "raft|sft|auto", 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec validate_cmd = {
    "config validate", "Check a RAFT or SFT YAML config: required keys, types and ranges.", "FILE", 1, 1,
    validate_flags,
    "The type is detected from the file name ('raft' or 'sft' in it) or from its keys when --type is auto.\n"
    "Problems are reported as FILE:LINE: key: what is wrong. Exit status 1 when there are errors.",
    NULL,
};

typedef struct {
    int errors, warnings;
    const char *path;
} report;

static void problem(report *r, bool error, int line, const char *key, const char *fmt, const char *detail) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail);
    fprintf(stderr, "%s: %s:%d: %s: %s\n", error ? "error" : "warning", r->path, line, key, msg);
    if (error) r->errors++;
    else r->warnings++;
}

/* Finds the first of several spellings of a key ("learning_rate|training.learning_rate"). */
static cfg_entry *find_any(cfg_file *cfg, const char *keys) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", keys);
    char *save = NULL;
    for (char *k = strtok_r(buf, "|", &save); k; k = strtok_r(NULL, "|", &save)) {
        cfg_entry *e = cfg_find(cfg, k);
        if (e) return e;
    }
    return NULL;
}

static void check_number(report *r, cfg_file *cfg, const char *keys, double lo, bool lo_open, double hi, bool hi_open,
                         bool integer, double warn_above, const char *warn_text) {
    cfg_entry *e = find_any(cfg, keys);
    if (!e || e->is_null) return;
    double v;
    if (e->is_list || !cfg_parse_double(e->value, &v)) {
        problem(r, true, e->line, e->key, "expected a number, got '%s'", e->value);
        return;
    }
    if (integer && v != (double)(long)v) {
        problem(r, true, e->line, e->key, "expected a whole number, got '%s'", e->value);
        return;
    }
    bool bad = (lo_open ? v <= lo : v < lo) || (hi_open ? v >= hi : v > hi);
    if (bad) {
        char range[160];
        if (hi >= 1e9)
            snprintf(range, sizeof range, "%s %g (got %s)", lo_open ? "greater than" : "at least", lo, e->value);
        else
            snprintf(range, sizeof range, "in %s%g, %g%s (got %s)", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]",
                     e->value);
        problem(r, true, e->line, e->key, "must be %s", range);
        return;
    }
    if (warn_text && v > warn_above) problem(r, false, e->line, e->key, "%s", warn_text);
}

static void require(report *r, cfg_file *cfg, const char *keys, const char *what) {
    cfg_entry *e = find_any(cfg, keys);
    if (!e || e->is_null || !e->value[0]) {
        const char *first = keys;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(first, "|"), first);
        problem(r, true, e ? e->line : 0, name, "required %s is missing", what);
    }
}

static const char *detect_type(const char *path, cfg_file *cfg) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strstr(base, "raft")) return "raft";
    if (strstr(base, "sft")) return "sft";
    if (find_any(cfg, "prompts|data.prompts") || find_any(cfg, "raft.num_cycles|num_cycles|cycles")) return "raft";
    if (cfg_find(cfg, "data.train_file")) return "sft";
    return "none";
}

static int config_validate(int argc, char **argv) {
    int rc;
    args *a = args_parse(&validate_cmd, argc, argv, &rc);
    if (!a) return rc;
    const char *path = args_pos(a, 0);
    char err[1024];
    cfg_file *cfg = cfg_load(path, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "error: %s\n", err);
        args_free(a);
        return 1;
    }
    const char *type = args_str(a, "type");
    if (!strcmp(type, "auto")) type = detect_type(path, cfg);
    report r = {0, 0, path};

    if (!strcmp(type, "raft")) {
        if (!find_any(cfg, "output_dir|output"))
            problem(&r, false, 0, "output_dir", "%s", "not set: raft train writes to models/raft");
        require(&r, cfg, "prompts|data.prompts", "key (the prompts JSONL file)");
    } else if (!strcmp(type, "sft")) {
        require(&r, cfg, "model.name|model", "key (the base model)");
        require(&r, cfg, "data.train_file|data", "key (the training JSONL file)");
        require(&r, cfg, "training.output_dir|output", "key (where checkpoints go)");
    }
    check_number(&r, cfg, "learning_rate|training.learning_rate", 0, true, 1e300, false, false, 1e-3,
                 "is unusually high for fine-tuning (above 1e-3)");
    check_number(&r, cfg, "lr_decay_per_cycle|training.lr_decay_per_cycle|lr_decay", 0, true, 1, false, false, 2, NULL);
    check_number(&r, cfg, "num_cycles|raft.num_cycles|cycles", 1, false, 1e9, false, true, 10,
                 "more than 10 cycles is rarely useful; check the value");
    check_number(&r, cfg, "temperature|generation.temperature|raft.temperature", 0, true, 2, false, false, 3, NULL);
    check_number(&r, cfg, "reward_threshold|raft.reward_threshold", 0, false, 1, false, false, 2, NULL);
    check_number(&r, cfg, "keep_top_percent|raft.keep_top_percent|keep_percent", 0, true, 1, false, false, 2, NULL);

    if (args_bool(a, "verbose")) {
        printf("Configuration (%s):\n", path);
        for (size_t i = 0; i < cfg->count; i++) printf("  %s: %s\n", cfg->entries[i].key, cfg->entries[i].value);
    }
    if (r.errors == 0)
        printf("%s: valid %s config (%d warning%s)\n", path, strcmp(type, "none") ? type : "generic", r.warnings,
               r.warnings == 1 ? "" : "s");
    else
        printf("%s: %d error%s, %d warning%s\n", path, r.errors, r.errors == 1 ? "" : "s", r.warnings,
               r.warnings == 1 ? "" : "s");
    cfg_free(cfg);
    args_free(a);
    return r.errors ? 1 : 0;
}

const cli_command cli_config_cmds[] = {
    {"validate", "Check a RAFT or SFT config file", config_validate},
    {NULL, NULL, NULL},
};
