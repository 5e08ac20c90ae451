/* Fuzz target: a PEFT LoRA adapter folder: adapter_config.json (part 0) and adapter_model.safetensors
 * (part 1), applied to a tiny random model (model_apply_adapter), plus the base-model lookup
 * (model_adapter_base, offline). A refused adapter must leave the model unchanged; an accepted one is
 * applied, after which the model is reloaded so every input starts from the same weights. */
#include "fuzz_util.h"

#include "model/lora_apply.h"
#include "model/model.h"

static char base_dir[4200], adapter_dir[4200];
static model *m;
static float probe_before[8];

static void probe(float *out) {
    static const int toks[] = {1, 2, 3, 4};
    float logits_all[4 * 512];
    char err[256];
    if (model_forward_full(m, toks, 4, logits_all, err, sizeof err) != 0) abort();
    memcpy(out, logits_all + 3 * 512, 8 * sizeof(float));
}

static void load_base(void) {
    char err[512];
    m = model_load(base_dir, err, sizeof err);
    if (!m) { fprintf(stderr, "%s\n", err); abort(); }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    setenv("HF_HUB_OFFLINE", "1", 1); /* a base named by Hub id must not reach the network */
    snprintf(base_dir, sizeof base_dir, "%s/base", fz_dir());
    snprintf(adapter_dir, sizeof adapter_dir, "%s/adapter", fz_dir());
    fs_mkdirs(adapter_dir);
    model_config c;
    model_preset("tiny", &c);
    char err[512];
    if (model_write_random(base_dir, &c, false, 7, 0.02, true, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    load_base();
    probe(probe_before);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_parts p;
    fz_split(data, size, &p);
    fz_write(adapter_dir, "adapter_config.json", p.p[0], p.n[0]);
    fz_write(adapter_dir, "adapter_model.safetensors", p.p[1], p.n[1]);
    char err[1024] = "", base[4096];
    model_adapter_base(adapter_dir, base, sizeof base, err, sizeof err);
    err[0] = '\0';
    if (model_apply_adapter(m, adapter_dir, err, sizeof err) == 0) {
        model_free(m);
        load_base();
    } else {
        if (!err[0]) abort();
        float after[8];
        probe(after);
        if (memcmp(after, probe_before, sizeof after) != 0) abort(); /* refused, yet weights changed */
    }
    fz_parts_free(&p);
    return 0;
}
