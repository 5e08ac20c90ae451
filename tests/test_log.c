/* Unit tests of src/core/log and src/core/progress: the per-command log file
 * (logs/<command>_<YYYYmmdd_HHMMSS>.log), -q silencing the terminal but not the file, and the
 * progress display in a pipe (a line per 10% or 30 s) and on a terminal (a pty). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"

#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_tmp[256];
static int g_saved_stderr = -1;
static char g_capture[512];

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/hf_log_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    log_close_file();
    log_set_terminal(false, false);
    return fs_remove_tree(g_tmp);
}

/* Sends stderr to a file until capture_end(), which returns its contents (caller frees). */
static void capture_begin(void) {
    fflush(stderr);
    snprintf(g_capture, sizeof g_capture, "%s/stderr.txt", g_tmp);
    int fd = open(g_capture, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    g_saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}
static char *capture_end(void) {
    fflush(stderr);
    dup2(g_saved_stderr, 2);
    close(g_saved_stderr);
    char *text = fs_read_file(g_capture, NULL);
    assert_non_null(text);
    return text;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + strlen(needle), needle)) n++;
    return n;
}

static void test_log_file_name_and_contents(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/logs", g_tmp);
    time_t before = time(NULL);
    capture_begin();
    int rc = log_open_file(dir, "verify");
    log_info("an info line %d", 42);
    log_debug("a debug line"); /* not verbose: nowhere */
    char *term = capture_end();
    assert_int_equal(rc, 0);
    const char *path = log_file_path();
    assert_non_null(path);

    char pattern[700];
    snprintf(pattern, sizeof pattern, "^%s/verify_([0-9]{8}_[0-9]{6})\\.log$", dir);
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED), 0);
    regmatch_t m[2];
    int nomatch = regexec(&re, path, 2, m, 0);
    regfree(&re);
    if (nomatch) fail_msg("log file name %s does not match %s", path, pattern);
    struct tm tm = {0};
    char stamp[32];
    snprintf(stamp, sizeof stamp, "%.*s", (int)(m[1].rm_eo - m[1].rm_so), path + m[1].rm_so);
    assert_non_null(strptime(stamp, "%Y%m%d_%H%M%S", &tm));
    tm.tm_isdst = -1;
    double age = difftime(mktime(&tm), before);
    assert_true(age >= -1 && age <= 5); /* the local time of the run */

    assert_non_null(strstr(term, "Logging to: "));
    assert_non_null(strstr(term, path));
    assert_non_null(strstr(term, "an info line 42"));
    assert_null(strstr(term, "a debug line"));
    free(term);
    char *file = fs_read_file(path, NULL);
    assert_non_null(file);
    assert_non_null(strstr(file, "Logging to: "));
    assert_non_null(strstr(file, "] an info line 42\n")); /* after a [HH:MM:SS] stamp */
    assert_null(strstr(file, "a debug line"));
    free(file);
}

static void test_quiet_silences_terminal_but_not_file(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/logs", g_tmp);
    log_set_terminal(true, false);
    capture_begin();
    assert_int_equal(log_open_file(dir, "raft_train"), 0);
    log_info("cycle 1 of 3");
    log_warn("low reward %.2f", 0.25);
    log_error("a sample failed");
    progress p;
    progress_start(&p, "generating", 50, "samples");
    for (int i = 1; i <= 50; i++) progress_update(&p, i);
    progress_finish(&p);
    char *term = capture_end();
    assert_null(strstr(term, "Logging to"));
    assert_null(strstr(term, "cycle 1 of 3"));
    assert_null(strstr(term, "generating"));
    assert_non_null(strstr(term, "warning: low reward 0.25")); /* warnings and errors still show */
    assert_non_null(strstr(term, "error: a sample failed"));
    free(term);
    char *file = fs_read_file(log_file_path(), NULL);
    assert_non_null(file);
    assert_non_null(strstr(file, "Logging to: "));
    assert_non_null(strstr(file, "cycle 1 of 3"));
    assert_non_null(strstr(file, "warning: low reward 0.25"));
    assert_non_null(strstr(file, "error: a sample failed"));
    assert_non_null(strstr(file, "generating: started (50 samples)"));
    assert_true(count(file, "generating: ") >= 9); /* start, 10%..90%, summary */
    assert_non_null(strstr(file, "generating: 50 samples in "));
    free(file);
}

static void test_same_second_runs_get_their_own_files(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/logs", g_tmp);
    capture_begin();
    assert_int_equal(log_open_file(dir, "benchmark_run"), 0);
    char first[4096];
    snprintf(first, sizeof first, "%s", log_file_path());
    log_info("first run");
    assert_int_equal(log_open_file(dir, "benchmark_run"), 0);
    log_info("second run");
    char *term = capture_end();
    free(term);
    assert_string_not_equal(first, log_file_path());
    char *a = fs_read_file(first, NULL), *b = fs_read_file(log_file_path(), NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(strstr(a, "first run"));
    assert_null(strstr(a, "second run"));
    assert_non_null(strstr(b, "second run"));
    assert_null(strstr(b, "first run"));
    free(a);
    free(b);

    /* A log directory that cannot be made: a warning, and the command goes on. */
    char blocked[600];
    snprintf(blocked, sizeof blocked, "%s/file", g_tmp);
    fs_write_atomic(blocked, "x", 1);
    snprintf(dir, sizeof dir, "%s/logs", blocked);
    log_close_file();
    capture_begin();
    assert_int_equal(log_open_file(dir, "verify"), -1);
    log_info("still logging");
    term = capture_end();
    assert_null(log_file_path());
    assert_non_null(strstr(term, "warning: cannot create log directory"));
    assert_non_null(strstr(term, "still logging"));
    free(term);
}

static void test_command_log_lands_in_logs_under_the_current_directory(void **state) {
    (void)state;
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(g_tmp), 0);
    capture_begin();
    int rc = log_open_command("raft train");
    log_info("training");
    char *term = capture_end();
    free(term);
    assert_int_equal(rc, 0);
    assert_int_equal(strncmp(log_file_path(), "logs/raft_train_", 16), 0);
    assert_true(fs_exists(log_file_path()));
    log_close_file();
    assert_int_equal(chdir(cwd), 0);
}

static void test_progress_in_a_pipe_prints_a_line_per_decile_or_30s(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/logs", g_tmp);
    capture_begin();
    assert_int_equal(log_open_file(dir, "verify"), 0);
    progress p;
    progress_start(&p, "verifying", 1000, "samples");
    for (int i = 1; i <= 1000; i++) progress_update(&p, i);
    progress_finish(&p);

    progress q;
    progress_start(&q, "slow work", 1000, "steps");
    progress_update(&q, 1);
    progress_update(&q, 2);   /* same decile, under 30 s: silent */
    q.t_last_line -= 31.0;    /* as if 31 s had passed */
    progress_update(&q, 3);   /* a line although still under 10% */
    progress_update(&q, 4);
    progress_finish(&q);
    char *term = capture_end();

    assert_null(strstr(term, "\r")); /* no redraws in a pipe */
    assert_int_equal(count(term, "verifying: "), 9 + 1); /* 10%..90%, and the summary */
    int last_pct = 0;
    for (const char *s = strstr(term, "verifying: "); s; s = strstr(s + 1, "verifying: ")) {
        if (strncmp(s, "verifying: 1000 samples in", 26) == 0) continue; /* the summary line */
        const char *paren = strchr(s, '(');
        assert_non_null(paren);
        int pct = atoi(paren + 1);
        assert_true(pct > last_pct);
        last_pct = pct;
    }
    assert_int_equal(last_pct, 90);
    assert_non_null(strstr(term, "verifying: 1000 samples in "));
    assert_int_equal(count(term, "slow work: 3/1000 steps"), 1);
    assert_int_equal(count(term, "slow work: "), 2); /* that line and the summary */
    free(term);
    /* The log file gets the same lines, stamped. */
    char *file = fs_read_file(log_file_path(), NULL);
    assert_int_equal(count(file, "] verifying: "), 1 + 9 + 1);
    assert_non_null(strstr(file, "] slow work: 3/1000 steps (0%)"));
    free(file);
}

/* On a terminal the line is redrawn in place at most every 0.1 s, and a message printed
 * meanwhile clears it first. Runs in a child on a pseudo-terminal. */
static void test_progress_on_a_terminal_redraws_in_place(void **state) {
    (void)state;
    int master;
    double t0 = time_now();
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        log_set_terminal(false, false);
        if (!log_stderr_is_tty()) _exit(3);
        progress p;
        progress_start(&p, "tty work", 200, "items");
        for (int i = 1; i <= 200; i++) {
            progress_update(&p, i);
            if (i == 100) log_warn("midway");
            usleep(2000);
        }
        progress_finish(&p);
        log_set_terminal(true, false);
        if (log_stderr_is_tty()) _exit(4); /* quiet: no redrawing at all */
        _exit(0);
    }
    char out[65536];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(master, out + len, sizeof out - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* EIO once the child has exited */
        len += (size_t)n;
    }
    out[len] = '\0';
    close(master);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    double wall = time_now() - t0;
    int redraws = count(out, "\r\033[Ktty work: ");
    /* The first update, then at most one per 0.1 s, and the final 100%. */
    if (redraws < 2 || redraws > wall / 0.1 + 3) fail_msg("%d redraws for 200 updates in %.2f s", redraws, wall);
    assert_non_null(strstr(out, "\r\033[Ktty work: 200/200 items (100%)"));
    assert_non_null(strstr(out, "\r\033[Kwarning: midway\r\n")); /* cleared, not glued to the bar */
    assert_non_null(strstr(out, "tty work: 200 items in "));
    assert_int_equal(count(out, "\n"), 2); /* the warning and the summary: the bar never scrolls */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_file_name_and_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_silences_terminal_but_not_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_second_runs_get_their_own_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_log_lands_in_logs_under_the_current_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_in_a_pipe_prints_a_line_per_decile_or_30s, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_on_a_terminal_redraws_in_place, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
