#include "generate/generate.h"
#include "core/err.h"

#include "core/timing.h"

#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gen_finish_name(gen_finish f) {
    switch (f) {
    case GEN_FINISH_STOP: return "stop";
    case GEN_FINISH_LENGTH: return "length";
    case GEN_FINISH_PROMPT_TOO_LONG: return "prompt_too_long";
    }
    return "unknown";
}

void gen_params_default(gen_params *p) {
    memset(p, 0, sizeof *p);
    p->n_samples = 1;
    p->max_new_tokens = 1024;
    p->sampling = (gen_sampling){0.7f, 1.0f, 0};
    p->batch_size = 0;
    p->tpl = CHAT_CHATML;
}

int gen_auto_batch(const model *m, long n_sequences, int max_len) {
    long long per_seq = (long long)kv_bytes_per_token(m, false) * (max_len > 0 ? max_len : 1);
    long long fit = per_seq > 0 ? GEN_AUTO_KV_BYTES / per_seq : GEN_AUTO_BATCH_MAX;
    long b = n_sequences < GEN_AUTO_BATCH_MAX ? n_sequences : GEN_AUTO_BATCH_MAX;
    if (fit < b) b = (long)fit;
    return b >= 1 ? (int)b : 1;
}

int gen_params_check(const gen_params *p, char *err, size_t errcap) {
    if (p->n_samples < 1) return err_set(err, errcap, "n_samples must be >= 1 (got %d)", p->n_samples), -1;
    if (p->max_new_tokens < 1) return err_set(err, errcap, "max_new_tokens must be >= 1 (got %d)", p->max_new_tokens), -1;
    if (p->batch_size < 0) return err_set(err, errcap, "batch_size must be >= 0 (got %d)", p->batch_size), -1;
    if (p->n_stop < 0 || (p->n_stop > 0 && !p->stop)) return err_set(err, errcap, "bad stop string list"), -1;
    for (int i = 0; i < p->n_stop; i++)
        if (!p->stop[i] || !p->stop[i][0]) return err_set(err, errcap, "stop strings must not be empty"), -1;
    return gen_sampling_check(&p->sampling, err, errcap);
}

char *gen_format_prompt(const gen_params *p, const char *prompt) {
    chat_message msgs[2];
    size_t n = 0;
    if (p->system_prompt && p->system_prompt[0]) msgs[n++] = (chat_message){"system", p->system_prompt};
    msgs[n++] = (chat_message){"user", prompt};
    if (p->tpl == CHAT_RAW && n == 1) return strdup(prompt);
    return chat_render(p->tpl, msgs, n, true);
}

/* ---- growable buffers ---- */

static int grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *nb = realloc(*buf, c * elem);
    if (!nb) return -1;
    *buf = nb;
    *cap = c;
    return 0;
}

size_t gen_utf8_lossy(const char *src, size_t n, char *out) {
    const unsigned char *in = (const unsigned char *)src;
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned char c = in[i];
        if (c < 0x80) {
            if (c) out[o++] = (char)c; /* NUL is dropped: the result is a C string */
            i++;
            continue;
        }
        int need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else need = -1;
        size_t got = 0;
        if (need > 0) {
            for (size_t k = 1; k <= (size_t)need && i + k < n; k++) {
                unsigned char d = in[i + k];
                unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
                if (d < l || d > h) break;
                got++;
            }
        }
        if (need > 0 && got == (size_t)need) {
            memcpy(out + o, in + i, (size_t)need + 1);
            o += (size_t)need + 1;
            i += (size_t)need + 1;
        } else {
            out[o++] = (char)0xEF;
            out[o++] = (char)0xBF;
            out[o++] = (char)0xBD;
            i += 1 + got;
        }
    }
    out[o] = 0;
    return o;
}

/* ---- the engine ---- */

typedef struct {
    bool active;
    int prompt_idx, sample_idx;
    rng_state rng;
    int *toks;
    float *lps;  /* the sampler's log-probability of each of toks */
    size_t ntok, tcap, lcap;
    char *text; /* raw decoded bytes (not NUL-terminated) */
    size_t tlen, xcap;
    int pending; /* the last sampled token, fed at the next step */
    uint64_t dseed; /* device sampling: the sample's stream, token j drawn with dev_seed(dseed, j) */
} seq;

typedef struct {
    model *m;
    const tokenizer *t;
    const gen_params *p;
    const model_config *cfg;
    const int *const *ids;
    const int *n_ids;
    int n_prompts;
    int B;           /* decode slots 0..B-1; slot B holds the prompt being forked */
    int max_len;
    kv_cache *kv;
    seq *seqs;
    float *logits;   /* (B + 1) rows */
    float *prefix_logits;
    int prefix_prompt;   /* prompt in slot B whose samples are being forked, -1 when none */
    int prefix_next;     /* next sample index to fork */
    int *chosen;
    float *chosen_lp;
    gen_sampler **samplers; /* one per thread */
    int nthreads;
    char *outbuf;
    size_t outcap;
    gen_result_fn cb;
    void *user;
    gen_stats st;
    double t_start;
    bool stopped;
    bool dev;        /* the model's backend samples (a GPU): only token ids come back (model_forward_sample) */
    uint64_t *seeds; /* [B + 1], device sampling */
} engine;

/* The seed of token j of a sample on the device: a pure function of the sample's stream and j, so a sample's
 * tokens do not depend on the batch it decodes in. */
static uint64_t dev_seed(uint64_t dseed, size_t j) { return dseed + 0x9e3779b97f4a7c15ull * (uint64_t)(j + 1); }

static bool is_eos(const engine *e, int tok) {
    if (e->p->ignore_eos) return false;
    for (int i = 0; i < e->cfg->n_eos; i++)
        if (e->cfg->eos_ids[i] == tok) return true;
    return false;
}

static bool skipped(const engine *e, int prompt, int sample) {
    return e->p->skip && e->p->skip[(size_t)prompt * (size_t)e->p->n_samples + (size_t)sample];
}

/* The first sample of prompt at or after from that is to be generated; n_samples when none. */
static int next_wanted(const engine *e, int prompt, int from) {
    while (from < e->p->n_samples && skipped(e, prompt, from)) from++;
    return from;
}

/* Hands a finished sample to the callback and frees its slot. */
static int deliver(engine *e, int slot, gen_finish why, char *err, size_t errcap) {
    seq *s = &e->seqs[slot];
    if (grow((void **)&e->outbuf, &e->outcap, 3 * s->tlen + 1, 1) != 0) return err_set(err, errcap, "out of memory"), -1;
    size_t len = gen_utf8_lossy(s->text, s->tlen, e->outbuf);
    gen_result r = {s->prompt_idx, s->sample_idx, e->outbuf, len, s->toks, (int)s->ntok,
                    e->n_ids[s->prompt_idx], why, s->lps};
    e->st.n_samples++;
    s->active = false;
    kv_clear(e->kv, slot);
    if (e->cb && e->cb(e->user, &r) != 0) e->stopped = true;
    return 0;
}

/* Earliest occurrence of any stop string that ends in the bytes added since old_len; -1 if none. */
static long find_stop(const engine *e, const seq *s, size_t old_len) {
    long best = -1;
    for (int i = 0; i < e->p->n_stop; i++) {
        size_t sl = strlen(e->p->stop[i]);
        if (sl > s->tlen) continue;
        size_t from = old_len + 1 > sl ? old_len + 1 - sl : 0;
        const char *hit = memmem(s->text + from, s->tlen - from, e->p->stop[i], sl);
        if (hit && (best < 0 || hit - s->text < best)) best = hit - s->text;
    }
    return best;
}

/* Appends a sampled token to a sequence and decides whether it ends there. */
static int take_token(engine *e, int slot, int tok, float lp, char *err, size_t errcap) {
    seq *s = &e->seqs[slot];
    if (grow((void **)&s->toks, &s->tcap, s->ntok + 1, sizeof *s->toks) != 0 ||
        grow((void **)&s->lps, &s->lcap, s->ntok + 1, sizeof *s->lps) != 0)
        return err_set(err, errcap, "out of memory"), -1;
    s->lps[s->ntok] = lp;
    s->toks[s->ntok++] = tok;
    e->st.generated_tokens++;
    if (is_eos(e, tok)) return deliver(e, slot, GEN_FINISH_STOP, err, errcap);
    if (!tok_is_special(e->t, tok)) {
        size_t len = 0;
        const char *b = tok_token_bytes(e->t, tok, &len);
        if (b && len) {
            if (grow((void **)&s->text, &s->xcap, s->tlen + len, 1) != 0) return err_set(err, errcap, "out of memory"), -1;
            size_t old = s->tlen;
            memcpy(s->text + s->tlen, b, len);
            s->tlen += len;
            long at = e->p->n_stop ? find_stop(e, s, old) : -1;
            if (at >= 0) {
                s->tlen = (size_t)at;
                return deliver(e, slot, GEN_FINISH_STOP, err, errcap);
            }
        }
    }
    if ((int)s->ntok >= e->p->max_new_tokens || kv_len(e->kv, slot) + 1 > e->max_len)
        return deliver(e, slot, GEN_FINISH_LENGTH, err, errcap);
    s->pending = tok;
    return 0;
}

/* Starts the next sample of the prompt in the prefix slot in a free decode slot. */
static int fork_sample(engine *e, int slot, char *err, size_t errcap) {
    seq *s = &e->seqs[slot];
    s->active = true;
    s->prompt_idx = e->prefix_prompt;
    s->sample_idx = e->prefix_next;
    e->prefix_next = next_wanted(e, e->prefix_prompt, e->prefix_next + 1);
    s->ntok = 0;
    s->tlen = 0;
    gen_seed_stream(&s->rng, e->p->seed, (uint64_t)s->prompt_idx, (uint64_t)s->sample_idx);
    kv_copy(e->kv, slot, e->B);
    if (e->prefix_next == e->p->n_samples) {
        e->prefix_prompt = -1;
        kv_clear(e->kv, e->B);
    }
    double t0 = time_now();
    float lp;
    int tok;
    if (e->dev) {
        s->dseed = rng_next(&s->rng);
        uint64_t sd = dev_seed(s->dseed, 0);
        const gen_sampling *g = &e->p->sampling;
        if (model_sample_kept(e->m, 1, g->temperature, g->top_p, g->top_k, &sd, &tok, &lp, err, errcap) != 0) return -1;
    } else {
        tok = gen_sample_lp(e->samplers[0], e->prefix_logits, &e->p->sampling, &s->rng, &lp);
    }
    e->st.sample_seconds += time_now() - t0;
    if (tok < 0) return err_set(err, errcap, "prompt %d: the model produced no finite logit", s->prompt_idx), -1;
    return take_token(e, slot, tok, lp, err, errcap);
}

static int run(engine *e, char *err, size_t errcap) {
    const gen_params *p = e->p;
    int B = e->B, V = e->cfg->vocab_size;
    int *slots = malloc((size_t)(B + 1) * sizeof *slots), *ntok = malloc((size_t)(B + 1) * sizeof *ntok);
    const int **toks = malloc((size_t)(B + 1) * sizeof *toks);
    if (!slots || !ntok || !toks) {
        free(slots);
        free(ntok);
        free((void *)toks);
        return err_set(err, errcap, "out of memory"), -1;
    }
    int rc = 0, next_prompt = 0;
    char ferr[512];
    while (!e->stopped) {
        /* 1. free slots take the waiting samples of the prompt in the prefix slot */
        for (int slot = 0; slot < B && e->prefix_prompt >= 0 && !e->stopped; slot++) {
            while (!e->seqs[slot].active && e->prefix_prompt >= 0 && !e->stopped)
                if ((rc = fork_sample(e, slot, err, errcap)) != 0) goto out;
        }
        if (e->stopped) break;
        /* 2. the next prompt is prefilled into the prefix slot once that slot is free */
        int prefill = -1;
        while (e->prefix_prompt < 0 && next_prompt < e->n_prompts && prefill < 0 && !e->stopped) {
            int i = next_prompt++;
            if (next_wanted(e, i, 0) == p->n_samples) continue; /* nothing left to generate */
            if (e->n_ids[i] >= e->cfg->max_position) {
                /* no room for one new token: every sample of the prompt ends here */
                for (int j = 0; j < p->n_samples && !e->stopped; j++) {
                    if (skipped(e, i, j)) continue;
                    gen_result r = {i, j, "", 0, NULL, 0, e->n_ids[i], GEN_FINISH_PROMPT_TOO_LONG, NULL};
                    e->st.n_samples++;
                    if (e->cb && e->cb(e->user, &r) != 0) e->stopped = true;
                }
                continue;
            }
            prefill = i;
        }
        if (e->stopped) break;
        /* 3. one forward pass: a token for every active sequence, plus the prefill */
        int n = 0;
        for (int slot = 0; slot < B; slot++)
            if (e->seqs[slot].active) {
                slots[n] = slot;
                toks[n] = &e->seqs[slot].pending;
                ntok[n] = 1;
                n++;
            }
        int n_decode = n;
        if (prefill >= 0) {
            slots[n] = B;
            toks[n] = e->ids[prefill];
            ntok[n] = e->n_ids[prefill];
            n++;
        }
        if (n == 0) break;
        double t0 = time_now();
        for (int i = 0; e->dev && i < n_decode; i++)
            e->seeds[i] = dev_seed(e->seqs[slots[i]].dseed, e->seqs[slots[i]].ntok);
        const gen_sampling *g = &p->sampling;
        int frc = e->dev ? model_forward_sample(e->m, e->kv, n, slots, toks, ntok, n_decode, g->temperature, g->top_p,
                                                g->top_k, e->seeds, e->chosen, e->chosen_lp, prefill >= 0, ferr,
                                                sizeof ferr)
                         : model_forward(e->m, e->kv, n, slots, toks, ntok, e->logits, ferr, sizeof ferr);
        if (frc != 0) {
            err_set(err, errcap, "%s", ferr);
            rc = -1;
            goto out;
        }
        double t1 = time_now();
        e->st.steps++;
        if (prefill >= 0) {
            e->st.prefill_seconds += t1 - t0;
            e->st.prompt_tokens += e->n_ids[prefill];
        }
        /* 4. choose the next tokens (in parallel when it pays: each sequence has its own stream), then
         *    apply them in slot order */
        #pragma omp parallel for schedule(dynamic, 1) num_threads(e->nthreads) if (n_decode > 1 && (long)n_decode * V >= (1L << 20))
        for (int i = 0; i < (e->dev ? 0 : n_decode); i++) {
            seq *s = &e->seqs[slots[i]];
            e->chosen[i] = gen_sample_lp(e->samplers[omp_get_thread_num()], e->logits + (size_t)i * V,
                                         &p->sampling, &s->rng, &e->chosen_lp[i]);
        }
        e->st.sample_seconds += time_now() - t1;
        for (int i = 0; i < n_decode && !e->stopped; i++) {
            if (e->chosen[i] < 0) {
                err_set(err, errcap, "prompt %d: the model produced no finite logit", e->seqs[slots[i]].prompt_idx);
                rc = -1;
                goto out;
            }
            if ((rc = take_token(e, slots[i], e->chosen[i], e->chosen_lp[i], err, errcap)) != 0) goto out;
        }
        if (prefill >= 0) {
            if (!e->dev) memcpy(e->prefix_logits, e->logits + (size_t)n_decode * V, (size_t)V * sizeof(float));
            e->prefix_prompt = prefill;
            e->prefix_next = next_wanted(e, prefill, 0);
        }
        if (p->on_step) {
            e->st.seconds = time_now() - e->t_start;
            if (p->on_step(p->step_user, &e->st) != 0) e->stopped = true;
        }
    }
out:
    free(slots);
    free(ntok);
    free((void *)toks);
    if (rc == 0 && e->stopped) rc = 1;
    return rc;
}

int gen_run_ids(model *m, const tokenizer *t, const int *const *prompt_ids, const int *n_ids, int n_prompts,
                const gen_params *p, gen_result_fn cb, void *user, gen_stats *stats, char *err, size_t errcap) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (gen_params_check(p, err, errcap) != 0) return -1;
    const model_config *cfg = model_get_config(m);
    for (int i = 0; i < n_prompts; i++) {
        if (n_ids[i] < 1) return err_set(err, errcap, "prompt %d has no tokens", i), -1;
        for (int j = 0; j < n_ids[i]; j++)
            if (prompt_ids[i][j] < 0 || prompt_ids[i][j] >= cfg->vocab_size)
                return err_set(err, errcap, "prompt %d: token id %d outside the model's vocabulary (%d)", i,
                            prompt_ids[i][j], cfg->vocab_size),
                       -1;
    }
    engine e = {0};
    e.m = m;
    e.t = t;
    e.p = p;
    e.cfg = cfg;
    e.ids = prompt_ids;
    e.n_ids = n_ids;
    e.n_prompts = n_prompts;
    e.cb = cb;
    e.user = user;
    e.prefix_prompt = -1;
    e.st.n_prompts = n_prompts;
    int longest = 0;
    for (int i = 0; i < n_prompts; i++)
        if (n_ids[i] < cfg->max_position && n_ids[i] > longest) longest = n_ids[i];
    long max_len = (long)longest + p->max_new_tokens;
    e.max_len = (int)(max_len < cfg->max_position ? max_len : cfg->max_position);
    /* No more slots than samples can use. */
    long total = 0;
    for (int i = 0; i < n_prompts; i++)
        for (int j = 0; j < p->n_samples; j++)
            total += !(p->skip && p->skip[(size_t)i * (size_t)p->n_samples + (size_t)j]);
    int want = p->batch_size > 0 ? p->batch_size : gen_auto_batch(m, total, e.max_len);
    e.B = want < total ? want : (int)(total > 0 ? total : 1);
    int V = cfg->vocab_size;
    e.nthreads = omp_get_max_threads();
    e.kv = kv_create(m, e.B + 1, e.max_len);
    e.seqs = calloc((size_t)e.B, sizeof *e.seqs);
    /* on a GPU the logits stay there: the host needs no room for them */
    e.dev = model_samples_on_device(m);
    e.seeds = malloc((size_t)(e.B + 1) * sizeof *e.seeds);
    e.logits = malloc(e.dev ? 1 : (size_t)(e.B + 1) * V * sizeof(float));
    e.prefix_logits = malloc(e.dev ? 1 : (size_t)V * sizeof(float));
    e.chosen = malloc((size_t)(e.B + 1) * sizeof(int));
    e.chosen_lp = malloc((size_t)(e.B + 1) * sizeof(float));
    e.samplers = calloc((size_t)e.nthreads, sizeof *e.samplers);
    int rc = -1;
    if (!e.kv || !e.seqs || !e.logits || !e.prefix_logits || !e.chosen || !e.chosen_lp || !e.samplers || !e.seeds) {
        err_set(err, errcap, "out of memory for %d sequences of up to %d tokens", e.B, e.max_len);
        goto done;
    }
    for (int i = 0; i < e.nthreads; i++)
        if (!(e.samplers[i] = gen_sampler_create(V))) {
            err_set(err, errcap, "out of memory");
            goto done;
        }
    e.t_start = time_now();
    rc = run(&e, err, errcap);
    e.st.seconds = time_now() - e.t_start;
done:
    if (stats) *stats = e.st;
    if (e.samplers)
        for (int i = 0; i < e.nthreads; i++) gen_sampler_free(e.samplers[i]);
    free(e.samplers);
    if (e.seqs)
        for (int i = 0; i < e.B; i++) {
            free(e.seqs[i].toks);
            free(e.seqs[i].lps);
            free(e.seqs[i].text);
        }
    free(e.seqs);
    free(e.logits);
    free(e.seeds);
    free(e.prefix_logits);
    free(e.chosen);
    free(e.chosen_lp);
    free(e.outbuf);
    if (e.kv) kv_free(e.kv);
    return rc;
}

int gen_run(model *m, const tokenizer *t, const char *const *prompts, int n_prompts, const gen_params *p,
            gen_result_fn cb, void *user, gen_stats *stats, char *err, size_t errcap) {
    if (stats) memset(stats, 0, sizeof *stats);
    int **ids = calloc((size_t)(n_prompts > 0 ? n_prompts : 1), sizeof *ids);
    int *n = calloc((size_t)(n_prompts > 0 ? n_prompts : 1), sizeof *n);
    int rc = -1;
    if (!ids || !n) {
        err_set(err, errcap, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_prompts; i++) {
        char *text = gen_format_prompt(p, prompts[i]);
        size_t len = 0;
        int erc = text ? tok_encode(t, text, strlen(text), true, &ids[i], &len) : -1;
        free(text);
        if (erc != 0) {
            err_set(err, errcap, "prompt %d: cannot be tokenized (invalid UTF-8?)", i);
            goto done;
        }
        if (len == 0) {
            err_set(err, errcap, "prompt %d: formats to no tokens at all", i);
            goto done;
        }
        n[i] = (int)len;
    }
    rc = gen_run_ids(m, t, (const int *const *)ids, n, n_prompts, p, cb, user, stats, err, errcap);
done:
    if (ids)
        for (int i = 0; i < n_prompts; i++) free(ids[i]);
    free(ids);
    free(n);
    return rc;
}
