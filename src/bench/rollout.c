/* rollout: sample every selected prompt n times, verify while decoding, resume from a journal. */
#include "bench/rollout.h"
#include "dist/dist.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"
#include "model/lora_apply.h"
#include "model/gguf.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const rollout_opts *o;
    rollout_result *r;
    long *slot_of_prompt;   /* [prompts->count]: position of the prompt in the selection, -1 */
    long *stream_index;     /* [n]: the sample's index in this rank's verification stream, -1: none */
    int *owner;             /* [n]: the rank that makes (or, resumed, verifies) the sample */
    vf_stream *vs;
    FILE *journal;
    bool write_failed, oom;
    long made_here, kill_after; /* test hook HF_ROLLOUT_TEST_KILL_AFTER: SIGKILL after that many samples */
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

static int submit(rollout_ctx *g, size_t k) {
    vf_sample smp;
    bench_prompt_sample(&g->o->prompts->items[g->r->prompt[k]], g->r->completion[k], &smp);
    return (g->stream_index[k] = vf_stream_submit(g->vs, &smp)) < 0 ? -1 : 0;
}

/* Keeps sample k (copying completion, taking toks / lps) and, with verify, hands it to the verifier. 0, or -1
 * out of memory. */
static int add_sample(rollout_ctx *g, size_t k, const char *completion, long n_tokens, gen_finish finish, int *toks,
                      float *lps, bool verify) {
    rollout_result *r = g->r;
    if (r->tokens) {
        r->tokens[k] = toks;
        r->logprobs[k] = lps;
    }
    if (!(r->completion[k] = strdup(completion))) return -1;
    r->n_tokens[k] = n_tokens;
    r->finish[k] = finish;
    return verify ? submit(g, k) : 0;
}

/* Rank r > 0 of a multi-rank run journals the samples it makes to "<journal>.rank<r>" (rank 0 to the
 * journal itself), so a rank that dies loses no finished sample; the next run folds these into the journal. */
static void side_path(char *buf, size_t cap, const char *journal, int rank) {
    snprintf(buf, cap, "%s.rank%d", journal, rank);
}

/* Calls fn(path) for every side journal of journal that exists, whatever rank count wrote them. */
static int for_each_side(const char *journal, int (*fn)(void *, const char *), void *user) {
    char dir[4096];
    const char *slash = strrchr(journal, '/'), *base = slash ? slash + 1 : journal;
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == journal) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - journal), journal);
    DIR *d = opendir(dir);
    if (!d) return 0;
    const size_t bl = strlen(base);
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        const char *nm = e->d_name, *num = nm + bl + 5;
        if (strncmp(nm, base, bl) || strncmp(nm + bl, ".rank", 5) || !*num || strspn(num, "0123456789") != strlen(num))
            continue;
        char path[8400];
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        rc = fn(user, path);
    }
    closedir(d);
    return rc;
}

static int unlink_one(void *user, const char *path) {
    (void)user;
    if (unlink(path) != 0 && errno != ENOENT) log_warn("%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

void rollout_journal_remove(const char *journal) {
    if (!dist_is_root()) return;
    unlink(journal);
    for_each_side(journal, unlink_one, NULL);
}

/* Step 1: the samples of one journal file (not verified yet). 0, or -1 (err). */
static int read_journal(rollout_ctx *g, const char *path, char *err, size_t errcap) {
    const rollout_opts *o = g->o;
    rollout_result *r = g->r;
    const size_t spp = (size_t)o->samples_per_prompt;
    if (!fs_exists(path)) return 0;
    jsonl_reader jr;
    if (jsonl_open(&jr, path) != 0) {
        err_set(err, errcap, "%s: cannot open: %s", path, strerror(errno));
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
            const long ntk = json_get_long(obj, "n_tokens", 0);
            int *toks = NULL;
            float *lps = NULL;
            bool usable = !o->record_tokens || read_token_arrays(obj, ntk, &toks, &lps) == 0;
            if (!r->completion[k] && usable) {
                if (add_sample(g, k, c->valuestring, ntk, finish_parse(json_get_str(obj, "finish_reason", "")), toks,
                               lps, false)) {
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
    return 0;
}

typedef struct {
    rollout_ctx *g;
    char *err;
    size_t errcap;
    bool any;
} side_read;

static int read_side(void *user, const char *path) {
    side_read *sr = user;
    sr->any = true;
    return read_journal(sr->g, path, sr->err, sr->errcap);
}

/* Step 1 on rank 0: the journal's samples and those of the side journals an earlier multi-rank run left, then
 * the journal rewritten with exactly those lines (the side journals folded in and removed). */
static int resume_journal(rollout_ctx *g, char *err, size_t errcap) {
    const rollout_opts *o = g->o;
    rollout_result *r = g->r;
    const size_t spp = (size_t)o->samples_per_prompt;
    side_read sr = {.g = g, .err = err, .errcap = errcap};
    if (read_journal(g, o->journal_path, err, errcap) || for_each_side(o->journal_path, read_side, &sr)) return -1;
    if (!fs_exists(o->journal_path) && !sr.any) return 0;

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
    if (sr.any) for_each_side(o->journal_path, unlink_one, NULL); /* their lines are in the journal now */
    return 0;
}

/* Who makes each sample: the missing ones (in result order) in contiguous blocks of equal count, so a prompt's
 * samples stay on one rank (its prefill shared) except where a block boundary cuts one; the resumed ones, for
 * verification, likewise. Every rank computes the same table from the same journal. */
static void assign_owners(rollout_ctx *g) {
    const rollout_result *r = g->r;
    const long size = dist_size();
    long nmiss = 0, nres = 0, im = 0, ir = 0;
    for (size_t k = 0; k < r->n; k++) {
        if (r->completion[k]) nres++;
        else nmiss++;
    }
    for (size_t k = 0; k < r->n; k++)
        g->owner[k] = (int)(r->completion[k] ? ir++ * size / nres : im++ * size / nmiss);
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
    if (g->kill_after > 0 && ++g->made_here >= g->kill_after) raise(SIGKILL); /* test hook: a rank dies */
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
    if (add_sample(g, k, gr->completion, gr->n_tokens, gr->finish, toks, lps, true)) {
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
            skip[s * spp + j] = r->completion[s * spp + j] != NULL || g->owner[s * spp + j] != dist_rank();
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
    if (o->journal_path && dist_is_root() && !(g->journal = fopen(o->journal_path, "a"))) {
        err_set(err, errcap, "%s: cannot write: %s", o->journal_path, strerror(errno));
        goto out;
    }
    char side[4400];
    if (o->journal_path && !dist_is_root()) { /* without it (no shared folder) a rank's samples are kept once gathered */
        side_path(side, sizeof side, o->journal_path, dist_rank());
        if (!(g->journal = fopen(side, "a")))
            fprintf(stderr, "halo-forge: rank %d: %s: cannot write (%s); its samples are journaled once gathered\n",
                    dist_rank(), side, strerror(errno));
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
    if (dist_size() > 1)
        log_info("%s: rank 0 of %d generating %ld sample%s for %zu prompt%s (the others theirs), verifying as they come",
                 o->label, dist_size(), missing, missing == 1 ? "" : "s", prompts_left, prompts_left == 1 ? "" : "s");
    else
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
        err_set(err, errcap, "%s%s: write failed: %s", o->journal_path, dist_is_root() ? "" : " (side journal)",
                strerror(errno));
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
        if (verified && r->results) vf_result_free(&r->results[i]);
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

/* ---- the gather of a multi-rank rollout: each rank's samples as one blob ---- */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} wbuf;

static void put(wbuf *b, const void *d, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n) c *= 2;
        char *np = realloc(b->p, c);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = c;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_i64(wbuf *b, int64_t v) { put(b, &v, sizeof v); }
static void put_f64(wbuf *b, double v) { put(b, &v, sizeof v); }
static void put_str(wbuf *b, const char *s) { /* NULL: length -1 */
    put_i64(b, s ? (int64_t)strlen(s) : -1);
    if (s) put(b, s, strlen(s));
}

typedef struct {
    const char *p;
    size_t n, off;
    bool bad;
} rbuf;

static void get(rbuf *b, void *d, size_t n) {
    if (b->bad || b->n - b->off < n) {
        b->bad = true;
        memset(d, 0, n);
        return;
    }
    memcpy(d, b->p + b->off, n);
    b->off += n;
}
static int64_t get_i64(rbuf *b) { int64_t v; get(b, &v, sizeof v); return v; }
static double get_f64(rbuf *b) { double v; get(b, &v, sizeof v); return v; }
static char *get_str(rbuf *b) { /* malloc'd, NULL for NULL (or on a bad blob: b->bad) */
    int64_t l = get_i64(b);
    if (b->bad || l < 0) return NULL;
    if ((uint64_t)l > b->n - b->off) {
        b->bad = true;
        return NULL;
    }
    char *s = malloc((size_t)l + 1);
    if (!s) {
        b->bad = true;
        return NULL;
    }
    memcpy(s, b->p + b->off, (size_t)l);
    s[l] = 0;
    b->off += (size_t)l;
    return s;
}

/* This rank's part: its decoding figures, then each sample it owns: index, n_tokens, finish, completion,
 * (tokens, logprobs), verdict. */
static void pack(const rollout_ctx *g, wbuf *b) {
    const rollout_result *r = g->r;
    put_i64(b, r->gen.n_prompts);
    put_i64(b, r->gen.n_samples);
    put_i64(b, r->gen.prompt_tokens);
    put_i64(b, r->gen.generated_tokens);
    put_i64(b, r->gen.steps);
    put_f64(b, r->gen.seconds);
    put_f64(b, r->gen.prefill_seconds);
    put_f64(b, r->gen.sample_seconds);
    put_f64(b, r->generation_seconds);
    put_f64(b, r->verify_wait_seconds);
    for (size_t k = 0; k < r->n; k++) {
        if (g->owner[k] != dist_rank()) continue;
        const vf_result *v = &r->results[k];
        put_i64(b, (int64_t)k);
        put_i64(b, r->n_tokens[k]);
        put_i64(b, r->finish[k]);
        put_str(b, r->completion[k]);
        if (r->tokens) {
            put(b, r->tokens[k], (size_t)r->n_tokens[k] * sizeof(int));
            put(b, r->logprobs[k], (size_t)r->n_tokens[k] * sizeof(float));
        }
        put_f64(b, v->reward);
        put_f64(b, v->compile_s);
        put_f64(b, v->run_s);
        put_f64(b, v->run_cpu_s);
        const int64_t iv[] = {v->status, v->success, v->language, v->exit_code, v->signal, v->tests_passed,
                              v->tests_total, v->compile_warnings, v->compile_cached, v->stdout_truncated,
                              v->stderr_truncated};
        for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) put_i64(b, iv[i]);
        put_str(b, v->stdout_text);
        put_str(b, v->stderr_text);
        put_str(b, v->compile_log);
        put_str(b, v->error);
    }
}

/* Another rank's part into r (its samples; the decoding figures added up, times the slowest rank's). 0, or -1
 * for a blob that does not parse (out of memory, or a rank with other options). */
static int unpack(rollout_ctx *g, const char *blob, size_t len) {
    rollout_result *r = g->r;
    rbuf b = {.p = blob, .n = len};
    r->gen.n_prompts += (int)get_i64(&b);
    r->gen.n_samples += get_i64(&b);
    r->gen.prompt_tokens += get_i64(&b);
    r->gen.generated_tokens += get_i64(&b);
    r->gen.steps += get_i64(&b);
    double t[5];
    for (int i = 0; i < 5; i++) t[i] = get_f64(&b);
    if (t[0] > r->gen.seconds) r->gen.seconds = t[0];
    if (t[1] > r->gen.prefill_seconds) r->gen.prefill_seconds = t[1];
    if (t[2] > r->gen.sample_seconds) r->gen.sample_seconds = t[2];
    if (t[3] > r->generation_seconds) r->generation_seconds = t[3];
    if (t[4] > r->verify_wait_seconds) r->verify_wait_seconds = t[4];
    while (!b.bad && b.off < b.n) {
        int64_t k = get_i64(&b), ntk = get_i64(&b), fin = get_i64(&b);
        if (b.bad || k < 0 || (uint64_t)k >= r->n || ntk < 0 || (uint64_t)ntk > b.n) return -1;
        char *c = get_str(&b);
        if (!c) return -1;
        int *toks = NULL;
        float *lps = NULL;
        if (r->tokens) {
            toks = malloc((size_t)(ntk + 1) * sizeof *toks);
            lps = malloc((size_t)(ntk + 1) * sizeof *lps);
            if (!toks || !lps) b.bad = true;
            else {
                get(&b, toks, (size_t)ntk * sizeof *toks);
                get(&b, lps, (size_t)ntk * sizeof *lps);
            }
        }
        if (r->completion[k]) { /* resumed: this rank has it from the journal */
            free(c);
            free(toks);
            free(lps);
        } else {
            r->completion[k] = c;
            r->n_tokens[k] = (long)ntk;
            r->finish[k] = (gen_finish)fin;
            if (r->tokens) {
                r->tokens[k] = toks;
                r->logprobs[k] = lps;
            }
        }
        vf_result *v = &r->results[k];
        vf_result_free(v);
        v->reward = get_f64(&b);
        v->compile_s = get_f64(&b);
        v->run_s = get_f64(&b);
        v->run_cpu_s = get_f64(&b);
        int64_t iv[11];
        for (int i = 0; i < 11; i++) iv[i] = get_i64(&b);
        v->status = (vf_status)iv[0];
        v->success = iv[1] != 0;
        v->language = (vf_lang)iv[2];
        v->exit_code = (int)iv[3];
        v->signal = (int)iv[4];
        v->tests_passed = (int)iv[5];
        v->tests_total = (int)iv[6];
        v->compile_warnings = iv[7] != 0;
        v->compile_cached = iv[8] != 0;
        v->stdout_truncated = iv[9] != 0;
        v->stderr_truncated = iv[10] != 0;
        v->stdout_text = get_str(&b);
        v->stderr_text = get_str(&b);
        v->compile_log = get_str(&b);
        v->error = get_str(&b);
    }
    return b.bad ? -1 : 0;
}

/* Rank 0 appends the samples the other ranks made to the journal, so it holds the whole rollout (their side
 * journals, now redundant, are removed). */
static int journal_gathered(rollout_ctx *g, const unsigned char *had, char *err, size_t errcap) {
    const rollout_opts *o = g->o;
    const rollout_result *r = g->r;
    FILE *f = fopen(o->journal_path, "a");
    int bad = !f;
    for (size_t k = 0; f && k < r->n; k++) {
        if (had[k] || g->owner[k] == 0) continue;
        cJSON *rec = journal_record(&o->prompts->items[r->prompt[k]], (int)(k % (size_t)o->samples_per_prompt),
                                    r->completion[k], r->n_tokens[k], r->finish[k], r->tokens ? r->tokens[k] : NULL,
                                    r->logprobs ? r->logprobs[k] : NULL);
        bad |= !rec || jsonl_write(f, rec) != 0;
        cJSON_Delete(rec);
    }
    if (f && fclose(f) != 0) bad = 1;
    if (bad) {
        err_set(err, errcap, "%s: write failed: %s", o->journal_path, strerror(errno));
        return -1;
    }
    for_each_side(o->journal_path, unlink_one, NULL);
    return 0;
}

/* Every rank's samples onto every rank. 0, or -1 (err). */
static int gather(rollout_ctx *g, const unsigned char *had, char *err, size_t errcap) {
    wbuf b = {0};
    pack(g, &b);
    int lrc = b.oom ? -1 : 0;
    if (lrc) err_set(err, errcap, "%s: out of memory", g->o->label);
    if ((lrc = dist_any_rc(lrc, err, errcap))) {
        free(b.p);
        return lrc;
    }
    char *all = NULL;
    size_t *lens = NULL;
    dist_allgather_blobs(b.p ? b.p : "", b.n, &all, &lens);
    free(b.p);
    size_t off = 0;
    for (int rk = 0; rk < dist_size() && lrc == 0; rk++) {
        if (rk != dist_rank() && unpack(g, all + off, lens[rk])) {
            err_set(err, errcap, "%s: the samples gathered from rank %d do not parse (out of memory?)", g->o->label, rk);
            lrc = -1;
        }
        off += lens[rk];
    }
    free(all);
    free(lens);
    if (lrc == 0 && dist_is_root() && g->o->journal_path) lrc = journal_gathered(g, had, err, errcap);
    return dist_any_rc(lrc, err, errcap);
}

/* Steps 1-3 on this rank; every rank goes through the same collectives (whatever its own rc) so none waits
 * alone. had gets which samples the journal held. */
static int run_local(rollout_ctx *g, unsigned char *had, char *err, size_t errcap) {
    const rollout_opts *o = g->o;
    rollout_result *out = g->r;
    const size_t n = out->n;
    const bool multi = dist_size() > 1;
    vf_result *res = NULL;
    size_t nres = 0;
    int rc = 0;
    vf_config vc = *o->verifier;
    vc.cancel = o->cancel;
    if (!(g->vs = vf_stream_start(&vc, NULL, NULL, err, errcap))) rc = -1;
    /* step 1: rank 0 folds and rewrites the journal, then the others read it; nobody appends to it before
       every rank has read it (the second collective), so all see the same samples */
    if (o->journal_path) {
        if (rc == 0 && dist_is_root()) rc = resume_journal(g, err, errcap);
        if (multi) {
            int r0 = dist_root_rc(dist_is_root() ? rc : 0, err, errcap);
            if (!dist_is_root()) rc = rc ? rc : r0 ? r0 : read_journal(g, o->journal_path, err, errcap);
            rc = dist_any_rc(rc, err, errcap);
        }
    }
    for (size_t k = 0; k < n; k++) had[k] = out->completion[k] != NULL;
    if (rc == 0) {
        assign_owners(g);
        for (size_t k = 0; k < n && rc == 0; k++) /* the resumed samples this rank verifies */
            if (had[k] && g->owner[k] == dist_rank() && submit(g, k)) {
                err_set(err, errcap, "%s: out of memory", o->label);
                rc = -1;
            }
    }
    if (rc == 0) rc = decode_missing(g, err, errcap);
    if (rc == 0) {
        const size_t early = vf_stream_done(g->vs);
        long mine = 0;
        for (size_t k = 0; k < n; k++) mine += g->owner[k] == dist_rank();
        if (early < (size_t)mine)
            log_info("%s: %zu of %ld samples verified during generation; waiting for %zu", o->label, early, mine,
                     (size_t)mine - early);
        double t1 = time_now();
        int frc = vf_stream_finish(g->vs, &res, &nres);
        g->vs = NULL;
        out->verify_wait_seconds = time_now() - t1;
        if (frc == 1) {
            rc = 1;
        } else if (frc < 0 || nres != (size_t)mine) {
            err_set(err, errcap, "%s: out of memory", o->label);
            rc = -1;
        } else {
            /* verdicts from stream order into sample order; the strings move over */
            for (size_t k = 0; k < n; k++) {
                if (g->stream_index[k] < 0) continue;
                out->results[k] = res[g->stream_index[k]];
                memset(&res[g->stream_index[k]], 0, sizeof *res);
            }
        }
    }
    if (g->vs) {
        vf_stream_cancel(g->vs);
        vf_stream_finish(g->vs, NULL, NULL);
        g->vs = NULL;
    }
    for (size_t i = 0; i < nres; i++) vf_result_free(&res[i]);
    free(res);
    if (!multi) return rc;
    /* step 4 (several ranks): every rank's samples onto every rank, in result order */
    if ((rc = dist_any_rc(rc, err, errcap))) return rc;
    return gather(g, had, err, errcap);
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
    const char *kill = getenv("HF_ROLLOUT_TEST_KILL_AFTER");
    g.kill_after = kill ? atol(kill) : 0;
    unsigned char *had = malloc(n + 1);
    int rc = 0;
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
        if (!out->tokens || !out->logprobs) rc = -1;
    }
    g.slot_of_prompt = malloc(o->prompts->count * sizeof *g.slot_of_prompt);
    g.stream_index = malloc(n * sizeof *g.stream_index);
    g.owner = calloc(n, sizeof *g.owner);
    if (rc || !had || !out->prompt || !out->completion || !out->n_tokens || !out->finish || !out->results ||
        !g.slot_of_prompt || !g.stream_index || !g.owner) {
        err_set(err, errcap, "%s: out of memory", o->label);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < o->prompts->count; i++) g.slot_of_prompt[i] = -1;
    for (size_t s = 0; rc == 0 && s < nsel; s++) {
        size_t pi = o->select ? o->select[s] : s;
        if (pi >= o->prompts->count) {
            err_set(err, errcap, "%s: prompt index %zu out of range", o->label, pi);
            rc = -1;
            break;
        }
        g.slot_of_prompt[pi] = (long)s;
        for (size_t j = 0; j < spp; j++) out->prompt[s * spp + j] = pi;
    }
    for (size_t k = 0; rc == 0 && k < n; k++) g.stream_index[k] = -1;
    if (dist_size() > 1) rc = dist_any_rc(rc, err, errcap); /* every rank starts, or none */
    if (rc == 0) rc = run_local(&g, had, err, errcap);
    free(had);
    free(g.slot_of_prompt);
    free(g.stream_index);
    free(g.owner);
    if (rc) free_arrays(out, true);
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
