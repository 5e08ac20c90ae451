/* synth: task families that write (instruction, program, expected output) triples (see synth.h). */
#include "data/synth.h"

#include "bench/prompts.h"
#include "core/log.h"
#include "raft/loop.h"
#include "verify/verify.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- growing string ---------- */

typedef struct {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_vadd(sbuf *b, const char *fmt, va_list ap) {
    if (b->oom) return;
    va_list cp;
    va_copy(cp, ap);
    int need = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (need < 0) { b->oom = true; return; }
    if (b->n + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + (size_t)need + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) { b->oom = true; return; }
        b->s = s;
        b->cap = cap;
    }
    vsnprintf(b->s + b->n, (size_t)need + 1, fmt, ap);
    b->n += (size_t)need;
}

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_vadd(b, fmt, ap);
    va_end(ap);
}

/* ---------- one candidate under construction ---------- */

typedef enum { IO_C, IO_COUT, IO_CSTDIO } io_style;

typedef struct {
    rng_state *r;
    bool cpp;
    io_style io;
    const char *S;  /* "std::" or "" under using namespace std */
    const char *NL; /* what ends a cout line: "std::endl" / "endl" / "\"\\n\"" */
    sbuf prompt, code, expected;
    char key[256];
    const char *family, *category, *difficulty;
} gen;

static int R(gen *g, int lo, int hi) { return lo + (int)rng_below(g->r, (uint64_t)(hi - lo + 1)); }
static bool coin(gen *g) { return rng_below(g->r, 2) == 0; }
static const char *pick(gen *g, const char *const *list, size_t n) { return list[rng_below(g->r, n)]; }
#define PICK(g, arr) pick(g, arr, sizeof(arr) / sizeof(arr[0]))
#define P(...) sb_add(&g->prompt, __VA_ARGS__)
#define C(...) sb_add(&g->code, __VA_ARGS__)
#define E(...) sb_add(&g->expected, __VA_ARGS__)

static const char *lang(gen *g) { return g->cpp ? "C++" : "C"; }

/* "Write a C++ program that " and its variants. */
static void lead(gen *g) {
    static const char *const forms[] = {"Write a %s program that ", "Write a %s program that ", "Write a %s program that ",
                                        "Write a short %s program that ", "Create a %s program that ",
                                        "Write a complete %s program that "};
    P(PICK(g, forms), lang(g));
}

/* "Write a C++ function that " and its variants. */
static void lead_fn(gen *g) {
    static const char *const forms[] = {"Write a %s function that ", "Write a %s function that ",
                                        "Implement a %s function that "};
    P(PICK(g, forms), lang(g));
}

static void family(gen *g, const char *name, const char *category, const char *difficulty) {
    g->family = name;
    g->category = category;
    g->difficulty = difficulty;
}

/* The includes: stdio for C; iostream (or cstdio) plus extras for C++; then using namespace. */
static void head(gen *g, const char *c_extra, const char *cpp_extra) {
    if (!g->cpp) {
        C("#include <stdio.h>\n%s\n", c_extra ? c_extra : "");
        return;
    }
    C("%s%s", g->io == IO_COUT ? "#include <iostream>\n" : "#include <cstdio>\n", cpp_extra ? cpp_extra : "");
    if (g->S[0] == '\0') C("\nusing namespace std;\n");
    C("\n");
}

static const char *ind(int level) {
    static const char *const spaces[] = {"", "    ", "        ", "            ", "                "};
    return spaces[level < 0 ? 0 : level > 4 ? 4 : level];
}

static void out_fmt(gen *g, int lv, const char *fmt, const char *expr) {
    if (g->io == IO_COUT) C("%s%scout << %s << %s;\n", ind(lv), g->S, expr, g->NL);
    else C("%sprintf(\"%s\\n\", %s);\n", ind(lv), fmt, expr);
}
static void out_int(gen *g, int lv, const char *expr) { out_fmt(g, lv, "%d", expr); }
static void out_ll(gen *g, int lv, const char *expr) { out_fmt(g, lv, "%lld", expr); }
/* A std::string expression (C++) or a char array (C). */
static void out_string(gen *g, int lv, const char *expr) {
    if (g->io == IO_COUT) C("%s%scout << %s << %s;\n", ind(lv), g->S, expr, g->NL);
    else if (g->cpp) C("%sprintf(\"%%s\\n\", %s.c_str());\n", ind(lv), expr);
    else C("%sprintf(\"%%s\\n\", %s);\n", ind(lv), expr);
}
/* A literal text with no quotes, backslashes or percent signs. */
static void out_lit(gen *g, int lv, const char *text) {
    if (g->io == IO_COUT) C("%s%scout << \"%s\" << %s;\n", ind(lv), g->S, text, g->NL);
    else if (coin(g)) C("%sputs(\"%s\");\n", ind(lv), text);
    else C("%sprintf(\"%s\\n\");\n", ind(lv), text);
}
static void out_int_nonl(gen *g, int lv, const char *expr) {
    if (g->io == IO_COUT) C("%s%scout << %s;\n", ind(lv), g->S, expr);
    else C("%sprintf(\"%%d\", %s);\n", ind(lv), expr);
}
static void out_newline(gen *g, int lv) {
    if (g->io == IO_COUT) C("%s%scout << %s;\n", ind(lv), g->S, g->NL);
    else C("%sprintf(\"\\n\");\n", ind(lv));
}

/* One space, as the statement that ends a line already started (`if (i > 0) `). */
static void out_space(gen *g) {
    if (g->io == IO_COUT) C("%scout << \" \";\n", g->S);
    else C("printf(\" \");\n");
}

/* Prints arr[0..n) space-separated on one line. */
static void out_array(gen *g, int lv, const char *arr, const char *n) {
    C("%sfor (int i = 0; i < %s; i++) {\n", ind(lv), n);
    C("%sif (i > 0) ", ind(lv + 1));
    out_space(g);
    char e[64];
    snprintf(e, sizeof e, "%s[i]", arr);
    out_int_nonl(g, lv + 1, e);
    C("%s}\n", ind(lv));
    out_newline(g, lv);
}

/* Declares an int array `name` with vals and its length `int n`: a C array, or in C++ a C array or a
 * std::vector (vec). */
static void decl_array(gen *g, int lv, const char *name, const int *vals, int n, bool vec, const char *len) {
    if (vec) C("%s%svector<int> %s = {", ind(lv), g->S, name);
    else C("%sint %s[] = {", ind(lv), name);
    for (int i = 0; i < n; i++) C(i ? ", %d" : "%d", vals[i]);
    C("};\n");
    if (vec) C("%sint %s = (int)%s.size();\n", ind(lv), len, name);
    else C("%sint %s = sizeof(%s) / sizeof(%s[0]);\n", ind(lv), len, name, name);
}

static void array_text(gen *g, const int *vals, int n) {
    P("{");
    for (int i = 0; i < n; i++) P(i ? ", %d" : "%d", vals[i]);
    P("}");
}

static void expect_array(gen *g, const int *vals, int n) {
    for (int i = 0; i < n; i++) E(i ? " %d" : "%d", vals[i]);
}

static void random_array(gen *g, int *vals, int n, int lo, int hi) {
    for (int i = 0; i < n; i++) vals[i] = R(g, lo, hi);
}

static void set_key(gen *g, const char *task, const int *nums, int n, const char *text) {
    long l[32];
    for (int i = 0; i < n && i < 32; i++) l[i] = nums[i];
    synth_task_key(g->key, sizeof g->key, task, l, (size_t)(n < 32 ? n : 32), text);
}

static const char *quote(gen *g) { return rng_below(g->r, 4) == 0 ? "\"" : "'"; }

static const char *const words[] = {"hello",    "world",     "banana",   "apple",    "orange",   "level",
                                    "radar",    "kayak",     "madam",    "noon",     "civic",    "refer",
                                    "rotor",    "stats",     "programming", "compiler", "keyboard", "algorithm",
                                    "racecar",  "python",    "function", "variable", "pointer",  "computer",
                                    "science",  "engineer",  "deified",  "repaper",  "window",   "garden",
                                    "mountain", "river",     "planet",   "rocket",   "coffee",   "minim",
                                    "tenet",    "sagas",     "wow",      "puzzle",   "education", "sequence"};
static const char *const phrases[] = {"hello world",    "good morning",   "the quick brown fox", "open source code",
                                      "data structures", "learn to code",  "programming is fun", "a quiet evening",
                                      "unit tests pass", "keep it simple", "input and output",   "hello there",
                                      "cats and dogs",   "binary search",  "sort the array",     "an apple a day"};

/* ---------- families ---------- */

static void f_message(gen *g) {
    static const char *const msgs[] = {"Hello, Coder!",     "Hello, Reader!",        "Good morning!",   "Hi there!",
                                       "Goodbye, World!",   "Hello, Alice!",    "Welcome!",        "Hello, Bob!",
                                       "Programming is fun!", "Hello, halo-forge!", "Happy coding!", "Hello, Universe!",
                                       "OK",                "Done.",            "Have a nice day!", "Hello from main"};
    family(g, "print_message", "basic_io", "easy");
    const char *m = PICK(g, msgs);
    static const char *const forms[] = {"prints '%s' to stdout.", "prints '%s' to stdout.", "prints the message '%s'.",
                                        "outputs '%s' followed by a newline.", "displays '%s' on the screen."};
    lead(g);
    P(PICK(g, forms), m);
    head(g, NULL, NULL);
    C("int main(%s) {\n", g->cpp ? "" : "void");
    out_lit(g, 1, m);
    C("    return 0;\n}\n");
    E("%s", m);
    set_key(g, "message", NULL, 0, m);
}

static void f_range(gen *g) {
    int a = R(g, 0, 5), b = a + R(g, 2, 9);
    bool lines = rng_below(g->r, 3) != 0;
    family(g, lines ? "count_lines" : "count_spaced", "basic_io", "easy");
    lead(g);
    if (lines) {
        static const char *const forms[] = {"prints the numbers %d through %d, each on a new line.",
                                            "prints the integers from %d to %d, one per line.",
                                            "counts from %d to %d and prints each number on its own line."};
        P(PICK(g, forms), a, b);
    } else {
        static const char *const forms[] = {"prints the numbers %d through %d on one line, space-separated.",
                                            "prints the integers from %d to %d, space-separated."};
        P(PICK(g, forms), a, b);
    }
    head(g, NULL, NULL);
    C("int main(%s) {\n", g->cpp ? "" : "void");
    if (lines) {
        if (coin(g)) {
            C("    for (int i = %d; i <= %d; i++) {\n", a, b);
            out_int(g, 2, "i");
            C("    }\n");
        } else {
            C("    int i = %d;\n    while (i <= %d) {\n", a, b);
            out_int(g, 2, "i");
            C("        i++;\n    }\n");
        }
        for (int i = a; i <= b; i++) E(i > a ? "\n%d" : "%d", i);
    } else {
        C("    for (int i = %d; i <= %d; i++) {\n", a, b);
        C("        if (i > %d) ", a);
        out_space(g);
        out_int_nonl(g, 2, "i");
        C("    }\n");
        out_newline(g, 1);
        for (int i = a; i <= b; i++) E(i > a ? " %d" : "%d", i);
    }
    C("    return 0;\n}\n");
    int k[2] = {a, b};
    set_key(g, "range", k, 2, NULL);
}

static void f_countdown(gen *g) {
    int b = R(g, 3, 12), a = R(g, 0, b - 2);
    family(g, "count_down", "basic_io", "easy");
    lead(g);
    static const char *const forms[] = {"counts down from %d to %d, printing each number on a new line.",
                                        "prints the numbers from %d down to %d, one per line."};
    P(PICK(g, forms), b, a);
    head(g, NULL, NULL);
    C("int main(%s) {\n", g->cpp ? "" : "void");
    C("    for (int i = %d; i >= %d; i--) {\n", b, a);
    out_int(g, 2, "i");
    C("    }\n    return 0;\n}\n");
    for (int i = b; i >= a; i--) E(i < b ? "\n%d" : "%d", i);
    snprintf(g->key, sizeof g->key, "count_down:%d,%d", b, a);
}

static void f_evens(gen *g) {
    bool even = coin(g);
    int a = R(g, 1, 10), b = a + R(g, 6, 20);
    family(g, even ? "even_numbers" : "odd_numbers", "basic_io", "easy");
    lead(g);
    P("prints all %s numbers between %d and %d inclusive, space-separated.", even ? "even" : "odd", a, b);
    head(g, NULL, NULL);
    C("int main(%s) {\n    int first = 1;\n", g->cpp ? "" : "void");
    C("    for (int i = %d; i <= %d; i++) {\n", a, b);
    C("        if (i %% 2 == %d) {\n", even ? 0 : 1);
    C("            if (!first) ");
    out_space(g);
    out_int_nonl(g, 3, "i");
    C("            first = 0;\n        }\n    }\n");
    out_newline(g, 1);
    C("    return 0;\n}\n");
    bool first = true;
    for (int i = a; i <= b; i++)
        if (i % 2 == (even ? 0 : 1)) { E(first ? "%d" : " %d", i); first = false; }
    int k[2] = {a, b};
    set_key(g, even ? "evens" : "odds", k, 2, NULL);
}

static void f_table(gen *g) {
    int n = R(g, 2, 12), k = R(g, 3, 10);
    family(g, "multiplication_table", "basic_io", "easy");
    lead(g);
    P("prints the multiplication table of %d from 1 to %d, one line per row in the form '%d x 1 = %d'.", n, k, n, n);
    head(g, NULL, NULL);
    C("int main(%s) {\n    int n = %d;\n", g->cpp ? "" : "void", n);
    C("    for (int i = 1; i <= %d; i++) {\n", k);
    if (g->io == IO_COUT) C("        %scout << n << \" x \" << i << \" = \" << n * i << %s;\n", g->S, g->NL);
    else C("        printf(\"%%d x %%d = %%d\\n\", n, i, n * i);\n");
    C("    }\n    return 0;\n}\n");
    for (int i = 1; i <= k; i++) E(i > 1 ? "\n%d x %d = %d" : "%d x %d = %d", n, i, n * i);
    int kk[2] = {n, k};
    snprintf(g->key, sizeof g->key, "table:%d,%d", kk[0], kk[1]);
}

static void f_arith(gen *g) {
    static const char *const ops[] = {"sum", "difference", "product"};
    int op = (int)rng_below(g->r, 3);
    int a = R(g, 1, 99), b = R(g, 1, 99);
    int res = op == 0 ? a + b : op == 1 ? a - b : a * b;
    const char *sym = op == 0 ? "+" : op == 1 ? "-" : "*";
    const char *fname = op == 0 ? (coin(g) ? "add" : "sum") : op == 1 ? "subtract" : "multiply";
    bool fn = coin(g);
    family(g, fn ? "arith_function" : "arith_direct", "arithmetic", "easy");
    if (fn) {
        lead_fn(g);
        P("returns the %s of two integers a and b, then call it in main to print the result of %d %s %d.", ops[op], a,
          sym, b);
    } else {
        lead(g);
        static const char *const forms[] = {"computes and prints the %s of %d and %d.", "prints the %s of %d and %d."};
        P(PICK(g, forms), ops[op], a, b);
    }
    head(g, NULL, NULL);
    if (fn) {
        C("int %s(int a, int b) {\n    return a %s b;\n}\n\n", fname, sym);
        C("int main(%s) {\n", g->cpp ? "" : "void");
        char e[64];
        snprintf(e, sizeof e, "%s(%d, %d)", fname, a, b);
        out_int(g, 1, e);
    } else {
        C("int main(%s) {\n    int a = %d;\n    int b = %d;\n    int result = a %s b;\n", g->cpp ? "" : "void", a, b,
          sym);
        out_int(g, 1, "result");
    }
    C("    return 0;\n}\n");
    E("%d", res);
    int k[2] = {a, b};
    set_key(g, op == 0 ? "add" : op == 1 ? "subtract" : "multiply", k, 2, NULL);
}

static void f_factorial(gen *g) {
    int n = R(g, 1, 15);
    bool rec = coin(g);
    family(g, rec ? "factorial_recursive" : "factorial", "arithmetic", "medium");
    lead(g);
    static const char *const forms[] = {"computes and prints the factorial of %d.", "computes and prints the factorial of %d.",
                                        "prints %d! (the factorial of %d)."};
    const char *f = PICK(g, forms);
    P(f, n, n);
    if (rec) P(" Use recursion.");
    head(g, NULL, NULL);
    if (rec) {
        C("long long factorial(int n) {\n    if (n <= 1) return 1;\n    return n * factorial(n - 1);\n}\n\n");
        C("int main(%s) {\n", g->cpp ? "" : "void");
        char e[48];
        snprintf(e, sizeof e, "factorial(%d)", n);
        out_ll(g, 1, e);
    } else {
        C("int main(%s) {\n    long long result = 1;\n", g->cpp ? "" : "void");
        C("    for (int i = 2; i <= %d; i++) {\n        result *= i;\n    }\n", n);
        out_ll(g, 1, "result");
    }
    C("    return 0;\n}\n");
    long long v = 1;
    for (int i = 2; i <= n; i++) v *= i;
    E("%lld", v);
    int k[1] = {n};
    set_key(g, "factorial", k, 1, NULL);
}

static void f_power(gen *g) {
    int b = R(g, 2, 9), e = R(g, 0, b <= 3 ? 20 : 9);
    bool fn = coin(g);
    family(g, fn ? "power_function" : "power", "arithmetic", "easy");
    lead(g);
    static const char *const forms[] = {"computes and prints %d raised to the power of %d.",
                                        "computes and prints %d to the power %d.", "prints the value of %d^%d."};
    P(PICK(g, forms), b, e);
    if (fn) P(" Write the power computation as a separate function.");
    head(g, NULL, NULL);
    if (fn) {
        C("long long power(int base, int exp) {\n    long long result = 1;\n");
        C("    for (int i = 0; i < exp; i++) {\n        result *= base;\n    }\n    return result;\n}\n\n");
        C("int main(%s) {\n", g->cpp ? "" : "void");
        char ex[48];
        snprintf(ex, sizeof ex, "power(%d, %d)", b, e);
        out_ll(g, 1, ex);
    } else {
        C("int main(%s) {\n    long long result = 1;\n", g->cpp ? "" : "void");
        C("    for (int i = 0; i < %d; i++) {\n        result *= %d;\n    }\n", e, b);
        out_ll(g, 1, "result");
    }
    C("    return 0;\n}\n");
    long long v = 1;
    for (int i = 0; i < e; i++) v *= b;
    E("%lld", v);
    int k[2] = {b, e};
    snprintf(g->key, sizeof g->key, "power:%d,%d", k[0], k[1]);
}

static bool is_prime(int n) {
    if (n < 2) return false;
    for (int d = 2; d * d <= n; d++)
        if (n % d == 0) return false;
    return true;
}

static void f_prime(gen *g) {
    int n = R(g, 2, 199);
    family(g, "is_prime", "arithmetic", "medium");
    lead(g);
    static const char *const forms[] = {"checks if %d is prime and prints 'yes' or 'no'.",
                                        "checks whether %d is a prime number and prints 'yes' or 'no'."};
    P(PICK(g, forms), n);
    head(g, g->cpp ? NULL : "#include <stdbool.h>\n", NULL);
    C("bool is_prime(int n) {\n    if (n < 2) return false;\n");
    C("    for (int d = 2; d * d <= n; d++) {\n        if (n %% d == 0) return false;\n    }\n    return true;\n}\n\n");
    C("int main(%s) {\n", g->cpp ? "" : "void");
    C("    if (is_prime(%d)) {\n", n);
    out_lit(g, 2, "yes");
    C("    } else {\n");
    out_lit(g, 2, "no");
    C("    }\n    return 0;\n}\n");
    E("%s", is_prime(n) ? "yes" : "no");
    int k[1] = {n};
    set_key(g, "is_prime", k, 1, NULL);
}

static void f_even_odd(gen *g) {
    int n = R(g, 0, 999);
    family(g, "even_or_odd", "arithmetic", "easy");
    lead(g);
    P("checks whether %d is even or odd and prints 'even' or 'odd'.", n);
    head(g, NULL, NULL);
    C("int main(%s) {\n    int n = %d;\n    if (n %% 2 == 0) {\n", g->cpp ? "" : "void", n);
    out_lit(g, 2, "even");
    C("    } else {\n");
    out_lit(g, 2, "odd");
    C("    }\n    return 0;\n}\n");
    E("%s", n % 2 ? "odd" : "even");
    int k[1] = {n};
    set_key(g, "even_odd", k, 1, NULL);
}

static void f_digits(gen *g) {
    int kind = (int)rng_below(g->r, 3); /* digit sum, digit count, reversed number */
    int n = R(g, 10, 99999);
    static const char *const names[] = {"digit_sum", "count_digits", "reverse_number"};
    family(g, names[kind], "arithmetic", "easy");
    lead(g);
    if (kind == 0) P("computes and prints the sum of the digits of %d.", n);
    else if (kind == 1) P("counts and prints the number of digits in %d.", n);
    else P("reverses the digits of the number %d and prints the result.", n);
    head(g, NULL, NULL);
    C("int main(%s) {\n    int n = %d;\n    int result = 0;\n    while (n > 0) {\n", g->cpp ? "" : "void", n);
    if (kind == 0) C("        result += n %% 10;\n");
    else if (kind == 1) C("        result++;\n");
    else C("        result = result * 10 + n %% 10;\n");
    C("        n /= 10;\n    }\n");
    out_int(g, 1, "result");
    C("    return 0;\n}\n");
    int v = 0;
    for (int m = n; m > 0; m /= 10) v = kind == 0 ? v + m % 10 : kind == 1 ? v + 1 : v * 10 + m % 10;
    E("%d", v);
    int k[1] = {n};
    set_key(g, names[kind], k, 1, NULL);
}

static int gcd_of(int a, int b) { return b ? gcd_of(b, a % b) : a; }

static void f_gcd(gen *g) {
    bool lcm = rng_below(g->r, 3) == 0;
    int m = R(g, 2, 12), a = m * R(g, 1, 15), b = m * R(g, 1, 15);
    if (a == b) b += m;
    bool rec = coin(g);
    family(g, lcm ? "lcm" : rec ? "gcd_recursive" : "gcd", "algorithms", "medium");
    lead(g);
    if (lcm) P("computes and prints the LCM of %d and %d.", a, b);
    else {
        static const char *const forms[] = {"computes and prints the GCD of %d and %d.",
                                            "computes and prints the greatest common divisor of %d and %d."};
        P(PICK(g, forms), a, b);
    }
    head(g, NULL, NULL);
    if (rec) C("int gcd(int a, int b) {\n    if (b == 0) return a;\n    return gcd(b, a %% b);\n}\n\n");
    else C("int gcd(int a, int b) {\n    while (b != 0) {\n        int t = a %% b;\n        a = b;\n        b = t;\n    }\n    return a;\n}\n\n");
    C("int main(%s) {\n    int a = %d;\n    int b = %d;\n", g->cpp ? "" : "void", a, b);
    out_int(g, 1, lcm ? "a / gcd(a, b) * b" : "gcd(a, b)");
    C("    return 0;\n}\n");
    E("%d", lcm ? a / gcd_of(a, b) * b : gcd_of(a, b));
    int k[2] = {a, b};
    set_key(g, lcm ? "lcm" : "gcd", k, 2, NULL);
}

static void f_sum_to_n(gen *g) {
    int n = R(g, 3, 200);
    family(g, "sum_1_to_n", "arithmetic", "easy");
    lead(g);
    static const char *const forms[] = {"computes and prints the sum of the integers from 1 to %d.",
                                        "prints the sum of all numbers from 1 to %d."};
    P(PICK(g, forms), n);
    head(g, NULL, NULL);
    C("int main(%s) {\n    int sum = 0;\n    for (int i = 1; i <= %d; i++) {\n        sum += i;\n    }\n",
      g->cpp ? "" : "void", n);
    out_int(g, 1, "sum");
    C("    return 0;\n}\n");
    E("%d", n * (n + 1) / 2);
    int k[1] = {n};
    set_key(g, "sum_to_n", k, 1, NULL);
}

static void f_max3(gen *g) {
    int v[3];
    random_array(g, v, 3, -50, 200);
    bool mx = coin(g);
    family(g, mx ? "max_of_three" : "min_of_three", "arithmetic", "easy");
    lead(g);
    P("prints the %s of the three numbers %d, %d and %d.", mx ? "largest" : "smallest", v[0], v[1], v[2]);
    head(g, NULL, NULL);
    C("int main(%s) {\n    int a = %d, b = %d, c = %d;\n    int m = a;\n", g->cpp ? "" : "void", v[0], v[1], v[2]);
    C("    if (b %s m) m = b;\n    if (c %s m) m = c;\n", mx ? ">" : "<", mx ? ">" : "<");
    out_int(g, 1, "m");
    C("    return 0;\n}\n");
    int m = v[0];
    for (int i = 1; i < 3; i++) m = mx ? (v[i] > m ? v[i] : m) : (v[i] < m ? v[i] : m);
    E("%d", m);
    set_key(g, mx ? "max" : "min", v, 3, NULL);
}

static void f_fib_list(gen *g) {
    int n = R(g, 3, 25);
    family(g, "fibonacci", "algorithms", "medium");
    lead(g);
    static const char *const forms[] = {"prints the first %d Fibonacci numbers, space-separated.",
                                        "prints the first %d numbers of the Fibonacci sequence on one line, separated by spaces."};
    P(PICK(g, forms), n);
    head(g, NULL, NULL);
    C("int main(%s) {\n    long long a = 0, b = 1;\n    for (int i = 0; i < %d; i++) {\n", g->cpp ? "" : "void", n);
    C("        if (i > 0) ");
    if (g->io == IO_COUT) C("%scout << \" \";\n        %scout << a;\n", g->S, g->S);
    else C("printf(\" \");\n        printf(\"%%lld\", a);\n");
    C("        long long next = a + b;\n        a = b;\n        b = next;\n    }\n");
    out_newline(g, 1);
    C("    return 0;\n}\n");
    long long a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        E(i ? " %lld" : "%lld", a);
        long long t = a + b;
        a = b;
        b = t;
    }
    int k[1] = {n};
    set_key(g, "fibonacci_list", k, 1, NULL);
}

static void f_fib_nth(gen *g) {
    int n = R(g, 1, 30);
    bool rec = n <= 20 && coin(g);
    family(g, rec ? "fibonacci_nth_recursive" : "fibonacci_nth", "algorithms", "medium");
    lead(g);
    const char *suffix = n % 100 >= 11 && n % 100 <= 13 ? "th"
                         : n % 10 == 1                  ? "st"
                         : n % 10 == 2                  ? "nd"
                         : n % 10 == 3                  ? "rd"
                                                        : "th";
    P("computes and prints the %d%s Fibonacci number, where F(0) = 0 and F(1) = 1.", n, suffix);
    if (rec) P(" Use a recursive function.");
    head(g, NULL, NULL);
    if (rec) C("int fib(int n) {\n    if (n < 2) return n;\n    return fib(n - 1) + fib(n - 2);\n}\n\n");
    else C("int fib(int n) {\n    int a = 0, b = 1;\n    for (int i = 0; i < n; i++) {\n        int t = a + b;\n        a = b;\n        b = t;\n    }\n    return a;\n}\n\n");
    C("int main(%s) {\n", g->cpp ? "" : "void");
    char e[32];
    snprintf(e, sizeof e, "fib(%d)", n);
    out_int(g, 1, e);
    C("    return 0;\n}\n");
    int a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        int t = a + b;
        a = b;
        b = t;
    }
    E("%d", a);
    int k[1] = {n};
    set_key(g, "fibonacci_nth", k, 1, NULL);
}

static void f_primes_upto(gen *g) {
    int n = R(g, 10, 100);
    family(g, "primes_up_to", "algorithms", "medium");
    lead(g);
    P("prints all prime numbers up to %d, space-separated.", n);
    head(g, NULL, NULL);
    C("int is_prime(int n) {\n    if (n < 2) return 0;\n    for (int d = 2; d * d <= n; d++) {\n");
    C("        if (n %% d == 0) return 0;\n    }\n    return 1;\n}\n\n");
    C("int main(%s) {\n    int first = 1;\n    for (int i = 2; i <= %d; i++) {\n        if (is_prime(i)) {\n",
      g->cpp ? "" : "void", n);
    C("            if (!first) ");
    out_space(g);
    out_int_nonl(g, 3, "i");
    C("            first = 0;\n        }\n    }\n");
    out_newline(g, 1);
    C("    return 0;\n}\n");
    bool first = true;
    for (int i = 2; i <= n; i++)
        if (is_prime(i)) { E(first ? "%d" : " %d", i); first = false; }
    int k[1] = {n};
    set_key(g, "primes_up_to", k, 1, NULL);
}

static void f_collatz(gen *g) {
    int n = R(g, 2, 100);
    family(g, "collatz_steps", "algorithms", "medium");
    lead(g);
    P("counts how many steps the Collatz sequence starting at %d takes to reach 1 (halve even numbers, "
      "map odd n to 3n + 1) and prints the count.", n);
    head(g, NULL, NULL);
    C("int main(%s) {\n    int n = %d;\n    int steps = 0;\n    while (n != 1) {\n", g->cpp ? "" : "void", n);
    C("        if (n %% 2 == 0) n /= 2;\n        else n = 3 * n + 1;\n        steps++;\n    }\n");
    out_int(g, 1, "steps");
    C("    return 0;\n}\n");
    int s = 0;
    for (long m = n; m != 1; s++) m = m % 2 ? 3 * m + 1 : m / 2;
    E("%d", s);
    int k[1] = {n};
    set_key(g, "collatz", k, 1, NULL);
}

static void f_search(gen *g) {
    bool bin = coin(g);
    int n = R(g, 5, 10), v[10] = {0};
    if (bin) {
        int x = R(g, -5, 5);
        for (int i = 0; i < n; i++) { x += R(g, 1, 6); v[i] = x; }
    } else {
        random_array(g, v, n, 1, 50);
    }
    int idx = (int)rng_below(g->r, (uint64_t)n), target = v[idx];
    bool absent = rng_below(g->r, 5) == 0;
    if (absent) {
        target = bin ? v[n - 1] + R(g, 1, 9) : 51 + R(g, 0, 20);
        idx = -1;
    } else {
        for (int i = 0; i < n; i++)
            if (v[i] == target) { idx = i; break; }
    }
    family(g, bin ? "binary_search" : "linear_search", "algorithms", bin ? "hard" : "medium");
    lead(g);
    if (bin) P("uses binary search to find the index of %d in sorted array ", target);
    else P("uses linear search to find the index of the first occurrence of %d in array ", target);
    array_text(g, v, n);
    P(" and prints it%s.", absent || rng_below(g->r, 3) == 0 ? " (or -1 if it is not there)" : "");
    bool vec = g->cpp && coin(g);
    head(g, NULL, vec ? "#include <vector>\n" : NULL);
    if (bin) {
        if (vec) C("int binary_search(const %svector<int> &a, int target) {\n    int lo = 0, hi = (int)a.size() - 1;\n", g->S);
        else C("int binary_search(const int a[], int n, int target) {\n    int lo = 0, hi = n - 1;\n");
        C("    while (lo <= hi) {\n        int mid = lo + (hi - lo) / 2;\n        if (a[mid] == target) return mid;\n");
        C("        if (a[mid] < target) lo = mid + 1;\n        else hi = mid - 1;\n    }\n    return -1;\n}\n\n");
    } else {
        if (vec) C("int find_index(const %svector<int> &a, int target) {\n    for (int i = 0; i < (int)a.size(); i++) {\n", g->S);
        else C("int find_index(const int a[], int n, int target) {\n    for (int i = 0; i < n; i++) {\n");
        C("        if (a[i] == target) return i;\n    }\n    return -1;\n}\n\n");
    }
    C("int main(%s) {\n", g->cpp ? "" : "void");
    decl_array(g, 1, "a", v, n, vec, "n");
    const char *fn = bin ? "binary_search" : "find_index";
    char e[64];
    if (vec) {
        C("    (void)n;\n");
        snprintf(e, sizeof e, "%s(a, %d)", fn, target);
    } else {
        snprintf(e, sizeof e, "%s(a, n, %d)", fn, target);
    }
    out_int(g, 1, e);
    C("    return 0;\n}\n");
    E("%d", idx);
    /* the key keeps the array order: the same values in another order are another search */
    long l[12];
    l[0] = target;
    for (int i = 0; i < n; i++) l[i + 1] = v[i];
    synth_task_key(g->key, sizeof g->key, "search", l, (size_t)n + 1, NULL);
}

/* arrays */

static void f_array_reduce(gen *g) {
    int kind = (int)rng_below(g->r, 6); /* sum max min product count_even average */
    int n = R(g, 3, 9), v[9];
    random_array(g, v, n, kind == 3 ? 1 : 0, kind == 3 ? 9 : 60);
    static const char *const names[] = {"array_sum", "array_max", "array_min", "array_product", "array_count_even",
                                        "array_average"};
    family(g, names[kind], "arrays", kind == 1 || kind == 2 ? "medium" : "easy");
    lead(g);
    static const char *const what[] = {"calculates and prints the sum of array ", "finds and prints the maximum element in array ",
                                       "finds and prints the minimum element in array ",
                                       "calculates and prints the product of the elements of array ",
                                       "counts and prints how many even numbers are in array ",
                                       "computes the average of array "};
    P("%s", what[kind]);
    array_text(g, v, n);
    P("%s", kind == 5 ? " and prints it with two decimal places." : ".");
    bool vec = g->cpp && coin(g);
    bool fn = coin(g);
    head(g, NULL, vec ? "#include <vector>\n" : NULL);
    const char *type = kind == 3 ? "long long" : "int";
    if (fn) {
        static const char *const fnames[] = {"array_sum", "find_max", "find_min", "array_product", "count_even", "average"};
        if (vec) C("%s %s(const %svector<int> &a) {\n    int n = (int)a.size();\n", kind == 5 ? "double" : type,
                   fnames[kind], g->S);
        else C("%s %s(const int a[], int n) {\n", kind == 5 ? "double" : type, fnames[kind]);
    } else {
        C("int main(%s) {\n", g->cpp ? "" : "void");
        decl_array(g, 1, "a", v, n, vec, "n");
    }
    if (kind == 0 || kind == 5) C("    int acc = 0;\n    for (int i = 0; i < n; i++) {\n        acc += a[i];\n    }\n");
    else if (kind == 3) C("    long long acc = 1;\n    for (int i = 0; i < n; i++) {\n        acc *= a[i];\n    }\n");
    else if (kind == 4) C("    int acc = 0;\n    for (int i = 0; i < n; i++) {\n        if (a[i] %% 2 == 0) acc++;\n    }\n");
    else C("    int acc = a[0];\n    for (int i = 1; i < n; i++) {\n        if (a[i] %s acc) acc = a[i];\n    }\n",
           kind == 1 ? ">" : "<");
    if (fn) {
        C(kind == 5 ? "    return (double)acc / n;\n}\n\n" : "    return acc;\n}\n\n");
        C("int main(%s) {\n", g->cpp ? "" : "void");
        decl_array(g, 1, "a", v, n, vec, "n");
        static const char *const fnames[] = {"array_sum", "find_max", "find_min", "array_product", "count_even", "average"};
        char e[64];
        if (vec) { C("    (void)n;\n"); snprintf(e, sizeof e, "%s(a)", fnames[kind]); }
        else snprintf(e, sizeof e, "%s(a, n)", fnames[kind]);
        if (kind == 5) C("    double result = %s;\n", e);
        else C("    %s result = %s;\n", type, e);
    } else {
        if (kind == 5) C("    double result = (double)acc / n;\n");
        else C("    %s result = acc;\n", type);
    }
    if (kind == 3) out_ll(g, 1, "result");
    else if (kind == 5) {
        if (g->io == IO_COUT) C("    %scout << %sfixed << %ssetprecision(2) << result << %s;\n", g->S, g->S, g->S, g->NL);
        else C("    printf(\"%%.2f\\n\", result);\n");
    } else out_int(g, 1, "result");
    C("    return 0;\n}\n");
    if (kind == 5 && g->io == IO_COUT) {
        /* iomanip is needed: insert it after the first include line */
        const char *nl = strchr(g->code.s, '\n');
        if (nl) {
            size_t at = (size_t)(nl - g->code.s) + 1;
            sbuf nb = {0};
            sb_add(&nb, "%.*s#include <iomanip>\n%s", (int)at, g->code.s, g->code.s + at);
            free(g->code.s);
            g->code = nb;
        }
    }
    long long acc = kind == 3 ? 1 : kind == 1 || kind == 2 ? v[0] : 0;
    for (int i = 0; i < n; i++) {
        if (kind == 0 || kind == 5) acc += v[i];
        else if (kind == 3) acc *= v[i];
        else if (kind == 4) acc += v[i] % 2 == 0;
        else if (kind == 1 && v[i] > acc) acc = v[i];
        else if (kind == 2 && v[i] < acc) acc = v[i];
    }
    if (kind == 5) E("%.2f", (double)acc / n);
    else E("%lld", acc);
    static const char *const keys[] = {"collection_sum", "array_max", "array_min", "array_product", "count_even",
                                       "array_average"};
    set_key(g, keys[kind], v, n, NULL);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void f_sort(gen *g) {
    int algo = (int)rng_below(g->r, 4); /* bubble selection insertion library */
    bool desc = rng_below(g->r, 5) == 0;
    int n = R(g, 4, 9), v[9], s[9];
    random_array(g, v, n, 0, 99);
    memcpy(s, v, sizeof v);
    qsort(s, (size_t)n, sizeof s[0], cmp_int);
    if (desc)
        for (int i = 0; i < n / 2; i++) { int t = s[i]; s[i] = s[n - 1 - i]; s[n - 1 - i] = t; }
    static const char *const names[] = {"bubble_sort", "selection_sort", "insertion_sort", "library_sort"};
    static const char *const algo_text[] = {"bubble sort", "selection sort", "insertion sort", NULL};
    family(g, names[algo], "arrays", "medium");
    lead(g);
    P("sorts array ");
    array_text(g, v, n);
    if (algo_text[algo]) P(" %susing %s and prints the sorted array space-separated.", desc ? "in descending order " : "",
                           algo_text[algo]);
    else P(" in %s order and prints it space-separated%s.", desc ? "descending" : "ascending",
           g->cpp ? (coin(g) ? " (use std::sort)" : "") : " (use qsort)");
    bool vec = g->cpp && coin(g);
    const char *cpp_inc = algo == 3 ? (vec ? "#include <algorithm>\n#include <vector>\n" : "#include <algorithm>\n")
                                    : (vec ? "#include <vector>\n" : NULL);
    head(g, algo == 3 ? "#include <stdlib.h>\n" : NULL, cpp_inc);
    const char *gt = desc ? "<" : ">";
    if (algo == 3 && !g->cpp) {
        C("int compare(const void *a, const void *b) {\n    int x = *(const int *)a, y = *(const int *)b;\n");
        C("    return %s;\n}\n\n", desc ? "(y > x) - (y < x)" : "(x > y) - (x < y)");
    }
    C("int main(%s) {\n", g->cpp ? "" : "void");
    decl_array(g, 1, "a", v, n, vec, "n");
    if (algo == 0) {
        C("    for (int i = 0; i < n - 1; i++) {\n        for (int j = 0; j < n - 1 - i; j++) {\n");
        C("            if (a[j] %s a[j + 1]) {\n                int t = a[j];\n                a[j] = a[j + 1];\n"
          "                a[j + 1] = t;\n            }\n        }\n    }\n", gt);
    } else if (algo == 1) {
        C("    for (int i = 0; i < n - 1; i++) {\n        int best = i;\n        for (int j = i + 1; j < n; j++) {\n");
        C("            if (a[best] %s a[j]) best = j;\n        }\n", gt);
        C("        int t = a[i];\n        a[i] = a[best];\n        a[best] = t;\n    }\n");
    } else if (algo == 2) {
        C("    for (int i = 1; i < n; i++) {\n        int key = a[i];\n        int j = i - 1;\n");
        C("        while (j >= 0 && a[j] %s key) {\n            a[j + 1] = a[j];\n            j--;\n        }\n", gt);
        C("        a[j + 1] = key;\n    }\n");
    } else if (g->cpp) {
        const char *b = vec ? "a.begin()" : "a", *e = vec ? "a.end()" : "a + n";
        if (desc) C("    %ssort(%s, %s, %sgreater<int>());\n", g->S, b, e, g->S);
        else C("    %ssort(%s, %s);\n", g->S, b, e);
    } else {
        C("    qsort(a, n, sizeof(a[0]), compare);\n");
    }
    out_array(g, 1, "a", "n");
    C("    return 0;\n}\n");
    if (algo == 3 && g->cpp && desc) {
        /* std::greater lives in <functional> */
        const char *nl = strchr(g->code.s, '\n');
        size_t at = (size_t)(nl - g->code.s) + 1;
        sbuf nb = {0};
        sb_add(&nb, "%.*s#include <functional>\n%s", (int)at, g->code.s, g->code.s + at);
        free(g->code.s);
        g->code = nb;
    }
    expect_array(g, s, n);
    set_key(g, "sort", v, n, NULL);
}

static void f_reverse_array(gen *g) {
    int n = R(g, 3, 9), v[9];
    random_array(g, v, n, 0, 99);
    bool inplace = coin(g);
    family(g, "reverse_array", "arrays", "easy");
    lead(g);
    P("%s array ", inplace ? "reverses" : "prints the elements of");
    array_text(g, v, n);
    P(inplace ? " in place and prints it space-separated." : " in reverse order, space-separated.");
    bool vec = g->cpp && coin(g);
    head(g, NULL, vec ? "#include <vector>\n" : NULL);
    C("int main(%s) {\n", g->cpp ? "" : "void");
    decl_array(g, 1, "a", v, n, vec, "n");
    if (inplace) {
        C("    for (int i = 0; i < n / 2; i++) {\n        int t = a[i];\n        a[i] = a[n - 1 - i];\n        a[n - 1 - i] = t;\n    }\n");
        out_array(g, 1, "a", "n");
    } else {
        C("    for (int i = n - 1; i >= 0; i--) {\n        if (i < n - 1) ");
        out_space(g);
        out_int_nonl(g, 2, "a[i]");
        C("    }\n");
        out_newline(g, 1);
    }
    C("    return 0;\n}\n");
    for (int i = n - 1; i >= 0; i--) E(i < n - 1 ? " %d" : "%d", v[i]);
    set_key(g, "reverse_array", v, n, NULL);
}

/* strings */

static void f_reverse_string(gen *g) {
    const char *w = coin(g) ? PICK(g, words) : PICK(g, phrases);
    const char *q = quote(g);
    int style = g->cpp ? (int)rng_below(g->r, 2) : 1; /* 0: std::reverse, 1: index loop */
    family(g, "reverse_string", "strings", "medium");
    lead(g);
    static const char *const forms[] = {"reverses the string %s%s%s and prints it.",
                                        "prints the string %s%s%s reversed."};
    P(PICK(g, forms), q, w, q);
    if (g->cpp) head(g, NULL, style == 0 ? "#include <algorithm>\n#include <string>\n" : "#include <string>\n");
    else head(g, "#include <string.h>\n", NULL);
    C("int main(%s) {\n", g->cpp ? "" : "void");
    if (g->cpp) {
        C("    %sstring s = \"%s\";\n", g->S, w);
        if (style == 0) C("    %sreverse(s.begin(), s.end());\n", g->S);
        else C("    int n = (int)s.size();\n    for (int i = 0; i < n / 2; i++) {\n        char t = s[i];\n"
               "        s[i] = s[n - 1 - i];\n        s[n - 1 - i] = t;\n    }\n");
        out_string(g, 1, "s");
    } else {
        C("    char s[] = \"%s\";\n    int n = (int)strlen(s);\n", w);
        C("    for (int i = 0; i < n / 2; i++) {\n        char t = s[i];\n        s[i] = s[n - 1 - i];\n"
          "        s[n - 1 - i] = t;\n    }\n");
        out_string(g, 1, "s");
    }
    C("    return 0;\n}\n");
    size_t n = strlen(w);
    for (size_t i = n; i > 0; i--) E("%c", w[i - 1]);
    set_key(g, "reverse_string", NULL, 0, w);
}

static void f_palindrome(gen *g) {
    const char *w = PICK(g, words);
    const char *q = quote(g);
    family(g, "palindrome", "strings", "medium");
    lead(g);
    static const char *const forms[] = {"checks if %s%s%s is a palindrome and prints 'yes' or 'no'.",
                                        "checks whether the string %s%s%s reads the same backwards and prints 'yes' or 'no'."};
    P(PICK(g, forms), q, w, q);
    if (g->cpp) head(g, NULL, "#include <string>\n");
    else head(g, "#include <string.h>\n", NULL);
    if (g->cpp) C("bool is_palindrome(const %sstring &s) {\n    int n = (int)s.size();\n", g->S);
    else C("int is_palindrome(const char *s) {\n    int n = (int)strlen(s);\n");
    C("    for (int i = 0; i < n / 2; i++) {\n        if (s[i] != s[n - 1 - i]) return %s;\n    }\n    return %s;\n}\n\n",
      g->cpp ? "false" : "0", g->cpp ? "true" : "1");
    C("int main(%s) {\n", g->cpp ? "" : "void");
    C("    if (is_palindrome(\"%s\")) {\n", w);
    out_lit(g, 2, "yes");
    C("    } else {\n");
    out_lit(g, 2, "no");
    C("    }\n    return 0;\n}\n");
    size_t n = strlen(w);
    bool pal = true;
    for (size_t i = 0; i < n / 2; i++)
        if (w[i] != w[n - 1 - i]) pal = false;
    E("%s", pal ? "yes" : "no");
    set_key(g, "palindrome", NULL, 0, w);
}

static void f_count_chars(gen *g) {
    int kind = (int)rng_below(g->r, 4); /* vowels, a given letter, length, words */
    const char *w = kind == 3 || coin(g) ? PICK(g, phrases) : PICK(g, words);
    const char *q = quote(g);
    char letter = w[rng_below(g->r, strlen(w))];
    if (letter == ' ') letter = 'o';
    static const char *const names[] = {"count_vowels", "count_char", "string_length", "count_words"};
    family(g, names[kind], "strings", "easy");
    lead(g);
    if (kind == 0) P("counts and prints the number of vowels in %s%s%s.", q, w, q);
    else if (kind == 1) P("counts how many times the letter '%c' appears in %s%s%s and prints the count.", letter, q, w, q);
    else if (kind == 2) P("prints the length of the string %s%s%s without using a library length function.", q, w, q);
    else P("counts and prints the number of words in %s%s%s.", q, w, q);
    if (g->cpp) head(g, NULL, "#include <string>\n");
    else head(g, NULL, NULL);
    C("int main(%s) {\n", g->cpp ? "" : "void");
    if (g->cpp) C("    %sstring s = \"%s\";\n", g->S, w);
    else C("    const char *s = \"%s\";\n", w);
    C("    int count = 0;\n");
    if (kind == 3) {
        C("    int in_word = 0;\n    for (int i = 0; s[i] != '\\0'; i++) {\n        if (s[i] == ' ') {\n"
          "            in_word = 0;\n        } else if (!in_word) {\n            in_word = 1;\n            count++;\n"
          "        }\n    }\n");
    } else {
        C("    for (int i = 0; s[i] != '\\0'; i++) {\n");
        if (g->cpp) C("        char c = s[i];\n");
        else C("        char c = s[i];\n");
        if (kind == 0) C("        if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') count++;\n");
        else if (kind == 1) C("        if (c == '%c') count++;\n", letter);
        else C("        (void)c;\n        count++;\n");
        C("    }\n");
    }
    out_int(g, 1, "count");
    C("    return 0;\n}\n");
    int count = 0, in_word = 0;
    for (const char *p = w; *p; p++) {
        if (kind == 0) count += strchr("aeiou", *p) != NULL;
        else if (kind == 1) count += *p == letter;
        else if (kind == 2) count++;
        else if (*p == ' ') in_word = 0;
        else if (!in_word) { in_word = 1; count++; }
    }
    E("%d", count);
    char t[128];
    snprintf(t, sizeof t, "%c|%s", kind == 1 ? letter : '-', w);
    set_key(g, names[kind], NULL, 0, kind == 1 ? t : w);
}

static void f_upper(gen *g) {
    const char *w = coin(g) ? PICK(g, words) : PICK(g, phrases);
    const char *q = quote(g);
    family(g, "uppercase", "strings", "easy");
    lead(g);
    P("converts the string %s%s%s to uppercase and prints it.", q, w, q);
    if (g->cpp) head(g, NULL, "#include <cctype>\n#include <string>\n");
    else head(g, "#include <ctype.h>\n", NULL);
    C("int main(%s) {\n", g->cpp ? "" : "void");
    if (g->cpp) C("    %sstring s = \"%s\";\n    for (size_t i = 0; i < s.size(); i++) {\n", g->S, w);
    else C("    char s[] = \"%s\";\n    for (int i = 0; s[i] != '\\0'; i++) {\n", w);
    C("        s[i] = (char)%stoupper((unsigned char)s[i]);\n    }\n", g->cpp ? g->S : "");
    out_string(g, 1, "s");
    C("    return 0;\n}\n");
    for (const char *p = w; *p; p++) E("%c", toupper((unsigned char)*p));
    set_key(g, "uppercase", NULL, 0, w);
}

/* data structures */

static void f_linked_list(gen *g) {
    int n = R(g, 2, 6), v[6];
    random_array(g, v, n, 1, 30);
    bool sum = rng_below(g->r, 3) != 0;
    family(g, sum ? "linked_list_sum" : "linked_list_print", "data_structures", "hard");
    lead(g);
    P("builds a simple linked list containing ");
    for (int i = 0; i < n; i++) P(i == 0 ? "%d" : i == n - 1 ? " and %d" : ", %d", v[i]);
    P(sum ? " and prints their sum." : " and prints its elements space-separated.");
    if (coin(g) && sum) {
        sbuf alt = {0};
        sb_add(&alt, "Write a %s program with a simple linked list containing ", lang(g));
        for (int i = 0; i < n; i++) sb_add(&alt, i == 0 ? "%d" : i == n - 1 ? " and %d" : ", %d", v[i]);
        sb_add(&alt, " and print their sum.");
        free(g->prompt.s);
        g->prompt = alt;
    }
    head(g, g->cpp ? NULL : "#include <stdlib.h>\n", NULL);
    if (g->cpp) {
        C("struct Node {\n    int value;\n    Node *next;\n};\n\n");
        C("int main() {\n    Node *head = nullptr;\n");
        C("    int values[] = {");
        for (int i = 0; i < n; i++) C(i ? ", %d" : "%d", v[i]);
        C("};\n    for (int i = %d; i >= 0; i--) {\n        head = new Node{values[i], head};\n    }\n", n - 1);
    } else {
        C("struct node {\n    int value;\n    struct node *next;\n};\n\n");
        C("int main(void) {\n    struct node *head = NULL;\n    int values[] = {");
        for (int i = 0; i < n; i++) C(i ? ", %d" : "%d", v[i]);
        C("};\n    for (int i = %d; i >= 0; i--) {\n        struct node *item = malloc(sizeof *item);\n"
          "        if (item == NULL) return 1;\n        item->value = values[i];\n        item->next = head;\n"
          "        head = item;\n    }\n", n - 1);
    }
    const char *T = g->cpp ? "Node" : "struct node";
    if (sum) {
        C("    int sum = 0;\n    for (%s *p = head; p != %s; p = p->next) {\n        sum += p->value;\n    }\n", T,
          g->cpp ? "nullptr" : "NULL");
        out_int(g, 1, "sum");
    } else {
        C("    for (%s *p = head; p != %s; p = p->next) {\n        if (p != head) ", T, g->cpp ? "nullptr" : "NULL");
        out_space(g);
        out_int_nonl(g, 2, "p->value");
        C("    }\n");
        out_newline(g, 1);
    }
    C("    while (head != %s) {\n        %s *next = head->next;\n        %s;\n        head = next;\n    }\n",
      g->cpp ? "nullptr" : "NULL", T, g->cpp ? "delete head" : "free(head)");
    C("    return 0;\n}\n");
    int s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    if (sum) E("%d", s);
    else expect_array(g, v, n);
    if (sum) set_key(g, "collection_sum", v, n, NULL);
    else set_key(g, "list_print", v, n, NULL);
}

static void f_stack(gen *g) {
    int n = R(g, 3, 8), v[8];
    random_array(g, v, n, 1, 99);
    bool stl = g->cpp && coin(g);
    family(g, "stack_reverse", "data_structures", "medium");
    lead(g);
    P("pushes ");
    for (int i = 0; i < n; i++) P(i == 0 ? "%d" : i == n - 1 ? " and %d" : ", %d", v[i]);
    P(" onto a stack, then pops them all and prints them space-separated in the order they are popped.");
    head(g, NULL, stl ? "#include <stack>\n" : NULL);
    C("int main(%s) {\n", g->cpp ? "" : "void");
    if (stl) {
        C("    %sstack<int> st;\n", g->S);
        for (int i = 0; i < n; i++) C("    st.push(%d);\n", v[i]);
        C("    bool first = true;\n    while (!st.empty()) {\n        if (!first) ");
        out_space(g);
        out_int_nonl(g, 2, "st.top()");
        C("        st.pop();\n        first = false;\n    }\n");
    } else {
        C("    int stack[16];\n    int top = 0;\n");
        for (int i = 0; i < n; i++) C("    stack[top++] = %d;\n", v[i]);
        C("    int first = 1;\n    while (top > 0) {\n        int value = stack[--top];\n        if (!first) ");
        out_space(g);
        out_int_nonl(g, 2, "value");
        C("        first = 0;\n    }\n");
    }
    out_newline(g, 1);
    C("    return 0;\n}\n");
    for (int i = n - 1; i >= 0; i--) E(i < n - 1 ? " %d" : "%d", v[i]);
    set_key(g, "stack_reverse", v, n, NULL);
}

static void f_struct(gen *g) {
    int w = R(g, 1, 40), h = R(g, 1, 40);
    bool area = coin(g);
    family(g, area ? "struct_area" : "struct_perimeter", "data_structures", "easy");
    lead(g);
    P("defines a struct Rectangle with width and height, creates one with width %d and height %d, and prints its %s.", w,
      h, area ? "area" : "perimeter");
    head(g, NULL, NULL);
    if (g->cpp) C("struct Rectangle {\n    int width;\n    int height;\n};\n\n");
    else C("struct Rectangle {\n    int width;\n    int height;\n};\n\n");
    const char *T = g->cpp ? "Rectangle" : "struct Rectangle";
    C("int %s(%s r) {\n    return %s;\n}\n\n", area ? "area" : "perimeter", T,
      area ? "r.width * r.height" : "2 * (r.width + r.height)");
    C("int main(%s) {\n    %s r = {%d, %d};\n", g->cpp ? "" : "void", T, w, h);
    out_int(g, 1, area ? "area(r)" : "perimeter(r)");
    C("    return 0;\n}\n");
    E("%d", area ? w * h : 2 * (w + h));
    int k[2] = {w, h};
    snprintf(g->key, sizeof g->key, "%s:%d,%d", area ? "rect_area" : "rect_perimeter", k[0], k[1]);
}

static void f_temperature(gen *g) {
    int c = 5 * R(g, -8, 24);
    family(g, "celsius_to_fahrenheit", "arithmetic", "easy");
    lead(g);
    P("converts %d degrees Celsius to Fahrenheit (F = C * 9 / 5 + 32) and prints the integer result.", c);
    head(g, NULL, NULL);
    C("int main(%s) {\n    int celsius = %d;\n    int fahrenheit = celsius * 9 / 5 + 32;\n", g->cpp ? "" : "void", c);
    out_int(g, 1, "fahrenheit");
    C("    return 0;\n}\n");
    E("%d", c * 9 / 5 + 32);
    int k[1] = {c};
    set_key(g, "c_to_f", k, 1, NULL);
}

typedef void (*family_fn)(gen *g);
typedef struct {
    family_fn fn;
    int weight;
} family_entry;

/* Weights favour the benchmark's kinds of task. Family names within one entry vary with the style. */
static const family_entry entries[] = {
    {f_message, 3},      {f_range, 4},        {f_countdown, 2},   {f_evens, 2},         {f_table, 2},
    {f_arith, 5},        {f_factorial, 4},    {f_power, 4},       {f_prime, 4},         {f_even_odd, 2},
    {f_digits, 3},       {f_gcd, 4},          {f_sum_to_n, 2},    {f_max3, 2},          {f_fib_list, 4},
    {f_fib_nth, 2},      {f_primes_upto, 2},  {f_collatz, 1},     {f_search, 5},        {f_array_reduce, 8},
    {f_sort, 6},         {f_reverse_array, 2}, {f_reverse_string, 4}, {f_palindrome, 4}, {f_count_chars, 5},
    {f_upper, 2},        {f_linked_list, 4},  {f_stack, 2},       {f_struct, 2},        {f_temperature, 1},
};
#define N_ENTRIES (sizeof entries / sizeof entries[0])

/* The distinct family names the entries can give. */
static const char *const family_names[] = {
    "print_message", "count_lines", "count_spaced", "count_down", "even_numbers", "odd_numbers", "multiplication_table",
    "arith_function", "arith_direct", "factorial", "factorial_recursive", "power", "power_function", "is_prime",
    "even_or_odd", "digit_sum", "count_digits", "reverse_number", "gcd", "gcd_recursive", "lcm", "sum_1_to_n",
    "max_of_three", "min_of_three", "fibonacci", "fibonacci_nth", "fibonacci_nth_recursive", "primes_up_to",
    "collatz_steps", "binary_search", "linear_search", "array_sum", "array_max", "array_min", "array_product",
    "array_count_even", "array_average", "bubble_sort", "selection_sort", "insertion_sort", "library_sort",
    "reverse_array", "reverse_string", "palindrome", "count_vowels", "count_char", "string_length", "count_words",
    "uppercase", "linked_list_sum", "linked_list_print", "stack_reverse", "struct_area", "struct_perimeter",
    "celsius_to_fahrenheit"};

size_t synth_family_count(void) { return sizeof family_names / sizeof family_names[0]; }

static char *take(sbuf *b) {
    if (b->oom) { free(b->s); return NULL; }
    if (!b->s) return strdup("");
    return b->s;
}

int synth_candidate(rng_state *r, bool cpp, synth_record *out) {
    memset(out, 0, sizeof *out);
    gen g;
    memset(&g, 0, sizeof g);
    g.r = r;
    g.cpp = cpp;
    if (cpp) {
        g.io = rng_below(r, 10) < 6 ? IO_COUT : IO_CSTDIO;
        g.S = rng_below(r, 3) == 0 ? "" : "std::";
        g.NL = rng_below(r, 2) == 0 ? (g.S[0] ? "std::endl" : "endl") : "\"\\n\"";
    } else {
        g.io = IO_C;
        g.S = "";
        g.NL = "";
    }
    int total = 0;
    for (size_t i = 0; i < N_ENTRIES; i++) total += entries[i].weight;
    int x = (int)rng_below(r, (uint64_t)total);
    size_t e = 0;
    while (x >= entries[e].weight) x -= entries[e++].weight;
    entries[e].fn(&g);
    out->family = strdup(g.family);
    out->task = strdup(g.key);
    out->category = g.category;
    out->difficulty = g.difficulty;
    out->cpp = cpp;
    out->prompt = take(&g.prompt);
    out->code = take(&g.code);
    out->expected_output = take(&g.expected);
    if (!out->family || !out->task || !out->prompt || !out->code || !out->expected_output) {
        synth_record_free(out);
        return -1;
    }
    return 0;
}

/* ---------- hold-out ---------- */

/* The 16 built-in benchmark tasks as task keys (see synth_task_key): the same task with the same
 * parameters is never generated, whatever the wording or program style. */
static const char *const held_out[] = {
    "message:helloworld",               /* hello_world */
    "add:3,5",                          /* sum_function: 5 + 3 */
    "range:1,5",                        /* count_1_to_5 */
    "factorial:6",                      /* factorial */
    "fibonacci_list:10",                /* fibonacci */
    "reverse_string:|hello",            /* reverse_string */
    "is_prime:17",                      /* is_prime */
    "collection_sum:1,2,3,4,5",         /* array_sum */
    "array_max:1,1,2,3,4,5,6,9",        /* max_element */
    "sort:1,2,5,8,9",                   /* bubble_sort */
    "gcd:18,48",                        /* gcd */
    "search:7,1,3,5,7,9,11",            /* binary_search */
    "palindrome:|racecar",              /* palindrome */
    "count_vowels:|hello world",        /* count_vowels */
    "power:2,10",                       /* power_function */
    "collection_sum:1,2,3",             /* linked_list_sum */
};

static bool order_free(const char *task) {
    static const char *const tasks[] = {"add", "multiply", "gcd", "lcm", "max", "min", "collection_sum", "array_max",
                                        "array_min", "array_product", "count_even", "array_average", "sort"};
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++)
        if (!strcmp(task, tasks[i])) return true;
    return false;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

char *synth_task_key(char *out, size_t cap, const char *task, const long *nums, size_t n_nums, const char *text) {
    long v[64];
    if (n_nums > 64) n_nums = 64;
    if (n_nums) memcpy(v, nums, n_nums * sizeof *v);
    if (order_free(task)) qsort(v, n_nums, sizeof v[0], cmp_long);
    size_t k = (size_t)snprintf(out, cap, "%s:", task);
    for (size_t i = 0; i < n_nums && k < cap; i++) k += (size_t)snprintf(out + k, cap - k, i ? ",%ld" : "%ld", v[i]);
    if (text && k < cap) {
        bool message = !strcmp(task, "message");
        if (!message && k + 1 < cap) { out[k++] = '|'; out[k] = '\0'; }
        for (const char *p = text; *p && k + 1 < cap; p++) {
            if (message && !isalnum((unsigned char)*p)) continue;
            out[k++] = (char)tolower((unsigned char)*p);
        }
        if (k < cap) out[k] = '\0';
    }
    if (cap) out[cap - 1] = '\0';
    return out;
}

bool synth_key_held_out(const char *key) {
    for (size_t i = 0; i < sizeof held_out / sizeof held_out[0]; i++)
        if (!strcmp(key, held_out[i])) return true;
    return false;
}

bool synth_task_held_out(const char *task, const long *nums, size_t n_nums, const char *text) {
    char key[512];
    return synth_key_held_out(synth_task_key(key, sizeof key, task, nums, n_nums, text));
}

/* Lowercase, quotes dropped, whitespace runs as one space, trimmed. */
static void normalise(const char *s, char *out, size_t cap) {
    size_t k = 0;
    bool space = false;
    for (; *s && k + 2 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'' || c == '"' || c == '`') continue;
        if (isspace(c)) { space = k > 0; continue; }
        if (space) out[k++] = ' ';
        space = false;
        out[k++] = (char)tolower(c);
    }
    out[k] = '\0';
}

bool synth_prompt_is_builtin(const char *prompt) {
    bench_prompt_set set;
    if (bench_prompts_builtin(&set) != 0) return true; /* out of memory: refuse rather than risk a leak */
    char a[2048], b[2048];
    normalise(prompt, a, sizeof a);
    bool hit = false;
    for (size_t i = 0; i < set.count && !hit; i++) {
        normalise(set.items[i].prompt, b, sizeof b);
        hit = !strcmp(a, b);
    }
    bench_prompts_free(&set);
    return hit;
}

/* ---------- records ---------- */

void synth_record_free(synth_record *r) {
    free(r->family);
    free(r->task);
    free(r->prompt);
    free(r->code);
    free(r->expected_output);
    memset(r, 0, sizeof *r);
}

void synth_set_free(synth_set *s) {
    for (size_t i = 0; i < s->count; i++) synth_record_free(&s->items[i]);
    free(s->items);
    memset(s, 0, sizeof *s);
}

char *synth_completion(const synth_record *r) {
    sbuf b = {0};
    sb_add(&b, "```%s\n%s```", r->cpp ? "cpp" : "c", r->code);
    return take(&b);
}

char *synth_record_json(const synth_record *r, const char *id, const char *system_prompt) {
    char *completion = synth_completion(r);
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (!completion || !o) goto out;
    if (!cJSON_AddStringToObject(o, "id", id) || !cJSON_AddStringToObject(o, "category", r->category) ||
        !cJSON_AddStringToObject(o, "difficulty", r->difficulty) ||
        !cJSON_AddStringToObject(o, "language", r->cpp ? "cpp" : "c") ||
        !cJSON_AddStringToObject(o, "family", r->family) || !cJSON_AddStringToObject(o, "task", r->task) ||
        (system_prompt && !cJSON_AddStringToObject(o, "system", system_prompt)) ||
        !cJSON_AddStringToObject(o, "prompt", r->prompt) || !cJSON_AddStringToObject(o, "completion", completion) ||
        !cJSON_AddStringToObject(o, "expected_output", r->expected_output))
        goto out;
    s = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    free(completion);
    return s;
}

void synth_options_default(synth_options *o) {
    memset(o, 0, sizeof *o);
    o->count = 100;
    o->allow_c = o->allow_cpp = true;
    o->cpp_share = 0.6;
    o->verify = true;
    o->system_prompt = RAFT_DEFAULT_SYSTEM_PROMPT;
}

/* ---------- (prompt, code) de-duplication: open addressing on a 64-bit hash ---------- */

typedef struct {
    uint64_t *h;
    size_t cap, n;
} hset;

static uint64_t fnv(const char *a, const char *b) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = a; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *p = b; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ? h : 1;
}

/* Adds h; returns 1 when new, 0 when present, -1 out of memory. */
static int hset_add(hset *s, uint64_t h) {
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *t = calloc(cap, sizeof *t);
        if (!t) return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->h[i]) {
                size_t j = s->h[i] & (cap - 1);
                while (t[j]) j = (j + 1) & (cap - 1);
                t[j] = s->h[i];
            }
        free(s->h);
        s->h = t;
        s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->h[j]) {
        if (s->h[j] == h) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->h[j] = h;
    s->n++;
    return 1;
}

static int push_record(synth_set *s, synth_record *r) {
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        synth_record *items = realloc(s->items, cap * sizeof *items);
        if (!items) return -1;
        s->items = items;
        s->cap = cap;
    }
    s->items[s->count++] = *r;
    memset(r, 0, sizeof *r);
    return 0;
}

typedef struct {
    synth_progress_fn fn;
    void *user;
    size_t base, total;
} prog_relay;

static void relay(void *user, size_t done, size_t total) {
    (void)total;
    prog_relay *p = user;
    if (p->fn) p->fn(p->user, p->base + done, p->total);
}

int synth_generate(const synth_options *o, synth_set *out, synth_stats *stats, synth_progress_fn fn, void *user,
                   char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    memset(stats, 0, sizeof *stats);
    if (!o->allow_c && !o->allow_cpp) {
        snprintf(err, errcap, "no language allowed (need c, cpp or both)");
        return -1;
    }
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.flags = o->compile_flags ? o->compile_flags : "-O0 -Wall -Wextra";
    cfg.workers = o->workers;
    cfg.run_timeout_s = 5;
    if (o->verify) {
        char tool[1024];
        if (o->allow_c && !vf_find_tool(&cfg, VF_LANG_C, tool, sizeof tool)) {
            snprintf(err, errcap, "gcc is not installed: cannot verify C programs");
            return -1;
        }
        if (o->allow_cpp && !vf_find_tool(&cfg, VF_LANG_CPP, tool, sizeof tool)) {
            snprintf(err, errcap, "g++ is not installed: cannot verify C++ programs");
            return -1;
        }
    }
    rng_state r;
    rng_seed(&r, o->seed ^ 0x53796e7468ull);
    hset seen = {0};
    synth_record *batch = NULL;
    vf_sample *samples = NULL;
    vf_result *res = NULL;
    char **completions = NULL;
    int rc = -1;
    size_t want = 0;
    /* Rounds: draw what is missing, verify it, keep the good ones; a template bug drops records and the
     * next round replaces them, so the count is reached unless templates fail wholesale. */
    for (int round = 0; out->count < o->count; round++) {
        if (round >= 8) {
            snprintf(err, errcap, "only %zu of %zu records after %d rounds (%zu failed verification)", out->count,
                     o->count, round, stats->failed);
            goto fail;
        }
        want = o->count - out->count;
        size_t got = 0, draws = 0;
        batch = calloc(want, sizeof *batch);
        if (!batch) goto oom;
        while (got < want) {
            if (++draws > 200 * want + 10000) {
                snprintf(err, errcap, "cannot find %zu new distinct records (have %zu): the count is too high for the "
                         "task families", o->count, out->count + got);
                goto fail;
            }
            bool cpp = o->allow_cpp && (!o->allow_c || rng_double(&r) < o->cpp_share);
            synth_record c;
            if (synth_candidate(&r, cpp, &c) != 0) goto oom;
            stats->candidates++;
            if (synth_key_held_out(c.task) || synth_prompt_is_builtin(c.prompt)) {
                stats->held_out++;
                synth_record_free(&c);
                continue;
            }
            int added = hset_add(&seen, fnv(c.prompt, c.code));
            if (added < 0) { synth_record_free(&c); goto oom; }
            if (added == 0) {
                stats->duplicates++;
                synth_record_free(&c);
                continue;
            }
            batch[got++] = c;
        }
        bool *good = calloc(want, sizeof *good);
        if (!good) goto oom;
        if (o->verify) {
            samples = calloc(want, sizeof *samples);
            res = calloc(want, sizeof *res);
            completions = calloc(want, sizeof *completions);
            if (!samples || !res || !completions) { free(good); goto oom; }
            for (size_t i = 0; i < want; i++) {
                completions[i] = synth_completion(&batch[i]);
                if (!completions[i]) { free(good); goto oom; }
                samples[i].completion = completions[i];
                samples[i].expected_output = batch[i].expected_output;
            }
            prog_relay pr = {fn, user, out->count, o->count};
            if (vf_verify_batch(&cfg, samples, want, res, relay, &pr, err, errcap) != 0) { free(good); goto fail; }
            stats->compiled += want;
            for (size_t i = 0; i < want; i++) {
                good[i] = res[i].status == VF_CORRECT && !res[i].compile_warnings &&
                          res[i].language == (batch[i].cpp ? VF_LANG_CPP : VF_LANG_C);
                if (!good[i]) {
                    stats->failed++;
                    log_warn("synth: dropped a %s record of family %s (%s: %s%s%s)", batch[i].cpp ? "C++" : "C",
                             batch[i].family, vf_status_name(res[i].status), res[i].error,
                             res[i].compile_warnings ? "; compiler warnings: " : "",
                             res[i].compile_warnings ? res[i].compile_log : "");
                }
            }
            for (size_t i = 0; i < want; i++) {
                vf_result_free(&res[i]);
                free(completions[i]);
            }
            free(samples);
            free(res);
            free(completions);
            samples = NULL;
            res = NULL;
            completions = NULL;
        } else {
            for (size_t i = 0; i < want; i++) good[i] = true;
            if (fn) fn(user, out->count + want, o->count);
        }
        for (size_t i = 0; i < want; i++) {
            if (good[i] && push_record(out, &batch[i]) != 0) { free(good); goto oom; }
            synth_record_free(&batch[i]);
        }
        free(good);
        free(batch);
        batch = NULL;
    }
    rc = 0;
    goto done;
oom:
    snprintf(err, errcap, "out of memory");
fail:
    synth_set_free(out);
done:
    for (size_t i = 0; batch && i < want; i++) synth_record_free(&batch[i]);
    for (size_t i = 0; res && i < want; i++) vf_result_free(&res[i]);
    for (size_t i = 0; completions && i < want; i++) free(completions[i]);
    free(batch);
    free(samples);
    free(res);
    free(completions);
    free(seen.h);
    return rc;
}
