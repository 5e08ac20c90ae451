/* halo-forge data synth: writes a verified corpus of (instruction, C/C++ program) pairs (src/data/synth.h). */
#include "cli/commands.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"
#include "data/synth.h"
#include "raft/loop.h"

#include <errno.h>
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

const cli_command cli_data_cmds[] = {
    {"synth", "Generate a verified (instruction, C/C++ program) corpus for training", cmd_data_synth},
    {NULL, NULL, NULL},
};
