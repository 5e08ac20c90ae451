/* Device choice and the loading of the CUDA module (see bk_device.h). */
#include "backend/bk_device.h"

#include "core/err.h"
#include "core/fs.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODULE_NAME "libhf-cuda.so"

static const hfc_api *loaded;
static void *loaded_handle;
static char loaded_path[1024];
static char load_error[1024];
static int tried;

int bk_device_parse(const char *text, bk_device_spec *out, char *err, size_t errcap) {
    out->index = -1;
    if (!text || !strcmp(text, "auto")) { out->kind = BK_DEVICE_AUTO; return 0; }
    if (!strcmp(text, "cpu")) { out->kind = BK_DEVICE_CPU; return 0; }
    if (!strcmp(text, "cuda")) { out->kind = BK_DEVICE_CUDA; return 0; }
    if (!strncmp(text, "cuda:", 5) && text[5]) {
        char *end;
        errno = 0;
        long v = strtol(text + 5, &end, 10);
        if (!*end && !errno && v >= 0 && v < 1024 && text[5] >= '0' && text[5] <= '9') {
            out->kind = BK_DEVICE_CUDA;
            out->index = (int)v;
            return 0;
        }
    }
    err_set(err, errcap, "--device: '%s' is not a device (use auto, cpu, cuda or cuda:N)", text);
    return -1;
}

/* Directory of the running program, "" when unknown. */
static void exe_dir(char *out, size_t cap) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    out[0] = 0;
    if (n <= 0) return;
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash) return;
    *slash = 0;
    snprintf(out, cap, "%s", buf);
}

static const hfc_api *try_load(const char *path, char *why, size_t cap) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        err_set(why, cap, "the CUDA module %s cannot be loaded: %s", path, e ? e : "unknown error");
        return NULL;
    }
    hf_cuda_module_fn get;
    *(void **)&get = dlsym(h, "hf_cuda_module");
    int (*abi)(void);
    *(void **)&abi = dlsym(h, "hf_cuda_module_abi");
    if (!get || !abi) {
        err_set(why, cap, "%s is not a halo-forge CUDA module (no hf_cuda_module symbol)", path);
        dlclose(h);
        return NULL;
    }
    const hfc_api *api = get(HFC_ABI_VERSION);
    if (!api || api->abi_version != HFC_ABI_VERSION) {
        err_set(why, cap, "%s implements interface version %d, this halo-forge needs %d: rebuild them together", path,
                abi(), HFC_ABI_VERSION);
        dlclose(h);
        return NULL;
    }
    loaded_handle = h; /* stays open for the life of the process */
    return api;
}

const hfc_api *bk_cuda_api(char *err, size_t errcap) {
    if (tried) {
        if (!loaded) err_set(err, errcap, "%s", load_error);
        return loaded;
    }
    tried = 1;
    const char *env = getenv("HF_CUDA_MODULE");
    if (env && env[0]) {
        if (!fs_exists(env)) err_set(load_error, sizeof load_error, "the CUDA module %s (HF_CUDA_MODULE) does not exist", env);
        else if ((loaded = try_load(env, load_error, sizeof load_error))) snprintf(loaded_path, sizeof loaded_path, "%s", env);
    } else {
        char dir[PATH_MAX], cand[2][PATH_MAX + 64];
        exe_dir(dir, sizeof dir);
        snprintf(cand[0], sizeof cand[0], "%s/" MODULE_NAME, dir);
        snprintf(cand[1], sizeof cand[1], "%s/../lib/halo-forge/" MODULE_NAME, dir);
        int found = 0;
        for (int i = 0; i < 2 && !loaded; i++) {
            if (!fs_exists(cand[i])) continue;
            found = 1;
            if ((loaded = try_load(cand[i], load_error, sizeof load_error)))
                err_set(loaded_path, sizeof loaded_path, "%s", cand[i]);
        }
        if (!found)
            err_set(load_error, sizeof load_error,
                    "the CUDA module " MODULE_NAME " is not installed (looked in %s and %s/../lib/halo-forge): "
                    "this halo-forge was built without CUDA (configure with -DHF_CUDA=ON where nvcc is installed)",
                    dir, dir);
    }
    if (!loaded) err_set(err, errcap, "%s", load_error);
    return loaded;
}

const char *bk_cuda_module_path(void) { return loaded_path; }

bk_backend *bk_cuda_backend(int device, char *err, size_t errcap) {
    if (!bk_cuda_api(err, errcap)) return NULL;
    bk_module_open_fn open_fn;
    *(void **)&open_fn = dlsym(loaded_handle, BK_MODULE_OPEN_SYMBOL);
    if (!open_fn) {
        err_set(err, errcap, "%s has no " BK_MODULE_OPEN_SYMBOL " entry point: rebuild it with this halo-forge",
                loaded_path);
        return NULL;
    }
    char name[32];
    snprintf(name, sizeof name, "cuda:%d", device);
    bk_backend *b = open_fn(name, err, errcap);
    if (b && b->abi_version != BK_ABI_VERSION) {
        err_set(err, errcap, "%s fills backend interface %d, this halo-forge needs %d", loaded_path, b->abi_version,
                BK_ABI_VERSION);
        b->destroy(b);
        return NULL;
    }
    return b;
}

void bk_cuda_probe(bk_cuda_probe_info *o) {
    memset(o, 0, sizeof *o);
    const hfc_api *api = bk_cuda_api(o->status, sizeof o->status);
    if (!api) return;
    o->module_loaded = true;
    snprintf(o->module_path, sizeof o->module_path, "%s", loaded_path);
    snprintf(o->build, sizeof o->build, "%s", api->build);
    int n = 0;
    if (api->device_count(&n, o->status, sizeof o->status)) return;
    if (n == 0) {
        err_set(o->status, sizeof o->status, "the driver reports no CUDA device");
        return;
    }
    for (int i = 0; i < n && o->n_devices < 16; i++) {
        char e[256];
        if (api->device_info(i, &o->devices[o->n_devices], e, sizeof e) == 0) o->n_devices++;
        else err_set(o->status, sizeof o->status, "%s", e);
    }
    if (o->n_devices) o->status[0] = 0;
}

static double gib(int64_t b) { return (double)b / (1024.0 * 1024.0 * 1024.0); }

/* The GPU for cuda / cuda:N, or -1 with the reason. */
static int choose_gpu(const bk_device_spec *spec, int64_t need, const char *what, bk_device_choice *out, char *err,
                      size_t errcap) {
    char e[768];
    const hfc_api *api = bk_cuda_api(e, sizeof e);
    if (!api) { err_set(err, errcap, "%s", e); return -1; }
    int n = 0;
    if (api->device_count(&n, e, sizeof e)) {
        err_set(err, errcap, "no usable GPU: %s", e);
        return -1;
    }
    if (n == 0) {
        err_set(err, errcap, "no usable GPU: the CUDA driver is loaded but reports no device");
        return -1;
    }
    int idx = spec->index < 0 ? 0 : spec->index;
    if (idx >= n) {
        err_set(err, errcap, "cuda:%d does not exist: %d CUDA device%s (cuda:0%s)", idx, n, n == 1 ? "" : "s",
                n > 1 ? " ..." : "");
        return -1;
    }
    if (api->device_info(idx, &out->info, e, sizeof e)) {
        err_set(err, errcap, "cuda:%d: %s", idx, e);
        return -1;
    }
    if (out->info.cc_major < 8) {
        err_set(err, errcap, "cuda:%d (%s) has compute capability %d.%d; the CUDA backend needs 8.0 or newer (bf16)",
                idx, out->info.name, out->info.cc_major, out->info.cc_minor);
        return -1;
    }
    if (need > 0 && out->info.mem_free >= 0 && need > out->info.mem_free) {
        err_set(err, errcap, "not enough GPU memory on cuda:%d (%s): %s needs at least %.2f GiB, %.2f GiB free of %.2f GiB",
                idx, out->info.name, what ? what : "the job", gib(need), gib(out->info.mem_free),
                gib(out->info.mem_total));
        return -1;
    }
    out->kind = BK_DEVICE_CUDA;
    out->index = idx;
    return 0;
}

int bk_device_choose(const bk_device_spec *spec, int64_t need_bytes, const char *what, bk_device_choice *out,
                     char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    out->kind = BK_DEVICE_CPU;
    out->index = -1;
    if (spec->kind == BK_DEVICE_CPU) return 0;
    char e[768];
    if (choose_gpu(spec, need_bytes, what, out, e, sizeof e) == 0) return 0;
    if (spec->kind == BK_DEVICE_CUDA) {
        if (spec->index >= 0) err_set(err, errcap, "--device cuda:%d: %s", spec->index, e);
        else err_set(err, errcap, "--device cuda: %s", e);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->kind = BK_DEVICE_CPU;
    out->index = -1;
    err_set(out->why, sizeof out->why, "%s", e);
    return 0;
}

int64_t bk_model_weight_bytes(const char *model_dir) {
    DIR *d = opendir(model_dir);
    if (!d) return -1;
    int64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 12 || strcmp(de->d_name + n - 12, ".safetensors") != 0) continue;
        char path[PATH_MAX];
        struct stat st;
        if (fs_join(path, sizeof path, model_dir, de->d_name) && stat(path, &st) == 0) total += (int64_t)st.st_size;
    }
    closedir(d);
    return total;
}

void bk_device_describe(const bk_device_choice *c, char *out, size_t cap) {
    if (c->kind != BK_DEVICE_CUDA) {
        snprintf(out, cap, "cpu");
        return;
    }
    if (c->info.mem_free >= 0)
        snprintf(out, cap, "cuda:%d (%s, %.1f GiB free of %.1f GiB)", c->index, c->info.name, gib(c->info.mem_free),
                 gib(c->info.mem_total));
    else
        snprintf(out, cap, "cuda:%d (%s, %.1f GiB)", c->index, c->info.name, gib(c->info.mem_total));
}

/* cudart and the driver keep allocations for the life of the process by design; LeakSanitizer would report
 * them at exit of every sanitized run that looked for a GPU. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libcudart\nleak:libcuda.so\nleak:libcublas\n"; }
