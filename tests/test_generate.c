/* Tests of the sampling engine (src/generate/generate.c) on tiny random models written by the test:
 * greedy output of the batched, KV-cached engine equals greedy decoding by full recomputation; the same
 * seed gives the same samples whatever the batch size; each prompt is prefilled once; stop strings,
 * end-of-sequence ids, max_new_tokens and the context length end sequences as documented; continuous
 * batching with more samples than slots; the callback can stop a run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "generate/generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];
static char model_dir[300];
static model *M;
static tokenizer *T;

static const char *const PROMPTS[] = {
    "Write a C function that adds two numbers.",
    "int main(void) {",
    "Say hello",
};
enum { NPROMPTS = 3 };

/* A tiny Qwen2-shaped model with the small test tokenizer. Weights are drawn wider than HF's 0.02
 * so the next-token distributions are peaked and greedy choices are not near-ties. The vocabulary
 * is a few ids larger than the tokenizer's, as Qwen's is. */
static int write_model(const char *dir, const int *eos, int n_eos, int max_position) {
    char err[1024];
    if (tok_write_small(dir, err, sizeof err) != 0) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    tokenizer *t = tok_load(path, err, sizeof err);
    if (!t) return -1;
    model_config c;
    model_preset("tiny", &c);
    c.vocab_size = tok_vocab_size(t) + 5;
    c.max_position = max_position;
    c.n_eos = n_eos;
    for (int i = 0; i < n_eos; i++) c.eos_ids[i] = eos[i];
    tok_free(t);
    if (model_write_random(dir, &c, false, 7, 0.35, true, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hf_test_generate_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(model_dir, sizeof model_dir, "%s/m", tmpdir);
    char err[1024], path[512];
    snprintf(path, sizeof path, "%s/m/tokenizer.json", tmpdir);
    /* eos: <|im_end|> and <|endoftext|>, as model init sets them */
    if (tok_write_small(model_dir, err, sizeof err) != 0) return -1;
    T = tok_load(path, err, sizeof err);
    if (!T) return -1;
    int eos[2] = {tok_token_to_id(T, "<|im_end|>"), tok_token_to_id(T, "<|endoftext|>")};
    if (write_model(model_dir, eos, 2, 4096) != 0) return -1;
    M = model_load(model_dir, err, sizeof err);
    if (!M) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    model_free(M);
    tok_free(T);
    return fs_remove_tree(tmpdir);
}

/* Collected results, indexed by prompt * n_samples + sample. */
typedef struct {
    int n_samples;
    int count;
    int stop_after; /* stop the run after this many results (0: never) */
    int order[64];  /* prompt*n+sample in delivery order */
    struct {
        bool seen;
        int *tokens, n_tokens, n_prompt_tokens;
        char *text;
        gen_finish finish;
    } r[64];
} collect;

static int on_result(void *user, const gen_result *r) {
    collect *c = user;
    int k = r->prompt_idx * c->n_samples + r->sample_idx;
    assert_true(k >= 0 && k < 64);
    assert_false(c->r[k].seen); /* each sample exactly once */
    c->r[k].seen = true;
    c->r[k].n_tokens = r->n_tokens;
    c->r[k].n_prompt_tokens = r->n_prompt_tokens;
    c->r[k].tokens = malloc(((size_t)r->n_tokens + 1) * sizeof(int));
    if (r->n_tokens) memcpy(c->r[k].tokens, r->tokens, (size_t)r->n_tokens * sizeof(int));
    c->r[k].text = strdup(r->completion);
    assert_int_equal(strlen(r->completion), r->completion_len);
    c->r[k].finish = r->finish;
    c->order[c->count++] = k;
    return c->stop_after && c->count >= c->stop_after;
}

static void collect_free(collect *c) {
    for (int k = 0; k < 64; k++) {
        free(c->r[k].tokens);
        free(c->r[k].text);
    }
}

static int run(model *m, const gen_params *p, collect *c, gen_stats *st) {
    memset(c, 0, sizeof *c);
    c->n_samples = p->n_samples;
    char err[1024];
    int rc = gen_run(m, T, PROMPTS, NPROMPTS, p, on_result, c, st, err, sizeof err);
    if (rc < 0) fail_msg("gen_run: %s", err);
    return rc;
}

/* The text the engine should produce for tokens: their bytes (special tokens and an end id left out)
 * up to the first stop string, made valid UTF-8. */
static char *expected_text(const int *toks, int n) {
    size_t cap = 16, len = 0;
    char *raw = malloc(cap);
    for (int i = 0; i < n; i++) {
        if (tok_is_special(T, toks[i])) continue;
        size_t bl = 0;
        const char *b = tok_token_bytes(T, toks[i], &bl);
        if (!b) continue;
        while (len + bl + 1 > cap) raw = realloc(raw, cap *= 2);
        memcpy(raw + len, b, bl);
        len += bl;
    }
    char *out = malloc(3 * len + 1);
    gen_utf8_lossy(raw, len, out);
    free(raw);
    return out;
}

static int prompt_ids(int i, const gen_params *p, int **ids) {
    char *text = gen_format_prompt(p, PROMPTS[i]);
    size_t n = 0;
    assert_int_equal(tok_encode(T, text, strlen(text), true, ids, &n), 0);
    free(text);
    return (int)n;
}

static void test_greedy_equals_full_recomputation(void **state) {
    (void)state;
    gen_params p;
    gen_params_default(&p);
    p.sampling.temperature = 0.0f;
    p.n_samples = 2;
    p.batch_size = 4; /* 6 samples through 4 slots */
    p.max_new_tokens = 14;
    p.ignore_eos = true;
    collect c;
    gen_stats st;
    assert_int_equal(run(M, &p, &c, &st), 0);
    assert_int_equal(c.count, NPROMPTS * 2);
    const int V = model_get_config(M)->vocab_size;
    long prompt_tokens = 0, generated = 0;
    for (int i = 0; i < NPROMPTS; i++) {
        int *ids;
        int np = prompt_ids(i, &p, &ids);
        prompt_tokens += np;
        for (int s = 0; s < 2; s++) {
            int k = i * 2 + s;
            assert_int_equal(c.r[k].n_prompt_tokens, np);
            assert_int_equal(c.r[k].n_tokens, p.max_new_tokens);
            assert_int_equal(c.r[k].finish, GEN_FINISH_LENGTH);
            generated += c.r[k].n_tokens;
            /* greedy samples of one prompt are identical */
            assert_memory_equal(c.r[k].tokens, c.r[i * 2].tokens, (size_t)c.r[k].n_tokens * sizeof(int));
            char *want = expected_text(c.r[k].tokens, c.r[k].n_tokens);
            assert_string_equal(c.r[k].text, want);
            free(want);
        }
        /* token by token: the argmax of a full forward over prompt + the tokens so far */
        int n = c.r[i * 2].n_tokens;
        int *seqv = malloc((size_t)(np + n) * sizeof(int));
        memcpy(seqv, ids, (size_t)np * sizeof(int));
        memcpy(seqv + np, c.r[i * 2].tokens, (size_t)n * sizeof(int));
        float *lg = malloc((size_t)(np + n) * V * sizeof(float));
        char err[512];
        assert_int_equal(model_forward_full(M, seqv, np + n, lg, err, sizeof err), 0);
        for (int t = 0; t < n; t++) {
            const float *row = lg + (size_t)(np + t - 1) * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (row[v] > row[best]) best = v;
            int got = seqv[np + t];
            if (got != best) /* only a tie within float rounding may go either way */
                assert_true(row[got] >= row[best] - 1e-4f * fabsf(row[best]));
        }
        free(lg);
        free(seqv);
        free(ids);
    }
    /* each prompt was prefilled once for its two samples; only sampled tokens count as generated */
    assert_int_equal(st.prompt_tokens, prompt_tokens);
    assert_int_equal(st.generated_tokens, generated);
    assert_int_equal(st.n_samples, NPROMPTS * 2);
    collect_free(&c);
}

static void test_same_seed_same_samples_at_any_batch_size(void **state) {
    (void)state;
    gen_params p;
    gen_params_default(&p);
    p.sampling = (gen_sampling){1.0f, 0.95f, 0};
    p.n_samples = 4;
    p.max_new_tokens = 10;
    p.seed = 42;
    p.ignore_eos = true;
    collect ref, c;
    p.batch_size = 12;
    assert_int_equal(run(M, &p, &ref, NULL), 0);
    /* samples of one prompt differ from one another (their streams are distinct) */
    int distinct = 0;
    for (int s = 1; s < 4; s++)
        distinct += memcmp(ref.r[0].tokens, ref.r[s].tokens, 10 * sizeof(int)) != 0;
    assert_true(distinct >= 2);
    const int sizes[] = {1, 3, 5, 12, 64, 0 /* auto */};
    for (size_t b = 0; b < sizeof sizes / sizeof *sizes; b++) {
        p.batch_size = sizes[b];
        assert_int_equal(run(M, &p, &c, NULL), 0);
        assert_int_equal(c.count, NPROMPTS * 4);
        for (int k = 0; k < NPROMPTS * 4; k++) {
            assert_int_equal(c.r[k].n_tokens, ref.r[k].n_tokens);
            assert_memory_equal(c.r[k].tokens, ref.r[k].tokens, (size_t)ref.r[k].n_tokens * sizeof(int));
            assert_string_equal(c.r[k].text, ref.r[k].text);
        }
        collect_free(&c);
    }
    /* skipped samples (a resumed run) are not generated; the others are those of the full run, also
       when a prompt has nothing left (it is not even prefilled) */
    unsigned char skip[NPROMPTS * 4] = {0};
    for (int k = 0; k < 4; k++) skip[k] = 1; /* all of prompt 0 */
    skip[4 + 1] = skip[4 + 3] = 1;           /* samples 1 and 3 of prompt 1 */
    p.skip = skip;
    p.batch_size = 3;
    gen_stats st;
    assert_int_equal(run(M, &p, &c, &st), 0);
    assert_int_equal(c.count, NPROMPTS * 4 - 6);
    for (int k = 0; k < NPROMPTS * 4; k++) {
        assert_int_equal(c.r[k].seen, !skip[k]);
        if (skip[k]) continue;
        assert_int_equal(c.r[k].n_tokens, ref.r[k].n_tokens);
        assert_memory_equal(c.r[k].tokens, ref.r[k].tokens, (size_t)ref.r[k].n_tokens * sizeof(int));
    }
    long prefilled = 0;
    for (int i = 1; i < NPROMPTS; i++) prefilled += ref.r[i * 4].n_prompt_tokens;
    assert_int_equal(st.prompt_tokens, prefilled); /* prompt 0 was never prefilled */
    collect_free(&c);
    p.skip = NULL;
    /* another seed gives other samples */
    p.seed = 43;
    assert_int_equal(run(M, &p, &c, NULL), 0);
    int differ = 0;
    for (int k = 0; k < NPROMPTS * 4; k++)
        differ += memcmp(c.r[k].tokens, ref.r[k].tokens, 10 * sizeof(int)) != 0;
    assert_true(differ >= NPROMPTS * 4 - 2);
    collect_free(&c);
    collect_free(&ref);
}

/* Batch size 0: every sequence at once up to GEN_AUTO_BATCH_MAX, fewer when their KV cache would pass
 * GEN_AUTO_KV_BYTES; a function of the model and the settings alone. */
static void test_auto_batch_size(void **state) {
    (void)state;
    assert_int_equal(gen_auto_batch(M, 10, 100), 10);
    assert_int_equal(gen_auto_batch(M, 1000, 100), GEN_AUTO_BATCH_MAX);
    assert_int_equal(gen_auto_batch(M, 0, 100), 1);
    long long per_token = (long long)kv_bytes_per_token(M, false);
    int max_len = (int)(GEN_AUTO_KV_BYTES / (per_token * 10)); /* room for exactly 10 sequences */
    assert_int_equal(gen_auto_batch(M, 1000, max_len), 10);
    assert_int_equal(gen_auto_batch(M, 1000, (int)(GEN_AUTO_KV_BYTES / per_token) + 1), 1); /* never 0 */
}

/* Finds a token in toks[from..n) whose bytes are printable ASCII (at least 2 bytes when possible). */
static int pick_ascii_token(const int *toks, int n, int from) {
    int fallback = -1;
    for (int i = from; i < n; i++) {
        if (tok_is_special(T, toks[i])) continue;
        size_t bl = 0;
        const char *b = tok_token_bytes(T, toks[i], &bl);
        if (!b || !bl) continue;
        bool ok = true;
        for (size_t j = 0; j < bl; j++) ok = ok && b[j] >= 0x20 && b[j] < 0x7f;
        if (!ok) continue;
        if (bl >= 2) return i;
        if (fallback < 0) fallback = i;
    }
    return fallback;
}

/* Fast precision (bf16 activations, what `generate` uses): greedy output is the same on every run, also
 * through a different batch size's slot pool, and every sample of a prompt is the same. */
static void test_fast_greedy_is_deterministic(void **state) {
    (void)state;
    gen_params p;
    gen_params_default(&p);
    p.sampling.temperature = 0.0f;
    p.n_samples = 2;
    p.batch_size = 4;
    p.max_new_tokens = 12;
    p.ignore_eos = true;
    model_set_precision(M, MODEL_PRECISION_FAST);
    assert_int_equal(model_get_precision(M), MODEL_PRECISION_FAST);
    collect a, b;
    assert_int_equal(run(M, &p, &a, NULL), 0);
    assert_int_equal(run(M, &p, &b, NULL), 0);
    model_set_precision(M, MODEL_PRECISION_EXACT);
    assert_int_equal(a.count, NPROMPTS * 2);
    assert_int_equal(b.count, NPROMPTS * 2);
    for (int k = 0; k < NPROMPTS * 2; k++) {
        assert_int_equal(a.r[k].n_tokens, p.max_new_tokens);
        assert_int_equal(b.r[k].n_tokens, a.r[k].n_tokens);
        assert_memory_equal(a.r[k].tokens, b.r[k].tokens, (size_t)a.r[k].n_tokens * sizeof(int));
        assert_string_equal(a.r[k].text, b.r[k].text);
        assert_memory_equal(a.r[k].tokens, a.r[k - k % 2].tokens, (size_t)a.r[k].n_tokens * sizeof(int));
    }
    collect_free(&a);
    collect_free(&b);
}

static void test_stop_strings_cut_the_text_and_end_the_sample(void **state) {
    (void)state;
    gen_params p;
    gen_params_default(&p);
    p.sampling.temperature = 0.0f;
    p.max_new_tokens = 24;
    p.ignore_eos = true;
    collect ref, c;
    assert_int_equal(run(M, &p, &ref, NULL), 0);
    int checked = 0;
    for (int i = 0; i < NPROMPTS; i++) {
        const int *toks = ref.r[i].tokens;
        int n = ref.r[i].n_tokens;
        int k = pick_ascii_token(toks, n, 3);
        if (k < 0) continue;
        size_t bl;
        const char *b = tok_token_bytes(T, toks[k], &bl);
        char stop[64];
        snprintf(stop, sizeof stop, "%.*s", (int)(bl < 63 ? bl : 63), b);
        /* where the stop string first appears in the growing text, and the text before it */
        int end = -1;
        char *cut = NULL;
        for (int j = 0; j < n && end < 0; j++) {
            char *txt = expected_text(toks, j + 1);
            char *hit = strstr(txt, stop);
            if (hit) {
                end = j;
                *hit = 0;
                cut = strdup(txt);
            }
            free(txt);
        }
        assert_true(end >= 0 && end <= k);
        const char *stops[] = {"\x01never\x02", stop};
        p.stop = stops;
        p.n_stop = 2;
        memset(&c, 0, sizeof c);
        c.n_samples = 1;
        char err[512];
        assert_int_equal(gen_run(M, T, &PROMPTS[i], 1, &p, on_result, &c, NULL, err, sizeof err), 0);
        assert_int_equal(c.r[0].finish, GEN_FINISH_STOP);
        assert_int_equal(c.r[0].n_tokens, end + 1);
        assert_memory_equal(c.r[0].tokens, toks, (size_t)(end + 1) * sizeof(int));
        assert_string_equal(c.r[0].text, cut);
        assert_null(strstr(c.r[0].text, stop));
        free(cut);
        collect_free(&c);
        checked++;
        p.stop = NULL;
        p.n_stop = 0;
    }
    assert_true(checked >= 2);
    collect_free(&ref);
}

static void test_every_eos_id_ends_a_sample(void **state) {
    (void)state;
    gen_params p;
    gen_params_default(&p);
    p.sampling.temperature = 0.0f;
    p.max_new_tokens = 20;
    p.ignore_eos = true;
    collect ref, c;
    assert_int_equal(run(M, &p, &ref, NULL), 0);
    /* a copy of the model (same seed, same weights) whose end ids are two tokens it emits */
    const int *toks = ref.r[0].tokens;
    int eos[2] = {toks[9], toks[4]};
    int first = -1;
    for (int j = 0; j < 20 && first < 0; j++)
        if (toks[j] == eos[0] || toks[j] == eos[1]) first = j;
    char dir[400];
    snprintf(dir, sizeof dir, "%s/eos", tmpdir);
    assert_int_equal(write_model(dir, eos, 2, 4096), 0);
    char err[1024];
    model *m2 = model_load(dir, err, sizeof err);
    assert_non_null(m2);
    assert_int_equal(model_get_config(m2)->n_eos, 2);
    p.ignore_eos = false;
    assert_int_equal(run(m2, &p, &c, NULL), 0);
    assert_int_equal(c.r[0].finish, GEN_FINISH_STOP);
    assert_int_equal(c.r[0].n_tokens, first + 1); /* the end id is counted ... */
    assert_memory_equal(c.r[0].tokens, toks, (size_t)(first + 1) * sizeof(int));
    char *want = expected_text(toks, first); /* ... but not written */
    assert_string_equal(c.r[0].text, want);
    free(want);
    /* ignore_eos runs on to the length limit */
    collect c2;
    p.ignore_eos = true;
    assert_int_equal(run(m2, &p, &c2, NULL), 0);
    assert_int_equal(c2.r[0].n_tokens, 20);
    assert_int_equal(c2.r[0].finish, GEN_FINISH_LENGTH);
    model_free(m2);
    collect_free(&c);
    collect_free(&c2);
    collect_free(&ref);
}

static void test_context_length_ends_samples(void **state) {
    (void)state;
    gen_params p;
    gen_params_default(&p);
    p.sampling = (gen_sampling){0.8f, 1.0f, 0};
    p.n_samples = 2;
    p.max_new_tokens = 100;
    p.ignore_eos = true;
    int *ids[NPROMPTS];
    int np[NPROMPTS];
    for (int i = 0; i < NPROMPTS; i++) np[i] = prompt_ids(i, &p, &ids[i]);
    /* a context just long enough for prompt 1 plus 3 tokens; prompt 0 is longer than the context */
    int ctx = np[1] + 3;
    assert_true(np[0] >= ctx && np[2] < ctx);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/short", tmpdir);
    assert_int_equal(write_model(dir, NULL, 0, ctx), 0);
    char err[1024];
    model *m2 = model_load(dir, err, sizeof err);
    assert_non_null(m2);
    collect c;
    assert_int_equal(run(m2, &p, &c, NULL), 0);
    assert_int_equal(c.count, NPROMPTS * 2);
    for (int s = 0; s < 2; s++) {
        assert_int_equal(c.r[s].finish, GEN_FINISH_PROMPT_TOO_LONG);
        assert_int_equal(c.r[s].n_tokens, 0);
        assert_string_equal(c.r[s].text, "");
        assert_int_equal(c.r[2 + s].finish, GEN_FINISH_LENGTH);
        assert_int_equal(c.r[2 + s].n_tokens, ctx - np[1] + 1); /* the last token needs no room */
        assert_int_equal(c.r[4 + s].n_tokens, ctx - np[2] + 1);
    }
    model_free(m2);
    collect_free(&c);
    for (int i = 0; i < NPROMPTS; i++) free(ids[i]);
}

static int count_steps(void *user, const gen_stats *st) {
    int *steps = user;
    ++*steps;
    assert_int_equal(st->steps, *steps);
    return *steps >= 3;
}

static void test_callback_can_stop_the_run(void **state) {
    (void)state;
    gen_params p;
    gen_params_default(&p);
    p.n_samples = 3;
    p.batch_size = 2;
    p.max_new_tokens = 5;
    collect c;
    memset(&c, 0, sizeof c);
    c.n_samples = 3;
    c.stop_after = 2;
    char err[512];
    assert_int_equal(gen_run(M, T, PROMPTS, NPROMPTS, &p, on_result, &c, NULL, err, sizeof err), 1);
    assert_int_equal(c.count, 2);
    collect_free(&c);
    /* and so can the step hook (how a Ctrl-C handler cancels a run) */
    memset(&c, 0, sizeof c);
    c.n_samples = 3;
    int steps = 0;
    p.on_step = count_steps;
    p.step_user = &steps;
    gen_stats st;
    assert_int_equal(gen_run(M, T, PROMPTS, NPROMPTS, &p, on_result, &c, &st, err, sizeof err), 1);
    assert_int_equal(steps, 3);
    assert_int_equal(st.steps, 3);
    assert_true(c.count < NPROMPTS * 3);
    collect_free(&c);
}

static void test_bad_parameters_are_refused(void **state) {
    (void)state;
    char err[512];
    gen_params p;
    gen_params_default(&p);
    assert_int_equal(gen_params_check(&p, err, sizeof err), 0);
    p.n_samples = 0;
    assert_int_equal(gen_params_check(&p, err, sizeof err), -1);
    assert_non_null(strstr(err, "n_samples"));
    gen_params_default(&p);
    p.max_new_tokens = 0;
    assert_int_equal(gen_params_check(&p, err, sizeof err), -1);
    gen_params_default(&p);
    p.batch_size = -1;
    assert_int_equal(gen_params_check(&p, err, sizeof err), -1);
    assert_non_null(strstr(err, "batch_size"));
    gen_params_default(&p);
    const char *empty[] = {""};
    p.stop = empty;
    p.n_stop = 1;
    assert_int_equal(gen_params_check(&p, err, sizeof err), -1);
    gen_params_default(&p);
    p.sampling.top_p = 0.0f;
    assert_int_equal(gen_run(M, T, PROMPTS, 1, &p, NULL, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "top_p"));
    /* token ids outside the model's vocabulary */
    gen_params_default(&p);
    int bad[2] = {1, 1 << 20};
    const int *pb = bad;
    int nb = 2;
    assert_int_equal(gen_run_ids(M, T, &pb, &nb, 1, &p, NULL, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "vocabulary"));
}

static void test_utf8_lossy_matches_replacement_rules(void **state) {
    (void)state;
    char out[64];
    struct {
        const char *in;
        size_t n;
        const char *want;
    } cases[] = {
        {"abc", 3, "abc"},
        {"caf\xc3\xa9", 5, "caf\xc3\xa9"},
        {"\xe2\x82", 2, "\xef\xbf\xbd"},                  /* truncated 3-byte sequence: one U+FFFD */
        {"\xe2\x82" "a", 3, "\xef\xbf\xbd" "a"},
        {"\xff" "a\x80", 3, "\xef\xbf\xbd" "a\xef\xbf\xbd"},
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogates are ill-formed */
        {"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80"},
        {"\xf0\x9f\x98", 3, "\xef\xbf\xbd"},
        {"a\0b", 3, "ab"}, /* NUL dropped */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = gen_utf8_lossy(cases[i].in, cases[i].n, out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_equals_full_recomputation),
        cmocka_unit_test(test_same_seed_same_samples_at_any_batch_size),
        cmocka_unit_test(test_auto_batch_size),
        cmocka_unit_test(test_fast_greedy_is_deterministic),
        cmocka_unit_test(test_stop_strings_cut_the_text_and_end_the_sample),
        cmocka_unit_test(test_every_eos_id_ends_a_sample),
        cmocka_unit_test(test_context_length_ends_samples),
        cmocka_unit_test(test_callback_can_stop_the_run),
        cmocka_unit_test(test_bad_parameters_are_refused),
        cmocka_unit_test(test_utf8_lossy_matches_replacement_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
