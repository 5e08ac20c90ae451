#include "core/cfg.h"
#include "core/fs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* YAML aliases let a small file name the same node many times, or a node inside itself (`a: &x {b: *x}`),
 * so the walk is bounded: no config of ours nests deeper than a few levels or holds more than a few hundred
 * keys, and these limits are far above that. */
enum { CFG_MAX_DEPTH = 64, CFG_MAX_ENTRIES = 4096 };
#define CFG_MAX_VALUE_BYTES ((size_t)64 << 20)

typedef struct {
    cfg_file *cfg;
    yaml_document_t *doc;
    char *err;
    size_t errcap;
    size_t value_bytes; /* all keys and values stored so far */
} walker;

static int add_entry(cfg_file *cfg, const char *key, const char *value, int line, bool is_list, bool is_null) {
    cfg_entry *ne = realloc(cfg->entries, (cfg->count + 1) * sizeof *ne);
    if (!ne) return -1;
    cfg->entries = ne;
    cfg_entry *e = &cfg->entries[cfg->count++];
    e->key = strdup(key);
    e->value = strdup(value);
    e->line = line;
    e->is_list = is_list;
    e->is_null = is_null;
    e->used = false;
    return e->key && e->value ? 0 : -1;
}

static bool scalar_is_null(yaml_node_t *n) {
    const char *v = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

/* Checks the bounds above before an entry of value_len bytes is added; -1 with the message in w->err. */
static int within_bounds(walker *w, size_t value_len, int key_line) {
    w->value_bytes += value_len;
    if (w->cfg->count >= CFG_MAX_ENTRIES || w->value_bytes > CFG_MAX_VALUE_BYTES) {
        snprintf(w->err, w->errcap, "%s:%d: the config expands to more than %d keys or %zu MiB of values "
                 "(aliases repeating one another?)", w->cfg->path, key_line, CFG_MAX_ENTRIES, CFG_MAX_VALUE_BYTES >> 20);
        return -1;
    }
    return 0;
}

static int walk(walker *w, yaml_node_t *node, const char *prefix, int key_line, int depth) {
    if (depth > CFG_MAX_DEPTH) {
        snprintf(w->err, w->errcap, "%s:%d: %.200s...: nested more than %d levels deep (an alias inside itself?)",
                 w->cfg->path, key_line, prefix, CFG_MAX_DEPTH);
        return -1;
    }
    if (node->type == YAML_SCALAR_NODE) {
        if (within_bounds(w, strlen(prefix) + node->data.scalar.length, key_line)) return -1;
        return add_entry(w->cfg, prefix, (const char *)node->data.scalar.value, key_line, false, scalar_is_null(node));
    }
    if (node->type == YAML_SEQUENCE_NODE) {
        if (within_bounds(w, strlen(prefix), key_line)) return -1;
        size_t cap = 1, len = 0;
        char *joined = calloc(1, 1);
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(w->doc, *it);
            if (!item || item->type != YAML_SCALAR_NODE) {
                snprintf(w->err, w->errcap, "%s:%d: %s: lists may hold only plain values here", w->cfg->path,
                         item ? (int)item->start_mark.line + 1 : key_line, prefix);
                free(joined);
                return -1;
            }
            const char *v = (const char *)item->data.scalar.value;
            size_t vl = strlen(v);
            if (within_bounds(w, vl + 1, key_line)) { free(joined); return -1; }
            cap = len + vl + 2;
            char *nj = realloc(joined, cap);
            if (!nj) { free(joined); return -1; }
            joined = nj;
            if (len) joined[len++] = ',';
            memcpy(joined + len, v, vl + 1);
            len += vl;
        }
        int rc = add_entry(w->cfg, prefix, joined, key_line, true, false);
        free(joined);
        return rc;
    }
    /* mapping */
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        if (!k || !v) continue;
        if (k->type != YAML_SCALAR_NODE) {
            snprintf(w->err, w->errcap, "%s:%d: keys must be plain names", w->cfg->path, (int)k->start_mark.line + 1);
            return -1;
        }
        const char *ks = (const char *)k->data.scalar.value;
        size_t need = strlen(prefix) + strlen(ks) + 2;
        char *full = malloc(need);
        if (!full) return -1;
        snprintf(full, need, "%s%s%s", prefix, prefix[0] ? "." : "", ks);
        if (cfg_find(w->cfg, full)) {
            snprintf(w->err, w->errcap, "%s:%d: key '%s' appears twice", w->cfg->path, (int)k->start_mark.line + 1, full);
            free(full);
            return -1;
        }
        int rc = walk(w, v, full, (int)k->start_mark.line + 1, depth + 1);
        free(full);
        if (rc != 0) return rc;
    }
    return 0;
}

cfg_file *cfg_load_string(const char *name, const char *text, char *err, size_t errcap) {
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errcap, "%s: out of memory", name);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errcap, "%s:%d:%d: YAML syntax error: %s%s%s", name, (int)parser.problem_mark.line + 1,
                 (int)parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown problem",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return NULL;
    }
    cfg_file *cfg = calloc(1, sizeof *cfg);
    cfg->path = strdup(name);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    if (root) {
        if (root->type != YAML_MAPPING_NODE) {
            snprintf(err, errcap, "%s:%d: the top level of a config must be a mapping of key: value", name,
                     (int)root->start_mark.line + 1);
            rc = -1;
        } else {
            walker w = {.cfg = cfg, .doc = &doc, .err = err, .errcap = errcap};
            rc = walk(&w, root, "", 1, 0);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc != 0) {
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

cfg_file *cfg_load(const char *path, char *err, size_t errcap) {
    char *text = fs_read_file(path, NULL);
    if (!text) {
        snprintf(err, errcap, "%s: cannot read config file: %s", path, strerror(errno));
        return NULL;
    }
    cfg_file *cfg = cfg_load_string(path, text, err, errcap);
    free(text);
    return cfg;
}

void cfg_free(cfg_file *cfg) {
    if (!cfg) return;
    for (size_t i = 0; i < cfg->count; i++) {
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg->path);
    free(cfg);
}

cfg_entry *cfg_find(cfg_file *cfg, const char *key) {
    for (size_t i = 0; i < cfg->count; i++)
        if (strcmp(cfg->entries[i].key, key) == 0) return &cfg->entries[i];
    return NULL;
}

bool cfg_parse_double(const char *text, double *out) {
    if (!text || !*text) return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (*end != '\0' || errno == ERANGE || isnan(v) || end == text) return false;
    *out = v;
    return true;
}

bool cfg_parse_long(const char *text, long *out) {
    if (!text || !*text) return false;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end != text && *end != '\0') {
        /* Accept integral floats such as 1e3 or 8.0, as YAML writers sometimes emit them. */
        double d;
        if (!cfg_parse_double(text, &d) || d != floor(d) || fabs(d) > 9e15) return false;
        *out = (long)d;
        return true;
    }
    if (end == text || errno == ERANGE) return false;
    *out = v;
    return true;
}

bool cfg_parse_bool(const char *text, bool *out) {
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) { *out = true; return true; }
        if (strcasecmp(text, no[i]) == 0) { *out = false; return true; }
    }
    return false;
}
