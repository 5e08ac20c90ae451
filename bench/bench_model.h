/* The benchmarks' default model: the qwen2.5-0.5b preset with random bf16 weights, written once to
 * /tmp/hf_bench_qwen05 (bench/train_torch.py reads the same folder, so both sides time the same model). */
#ifndef HF_BENCH_MODEL_H
#define HF_BENCH_MODEL_H

#include "core/fs.h"
#include "model/model.h"

#include <stdio.h>

#define BENCH_DEFAULT_MODEL "/tmp/hf_bench_qwen05"

/* Writes the default model unless it is there. Returns its folder (a string constant), or NULL with err. */
static inline const char *bench_default_model(char *err, size_t errcap) {
    char p[256];
    snprintf(p, sizeof p, "%s/model.safetensors", BENCH_DEFAULT_MODEL);
    if (fs_exists(p)) return BENCH_DEFAULT_MODEL;
    model_config c;
    model_preset("qwen2.5-0.5b", &c);
    fprintf(stderr, "writing the qwen2.5-0.5b preset to %s ...\n", BENCH_DEFAULT_MODEL);
    if (model_write_random(BENCH_DEFAULT_MODEL, &c, true, 0, 0.02, false, err, errcap)) return NULL;
    return BENCH_DEFAULT_MODEL;
}

#endif
