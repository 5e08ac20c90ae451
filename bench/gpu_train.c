/* bench_gpu_train: training speed on the CUDA backend, next to the device's own bf16 GEMM rate measured in the
 * same run (issue "GPU backend, part 2").
 *
 *   bench_gpu_train [--model DIR] [--mode lora|full] [--batch 8] [--seq 1024] [--steps 3] [--device N]
 *                   [--exact] [--no-checkpointing] [--json FILE]
 *
 * One optimizer step = forward, backward, global-norm clipping and AdamW, all on the GPU (train_model_load_on,
 * opt_adamw_init_on): the step the trainer of `sft train --device cuda` takes. LoRA r=16 on all seven projections
 * (frozen bf16 base) or full fine-tuning, batches of B sequences of T tokens with the loss on every token.
 * Prints the best step's tokens/s, MFU = (4 x params FLOPs per token for LoRA, 6 x params for full) x tokens/s
 * against the cuBLAS bf16 GEMM rate of the model's MLP product at M = B x T, and the peak GPU memory held
 * through the module. Without --model it writes the qwen2.5-0.5b preset (random bf16 weights) to
 * /tmp/hf_bench_qwen05 once, as `halo-forge model init --preset qwen2.5-0.5b` does.
 * Without a usable GPU it says why and exits 77 (skipped). */
#include "backend/bk_device.h"
#include "core/fs.h"
#include "core/rng.h"
#include "core/timing.h"
#include "model/model.h"
#include "train/opt_adamw.h"
#include "train/train_model.h"
#include "bench_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const hfc_api *A;
static char err[1024];

/* Seconds of one y[M,N] = x[M,K] W^T in bf16 (fp32 out), the mean of 10 after a warm-up; < 0 on error. */
static double gemm_seconds(int M, int N, int K) {
    void *x = A->alloc((size_t)M * K * 2, err, sizeof err), *w = A->alloc((size_t)N * K * 2, err, sizeof err);
    float *y = A->alloc((size_t)M * N * 4, err, sizeof err);
    double t = -1;
    if (x && w && y) {
        A->fill_normal(x, HFC_BF16, (size_t)M * K, 1.0f, 7);
        A->fill_normal(w, HFC_BF16, (size_t)N * K, 0.02f, 8);
        for (int i = 0; i < 3; i++) A->matmul(y, x, w, NULL, HFC_BF16, M, N, K, 0);
        A->timer_mark(0);
        for (int i = 0; i < 10; i++) A->matmul(y, x, w, NULL, HFC_BF16, M, N, K, 0);
        A->timer_mark(1);
        if (A->sync(err, sizeof err) == 0) t = A->timer_seconds(0, 1) / 10;
    }
    A->free(x);
    A->free(w);
    A->free(y);
    return t;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *mode = "lora", *json = NULL;
    int B = 8, T = 1024, steps = 3, dev = 0;
    bool exact = false, ckpt = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const bool val = i + 1 < argc;
        if (!strcmp(a, "--model") && val) dir = argv[++i];
        else if (!strcmp(a, "--mode") && val) mode = argv[++i];
        else if (!strcmp(a, "--batch") && val) B = atoi(argv[++i]);
        else if (!strcmp(a, "--seq") && val) T = atoi(argv[++i]);
        else if (!strcmp(a, "--steps") && val) steps = atoi(argv[++i]);
        else if (!strcmp(a, "--device") && val) dev = atoi(argv[++i]);
        else if (!strcmp(a, "--json") && val) json = argv[++i];
        else if (!strcmp(a, "--exact")) exact = true;
        else if (!strcmp(a, "--no-checkpointing")) ckpt = false;
        else {
            fprintf(stderr, "usage: %s [--model DIR] [--mode lora|full] [--batch B] [--seq T] [--steps N] "
                            "[--device N] [--exact] [--no-checkpointing] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    if (B < 1 || T < 2 || steps < 1 || (strcmp(mode, "lora") && strcmp(mode, "full"))) {
        fprintf(stderr, "bench_gpu_train: --batch >= 1, --seq >= 2, --steps >= 1, --mode lora|full\n");
        return 2;
    }
    const bool full = !strcmp(mode, "full");
    bk_backend *G = bk_cuda_backend(dev, err, sizeof err);
    if (!G) {
        printf("bench_gpu_train: SKIPPED: no usable GPU: %s\n", err);
        return 77;
    }
    A = bk_cuda_api(err, sizeof err);
    if (!dir && !(dir = bench_default_model(err, sizeof err))) {
        fprintf(stderr, "bench_gpu_train: %s\n", err);
        return 1;
    }
    lora_config lc = {.rank = full ? 0 : 16, .alpha = 32, .dropout = 0.05f, .targets = LORA_ALL_TARGETS};
    double t0 = time_now();
    train_model *m = train_model_load_on(dir, &lc, 1, G, err, sizeof err);
    if (!m) {
        fprintf(stderr, "bench_gpu_train: %s\n", err);
        return 1;
    }
    train_model_set_checkpointing(m, ckpt);
    train_model_set_fast(m, !exact);
    const model_config *c = train_model_config(m);
    const double load_s = time_now() - t0;
    /* parameters as the issue counts them (a tied head once) */
    double params = (double)c->vocab_size * c->hidden_size * (c->tie_embeddings ? 1 : 2) + c->hidden_size;
    {
        const double H = c->hidden_size, FF = c->intermediate_size, qd = (double)c->num_heads * c->head_dim,
                     kvd = (double)c->num_kv_heads * c->head_dim;
        params += c->num_layers * (2 * H + H * qd + 2 * H * kvd + qd * H + 3 * H * FF + (c->attn_bias ? qd + 2 * kvd : 0));
    }
    size_t ntrain;
    train_model_params(m, &ntrain);
    int *tok = malloc(sizeof(int) * (size_t)B * T), *starts = malloc(sizeof(int) * (size_t)(B + 1));
    uint8_t *tgt = malloc((size_t)B * T);
    if (!tok || !starts || !tgt) {
        fprintf(stderr, "bench_gpu_train: out of host memory\n");
        return 1;
    }
    rng_state r;
    rng_seed(&r, 5);
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int)rng_below(&r, (uint64_t)(c->vocab_size < 151000 ? c->vocab_size : 151000));
        tgt[i] = 1;
    }
    for (int s = 0; s <= B; s++) starts[s] = s * T;
    train_batch b = {.n_tokens = B * T, .n_seqs = B, .tokens = tok, .seq_start = starts, .target = tgt};
    opt_adamw o;
    if (opt_adamw_init_on(&o, G, ntrain)) {
        fprintf(stderr, "bench_gpu_train: out of GPU memory for the optimizer state of %zu parameters\n", ntrain);
        return 1;
    }
    opt_adamw_config oc = {0.9f, 0.999f, 1e-8f, 0.01f};
    double best = 1e30, loss = 0;
    for (int s = 0; s <= steps; s++) { /* step 0 warms up (cuBLAS heuristics, scratch growth) */
        double ts = time_now(), nll;
        long nt;
        train_model_zero_grad(m);
        train_model_set_dropout_key(m, 1, (uint64_t)s);
        if (train_model_step(m, &b, 1.0f / (float)(B * (T - 1)), &nll, &nt, err, sizeof err)) {
            fprintf(stderr, "bench_gpu_train: step %d: %s\n", s, err);
            return 1;
        }
        opt_clip_grad_norm(m, 1.0);
        opt_adamw_step(&o, m, 1e-4f, &oc);
        if (G->op.sync(G)) {
            fprintf(stderr, "bench_gpu_train: step %d: %s\n", s, G->err);
            return 1;
        }
        const double dt = time_now() - ts;
        loss = nll / (double)nt;
        fprintf(stderr, "step %d: %.3f s, loss %.4f\n", s, dt, loss);
        if (s > 0 && dt < best) best = dt;
    }
    const double peak_gb = (double)A->peak_bytes() / 1e9;
    const int M = B * T;
    const double gs = gemm_seconds(M, c->intermediate_size, c->hidden_size);
    const double gemm_tflops = gs > 0 ? 2.0 * M * c->intermediate_size * c->hidden_size / gs / 1e12 : 0;
    const double tps = M / best, fpt = (full ? 6.0 : 4.0) * params, tflops = tps * fpt / 1e12;
    printf("device: %s\n", G->name);
    printf("bench_gpu_train: %s%s, %s products, model %s (%.1f M params, %.2f M trainable, load %.1f s)\n",
           full ? "full fine-tuning" : "LoRA r=16 all 7 projections", ckpt ? ", gradient checkpointing" : "",
           exact ? "exact" : "fast bf16", dir, params / 1e6, (double)ntrain / 1e6, load_s);
    printf("batch %d x %d tokens: best step %.3f s over %d steps -> %.0f tokens/s, final loss %.4f\n", B, T, best,
           steps, tps, loss);
    printf("cuBLAS bf16 GEMM [%d x %d x %d]: %.1f TFLOP/s\n", M, c->intermediate_size, c->hidden_size, gemm_tflops);
    printf("MFU: %.1f TFLOP/s (%.0f x params FLOPs/token) = %.1f%% of the GEMM rate\n", tflops, fpt / params,
           gemm_tflops > 0 ? 100.0 * tflops / gemm_tflops : 0.0);
    printf("peak GPU memory %.2f GB\n", peak_gb);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "bench_gpu_train: %s: cannot write\n", json);
            return 1;
        }
        fprintf(f,
                "{\"device\": \"%s\", \"mode\": \"%s\", \"checkpointing\": %s, \"batch\": %d, \"seq\": %d, "
                "\"params\": %.0f, \"trainable\": %zu, \"best_step_s\": %.6f, \"tokens_per_s\": %.1f, "
                "\"gemm_tflops\": %.3f, \"mfu_pct\": %.2f, \"peak_gpu_gb\": %.3f, \"loss\": %.6f}\n",
                G->name, mode, ckpt ? "true" : "false", B, T, params, ntrain, best, tps, gemm_tflops,
                gemm_tflops > 0 ? 100.0 * tflops / gemm_tflops : 0.0, peak_gb, loss);
        fclose(f);
    }
    opt_adamw_free(&o);
    train_model_free(m);
    free(tok);
    free(starts);
    free(tgt);
    G->destroy(G);
    return 0;
}
