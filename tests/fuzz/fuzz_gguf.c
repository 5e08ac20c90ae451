/* Fuzz target: a GGUF file (magic, version, key/value section, string arrays, tensor infos, alignment,
 * data section). Beyond no-crash: a file gguf_open accepts has every tensor's bytes inside the mapping
 * (each is read end to end, so ASan catches an unchecked offset), sizes that match type and shape,
 * and counts that agree with what the lookups find. */
#include "fuzz_util.h"
#include "model/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write(fz_dir(), "model.gguf", data, size);
    char err[1024];
    err[0] = '\0';
    gguf_file *f = gguf_open(path, err, sizeof err);
    if (!f) {
        if (!err[0]) abort(); /* a refusal must say why */
        return 0;
    }
    if (f->n_kv < 0 || f->n_tensors < 0) abort();
    const unsigned char *lo = f->map, *hi = lo + f->size;
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        const unsigned char *p = t->data;
        if (t->nbytes && (p < lo || p > hi || t->nbytes > (size_t)(hi - p))) abort();
        int64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) n *= t->ne[d];
        if (t->n_dims >= 1 && gguf_row_size((int)t->type, t->ne[0]) * (size_t)(n / t->ne[0]) != t->nbytes) abort();
        for (size_t b = 0; b < t->nbytes; b++) sink ^= p[b];
        if (gguf_find_tensor(f, t->name) != t) abort();
    }
    for (int64_t i = 0; i < f->n_kv; i++)
        if (gguf_find(f, f->kv[i].key) != &f->kv[i]) abort();
    (void)sink;
    gguf_close(f);
    return 0;
}
