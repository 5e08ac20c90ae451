/* test_ui: the dashboard's rules without a server: path resolution (no "..", absolute paths, links out
 * of a run folder), launch validation (only the listed commands and flags, typed and ranged values, an
 * output folder inside a run root), run.json and process liveness, and the run readers on half-written
 * and malformed files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/runinfo.h"
#include "ui/ui_jobs.h"
#include "ui/ui_path.h"
#include "ui/ui_runs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[PATH_MAX], base[PATH_MAX];

static void put(const char *rel, const char *text) {
    char p[PATH_MAX + 256], d[PATH_MAX + 256];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    snprintf(d, sizeof d, "%s", p);
    char *slash = strrchr(d, '/');
    *slash = 0;
    assert_int_equal(fs_mkdirs(d), 0);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/hf_test_ui_XXXXXX");
    assert_non_null(mkdtemp(tmp));
    put("runs/a/summary.json", "{}");
    put("runs/a/sub/file.txt", "inside");
    put("secret.txt", "outside");
    char p[PATH_MAX + 64], t[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/runs/a/link_out", tmp);
    snprintf(t, sizeof t, "%s/secret.txt", tmp);
    assert_int_equal(symlink(t, p), 0);
    snprintf(p, sizeof p, "%s/runs/a/link_in", tmp);
    assert_int_equal(symlink("sub/file.txt", p), 0);
    snprintf(p, sizeof p, "%s/runs/a/dir_out", tmp);
    assert_int_equal(symlink(tmp, p), 0);
    snprintf(p, sizeof p, "%s/runs/a", tmp);
    assert_non_null(realpath(p, base));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fs_remove_tree(tmp);
    return 0;
}

static void test_path_syntax(void **state) {
    (void)state;
    const char *bad[] = {"..", "../secret.txt", "sub/../../secret.txt", "sub/..", "./sub", "sub/./file.txt", "/etc/passwd",
                         "//etc/passwd", "sub//file.txt", "sub/", "a\\..\\b", "sub/\x01", "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char out[PATH_MAX];
        assert_int_equal(ui_path_check(bad[i]), UI_PATH_BAD);
        assert_int_equal(ui_path_resolve(base, bad[i], out, sizeof out), UI_PATH_BAD);
    }
    /* names that merely contain dots or percent signs are ordinary names */
    assert_int_equal(ui_path_check("a..b/.hidden/%2e%2e/x.jsonl"), UI_PATH_OK);
    assert_int_equal(ui_path_check(""), UI_PATH_OK);
}

static void test_path_resolve(void **state) {
    (void)state;
    char out[PATH_MAX], want[PATH_MAX + 32];
    assert_int_equal(ui_path_resolve(base, "sub/file.txt", out, sizeof out), UI_PATH_OK);
    snprintf(want, sizeof want, "%s/sub/file.txt", base);
    assert_string_equal(out, want);
    assert_int_equal(ui_path_resolve(base, "", out, sizeof out), UI_PATH_OK);
    assert_string_equal(out, base);
    /* a link that stays inside is followed; one that leaves is refused, file or folder */
    assert_int_equal(ui_path_resolve(base, "link_in", out, sizeof out), UI_PATH_OK);
    assert_string_equal(out, want);
    assert_int_equal(ui_path_resolve(base, "link_out", out, sizeof out), UI_PATH_OUTSIDE);
    assert_int_equal(ui_path_resolve(base, "dir_out", out, sizeof out), UI_PATH_OUTSIDE);
    assert_int_equal(ui_path_resolve(base, "dir_out/secret.txt", out, sizeof out), UI_PATH_OUTSIDE);
    /* percent-encoded dots are not decoded a second time: a missing literal name */
    assert_int_equal(ui_path_resolve(base, "%2e%2e/secret.txt", out, sizeof out), UI_PATH_MISSING);
    assert_int_equal(ui_path_resolve(base, "nope.txt", out, sizeof out), UI_PATH_MISSING);
    /* prefix tricks: /x/runs/a2 is not inside /x/runs/a */
    assert_false(ui_path_within("/x/runs/a", "/x/runs/a2"));
    assert_true(ui_path_within("/x/runs/a", "/x/runs/a/b"));
    assert_true(ui_path_within("/x/runs/a", "/x/runs/a"));
}

static void test_run_ids(void **state) {
    (void)state;
    ui_roots r = {0};
    char root[PATH_MAX + 16], out[PATH_MAX];
    snprintf(root, sizeof root, "%s/runs", tmp);
    ui_roots_add(&r, root);
    ui_roots_add(&r, "/nonexistent/hf-ui-root");
    assert_int_equal(ui_run_dir(&r, "0/a", out, sizeof out), UI_PATH_OK);
    assert_string_equal(out, base);
    assert_int_equal(ui_run_dir(&r, "0", out, sizeof out), UI_PATH_OK);
    assert_int_equal(ui_run_dir(&r, "0/..", out, sizeof out), UI_PATH_BAD);
    assert_int_equal(ui_run_dir(&r, "0/a/dir_out", out, sizeof out), UI_PATH_OUTSIDE);
    assert_int_equal(ui_run_dir(&r, "0/a/sub/file.txt", out, sizeof out), UI_PATH_MISSING); /* not a folder */
    assert_int_equal(ui_run_dir(&r, "1/x", out, sizeof out), UI_PATH_MISSING);
    assert_int_equal(ui_run_dir(&r, "2/a", out, sizeof out), UI_PATH_BAD);
    assert_int_equal(ui_run_dir(&r, "-1/a", out, sizeof out), UI_PATH_BAD);
    assert_int_equal(ui_run_dir(&r, "x/a", out, sizeof out), UI_PATH_BAD);
    assert_int_equal(ui_run_dir(&r, "0x0/a", out, sizeof out), UI_PATH_BAD);
    assert_int_equal(ui_run_dir(&r, "/etc", out, sizeof out), UI_PATH_BAD);
    ui_roots_free(&r);
}

/* ---- launch validation ---- */

static int launch(const char *json, char ***argv, char *err) {
    ui_roots r = {0};
    char root[PATH_MAX + 16], out[PATH_MAX * 2], id[1100];
    snprintf(root, sizeof root, "%s/runs", tmp);
    ui_roots_add(&r, root);
    cJSON *req = cJSON_Parse(json);
    assert_non_null(req);
    int rc = ui_launch_argv(req, &r, "/bin/halo-forge", argv, out, sizeof out, id, sizeof id, err, 512);
    cJSON_Delete(req);
    ui_roots_free(&r);
    return rc;
}

static void test_launch_builds_argv(void **state) {
    (void)state;
    char err[512], cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmp), 0);
    put("m/config.json", "{}");
    put("p.jsonl", "{\"prompt\": \"x\"}\n");
    char **argv = NULL;
    int rc = launch("{\"command\": \"raft train\", \"output\": \"new/r1\", \"flags\": {\"model\": \"m\", \"prompts\": \"p.jsonl\","
                    " \"cycles\": 2, \"temperature\": \"0.5\", \"run\": true, \"no-lora\": false, \"verifier\": \"gcc\"}}",
                    &argv, err);
    assert_int_equal(chdir(cwd), 0);
    if (rc) fail_msg("%s", err);
    char want_out[PATH_MAX + 32];
    snprintf(want_out, sizeof want_out, "%s/runs/new/r1", tmp);
    char real_tmp[PATH_MAX];
    assert_non_null(realpath(tmp, real_tmp));
    snprintf(want_out, sizeof want_out, "%s/runs/new/r1", real_tmp);
    const char *want[] = {"/bin/halo-forge", "raft", "train", "--model", "m", "--prompts", "p.jsonl", "--cycles", "2",
                          "--verifier", "gcc", "--run", "--temperature", "0.5", "--output", want_out, NULL};
    size_t i = 0;
    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
    ui_argv_free(argv);
}

static void test_launch_refuses(void **state) {
    (void)state;
    char err[512], cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmp), 0);
    put("m/config.json", "{}");
    struct {
        const char *json, *in_err;
    } cases[] = {
        {"[1]", "JSON object"},
        {"{\"command\": \"verify\", \"output\": \"x\"}", "command"},
        {"{\"command\": \"benchmark full; rm -rf /\", \"output\": \"x\"}", "command"},
        {"{\"command\": \"sft train\", \"output\": \"x\", \"flags\": {\"model\": \"m\"}}", "flags.data: required"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"m\", \"config\": \"/etc/passwd\"}}", "flags.config"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"m\", \"verify-command\": \"sh\"}}", "flags.verify-command"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"m\", \"verifier\": \"custom\"}}", "flags.verifier"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"m\", \"cycles\": 1.5}}", "whole number"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"m\", \"cycles\": 1e9}}", "outside"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"m\", \"cycles\": \"2; ls\"}}", "not a number"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"m\", \"no-lora\": \"yes\"}}", "true or false"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"--config=/etc/passwd\"}}", "not starting with '-'"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"/etc\"}}", "outside the working folder"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"no/such/dir\"}}", "no such"},
        {"{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"m\", \"prompts\": \"/etc/passwd\"}}", "outside the working folder"},
        {"{\"command\": \"benchmark full\", \"output\": \"../escape\", \"flags\": {\"model\": \"m\"}}", "output"},
        {"{\"command\": \"benchmark full\", \"output\": \"/tmp/x\", \"flags\": {\"model\": \"m\"}}", "output"},
        {"{\"command\": \"benchmark full\", \"output\": \"a/dir_out/x\", \"flags\": {\"model\": \"m\"}}", "outside the run folder"},
        {"{\"command\": \"benchmark full\", \"output\": \"a b\", \"flags\": {\"model\": \"m\"}}", "only letters"},
        {"{\"command\": \"benchmark full\", \"output\": \"a/summary.json\", \"flags\": {\"model\": \"m\"}}", "not a folder"},
        {"{\"command\": \"benchmark full\", \"root\": 3, \"output\": \"x\", \"flags\": {\"model\": \"m\"}}", "root"},
        {"{\"command\": \"benchmark full\", \"flags\": {\"model\": \"m\"}}", "output: required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char **argv = (char **)1;
        err[0] = 0;
        int rc = launch(cases[i].json, &argv, err);
        if (rc != -1 || !strstr(err, cases[i].in_err)) {
            assert_int_equal(chdir(cwd), 0);
            fail_msg("case %zu (%s): rc %d, err '%s', wanted '%s'", i, cases[i].json, rc, err, cases[i].in_err);
        }
        assert_null(argv);
    }
    /* a Hub id that is not a local folder passes as a model */
    char **argv = NULL;
    assert_int_equal(launch("{\"command\": \"benchmark full\", \"output\": \"x\", \"flags\": {\"model\": \"Qwen/Qwen2.5-Coder-0.5B\"}}",
                            &argv, err), 0);
    ui_argv_free(argv);
    assert_int_equal(chdir(cwd), 0);
}

/* ---- jobs: a real child, stopped with SIGINT ---- */

static void test_jobs_start_stop(void **state) {
    (void)state;
    ui_jobs *j = ui_jobs_new();
    char out[PATH_MAX + 32], err[256];
    snprintf(out, sizeof out, "%s/runs/job", tmp);
    /* a shell here is the test's own child standing in for halo-forge: it traps SIGINT and exits 130 */
    char *argv[] = {"/bin/sh", "-c", "trap 'echo stopping; exit 130' INT; echo started; while :; do sleep 0.05; done", NULL};
    int id = ui_jobs_start(j, argv, out, "0/job", err, sizeof err);
    assert_true(id >= 1);
    /* wait for the child to print (not a timing: we poll until it has) */
    for (int i = 0; i < 2000; i++) {
        cJSON *l = ui_jobs_log(j, id, 0, 0);
        bool started = strstr(cJSON_GetObjectItem(l, "text")->valuestring, "started\n") != NULL;
        cJSON_Delete(l);
        if (started) break;
        usleep(10000);
    }
    assert_int_equal(ui_jobs_stop(j, id, err, sizeof err), 0);
    cJSON *list = NULL;
    for (int i = 0; i < 2000; i++) {
        cJSON_Delete(list);
        list = ui_jobs_list(j);
        if (cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "running"))) break;
        usleep(10000);
    }
    cJSON *job = cJSON_GetArrayItem(list, 0);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(job, "running")));
    assert_int_equal((int)cJSON_GetObjectItem(job, "exit_code")->valuedouble, 130);
    cJSON_Delete(list);
    cJSON *l = ui_jobs_log(j, id, 0, 0);
    assert_non_null(strstr(cJSON_GetObjectItem(l, "text")->valuestring, "stopping"));
    cJSON_Delete(l);
    assert_int_equal(ui_jobs_stop(j, id, err, sizeof err), -1); /* not running any more */
    assert_int_equal(ui_jobs_stop(j, 99, err, sizeof err), -1);
    assert_null(ui_jobs_log(j, 99, 0, 0));
    ui_jobs_free(j, 5);
}

/* ---- run.json ---- */

static void test_runinfo(void **state) {
    (void)state;
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/runs/ri", tmp);
    char *args[] = {"train", "--model", "m", NULL};
    assert_int_equal(runinfo_begin(dir, "raft train", 3, args, "m"), 0);
    cJSON *d = ui_run_detail(dir, "0/ri");
    assert_string_equal(cJSON_GetObjectItem(d, "kind")->valuestring, "raft train");
    assert_string_equal(cJSON_GetObjectItem(d, "status")->valuestring, "running"); /* this process */
    assert_string_equal(cJSON_GetObjectItem(d, "command")->valuestring, "halo-forge raft train --model m");
    cJSON_Delete(d);
    runinfo_end(dir, 130);
    d = ui_run_detail(dir, "0/ri");
    assert_string_equal(cJSON_GetObjectItem(d, "status")->valuestring, "interrupted");
    cJSON_Delete(d);
    runinfo_end(dir, 0);
    d = ui_run_detail(dir, "0/ri");
    assert_string_equal(cJSON_GetObjectItem(d, "status")->valuestring, "finished");
    cJSON_Delete(d);
    /* a "running" run.json of a process that is gone reads as interrupted */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    char text[512];
    snprintf(text, sizeof text, "{\"command\": \"sft train\", \"pid\": %d, \"pid_start\": 1, \"status\": \"running\"}", (int)child);
    put("runs/dead/run.json", text);
    snprintf(dir, sizeof dir, "%s/runs/dead", tmp);
    d = ui_run_detail(dir, "0/dead");
    assert_string_equal(cJSON_GetObjectItem(d, "status")->valuestring, "interrupted");
    assert_non_null(strstr(cJSON_GetObjectItem(d, "status_note")->valuestring, "ended without"));
    cJSON_Delete(d);
    assert_true(runinfo_alive(getpid(), runinfo_proc_start(getpid())));
    assert_false(runinfo_alive(getpid(), runinfo_proc_start(getpid()) + 1)); /* a reused pid */
    assert_false(runinfo_alive(child, 0));
}

/* ---- malformed and half-written files ---- */

static void test_malformed_files(void **state) {
    (void)state;
    /* a raft run whose statistics are cut short, with a bad samples line and one still being written */
    put("runs/bad/run.json", "{\"command\": \"raft train\", \"status\": \"finished\", \"args\": [1, \"--x\"]}");
    put("runs/bad/raft_statistics.json", "[{\"cycle\": 1, \"kept\": 3");
    put("runs/bad/cycle_1_verified.jsonl",
        "{\"prompt_id\": \"p1\", \"completion\": \"x\", \"reward\": 1.0, \"status\": \"correct\", \"success\": true}\n"
        "not json at all\n"
        "[1, 2]\n"
        "{\"prompt_id\": \"p1\", \"completion\": \"y\", \"reward\": 0.0, \"status\": \"compile_error\", \"success\": false}\n"
        "{\"prompt_id\": \"p2\", \"completion\": \"z\", \"rew");
    put("runs/bad/cycle_1/metrics.jsonl", "{\"step\": 1, \"loss\": 0.5, \"lr\": 0.001}\n{\"step\": 2, \"loss\": \n");
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/runs/bad", tmp);
    cJSON *d = ui_run_detail(dir, "0/bad");
    assert_non_null(d);
    assert_string_equal(cJSON_GetObjectItem(d, "status")->valuestring, "finished");
    cJSON *phases = cJSON_GetObjectItem(d, "phases");
    assert_int_equal(cJSON_GetArraySize(phases), 1);
    cJSON *p = cJSON_GetArrayItem(phases, 0);
    assert_int_equal((int)cJSON_GetObjectItem(p, "samples")->valuedouble, 2);
    assert_int_equal((int)cJSON_GetObjectItem(p, "correct")->valuedouble, 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "kept"))); /* statistics unreadable, no kept.jsonl */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "training"), "steps")), 1);
    /* every damaged file is named, with its line */
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(d, "problems"));
    assert_non_null(strstr(text, "\"file\":\"raft_statistics.json\""));
    assert_non_null(strstr(text, "\"file\":\"cycle_1_verified.jsonl\",\"line\":2"));
    assert_non_null(strstr(text, "\"file\":\"cycle_1_verified.jsonl\",\"line\":3"));
    assert_non_null(strstr(text, "\"file\":\"cycle_1_verified.jsonl\",\"line\":5,\"message\":\"last line cut short"));
    assert_non_null(strstr(text, "\"file\":\"cycle_1/metrics.jsonl\",\"line\":2"));
    free(text);
    cJSON_Delete(d);
    /* a benchmark full folder with a broken summary and a hardware CSV with a bad row */
    put("runs/bench/summary.json", "{\"baseline\": ");
    put("runs/bench/baseline_phase.json", "{}");
    put("runs/bench/baseline_hardware.csv", "timestamp,cpu_util_pct,rss_gb\n1.0,50,0.1\nx,y\n2.0,,0.2\n3.0,7");
    snprintf(dir, sizeof dir, "%s/runs/bench", tmp);
    d = ui_run_detail(dir, "0/bench");
    cJSON *hw = cJSON_GetObjectItem(d, "hardware");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(hw, "t")), 2);
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItem(hw, "cpu_util_pct"), 1))); /* empty field: not 0 */
    text = cJSON_PrintUnformatted(cJSON_GetObjectItem(d, "problems"));
    assert_non_null(strstr(text, "\"file\":\"summary.json\""));
    assert_non_null(strstr(text, "\"file\":\"baseline_hardware.csv\",\"line\":3"));
    assert_non_null(strstr(text, "\"file\":\"baseline_hardware.csv\",\"line\":5")); /* run finished: cut row is a problem */
    free(text);
    cJSON_Delete(d);
    /* the list shows both runs, each with its problem count */
    ui_roots r = {0};
    char root[PATH_MAX + 16];
    snprintf(root, sizeof root, "%s/runs", tmp);
    ui_roots_add(&r, root);
    cJSON *list = ui_runs_list(&r);
    cJSON *e;
    int seen = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(list, "runs")) {
        const char *id = cJSON_GetObjectItem(e, "id")->valuestring;
        if (!strcmp(id, "0/bad") || !strcmp(id, "0/bench")) {
            seen++;
            assert_true(cJSON_GetObjectItem(e, "problems")->valuedouble >= 1);
        }
    }
    assert_int_equal(seen, 2);
    cJSON_Delete(list);
    ui_roots_free(&r);
    /* samples of a damaged file: the good lines, filtered */
    snprintf(dir, sizeof dir, "%s/runs/bad", tmp);
    cJSON *s = ui_run_samples(dir, "cycle 1", NULL, "correct", 0, 10);
    assert_int_equal((int)cJSON_GetObjectItem(s, "total")->valuedouble, 2);
    assert_int_equal((int)cJSON_GetObjectItem(s, "matched")->valuedouble, 1);
    cJSON_Delete(s);
    s = ui_run_sample(dir, "cycle 1", 4);
    assert_string_equal(cJSON_GetObjectItem(s, "completion")->valuestring, "y");
    cJSON_Delete(s);
    assert_null(ui_run_sample(dir, "cycle 1", 2)); /* the bad line */
    assert_null(ui_run_sample(dir, "cycle 9", 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_syntax),      cmocka_unit_test(test_path_resolve),
        cmocka_unit_test(test_run_ids),          cmocka_unit_test(test_launch_builds_argv),
        cmocka_unit_test(test_launch_refuses),   cmocka_unit_test(test_jobs_start_stop),
        cmocka_unit_test(test_runinfo),          cmocka_unit_test(test_malformed_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
