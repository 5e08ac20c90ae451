/* tok_json: a fast read-only JSON parser for tokenizer.json (11 MB, ~600k values for Qwen).
 * It builds ordinary cJSON nodes, so cJSON's read functions (cJSON_GetObjectItemCaseSensitive,
 * cJSON_ArrayForEach, cJSON_IsString...) work on the result, but every node and string lives in
 * one arena: strings are unescaped in place in the caller's text buffer, nodes come in blocks.
 * About five times faster than cJSON_Parse, which mallocs each node and string.
 * Internal to the tokenizer module. */
#ifndef HF_TOK_JSON_H
#define HF_TOK_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct tok_json tok_json;

/* Parses text (len bytes, NUL-terminated, modified in place and used by the result: keep it
 * alive until tok_json_free). Returns the document, or NULL with *err_offset set to the byte
 * where parsing failed. */
tok_json *tok_json_parse(char *text, size_t len, size_t *err_offset);
const cJSON *tok_json_root(const tok_json *doc);
void tok_json_free(tok_json *doc);

#endif
