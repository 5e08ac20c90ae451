/* rollout: sample every selected prompt n times, verify while decoding, resume from a journal. */
#include "bench/rollout.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"
#include "model/lora_apply.h"
#include "model/gguf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const rollout_opts *o;
    rollout_result *r;
    long *slot_of_prompt;   /* [prompts->count]: position of the prompt in the selection, -1 */
    long *stream_index;     /* [n]: the sample's index in the verification stream, -1: not made yet */
    vf_stream *vs;
    FILE *journal;
    bool write_failed, oom;
    progress prog;
} rollout_ctx;

void rollout_opts_default(rollout_opts *o) {
    memset(o, 0, sizeof *o);
    o->label = "rollout";
    o->samples_per_prompt = 8;
    o->max_new_tokens = 1024;
    o->gen_batch_size = 0; /* gen_auto_batch */
    o->temperature = 0.7;
    o->seed = 42;
}

static bool cancelled(const rollout_opts *o) { return o->cancel && *o->cancel; }

static gen_finish finish_parse(const char *name) {
    for (int f = GEN_FINISH_STOP; f <= GEN_FINISH_PROMPT_TOO_LONG; f++)
        if (!strcmp(name, gen_finish_name((gen_finish)f))) return (gen_finish)f;
    return GEN_FINISH_LENGTH;
}

static cJSON *journal_record(const bench_prompt *p, int sample_idx, const char *completion, long n_tokens,
                             gen_finish finish, const int *toks, const float *lps) {
    /* rollout_record's fields */
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "prompt_id", p->id);
    cJSON_AddStringToObject(rec, "prompt", p->prompt);
    cJSON_AddStringToObject(rec, "completion", completion);
    cJSON_AddNumberToObject(rec, "sample_idx", sample_idx);
    cJSON_AddNumberToObject(rec, "n_tokens", (double)n_tokens);
    cJSON_AddStringToObject(rec, "finish_reason", gen_finish_name(finish));
    if (toks && lps) {
        cJSON *t = cJSON_AddArrayToObject(rec, "tokens"), *l = cJSON_AddArrayToObject(rec, "logprobs");
        for (long i = 0; t && l && i < n_tokens; i++) {
            cJSON_AddItemToArray(t, cJSON_CreateNumber(toks[i]));
            cJSON_AddItemToArray(l, cJSON_CreateNumber((double)lps[i]));
        }
    }
    return rec;
}

/* The "tokens" / "logprobs" arrays of a journal line, n entries each (ids in [0, 2^31)); 0, or -1 when absent
 * or malformed (the sample is then generated again). */
static int read_token_arrays(const cJSON *obj, long n, int **toks, float **lps) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "tokens"), *l = cJSON_GetObjectItemCaseSensitive(obj, "logprobs");
    if (!cJSON_IsArray(t) || !cJSON_IsArray(l) || cJSON_GetArraySize(t) != n || cJSON_GetArraySize(l) != n) return -1;
    *toks = malloc((size_t)(n + 1) * sizeof **toks);
    *lps = malloc((size_t)(n + 1) * sizeof **lps);
    if (!*toks || !*lps) goto bad;
    long i = 0;
    const cJSON *a, *b = l->child;
    cJSON_ArrayForEach(a, t) {
        if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b) || a->valuedouble < 0 || a->valuedouble > 2147483647.0) goto bad;
        (*toks)[i] = (int)a->valuedouble;
        (*lps)[i++] = (float)b->valuedouble;
        b = b->next;
    }
    return 0;
bad:
    free(*toks);
    free(*lps);
    *toks = NULL;
    *lps = NULL;
    return -1;
}

/* Keeps sample k (copying completion, taking toks / lps) and hands it to the verifier. 0, or -1 out of memory. */
static int add_sample(rollout_ctx *g, size_t k, const char *completion, long n_tokens, gen_finish finish, int *toks,
                      float *lps) {
    rollout_result *r = g->r;
    if (r->tokens) {
        r->tokens[k] = toks;
        r->logprobs[k] = lps;
    }
    if (!(r->completion[k] = strdup(completion))) return -1;
    r->n_tokens[k] = n_tokens;
    r->finish[k] = finish;
    vf_sample smp;
    bench_prompt_sample(&g->o->prompts->items[r->prompt[k]], completion, &smp);
    return (g->stream_index[k] = vf_stream_submit(g->vs, &smp)) < 0 ? -1 : 0;
}

/* Step 1: the journal's samples, then the journal rewritten with exactly those lines. */
static int resume_journal(rollout_ctx *g, char *err, size_t errcap) {
    const rollout_opts *o = g->o;
    rollout_result *r = g->r;
    const size_t spp = (size_t)o->samples_per_prompt;
    if (!fs_exists(o->journal_path)) return 0;
    jsonl_reader jr;
    if (jsonl_open(&jr, o->journal_path) != 0) {
        err_set(err, errcap, "%s: cannot open: %s", o->journal_path, strerror(errno));
        return -1;
    }
    cJSON *obj;
    char e[256];
    int jrc;
    while ((jrc = jsonl_next(&jr, &obj, e, sizeof e)) != 0) {
        if (jrc < 0) continue; /* a line cut by the interruption */
        long pi = bench_prompts_find(o->prompts, json_get_str(obj, "prompt_id", ""));
        double si = json_get_num(obj, "sample_idx", -1);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, "completion");
        long slot = pi >= 0 ? g->slot_of_prompt[pi] : -1;
        if (slot >= 0 && si >= 0 && si < (double)spp && (double)(long)si == si && cJSON_IsString(c)) {
            size_t k = (size_t)slot * spp + (size_t)si;
            const long ntk = (long)json_get_num(obj, "n_tokens", 0);
            int *toks = NULL;
            float *lps = NULL;
            bool usable = !o->record_tokens || read_token_arrays(obj, ntk, &toks, &lps) == 0;
            if (!r->completion[k] && usable) {
                if (add_sample(g, k, c->valuestring, ntk, finish_parse(json_get_str(obj, "finish_reason", "")), toks,
                               lps)) {
                    cJSON_Delete(obj);
                    jsonl_close(&jr);
                    err_set(err, errcap, "%s: out of memory", o->label);
                    return -1;
                }
                r->resumed++;
            } else {
                free(toks);
                free(lps);
            }
        }
        cJSON_Delete(obj);
    }
    jsonl_close(&jr);

    /* the same samples, whole lines only: appending after a cut line would join two records */
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", o->journal_path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int bad = !f;
    for (size_t k = 0; f && k < r->n; k++) {
        if (!r->completion[k]) continue;
        cJSON *rec = journal_record(&o->prompts->items[r->prompt[k]], (int)(k % spp), r->completion[k],
                                    r->n_tokens[k], r->finish[k], r->tokens ? r->tokens[k] : NULL,
                                    r->logprobs ? r->logprobs[k] : NULL);
        bad |= !rec || jsonl_write(f, rec) != 0;
        cJSON_Delete(rec);
    }
    if (f && (fflush(f) != 0 || fsync(fileno(f)) != 0)) bad = 1;
    if (f && fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, o->journal_path) != 0) {
        err_set(err, errcap, "%s: cannot rewrite: %s", o->journal_path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int on_step(void *user, const gen_stats *st) {
    rollout_ctx *g = user;
    (void)st;
    progress_update(&g->prog, g->prog.done);
    return cancelled(g->o);
}

static int on_result(void *user, const gen_result *gr) {
    rollout_ctx *g = user;
    const size_t spp = (size_t)g->o->samples_per_prompt;
    size_t k = (size_t)gr->prompt_idx * spp + (size_t)gr->sample_idx; /* gen_run has every selected prompt */
    if (g->r->completion[k]) return 0; /* made by an earlier run */
    progress_add(&g->prog, 1);
    if (g->journal) {
        cJSON *rec = journal_record(&g->o->prompts->items[g->r->prompt[k]], gr->sample_idx, gr->completion,
                                    gr->n_tokens, gr->finish, g->r->tokens ? gr->tokens : NULL,
                                    g->r->tokens ? gr->logprobs : NULL);
        /* flushed line by line: a crash loses at most the sample being written */
        if (!rec || jsonl_write(g->journal, rec) != 0 || fflush(g->journal) != 0) g->write_failed = true;
        cJSON_Delete(rec);
        if (g->write_failed) return 1;
    }
    int *toks = NULL;
    float *lps = NULL;
    if (g->r->tokens) {
        toks = malloc((size_t)(gr->n_tokens + 1) * sizeof *toks);
        lps = malloc((size_t)(gr->n_tokens + 1) * sizeof *lps);
        if (!toks || !lps) {
            free(toks);
            free(lps);
            g->oom = true;
            return 1;
        }
        if (gr->n_tokens) {
            memcpy(toks, gr->tokens, (size_t)gr->n_tokens * sizeof *toks);
            memcpy(lps, gr->logprobs, (size_t)gr->n_tokens * sizeof *lps);
        }
    }
    if (add_sample(g, k, gr->completion, gr->n_tokens, gr->finish, toks, lps)) {
        g->oom = true;
        return 1;
    }
    return 0;
}

/* Step 2: decodes every sample the journal did not hold. gen_run gets every selected prompt and skips
 * the samples already made, so the random stream of each sample, and with it the sample, is the one an
 * uninterrupted run draws. 0, 1 cancelled, -1 error. */
static int decode_missing(rollout_ctx *g, char *err, size_t errcap) {
    const rollout_opts *o = g->o;
    rollout_result *r = g->r;
    const size_t spp = (size_t)o->samples_per_prompt, nslots = r->n / spp;
    const char **texts = malloc(nslots * sizeof *texts + 1);
    unsigned char *skip = malloc(r->n + 1);
    model *m = NULL;
    tokenizer *t = NULL;
    int rc = -1;
    if (!texts || !skip) {
        err_set(err, errcap, "%s: out of memory", o->label);
        goto out;
    }
    long missing = 0;
    size_t prompts_left = 0;
    for (size_t s = 0; s < nslots; s++) {
        texts[s] = o->prompts->items[r->prompt[s * spp]].prompt;
        long miss = 0;
        for (size_t j = 0; j < spp; j++) {
            skip[s * spp + j] = r->completion[s * spp + j] != NULL;
            miss += !skip[s * spp + j];
        }
        missing += miss;
        prompts_left += miss > 0;
    }
    if (missing == 0) {
        rc = 0;
        goto out;
    }
    double t0 = time_now();
    char tok_dir[4096];
    /* an adapter folder usually comes without tokenizer files: its base model's are used */
    if (model_tokenizer_dir(o->model_dir, tok_dir, sizeof tok_dir, err, errcap) != 0) goto out;
    chat_template tpl;
    if (!(t = gguf_model_tokenizer(tok_dir, &tpl, err, errcap))) goto out;
    if (o->weights_dir) log_info("%s: sampling from %s applied to the base model", o->label, o->weights_dir);
    if (!(m = model_load_weights_f32(o->model_dir, o->weights_dir, o->exact, err, errcap))) goto out;
    /* sampling speed; scoring, tests and RL (whose trainer must see the sampler's log-probs) stay exact */
    model_set_precision(m, o->exact ? MODEL_PRECISION_EXACT : MODEL_PRECISION_FAST);
    if (o->journal_path && !(g->journal = fopen(o->journal_path, "a"))) {
        err_set(err, errcap, "%s: cannot write: %s", o->journal_path, strerror(errno));
        goto out;
    }
    gen_params p;
    gen_params_default(&p);
    p.n_samples = o->samples_per_prompt;
    p.max_new_tokens = o->max_new_tokens;
    p.sampling.temperature = (float)o->temperature;
    p.seed = o->seed;
    p.batch_size = o->gen_batch_size;
    p.system_prompt = o->system_prompt;
    p.tpl = tpl;
    p.skip = skip;
    p.on_step = on_step;
    p.step_user = g;
    if (r->resumed) log_info("%s: %ld samples kept from an interrupted run", o->label, r->resumed);
    log_info("%s: generating %ld sample%s for %zu prompt%s, verifying as they come", o->label, missing,
             missing == 1 ? "" : "s", prompts_left, prompts_left == 1 ? "" : "s");
    progress_start(&g->prog, "generate", missing, "samples");
    int grc = gen_run(m, t, texts, (int)nslots, &p, on_result, g, &r->gen, err, errcap);
    progress_finish(&g->prog);
    r->generation_seconds = time_now() - t0;
    if (grc < 0) goto out;
    if (g->oom) {
        err_set(err, errcap, "%s: out of memory", o->label);
        goto out;
    }
    if (g->write_failed) {
        err_set(err, errcap, "%s: write failed: %s", o->journal_path, strerror(errno));
        goto out;
    }
    rc = grc == 1 || cancelled(o) ? 1 : 0;
out:
    model_free(m);
    tok_free(t);
    if (g->journal && fclose(g->journal) != 0 && rc == 0) {
        err_set(err, errcap, "%s: write failed: %s", o->journal_path, strerror(errno));
        rc = -1;
    }
    g->journal = NULL;
    free(texts);
    free(skip);
    return rc;
}

static void free_arrays(rollout_result *r, bool verified) {
    for (size_t i = 0; r->completion && i < r->n; i++) {
        free(r->completion[i]);
        if (r->tokens) free(r->tokens[i]);
        if (r->logprobs) free(r->logprobs[i]);
        if (verified) vf_result_free(&r->results[i]);
    }
    free(r->tokens);
    free(r->logprobs);
    free(r->prompt);
    free(r->completion);
    free(r->n_tokens);
    free(r->finish);
    free(r->results);
    memset(r, 0, sizeof *r);
}

int rollout_run(const rollout_opts *o, rollout_result *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    const size_t nsel = o->select ? o->n_select : o->prompts ? o->prompts->count : 0;
    if (!o->prompts || nsel == 0 || o->samples_per_prompt < 1 || !o->verifier) {
        err_set(err, errcap, "%s: nothing to sample (no prompt, or fewer than 1 sample per prompt)", o->label);
        return -1;
    }
    const size_t spp = (size_t)o->samples_per_prompt, n = nsel * spp;
    rollout_ctx g = {.o = o, .r = out};
    vf_result *res = NULL;
    size_t nres = 0;
    int rc = -1;
    out->n = n;
    out->samples_per_prompt = o->samples_per_prompt;
    out->prompt = malloc(n * sizeof *out->prompt);
    out->completion = calloc(n, sizeof *out->completion);
    out->n_tokens = calloc(n, sizeof *out->n_tokens);
    out->finish = calloc(n, sizeof *out->finish);
    out->results = calloc(n, sizeof *out->results);
    if (o->record_tokens) {
        out->tokens = calloc(n, sizeof *out->tokens);
        out->logprobs = calloc(n, sizeof *out->logprobs);
        if (!out->tokens || !out->logprobs) {
            err_set(err, errcap, "%s: out of memory", o->label);
            goto out;
        }
    }
    g.slot_of_prompt = malloc(o->prompts->count * sizeof *g.slot_of_prompt);
    g.stream_index = malloc(n * sizeof *g.stream_index);
    if (!out->prompt || !out->completion || !out->n_tokens || !out->finish || !out->results || !g.slot_of_prompt ||
        !g.stream_index) {
        err_set(err, errcap, "%s: out of memory", o->label);
        goto out;
    }
    for (size_t i = 0; i < o->prompts->count; i++) g.slot_of_prompt[i] = -1;
    for (size_t s = 0; s < nsel; s++) {
        size_t pi = o->select ? o->select[s] : s;
        if (pi >= o->prompts->count) {
            err_set(err, errcap, "%s: prompt index %zu out of range", o->label, pi);
            goto out;
        }
        g.slot_of_prompt[pi] = (long)s;
        for (size_t j = 0; j < spp; j++) out->prompt[s * spp + j] = pi;
    }
    for (size_t k = 0; k < n; k++) g.stream_index[k] = -1;

    vf_config vc = *o->verifier;
    vc.cancel = o->cancel;
    if (!(g.vs = vf_stream_start(&vc, NULL, NULL, err, errcap))) goto out;
    if (o->journal_path && resume_journal(&g, err, errcap)) goto out;
    int drc = decode_missing(&g, err, errcap);
    if (drc) {
        rc = drc;
        goto out;
    }
    const size_t early = vf_stream_done(g.vs);
    if (early < n) log_info("%s: %zu of %zu samples verified during generation; waiting for %zu", o->label, early, n,
                            n - early);
    double t1 = time_now();
    int frc = vf_stream_finish(g.vs, &res, &nres);
    g.vs = NULL;
    out->verify_wait_seconds = time_now() - t1;
    if (frc == 1) {
        rc = 1;
        goto out;
    }
    if (frc < 0 || nres != n) {
        err_set(err, errcap, "%s: out of memory", o->label);
        goto out;
    }
    /* verdicts from stream order into sample order; the strings move over */
    for (size_t k = 0; k < n; k++) {
        out->results[k] = res[g.stream_index[k]];
        memset(&res[g.stream_index[k]], 0, sizeof *res);
    }
    rc = 0;
out:
    if (g.vs) {
        vf_stream_cancel(g.vs);
        vf_stream_finish(g.vs, NULL, NULL);
    }
    for (size_t i = 0; i < nres; i++) vf_result_free(&res[i]);
    free(res);
    free(g.slot_of_prompt);
    free(g.stream_index);
    if (rc) free_arrays(out, false);
    return rc;
}

void rollout_result_free(rollout_result *r) {
    if (r->completion) free_arrays(r, true);
}

long rollout_total_tokens(const rollout_result *r) {
    long sum = 0;
    for (size_t k = 0; k < r->n; k++) sum += r->n_tokens[k];
    return sum;
}

cJSON *rollout_record(const rollout_opts *o, const rollout_result *r, size_t i) {
    return journal_record(rollout_prompt_of(o, r, i), (int)(i % (size_t)r->samples_per_prompt), r->completion[i],
                          r->n_tokens[i], r->finish[i], r->tokens ? r->tokens[i] : NULL,
                          r->logprobs ? r->logprobs[i] : NULL);
}
