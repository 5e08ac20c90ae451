/* halo-forge data: synth (a verified C/C++ corpus, src/data/synth.h), prepare (public datasets and local
 * files, src/data/dprep.h), validate (src/data/dval.h) and generate (LLM-written data, src/data/dgen.h). */
#include "cli/commands.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"
#include "data/dgen.h"
#include "data/dprep.h"
#include "data/dval.h"
#include "data/synth.h"
#include "raft/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const arg_spec synth_flags[] = {
    {"count", 'n', ARG_INT, "1000", "Number of records to write", NULL, NULL, 1, 1000000, "N"},
    {"seed", 's', ARG_INT, "0", "Random seed (same seed and flags: same bytes)", NULL, NULL, 0, 9.0e15, "S"},
    {"output", 'o', ARG_STR, NULL, "Output JSONL file (written atomically)", NULL, NULL, 0, 0, "FILE"},
    {"languages", 0, ARG_LIST, "c,cpp", "Languages of the programs: c, cpp or both", NULL, NULL, 0, 0, "LIST"},
    {"cpp-share", 0, ARG_FLOAT, "0.6", "Share of C++ records when both languages are on", NULL, NULL, 0, 1, "X"},
    {"workers", 'w', ARG_INT, "0", "Verifier threads (0: one per core)", NULL, NULL, 0, 256, "N"},
    {"system-prompt", 0, ARG_STR, RAFT_DEFAULT_SYSTEM_PROMPT,
     "System message stored in each record (what sft trains with; the benchmark's default)", NULL, NULL, 0, 0, "TEXT"},
    {"no-verify", 0, ARG_BOOL, NULL, "Do not compile and run the programs (faster; trusts the templates)", NULL, NULL, 0,
     0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec synth_cmd = {
    "data synth", "Generate a verified corpus of (instruction, C/C++ program) pairs for training.", NULL, 0, 0,
    synth_flags,
    "Each record is one JSON line: {id, category, difficulty, language, family, task, system, prompt,\n"
    "completion, expected_output}. The completion is the program in one fenced code block; its expected\n"
    "output was computed by the generator and checked by compiling and running the program with the gcc\n"
    "verifier (-Wall -Wextra, no warnings allowed). Records are never one of the 16 built-in benchmark\n"
    "tasks. The file trains with 'sft train' and is a prompts file for 'raft' and 'benchmark'.",
    NULL,
};

typedef struct {
    progress p;
    bool started;
} synth_prog;

static void on_progress(void *user, size_t done, size_t total) {
    synth_prog *sp = user;
    (void)total;
    progress_update(&sp->p, (int64_t)done);
}

static int cmd_data_synth(int argc, char **argv) {
    int rc;
    args *a = args_parse(&synth_cmd, argc, argv, &rc);
    if (!a) return rc;
    synth_options o;
    synth_options_default(&o);
    const char *outp = args_str(a, "output");
    char **langs = NULL;
    synth_set set = {0};
    char *buf = NULL;
    rc = 1;
    if (!outp) { rc = args_usage_error(&synth_cmd, "--output FILE is required"); goto out; }
    size_t nl = args_list(a, "languages", &langs);
    o.allow_c = o.allow_cpp = false;
    for (size_t i = 0; i < nl; i++) {
        if (!strcmp(langs[i], "c")) o.allow_c = true;
        else if (!strcmp(langs[i], "cpp") || !strcmp(langs[i], "c++")) o.allow_cpp = true;
        else { rc = args_usage_error(&synth_cmd, "--languages: unknown language '%s' (c, cpp)", langs[i]); goto out; }
    }
    if (!o.allow_c && !o.allow_cpp) { rc = args_usage_error(&synth_cmd, "--languages needs c, cpp or both"); goto out; }
    o.count = (size_t)args_int(a, "count");
    o.seed = (uint64_t)args_int(a, "seed");
    o.cpp_share = args_float(a, "cpp-share");
    o.workers = (int)args_int(a, "workers");
    o.verify = !args_bool(a, "no-verify");
    o.system_prompt = args_str(a, "system-prompt");
    if (o.system_prompt && !*o.system_prompt) o.system_prompt = NULL;
    log_open_command("data-synth");
    log_info("data synth: %zu records, seed %llu, languages %s%s%s, %s", o.count, (unsigned long long)o.seed,
             o.allow_c ? "c" : "", o.allow_c && o.allow_cpp ? "," : "", o.allow_cpp ? "cpp" : "",
             o.verify ? "every program compiled and run" : "not verified");
    synth_prog sp;
    progress_start(&sp.p, "synth", (int64_t)o.count, "records");
    synth_stats st;
    char err[1024];
    double t0 = time_now();
    if (synth_generate(&o, &set, &st, on_progress, &sp, err, sizeof err) != 0) {
        progress_finish(&sp.p);
        log_error("data synth: %s", err);
        goto out;
    }
    progress_finish(&sp.p);
    double el = time_now() - t0;

    size_t len = 0, cap = 1 << 16, n_cpp = 0;
    buf = malloc(cap);
    if (!buf) { log_error("out of memory"); goto out; }
    for (size_t i = 0; i < set.count; i++) {
        char id[32];
        snprintf(id, sizeof id, "synth_%06zu", i + 1);
        char *line = synth_record_json(&set.items[i], id, o.system_prompt);
        if (!line) { log_error("out of memory"); goto out; }
        size_t ll = strlen(line);
        if (len + ll + 2 > cap) {
            while (len + ll + 2 > cap) cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) { free(line); log_error("out of memory"); goto out; }
            buf = nb;
        }
        memcpy(buf + len, line, ll);
        len += ll;
        buf[len++] = '\n';
        free(line);
        n_cpp += set.items[i].cpp;
    }
    if (fs_write_atomic(outp, buf, len) != 0) {
        log_error("%s: cannot write: %s", outp, strerror(errno));
        goto out;
    }
    log_info("data synth: wrote %zu records (%zu C, %zu C++) to %s in %.1f s; %zu candidates, %zu held out "
             "(benchmark tasks), %zu duplicates, %zu failed verification",
             set.count, set.count - n_cpp, n_cpp, outp, el, st.candidates, st.held_out, st.duplicates, st.failed);
    if (st.failed) log_warn("data synth: %zu programs failed verification and were replaced (a template bug)", st.failed);
    rc = 0;
out:
    free(buf);
    synth_set_free(&set);
    args_list_free(langs);
    args_free(a);
    return rc;
}

/* ---------------------------------------------------------------- data prepare */

static const arg_spec prepare_flags[] = {
    {"dataset", 'd', ARG_STR, NULL, "Dataset of the registry (see --list; 'codeforces' = codeforces_cpp)", "data.dataset",
     NULL, 0, 0, "NAME"},
    {"input", 'i', ARG_STR, NULL, "A local .jsonl or .json (array) file instead of a registry dataset", NULL, NULL, 0,
     0, "FILE"},
    {"output", 'o', ARG_STR, NULL, "Output JSONL (default data/<dataset>.jsonl), written atomically", NULL, NULL, 0,
     0, "FILE"},
    {"format", 'f', ARG_STR, "rlvr", "Records: rlvr (prompts + tests + completion: raft, benchmark and sft read it), "
     "sft (text in a chat template), messages", NULL, "rlvr|sft|messages", 0, 0, NULL},
    {"template", 't', ARG_STR, "qwen", "Chat template of --format sft", NULL, "qwen|llama|chatml", 0, 0, NULL},
    {"system-prompt", 0, ARG_STR, NULL, "System prompt of every record (default: the dataset's; \"\" for none)", NULL,
     NULL, 0, 0, "TEXT"},
    {"max-examples", 'n', ARG_INT, NULL, "Keep at most N records, a seeded random sample (default: the dataset's)",
     NULL, NULL, 1, 1e9, "N"},
    {"seed", 's', ARG_INT, "42", "Seed of the sample (the original's 42)", NULL, NULL, 0, 9.0e15, "S"},
    {"hf-config", 0, ARG_STR, NULL, "Dataset config (subset) instead of the registry's", NULL, NULL, 0, 0, "NAME"},
    {"split", 0, ARG_STR, NULL, "Split instead of the registry's", NULL, NULL, 0, 0, "NAME"},
    {"no-reasoning", 0, ARG_BOOL, NULL, "Drop the <think>...</think> reasoning from Codeforces solutions", NULL, NULL,
     0, 0, NULL},
    {"prompt-field", 0, ARG_STR, NULL, "--input: field of the prompt (default prompt|instruction|question|problem)",
     NULL, NULL, 0, 0, "NAME"},
    {"response-field", 0, ARG_STR, NULL, "--input: field of the solution (default completion|response|output|solution|"
     "code)", NULL, NULL, 0, 0, "NAME"},
    {"id-field", 0, ARG_STR, NULL, "--input: field of the id (default id|task_id)", NULL, NULL, 0, 0, "NAME"},
    {"tests-field", 0, ARG_STR, NULL, "--input: field of the tests (default tests|test)", NULL, NULL, 0, 0, "NAME"},
    {"entry-point-field", 0, ARG_STR, NULL, "--input: field of the function name (default entry_point)", NULL, NULL,
     0, 0, "NAME"},
    {"language", 0, ARG_STR, NULL, "--input: language of every record (default: the record's, or its code fence's)",
     NULL, NULL, 0, 0, "LANG"},
    {"list", 0, ARG_BOOL, NULL, "Print the datasets of the registry and exit", NULL, NULL, 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec prepare_cmd = {
    "data prepare", "Turn a public code dataset (or a local file) into training and RLVR prompt records.", NULL, 0, 0,
    prepare_flags,
    "Rows come from the Hugging Face dataset viewer ($HF_DATASETS_SERVER, default\n"
    "https://datasets-server.huggingface.co), with $HF_TOKEN for gated sets; pages are cached under\n"
    "$HF_HOME/datasets/viewer (an interrupted run resumes), HF_HUB_OFFLINE=1 reads only the cache.\n"
    "A --format rlvr record is {id, source, language, category, difficulty, system, prompt, completion,\n"
    "tests, entry_point}: 'raft train --prompts', 'benchmark run/eval --dataset' and 'sft train --data'\n"
    "read it as it is, and 'data validate --verify' checks its completion against its tests.",
    NULL,
};

static void print_registry(void) {
    size_t n;
    const dp_spec *r = dp_registry(&n);
    printf("%-18s %-38s %-13s %-7s %5s  %s\n", "name", "source", "config/split", "lang", "max", "contents");
    for (size_t i = 0; i < n; i++) {
        char cs[64];
        snprintf(cs, sizeof cs, "%s/%s", r[i].hf_config ? r[i].hf_config : "*", r[i].split);
        printf("%-18s %-38s %-13s %-7s %5ld  %s\n", r[i].name, r[i].hf_path, cs, r[i].language, r[i].max_examples,
               r[i].about);
    }
    printf("\n'codeforces' means codeforces_cpp. 'sft train --dataset NAME' prepares NAME and trains on it.\n");
}

typedef struct {
    progress p;
} prep_prog;

static void on_prep_progress(void *user, long matched, long wanted) {
    prep_prog *pp = user;
    progress_update(&pp->p, wanted > 0 && matched > wanted ? wanted : matched);
}

static int cmd_data_prepare(int argc, char **argv) {
    int rc;
    args *a = args_parse(&prepare_cmd, argc, argv, &rc);
    if (!a) return rc;
    char *buf = NULL;
    rc = 2;
    if (args_bool(a, "list")) {
        print_registry();
        rc = 0;
        goto out;
    }
    dp_options o;
    dp_options_default(&o);
    const char *name = args_str(a, "dataset");
    o.input = args_str(a, "input");
    if (!name == !o.input) {
        rc = args_usage_error(&prepare_cmd, "give --dataset NAME (see --list) or --input FILE");
        goto out;
    }
    if (name && !(o.spec = dp_find(name))) {
        rc = args_usage_error(&prepare_cmd, "--dataset: unknown dataset '%s' (run 'halo-forge data prepare --list')",
                              name);
        goto out;
    }
    if (o.input && !fs_exists(o.input)) {
        rc = args_usage_error(&prepare_cmd, "--input %s: no such file", o.input);
        goto out;
    }
    dp_format_parse(args_str(a, "format"), &o.format);
    dp_template_parse(args_str(a, "template"), &o.tpl);
    o.system_prompt = args_str(a, "system-prompt");
    o.max_examples = args_int(a, "max-examples");
    o.seed = (uint64_t)args_int(a, "seed");
    o.hf_config = args_str(a, "hf-config");
    o.split = args_str(a, "split");
    o.no_reasoning = args_bool(a, "no-reasoning");
    o.prompt_field = args_str(a, "prompt-field");
    o.response_field = args_str(a, "response-field");
    o.id_field = args_str(a, "id-field");
    o.tests_field = args_str(a, "tests-field");
    o.entry_point_field = args_str(a, "entry-point-field");
    o.language = args_str(a, "language");
    char defout[512];
    const char *outp = args_str(a, "output");
    if (!outp) {
        snprintf(defout, sizeof defout, "data/%s.jsonl", o.spec ? o.spec->name : "prepared");
        outp = defout;
    }
    rc = 1;
    log_open_command("data prepare");
    if (o.spec)
        log_info("data prepare: %s from %s (%s/%s), at most %ld records, seed %llu", o.spec->name, o.spec->hf_path,
                 o.hf_config ? o.hf_config : o.spec->hf_config ? o.spec->hf_config : "*",
                 o.split ? o.split : o.spec->split, o.max_examples ? o.max_examples : o.spec->max_examples,
                 (unsigned long long)o.seed);
    prep_prog pp;
    progress_start(&pp.p, "prepare", o.max_examples ? o.max_examples : o.spec ? o.spec->max_examples : 0, "records");
    dp_stats st;
    char err[2048];
    size_t len;
    int prc = dp_prepare(&o, &buf, &len, &st, on_prep_progress, &pp, err, sizeof err);
    progress_finish(&pp.p);
    if (prc != 0) {
        log_error("data prepare: %s", err);
        goto out;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", outp);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (fs_mkdirs(dir) != 0) {
            log_error("%s: cannot create the folder: %s", dir, strerror(errno));
            goto out;
        }
    }
    if (fs_write_atomic(outp, buf, len) != 0) {
        log_error("%s: cannot write: %s", outp, strerror(errno));
        goto out;
    }
    log_info("data prepare: wrote %ld records to %s (%ld with tests); %ld of %ld rows read (%ld pages downloaded, "
             "the rest cached); skipped %ld in another language, %ld without a prompt, %ld without a solution, %ld "
             "duplicates; %ld matched in all",
             st.written, outp, st.with_tests, st.rows_read, st.rows_total, st.pages_fetched, st.other_language,
             st.no_prompt, st.no_solution, st.duplicates, st.matched);
    rc = 0;
out:
    free(buf);
    args_free(a);
    return rc;
}

/* ---------------------------------------------------------------- data validate */

static const arg_spec validate_flags[] = {
    {"preview", 'p', ARG_INT, "0", "Print the first N records (abbreviated)", NULL, NULL, 0, 1e9, "N"},
    {"verify", 0, ARG_BOOL, NULL, "Run each record's own solution through its verifier against its own tests", NULL,
     NULL, 0, 0, NULL},
    {"workers", 'w', ARG_INT, "0", "Verifier threads (0: one per core)", NULL, NULL, 0, 256, "N"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec validate_cmd = {
    "data validate", "Check a JSONL training or prompts file; with --verify, that its solutions pass its tests.",
    "FILE", 1, 1, validate_flags,
    "Formats: sft {text}, messages {messages}, rlvr {prompt, tests|expected_output}, prompt_response\n"
    "{prompt, completion|response} and prompts_only {prompt}. Every problem is printed as\n"
    "FILE:LINE: error|warning: what. Exit status 1 when there is an error (or, with --verify, a record\n"
    "whose own solution fails its tests), 0 otherwise.",
    NULL,
};

static volatile sig_atomic_t data_interrupted;
static void on_data_signal(int sig) { data_interrupted = sig; }

typedef struct {
    const char *path;
    progress p;
    bool started;
} val_ctx;

static void on_problem(void *user, long line, bool error, const char *msg) {
    val_ctx *v = user;
    fprintf(stderr, "%s:%ld: %s: %s\n", v->path, line, error ? "error" : "warning", msg);
}

static void on_verify_progress(void *user, long done, long total) {
    val_ctx *v = user;
    if (!v->started) {
        progress_start(&v->p, "verify", total, "samples");
        v->started = true;
    }
    progress_update(&v->p, done);
}

static void abbreviate(const char *s, size_t n) {
    size_t len = strlen(s);
    for (size_t i = 0; i < len && i < n; i++) putchar(s[i] == '\n' ? ' ' : s[i]);
    if (len > n) printf("... (%zu characters)", len);
}

static void preview(const char *path, long n) {
    jsonl_reader r;
    if (n <= 0 || jsonl_open(&r, path) != 0) return;
    for (long i = 0; i < n;) {
        cJSON *o;
        char err[256];
        int k = jsonl_next(&r, &o, err, sizeof err);
        if (k == 0) break;
        if (k < 0) continue;
        printf("--- line %ld\n", r.lineno);
        const cJSON *it;
        cJSON_ArrayForEach(it, o) {
            printf("  %s: ", it->string);
            if (cJSON_IsString(it)) abbreviate(it->valuestring, 200);
            else {
                char *t = cJSON_PrintUnformatted(it);
                if (t) abbreviate(t, 200);
                free(t);
            }
            printf("\n");
        }
        cJSON_Delete(o);
        i++;
    }
    jsonl_close(&r);
}

static int cmd_data_validate(int argc, char **argv) {
    int rc;
    args *a = args_parse(&validate_cmd, argc, argv, &rc);
    if (!a) return rc;
    const char *path = args_pos(a, 0);
    dval_options o = {args_bool(a, "verify"), (int)args_int(a, "workers"), (const volatile int *)&data_interrupted};
    val_ctx v;
    memset(&v, 0, sizeof v);
    v.path = path;
    dval_report r;
    char err[1024];
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_data_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int vrc = dval_run(path, &o, &r, on_problem, on_verify_progress, &v, err, sizeof err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (v.started) progress_finish(&v.p);
    if (vrc != 0) {
        fprintf(stderr, "halo-forge data validate: %s\n", err);
        args_free(a);
        return 1;
    }
    preview(path, args_int(a, "preview"));
    printf("%s: format %s, %ld records", path, r.format, r.records);
    for (int k = 0; k < DV_KIND_COUNT; k++)
        if (r.by_kind[k]) printf(", %ld %s", r.by_kind[k], dv_kind_name((dv_kind)k));
    printf("\n");
    if (r.n_prompt)
        printf("  prompt length: average %.0f, max %ld characters (%ld prompts)\n", r.sum_prompt / (double)r.n_prompt,
               r.max_prompt, r.n_prompt);
    if (r.n_response)
        printf("  response length: average %.0f, max %ld characters (%ld responses)\n",
               r.sum_response / (double)r.n_response, r.max_response, r.n_response);
    printf("  %ld with tests or an expected output, %ld of them with a reference solution\n", r.with_tests,
           r.verifiable);
    if (o.verify)
        printf("  verified: %ld of %ld solutions pass their tests, %ld fail%s%s\n", r.verified_ok,
               r.verified_ok + r.verified_failed, r.verified_failed,
               r.not_verifiable ? ", some not verifiable (no verifier for their language)" : "",
               r.cancelled ? " (interrupted)" : "");
    printf("%s: %s (%ld error%s, %ld warning%s)\n", path, r.errors ? "INVALID" : "valid", r.errors,
           r.errors == 1 ? "" : "s", r.warnings, r.warnings == 1 ? "" : "s");
    args_free(a);
    if (r.cancelled) return 130;
    return r.errors ? 1 : 0;
}

/* ---------------------------------------------------------------- data generate */

static const arg_spec generate_flags[] = {
    {"topic", 't', ARG_STR, NULL, "What to generate", NULL, "rust_async|python_testing|cpp_algorithms|go_concurrency",
     0, 0, NULL},
    {"backend", 'b', ARG_STR, "deepseek", "API: openai (also vLLM, llama.cpp server), deepseek, ollama, anthropic",
     NULL, "openai|anthropic|claude|ollama|deepseek", 0, 0, NULL},
    {"model", 'm', ARG_STR, NULL, "Model name (default: gpt-4, deepseek-chat, codellama:13b, claude-3-5-sonnet-20241022)",
     NULL, NULL, 0, 0, "NAME"},
    {"n", 'n', ARG_INT, NULL, "Examples to make (default: the topic's full set, 300-450)", NULL, NULL, 1, 1e7, "N"},
    {"output", 'o', ARG_STR, NULL, "Output JSONL (default data/<topic>_generated.jsonl)", NULL, NULL, 0, 0, "FILE"},
    {"base-url", 0, ARG_STR, NULL, "API base URL (default: $OPENAI_BASE_URL, $DEEPSEEK_BASE_URL, $OLLAMA_HOST, "
     "$ANTHROPIC_BASE_URL, else the service's)", NULL, NULL, 0, 0, "URL"},
    {"api-key", 0, ARG_STR, NULL, "API key (default: $OPENAI_API_KEY, $DEEPSEEK_API_KEY, $ANTHROPIC_API_KEY)", NULL,
     NULL, 0, 0, "KEY"},
    {"temperature", 0, ARG_FLOAT, "0.7", "Sampling temperature of both calls", NULL, NULL, 0, 2, "T"},
    {"retries", 0, ARG_INT, "5", "Retries of a request answered 429 / 5xx or cut off", NULL, NULL, 0, 100, "N"},
    {"checkpoint-every", 0, ARG_INT, "100", "Rewrite the output every N examples (the journal keeps every one)", NULL,
     NULL, 1, 1e9, "N"},
    {"no-verify", 0, ARG_BOOL, NULL, "Keep programs without compiling and running them (records say so)", NULL, NULL,
     0, 0, NULL},
    {"list", 0, ARG_BOOL, NULL, "Print the topics and backends and exit", NULL, NULL, 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec generate_cmd = {
    "data generate", "Have an LLM write training examples on a topic; keep only programs that compile and run.", NULL,
    0, 0, generate_flags,
    "Two calls per example: a realistic user request, then the code. Each program is compiled and run\n"
    "in the sandbox by the verifier of its language (g++, python, rustc, go) and kept only when it runs\n"
    "cleanly; records are {id, source, language, category, complexity, system, prompt, completion,\n"
    "backend, model, verified}. Finished examples go to OUTPUT.partial.jsonl at once: rerunning the same\n"
    "command resumes. 'sft train --data OUTPUT' trains on the result.",
    NULL,
};

typedef struct {
    progress p;
} gen_prog;

static void on_gen_progress(void *user, long done, long total) {
    gen_prog *g = user;
    (void)total;
    progress_update(&g->p, done);
}

static int cmd_data_generate(int argc, char **argv) {
    int rc;
    args *a = args_parse(&generate_cmd, argc, argv, &rc);
    if (!a) return rc;
    rc = 2;
    if (args_bool(a, "list")) {
        size_t n;
        const dg_topic *t = dg_topics(&n);
        printf("%-16s %-7s %6s  %s\n", "topic", "lang", "full", "categories");
        for (size_t i = 0; i < n; i++)
            printf("%-16s %-7s %6d  %s; %s; %s; %s; %s\n", t[i].name, t[i].language, 15 * t[i].per_category,
                   t[i].categories[0], t[i].categories[1], t[i].categories[2], t[i].categories[3], t[i].categories[4]);
        printf("\nbackends: openai ($OPENAI_API_KEY), deepseek ($DEEPSEEK_API_KEY), ollama (no key), anthropic "
               "($ANTHROPIC_API_KEY)\n");
        rc = 0;
        goto out;
    }
    dg_options o;
    dg_options_default(&o);
    if (!(o.topic = dg_topic_find(args_str(a, "topic")))) {
        rc = args_usage_error(&generate_cmd, "--topic is required (see --list)");
        goto out;
    }
    o.backend = dg_backend_find(args_str(a, "backend"));
    o.model = args_str(a, "model");
    o.n = args_int(a, "n");
    o.base_url = args_str(a, "base-url");
    o.api_key = args_str(a, "api-key");
    o.temperature = args_float(a, "temperature");
    o.max_retries = (int)args_int(a, "retries");
    o.checkpoint_every = args_int(a, "checkpoint-every");
    o.no_verify = args_bool(a, "no-verify");
    o.cancel = (const volatile int *)&data_interrupted;
    char defout[512];
    o.output = args_str(a, "output");
    if (!o.output) {
        snprintf(defout, sizeof defout, "data/%s_generated.jsonl", o.topic->name);
        o.output = defout;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", o.output);
    char *slash = strrchr(dir, '/');
    rc = 1;
    if (slash && slash != dir) {
        *slash = '\0';
        if (fs_mkdirs(dir) != 0) {
            log_error("%s: cannot create the folder: %s", dir, strerror(errno));
            goto out;
        }
    }
    log_open_command("data generate");
    log_info("data generate: %s with %s (%s), %ld examples to %s", o.topic->name, o.backend->name,
             o.model ? o.model : o.backend->default_model, o.n ? o.n : 15L * o.topic->per_category, o.output);
    gen_prog gp;
    progress_start(&gp.p, "generate", o.n ? o.n : 15L * o.topic->per_category, "examples");
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_data_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    dg_stats st;
    char err[2048];
    int grc = dg_run(&o, &st, on_gen_progress, &gp, err, sizeof err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    progress_finish(&gp.p);
    if (grc < 0) {
        log_error("data generate: %s (finished examples are kept in %s.partial.jsonl; rerun to resume)", err, o.output);
        goto out;
    }
    log_info("data generate: %ld kept, %ld rejected by the verifier, of %ld examples (%ld resumed, %ld API requests) "
             "-> %s",
             st.kept, st.rejected, st.slots, st.resumed, st.requests, o.output);
    if (grc == 1) {
        log_warn("interrupted: finished examples are kept; run the same command again to resume");
        rc = 130;
        goto out;
    }
    rc = 0;
out:
    args_free(a);
    return rc;
}

const cli_command cli_data_cmds[] = {
    {"synth", "Generate a verified (instruction, C/C++ program) corpus for training", cmd_data_synth},
    {"prepare", "Prepare a public code dataset (Codeforces, MBPP, HumanEval, ...) or a local file", cmd_data_prepare},
    {"generate", "Have an LLM write examples on a topic (OpenAI, DeepSeek, Ollama, Anthropic), verified", cmd_data_generate},
    {"validate", "Check a training or prompts JSONL file (--verify: its solutions pass its tests)", cmd_data_validate},
    {NULL, NULL, NULL},
};
