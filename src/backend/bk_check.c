/* bk_ops_check: which ops a model needs from a backend table (see backend.h, "Required and optional ops"). */
#include "backend/backend.h"

#include <stdio.h>
#include <string.h>

typedef void (*any_fn)(void);

typedef struct {
    const char *name;
    size_t off;
    unsigned need; /* BK_NEED_* bits that call it */
} op_entry;

#define OP(name, need) {#name, offsetof(bk_ops, name), need}
#define I BK_NEED_INFER
#define T BK_NEED_TRAIN
static const op_entry ops[] = {
    OP(alloc, I | T), OP(free, I | T), OP(upload, I | T), OP(download, I | T), OP(copy, I | T), OP(zero, I | T),
    OP(sync, I | T), OP(weight_map, I | T), OP(weight_unmap, I | T), OP(set_threads, I | T),
    OP(embed, I | T), OP(embed_bwd, T), OP(rmsnorm, I | T), OP(rmsnorm_bwd, T), OP(rope_table, I | T),
    OP(rope, I | T), OP(rope_bwd, T), OP(linear, I | T), OP(linear_dx, T), OP(linear_dw, T), OP(gemm, I | T),
    OP(dropout, T), OP(dropout_bwd_add, T), OP(attn, I | T), OP(attn_bwd, T), OP(kv_create, I), OP(kv_free, I),
    OP(kv_copy, I), OP(kv_attn, I), OP(swiglu, I | T), OP(swiglu_bwd, T), OP(add, I | T), OP(gather_rows, I | T),
    OP(scatter_add_rows, T), OP(xent, T), OP(logprobs, I), OP(xent_temp, T),
    /* op.sample is optional: NULL means the sampler works on downloaded logits */
};
#undef I
#undef T
#undef OP

int bk_ops_check(const bk_backend *b, unsigned need, char *err, size_t errcap) {
    if (!b) {
        snprintf(err, errcap, "no backend");
        return -1;
    }
    if (b->abi_version != BK_ABI_VERSION) {
        snprintf(err, errcap, "%s fills backend interface %d, this halo-forge needs %d", b->name, b->abi_version,
                 BK_ABI_VERSION);
        return -1;
    }
    size_t len = 0;
    int missing = 0;
    unsigned why = 0;
    char list[400] = "";
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (!(ops[i].need & need)) continue;
        any_fn f;
        memcpy(&f, (const char *)&b->op + ops[i].off, sizeof f);
        if (f) continue;
        int w = snprintf(list + len, sizeof list - len, "%sop.%s", missing ? ", " : "", ops[i].name);
        if (w > 0 && (size_t)w < sizeof list - len) len += (size_t)w;
        missing++;
        why |= ops[i].need & need;
    }
    if (!missing) return 0;
    snprintf(err, errcap, "the %s backend lacks %s, needed for %s", b->name, list,
             (why & BK_NEED_TRAIN) && !(why & BK_NEED_INFER) ? "training" : "inference");
    return -1;
}
