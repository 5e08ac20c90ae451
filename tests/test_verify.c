/* Unit tests of src/verify: extraction, language detection, output matching, the reward ladder and
 * every status, each verifier whose toolchain is installed, the worker pool, and hostile programs
 * (each must be contained and classified, and leave no process and no file behind). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "core/timing.h"
#include "verify/sbx.h"
#include "verify/verify.h"
#include "verify/vf_internal.h"

#include "sandbox_leaks.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs are slower under AddressSanitizer; time bounds stretch by this factor. */
static double slack(void) { return getenv("HF_SANITIZED") ? 3.0 : 1.0; }

/* ---- leak checks: processes under the sandbox uids, and our temporary directories ---- */

static void assert_nothing_left(void) {
    assert_int_equal(sandbox_processes_settled(), 0);
    assert_int_equal(our_temp_dirs(), 0);
}

/* ---- helpers ---- */

static vf_result verify_with(vf_config *cfg, const char *code, const char *expected, const char *stdin_text) {
    vf_sample s;
    memset(&s, 0, sizeof s);
    s.completion = code;
    s.expected_output = expected;
    s.stdin_text = stdin_text;
    vf_result r;
    char err[256];
    assert_int_equal(vf_verify(cfg, &s, &r, err, sizeof err), 0);
    return r;
}

static vf_result run_c(const char *code, const char *expected, const char *stdin_text, double timeout) {
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.run_timeout_s = timeout;
    return verify_with(&cfg, code, expected, stdin_text);
}

static void expect(const vf_result *r, vf_status st, double reward) {
    if (r->status != st || r->reward != reward)
        fprintf(stderr, "got %s %.2f (want %s %.2f): %s\nlog: %s\nstderr: %s\n", vf_status_name(r->status), r->reward,
                vf_status_name(st), reward, r->error, r->compile_log, r->stderr_text);
    assert_int_equal(r->status, st);
    assert_true(r->reward == reward);
}

static bool have_tool(vf_kind kind, vf_lang lang) {
    vf_config cfg;
    vf_config_default(&cfg, kind);
    char p[512];
    return vf_find_tool(&cfg, lang, p, sizeof p);
}

/* ---- extraction ---- */

static void check_extract(const char *text, const char *want_code, vf_lang want_hint) {
    vf_lang hint;
    char *code = vf_extract_code(text, &hint);
    assert_non_null(code);
    if (strcmp(code, want_code)) fprintf(stderr, "extracted:\n[%s]\nwanted:\n[%s]\n", code, want_code);
    assert_string_equal(code, want_code);
    assert_int_equal(hint, want_hint);
    free(code);
}

static void test_extract_fences_with_any_tag(void **state) {
    (void)state;
    check_extract("Sure:\n```cpp\nint main() {}\n```\nDone.", "int main() {}\n", VF_LANG_CPP);
    check_extract("```c\n#include <stdio.h>\nint main(void){return 0;}\n```", "#include <stdio.h>\nint main(void){return 0;}\n", VF_LANG_C);
    check_extract("```C++\nint main() {}\n```", "int main() {}\n", VF_LANG_CPP);
    check_extract("```python\ndef f():\n    return 1\n```", "def f():\n    return 1\n", VF_LANG_PYTHON);
    check_extract("```\nint main() {}\n```", "int main() {}\n", VF_LANG_UNKNOWN);
    /* the original kept unknown tags as the first line of the code */
    check_extract("```java\nclass A {}\n```", "class A {}\n", VF_LANG_UNKNOWN);
    check_extract("```cpp title=\"x.cpp\"\nint main() {}\n```", "int main() {}\n", VF_LANG_CPP);
    /* an unterminated fence (generation cut off) keeps what is there */
    check_extract("```rust\nfn main() {\n", "fn main() {\n", VF_LANG_RUST);
    /* a block of sample output before the code block does not win */
    check_extract("Output:\n```\n42\n```\nCode:\n```go\npackage main\n```", "package main\n", VF_LANG_GO);
}

static void test_extract_code_tags_include_span_and_raw(void **state) {
    (void)state;
    check_extract("Answer: <code>\nint main() { return 0; }</code> ok", "int main() { return 0; }\n", VF_LANG_UNKNOWN);
    check_extract("Here you go:\n#include <stdio.h>\nint main(void) {\n  if (1) { puts(\"}\"); }\n  return 0;\n}\nThis prints a brace.",
                  "#include <stdio.h>\nint main(void) {\n  if (1) { puts(\"}\"); }\n  return 0;\n}\n", VF_LANG_UNKNOWN);
    check_extract("\n\n  x = 1  \n", "  x = 1\n", VF_LANG_UNKNOWN);
    check_extract("", "", VF_LANG_UNKNOWN);
    vf_lang hint;
    char *c = vf_extract_code(NULL, &hint);
    assert_string_equal(c, "");
    free(c);
}

static void test_detect_language(void **state) {
    (void)state;
    assert_int_equal(vf_detect_language("#include <stdio.h>\nint main(void) { printf(\"hi\"); return 0; }\n", VF_LANG_UNKNOWN), VF_LANG_C);
    assert_int_equal(vf_detect_language("#include <iostream>\nint main() { std::cout << 1; }\n", VF_LANG_UNKNOWN), VF_LANG_CPP);
    assert_int_equal(vf_detect_language("#include <stdio.h>\nint main() { printf(\"x\"); }\n", VF_LANG_CPP), VF_LANG_CPP);
    assert_int_equal(vf_detect_language("#include <vector>\nint main() { std::vector<int> v; }\n", VF_LANG_C), VF_LANG_CPP);
    assert_int_equal(vf_detect_language("def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n", VF_LANG_UNKNOWN), VF_LANG_PYTHON);
    assert_int_equal(vf_detect_language("import sys\nfrom math import sqrt\nx = sqrt(4)\n", VF_LANG_UNKNOWN), VF_LANG_PYTHON);
    assert_int_equal(vf_detect_language("use std::io;\nfn main() {\n    let mut s = String::new();\n    println!(\"{}\", s);\n}\n", VF_LANG_UNKNOWN), VF_LANG_RUST);
    assert_int_equal(vf_detect_language("package main\n\nimport \"fmt\"\n\nfunc main() {\n\tx := 1\n\tfmt.Println(x)\n}\n", VF_LANG_UNKNOWN), VF_LANG_GO);
    assert_int_equal(vf_detect_language("x = 1", VF_LANG_PYTHON), VF_LANG_PYTHON);
    assert_int_equal(vf_detect_language("class Foo { public: int x; };\nint main() {}\n", VF_LANG_UNKNOWN), VF_LANG_CPP);
    assert_int_equal(vf_detect_language("hello there", VF_LANG_UNKNOWN), VF_LANG_UNKNOWN);
}

static void test_output_match_modes(void **state) {
    (void)state;
    assert_true(vf_output_matches(VF_MATCH_EXACT, "Hello\r\n", "Hello"));
    assert_true(vf_output_matches(VF_MATCH_EXACT, "a  \nb\n\n", "a\nb"));
    assert_false(vf_output_matches(VF_MATCH_EXACT, "Hello!", "Hello"));
    assert_true(vf_output_matches(VF_MATCH_CONTAINS, "The answer is 42.", "42"));
    assert_false(vf_output_matches(VF_MATCH_CONTAINS, "The answer is 41.", "42"));
    assert_true(vf_output_matches(VF_MATCH_REGEX, "sum = 8\n", "sum = [0-9]+"));
    assert_false(vf_output_matches(VF_MATCH_REGEX, "sum = x\n", "^sum = [0-9]+$"));
    assert_false(vf_output_matches(VF_MATCH_REGEX, "anything", "(unclosed"));
    assert_true(vf_output_matches(VF_MATCH_NUMERIC, "pi=3.1415926 e=2.7182818", "3.14159260 2.71828180"));
    assert_false(vf_output_matches(VF_MATCH_NUMERIC, "1 2", "1 2 3"));
    assert_false(vf_output_matches(VF_MATCH_NUMERIC, "1.001", "1"));
    assert_true(vf_output_matches(VF_MATCH_NUMERIC, "-5", "-5.0"));
}

static void test_names_and_ladder(void **state) {
    (void)state;
    vf_kind k;
    assert_int_equal(vf_kind_parse("mingw", &k), 0);
    assert_int_equal(k, VF_MINGW);
    assert_int_equal(vf_kind_parse("msvc", &k), -1);
    assert_string_equal(vf_status_name(VF_COMPILED_WITH_WARNINGS), "compiled_with_warnings");
    assert_true(vf_status_reward(VF_COMPILE_ERROR, false) == 0.0);
    assert_true(vf_status_reward(VF_COMPILED_WITH_WARNINGS, true) == 0.3);
    assert_true(vf_status_reward(VF_COMPILED, false) == 0.5);
    assert_true(vf_status_reward(VF_RAN, false) == 0.7);
    assert_true(vf_status_reward(VF_CORRECT, true) == 1.0);
}

/* ---- the ladder, end to end with gcc ---- */

static const char *HELLO_C = "```c\n#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n```";

static void test_ladder_compile_only(void **state) {
    (void)state;
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    vf_result r = verify_with(&cfg, "int main( { return 0 }", NULL, NULL);
    expect(&r, VF_COMPILE_ERROR, 0.0);
    assert_true(strstr(r.compile_log, "error") != NULL);
    assert_null(strstr(r.compile_log, "/tmp/hf-sbx"));
    vf_result_free(&r);
    r = verify_with(&cfg, "#include <stdio.h>\nint main(void) { int unused; puts(\"x\"); return 0; }\n", NULL, NULL);
    expect(&r, VF_COMPILED_WITH_WARNINGS, 0.3);
    assert_true(r.compile_warnings);
    assert_true(strstr(r.compile_log, "unused") != NULL);
    vf_result_free(&r);
    r = verify_with(&cfg, HELLO_C, NULL, NULL);
    expect(&r, VF_COMPILED, 0.5);
    assert_int_equal(r.language, VF_LANG_C);
    assert_true(r.compile_s > 0);
    assert_string_equal(r.stdout_text, "");
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_ladder_runs(void **state) {
    (void)state;
    vf_result r = run_c(HELLO_C, "hello", NULL, 5);
    expect(&r, VF_CORRECT, 1.0);
    assert_string_equal(r.stdout_text, "hello\n");
    assert_true(r.success);
    vf_result_free(&r);
    r = run_c(HELLO_C, "goodbye", NULL, 5);
    expect(&r, VF_WRONG_OUTPUT, 0.7);
    assert_string_equal(r.stdout_text, "hello\n"); /* the real output is reported */
    vf_result_free(&r);
    r = run_c(HELLO_C, NULL, NULL, 5);
    expect(&r, VF_RAN, 0.7);
    vf_result_free(&r);
    r = run_c("#include <stdio.h>\nint main(void){int a,b; scanf(\"%d %d\",&a,&b); printf(\"%d\\n\",a*b); return 0;}", "42", "6 7\n", 5);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    r = run_c("#include <stdlib.h>\nint main(void){ abort(); }", "x", NULL, 5);
    expect(&r, VF_RUNTIME_ERROR, 0.5);
    assert_int_equal(r.signal, 6);
    vf_result_free(&r);
    r = run_c("int main(void){ return 3; }", NULL, NULL, 5);
    expect(&r, VF_RUNTIME_ERROR, 0.5);
    assert_int_equal(r.exit_code, 3);
    vf_result_free(&r);
    /* ordinary multithreading fits in the process limit */
    r = run_c("#include <pthread.h>\n#include <stdio.h>\nstatic void *work(void *a) { return a; }\n"
              "int main(void){ pthread_t t[8]; for (int i = 0; i < 8; i++) pthread_create(&t[i], 0, work, 0);\n"
              "  for (int i = 0; i < 8; i++) pthread_join(t[i], 0); puts(\"joined\"); return 0; }", "joined", NULL, 5);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    /* crashing code that also had warnings stays at the warnings level */
    r = run_c("#include <stdlib.h>\nint main(void){ int unused; abort(); }", NULL, NULL, 5);
    expect(&r, VF_RUNTIME_ERROR, 0.3);
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_cpp_is_compiled_as_cpp_and_c_as_c(void **state) {
    (void)state;
    /* valid C, invalid C++ (implicit void* conversion, 'new' as a name) */
    vf_result r = run_c("```c\n#include <stdlib.h>\n#include <stdio.h>\nint main(void){ int *new = malloc(4); *new = 5; printf(\"%d\\n\", *new); free(new); return 0; }\n```", "5", NULL, 5);
    expect(&r, VF_CORRECT, 1.0);
    assert_int_equal(r.language, VF_LANG_C);
    vf_result_free(&r);
    r = run_c("```cpp\n#include <iostream>\n#include <vector>\nint main(){ std::vector<int> v{1,2,3}; std::cout << v.size() << std::endl; }\n```", "3", NULL, 5);
    expect(&r, VF_CORRECT, 1.0);
    assert_int_equal(r.language, VF_LANG_CPP);
    vf_result_free(&r);
    /* Python given to gcc: told, not fed to the compiler */
    r = run_c("```python\nprint('hi')\n```", "hi", NULL, 5);
    expect(&r, VF_COMPILE_ERROR, 0.0);
    assert_true(strstr(r.error, "python") != NULL);
    vf_result_free(&r);
}

static void test_sandbox_error_when_compiler_missing(void **state) {
    (void)state;
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.compiler = "/nonexistent/cc";
    vf_result r = verify_with(&cfg, HELLO_C, NULL, NULL);
    expect(&r, VF_SANDBOX_ERROR, 0.0);
    assert_true(strstr(r.error, "not found") != NULL);
    vf_result_free(&r);
    assert_nothing_left();
}

/* ---- hostile programs ---- */

static void test_hostile_infinite_loop(void **state) {
    (void)state;
    double t0 = time_now();
    vf_result r = run_c("int main(void){ volatile unsigned long i = 0; for (;;) i++; }", NULL, NULL, 1.0);
    double el = time_now() - t0;
    expect(&r, VF_TIMEOUT, 0.5);
    assert_true(r.run_s < 3.0 * slack());
    assert_true(el < 15.0 * slack());
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_hostile_sleep_forever(void **state) {
    (void)state;
    vf_result r = run_c("#include <unistd.h>\nint main(void){ for (;;) sleep(1000); }", NULL, NULL, 1.0);
    expect(&r, VF_TIMEOUT, 0.5);
    assert_true(r.run_s < 3.0 * slack());
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_hostile_fork_bomb(void **state) {
    (void)state;
    vf_result r = run_c("#include <unistd.h>\nint main(void){ for (;;) fork(); }", NULL, NULL, 1.0);
    assert_true(r.status == VF_TIMEOUT || r.status == VF_RUNTIME_ERROR);
    assert_true(r.reward == 0.5);
    assert_true(r.run_s < 4.0 * slack());
    vf_result_free(&r);
    assert_nothing_left();
    /* the machine is not slowed afterwards: a plain program still runs at once */
    r = run_c(HELLO_C, "hello", NULL, 5);
    expect(&r, VF_CORRECT, 1.0);
    assert_true(r.run_s < 2.0 * slack());
    vf_result_free(&r);
}

static void test_hostile_child_left_running(void **state) {
    (void)state;
    /* a child in the same group, and a grandchild that escaped into its own session */
    const char *code = "#include <stdio.h>\n#include <unistd.h>\nint main(void){\n"
                       "  if (fork() == 0) { sleep(60); return 0; }\n"
                       "  if (fork() == 0) { setsid(); if (fork() == 0) { sleep(60); } return 0; }\n"
                       "  puts(\"parent done\"); return 0; }\n";
    vf_result r = run_c(code, "parent done", NULL, 5.0);
    expect(&r, VF_CORRECT, 1.0);
    assert_true(r.run_s < 2.0 * slack()); /* we did not wait for the children */
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_hostile_output_flood(void **state) {
    (void)state;
    vf_result r = run_c("#include <stdio.h>\nint main(void){ for (;;) puts(\"yes yes yes yes yes yes yes yes\"); }", "y", NULL, 5.0);
    expect(&r, VF_OUTPUT_LIMIT, 0.5);
    assert_true(r.run_s < 4.0 * slack()); /* killed at the cap, not at the deadline */
    assert_true(strlen(r.stdout_text) <= 2000);
    assert_true(r.stdout_truncated);
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_hostile_memory_bomb(void **state) {
    (void)state;
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.run_timeout_s = 5;
    cfg.memory_limit_mb = 64;
    vf_result r = verify_with(&cfg, "#include <stdlib.h>\n#include <string.h>\nint main(void){ for (;;) { char *p = malloc(1 << 20); memset(p, 1, 1 << 20); } }", NULL, NULL);
    expect(&r, VF_MEMORY_LIMIT, 0.5);
    vf_result_free(&r);
    r = verify_with(&cfg, "```cpp\n#include <vector>\nint main(){ std::vector<std::vector<char>> v; for (;;) v.emplace_back(1 << 20, 'x'); }\n```", NULL, NULL);
    expect(&r, VF_MEMORY_LIMIT, 0.5);
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_hostile_disk_fill(void **state) {
    (void)state;
    const char *code = "#include <stdio.h>\n#include <string.h>\nstatic char buf[1 << 20];\n"
                       "int main(void){ memset(buf, 'x', sizeof buf); char name[32]; int files = 0;\n"
                       "  for (int i = 0; i < 10000; i++) { snprintf(name, sizeof name, \"f%d\", i);\n"
                       "    FILE *f = fopen(name, \"w\"); if (!f) break; files++;\n"
                       "    for (int j = 0; j < 64; j++) if (fwrite(buf, 1, sizeof buf, f) != sizeof buf) break;\n"
                       "    if (fclose(f) != 0) break; }\n"
                       "  printf(\"stopped after %d files\\n\", files); return 0; }\n";
    double t0 = time_now();
    vf_result r = run_c(code, NULL, NULL, 5.0);
    /* killed by SIGXFSZ at the file size limit, or stopped by a full private tmpfs */
    assert_true(r.status == VF_RUNTIME_ERROR || r.status == VF_RAN);
    assert_true(time_now() - t0 < 20 * slack());
    vf_result_free(&r);
    /* and the files went with the sandbox */
    assert_nothing_left();
}

static void test_hostile_network(void **state) {
    (void)state;
    /* a server of our own on the loopback: the program must not reach it, nor anything else */
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(srv >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(srv, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv, 4), 0);
    socklen_t al = sizeof a;
    getsockname(srv, (struct sockaddr *)&a, &al);
    char port[16];
    snprintf(port, sizeof port, "%d\n", ntohs(a.sin_port));
    const char *code = "#include <stdio.h>\n#include <string.h>\n#include <unistd.h>\n#include <arpa/inet.h>\n#include <sys/socket.h>\n"
                       "static int try(const char *ip, int port) { int s = socket(AF_INET, SOCK_STREAM, 0); if (s < 0) return 0;\n"
                       "  struct sockaddr_in a; memset(&a, 0, sizeof a); a.sin_family = AF_INET; a.sin_port = htons(port);\n"
                       "  inet_pton(AF_INET, ip, &a.sin_addr); int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0; close(s); return ok; }\n"
                       "int main(void){ int port = 0; if (scanf(\"%d\", &port) != 1) return 2;\n"
                       "  if (try(\"127.0.0.1\", port) || try(\"1.1.1.1\", 80) || try(\"8.8.8.8\", 53)) puts(\"connected\"); else puts(\"blocked\");\n"
                       "  return 0; }\n";
    vf_result r = run_c(code, "blocked", port, 5.0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    close(srv);
    assert_nothing_left();
}

static void test_hostile_write_outside(void **state) {
    (void)state;
    char target[128], code[1024];
    snprintf(target, sizeof target, "/tmp/hf_escape_%d", (int)getpid());
    unlink(target);
    snprintf(code, sizeof code,
             "#include <stdio.h>\nint main(void){ int escaped = 0;\n"
             "  const char *paths[] = {\"%s\", \"/etc/hf_escape\", \"/var/tmp/hf_escape_%d\", 0};\n"
             "  for (int i = 0; paths[i]; i++) { FILE *f = fopen(paths[i], \"w\"); if (f) { fputs(\"x\", f); fclose(f); escaped = 1; } }\n"
             "  puts(escaped ? \"escaped\" : \"refused\"); return 0; }\n",
             target, (int)getpid());
    vf_result r = run_c(code, "refused", NULL, 5.0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    assert_false(fs_exists(target));
    assert_false(fs_exists("/etc/hf_escape"));
    assert_nothing_left();
}

static void test_hostile_stdin(void **state) {
    (void)state;
    /* reading stdin until EOF: /dev/null ends it at once */
    vf_result r = run_c("#include <stdio.h>\nint main(void){ long n = 0; while (getchar() != EOF) n++; printf(\"%ld\\n\", n); return 0; }", "0", NULL, 5.0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    /* more input than a pipe holds */
    size_t big = 300000;
    char *in = malloc(big + 1);
    memset(in, 'a', big);
    in[big] = '\0';
    r = run_c("#include <stdio.h>\nint main(void){ long n = 0; while (getchar() != EOF) n++; printf(\"%ld\\n\", n); return 0; }", "300000", in, 5.0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    /* a program that never reads what we give it, and one that blocks reading a pipe forever */
    r = run_c("#include <stdio.h>\nint main(void){ puts(\"ignored\"); return 0; }", "ignored", in, 5.0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    r = run_c("#include <unistd.h>\nint main(void){ int p[2]; pipe(p); char c; read(p[0], &c, 1); return 0; }", NULL, NULL, 1.0);
    expect(&r, VF_TIMEOUT, 0.5);
    vf_result_free(&r);
    free(in);
    assert_nothing_left();
}

static void test_hostile_closes_stdout_early(void **state) {
    (void)state;
    /* closing its outputs is not the end of the program: we wait for its real exit */
    vf_result r = run_c("#include <unistd.h>\nint main(void){ close(1); close(2); usleep(300000); return 3; }", NULL, NULL, 5.0);
    expect(&r, VF_RUNTIME_ERROR, 0.5);
    assert_int_equal(r.exit_code, 3);
    assert_true(r.run_s >= 0.29);
    vf_result_free(&r);
    r = run_c("#include <unistd.h>\nint main(void){ close(1); close(2); for (;;) {} }", NULL, NULL, 1.0);
    expect(&r, VF_TIMEOUT, 0.5);
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_sandbox_identity(void **state) {
    (void)state;
    /* as root, programs run as an unprivileged uid with no capabilities */
    const char *code = "#include <stdio.h>\n#include <unistd.h>\nint main(void){ printf(\"%d\\n\", getuid() == 0 || geteuid() == 0); return 0; }";
    vf_result r = run_c(code, geteuid() == 0 && sbx_get_features()->uid_switch ? "0" : NULL, NULL, 5.0);
    assert_true(r.status == VF_CORRECT || r.status == VF_RAN);
    vf_result_free(&r);
    assert_non_null(sbx_describe());
    assert_true(strlen(sbx_describe()) > 10);
}

/* Runs one command in the sandbox and returns its stdout (owned), or NULL when it did not exit 0. */
static char *sandbox_output(const char *const *argv) {
    sbx_job job;
    memset(&job, 0, sizeof job);
    job.argv = argv;
    sbx_limits_default(&job.lim);
    sbx_result res;
    char err[256];
    assert_int_equal(sbx_run(&job, &res, err, sizeof err), 0);
    char *out = NULL;
    if (res.outcome == SBX_EXITED && res.exit_code == 0) out = strdup(res.out);
    sbx_result_free(&res);
    return out;
}

static void test_sandbox_network_namespace(void **state) {
    (void)state;
    const sbx_features *f = sbx_get_features();
    if (!f->net_ns) skip();
    /* not ours: a namespace of its own (or the process's shared one), never the host's */
    char host[128] = "";
    ssize_t hl = readlink("/proc/self/ns/net", host, sizeof host - 1);
    assert_true(hl > 0);
    const char *const link_argv[] = {"/bin/readlink", "/proc/self/ns/net", NULL};
    char *a = sandbox_output(link_argv), *b = sandbox_output(link_argv);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(strstr(a, "net:["));
    assert_null(strstr(a, host));
    assert_null(strstr(b, host));
    /* shared: every job of the process joins the same one; otherwise each job gets a new one */
    if (f->net_ns_shared) assert_string_equal(a, b);
    else assert_string_not_equal(a, b);
    free(a);
    free(b);
    /* and it is empty: a loopback and nothing else, and the loopback is down (no ::1, no local route) */
    const char *const dev_argv[] = {"/bin/cat", "/proc/net/dev", NULL};
    char *dev = sandbox_output(dev_argv);
    assert_non_null(dev);
    int ifaces = 0;
    for (char *line = strtok(dev, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        if (strchr(line, '|') || sscanf(line, " %63[^:]:", name) != 1) continue; /* the two header lines */
        assert_string_equal(name, "lo");
        ifaces++;
    }
    assert_int_equal(ifaces, 1);
    free(dev);
    if (fs_exists("/proc/net/if_inet6")) {
        const char *const v6_argv[] = {"/bin/cat", "/proc/net/if_inet6", NULL};
        char *v6 = sandbox_output(v6_argv);
        assert_non_null(v6);
        assert_string_equal(v6, "");
        free(v6);
    }
    const char *const fib_argv[] = {"/bin/cat", "/proc/net/fib_trie", NULL};
    char *fib = sandbox_output(fib_argv);
    if (fib) assert_null(strstr(fib, "127.0.0.1"));
    free(fib);
    assert_nothing_left();
}

/* Creates an empty directory or fails the test. */
static void make_dir(const char *dir, const char *name) {
    char p[512];
    assert_non_null(fs_join(p, sizeof p, dir, name));
    assert_int_equal(mkdir(p, 0755), 0);
}

static bool dir_has(const char *dir, const char *name) {
    char p[512];
    assert_non_null(fs_join(p, sizeof p, dir, name));
    struct stat st;
    return lstat(p, &st) == 0;
}

static void test_stale_dirs_removed_when_a_pool_starts(void **state) {
    (void)state;
    char base[] = "/tmp/hf-test-stale-XXXXXX";
    assert_non_null(mkdtemp(base));
    assert_int_equal(chmod(base, 0755), 0); /* as root, jobs run as another uid and must reach it */
    /* a pid that surely belongs to no process: a child of ours, reaped */
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0) _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    char stale[64], stale_file[64], stale_link[64], alive[64], victim_file[600], p[512];
    snprintf(stale, sizeof stale, "hf-sbx-%d-AbC123", (int)dead);
    snprintf(stale_file, sizeof stale_file, "hf-sbx-%d-file", (int)dead);
    snprintf(stale_link, sizeof stale_link, "hf-sbx-%d-link", (int)dead);
    snprintf(alive, sizeof alive, "hf-sbx-%d-XyZ789", (int)getpid());
    make_dir(base, stale);
    fs_join(p, sizeof p, base, stale);
    make_dir(p, "sub"); /* a job left files in it, some read-only */
    snprintf(victim_file, sizeof victim_file, "%s/sub/a.out", p);
    assert_int_equal(fs_write_atomic(victim_file, "x", 1), 0);
    chmod(victim_file, 0400);
    make_dir(base, alive);
    make_dir(base, "hf-sbx-notapid-1");
    make_dir(base, "other");
    fs_join(p, sizeof p, base, stale_file);
    assert_int_equal(fs_write_atomic(p, "x", 1), 0);
    /* a link with a stale name must not lead the cleaner into the directory it points to */
    make_dir(base, "victim");
    snprintf(victim_file, sizeof victim_file, "%s/victim/keep", base);
    assert_int_equal(fs_write_atomic(victim_file, "x", 1), 0);
    snprintf(p, sizeof p, "%s/victim", base);
    char linkp[512];
    fs_join(linkp, sizeof linkp, base, stale_link);
    assert_int_equal(symlink(p, linkp), 0);

    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", base, 1);
    vf_sample s;
    memset(&s, 0, sizeof s);
    s.completion = "```c\nint main(void){ return 0; }\n```";
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.workers = 1;
    vf_result r;
    char err[128];
    int rc = vf_verify_batch(&cfg, &s, 1, &r, NULL, NULL, err, sizeof err);
    int batch_dirs = our_temp_dirs();
    int stale_now = sbx_clean_stale_dirs();
    if (old) setenv("TMPDIR", old, 1);
    else unsetenv("TMPDIR");
    free(old);
    assert_int_equal(rc, 0);
    if (r.status != VF_COMPILED) fprintf(stderr, "%s: %s\n", vf_status_name(r.status), r.error ? r.error : "");
    assert_int_equal(r.status, VF_COMPILED);
    vf_result_free(&r);
    assert_false(dir_has(base, stale));    /* the dead process's directory, and all in it */
    assert_true(dir_has(base, alive));     /* a living process's (ours) */
    assert_true(dir_has(base, "hf-sbx-notapid-1"));
    assert_true(dir_has(base, "other"));
    assert_true(dir_has(base, stale_file)); /* not a directory: not something we made */
    assert_true(dir_has(base, stale_link));
    assert_true(fs_exists(victim_file));
    assert_int_equal(stale_now, 0); /* nothing more to do */
    /* the batch's own directories are gone too; only our test's "alive" one is left */
    assert_int_equal(batch_dirs, 1);
    assert_int_equal(fs_remove_tree(base), 0);
}

/* ---- other verifiers ---- */

static void test_execution_verifier_partial_credit(void **state) {
    (void)state;
    vf_config cfg;
    vf_config_default(&cfg, VF_EXECUTION);
    const char *code = "#include <stdio.h>\nint main(void){ long a, b; if (scanf(\"%ld %ld\", &a, &b) != 2) return 1;\n"
                       "  printf(\"%ld\\n\", a > 100 ? a - b : a + b); return 0; }";
    vf_test_case cases[] = {{"1 2", "3"}, {"10 20", "30"}, {"200 1", "201"}};
    vf_sample s = {0};
    s.completion = code;
    s.tests = cases;
    s.n_tests = 3;
    vf_result r;
    char err[128];
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    assert_int_equal(r.tests_passed, 2);
    assert_int_equal(r.tests_total, 3);
    assert_true(r.reward > 0.833 && r.reward < 0.834);
    assert_int_equal(r.status, VF_WRONG_OUTPUT);
    vf_result_free(&r);
    cfg.partial_credit = false;
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    assert_true(r.reward == 0.5);
    vf_result_free(&r);
    cases[2].expected = "199";
    cfg.partial_credit = true;
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    /* numeric and regex modes */
    cfg.match = VF_MATCH_NUMERIC;
    vf_test_case num[] = {{"1 2", "3.0000000"}};
    s.tests = num;
    s.n_tests = 1;
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_clang_verifier(void **state) {
    (void)state;
    if (!have_tool(VF_CLANG, VF_LANG_CPP)) skip();
    vf_config cfg;
    vf_config_default(&cfg, VF_CLANG);
    cfg.run = true;
    vf_result r = verify_with(&cfg, "```cpp\n#include <iostream>\nint main(){ std::cout << \"clang\" << std::endl; }\n```", "clang", NULL);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
}

static void test_mingw_verifier_compile_only(void **state) {
    (void)state;
    if (!have_tool(VF_MINGW, VF_LANG_CPP)) skip();
    vf_config cfg;
    vf_config_default(&cfg, VF_MINGW);
    cfg.run = true; /* ignored: a Windows program is only compiled */
    vf_result r = verify_with(&cfg, "```cpp\n#include <windows.h>\n#include <cstdio>\nint main(){ printf(\"%lu\\n\", GetCurrentProcessId()); return 0; }\n```", "1", NULL);
    expect(&r, VF_COMPILED, 0.5);
    vf_result_free(&r);
    r = verify_with(&cfg, "int main() { return x; }", NULL, NULL);
    expect(&r, VF_COMPILE_ERROR, 0.0);
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_python_verifier(void **state) {
    (void)state;
    if (!have_tool(VF_PYTHON, VF_LANG_PYTHON)) skip();
    vf_config cfg;
    vf_config_default(&cfg, VF_PYTHON);
    const char *he_test = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n";
    vf_sample s = {0};
    s.test_code = he_test;
    s.entry_point = "add";
    vf_result r;
    char err[128];
    s.completion = "```python\ndef add(a, b):\n    return a + b\n```";
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    /* a wrong answer fails an assertion */
    s.completion = "def add(a, b):\n    return a - b\n";
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    expect(&r, VF_WRONG_OUTPUT, 0.7);
    vf_result_free(&r);
    /* an early exit(0) is not a pass: the harness marker never comes */
    s.completion = "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)\n";
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    assert_int_not_equal(r.status, VF_CORRECT);
    assert_true(r.reward < 1.0);
    vf_result_free(&r);
    s.completion = "import os\ndef add(a, b):\n    os._exit(0)\n";
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    assert_int_not_equal(r.status, VF_CORRECT);
    vf_result_free(&r);
    /* printing a fake marker does not help either */
    s.completion = "def add(a, b):\n    print('HFDONE0000000000000000:passed')\n    raise SystemExit(0)\n";
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    assert_int_not_equal(r.status, VF_CORRECT);
    vf_result_free(&r);
    /* syntax errors score 0 */
    s.completion = "def add(a, b)\n    return a + b\n";
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    expect(&r, VF_COMPILE_ERROR, 0.0);
    vf_result_free(&r);
    /* HumanEval: a completion that continues the prompt */
    s.prompt = "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n";
    s.completion = "    return a + b\n";
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    /* HumanEval without an entry_point: the first function is checked, never nothing */
    s.prompt = NULL;
    s.entry_point = NULL;
    s.completion = "def add(a, b):\n    return a - b\n";
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), 0);
    expect(&r, VF_WRONG_OUTPUT, 0.7);
    vf_result_free(&r);
    /* MBPP: asserts at top level */
    vf_sample m = {0};
    m.completion = "def is_even(n):\n    return n % 2 == 0\n";
    m.test_code = "assert is_even(2)\nassert not is_even(3)\n";
    assert_int_equal(vf_verify(&cfg, &m, &r, err, sizeof err), 0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    /* MBPP: asserts inside a test_solution() the tests only define: it is called, so a wrong answer fails */
    m.test_code = "def test_solution():\n    assert is_even(2)\n    assert not is_even(3)\n";
    assert_int_equal(vf_verify(&cfg, &m, &r, err, sizeof err), 0);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    m.completion = "def is_even(n):\n    return True\n";
    assert_int_equal(vf_verify(&cfg, &m, &r, err, sizeof err), 0);
    expect(&r, VF_WRONG_OUTPUT, 0.7);
    vf_result_free(&r);
    /* tests that call it themselves are not called twice (a second call would print twice) */
    m.completion = "def is_even(n):\n    return n % 2 == 0\n";
    m.test_code = "def test_solution():\n    print('ran')\n    assert is_even(2)\n\ntest_solution()\n";
    assert_int_equal(vf_verify(&cfg, &m, &r, err, sizeof err), 0);
    expect(&r, VF_CORRECT, 1.0);
    assert_string_equal(r.stdout_text, "ran\n");
    vf_result_free(&r);
    /* a plain script with an expected output */
    vf_sample p = {0};
    p.completion = "print(sum(range(10)))\n";
    p.expected_output = "45";
    assert_int_equal(vf_verify(&cfg, &p, &r, err, sizeof err), 0);
    expect(&r, VF_CORRECT, 1.0);
    assert_string_equal(r.stdout_text, "45\n");
    vf_result_free(&r);
    /* infinite loop in Python */
    cfg.run_timeout_s = 1;
    p.completion = "while True:\n    pass\n";
    assert_int_equal(vf_verify(&cfg, &p, &r, err, sizeof err), 0);
    expect(&r, VF_TIMEOUT, 0.5);
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_rust_verifier(void **state) {
    (void)state;
    if (!have_tool(VF_RUST, VF_LANG_RUST)) skip();
    vf_config cfg;
    vf_config_default(&cfg, VF_RUST);
    cfg.run = true;
    vf_result r = verify_with(&cfg, "```rust\nfn main() {\n    let v: Vec<i32> = (1..=4).collect();\n    println!(\"{}\", v.iter().sum::<i32>());\n}\n```", "10", NULL);
    expect(&r, VF_CORRECT, 1.0);
    assert_int_equal(r.language, VF_LANG_RUST);
    vf_result_free(&r);
    cfg.run = false;
    r = verify_with(&cfg, "fn main() {\n    let x = 5;\n}\n", NULL, NULL);
    expect(&r, VF_COMPILED_WITH_WARNINGS, 0.3);
    vf_result_free(&r);
    r = verify_with(&cfg, "fn main() { let x: i32 = \"no\"; }\n", NULL, NULL);
    expect(&r, VF_COMPILE_ERROR, 0.0);
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_go_verifier(void **state) {
    (void)state;
    if (!have_tool(VF_GO, VF_LANG_GO)) skip();
    vf_config cfg;
    vf_config_default(&cfg, VF_GO);
    cfg.run = true;
    vf_result r = verify_with(&cfg, "```go\npackage main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(6 * 7)\n}\n```", "42", NULL);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    r = verify_with(&cfg, "package main\n\nfunc main() {\n\tx := 1\n}\n", NULL, NULL);
    expect(&r, VF_COMPILE_ERROR, 0.0);
    vf_result_free(&r);
    assert_nothing_left();
}

static void test_custom_verifier(void **state) {
    (void)state;
    vf_config cfg;
    vf_config_default(&cfg, VF_CUSTOM);
    cfg.custom_command = "grep -q main {file}";
    vf_result r = verify_with(&cfg, "int main(void) { return 0; }", NULL, NULL);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    r = verify_with(&cfg, "nothing here", NULL, NULL);
    assert_true(r.reward == 0.0);
    vf_result_free(&r);
    /* success by regex on stdout; {file} inside a word; shell characters are not interpreted */
    cfg.custom_command = "wc -l {file}";
    cfg.custom_regex = "^3 ";
    r = verify_with(&cfg, "a\nb\nc\n", NULL, NULL);
    expect(&r, VF_CORRECT, 1.0);
    vf_result_free(&r);
    cfg.custom_command = "echo {file};touch /tmp/hf_custom_pwned";
    cfg.custom_regex = NULL;
    r = verify_with(&cfg, "x", NULL, NULL);
    assert_false(fs_exists("/tmp/hf_custom_pwned"));
    vf_result_free(&r);
    /* a template without {file} is a configuration error */
    cfg.custom_command = "true";
    vf_sample s = {0};
    s.completion = "x";
    char err[256];
    assert_int_equal(vf_verify(&cfg, &s, &r, err, sizeof err), -1);
    assert_true(strstr(err, "{file}") != NULL);
    assert_nothing_left();
}

/* ---- the pool ---- */

static int progress_calls;
static void count_progress(void *user, size_t done, size_t total) {
    (void)user;
    assert_true(done <= total);
    progress_calls++;
}

static void test_pool_keeps_order_and_compiles_once(void **state) {
    (void)state;
    const char *codes[] = {
        "```c\n#include <stdio.h>\nint main(void){ puts(\"A\"); return 0; }\n```",
        "```c\n#include <stdio.h>\nint main(void){ puts(\"B\"); return 0; }\n```",
        "int main( {",
    };
    enum { N = 12 };
    vf_sample s[N];
    memset(s, 0, sizeof s);
    for (int i = 0; i < N; i++) {
        s[i].completion = codes[i % 3];
        s[i].expected_output = (i % 2) ? "A" : "B";
    }
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.workers = 2;
    vf_result r[N];
    char err[128];
    progress_calls = 0;
    assert_int_equal(vf_verify_batch(&cfg, s, N, r, count_progress, NULL, err, sizeof err), 0);
    assert_int_equal(progress_calls, N);
    int cached = 0;
    for (int i = 0; i < N; i++) {
        cached += r[i].compile_cached;
        vf_result one;
        assert_int_equal(vf_verify(&cfg, &s[i], &one, err, sizeof err), 0);
        assert_int_equal(r[i].status, one.status); /* same as verifying alone, in input order */
        assert_true(r[i].reward == one.reward);
        vf_result_free(&one);
        if (i % 3 == 2) assert_int_equal(r[i].status, VF_COMPILE_ERROR);
        else if ((i % 3 == 0) == ((i % 2) == 1)) assert_int_equal(r[i].status, VF_CORRECT);
        else assert_int_equal(r[i].status, VF_WRONG_OUTPUT);
        vf_result_free(&r[i]);
    }
    assert_int_equal(cached, N - 3); /* three distinct sources */
    assert_nothing_left();
}

static void test_pool_fork_bomb_does_not_fail_its_neighbours(void **state) {
    (void)state;
    const char *bomb = "#include <unistd.h>\nint main(void){ for (;;) fork(); }\n";
    const char *hello = "#include <stdio.h>\nint main(void){ puts(\"ok\"); return 0; }\n";
    enum { N = 6 };
    vf_sample s[N];
    memset(s, 0, sizeof s);
    for (int i = 0; i < N; i++) {
        s[i].completion = i % 3 == 0 ? bomb : hello;
        s[i].expected_output = "ok";
    }
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.run_timeout_s = 1.0 * slack();
    cfg.workers = 3;
    vf_result r[N];
    char err[128];
    assert_int_equal(vf_verify_batch(&cfg, s, N, r, NULL, NULL, err, sizeof err), 0);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) assert_int_equal(r[i].status, VF_TIMEOUT);
        else expect(&r[i], VF_CORRECT, 1.0);
        vf_result_free(&r[i]);
    }
    assert_nothing_left();
}

static void test_result_json(void **state) {
    (void)state;
    vf_result r = run_c(HELLO_C, "hello", NULL, 5);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "x1");
    cJSON_AddNumberToObject(o, "reward", -1); /* replaced, not duplicated */
    vf_result_to_json(&r, o);
    assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, "x1");
    assert_true(cJSON_GetObjectItem(o, "reward")->valuedouble == 1.0);
    assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "correct");
    assert_string_equal(cJSON_GetObjectItem(o, "actual_output")->valuestring, "hello\n");
    assert_string_equal(cJSON_GetObjectItem(o, "language")->valuestring, "c");
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, o) if (!strcmp(it->string, "reward")) n++;
    assert_int_equal(n, 1);
    cJSON_Delete(o);
    vf_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract_fences_with_any_tag),
        cmocka_unit_test(test_extract_code_tags_include_span_and_raw),
        cmocka_unit_test(test_detect_language),
        cmocka_unit_test(test_output_match_modes),
        cmocka_unit_test(test_names_and_ladder),
        cmocka_unit_test(test_ladder_compile_only),
        cmocka_unit_test(test_ladder_runs),
        cmocka_unit_test(test_cpp_is_compiled_as_cpp_and_c_as_c),
        cmocka_unit_test(test_sandbox_error_when_compiler_missing),
        cmocka_unit_test(test_hostile_infinite_loop),
        cmocka_unit_test(test_hostile_sleep_forever),
        cmocka_unit_test(test_hostile_fork_bomb),
        cmocka_unit_test(test_hostile_child_left_running),
        cmocka_unit_test(test_hostile_output_flood),
        cmocka_unit_test(test_hostile_memory_bomb),
        cmocka_unit_test(test_hostile_disk_fill),
        cmocka_unit_test(test_hostile_network),
        cmocka_unit_test(test_hostile_write_outside),
        cmocka_unit_test(test_hostile_stdin),
        cmocka_unit_test(test_hostile_closes_stdout_early),
        cmocka_unit_test(test_sandbox_identity),
        cmocka_unit_test(test_sandbox_network_namespace),
        cmocka_unit_test(test_stale_dirs_removed_when_a_pool_starts),
        cmocka_unit_test(test_execution_verifier_partial_credit),
        cmocka_unit_test(test_clang_verifier),
        cmocka_unit_test(test_mingw_verifier_compile_only),
        cmocka_unit_test(test_python_verifier),
        cmocka_unit_test(test_rust_verifier),
        cmocka_unit_test(test_go_verifier),
        cmocka_unit_test(test_custom_verifier),
        cmocka_unit_test(test_pool_keeps_order_and_compiles_once),
        cmocka_unit_test(test_pool_fork_bomb_does_not_fail_its_neighbours),
        cmocka_unit_test(test_result_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
