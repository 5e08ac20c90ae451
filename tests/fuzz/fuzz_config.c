/* Fuzz target: a model folder's config.json (part 0) and generation_config.json (part 1, absent when
 * the input has one part), read by model_read_config. An accepted config must be one the model code can
 * size buffers from. */
#include "fuzz_util.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_parts p;
    fz_split(data, size, &p);
    const char *dir = fz_dir();
    fz_write(dir, "config.json", p.p[0], p.n[0]);
    char gpath[4200];
    snprintf(gpath, sizeof gpath, "%s/generation_config.json", dir);
    if (p.count > 1) fz_write(dir, "generation_config.json", p.p[1], p.n[1]);
    else unlink(gpath);
    model_config c;
    char err[1024] = "";
    if (model_read_config(dir, &c, err, sizeof err) == 0) {
        if (c.vocab_size < 1 || c.hidden_size < 1 || c.num_layers < 1 || c.num_heads < 1 || c.num_kv_heads < 1 ||
            c.head_dim < 1 || c.n_eos < 0 || c.n_eos > MODEL_MAX_EOS || c.num_heads % c.num_kv_heads != 0)
            abort();
        for (int i = 0; i < c.n_eos; i++)
            if (c.eos_ids[i] < 0 || c.eos_ids[i] >= c.vocab_size) abort();
        if (c.bos_id >= c.vocab_size) abort();
    } else if (!err[0]) {
        abort();
    }
    fz_parts_free(&p);
    return 0;
}
