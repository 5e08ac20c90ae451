/* The inference latency benchmark (see latency.h). */
#include "bench/latency.h"
#include "core/err.h"
#include "core/jsonl.h"
#include "core/progress.h"
#include "core/timing.h"
#include "model/gguf.h"
#include "model/lora_apply.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* The original project's built-in prompts. */
static const char *const builtin[] = {
    "Write a function to calculate fibonacci numbers.", "Implement a binary search tree.",
    "Create a simple HTTP server.", "Write a sorting algorithm.", "Implement a stack data structure.",
};

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double lat_percentile(const double *v, size_t n, double p) {
    if (!n) return 0;
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return v[k - 1];
}

static void stats(double *v, size_t n, lat_stats *s) {
    memset(s, 0, sizeof *s);
    if (!n) return;
    qsort(v, n, sizeof *v, cmp_d);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += v[i];
    s->mean = sum / (double)n;
    s->min = v[0];
    s->max = v[n - 1];
    s->p50 = lat_percentile(v, n, 50);
    s->p90 = lat_percentile(v, n, 90);
    s->p99 = lat_percentile(v, n, 99);
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

typedef struct {
    char **text;
    int n, cap;
} prompt_list;

static int read_prompts(const lat_opts *o, prompt_list *pl, char *err, size_t errcap) {
    if (!o->prompts_file) {
        for (int i = 0; i < 5 && i < o->num_prompts; i++) pl->text[pl->n++] = strdup(builtin[i]);
        return 0;
    }
    jsonl_reader r;
    if (jsonl_open(&r, o->prompts_file)) { err_set(err, errcap, "%s: cannot read: %s", o->prompts_file, strerror(errno)); return -1; }
    cJSON *obj;
    int got, rc = 0;
    while (pl->n < o->num_prompts && (got = jsonl_next(&r, &obj, err, errcap)) != 0) {
        if (got < 0) { rc = -1; break; }
        const char *p = json_get_str(obj, "prompt", json_get_str(obj, "text", NULL));
        if (!p || !*p) {
            err_set(err, errcap, "%s:%ld: no \"prompt\" (or \"text\") string", o->prompts_file, r.lineno);
            cJSON_Delete(obj);
            rc = -1;
            break;
        }
        pl->text[pl->n++] = strdup(p);
        cJSON_Delete(obj);
    }
    jsonl_close(&r);
    if (!rc && !pl->n) { err_set(err, errcap, "%s: no prompts", o->prompts_file); rc = -1; }
    return rc;
}

/* One greedy generation; times in ms go to ttft / tok (n_tok entries appended). Returns tokens made, or -1. */
static int run_one(model *m, const int *ids, int n, int max_new, bool ignore_eos, double *ttft, double *tok, int *n_tok,
                   char *err, size_t errcap) {
    const model_config *c = model_get_config(m);
    kv_cache *kv = kv_create(m, 1, n + max_new + 1);
    float *logits = malloc((size_t)c->vocab_size * sizeof *logits);
    int made = -1;
    if (!kv || !logits) { err_set(err, errcap, "out of memory for the KV cache"); goto out; }
    int slot = 0, cur;
    const int *toks[1] = {ids};
    int ntok[1] = {n};
    double t0 = time_now();
    if (model_forward(m, kv, 1, &slot, toks, ntok, logits, err, errcap)) goto out;
    cur = argmax(logits, c->vocab_size);
    double t = time_now();
    if (ttft) *ttft = (t - t0) * 1e3;
    made = 1;
    for (; made < max_new; made++) {
        if (!ignore_eos) {
            bool eos = false;
            for (int i = 0; i < c->n_eos; i++) eos |= cur == c->eos_ids[i];
            if (eos) break;
        }
        toks[0] = &cur;
        ntok[0] = 1;
        if (model_forward(m, kv, 1, &slot, toks, ntok, logits, err, errcap)) { made = -1; goto out; }
        cur = argmax(logits, c->vocab_size);
        double t2 = time_now();
        if (tok) tok[(*n_tok)++] = (t2 - t) * 1e3;
        t = t2;
    }
out:
    kv_free(kv);
    free(logits);
    return made;
}

int lat_run(const lat_opts *o, lat_result *r, char *err, size_t errcap) {
    memset(r, 0, sizeof *r);
    prompt_list pl = {.text = calloc((size_t)o->num_prompts + 5, sizeof(char *))};
    tokenizer *t = NULL;
    model *m = NULL;
    double *ttft = NULL, *tok = NULL, *total = NULL;
    int **ids = NULL;
    size_t *nids = NULL;
    int rc = -1;
    if (!pl.text) { err_set(err, errcap, "out of memory"); return -1; }
    if (read_prompts(o, &pl, err, errcap)) goto out;
    double t0 = time_now();
    char tok_dir[4096];
    if (model_tokenizer_dir(o->model, tok_dir, sizeof tok_dir, err, errcap)) goto out;
    if (!(t = gguf_model_tokenizer(tok_dir, NULL, err, errcap))) goto out;
    if (!(m = model_load(o->model, err, errcap))) goto out;
    model_set_precision(m, o->precision);
    r->load_s = time_now() - t0;
    r->threads = omp_get_max_threads();
    ids = calloc((size_t)pl.n, sizeof *ids);
    nids = calloc((size_t)pl.n, sizeof *nids);
    ttft = calloc((size_t)pl.n, sizeof *ttft);
    total = calloc((size_t)pl.n, sizeof *total);
    tok = calloc((size_t)pl.n * (size_t)o->max_tokens + 1, sizeof *tok);
    if (!ids || !nids || !ttft || !total || !tok) { err_set(err, errcap, "out of memory"); goto out; }
    const int maxpos = model_get_config(m)->max_position;
    for (int i = 0; i < pl.n; i++) {
        if (tok_encode(t, pl.text[i], strlen(pl.text[i]), false, &ids[i], &nids[i]) || nids[i] == 0) {
            err_set(err, errcap, "prompt %d: not valid UTF-8, or empty", i + 1);
            goto out;
        }
        if ((long)nids[i] + o->max_tokens > maxpos) {
            err_set(err, errcap, "prompt %d: %zu tokens + --max-tokens %d pass the model's context (%d)", i + 1, nids[i],
                    o->max_tokens, maxpos);
            goto out;
        }
    }
    for (int w = 0; w < o->warmup; w++)
        if (run_one(m, ids[0], (int)nids[0], o->max_tokens, o->ignore_eos, NULL, NULL, NULL, err, errcap) < 0) goto out;
    progress p;
    progress_start(&p, "inference benchmark", pl.n, "prompts");
    int n_tok = 0;
    double gen_s = 0, decode_s = 0;
    for (int i = 0; i < pl.n; i++) {
        int before = n_tok;
        double s0 = time_now();
        int made = run_one(m, ids[i], (int)nids[i], o->max_tokens, o->ignore_eos, &ttft[i], tok, &n_tok, err, errcap);
        if (made < 0) goto out;
        total[i] = (time_now() - s0) * 1e3;
        gen_s += total[i] / 1e3;
        for (int k = before; k < n_tok; k++) decode_s += tok[k] / 1e3;
        r->prompt_tokens += (long)nids[i];
        r->generated_tokens += made;
        progress_update(&p, i + 1);
    }
    progress_finish(&p);
    r->n_prompts = pl.n;
    r->tokens_per_s = gen_s > 0 ? (double)r->generated_tokens / gen_s : 0;
    r->decode_tokens_per_s = decode_s > 0 ? (double)n_tok / decode_s : 0;
    stats(ttft, (size_t)pl.n, &r->ttft_ms);
    stats(tok, (size_t)n_tok, &r->token_ms);
    stats(total, (size_t)pl.n, &r->total_ms);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r->peak_rss_mib = (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
    rc = 0;
out:
    for (int i = 0; i < pl.n; i++) {
        free(pl.text[i]);
        if (ids) free(ids[i]);
    }
    free(pl.text);
    free(ids);
    free(nids);
    free(ttft);
    free(tok);
    free(total);
    model_free(m);
    tok_free(t);
    return rc;
}

static void add_stats(cJSON *o, const char *name, const lat_stats *s) {
    cJSON *j = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(j, "mean", s->mean);
    cJSON_AddNumberToObject(j, "min", s->min);
    cJSON_AddNumberToObject(j, "max", s->max);
    cJSON_AddNumberToObject(j, "p50", s->p50);
    cJSON_AddNumberToObject(j, "p90", s->p90);
    cJSON_AddNumberToObject(j, "p99", s->p99);
}

char *lat_json(const lat_opts *o, const lat_result *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", o->model);
    cJSON_AddStringToObject(j, "prompts", o->prompts_file ? o->prompts_file : "built-in");
    cJSON_AddNumberToObject(j, "num_prompts", r->n_prompts);
    cJSON_AddNumberToObject(j, "max_tokens", o->max_tokens);
    cJSON_AddNumberToObject(j, "warmup", o->warmup);
    cJSON_AddStringToObject(j, "precision", o->precision == MODEL_PRECISION_FAST ? "fast" : "exact");
    cJSON_AddNumberToObject(j, "threads", r->threads);
    cJSON_AddNumberToObject(j, "load_s", r->load_s);
    cJSON_AddNumberToObject(j, "prompt_tokens", (double)r->prompt_tokens);
    cJSON_AddNumberToObject(j, "generated_tokens", (double)r->generated_tokens);
    add_stats(j, "ttft_ms", &r->ttft_ms);
    add_stats(j, "token_latency_ms", &r->token_ms);
    add_stats(j, "latency_ms", &r->total_ms);
    cJSON_AddNumberToObject(j, "tokens_per_s", r->tokens_per_s);
    cJSON_AddNumberToObject(j, "decode_tokens_per_s", r->decode_tokens_per_s);
    cJSON_AddNumberToObject(j, "peak_rss_mib", r->peak_rss_mib);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}
