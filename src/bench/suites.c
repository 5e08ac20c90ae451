/* suites: the benchmarks of `benchmark eval` (see suites.h). */
#include "bench/suites.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bench_suite suites[] = {
    {"humaneval", "python", VF_PYTHON, VF_LANG_PYTHON, true,
     "You are an expert Python programmer. Write clean, correct code."},
    {"mbpp", "python", VF_PYTHON, VF_LANG_PYTHON, true, "You are an expert Python programmer. Write clean, correct code."},
    {"cpp", "cpp", VF_GCC, VF_LANG_CPP, false, "You are an expert C++ programmer. Write clean, correct code."},
    {"rust", "rust", VF_RUST, VF_LANG_RUST, false, "You are an expert Rust programmer. Write clean, correct code."},
    {"go", "go", VF_GO, VF_LANG_GO, false, "You are an expert Go programmer. Write clean, correct code."},
};
#define N_SUITES (sizeof suites / sizeof suites[0])

const bench_suite *bench_suite_find(const char *name) {
    for (size_t i = 0; name && i < N_SUITES; i++)
        if (!strcmp(suites[i].name, name)) return &suites[i];
    return NULL;
}

const char *bench_suite_names(void) { return "humaneval|mbpp|cpp|rust|go"; }

typedef struct {
    const char *id, *difficulty, *category, *prompt, *expected;
} lang_prompt;

/* The original's Rust set (ids and expected outputs); the prompt texts are ours. */
static const lang_prompt rust_prompts[] = {
    {"hello_world", "easy", "basic_io", "Write a Rust program that prints 'Hello, World!' to stdout.", "Hello, World!"},
    {"sum_function", "easy", "arithmetic",
     "Write a Rust function that returns the sum of two integers a and b, then call it in main to print the result of 5 + 3.",
     "8"},
    {"factorial", "medium", "arithmetic", "Write a Rust program that computes and prints the factorial of 6.", "720"},
    {"fibonacci", "medium", "algorithms",
     "Write a Rust program that prints the first 10 Fibonacci numbers, space-separated.", "0 1 1 2 3 5 8 13 21 34"},
    {"vector_sum", "easy", "data_structures",
     "Write a Rust program that puts 1, 2, 3, 4, 5 into a Vec and prints their sum.", "15"},
    {"option_handling", "medium", "data_structures",
     "Write a Rust program that takes the first element of the vector [10, 20, 30] as an Option, then prints the value "
     "inside it (or 'none' when there is none).",
     "10"},
    {"string_reverse", "easy", "strings", "Write a Rust program that reverses the string 'hello' and prints it.", "olleh"},
    {"prime_check", "medium", "arithmetic", "Write a Rust program that checks if 17 is prime and prints 'yes' or 'no'.",
     "yes"},
    {"binary_search", "hard", "algorithms",
     "Write a Rust program that uses binary search to find the index of 7 in the sorted array [1, 3, 5, 7, 9, 11] and "
     "prints it.",
     "3"},
    {"hashmap", "medium", "data_structures",
     "Write a Rust program that inserts the keys 'a', 'b', 'c' with the values 1, 2, 3 into a HashMap and prints the "
     "value stored for 'b'.",
     "2"},
};

/* The original's Go set (ids and expected outputs); the prompt texts are ours. */
static const lang_prompt go_prompts[] = {
    {"hello_world", "easy", "basic_io", "Write a Go program that prints 'Hello, World!' to stdout.", "Hello, World!"},
    {"sum_function", "easy", "arithmetic",
     "Write a Go function that returns the sum of two integers a and b, then call it in main to print the result of 5 + 3.",
     "8"},
    {"factorial", "medium", "arithmetic", "Write a Go program that computes and prints the factorial of 6.", "720"},
    {"fibonacci", "medium", "algorithms", "Write a Go program that prints the first 10 Fibonacci numbers, space-separated.",
     "0 1 1 2 3 5 8 13 21 34"},
    {"slice_sum", "easy", "data_structures", "Write a Go program that puts 1, 2, 3, 4, 5 into a slice and prints their sum.",
     "15"},
    {"string_reverse", "easy", "strings", "Write a Go program that reverses the string 'hello' and prints it.", "olleh"},
    {"prime_check", "medium", "arithmetic", "Write a Go program that checks if 17 is prime and prints 'yes' or 'no'.",
     "yes"},
    {"binary_search", "hard", "algorithms",
     "Write a Go program that uses binary search to find the index of 7 in the sorted slice [1, 3, 5, 7, 9, 11] and "
     "prints it.",
     "3"},
    {"map_usage", "medium", "data_structures",
     "Write a Go program that puts the keys \"a\", \"b\", \"c\" with the values 1, 2, 3 into a map and prints the value "
     "stored for \"b\".",
     "2"},
    {"goroutine", "hard", "concurrency",
     "Write a Go program that starts a goroutine which sleeps for 100 milliseconds and then sends a message on a "
     "channel; main waits for the message and prints 'done'.",
     "done"},
};

static int load_table(const lang_prompt *t, size_t n, bench_prompt_set *out) {
    for (size_t i = 0; i < n; i++) {
        bench_prompt p;
        memset(&p, 0, sizeof p);
        p.id = strdup(t[i].id);
        p.prompt = strdup(t[i].prompt);
        p.category = strdup(t[i].category);
        p.difficulty = strdup(t[i].difficulty);
        p.expected_output = strdup(t[i].expected);
        if (!p.id || !p.prompt || !p.category || !p.difficulty || !p.expected_output || bench_prompts_push(out, &p) != 0) {
            bench_prompt_free(&p);
            return -1;
        }
    }
    return 0;
}

static int replace(char **field, const char *text) {
    char *s = strdup(text);
    if (!s) return -1;
    free(*field);
    *field = s;
    return 0;
}

/* True when the text already names the function as a call or definition: "name(". A bare word
 * ("the square of a number") does not count. */
static bool names_function(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name))
        if (p[n] == '(' && (p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) return true;
    return false;
}

/* Checks a dataset record and adapts it to the benchmark. Returns 0, or -1 with why. */
static int adapt(const bench_suite *s, bench_prompt *p, char *why, size_t cap) {
    if (!strcmp(p->category, "unknown") && replace(&p->category, s->name)) goto oom;
    if (!strcmp(s->name, "humaneval")) {
        if (!p->test_code || !strstr(p->test_code, "def check")) {
            snprintf(why, cap, "not a HumanEval task: 'tests' must be a string defining check(candidate)");
            return -1;
        }
        if (!p->entry_point || !*p->entry_point) {
            snprintf(why, cap, "not a HumanEval task: no 'entry_point' (the function check() is called with)");
            return -1;
        }
    } else if (!strcmp(s->name, "mbpp")) {
        if (!p->test_code || !*p->test_code) {
            snprintf(why, cap, "not an MBPP task: no 'tests' (asserts, or def test_solution(): asserts)");
            return -1;
        }
        if (p->entry_point && *p->entry_point && !names_function(p->prompt, p->entry_point)) {
            size_t n = strlen(p->prompt) + strlen(p->entry_point) + 64;
            char *t = malloc(n);
            if (!t) goto oom;
            snprintf(t, n, "%s\nThe function must be named %s.", p->prompt, p->entry_point);
            free(p->prompt);
            p->prompt = t;
        }
    }
    return 0;
oom:
    snprintf(why, cap, "out of memory");
    return -1;
}

int bench_suite_load(const bench_suite *s, const char *dataset, long limit, bench_prompt_set *out, char *err,
                     size_t errcap) {
    memset(out, 0, sizeof *out);
    int rc = 0;
    if (dataset) {
        if (bench_prompts_load(dataset, out, err, errcap) != 0) return -1;
        for (size_t i = 0; i < out->count && rc == 0; i++) {
            char why[256];
            if (adapt(s, &out->items[i], why, sizeof why) != 0) {
                snprintf(err, errcap, "%s:%ld: %s", dataset, out->items[i].line, why);
                rc = -1;
            }
        }
    } else if (s->needs_dataset) {
        snprintf(err, errcap,
                 "benchmark %s: the %s dataset is not bundled and cannot be downloaded here (no network); pass "
                 "--dataset FILE, a JSONL of {task_id, prompt, tests, entry_point} records (the original's "
                 "data/rlvr/%s format)",
                 s->name, !strcmp(s->name, "mbpp") ? "MBPP" : "HumanEval",
                 !strcmp(s->name, "mbpp") ? "mbpp_train_full.jsonl" : "humaneval_full.jsonl");
        return -1;
    } else if (!strcmp(s->name, "cpp")) {
        rc = bench_prompts_builtin(out);
    } else if (!strcmp(s->name, "rust")) {
        rc = load_table(rust_prompts, sizeof rust_prompts / sizeof rust_prompts[0], out);
    } else {
        rc = load_table(go_prompts, sizeof go_prompts / sizeof go_prompts[0], out);
    }
    if (rc != 0) {
        if (!dataset) snprintf(err, errcap, "benchmark %s: out of memory", s->name);
        bench_prompts_free(out);
        return -1;
    }
    if (limit > 0 && (size_t)limit < out->count) {
        for (size_t i = (size_t)limit; i < out->count; i++) bench_prompt_free(&out->items[i]);
        out->count = (size_t)limit;
    }
    return 0;
}
