/* Unit tests of src/data/synth: determinism, variety, the benchmark hold-out, and that every program of
 * a batch compiles cleanly and prints its expected output through our verifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/prompts.h"
#include "data/synth.h"
#include "raft/loop.h"
#include "verify/verify.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static synth_options quick(uint64_t seed, size_t count) {
    synth_options o;
    synth_options_default(&o);
    o.seed = seed;
    o.count = count;
    o.verify = false;
    return o;
}

static void generate(const synth_options *o, synth_set *s, synth_stats *st) {
    char err[512];
    if (synth_generate(o, s, st, NULL, NULL, err, sizeof err) != 0) fail_msg("synth_generate: %s", err);
    assert_int_equal(s->count, o->count);
}

static void test_deterministic(void **state) {
    (void)state;
    synth_options o = quick(5, 150);
    synth_set a, b, c;
    synth_stats st;
    generate(&o, &a, &st);
    generate(&o, &b, &st);
    o.seed = 6;
    generate(&o, &c, &st);
    size_t same_as_other_seed = 0;
    for (size_t i = 0; i < a.count; i++) {
        char *ja = synth_record_json(&a.items[i], "x", RAFT_DEFAULT_SYSTEM_PROMPT);
        char *jb = synth_record_json(&b.items[i], "x", RAFT_DEFAULT_SYSTEM_PROMPT);
        char *jc = synth_record_json(&c.items[i], "x", RAFT_DEFAULT_SYSTEM_PROMPT);
        assert_non_null(ja);
        assert_string_equal(ja, jb);
        same_as_other_seed += !strcmp(ja, jc);
        free(ja);
        free(jb);
        free(jc);
    }
    assert_true(same_as_other_seed < 10);
    synth_set_free(&a);
    synth_set_free(&b);
    synth_set_free(&c);
}

static void test_variety_and_format(void **state) {
    (void)state;
    synth_options o = quick(1, 200);
    synth_set s;
    synth_stats st;
    generate(&o, &s, &st);
    assert_true(synth_family_count() >= 30);
    const char *fam[256];
    size_t n_fam = 0, n_c = 0, n_cpp = 0, n_distinct_prompts = 0;
    const char *cats[] = {"basic_io", "arithmetic", "arrays", "algorithms", "strings", "data_structures"};
    int cat_seen[6] = {0};
    for (size_t i = 0; i < s.count; i++) {
        const synth_record *r = &s.items[i];
        bool known = false;
        for (size_t k = 0; k < n_fam; k++) known |= !strcmp(fam[k], r->family);
        if (!known && n_fam < 256) fam[n_fam++] = r->family;
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) dup = !strcmp(s.items[k].prompt, r->prompt);
        n_distinct_prompts += !dup;
        for (int k = 0; k < 6; k++) cat_seen[k] |= !strcmp(r->category, cats[k]);
        /* C prompts get C programs, C++ prompts C++ programs */
        if (r->cpp) {
            n_cpp++;
            assert_non_null(strstr(r->prompt, "C++"));
        } else {
            n_c++;
            assert_null(strstr(r->prompt, "C++"));
            assert_non_null(strstr(r->prompt, " C "));
            assert_null(strstr(r->code, "std::"));
            assert_null(strstr(r->code, "iostream"));
            assert_null(strstr(r->code, "namespace"));
        }
        vf_lang hint;
        char *comp = synth_completion(r);
        char *code = vf_extract_code(comp, &hint);
        assert_string_equal(code, r->code);
        assert_int_equal(hint, r->cpp ? VF_LANG_CPP : VF_LANG_C);
        assert_int_equal(vf_detect_language(code, hint), r->cpp ? VF_LANG_CPP : VF_LANG_C);
        free(code);
        free(comp);
        /* a record is a valid prompts-file line for raft and benchmark */
        char *line = synth_record_json(r, "rec", RAFT_DEFAULT_SYSTEM_PROMPT);
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        bench_prompt p;
        char why[256];
        assert_int_equal(bench_prompt_from_json(j, 1, &p, why, sizeof why), 0);
        assert_string_equal(p.prompt, r->prompt);
        assert_string_equal(p.expected_output, r->expected_output);
        assert_string_equal(p.category, r->category);
        assert_string_equal(cJSON_GetObjectItem(j, "system")->valuestring, RAFT_DEFAULT_SYSTEM_PROMPT);
        assert_string_equal(cJSON_GetObjectItem(j, "language")->valuestring, r->cpp ? "cpp" : "c");
        bench_prompt_free(&p);
        cJSON_Delete(j);
        free(line);
    }
    assert_true(n_fam >= 35);
    assert_true(n_distinct_prompts >= 180);
    assert_true(n_c >= 40 && n_cpp >= 80);
    for (int k = 0; k < 6; k++) assert_true(cat_seen[k]);
    synth_set_free(&s);

    /* one language only */
    o.allow_c = false;
    o.count = 50;
    generate(&o, &s, &st);
    for (size_t i = 0; i < s.count; i++) assert_true(s.items[i].cpp);
    synth_set_free(&s);
}

/* ---------- hold-out ---------- */

static void test_held_out_predicate(void **state) {
    (void)state;
    /* each of the 16 built-in tasks, with its parameters as the prompt states them */
    const long sum53[] = {5, 3}, range15[] = {1, 5}, six[] = {6}, ten[] = {10}, seventeen[] = {17},
               arr15[] = {1, 2, 3, 4, 5}, maxarr[] = {3, 1, 4, 1, 5, 9, 2, 6}, bub[] = {5, 2, 8, 1, 9},
               gcd[] = {48, 18}, bs[] = {7, 1, 3, 5, 7, 9, 11}, pw[] = {2, 10}, ll[] = {1, 2, 3};
    assert_true(synth_task_held_out("message", NULL, 0, "Hello, World!"));
    assert_true(synth_task_held_out("message", NULL, 0, "hello world"));
    assert_true(synth_task_held_out("add", sum53, 2, NULL));
    assert_true(synth_task_held_out("range", range15, 2, NULL));
    assert_true(synth_task_held_out("factorial", six, 1, NULL));
    assert_true(synth_task_held_out("fibonacci_list", ten, 1, NULL));
    assert_true(synth_task_held_out("reverse_string", NULL, 0, "hello"));
    assert_true(synth_task_held_out("is_prime", seventeen, 1, NULL));
    assert_true(synth_task_held_out("collection_sum", arr15, 5, NULL));
    assert_true(synth_task_held_out("array_max", maxarr, 8, NULL));
    assert_true(synth_task_held_out("sort", bub, 5, NULL));
    assert_true(synth_task_held_out("gcd", gcd, 2, NULL));
    assert_true(synth_task_held_out("search", bs, 7, NULL));
    assert_true(synth_task_held_out("palindrome", NULL, 0, "racecar"));
    assert_true(synth_task_held_out("count_vowels", NULL, 0, "hello world"));
    assert_true(synth_task_held_out("power", pw, 2, NULL));
    assert_true(synth_task_held_out("collection_sum", ll, 3, NULL));
    /* order does not hide a task that does not depend on it */
    const long sum35[] = {3, 5}, bub2[] = {9, 8, 5, 2, 1}, gcd2[] = {18, 48}, ll2[] = {3, 1, 2};
    assert_true(synth_task_held_out("add", sum35, 2, NULL));
    assert_true(synth_task_held_out("sort", bub2, 5, NULL));
    assert_true(synth_task_held_out("gcd", gcd2, 2, NULL));
    assert_true(synth_task_held_out("collection_sum", ll2, 3, NULL));
    /* neighbours are not held out */
    const long seven[] = {7}, pw2[] = {10, 2}, range16[] = {1, 6}, arr14[] = {1, 2, 3, 4}, bs2[] = {5, 1, 3, 5, 7, 9, 11};
    assert_false(synth_task_held_out("factorial", seven, 1, NULL));
    assert_false(synth_task_held_out("power", pw2, 2, NULL));
    assert_false(synth_task_held_out("range", range16, 2, NULL));
    assert_false(synth_task_held_out("collection_sum", arr14, 4, NULL));
    assert_false(synth_task_held_out("search", bs2, 7, NULL));
    assert_false(synth_task_held_out("multiply", sum53, 2, NULL));
    assert_false(synth_task_held_out("reverse_string", NULL, 0, "world"));
    assert_false(synth_task_held_out("message", NULL, 0, "Goodbye, World!"));

    /* the text check: every built-in prompt, also with other case, spacing and quotes */
    bench_prompt_set set;
    assert_int_equal(bench_prompts_builtin(&set), 0);
    for (size_t i = 0; i < set.count; i++) {
        assert_true(synth_prompt_is_builtin(set.items[i].prompt));
        char v[1024];
        size_t k = 0;
        for (const char *p = set.items[i].prompt; *p && k + 3 < sizeof v; p++) {
            if (*p == '\'') v[k++] = '"';
            else if (*p == ' ') { v[k++] = ' '; v[k++] = ' '; }
            else v[k++] = (char)toupper((unsigned char)*p);
        }
        v[k] = '\0';
        assert_true(synth_prompt_is_builtin(v));
        snprintf(v, sizeof v, "%s Use recursion.", set.items[i].prompt);
        assert_false(synth_prompt_is_builtin(v));
    }
    bench_prompts_free(&set);
}

/* The integers written in a text, in order (a '-' right before a digit makes it negative). */
static size_t ints_of(const char *s, long *out, size_t cap) {
    size_t n = 0;
    for (const char *p = s; *p && n < cap; p++) {
        if (isdigit((unsigned char)*p) && (p == s || !isalnum((unsigned char)p[-1]))) {
            char *end;
            long v = strtol(p, &end, 10);
            if (p > s && p[-1] == '-') v = -v;
            out[n++] = v;
            p = end - 1;
        }
    }
    return n;
}

static int cmp_l(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Sorted, and with repeats kept (multiset) or dropped (set). */
static size_t norm_ints(long *v, size_t n, bool set) {
    qsort(v, n, sizeof *v, cmp_l);
    if (!set) return n;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[k - 1] != v[i]) v[k++] = v[i];
    return k;
}

static bool lower_contains(const char *hay, const char *needle) {
    char buf[2048];
    size_t k = 0;
    for (; *hay && k + 1 < sizeof buf; hay++) buf[k++] = (char)tolower((unsigned char)*hay);
    buf[k] = '\0';
    return strstr(buf, needle) != NULL;
}

/* An independent look at a record: the numbers its prompt names, against each built-in task's. */
typedef struct {
    const char *families; /* '|'-separated, with '|' around */
    const char *word;     /* a word the prompt must contain too (lowercase), or NULL */
    long nums[8];
    size_t n;
    bool set;             /* compare as sets (scalars) or multisets (arrays) */
} builtin_task;

static const builtin_task builtin_tasks[] = {
    {"|print_message|", "hello, world", {0}, 0, true},
    {"|arith_function|arith_direct|", "sum", {3, 5}, 2, true},
    {"|count_lines|count_spaced|", NULL, {1, 5}, 2, true},
    {"|factorial|factorial_recursive|", NULL, {6}, 1, true},
    {"|fibonacci|", NULL, {10}, 1, true},
    {"|reverse_string|", "'hello'", {0}, 0, true},
    {"|reverse_string|", "\"hello\"", {0}, 0, true},
    {"|is_prime|", NULL, {17}, 1, true},
    {"|array_sum|linked_list_sum|", NULL, {1, 2, 3, 4, 5}, 5, false},
    {"|array_max|", NULL, {1, 1, 2, 3, 4, 5, 6, 9}, 8, false},
    {"|bubble_sort|selection_sort|insertion_sort|library_sort|", NULL, {1, 2, 5, 8, 9}, 5, false},
    {"|gcd|gcd_recursive|", NULL, {18, 48}, 2, true},
    {"|binary_search|linear_search|", NULL, {1, 3, 5, 7, 7, 9, 11}, 7, false},
    {"|palindrome|", "racecar", {0}, 0, true},
    {"|count_vowels|", "hello world", {0}, 0, true},
    {"|power|power_function|", NULL, {2, 10}, 2, true},
    {"|linked_list_sum|array_sum|", NULL, {1, 2, 3}, 3, false},
};

static bool looks_like_builtin(const synth_record *r) {
    char fam[96];
    snprintf(fam, sizeof fam, "|%s|", r->family);
    for (size_t b = 0; b < sizeof builtin_tasks / sizeof builtin_tasks[0]; b++) {
        const builtin_task *t = &builtin_tasks[b];
        if (!strstr(t->families, fam)) continue;
        if (t->word && !lower_contains(r->prompt, t->word)) continue;
        if (t->n == 0) return true;
        long v[64];
        size_t n = norm_ints(v, ints_of(r->prompt, v, 64), t->set);
        if (n == t->n && !memcmp(v, t->nums, n * sizeof *v)) return true;
    }
    return false;
}

static void test_never_generates_a_builtin(void **state) {
    (void)state;
    size_t held_total = 0;
    for (uint64_t seed = 0; seed < 25; seed++) {
        synth_options o = quick(seed, 400);
        synth_set s;
        synth_stats st;
        generate(&o, &s, &st);
        held_total += st.held_out;
        for (size_t i = 0; i < s.count; i++) {
            const synth_record *r = &s.items[i];
            if (synth_prompt_is_builtin(r->prompt)) fail_msg("seed %llu: built-in prompt: %s", (unsigned long long)seed, r->prompt);
            if (synth_key_held_out(r->task)) fail_msg("seed %llu: held-out task %s", (unsigned long long)seed, r->task);
            if (looks_like_builtin(r)) fail_msg("seed %llu: a built-in task: %s", (unsigned long long)seed, r->prompt);
        }
        synth_set_free(&s);
    }
    /* the hold-out did have work to do: the families do draw the built-in parameters */
    assert_true(held_total > 0);
}

/* The independent check itself recognises a built-in task in other words. */
static void test_builtin_lookalike_detector(void **state) {
    (void)state;
    synth_record r = {0};
    r.family = "factorial";
    r.prompt = "Write a C program that prints 6! (the factorial of 6).";
    assert_true(looks_like_builtin(&r));
    r.prompt = "Write a C program that prints 7! (the factorial of 7).";
    assert_false(looks_like_builtin(&r));
    r.family = "selection_sort";
    r.prompt = "Write a C++ program that sorts array {9, 8, 5, 2, 1} using selection sort and prints it.";
    assert_true(looks_like_builtin(&r));
}

/* ---------- every program compiles cleanly and prints its expected output ---------- */

static void test_batch_verifies(void **state) {
    (void)state;
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    char tool[1024];
    if (!vf_find_tool(&cfg, VF_LANG_C, tool, sizeof tool) || !vf_find_tool(&cfg, VF_LANG_CPP, tool, sizeof tool))
        fail_msg("gcc/g++ are needed (scripts/setup.sh installs them)");
    synth_options o;
    synth_options_default(&o);
    o.seed = 11;
    o.count = 40;
    o.cpp_share = 0.25; /* C compiles are ~10x cheaper than iostream C++ ones */
    synth_set s;
    synth_stats st;
    char err[512];
    if (synth_generate(&o, &s, &st, NULL, NULL, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(s.count, 40);
    assert_int_equal(st.compiled, 40);
    if (st.failed) fail_msg("%zu programs did not compile cleanly or printed something else", st.failed);
    size_t cpp = 0;
    for (size_t i = 0; i < s.count; i++) cpp += s.items[i].cpp;
    assert_true(cpp > 0 && cpp < s.count);
    synth_set_free(&s);
}

/* A program that fails verification is dropped, counted and replaced; when every one fails the
 * generator gives up with a reason instead of looping. */
static void test_failures_are_dropped(void **state) {
    (void)state;
    synth_options o;
    synth_options_default(&o);
    o.seed = 3;
    o.count = 2;
    o.allow_cpp = false;
    o.compile_flags = "-O0 -nostdlib"; /* nothing links: every program fails */
    synth_set s;
    synth_stats st;
    char err[512];
    assert_int_equal(synth_generate(&o, &s, &st, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "failed verification"));
    assert_int_equal(s.count, 0);
    assert_true(st.failed >= 2 * 8);
    assert_int_equal(st.failed, st.compiled);
}

static void test_bad_options(void **state) {
    (void)state;
    synth_options o = quick(1, 10);
    o.allow_c = o.allow_cpp = false;
    synth_set s;
    synth_stats st;
    char err[256];
    assert_int_equal(synth_generate(&o, &s, &st, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "language"));
    assert_int_equal(s.count, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_variety_and_format),
        cmocka_unit_test(test_held_out_predicate),
        cmocka_unit_test(test_builtin_lookalike_detector),
        cmocka_unit_test(test_never_generates_a_builtin),
        cmocka_unit_test(test_batch_verifies),
        cmocka_unit_test(test_failures_are_dropped),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
