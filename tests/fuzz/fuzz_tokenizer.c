/* Fuzz target: tokenizer.json (part 0: vocab, merges, added tokens, normalizer, pre-tokenizer) and a
 * text to encode with it (part 1). Encoding and decoding of every accepted tokenizer run too, and every
 * id encode gives must decode. */
#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

static void piece(void *ctx, const char *bytes, size_t n) {
    (void)bytes;
    *(size_t *)ctx += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_dir(); /* silences the log */
    fz_parts p;
    fz_split(data, size, &p);
    char err[1024] = "";
    tokenizer *t = tok_load_json(p.p[0], p.n[0], "tokenizer.json", err, sizeof err);
    if (!t) {
        if (!err[0]) abort();
        fz_parts_free(&p);
        return 0;
    }
    int vocab = tok_vocab_size(t);
    for (int special = 0; special < 2; special++) {
        int *ids = NULL;
        size_t n = 0;
        if (tok_encode(t, p.p[1], p.n[1], special, &ids, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                if (ids[i] < 0 || ids[i] >= vocab) abort();
                size_t len;
                if (!tok_token_bytes(t, ids[i], &len)) abort();
            }
            char *text = tok_decode(t, ids, n, special);
            if (!text) abort();
            free(text);
        }
        free(ids);
        size_t total = 0;
        tok_pretokenize(t, p.p[1], p.n[1], special, piece, &total);
    }
    /* ids straight from the input: out-of-range ones must be refused, not read */
    int ids[16];
    size_t nid = p.n[2] / sizeof(int) < 16 ? p.n[2] / sizeof(int) : 16;
    memcpy(ids, p.p[2], nid * sizeof(int));
    char *text = tok_decode(t, ids, nid, false);
    free(text);
    tok_token_to_id(t, p.p[1]);
    tok_free(t);
    fz_parts_free(&p);
    return 0;
}
