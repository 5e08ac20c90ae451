/* Forward-pass speed of a model folder: prefill tokens/s, one-sequence decode ms/token, batched
 * decode tokens/s, peak RSS, with the machine's own sgemm GFLOP/s and read bandwidth measured in
 * the same run as the reference (roofline).
 * Usage: bench_model_forward MODEL_DIR [PROMPT_LEN=128] [DECODE_STEPS=32] [BATCHES=8,32]
 * Make the standard model with: halo-forge model init --preset qwen2.5-0.5b --output DIR */
#include "core/timing.h"
#include "model/model.h"
#include "bench_probe.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* CPU seconds of the whole process: on a shared, oversubscribed machine this is what a step costs,
 * independent of how long the scheduler kept us waiting (wall time is printed too). */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [PROMPT_LEN=128] [DECODE_STEPS=32] [BATCHES=8,32]\n", argv[0]);
        return 2;
    }
    int P = argc > 2 ? atoi(argv[2]) : 128, D = argc > 3 ? atoi(argv[3]) : 32;
    const char *batches = argc > 4 ? argv[4] : "8,32";
    char err[1024];
    double t0 = time_now();
    model *m = model_load(argv[1], err, sizeof err);
    if (!m) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const model_config *c = model_get_config(m);
    printf("model %s: %s, %.1f M params, hidden %d, %d layers, vocab %d (loaded in %.2f s)\n", argv[1], c->arch,
           model_num_params(m) / 1e6, c->hidden_size, c->num_layers, c->vocab_size, time_now() - t0);
    openblas_set_num_threads(2);
    double gf = probe_sgemm_gflops(128, 4864, 896, 10), bw = probe_read_gbs((size_t)256 << 20, 3);
    openblas_set_num_threads(1);
    printf("machine: OpenBLAS sgemm 128x4864x896 %.1f GFLOP/s, read bandwidth %.1f GB/s\n", gf, bw);
    const int V = c->vocab_size;
    int maxb = 1;
    for (const char *p = batches; *p;) {
        int b = atoi(p);
        if (b > maxb) maxb = b;
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    kv_cache *kv = kv_create(m, maxb + 1, P + D + 8);
    float *logits = malloc((size_t)(maxb + 1) * V * sizeof(float));
    int *toks = malloc((size_t)(P + D + 8) * sizeof(int));
    for (int i = 0; i < P + D + 8; i++) toks[i] = (i * 7919 + 13) % V;
    /* Prefill. */
    double tp[3], cp[3];
    for (int r = 0; r < 3; r++) {
        kv_clear(kv, 0);
        int slot = 0;
        const int *tk = toks;
        double t = time_now(), cs = cpu_now();
        if (model_forward(m, kv, 1, &slot, &tk, &P, logits, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        tp[r] = time_now() - t;
        cp[r] = cpu_now() - cs;
    }
    double tprefill = median(tp, 3);
    double flop_tok = 2.0 * (double)model_num_params(m);
    printf("prefill %d tokens: %.3f s (%.3f CPU-s) = %.1f tokens/s (%.1f GFLOP/s effective, %.0f%% of sgemm)\n", P,
           tprefill, median(cp, 3),
           P / tprefill, P * (flop_tok - 2.0 * V * c->hidden_size) / tprefill / 1e9,
           100.0 * P * (flop_tok - 2.0 * V * c->hidden_size) / tprefill / 1e9 / gf);
    /* One-sequence decode. */
    double *td = malloc((size_t)D * sizeof(double)), *cd = malloc((size_t)D * sizeof(double));
    for (int s = 0; s < D; s++) {
        int slot = 0, one = 1;
        const int *tk = toks + P + s;
        double t = time_now(), cs = cpu_now();
        if (model_forward(m, kv, 1, &slot, &tk, &one, logits, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        td[s] = time_now() - t;
        cd[s] = cpu_now() - cs;
    }
    double tdec = median(td, D);
    double wbytes = 0; /* weight bytes read per step: every parameter once, in the file dtype (2 B for bf16) */
    wbytes = (double)model_num_params(m) * 2.0;
    printf("decode 1 sequence (context %d): %.2f ms/token (%.2f CPU-ms) = %.1f tokens/s (bf16 bandwidth roofline %.1f tokens/s: %.0f%%)\n",
           P, tdec * 1e3, median(cd, D) * 1e3, 1.0 / tdec, bw * 1e9 / wbytes, 100.0 * (wbytes / tdec) / (bw * 1e9));
    /* Batched decode: b sequences forked from the prefilled prompt, one token each per step. */
    for (const char *p = batches; *p;) {
        int b = atoi(p);
        if (b >= 1 && b <= maxb) {
            for (int i = 1; i <= b; i++) {
                kv_copy(kv, i, 0);
            }
            int *slots = malloc((size_t)b * sizeof(int)), *nt = malloc((size_t)b * sizeof(int));
            const int **tk = malloc((size_t)b * sizeof(int *));
            int steps = 8;
            double *tb = malloc((size_t)steps * sizeof(double)), *cb = malloc((size_t)steps * sizeof(double));
            for (int s = 0; s < steps; s++) {
                for (int i = 0; i < b; i++) {
                    slots[i] = i + 1;
                    nt[i] = 1;
                    tk[i] = toks + (i + s) % (P + D);
                }
                double t = time_now(), cs = cpu_now();
                if (model_forward(m, kv, b, slots, tk, nt, logits, err, sizeof err) != 0) {
                    fprintf(stderr, "%s\n", err);
                    return 1;
                }
                tb[s] = time_now() - t;
                cb[s] = cpu_now() - cs;
            }
            double tbm = median(tb, steps);
            printf("decode %3d sequences: %.1f ms/step (%.1f CPU-ms) = %.1f tokens/s aggregate (compute roofline %.1f tokens/s: %.0f%%)\n",
                   b, tbm * 1e3, median(cb, steps) * 1e3, b / tbm, gf * 1e9 / flop_tok, 100.0 * b / tbm / (gf * 1e9 / flop_tok));
            free(slots);
            free(nt);
            free(tk);
            free(tb);
            free(cb);
        }
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS: %.0f MB\n", ru.ru_maxrss / 1024.0);
    free(td);
    free(cd);
    free(toks);
    free(logits);
    kv_free(kv);
    model_free(m);
    return 0;
}
