/* halo-forge tokenize (--model DIR | --tokenizer FILE) (--text T | --file F | --decode IDS) [--special] */
#include "cli/commands.h"
#include "model/gguf.h"
#include "model/hub.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/log.h"
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const arg_spec tokenize_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Model folder containing tokenizer.json, or a .gguf file", "model.name", NULL, 0, 0, "DIR"},
    {"tokenizer", 0, ARG_STR, NULL, "A tokenizer.json file", NULL, NULL, 0, 0, "FILE"},
    {"text", 0, ARG_STR, NULL, "Text to encode", NULL, NULL, 0, 0, "TEXT"},
    {"file", 'f', ARG_STR, NULL, "File to encode ('-' for standard input)", NULL, NULL, 0, 0, "FILE"},
    {"decode", 0, ARG_STR, NULL, "Decode a JSON array of ids instead of encoding", NULL, NULL, 0, 0, "IDS"},
    {"special", 0, ARG_BOOL, NULL,
     "Encode: special tokens written in the text (<|im_end|>) become their ids. "
     "Decode: keep special tokens in the text", NULL, NULL, 0, 0, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec tokenize_cmd = {
    "tokenize", "Encode text into token ids, or decode ids into text, with a model's tokenizer.", NULL, 0, 0,
    tokenize_flags,
    "Encoding prints the ids as one JSON array on standard output, e.g. [396,1887,368].\n"
    "Without --special, special tokens written in the text are encoded as plain text (as Hugging Face\n"
    "does with split_special_tokens); non-special added tokens (<|fim_prefix|>...) are always matched.\n"
    "No BOS or EOS is added. --decode \"[ids]\" prints the text exactly, without a trailing newline;\n"
    "special tokens are dropped unless --special is given.",
    NULL,
};

/* Parses a JSON array of non-negative integers. Returns 0, or -1 with a message in err. */
static int parse_ids(const char *s, int **ids, size_t *n, char *err, size_t errcap) {
    cJSON *a = cJSON_Parse(s);
    if (!cJSON_IsArray(a)) {
        snprintf(err, errcap, "--decode: expected a JSON array of ids like [1,2,3], got '%.60s'", s);
        cJSON_Delete(a);
        return -1;
    }
    size_t cnt = (size_t)cJSON_GetArraySize(a), i = 0;
    *ids = malloc((cnt + 1) * sizeof **ids);
    if (!*ids) { cJSON_Delete(a); snprintf(err, errcap, "out of memory"); return -1; }
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 2147483647.0 ||
            e->valuedouble != (double)(int)e->valuedouble) {
            snprintf(err, errcap, "--decode: element %zu is not a token id", i);
            free(*ids);
            *ids = NULL;
            cJSON_Delete(a);
            return -1;
        }
        (*ids)[i++] = e->valueint;
    }
    *n = cnt;
    cJSON_Delete(a);
    return 0;
}

static char *read_all(const char *path, size_t *len) {
    if (strcmp(path, "-")) return fs_read_file(path, len);
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    if (!p) return NULL;
    for (;;) {
        if (n + 1 >= cap) {
            char *q = realloc(p, cap *= 2);
            if (!q) { free(p); return NULL; }
            p = q;
        }
        ssize_t r = read(0, p + n, cap - n - 1);
        if (r < 0) { if (errno == EINTR) continue; free(p); return NULL; }
        if (r == 0) break;
        n += (size_t)r;
    }
    p[n] = 0;
    *len = n;
    return p;
}

int cmd_tokenize(int argc, char **argv) {
    int rc;
    args *a = args_parse(&tokenize_cmd, argc, argv, &rc);
    if (!a) return rc;
    const char *model = args_str(a, "model"), *tokfile = args_str(a, "tokenizer");
    const char *text = args_str(a, "text"), *file = args_str(a, "file"), *decode = args_str(a, "decode");
    bool special = args_bool(a, "special");
    if (!!model + !!tokfile != 1) {
        rc = args_usage_error(&tokenize_cmd, "give exactly one of --model or --tokenizer");
        goto out;
    }
    if (!!text + !!file + !!decode != 1) {
        rc = args_usage_error(&tokenize_cmd, "give exactly one of --text, --file or --decode");
        goto out;
    }
    char path[4096], resolved[4096];
    if (model) {
        char err[1024];
        if (hub_resolve(model, resolved, sizeof resolved, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "error: %s\n", err);
            rc = 1;
            goto out;
        }
        model = resolved;
        if (!fs_join(path, sizeof path, model, "tokenizer.json")) {
            fprintf(stderr, "error: --model %s: path too long\n", model);
            rc = 1;
            goto out;
        }
    } else {
        snprintf(path, sizeof path, "%s", tokfile);
    }
    /* The input first: a bad id list or a missing file is reported without loading the tokenizer. */
    char err[1024];
    int *in_ids = NULL;
    size_t n_in = 0, len = 0;
    char *buf = NULL;
    if (decode && parse_ids(decode, &in_ids, &n_in, err, sizeof err)) {
        fprintf(stderr, "error: %s\n", err);
        rc = 2;
        goto out;
    }
    if (file && !(buf = read_all(file, &len))) {
        fprintf(stderr, "error: %s: cannot read: %s\n", file, strerror(errno));
        rc = 1;
        goto out;
    }
    tokenizer *t = model ? gguf_model_tokenizer(model, NULL, err, sizeof err) : tok_load(path, err, sizeof err);
    if (!t) {
        fprintf(stderr, "error: %s\n", err);
        free(in_ids);
        free(buf);
        rc = 1;
        goto out;
    }
    rc = 1;
    if (decode) {
        char *s = tok_decode(t, in_ids, n_in, !special);
        if (!s) {
            int bad = -1;
            for (size_t i = 0; i < n_in && bad < 0; i++) {
                size_t l;
                if (!tok_token_bytes(t, in_ids[i], &l)) bad = in_ids[i];
            }
            fprintf(stderr, "error: --decode: id %d is not in the vocabulary (%d ids)\n", bad, tok_vocab_size(t));
        } else {
            size_t l = 0; /* the text may hold NUL bytes: its length is the sum of the tokens' */
            for (size_t i = 0; i < n_in; i++) {
                size_t tl = 0;
                if (special || !tok_is_special(t, in_ids[i])) (void)tok_token_bytes(t, in_ids[i], &tl);
                l += tl;
            }
            rc = fwrite(s, 1, l, stdout) == l && fflush(stdout) == 0 ? 0 : 1;
            free(s);
        }
    } else {
        const char *src = file ? buf : text;
        if (!file) len = strlen(text);
        int *ids = NULL;
        size_t n = 0;
        if (tok_encode(t, src, len, special, &ids, &n)) {
            fprintf(stderr, "error: %s: cannot encode: the text is not valid UTF-8 (or memory ran out)\n",
                    file ? file : "--text");
        } else {
            putchar('[');
            for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
            printf("]\n");
            log_debug("%zu bytes -> %zu tokens", len, n);
            rc = fflush(stdout) ? 1 : 0;
        }
        free(ids);
    }
    free(in_ids);
    free(buf);
    tok_free(t);
out:
    args_free(a);
    return rc;
}
