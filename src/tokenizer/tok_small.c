/* tok_write_small: a small byte-level BPE tokenizer for tiny test models. Same structure as
 * Qwen's tokenizer.json (NFC, the Qwen Split regex, ByteLevel, ChatML special tokens), with the
 * 256 byte tokens and merges that build frequent code fragments left to right. */
#include "tokenizer/tokenizer.h"
#include "tokenizer/tok_write.h"
#include "core/err.h"

#include "core/fs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fragments as they appear in text ("Ġ" is written as a leading space here). Each one becomes a
 * token, built by merging its longest known prefix with its next byte. */
static const char *const FRAGMENTS[] = {
    "  ", "    ", "        ", "\n\n", "\n    ", "\n        ", " =", " ==", " !=", " +", " -", " *", " /", " <", " >",
    " <=", " >=", " &&", " ||", "()", "():", "();", "):", ");", "){", ") {", " {", " }", "[]", "[i]", "->", "::",
    "++", "--", "+=", "-=", "//", "/*", "*/", "\"\"", "''", ", ", ",", ";\n", ":\n", "{\n", "}\n", "in", "re", "on",
    "er", "at", "en", "or", "es", "is", "st", "ar", "an", "al", "le", "de", "ed", "ing", "ion", " i", " a", " t",
    " s", " c", " f", " n", " r", " x", " y", " 0", " 1", "the", " the", " in", " if", " else", " elif", " for",
    " while", " return", " def", " class", " import", " from", " as", " is", " not", " and", " or", " None",
    " True", " False", " self", "self", " print", "print", " int", "int", " char", " void", " const", " static",
    " struct", " unsigned", " size_t", " long", " double", " float", " bool", " auto", " std", "std", " printf",
    "printf", "#include", " main", "main", " len", "len", " range", "range", " list", " str", " dict", " lambda",
    " yield", " break", " continue", " pass", " try", " except", " with", " new", " delete", " nullptr", " NULL",
    " true", " false", " this", " public", " private", " template", " typename", " vector", " string", " value",
    " result", " count", " sum", " max", " min", " append", " args", " func", " data", " name", " key", " val",
    " node", " left", " right", " 2", " 10", " 100", "0;", "1;", " n)", "(n", "(x", "(self", "(self)", "__",
    "__init__", " __init__", "append", "ret", "num", "nums", " nums", "arr", " arr", " test", "assert", " assert",
    "Hello", " World", " Hello", "ab", "abc", "def", "xyz", "():\n", "):\n", ")\n", ");\n", "(i", "(\"", "\")",
    "],", "];", "\":", "=\"", " #", " //", "0,", "1,", "\n}", "\n}\n",
};

void tok_byte_level(const unsigned char *s, size_t n, char *out) {
    static unsigned cp[256];
    static int ready;
    if (!ready) {
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            cp[b] = printable ? (unsigned)b : 256u + (unsigned)extra++;
        }
        ready = 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = cp[s[i]];
        if (c < 0x80) out[k++] = (char)c;
        else {
            out[k++] = (char)(0xC0 | c >> 6);
            out[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[k] = 0;
}

static const char *CHATML_TEMPLATE =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

static const char *QWEN_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                                "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static cJSON *byte_level_obj(void) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "ByteLevel");
    cJSON_AddFalseToObject(o, "add_prefix_space");
    cJSON_AddFalseToObject(o, "trim_offsets");
    cJSON_AddFalseToObject(o, "use_regex");
    return o;
}

static cJSON *added_obj(int id, const char *content) {
    cJSON *o = cJSON_CreateObject();
    if (id >= 0) cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "content", content);
    cJSON_AddFalseToObject(o, "single_word");
    cJSON_AddFalseToObject(o, "lstrip");
    cJSON_AddFalseToObject(o, "rstrip");
    cJSON_AddFalseToObject(o, "normalized");
    cJSON_AddTrueToObject(o, "special");
    return o;
}

static int write_json(const char *dir, const char *name, cJSON *obj, char *err, size_t errcap) {
    char path[4096];
    if (!fs_join(path, sizeof path, dir, name)) { err_set(err, errcap, "%s: path too long", dir); return -1; }
    char *text = cJSON_Print(obj);
    if (!text) { err_set(err, errcap, "%s: out of memory", path); return -1; }
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL, inside the allocation */
    int rc = fs_write_atomic(path, text, n + 1), saved = errno;
    free(text);
    if (rc) { err_set(err, errcap, "%s: cannot write: %s", path, strerror(saved)); return -1; }
    return 0;
}

int tok_write_small(const char *dir, char *err, size_t errcap) {
    cJSON *vocab = cJSON_CreateObject(), *merges = cJSON_CreateArray();
    int next_id = 0;
    char a[256], b[256], ab[256];
    for (int byte = 0; byte < 256; byte++) {
        unsigned char c = (unsigned char)byte;
        tok_byte_level(&c, 1, a);
        cJSON_AddNumberToObject(vocab, a, next_id++);
    }
    for (size_t f = 0; f < sizeof FRAGMENTS / sizeof *FRAGMENTS; f++) {
        const unsigned char *s = (const unsigned char *)FRAGMENTS[f];
        size_t n = strlen(FRAGMENTS[f]);
        for (size_t k = 2; k <= n; k++) { /* prefix of k-1 bytes + byte k */
            tok_byte_level(s, k, ab);
            if (cJSON_GetObjectItemCaseSensitive(vocab, ab)) continue;
            tok_byte_level(s, k - 1, a);
            tok_byte_level(s + k - 1, 1, b);
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateString(a));
            cJSON_AddItemToArray(pair, cJSON_CreateString(b));
            cJSON_AddItemToArray(merges, pair);
            cJSON_AddNumberToObject(vocab, ab, next_id++);
        }
    }
    return tok_write_bpe(dir, vocab, merges, next_id, err, errcap);
}

const char *const tok_chatml_specials[TOK_N_SPECIALS] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

cJSON *tok_bpe_document(cJSON *vocab, cJSON *merges, int first_special) {
    const char *const *specials = tok_chatml_specials;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < TOK_N_SPECIALS; i++) cJSON_AddItemToArray(added, added_obj(first_special + i, specials[i]));
    cJSON *norm = cJSON_AddObjectToObject(root, "normalizer");
    cJSON_AddStringToObject(norm, "type", "NFC");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *steps = cJSON_AddArrayToObject(pre, "pretokenizers");
    cJSON *split = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", QWEN_REGEX);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddFalseToObject(split, "invert");
    cJSON_AddItemToArray(steps, split);
    cJSON_AddItemToArray(steps, byte_level_obj());
    cJSON_AddItemToObject(root, "post_processor", byte_level_obj());
    cJSON_AddItemToObject(root, "decoder", byte_level_obj());
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "");
    cJSON_AddStringToObject(model, "end_of_word_suffix", "");
    cJSON_AddFalseToObject(model, "fuse_unk");
    cJSON_AddFalseToObject(model, "byte_fallback");
    cJSON_AddFalseToObject(model, "ignore_merges");
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    return root;
}

int tok_write_bpe(const char *dir, cJSON *vocab, cJSON *merges, int first_special, char *err, size_t errcap) {
    const char *const *specials = tok_chatml_specials;
    if (fs_mkdirs(dir)) {
        err_set(err, errcap, "%s: cannot create folder: %s", dir, strerror(errno));
        cJSON_Delete(vocab);
        cJSON_Delete(merges);
        return -1;
    }
    cJSON *root = tok_bpe_document(vocab, merges, first_special);
    int rc = write_json(dir, "tokenizer.json", root, err, errcap);
    cJSON_Delete(root);
    if (rc) return -1;

    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddFalseToObject(cfg, "add_bos_token");
    cJSON_AddFalseToObject(cfg, "add_prefix_space");
    cJSON *dec = cJSON_AddObjectToObject(cfg, "added_tokens_decoder");
    for (int i = 0; i < TOK_N_SPECIALS; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", first_special + i);
        cJSON_AddItemToObject(dec, id, added_obj(-1, specials[i]));
    }
    cJSON *extra = cJSON_AddArrayToObject(cfg, "additional_special_tokens");
    cJSON_AddItemToArray(extra, cJSON_CreateString("<|im_start|>"));
    cJSON_AddItemToArray(extra, cJSON_CreateString("<|im_end|>"));
    cJSON_AddNullToObject(cfg, "bos_token");
    cJSON_AddStringToObject(cfg, "chat_template", CHATML_TEMPLATE);
    cJSON_AddFalseToObject(cfg, "clean_up_tokenization_spaces");
    cJSON_AddStringToObject(cfg, "eos_token", "<|im_end|>");
    cJSON_AddStringToObject(cfg, "errors", "replace");
    cJSON_AddNumberToObject(cfg, "model_max_length", 32768);
    cJSON_AddStringToObject(cfg, "pad_token", "<|endoftext|>");
    cJSON_AddFalseToObject(cfg, "split_special_tokens");
    cJSON_AddStringToObject(cfg, "tokenizer_class", "Qwen2Tokenizer");
    cJSON_AddNullToObject(cfg, "unk_token");
    rc = write_json(dir, "tokenizer_config.json", cfg, err, errcap);
    cJSON_Delete(cfg);
    return rc;
}
