/* bench_gpu_decode: decode speed of the CUDA backend's kernels on a Qwen2-shaped model, next to the device's
 * own limits measured in the same run.
 *
 *   bench_gpu_decode [--model DIR | --preset NAME] [--batch 1,64,128,256] [--prompt 64] [--new 256]
 *                    [--device N] [--json FILE]
 *
 * --model DIR uploads the bf16 weights of a model folder (`halo-forge model init --preset qwen2.5-0.5b`);
 * --preset NAME (model_preset: qwen2.5-0.5b/1.5b/3b/7b) fills weights with N(0, 0.02) on the device instead, so
 * 7B needs no 15 GB file. Prints, in order:
 *   1. device-to-device copy bandwidth (GB/s, bytes read + written);
 *   2. cuBLAS bf16 GEMM rate (bf16 in, fp32 accumulate) for each of the model's product shapes at M = each batch,
 *      and the GEMM-only time of one decode step;
 *   3. per batch B: prefill tokens/s (B prompts of --prompt tokens), decode tokens/s over --new steps (the step
 *      captured in a CUDA graph; ids downloaded every step as a generator would, and the device-only rate),
 *      eager (uncaptured) decode for B = 1, peak GPU memory, and the ratios: B = 1 against the bandwidth roofline
 *      (weights + KV read once per token), batched against the GEMM-only step time.
 * Sampling: temperature 0.7, top-p 0.95 over the whole vocabulary, seeded per sequence.
 * The decode step is the module's ops called directly (src/backend/cuda/hf_cuda.h), not the model of src/model. */
#include "backend/bk_device.h"
#include "core/fs.h"
#include "model/model.h"
#include "model/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const hfc_api *A;
static char err[1024];

static void die(const char *what) {
    fprintf(stderr, "bench_gpu_decode: %s: %s\n", what, err);
    exit(1);
}

static void *dalloc(size_t bytes) {
    void *p = A->alloc(bytes, err, sizeof err);
    if (!p) die("alloc");
    return p;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sync_or_die(const char *what) {
    if (A->sync(err, sizeof err)) die(what);
}

typedef struct {
    void *q, *k, *v, *o, *gu, *down; /* bf16; gu = [gate; up] rows, [2I, H] */
    float *bq, *bk, *bv, *ln1, *ln2;
} layer;

typedef struct {
    model_config c;
    int H, I, L, nh, nkv, hd, V, qd, kvd;
    void *emb, *head;
    float *normf, *inv_freq;
    layer *ly;
    size_t weight_bytes, matmul_params;
} net;

static void fill_vec(float *d, int n, float v) { A->fill_const(d, (size_t)n, v); }

static void *weight(net *m, size_t rows, size_t cols, uint64_t seed) {
    void *p = dalloc(rows * cols * 2);
    A->fill_normal(p, HFC_BF16, rows * cols, 0.02f, seed);
    m->weight_bytes += rows * cols * 2;
    return p;
}

/* Uploads a bf16 [rows, cols] tensor of f (rows row0.. of dst); refuses other dtypes and shapes. */
static void upload_t(const st_file *f, const char *name, void *dst, size_t row0, size_t rows, size_t cols) {
    const st_tensor *t = st_find(f, name);
    if (!t || t->dtype != ST_BF16 || st_numel(t) != (int64_t)(rows * cols)) {
        snprintf(err, sizeof err, "%s: tensor %s missing, not bf16, or not %zux%zu", f->path, name, rows, cols);
        die("model");
    }
    if (A->upload((char *)dst + row0 * cols * 2, t->data, rows * cols * 2, err, sizeof err)) die("upload");
}

static void upload_vec(const st_file *f, const char *name, float *dst, int n) {
    const st_tensor *t = st_find(f, name);
    if (!t || st_numel(t) != n) {
        snprintf(err, sizeof err, "%s: tensor %s missing or not [%d]", f->path, name, n);
        die("model");
    }
    float *h = malloc((size_t)n * 4);
    for (int i = 0; i < n; i++) {
        if (t->dtype == ST_F32) h[i] = ((const float *)t->data)[i];
        else {
            uint32_t u = (uint32_t)((const uint16_t *)t->data)[i] << 16;
            memcpy(&h[i], &u, 4);
        }
    }
    if (t->dtype == ST_F16) { snprintf(err, sizeof err, "%s: f16 vectors are not supported here", name); die("model"); }
    if (A->upload(dst, h, (size_t)n * 4, err, sizeof err)) die("upload");
    free(h);
}

static void build(net *m, const char *dir) {
    const model_config *c = &m->c;
    m->H = c->hidden_size, m->I = c->intermediate_size, m->L = c->num_layers, m->nh = c->num_heads;
    m->nkv = c->num_kv_heads, m->hd = c->head_dim, m->V = c->vocab_size;
    m->qd = m->nh * m->hd, m->kvd = m->nkv * m->hd;
    m->ly = calloc((size_t)m->L, sizeof *m->ly);
    st_file *f = NULL;
    if (dir) {
        char path[4096];
        fs_join(path, sizeof path, dir, "model.safetensors");
        if (!(f = st_open(path, err, sizeof err))) die("model (a single model.safetensors in bf16 is needed)");
    }
    uint64_t seed = 1;
    m->emb = weight(m, (size_t)m->V, (size_t)m->H, seed++);
    m->head = c->tie_embeddings ? m->emb : weight(m, (size_t)m->V, (size_t)m->H, seed++);
    m->matmul_params = (size_t)m->V * m->H;
    m->normf = dalloc((size_t)m->H * 4);
    fill_vec(m->normf, m->H, 1.0f);
    for (int l = 0; l < m->L; l++) {
        layer *y = &m->ly[l];
        y->q = weight(m, (size_t)m->qd, (size_t)m->H, seed++);
        y->k = weight(m, (size_t)m->kvd, (size_t)m->H, seed++);
        y->v = weight(m, (size_t)m->kvd, (size_t)m->H, seed++);
        y->o = weight(m, (size_t)m->H, (size_t)m->qd, seed++);
        y->gu = weight(m, 2 * (size_t)m->I, (size_t)m->H, seed++);
        y->down = weight(m, (size_t)m->H, (size_t)m->I, seed++);
        m->matmul_params += (size_t)m->H * (m->qd + 2 * m->kvd) + (size_t)m->qd * m->H + 3 * (size_t)m->H * m->I;
        y->ln1 = dalloc((size_t)m->H * 4);
        y->ln2 = dalloc((size_t)m->H * 4);
        fill_vec(y->ln1, m->H, 1.0f);
        fill_vec(y->ln2, m->H, 1.0f);
        if (c->attn_bias) {
            y->bq = dalloc((size_t)m->qd * 4);
            y->bk = dalloc((size_t)m->kvd * 4);
            y->bv = dalloc((size_t)m->kvd * 4);
            fill_vec(y->bq, m->qd, 0.0f);
            fill_vec(y->bk, m->kvd, 0.0f);
            fill_vec(y->bv, m->kvd, 0.0f);
        }
        if (f) {
            char n[256];
#define T(suffix) (snprintf(n, sizeof n, "model.layers.%d.%s", l, suffix), n)
            upload_t(f, T("self_attn.q_proj.weight"), y->q, 0, (size_t)m->qd, (size_t)m->H);
            upload_t(f, T("self_attn.k_proj.weight"), y->k, 0, (size_t)m->kvd, (size_t)m->H);
            upload_t(f, T("self_attn.v_proj.weight"), y->v, 0, (size_t)m->kvd, (size_t)m->H);
            upload_t(f, T("self_attn.o_proj.weight"), y->o, 0, (size_t)m->H, (size_t)m->qd);
            upload_t(f, T("mlp.gate_proj.weight"), y->gu, 0, (size_t)m->I, (size_t)m->H);
            upload_t(f, T("mlp.up_proj.weight"), y->gu, (size_t)m->I, (size_t)m->I, (size_t)m->H);
            upload_t(f, T("mlp.down_proj.weight"), y->down, 0, (size_t)m->H, (size_t)m->I);
            upload_vec(f, T("input_layernorm.weight"), y->ln1, m->H);
            upload_vec(f, T("post_attention_layernorm.weight"), y->ln2, m->H);
            if (c->attn_bias) {
                upload_vec(f, T("self_attn.q_proj.bias"), y->bq, m->qd);
                upload_vec(f, T("self_attn.k_proj.bias"), y->bk, m->kvd);
                upload_vec(f, T("self_attn.v_proj.bias"), y->bv, m->kvd);
            }
#undef T
        }
    }
    if (f) {
        upload_t(f, "model.embed_tokens.weight", m->emb, 0, (size_t)m->V, (size_t)m->H);
        if (!c->tie_embeddings) upload_t(f, "lm_head.weight", m->head, 0, (size_t)m->V, (size_t)m->H);
        upload_vec(f, "model.norm.weight", m->normf, m->H);
        st_close(f);
    }
    float *inv = malloc((size_t)m->hd / 2 * 4);
    for (int j = 0; j < m->hd / 2; j++) inv[j] = 1.0f / powf((float)c->rope_theta, (float)(2 * j) / (float)m->hd);
    m->inv_freq = dalloc((size_t)m->hd / 2 * 4);
    if (A->upload(m->inv_freq, inv, (size_t)m->hd / 2 * 4, err, sizeof err)) die("upload");
    free(inv);
    sync_or_die("weights");
}

/* Activations and state for up to M rows (prefill) and B sequences. */
typedef struct {
    int M, B, max_len;
    float *x, *q, *k, *v, *gu, *logits, *last;
    void *xb, *att, *act; /* bf16 */
    void *kc, *vc;
    size_t slot_stride, layer_stride;
    int *tok, *pos, *slot, *len, *rows; /* device */
    float *temp, *topp;
    int *topk;
    uint64_t *seed, *ctr;
} state;

static void state_init(state *s, const net *m, int B, int P, int max_len) {
    memset(s, 0, sizeof *s);
    int M = B * P;
    s->M = M, s->B = B, s->max_len = max_len;
    s->x = dalloc((size_t)M * m->H * 4);
    s->q = dalloc((size_t)M * m->qd * 4);
    s->k = dalloc((size_t)M * m->kvd * 4);
    s->v = dalloc((size_t)M * m->kvd * 4);
    s->gu = dalloc((size_t)M * 2 * m->I * 4);
    s->xb = dalloc((size_t)M * m->H * 2);
    s->att = dalloc((size_t)M * m->qd * 2);
    s->act = dalloc((size_t)M * m->I * 2);
    s->logits = dalloc((size_t)B * m->V * 4);
    s->last = dalloc((size_t)B * m->H * 4);
    s->layer_stride = (size_t)max_len * m->kvd;
    s->slot_stride = s->layer_stride * m->L;
    s->kc = dalloc((size_t)B * s->slot_stride * 2);
    s->vc = dalloc((size_t)B * s->slot_stride * 2);
    s->tok = dalloc((size_t)M * 4);
    s->pos = dalloc((size_t)M * 4);
    s->slot = dalloc((size_t)M * 4);
    s->len = dalloc((size_t)B * 4);
    s->rows = dalloc((size_t)B * 4);
    s->temp = dalloc((size_t)B * 4);
    s->topp = dalloc((size_t)B * 4);
    s->topk = dalloc((size_t)B * 4);
    s->seed = dalloc((size_t)B * 8);
    s->ctr = dalloc((size_t)B * 8);
}

static void state_free(state *s) {
    void *p[] = {s->x, s->q, s->k, s->v, s->gu, s->xb, s->att, s->act, s->logits, s->last, s->kc, s->vc, s->tok,
                 s->pos, s->slot, s->len, s->rows, s->temp, s->topp, s->topk, s->seed, s->ctr};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) A->free(p[i]);
}

/* The layers over n rows at device positions/slots; attention by prefill runs (P rows per sequence) or decode. */
static void layers(const net *m, state *s, int n, int P, bool decode) {
    for (int l = 0; l < m->L; l++) {
        const layer *y = &m->ly[l];
        char *kc = (char *)s->kc + (size_t)l * s->layer_stride * 2, *vc = (char *)s->vc + (size_t)l * s->layer_stride * 2;
        A->rmsnorm(s->xb, HFC_BF16, NULL, s->x, y->ln1, n, m->H, (float)m->c.rms_eps);
        A->matmul(s->q, s->xb, y->q, y->bq, HFC_BF16, n, m->qd, m->H, 0);
        A->matmul(s->k, s->xb, y->k, y->bk, HFC_BF16, n, m->kvd, m->H, 0);
        A->matmul(s->v, s->xb, y->v, y->bv, HFC_BF16, n, m->kvd, m->H, 0);
        A->rope(s->q, s->pos, m->inv_freq, n, m->nh, m->hd);
        A->rope(s->k, s->pos, m->inv_freq, n, m->nkv, m->hd);
        A->kv_store(kc, vc, HFC_BF16, s->slot_stride, s->k, s->v, s->slot, s->pos, n, m->kvd);
        if (decode)
            A->attn_decode(s->att, HFC_BF16, s->q, kc, vc, HFC_BF16, s->slot_stride, s->slot, s->len, NULL, n, m->nh,
                           m->nkv, m->hd);
        else
            for (int b = 0; b < n / P; b++)
                A->attn_prefill((uint16_t *)s->att + (size_t)b * P * m->qd, HFC_BF16, NULL, s->q + (size_t)b * P * m->qd,
                                kc, vc, HFC_BF16, s->slot_stride, b, 0, P, m->nh, m->nkv, m->hd);
        A->matmul(s->x, s->att, y->o, NULL, HFC_BF16, n, m->H, m->qd, 1);
        A->rmsnorm(s->xb, HFC_BF16, NULL, s->x, y->ln2, n, m->H, (float)m->c.rms_eps);
        A->matmul(s->gu, s->xb, y->gu, NULL, HFC_BF16, n, 2 * m->I, m->H, 0);
        A->silu_gate(s->act, HFC_BF16, s->gu, n, m->I);
        A->matmul(s->x, s->act, y->down, NULL, HFC_BF16, n, m->H, m->I, 1);
    }
}

static void head_and_sample(const net *m, state *s, const float *x, int B) {
    A->rmsnorm(s->xb, HFC_BF16, NULL, x, m->normf, B, m->H, (float)m->c.rms_eps);
    A->matmul(s->logits, s->xb, m->head, NULL, HFC_BF16, B, m->V, m->H, 0);
    A->sample(s->tok, NULL, s->logits, NULL, B, m->V, s->temp, s->topk, s->topp, s->seed, s->ctr);
}

/* One decode step for B sequences: s->tok in, s->tok out, positions advanced. */
static void decode_step(const net *m, state *s) {
    A->embed(s->x, m->emb, HFC_BF16, s->tok, s->B, m->H);
    layers(m, s, s->B, 1, true);
    head_and_sample(m, s, s->x, s->B);
    A->advance(s->pos, s->len, s->B);
}

static void upload_ints(int *d, const int *h, size_t n) {
    if (A->upload(d, h, n * 4, err, sizeof err)) die("upload");
}

/* Sets decode state: B sequences that hold P tokens; resets sampling counters. */
static void decode_reset(const net *m, state *s, int P) {
    int B = s->B;
    int *h = malloc((size_t)B * 4 * 3);
    float *hf = malloc((size_t)B * 4 * 2);
    uint64_t *hs = malloc((size_t)B * 8);
    for (int b = 0; b < B; b++) {
        h[b] = P;          /* position of the next token */
        h[B + b] = P + 1;  /* length after it is stored */
        h[2 * B + b] = b;  /* slot */
        hf[b] = 0.7f;
        hf[B + b] = 0.95f;
        hs[b] = 1234 + (uint64_t)b;
    }
    upload_ints(s->pos, h, (size_t)B);
    upload_ints(s->len, h + B, (size_t)B);
    upload_ints(s->slot, h + 2 * B, (size_t)B);
    if (A->upload(s->temp, hf, (size_t)B * 4, err, sizeof err) || A->upload(s->topp, hf + B, (size_t)B * 4, err, sizeof err) ||
        A->upload(s->seed, hs, (size_t)B * 8, err, sizeof err))
        die("upload");
    A->zero(s->topk, (size_t)B * 4);
    A->zero(s->ctr, (size_t)B * 8);
    (void)m;
    free(h); free(hf); free(hs);
}

/* Prefill of B prompts of P tokens (random ids) into slots 0..B-1; the first token of each is sampled. */
static double prefill(const net *m, state *s, int P) {
    int B = s->B, M = B * P;
    int *h = malloc((size_t)M * 4 * 3);
    for (int i = 0; i < M; i++) {
        h[i] = (int)((uint64_t)(i * 2654435761u) % (uint64_t)m->V);
        h[M + i] = i % P;
        h[2 * M + i] = i / P;
    }
    upload_ints(s->tok, h, (size_t)M);
    upload_ints(s->pos, h + M, (size_t)M);
    upload_ints(s->slot, h + 2 * M, (size_t)M);
    for (int b = 0; b < B; b++) h[b] = b * P + P - 1;
    upload_ints(s->rows, h, (size_t)B);
    decode_reset(m, s, P); /* sampling parameters; positions are re-uploaded below */
    upload_ints(s->pos, h + M, (size_t)M);
    upload_ints(s->slot, h + 2 * M, (size_t)M);
    free(h);
    sync_or_die("prefill setup");
    A->timer_mark(0);
    A->embed(s->x, m->emb, HFC_BF16, s->tok, M, m->H);
    layers(m, s, M, P, false);
    A->gather_rows(s->last, s->x, s->rows, B, m->H);
    head_and_sample(m, s, s->last, B);
    A->timer_mark(1);
    sync_or_die("prefill");
    return A->timer_seconds(0, 1);
}

/* GEMM time of one product shape: y[M,N] = x[M,K] W^T, bf16 in, fp32 out (mean of reps after a warm-up). */
static double gemm_time(int M, int N, int K) {
    void *x = dalloc((size_t)M * K * 2), *w = dalloc((size_t)N * K * 2);
    float *y = dalloc((size_t)M * N * 4);
    A->fill_normal(x, HFC_BF16, (size_t)M * K, 1.0f, 7);
    A->fill_normal(w, HFC_BF16, (size_t)N * K, 0.02f, 8);
    for (int i = 0; i < 3; i++) A->matmul(y, x, w, NULL, HFC_BF16, M, N, K, 0);
    int reps = 20;
    A->timer_mark(2);
    for (int i = 0; i < reps; i++) A->matmul(y, x, w, NULL, HFC_BF16, M, N, K, 0);
    A->timer_mark(3);
    sync_or_die("gemm");
    double t = A->timer_seconds(2, 3) / reps;
    A->free(x); A->free(w); A->free(y);
    return t;
}

static double copy_bandwidth(void) {
    size_t bytes = (size_t)1 << 30;
    void *a = dalloc(bytes), *b = dalloc(bytes);
    A->zero(a, bytes);
    A->copy(b, a, bytes);
    int reps = 10;
    A->timer_mark(4);
    for (int i = 0; i < reps; i++) A->copy(i % 2 ? a : b, i % 2 ? b : a, bytes);
    A->timer_mark(5);
    sync_or_die("copy");
    double t = A->timer_seconds(4, 5);
    A->free(a); A->free(b);
    return 2.0 * (double)bytes * reps / t / 1e9; /* read + write */
}

int main(int argc, char **argv) {
    const char *model_dir = NULL, *preset = "qwen2.5-0.5b", *batches = "1,64,128,256", *json = NULL;
    int P = 64, NEW = 256, dev = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "bench_gpu_decode: %s needs a value (see the comment at the top of bench/gpu_decode.c)\n", a); return 2; }
        if (!strcmp(a, "--model")) model_dir = v;
        else if (!strcmp(a, "--preset")) preset = v;
        else if (!strcmp(a, "--batch")) batches = v;
        else if (!strcmp(a, "--prompt")) P = atoi(v);
        else if (!strcmp(a, "--new")) NEW = atoi(v);
        else if (!strcmp(a, "--device")) dev = atoi(v);
        else if (!strcmp(a, "--json")) json = v;
        else { fprintf(stderr, "bench_gpu_decode: unknown flag %s\n", a); return 2; }
        i++;
    }
    if (P < 1 || NEW < 1) { fprintf(stderr, "bench_gpu_decode: --prompt and --new must be >= 1\n"); return 2; }
    int Bs[16], nb = 0;
    for (const char *p = batches; *p && nb < 16;) {
        int b = atoi(p);
        if (b < 1 || b > 4096) { fprintf(stderr, "bench_gpu_decode: --batch: '%s' is not a list of sizes 1..4096\n", batches); return 2; }
        Bs[nb++] = b;
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    net m;
    memset(&m, 0, sizeof m);
    if (model_dir ? model_read_config(model_dir, &m.c, err, sizeof err) : model_preset(preset, &m.c)) {
        if (!model_dir) snprintf(err, sizeof err, "unknown preset '%s'", preset);
        fprintf(stderr, "bench_gpu_decode: %s\n", err);
        return 2;
    }
    if (m.c.head_dim > 256) { fprintf(stderr, "bench_gpu_decode: head_dim above 256\n"); return 2; }
    bk_device_spec spec = {BK_DEVICE_CUDA, dev};
    bk_device_choice ch;
    if (bk_device_choose(&spec, 0, "the benchmark", &ch, err, sizeof err)) {
        printf("SKIPPED: %s\n", err);
        return 77;
    }
    A = bk_cuda_api(err, sizeof err);
    if (A->init(dev, err, sizeof err)) die("init");
    char desc[512];
    bk_device_describe(&ch, desc, sizeof desc);
    printf("device: %s, compute capability %d.%d, %d SMs; module %s (%s)\n", desc, ch.info.cc_major, ch.info.cc_minor,
           ch.info.multiprocessors, bk_cuda_module_path(), A->build);
    double bw = copy_bandwidth();
    printf("device-to-device copy: %.0f GB/s (bytes read + written)\n", bw);

    double t0 = now();
    build(&m, model_dir);
    printf("model: %s (%s), hidden %d, %d layers, heads %d/%d, head_dim %d, intermediate %d, vocab %d, %s head; "
           "%.3f GB of bf16 weights (%s), built in %.1f s\n",
           model_dir ? model_dir : preset, m.c.arch, m.H, m.L, m.nh, m.nkv, m.hd, m.I, m.V,
           m.c.tie_embeddings ? "tied" : "untied", (double)m.weight_bytes / 1e9,
           model_dir ? "uploaded from the folder" : "random N(0, 0.02) on the device", now() - t0);

    FILE *jf = NULL;
    if (json) {
        jf = fopen(json, "w");
        if (!jf) { fprintf(stderr, "bench_gpu_decode: %s: cannot write\n", json); return 1; }
        fprintf(jf, "{\"device\": \"%s\", \"model\": \"%s\", \"weight_bytes\": %zu, \"copy_gbs\": %.1f, \"runs\": [",
                ch.info.name, model_dir ? model_dir : preset, m.weight_bytes, bw);
    }
    int max_len = P + NEW + 8;
    for (int bi = 0; bi < nb; bi++) {
        int B = Bs[bi];
        /* the GEMM rate of this batch's shapes, and the GEMM-only time of a step */
        struct { const char *name; int N, K, per_layer; } sh[] = {
            {"q", m.qd, m.H, 1}, {"k/v", m.kvd, m.H, 2}, {"o", m.H, m.qd, 1}, {"gate+up", 2 * m.I, m.H, 1},
            {"down", m.H, m.I, 1}, {"head", m.V, m.H, 0}};
        double step_gemm = 0;
        printf("B=%d GEMM (bf16 in, fp32 accumulate), M=%d:", B, B);
        for (size_t i = 0; i < sizeof sh / sizeof *sh; i++) {
            double t = gemm_time(B, sh[i].N, sh[i].K);
            printf(" %s %dx%d %.1f TFLOP/s (%.0f GB/s of weights);", sh[i].name, sh[i].N, sh[i].K,
                   2.0 * B * sh[i].N * sh[i].K / t / 1e12, 2.0 * sh[i].N * sh[i].K / t / 1e9);
            step_gemm += t * (sh[i].per_layer ? sh[i].per_layer * m.L : 1);
        }
        printf("\n  GEMM-only decode step: %.3f ms = %.0f tokens/s\n", step_gemm * 1e3, B / step_gemm);

        state s;
        int64_t peak0 = A->peak_bytes();
        state_init(&s, &m, B, P, max_len);
        double tp = prefill(&m, &s, P);
        printf("  prefill: %d prompts x %d tokens in %.2f ms = %.0f tokens/s\n", B, P, tp * 1e3, B * P / tp);

        /* decode: the step captured once, replayed NEW times */
        decode_reset(&m, &s, P);
        sync_or_die("reset");
        if (A->graph_begin(err, sizeof err)) die("graph");
        decode_step(&m, &s);
        hfc_graph *g = A->graph_end(err, sizeof err);
        if (!g) die("graph");
        for (int i = 0; i < 3; i++) A->graph_launch(g, err, sizeof err); /* warm-up */
        decode_reset(&m, &s, P);
        sync_or_die("warm-up");
        int *ids = malloc((size_t)B * 4);
        double w0 = now();
        A->timer_mark(0);
        for (int st = 0; st < NEW; st++) {
            if (A->graph_launch(g, err, sizeof err)) die("graph launch");
            if (A->download(ids, s.tok, (size_t)B * 4, err, sizeof err)) die("ids");
        }
        A->timer_mark(1);
        sync_or_die("decode");
        double wall = now() - w0, loop_ev = A->timer_seconds(0, 1);
        decode_reset(&m, &s, P);
        sync_or_die("reset");
        A->timer_mark(2);
        for (int st = 0; st < NEW; st++) A->graph_launch(g, err, sizeof err);
        A->timer_mark(3);
        sync_or_die("decode");
        double dev_only = A->timer_seconds(2, 3);
        A->graph_free(g);
        double tps = (double)B * NEW / wall;
        printf("  decode (graph): %d x %d tokens in %.3f s = %.0f tokens/s with ids downloaded each step "
               "(events: %.3f s; device-only %.0f tokens/s, %.3f ms/step)\n",
               B, NEW, wall, tps, loop_ev, (double)B * NEW / dev_only, dev_only / NEW * 1e3);
        double eager_tps = 0;
        if (B == 1) {
            decode_reset(&m, &s, P);
            sync_or_die("reset");
            double e0 = now();
            for (int st = 0; st < NEW; st++) {
                decode_step(&m, &s);
                if (A->download(ids, s.tok, (size_t)B * 4, err, sizeof err)) die("ids");
            }
            eager_tps = NEW / (now() - e0);
            printf("  decode (eager, no graph): %.0f tokens/s\n", eager_tps);
            /* roofline: every weight read once per token, plus the KV cache of the mean length */
            double kv_bytes = (double)m.L * 2 * m.kvd * 2 * (P + NEW / 2.0);
            double roof = bw * 1e9 / ((double)m.weight_bytes + kv_bytes);
            printf("  bandwidth roofline (weights + KV once per token at %.0f GB/s): %.0f tokens/s; "
                   "measured = %.1f%% of it\n", bw, roof, 100.0 * tps / roof);
        } else {
            printf("  measured = %.1f%% of the GEMM-only rate; %.1f TFLOP/s in the products\n",
                   100.0 * tps / (B / step_gemm), 2.0 * m.matmul_params * B * NEW / wall / 1e12);
        }
        int64_t peak = A->peak_bytes();
        printf("  peak GPU memory allocated: %.2f GiB (weights %.2f GiB, KV cache %.2f GiB; context and the 32 MiB "
               "cuBLAS workspace not counted)\n", (double)peak / (1 << 30), (double)m.weight_bytes / (1 << 30),
               (double)B * s.slot_stride * 4 / (1 << 30));
        if (jf)
            fprintf(jf, "%s{\"batch\": %d, \"prefill_tps\": %.1f, \"decode_tps\": %.1f, \"decode_device_tps\": %.1f, "
                        "\"eager_tps\": %.1f, \"gemm_only_tps\": %.1f, \"peak_bytes\": %lld}",
                    bi ? ", " : "", B, B * P / tp, tps, (double)B * NEW / dev_only, eager_tps, B / step_gemm,
                    (long long)peak);
        (void)peak0;
        free(ids);
        state_free(&s);
    }
    if (jf) {
        fprintf(jf, "]}\n");
        fclose(jf);
    }
    return 0;
}
