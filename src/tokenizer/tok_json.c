/* tok_json: see tok_json.h. Recursive descent over the text; strict JSON (RFC 8259). */
#include "tokenizer/tok_json.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_NODES 65536
#define MAX_DEPTH 512

typedef struct block {
    struct block *prev;
    size_t used;
    cJSON nodes[BLOCK_NODES];
} block;

struct tok_json {
    block *blocks;
    cJSON *root;
};

typedef struct {
    char *p, *end;
    tok_json *doc;
    int depth;
    bool lazy_model;
    bool in_model; /* parsing the object at root.model */
} parser;

static cJSON *new_node(parser *ps) {
    block *b = ps->doc->blocks;
    if (!b || b->used == BLOCK_NODES) {
        block *nb = malloc(sizeof *nb);
        if (!nb) return NULL;
        nb->prev = b;
        nb->used = 0;
        ps->doc->blocks = nb;
        b = nb;
    }
    cJSON *n = &b->nodes[b->used++];
    memset(n, 0, sizeof *n);
    return n;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t')) ps->p++;
}

static int hex4(const char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    return v;
}

/* Parses a string at ps->p (on the opening quote), unescaping in place. Returns its start. */
static char *parse_string(parser *ps) {
    char *start = ++ps->p, *r = start, *w = start;
    for (;;) {
        if (r >= ps->end) return NULL;
        unsigned char c = (unsigned char)*r;
        if (c == '"') break;
        if (c < 0x20) return NULL;
        if (c != '\\') {
            *w++ = *r++;
            continue;
        }
        if (r + 1 >= ps->end) return NULL;
        char e = r[1];
        r += 2;
        switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            if (ps->end - r < 4) return NULL;
            int u = hex4(r);
            if (u < 0) return NULL;
            r += 4;
            uint32_t cp = (uint32_t)u;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair */
                if (ps->end - r < 6 || r[0] != '\\' || r[1] != 'u') return NULL;
                int lo = hex4(r + 2);
                if (lo < 0xDC00 || lo > 0xDFFF) return NULL;
                r += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return NULL;
            }
            /* the escape took 6 (or 12) bytes and its UTF-8 takes at most 4: w stays behind r */
            if (cp < 0x80) *w++ = (char)cp;
            else if (cp < 0x800) { *w++ = (char)(0xC0 | cp >> 6); *w++ = (char)(0x80 | (cp & 0x3F)); }
            else if (cp < 0x10000) {
                *w++ = (char)(0xE0 | cp >> 12); *w++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *w++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *w++ = (char)(0xF0 | cp >> 18); *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *w++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: return NULL;
        }
    }
    *w = 0; /* w <= r, and r is on the closing quote */
    ps->p = r + 1;
    return start;
}

static cJSON *parse_value(parser *ps);

static bool starts_container(parser *ps) {
    skip_ws(ps);
    return ps->p < ps->end && (*ps->p == '[' || *ps->p == '{');
}

/* Steps over a whole array or object, checking only that strings close and brackets balance;
 * the tj_* readers check the rest. The node keeps the span: valuestring and valueint (length). */
static cJSON *skip_container(parser *ps) {
    char *p = ps->p, *end = ps->end;
    long depth = 0;
    do {
        if (p >= end) return NULL;
        char c = *p++;
        if (c == '"') {
            while (p < end && *p != '"') p += *p == '\\' ? 2 : 1;
            if (p >= end) return NULL;
            p++;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    } while (depth > 0);
    if (p - ps->p > INT_MAX) return NULL;
    cJSON *n = new_node(ps);
    if (!n) return NULL;
    n->type = cJSON_Raw;
    n->valuestring = ps->p;
    n->valueint = (int)(p - ps->p);
    ps->p = p;
    return n;
}

static cJSON *parse_number(parser *ps) {
    cJSON *n = new_node(ps);
    if (!n) return NULL;
    n->type = cJSON_Number;
    char *s = ps->p;
    bool neg = *s == '-';
    char *d = s + neg;
    long long v = 0;
    int digits = 0;
    while (d < ps->end && *d >= '0' && *d <= '9' && digits < 18) v = v * 10 + (*d++ - '0'), digits++;
    if (digits && (d >= ps->end || (*d != '.' && *d != 'e' && *d != 'E' && !(*d >= '0' && *d <= '9')))) {
        if (digits > 1 && s[neg] == '0') return NULL; /* leading zero */
        n->valuedouble = (double)(neg ? -v : v);
        ps->p = d;
    } else {
        char *e;
        n->valuedouble = strtod(s, &e); /* the text is NUL-terminated */
        if (e == s || e > ps->end) return NULL;
        ps->p = e;
    }
    double x = n->valuedouble;
    n->valueint = x >= INT_MAX ? INT_MAX : x <= (double)INT_MIN ? INT_MIN : (int)x;
    return n;
}

static cJSON *parse_container(parser *ps, bool object) {
    cJSON *n = new_node(ps);
    if (!n) return NULL;
    n->type = object ? cJSON_Object : cJSON_Array;
    if (++ps->depth > MAX_DEPTH) return NULL;
    ps->p++;
    skip_ws(ps);
    cJSON *last = NULL;
    if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
        ps->p++;
        ps->depth--;
        return n;
    }
    for (;;) {
        char *key = NULL;
        if (object) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"' || !(key = parse_string(ps))) return NULL;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return NULL;
            ps->p++;
        }
        cJSON *v;
        bool was_in_model = ps->in_model;
        ps->in_model = ps->lazy_model && object && ps->depth == 1 && !strcmp(key, "model");
        if (was_in_model && object && ps->depth == 2 && (!strcmp(key, "vocab") || !strcmp(key, "merges")) && starts_container(ps))
            v = skip_container(ps);
        else
            v = parse_value(ps);
        ps->in_model = was_in_model;
        if (!v) return NULL;
        v->string = key;
        if (last) {
            last->next = v;
            v->prev = last;
        } else {
            n->child = v;
        }
        last = v;
        n->child->prev = last; /* as cJSON keeps it: the first child's prev is the last child */
        skip_ws(ps);
        if (ps->p >= ps->end) return NULL;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != (object ? '}' : ']')) return NULL;
        ps->p++;
        ps->depth--;
        return n;
    }
}

static cJSON *parse_value(parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end) return NULL;
    char c = *ps->p;
    if (c == '{' || c == '[') return parse_container(ps, c == '{');
    if (c == '"') {
        cJSON *n = new_node(ps);
        if (!n) return NULL;
        n->type = cJSON_String;
        n->valuestring = parse_string(ps);
        return n->valuestring ? n : NULL;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps);
    static const struct { const char *word; int type; } words[] = {
        {"true", cJSON_True}, {"false", cJSON_False}, {"null", cJSON_NULL}};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(words[i].word);
        if ((size_t)(ps->end - ps->p) >= l && !memcmp(ps->p, words[i].word, l)) {
            cJSON *n = new_node(ps);
            if (!n) return NULL;
            n->type = words[i].type;
            n->valueint = words[i].type == cJSON_True;
            ps->p += l;
            return n;
        }
    }
    return NULL;
}

tok_json *tok_json_parse(char *text, size_t len, bool lazy_model, size_t *err_offset) {
    tok_json *doc = calloc(1, sizeof *doc);
    if (!doc) {
        *err_offset = 0;
        return NULL;
    }
    parser ps = {text, text + len, doc, 0, lazy_model, false};
    doc->root = parse_value(&ps);
    if (doc->root) {
        skip_ws(&ps);
        if (ps.p != ps.end) doc->root = NULL; /* trailing garbage */
    }
    if (!doc->root) {
        *err_offset = (size_t)(ps.p - text);
        tok_json_free(doc);
        return NULL;
    }
    return doc;
}

const cJSON *tok_json_root(const tok_json *doc) { return doc ? doc->root : NULL; }

void tok_json_free(tok_json *doc) {
    if (!doc) return;
    for (block *b = doc->blocks; b;) {
        block *prev = b->prev;
        free(b);
        b = prev;
    }
    free(doc);
}

/* ------------------------------------------------------------------ step-by-step reading */

bool tok_json_span_of(const cJSON *node, tj_span *span) {
    if (!node || node->type != cJSON_Raw || !node->valuestring) return false;
    span->p = node->valuestring;
    span->end = node->valuestring + node->valueint;
    return true;
}

static void span_ws(tj_span *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

char tj_peek(tj_span *s) {
    span_ws(s);
    return s->p < s->end ? *s->p : 0;
}

int tj_open(tj_span *s, char open) {
    if (tj_peek(s) != open) return -1;
    s->p++;
    return 0;
}

int tj_more(tj_span *s, char close, bool *first) {
    char c = tj_peek(s);
    if (c == close) {
        s->p++;
        return 0;
    }
    if (!*first) {
        if (c != ',') return -1;
        s->p++;
    }
    *first = false;
    return tj_peek(s) ? 1 : -1;
}

char *tj_string(tj_span *s) {
    if (tj_peek(s) != '"') return NULL;
    parser ps = {s->p, s->end, NULL, 0, false, false};
    char *r = parse_string(&ps);
    if (r) s->p = ps.p;
    return r;
}

int tj_colon(tj_span *s) {
    if (tj_peek(s) != ':') return -1;
    s->p++;
    return 0;
}

int tj_index(tj_span *s, long limit, long *out) {
    span_ws(s);
    long v = 0;
    char *p = s->p;
    while (p < s->end && *p >= '0' && *p <= '9' && v < limit) v = v * 10 + (*p++ - '0');
    if (p == s->p || v >= limit || (p - s->p > 1 && *s->p == '0')) return -1;
    if (p < s->end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))) return -1;
    s->p = p;
    *out = v;
    return 0;
}
