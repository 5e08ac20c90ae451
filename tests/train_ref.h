/* train_ref: the committed PyTorch training fixtures (tests/fixtures/train/<name>: one batch's loss and gradients
 * of LoRA r=4 and of full fine-tuning, then 10 clipped AdamW steps' losses, written by
 * tests/reference/train_ref.py) run through train_model on any backend, for the tests that train off the CPU
 * (test_train: the CPU; test_train_device: a CPU backend without host memory; test_cuda_train: the GPU).
 * Static functions: include it in one test file. */
#ifndef HF_TESTS_TRAIN_REF_H
#define HF_TESTS_TRAIN_REF_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/fs.h"
#include "model/safetensors.h"
#include "train/opt_adamw.h"
#include "train/train_model.h"

typedef struct {
    int *tokens, *seq_start;
    uint8_t *target;
    train_batch b;
    long n_targets;
} tr_batch;

static const char *tr_src_dir(void) {
    const char *s = getenv("HF_SOURCE_DIR");
    return s ? s : HF_SOURCE_DIR;
}

static cJSON *tr_read_json(const char *path) {
    char *text = fs_read_file(path, NULL);
    if (!text) fail_msg("cannot read %s", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

/* Every sequence of the request as one packed batch. */
static void tr_batch_from_request(tr_batch *ob, const cJSON *req) {
    const cJSON *seqs = cJSON_GetObjectItem(req, "sequences"), *tgs = cJSON_GetObjectItem(req, "targets");
    const int ns = cJSON_GetArraySize(seqs);
    int n = 0;
    for (int s = 0; s < ns; s++) n += cJSON_GetArraySize(cJSON_GetArrayItem(seqs, s));
    ob->tokens = malloc((size_t)n * sizeof(int));
    ob->target = malloc((size_t)n);
    ob->seq_start = malloc((size_t)(ns + 1) * sizeof(int));
    assert_true(ob->tokens && ob->target && ob->seq_start);
    int t = 0;
    ob->n_targets = 0;
    for (int s = 0; s < ns; s++) {
        ob->seq_start[s] = t;
        const cJSON *ids = cJSON_GetArrayItem(seqs, s), *tg = cJSON_GetArrayItem(tgs, s);
        for (int i = 0; i < cJSON_GetArraySize(ids); i++, t++) {
            ob->tokens[t] = cJSON_GetArrayItem(ids, i)->valueint;
            ob->target[t] = (uint8_t)cJSON_GetArrayItem(tg, i)->valueint;
            if (i > 0 && ob->target[t]) ob->n_targets++;
        }
    }
    ob->seq_start[ns] = t;
    ob->b = (train_batch){.n_tokens = n, .n_seqs = ns, .tokens = ob->tokens, .seq_start = ob->seq_start,
                          .target = ob->target};
}

static void tr_batch_free(tr_batch *ob) {
    free(ob->tokens);
    free(ob->target);
    free(ob->seq_start);
}

/* Every trainable gradient (downloaded from the model's backend) against the reference file, per tensor:
 * |g - ref| <= tol * |ref| (L2 norms). */
static void tr_compare_grads(train_model *m, const char *ref_path, const char *label, double tol) {
    char err[512];
    st_file *f = st_open(ref_path, err, sizeof err);
    if (!f) fail_msg("%s", err);
    bk_backend *bk = train_model_backend(m);
    int n = train_model_n_tensors(m);
    assert_int_equal(n, f->n_tensors);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        train_tensor *t = train_model_tensor(m, i);
        const st_tensor *r = st_find(f, t->name);
        if (!r) fail_msg("%s: reference has no %s", label, t->name);
        assert_int_equal(st_numel(r), (int64_t)t->numel);
        float *g = malloc(t->numel * sizeof(float));
        assert_non_null(g);
        if (bk->op.download(bk, g, t->grad, t->numel * sizeof(float))) fail_msg("%s: %s", label, bk->err);
        const float *ref = r->data;
        double d2 = 0, r2 = 0;
        for (size_t k = 0; k < t->numel; k++) {
            d2 += ((double)g[k] - ref[k]) * ((double)g[k] - ref[k]);
            r2 += (double)ref[k] * ref[k];
        }
        free(g);
        if (sqrt(d2) > tol * sqrt(r2) + 1e-9)
            fail_msg("%s: gradient of %s differs: |diff| %.3g, |ref| %.3g (tolerance %.1g relative)", label, t->name,
                     sqrt(d2), sqrt(r2), tol);
        if (r2 > 0 && sqrt(d2 / r2) > worst) worst = sqrt(d2 / r2);
    }
    printf("  %-44s gradients: worst relative |diff| %.3g\n", label, worst);
    st_close(f);
}

/* Fixture `name` on backend bk: LoRA r=4 (from the fixture's adapter init) and full fine-tuning, loss and
 * gradients of one batch, then the 10 AdamW steps' losses. tol: relative gradient tolerance; tol_loss: absolute
 * loss tolerance. */
static void tr_reference_case(bk_backend *bk, const char *name, bool ckpt, double tol, double tol_loss,
                              const char *tmp) {
    char model_dir[2048], fix[2048], path[8192], err[1024];
    snprintf(model_dir, sizeof model_dir, "%s/tests/fixtures/model/%s", tr_src_dir(), name);
    snprintf(fix, sizeof fix, "%s/tests/fixtures/train/%s", tr_src_dir(), name);
    snprintf(path, sizeof path, "%s/request.json", fix);
    cJSON *req = tr_read_json(path);
    snprintf(path, sizeof path, "%s/expected.json", fix);
    cJSON *exp = tr_read_json(path);
    tr_batch ob;
    tr_batch_from_request(&ob, req);
    const cJSON *ad = cJSON_GetObjectItem(req, "adam");
    opt_adamw_config oc = {(float)cJSON_GetObjectItem(ad, "beta1")->valuedouble,
                           (float)cJSON_GetObjectItem(ad, "beta2")->valuedouble,
                           (float)cJSON_GetObjectItem(ad, "eps")->valuedouble,
                           (float)cJSON_GetObjectItem(ad, "weight_decay")->valuedouble};
    const double max_norm = cJSON_GetObjectItem(ad, "max_grad_norm")->valuedouble;
    const cJSON *lrs = cJSON_GetObjectItem(ad, "lrs");
    for (int full = 0; full < 2; full++) {
        char label[256];
        snprintf(label, sizeof label, "%s %s on %s", name, full ? "full" : "LoRA", bk->name);
        lora_config lc = {.rank = full ? 0 : 4, .alpha = 8, .dropout = 0, .targets = LORA_ALL_TARGETS};
        train_model *m = train_model_load_on(model_dir, &lc, 1, bk, err, sizeof err);
        if (!m) fail_msg("%s", err);
        train_model_set_checkpointing(m, ckpt);
        if (!full) {
            char adir[4096], dst[8192];
            snprintf(adir, sizeof adir, "%s/init_%s", tmp, name);
            snprintf(path, sizeof path, "%s/adapter_init.safetensors", fix);
            snprintf(dst, sizeof dst, "%s/adapter_model.safetensors", adir);
            fs_mkdirs(adir);
            size_t len;
            char *data = fs_read_file(path, &len);
            assert_non_null(data);
            assert_int_equal(fs_write_atomic(dst, data, len), 0);
            free(data);
            if (train_model_load_adapter_weights(m, adir, err, sizeof err)) fail_msg("%s", err);
        }
        double nll;
        long nt;
        train_model_zero_grad(m);
        if (train_model_step(m, &ob.b, 1.0f / (float)ob.n_targets, &nll, &nt, err, sizeof err)) fail_msg("%s", err);
        assert_int_equal(nt, ob.n_targets);
        double ref_loss = cJSON_GetObjectItem(exp, full ? "full_loss" : "loss")->valuedouble;
        if (fabs(nll / nt - ref_loss) > tol_loss) fail_msg("%s: loss %.7f, reference %.7f", label, nll / nt, ref_loss);
        snprintf(path, sizeof path, "%s/%s", fix, full ? "full_grads.safetensors" : "lora_grads.safetensors");
        tr_compare_grads(m, path, label, tol);
        size_t np;
        train_model_params(m, &np);
        opt_adamw o;
        assert_int_equal(opt_adamw_init_on(&o, train_model_backend(m), np), 0);
        const cJSON *ref_losses = cJSON_GetObjectItem(exp, full ? "full_losses" : "lora_losses");
        double worst = 0;
        for (int s = 0; s < cJSON_GetArraySize(lrs); s++) {
            train_model_zero_grad(m);
            if (train_model_step(m, &ob.b, 1.0f / (float)ob.n_targets, &nll, &nt, err, sizeof err))
                fail_msg("%s", err);
            double want = cJSON_GetArrayItem(ref_losses, s)->valuedouble;
            if (fabs(nll / nt - want) > tol_loss)
                fail_msg("%s step %d: loss %.7f, reference %.7f", label, s, nll / nt, want);
            if (fabs(nll / nt - want) > worst) worst = fabs(nll / nt - want);
            opt_clip_grad_norm(m, max_norm);
            opt_adamw_step(&o, m, (float)cJSON_GetArrayItem(lrs, s)->valuedouble, &oc);
        }
        printf("  %-44s 10 AdamW steps: worst |loss - reference| %.3g\n", label, worst);
        opt_adamw_free(&o);
        train_model_free(m);
    }
    tr_batch_free(&ob);
    cJSON_Delete(req);
    cJSON_Delete(exp);
}

#endif
