/* Fuzz target: a safetensors file (header length, JSON header, dtypes, shapes, data offsets).
 * Every tensor the reader accepts is read end to end, so an offset or size it failed to check shows
 * up as an out-of-bounds read under ASan. */
#include "fuzz_util.h"
#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write(fz_dir(), "model.safetensors", data, size);
    char err[1024];
    st_file *f = st_open(path, err, sizeof err);
    if (!f) {
        if (!err[0]) abort(); /* a refusal must say why */
        return 0;
    }
    volatile uint8_t sink = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        const st_tensor *t = &f->tensors[i];
        if ((size_t)st_numel(t) * st_dtype_size(t->dtype) != t->nbytes) abort();
        for (size_t b = 0; b < t->nbytes; b++) sink ^= ((const uint8_t *)t->data)[b];
        if (st_find(f, t->name) == NULL) abort();
    }
    (void)sink;
    st_close(f);
    return 0;
}
