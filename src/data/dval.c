#include "data/dval.h"
#include "bench/prompts.h"
#include "core/err.h"
#include "core/jsonl.h"
#include "verify/verify.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dv_kind_name(dv_kind k) {
    static const char *names[] = {"sft", "messages", "rlvr", "prompt_response", "prompts_only"};
    return k < DV_KIND_COUNT ? names[k] : "unknown";
}

typedef struct {
    dval_report *r;
    dval_problem_fn fn;
    void *user;
} ctx;

static void problem(ctx *c, long line, bool error, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void problem(ctx *c, long line, bool error, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (error) c->r->errors++;
    else c->r->warnings++;
    if (c->fn) c->fn(c->user, line, error, msg);
}

/* One record kept for verification. */
typedef struct {
    long line;
    char *id;
    char *completion;
    bench_prompt p;
    vf_lang lang;
} pending;

typedef struct {
    char **ids;
    long *lines;
    size_t n, cap;
} id_table;

static long id_seen(id_table *t, const char *id) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->ids[i], id)) return t->lines[i];
    return 0;
}

static void id_add(id_table *t, const char *id, long line) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->ids = realloc(t->ids, t->cap * sizeof *t->ids);
        t->lines = realloc(t->lines, t->cap * sizeof *t->lines);
        if (!t->ids || !t->lines) abort();
    }
    t->ids[t->n] = strdup(id);
    t->lines[t->n++] = line;
}

static const char *get_str(const cJSON *o, const char *k) { return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k)); }

static void stat_prompt(dval_report *r, size_t n) {
    r->n_prompt++;
    r->sum_prompt += (double)n;
    if ((long)n > r->max_prompt) r->max_prompt = (long)n;
}
static void stat_response(dval_report *r, size_t n) {
    r->n_response++;
    r->sum_response += (double)n;
    if ((long)n > r->max_response) r->max_response = (long)n;
}

/* The length of the turn that starts after marker (its newline skipped) and ends at <|im_end|>. */
static long turn_len(const char *marker_at, const char *marker) {
    const char *b = marker_at + strlen(marker);
    if (*b == '\n') b++;
    const char *e = strstr(b, "<|im_end|>");
    return e ? (long)(e - b) : (long)strlen(b);
}

/* Splits a ChatML text into its user and assistant turns for the length statistics. */
static void text_stats(dval_report *r, const char *t) {
    const char *u = strstr(t, "<|im_start|>user"), *a = strstr(t, "<|im_start|>assistant");
    if (u) stat_prompt(r, (size_t)turn_len(u, "<|im_start|>user"));
    if (a) stat_response(r, (size_t)turn_len(a, "<|im_start|>assistant"));
}

static vf_lang lang_of(const char *name, const char *completion) {
    if (name) {
        if (!strcmp(name, "python") || !strcmp(name, "py")) return VF_LANG_PYTHON;
        if (!strcmp(name, "cpp") || !strcmp(name, "c++")) return VF_LANG_CPP;
        if (!strcmp(name, "c")) return VF_LANG_C;
        if (!strcmp(name, "rust")) return VF_LANG_RUST;
        if (!strcmp(name, "go")) return VF_LANG_GO;
    }
    vf_lang hint;
    char *code = vf_extract_code(completion, &hint);
    vf_lang l = vf_detect_language(code, hint);
    free(code);
    return l;
}

/* Checks one record; returns its kind, or -1 when it is unusable. */
static int check_record(ctx *c, const cJSON *o, long line, id_table *ids, pending **pend, size_t *npend,
                        size_t *pcap, bool keep) {
    dval_report *r = c->r;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(o, "messages");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(o, "prompt");
    const cJSON *instr = cJSON_GetObjectItemCaseSensitive(o, "instruction");
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(o, "completion");
    if (!resp) resp = cJSON_GetObjectItemCaseSensitive(o, "response");
    if (!resp && instr) resp = cJSON_GetObjectItemCaseSensitive(o, "output");
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(o, "tests");
    const cJSON *expv = cJSON_GetObjectItemCaseSensitive(o, "expected_output");
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (!idv) idv = cJSON_GetObjectItemCaseSensitive(o, "task_id");
    if (!idv) {
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
        if (cJSON_IsObject(meta)) idv = cJSON_GetObjectItemCaseSensitive(meta, "id");
    }
    char idbuf[200] = "";
    if (idv && !cJSON_IsNull(idv)) {
        if (cJSON_IsString(idv) && *idv->valuestring) snprintf(idbuf, sizeof idbuf, "%s", idv->valuestring);
        else if (cJSON_IsNumber(idv) && idv->valuedouble == floor(idv->valuedouble)) snprintf(idbuf, sizeof idbuf, "%.0f", idv->valuedouble);
        else problem(c, line, true, "'id' must be a non-empty string or an integer");
    }
    if (idbuf[0]) {
        long first = id_seen(ids, idbuf);
        if (first) problem(c, line, true, "duplicate id '%s' (first on line %ld)", idbuf, first);
        else id_add(ids, idbuf, line);
    }
    int kind;
    const char *response = NULL;
    if (text && !cJSON_IsNull(text) && !prompt) {
        kind = DV_SFT;
        if (!cJSON_IsString(text)) {
            problem(c, line, true, "'text' must be a string");
            return -1;
        }
        size_t n = strlen(text->valuestring);
        if (n == 0 || strspn(text->valuestring, " \t\r\n") == n) {
            problem(c, line, true, "empty 'text'");
            return -1;
        }
        if (n > 16000) problem(c, line, false, "'text' is %zu characters long (over 16000: it will be truncated)", n);
        text_stats(r, text->valuestring);
        return kind;
    }
    if (msgs && !cJSON_IsNull(msgs)) {
        if (!cJSON_IsArray(msgs) || !cJSON_GetArraySize(msgs)) {
            problem(c, line, true, "'messages' must be a non-empty list of {role, content}");
            return -1;
        }
        int i = 0, assistant = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs) {
            i++;
            const char *role = get_str(m, "role"), *content = get_str(m, "content");
            if (!role || !content) {
                problem(c, line, true, "message %d needs string 'role' and 'content'", i);
                return -1;
            }
            if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "tool")) {
                problem(c, line, true, "message %d: unknown role '%s' (system, user, assistant, tool)", i, role);
                return -1;
            }
            if (!strcmp(role, "assistant")) {
                assistant++;
                stat_response(r, strlen(content));
                response = content;
                if (!*content) problem(c, line, false, "message %d: empty assistant turn", i);
            } else if (!strcmp(role, "user")) {
                stat_prompt(r, strlen(content));
            }
        }
        if (!assistant) {
            problem(c, line, true, "no assistant turn in 'messages' (nothing to learn)");
            return -1;
        }
        kind = DV_MESSAGES;
    } else {
        const cJSON *pv = prompt ? prompt : instr;
        if (!pv || cJSON_IsNull(pv)) {
            problem(c, line, true, "no 'text', 'messages' or 'prompt' field");
            return -1;
        }
        if (!cJSON_IsString(pv) || !*pv->valuestring) {
            problem(c, line, true, "'%s' must be a non-empty string", prompt ? "prompt" : "instruction");
            return -1;
        }
        size_t pn = strlen(pv->valuestring);
        stat_prompt(r, pn);
        if (pn < 10) problem(c, line, false, "short prompt (%zu characters)", pn);
        if (resp && !cJSON_IsNull(resp)) {
            if (!cJSON_IsString(resp)) {
                problem(c, line, true, "'%s' must be a string", resp->string);
                return -1;
            }
            size_t rn = strlen(resp->valuestring);
            stat_response(r, rn);
            if (rn == 0) problem(c, line, false, "empty '%s'", resp->string);
            else if (rn < 10) problem(c, line, false, "short '%s' (%zu characters)", resp->string, rn);
            response = resp->valuestring;
        }
        bool has_check = (tests && !cJSON_IsNull(tests)) || (expv && !cJSON_IsNull(expv));
        kind = has_check ? DV_RLVR : response ? DV_PROMPT_RESPONSE : DV_PROMPTS_ONLY;
    }
    bool has_check = (tests && !cJSON_IsNull(tests)) || (expv && !cJSON_IsNull(expv));
    if (!has_check) return kind;
    r->with_tests++;
    /* the verification fields, parsed as raft and the benchmarks parse them */
    bench_prompt p;
    char why[300] = "";
    cJSON *shadow = NULL;
    const cJSON *src = o;
    if (!prompt) { /* messages + tests: give the parser a prompt */
        shadow = cJSON_Duplicate(o, 1);
        cJSON_AddStringToObject(shadow, "prompt", "(messages)");
        cJSON_DeleteItemFromObjectCaseSensitive(shadow, "text");
        src = shadow;
    }
    int prc = bench_prompt_from_json(src, line, &p, why, sizeof why);
    cJSON_Delete(shadow);
    if (prc != 0) {
        problem(c, line, true, "%s", why);
        return -1;
    }
    if (p.entry_point && !p.test_code) problem(c, line, false, "'entry_point' without Python 'tests' is not used");
    if (!response || !keep) {
        bench_prompt_free(&p);
        return kind;
    }
    r->verifiable++;
    if (*npend == *pcap) {
        *pcap = *pcap ? *pcap * 2 : 64;
        *pend = realloc(*pend, *pcap * sizeof **pend);
        if (!*pend) abort();
    }
    pending *q = &(*pend)[(*npend)++];
    q->line = line;
    q->id = strdup(idbuf[0] ? idbuf : p.id);
    /* a reasoning model's answer is what follows its reasoning (which may hold code sketches of its own) */
    const char *think_end = strstr(response, "</think>");
    q->completion = strdup(think_end ? think_end + strlen("</think>") : response);
    q->lang = lang_of(get_str(o, "language"), response);
    q->p = p;
    return kind;
}

/* How a record is verified: the verifier kind, and whether its I/O cases run one sample each. */
static bool plan(const pending *q, vf_kind *kind, bool *per_case) {
    *per_case = false;
    if (q->p.test_code) {
        *kind = VF_PYTHON;
        return q->lang == VF_LANG_PYTHON || q->lang == VF_LANG_UNKNOWN;
    }
    switch (q->lang) {
    case VF_LANG_C:
    case VF_LANG_CPP: *kind = q->p.n_tests ? VF_EXECUTION : VF_GCC; break;
    case VF_LANG_PYTHON: *kind = VF_PYTHON; *per_case = q->p.n_tests > 0; break;
    case VF_LANG_RUST: *kind = VF_RUST; *per_case = q->p.n_tests > 0; break;
    case VF_LANG_GO: *kind = VF_GO; *per_case = q->p.n_tests > 0; break;
    default: return false;
    }
    return true;
}

typedef struct {
    dval_progress_fn fn;
    void *user;
    long base, total;
} vprog;

static void on_batch(void *user, size_t done, size_t total) {
    vprog *v = user;
    (void)total;
    if (v->fn) v->fn(v->user, v->base + (long)done, v->total);
}

static int verify_all(ctx *c, const dval_options *o, pending *pend, size_t n, dval_progress_fn pfn, char *err,
                      size_t errcap) {
    dval_report *r = c->r;
    /* samples: one per record, or one per I/O case for verifiers without a test-case mode */
    size_t cap = 0, ns = 0;
    for (size_t i = 0; i < n; i++) cap += pend[i].p.n_tests ? pend[i].p.n_tests : 1;
    vf_sample *smp = calloc(cap ? cap : 1, sizeof *smp);
    size_t *owner = calloc(cap ? cap : 1, sizeof *owner);
    vf_kind *kinds = calloc(cap ? cap : 1, sizeof *kinds);
    bool *ok = calloc(n ? n : 1, sizeof *ok), *usable = calloc(n ? n : 1, sizeof *usable);
    if (!smp || !owner || !kinds || !ok || !usable) abort();
    for (size_t i = 0; i < n; i++) {
        vf_kind k;
        bool per_case;
        usable[i] = plan(&pend[i], &k, &per_case);
        ok[i] = true;
        if (!usable[i]) {
            r->not_verifiable++;
            problem(c, pend[i].line, false, "record '%s': no verifier for its language (%s); not verified", pend[i].id,
                    vf_lang_name(pend[i].lang));
            continue;
        }
        if (per_case) {
            for (size_t t = 0; t < pend[i].p.n_tests; t++) {
                bench_prompt_sample(&pend[i].p, pend[i].completion, &smp[ns]);
                smp[ns].tests = NULL;
                smp[ns].n_tests = 0;
                smp[ns].stdin_text = pend[i].p.tests[t].input;
                smp[ns].expected_output = pend[i].p.tests[t].expected;
                owner[ns] = i;
                kinds[ns++] = k;
            }
        } else {
            bench_prompt_sample(&pend[i].p, pend[i].completion, &smp[ns]);
            owner[ns] = i;
            kinds[ns++] = k;
        }
    }
    char **why = calloc(n ? n : 1, sizeof *why);
    vf_status *st = calloc(n ? n : 1, sizeof *st);
    int rc = 0;
    vprog vp = {pfn, c->user, 0, (long)ns};
    for (int k = 0; k < VF_KIND_COUNT && rc == 0; k++) {
        size_t m = 0;
        for (size_t s = 0; s < ns; s++) m += kinds[s] == (vf_kind)k;
        if (!m) continue;
        vf_sample *sub = calloc(m, sizeof *sub);
        size_t *map = calloc(m, sizeof *map);
        vf_result *res = calloc(m, sizeof *res);
        if (!sub || !map || !res) abort();
        size_t j = 0;
        for (size_t s = 0; s < ns; s++)
            if (kinds[s] == (vf_kind)k) {
                sub[j] = smp[s];
                map[j++] = s;
            }
        vf_config cfg;
        vf_config_default(&cfg, (vf_kind)k);
        cfg.workers = o->workers;
        cfg.cancel = o->cancel;
        cfg.run = true;
        cfg.partial_credit = false;
        int b = vf_verify_batch(&cfg, sub, m, res, on_batch, &vp, err, errcap);
        if (b < 0) rc = -1;
        if (b == 1) r->cancelled = true;
        for (size_t t = 0; b >= 0 && t < m; t++) {
            size_t i = owner[map[t]];
            if (res[t].status != VF_CORRECT) { /* every record here has tests or an expected output */
                if (ok[i]) {
                    ok[i] = false;
                    st[i] = res[t].status;
                    why[i] = strdup(res[t].error && *res[t].error ? res[t].error : vf_status_name(res[t].status));
                }
            }
            vf_result_free(&res[t]);
        }
        vp.base += (long)m;
        free(sub);
        free(map);
        free(res);
    }
    for (size_t i = 0; rc == 0 && !r->cancelled && i < n; i++) {
        if (!usable[i]) continue;
        if (ok[i]) r->verified_ok++;
        else {
            r->verified_failed++;
            char one[300];
            snprintf(one, sizeof one, "%s", why[i]);
            one[strcspn(one, "\n")] = '\0';
            problem(c, pend[i].line, true, "record '%s': its own solution fails verification (%s: %s)", pend[i].id,
                    vf_status_name(st[i]), one);
        }
    }
    for (size_t i = 0; i < n; i++) free(why[i]);
    free(why);
    free(st);
    free(smp);
    free(owner);
    free(kinds);
    free(ok);
    free(usable);
    return rc;
}

int dval_run(const char *path, const dval_options *o, dval_report *r, dval_problem_fn fn, dval_progress_fn pfn,
             void *user, char *err, size_t errcap) {
    memset(r, 0, sizeof *r);
    ctx c = {r, fn, user};
    jsonl_reader rd;
    if (jsonl_open(&rd, path) != 0) {
        err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    id_table ids = {0};
    pending *pend = NULL;
    size_t npend = 0, pcap = 0;
    for (;;) {
        cJSON *obj;
        char msg[600];
        int k = jsonl_next(&rd, &obj, msg, sizeof msg);
        if (k == 0) break;
        r->lines++;
        if (k < 0) {
            const char *m = strstr(msg, ": ");
            const char *after = m ? strstr(m + 2, ": ") : NULL;
            problem(&c, rd.lineno, true, "%s", after ? after + 2 : msg);
            continue;
        }
        r->records++;
        int kind = check_record(&c, obj, rd.lineno, &ids, &pend, &npend, &pcap, o->verify);
        if (kind >= 0) r->by_kind[kind]++;
        cJSON_Delete(obj);
    }
    jsonl_close(&rd);
    long best = 0, good = 0;
    int bk = -1;
    for (int k = 0; k < DV_KIND_COUNT; k++) {
        good += r->by_kind[k];
        if (r->by_kind[k] > best) {
            best = r->by_kind[k];
            bk = k;
        }
    }
    r->format = good == 0 ? "empty" : (double)best >= 0.9 * (double)good ? dv_kind_name((dv_kind)bk) : "mixed";
    if (r->lines == 0) problem(&c, 0, true, "the file has no records");
    int rc = 0;
    if (o->verify && npend) rc = verify_all(&c, o, pend, npend, pfn, err, errcap);
    for (size_t i = 0; i < npend; i++) {
        free(pend[i].id);
        free(pend[i].completion);
        bench_prompt_free(&pend[i].p);
    }
    free(pend);
    for (size_t i = 0; i < ids.n; i++) free(ids.ids[i]);
    free(ids.ids);
    free(ids.lines);
    return rc;
}
