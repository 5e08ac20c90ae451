/* Tests of src/model/hub.c against tests/hub_server.py, a local stand-in for the Hugging Face Hub that
 * serves tiny repositories with the Hub's URLs and headers (redirects to a CDN on another port, ETags,
 * Range, tokens, cut connections). Each test uses its own cache folder; the server runs for the whole file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/fs.h"
#include "model/hub.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#define REPO "tiny-org/tiny-model"
#define STORAGE "models--tiny-org--tiny-model"

static char tmpdir[PATH_MAX], fixture[PATH_MAX], logpath[PATH_MAX], python[PATH_MAX];
static char endpoint[128];
static pid_t server_pid = -1;
static int server_stdin = -1;
/* Kept open until the server stops: closing it early can kill the server with SIGPIPE/EPIPE if it
 * writes to stdout again (seen under load). */
static int server_stdout = -1;
static int cache_counter;
static char cache[PATH_MAX]; /* HF_HOME of the current test */

/* snprintf without the truncation warnings: every path here is short, a cut one would fail the test */
static void fmt(char *out, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *out, size_t cap, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    vsnprintf(out, cap, f, ap);
    va_end(ap);
}

static void run_or_die(char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s failed\n", argv[0]);
        exit(1);
    }
}

static int stop_server(void **state);
static int start_server(void **state) {
    (void)state;
    const char *src = getenv("HF_SOURCE_DIR");
    if (!src) src = HF_SOURCE_DIR;
    if (access("/usr/bin/python3", X_OK) == 0) fmt(python, sizeof python, "/usr/bin/python3");
    else if (!fs_which("python3", python, sizeof python)) return -1;
    fmt(tmpdir, sizeof tmpdir, "/tmp/hf_hub_test_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    char script[PATH_MAX];
    fmt(script, sizeof script, "%s/tests/hub_server.py", src);
    fmt(fixture, sizeof fixture, "%s/repos", tmpdir);
    fmt(logpath, sizeof logpath, "%s/requests.log", tmpdir);
    char *mk[] = {python, script, "--make-fixture", fixture, NULL};
    run_or_die(mk);
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return -1;
    server_pid = fork();
    if (server_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        char *argv[] = {python, script, "--root", fixture, "--log", logpath, "--lifetime", "240", "--watch-stdin", NULL};
        execv(python, argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    server_stdin = in[1];
    struct pollfd p = {out[0], POLLIN, 0};
    char line[128] = "";
    int pr;
    while ((pr = poll(&p, 1, 60000)) < 0 && errno == EINTR) {}
    if (pr != 1 || read(out[0], line, sizeof line - 1) <= 0) {
        fprintf(stderr, "the test Hub server did not start\n");
        stop_server(NULL);
        return -1;
    }
    server_stdout = out[0];
    int port = atoi(line);
    if (port <= 0) {
        fprintf(stderr, "the test Hub server printed '%s', not its port\n", line);
        stop_server(NULL);
        return -1;
    }
    fmt(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
    return 0;
}

static int stop_server(void **state) {
    (void)state;
    if (server_pid > 0) {
        close(server_stdin);
        if (server_stdout >= 0) close(server_stdout);
        server_stdout = -1;
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    fs_remove_tree(tmpdir);
    return 0;
}

/* Before each test: a fresh, empty cache; no token, online, the server's default behaviour. */
static void control(const char *query);
static int fresh_env(void **state) {
    (void)state;
    fmt(cache, sizeof cache, "%s/hf%d", tmpdir, ++cache_counter);
    setenv("HF_HOME", cache, 1);
    setenv("HF_ENDPOINT", endpoint, 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("HF_TOKEN");
    unsetenv("HUGGING_FACE_HUB_TOKEN");
    unsetenv("HF_TOKEN_PATH");
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("TRANSFORMERS_OFFLINE");
    control("/_test/reset");
    return 0;
}

static size_t discard(char *p, size_t s, size_t n, void *u) { (void)p; (void)u; return s * n; }

static void control(const char *query) {
    char url[256];
    fmt(url, sizeof url, "%s%s", endpoint, query);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    assert_int_equal(rc, CURLE_OK);
}

static void clear_log(void) {
    FILE *f = fopen(logpath, "w");
    assert_non_null(f);
    fclose(f);
}

/* Number of logged requests containing needle (all requests for ""). */
static int log_count(const char *needle) {
    char *text = fs_read_file(logpath, NULL);
    if (!text) return 0;
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, needle)) n++;
    free(text);
    return n;
}

static int log_count_both(const char *a, const char *b) {
    char *text = fs_read_file(logpath, NULL);
    if (!text) return 0;
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, a) && strstr(line, b)) n++;
    free(text);
    return n;
}

static hub_options test_options(void) {
    hub_options o;
    hub_options_init(&o);
    o.retry_base_ms = 10;
    o.max_retries = 2;
    o.connect_timeout_s = 5;
    o.stall_timeout_s = 10;
    o.no_progress = true;
    return o;
}

static int resolve(const char *model, char *dir, char *err) {
    hub_options o = test_options();
    return hub_resolve(model, dir, PATH_MAX, &o, err, 2048);
}

static char *fixture_file(const char *branch, const char *name, size_t *len) {
    char p[PATH_MAX];
    fmt(p, sizeof p, "%s/%s/%s/%s", fixture, REPO, branch, name);
    return fs_read_file(p, len);
}

static void sha256_of_file(const char *path, char out[65]) {
    char cmd[PATH_MAX + 32];
    fmt(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_non_null(fgets(out, 65, f));
    pclose(f);
}

/* Checks that dir/name is a relative symlink to ../../blobs/ETAG holding the fixture's bytes. */
static void assert_cached_file(const char *dir, const char *branch, const char *name) {
    char p[PATH_MAX], target[PATH_MAX];
    fmt(p, sizeof p, "%s/%s", dir, name);
    ssize_t n = readlink(p, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_memory_equal(target, "../../blobs/", 12);
    size_t la, lb;
    char *a = fs_read_file(p, &la), *b = fixture_file(branch, name, &lb);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
    size_t nl = strlen(name);
    if (nl > 12 && !strcmp(name + nl - 12, ".safetensors")) { /* LFS blobs are named by their sha256 */
        char hex[65];
        sha256_of_file(p, hex);
        assert_string_equal(target + 12, hex);
    }
}

static void snapshot_commit(const char *dir, char *commit) {
    const char *c = strrchr(dir, '/') + 1;
    assert_true(hub_is_commit_hash(c));
    strcpy(commit, c);
}

static void test_ids_and_local_folders(void **state) {
    (void)state;
    char id[128], rev[256], err[512];
    assert_int_equal(hub_parse_id("Qwen/Qwen2.5-Coder-0.5B", id, sizeof id, rev, sizeof rev, err, sizeof err), 0);
    assert_string_equal(id, "Qwen/Qwen2.5-Coder-0.5B");
    assert_string_equal(rev, "");
    assert_int_equal(hub_parse_id("Qwen/Qwen2.5-Coder-0.5B@refs/pr/3", id, sizeof id, rev, sizeof rev, err, sizeof err), 0);
    assert_string_equal(rev, "refs/pr/3");
    const char *bad[] = {"Qwen", "a/b/c", "a/b@", "-a/b", "a/b.", "a--b/c", "a/b..c", "a b/c", "a/b@../x", "a/b@x y", "/b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(hub_parse_id(bad[i], id, sizeof id, rev, sizeof rev, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    assert_true(hub_is_commit_hash("0123456789abcdef0123456789abcdef01234567"));
    assert_false(hub_is_commit_hash("main"));
    assert_false(hub_is_commit_hash("0123456789ABCDEF0123456789abcdef01234567"));

    char dir[PATH_MAX], e[2048];
    assert_int_equal(resolve(tmpdir, dir, e), 0); /* an existing folder is used as is, no network */
    assert_string_equal(dir, tmpdir);
    assert_int_equal(resolve("./no/such/folder", dir, e), -1);
    assert_non_null(strstr(e, "no such model folder"));
    assert_int_equal(resolve("not an id", dir, e), -1);
    assert_non_null(strstr(e, "ORG/NAME"));
    char file[PATH_MAX];
    fmt(file, sizeof file, "%s/" REPO "/main/config.json", fixture);
    assert_int_equal(resolve(file, dir, e), -1); /* a file is not a model folder */
    assert_non_null(strstr(e, "not a model folder"));

    char c[PATH_MAX];
    setenv("HF_HUB_CACHE", "~/somewhere", 1);
    assert_int_equal(hub_cache_dir(NULL, c, sizeof c), 0);
    assert_non_null(strstr(c, "/somewhere"));
    assert_true(c[0] == '/');
    unsetenv("HF_HUB_CACHE");
    assert_int_equal(hub_cache_dir(NULL, c, sizeof c), 0);
    char want[PATH_MAX];
    fmt(want, sizeof want, "%s/hub", cache);
    assert_string_equal(c, want);
}

static void test_download_makes_huggingface_hub_layout(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048], commit[64], p[PATH_MAX];
    clear_log();
    assert_int_equal(resolve(REPO, dir, err), 0);
    fmt(p, sizeof p, "%s/hub/" STORAGE "/snapshots/", cache);
    assert_memory_equal(dir, p, strlen(p));
    snapshot_commit(dir, commit);
    fmt(p, sizeof p, "%s/hub/" STORAGE "/refs/main", cache);
    char *ref = fs_read_file(p, NULL);
    assert_non_null(ref);
    assert_string_equal(ref, commit); /* the commit, without a newline, as huggingface_hub writes it */
    free(ref);
    const char *files[] = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                           "model.safetensors"};
    for (int i = 0; i < 5; i++) assert_cached_file(dir, "main", files[i]);
    fmt(p, sizeof p, "%s/README.md", dir);
    assert_false(fs_exists(p)); /* only what halo-forge reads is fetched */
    fmt(p, sizeof p, "%s/hub/.locks/" STORAGE, cache);
    assert_true(fs_is_dir(p));
    char cmd[PATH_MAX + 64];
    fmt(cmd, sizeof cmd, "find '%s' -name '*.incomplete' | grep -q .", cache);
    assert_int_not_equal(system(cmd), 0);
    assert_int_equal(log_count("auth=yes"), 0); /* no token configured, none sent */
    assert_int_equal(log_count("cdn GET /repos/"), 1);

    /* Second run: one API request to follow the branch, no file requests at all. */
    clear_log();
    char dir2[PATH_MAX];
    assert_int_equal(resolve(REPO, dir2, err), 0);
    assert_string_equal(dir, dir2);
    assert_int_equal(log_count(""), 1);
    assert_int_equal(log_count("/api/models/" REPO "/revision/main"), 1);
    /* By commit hash: no request of any kind. */
    clear_log();
    char byhash[256];
    fmt(byhash, sizeof byhash, REPO "@%s", commit);
    assert_int_equal(resolve(byhash, dir2, err), 0);
    assert_string_equal(dir, dir2);
    assert_int_equal(log_count(""), 0);

    /* A snapshot file lost from the cache is fetched again (its blob is still there: no body download). */
    fmt(p, sizeof p, "%s/tokenizer.json", dir);
    assert_int_equal(unlink(p), 0);
    clear_log();
    assert_int_equal(resolve(REPO, dir2, err), 0);
    assert_cached_file(dir, "main", "tokenizer.json");
    assert_int_equal(log_count("HEAD /" REPO "/resolve/"), 1);
    assert_int_equal(log_count(" GET /api/resolve-cache"), 0);
}

static void test_resume_after_cut(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048];
    control("/_test/set?cut=100000&cuts=1");
    hub_options o = test_options();
    o.max_retries = 0;
    assert_int_equal(hub_resolve(REPO, dir, sizeof dir, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "model.safetensors"));
    assert_non_null(strstr(err, "resume"));
    char cmd[PATH_MAX + 128], line[PATH_MAX];
    fmt(cmd, sizeof cmd, "find '%s' -name '*.incomplete'", cache);
    FILE *f = popen(cmd, "r");
    assert_non_null(fgets(line, sizeof line, f));
    pclose(f);
    line[strcspn(line, "\n")] = '\0';
    struct stat st;
    assert_int_equal(stat(line, &st), 0);
    assert_int_equal(st.st_size, 100000); /* the partial blob is kept */

    clear_log();
    assert_int_equal(resolve(REPO, dir, err), 0);
    assert_int_equal(log_count("range=bytes=100000-"), 1); /* resumed, not restarted */
    assert_cached_file(dir, "main", "model.safetensors");
    assert_false(fs_exists(line));
}

static void test_cut_and_503_are_retried_in_one_run(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048];
    control("/_test/set?cut=50000&cuts=2&fail=1");
    clear_log();
    assert_int_equal(resolve(REPO, dir, err), 0);
    assert_cached_file(dir, "main", "model.safetensors");
    assert_cached_file(dir, "main", "config.json");
    assert_int_equal(log_count("range=bytes=50000-"), 1);
    assert_int_equal(log_count("range=bytes=100000-"), 1);
}

static void test_stalled_transfer_times_out_and_is_retried(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048];
    control("/_test/set?stall=20");
    hub_options o = test_options();
    o.stall_timeout_s = 1;
    clear_log();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(hub_resolve(REPO, dir, sizeof dir, &o, err, sizeof err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 15); /* gave up on the silent server long before it woke up */
    assert_cached_file(dir, "main", "model.safetensors");
    assert_int_equal(log_count("cdn GET"), 2);
}

static void test_expired_cdn_address_is_refreshed(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048];
    control("/_test/set?cdn403=1");
    clear_log();
    assert_int_equal(resolve(REPO, dir, err), 0);
    assert_cached_file(dir, "main", "model.safetensors");
    assert_int_equal(log_count("HEAD /" REPO "/resolve/"), 5 + 1); /* one more HEAD for a fresh address */
    fresh_env(NULL);
    control("/_test/set?cdn403=5");
    assert_int_equal(resolve(REPO, dir, err), -1);
    assert_non_null(strstr(err, "model.safetensors"));
    assert_non_null(strstr(err, "403"));
}

static void test_offline(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048], dir2[PATH_MAX];
    setenv("HF_HUB_OFFLINE", "1", 1);
    clear_log();
    assert_int_equal(resolve(REPO, dir, err), -1);
    assert_non_null(strstr(err, "HF_HUB_OFFLINE"));
    assert_non_null(strstr(err, "not in the cache"));
    assert_int_equal(log_count(""), 0);

    unsetenv("HF_HUB_OFFLINE");
    assert_int_equal(resolve(REPO, dir, err), 0);
    setenv("HF_HUB_OFFLINE", "1", 1);
    clear_log();
    assert_int_equal(resolve(REPO, dir2, err), 0);
    assert_string_equal(dir, dir2);
    assert_int_equal(log_count(""), 0);

    char p[PATH_MAX];
    fmt(p, sizeof p, "%s/tokenizer.json", dir);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(resolve(REPO, dir2, err), -1);
    assert_non_null(strstr(err, "lacks: tokenizer.json"));
    assert_int_equal(resolve(REPO "@v1", dir2, err), -1);
    assert_non_null(strstr(err, "@v1"));
    assert_int_equal(log_count(""), 0);
    unsetenv("HF_HUB_OFFLINE");
}

static void test_unreachable_endpoint_falls_back_to_cache(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048], dir2[PATH_MAX];
    assert_int_equal(resolve(REPO, dir, err), 0);
    /* a port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    char dead[128];
    fmt(dead, sizeof dead, "http://127.0.0.1:%d", ntohs(a.sin_port));
    setenv("HF_ENDPOINT", dead, 1);
    assert_int_equal(resolve(REPO, dir2, err), 0);
    assert_string_equal(dir, dir2);
    assert_int_equal(resolve(REPO "@v1", dir2, err), -1);
    assert_non_null(strstr(err, "cannot reach"));
    setenv("HF_ENDPOINT", endpoint, 1);
}

static void test_tokens(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048];
    control("/_test/set?token=s3cret");
    assert_int_equal(resolve(REPO, dir, err), -1);
    assert_non_null(strstr(err, "HF_TOKEN"));
    assert_non_null(strstr(err, "401"));

    setenv("HF_TOKEN", "wrong", 1);
    assert_int_equal(resolve(REPO, dir, err), -1);
    assert_non_null(strstr(err, "refused the token from $HF_TOKEN"));
    assert_non_null(strstr(err, "401"));
    assert_null(strstr(err, "wrong")); /* the token itself is never printed */

    setenv("HF_TOKEN", "s3cret", 1);
    clear_log();
    assert_int_equal(resolve(REPO, dir, err), 0);
    assert_cached_file(dir, "main", "model.safetensors");
    assert_true(log_count("hub ") > 0);
    assert_int_equal(log_count("hub ") , log_count("auth=yes"));
    assert_int_equal(log_count("cdn GET"), 1);
    assert_int_equal(log_count_both("cdn ", "auth=yes"), 0); /* the token never goes to the CDN */

    /* the token file under HF_HOME works too */
    unsetenv("HF_TOKEN");
    fresh_env(NULL);
    control("/_test/set?token=s3cret");
    assert_int_equal(fs_mkdirs(cache), 0);
    char p[PATH_MAX];
    fmt(p, sizeof p, "%s/token", cache);
    assert_int_equal(fs_write_atomic(p, "s3cret\n", 7), 0);
    assert_int_equal(resolve(REPO, dir, err), 0);

    /* a gated repo: the model info is public, the files need a token */
    fresh_env(NULL);
    control("/_test/set?token=s3cret&gated=1");
    assert_int_equal(resolve(REPO, dir, err), -1);
    assert_non_null(strstr(err, "gated"));
    assert_non_null(strstr(err, "HF_TOKEN"));
}

static void test_not_found(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048];
    assert_int_equal(resolve("tiny-org/no-such-model", dir, err), -1);
    assert_non_null(strstr(err, "not found"));
    assert_non_null(strstr(err, "404"));
    assert_non_null(strstr(err, "tiny-org/no-such-model"));
    assert_int_equal(resolve(REPO "@no-such-branch", dir, err), -1);
    assert_non_null(strstr(err, "revision 'no-such-branch' not found"));
    assert_int_equal(resolve("tiny-org/bin-only", dir, err), -1);
    assert_non_null(strstr(err, "safetensors"));
}

static void test_branch_commit_and_shards(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048], commit[64], p[PATH_MAX], dir_main[PATH_MAX];
    assert_int_equal(resolve(REPO "@v1", dir, err), 0);
    assert_int_equal(resolve(REPO, dir_main, err), 0);
    assert_string_not_equal(dir, dir_main); /* another branch, another commit */
    snapshot_commit(dir, commit);
    fmt(p, sizeof p, "%s/hub/" STORAGE "/refs/v1", cache);
    char *ref = fs_read_file(p, NULL);
    assert_string_equal(ref, commit);
    free(ref);
    const char *files[] = {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json",
                           "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    for (int i = 0; i < 6; i++) assert_cached_file(dir, "v1", files[i]);
    /* v1 has no generation_config.json: recorded as known-absent, as huggingface_hub does */
    fmt(p, sizeof p, "%s/hub/" STORAGE "/.no_exist/%s/generation_config.json", cache, commit);
    assert_true(fs_exists(p));
    /* the same commit asked for by hash (the --revision option overrides the id's) */
    hub_options o = test_options();
    o.revision = commit;
    char dir2[PATH_MAX];
    clear_log();
    assert_int_equal(hub_resolve(REPO "@main", dir2, sizeof dir2, &o, err, sizeof err), 0);
    assert_string_equal(dir, dir2);
    assert_int_equal(log_count(""), 0);
    /* the blobs shared by both commits are stored once */
    fmt(p, sizeof p, "ls '%s/hub/" STORAGE "/blobs' | wc -l", cache);
    FILE *f = popen(p, "r");
    int nblobs = 0;
    assert_int_equal(fscanf(f, "%d", &nblobs), 1);
    pclose(f);
    assert_int_equal(nblobs, 5 + 6 - 2); /* tokenizer.json and tokenizer_config.json are identical */
}

static void test_adapter_repo(void **state) {
    (void)state;
    char dir[PATH_MAX], err[2048], p[PATH_MAX];
    assert_int_equal(resolve("tiny-org/tiny-adapter", dir, err), 0);
    fmt(p, sizeof p, "%s/adapter_config.json", dir);
    assert_true(fs_exists(p));
    fmt(p, sizeof p, "%s/adapter_model.safetensors", dir);
    assert_true(fs_exists(p));
    setenv("HF_HUB_OFFLINE", "1", 1);
    char dir2[PATH_MAX];
    assert_int_equal(resolve("tiny-org/tiny-adapter", dir2, err), 0);
    assert_string_equal(dir, dir2);
    unsetenv("HF_HUB_OFFLINE");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ids_and_local_folders, fresh_env),
        cmocka_unit_test_setup(test_download_makes_huggingface_hub_layout, fresh_env),
        cmocka_unit_test_setup(test_resume_after_cut, fresh_env),
        cmocka_unit_test_setup(test_cut_and_503_are_retried_in_one_run, fresh_env),
        cmocka_unit_test_setup(test_stalled_transfer_times_out_and_is_retried, fresh_env),
        cmocka_unit_test_setup(test_expired_cdn_address_is_refreshed, fresh_env),
        cmocka_unit_test_setup(test_offline, fresh_env),
        cmocka_unit_test_setup(test_unreachable_endpoint_falls_back_to_cache, fresh_env),
        cmocka_unit_test_setup(test_tokens, fresh_env),
        cmocka_unit_test_setup(test_not_found, fresh_env),
        cmocka_unit_test_setup(test_branch_commit_and_shards, fresh_env),
        cmocka_unit_test_setup(test_adapter_repo, fresh_env),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
