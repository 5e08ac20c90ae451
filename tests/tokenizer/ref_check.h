/* Shared by the tokenizer tests: checks one reference record written by reference.js
 * ({name, text64, ids, ids_plain?, decoded64}) against our tokenizer. Header-only, static. */
#ifndef HF_TESTS_REF_CHECK_H
#define HF_TESTS_REF_CHECK_H

#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes standard base64 into a heap buffer (NUL-terminated, *n bytes). NULL on bad input. */
static char *ref_b64(const char *s, size_t *n) {
    size_t len = strlen(s);
    char *out = malloc(len / 4 * 3 + 4);
    if (!out) return NULL;
    size_t k = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
              : c == '+' ? 62 : c == '/' ? 63 : c == '=' ? -2 : -1;
        if (v == -2) break;
        if (v < 0) { free(out); return NULL; }
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[k++] = (char)(acc >> bits & 0xFF);
        }
    }
    out[k] = 0;
    *n = k;
    return out;
}

/* Rust's String::from_utf8_lossy: each maximal invalid subpart becomes U+FFFD. HF's decode ends
 * with it, while tok_decode keeps the bytes (its documented contract), so decodes are compared
 * after it. Returns a heap string and its length. */
static char *ref_lossy(const char *s, size_t n, size_t *out_len) {
    char *out = malloc(n * 3 + 1);
    size_t k = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        size_t j = 1;
        if (need > 1) {
            for (; j < need && i + j < n; j++) {
                unsigned char d = (unsigned char)s[i + j];
                unsigned lo = 0x80, hi = 0xBF;
                if (j == 1) {
                    if (c == 0xE0) lo = 0xA0;
                    if (c == 0xED) hi = 0x9F;
                    if (c == 0xF0) lo = 0x90;
                    if (c == 0xF4) hi = 0x8F;
                }
                if (d < lo || d > hi) break;
            }
        }
        if (need && j == need) {
            memcpy(out + k, s + i, need);
            k += need;
            i += need;
        } else {
            memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i += need ? j : 1;
        }
    }
    out[k] = 0;
    *out_len = k;
    return out;
}

static void ref_show_ids(const tokenizer *t, const char *what, const int *ids, size_t n, size_t at) {
    size_t lo = at > 4 ? at - 4 : 0, hi = at + 5 < n ? at + 5 : n;
    fprintf(stderr, "    %-6s [%zu..%zu):", what, lo, hi);
    for (size_t i = lo; i < hi; i++) {
        size_t l = 0;
        const char *b = tok_token_bytes(t, ids[i], &l);
        fprintf(stderr, " %d'", ids[i]);
        for (size_t k = 0; b && k < l; k++) {
            unsigned char c = (unsigned char)b[k];
            if (c < 0x20 || c == 0x7f) fprintf(stderr, "\\x%02x", c);
            else fputc(c, stderr);
        }
        fputc('\'', stderr);
    }
    fprintf(stderr, "%s\n", hi < n ? " ..." : "");
}

/* Compares ids; prints the first difference (with context) when *shown is below 8. */
static int ref_compare(const tokenizer *t, const char *name, const char *mode, const int *ours, size_t n_ours, const cJSON *want,
                       const char *text, size_t text_len, int *shown) {
    size_t n_want = (size_t)cJSON_GetArraySize(want), i = 0;
    int *w = malloc((n_want + 1) * sizeof *w);
    const cJSON *e;
    cJSON_ArrayForEach(e, want) w[i++] = e->valueint;
    size_t d = 0;
    while (d < n_ours && d < n_want && ours[d] == w[d]) d++;
    int bad = d != n_ours || d != n_want;
    if (bad && (*shown)++ < 8) {
        fprintf(stderr, "  MISMATCH %s (%s): %zu ids, expected %zu; first difference at %zu\n", name, mode, n_ours,
                n_want, d);
        ref_show_ids(t, "ours", ours, n_ours, d);
        ref_show_ids(t, "hf", w, n_want, d);
        fprintf(stderr, "    text (%zu bytes) starts: \"", text_len);
        for (size_t k = 0; k < text_len && k < 160; k++) {
            unsigned char c = (unsigned char)text[k];
            if (c == '\n') fprintf(stderr, "\\n");
            else if (c < 0x20) fprintf(stderr, "\\x%02x", c);
            else fputc(c, stderr);
        }
        fprintf(stderr, "\"\n");
    }
    free(w);
    return bad;
}

/* Checks one record: ids with special tokens, ids_plain without, and decode(ids) against HF's.
 * Returns the number of failed checks; *tokens gets the number of reference ids. */
static int ref_check_record(const tokenizer *t, const cJSON *rec, int *shown, size_t *tokens) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(rec, "name");
    const cJSON *t64 = cJSON_GetObjectItemCaseSensitive(rec, "text64");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(rec, "ids");
    const cJSON *plain = cJSON_GetObjectItemCaseSensitive(rec, "ids_plain");
    const cJSON *d64 = cJSON_GetObjectItemCaseSensitive(rec, "decoded64");
    if (!cJSON_IsString(name) || !cJSON_IsString(t64) || !cJSON_IsArray(ids) || !cJSON_IsString(d64)) {
        fprintf(stderr, "  bad reference record\n");
        return 1;
    }
    size_t len, dlen;
    char *text = ref_b64(t64->valuestring, &len), *want_dec = ref_b64(d64->valuestring, &dlen);
    int fails = 0;
    int *out = NULL;
    size_t n = 0;
    if (tok_encode(t, text, len, true, &out, &n)) {
        fprintf(stderr, "  %s: tok_encode failed\n", name->valuestring);
        fails++;
    } else {
        fails += ref_compare(t, name->valuestring, "special", out, n, ids, text, len, shown);
        char *dec = tok_decode(t, out, n, false);
        size_t declen = 0; /* the text may hold NUL bytes */
        for (size_t i = 0; i < n; i++) {
            size_t l = 0;
            (void)tok_token_bytes(t, out[i], &l);
            declen += l;
        }
        size_t lossy_len = 0;
        char *lossy = dec ? ref_lossy(dec, declen, &lossy_len) : NULL;
        if (!dec || lossy_len != dlen || memcmp(lossy, want_dec, dlen)) {
            if ((*shown)++ < 8) fprintf(stderr, "  MISMATCH %s: decode differs from HF's\n", name->valuestring);
            fails++;
        }
        free(dec);
        free(lossy);
    }
    free(out);
    out = NULL;
    if (cJSON_IsArray(plain)) {
        if (tok_encode(t, text, len, false, &out, &n)) fails++;
        else fails += ref_compare(t, name->valuestring, "special as text", out, n, plain, text, len, shown);
        free(out);
    }
    *tokens += (size_t)cJSON_GetArraySize(ids);
    free(text);
    free(want_dec);
    return fails;
}

#endif
