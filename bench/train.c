/* Training speed: tokens/s of one optimizer step (forward, backward, clipping, AdamW) for LoRA r=16 on
 * all seven projections or full fine-tuning, on batches of B sequences of T tokens (loss on every
 * token), with the machine's sgemm GFLOP/s measured in the same run as the reference:
 * efficiency = (4 x params FLOPs/token for LoRA, 6 x params for full) x tokens/s / sgemm GFLOP/s.
 * Usage: bench_train [--model DIR] [--mode lora|full] [--batch 8] [--seq 512] [--steps 2] [--exact]
 *                    [--no-checkpointing]
 * Without --model it writes the qwen2.5-0.5b preset (random bf16 weights) to /tmp/hf_bench_qwen05 once,
 * as `halo-forge model init --preset qwen2.5-0.5b` does. Compare with bench/train_torch.py. */
#include "core/fs.h"
#include "core/rng.h"
#include "core/timing.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "train/opt_adamw.h"
#include "train/train_model.h"
#include "bench_model.h"
#include "bench_probe.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int main(int argc, char **argv) {
    mm_threads_setup(argv); /* OMP_WAIT_POLICY=passive unless set, as the halo-forge program does */
    const char *dir = NULL, *mode = "lora";
    int B = 8, T = 512, steps = 2;
    bool exact = false, ckpt = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) mode = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seq") && i + 1 < argc) T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--exact")) exact = true;
        else if (!strcmp(argv[i], "--no-checkpointing")) ckpt = false;
        else {
            fprintf(stderr, "usage: %s [--model DIR] [--mode lora|full] [--batch B] [--seq T] [--steps N] [--exact] "
                            "[--no-checkpointing]\n", argv[0]);
            return 2;
        }
    }
    char err[1024];
    if (!dir && !(dir = bench_default_model(err, sizeof err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const bool full = !strcmp(mode, "full");
    openblas_set_num_threads(omp_get_max_threads());
    double sg = probe_sgemm_gflops(512, 4864, 896, 5);
    lora_config lc = {.rank = full ? 0 : 16, .alpha = 32, .dropout = 0.05f, .targets = LORA_ALL_TARGETS};
    double t0 = time_now();
    train_model *m = train_model_load(dir, &lc, 1, err, sizeof err);
    if (!m) { fprintf(stderr, "%s\n", err); return 1; }
    train_model_set_checkpointing(m, ckpt);
    train_model_set_fast(m, !exact);
    const model_config *c = train_model_config(m);
    double load_s = time_now() - t0;
    /* Parameters as the issue counts them (tied head once). */
    double params = (double)c->vocab_size * c->hidden_size * (c->tie_embeddings ? 1 : 2) + c->hidden_size;
    {
        double H = c->hidden_size, FF = c->intermediate_size, qd = (double)c->num_heads * c->head_dim,
               kvd = (double)c->num_kv_heads * c->head_dim;
        params += c->num_layers * (2 * H + H * qd + 2 * H * kvd + qd * H + 3 * H * FF + (c->attn_bias ? qd + 2 * kvd : 0));
    }
    size_t ntrain;
    train_model_params(m, &ntrain);
    int *tok = malloc(sizeof(int) * (size_t)B * T), *starts = malloc(sizeof(int) * (size_t)(B + 1));
    uint8_t *tgt = malloc((size_t)B * T);
    rng_state r;
    rng_seed(&r, 5);
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int)rng_below(&r, 151000 < (unsigned)c->vocab_size ? 151000 : (uint64_t)c->vocab_size);
        tgt[i] = 1;
    }
    for (int s = 0; s <= B; s++) starts[s] = s * T;
    train_batch b = {.n_tokens = B * T, .n_seqs = B, .tokens = tok, .seq_start = starts, .target = tgt};
    opt_adamw o;
    if (opt_adamw_init(&o, ntrain)) { fprintf(stderr, "out of memory\n"); return 1; }
    opt_adamw_config oc = {0.9f, 0.999f, 1e-8f, 0.01f};
    double best = 1e30, loss = 0;
    for (int s = 0; s <= steps; s++) { /* step 0 warms up */
        double ts = time_now(), nll;
        long nt;
        train_model_zero_grad(m);
        train_model_set_dropout_key(m, 1, (uint64_t)s);
        if (train_model_step(m, &b, 1.0f / (float)(B * (T - 1)), &nll, &nt, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        opt_clip_grad_norm(m, 1.0);
        opt_adamw_step(&o, m, 1e-4f, &oc);
        double dt = time_now() - ts;
        loss = nll / (double)nt;
        fprintf(stderr, "step %d: %.2f s, loss %.4f\n", s, dt, loss);
        if (s > 0 && dt < best) best = dt;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double tps = B * T / best, fpt = (full ? 6.0 : 4.0) * params;
    printf("bench_train: %s%s, %s matmuls, %d threads, model %s (%.1f M params, %.2f M trainable, load %.1f s)\n",
           full ? "full fine-tuning" : "LoRA r=16 all 7 projections", ckpt ? ", gradient checkpointing" : "",
           full ? "fp32 (OpenBLAS)" : exact ? "exact" : "fast bf16", omp_get_max_threads(), dir, params / 1e6, (double)ntrain / 1e6, load_s);
    printf("batch %d x %d tokens: best step %.2f s over %d steps -> %.1f tokens/s\n", B, T, best, steps, tps);
    printf("effective %.1f GFLOP/s (%.0f x params FLOPs/token) = %.0f%% of measured sgemm %.1f GFLOP/s\n",
           tps * fpt / 1e9, fpt / params, 100.0 * tps * fpt / 1e9 / sg, sg);
    printf("peak RSS %.2f GB, final loss %.4f\n", ru.ru_maxrss / 1048576.0, loss);
    opt_adamw_free(&o);
    train_model_free(m);
    free(tok);
    free(starts);
    free(tgt);
    return 0;
}
