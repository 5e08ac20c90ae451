/* bk_device: which device runs the model (--device auto|cpu|cuda|cuda:N), and the CUDA module behind it.
 *
 * The CUDA backend is a separate shared module (libhf-cuda.so, src/backend/cuda/) that this program loads
 * with dlopen only when a GPU is asked for; halo-forge itself never links CUDA. The module is looked for at
 * $HF_CUDA_MODULE (a path) when set, else next to the running program, else in ../lib/halo-forge beside it.
 *
 * Ownership: the module stays loaded for the life of the process once loaded (bk_cuda_api); nothing here
 * needs freeing. Not thread-safe: choose the device once, from the main thread, before any work. */
#ifndef HF_BK_DEVICE_H
#define HF_BK_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/cuda/hf_cuda.h"

typedef enum { BK_DEVICE_AUTO = 0, BK_DEVICE_CPU, BK_DEVICE_CUDA } bk_device_kind;

typedef struct {
    bk_device_kind kind;
    int index; /* cuda:N; -1 for "cuda" (device 0) and auto */
} bk_device_spec;

/* The help text of the --device flag, the same for every command that has it. */
#define BK_DEVICE_HELP                                                                                       \
    "Where the model runs: auto (a usable GPU, else the CPU; says which), cpu, cuda (GPU 0), cuda:N. "        \
    "cuda without a usable GPU is an error (exit 2)"

/* Parses "auto", "cpu", "cuda", "cuda:N" (N a decimal device index). 0, or -1 with the reason in err. */
int bk_device_parse(const char *text, bk_device_spec *out, char *err, size_t errcap);

/* The CUDA module's table, loading it on the first call. NULL with the reason in err (module not found, with
 * the places looked in; cannot be loaded, with the loader's message; built for another interface version). */
const hfc_api *bk_cuda_api(char *err, size_t errcap);
/* The CUDA implementation of backend.h on GPU `device` (initialises the device: stream, cuBLAS). NULL with the
 * reason in err. Free with b->destroy(b) after freeing everything allocated through it. One at a time. */
bk_backend *bk_cuda_backend(int device, char *err, size_t errcap);
/* Path of the loaded module ("" before a successful bk_cuda_api). */
const char *bk_cuda_module_path(void);

/* What `info` shows: the module, its build, and each GPU, or why there are none. */
typedef struct {
    bool module_loaded;
    char module_path[1024];
    char build[128];
    char status[512];             /* "" when devices were listed, else the reason there are none */
    int n_devices;
    hfc_device_info devices[16];
} bk_cuda_probe_info;
void bk_cuda_probe(bk_cuda_probe_info *out);

/* The device a command runs on. */
typedef struct {
    bk_device_kind kind;          /* BK_DEVICE_CPU or BK_DEVICE_CUDA */
    int index;                    /* the GPU, for BK_DEVICE_CUDA */
    hfc_device_info info;         /* the GPU, for BK_DEVICE_CUDA */
    char why[512];                /* for auto: why this device (e.g. the reason no GPU is used) */
} bk_device_choice;

/* Resolves spec for a job that needs need_bytes of GPU memory (0: unknown; the model's weights at least),
 * described by what ("model models/x, 0.99 GB of weights"). cpu: always the CPU. cuda / cuda:N: the GPU, or -1
 * with a message naming what is missing: the module, the driver, a device, or memory (need_bytes and the
 * device's free memory). auto: the GPU when cuda would succeed, else the CPU with the reason in why.
 * Nothing is allocated on the device. */
int bk_device_choose(const bk_device_spec *spec, int64_t need_bytes, const char *what, bk_device_choice *out,
                     char *err, size_t errcap);

/* Bytes of the weight files (*.safetensors) in a model folder, following an adapter folder to its base is not
 * done here; -1 when the folder cannot be read. A lower bound of the GPU memory the model needs. */
int64_t bk_model_weight_bytes(const char *model_dir);

/* A one-line description of a choice for the console ("cpu", "cuda:0 (NVIDIA H200, 139.8 GiB free)"). */
void bk_device_describe(const bk_device_choice *c, char *out, size_t cap);

#endif
