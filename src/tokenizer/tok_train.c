/* tok_train: byte-level BPE training (see tok_train.h).
 *
 * Words are the distinct pre-tokenized pieces with their frequencies; each holds its current
 * token sequence. Every adjacent pair has a count (summed word frequencies) and a list of the words
 * it occurs in. A merge rewrites only the words on its pair's list and adjusts the counts of the
 * pairs in them, so a merge costs the size of the words it touches, never a full recount.
 * The next pair comes from a max-heap whose entries may be stale: a merge only ever lowers the
 * counts of existing pairs (new adjacencies all involve the new token, and those are pushed with
 * their counts), so an entry is an upper bound; a popped entry whose count is out of date goes
 * back in with the current count. */
#include "tokenizer/tok_train.h"
#include "tokenizer/tok_write.h"
#include "tokenizer/tokenizer.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t off, len; /* bytes in tr->wbytes */
    int64_t freq;
    int *sym;          /* current tokens (in tr->sympool after tok_train_run starts) */
    int nsym;
} word;

typedef struct {
    int a, b;
    int64_t count;
    int *words;        /* indices of words holding the pair (no adjacent duplicates; may hold stale ones) */
    int nw, cap;
    int pushed;        /* merge number when last pushed to the heap */
} pair;

typedef struct {
    int64_t count;
    int a, b;
} heap_entry;

typedef struct {
    char *p;
    size_t n, cap;
} bytes;

struct tok_trainer {
    tokenizer *base;   /* the byte vocabulary with the final pre-tokenizer: for pre-tokenization */
    word *words;
    int n_words, cap_words;
    bytes wbytes;
    uint32_t *wtable;  /* word index + 1, open addressing */
    uint32_t wmask;
    int64_t text_bytes, pieces;
    bool oom;

    /* training */
    bool trained;
    int *sympool;
    bytes tbytes;      /* token bytes */
    uint32_t *tok_off, *tok_len;
    int n_tokens, cap_tokens;
    uint32_t *ttable;  /* token id + 1 by bytes */
    uint32_t tmask;
    int (*merges)[2];
    int n_merges;
    pair *pairs;
    int n_pairs, cap_pairs;
    uint32_t *ptable;  /* pair index + 1 by (a, b) */
    uint32_t pmask;
    heap_entry *heap;
    size_t n_heap, cap_heap;
};

static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_pair(int a, int b) {
    uint64_t k = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) * 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 31);
}

static bool bytes_add(bytes *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return true;
}

/* Grows *arr (elements of size sz) to hold at least need; false when out of memory. */
static bool grow(void **arr, int *cap, int need, size_t sz) {
    if (need <= *cap) return true;
    int c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    void *p = realloc(*arr, (size_t)c * sz);
    if (!p) return false;
    *arr = p;
    *cap = c;
    return true;
}

/* A fresh table of 2^k slots (k from n entries, at most half full). */
static uint32_t *table_new(size_t n, uint32_t *mask) {
    size_t size = 1024;
    while (size < n * 2) size *= 2;
    *mask = (uint32_t)(size - 1);
    return calloc(size, sizeof(uint32_t));
}

/* ------------------------------------------------------------------ corpus */

static const char *word_bytes(const tok_trainer *tr, const word *w) { return tr->wbytes.p + w->off; }

static bool word_rehash(tok_trainer *tr) {
    uint32_t mask;
    uint32_t *t = table_new((size_t)tr->n_words * 2, &mask);
    if (!t) return false;
    for (int i = 0; i < tr->n_words; i++) {
        uint32_t s = (uint32_t)hash_bytes(word_bytes(tr, &tr->words[i]), tr->words[i].len) & mask;
        while (t[s]) s = (s + 1) & mask;
        t[s] = (uint32_t)i + 1;
    }
    free(tr->wtable);
    tr->wtable = t;
    tr->wmask = mask;
    return true;
}

static void count_piece(void *ctx, const char *s, size_t n) {
    tok_trainer *tr = ctx;
    if (tr->oom || n == 0) return;
    if (n > UINT32_MAX / 2) { tr->oom = true; return; }
    tr->pieces++;
    uint32_t slot = (uint32_t)hash_bytes(s, n) & tr->wmask;
    for (uint32_t i; (i = tr->wtable[slot]); slot = (slot + 1) & tr->wmask) {
        word *w = &tr->words[i - 1];
        if (w->len == n && !memcmp(word_bytes(tr, w), s, n)) { w->freq++; return; }
    }
    if (!grow((void **)&tr->words, &tr->cap_words, tr->n_words + 1, sizeof *tr->words) ||
        tr->wbytes.n + n > UINT32_MAX || !bytes_add(&tr->wbytes, s, n)) {
        tr->oom = true;
        return;
    }
    tr->words[tr->n_words] = (word){(uint32_t)(tr->wbytes.n - n), (uint32_t)n, 1, NULL, 0};
    tr->wtable[slot] = (uint32_t)++tr->n_words;
    if ((uint32_t)tr->n_words * 2 > tr->wmask && !word_rehash(tr)) tr->oom = true;
}

/* The tokenizer.json of the 256 byte tokens alone, unformatted (heap), or NULL when out of memory. */
static char *base_json(void) {
    cJSON *vocab = cJSON_CreateObject(), *merges = cJSON_CreateArray();
    if (!vocab || !merges) {
        cJSON_Delete(vocab);
        cJSON_Delete(merges);
        return NULL;
    }
    char name[8];
    for (int b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        tok_byte_level(&c, 1, name);
        cJSON_AddNumberToObject(vocab, name, b);
    }
    cJSON *doc = tok_bpe_document(vocab, merges, 256);
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    return text;
}

tok_trainer *tok_train_new(char *err, size_t errcap) {
    tok_trainer *tr = calloc(1, sizeof *tr);
    char *text = tr ? base_json() : NULL;
    if (!text) {
        free(tr);
        err_set(err, errcap, "tok_train: out of memory");
        return NULL;
    }
    /* The pre-tokenizer of the tokenizer being trained, so pieces split exactly as encoding will. */
    tr->base = tok_load_json(text, strlen(text), "tok_train base tokenizer", err, errcap);
    free(text);
    if (!tr->base) {
        free(tr);
        return NULL;
    }
    tr->wtable = table_new(1024, &tr->wmask);
    if (!tr->wtable) {
        tok_train_free(tr);
        err_set(err, errcap, "tok_train: out of memory");
        return NULL;
    }
    return tr;
}

void tok_train_free(tok_trainer *tr) {
    if (!tr) return;
    tok_free(tr->base);
    free(tr->words);
    free(tr->wbytes.p);
    free(tr->wtable);
    free(tr->sympool);
    free(tr->tbytes.p);
    free(tr->tok_off);
    free(tr->tok_len);
    free(tr->ttable);
    free(tr->merges);
    for (int i = 0; i < tr->n_pairs; i++) free(tr->pairs[i].words);
    free(tr->pairs);
    free(tr->ptable);
    free(tr->heap);
    free(tr);
}

int tok_train_add_text(tok_trainer *tr, const char *text, size_t len, const char *name, char *err, size_t errcap) {
    if (tr->trained) { err_set(err, errcap, "%s: the trainer has already run", name); return -1; }
    if (tok_pretokenize(tr->base, text, len, true, count_piece, tr) != 0) {
        err_set(err, errcap, "%s: %s", name, tr->oom ? "out of memory" : "not valid UTF-8 text");
        return -1;
    }
    if (tr->oom) { err_set(err, errcap, "%s: out of memory", name); return -1; }
    tr->text_bytes += (int64_t)len;
    return 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Adds the string at key when present; fails on a value of another type. */
static int add_field(tok_trainer *tr, const cJSON *rec, const char *key, const char *where, int *found, char *err,
                     size_t errcap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) { err_set(err, errcap, "%s: \"%s\" is not a string", where, key); return -1; }
    (*found)++;
    return tok_train_add_text(tr, v->valuestring, strlen(v->valuestring), where, err, errcap);
}

static int add_record(tok_trainer *tr, const cJSON *rec, const char *where, char *err, size_t errcap) {
    int found = 0;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(rec, "messages");
    if (msgs) {
        if (!cJSON_IsArray(msgs)) { err_set(err, errcap, "%s: \"messages\" is not an array", where); return -1; }
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs) {
            if (!cJSON_IsObject(m)) { err_set(err, errcap, "%s: a message is not an object", where); return -1; }
            if (add_field(tr, m, "content", where, &found, err, errcap)) return -1;
        }
        if (!found) { err_set(err, errcap, "%s: no message has a \"content\"", where); return -1; }
        return 0;
    }
    static const char *const keys[] = {"text", "prompt", "completion", "response", "instruction", "input", "output"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (add_field(tr, rec, keys[i], where, &found, err, errcap)) return -1;
    if (!found) {
        err_set(err, errcap, "%s: no text field (text, messages, prompt/completion/response, instruction/input/output)",
                where);
        return -1;
    }
    return 0;
}

int tok_train_add_file(tok_trainer *tr, const char *path, char *err, size_t errcap) {
    if (!ends_with(path, ".jsonl")) {
        size_t len;
        char *text = fs_read_file(path, &len);
        if (!text) { err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno)); return -1; }
        int rc = tok_train_add_text(tr, text, len, path, err, errcap);
        free(text);
        return rc;
    }
    jsonl_reader r;
    if (jsonl_open(&r, path)) { err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno)); return -1; }
    int rc = 0;
    for (;;) {
        cJSON *rec;
        int got = jsonl_next(&r, &rec, err, errcap);
        if (got == 0) break;
        if (got < 0) { rc = -1; break; }
        char where[4200];
        snprintf(where, sizeof where, "%s:%ld", path, r.lineno);
        rc = add_record(tr, rec, where, err, errcap);
        cJSON_Delete(rec);
        if (rc) break;
    }
    jsonl_close(&r);
    return rc;
}

/* ------------------------------------------------------------------ tokens */

static int token_find(const tok_trainer *tr, const char *s, size_t n) {
    uint32_t slot = (uint32_t)hash_bytes(s, n) & tr->tmask;
    for (uint32_t i; (i = tr->ttable[slot]); slot = (slot + 1) & tr->tmask)
        if (tr->tok_len[i - 1] == n && !memcmp(tr->tbytes.p + tr->tok_off[i - 1], s, n)) return (int)i - 1;
    return -1;
}

/* Appends a token (bytes not yet in the vocabulary); its id, or -1 when out of memory. */
static int token_add(tok_trainer *tr, const char *s, size_t n) {
    if (tr->n_tokens == tr->cap_tokens) {
        int cap = tr->cap_tokens ? tr->cap_tokens * 2 : 1024;
        uint32_t *o = realloc(tr->tok_off, (size_t)cap * sizeof *o);
        if (o) tr->tok_off = o;
        uint32_t *l = o ? realloc(tr->tok_len, (size_t)cap * sizeof *l) : NULL;
        if (l) tr->tok_len = l;
        if (!o || !l) return -1;
        tr->cap_tokens = cap;
    }
    if ((uint32_t)(tr->n_tokens + 1) * 2 > tr->tmask) {
        uint32_t mask;
        uint32_t *t = table_new((size_t)tr->n_tokens * 2, &mask);
        if (!t) return -1;
        for (int i = 0; i < tr->n_tokens; i++) {
            uint32_t slot = (uint32_t)hash_bytes(tr->tbytes.p + tr->tok_off[i], tr->tok_len[i]) & mask;
            while (t[slot]) slot = (slot + 1) & mask;
            t[slot] = (uint32_t)i + 1;
        }
        free(tr->ttable);
        tr->ttable = t;
        tr->tmask = mask;
    }
    if (tr->tbytes.n + n > UINT32_MAX || !bytes_add(&tr->tbytes, s, n)) return -1;
    int id = tr->n_tokens++;
    tr->tok_off[id] = (uint32_t)(tr->tbytes.n - n);
    tr->tok_len[id] = (uint32_t)n;
    uint32_t slot = (uint32_t)hash_bytes(s, n) & tr->tmask;
    while (tr->ttable[slot]) slot = (slot + 1) & tr->tmask;
    tr->ttable[slot] = (uint32_t)id + 1;
    return id;
}

/* <0, 0, >0 as token x's bytes sort before, with or after token y's. */
static int token_cmp(const tok_trainer *tr, int x, int y) {
    uint32_t nx = tr->tok_len[x], ny = tr->tok_len[y];
    int c = memcmp(tr->tbytes.p + tr->tok_off[x], tr->tbytes.p + tr->tok_off[y], nx < ny ? nx : ny);
    return c ? c : (nx > ny) - (nx < ny);
}

/* ------------------------------------------------------------------ pairs */

static int pair_find(const tok_trainer *tr, int a, int b) {
    uint32_t slot = (uint32_t)hash_pair(a, b) & tr->pmask;
    for (uint32_t i; (i = tr->ptable[slot]); slot = (slot + 1) & tr->pmask)
        if (tr->pairs[i - 1].a == a && tr->pairs[i - 1].b == b) return (int)i - 1;
    return -1;
}

/* The pair's index, created with count 0 when new; -1 when out of memory. */
static int pair_get(tok_trainer *tr, int a, int b) {
    int i = pair_find(tr, a, b);
    if (i >= 0) return i;
    if (!grow((void **)&tr->pairs, &tr->cap_pairs, tr->n_pairs + 1, sizeof *tr->pairs)) return -1;
    if ((uint32_t)(tr->n_pairs + 1) * 2 > tr->pmask) {
        uint32_t mask;
        uint32_t *t = table_new((size_t)tr->n_pairs * 2, &mask);
        if (!t) return -1;
        for (int k = 0; k < tr->n_pairs; k++) {
            uint32_t slot = (uint32_t)hash_pair(tr->pairs[k].a, tr->pairs[k].b) & mask;
            while (t[slot]) slot = (slot + 1) & mask;
            t[slot] = (uint32_t)k + 1;
        }
        free(tr->ptable);
        tr->ptable = t;
        tr->pmask = mask;
    }
    i = tr->n_pairs++;
    tr->pairs[i] = (pair){a, b, 0, NULL, 0, 0, -1};
    uint32_t slot = (uint32_t)hash_pair(a, b) & tr->pmask;
    while (tr->ptable[slot]) slot = (slot + 1) & tr->pmask;
    tr->ptable[slot] = (uint32_t)i + 1;
    return i;
}

static bool pair_note_word(pair *p, int w) {
    if (p->nw && p->words[p->nw - 1] == w) return true;
    if (!grow((void **)&p->words, &p->cap, p->nw + 1, sizeof *p->words)) return false;
    p->words[p->nw++] = w;
    return true;
}

/* Heap order: higher count first, then the pair whose tokens' bytes sort first. */
static bool entry_before(const tok_trainer *tr, const heap_entry *x, const heap_entry *y) {
    if (x->count != y->count) return x->count > y->count;
    int c = token_cmp(tr, x->a, y->a);
    if (c) return c < 0;
    return token_cmp(tr, x->b, y->b) < 0;
}

static bool heap_push(tok_trainer *tr, heap_entry e) {
    if (tr->n_heap == tr->cap_heap) {
        size_t cap = tr->cap_heap ? tr->cap_heap * 2 : 4096;
        heap_entry *h = realloc(tr->heap, cap * sizeof *h);
        if (!h) return false;
        tr->heap = h;
        tr->cap_heap = cap;
    }
    size_t i = tr->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!entry_before(tr, &e, &tr->heap[p])) break;
        tr->heap[i] = tr->heap[p];
        i = p;
    }
    tr->heap[i] = e;
    return true;
}

static heap_entry heap_pop(tok_trainer *tr) {
    heap_entry top = tr->heap[0], last = tr->heap[--tr->n_heap];
    size_t i = 0, n = tr->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && entry_before(tr, &tr->heap[c + 1], &tr->heap[c])) c++;
        if (!entry_before(tr, &tr->heap[c], &last)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (n) tr->heap[i] = last;
    return top;
}

/* Adds sign * the word's frequency to the count of each of its adjacent pairs. With note_token >= 0,
 * records the word in the lists of the pairs that hold that token (new adjacencies). */
static bool word_pairs(tok_trainer *tr, int wi, int64_t sign, int note_token) {
    word *w = &tr->words[wi];
    for (int k = 0; k + 1 < w->nsym; k++) {
        int pi = pair_get(tr, w->sym[k], w->sym[k + 1]);
        if (pi < 0) return false;
        pair *p = &tr->pairs[pi];
        p->count += sign * w->freq;
        if (note_token >= 0 && (p->a == note_token || p->b == note_token) && !pair_note_word(p, wi)) return false;
    }
    return true;
}

/* ------------------------------------------------------------------ training */

static int setup(tok_trainer *tr) {
    size_t total = 0;
    for (int i = 0; i < tr->n_words; i++) total += tr->words[i].len;
    tr->sympool = malloc((total ? total : 1) * sizeof *tr->sympool);
    tr->ttable = table_new(4096, &tr->tmask);
    tr->ptable = table_new(65536, &tr->pmask);
    if (!tr->sympool || !tr->ttable || !tr->ptable) return -1;
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        if (token_add(tr, &c, 1) != b) return -1;
    }
    size_t at = 0;
    for (int i = 0; i < tr->n_words; i++) {
        word *w = &tr->words[i];
        w->sym = tr->sympool + at;
        w->nsym = (int)w->len;
        const unsigned char *s = (const unsigned char *)word_bytes(tr, w);
        for (uint32_t k = 0; k < w->len; k++) w->sym[k] = s[k];
        at += w->len;
        for (int k = 0; k + 1 < w->nsym; k++) {
            int pi = pair_get(tr, w->sym[k], w->sym[k + 1]);
            if (pi < 0 || !pair_note_word(&tr->pairs[pi], i)) return -1;
            tr->pairs[pi].count += w->freq;
        }
    }
    return 0;
}

/* Merges pair pi into token c in every word that holds it, then pushes the pairs holding c with
 * their final counts. */
static int apply_merge(tok_trainer *tr, int pi, int c, int stamp, int min_frequency) {
    int a = tr->pairs[pi].a, b = tr->pairs[pi].b;
    int *list = tr->pairs[pi].words, nw = tr->pairs[pi].nw;
    tr->pairs[pi].words = NULL; /* no word holds the pair after this merge: its list is consumed here */
    tr->pairs[pi].nw = tr->pairs[pi].cap = 0;
    int *touched = NULL, n_touched = 0, cap_touched = 0, rc = 0;
    for (int k = 0; k < nw && !rc; k++) {
        int wi = list[k];
        word *w = &tr->words[wi];
        bool holds = false;
        for (int j = 0; j + 1 < w->nsym && !holds; j++) holds = w->sym[j] == a && w->sym[j + 1] == b;
        if (!holds) continue; /* a stale entry, or a word already rewritten */
        if (!word_pairs(tr, wi, -1, -1)) { rc = -1; break; }
        int out = 0;
        for (int j = 0; j < w->nsym; j++) {
            if (j + 1 < w->nsym && w->sym[j] == a && w->sym[j + 1] == b) {
                w->sym[out++] = c;
                j++;
            } else {
                w->sym[out++] = w->sym[j];
            }
        }
        w->nsym = out;
        if (!word_pairs(tr, wi, +1, c)) { rc = -1; break; }
        for (int j = 0; j + 1 < w->nsym; j++) {
            if (w->sym[j] != c && w->sym[j + 1] != c) continue;
            int q = pair_find(tr, w->sym[j], w->sym[j + 1]);
            if (tr->pairs[q].pushed == stamp) continue;
            tr->pairs[q].pushed = stamp;
            if (!grow((void **)&touched, &cap_touched, n_touched + 1, sizeof *touched)) { rc = -1; break; }
            touched[n_touched++] = q;
        }
    }
    for (int k = 0; k < n_touched && !rc; k++) {
        const pair *p = &tr->pairs[touched[k]];
        if (p->count >= min_frequency && !heap_push(tr, (heap_entry){p->count, p->a, p->b})) rc = -1;
    }
    free(touched);
    free(list);
    return rc;
}

int tok_train_run(tok_trainer *tr, const tok_train_options *o, tok_train_stats *stats, char *err, size_t errcap) {
    if (tr->trained) { err_set(err, errcap, "tok_train: the trainer has already run"); return -1; }
    if (o->vocab_size < TOK_TRAIN_MIN_VOCAB) {
        err_set(err, errcap, "vocab size %d is too small: the 256 byte tokens and %d special tokens need %d",
                o->vocab_size, TOK_N_SPECIALS, TOK_TRAIN_MIN_VOCAB);
        return -1;
    }
    if (o->min_frequency < 1) { err_set(err, errcap, "min frequency %d must be at least 1", o->min_frequency); return -1; }
    if (tr->n_words == 0) { err_set(err, errcap, "the corpus is empty: no text to learn from"); return -1; }
    tr->trained = true; /* from here on the word table is rewritten: one run per trainer */
    if (setup(tr)) goto oom;
    for (int i = 0; i < tr->n_pairs; i++)
        if (tr->pairs[i].count >= o->min_frequency &&
            !heap_push(tr, (heap_entry){tr->pairs[i].count, tr->pairs[i].a, tr->pairs[i].b}))
            goto oom;
    int target = o->vocab_size - TOK_N_SPECIALS, max_merges = target - 256, cap_merges = 0;
    while (tr->n_tokens < target && tr->n_heap) {
        heap_entry top = heap_pop(tr);
        int pi = pair_find(tr, top.a, top.b);
        int64_t now = pi >= 0 ? tr->pairs[pi].count : 0;
        if (now != top.count) { /* out of date: back in with the current count */
            if (now >= o->min_frequency && !heap_push(tr, (heap_entry){now, top.a, top.b})) goto oom;
            continue;
        }
        /* The new token's bytes; one made by another merge already keeps its id. */
        uint32_t la = tr->tok_len[top.a], lb = tr->tok_len[top.b];
        char *joined = malloc((size_t)la + lb);
        if (!joined) goto oom;
        memcpy(joined, tr->tbytes.p + tr->tok_off[top.a], la);
        memcpy(joined + la, tr->tbytes.p + tr->tok_off[top.b], lb);
        int c = token_find(tr, joined, (size_t)la + lb);
        if (c < 0) c = token_add(tr, joined, (size_t)la + lb);
        free(joined);
        if (c < 0 || !grow((void **)&tr->merges, &cap_merges, tr->n_merges + 1, sizeof *tr->merges)) goto oom;
        tr->merges[tr->n_merges][0] = top.a;
        tr->merges[tr->n_merges][1] = top.b;
        tr->n_merges++;
        if (apply_merge(tr, pi, c, tr->n_merges, o->min_frequency)) goto oom;
        if (o->progress && (tr->n_merges % 64 == 0)) o->progress(o->progress_ctx, tr->n_tokens - 256, max_merges);
    }
    if (o->progress) o->progress(o->progress_ctx, tr->n_tokens - 256, max_merges);
    free(tr->heap);
    tr->heap = NULL;
    tr->n_heap = tr->cap_heap = 0;
    if (stats) {
        *stats = (tok_train_stats){0};
        stats->text_bytes = tr->text_bytes;
        stats->pieces = tr->pieces;
        stats->words = tr->n_words;
        for (int i = 0; i < tr->n_words; i++) {
            stats->word_bytes += tr->words[i].freq * tr->words[i].len;
            stats->tokens += tr->words[i].freq * tr->words[i].nsym;
        }
        stats->merges = tr->n_merges;
        stats->vocab_size = tr->n_tokens + TOK_N_SPECIALS;
    }
    return 0;
oom:
    err_set(err, errcap, "tok_train: out of memory");
    return -1;
}

int tok_train_write(const tok_trainer *tr, const char *dir, char *err, size_t errcap) {
    if (!tr->trained || !tr->tok_len) { err_set(err, errcap, "%s: no trained tokenizer to write", dir); return -1; }
    size_t longest = 1;
    for (int i = 0; i < tr->n_tokens; i++)
        if (tr->tok_len[i] > longest) longest = tr->tok_len[i];
    char *a = malloc(4 * longest + 2), *b = malloc(2 * longest + 1);
    cJSON *vocab = cJSON_CreateObject(), *merges = cJSON_CreateArray();
    bool ok = a && b && vocab && merges;
    for (int i = 0; ok && i < tr->n_tokens; i++) {
        tok_byte_level((const unsigned char *)tr->tbytes.p + tr->tok_off[i], tr->tok_len[i], a);
        ok = cJSON_AddNumberToObject(vocab, a, i) != NULL;
    }
    for (int m = 0; ok && m < tr->n_merges; m++) {
        int x = tr->merges[m][0], y = tr->merges[m][1];
        tok_byte_level((const unsigned char *)tr->tbytes.p + tr->tok_off[x], tr->tok_len[x], a);
        tok_byte_level((const unsigned char *)tr->tbytes.p + tr->tok_off[y], tr->tok_len[y], b);
        /* "left right": byte-level spellings hold no space, and every tokenizers version reads this
         * form (the ["left", "right"] one needs tokenizers >= 0.20) */
        size_t la = strlen(a);
        a[la] = ' ';
        strcpy(a + la + 1, b);
        ok = cJSON_AddItemToArray(merges, cJSON_CreateString(a));
    }
    free(a);
    free(b);
    if (!ok) {
        cJSON_Delete(vocab);
        cJSON_Delete(merges);
        err_set(err, errcap, "%s: out of memory", dir);
        return -1;
    }
    return tok_write_bpe(dir, vocab, merges, tr->n_tokens, err, errcap);
}
