/* Verification throughput and sandbox overhead.
 *
 *   bench_verify [ROUNDS] [--overhead-only]
 *
 * 1. Verifies 128 samples (the 16 built-in benchmark prompts x 8 plausible completions: correct,
 *    duplicated, re-formatted, wrong output, compile error, warnings, crash, plain C) with --run,
 *    once with 1 worker and once with one worker per core; prints samples/s and the ratio.
 * 2. Runs one compiled program ROUNDS times (default 50) in the sandbox and with a bare
 *    fork+exec+wait (stdout to a pipe, read to the end), and prints the overhead per run.
 * 3. Runs 4 x ROUNDS sandboxed jobs of that program on 1 thread and on one thread per core, and
 *    prints jobs/s and the ratio: how the sandbox alone scales, without compilers in the way.
 * Medians of 3 repetitions for parts 2 and 3; part 1 is one pass each (it takes a while).
 * HF_SANDBOX=minimal (no namespaces) and HF_SANDBOX=net-per-job (a fresh network namespace per job
 * instead of the shared one) give the figures to compare with. */
#include "core/timing.h"
#include "verify/sbx.h"
#include "verify/verify.h"
#include "verify/vf_internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    const char *id, *headers, *body, *expected;
} prompt;

/* The 16 prompts of the original's benchmark, each with a correct C++ answer. */
static const prompt PROMPTS[16] = {
    {"hello_world", "#include <iostream>\n", "    std::cout << \"Hello, World!\" << std::endl;\n", "Hello, World!"},
    {"sum_function", "#include <iostream>\nint sum(int a, int b) { return a + b; }\n", "    std::cout << sum(5, 3) << std::endl;\n", "8"},
    {"count_1_to_5", "#include <iostream>\n", "    for (int i = 1; i <= 5; i++) std::cout << i << \"\\n\";\n", "1\n2\n3\n4\n5"},
    {"factorial", "#include <iostream>\n", "    long f = 1;\n    for (int i = 2; i <= 6; i++) f *= i;\n    std::cout << f << std::endl;\n", "720"},
    {"fibonacci", "#include <iostream>\n", "    long a = 0, b = 1;\n    for (int i = 0; i < 10; i++) { std::cout << a << (i < 9 ? \" \" : \"\\n\"); long t = a + b; a = b; b = t; }\n", "0 1 1 2 3 5 8 13 21 34"},
    {"reverse_string", "#include <iostream>\n#include <string>\n#include <algorithm>\n", "    std::string s = \"hello\";\n    std::reverse(s.begin(), s.end());\n    std::cout << s << std::endl;\n", "olleh"},
    {"is_prime", "#include <iostream>\n", "    int n = 17; bool p = n > 1;\n    for (int d = 2; d * d <= n; d++) if (n % d == 0) p = false;\n    std::cout << (p ? \"yes\" : \"no\") << std::endl;\n", "yes"},
    {"array_sum", "#include <iostream>\n", "    int a[] = {1, 2, 3, 4, 5}; int s = 0;\n    for (int x : a) s += x;\n    std::cout << s << std::endl;\n", "15"},
    {"max_element", "#include <iostream>\n#include <vector>\n#include <algorithm>\n", "    std::vector<int> v{3, 1, 4, 1, 5, 9, 2, 6};\n    std::cout << *std::max_element(v.begin(), v.end()) << std::endl;\n", "9"},
    {"bubble_sort", "#include <iostream>\n", "    int a[] = {5, 2, 8, 1, 9}; int n = 5;\n    for (int i = 0; i < n; i++) for (int j = 0; j + 1 < n - i; j++) if (a[j] > a[j + 1]) { int t = a[j]; a[j] = a[j + 1]; a[j + 1] = t; }\n    for (int i = 0; i < n; i++) std::cout << a[i] << (i + 1 < n ? \" \" : \"\\n\");\n", "1 2 5 8 9"},
    {"gcd", "#include <iostream>\nint gcd(int a, int b) { return b ? gcd(b, a % b) : a; }\n", "    std::cout << gcd(48, 18) << std::endl;\n", "6"},
    {"binary_search", "#include <iostream>\n", "    int a[] = {1, 3, 5, 7, 9, 11}; int lo = 0, hi = 5, r = -1;\n    while (lo <= hi) { int m = (lo + hi) / 2; if (a[m] == 7) { r = m; break; } if (a[m] < 7) lo = m + 1; else hi = m - 1; }\n    std::cout << r << std::endl;\n", "3"},
    {"palindrome", "#include <iostream>\n#include <string>\n", "    std::string s = \"racecar\";\n    std::cout << (std::string(s.rbegin(), s.rend()) == s ? \"yes\" : \"no\") << std::endl;\n", "yes"},
    {"count_vowels", "#include <iostream>\n#include <string>\n", "    std::string s = \"hello world\"; int n = 0;\n    for (char c : s) if (std::string(\"aeiou\").find(c) != std::string::npos) n++;\n    std::cout << n << std::endl;\n", "3"},
    {"power_function", "#include <iostream>\n", "    long p = 1;\n    for (int i = 0; i < 10; i++) p *= 2;\n    std::cout << p << std::endl;\n", "1024"},
    {"linked_list_sum", "#include <iostream>\nstruct Node { int v; Node *next; };\n", "    Node c{3, nullptr}, b{2, &c}, a{1, &b}; int s = 0;\n    for (Node *n = &a; n; n = n->next) s += n->v;\n    std::cout << s << std::endl;\n", "6"},
};

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) abort();
    va_end(ap);
    return s;
}

/* Eight completions per prompt, the mix an RL batch sees. */
static char *completion(const prompt *p, int k) {
    switch (k) {
    case 0:
    case 1: /* the same answer twice (sampling repeats itself) */
        return fmt("Here is the program:\n```cpp\n%sint main() {\n%s    return 0;\n}\n```\n", p->headers, p->body);
    case 2: /* same code, other words and fence tag: the same source after extraction */
        return fmt("```C++\n%sint main() {\n%s    return 0;\n}\n```\nThis prints the answer.", p->headers, p->body);
    case 3: /* wrong output */
        return fmt("```cpp\n#include <iostream>\nint main() {\n    std::cout << \"%s?\" << std::endl;\n    return 0;\n}\n```", p->id);
    case 4: /* does not compile */
        return fmt("```cpp\n%sint main() {\n%s    return 0\n}\n```", p->headers, p->body);
    case 5: /* warnings, still correct */
        return fmt("```cpp\n%sint main() {\n    int unused;\n%s    return 0;\n}\n```", p->headers, p->body);
    case 6: /* crashes */
        return fmt("```cpp\n%sint main() {\n    volatile int *q = nullptr;\n    *q = 1;\n%s    return 0;\n}\n```", p->headers, p->body);
    default: /* plain C printing the answer */
        return fmt("```c\n#include <stdio.h>\nint main(void) {\n    puts(\"%s\");\n    return 0;\n}\n```", "x");
    }
}

static double batch_rate(vf_sample *s, size_t n, int workers, double *mean_reward, int *cached) {
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    cfg.run = true;
    cfg.workers = workers;
    vf_result *r = calloc(n, sizeof *r);
    char err[256];
    double t0 = time_now();
    if (vf_verify_batch(&cfg, s, n, r, NULL, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "bench_verify: %s\n", err);
        exit(1);
    }
    double el = time_now() - t0;
    double sum = 0;
    *cached = 0;
    for (size_t i = 0; i < n; i++) {
        sum += r[i].reward;
        *cached += r[i].compile_cached;
        vf_result_free(&r[i]);
    }
    free(r);
    *mean_reward = sum / (double)n;
    return (double)n / el;
}

static double bare_run(const char *bin) {
    int p[2];
    if (pipe(p) != 0) abort();
    double t0 = time_now();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[4096];
    while (read(p[0], buf, sizeof buf) > 0) {}
    close(p[0]);
    waitpid(pid, NULL, 0);
    return time_now() - t0;
}

static double sandbox_run(const char *bin) {
    const char *argv[] = {bin, NULL};
    sbx_job job;
    memset(&job, 0, sizeof job);
    job.argv = argv;
    sbx_limits_default(&job.lim);
    sbx_result r;
    char err[256];
    double t0 = time_now();
    if (sbx_run(&job, &r, err, sizeof err) != 0) {
        fprintf(stderr, "bench_verify: %s\n", err);
        exit(1);
    }
    double el = time_now() - t0;
    sbx_result_free(&r);
    return el;
}

typedef struct {
    const char *bin;
    atomic_int left;
} job_queue;

static void *job_worker(void *arg) {
    job_queue *q = arg;
    while (atomic_fetch_sub(&q->left, 1) > 0) sandbox_run(q->bin);
    return NULL;
}

/* jobs/s running `jobs` sandboxed runs of bin on `threads` threads */
static double parallel_rate(const char *bin, int jobs, int threads) {
    job_queue q = {bin, jobs};
    pthread_t t[64];
    if (threads > 64) threads = 64;
    double t0 = time_now();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, job_worker, &q) != 0) abort();
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return jobs / (time_now() - t0);
}

/* CPU seconds used by this process and its reaped children: unlike wall time, it barely moves
 * when other work shares the machine. */
static double cpu_used(void) {
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec + b.ru_stime.tv_usec) * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median3(double a, double b, double c) {
    double v[3] = {a, b, c};
    qsort(v, 3, sizeof v[0], cmp_double);
    return v[1];
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    bool skip_batch = argc > 2 && !strcmp(argv[2], "--overhead-only");
    if (rounds < 1) rounds = 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_verify: %ld cores; sandbox: %s\n", cores, sbx_describe());

    enum { N = 128 };
    vf_sample s[N];
    char *texts[N];
    memset(s, 0, sizeof s);
    for (int i = 0; i < N; i++) {
        const prompt *p = &PROMPTS[i / 8];
        texts[i] = completion(p, i % 8);
        s[i].completion = texts[i];
        s[i].expected_output = (i % 8 == 7) ? "x" : p->expected;
    }
    double m1, mn;
    int c1, cn;
    if (skip_batch) goto overhead;
    double r1 = batch_rate(s, N, 1, &m1, &c1);
    printf("verify 128 samples (--run), 1 worker:      %6.2f samples/s  (mean reward %.3f, %d compiles reused)\n", r1, m1, c1);
    double rn = batch_rate(s, N, 0, &mn, &cn);
    printf("verify 128 samples (--run), %ld workers:     %6.2f samples/s  (mean reward %.3f)\n", cores, rn, mn);
    printf("ratio all cores / 1 worker: %.2fx (target >= 1.8x on 2 cores)\n", rn / r1);

overhead:;
    /* sandbox overhead on one compiled program */
    vf_config cfg;
    vf_config_default(&cfg, VF_GCC);
    vf_unit u;
    memset(&u, 0, sizeof u);
    if (vf_compile(&cfg, "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n", VF_LANG_C, &u) != 0 || !u.ok) {
        fprintf(stderr, "bench_verify: cannot compile the probe program: %s\n", u.error ? u.error : "?");
        return 1;
    }
    double bare[3], sbx[3], bare_cpu[3], sbx_cpu[3];
    for (int rep = 0; rep < 3; rep++) {
        double tb = 0, ts = 0, cb = 0, cs = 0;
        for (int i = 0; i < rounds; i++) {
            double c0 = cpu_used();
            tb += bare_run(u.binary);
            double c1 = cpu_used();
            ts += sandbox_run(u.binary);
            double c2 = cpu_used();
            cb += c1 - c0;
            cs += c2 - c1;
        }
        bare[rep] = tb / rounds;
        sbx[rep] = ts / rounds;
        bare_cpu[rep] = cb / rounds;
        sbx_cpu[rep] = cs / rounds;
    }
    double b = median3(bare[0], bare[1], bare[2]), x = median3(sbx[0], sbx[1], sbx[2]);
    double bc = median3(bare_cpu[0], bare_cpu[1], bare_cpu[2]), xc = median3(sbx_cpu[0], sbx_cpu[1], sbx_cpu[2]);
    printf("run one program (%d rounds, median of 3): bare fork+exec %.2f ms, sandbox %.2f ms wall\n", rounds, b * 1e3, x * 1e3);
    printf("  CPU time per run (user+sys, all processes): bare %.2f ms, sandbox %.2f ms\n", bc * 1e3, xc * 1e3);
    printf("sandbox overhead per run: %.2f ms wall (%.1fx bare), %.2f ms CPU; target <= 10 ms\n", (x - b) * 1e3, x / b,
           (xc - bc) * 1e3);
    /* the sandbox alone, 1 thread against one per core */
    int jobs = 4 * rounds;
    double p1[3], pn[3];
    for (int rep = 0; rep < 3; rep++) {
        p1[rep] = parallel_rate(u.binary, jobs, 1);
        pn[rep] = parallel_rate(u.binary, jobs, (int)cores);
    }
    double q1 = median3(p1[0], p1[1], p1[2]), qn = median3(pn[0], pn[1], pn[2]);
    printf("sandboxed runs, %d jobs (median of 3): 1 thread %.1f jobs/s, %ld threads %.1f jobs/s: %.2fx\n", jobs, q1,
           cores, qn, qn / q1);
    double load[3];
    if (getloadavg(load, 3) == 3) printf("load average during the run: %.2f (on %ld cores)\n", load[0], cores);
    vf_unit_free(&u);
    for (int i = 0; i < N; i++) free(texts[i]);
    return 0;
}
