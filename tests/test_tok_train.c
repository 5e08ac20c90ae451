/* tok_train: the byte-level BPE trainer. Merges must be learned in the documented order, build
 * only on existing tokens, be reproducible, and give a tokenizer that round-trips any text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "tokenizer/tok_train.h"
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char workdir[64];

static int setup(void **state) {
    (void)state;
    snprintf(workdir, sizeof workdir, "/tmp/hf_toktrain_XXXXXX");
    return mkdtemp(workdir) ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    return fs_remove_tree(workdir);
}

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", workdir, name); }

static void write_file(const char *name, const char *text) {
    char p[256];
    path_in(p, sizeof p, name);
    assert_int_equal(fs_write_atomic(p, text, strlen(text)), 0);
}

/* Trains on text into workdir/dir; returns 0 or -1 (err filled). */
static int train_text(const char *text, int vocab, int min_freq, const char *dir, tok_train_stats *st, char *err,
                      size_t errcap) {
    tok_trainer *tr = tok_train_new(err, errcap);
    assert_non_null(tr);
    int rc = tok_train_add_text(tr, text, strlen(text), "text", err, errcap);
    tok_train_options o = {vocab, min_freq, NULL, NULL};
    if (!rc) rc = tok_train_run(tr, &o, st, err, errcap);
    char p[256];
    path_in(p, sizeof p, dir);
    if (!rc) rc = tok_train_write(tr, p, err, errcap);
    tok_train_free(tr);
    return rc;
}

static cJSON *read_json(const char *dir, const char *name) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s/%s", workdir, dir, name);
    char *text = fs_read_file(p, NULL);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static tokenizer *load(const char *dir) {
    char p[256], err[512];
    snprintf(p, sizeof p, "%s/%s/tokenizer.json", workdir, dir);
    tokenizer *t = tok_load(p, err, sizeof err);
    if (!t) fprintf(stderr, "%s\n", err);
    assert_non_null(t);
    return t;
}

static const char *CODE =
    "int main(void) {\n    int sum = 0;\n    for (int i = 0; i < 10; i++) {\n        sum += i;\n    }\n"
    "    printf(\"%d\\n\", sum);\n    return 0;\n}\n"
    "int square(int x) {\n    return x * x;\n}\n"
    "int cube(int x) {\n    return x * x * x;\n}\n"
    "void print_array(const int *a, int n) {\n    for (int i = 0; i < n; i++) printf(\"%d \", a[i]);\n}\n";

/* "ab ab ab cd cd" pre-tokenizes into ab, " ab" x2, " cd" x2: (a,b) occurs 3 times; then the ties
 * at 2 go to the pair whose bytes sort first: (" ", ab) < (" ", c) < (" c", d). */
static void test_first_merges_on_a_hand_made_corpus(void **state) {
    (void)state;
    char err[512];
    tok_train_stats st;
    assert_int_equal(train_text("ab ab ab cd cd", 1000, 2, "hand", &st, err, sizeof err), 0);
    cJSON *j = read_json("hand", "tokenizer.json");
    const cJSON *merges = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "model"), "merges");
    static const char *const want[] = {"a b", "\xC4\xA0 ab", "\xC4\xA0 c", "\xC4\xA0" "c d"}; /* Ġ is a space */
    assert_int_equal(cJSON_GetArraySize(merges), 4); /* then no pair occurs twice */
    for (int i = 0; i < 4; i++) assert_string_equal(cJSON_GetArrayItem(merges, i)->valuestring, want[i]);
    assert_int_equal(st.merges, 4);
    assert_int_equal(st.vocab_size, 256 + 4 + 3);
    assert_int_equal(st.pieces, 5);
    assert_int_equal(st.words, 3);
    assert_int_equal(st.tokens, 5); /* every piece became one token */
    cJSON_Delete(j);

    /* A piece seen once adds no merge at min_frequency 2, and merges up to itself at 1. */
    assert_int_equal(train_text("ab ab ab cd cd xy", 1000, 2, "hand2", &st, err, sizeof err), 0);
    assert_int_equal(st.merges, 4);
    assert_int_equal(train_text("ab ab ab cd cd xy", 1000, 1, "hand1", &st, err, sizeof err), 0);
    assert_int_equal(st.merges, 6);
    assert_int_equal(st.tokens, 6);
}

/* Every merge joins two tokens that exist before it (bytes or earlier merges); ids are dense, the
 * specials follow the learned vocabulary and the size is the one asked for. */
static void test_merges_build_on_existing_tokens(void **state) {
    (void)state;
    char err[512];
    tok_train_stats st;
    assert_int_equal(train_text(CODE, 300, 2, "code", &st, err, sizeof err), 0);
    assert_int_equal(st.vocab_size, 300);
    cJSON *j = read_json("code", "tokenizer.json");
    const cJSON *model = cJSON_GetObjectItem(j, "model");
    const cJSON *vocab = cJSON_GetObjectItem(model, "vocab"), *merges = cJSON_GetObjectItem(model, "merges");
    int nv = cJSON_GetArraySize(vocab);
    assert_int_equal(nv, 297);
    char *have = calloc((size_t)nv, 1); /* by id: available before the current merge */
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, vocab) {
        assert_int_equal((int)e->valuedouble, i); /* written in id order, dense */
        if (i < 256) have[i] = 1;
        i++;
    }
    cJSON_ArrayForEach(e, merges) {
        char l[512], *r;
        assert_true(cJSON_IsString(e) && strlen(e->valuestring) < sizeof l);
        strcpy(l, e->valuestring);
        r = strchr(l, ' ');
        assert_non_null(r);
        *r++ = 0;
        assert_null(strchr(r, ' '));
        const cJSON *li = cJSON_GetObjectItemCaseSensitive(vocab, l), *ri = cJSON_GetObjectItemCaseSensitive(vocab, r);
        assert_non_null(li);
        assert_non_null(ri);
        assert_true(have[(int)li->valuedouble]);
        assert_true(have[(int)ri->valuedouble]);
        char joined[512];
        snprintf(joined, sizeof joined, "%s%s", l, r);
        const cJSON *ji = cJSON_GetObjectItemCaseSensitive(vocab, joined);
        assert_non_null(ji);
        have[(int)ji->valuedouble] = 1;
    }
    for (i = 0; i < nv; i++) assert_true(have[i]); /* every learned token comes from a merge */
    free(have);
    const cJSON *added = cJSON_GetObjectItem(j, "added_tokens");
    static const char *const specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    for (i = 0; i < 3; i++) {
        const cJSON *a = cJSON_GetArrayItem(added, i);
        assert_string_equal(cJSON_GetObjectItem(a, "content")->valuestring, specials[i]);
        assert_int_equal((int)cJSON_GetObjectItem(a, "id")->valuedouble, nv + i);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a, "special")));
    }
    cJSON_Delete(j);

    /* The token count of the training statistics is what the tokenizer gives on the corpus. */
    tokenizer *t = load("code");
    int *ids;
    size_t n;
    assert_int_equal(tok_encode(t, CODE, strlen(CODE), false, &ids, &n), 0);
    assert_int_equal((int64_t)n, st.tokens);
    assert_true(st.word_bytes > 2 * st.tokens); /* it compresses */
    free(ids);
    assert_int_equal(tok_vocab_size(t), 300);
    tok_free(t);

    cJSON *cfg = read_json("code", "tokenizer_config.json");
    assert_string_equal(cJSON_GetObjectItem(cfg, "tokenizer_class")->valuestring, "Qwen2Tokenizer");
    assert_string_equal(cJSON_GetObjectItem(cfg, "eos_token")->valuestring, "<|im_end|>");
    assert_string_equal(cJSON_GetObjectItem(cfg, "pad_token")->valuestring, "<|endoftext|>");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cfg, "bos_token")));
    cJSON_Delete(cfg);
    char dir[256];
    path_in(dir, sizeof dir, "code");
    assert_int_equal(chat_detect(dir), CHAT_CHATML);
}

static void test_same_corpus_same_bytes(void **state) {
    (void)state;
    char err[512];
    tok_train_stats st;
    assert_int_equal(train_text(CODE, 320, 2, "det1", &st, err, sizeof err), 0);
    assert_int_equal(train_text(CODE, 320, 2, "det2", &st, err, sizeof err), 0);
    static const char *const files[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int f = 0; f < 2; f++) {
        char p1[256], p2[256];
        snprintf(p1, sizeof p1, "%s/det1/%s", workdir, files[f]);
        snprintf(p2, sizeof p2, "%s/det2/%s", workdir, files[f]);
        size_t n1, n2;
        char *a = fs_read_file(p1, &n1), *b = fs_read_file(p2, &n2);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        free(a);
        free(b);
    }
}

/* decode(encode(x)) == x for NFC text, bytes never seen in training and special tokens included. */
static void test_round_trip(void **state) {
    (void)state;
    char err[512];
    tok_train_stats st;
    assert_int_equal(train_text(CODE, 330, 2, "rt", &st, err, sizeof err), 0);
    tokenizer *t = load("rt");
    char all[200];
    int k = 0;
    for (int c = 1; c < 128; c++) all[k++] = (char)c; /* every ASCII byte, control characters too */
    all[k] = 0;
    const char *texts[] = {
        CODE, all, "", "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C", /* 你好，世界 */
        "na\xC3\xAFve caf\xC3\xA9 \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB \xCE\xA9", "     \n\n\t\t  \r\n  x",
        "0123456789 3.14159e-10 0xFFFF", "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        for (int special = 0; special < 2; special++) {
            int *ids;
            size_t n;
            assert_int_equal(tok_encode(t, texts[i], strlen(texts[i]), special, &ids, &n), 0);
            char *back = tok_decode(t, ids, n, false);
            assert_non_null(back);
            assert_string_equal(back, texts[i]);
            free(back);
            free(ids);
        }
    }
    int *ids;
    size_t n;
    const char *chat = "<|im_start|>user\nhi<|im_end|>";
    assert_int_equal(tok_encode(t, chat, strlen(chat), true, &ids, &n), 0);
    assert_int_equal(ids[0], tok_token_to_id(t, "<|im_start|>"));
    assert_int_equal(ids[n - 1], tok_token_to_id(t, "<|im_end|>"));
    assert_int_equal(ids[n - 1], tok_vocab_size(t) - 1);
    assert_true(tok_is_special(t, ids[0]));
    free(ids);
    tok_free(t);
}

/* Each SFT record form contributes the text of its fields, and nothing else (not the roles). */
static void test_jsonl_record_forms(void **state) {
    (void)state;
    write_file("data.jsonl",
               "{\"text\": \"alpha alpha\"}\n"
               "\n"
               "{\"messages\": [{\"role\": \"qqzz\", \"content\": \"bravo bravo\"}, {\"role\": \"assistant\", \"content\": "
               "\"charlie charlie\"}]}\n"
               "{\"prompt\": \"delta delta\", \"completion\": \"echo echo\"}\n"
               "{\"prompt\": \"fox fox\", \"response\": \"golf golf\"}\n"
               "{\"instruction\": \"hotel hotel\", \"input\": \"india india\", \"output\": \"juliet juliet\"}\n");
    char p[256], err[512];
    path_in(p, sizeof p, "data.jsonl");
    tok_trainer *tr = tok_train_new(err, sizeof err);
    assert_non_null(tr);
    assert_int_equal(tok_train_add_file(tr, p, err, sizeof err), 0);
    tok_train_options o = {2000, 2, NULL, NULL};
    tok_train_stats st;
    assert_int_equal(tok_train_run(tr, &o, &st, err, sizeof err), 0);
    assert_int_equal(st.pieces, 20);
    path_in(p, sizeof p, "forms");
    assert_int_equal(tok_train_write(tr, p, err, sizeof err), 0);
    tok_train_free(tr);
    tokenizer *t = load("forms");
    static const char *const words[] = {"alpha", "bravo", "charlie", "delta", "echo",
                                        "fox",   "golf",  "hotel",   "india", "juliet"};
    for (int i = 0; i < 10; i++) assert_true(tok_token_to_id(t, words[i]) >= 0);
    assert_true(tok_token_to_id(t, "qq") < 0); /* the role is not training text */
    tok_free(t);
}

static void expect_error(int rc, const char *err, const char *needle) {
    assert_int_equal(rc, -1);
    if (!strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_errors(void **state) {
    (void)state;
    char err[512], p[256];
    tok_train_stats st;
    expect_error(train_text(CODE, 258, 2, "x", &st, err, sizeof err), err, "too small");
    expect_error(train_text(CODE, 300, 0, "x", &st, err, sizeof err), err, "min frequency");
    expect_error(train_text("", 300, 2, "x", &st, err, sizeof err), err, "empty");
    expect_error(train_text("<|im_end|>", 300, 2, "x", &st, err, sizeof err), err, "empty");
    expect_error(train_text("bad \xFF byte", 300, 2, "x", &st, err, sizeof err), err, "text: not valid UTF-8");

    tok_trainer *tr = tok_train_new(err, sizeof err);
    assert_non_null(tr);
    path_in(p, sizeof p, "missing.txt");
    expect_error(tok_train_add_file(tr, p, err, sizeof err), err, "missing.txt: cannot read");
    write_file("bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": nope}\n");
    path_in(p, sizeof p, "bad.jsonl");
    expect_error(tok_train_add_file(tr, p, err, sizeof err), err, "bad.jsonl:2:");
    write_file("types.jsonl", "{\"text\": \"fine\"}\n{\"messages\": \"hi\"}\n");
    path_in(p, sizeof p, "types.jsonl");
    expect_error(tok_train_add_file(tr, p, err, sizeof err), err, "types.jsonl:2: \"messages\" is not an array");
    write_file("none.jsonl", "{\"label\": 1}\n");
    path_in(p, sizeof p, "none.jsonl");
    expect_error(tok_train_add_file(tr, p, err, sizeof err), err, "none.jsonl:1: no text field");
    write_file("num.jsonl", "{\"text\": 5}\n");
    path_in(p, sizeof p, "num.jsonl");
    expect_error(tok_train_add_file(tr, p, err, sizeof err), err, "num.jsonl:1: \"text\" is not a string");
    path_in(p, sizeof p, "never");
    expect_error(tok_train_write(tr, p, err, sizeof err), err, "no trained tokenizer");
    assert_false(fs_exists(p));
    tok_train_free(tr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_merges_on_a_hand_made_corpus),
        cmocka_unit_test(test_merges_build_on_existing_tokens),
        cmocka_unit_test(test_same_corpus_same_bytes),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_jsonl_record_forms),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
