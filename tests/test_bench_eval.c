/* Unit tests of src/bench/suites (the named benchmarks of `benchmark eval`: built-in sets, HumanEval
 * and MBPP files and how they reach the python verifier) and of bench_eval_report (the `benchmark run`
 * report of verified samples). Model-driven runs are tested end to end in tests/cli/benchmark_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/eval.h"
#include "bench/score.h"
#include "bench/suites.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "verify/verify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef HF_SOURCE_DIR
#define HF_SOURCE_DIR "."
#endif
#define FIX HF_SOURCE_DIR "/tests/fixtures/bench"

static void test_suite_names(void **state) {
    (void)state;
    const char *names[] = {"humaneval", "mbpp", "cpp", "rust", "go"};
    for (int i = 0; i < 5; i++) {
        const bench_suite *s = bench_suite_find(names[i]);
        assert_non_null(s);
        assert_string_equal(s->name, names[i]);
        assert_non_null(strstr(bench_suite_names(), names[i]));
        assert_non_null(strstr(s->system_prompt, "expert"));
    }
    assert_int_equal(bench_suite_find("humaneval")->verifier, VF_PYTHON);
    assert_int_equal(bench_suite_find("mbpp")->verifier, VF_PYTHON);
    assert_int_equal(bench_suite_find("cpp")->verifier, VF_GCC);
    assert_int_equal(bench_suite_find("rust")->verifier, VF_RUST);
    assert_int_equal(bench_suite_find("go")->verifier, VF_GO);
    assert_null(bench_suite_find("livecodebench"));
    assert_null(bench_suite_find(NULL));
}

/* The original's ids and expected outputs of its RUST and GO sets, in its order. */
static void test_builtin_language_sets(void **state) {
    (void)state;
    static const char *rust_ids[] = {"hello_world", "sum_function", "factorial", "fibonacci", "vector_sum",
                                     "option_handling", "string_reverse", "prime_check", "binary_search", "hashmap"};
    static const char *rust_out[] = {"Hello, World!", "8", "720", "0 1 1 2 3 5 8 13 21 34", "15", "10", "olleh", "yes",
                                     "3", "2"};
    static const char *go_ids[] = {"hello_world", "sum_function", "factorial", "fibonacci", "slice_sum",
                                   "string_reverse", "prime_check", "binary_search", "map_usage", "goroutine"};
    static const char *go_out[] = {"Hello, World!", "8", "720", "0 1 1 2 3 5 8 13 21 34", "15", "olleh", "yes", "3",
                                   "2", "done"};
    bench_prompt_set set;
    char err[512];
    assert_int_equal(bench_suite_load(bench_suite_find("rust"), NULL, 0, &set, err, sizeof err), 0);
    assert_int_equal(set.count, 10);
    for (int i = 0; i < 10; i++) {
        assert_string_equal(set.items[i].id, rust_ids[i]);
        assert_string_equal(set.items[i].expected_output, rust_out[i]);
        assert_non_null(strstr(set.items[i].prompt, "Rust"));
        assert_null(strstr(set.items[i].prompt, "C++"));
    }
    bench_prompts_free(&set);
    assert_int_equal(bench_suite_load(bench_suite_find("go"), NULL, 0, &set, err, sizeof err), 0);
    assert_int_equal(set.count, 10);
    for (int i = 0; i < 10; i++) {
        assert_string_equal(set.items[i].id, go_ids[i]);
        assert_string_equal(set.items[i].expected_output, go_out[i]);
        assert_non_null(strstr(set.items[i].prompt, "Go "));
    }
    bench_prompts_free(&set);
    assert_int_equal(bench_suite_load(bench_suite_find("cpp"), NULL, 0, &set, err, sizeof err), 0);
    assert_int_equal(set.count, BENCH_BUILTIN_COUNT);
    bench_prompts_free(&set);
    assert_int_equal(bench_suite_load(bench_suite_find("cpp"), NULL, 3, &set, err, sizeof err), 0);
    assert_int_equal(set.count, 3);
    assert_string_equal(set.items[2].id, "count_1_to_5");
    bench_prompts_free(&set);
}

static void test_datasets_required_and_checked(void **state) {
    (void)state;
    bench_prompt_set set;
    char err[1024];
    assert_int_equal(bench_suite_load(bench_suite_find("humaneval"), NULL, 0, &set, err, sizeof err), -1);
    assert_non_null(strstr(err, "--dataset FILE"));
    assert_non_null(strstr(err, "HumanEval"));
    assert_int_equal(bench_suite_load(bench_suite_find("mbpp"), NULL, 0, &set, err, sizeof err), -1);
    assert_non_null(strstr(err, "MBPP"));
    assert_int_equal(bench_suite_load(bench_suite_find("mbpp"), "/nonexistent.jsonl", 0, &set, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent.jsonl"));

    /* MBPP tasks are not HumanEval tasks (no check()), and a HumanEval file needs entry points */
    assert_int_equal(bench_suite_load(bench_suite_find("humaneval"), FIX "/mbpp_mini.jsonl", 0, &set, err, sizeof err), -1);
    assert_non_null(strstr(err, "mbpp_mini.jsonl:1: not a HumanEval task"));
    char path[] = "/tmp/hf_test_suites_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"task_id\": \"t/0\", \"prompt\": \"def f():\\n\", \"tests\": \"def check(c):\\n    assert c() == 1\\n\"}\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(bench_suite_load(bench_suite_find("humaneval"), path, 0, &set, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1: not a HumanEval task: no 'entry_point'"));
    unlink(path);
}

static void test_humaneval_and_mbpp_files(void **state) {
    (void)state;
    bench_prompt_set he, mb;
    char err[512];
    assert_int_equal(bench_suite_load(bench_suite_find("humaneval"), FIX "/humaneval_mini.jsonl", 2, &he, err, sizeof err), 0);
    assert_int_equal(he.count, 2);
    assert_string_equal(he.items[0].id, "MiniEval/0");
    assert_string_equal(he.items[0].entry_point, "add_three");
    assert_string_equal(he.items[0].category, "humaneval");
    assert_non_null(strstr(he.items[0].prompt, "def add_three(a, b, c):")); /* the prompt stays the signature */

    assert_int_equal(bench_suite_load(bench_suite_find("mbpp"), FIX "/mbpp_mini.jsonl", 0, &mb, err, sizeof err), 0);
    assert_int_equal(mb.count, 4);
    assert_string_equal(mb.items[0].id, "1"); /* integer task ids */
    /* the tests reach the verifier as the file has them (it calls a test_solution() they only define) */
    assert_string_equal(mb.items[0].test_code,
                        "def test_solution():\n    assert max_of_three(1, 5, 3) == 5\n    assert max_of_three(9, 2, 4) == 9\n");
    /* the function's name is added to the prompt, also when the prompt uses the word ("the square of") */
    assert_non_null(strstr(mb.items[0].prompt, "The function must be named max_of_three."));
    assert_non_null(strstr(mb.items[2].prompt, "The function must be named square."));

    /* through the python verifier: right and wrong answers */
    struct {
        const bench_prompt *p;
        const char *completion;
        bool passes;
    } cases[] = {
        {&he.items[0], "```python\ndef add_three(a, b, c):\n    return a + b + c\n```", true},
        {&he.items[0], "```python\ndef add_three(a, b, c):\n    return a * b * c\n```", false},
        {&he.items[1], "```python\n    return n % 2 == 0\n```", true}, /* the body only: the prompt goes in front */
        {&mb.items[0], "```python\ndef max_of_three(a, b, c):\n    return max(a, b, c)\n```", true},
        {&mb.items[0], "```python\ndef max_of_three(a, b, c):\n    return min(a, b, c)\n```", false},
        {&mb.items[1], "def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)\n", true},
        {&mb.items[2], "```python\ndef square(x):\n    return x * x\n```", true},
        {&mb.items[2], "```python\ndef sq(x):\n    return x * x\n```", false},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    vf_config cfg;
    vf_config_default(&cfg, VF_PYTHON);
    cfg.workers = 2;
    vf_sample smp[8];
    vf_result res[8];
    for (size_t i = 0; i < n; i++) bench_prompt_sample(cases[i].p, cases[i].completion, &smp[i]);
    assert_int_equal(vf_verify_batch(&cfg, smp, n, res, NULL, NULL, err, sizeof err), 0);
    for (size_t i = 0; i < n; i++) {
        if (bench_sample_passes(&res[i]) != cases[i].passes)
            fail_msg("case %zu: passes=%d, want %d (%s: %s)", i, bench_sample_passes(&res[i]), cases[i].passes,
                     vf_status_name(res[i].status), res[i].error);
        vf_result_free(&res[i]);
    }
    bench_prompts_free(&he);
    bench_prompts_free(&mb);
}

/* Reference programs for the built-in Rust and Go prompts whose wording is ours print the expected
 * output through our verifiers (skipped without the toolchain). */
static void test_language_references(void **state) {
    (void)state;
    struct {
        const char *suite, *id, *file;
    } refs[] = {{"rust", "option_handling", "option_handling.rs"},
                {"rust", "hashmap", "hashmap.rs"},
                {"go", "map_usage", "map_usage.go"},
                {"go", "goroutine", "goroutine.go"}};
    char err[512], tool[512];
    int ran = 0;
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        const bench_suite *s = bench_suite_find(refs[i].suite);
        vf_config cfg;
        vf_config_default(&cfg, s->verifier);
        cfg.run = true;
        cfg.compile_timeout_s = 120;
        if (!vf_find_tool(&cfg, s->lang, tool, sizeof tool)) continue;
        bench_prompt_set set;
        assert_int_equal(bench_suite_load(s, NULL, 0, &set, err, sizeof err), 0);
        long pi = bench_prompts_find(&set, refs[i].id);
        assert_true(pi >= 0);
        char path[512];
        snprintf(path, sizeof path, FIX "/lang/%s", refs[i].file);
        size_t len;
        char *code = fs_read_file(path, &len);
        assert_non_null(code);
        vf_sample smp;
        bench_prompt_sample(&set.items[pi], code, &smp);
        vf_result r;
        assert_int_equal(vf_verify(&cfg, &smp, &r, err, sizeof err), 0);
        if (r.status != VF_CORRECT)
            fail_msg("%s %s: %s (%s) output '%s'", refs[i].suite, refs[i].id, vf_status_name(r.status), r.error,
                     r.stdout_text);
        vf_result_free(&r);
        free(code);
        bench_prompts_free(&set);
        ran++;
    }
    if (!ran) skip();
}

static void test_report_counts(void **state) {
    (void)state;
    bench_prompt_set set;
    char err[256];
    assert_int_equal(bench_suite_load(bench_suite_find("cpp"), NULL, 2, &set, err, sizeof err), 0);
    /* hello_world: correct, wrong output, compile error; sum_function: correct x3 */
    vf_status st[6] = {VF_CORRECT, VF_WRONG_OUTPUT, VF_COMPILE_ERROR, VF_CORRECT, VF_CORRECT, VF_CORRECT};
    vf_result res[6];
    const bench_prompt *of[6];
    memset(res, 0, sizeof res);
    for (int i = 0; i < 6; i++) {
        res[i].status = st[i];
        res[i].success = st[i] == VF_CORRECT;
        res[i].reward = vf_status_reward(st[i], false);
        of[i] = &set.items[i / 3];
    }
    long ks[] = {1, 2, 5};
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cJSON *rep = bench_eval_report(of, res, 6, ks, 3, &cfg);
    assert_non_null(rep);
    assert_int_equal((int)json_get_num(rep, "total", -1), 2);
    assert_int_equal((int)json_get_num(rep, "passed", -1), 2);
    assert_int_equal((int)json_get_num(rep, "samples", -1), 6);
    assert_int_equal((int)json_get_num(rep, "compiled", -1), 5);
    assert_int_equal((int)json_get_num(rep, "samples_passed", -1), 4);
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(rep, "pass_at_k");
    /* hello_world: n 3, c 1: pass@1 1/3, pass@2 1 - C(2,2)/C(3,2) = 2/3; sum_function: 1 */
    assert_true(fabs(json_get_num(pk, "1", -1) - (1.0 / 3 + 1) / 2) < 1e-4);
    assert_true(fabs(json_get_num(pk, "2", -1) - (2.0 / 3 + 1) / 2) < 1e-4);
    assert_null(cJSON_GetObjectItemCaseSensitive(pk, "5"));
    const cJSON *sk = cJSON_GetObjectItemCaseSensitive(rep, "skipped_k");
    assert_int_equal(cJSON_GetArraySize(sk), 1);
    assert_int_equal((int)cJSON_GetArrayItem(sk, 0)->valuedouble, 5);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(rep, "status_counts");
    assert_int_equal((int)json_get_num(sc, "correct", -1), 4);
    assert_int_equal((int)json_get_num(sc, "wrong_output", -1), 1);
    assert_int_equal((int)json_get_num(sc, "compile_error", -1), 1);
    assert_string_equal(json_get_str(rep, "verifier", ""), "gcc");
    const cJSON *cat = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rep, "by_category"), "basic_io");
    assert_int_equal((int)json_get_num(cat, "total", -1), 1);
    cJSON_Delete(rep);
    bench_prompts_free(&set);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_names),
        cmocka_unit_test(test_builtin_language_sets),
        cmocka_unit_test(test_datasets_required_and_checked),
        cmocka_unit_test(test_humaneval_and_mbpp_files),
        cmocka_unit_test(test_language_references),
        cmocka_unit_test(test_report_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
