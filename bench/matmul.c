/* bench_matmul: our bf16 kernels (exact and fast) against OpenBLAS on fp32 weights, on the Qwen2.5-0.5B shapes,
 * with the machine's own sgemm rate and streaming bandwidth measured in the same run.
 *
 * usage: bench_matmul [--quick] [--best] [--cpu] [--m 1,8,32,128,512] [--shape NAME] [--reps R]
 *   --quick   fewer repetitions and no M=512 (a smoke run)
 *   --best    report the fastest repetition instead of the median (on a machine shared with other work,
 *             the best shows what the kernel does when it has the cores)
 *   --cpu     per-core figures: one thread (OpenMP and OpenBLAS), timed by the process's CPU time instead of
 *             the wall clock, so time spent descheduled by other programs is not counted: on an overloaded
 *             machine this estimates what one core does when it is not shared. (With several threads CPU time
 *             says little: the work is shared dynamically, so a descheduled thread's share goes to the other.)
 * Shapes: q/o_proj k/v_proj gate/up down_proj lm_head, "decode" (the M=1 streaming check), "dx" (backward).
 * Every figure is the median of several timed repetitions after one warm-up. GFLOP/s = 2·M·N·K / t;
 * GB/s counts the weight bytes only (bf16: 2 per element, fp32: 4), the traffic that bounds M=1. */
#include "core/timing.h"
#include "kernels/matmul.h"

#include <cblas.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int N, K;
    int per_layer; /* 1 for the 24 per-layer projections, 0 for the LM head */
} bench_shape;

static const bench_shape shapes[] = {
    {"q/o_proj", 896, 896, 2},     {"k/v_proj", 128, 896, 2}, {"gate/up", 4864, 896, 2},
    {"down_proj", 896, 4864, 1},   {"lm_head", 151936, 896, 0},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])
#define NLAYERS 24

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Repetitions: at least min_reps, and about budget seconds in all (estimated from the warm-up). */
static int reps_for(double warm, int min_reps, double budget) {
    int r = warm > 0 ? (int)(budget / warm) : min_reps;
    if (r < min_reps) r = min_reps;
    if (r > 50) r = 50;
    return r;
}

typedef void (*bench_fn)(void *ctx);

static int g_best; /* --best: report the fastest repetition instead of the median */
static int g_cpu;  /* --cpu: one thread, timed by process CPU time (see usage) */

static double clock_now(void) {
    if (!g_cpu) return time_now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double time_median(bench_fn fn, void *ctx, int min_reps, double budget) {
    double t0 = clock_now();
    fn(ctx);
    double warm = clock_now() - t0;
    int reps = reps_for(warm, min_reps, budget);
    double *t = malloc((size_t)reps * sizeof *t);
    for (int i = 0; i < reps; i++) {
        double s = clock_now();
        fn(ctx);
        t[i] = clock_now() - s;
    }
    double m = median(t, reps); /* sorts t */
    if (g_best) m = t[0];
    free(t);
    return m;
}

/* OpenBLAS's idle threads keep spinning for a while after a call and would take a core from the next
 * OpenMP kernel: wait until they sleep before timing anything else. */
static void settle(void) { usleep(200 * 1000); }

/* ---- machine references ---- */

typedef struct {
    const uint64_t *a;
    size_t n;
    uint64_t sink;
} bw_ctx;

__attribute__((optimize("O3,unroll-loops"))) static void bw_read(void *p) {
    bw_ctx *c = p;
    uint64_t total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (size_t i = 0; i < c->n; i++) total += c->a[i];
    c->sink += total;
}

typedef struct {
    const float *a, *b;
    float *c;
    int n;
} sgemm_ctx;

static void sgemm_square(void *p) {
    sgemm_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->n, c->n, c->n, 1.0f, c->a, c->n, c->b, c->n, 0.0f, c->c,
                c->n);
}

/* ---- products ---- */

typedef struct {
    float *y;
    const float *x;
    const uint16_t *wb;
    const float *wf;
    int M, N, K;
    unsigned flags;
} mm_ctx;

static void run_bf16(void *p) {
    mm_ctx *c = p;
    mm_bf16(c->y, c->x, c->wb, NULL, c->M, c->N, c->K, c->flags);
}
static void run_f32(void *p) {
    mm_ctx *c = p;
    mm_f32(c->y, c->x, c->wf, NULL, c->M, c->N, c->K, 0);
}
static void run_bf16_dx(void *p) { /* here y is dx[M,K] and x is dy[M,N] */
    mm_ctx *c = p;
    mm_bf16_dx(c->y, c->x, c->wb, c->M, c->N, c->K, c->flags);
}
static void run_f32_dx(void *p) {
    mm_ctx *c = p;
    mm_f32_dx(c->y, c->x, c->wf, c->M, c->N, c->K, 0);
}

static void fill(float *v, size_t n, unsigned seed) {
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

int main(int argc, char **argv) {
    int quick = 0, reps = 7;
    const char *only = NULL;
    int ms[16] = {1, 8, 32, 128, 512}, nm = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--best") == 0) {
            g_best = 1;
        } else if (strcmp(argv[i], "--cpu") == 0) {
            g_cpu = 1;
        } else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1) reps = 1;
        } else if (strcmp(argv[i], "--m") == 0 && i + 1 < argc) {
            nm = 0;
            for (char *tok = strtok(argv[++i], ","); tok && nm < 16; tok = strtok(NULL, ",")) ms[nm++] = atoi(tok);
        } else {
            fprintf(stderr, "usage: %s [--quick] [--best] [--cpu] [--m 1,8,32,128,512] [--shape NAME] [--reps R]\n", argv[0]);
            return 2;
        }
    }
    if (g_cpu) {
        omp_set_num_threads(1);
        openblas_set_num_threads(1);
    }
    if (quick) {
        reps = 3;
        if (nm == 5) nm = 4;
    }
    const double budget = quick ? 0.1 : 0.4;

    printf("bench_matmul: isa %s, %d OpenMP threads, OPENBLAS_NUM_THREADS=%s (library: %d), %d+ reps (%s, %s)\n",
           mm_isa_name(mm_get_isa()), omp_get_max_threads(), getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "unset", openblas_get_num_threads(),
           reps, g_best ? "best" : "median", g_cpu ? "CPU time, 1 thread" : "wall clock");

    /* streaming read bandwidth over 512 MiB (far beyond the caches) */
    bw_ctx bw = {0};
    bw.n = ((size_t)512 << 20) / sizeof(uint64_t);
    uint64_t *buf = malloc(bw.n * sizeof *buf);
    if (!buf) return 1;
    for (size_t i = 0; i < bw.n; i++) buf[i] = i;
    bw.a = buf;
    double t_bw = time_median(bw_read, &bw, reps, 0.0);
    double gbs_peak = (double)bw.n * sizeof *buf / t_bw * 1e-9;
    free(buf);

    /* sgemm peak: OpenBLAS 1024^3 */
    sgemm_ctx sg = {0};
    sg.n = 1024;
    float *sa = malloc(3 * (size_t)sg.n * sg.n * sizeof *sa);
    fill(sa, 3 * (size_t)sg.n * sg.n, 1);
    sg.a = sa;
    sg.b = sa + (size_t)sg.n * sg.n;
    sg.c = sa + 2 * (size_t)sg.n * sg.n;
    double t_sg = time_median(sgemm_square, &sg, reps, 0.0);
    double gflops_peak = 2.0 * sg.n * sg.n * (double)sg.n / t_sg * 1e-9;
    settle();
    free(sa);
    printf("machine: streaming read %.1f GB/s, OpenBLAS sgemm 1024^3 %.1f GFLOP/s (sink %llu)\n\n", gbs_peak,
           gflops_peak, (unsigned long long)(bw.sink & 1));

    printf("%-10s %4s | %9s %7s %5s %5s | %9s %7s %5s %5s | %9s %7s | %6s %6s\n", "shape", "M", "exact ms", "GFLOP/s",
           "%bw", "%sg", "fast ms", "GFLOP/s", "%bw", "%sg", "blas ms", "GFLOP/s", "ex/bl", "fa/bl");
    printf("%-10s %4s | %9s %7s %5s %5s | %9s %7s %5s %5s | %9s %7s | %6s %6s\n", "", "", "", "", "", "", "", "", "",
           "", "(fp32 W)", "", "speed", "speed");

    /* per-token time of all matmuls of the model, by M (one sequence per row), for a tokens/s ceiling */
    double tok_time[16][3] = {{0}};
    int tok_shapes = 0;
    for (int s = 0; s < NSHAPES; s++) {
        const bench_shape *sh = &shapes[s];
        if (only && strcmp(only, sh->name) != 0) continue;
        tok_shapes++;
        const int N = sh->N, K = sh->K;
        float *wf = malloc((size_t)N * K * sizeof *wf);
        uint16_t *wb = malloc((size_t)N * K * sizeof *wb);
        fill(wf, (size_t)N * K, 2);
        mm_f32_to_bf16_array(wb, wf, (size_t)N * K);
        mm_bf16_to_f32_array(wf, wb, (size_t)N * K);
        for (int mi = 0; mi < nm; mi++) {
            const int M = ms[mi];
            float *x = malloc((size_t)M * K * sizeof *x);
            float *y = malloc((size_t)M * N * sizeof *y);
            if (!x || !y) return 1;
            fill(x, (size_t)M * K, 3);
            mm_ctx c = {y, x, wb, wf, M, N, K, 0};
            double flop = 2.0 * M * (double)N * K;
            double t_ex = time_median(run_bf16, &c, reps, budget);
            c.flags = MM_FAST;
            double t_fa = time_median(run_bf16, &c, reps, budget);
            double t_bl = time_median(run_f32, &c, reps, budget);
            settle();
            double wbytes = (double)N * K * 2.0;
            printf("%-10s %4d | %9.3f %7.1f %5.0f %5.0f | %9.3f %7.1f %5.0f %5.0f | %9.3f %7.1f | %6.2f %6.2f\n",
                   sh->name, M, t_ex * 1e3, flop / t_ex * 1e-9, 100.0 * wbytes / t_ex * 1e-9 / gbs_peak,
                   100.0 * flop / t_ex * 1e-9 / gflops_peak, t_fa * 1e3, flop / t_fa * 1e-9,
                   100.0 * wbytes / t_fa * 1e-9 / gbs_peak, 100.0 * flop / t_fa * 1e-9 / gflops_peak, t_bl * 1e3,
                   flop / t_bl * 1e-9, t_bl / t_ex, t_bl / t_fa);
            fflush(stdout);
            double count = sh->per_layer ? (double)sh->per_layer * NLAYERS : 1.0;
            tok_time[mi][0] += count * t_ex;
            tok_time[mi][1] += count * t_fa;
            tok_time[mi][2] += count * t_bl;
            free(x);
            free(y);
        }
        free(wf);
        free(wb);
    }
    printf("\n%%bw: weight bytes (bf16) per second / streaming read bandwidth; %%sg: GFLOP/s / sgemm 1024^3.\n");
    printf("ex/bl, fa/bl: OpenBLAS time / our time (> 1: ours is faster).\n");
    if (tok_shapes == NSHAPES) {
        printf("\nAll matmuls of one Qwen2.5-0.5B forward (24 layers + tied LM head on every row), M rows:\n");
        printf("%4s | %12s %12s %12s | %s\n", "M", "exact tok/s", "fast tok/s", "blas tok/s",
               "bandwidth ceiling (bf16 / fp32 weights), compute ceiling (sgemm)");
        double params = 0;
        for (int s = 0; s < NSHAPES; s++)
            params += (double)shapes[s].N * shapes[s].K * (shapes[s].per_layer ? shapes[s].per_layer * NLAYERS : 1);
        for (int mi = 0; mi < nm; mi++) {
            double M = ms[mi];
            double bw_bf16 = gbs_peak * 1e9 / (2.0 * params) * M, bw_f32 = bw_bf16 / 2;
            double comp = gflops_peak * 1e9 / (2.0 * params);
            printf("%4d | %12.1f %12.1f %12.1f | %.1f / %.1f, %.1f\n", ms[mi], M / tok_time[mi][0],
                   M / tok_time[mi][1], M / tok_time[mi][2], bw_bf16 < comp ? bw_bf16 : comp,
                   bw_f32 < comp ? bw_f32 : comp, comp);
        }
    }

    /* M=1 decode against the read bandwidth, interleaved so both see the same machine (the LM head: 272 MB) */
    if (!only || strcmp(only, "decode") == 0) {
        const int N = 151936, K = 896, rounds = quick ? 5 : 15;
        uint16_t *wb = malloc((size_t)N * K * sizeof *wb);
        float *x = malloc((size_t)K * sizeof *x), *y = malloc((size_t)N * sizeof *y);
        if (!wb || !x || !y) return 1;
        for (size_t i = 0; i < (size_t)N * K; i++) wb[i] = (uint16_t)(0x3c00 + (i & 0xff));
        fill(x, (size_t)K, 5);
        bw_ctx rd = {(const uint64_t *)wb, (size_t)N * K * sizeof *wb / sizeof(uint64_t), 0};
        mm_ctx c = {y, x, wb, NULL, 1, N, K, 0};
        double *tr = malloc(rounds * sizeof *tr), *te = malloc(rounds * sizeof *te), *tf = malloc(rounds * sizeof *tf);
        for (int r = -1; r < rounds; r++) { /* round -1 warms up */
            double t0 = clock_now();
            bw_read(&rd);
            double t1 = clock_now();
            c.flags = 0;
            run_bf16(&c);
            double t2 = clock_now();
            c.flags = MM_FAST;
            run_bf16(&c);
            double t3 = clock_now();
            if (r >= 0) {
                tr[r] = t1 - t0;
                te[r] = t2 - t1;
                tf[r] = t3 - t2;
            }
        }
        double bytes = (double)N * K * sizeof *wb;
        double gr = bytes / (g_best ? (qsort(tr, rounds, sizeof *tr, cmp_double), tr[0]) : median(tr, rounds)) * 1e-9;
        double ge = bytes / (g_best ? (qsort(te, rounds, sizeof *te, cmp_double), te[0]) : median(te, rounds)) * 1e-9;
        double gf = bytes / (g_best ? (qsort(tf, rounds, sizeof *tf, cmp_double), tf[0]) : median(tf, rounds)) * 1e-9;
        printf("\nDecode (M=1) streaming, LM head 151936x896 bf16 (272 MB), interleaved with a plain read of the same\n"
               "bytes, %d rounds (%s): read %.1f GB/s | exact %.1f GB/s (%.0f%%) | fast %.1f GB/s (%.0f%%)\n",
               rounds, g_best ? "best" : "median", gr, ge, 100.0 * ge / gr, gf, 100.0 * gf / gr);
        free(tr);
        free(te);
        free(tf);
        free(wb);
        free(x);
        free(y);
        settle();
    }

    /* backward dX = dY·W on training-size batches */
    if (!only || strcmp(only, "dx") == 0) {
        printf("\nBackward dX[M,K] = dY[M,N]·W[N,K] (bf16 W, exact and fast, vs OpenBLAS sgemm on fp32 W):\n");
        printf("%-10s %4s | %9s %7s %5s | %9s %7s %5s | %9s %7s | %6s %6s\n", "shape", "M", "exact ms", "GFLOP/s",
               "%sg", "fast ms", "GFLOP/s", "%sg", "blas ms", "GFLOP/s", "ex/bl", "fa/bl");
        int dm[2] = {128, 512};
        for (int s = 0; s < NSHAPES - 1; s++) {
            const int N = shapes[s].N, K = shapes[s].K;
            float *wf = malloc((size_t)N * K * sizeof *wf);
            uint16_t *wb = malloc((size_t)N * K * sizeof *wb);
            fill(wf, (size_t)N * K, 2);
            mm_f32_to_bf16_array(wb, wf, (size_t)N * K);
            mm_bf16_to_f32_array(wf, wb, (size_t)N * K);
            for (int mi = 0; mi < (quick ? 1 : 2); mi++) {
                const int M = dm[mi];
                float *dy = malloc((size_t)M * N * sizeof *dy), *dx = malloc((size_t)M * K * sizeof *dx);
                fill(dy, (size_t)M * N, 4);
                mm_ctx c = {dx, dy, wb, wf, M, N, K, 0};
                double flop = 2.0 * M * (double)N * K;
                double t_b = time_median(run_bf16_dx, &c, reps, budget);
                c.flags = MM_FAST;
                double t_fa = time_median(run_bf16_dx, &c, reps, budget);
                double t_f = time_median(run_f32_dx, &c, reps, budget);
                settle();
                printf("%-10s %4d | %9.3f %7.1f %5.0f | %9.3f %7.1f %5.0f | %9.3f %7.1f | %6.2f %6.2f\n",
                       shapes[s].name, M, t_b * 1e3, flop / t_b * 1e-9, 100.0 * flop / t_b * 1e-9 / gflops_peak,
                       t_fa * 1e3, flop / t_fa * 1e-9, 100.0 * flop / t_fa * 1e-9 / gflops_peak, t_f * 1e3,
                       flop / t_f * 1e-9, t_f / t_b, t_f / t_fa);
                fflush(stdout);
                free(dy);
                free(dx);
            }
            free(wf);
            free(wb);
        }
    }
    return 0;
}
