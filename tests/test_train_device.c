/* Training on a backend whose memory is not host memory, without a GPU: a "shadow" device that is the CPU
 * backend's kernels on separately allocated memory reached only through upload / download (host_memory false,
 * weight_map copies), so every path a GPU takes in train_model, the optimizer and train_run runs here: the move
 * to the device, the optimizer state in backend memory, clipping and the finiteness check as reductions,
 * checkpoints downloaded from the device, resume uploaded to it, an adapter merged on the device, and the
 * out-of-memory messages. Because the kernels are the CPU's, everything must be bit for bit what the CPU backend
 * gives: a missed download or upload shows up as a different file.
 *
 * Also the committed PyTorch training fixtures through the same path (tests/train_ref.h), at the CPU's
 * tolerances. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "train_ref.h"

#include "core/fs.h"
#include "raft/loop.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/train_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[256];
static bk_backend SH;          /* the shadow device */
static size_t sh_used, sh_limit; /* bytes allocated through it; alloc fails beyond the limit (0: none) */
static size_t sh_allocs;        /* allocations made through it, ever */

/* Every allocation carries its size in front, so free can count it back. */
static void *sh_alloc(bk_backend *b, size_t bytes) {
    if (sh_limit && sh_used + bytes > sh_limit) {
        snprintf(b->err, sizeof b->err, "%zu bytes asked, %zu of %zu free", bytes, sh_limit - sh_used, sh_limit);
        return NULL;
    }
    char *p = aligned_alloc(64, 64 + ((bytes + 63) & ~(size_t)63));
    if (!p) return NULL;
    *(size_t *)p = bytes;
    sh_used += bytes;
    sh_allocs++;
    /* what a fresh device allocation holds: not zeros */
    memset(p + 64, 0xa5, bytes);
    return p + 64;
}
static void sh_free(bk_backend *b, void *p) {
    (void)b;
    if (!p) return;
    char *q = (char *)p - 64;
    sh_used -= *(size_t *)q;
    free(q);
}
/* A copy at the host's alignment modulo 64 (the kernels' results may depend on where a row starts). */
static const void *sh_weight_map(bk_backend *b, const void *host, size_t bytes) {
    const size_t mis = (uintptr_t)host & 63;
    char *d = sh_alloc(b, bytes + 128);
    if (!d) return NULL;
    memcpy(d + 64 + mis, host, bytes);
    return d + 64 + mis;
}
static void sh_weight_unmap(bk_backend *b, const void *p) {
    if (!p) return;
    const size_t mis = (uintptr_t)p & 63;
    sh_free(b, (char *)p - 64 - mis);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hf_test_train_device_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    SH = *bk_cpu();
    snprintf(SH.name, sizeof SH.name, "shadow");
    SH.host_memory = false;
    SH.op.alloc = sh_alloc;
    SH.op.free = sh_free;
    SH.op.weight_map = sh_weight_map;
    SH.op.weight_unmap = sh_weight_unmap;
    return 0;
}
static int teardown(void **state) {
    (void)state;
    if (!getenv("HF_TEST_KEEP")) fs_remove_tree(tmpdir);
    return 0;
}

static void test_fixtures_on_shadow(void **state) {
    (void)state;
    tr_reference_case(&SH, "gqa2_untied_bf16", true, 1e-4, 1e-4, tmpdir);
    tr_reference_case(&SH, "gqa1_tied_f32", false, 1e-4, 1e-4, tmpdir);
    tr_reference_case(&SH, "llama_untied_f32", true, 1e-4, 1e-4, tmpdir);
    tr_reference_case(&SH, "odd_headdim_bf16", false, 1e-4, 1e-4, tmpdir);
    assert_int_equal(sh_used, 0); /* everything the model and optimizer allocated was freed */
}

/* ---------- sft train: the same files from the CPU and from the device ---------- */

static char model_dir[512], data_path[512];

static void make_model_and_data(void) {
    if (model_dir[0]) return;
    char err[1024], path[1024];
    snprintf(model_dir, sizeof model_dir, "%s/m", tmpdir);
    if (tok_write_small(model_dir, err, sizeof err)) fail_msg("%s", err);
    snprintf(path, sizeof path, "%s/tokenizer.json", model_dir);
    tokenizer *t = tok_load(path, err, sizeof err);
    if (!t) fail_msg("%s", err);
    model_config c;
    model_preset("tiny", &c);
    c.vocab_size = tok_vocab_size(t) + 5;
    c.hidden_size = 32;
    c.intermediate_size = 48;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 8;
    c.num_layers = 2;
    tok_free(t);
    /* bf16: the frozen base of LoRA is used as bf16 (weight_map of the matrices) */
    if (model_write_random(model_dir, &c, true, 3, 0.05, true, err, sizeof err)) fail_msg("%s", err);
    snprintf(data_path, sizeof data_path, "%s/d.jsonl", tmpdir);
    FILE *f = fopen(data_path, "w");
    assert_non_null(f);
    for (int i = 1; i <= 24; i++) {
        int a = i * 7 % 50, b = i * 13 % 50;
        fprintf(f, "{\"prompt\": \"add %d %d\", \"completion\": \"%d\"}\n", a, b, a + b);
    }
    fclose(f);
}

static void run_sft(bk_backend *bk, const char *out, int rank, const char *resume, long max_steps) {
    train_options o;
    train_options_default(&o);
    o.model_dir = model_dir;
    o.data_path = data_path;
    o.output_dir = out;
    o.resume_dir = resume;
    o.epochs = 2;
    o.batch_size = 3;
    o.grad_accum = 2;
    o.learning_rate = 5e-3f;
    o.lora.rank = rank;
    o.lora.alpha = 8;
    o.lora.dropout = rank ? 0.1f : 0;
    o.save_steps = 2;
    o.eval_steps = 2;
    o.save_total_limit = 0;
    o.validation_split = 0.2;
    o.max_seq_len = 64;
    o.max_steps = max_steps;
    o.backend = bk;
    char err[1024];
    if (train_run(&o, err, sizeof err)) fail_msg("train_run on %s: %s", bk ? bk->name : "cpu", err);
}

static void same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = fs_read_file(a, &la), *y = fs_read_file(b, &lb);
    if (!x || !y) fail_msg("cannot read %s or %s", a, b);
    if (la != lb || memcmp(x, y, la)) fail_msg("%s and %s differ", a, b);
    free(x);
    free(y);
}

/* metrics.jsonl without the tokens_per_sec figures (timings) */
static char *metrics_sans_speed(const char *path) {
    char *t = fs_read_file(path, NULL);
    if (!t) fail_msg("cannot read %s", path);
    char *w = t;
    for (char *r = t; *r;) {
        if (!strncmp(r, ",\"tokens_per_sec\":", 18)) {
            r += 18;
            while (*r && *r != '}') r++;
            continue;
        }
        *w++ = *r++;
    }
    *w = 0;
    return t;
}

static void same_run(const char *a, const char *b, const char *const *files) {
    char pa[1024], pb[1024];
    const char *folders[] = {"checkpoint-2", "checkpoint-4", "final_model", "best_model", NULL};
    for (int d = 0; folders[d]; d++)
        for (int i = 0; files[i]; i++) {
            snprintf(pa, sizeof pa, "%s/%s/%s", a, folders[d], files[i]);
            snprintf(pb, sizeof pb, "%s/%s/%s", b, folders[d], files[i]);
            if (!strcmp(files[i], "trainer_state.bin") && !strcmp(folders[d], "best_model")) continue;
            same_file(pa, pb);
        }
    snprintf(pa, sizeof pa, "%s/metrics.jsonl", a);
    snprintf(pb, sizeof pb, "%s/metrics.jsonl", b);
    char *ma = metrics_sans_speed(pa), *mb = metrics_sans_speed(pb);
    assert_string_equal(ma, mb);
    free(ma);
    free(mb);
}

static void test_sft_lora_same_files(void **state) {
    (void)state;
    make_model_and_data();
    char a[512], b[512], c[512], ck[600];
    snprintf(a, sizeof a, "%s/lora_cpu", tmpdir);
    snprintf(b, sizeof b, "%s/lora_dev", tmpdir);
    snprintf(c, sizeof c, "%s/lora_resumed", tmpdir);
    run_sft(NULL, a, 4, NULL, 0);
    run_sft(&SH, b, 4, NULL, 0);
    const char *files[] = {"adapter_model.safetensors", "trainer_state.bin", NULL};
    same_run(a, b, files);
    /* stopped after step 2 on the device, resumed there from checkpoint-2: the same as uninterrupted */
    run_sft(&SH, c, 4, NULL, 2);
    snprintf(ck, sizeof ck, "%s/checkpoint-2", c);
    run_sft(&SH, c, 4, ck, 0);
    same_run(a, c, files);
    assert_int_equal(sh_used, 0);
}

static void test_sft_full_same_files(void **state) {
    (void)state;
    make_model_and_data();
    char a[512], b[512], c[512], ck[600];
    snprintf(a, sizeof a, "%s/full_cpu", tmpdir);
    snprintf(b, sizeof b, "%s/full_dev", tmpdir);
    snprintf(c, sizeof c, "%s/full_resumed", tmpdir);
    run_sft(NULL, a, 0, NULL, 0);
    run_sft(&SH, b, 0, NULL, 0);
    const char *files[] = {"model.safetensors", "trainer_state.bin", NULL};
    same_run(a, b, files);
    run_sft(&SH, c, 0, NULL, 2);
    snprintf(ck, sizeof ck, "%s/checkpoint-2", c);
    run_sft(&SH, c, 0, ck, 0);
    same_run(a, c, files);
    assert_int_equal(sh_used, 0);
}

/* lora merge: the adapter folded in on the device gives the file the CPU writes. */
static void test_merge_on_device(void **state) {
    (void)state;
    make_model_and_data();
    char ad[512], oa[512], ob[512], pa[600], pb[600], err[1024];
    snprintf(ad, sizeof ad, "%s/merge_src", tmpdir);
    run_sft(NULL, ad, 4, NULL, 2);
    snprintf(ad, sizeof ad, "%s/merge_src/final_model", tmpdir);
    snprintf(oa, sizeof oa, "%s/merged_cpu", tmpdir);
    snprintf(ob, sizeof ob, "%s/merged_dev", tmpdir);
    lora_config lc = {.rank = 0, .no_grad = true};
    for (int dev = 0; dev < 2; dev++) {
        train_model *m = train_model_load_on(model_dir, &lc, 0, dev ? &SH : NULL, err, sizeof err);
        if (!m) fail_msg("%s", err);
        if (train_model_merge_adapter(m, ad, err, sizeof err)) fail_msg("%s", err);
        if (train_model_save_full(m, dev ? ob : oa, false, err, sizeof err)) fail_msg("%s", err);
        train_model_free(m);
    }
    snprintf(pa, sizeof pa, "%s/model.safetensors", oa);
    snprintf(pb, sizeof pb, "%s/model.safetensors", ob);
    same_file(pa, pb);
    /* and the merge changed the weights (not a copy of the base) */
    snprintf(pb, sizeof pb, "%s/model.safetensors", model_dir);
    size_t l1, l2;
    char *x = fs_read_file(pa, &l1), *y = fs_read_file(pb, &l2);
    assert_true(x && y && (l1 != l2 || memcmp(x, y, l1) != 0));
    free(x);
    free(y);
    assert_int_equal(sh_used, 0);
}

/* Out of device memory: for the model at load, for the activations at the first step; messages with the sizes
 * and what to do, never a crash, and the model still usable after a smaller batch. */
static void test_out_of_memory_messages(void **state) {
    (void)state;
    make_model_and_data();
    char err[1024];
    lora_config lc = {.rank = 4, .alpha = 8, .targets = LORA_ALL_TARGETS};
    sh_limit = 1000;
    train_model *m = train_model_load_on(model_dir, &lc, 1, &SH, err, sizeof err);
    assert_null(m);
    printf("  load: %s\n", err);
    assert_non_null(strstr(err, "out of memory on shadow for the model"));
    assert_non_null(strstr(err, "iB"));
    assert_non_null(strstr(err, "of 1000 free"));
    assert_int_equal(sh_used, 0);
    sh_limit = 0;
    m = train_model_load_on(model_dir, &lc, 1, &SH, err, sizeof err);
    if (!m) fail_msg("%s", err);
    sh_limit = sh_used + 4096;
    enum { NT = 512 };
    int tok[NT], starts[2] = {0, NT};
    uint8_t tg[NT];
    for (int i = 0; i < NT; i++) tok[i] = i % 50, tg[i] = 1;
    train_batch b = {.n_tokens = NT, .n_seqs = 1, .tokens = tok, .seq_start = starts, .target = tg};
    double nll;
    long nt;
    assert_int_equal(train_model_step(m, &b, 1.0f / NT, &nll, &nt, err, sizeof err), -1);
    printf("  step: %s\n", err);
    assert_non_null(strstr(err, "out of memory on shadow for the activations of 512 tokens"));
    assert_non_null(strstr(err, "iB"));
    assert_non_null(strstr(err, "--batch-size"));
    sh_limit = 0;
    b.n_tokens = 16;
    starts[1] = 16;
    assert_int_equal(train_model_step(m, &b, 1.0f / 16, &nll, &nt, err, sizeof err), 0);
    assert_true(isfinite(nll) && nt == 15);
    train_model_free(m);
    assert_int_equal(sh_used, 0);
}

/* ---------- raft train: a cycle's fine-tuning on the device (raft_loop_options.train_backend) ----------
 * Sampling stays on the CPU; the custom verifier accepts every completion, so the cycle keeps samples and
 * trains on them. The cycle's adapter and its training metrics must be those of the CPU run. */
static void run_raft(bk_backend *bk, const char *out, rl_algo algo) {
    char prompts[600];
    snprintf(prompts, sizeof prompts, "%s/prompts.jsonl", tmpdir);
    FILE *f = fopen(prompts, "w");
    assert_non_null(f);
    for (int i = 0; i < 4; i++) fprintf(f, "{\"id\": \"p%d\", \"prompt\": \"add %d %d\"}\n", i, i, 2 * i);
    fclose(f);
    raft_loop_options o;
    raft_loop_options_default(&o);
    o.model_dir = model_dir;
    o.prompts_path = prompts;
    o.output_dir = out;
    o.cycles = 1;
    vf_config_default(&o.verifier, VF_CUSTOM);
    /* RAFT keeps every completion; the policy-gradient run needs rewards that differ within a group */
    o.verifier.custom_command = algo == RL_RAFT ? "true {file}" : "grep -q e {file}";
    o.algorithm = algo;
    o.samples_per_prompt = algo == RL_RAFT ? 2 : 4;
    o.max_new_tokens = 6;
    o.gen_batch_size = 4;
    o.batch_size = 2;
    o.grad_accum = 1;
    o.learning_rate = 5e-3;
    o.max_seq_len = 256;
    o.system_prompt = "Add.";
    o.train_backend = bk;
    char err[1024];
    if (raft_loop_run(&o, NULL, err, sizeof err)) fail_msg("raft_loop_run on %s: %s", bk ? bk->name : "cpu", err);
}

static void test_raft_cycle_trains_on_device(void **state) {
    (void)state;
    make_model_and_data();
    char a[600], b[600], pa[700], pb[700];
    snprintf(a, sizeof a, "%s/raft_cpu", tmpdir);
    snprintf(b, sizeof b, "%s/raft_dev", tmpdir);
    run_raft(NULL, a, RL_RAFT);
    sh_used = 0;
    const size_t allocs_before = sh_allocs;
    run_raft(&SH, b, RL_RAFT);
    assert_true(sh_allocs > allocs_before); /* the cycle trained on the device */
    assert_int_equal(sh_used, 0);           /* and freed what it put there */
    const char *files[] = {"cycle_1_final/adapter_model.safetensors", "cycle_1_final/adapter_config.json",
                           "cycle_1_samples.jsonl", NULL};
    for (int i = 0; files[i]; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        same_file(pa, pb);
    }
    snprintf(pa, sizeof pa, "%s/cycle_1/metrics.jsonl", a);
    snprintf(pb, sizeof pb, "%s/cycle_1/metrics.jsonl", b);
    char *ma = metrics_sans_speed(pa), *mb = metrics_sans_speed(pb);
    assert_true(strlen(ma) > 10); /* it trained */
    assert_string_equal(ma, mb);
    free(ma);
    free(mb);
}

/* rl train (GRPO): the policy-gradient update of a cycle on the device (rl_cycle_opts.backend) writes the CPU's
 * adapter and per-step metrics. */
/* The metrics file with its two timing fields ("sampling_tokens_per_s", "training_tokens_per_s")
 * cut out: everything else is a function of the samples and the update, so it must match. */
static char *rl_metrics_sans_speed(const char *path) {
    char *t = fs_read_file(path, NULL);
    if (!t) fail_msg("cannot read %s", path);
    static const char *const timed[] = {",\"sampling_tokens_per_s\":", ",\"training_tokens_per_s\":", NULL};
    for (int i = 0; timed[i]; i++) {
        int cut = 0;
        for (char *hit; (hit = strstr(t, timed[i]));) {
            char *rest = hit + strlen(timed[i]);
            while (*rest && *rest != ',' && *rest != '}') rest++;
            memmove(hit, rest, strlen(rest) + 1);
            cut++;
        }
        assert_true(cut > 0); /* a renamed field would otherwise make the comparison vacuous */
    }
    return t;
}

static void test_rl_update_on_device(void **state) {
    (void)state;
    make_model_and_data();
    char a[600], b[600], pa[700], pb[700];
    snprintf(a, sizeof a, "%s/rl_cpu", tmpdir);
    snprintf(b, sizeof b, "%s/rl_dev", tmpdir);
    run_raft(NULL, a, RL_GRPO);
    sh_used = 0;
    const size_t allocs_before = sh_allocs;
    run_raft(&SH, b, RL_GRPO);
    assert_true(sh_allocs > allocs_before);
    assert_int_equal(sh_used, 0);
    const char *files[] = {"cycle_1_final/adapter_model.safetensors", "cycle_1_final/adapter_config.json", NULL};
    for (int i = 0; files[i]; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        same_file(pa, pb);
    }
    snprintf(pa, sizeof pa, "%s/cycle_1/rl_metrics.jsonl", a);
    snprintf(pb, sizeof pb, "%s/cycle_1/rl_metrics.jsonl", b);
    char *ma = rl_metrics_sans_speed(pa), *mb = rl_metrics_sans_speed(pb);
    assert_non_null(strstr(ma, "\"step\":2"));
    assert_string_equal(ma, mb);
    free(ma);
    free(mb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_on_shadow),
        cmocka_unit_test(test_sft_lora_same_files),
        cmocka_unit_test(test_sft_full_same_files),
        cmocka_unit_test(test_merge_on_device),
        cmocka_unit_test(test_out_of_memory_messages),
        cmocka_unit_test(test_raft_cycle_trains_on_device),
        cmocka_unit_test(test_rl_update_on_device),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
