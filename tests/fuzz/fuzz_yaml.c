/* Fuzz target: YAML configs and their mapping onto flags. Part 0 is a --config file, part 1 a command
 * line (one argument per line), part 2 a model folder's recommended settings (halo-forge.yaml). The YAML
 * goes through cfg_load_string and the number/bool conversions; then args_parse reads the command line
 * and the file against a table with every kind of flag (string, int and float ranges, bool, list,
 * choices, dotted config keys), and args_apply_model_defaults adds the model's file. */
#include "fuzz_util.h"

#include "core/args.h"
#include "core/cfg.h"

static const arg_spec specs[] = {
    {"model", 'm', ARG_STR, NULL, "model", "model.name", NULL, 0, 0, "DIR"},
    {"cycles", 0, ARG_INT, "5", "cycles", "raft.cycles", NULL, 1, 1000, NULL},
    {"learning-rate", 0, ARG_FLOAT, "5e-5", "lr", "training.learning_rate", NULL, 0, 1, NULL},
    {"temperature", 't', ARG_FLOAT, "0.7", "temp", NULL, NULL, 0, 2, NULL},
    {"lora", 0, ARG_BOOL, "true", "lora", "training.lora", NULL, 0, 0, NULL},
    {"verifier", 0, ARG_STR, "gcc", "verifier", NULL, "gcc|clang|python", 0, 0, NULL},
    {"target-modules", 0, ARG_LIST, "q_proj,v_proj", "modules", "lora.target_modules", NULL, 0, 0, NULL},
    {"max-new-tokens", 'n', ARG_INT, NULL, "tokens", NULL, NULL, 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};
static const cmd_spec cmd = {"fuzz", "fuzz target", "FILE", 0, 2, specs, NULL, "extra.key"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_parts p;
    fz_split(data, size, &p);
    const char *dir = fz_dir();
    char err[1024] = "";
    cfg_file *cfg = cfg_load_string("config.yaml", p.p[0], err, sizeof err);
    if (cfg) {
        for (size_t i = 0; i < cfg->count; i++) {
            const cfg_entry *e = &cfg->entries[i];
            if (!e->key || !e->value || e->line < 1) abort();
            double d;
            long l;
            bool b;
            cfg_parse_double(e->value, &d);
            cfg_parse_long(e->value, &l);
            cfg_parse_bool(e->value, &b);
            if (cfg_find(cfg, e->key) == NULL) abort();
        }
        cfg_free(cfg);
    } else if (!err[0]) {
        abort();
    }
    char cfg_path[4200];
    snprintf(cfg_path, sizeof cfg_path, "%s", fz_write(dir, "config.yaml", p.p[0], p.n[0]));
    char mdir[4200];
    snprintf(mdir, sizeof mdir, "%s/model", dir);
    fs_mkdirs(mdir);
    fz_write(mdir, "halo-forge.yaml", p.p[2], p.n[2]);

    char *argv[66];
    int argc = 0;
    argv[argc++] = "fuzz";
    argv[argc++] = "--config";
    argv[argc++] = cfg_path;
    for (char *s = p.p[1], *nl; s && *s && argc < 64; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        argv[argc++] = s;
    }
    argv[argc] = NULL;
    int rc = -1;
    args *a = args_parse(&cmd, argc, argv, &rc);
    if (a) {
        args_apply_model_defaults(a, mdir);
        long cycles = args_int(a, "cycles");
        if (cycles < 1 || cycles > 1000) abort(); /* the range is enforced whatever the source */
        double t = args_float(a, "temperature");
        if (!(t >= 0 && t <= 2)) abort();
        args_str(a, "model");
        args_bool(a, "lora");
        char **items;
        size_t n = args_list(a, "target-modules", &items);
        for (size_t i = 0; i < n; i++)
            if (!items[i]) abort();
        args_list_free(items);
        args_free(a);
    } else if (rc != 0 && rc != 2) {
        abort();
    }
    fz_parts_free(&p);
    return 0;
}
