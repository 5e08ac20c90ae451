/* halo-forge test --level smoke|standard|full: checks that the installation works. */
#include "cli/commands.h"
#include "core/args.h"
#include "core/log.h"
#include "core/timing.h"
#include "verify/sbx.h"
#include "verify/verify.h"

#include <stdio.h>
#include <string.h>

static const arg_spec test_flags[] = {
    {"level", 'l', ARG_STR, "smoke", "How much to check: smoke (no model), standard and full (need a model)", NULL,
     "smoke|standard|full", 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec test_cmd = {
    "test", "Check the installation: toolchains, verifiers and the sandbox.", NULL, 0, 0, test_flags,
    "smoke needs no model: compilers present, a valid program gets a reward above 0, garbage gets 0,\n"
    "and the sandbox stops a runaway program. Prints [OK]/[FAIL]/[SKIP] lines with times.\n"
    "Exit status 0 when nothing failed, 1 otherwise. See docs/test.md.",
    NULL,
};

typedef struct {
    int ok, fail, skip;
} tally;

static void report(tally *t, const char *mark, const char *name, double secs, const char *detail) {
    printf("[%s] %-44s (%.2f s)%s%s\n", mark, name, secs, detail && *detail ? "  " : "", detail ? detail : "");
    fflush(stdout);
    if (!strcmp(mark, "OK")) t->ok++;
    else if (!strcmp(mark, "FAIL")) t->fail++;
    else t->skip++;
}

static void check_tool(tally *t, const char *label, vf_kind kind, vf_lang lang, bool required) {
    vf_config cfg;
    vf_config_default(&cfg, kind);
    char path[512];
    double t0 = time_now();
    bool found = vf_find_tool(&cfg, lang, path, sizeof path);
    char name[96];
    snprintf(name, sizeof name, "Compiler available: %s", label);
    if (found) report(t, "OK", name, time_now() - t0, path);
    else report(t, required ? "FAIL" : "SKIP", name, time_now() - t0, required ? "not found" : "not installed (optional)");
}

static void check_verify(tally *t, const char *name, const char *code, const char *expected, double timeout,
                         bool (*ok)(const vf_result *), char *detail_fmt_out, size_t cap) {
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.run_timeout_s = timeout;
    vf_sample s;
    memset(&s, 0, sizeof s);
    s.completion = code;
    s.expected_output = expected;
    vf_result r;
    char err[256];
    double t0 = time_now();
    if (vf_verify(&cfg, &s, &r, err, sizeof err) != 0) {
        report(t, "FAIL", name, time_now() - t0, err);
        return;
    }
    double el = time_now() - t0;
    snprintf(detail_fmt_out, cap, "reward %.1f, %s%s%s", r.reward, vf_status_name(r.status), r.error[0] ? ": " : "",
             r.error);
    report(t, ok(&r) ? "OK" : "FAIL", name, el, detail_fmt_out);
    if (log_is_verbose() && !ok(&r)) fprintf(stderr, "compile log:\n%s\nstderr:\n%s\n", r.compile_log, r.stderr_text);
    vf_result_free(&r);
}

static bool positive(const vf_result *r) { return r->reward > 0; }
static bool zero(const vf_result *r) { return r->reward == 0.0 && r->status == VF_COMPILE_ERROR; }
static bool contained(const vf_result *r) { return r->status == VF_TIMEOUT && r->run_s < 5.0; }

int cmd_test(int argc, char **argv) {
    int rc;
    args *a = args_parse(&test_cmd, argc, argv, &rc);
    if (!a) return rc;
    const char *level = args_str(a, "level");
    if (strcmp(level, "smoke") != 0) {
        fprintf(stderr,
                "halo-forge test: --level %s loads a model and generates code with it; this build has no model\n"
                "runtime yet. Run 'halo-forge test --level smoke' to check the toolchains and the sandbox.\n",
                level);
        args_free(a);
        return 2;
    }
    printf("halo-forge test --level smoke\n");
    tally t = {0, 0, 0};
    double t0 = time_now();
    report(&t, "OK", "Sandbox", time_now() - t0, sbx_describe());
    check_tool(&t, "gcc", VF_GCC, VF_LANG_C, true);
    check_tool(&t, "g++", VF_GCC, VF_LANG_CPP, true);
    check_tool(&t, "clang++", VF_CLANG, VF_LANG_CPP, false);
    check_tool(&t, "x86_64-w64-mingw32-g++", VF_MINGW, VF_LANG_CPP, false);
    check_tool(&t, "python3", VF_PYTHON, VF_LANG_PYTHON, false);
    check_tool(&t, "rustc", VF_RUST, VF_LANG_RUST, false);
    check_tool(&t, "go", VF_GO, VF_LANG_GO, false);
    char detail[512];
    check_verify(&t, "Verifier: valid program gets reward > 0",
                 "```cpp\n#include <iostream>\nint main() {\n    std::cout << \"Hello, World!\" << std::endl;\n"
                 "    return 0;\n}\n```\n",
                 "Hello, World!", 5, positive, detail, sizeof detail);
    check_verify(&t, "Verifier: garbage gets reward 0", "this is not valid C++ code at all", NULL, 5, zero, detail,
                 sizeof detail);
    check_verify(&t, "Sandbox: runaway program is stopped", "int main(void) { for (;;) {} }\n", NULL, 1.0, contained,
                 detail, sizeof detail);
    printf("\nTest Results: %d/%d passed", t.ok, t.ok + t.fail);
    if (t.skip) printf(", %d skipped", t.skip);
    printf(" (%.2f s)\n", time_now() - t0);
    args_free(a);
    return t.fail ? 1 : 0;
}
