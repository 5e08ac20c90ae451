/* Unit tests of src/bench/prompts: the 16 built-in prompts (their expected outputs are produced by
 * reference solutions compiled and run by our verifier) and the prompts JSONL reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/prompts.h"
#include "bench/score.h"
#include "core/fs.h"
#include "verify/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_builtins_match_the_original(void **state) {
    (void)state;
    bench_prompt_set set;
    assert_int_equal(bench_prompts_builtin(&set), 0);
    assert_int_equal(set.count, BENCH_BUILTIN_COUNT);
    /* the original's order, ids and a few exact texts / outputs */
    assert_string_equal(set.items[0].id, "hello_world");
    assert_string_equal(set.items[15].id, "linked_list_sum");
    assert_string_equal(set.items[0].prompt, "Write a C++ program that prints 'Hello, World!' to stdout.");
    assert_string_equal(set.items[2].expected_output, "1\n2\n3\n4\n5");
    assert_string_equal(set.items[4].expected_output, "0 1 1 2 3 5 8 13 21 34");
    long bs = bench_prompts_find(&set, "binary_search");
    assert_true(bs >= 0);
    assert_string_equal(set.items[bs].difficulty, "hard");
    assert_string_equal(set.items[bs].expected_output, "3");
    int easy = 0, medium = 0, hard = 0;
    for (size_t i = 0; i < set.count; i++) {
        const bench_prompt *p = &set.items[i];
        for (size_t j = 0; j < i; j++) assert_string_not_equal(p->id, set.items[j].id);
        assert_non_null(p->expected_output);
        assert_true(strlen(p->prompt) > 20);
        assert_string_not_equal(p->category, "unknown");
        easy += !strcmp(p->difficulty, "easy");
        medium += !strcmp(p->difficulty, "medium");
        hard += !strcmp(p->difficulty, "hard");
    }
    assert_int_equal(easy, 6);
    assert_int_equal(medium, 8);
    assert_int_equal(hard, 2);
    bench_prompts_free(&set);
}

/* Each built-in prompt has a reference solution in tests/fixtures/bench/builtin/<id>.cpp. Compiled
 * and run in the sandbox, each must produce exactly the expected output; and a solution run
 * against another prompt's expected output must not pass (the check can fail). */
static void test_reference_solutions_produce_expected_outputs(void **state) {
    (void)state;
    char gxx[512];
    if (!fs_which("g++", gxx, sizeof gxx)) skip();
    bench_prompt_set set;
    assert_int_equal(bench_prompts_builtin(&set), 0);
    size_t n = set.count;
    char **code = calloc(n, sizeof *code);
    vf_sample *s = calloc(n + 1, sizeof *s);
    vf_result *r = calloc(n + 1, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/fixtures/bench/builtin/%s.cpp", HF_SOURCE_DIR, set.items[i].id);
        code[i] = fs_read_file(path, NULL);
        assert_non_null(code[i]);
        bench_prompt_sample(&set.items[i], code[i], &s[i]);
    }
    /* the hello_world solution against fibonacci's expected output */
    bench_prompt_sample(&set.items[4], code[0], &s[n]);
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    char err[256];
    assert_int_equal(vf_verify_batch(&cfg, s, n + 1, r, NULL, NULL, err, sizeof err), 0);
    for (size_t i = 0; i < n; i++) {
        if (r[i].status != VF_CORRECT)
            fprintf(stderr, "%s: %s (%s) output [%s]\n", set.items[i].id, vf_status_name(r[i].status), r[i].error,
                    r[i].stdout_text);
        assert_int_equal(r[i].status, VF_CORRECT);
        assert_true(r[i].reward == 1.0);
        assert_string_equal(r[i].language == VF_LANG_CPP ? "cpp" : "other", "cpp");
    }
    assert_int_equal(r[n].status, VF_WRONG_OUTPUT);

    /* samples.jsonl records: the original's fields, with the real program output */
    cJSON *ok = bench_sample_record(&set.items[0], code[0], 3, &r[0], 42);
    const char *keys[] = {"prompt_id", "prompt", "expected_output", "code", "sample_idx", "compiles", "reward",
                          "error", "passes", "actual_output"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) assert_non_null(cJSON_GetObjectItem(ok, keys[k]));
    assert_string_equal(cJSON_GetObjectItem(ok, "actual_output")->valuestring, "Hello, World!\n");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ok, "passes")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ok, "error")));
    assert_int_equal(cJSON_GetObjectItem(ok, "sample_idx")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(ok, "generated_tokens")->valueint, 42);
    cJSON *bad = bench_sample_record(&set.items[4], code[0], 0, &r[n], -1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(bad, "compiles")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(bad, "passes")));
    assert_string_equal(cJSON_GetObjectItem(bad, "actual_output")->valuestring, "Hello, World!\n");
    assert_string_equal(cJSON_GetObjectItem(bad, "prompt_id")->valuestring, "fibonacci");
    assert_null(cJSON_GetObjectItem(bad, "generated_tokens"));
    cJSON_Delete(ok);
    cJSON_Delete(bad);
    bench_scored sc = bench_scored_of(&set.items[4], &r[n]);
    assert_true(sc.compiles && !sc.passes);
    assert_string_equal(sc.category, "algorithms");
    for (size_t i = 0; i <= n; i++) vf_result_free(&r[i]);
    for (size_t i = 0; i < n; i++) free(code[i]);
    free(code);
    free(s);
    free(r);
    bench_prompts_free(&set);
}

static char *write_tmp(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/hf_prompts_%d.jsonl", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_jsonl_reader(void **state) {
    (void)state;
    const char *text =
        "{\"prompt\": \"Print 42\", \"id\": \"p42\", \"category\": \"io\", \"difficulty\": \"easy\", \"expected_output\": \"42\"}\n"
        "{\"text\": \"From the text field\", \"id\": 7}\n"
        "not json at all\n"
        "{\"id\": \"no_prompt\"}\n"
        "\n"
        "{\"prompt\": \"Add\", \"task_id\": \"HumanEval/0\", \"tests\": \"def check(candidate):\\n    assert candidate(1, 2) == 3\\n\", \"entry_point\": \"add\"}\n"
        "{\"prompt\": \"Square\", \"tests\": [\"assert sq(3) == 9\", \"assert sq(2) == 4\"]}\n"
        "{\"prompt\": \"Double\", \"stdin\": \"4\", \"tests\": [{\"input\": \"1\", \"expected\": \"2\"}, {\"stdin\": \"5\", \"output\": \"10\"}]}\n"
        "{\"prompt\": \"Dup\", \"id\": \"p42\"}\n"
        "{\"prompt\": \"Bad tests\", \"tests\": [{\"input\": \"1\"}]}\n"
        "{\"prompt\": \"Bad type\", \"category\": 3}\n"
        "{\"prompt\": 5}\n";
    char *path = write_tmp(text);
    bench_prompt_set set;
    memset(&set, 0, sizeof set);
    char err[256];
    assert_int_equal(bench_prompts_load(path, &set, err, sizeof err), 0);
    assert_int_equal(set.count, 5);
    assert_int_equal(set.bad_lines, 6);
    const bench_prompt *p = &set.items[0];
    assert_string_equal(p->id, "p42");
    assert_string_equal(p->category, "io");
    assert_string_equal(p->expected_output, "42");
    assert_int_equal(p->line, 1);
    p = &set.items[1];
    assert_string_equal(p->id, "7");
    assert_string_equal(p->prompt, "From the text field");
    assert_string_equal(p->category, "unknown");
    assert_null(p->expected_output);
    p = &set.items[2];
    assert_string_equal(p->id, "HumanEval/0");
    assert_string_equal(p->entry_point, "add");
    assert_non_null(strstr(p->test_code, "def check"));
    p = &set.items[3];
    assert_string_equal(p->id, "prompt_7"); /* default id names the line */
    assert_string_equal(p->test_code, "assert sq(3) == 9\nassert sq(2) == 4\n");
    p = &set.items[4];
    assert_int_equal(p->n_tests, 2);
    assert_string_equal(p->tests[1].input, "5");
    assert_string_equal(p->tests[1].expected, "10");
    assert_string_equal(p->stdin_text, "4");
    vf_sample s;
    bench_prompt_sample(p, "code", &s);
    assert_ptr_equal(s.tests, p->tests);
    assert_int_equal(s.n_tests, 2);
    assert_string_equal(s.completion, "code");
    bench_prompts_free(&set);

    /* nothing usable is an error naming the file */
    path = write_tmp("{\"id\": 1}\nnope\n");
    memset(&set, 0, sizeof set);
    assert_int_equal(bench_prompts_load(path, &set, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "2 bad lines"));
    bench_prompts_free(&set);
    unlink(path);
    memset(&set, 0, sizeof set);
    assert_int_equal(bench_prompts_load("/nonexistent/p.jsonl", &set, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/p.jsonl"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_match_the_original),
        cmocka_unit_test(test_reference_solutions_produce_expected_outputs),
        cmocka_unit_test(test_jsonl_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
