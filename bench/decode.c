/* bench_decode: prefill and decode speed of the sampling engine, with this machine's own rooflines
 * measured in the same run.
 *
 *   bench_decode [MODEL_DIR] [--new-tokens 32] [--prompt-tokens 64] [--batches 1,8,32,128] [--reps 3]
 *                [--precision fast|exact]
 *
 * MODEL_DIR defaults to /tmp/q05; when it does not exist, a qwen2.5-0.5b-shaped random bf16 model is
 * written there first (the same as `halo-forge model init --preset qwen2.5-0.5b --output /tmp/q05`).
 *
 * Figures:
 *   - sgemm GFLOP/s of OpenBLAS (1024^3, all threads) and streaming read bandwidth (GB/s);
 *   - prefill tokens/s for one prompt of --prompt-tokens tokens (model_forward, median of --reps);
 *   - decode tokens/s through the engine (gen_run_ids: one prompt prefilled once, forked to B
 *     samples, B sequences decoding together, temperature 0.7 sampling included, end ids ignored),
 *     counting the tokens made by decode steps over the time of those steps (best of --reps);
 *   - ratios to the compute roofline (sgemm FLOP/s / (2 x params) tokens/s) and to the bandwidth
 *     roofline (bandwidth / bytes of weights read per token) for the weight dtype of the file;
 *   - the share of the run spent choosing tokens (softmax, top-k/top-p, draws): the engine's own cost;
 *   - peak RSS. */
#include "core/fs.h"
#include "core/timing.h"
#include "generate/generate.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "bench_probe.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static int weight_bytes_per_param(const char *dir) {
    char path[4200];
    fs_join(path, sizeof path, dir, "config.json");
    char *text = fs_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *d = j ? cJSON_GetObjectItem(j, "torch_dtype") : NULL;
    int bytes = cJSON_IsString(d) && !strcmp(d->valuestring, "float32") ? 4 : 2;
    cJSON_Delete(j);
    return bytes;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    mm_threads_setup(argv); /* OMP_WAIT_POLICY=passive unless set, as the halo-forge program does */
    setvbuf(stdout, NULL, _IOLBF, 0); /* figures appear as they are measured */
    const char *dir = "/tmp/q05";
    int new_tokens = 32, prompt_tokens = 64, reps = 3;
    model_precision precision = MODEL_PRECISION_FAST; /* what `generate` uses */
    char batches_arg[256] = "1,8,32,128";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--new-tokens") && i + 1 < argc) new_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prompt-tokens") && i + 1 < argc) prompt_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) snprintf(batches_arg, sizeof batches_arg, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc)
            precision = !strcmp(argv[++i], "exact") ? MODEL_PRECISION_EXACT : MODEL_PRECISION_FAST;
        else if (argv[i][0] != '-') dir = argv[i];
        else {
            fprintf(stderr, "usage: %s [MODEL_DIR] [--new-tokens N] [--prompt-tokens N] [--batches 1,8,...] [--reps N] "
                    "[--precision fast|exact]\n",
                    argv[0]);
            return 2;
        }
    }
    if (new_tokens < 2 || prompt_tokens < 1 || reps < 1) {
        fprintf(stderr, "bench_decode: --new-tokens must be >= 2, --prompt-tokens and --reps >= 1\n");
        return 2;
    }
    char err[1024];
    if (!fs_is_dir(dir)) {
        model_config c;
        model_preset("qwen2.5-0.5b", &c);
        fprintf(stderr, "bench_decode: writing a random qwen2.5-0.5b model (bf16) to %s\n", dir);
        if (model_write_random(dir, &c, true, 1, 0.02, false, err, sizeof err) != 0) {
            fprintf(stderr, "bench_decode: %s\n", err);
            return 1;
        }
    }
    model *m = model_load(dir, err, sizeof err);
    if (!m) {
        fprintf(stderr, "bench_decode: %s\n", err);
        return 1;
    }
    model_set_precision(m, precision);
    const model_config *cfg = model_get_config(m);
    double params = (double)model_num_params(m);
    int wbytes = weight_bytes_per_param(dir);
    int threads = omp_get_max_threads();

    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 0) load[0] = load[1] = load[2] = -1;
    const char *wait = getenv("OMP_WAIT_POLICY");
    printf("machine: %d threads, load average %.2f %.2f %.2f; precision %s; OMP_WAIT_POLICY=%s\n", threads, load[0],
           load[1], load[2], precision == MODEL_PRECISION_FAST ? "fast (bf16 activations)" : "exact (fp32)",
           wait ? wait : "(unset)");
    /* measured in a child process, so its buffers do not count in this process's peak RSS */
    double machine[2] = {0, 0};
    int fds[2];
    if (pipe(fds) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        double v[2] = {probe_sgemm_gflops(1024, 1024, 1024, 5), probe_read_gbs((size_t)1 << 30, 5)};
        ssize_t w = write(fds[1], v, sizeof v);
        _exit(w == (ssize_t)sizeof v ? 0 : 1);
    }
    close(fds[1]);
    if (pid < 0 || read(fds[0], machine, sizeof machine) != (ssize_t)sizeof machine) {
        fprintf(stderr, "bench_decode: machine measurement failed\n");
        return 1;
    }
    close(fds[0]);
    waitpid(pid, NULL, 0);
    double gflops = machine[0], bw = machine[1];
    printf("sgemm (OpenBLAS, 1024x1024x1024): %.1f GFLOP/s\n", gflops);
    printf("streaming read bandwidth:          %.1f GB/s\n", bw);
    double compute_roof = gflops * 1e9 / (2.0 * params);
    double bw_roof = bw * 1e9 / (params * wbytes);
    printf("model: %s, %s, hidden %d, %d layers, vocab %d, %.1fM params, weights %s (%d bytes/param)\n", dir, cfg->arch,
           cfg->hidden_size, cfg->num_layers, cfg->vocab_size, params / 1e6, wbytes == 4 ? "f32" : "bf16/f16", wbytes);
    printf("rooflines: compute %.1f tokens/s (sgemm / 2 x params), bandwidth %.1f tokens/s (one pass over the "
           "weights per step)\n\n",
           compute_roof, bw_roof);

    /* A fixed prompt of ordinary ids. */
    int *prompt = malloc((size_t)prompt_tokens * sizeof(int));
    for (int i = 0; i < prompt_tokens; i++) prompt[i] = (1000 + (i * 7919) % 20000) % cfg->vocab_size;

    /* prefill */
    kv_cache *kv = kv_create(m, 1, prompt_tokens + 1);
    float *logits = malloc((size_t)cfg->vocab_size * sizeof(float));
    double *times = malloc((size_t)(reps + 1) * sizeof(double));
    int slot = 0;
    const int *toks[1] = {prompt};
    for (int r = 0; r <= reps; r++) { /* the first run warms up */
        kv_clear(kv, 0);
        double t = time_now();
        if (model_forward(m, kv, 1, &slot, toks, &prompt_tokens, logits, err, sizeof err) != 0) {
            fprintf(stderr, "bench_decode: %s\n", err);
            return 1;
        }
        times[r] = time_now() - t;
    }
    qsort(times + 1, (size_t)reps, sizeof(double), cmp_double);
    double prefill_tps = prompt_tokens / times[1 + reps / 2];
    printf("prefill (%d-token prompt): %.1f tokens/s  (%.2f of the compute roofline)\n", prompt_tokens, prefill_tps,
           prefill_tps / compute_roof);
    kv_free(kv);

    /* decode through the engine */
    printf("\ndecode (%d-token prompt prefilled once, %d new tokens per sequence, T=0.7 sampling):\n", prompt_tokens,
           new_tokens);
    printf("%10s %14s %12s %12s %12s %12s\n", "sequences", "tokens/s", "ms/step", "x compute", "x bandwidth",
           "sampling %");
    char *save = NULL;
    for (char *b = strtok_r(batches_arg, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
        int B = atoi(b);
        if (B < 1) continue;
        gen_params p;
        gen_params_default(&p);
        p.n_samples = B;
        p.batch_size = B;
        p.max_new_tokens = new_tokens;
        p.ignore_eos = true;
        p.seed = 1;
        double best = 0, best_step = 0, best_sampling = 0;
        for (int r = 0; r < reps; r++) {
            gen_stats st;
            const int *pp = prompt;
            if (gen_run_ids(m, NULL, &pp, &prompt_tokens, 1, &p, NULL, NULL, &st, err, sizeof err) != 0) {
                fprintf(stderr, "bench_decode: %s\n", err);
                return 1;
            }
            /* the first token of each sequence comes from the prefill's logits; the rest from decode steps */
            double decode_s = st.seconds - st.prefill_seconds;
            long decode_tokens = st.generated_tokens - B;
            long decode_steps = st.steps - 1;
            double tps = decode_tokens / decode_s;
            if (tps > best) {
                best = tps;
                best_step = decode_s / (double)decode_steps * 1e3;
                best_sampling = 100.0 * st.sample_seconds / st.seconds;
            }
        }
        printf("%10d %14.1f %12.1f %12.3f %12.3f %12.1f\n", B, best, best_step, best / compute_roof, best / bw_roof,
               best_sampling);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\npeak RSS: %.2f GB\n", ru.ru_maxrss / 1048576.0);
    free(prompt);
    free(logits);
    free(times);
    model_free(m);
    return 0;
}
