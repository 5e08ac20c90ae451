/* Unit tests of src/model/gguf: the Q8_0 / Q4_0 block formats (byte layout, and the error each is bound to),
 * the reader against malformed files (every truncation, wrong magic and version, counts, sizes, offsets,
 * types, dimensions, duplicates, alignment), the HF <-> llama.cpp names and the llama Q/K row order, and a
 * random model exported and read back scoring as its folder does. The llama.cpp round trip is
 * tests/cli/export_gguf.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/rng.h"
#include "model/gguf.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_gguf_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    return fs_remove_tree(dir);
}

/* ---------- block formats ---------- */

static float fp16_round(float x) { return st_f16_to_f32(st_f32_to_f16(x)); }

static void test_q8_0_layout_and_bound(void **state) {
    (void)state;
    /* A block with a known answer: amax 16 -> d = 16/127, q = round(x * 127 / 16). */
    float x[32], y[32];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16);
    unsigned char b[34];
    assert_int_equal(gguf_row_size(GGUF_Q8_0, 32), 34);
    gguf_quantize_row(GGUF_Q8_0, x, b, 32);
    uint16_t d16 = (uint16_t)(b[0] | b[1] << 8);
    assert_int_equal(d16, st_f32_to_f16(16.0f / 127.0f));
    assert_int_equal((int8_t)b[2], -127);           /* x = -16 */
    assert_int_equal((int8_t)b[2 + 16], 0);         /* x = 0 */
    assert_int_equal((int8_t)b[2 + 17], 8);         /* round(127 / 16) = round(7.94) */
    /* Random rows: every value within d/2 plus the fp16 rounding of d (|q| <= 127 of it). */
    rng_state r;
    rng_seed(&r, 7);
    enum { N = 32 * 64 };
    float *v = malloc(N * sizeof *v), *w = malloc(N * sizeof *w);
    unsigned char *q = malloc(gguf_row_size(GGUF_Q8_0, N));
    for (int i = 0; i < N; i++) v[i] = (float)rng_normal(&r) * (i % 64 == 0 ? 10.0f : 1.0f);
    gguf_quantize_row(GGUF_Q8_0, v, q, N);
    gguf_dequantize_row(GGUF_Q8_0, q, w, N);
    for (int blk = 0; blk < N / 32; blk++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[blk * 32 + j]));
        const float d = amax / 127.0f, bound = d / 2 + 127.0f * fabsf(fp16_round(d) - d) + 1e-6f * amax;
        for (int j = 0; j < 32; j++) assert_true(fabsf(v[blk * 32 + j] - w[blk * 32 + j]) <= bound);
    }
    /* An all-zero block stays zero (d = 0, no division by zero). */
    memset(x, 0, sizeof x);
    gguf_quantize_row(GGUF_Q8_0, x, b, 32);
    gguf_dequantize_row(GGUF_Q8_0, b, y, 32);
    for (int j = 0; j < 32; j++) assert_true(y[j] == 0);
    free(v); free(w); free(q);
}

static void test_q4_0_layout_and_bound(void **state) {
    (void)state;
    /* The value of largest magnitude (-8 here) gets d = -8 / -8 = 1 and nibble 0; value j of the block sits in
     * the low nibble of byte j, value j + 16 in the high one. */
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = j < 16 ? (float)(j % 8) - 7.0f : (float)((j - 16) % 8);
    x[3] = -8.0f;
    unsigned char b[18];
    assert_int_equal(gguf_row_size(GGUF_Q4_0, 32), 18);
    gguf_quantize_row(GGUF_Q4_0, x, b, 32);
    assert_int_equal((uint16_t)(b[0] | b[1] << 8), st_f32_to_f16(1.0f));
    for (int j = 0; j < 16; j++) {
        int lo = (int)lrintf(x[j] * 1.0f) + 8, hi = (int)lrintf(x[j + 16]) + 8; /* d = 1: q = x + 8 */
        assert_int_equal(b[2 + j] & 15, lo);
        assert_int_equal(b[2 + j] >> 4, hi);
    }
    float y[32];
    gguf_dequantize_row(GGUF_Q4_0, b, y, 32);
    for (int j = 0; j < 32; j++) assert_true(y[j] == x[j]);
    /* Random rows: within |d|/2 plus the fp16 rounding of d (|q - 8| <= 8 of it); values that clamp (nibble
     * 16 -> 15: the other sign than m and at least 15/16 of its size) within |d|. */
    rng_state r;
    rng_seed(&r, 9);
    enum { N = 32 * 64 };
    float *v = malloc(N * sizeof *v), *w = malloc(N * sizeof *w);
    unsigned char *q = malloc(gguf_row_size(GGUF_Q4_0, N));
    for (int i = 0; i < N; i++) v[i] = (float)rng_normal(&r);
    v[40] = 2.5f; v[41] = -2.5f; /* a block whose extremes are opposite: the clamp */
    gguf_quantize_row(GGUF_Q4_0, v, q, N);
    gguf_dequantize_row(GGUF_Q4_0, q, w, N);
    for (int blk = 0; blk < N / 32; blk++) {
        float amax = 0, m = 0;
        for (int j = 0; j < 32; j++)
            if (fabsf(v[blk * 32 + j]) > amax) { amax = fabsf(v[blk * 32 + j]); m = v[blk * 32 + j]; }
        const float d = fabsf(m / 8.0f), round = 8.0f * fabsf(fp16_round(d) - d) + 1e-6f * amax;
        for (int j = 0; j < 32; j++) {
            float e = fabsf(v[blk * 32 + j] - w[blk * 32 + j]);
            bool clamp = v[blk * 32 + j] / (m / -8.0f) >= 7.5f; /* x of the other sign than m, |x| >= 15/16 |m| */
            assert_true(e <= (clamp ? d : d / 2) + round);
        }
    }
    free(v); free(w); free(q);
}

static void test_plain_types(void **state) {
    (void)state;
    float x[4] = {1.0f, -2.5f, 3.14159f, 65504.0f}, y[4];
    unsigned char b[16];
    gguf_quantize_row(GGUF_F32, x, b, 4);
    gguf_dequantize_row(GGUF_F32, b, y, 4);
    assert_memory_equal(x, y, sizeof x);
    gguf_quantize_row(GGUF_F16, x, b, 4);
    gguf_dequantize_row(GGUF_F16, b, y, 4);
    for (int i = 0; i < 4; i++) assert_true(y[i] == fp16_round(x[i]));
    gguf_quantize_row(GGUF_BF16, x, b, 4);
    gguf_dequantize_row(GGUF_BF16, b, y, 4);
    for (int i = 0; i < 4; i++) assert_true(y[i] == st_bf16_to_f32(st_f32_to_bf16(x[i])));
    assert_int_equal(gguf_type_parse("q8_0"), GGUF_Q8_0);
    assert_int_equal(gguf_type_parse("q4_k"), -1);
}

/* ---------- names and the llama row order ---------- */

static void test_names_and_permutation(void **state) {
    (void)state;
    char g[160];
    assert_int_equal(gguf_hf_to_gguf_name("model.layers.11.self_attn.o_proj.weight", g, sizeof g), 0);
    assert_string_equal(g, "blk.11.attn_output.weight");
    assert_int_equal(gguf_hf_to_gguf_name("model.embed_tokens.weight", g, sizeof g), 0);
    assert_string_equal(g, "token_embd.weight");
    assert_int_equal(gguf_hf_to_gguf_name("model.layers.0.mlp.gate_proj.weight", g, sizeof g), 0);
    assert_string_equal(g, "blk.0.ffn_gate.weight");
    assert_int_equal(gguf_hf_to_gguf_name("model.layers.0.self_attn.rotary_emb.inv_freq", g, sizeof g), -1);
    /* Two heads of 8: GGUF row 2j + i of a head is HF row 4i + j; back again gives the original. */
    int src[16], mid[16], back[16];
    for (int i = 0; i < 16; i++) src[i] = i;
    gguf_permute_rows(mid, src, 16, sizeof(int), 8, true);
    const int want[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    for (int i = 0; i < 8; i++) { assert_int_equal(mid[i], want[i]); assert_int_equal(mid[8 + i], 8 + want[i]); }
    gguf_permute_rows(back, mid, 16, sizeof(int), 8, false);
    assert_memory_equal(back, src, sizeof src);
}

/* ---------- malformed files ---------- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;
static void put(bytes *b, const void *s, size_t n) {
    if (b->n + n > b->cap) { b->cap = (b->n + n) * 2 + 64; b->p = realloc(b->p, b->cap); }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void str(bytes *b, const char *s) { u64(b, strlen(s)); put(b, s, strlen(s)); }

/* A small valid file: three keys (a string, a u32, a string array) and two tensors, an F32 [4] and a Q8_0
 * [32, 2]. Fields can be overridden to make it malformed. */
typedef struct {
    const char *magic;
    uint32_t version, n_dims0, type1, align;
    uint64_t n_tensors, n_kv, arr_n, ne0, off1, str_len;
    const char *name1, *key2;
} spec;

static spec good(void) {
    return (spec){.magic = "GGUF", .version = 3, .n_dims0 = 1, .type1 = GGUF_Q8_0, .align = 32, .n_tensors = 2,
                  .n_kv = 4, .arr_n = 2, .ne0 = 4, .off1 = 32, .str_len = 0, .name1 = "b", .key2 = "x.count"};
}

static bytes build(spec s) {
    bytes b = {0};
    put(&b, s.magic, 4);
    u32(&b, s.version);
    u64(&b, s.n_tensors);
    u64(&b, s.n_kv);
    str(&b, "general.architecture"); u32(&b, GGUF_V_STRING);
    if (s.str_len) { u64(&b, s.str_len); put(&b, "qwen2", 5); } else str(&b, "qwen2");
    str(&b, s.key2); u32(&b, GGUF_V_UINT32); u32(&b, 7);
    str(&b, "x.list"); u32(&b, GGUF_V_ARRAY); u32(&b, GGUF_V_STRING); u64(&b, s.arr_n); str(&b, "ab"); str(&b, "c");
    str(&b, "general.alignment"); u32(&b, GGUF_V_UINT32); u32(&b, s.align);
    str(&b, "a"); u32(&b, s.n_dims0);
    for (uint32_t d = 0; d < s.n_dims0 && d < 8; d++) u64(&b, d ? 1 : s.ne0);
    u32(&b, GGUF_F32); u64(&b, 0);
    str(&b, s.name1); u32(&b, 2); u64(&b, 32); u64(&b, 2); u32(&b, s.type1); u64(&b, s.off1);
    while (b.n % 32) put(&b, "", 1);
    for (int i = 0; i < 32 + 68; i++) put(&b, "\x01", 1);
    return b;
}

static const char *write_file(const char *name, const bytes *b) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(fs_write_atomic(path, b->p, b->n), 0);
    return path;
}

/* Opening fails with a message naming the file and containing want. */
static void refused(spec s, const char *want) {
    bytes b = build(s);
    const char *path = write_file("bad.gguf", &b);
    char err[512] = "";
    gguf_file *f = gguf_open(path, err, sizeof err);
    if (f || !strstr(err, want) || !strstr(err, path)) fprintf(stderr, "expected '%s', got '%s'\n", want, err);
    assert_null(f);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, want));
    free(b.p);
}

static void test_reader_good_file(void **state) {
    (void)state;
    bytes b = build(good());
    const char *path = write_file("good.gguf", &b);
    char err[512];
    gguf_file *f = gguf_open(path, err, sizeof err);
    assert_non_null(f);
    assert_int_equal(f->n_tensors, 2);
    assert_int_equal(f->n_kv, 4);
    int64_t v = 0;
    assert_int_equal(gguf_get_int(f, "x.count", &v, err, sizeof err), 1);
    assert_int_equal(v, 7);
    assert_int_equal(gguf_get_int(f, "general.architecture", &v, err, sizeof err), -1); /* a string */
    const gguf_kv *kv = gguf_find(f, "x.list");
    size_t n;
    assert_non_null(kv);
    assert_int_equal(kv->n, 2);
    assert_memory_equal(gguf_arr_str(kv, 1, &n), "c", 1);
    assert_int_equal(n, 1);
    const gguf_tensor *t = gguf_find_tensor(f, "b");
    assert_non_null(t);
    assert_int_equal(t->nbytes, 68);
    assert_int_equal(t->ne[0], 32);
    assert_int_equal(t->ne[1], 2);
    gguf_close(f);
    /* Every truncation of the file is refused with a message, never read past its end (ASan watches). */
    for (size_t len = 0; len < b.n; len++) {
        bytes c = {b.p, len, len};
        const char *p = write_file("cut.gguf", &c);
        err[0] = 0;
        f = gguf_open(p, err, sizeof err);
        assert_null(f);
        assert_true(strstr(err, "truncated") || strstr(err, "cannot fit"));
    }
    free(b.p);
}

static void test_reader_refuses_malformed(void **state) {
    (void)state;
    spec s;
    s = good(); s.magic = "GGML"; refused(s, "not a GGUF file");
    s = good(); s.version = 1; refused(s, "GGUF version 1 is not supported");
    s = good(); s.version = 4; refused(s, "GGUF version 4");
    s = good(); s.n_kv = 1ull << 60; refused(s, "metadata count");
    s = good(); s.n_tensors = 1ull << 60; refused(s, "tensor count");
    s = good(); s.n_tensors = 3; refused(s, "tensor 2: name is empty");
    s = good(); s.str_len = 1ull << 62; refused(s, "truncated");
    s = good(); s.arr_n = 1ull << 61; refused(s, "cannot fit");
    s = good(); s.key2 = "general.architecture"; refused(s, "appears twice");
    s = good(); s.name1 = "a"; refused(s, "tensor 'a' appears twice");
    s = good(); s.align = 24; refused(s, "not a power of two");
    s = good(); s.off1 = 16; refused(s, "not a multiple of the alignment");
    s = good(); s.off1 = 0; refused(s, "overlap");
    s = good(); s.off1 = 64; refused(s, "bad offset: tensor 'b'");
    s = good(); s.off1 = 1ull << 62; refused(s, "bad offset");
    s = good(); s.type1 = 12; refused(s, "ggml type 12 (Q4_K)");
    s = good(); s.type1 = 99; refused(s, "ggml type 99");
    s = good(); s.n_dims0 = 5; refused(s, "5 dimensions");
    s = good(); s.n_dims0 = 0; refused(s, "0 dimensions");
    s = good(); s.ne0 = 0; refused(s, "dimension 0 is 0");
    s = good(); s.ne0 = 1ull << 50; refused(s, "impossibly large");
}

/* A file that opens but is not a model: clear messages from the model loader. */
static void test_not_a_model(void **state) {
    (void)state;
    bytes b = build(good());
    const char *path = write_file("notmodel.gguf", &b);
    char err[512];
    model *m = model_load(path, err, sizeof err);
    assert_null(m);
    assert_non_null(strstr(err, "token_embd.weight"));
    free(b.p);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/none.gguf", dir);
    assert_null(model_load(missing, err, sizeof err));
    assert_non_null(strstr(err, "none.gguf"));
}

/* ---------- a model exported and read back ---------- */

typedef struct {
    const st_file *src;
    const char **names;
} copy_ctx;

static int copy_fill(void *vctx, int idx, void *dst, size_t nbytes) {
    copy_ctx *c = vctx;
    const st_tensor *t = st_find(c->src, c->names[idx]);
    if (!t || t->nbytes != nbytes) return -1;
    memcpy(dst, t->data, nbytes);
    return 0;
}

/* Splits d/model.safetensors into two shards with a model.safetensors.index.json, as the Hub stores large models. */
static void shard(const char *d) {
    char src[600], path[700], err[512];
    snprintf(src, sizeof src, "%s/model.safetensors", d);
    st_file *f = st_open(src, err, sizeof err);
    assert_non_null(f);
    FILE *idx = fopen((snprintf(path, sizeof path, "%s/model.safetensors.index.json", d), path), "w");
    assert_non_null(idx);
    fprintf(idx, "{\"metadata\": {}, \"weight_map\": {");
    for (int part = 0; part < 2; part++) {
        st_spec specs[64];
        const char *names[64];
        int n = 0;
        for (int i = 0; i < f->n_tensors; i++) {
            if (i % 2 != part) continue;
            const st_tensor *t = &f->tensors[i];
            specs[n] = (st_spec){.name = t->name, .dtype = t->dtype, .ndim = t->ndim};
            memcpy(specs[n].shape, t->shape, sizeof t->shape);
            names[n++] = t->name;
            fprintf(idx, "%s\"%s\": \"model-%05d-of-00002.safetensors\"", i ? ", " : "", t->name, part + 1);
        }
        snprintf(path, sizeof path, "%s/model-%05d-of-00002.safetensors", d, part + 1);
        copy_ctx cc = {f, names};
        assert_int_equal(st_write(path, specs, n, "{\"format\":\"pt\"}", copy_fill, &cc, err, sizeof err), 0);
    }
    fprintf(idx, "}}\n");
    fclose(idx);
    st_close(f);
    assert_int_equal(unlink(src), 0);
}

static void test_export_and_load(void **state) {
    (void)state;
    model_config c;
    assert_int_equal(model_preset("tiny", &c), 0);
    char mdir[512], out[512], err[1024];
    snprintf(mdir, sizeof mdir, "%s/m", dir);
    c.hidden_size = 64; c.intermediate_size = 96; c.num_heads = 4; c.num_kv_heads = 2; c.head_dim = 16;
    c.num_layers = 2;
    assert_int_equal(tok_write_small(mdir, err, sizeof err), 0);
    char tp[600];
    snprintf(tp, sizeof tp, "%s/tokenizer.json", mdir);
    tokenizer *tk = tok_load(tp, err, sizeof err);
    assert_non_null(tk);
    c.vocab_size = tok_vocab_size(tk);
    c.eos_ids[0] = c.vocab_size - 1;
    c.n_eos = 1;
    /* Variants: 0 Qwen2 tied; 1 Llama untied (Q/K rows reordered); 2 Qwen2 with head_dim 10 != hidden / heads
     * (key_length written) and rows of 36 values (block types fall back to f16); 3 a sharded Qwen2 folder. */
    for (int v = 0; v < 4; v++) {
        const int arch = v == 1;
        snprintf(c.arch, sizeof c.arch, "%s", arch ? "LlamaForCausalLM" : "Qwen2ForCausalLM");
        c.attn_bias = !arch;
        c.tie_embeddings = !arch;
        if (v == 2) { c.hidden_size = 36; c.intermediate_size = 50; c.num_heads = 3; c.num_kv_heads = 3; c.head_dim = 10; }
        if (v == 3) { c.hidden_size = 64; c.intermediate_size = 96; c.num_heads = 4; c.num_kv_heads = 2; c.head_dim = 16; }
        assert_int_equal(model_write_random(mdir, &c, v == 3, 11, 0.1, true, err, sizeof err), 0);
        if (v == 3) shard(mdir);
        int ids[12];
        for (int i = 0; i < 12; i++) ids[i] = (i * 37 + 5) % c.vocab_size;
        float ref[11], got[11];
        model *m = model_load(mdir, err, sizeof err);
        assert_non_null(m);
        assert_int_equal(model_logprobs(m, ids, 12, ref, err, sizeof err), 0);
        model_free(m);
        const int types[] = {GGUF_F32, GGUF_F16, GGUF_BF16, GGUF_Q8_0, GGUF_Q4_0};
        const double tol[] = {1e-5, 1e-2, 5e-2, 0.1, 1.5};
        for (int t = 0; t < 5; t++) {
            snprintf(out, sizeof out, "%s/m.gguf", dir);
            gguf_export_opts o = {.model_dir = mdir, .tok_dir = mdir, .output = out, .type = types[t]};
            if (gguf_export(&o, NULL, NULL, err, sizeof err)) fail_msg("%s", err);
            if (v == 2 && types[t] == GGUF_Q8_0) {
                gguf_file *gf = gguf_open(out, err, sizeof err);
                assert_non_null(gf);
                int64_t kl = 0;
                assert_int_equal(gguf_get_int(gf, "qwen2.attention.key_length", &kl, err, sizeof err), 1);
                assert_int_equal(kl, 10);
                assert_int_equal(gguf_find_tensor(gf, "blk.0.ffn_up.weight")->type, GGUF_F16);      /* rows of 36 */
                assert_int_equal(gguf_find_tensor(gf, "blk.0.ffn_down.weight")->type, GGUF_F16);    /* rows of 50 */
                assert_int_equal(gguf_find_tensor(gf, "blk.0.attn_norm.weight")->type, GGUF_F32);
                gguf_close(gf);
            }
            m = model_load(out, err, sizeof err);
            if (!m) fail_msg("%s", err);
            const model_config *g = model_get_config(m);
            assert_string_equal(g->arch, c.arch);
            assert_int_equal(g->vocab_size, c.vocab_size);
            assert_int_equal(g->num_kv_heads, c.num_kv_heads);
            assert_int_equal(g->head_dim, c.head_dim);
            assert_int_equal(g->tie_embeddings, c.tie_embeddings);
            assert_int_equal(g->n_eos, 1);
            assert_int_equal(g->eos_ids[0], c.eos_ids[0]);
            assert_int_equal(model_logprobs(m, ids, 12, got, err, sizeof err), 0);
            double md = 0;
            for (int i = 0; i < 11; i++) md = fmax(md, fabs(ref[i] - got[i]));
            if (md > tol[t]) fail_msg("%s %s: max |logprob difference| %g > %g", c.arch, gguf_type_name(types[t]), md, tol[t]);
            model_free(m);
            /* The tokenizer stored in the file encodes as the folder's does. */
            chat_template tpl = CHAT_RAW;
            tokenizer *tg = gguf_model_tokenizer(out, &tpl, err, sizeof err);
            if (!tg) fail_msg("%s", err);
            assert_int_equal(tpl, CHAT_CHATML);
            const char *text = "int main() {\n    return 42; }<|im_end|>";
            int *a = NULL, *bb = NULL;
            size_t na, nb;
            assert_int_equal(tok_encode(tk, text, strlen(text), true, &a, &na), 0);
            assert_int_equal(tok_encode(tg, text, strlen(text), true, &bb, &nb), 0);
            assert_int_equal(na, nb);
            assert_memory_equal(a, bb, na * sizeof *a);
            free(a);
            free(bb);
            tok_free(tg);
        }
    }
    tok_free(tk);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q8_0_layout_and_bound),
        cmocka_unit_test(test_q4_0_layout_and_bound),
        cmocka_unit_test(test_plain_types),
        cmocka_unit_test(test_names_and_permutation),
        cmocka_unit_test(test_reader_good_file),
        cmocka_unit_test(test_reader_refuses_malformed),
        cmocka_unit_test(test_not_a_model),
        cmocka_unit_test(test_export_and_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
