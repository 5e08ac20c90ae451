/* prompts: built-in benchmark prompts and the prompts JSONL reader (see prompts.h). */
#include "bench/prompts.h"

#include "core/jsonl.h"
#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *id, *difficulty, *category, *prompt, *expected;
} builtin;

/* The original's BENCHMARK_PROMPTS, in its order. */
static const builtin builtins[BENCH_BUILTIN_COUNT] = {
    {"hello_world", "easy", "basic_io", "Write a C++ program that prints 'Hello, World!' to stdout.", "Hello, World!"},
    {"sum_function", "easy", "arithmetic",
     "Write a C++ function that returns the sum of two integers a and b, then call it in main to print the result of 5 + 3.",
     "8"},
    {"count_1_to_5", "easy", "basic_io", "Write a C++ program that prints the numbers 1 through 5, each on a new line.",
     "1\n2\n3\n4\n5"},
    {"factorial", "medium", "arithmetic", "Write a C++ program that computes and prints the factorial of 6.", "720"},
    {"fibonacci", "medium", "algorithms",
     "Write a C++ program that prints the first 10 Fibonacci numbers, space-separated.", "0 1 1 2 3 5 8 13 21 34"},
    {"reverse_string", "medium", "strings", "Write a C++ program that reverses the string 'hello' and prints it.",
     "olleh"},
    {"is_prime", "medium", "arithmetic", "Write a C++ program that checks if 17 is prime and prints 'yes' or 'no'.",
     "yes"},
    {"array_sum", "easy", "arrays", "Write a C++ program that calculates and prints the sum of array {1, 2, 3, 4, 5}.",
     "15"},
    {"max_element", "medium", "arrays",
     "Write a C++ program that finds and prints the maximum element in array {3, 1, 4, 1, 5, 9, 2, 6}.", "9"},
    {"bubble_sort", "medium", "arrays",
     "Write a C++ program that sorts array {5, 2, 8, 1, 9} using bubble sort and prints the sorted array space-separated.",
     "1 2 5 8 9"},
    {"gcd", "medium", "algorithms", "Write a C++ program that computes and prints the GCD of 48 and 18.", "6"},
    {"binary_search", "hard", "algorithms",
     "Write a C++ program that uses binary search to find the index of 7 in sorted array {1, 3, 5, 7, 9, 11} and prints it.",
     "3"},
    {"palindrome", "medium", "strings",
     "Write a C++ program that checks if 'racecar' is a palindrome and prints 'yes' or 'no'.", "yes"},
    {"count_vowels", "easy", "strings",
     "Write a C++ program that counts and prints the number of vowels in 'hello world'.", "3"},
    {"power_function", "easy", "arithmetic", "Write a C++ program that computes and prints 2 raised to the power of 10.",
     "1024"},
    {"linked_list_sum", "hard", "data_structures",
     "Write a C++ program with a simple linked list containing 1, 2, 3 and print their sum.", "6"},
};

int bench_prompts_push(bench_prompt_set *set, bench_prompt *p) {
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 32;
        bench_prompt *items = realloc(set->items, cap * sizeof *items);
        if (!items) return -1;
        set->items = items;
        set->cap = cap;
    }
    set->items[set->count++] = *p;
    return 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

int bench_prompts_builtin(bench_prompt_set *out) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < BENCH_BUILTIN_COUNT; i++) {
        const builtin *b = &builtins[i];
        bench_prompt p;
        memset(&p, 0, sizeof p);
        p.id = strdup(b->id);
        p.prompt = strdup(b->prompt);
        p.category = strdup(b->category);
        p.difficulty = strdup(b->difficulty);
        p.expected_output = strdup(b->expected);
        if (!p.id || !p.prompt || !p.category || !p.difficulty || !p.expected_output || bench_prompts_push(out, &p) != 0) {
            bench_prompt_free(&p);
            bench_prompts_free(out);
            return -1;
        }
    }
    return 0;
}

void bench_prompt_free(bench_prompt *p) {
    free(p->id);
    free(p->prompt);
    free(p->category);
    free(p->difficulty);
    free(p->expected_output);
    free(p->stdin_text);
    for (size_t i = 0; i < p->n_tests; i++) {
        free((char *)p->tests[i].input);
        free((char *)p->tests[i].expected);
    }
    free(p->tests);
    free(p->test_code);
    free(p->entry_point);
    memset(p, 0, sizeof *p);
}

void bench_prompts_free(bench_prompt_set *set) {
    for (size_t i = 0; i < set->count; i++) bench_prompt_free(&set->items[i]);
    free(set->items);
    memset(set, 0, sizeof *set);
}

long bench_prompts_find(const bench_prompt_set *set, const char *id) {
    for (size_t i = 0; i < set->count; i++)
        if (!strcmp(set->items[i].id, id)) return (long)i;
    return -1;
}

/* A string field, or "" absent; -1 (with why) when present with another type. */
static int opt_str(const cJSON *o, const char *key, const char **out, char *why, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) {
        snprintf(why, cap, "'%s' must be a string", key);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

static const char *case_str(const cJSON *o, const char *const *keys) {
    for (; *keys; keys++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, *keys);
        if (cJSON_IsString(v)) return v->valuestring;
    }
    return NULL;
}

static int read_tests(const cJSON *t, bench_prompt *p, char *why, size_t cap) {
    if (!t || cJSON_IsNull(t)) return 0;
    if (cJSON_IsString(t)) {
        p->test_code = strdup(t->valuestring);
        return p->test_code ? 0 : -1;
    }
    if (!cJSON_IsArray(t)) {
        snprintf(why, cap, "'tests' must be a string, a list of strings or a list of {input, expected}");
        return -1;
    }
    int n = cJSON_GetArraySize(t);
    if (n == 0) return 0;
    const cJSON *it;
    if (cJSON_IsString(cJSON_GetArrayItem(t, 0))) {
        size_t total = 1;
        cJSON_ArrayForEach(it, t) {
            if (!cJSON_IsString(it)) {
                snprintf(why, cap, "'tests' mixes strings and other values");
                return -1;
            }
            total += strlen(it->valuestring) + 1;
        }
        p->test_code = malloc(total);
        if (!p->test_code) return -1;
        size_t len = 0;
        cJSON_ArrayForEach(it, t) {
            size_t l = strlen(it->valuestring);
            memcpy(p->test_code + len, it->valuestring, l);
            len += l;
            p->test_code[len++] = '\n';
        }
        p->test_code[len] = '\0';
        return 0;
    }
    static const char *in_keys[] = {"input", "stdin", NULL};
    static const char *out_keys[] = {"expected", "output", "expected_output", NULL};
    p->tests = calloc((size_t)n, sizeof *p->tests);
    if (!p->tests) return -1;
    int i = 0;
    cJSON_ArrayForEach(it, t) {
        if (!cJSON_IsObject(it)) {
            snprintf(why, cap, "'tests' item %d is not an object {input, expected}", i + 1);
            return -1;
        }
        const char *in = case_str(it, in_keys), *exp = case_str(it, out_keys);
        if (!exp) {
            snprintf(why, cap, "'tests' item %d has no 'expected' string", i + 1);
            return -1;
        }
        p->tests[i].input = dup_or_null(in);
        p->tests[i].expected = strdup(exp);
        p->n_tests = (size_t)++i;
    }
    return 0;
}

int bench_prompt_from_json(const cJSON *o, long lineno, bench_prompt *p, char *why, size_t cap) {
    memset(p, 0, sizeof *p);
    p->line = lineno;
    const char *text = NULL, *cat, *diff, *exp, *in, *ep;
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(o, "prompt");
    if (!pv || cJSON_IsNull(pv)) pv = cJSON_GetObjectItemCaseSensitive(o, "text");
    if (cJSON_IsString(pv)) text = pv->valuestring;
    if (!text || !*text) {
        snprintf(why, cap, "no 'prompt' (or 'text') string");
        return -1;
    }
    if (opt_str(o, "category", &cat, why, cap) || opt_str(o, "difficulty", &diff, why, cap) ||
        opt_str(o, "expected_output", &exp, why, cap) || opt_str(o, "stdin", &in, why, cap) ||
        opt_str(o, "entry_point", &ep, why, cap))
        return -1;
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (!idv || cJSON_IsNull(idv)) idv = cJSON_GetObjectItemCaseSensitive(o, "task_id");
    char idbuf[64];
    const char *id;
    if (!idv || cJSON_IsNull(idv)) {
        snprintf(idbuf, sizeof idbuf, "prompt_%ld", lineno);
        id = idbuf;
    } else if (cJSON_IsString(idv) && *idv->valuestring) {
        id = idv->valuestring;
    } else if (cJSON_IsNumber(idv) && idv->valuedouble == floor(idv->valuedouble)) {
        snprintf(idbuf, sizeof idbuf, "%.0f", idv->valuedouble);
        id = idbuf;
    } else {
        snprintf(why, cap, "'id' must be a non-empty string or an integer");
        return -1;
    }
    p->id = strdup(id);
    p->prompt = strdup(text);
    p->category = strdup(cat && *cat ? cat : "unknown");
    p->difficulty = strdup(diff && *diff ? diff : "unknown");
    p->expected_output = dup_or_null(exp);
    p->stdin_text = dup_or_null(in);
    p->entry_point = dup_or_null(ep);
    if (!p->id || !p->prompt || !p->category || !p->difficulty || (exp && !p->expected_output) ||
        (in && !p->stdin_text) || (ep && !p->entry_point)) {
        snprintf(why, cap, "out of memory");
        bench_prompt_free(p);
        return -1;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tests");
    if (read_tests(t, p, why, cap) != 0) {
        if (!*why) snprintf(why, cap, "out of memory");
        bench_prompt_free(p);
        return -1;
    }
    return 0;
}

int bench_prompts_load(const char *path, bench_prompt_set *out, char *err, size_t errcap) {
    jsonl_reader rd;
    if (jsonl_open(&rd, path) != 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t good = 0;
    int rc = 0;
    for (;;) {
        cJSON *obj;
        char msg[512];
        int r = jsonl_next(&rd, &obj, msg, sizeof msg);
        if (r == 0) break;
        if (r < 0) {
            log_warn("%s (line skipped)", msg);
            out->bad_lines++;
            continue;
        }
        bench_prompt p;
        char why[256] = "";
        if (bench_prompt_from_json(obj, rd.lineno, &p, why, sizeof why) != 0) {
            log_warn("%s:%ld: %s (line skipped)", path, rd.lineno, why);
            out->bad_lines++;
        } else if (bench_prompts_find(out, p.id) >= 0) {
            log_warn("%s:%ld: duplicate id '%s' (line skipped)", path, rd.lineno, p.id);
            bench_prompt_free(&p);
            out->bad_lines++;
        } else if (bench_prompts_push(out, &p) != 0) {
            bench_prompt_free(&p);
            snprintf(err, errcap, "%s: out of memory", path);
            rc = -1;
            cJSON_Delete(obj);
            break;
        } else {
            good++;
        }
        cJSON_Delete(obj);
    }
    jsonl_close(&rd);
    if (rc == 0 && good == 0) {
        snprintf(err, errcap, "%s: no usable prompt (%zu bad line%s)", path, out->bad_lines,
                 out->bad_lines == 1 ? "" : "s");
        rc = -1;
    }
    return rc;
}

void bench_prompt_sample(const bench_prompt *p, const char *completion, vf_sample *out) {
    memset(out, 0, sizeof *out);
    out->completion = completion;
    out->expected_output = p->expected_output;
    out->stdin_text = p->stdin_text;
    out->tests = p->tests;
    out->n_tests = p->n_tests;
    out->test_code = p->test_code;
    out->entry_point = p->entry_point;
    out->prompt = p->prompt;
}
