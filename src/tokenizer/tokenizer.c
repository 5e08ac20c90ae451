/* tokenizer: Hugging Face tokenizer.json byte-level BPE, computed the way the Rust `tokenizers`
 * library computes it, so ids match it exactly:
 *
 *   text -> split out added tokens (non-normalized ones on the raw text)
 *        -> normalizer (NFC...) on each remaining piece -> split out normalized added tokens
 *        -> pre-tokenizer steps (Split regex through PCRE2, ByteLevel) -> BPE by merge rank.
 *
 * BPE runs on raw bytes: every vocabulary string is written in the GPT-2 byte-to-unicode alphabet,
 * one character per byte, so a piece of n bytes starts as n byte tokens and merges are looked up
 * as (left id, right id) pairs in an open-addressing table. Results of short pieces are cached. */
#include "tokenizer/tokenizer.h"
#include "core/err.h"

#include "core/fs.h"
#include "tokenizer/tok_json.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <errno.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ------------------------------------------------------------------ small helpers */

static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 32;
    return h;
}

static uint64_t hash_pair(uint32_t a, uint32_t b) {
    uint64_t h = ((uint64_t)a << 32 | b) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t n, cap;
} buf;

static int buf_reserve(buf *b, size_t extra) {
    if (b->n + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_add(buf *b, const void *data, size_t n) {
    if (buf_reserve(b, n + 1)) return -1;
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

/* ------------------------------------------------------------------ byte-level alphabet */

/* GPT-2 bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100 + k. */
static void byte_alphabet(uint32_t byte_to_cp[256], int16_t cp_to_byte[512]) {
    for (int i = 0; i < 512; i++) cp_to_byte[i] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        byte_to_cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + extra++);
        cp_to_byte[byte_to_cp[b]] = (int16_t)b;
    }
}

static size_t utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;       /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0;      /* surrogates */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

static bool utf8_valid(const char *text, size_t len, bool *ascii) {
    const unsigned char *s = (const unsigned char *)text;
    bool all_ascii = true;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) { i++; continue; }
        all_ascii = false;
        size_t k = utf8_seq_len(s + i, len - i);
        if (!k) return false;
        i += k;
    }
    if (ascii) *ascii = all_ascii;
    return true;
}

/* Decodes one code point of valid UTF-8. */
static uint32_t utf8_get(const unsigned char *s, size_t *adv) {
    unsigned c = s[0];
    if (c < 0x80) { *adv = 1; return c; }
    if (c < 0xE0) { *adv = 2; return (c & 0x1F) << 6 | (s[1] & 0x3F); }
    if (c < 0xF0) { *adv = 3; return (c & 0x0F) << 12 | (s[1] & 0x3F) << 6 | (s[2] & 0x3F); }
    *adv = 4;
    return (c & 0x07) << 18 | (s[1] & 0x3F) << 12 | (s[2] & 0x3F) << 6 | (s[3] & 0x3F);
}

/* ------------------------------------------------------------------ the tokenizer */

enum { SPLIT_REMOVED, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };

typedef struct {
    pcre2_code *re;      /* NULL for a ByteLevel step without regex */
    int behavior;
    bool invert;
    bool add_prefix_space; /* ByteLevel only */
} pretok_step;

typedef struct {
    char *content;       /* as matched: normalized by the normalizer when `normalized` */
    size_t len;
    int id;
    bool special, lstrip, rstrip, single_word, normalized;
} added_token;

/* Leftmost-longest matcher over a small set of added tokens. */
typedef struct {
    int *order;          /* token indices, grouped by first byte, longest first */
    int first[257];      /* order[first[b] .. first[b+1]) start with byte b */
    int n;
} added_set;

#define CACHE_SLOTS 65536
#define CACHE_KEY 30
#define CACHE_IDS 8
typedef struct {
    uint64_t hash;
    uint8_t keylen, nids;
    char key[CACHE_KEY];
    int32_t ids[CACHE_IDS];
} cache_slot;

typedef struct {
    pthread_mutex_t lock;
    cache_slot slots[CACHE_SLOTS];
} bpe_cache;

#define ID_PRESENT 1
#define ID_SPECIAL 2
#define ID_ADDED 4

struct tokenizer {
    int n_ids;               /* highest id + 1 */
    uint8_t *flags;          /* per id */
    buf strs;                /* vocabulary strings as written in the file, NUL-separated */
    uint32_t *str_off;       /* per id into strs, UINT32_MAX when absent */
    buf bytes;               /* decoded bytes of each token */
    uint32_t *bytes_off, *bytes_len;

    uint32_t *str_len;       /* per id */
    uint64_t *str_table;     /* string -> id, open addressing (see str_lookup) */
    uint32_t str_mask;

    struct pair_slot {       /* one cache line fetch per probe */
        uint64_t key;        /* (a << 32 | b) + 1, 0 empty */
        uint32_t rank;
        int32_t new_id;
    } *pairs;
    uint32_t pair_mask;
    int byte_id[256];        /* id of the single-byte token, -1 when the vocabulary lacks it */
    bool ignore_merges;

    utf8proc_option_t norm;  /* 0: no normalizer */
    pretok_step *steps;
    int n_steps;

    added_token *added;
    int n_added;
    added_set raw_set, norm_set;

    uint32_t byte_to_cp[256];
    int16_t cp_to_byte[512];
    bpe_cache *cache;
};

/* ---------------- string table */

/* Table slots hold (id + 1) in the low 32 bits and the upper half of the string's hash above,
 * so most probes are settled without touching the strings. */
static int str_lookup(const tokenizer *t, const char *s, size_t n) {
    uint64_t h = hash_bytes(s, n);
    uint32_t i = (uint32_t)h & t->str_mask, tag = (uint32_t)(h >> 32);
    for (;;) {
        uint64_t v = t->str_table[i];
        if (!v) return -1;
        uint32_t id = (uint32_t)v - 1;
        if ((uint32_t)(v >> 32) == tag && t->str_len[id] == n && !memcmp(t->strs.p + t->str_off[id], s, n)) return (int)id;
        i = (i + 1) & t->str_mask;
    }
}

static void str_insert(tokenizer *t, int id) {
    const char *s = t->strs.p + t->str_off[id];
    size_t n = t->str_len[id];
    uint64_t h = hash_bytes(s, n);
    uint32_t i = (uint32_t)h & t->str_mask, tag = (uint32_t)(h >> 32);
    uint64_t mine = (uint64_t)tag << 32 | ((uint32_t)id + 1);
    for (;;) {
        uint64_t v = t->str_table[i];
        if (!v) { t->str_table[i] = mine; return; }
        uint32_t other = (uint32_t)v - 1;
        if ((uint32_t)(v >> 32) == tag && t->str_len[other] == n && !memcmp(t->strs.p + t->str_off[other], s, n)) {
            t->str_table[i] = mine; /* later definition wins */
            return;
        }
        i = (i + 1) & t->str_mask;
    }
}

/* ---------------- merges */

static bool pair_get(const tokenizer *t, int a, int b, uint32_t *rank, int *new_id) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    uint32_t i = (uint32_t)hash_pair((uint32_t)a, (uint32_t)b) & t->pair_mask;
    for (;;) {
        const struct pair_slot *p = &t->pairs[i];
        if (!p->key) return false;
        if (p->key == key) { *rank = p->rank; *new_id = p->new_id; return true; }
        i = (i + 1) & t->pair_mask;
    }
}

static void pair_put(tokenizer *t, int a, int b, uint32_t rank, int new_id) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    uint32_t i = (uint32_t)hash_pair((uint32_t)a, (uint32_t)b) & t->pair_mask;
    while (t->pairs[i].key && t->pairs[i].key != key) i = (i + 1) & t->pair_mask;
    /* a repeated merge takes its later rank, as in a Rust HashMap collect */
    t->pairs[i] = (struct pair_slot){key, rank, new_id};
}

/* ---------------- loading */

static uint32_t pow2_at_least(size_t n) {
    uint32_t p = 1024;
    while (p < n) p <<= 1;
    return p;
}

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool json_bool(const cJSON *o, const char *key, bool def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return def;
}

/* Oniguruma (which HF uses) reads \s as Unicode White_Space; PCRE2 adds U+180E, which stopped
 * being a space in Unicode 6.3. So \s and \S are spelled out as White_Space classes. */
#define WHITE_SPACE "\\t-\\r\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"

static char *onig_compatible(const char *pattern) {
    size_t n = strlen(pattern);
    buf b = {0};
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < n) {
            char d = pattern[i + 1];
            int rc;
            if (d == 's') rc = in_class ? buf_add(&b, WHITE_SPACE, strlen(WHITE_SPACE))
                                        : (buf_add(&b, "[", 1) || buf_add(&b, WHITE_SPACE, strlen(WHITE_SPACE)) || buf_add(&b, "]", 1));
            else if (d == 'S' && !in_class)
                rc = buf_add(&b, "[^", 2) || buf_add(&b, WHITE_SPACE, strlen(WHITE_SPACE)) || buf_add(&b, "]", 1);
            else rc = buf_add(&b, pattern + i, 2);
            if (rc) { free(b.p); return NULL; }
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            /* a ']' right after '[' or '[^' is a literal member */
            size_t k = i + 1;
            if (k < n && pattern[k] == '^') k++;
            if (k < n && pattern[k] == ']') k++;
            if (buf_add(&b, pattern + i, k - i)) { free(b.p); return NULL; }
            i = k - 1;
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        if (buf_add(&b, &c, 1)) { free(b.p); return NULL; }
    }
    if (!b.p && buf_add(&b, "", 0)) return NULL;
    return b.p;
}

static pcre2_code *compile_regex(const char *pattern, bool literal, const char *path, char *err, size_t errcap) {
    int code;
    PCRE2_SIZE off;
    uint32_t opts = literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP;
    char *rewritten = literal ? strdup(pattern) : onig_compatible(pattern);
    if (!rewritten) { err_set(err, errcap, "%s: out of memory", path); return NULL; }
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)rewritten, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    free(rewritten);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        err_set(err, errcap, "%s: pre_tokenizer regex '%s' does not compile at offset %zu: %s", path, pattern,
                (size_t)off, (const char *)msg);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter is used when JIT is unavailable */
    return re;
}

/* The GPT-2 regex ByteLevel uses when use_regex is true. */
static const char *GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int add_step(tokenizer *t, pretok_step st) {
    pretok_step *p = realloc(t->steps, (size_t)(t->n_steps + 1) * sizeof *p);
    if (!p) return -1;
    t->steps = p;
    t->steps[t->n_steps++] = st;
    return 0;
}

static int load_pretok(tokenizer *t, const cJSON *pt, const char *path, bool *byte_level, char *err, size_t errcap) {
    if (!pt || cJSON_IsNull(pt)) return 0;
    const char *type = json_str(pt, "type");
    if (!type) { err_set(err, errcap, "%s: pre_tokenizer without a type", path); return -1; }
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        if (!cJSON_IsArray(list)) { err_set(err, errcap, "%s: Sequence pre_tokenizer without a list", path); return -1; }
        const cJSON *e;
        cJSON_ArrayForEach(e, list) if (load_pretok(t, e, path, byte_level, err, errcap)) return -1;
        return 0;
    }
    if (!strcmp(type, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(pt, "pattern");
        const char *rx = pat ? json_str(pat, "Regex") : NULL, *lit = pat ? json_str(pat, "String") : NULL;
        if (!rx && !lit) { err_set(err, errcap, "%s: Split pre_tokenizer without a Regex or String pattern", path); return -1; }
        const char *beh = json_str(pt, "behavior");
        static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
        int b = -1;
        for (int i = 0; i < 5; i++)
            if (beh && !strcmp(beh, names[i])) b = i;
        if (b < 0) { err_set(err, errcap, "%s: Split pre_tokenizer has unknown behavior '%s'", path, beh ? beh : "(none)"); return -1; }
        pretok_step st = {compile_regex(rx ? rx : lit, !rx, path, err, errcap), b, json_bool(pt, "invert", false), false};
        if (!st.re) return -1;
        if (add_step(t, st)) { pcre2_code_free(st.re); err_set(err, errcap, "%s: out of memory", path); return -1; }
        return 0;
    }
    if (!strcmp(type, "ByteLevel")) {
        *byte_level = true;
        bool prefix = json_bool(pt, "add_prefix_space", true), use_regex = json_bool(pt, "use_regex", true);
        if (!prefix && !use_regex) return 0; /* only the byte mapping, which BPE on raw bytes does implicitly */
        pretok_step st = {NULL, SPLIT_ISOLATED, false, prefix};
        if (use_regex && !(st.re = compile_regex(GPT2_REGEX, false, path, err, errcap))) return -1;
        if (add_step(t, st)) { if (st.re) pcre2_code_free(st.re); err_set(err, errcap, "%s: out of memory", path); return -1; }
        return 0;
    }
    err_set(err, errcap, "%s: unsupported pre_tokenizer type '%s' (supported: Sequence, Split, ByteLevel)", path, type);
    return -1;
}

static int load_normalizer(tokenizer *t, const cJSON *n, const char *path, char *err, size_t errcap) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *type = json_str(n, "type");
    if (!type) { err_set(err, errcap, "%s: normalizer without a type", path); return -1; }
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        const cJSON *e;
        int count = 0;
        cJSON_ArrayForEach(e, list) {
            if (load_normalizer(t, e, path, err, errcap)) return -1;
            count++;
        }
        if (count > 1) { err_set(err, errcap, "%s: a Sequence of several normalizers is not supported", path); return -1; }
        return 0;
    }
    if (!strcmp(type, "NFC")) t->norm = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    else if (!strcmp(type, "NFD")) t->norm = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
    else if (!strcmp(type, "NFKC")) t->norm = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    else if (!strcmp(type, "NFKD")) t->norm = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    else {
        err_set(err, errcap, "%s: unsupported normalizer type '%s' (supported: NFC, NFD, NFKC, NFKD)", path, type);
        return -1;
    }
    return 0;
}

/* Normalizes s with the tokenizer's normalizer into a heap string (*out_len), or NULL on OOM. */
static char *normalize(const tokenizer *t, const char *s, size_t n, size_t *out_len) {
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &out, t->norm);
    if (r < 0) return NULL;
    *out_len = (size_t)r;
    return (char *)out;
}

static int set_id_string(tokenizer *t, int id, const char *s) {
    uint32_t off = (uint32_t)t->strs.n;
    size_t n = strlen(s);
    if (buf_add(&t->strs, s, n + 1)) return -1;
    t->str_off[id] = off;
    t->str_len[id] = (uint32_t)n;
    t->flags[id] |= ID_PRESENT;
    return 0;
}

static int cmp_by_first_then_len(const void *a, const void *b, void *ctx) {
    const added_token *tok = ctx;
    const added_token *x = &tok[*(const int *)a], *y = &tok[*(const int *)b];
    unsigned char fx = (unsigned char)x->content[0], fy = (unsigned char)y->content[0];
    if (fx != fy) return fx < fy ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

static int build_set(tokenizer *t, added_set *set, bool normalized) {
    set->order = malloc(sizeof(int) * (size_t)(t->n_added + 1));
    if (!set->order) return -1;
    set->n = 0;
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].normalized == normalized && t->added[i].len) set->order[set->n++] = i;
    qsort_r(set->order, (size_t)set->n, sizeof(int), cmp_by_first_then_len, t->added);
    int k = 0;
    for (int b = 0; b <= 256; b++) {
        while (k < set->n && (unsigned char)t->added[set->order[k]].content[0] < b) k++;
        set->first[b] = k;
    }
    return 0;
}

void tok_free(tokenizer *t) {
    if (!t) return;
    free(t->flags);
    free(t->strs.p);
    free(t->str_off);
    free(t->str_len);
    free(t->bytes.p);
    free(t->bytes_off);
    free(t->bytes_len);
    free(t->str_table);
    free(t->pairs);
    for (int i = 0; i < t->n_steps; i++)
        if (t->steps[i].re) pcre2_code_free(t->steps[i].re);
    free(t->steps);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    free(t->raw_set.order);
    free(t->norm_set.order);
    if (t->cache) {
        pthread_mutex_destroy(&t->cache->lock);
        free(t->cache);
    }
    free(t);
}

/* Max id allowed in a file: guards against absurd allocations from bad input. */
#define MAX_ID (1 << 24)

/* "FILE:LINE: invalid JSON in WHAT near byte N", for syntax errors the lazy readers find. The
 * line is counted on a fresh copy of the file: parsing rewrote strings in place. */
static void json_error_at(const char *path, size_t off, const char *what, char *err, size_t errcap) {
    size_t len, line = 1;
    char *fresh = fs_read_file(path, &len);
    for (size_t i = 0; fresh && i < off && i < len; i++) line += fresh[i] == '\n';
    free(fresh);
    err_set(err, errcap, "%s:%zu: invalid JSON in %s near byte %zu", path, line, what, off);
}

static int load_model(tokenizer *t, const cJSON *root, const char *base, const char *path, char *err, size_t errcap) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) { err_set(err, errcap, "%s: no \"model\" object", path); return -1; }
    const char *type = json_str(model, "type");
    if (type && strcmp(type, "BPE")) {
        err_set(err, errcap, "%s: unsupported tokenizer model type '%s' (only byte-level BPE is supported)", path, type);
        return -1;
    }
    tj_span vocab, merges;
    if (!tok_json_span_of(cJSON_GetObjectItemCaseSensitive(model, "vocab"), &vocab) || tj_peek(&vocab) != '{') {
        err_set(err, errcap, "%s: model.vocab is missing or not an object", path);
        return -1;
    }
    if (!tok_json_span_of(cJSON_GetObjectItemCaseSensitive(model, "merges"), &merges) || tj_peek(&merges) != '[') {
        err_set(err, errcap, "%s: model.merges is missing or not a list", path);
        return -1;
    }
    const char *pre = json_str(model, "continuing_subword_prefix"), *suf = json_str(model, "end_of_word_suffix");
    if ((pre && *pre) || (suf && *suf)) {
        err_set(err, errcap, "%s: BPE with continuing_subword_prefix/end_of_word_suffix is not supported", path);
        return -1;
    }
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0) {
        err_set(err, errcap, "%s: BPE dropout is not supported", path);
        return -1;
    }
    t->ignore_merges = json_bool(model, "ignore_merges", false);

    /* The vocabulary: "token": id pairs, read into a list first (strings are unescaped in place). */
    int max_id = -1;
    size_t n_vocab = 0, vcap = 0;
    struct entry { const char *s; int id; } *ventries = NULL;
    bool first = true;
    tj_open(&vocab, '{');
    for (;;) {
        int more = tj_more(&vocab, '}', &first);
        if (more == 0) break;
        char *key = more > 0 ? tj_string(&vocab) : NULL;
        long id = -1;
        if (!key || tj_colon(&vocab) || tj_index(&vocab, MAX_ID, &id)) {
            if (key) err_set(err, errcap, "%s: model.vocab entry '%.60s' has a bad id", path, key);
            else json_error_at(path, (size_t)(vocab.p - base), "model.vocab", err, errcap);
            free(ventries);
            return -1;
        }
        if (n_vocab == vcap) {
            vcap = vcap ? vcap * 2 : 1024;
            void *q = realloc(ventries, vcap * sizeof *ventries);
            if (!q) { free(ventries); err_set(err, errcap, "%s: out of memory", path); return -1; }
            ventries = q;
        }
        ventries[n_vocab++] = (struct entry){key, (int)id};
        if (id > max_id) max_id = (int)id;
    }
    const cJSON *e;
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added)) {
        err_set(err, errcap, "%s: added_tokens is not a list", path);
        free(ventries);
        return -1;
    }
    int n_added = cJSON_GetArraySize(added);
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const char *content = json_str(e, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= MAX_ID || !content) {
            err_set(err, errcap, "%s: an added_tokens entry lacks a valid id or content", path);
            free(ventries);
            return -1;
        }
        if (id->valueint > max_id) max_id = id->valueint;
    }
    t->n_ids = max_id + 1;
    size_t nid = (size_t)t->n_ids;
    t->flags = calloc(nid + 1, 1);
    t->str_off = malloc((nid + 1) * sizeof *t->str_off);
    t->str_len = calloc(nid + 1, sizeof *t->str_len);
    t->str_mask = pow2_at_least((n_vocab + (size_t)n_added) * 2) - 1;
    t->str_table = calloc((size_t)t->str_mask + 1, sizeof *t->str_table);
    /* Table size from the commas: a ["a","b"] merge has two, an "a b" merge at least one (so
     * doubled), which keeps the table at most half full. */
    size_t commas = 0;
    for (const char *q = merges.p; q < merges.end; q++) commas += *q == ',';
    tj_span peek = merges;
    tj_open(&peek, '[');
    t->pair_mask = pow2_at_least((tj_peek(&peek) == '"' ? 2 * commas : commas) + 4) - 1;
    t->pairs = calloc((size_t)t->pair_mask + 1, sizeof *t->pairs);
    t->added = calloc((size_t)n_added + 1, sizeof *t->added);
    if (!t->flags || !t->str_off || !t->str_len || !t->str_table || !t->pairs || !t->added ||
        buf_reserve(&t->strs, n_vocab * 8)) {
        free(ventries);
        err_set(err, errcap, "%s: out of memory", path);
        return -1;
    }
    for (size_t i = 0; i < nid; i++) t->str_off[i] = UINT32_MAX;
    for (size_t i = 0; i < n_vocab; i++)
        if (set_id_string(t, ventries[i].id, ventries[i].s)) { free(ventries); goto oom; }
    free(ventries);
    for (int i = 0; i < t->n_ids; i++)
        if (t->flags[i] & ID_PRESENT) str_insert(t, i);
    for (int b = 0; b < 256; b++) {
        char s[4];
        size_t k = utf8_put(t->byte_to_cp[b], s);
        t->byte_id[b] = str_lookup(t, s, k);
    }

    /* Merges: "a b" or ["a", "b"]; rank = position. */
    uint32_t rank = 0;
    buf joined = {0};
    first = true;
    tj_open(&merges, '[');
    for (;;) {
        int more = tj_more(&merges, ']', &first);
        if (more == 0) break;
        char *a = NULL, *b = NULL;
        char c = more > 0 ? tj_peek(&merges) : 0;
        if (c == '"') {
            a = tj_string(&merges);
            char *sp = a ? strchr(a, ' ') : NULL;
            if (sp && !strchr(sp + 1, ' ') && sp != a && sp[1]) {
                *sp = 0; /* the text is ours to change */
                b = sp + 1;
            }
        } else if (c == '[') {
            bool f2 = true;
            tj_open(&merges, '[');
            if (tj_more(&merges, ']', &f2) == 1 && (a = tj_string(&merges)) && tj_more(&merges, ']', &f2) == 1)
                b = tj_string(&merges);
            if (b && tj_more(&merges, ']', &f2) != 0) b = NULL;
        }
        if (!a || !b) {
            err_set(err, errcap, "%s: merge %u is not \"a b\" or [\"a\", \"b\"] (near \"%.40s\")", path, rank,
                    merges.p < merges.end ? merges.p : "");
            free(joined.p);
            return -1;
        }
        size_t la = strlen(a), lb = strlen(b);
        int ia = str_lookup(t, a, la), ib = str_lookup(t, b, lb);
        joined.n = 0;
        if (buf_add(&joined, a, la) || buf_add(&joined, b, lb)) { free(joined.p); goto oom; }
        int inew = str_lookup(t, joined.p, joined.n);
        if (ia < 0 || ib < 0 || inew < 0) {
            err_set(err, errcap, "%s: merge %u ('%s' '%s'): '%s' is not in the vocabulary", path, rank, a, b,
                    ia < 0 ? a : ib < 0 ? b : joined.p);
            free(joined.p);
            return -1;
        }
        pair_put(t, ia, ib, rank, inew);
        rank++;
    }
    free(joined.p);

    /* Added tokens: they override the vocabulary's string for their id. */
    cJSON_ArrayForEach(e, added) {
        added_token *a = &t->added[t->n_added];
        a->id = cJSON_GetObjectItemCaseSensitive(e, "id")->valueint;
        const char *content = json_str(e, "content");
        a->special = json_bool(e, "special", false);
        a->lstrip = json_bool(e, "lstrip", false);
        a->rstrip = json_bool(e, "rstrip", false);
        a->single_word = json_bool(e, "single_word", false);
        a->normalized = json_bool(e, "normalized", !a->special);
        if (a->normalized && t->norm) {
            a->content = normalize(t, content, strlen(content), &a->len);
        } else {
            a->content = strdup(content);
            a->len = a->content ? strlen(content) : 0;
        }
        if (!a->content) goto oom;
        t->n_added++;
        t->flags[a->id] = (uint8_t)((t->flags[a->id] & ~ID_SPECIAL) | ID_ADDED | (a->special ? ID_SPECIAL : 0));
        if (set_id_string(t, a->id, content)) goto oom;
        str_insert(t, a->id);
    }
    if (build_set(t, &t->raw_set, false) || build_set(t, &t->norm_set, true)) goto oom;

    /* Decoded bytes of every token (the ByteLevel decoder, applied to added tokens too, as HF does). */
    t->bytes_off = malloc(nid * sizeof *t->bytes_off);
    t->bytes_len = calloc(nid, sizeof *t->bytes_len);
    if (!t->bytes_off || !t->bytes_len || buf_reserve(&t->bytes, t->strs.n)) goto oom;
    for (int i = 0; i < t->n_ids; i++) {
        t->bytes_off[i] = (uint32_t)t->bytes.n;
        if (!(t->flags[i] & ID_PRESENT)) continue;
        const unsigned char *s = (const unsigned char *)t->strs.p + t->str_off[i];
        size_t len = t->str_len[i];
        for (size_t k = 0; k < len;) {
            size_t adv = utf8_seq_len(s + k, len - k);
            if (!adv) { /* cJSON gives valid UTF-8 except for lone surrogate escapes: keep the byte */
                if (buf_add(&t->bytes, s + k, 1)) goto oom;
                k++;
                continue;
            }
            uint32_t cp = utf8_get(s + k, &adv);
            if (cp < 512 && t->cp_to_byte[cp] >= 0) {
                char c = (char)t->cp_to_byte[cp];
                if (buf_add(&t->bytes, &c, 1)) goto oom;
            } else if (buf_add(&t->bytes, s + k, adv)) goto oom;
            k += adv;
        }
        t->bytes_len[i] = (uint32_t)(t->bytes.n - t->bytes_off[i]);
    }
    return 0;
oom:
    err_set(err, errcap, "%s: out of memory", path);
    return -1;
}

/* Loads from text (heap, len bytes, NUL-terminated; taken over and freed here). pristine is an
 * unmodified copy for line numbers in errors, or NULL to read path again. */
static tokenizer *load_text(char *text, size_t len, const char *path, const char *pristine, char *err, size_t errcap);

tokenizer *tok_load(const char *path, char *err, size_t errcap) {
    size_t len;
    char *text = fs_read_file(path, &len);
    if (!text) {
        err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    return load_text(text, len, path, NULL, err, errcap);
}

tokenizer *tok_load_json(const char *json, size_t len, const char *name, char *err, size_t errcap) {
    char *text = malloc(len + 1);
    if (!text) { err_set(err, errcap, "%s: out of memory", name); return NULL; }
    memcpy(text, json, len);
    text[len] = 0;
    return load_text(text, len, name, json, err, errcap);
}

static tokenizer *load_text(char *text, size_t len, const char *path, const char *pristine, char *err, size_t errcap) {
    /* Line numbers for errors must be counted before parsing rewrites strings in place. */
    size_t off = 0;
    tok_json *doc = tok_json_parse(text, len, true, &off);
    const cJSON *root = tok_json_root(doc);
    if (!root || !cJSON_IsObject(root)) {
        if (root) {
            err_set(err, errcap, "%s: not a JSON object", path);
        } else {
            free(text);
            /* the parser changed it: count lines on a fresh copy */
            text = pristine ? NULL : fs_read_file(path, &len);
            const char *fresh = pristine ? pristine : text;
            size_t line = 1;
            for (size_t i = 0; fresh && i < off && i < len; i++) line += fresh[i] == '\n';
            err_set(err, errcap, "%s:%zu: invalid JSON near byte %zu", path, line, off);
        }
        tok_json_free(doc);
        free(text);
        return NULL;
    }
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) { tok_json_free(doc); free(text); err_set(err, errcap, "%s: out of memory", path); return NULL; }
    byte_alphabet(t->byte_to_cp, t->cp_to_byte);
    bool byte_level = false;
    if (load_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), path, err, errcap) ||
        load_pretok(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), path, &byte_level, err, errcap) ||
        load_model(t, root, text, path, err, errcap))
        goto fail;
    if (!byte_level) {
        err_set(err, errcap, "%s: not a byte-level BPE tokenizer (no ByteLevel pre_tokenizer)", path);
        goto fail;
    }
    t->cache = calloc(1, sizeof *t->cache);
    if (!t->cache || pthread_mutex_init(&t->cache->lock, NULL)) {
        free(t->cache);
        t->cache = NULL;
        err_set(err, errcap, "%s: out of memory", path);
        goto fail;
    }
    tok_json_free(doc);
    free(text);
    return t;
fail:
    tok_json_free(doc);
    free(text);
    tok_free(t);
    return NULL;
}

/* ------------------------------------------------------------------ encoding */

typedef struct {
    const tokenizer *t;
    int *ids;
    size_t n, cap;
    bool oom; /* or any other failure: the encode returns -1 */
    void (*piece)(void *ctx, const char *bytes, size_t n); /* tok_pretokenize: gets the pieces instead of BPE */
    void *piece_ctx;
    /* BPE scratch, grown as needed */
    struct sym { int id, prev, next; } *sym;
    struct merge { uint32_t rank; int pos, new_id, left, right; } *heap;
    size_t sym_cap, heap_cap;
} enc;

static void push_id(enc *e, int id) {
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        int *p = realloc(e->ids, cap * sizeof *p);
        if (!p) { e->oom = true; return; }
        e->ids = p;
        e->cap = cap;
    }
    e->ids[e->n++] = id;
}

static bool merge_less(const struct merge *a, const struct merge *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(enc *e, size_t *hn, struct merge m) {
    size_t i = (*hn)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&m, &e->heap[p])) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = m;
}

static struct merge heap_pop(enc *e, size_t *hn) {
    struct merge top = e->heap[0], last = e->heap[--*hn];
    size_t i = 0, n = *hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && merge_less(&e->heap[c + 1], &e->heap[c])) c++;
        if (!merge_less(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n) e->heap[i] = last;
    return top;
}

/* BPE of one piece of raw bytes: repeatedly merges the adjacent pair with the lowest rank (the
 * leftmost among equal ranks), with a priority queue and lazy deletion of stale entries. */
static void bpe_word(enc *e, const unsigned char *s, size_t n) {
    const tokenizer *t = e->t;
    if (n > e->sym_cap) {
        size_t cap = n < 256 ? 256 : n;
        void *a = realloc(e->sym, cap * sizeof *e->sym), *b = a ? realloc(e->heap, cap * 2 * sizeof *e->heap) : NULL;
        if (a) e->sym = a;
        if (b) e->heap = b;
        if (!a || !b) { e->oom = true; return; }
        e->sym_cap = cap;
        e->heap_cap = cap * 2;
    }
    struct sym *sym = e->sym;
    int ns = 0;
    for (size_t i = 0; i < n; i++) {
        int id = t->byte_id[s[i]];
        if (id < 0) continue; /* no token for this byte and no unk: HF drops it */
        sym[ns] = (struct sym){id, ns - 1, ns + 1};
        ns++;
    }
    if (ns == 0) return;
    sym[ns - 1].next = -1;
    size_t hn = 0;
    for (int i = 0; i + 1 < ns; i++) {
        uint32_t r;
        int nid;
        if (pair_get(t, sym[i].id, sym[i + 1].id, &r, &nid))
            heap_push(e, &hn, (struct merge){r, i, nid, sym[i].id, sym[i + 1].id});
    }
    while (hn) {
        struct merge m = heap_pop(e, &hn);
        struct sym *a = &sym[m.pos];
        if (a->id < 0 || a->next < 0) continue;
        struct sym *b = &sym[a->next];
        if (a->id != m.left || b->id != m.right) continue; /* stale: a side was merged since */
        uint32_t r;
        int nid;
        a->id = m.new_id;
        int after = b->next;
        b->id = -1;
        a->next = after;
        if (after >= 0) sym[after].prev = m.pos;
        if (a->prev >= 0 && pair_get(t, sym[a->prev].id, a->id, &r, &nid) && hn < e->heap_cap)
            heap_push(e, &hn, (struct merge){r, a->prev, nid, sym[a->prev].id, a->id});
        if (after >= 0 && pair_get(t, a->id, sym[after].id, &r, &nid) && hn < e->heap_cap)
            heap_push(e, &hn, (struct merge){r, m.pos, nid, a->id, sym[after].id});
    }
    for (int i = 0; i >= 0; i = sym[i].next) push_id(e, sym[i].id);
}

static void bpe_piece(enc *e, const char *p, size_t n) {
    const tokenizer *t = e->t;
    const unsigned char *s = (const unsigned char *)p;
    if (n == 0) return;
    if (n == 1) {
        if (t->byte_id[s[0]] >= 0) push_id(e, t->byte_id[s[0]]);
        return;
    }
    if (t->ignore_merges) { /* the whole piece, when it is a token, wins without merging */
        char small[512];
        char *m = n * 2 <= sizeof small ? small : malloc(n * 2 + 1);
        if (!m) { e->oom = true; return; }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += utf8_put(t->byte_to_cp[s[i]], m + k);
        int id = str_lookup(t, m, k);
        if (m != small) free(m);
        if (id >= 0) { push_id(e, id); return; }
    }
    uint64_t h = 0;
    bpe_cache *c = t->cache;
    cache_slot *slot = NULL;
    if (n <= CACHE_KEY) {
        h = hash_bytes(s, n);
        slot = &c->slots[h & (CACHE_SLOTS - 1)];
        if (pthread_mutex_trylock(&c->lock) == 0) {
            if (slot->hash == h && slot->keylen == n && !memcmp(slot->key, s, n)) {
                int32_t ids[CACHE_IDS];
                int k = slot->nids;
                memcpy(ids, slot->ids, sizeof ids);
                pthread_mutex_unlock(&c->lock);
                for (int i = 0; i < k; i++) push_id(e, ids[i]);
                return;
            }
            pthread_mutex_unlock(&c->lock);
        }
    }
    size_t before = e->n;
    bpe_word(e, s, n);
    size_t made = e->n - before;
    if (slot && !e->oom && made <= CACHE_IDS && pthread_mutex_trylock(&c->lock) == 0) {
        slot->hash = h;
        slot->keylen = (uint8_t)n;
        slot->nids = (uint8_t)made;
        memcpy(slot->key, s, n);
        for (size_t i = 0; i < made; i++) slot->ids[i] = e->ids[before + i];
        pthread_mutex_unlock(&c->lock);
    }
}

typedef struct {
    size_t start, end;
    bool match;
} part;

static void run_steps(enc *e, int step, const char *s, size_t n);

/* One Split step over s: the regex's matches and the gaps between them, combined by behavior. */
static void split_step(enc *e, int step, const char *s, size_t n) {
    const pretok_step *st = &e->t->steps[step];
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(st->re, NULL);
    if (!md) { e->oom = true; return; }
    if (st->behavior == SPLIT_ISOLATED) {
        /* Every match and every gap is its own piece, inverted or not: pass them on as found. */
        size_t at = 0, from = 0;
        while (at <= n && !e->oom) {
            int rc = pcre2_match(st->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) { e->oom = true; break; } /* a match or stack limit: fail rather than split wrongly */
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (from < ms) run_steps(e, step + 1, s + from, ms - from);
            if (me > ms) run_steps(e, step + 1, s + ms, me - ms);
            from = me;
            if (me > ms) at = me;
            else {
                if (me >= n) break;
                size_t adv = 1;
                while (me + adv < n && ((unsigned char)s[me + adv] & 0xC0) == 0x80) adv++;
                at = me + adv;
            }
        }
        if (from < n && !e->oom) run_steps(e, step + 1, s + from, n - from);
        pcre2_match_data_free(md);
        return;
    }
    part local[64], *parts = local;
    size_t np = 0, cap = 64;
    size_t pos = 0, prev = 0;
#define ADD_PART(a, b, m)                                                                   \
    do {                                                                                    \
        if (np == cap) {                                                                    \
            part *q = parts == local ? malloc(cap * 2 * sizeof *q) : realloc(parts, cap * 2 * sizeof *q); \
            if (!q) { e->oom = true; goto done; }                                           \
            if (parts == local) memcpy(q, local, sizeof local);                             \
            parts = q;                                                                      \
            cap *= 2;                                                                       \
        }                                                                                   \
        parts[np++] = (part){(a), (b), (m)};                                                \
    } while (0)
    while (pos <= n) {
        int rc = pcre2_match(st->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) { e->oom = true; goto done; }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (prev != ms) ADD_PART(prev, ms, false);
        ADD_PART(ms, me, true);
        prev = me;
        if (me > ms) pos = me;
        else { /* empty match: step over one character */
            if (me >= n) break;
            size_t adv = 1;
            while (me + adv < n && ((unsigned char)s[me + adv] & 0xC0) == 0x80) adv++;
            pos = me + adv;
        }
    }
    if (prev != n) ADD_PART(prev, n, false);
#undef ADD_PART
    if (st->invert)
        for (size_t i = 0; i < np; i++) parts[i].match = !parts[i].match;
    /* Combine by behavior: the result is a list of kept ranges. */
    size_t out = 0;
    switch (st->behavior) {
    case SPLIT_REMOVED:
        for (size_t i = 0; i < np; i++)
            if (!parts[i].match) parts[out++] = parts[i];
        break;
    case SPLIT_ISOLATED: out = np; break;
    case SPLIT_MERGED_PREV: {
        bool prev_match = false;
        for (size_t i = 0; i < np; i++) {
            bool m = parts[i].match;
            if (m && !prev_match && out) parts[out - 1].end = parts[i].end;
            else parts[out++] = parts[i];
            prev_match = m;
        }
        break;
    }
    case SPLIT_MERGED_NEXT: { /* folded from the end, as HF does */
        bool prev_match = false;
        size_t w = np;
        for (size_t i = np; i-- > 0;) {
            bool m = parts[i].match;
            if (m && !prev_match && w < np) parts[w].start = parts[i].start;
            else parts[--w] = parts[i];
            prev_match = m;
        }
        memmove(parts, parts + w, (np - w) * sizeof *parts);
        out = np - w;
        break;
    }
    case SPLIT_CONTIGUOUS: {
        bool prev_match = false;
        for (size_t i = 0; i < np; i++) {
            bool m = parts[i].match;
            if (m == prev_match && out) parts[out - 1].end = parts[i].end;
            else parts[out++] = parts[i];
            prev_match = m;
        }
        break;
    }
    }
    pcre2_match_data_free(md);
    md = NULL;
    for (size_t i = 0; i < out && !e->oom; i++)
        if (parts[i].end > parts[i].start) run_steps(e, step + 1, s + parts[i].start, parts[i].end - parts[i].start);
done:
    if (md) pcre2_match_data_free(md);
    if (parts != local) free(parts);
}

static void run_steps(enc *e, int step, const char *s, size_t n) {
    if (n == 0) return;
    if (step == e->t->n_steps) {
        if (e->piece) e->piece(e->piece_ctx, s, n);
        else bpe_piece(e, s, n);
        return;
    }
    const pretok_step *st = &e->t->steps[step];
    if (st->add_prefix_space && s[0] != ' ') {
        char *p = malloc(n + 1);
        if (!p) { e->oom = true; return; }
        p[0] = ' ';
        memcpy(p + 1, s, n);
        if (st->re) split_step(e, step, p, n + 1);
        else run_steps(e, step + 1, p, n + 1);
        free(p);
        return;
    }
    if (st->re) split_step(e, step, s, n);
    else run_steps(e, step + 1, s, n);
}

/* Unicode \s and \w as Rust's regex crate reads them, for lstrip/rstrip/single_word. */
static bool cp_is_space(uint32_t cp) {
    if ((cp >= 9 && cp <= 13) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
        cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000)
        return true;
    return false;
}
static bool cp_is_word(uint32_t cp) {
    if (cp == '_' || cp == 0x200C || cp == 0x200D) return true;
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_NO) || c == UTF8PROC_CATEGORY_PC;
}
static uint32_t cp_before(const char *s, size_t pos) {
    size_t i = pos;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--;
    if (i > 0) i--;
    size_t adv;
    return utf8_get((const unsigned char *)s + i, &adv);
}

static void encode_normalized(enc *e, const char *s, size_t n, bool allow_special);

/* Splits s on the added tokens of `set` (leftmost-longest, as HF's Aho-Corasick matcher), emitting
 * their ids; the text between them goes to `rest` (normalization and/or pre-tokenization). */
static void split_added(enc *e, const added_set *set, const char *s, size_t n, bool allow_special,
                        void (*rest)(enc *, const char *, size_t, bool)) {
    const tokenizer *t = e->t;
    size_t start_offset = 0, pos = 0;
    if (set->n == 0) { rest(e, s, n, allow_special); return; }
    while (pos < n && !e->oom) {
        unsigned char b = (unsigned char)s[pos];
        int lo = set->first[b], hi = set->first[b + 1];
        const added_token *hit = NULL;
        for (int k = lo; k < hi; k++) {
            const added_token *a = &t->added[set->order[k]];
            if (a->len <= n - pos && !memcmp(s + pos, a->content, a->len)) { hit = a; break; }
        }
        if (!hit) { pos++; continue; }
        size_t start = pos, stop = pos + hit->len;
        pos = stop; /* the matcher goes on after this match even when it is discarded below */
        if (!allow_special && hit->special) continue;
        if (hit->single_word) {
            size_t adv;
            bool start_ok = start == 0 || !cp_is_word(cp_before(s, start));
            bool stop_ok = stop == n || !cp_is_word(utf8_get((const unsigned char *)s + stop, &adv));
            if (!start_ok || !stop_ok) continue;
        }
        if (hit->lstrip) {
            size_t ns = start;
            while (ns > 0 && cp_is_space(cp_before(s, ns))) {
                size_t i = ns - 1;
                while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
                ns = i;
            }
            start = ns > start_offset ? ns : start_offset;
        }
        if (hit->rstrip) {
            size_t adv;
            while (stop < n && cp_is_space(utf8_get((const unsigned char *)s + stop, &adv))) stop += adv;
        }
        if (start_offset < start) rest(e, s + start_offset, start - start_offset, allow_special);
        push_id(e, hit->id);
        start_offset = stop;
    }
    if (start_offset < n) rest(e, s + start_offset, n - start_offset, allow_special);
}

static void pretokenize(enc *e, const char *s, size_t n, bool allow_special) {
    (void)allow_special;
    run_steps(e, 0, s, n);
}

static void encode_normalized(enc *e, const char *s, size_t n, bool allow_special) {
    split_added(e, &e->t->norm_set, s, n, allow_special, pretokenize);
}

static void normalize_then_split(enc *e, const char *s, size_t n, bool allow_special) {
    const tokenizer *t = e->t;
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++) ascii = (unsigned char)s[i] < 0x80;
    if (!t->norm || ascii) { /* normalization forms leave ASCII unchanged */
        encode_normalized(e, s, n, allow_special);
        return;
    }
    /* Normalization forms never change ASCII, and a boundary just before an ASCII character that
     * follows anything is stable: no composition has ASCII as its second character and ASCII has
     * combining class 0. So only each non-ASCII run, with the character before it, is normalized. */
    buf out = {0};
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (unsigned char)s[j] < 0x80) j++;
        if (j == n) {
            if (buf_add(&out, s + i, n - i)) { e->oom = true; break; }
            break;
        }
        size_t start = j > i ? j - 1 : j; /* the ASCII character before the run may take its marks */
        if (start > i && buf_add(&out, s + i, start - i)) { e->oom = true; break; }
        size_t k = j;
        while (k < n && (unsigned char)s[k] >= 0x80) k++;
        size_t len;
        char *norm = normalize(t, s + start, k - start, &len);
        if (!norm || buf_add(&out, norm, len)) { free(norm); e->oom = true; break; }
        free(norm);
        i = k;
    }
    if (!e->oom) encode_normalized(e, out.p ? out.p : "", out.n, allow_special);
    free(out.p);
}

int tok_encode(const tokenizer *t, const char *text, size_t len, bool allow_special, int **ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    if (!t || (!text && len)) return -1;
    if (!utf8_valid(text, len, NULL)) return -1;
    enc e = {.t = t};
    split_added(&e, &t->raw_set, text, len, allow_special, normalize_then_split);
    free(e.sym);
    free(e.heap);
    if (e.oom) { free(e.ids); return -1; }
    if (!e.ids) e.ids = malloc(sizeof(int));
    if (!e.ids) return -1;
    *ids = e.ids;
    *n = e.n;
    return 0;
}

/* ------------------------------------------------------------------ decoding and lookups */

int tok_pretokenize(const tokenizer *t, const char *text, size_t len, bool allow_special,
                    void (*piece)(void *ctx, const char *bytes, size_t n), void *ctx) {
    if (!t || !piece || (!text && len)) return -1;
    if (!utf8_valid(text, len, NULL)) return -1;
    enc e = {.t = t, .piece = piece, .piece_ctx = ctx};
    split_added(&e, &t->raw_set, text, len, allow_special, normalize_then_split);
    free(e.ids); /* the ids of added tokens, not wanted here */
    return e.oom ? -1 : 0;
}

const char *tok_token_bytes(const tokenizer *t, int id, size_t *len) {
    if (!t || id < 0 || id >= t->n_ids || !(t->flags[id] & ID_PRESENT)) return NULL;
    *len = t->bytes_len[id];
    return t->bytes.p + t->bytes_off[id];
}

char *tok_decode(const tokenizer *t, const int *ids, size_t n, bool skip_special) {
    if (!t) return NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        if (!tok_token_bytes(t, ids[i], &l)) return NULL;
        total += l;
    }
    char *out = malloc(total + 1), *p = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (skip_special && (t->flags[ids[i]] & ID_SPECIAL)) continue;
        size_t l = 0;
        const char *b = tok_token_bytes(t, ids[i], &l);
        memcpy(p, b, l);
        p += l;
    }
    *p = 0;
    return out;
}

int tok_token_to_id(const tokenizer *t, const char *token) {
    if (!t || !token) return -1;
    return str_lookup(t, token, strlen(token));
}

bool tok_is_special(const tokenizer *t, int id) {
    return t && id >= 0 && id < t->n_ids && (t->flags[id] & ID_SPECIAL);
}

int tok_vocab_size(const tokenizer *t) { return t ? t->n_ids : 0; }
