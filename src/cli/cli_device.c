/* --device for the commands that run a model: parse, choose, print the choice or the error. */
#include "cli/commands.h"

#include "backend/bk_device.h"
#include "core/args.h"
#include "core/log.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The GPU backend the commands' models go to (model_set_default_backend), freed at exit after the models. */
static bk_backend *gpu;

static void gpu_release(void) {
    model_set_default_backend(NULL);
    if (gpu) gpu->destroy(gpu);
    gpu = NULL;
}

/* Opens cuda:index and makes it the models' backend. 0, or -1 with the reason in err. */
static int gpu_open(int index, char *err, size_t errcap) {
    if (gpu) return 0;
    char e[768];
    bk_backend *b = bk_cuda_backend(index, e, sizeof e);
    if (!b) {
        snprintf(err, errcap, "%s", e);
        return -1;
    }
    if (bk_ops_check(b, BK_NEED_INFER, e, sizeof e) != 0) {
        snprintf(err, errcap, "%s", e);
        b->destroy(b);
        return -1;
    }
    gpu = b;
    model_set_default_backend(b);
    atexit(gpu_release);
    return 0;
}

bk_backend *cli_device_backend(void) { return gpu; }

int cli_device_train_backend(const args *a, const char *cmd, int kind, bk_backend **out) {
    *out = NULL;
    if (kind != BK_DEVICE_CUDA) return 0;
    char err[1024];
    if (!gpu) snprintf(err, sizeof err, "no GPU backend is open");
    else if (bk_ops_check(gpu, BK_NEED_TRAIN, err, sizeof err) == 0) {
        *out = gpu;
        return 0;
    }
    fprintf(stderr, "halo-forge %s: --device %s: %s\n", cmd, args_str(a, "device"), err);
    return 2;
}

int cli_device_setup(const args *a, const char *cmd, const char *model_dir, int *kind_out) {
    bk_device_spec spec;
    char err[1024];
    *kind_out = BK_DEVICE_CPU;
    if (bk_device_parse(args_str(a, "device"), &spec, err, sizeof err)) {
        fprintf(stderr, "halo-forge %s: %s\n", cmd, err);
        return 2;
    }
    if (spec.kind == BK_DEVICE_CPU) return 0;
    int64_t need = model_dir ? bk_model_weight_bytes(model_dir) : 0;
    char what[1200];
    if (need > 0) snprintf(what, sizeof what, "the model %s (%.2f GiB of weights)", model_dir, (double)need / (1 << 30));
    else snprintf(what, sizeof what, "the model");
    bk_device_choice ch;
    if (bk_device_choose(&spec, need > 0 ? need : 0, what, &ch, err, sizeof err)) {
        fprintf(stderr, "halo-forge %s: %s\n", cmd, err);
        return 2;
    }
    char desc[512];
    bk_device_describe(&ch, desc, sizeof desc);
    if (ch.kind == BK_DEVICE_CUDA && gpu_open(ch.index, err, sizeof err) != 0) {
        if (spec.kind == BK_DEVICE_CUDA) {
            fprintf(stderr, "halo-forge %s: --device %s: %s\n", cmd, args_str(a, "device"), err);
            return 2;
        }
        log_info("device: cpu (auto: %s cannot be used: %s)", desc, err);
        return 0;
    }
    if (spec.kind == BK_DEVICE_AUTO) {
        if (ch.kind == BK_DEVICE_CUDA) log_info("device: %s (auto)", desc);
        else log_info("device: cpu (auto: %s)", ch.why);
    } else {
        log_info("device: %s", desc);
    }
    *kind_out = (int)ch.kind;
    return 0;
}
