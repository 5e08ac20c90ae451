/* halo-forge verify: one file -> one JSON result, or a JSONL of samples -> a JSONL of verified samples. */
#include "cli/commands.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"
#include "verify/sbx.h"
#include "verify/verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const arg_spec verify_flags[] = {
    {"verifier", 0, ARG_STR, "gcc", "Verifier to use", "verifier.type", "gcc|clang|mingw|execution|python|rust|go|custom", 0, 0, "NAME"},
    {"run", 0, ARG_BOOL, NULL, "Run the program after compiling (compile verifiers)", "run_after_compile|verifier.run_after_compile", NULL, 0, 0, NULL},
    {"expected", 0, ARG_STR, NULL, "Expected stdout (single-file mode)", NULL, NULL, 0, 0, "TEXT"},
    {"stdin", 0, ARG_STR, NULL, "Text given on stdin (single-file mode)", NULL, NULL, 0, 0, "TEXT"},
    {"timeout", 0, ARG_FLOAT, "30", "Compile time limit, seconds", "verifier.timeout", NULL, 0.1, 3600, "S"},
    {"run-timeout", 0, ARG_FLOAT, "5", "Time limit of one run (one test case), seconds", "verifier.run_timeout", NULL, 0.1, 3600, "S"},
    {"memory-limit", 0, ARG_INT, "256", "Address-space limit of a run, MiB", "verifier.memory_limit_mb", NULL, 16, 1 << 20, "MB"},
    {"input", 'i', ARG_STR, NULL, "JSONL of samples (fields completion|code, expected_output, stdin, tests, entry_point)", NULL, NULL, 0, 0, "FILE"},
    {"output", 'o', ARG_STR, NULL, "Where the verified JSONL goes (with --input)", NULL, NULL, 0, 0, "FILE"},
    {"workers", 'w', ARG_INT, "0", "Parallel workers (0: one per core)", "verifier.max_workers", NULL, 0, 256, "N"},
    {"compiler", 0, ARG_STR, NULL, "Compiler or interpreter to use instead of the verifier's", "verifier.compiler", NULL, 0, 0, "PATH"},
    {"flags", 0, ARG_STR, NULL, "Compiler flags instead of the defaults (space separated)", "verifier.flags", NULL, 0, 0, "FLAGS"},
    {"match", 0, ARG_STR, "exact", "How output is compared", "verifier.match_mode", "exact|contains|regex|numeric", 0, 0, NULL},
    {"no-partial-credit", 0, ARG_BOOL, NULL, "execution: 1.0 only when every test passes, else 0.5", NULL, NULL, 0, 0, NULL},
    {"command", 0, ARG_STR, NULL, "custom: command template with {file}, run without a shell", "verifier.command", NULL, 0, 0, "CMD"},
    {"success-regex", 0, ARG_STR, NULL, "custom: success when stdout matches (default: exit code 0)", "verifier.success_pattern", NULL, 0, 0, "RE"},
    {"extension", 0, ARG_STR, NULL, "custom: file extension of {file} (default from the language)", "verifier.file_extension", NULL, 0, 0, "EXT"},
    {"keep-output", 0, ARG_INT, "2000", "Bytes of stdout/stderr/compiler log kept per result", NULL, NULL, 1, 1 << 24, "BYTES"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec verify_cmd = {
    "verify", "Compile and run code in the sandbox and grade it (reward 0 / 0.3 / 0.5 / 0.7 / 1.0).", "[FILE]", 0, 1,
    verify_flags,
    "Single file: halo-forge verify --verifier gcc --run --expected 'Hello' hello.cpp prints one JSON result.\n"
    "Many samples: halo-forge verify --verifier gcc --run --input samples.jsonl --output verified.jsonl\n"
    "writes every record with its result added and prints a summary. Bad lines are reported by line\n"
    "number and skipped. Exit status: 0 verified (whatever the rewards), 1 on errors, 2 on usage errors.\n"
    "See docs/verify.md for the reward ladder, the statuses and what the sandbox isolates.",
    NULL,
};

static int build_config(const args *a, vf_config *cfg) {
    vf_kind kind;
    if (vf_kind_parse(args_str(a, "verifier"), &kind) != 0)
        return args_usage_error(&verify_cmd, "unknown verifier '%s'", args_str(a, "verifier"));
    vf_config_default(cfg, kind);
    cfg->run = args_bool(a, "run");
    cfg->compile_timeout_s = args_float(a, "timeout");
    cfg->run_timeout_s = args_float(a, "run-timeout");
    cfg->memory_limit_mb = args_int(a, "memory-limit");
    cfg->workers = (int)args_int(a, "workers");
    cfg->compiler = args_str(a, "compiler");
    cfg->flags = args_str(a, "flags");
    if (kind == VF_PYTHON && cfg->compiler) cfg->python = cfg->compiler;
    vf_match_parse(args_str(a, "match"), &cfg->match);
    cfg->partial_credit = !args_bool(a, "no-partial-credit");
    cfg->custom_command = args_str(a, "command");
    cfg->custom_regex = args_str(a, "success-regex");
    cfg->custom_ext = args_str(a, "extension");
    cfg->keep_output_bytes = (size_t)args_int(a, "keep-output");
    if (kind == VF_CUSTOM && !cfg->custom_command)
        return args_usage_error(&verify_cmd, "--verifier custom needs --command 'PROGRAM ARGS {file}'");
    if (kind == VF_CUSTOM && !strstr(cfg->custom_command, "{file}"))
        return args_usage_error(&verify_cmd, "--command must contain {file} (where the code file goes)");
    if (kind == VF_MINGW && cfg->run)
        log_warn("--run ignored: the mingw verifier builds a Windows program and only compiles it (reward at most 0.5)");
    return 0;
}

static int verify_single(const args *a, const vf_config *cfg) {
    const char *path = args_pos(a, 0);
    size_t len;
    char *text = fs_read_file(path, &len);
    if (!text) {
        fprintf(stderr, "error: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    vf_sample s;
    memset(&s, 0, sizeof s);
    s.completion = text;
    s.expected_output = args_str(a, "expected");
    s.stdin_text = args_str(a, "stdin");
    vf_result r;
    char err[512];
    if (vf_verify(cfg, &s, &r, err, sizeof err) != 0) {
        free(text);
        return args_usage_error(&verify_cmd, "%s", err);
    }
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "file", path);
    cJSON_AddStringToObject(obj, "verifier", vf_kind_name(cfg->kind));
    vf_result_to_json(&r, obj);
    char *out = cJSON_Print(obj);
    printf("%s\n", out);
    free(out);
    cJSON_Delete(obj);
    int rc = r.status == VF_SANDBOX_ERROR ? 1 : 0;
    if (rc) log_error("%s", r.error);
    vf_result_free(&r);
    free(text);
    return rc;
}

/* ---- batch ---- */

typedef struct {
    cJSON *obj;
    vf_test_case *cases;
    char *test_code; /* joined MBPP asserts */
} record;

static const char *first_str(const cJSON *o, const char *const *keys) {
    for (; *keys; keys++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, *keys);
        if (cJSON_IsString(v)) return v->valuestring;
    }
    return NULL;
}

/* Reads the sample fields of a record. Returns 0, or -1 with a reason. */
static int record_to_sample(record *rec, vf_sample *s, char *why, size_t cap) {
    static const char *code_keys[] = {"completion", "code", "response", NULL};
    static const char *exp_keys[] = {"expected_output", "expected", NULL};
    static const char *stdin_keys[] = {"stdin", "input", NULL};
    static const char *case_in[] = {"input", "stdin", NULL};
    static const char *case_out[] = {"expected", "output", "expected_output", NULL};
    memset(s, 0, sizeof *s);
    const cJSON *o = rec->obj;
    s->completion = first_str(o, code_keys);
    if (!s->completion) {
        snprintf(why, cap, "no 'completion' or 'code' string field");
        return -1;
    }
    s->expected_output = first_str(o, exp_keys);
    s->stdin_text = first_str(o, stdin_keys);
    static const char *ep[] = {"entry_point", NULL}, *pr[] = {"prompt", NULL};
    s->entry_point = first_str(o, ep);
    s->prompt = first_str(o, pr);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tests");
    if (!t) t = cJSON_GetObjectItemCaseSensitive(o, "test_list");
    if (!t) t = cJSON_GetObjectItemCaseSensitive(o, "test");
    if (cJSON_IsString(t)) {
        s->test_code = t->valuestring;
    } else if (cJSON_IsArray(t)) {
        int n = cJSON_GetArraySize(t);
        if (n > 0 && cJSON_IsString(cJSON_GetArrayItem(t, 0))) {
            size_t total = 1;
            const cJSON *it;
            cJSON_ArrayForEach(it, t) {
                if (!cJSON_IsString(it)) {
                    snprintf(why, cap, "'tests' mixes strings and other values");
                    return -1;
                }
                total += strlen(it->valuestring) + 1;
            }
            rec->test_code = malloc(total);
            if (!rec->test_code) abort();
            rec->test_code[0] = '\0';
            cJSON_ArrayForEach(it, t) {
                strcat(rec->test_code, it->valuestring);
                strcat(rec->test_code, "\n");
            }
            s->test_code = rec->test_code;
        } else if (n > 0) {
            rec->cases = calloc((size_t)n, sizeof *rec->cases);
            if (!rec->cases) abort();
            int i = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, t) {
                if (!cJSON_IsObject(it)) {
                    snprintf(why, cap, "'tests' item %d is not an object {input, expected}", i + 1);
                    return -1;
                }
                rec->cases[i].input = first_str(it, case_in);
                rec->cases[i].expected = first_str(it, case_out);
                if (!rec->cases[i].expected) {
                    snprintf(why, cap, "'tests' item %d has no 'expected' string", i + 1);
                    return -1;
                }
                i++;
            }
            s->tests = rec->cases;
            s->n_tests = (size_t)n;
        }
    } else if (t && !cJSON_IsNull(t)) {
        snprintf(why, cap, "'tests' must be a string, a list of strings or a list of {input, expected}");
        return -1;
    }
    return 0;
}

typedef struct {
    progress p;
} prog_state;

static void on_progress(void *user, size_t done, size_t total) {
    (void)total;
    progress_update(&((prog_state *)user)->p, (int64_t)done);
}

static int verify_batch(const args *a, const vf_config *cfg) {
    const char *in = args_str(a, "input"), *outp = args_str(a, "output");
    if (!outp) return args_usage_error(&verify_cmd, "--input needs --output FILE (where the verified records go)");
    jsonl_reader rd;
    if (jsonl_open(&rd, in) != 0) {
        fprintf(stderr, "error: cannot open %s: %s\n", in, strerror(errno));
        return 1;
    }
    log_open_command("verify");
    record *recs = NULL;
    vf_sample *samples = NULL;
    size_t n = 0, cap = 0, bad = 0;
    for (;;) {
        cJSON *obj;
        char err[512];
        int r = jsonl_next(&rd, &obj, err, sizeof err);
        if (r == 0) break;
        if (r < 0) {
            log_warn("%s (line skipped)", err);
            bad++;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            recs = realloc(recs, cap * sizeof *recs);
            samples = realloc(samples, cap * sizeof *samples);
            if (!recs || !samples) abort();
        }
        recs[n] = (record){obj, NULL, NULL};
        char why[256];
        if (record_to_sample(&recs[n], &samples[n], why, sizeof why) != 0) {
            log_warn("%s:%ld: %s (line skipped)", in, rd.lineno, why);
            cJSON_Delete(obj);
            free(recs[n].cases);
            free(recs[n].test_code);
            bad++;
            continue;
        }
        n++;
    }
    jsonl_close(&rd);
    if (n == 0) {
        fprintf(stderr, "error: %s: no usable sample (%zu bad line%s); nothing written to %s\n", in, bad,
                bad == 1 ? "" : "s", outp);
        free(recs);
        free(samples);
        return 1;
    }
    log_info("verify: %zu samples from %s with the %s verifier%s (%s)", n, in, vf_kind_name(cfg->kind),
             cfg->run ? " (--run)" : "", sbx_describe());
    vf_result *res = calloc(n ? n : 1, sizeof *res);
    if (!res) abort();
    prog_state ps;
    progress_start(&ps.p, "verify", (int64_t)n, "samples");
    double t0 = time_now();
    char err[512];
    if (vf_verify_batch(cfg, samples, n, res, on_progress, &ps, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    double el = time_now() - t0;
    progress_finish(&ps.p);

    /* output: every record with its result, written atomically */
    size_t counts[VF_STATUS_COUNT] = {0}, cached = 0;
    double sum = 0;
    size_t olen = 0, ocap = 4096;
    char *obuf = malloc(ocap);
    if (!obuf) abort();
    for (size_t i = 0; i < n; i++) {
        vf_result_to_json(&res[i], recs[i].obj);
        counts[res[i].status]++;
        cached += res[i].compile_cached;
        sum += res[i].reward;
        char *line = cJSON_PrintUnformatted(recs[i].obj);
        if (!line) abort();
        size_t l = strlen(line);
        while (olen + l + 2 > ocap) ocap *= 2;
        obuf = realloc(obuf, ocap);
        if (!obuf) abort();
        memcpy(obuf + olen, line, l);
        olen += l;
        obuf[olen++] = '\n';
        free(line);
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", outp);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (dir[0]) fs_mkdirs(dir);
    }
    int rc = 0;
    if (fs_write_atomic(outp, obuf, olen) != 0) {
        fprintf(stderr, "error: cannot write %s: %s\n", outp, strerror(errno));
        rc = 1;
    }
    free(obuf);
    int workers = cfg->workers;
    if (workers <= 0) workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    printf("Verified %zu samples in %.2f s (%.2f samples/s, %d workers, %zu compiles reused)\n", n, el,
           el > 0 ? (double)n / el : 0.0, workers, cached);
    for (int s = 0; s < VF_STATUS_COUNT; s++)
        if (counts[s]) printf("  %-24s %zu\n", vf_status_name((vf_status)s), counts[s]);
    printf("Mean reward: %.3f\n", n ? sum / (double)n : 0.0);
    if (bad) printf("Bad lines skipped: %zu (see the messages above)\n", bad);
    if (!rc) printf("Results: %s\n", outp);
    log_file_only("verify: %zu samples, mean reward %.3f, %.2f samples/s, %zu bad lines", n, n ? sum / (double)n : 0.0,
                  el > 0 ? (double)n / el : 0.0, bad);
    for (size_t i = 0; i < n; i++) {
        vf_result_free(&res[i]);
        cJSON_Delete(recs[i].obj);
        free(recs[i].cases);
        free(recs[i].test_code);
    }
    free(res);
    free(recs);
    free(samples);
    if (counts[VF_SANDBOX_ERROR] && counts[VF_SANDBOX_ERROR] == n) rc = 1;
    return rc;
}

int cmd_verify(int argc, char **argv) {
    int rc;
    args *a = args_parse(&verify_cmd, argc, argv, &rc);
    if (!a) return rc;
    vf_config cfg;
    rc = build_config(a, &cfg);
    if (rc == 0) {
        bool have_input = args_str(a, "input") != NULL;
        if (have_input && args_npos(a) > 0)
            rc = args_usage_error(&verify_cmd, "give either a FILE or --input JSONL, not both");
        else if (!have_input && args_npos(a) == 0)
            rc = args_usage_error(&verify_cmd, "nothing to verify: give a FILE or --input samples.jsonl");
        else if (!have_input && args_str(a, "output"))
            rc = args_usage_error(&verify_cmd, "--output goes with --input (a single file prints its result on stdout)");
        else rc = have_input ? verify_batch(a, &cfg) : verify_single(a, &cfg);
    }
    args_free(a);
    return rc;
}
