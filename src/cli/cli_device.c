/* --device for the commands that run a model: parse, choose, print the choice or the error. */
#include "cli/commands.h"

#include "backend/bk_device.h"
#include "core/args.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

/* The model's forward pass runs on the CPU backend only until the backend interface (issue 11, part one:
 * one model + one forward over src/backend) is merged; a usable GPU is then reported but not used. */
static const bool gpu_forward_available = false;

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
    if (ch.kind == BK_DEVICE_CUDA && !gpu_forward_available) {
        if (spec.kind == BK_DEVICE_CUDA) {
            fprintf(stderr,
                    "halo-forge %s: --device cuda: %s is usable, but this build runs models on the CPU only "
                    "(the GPU forward pass is not wired in yet); use --device cpu or auto\n",
                    cmd, desc);
            return 2;
        }
        log_info("device: cpu (auto: %s is usable, but this build runs models on the CPU only)", desc);
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
