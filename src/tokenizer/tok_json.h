/* tok_json: a fast read-only JSON parser for tokenizer.json (11 MB, ~600k values for Qwen).
 * It builds ordinary cJSON nodes, so cJSON's read functions (cJSON_GetObjectItemCaseSensitive,
 * cJSON_ArrayForEach, cJSON_IsString...) work on the result, but every node and string lives in
 * one arena: strings are unescaped in place in the caller's text buffer, nodes come in blocks.
 * Much faster than cJSON_Parse, which mallocs each node and string.
 * Internal to the tokenizer module. */
#ifndef HF_TOK_JSON_H
#define HF_TOK_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct tok_json tok_json;

/* Parses text (len bytes, NUL-terminated, modified in place and used by the result: keep it
 * alive until tok_json_free). Returns the document, or NULL with *err_offset set to the byte
 * where parsing failed.
 * With lazy_model, the arrays/objects at model.vocab and model.merges (the bulk of a
 * tokenizer.json) are not turned into nodes: their nodes have type cJSON_Raw and are read with
 * tok_json_span_of() and the tj_* functions below. */
tok_json *tok_json_parse(char *text, size_t len, bool lazy_model, size_t *err_offset);
const cJSON *tok_json_root(const tok_json *doc);
void tok_json_free(tok_json *doc);

/* A piece of JSON text read step by step. */
typedef struct {
    char *p, *end;
} tj_span;

/* The text of a lazily skipped container; false for any other node. */
bool tok_json_span_of(const cJSON *node, tj_span *span);
/* Consumes whitespace and the opening bracket `open` ('[' or '{'). 0, or -1 when it is not there. */
int tj_open(tj_span *s, char open);
/* Before each element of a container: 1 when an element follows (its comma consumed), 0 when
 * the closing bracket was consumed, -1 on bad syntax. *first must start true. */
int tj_more(tj_span *s, char close, bool *first);
/* The next value as a string (unescaped in place, NUL-terminated), or NULL when it is not one. */
char *tj_string(tj_span *s);
/* Consumes a ':' (after whitespace). 0 or -1. */
int tj_colon(tj_span *s);
/* The next value as a whole number in [0, limit). 0, or -1 when it is something else. */
int tj_index(tj_span *s, long limit, long *out);
/* The first non-blank character ahead (0 at the end). */
char tj_peek(tj_span *s);

#endif
