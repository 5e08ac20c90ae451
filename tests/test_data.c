/* Unit tests of data/dprep (row conversion, templates, registry) and data/dhttp (URL encoding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/prompts.h"
#include "data/dhttp.h"
#include "data/dprep.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *get(const cJSON *o, const char *k) { return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k)); }

static cJSON *convert(const char *spec, const char *row_json, int *why) {
    dp_options o;
    dp_options_default(&o);
    o.spec = dp_find(spec);
    assert_non_null(o.spec);
    cJSON *row = cJSON_Parse(row_json);
    assert_non_null(row);
    cJSON *rec = dp_convert_row(&o, row, 7, why);
    cJSON_Delete(row);
    return rec;
}

static void test_registry(void **state) {
    (void)state;
    size_t n;
    const dp_spec *r = dp_registry(&n);
    assert_int_equal(n, 8);
    assert_ptr_equal(dp_find("codeforces"), dp_find("codeforces_cpp"));
    assert_string_equal(dp_find("humaneval")->hf_path, "openai/openai_humaneval");
    assert_int_equal(dp_find("codeforces_cpp")->max_examples, 4000);
    assert_int_equal(dp_find("codeforces_python")->max_examples, 1000);
    assert_int_equal(dp_find("codeforces_rust")->max_examples, 500);
    assert_null(dp_find("nope"));
    assert_non_null(r);
}

static void test_templates(void **state) {
    (void)state;
    char *q = dp_render(DP_TPL_QWEN, "S", "P", "R");
    assert_string_equal(q, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\nR<|im_end|>\n");
    free(q);
    char *l = dp_render(DP_TPL_LLAMA, "S", "P", "R");
    assert_string_equal(l, "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nP [/INST]\nR</s>");
    free(l);
    char *c = dp_render(DP_TPL_CHATML, NULL, "P", "R");
    assert_string_equal(c, "<|user|>\nP<|end|>\n<|assistant|>\nR<|end|>");
    free(c);
}

static void test_humaneval_row(void **state) {
    (void)state;
    int why;
    cJSON *r = convert("humaneval",
                       "{\"task_id\":\"HumanEval/3\",\"prompt\":\"def f(x):\\n    \\\"\\\"\\\"doc\\\"\\\"\\\"\\n\","
                       "\"canonical_solution\":\"    return x\\n\",\"test\":\"def check(candidate):\\n    assert candidate(1) == 1\\n\","
                       "\"entry_point\":\"f\"}",
                       &why);
    assert_non_null(r);
    assert_string_equal(get(r, "id"), "HumanEval/3");
    assert_string_equal(get(r, "completion"), "```python\ndef f(x):\n    \"\"\"doc\"\"\"\n    return x\n```");
    assert_string_equal(get(r, "entry_point"), "f");
    /* the record is a valid benchmark/raft prompt with Python tests */
    bench_prompt p;
    char e[200];
    assert_int_equal(bench_prompt_from_json(r, 1, &p, e, sizeof e), 0);
    assert_non_null(p.test_code);
    assert_string_equal(p.entry_point, "f");
    bench_prompt_free(&p);
    cJSON_Delete(r);
}

static void test_mbpp_row(void **state) {
    (void)state;
    int why;
    cJSON *r = convert("mbpp",
                       "{\"task_id\":2,\"text\":\"Write a function to add.\",\"code\":\"def add_it(a,b):\\r\\n    return a+b\","
                       "\"test_list\":[\"assert add_it(1,2)==3\",\"assert add_it(0,0)==0\"],\"test_setup_code\":\"import os\","
                       "\"challenge_test_list\":[]}",
                       &why);
    assert_non_null(r);
    assert_string_equal(get(r, "id"), "mbpp_2");
    assert_string_equal(get(r, "entry_point"), "add_it");
    assert_string_equal(get(r, "tests"), "import os\nassert add_it(1,2)==3\nassert add_it(0,0)==0\n");
    assert_string_equal(get(r, "completion"), "```python\ndef add_it(a,b):\n    return a+b\n```");
    assert_non_null(strstr(get(r, "prompt"), "Your code should pass these tests:\n\nassert add_it(1,2)==3"));
    cJSON_Delete(r);
}

static void test_codeforces_rows(void **state) {
    (void)state;
    int why;
    const char *row = "{\"id\":\"5/A\",\"prompt\":\"Add two numbers.\",\"rating\":2100,\"tags\":[\"math\"],"
                      "\"examples\":[{\"input\":\"1 2\\n\",\"output\":\"3\\n\"}],"
                      "\"generation\":\"<think>\\nhm\\n</think>\\n\\n```cpp\\nint main(){}\\n```\"}";
    cJSON *r = convert("codeforces_cpp", row, &why);
    assert_non_null(r);
    assert_string_equal(get(r, "difficulty"), "hard");
    assert_string_equal(get(r, "category"), "math");
    assert_string_equal(get(r, "language"), "cpp");
    const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "tests"), 0);
    assert_string_equal(get(t, "input"), "1 2\n");
    assert_string_equal(get(t, "expected"), "3\n");
    cJSON_Delete(r);
    /* the same row is not a Rust one */
    assert_null(convert("codeforces_rust", row, &why));
    assert_int_equal(why, 1);
    /* no prompt: skipped for that reason */
    assert_null(convert("codeforces_cpp", "{\"id\":\"x\",\"generation\":\"```cpp\\nint main(){}\\n```\"}", &why));
    assert_int_equal(why, 2);
    /* --no-reasoning */
    dp_options o;
    dp_options_default(&o);
    o.spec = dp_find("codeforces");
    o.no_reasoning = true;
    cJSON *row_j = cJSON_Parse(row);
    cJSON *r2 = dp_convert_row(&o, row_j, 0, &why);
    assert_string_equal(get(r2, "completion"), "```cpp\nint main(){}\n```");
    cJSON_Delete(r2);
    cJSON_Delete(row_j);
}

static void test_urlencode(void **state) {
    (void)state;
    char b[64] = "";
    assert_int_equal(dhttp_urlencode(b, sizeof b, "open-r1/codeforces cots"), 0);
    assert_string_equal(b, "open-r1%2Fcodeforces%20cots");
    char small[8] = "";
    assert_int_equal(dhttp_urlencode(small, sizeof small, "a/b/c/d"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),      cmocka_unit_test(test_templates), cmocka_unit_test(test_humaneval_row),
        cmocka_unit_test(test_mbpp_row),      cmocka_unit_test(test_codeforces_rows),
        cmocka_unit_test(test_urlencode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
