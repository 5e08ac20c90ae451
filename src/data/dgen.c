#include "data/dgen.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/timing.h"
#include "data/dhttp.h"
#include "verify/verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const dg_backend backends[] = {
    {"openai", DG_API_OPENAI, "https://api.openai.com/v1", "OPENAI_BASE_URL", "OPENAI_API_KEY", "gpt-4", 0},
    {"deepseek", DG_API_OPENAI, "https://api.deepseek.com/v1", "DEEPSEEK_BASE_URL", "DEEPSEEK_API_KEY",
     "deepseek-chat", 1.0},
    {"ollama", DG_API_OPENAI, "http://localhost:11434/v1", NULL, NULL, "codellama:13b", 0},
    {"anthropic", DG_API_ANTHROPIC, "https://api.anthropic.com/v1", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY",
     "claude-3-5-sonnet-20241022", 0},
};

static const dg_topic topics[] = {
    {"rust_async", "rust", "asynchronous Rust",
     {"futures and async/await", "channels and message passing", "a small executor and task scheduling",
      "timers and timeouts", "error handling in async code"},
     {"beginner", "intermediate", "advanced"}, 20, "async fn, .await",
     "external crates (tokio, async-std, futures): only the standard library", "idiomatic Rust, no unsafe",
     "You are an expert Rust programmer who writes correct asynchronous code with the standard library only."},
    {"python_testing", "python", "testing Python code",
     {"unit tests with assert", "parametrised test cases", "test doubles and fakes", "property checks",
      "testing error handling"},
     {"beginner", "intermediate", "advanced"}, 30, "def test_, assert",
     "pytest, unittest.mock imports from third-party packages: only the standard library",
     "PEP 8, type hints, docstrings",
     "You are an expert Python programmer who writes well-tested code."},
    {"cpp_algorithms", "cpp", "algorithms in C++",
     {"sorting and searching", "graphs", "dynamic programming", "strings", "data structures"},
     {"beginner", "intermediate", "advanced"}, 25, "int main",
     "input from the user (the program must run without input)", "modern C++17, the standard library, const-correct",
     "You are an expert C++ programmer who writes correct, efficient algorithms."},
    {"go_concurrency", "go", "concurrency in Go",
     {"goroutines and WaitGroup", "channels and select", "worker pools", "mutexes and shared state",
      "context and cancellation"},
     {"beginner", "intermediate", "advanced"}, 20, "go func, chan", "third-party modules: only the standard library",
     "gofmt style, errors handled", "You are an expert Go programmer who writes correct concurrent code."},
};

const dg_backend *dg_backend_find(const char *name) {
    if (name && !strcmp(name, "claude")) name = "anthropic";
    for (size_t i = 0; name && i < sizeof backends / sizeof backends[0]; i++)
        if (!strcmp(backends[i].name, name)) return &backends[i];
    return NULL;
}

const dg_topic *dg_topic_find(const char *name) {
    for (size_t i = 0; name && i < sizeof topics / sizeof topics[0]; i++)
        if (!strcmp(topics[i].name, name)) return &topics[i];
    return NULL;
}

const dg_topic *dg_topics(size_t *n) {
    *n = sizeof topics / sizeof topics[0];
    return topics;
}

const char *dg_backend_names(void) { return "openai|anthropic|claude|ollama|deepseek"; }

void dg_options_default(dg_options *o) {
    memset(o, 0, sizeof *o);
    o->checkpoint_every = 100;
    o->max_retries = 5;
    o->temperature = 0.7;
}

/* ---- one chat call ---- */

typedef struct {
    const dg_options *o;
    char base[1024];
    char key[1024];
    const char *model;
    double last_request;
    long requests;
} client;

static void pace(client *c) {
    double gap = c->o->backend->min_interval_s;
    double now = time_now();
    if (gap > 0 && c->last_request > 0 && now - c->last_request < gap) {
        double w = gap - (now - c->last_request);
        struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    c->last_request = time_now();
}

/* Sends one (system, user) exchange; returns the reply text (heap) or NULL with err. */
static char *chat(client *c, const char *system, const char *user, int max_tokens, char *err, size_t errcap) {
    const dg_options *o = c->o;
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "model", c->model);
    cJSON_AddNumberToObject(req, "max_tokens", max_tokens);
    cJSON_AddNumberToObject(req, "temperature", o->temperature);
    cJSON *msgs = cJSON_CreateArray();
    if (o->backend->api == DG_API_OPENAI) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "system");
        cJSON_AddStringToObject(m, "content", system);
        cJSON_AddItemToArray(msgs, m);
    } else {
        cJSON_AddStringToObject(req, "system", system);
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", user);
    cJSON_AddItemToArray(msgs, m);
    cJSON_AddItemToObject(req, "messages", msgs);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    char url[1200], h1[1200], h2[64];
    const char *hdrs[3] = {NULL, NULL, NULL};
    if (o->backend->api == DG_API_OPENAI) {
        snprintf(url, sizeof url, "%s/chat/completions", c->base);
        if (c->key[0]) {
            snprintf(h1, sizeof h1, "Authorization: Bearer %s", c->key);
            hdrs[0] = h1;
        }
    } else {
        snprintf(url, sizeof url, "%s/messages", c->base);
        snprintf(h1, sizeof h1, "x-api-key: %s", c->key);
        snprintf(h2, sizeof h2, "anthropic-version: 2023-06-01");
        hdrs[0] = h1;
        hdrs[1] = h2;
    }
    dhttp_options ho;
    dhttp_options_init(&ho);
    ho.max_retries = o->max_retries;
    ho.what = o->backend->name;
    long status = 0;
    char *out = NULL;
    pace(c);
    c->requests++;
    int rc = dhttp_request(url, hdrs, body, &ho, &status, &out, NULL, err, errcap);
    free(body);
    if (rc) return NULL;
    cJSON *j = cJSON_Parse(out);
    char *text = NULL;
    if (status != 200) {
        const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
        const char *msg = cJSON_IsString(e) ? e->valuestring : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
        if (status == 401 || status == 403)
            err_set(err, errcap, "%s (%s): the API key%s%s was refused (HTTP %ld)%s%s", o->backend->name, url,
                    o->backend->key_env ? " in $" : "", o->backend->key_env ? o->backend->key_env : "", status,
                    msg ? ": " : "", msg ? msg : "");
        else if (status == 404)
            err_set(err, errcap, "%s (%s): HTTP 404%s%s (check --base-url and --model %s)", o->backend->name, url,
                    msg ? ": " : "", msg ? msg : "", c->model);
        else
            err_set(err, errcap, "%s (%s): HTTP %ld%s%.300s", o->backend->name, url, status, msg ? ": " : "",
                    msg ? msg : "");
    } else if (o->backend->api == DG_API_OPENAI) {
        const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ch, "message"), "content"));
        if (t) text = strdup(t);
        else err_set(err, errcap, "%s: the answer has no choices[0].message.content", o->backend->name);
    } else {
        const cJSON *blk;
        cJSON_ArrayForEach(blk, cJSON_GetObjectItemCaseSensitive(j, "content")) {
            const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(blk, "text"));
            if (t) {
                text = strdup(t);
                break;
            }
        }
        if (!text) err_set(err, errcap, "%s: the answer has no text content block", o->backend->name);
    }
    cJSON_Delete(j);
    free(out);
    return text;
}

/* ---- verification ---- */

static vf_kind kind_of(const char *lang) {
    if (!strcmp(lang, "python")) return VF_PYTHON;
    if (!strcmp(lang, "rust")) return VF_RUST;
    if (!strcmp(lang, "go")) return VF_GO;
    return VF_GCC;
}

static const char *fence_tag(const char *lang) { return !strcmp(lang, "cpp") ? "cpp" : lang; }

/* Compiles and runs the program; fills the record's "verified" object. Returns true when it is kept. */
static bool verify_code(const dg_options *o, const char *lang, const char *completion, cJSON *rec) {
    cJSON *v = cJSON_AddObjectToObject(rec, "verified");
    vf_kind k = kind_of(lang);
    cJSON_AddStringToObject(v, "verifier", vf_kind_name(k));
    if (o->no_verify) {
        cJSON_AddBoolToObject(v, "ok", 0);
        cJSON_AddStringToObject(v, "status", "not_verified");
        return true;
    }
    vf_config cfg;
    vf_config_default(&cfg, k);
    cfg.run = true;
    cfg.cancel = o->cancel;
    vf_sample s = {0};
    s.completion = completion;
    vf_result r;
    char err[300];
    if (vf_verify(&cfg, &s, &r, err, sizeof err) != 0) {
        cJSON_AddBoolToObject(v, "ok", 0);
        cJSON_AddStringToObject(v, "status", "sandbox_error");
        cJSON_AddStringToObject(v, "error", err);
        return false;
    }
    /* kept: it compiled and ran to completion without an error (there is no expected output to compare) */
    bool ok = r.status == VF_RAN || r.status == VF_CORRECT;
    cJSON_AddBoolToObject(v, "ok", ok);
    cJSON_AddStringToObject(v, "status", vf_status_name(r.status));
    cJSON_AddNumberToObject(v, "reward", r.reward);
    if (!ok && r.error && *r.error) cJSON_AddStringToObject(v, "error", r.error);
    vf_result_free(&r);
    return ok;
}

/* ---- journal ---- */

typedef struct {
    cJSON **recs; /* by slot; NULL when not done */
    bool *done;
    long n;
} slots;

static bool record_ok(const cJSON *rec) {
    return cJSON_IsObject(rec) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rec, "id")) &&
           cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rec, "prompt")) &&
           cJSON_IsString(cJSON_GetObjectItemCaseSensitive(rec, "completion"));
}

static int read_journal(const char *path, slots *sl, long *resumed, char *err, size_t errcap) {
    if (!fs_exists(path)) return 0;
    jsonl_reader r;
    if (jsonl_open(&r, path) != 0) {
        err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    for (;;) {
        cJSON *o;
        char e[400];
        int k = jsonl_next(&r, &o, e, sizeof e);
        if (k == 0) break;
        if (k < 0) { /* a line cut by a crash: that slot is made again */
            log_warn("%s (the slot is generated again)", e);
            continue;
        }
        const cJSON *slot = cJSON_GetObjectItemCaseSensitive(o, "slot");
        long i = -1; /* stays -1 unless the line names a slot of this run; other lines are skipped */
        json_long_in(slot, 0, sl->n - 1, &i);
        const cJSON *kept_rec = cJSON_GetObjectItemCaseSensitive(o, "record");
        bool kept = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "kept"));
        if (i >= 0 && !sl->done[i] && kept && !record_ok(kept_rec)) {
            /* a journal edited or damaged by hand: never copy a malformed record into the output */
            log_warn("%s:%ld: slot %ld: the kept record is not an object with string id, prompt and completion "
                     "(the slot is generated again)", path, r.lineno, i);
        } else if (i >= 0 && !sl->done[i]) {
            sl->done[i] = true;
            (*resumed)++;
            cJSON *rec = cJSON_DetachItemFromObjectCaseSensitive(o, "record");
            if (kept && rec) sl->recs[i] = rec;
            else cJSON_Delete(rec);
        }
        cJSON_Delete(o);
    }
    jsonl_close(&r);
    return 0;
}

static int write_output(const char *path, const slots *sl) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) return -1;
    for (long i = 0; i < sl->n; i++) {
        if (!sl->recs[i]) continue;
        char *t = cJSON_PrintUnformatted(sl->recs[i]);
        size_t tl = strlen(t);
        while (len + tl + 2 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        memcpy(buf + len, t, tl);
        len += tl;
        buf[len++] = '\n';
        free(t);
    }
    int rc = fs_write_atomic(path, buf, len);
    free(buf);
    return rc;
}

int dg_run(const dg_options *o, dg_stats *st, dg_progress_fn fn, void *user, char *err, size_t errcap) {
    memset(st, 0, sizeof *st);
    const dg_topic *t = o->topic;
    long full = 5L * 3 * t->per_category;
    long n = o->n > 0 ? o->n : full;
    client c = {0};
    c.o = o;
    c.model = o->model ? o->model : o->backend->default_model;
    const char *base = o->base_url;
    char ollama[1024];
    if (!base && o->backend->base_env && getenv(o->backend->base_env) && *getenv(o->backend->base_env))
        base = getenv(o->backend->base_env);
    if (!base && !strcmp(o->backend->name, "ollama") && getenv("OLLAMA_HOST") && *getenv("OLLAMA_HOST")) {
        const char *h = getenv("OLLAMA_HOST");
        snprintf(ollama, sizeof ollama, "%s%s/v1", strstr(h, "://") ? "" : "http://", h);
        base = ollama;
    }
    snprintf(c.base, sizeof c.base, "%s", base ? base : o->backend->default_base);
    size_t bl = strlen(c.base);
    while (bl && c.base[bl - 1] == '/') c.base[--bl] = '\0';
    const char *key = o->api_key ? o->api_key : o->backend->key_env ? getenv(o->backend->key_env) : NULL;
    if (o->backend->key_env && (!key || !*key)) {
        err_set(err, errcap, "%s needs an API key: set %s (or pass --api-key)", o->backend->name, o->backend->key_env);
        return -1;
    }
    snprintf(c.key, sizeof c.key, "%s", key ? key : "");

    slots sl = {calloc((size_t)n, sizeof(cJSON *)), calloc((size_t)n, sizeof(bool)), n};
    if (!sl.recs || !sl.done) abort();
    char journal[4200];
    snprintf(journal, sizeof journal, "%s.partial.jsonl", o->output);
    int rc = read_journal(journal, &sl, &st->resumed, err, errcap);
    FILE *jf = rc == 0 ? fopen(journal, "a") : NULL;
    if (rc == 0 && !jf) {
        err_set(err, errcap, "%s: cannot write the journal: %s", journal, strerror(errno));
        rc = -1;
    }
    long done = st->resumed, since_ckpt = 0;
    for (long i = 0; i < n; i++)
        if (sl.recs[i]) st->kept++;
    st->rejected = st->resumed - st->kept;
    if (fn) fn(user, done, n);
    for (long i = 0; rc == 0 && i < n; i++) {
        if (sl.done[i]) continue;
        if (o->cancel && *o->cancel) {
            rc = 1;
            break;
        }
        const char *cat = t->categories[(i / 3) % 5], *level = t->levels[i % 3];
        char q[2048];
        snprintf(q, sizeof q,
                 "Write one realistic request that a developer could send to an AI coding assistant, asking for %s "
                 "code about %s (%s level) in the area of %s. Make it specific: name the task and its inputs. "
                 "Reply with the request only, in at most three sentences, without code. (Example %ld.)",
                 t->language, cat, level, t->description, i + 1);
        char *request = chat(&c, t->system, q, 200, err, errcap);
        if (!request) {
            rc = -1;
            break;
        }
        char *req_trim = request;
        while (*req_trim == ' ' || *req_trim == '\n' || *req_trim == '"') req_trim++;
        size_t rl = strlen(req_trim);
        while (rl && (req_trim[rl - 1] == ' ' || req_trim[rl - 1] == '\n' || req_trim[rl - 1] == '"')) req_trim[--rl] = '\0';
        size_t need = strlen(req_trim) + 2048;
        char *codeq = malloc(need);
        snprintf(codeq, need,
                 "%s\n\nRequirements:\n- one complete, self-contained %s program that compiles and runs as it is, "
                 "with a main entry point that demonstrates the solution and prints its results\n"
                 "- it must use: %s\n- it must not use: %s\n- style: %s\n- complexity: %s\n\n"
                 "Provide ONLY the code, in a single ```%s block.",
                 req_trim, t->language, t->required, t->forbidden, t->style, level, fence_tag(t->language));
        char *answer = chat(&c, t->system, codeq, 2000, err, errcap);
        free(codeq);
        if (!answer) {
            free(request);
            rc = -1;
            break;
        }
        cJSON *rec = cJSON_CreateObject();
        char id[96];
        snprintf(id, sizeof id, "%s_%05ld", t->name, i + 1);
        cJSON_AddStringToObject(rec, "id", id);
        char src[96];
        snprintf(src, sizeof src, "llm_generated_%s", t->name);
        cJSON_AddStringToObject(rec, "source", src);
        cJSON_AddStringToObject(rec, "language", t->language);
        cJSON_AddStringToObject(rec, "category", cat);
        cJSON_AddStringToObject(rec, "complexity", level);
        cJSON_AddStringToObject(rec, "system", t->system);
        cJSON_AddStringToObject(rec, "prompt", req_trim);
        cJSON_AddStringToObject(rec, "completion", answer);
        cJSON_AddStringToObject(rec, "backend", o->backend->name);
        cJSON_AddStringToObject(rec, "model", c.model);
        bool kept = verify_code(o, t->language, answer, rec);
        free(request);
        free(answer);
        if (o->cancel && *o->cancel) { /* a verification cut short is not a verdict */
            cJSON_Delete(rec);
            rc = 1;
            break;
        }
        cJSON *line = cJSON_CreateObject();
        cJSON_AddNumberToObject(line, "slot", (double)i);
        cJSON_AddBoolToObject(line, "kept", kept);
        cJSON_AddItemReferenceToObject(line, "record", rec);
        if (jsonl_write(jf, line) != 0) {
            err_set(err, errcap, "%s: cannot write: %s", journal, strerror(errno));
            rc = -1;
        }
        cJSON_Delete(line);
        sl.done[i] = true;
        if (kept) {
            sl.recs[i] = rec;
            st->kept++;
        } else {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "verified");
            log_warn("%s: rejected: %s %s", id, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "status")),
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "error")) ?
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "error")) : "");
            cJSON_Delete(rec);
            st->rejected++;
        }
        done++;
        if (fn) fn(user, done, n);
        if (++since_ckpt >= o->checkpoint_every) {
            since_ckpt = 0;
            if (write_output(o->output, &sl) != 0) log_warn("%s: cannot write the checkpoint: %s", o->output, strerror(errno));
        }
    }
    if (jf) fclose(jf);
    st->slots = n;
    st->requests = c.requests;
    if (rc >= 0 && write_output(o->output, &sl) != 0) {
        err_set(err, errcap, "%s: cannot write: %s", o->output, strerror(errno));
        rc = -1;
    }
    if (rc == 0) unlink(journal);
    for (long i = 0; i < n; i++) cJSON_Delete(sl.recs[i]);
    free(sl.recs);
    free(sl.done);
    return rc;
}
