/* The machine's own reference figures, measured in the same run as a benchmark so its ratios
 * (to the compute and bandwidth rooflines) are taken against this machine as it is right now. */
#ifndef HF_BENCH_PROBE_H
#define HF_BENCH_PROBE_H

#include "core/timing.h"

#include <cblas.h>
#include <stdlib.h>

/* Best-of-reps OpenBLAS sgemm rate, GFLOP/s, for C[M,N] = A[M,K] . B[N,K]^T (after one warm-up). */
static inline double probe_sgemm_gflops(int M, int N, int K, int reps) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)N * K),
          *c = malloc(sizeof(float) * (size_t)M * N);
    if (!a || !b || !c) { free(a); free(b); free(c); return 0; }
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++) b[i] = (float)(i % 5) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = time_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
        t = time_now() - t;
        if (t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * M * (double)N * K / best / 1e9;
}

/* Best-of-reps streaming read bandwidth, GB/s, over a buffer of `bytes` (make it much larger
 * than the caches), all OpenMP threads. */
static inline double probe_read_gbs(size_t bytes, int reps) {
    size_t n = bytes / sizeof(float);
    float *x = malloc(n * sizeof(float));
    if (!x) return 0;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = (float)(i & 7);
    double best = 1e30;
    volatile float sink = 0;
    for (int r = 0; r < reps; r++) {
        double t = time_now();
        float total = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : total)
        for (size_t i = 0; i < n; i++) total += x[i];
        t = time_now() - t;
        sink += total;
        if (t < best) best = t;
    }
    (void)sink;
    free(x);
    return (double)(n * sizeof(float)) / best / 1e9;
}

#endif
