#include "train/data.h"
#include "core/err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonl.h"
#include "core/rng.h"

void data_free(data_set *ds) {
    free(ds->ex);
    free(ds->tok_pool);
    free(ds->tgt_pool);
    memset(ds, 0, sizeof *ds);
}

/* Appends the tokens of text[0..len) with target flag tg. */
typedef struct {
    int *tok;
    uint8_t *tgt;
    size_t n, cap;
} tbuf;

static int tb_add(tbuf *b, const tokenizer *tok, const char *text, size_t len, bool tg) {
    if (!len) return 0;
    int *ids;
    size_t n;
    if (tok_encode(tok, text, len, true, &ids, &n)) return -1;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        int *t = realloc(b->tok, cap * sizeof(int));
        if (t) b->tok = t;
        uint8_t *g = realloc(b->tgt, cap);
        if (g) b->tgt = g;
        if (!t || !g) { free(ids); return -1; }
        b->cap = cap;
    }
    memcpy(b->tok + b->n, ids, n * sizeof(int));
    memset(b->tgt + b->n, tg ? 1 : 0, n);
    b->n += n;
    free(ids);
    return 0;
}

static int add_example(data_set *ds, const tbuf *b, long line, int max_len, char *err, size_t errcap) {
    int len = (int)(b->n < (size_t)max_len ? b->n : (size_t)max_len);
    int nt = 0;
    for (int i = 1; i < len; i++) nt += b->tgt[i];
    if (len < 2 || nt == 0) {
        err_set(err, errcap, "no target tokens%s", b->n > (size_t)max_len ? " within --max-seq-length" : "");
        return -1;
    }
    if ((ds->n & (ds->n - 1)) == 0) { /* grow at powers of two */
        data_example *e = realloc(ds->ex, (size_t)(ds->n ? 2 * ds->n : 1) * sizeof *e);
        if (!e) { err_set(err, errcap, "out of memory"); return -1; }
        ds->ex = e;
    }
    int *tp = realloc(ds->tok_pool, (ds->pool_len + (size_t)len) * sizeof(int));
    if (tp) ds->tok_pool = tp;
    uint8_t *gp = realloc(ds->tgt_pool, ds->pool_len + (size_t)len);
    if (gp) ds->tgt_pool = gp;
    if (!tp || !gp) { err_set(err, errcap, "out of memory"); return -1; }
    memcpy(ds->tok_pool + ds->pool_len, b->tok, (size_t)len * sizeof(int));
    memcpy(ds->tgt_pool + ds->pool_len, b->tgt, (size_t)len);
    ds->ex[ds->n++] = (data_example){.off = ds->pool_len, .len = len, .n_targets = nt, .line = line};
    ds->pool_len += (size_t)len;
    return 0;
}

static const char *str_item(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Renders a conversation into b: assistant turns are targets (all tokens with train_on_prompt). */
static int add_chat(tbuf *b, const tokenizer *tok, const data_options *o, const chat_message *msgs, size_t n,
                    char *err, size_t errcap) {
    char *full = chat_render(o->tpl, msgs, n, false);
    if (!full) { err_set(err, errcap, "out of memory"); return -1; }
    size_t done = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(msgs[i].role, "assistant")) continue;
        char *pre = chat_render(o->tpl, msgs, i, true), *upto = chat_render(o->tpl, msgs, i + 1, false);
        size_t a = pre ? strlen(pre) : 0, z = upto ? strlen(upto) : 0;
        /* The template must render each conversation prefix as a prefix of the whole. */
        if (!pre || !upto || a < done || z < a || strncmp(full, upto, z)) {
            err_set(err, errcap, "the chat template cannot separate the assistant turns");
            rc = -1;
        } else if (tb_add(b, tok, full + done, a - done, o->train_on_prompt) ||
                   tb_add(b, tok, full + a, z - a, true)) {
            err_set(err, errcap, "text is not valid UTF-8");
            rc = -1;
        }
        done = z;
        free(pre);
        free(upto);
    }
    if (rc == 0 && tb_add(b, tok, full + done, strlen(full) - done, o->train_on_prompt)) {
        err_set(err, errcap, "text is not valid UTF-8");
        rc = -1;
    }
    free(full);
    return rc;
}

int data_add_record(data_set *ds, const void *record, long line, const tokenizer *tok, const data_options *o,
                    char *err, size_t errcap) {
    const cJSON *r = record;
    tbuf b = {0};
    int rc = -1;
    const char *text = str_item(r, "text"), *prompt = str_item(r, "prompt");
    const char *completion = str_item(r, "completion") ? str_item(r, "completion") : str_item(r, "response");
    const char *instruction = str_item(r, "instruction"), *output = str_item(r, "output");
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(r, "messages");
    if (text) {
        if (tb_add(&b, tok, text, strlen(text), true)) { err_set(err, errcap, "\"text\" is not valid UTF-8"); goto out; }
    } else if (messages) {
        int n = cJSON_GetArraySize(messages);
        if (!cJSON_IsArray(messages) || n == 0) { err_set(err, errcap, "\"messages\" must be a non-empty array"); goto out; }
        chat_message *msgs = calloc((size_t)n, sizeof *msgs);
        if (!msgs) { err_set(err, errcap, "out of memory"); goto out; }
        bool ok = true, any = false;
        for (int i = 0; i < n && ok; i++) {
            const cJSON *m = cJSON_GetArrayItem(messages, i);
            msgs[i].role = str_item(m, "role");
            msgs[i].content = str_item(m, "content");
            if (!msgs[i].role || !msgs[i].content) {
                err_set(err, errcap, "messages[%d] needs string \"role\" and \"content\"", i);
                ok = false;
            } else if (!strcmp(msgs[i].role, "assistant")) {
                any = true;
            }
        }
        if (ok && !any) { err_set(err, errcap, "\"messages\" has no assistant turn to learn"); ok = false; }
        if (ok && add_chat(&b, tok, o, msgs, (size_t)n, err, errcap)) ok = false;
        free(msgs);
        if (!ok) goto out;
    } else if (prompt && completion) {
        /* an optional "system" string becomes the system turn, so a record can train with the same
         * system prompt the benchmark and RAFT sample with */
        const char *system = str_item(r, "system");
        chat_message msgs[3] = {{"system", system}, {"user", prompt}, {"assistant", completion}};
        if (add_chat(&b, tok, o, system ? msgs : msgs + 1, system ? 3 : 2, err, errcap)) goto out;
    } else if (instruction && output) {
        const char *input = str_item(r, "input");
        size_t len = strlen(instruction) + (input ? strlen(input) : 0) + 3;
        char *user = malloc(len);
        if (!user) { err_set(err, errcap, "out of memory"); goto out; }
        snprintf(user, len, "%s%s%s", instruction, input && *input ? "\n\n" : "", input && *input ? input : "");
        chat_message msgs[3] = {{"system", "You are a helpful assistant."}, {"user", user}, {"assistant", output}};
        int bad = add_chat(&b, tok, o, msgs, 3, err, errcap);
        free(user);
        if (bad) goto out;
    } else {
        err_set(err, errcap, "no \"text\", \"messages\", \"prompt\"+\"completion\"/\"response\" or "
                            "\"instruction\"+\"output\" string fields");
        goto out;
    }
    rc = add_example(ds, &b, line, o->max_seq_len, err, errcap);
out:
    free(b.tok);
    free(b.tgt);
    return rc;
}

void data_epoch_order(int *order, int n, uint64_t seed, long epoch, bool shuffle) {
    for (int i = 0; i < n; i++) order[i] = i;
    if (!shuffle) return;
    rng_state r;
    rng_seed(&r, seed * 0x9e3779b97f4a7c15ull + (uint64_t)epoch + 1);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Keeps the examples listed in keep[0..n) (in that order) in ds. */
static int subset(data_set *ds, const int *keep, int n) {
    data_example *e = malloc((size_t)(n ? n : 1) * sizeof *e);
    if (!e) return -1;
    for (int i = 0; i < n; i++) e[i] = ds->ex[keep[i]];
    free(ds->ex);
    ds->ex = e;
    ds->n = n;
    return 0;
}

int data_load(data_set *ds, const char *path, const tokenizer *tok, const data_options *o, data_warn_fn warn,
              void *warn_ctx, char *err, size_t errcap) {
    memset(ds, 0, sizeof *ds);
    jsonl_reader r;
    if (jsonl_open(&r, path)) {
        err_set(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char msg[1024], why[512];
    cJSON *rec;
    int got;
    while ((got = jsonl_next(&r, &rec, msg, sizeof msg)) != 0) {
        if (got < 0) {
            ds->n_bad++;
            if (warn) warn(warn_ctx, msg);
            continue;
        }
        if (data_add_record(ds, rec, r.lineno, tok, o, why, sizeof why)) {
            ds->n_bad++;
            if (!strcmp(why, "out of memory")) {
                cJSON_Delete(rec);
                jsonl_close(&r);
                err_set(err, errcap, "%s: out of memory", path);
                return -1;
            }
            snprintf(msg, sizeof msg, "%s:%ld: %s", path, r.lineno, why);
            if (warn) warn(warn_ctx, msg);
        }
        cJSON_Delete(rec);
    }
    jsonl_close(&r);
    if (ds->n == 0) {
        err_set(err, errcap, "%s: no usable records (%ld bad line%s)", path, ds->n_bad, ds->n_bad == 1 ? "" : "s");
        return -1;
    }
    if (o->max_samples > 0 && ds->n > o->max_samples) {
        int *ord = malloc((size_t)ds->n * sizeof(int));
        if (!ord) { err_set(err, errcap, "out of memory"); return -1; }
        data_epoch_order(ord, ds->n, o->seed ^ 0x5eed5a3b1e5ull, -1, true);
        int rc = subset(ds, ord, (int)o->max_samples);
        free(ord);
        if (rc) { err_set(err, errcap, "out of memory"); return -1; }
    }
    return 0;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int data_split(data_set *ds, data_set *val, double fraction, uint64_t seed) {
    memset(val, 0, sizeof *val);
    int keep = (int)((double)ds->n * (1.0 - fraction));
    if (fraction <= 0 || keep <= 0 || keep >= ds->n) return 0;
    int *ord = malloc((size_t)ds->n * sizeof(int));
    if (!ord) return -1;
    data_epoch_order(ord, ds->n, seed ^ 0x7a11d5e7ull, -2, true);
    int nv = ds->n - keep;
    val->ex = malloc((size_t)nv * sizeof *val->ex);
    /* Both sets share the pools through copies of the examples: the validation set gets its own copy. */
    size_t vlen = 0;
    for (int i = keep; i < ds->n; i++) vlen += (size_t)ds->ex[ord[i]].len;
    val->tok_pool = malloc(vlen * sizeof(int));
    val->tgt_pool = malloc(vlen ? vlen : 1);
    if (!val->ex || !val->tok_pool || !val->tgt_pool) {
        free(ord);
        data_free(val);
        return -1;
    }
    for (int i = keep; i < ds->n; i++) {
        data_example e = ds->ex[ord[i]];
        memcpy(val->tok_pool + val->pool_len, ds->tok_pool + e.off, (size_t)e.len * sizeof(int));
        memcpy(val->tgt_pool + val->pool_len, ds->tgt_pool + e.off, (size_t)e.len);
        e.off = val->pool_len;
        val->pool_len += (size_t)e.len;
        val->ex[val->n++] = e;
    }
    /* The training part keeps file order among itself (its epochs are shuffled separately). */
    int *train = malloc((size_t)keep * sizeof(int));
    if (!train) { free(ord); data_free(val); return -1; }
    for (int i = 0; i < keep; i++) train[i] = ord[i];
    qsort(train, (size_t)keep, sizeof(int), cmp_int);
    int rc = subset(ds, train, keep);
    free(train);
    free(ord);
    return rc;
}

int data_make_batch(data_batch *db, const data_set *ds, const int *order, int first, int count) {
    int n = 0;
    for (int i = 0; i < count; i++) n += ds->ex[order[first + i]].len;
    if (n > db->cap_tokens) {
        int *t = realloc(db->tokens, (size_t)n * sizeof(int));
        if (t) db->tokens = t;
        uint8_t *g = realloc(db->target, (size_t)n);
        if (g) db->target = g;
        if (!t || !g) return -1;
        db->cap_tokens = n;
    }
    if (count + 1 > db->cap_seqs) {
        int *s = realloc(db->seq_start, (size_t)(count + 1) * sizeof(int));
        if (!s) return -1;
        db->seq_start = s;
        db->cap_seqs = count + 1;
    }
    int t = 0;
    db->n_targets = 0;
    for (int i = 0; i < count; i++) {
        const data_example *e = &ds->ex[order[first + i]];
        db->seq_start[i] = t;
        memcpy(db->tokens + t, ds->tok_pool + e->off, (size_t)e->len * sizeof(int));
        memcpy(db->target + t, ds->tgt_pool + e->off, (size_t)e->len);
        db->target[t] = 0;
        db->n_targets += e->n_targets;
        t += e->len;
    }
    db->seq_start[count] = t;
    db->b = (train_batch){.n_tokens = t, .n_seqs = count, .tokens = db->tokens, .seq_start = db->seq_start,
                          .target = db->target};
    return 0;
}

void data_batch_free(data_batch *db) {
    free(db->tokens);
    free(db->seq_start);
    free(db->target);
    memset(db, 0, sizeof *db);
}
