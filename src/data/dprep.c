#include "data/dprep.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/rng.h"
#include "data/dsv.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const dp_spec registry[] = {
    {"codeforces_cpp", "open-r1/codeforces-cots", "solutions", "train", "cpp", DP_CODEFORCES, 4000, "competitive",
     "Codeforces problems with DeepSeek-R1 C++ solutions (reasoning in <think>) and the problems' example tests"},
    {"codeforces_python", "open-r1/codeforces-cots", "solutions_py", "train", "python", DP_CODEFORCES, 1000,
     "competitive", "the same problems with Python solutions"},
    {"codeforces_rust", "open-r1/codeforces-cots", "solutions", "train", "rust", DP_CODEFORCES, 500, "code_rust",
     "the rows of the same set whose solution is Rust"},
    {"mbpp", "google-research-datasets/mbpp", "full", "train", "python", DP_MBPP, 500, "code_python",
     "MBPP: basic Python problems with reference code and assert tests"},
    {"mbpp_plus", "evalplus/mbppplus", NULL, "test", "python", DP_MBPP_PLUS, 500, "code_python",
     "MBPP+ (EvalPlus): MBPP with many more tests per problem"},
    {"humaneval", "openai/openai_humaneval", NULL, "test", "python", DP_HUMANEVAL, 164, "code_python",
     "HumanEval: 164 Python functions with canonical solutions and check() tests"},
    {"humaneval_plus", "evalplus/humanevalplus", NULL, "test", "python", DP_HUMANEVAL, 164, "code_python",
     "HumanEval+ (EvalPlus): HumanEval with many more tests"},
    {"livecodebench", "livecodebench/code_generation_lite", NULL, "test", "python", DP_LIVECODEBENCH, 500,
     "competitive", "LiveCodeBench: recent contest problems with public stdin/stdout tests (no reference solutions)"},
};
#define N_REG (sizeof registry / sizeof registry[0])

static const struct {
    const char *key, *text;
} system_prompts[] = {
    {"competitive", "You are an expert competitive programmer. Read the problem carefully, find an efficient "
                    "algorithm, and write one complete program that reads standard input and writes standard output."},
    {"code_python", "You are an expert Python programmer. Write clean, correct code."},
    {"code_cpp", "You are an expert C++ programmer. Write clean, correct code."},
    {"code_rust", "You are an expert Rust programmer. Write safe, idiomatic, correct code."},
    {"code_general", "You are an expert programmer. Write clean, correct, well-structured code."},
};

const dp_spec *dp_registry(size_t *n) {
    *n = N_REG;
    return registry;
}

const dp_spec *dp_find(const char *name) {
    if (!name) return NULL;
    if (!strcmp(name, "codeforces")) name = "codeforces_cpp";
    for (size_t i = 0; i < N_REG; i++)
        if (!strcmp(registry[i].name, name)) return &registry[i];
    return NULL;
}

const char *dp_system_prompt(const char *key) {
    for (size_t i = 0; i < sizeof system_prompts / sizeof system_prompts[0]; i++)
        if (!strcmp(system_prompts[i].key, key)) return system_prompts[i].text;
    return NULL;
}

int dp_template_parse(const char *name, dp_template *out) {
    if (!strcmp(name, "qwen")) *out = DP_TPL_QWEN;
    else if (!strcmp(name, "llama")) *out = DP_TPL_LLAMA;
    else if (!strcmp(name, "chatml")) *out = DP_TPL_CHATML;
    else return -1;
    return 0;
}

int dp_format_parse(const char *name, dp_format *out) {
    if (!strcmp(name, "rlvr")) *out = DP_FMT_RLVR;
    else if (!strcmp(name, "sft")) *out = DP_FMT_SFT;
    else if (!strcmp(name, "messages")) *out = DP_FMT_MESSAGES;
    else return -1;
    return 0;
}

void dp_options_default(dp_options *o) {
    memset(o, 0, sizeof *o);
    o->seed = 42;
    o->format = DP_FMT_RLVR;
    o->tpl = DP_TPL_QWEN;
}

/* ---- small string helpers ---- */

typedef struct {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *t, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) abort();
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, t, n);
    b->len += n;
    b->s[b->len] = '\0';
}
static void sb_puts(sbuf *b, const char *t) { sb_add(b, t, strlen(t)); }
static char *sb_take(sbuf *b) {
    if (!b->s) sb_add(b, "", 0);
    return b->s;
}

char *dp_render(dp_template t, const char *system, const char *prompt, const char *response) {
    sbuf b = {0};
    bool sys = system && *system;
    if (t == DP_TPL_QWEN) {
        if (sys) { sb_puts(&b, "<|im_start|>system\n"); sb_puts(&b, system); sb_puts(&b, "<|im_end|>\n"); }
        sb_puts(&b, "<|im_start|>user\n"); sb_puts(&b, prompt); sb_puts(&b, "<|im_end|>\n<|im_start|>assistant\n");
        sb_puts(&b, response); sb_puts(&b, "<|im_end|>\n");
    } else if (t == DP_TPL_LLAMA) {
        sb_puts(&b, "<s>[INST] ");
        if (sys) { sb_puts(&b, "<<SYS>>\n"); sb_puts(&b, system); sb_puts(&b, "\n<</SYS>>\n\n"); }
        sb_puts(&b, prompt); sb_puts(&b, " [/INST]\n"); sb_puts(&b, response); sb_puts(&b, "</s>");
    } else {
        if (sys) { sb_puts(&b, "<|system|>\n"); sb_puts(&b, system); sb_puts(&b, "<|end|>\n"); }
        sb_puts(&b, "<|user|>\n"); sb_puts(&b, prompt); sb_puts(&b, "<|end|>\n<|assistant|>\n");
        sb_puts(&b, response); sb_puts(&b, "<|end|>");
    }
    return sb_take(&b);
}

static const char *str_field(const cJSON *row, const char *names) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", names);
    char *save = NULL;
    for (char *k = strtok_r(buf, "|", &save); k; k = strtok_r(NULL, "|", &save)) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, k));
        if (v && *v) return v;
    }
    return NULL;
}

static const cJSON *any_field(const cJSON *row, const char *names) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", names);
    char *save = NULL;
    for (char *k = strtok_r(buf, "|", &save); k; k = strtok_r(NULL, "|", &save)) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, k);
        if (v && !cJSON_IsNull(v)) return v;
    }
    return NULL;
}

/* A copy with "\r\n" made "\n" (MBPP's code has Windows line ends). */
static char *unix_lines(const char *s) {
    char *o = strdup(s), *w = o;
    if (!o) abort();
    for (const char *p = s; *p; p++)
        if (!(p[0] == '\r' && p[1] == '\n')) *w++ = *p;
    *w = '\0';
    return o;
}

static char *fenced(const char *lang, const char *code) {
    sbuf b = {0};
    sb_puts(&b, "```");
    sb_puts(&b, lang);
    sb_puts(&b, "\n");
    char *u = unix_lines(code);
    sb_puts(&b, u);
    if (!*u || u[strlen(u) - 1] != '\n') sb_puts(&b, "\n");
    free(u);
    sb_puts(&b, "```");
    return sb_take(&b);
}

/* The language named by the first code fence of text ("cpp", "python", "rust", ...), or NULL. */
static const char *fence_language(const char *text) {
    const char *f = text ? strstr(text, "```") : NULL;
    if (!f) return NULL;
    char tag[32];
    size_t n = 0;
    for (const char *p = f + 3; *p && !isspace((unsigned char)*p) && n < sizeof tag - 1; p++) tag[n++] = (char)tolower((unsigned char)*p);
    tag[n] = '\0';
    if (!strcmp(tag, "cpp") || !strcmp(tag, "c++") || !strcmp(tag, "cc") || !strcmp(tag, "cxx")) return "cpp";
    if (!strcmp(tag, "python") || !strcmp(tag, "py") || !strcmp(tag, "python3")) return "python";
    if (!strcmp(tag, "rust") || !strcmp(tag, "rs")) return "rust";
    if (!strcmp(tag, "c")) return "c";
    if (!strcmp(tag, "go") || !strcmp(tag, "golang")) return "go";
    if (!strcmp(tag, "java")) return "java";
    return NULL;
}

static char *strip_think(const char *s) {
    const char *a = strstr(s, "<think>"), *b = a ? strstr(a, "</think>") : NULL;
    if (!a || !b) return strdup(s);
    b += strlen("</think>");
    while (*b == '\n' || *b == ' ') b++;
    sbuf o = {0};
    sb_add(&o, s, (size_t)(a - s));
    sb_puts(&o, b);
    return sb_take(&o);
}

/* An I/O test list from a list (or a JSON string of a list) of {input, output} objects; NULL if none. */
static cJSON *io_tests(const cJSON *v, long *skipped) {
    cJSON *parsed = NULL;
    if (cJSON_IsString(v)) v = parsed = cJSON_Parse(v->valuestring);
    if (!cJSON_IsArray(v)) {
        cJSON_Delete(parsed);
        return NULL;
    }
    cJSON *out = cJSON_CreateArray(), *it;
    cJSON_ArrayForEach(it, v) {
        const char *in = str_field(it, "input|stdin"), *exp = str_field(it, "output|expected|expected_output");
        const char *type = str_field(it, "testtype");
        const cJSON *inv = cJSON_GetObjectItemCaseSensitive(it, "input");
        if (!in && cJSON_IsString(inv)) in = "";
        if (!exp || (type && strcmp(type, "stdin"))) {
            if (skipped) (*skipped)++;
            continue;
        }
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "input", in ? in : "");
        cJSON_AddStringToObject(c, "expected", exp);
        cJSON_AddItemToArray(out, c);
    }
    cJSON_Delete(parsed);
    if (!cJSON_GetArraySize(out)) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

static void set_id(cJSON *rec, const cJSON *row, const char *names, const char *prefix, long row_idx) {
    const cJSON *v = any_field(row, names);
    char buf[160];
    if (cJSON_IsString(v) && *v->valuestring) snprintf(buf, sizeof buf, "%s", v->valuestring);
    else if (cJSON_IsNumber(v)) snprintf(buf, sizeof buf, "%s%.0f", prefix, v->valuedouble);
    else snprintf(buf, sizeof buf, "%s%ld", prefix, row_idx);
    cJSON_AddStringToObject(rec, "id", buf);
}

static const char *difficulty_of(const cJSON *row) {
    const cJSON *r = any_field(row, "rating");
    if (cJSON_IsNumber(r)) return r->valuedouble < 1300 ? "easy" : r->valuedouble < 2000 ? "medium" : "hard";
    const char *d = str_field(row, "difficulty");
    if (d) {
        if (!strcasecmp(d, "easy") || !strcasecmp(d, "medium") || !strcasecmp(d, "hard")) return d;
        return d;
    }
    return "unknown";
}

/* MBPP's function name: the call in its first test ("assert NAME(" ...). */
static char *mbpp_entry(const char *tests, const char *code) {
    const char *p = tests ? strstr(tests, "assert") : NULL;
    if (p) {
        p += 6;
        while (*p == ' ' || *p == '(') p++;
        if (!strncmp(p, "math.isclose(", 13)) p += 13;
        if (!strncmp(p, "set(", 4)) p += 4;
        size_t n = 0;
        while (isalnum((unsigned char)p[n]) || p[n] == '_') n++;
        if (n && p[n] == '(') return strndup(p, n);
    }
    const char *d = code ? strstr(code, "def ") : NULL;
    if (d) {
        d += 4;
        size_t n = strcspn(d, "( :\n");
        if (n) return strndup(d, n);
    }
    return NULL;
}

static char *join_tests(const cJSON *setup, const cJSON *list) {
    sbuf b = {0};
    const cJSON *it;
    if (cJSON_IsString(setup) && *setup->valuestring) {
        char *u = unix_lines(setup->valuestring);
        sb_puts(&b, u);
        if (u[strlen(u) - 1] != '\n') sb_puts(&b, "\n");
        free(u);
    } else if (cJSON_IsArray(setup)) { /* MBPP+'s test_imports: a list of import lines */
        cJSON_ArrayForEach(it, setup) {
            if (!cJSON_IsString(it)) continue;
            sb_puts(&b, it->valuestring);
            sb_puts(&b, "\n");
        }
    }
    if (cJSON_IsArray(list)) {
        cJSON_ArrayForEach(it, list) {
            if (!cJSON_IsString(it)) continue;
            char *u = unix_lines(it->valuestring);
            sb_puts(&b, u);
            sb_puts(&b, "\n");
            free(u);
        }
    } else if (cJSON_IsString(list)) {
        char *u = unix_lines(list->valuestring);
        sb_puts(&b, u);
        free(u);
    }
    return sb_take(&b);
}

cJSON *dp_convert_row(const dp_options *o, const cJSON *row, long row_idx, int *why) {
    *why = 0;
    const dp_spec *s = o->spec;
    dp_kind kind = s ? s->kind : DP_LOCAL;
    const char *want_lang = s ? s->language : o->language;
    cJSON *rec = cJSON_CreateObject();
    char *prompt = NULL, *completion = NULL, *tests_code = NULL, *entry = NULL;
    cJSON *io = NULL;
    const char *lang = want_lang, *category = NULL, *difficulty = "unknown";
    if (kind == DP_CODEFORCES) {
        set_id(rec, row, "id|problem_id", "cf_", row_idx);
        const char *p = str_field(row, "prompt|problem");
        if (p) prompt = strdup(p);
        else {
            const char *d = str_field(row, "description|statement");
            if (d) {
                sbuf b = {0};
                const char *t = str_field(row, "title"), *in = str_field(row, "input_format"),
                           *out = str_field(row, "output_format");
                if (t) { sb_puts(&b, t); sb_puts(&b, "\n\n"); }
                sb_puts(&b, d);
                if (in) { sb_puts(&b, "\n\nInput\n"); sb_puts(&b, in); }
                if (out) { sb_puts(&b, "\n\nOutput\n"); sb_puts(&b, out); }
                prompt = sb_take(&b);
            }
        }
        const char *r = str_field(row, "generation|solution|response");
        const char *rl = str_field(row, "language");
        const char *row_lang = rl ? rl : fence_language(r);
        if (row_lang && (!strcasecmp(row_lang, "c++") || !strcasecmp(row_lang, "cpp"))) row_lang = "cpp";
        if (!row_lang || strcasecmp(row_lang, want_lang)) {
            *why = 1;
            goto skip;
        }
        if (r) completion = o->no_reasoning ? strip_think(r) : strdup(r);
        io = io_tests(any_field(row, "examples|official_tests|tests"), NULL);
        difficulty = difficulty_of(row);
        const cJSON *tags = any_field(row, "tags|topics");
        if (cJSON_IsArray(tags) && cJSON_IsString(cJSON_GetArrayItem(tags, 0)))
            category = cJSON_GetArrayItem(tags, 0)->valuestring;
        if (!category) category = "competitive";
    } else if (kind == DP_HUMANEVAL) {
        set_id(rec, row, "task_id", "humaneval_", row_idx);
        const char *p = str_field(row, "prompt"), *sol = str_field(row, "canonical_solution");
        if (p) prompt = strdup(p);
        if (p && sol) {
            sbuf b = {0};
            sb_puts(&b, p);
            sb_puts(&b, sol);
            char *code = sb_take(&b);
            completion = fenced("python", code);
            free(code);
        }
        const char *t = str_field(row, "test|tests");
        if (t) tests_code = unix_lines(t);
        const char *e = str_field(row, "entry_point");
        if (e) entry = strdup(e);
        category = "python";
    } else if (kind == DP_MBPP || kind == DP_MBPP_PLUS) {
        set_id(rec, row, "task_id", "mbpp_", row_idx);
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(row, "task_id"))) {
            char b[64];
            snprintf(b, sizeof b, "mbpp_%.0f", cJSON_GetObjectItemCaseSensitive(row, "task_id")->valuedouble);
            cJSON_ReplaceItemInObjectCaseSensitive(rec, "id", cJSON_CreateString(b));
        }
        const char *text = str_field(row, "text|prompt"), *code = str_field(row, "code");
        const cJSON *list = any_field(row, "test_list");
        const cJSON *setup = any_field(row, "test_setup_code|test_imports");
        char *shown = join_tests(NULL, list);
        if (kind == DP_MBPP_PLUS && str_field(row, "test")) {
            /* MBPP+'s own test program (many inputs) replaces the three asserts */
            tests_code = join_tests(setup, cJSON_GetObjectItemCaseSensitive(row, "test"));
        } else {
            const cJSON *chal = any_field(row, "challenge_test_list");
            tests_code = join_tests(setup, list);
            if (cJSON_IsArray(chal) && cJSON_GetArraySize(chal)) {
                char *more = join_tests(NULL, chal);
                sbuf b = {0};
                sb_puts(&b, tests_code);
                sb_puts(&b, more);
                free(more);
                free(tests_code);
                tests_code = sb_take(&b);
            }
        }
        entry = mbpp_entry(shown, code);
        if (text) {
            /* The usual MBPP prompt: the task, then the tests it must pass (they name the function). */
            sbuf b = {0};
            char *u = unix_lines(text);
            sb_puts(&b, u);
            free(u);
            if (*shown) {
                sb_puts(&b, "\nYour code should pass these tests:\n\n");
                sb_puts(&b, shown);
            }
            prompt = sb_take(&b);
            size_t n = strlen(prompt);
            while (n && prompt[n - 1] == '\n') prompt[--n] = '\0';
        }
        free(shown);
        if (code) completion = fenced("python", code);
        category = "python";
    } else if (kind == DP_LIVECODEBENCH) {
        set_id(rec, row, "question_id|id", "lcb_", row_idx);
        const char *q = str_field(row, "question_content|prompt");
        if (q) {
            sbuf b = {0};
            sb_puts(&b, q);
            const char *starter = str_field(row, "starter_code");
            if (starter) {
                sb_puts(&b, "\n\nComplete this starter code:\n```python\n");
                sb_puts(&b, starter);
                sb_puts(&b, "\n```");
            } else {
                sb_puts(&b, "\n\nRead the input from standard input and write the answer to standard output.");
            }
            prompt = sb_take(&b);
        }
        io = io_tests(any_field(row, "public_test_cases"), NULL);
        difficulty = difficulty_of(row);
        const char *plat = str_field(row, "platform");
        category = plat ? plat : "competitive";
    } else { /* local file */
        set_id(rec, row, o->id_field ? o->id_field : "id|task_id", "rec_", row_idx);
        const char *p = str_field(row, o->prompt_field ? o->prompt_field : "prompt|instruction|question|problem");
        if (p) {
            const char *input = o->prompt_field ? NULL : str_field(row, "input");
            if (input) { /* alpaca: instruction + input */
                sbuf b = {0};
                sb_puts(&b, p);
                sb_puts(&b, "\n\n");
                sb_puts(&b, input);
                prompt = sb_take(&b);
            } else prompt = strdup(p);
        }
        const char *r = str_field(row, o->response_field ? o->response_field : "completion|response|output|solution|code");
        if (r) completion = strdup(r);
        const cJSON *t = any_field(row, o->tests_field ? o->tests_field : "tests|test");
        if (cJSON_IsString(t)) tests_code = strdup(t->valuestring);
        else if (cJSON_IsArray(t)) {
            cJSON *first = cJSON_GetArrayItem(t, 0);
            if (cJSON_IsString(first)) tests_code = join_tests(NULL, t);
            else io = cJSON_Duplicate(t, 1);
        }
        const char *e = str_field(row, o->entry_point_field ? o->entry_point_field : "entry_point");
        if (e) entry = strdup(e);
        const char *rl = str_field(row, "language");
        if (!lang) lang = rl ? rl : fence_language(completion);
        if (!lang) lang = "unknown";
        category = str_field(row, "category");
        difficulty = difficulty_of(row);
        const char *exp = str_field(row, "expected_output");
        if (exp) cJSON_AddStringToObject(rec, "expected_output", exp);
        const char *sys = str_field(row, "system");
        if (sys && !o->system_prompt) cJSON_AddStringToObject(rec, "system", sys);
    }
    if (!prompt || !*prompt) {
        *why = 2;
        goto skip;
    }
    cJSON_AddStringToObject(rec, "source", s ? s->name : "local");
    cJSON_AddStringToObject(rec, "language", lang);
    cJSON_AddStringToObject(rec, "category", category ? category : "unknown");
    cJSON_AddStringToObject(rec, "difficulty", difficulty);
    const char *sys = o->system_prompt ? o->system_prompt : s ? dp_system_prompt(s->system_key) : NULL;
    if (sys && *sys && !cJSON_GetObjectItemCaseSensitive(rec, "system")) cJSON_AddStringToObject(rec, "system", sys);
    cJSON_AddStringToObject(rec, "prompt", prompt);
    if (completion && *completion) cJSON_AddStringToObject(rec, "completion", completion);
    if (tests_code && *tests_code) cJSON_AddStringToObject(rec, "tests", tests_code);
    else if (io) {
        cJSON_AddItemToObject(rec, "tests", io);
        io = NULL;
    }
    if (entry) cJSON_AddStringToObject(rec, "entry_point", entry);
    free(prompt);
    free(completion);
    free(tests_code);
    free(entry);
    cJSON_Delete(io);
    return rec;
skip:
    free(prompt);
    free(completion);
    free(tests_code);
    free(entry);
    cJSON_Delete(io);
    cJSON_Delete(rec);
    return NULL;
}

/* ---- the pipeline ---- */

typedef struct {
    cJSON **items;
    size_t n, cap;
    char **ids;
} cand_list;

static bool seen_id(cand_list *c, const char *id) {
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->items[i], "id")), id)) return true;
    return false;
}

static void cand_push(cand_list *c, cJSON *rec) {
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->items = realloc(c->items, c->cap * sizeof *c->items);
        if (!c->items) abort();
    }
    c->items[c->n++] = rec;
}

/* Looks at one row: a record joins the candidates, or a counter says why not. */
static void take_row(const dp_options *o, cand_list *c, const cJSON *row, long idx, dp_stats *st) {
    st->rows_read++;
    int why;
    cJSON *rec = dp_convert_row(o, row, idx, &why);
    if (!rec) {
        if (why == 1) st->other_language++;
        else st->no_prompt++;
        return;
    }
    if ((o->format != DP_FMT_RLVR || o->require_solution) && !cJSON_GetObjectItemCaseSensitive(rec, "completion")) {
        st->no_solution++;
        cJSON_Delete(rec);
        return;
    }
    if (seen_id(c, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "id")))) {
        st->duplicates++;
        cJSON_Delete(rec);
        return;
    }
    cand_push(c, rec);
}

static int load_local(const dp_options *o, cand_list *c, dp_stats *st, char *err, size_t errcap) {
    size_t len = strlen(o->input);
    if (len > 5 && !strcmp(o->input + len - 5, ".json")) {
        char *text = fs_read_file(o->input, NULL);
        if (!text) {
            err_set(err, errcap, "%s: cannot read: %s", o->input, strerror(errno));
            return -1;
        }
        const char *end = NULL;
        cJSON *arr = cJSON_ParseWithOpts(text, &end, 0);
        if (!cJSON_IsArray(arr)) {
            long line = 1;
            for (const char *p = text; end && p < end; p++) line += *p == '\n';
            err_set(err, errcap, "%s:%ld: not a JSON array of records%s", o->input, line,
                    arr ? "" : " (syntax error here)");
            cJSON_Delete(arr);
            free(text);
            return -1;
        }
        free(text);
        long i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            if (cJSON_IsObject(it)) take_row(o, c, it, i, st);
            else st->no_prompt++;
            i++;
        }
        st->rows_total = i;
        cJSON_Delete(arr);
        return 0;
    }
    jsonl_reader r;
    if (jsonl_open(&r, o->input) != 0) {
        err_set(err, errcap, "%s: cannot read: %s", o->input, strerror(errno));
        return -1;
    }
    for (;;) {
        cJSON *obj;
        int k = jsonl_next(&r, &obj, err, errcap);
        if (k == 0) break;
        if (k < 0) {
            jsonl_close(&r);
            return -1; /* err names FILE:LINE */
        }
        take_row(o, c, obj, r.lineno, st);
        cJSON_Delete(obj);
        st->rows_total++;
    }
    jsonl_close(&r);
    return 0;
}

static int load_hub(const dp_options *o, cand_list *c, long want, dp_stats *st, dp_progress_fn fn, void *user,
                    char *err, size_t errcap) {
    const dp_spec *s = o->spec;
    dsv_source src;
    if (dsv_open(&src, s->hf_path, o->hf_config ? o->hf_config : s->hf_config, o->split ? o->split : s->split, err,
                 errcap))
        return -1;
    st->rows_total = src.total;
    long pages = (src.total + DSV_PAGE - 1) / DSV_PAGE;
    long *order = malloc((size_t)(pages ? pages : 1) * sizeof *order);
    if (!order) abort();
    for (long i = 0; i < pages; i++) order[i] = i;
    /* Pages in a seeded random order: a sample of a large dataset reads only about as many rows as it keeps. */
    rng_state rng;
    rng_seed(&rng, o->seed ^ 0x9e3779b97f4a7c15ull);
    for (long i = pages - 1; i > 0; i--) {
        long j = (long)rng_below(&rng, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int rc = 0;
    for (long i = 0; i < pages && (want <= 0 || (long)c->n < want); i++) {
        cJSON *page;
        if (dsv_page(&src, order[i] * DSV_PAGE, &page, err, errcap)) {
            rc = -1;
            break;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(page, "rows")) {
            const cJSON *row = cJSON_GetObjectItemCaseSensitive(it, "row");
            const cJSON *idx = cJSON_GetObjectItemCaseSensitive(it, "row_idx");
            long row_idx = 0;
            json_long_in(idx, 0, LONG_MAX, &row_idx);
            if (cJSON_IsObject(row)) take_row(o, c, row, row_idx, st);
        }
        cJSON_Delete(page);
        if (fn) fn(user, (long)c->n, want);
    }
    st->pages_fetched = src.pages_fetched;
    free(order);
    return rc;
}

static long row_key(const cJSON *rec) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(rec, "__row");
    long row = 0;
    json_long_in(k, 0, LONG_MAX, &row);
    return row;
}

static int by_row(const void *a, const void *b) {
    long x = row_key(*(cJSON *const *)a), y = row_key(*(cJSON *const *)b);
    return x < y ? -1 : x > y;
}

int dp_prepare(const dp_options *o, char **out, size_t *out_len, dp_stats *st, dp_progress_fn fn, void *user,
               char *err, size_t errcap) {
    memset(st, 0, sizeof *st);
    *out = NULL;
    *out_len = 0;
    cand_list c = {0};
    long want = o->max_examples > 0 ? o->max_examples : o->spec ? o->spec->max_examples : 0;
    int rc = o->spec ? load_hub(o, &c, want, st, fn, user, err, errcap) : load_local(o, &c, st, err, errcap);
    if (rc == 0 && c.n == 0) {
        err_set(err, errcap, "%s: no row made a record (%ld rows read: %ld in another language, %ld without a prompt, "
                "%ld without a reference solution, %ld duplicates)",
                o->spec ? o->spec->name : o->input, st->rows_read, st->other_language, st->no_prompt, st->no_solution,
                st->duplicates);
        rc = -1;
    }
    if (rc == 0) {
        /* remember the order of reading, sample, then write in that order */
        for (size_t i = 0; i < c.n; i++) cJSON_AddNumberToObject(c.items[i], "__row", (double)i);
        size_t keep = c.n;
        if (want > 0 && (size_t)want < c.n) {
            rng_state rng;
            rng_seed(&rng, o->seed);
            for (size_t i = 0; i < (size_t)want; i++) {
                size_t j = i + (size_t)rng_below(&rng, c.n - i);
                cJSON *t = c.items[i];
                c.items[i] = c.items[j];
                c.items[j] = t;
            }
            keep = (size_t)want;
            qsort(c.items, keep, sizeof *c.items, by_row);
        }
        sbuf b = {0};
        for (size_t i = 0; i < keep; i++) {
            cJSON *rec = c.items[i];
            cJSON_DeleteItemFromObjectCaseSensitive(rec, "__row");
            cJSON *line = rec;
            if (cJSON_GetObjectItemCaseSensitive(rec, "tests") || cJSON_GetObjectItemCaseSensitive(rec, "expected_output"))
                st->with_tests++;
            if (o->format != DP_FMT_RLVR) {
                const char *sys = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "system"));
                const char *pr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "prompt"));
                const char *co = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "completion"));
                line = cJSON_CreateObject();
                if (o->format == DP_FMT_SFT) {
                    char *text = dp_render(o->tpl, sys, pr, co);
                    cJSON_AddStringToObject(line, "text", text);
                    free(text);
                } else {
                    cJSON *msgs = cJSON_AddArrayToObject(line, "messages");
                    const char *roles[3] = {"system", "user", "assistant"}, *texts[3] = {sys, pr, co};
                    for (int k = sys && *sys ? 0 : 1; k < 3; k++) {
                        cJSON *m = cJSON_CreateObject();
                        cJSON_AddStringToObject(m, "role", roles[k]);
                        cJSON_AddStringToObject(m, "content", texts[k]);
                        cJSON_AddItemToArray(msgs, m);
                    }
                }
                cJSON *meta = cJSON_AddObjectToObject(line, "metadata");
                const char *keys[] = {"id", "source", "language", "category", "difficulty"};
                for (int k = 0; k < 5; k++)
                    cJSON_AddStringToObject(meta, keys[k], cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, keys[k])));
            }
            char *txt = cJSON_PrintUnformatted(line);
            if (!txt) abort();
            sb_puts(&b, txt);
            sb_puts(&b, "\n");
            free(txt);
            if (line != rec) cJSON_Delete(line);
            st->written++;
        }
        *out = sb_take(&b);
        *out_len = b.len;
    }
    st->matched = (long)c.n;
    for (size_t i = 0; i < c.n; i++) cJSON_Delete(c.items[i]);
    free(c.items);
    return rc;
}

int dp_prepare_cached(const dp_spec *spec, char *path, size_t cap, char *err, size_t errcap) {
    char base[3000];
    const char *dc = getenv("HF_DATASETS_CACHE"), *home = getenv("HF_HOME"), *h = getenv("HOME");
    if (dc && *dc) snprintf(base, sizeof base, "%s", dc);
    else if (home && *home) snprintf(base, sizeof base, "%s/datasets", home);
    else snprintf(base, sizeof base, "%s/.cache/huggingface/datasets", h ? h : "");
    if (snprintf(path, cap, "%s/halo-forge/%s.jsonl", base, spec->name) >= (int)cap) {
        err_set(err, errcap, "cache path too long");
        return -1;
    }
    if (fs_exists(path)) return 0;
    dp_options o;
    dp_options_default(&o);
    o.spec = spec;
    o.require_solution = true;
    char *buf;
    size_t len;
    dp_stats st;
    if (dp_prepare(&o, &buf, &len, &st, NULL, NULL, err, errcap)) return -1;
    char dir[3100];
    snprintf(dir, sizeof dir, "%s/halo-forge", base);
    int rc = fs_mkdirs(dir) || fs_write_atomic(path, buf, len) ? -1 : 0;
    if (rc) err_set(err, errcap, "%s: cannot write: %s", path, strerror(errno));
    free(buf);
    return rc;
}
