/* gguf: the GGUF file format of llama.cpp / ggml (version 3), written and read.
 *
 * A file is: "GGUF", u32 version, u64 tensor count, u64 key/value count; the key/value pairs (key string,
 * u32 value type, value); one info per tensor (name, u32 dims, u64 ne[dims] with ne[0] the fastest-varying
 * dimension, u32 ggml type, u64 offset into the data section); padding to general.alignment (32 when absent);
 * the data section, each tensor at an aligned offset. Strings are u64 length + bytes (no NUL); integers are
 * little-endian. A Hugging Face [out, in] matrix is a GGUF tensor with ne = {in, out} and the same bytes.
 *
 * Tensor types read and written: F32, F16, BF16 and ggml's 32-value block formats
 *   Q8_0: per block an fp16 scale d = max|x| / 127 and 32 int8 q = round(x / d); x ~ q d  (34 bytes)
 *   Q4_0: per block an fp16 scale d = m / -8, m the value of largest magnitude, and 32 4-bit q =
 *         min(15, trunc(x / d + 8.5)), values 0..15 of block j in the low nibbles of bytes j, values 16..31
 *         in the high nibbles; x ~ (q - 8) d  (18 bytes)
 * exactly as ggml's reference quantizers make them, so llama.cpp reads them bit for bit.
 *
 * Ownership: gguf_open returns a gguf_file that owns its mapping and tables (gguf_close frees). Functions that
 * can fail return 0 (or a pointer) and -1 (NULL) with "FILE: what is wrong" in err. */
#ifndef HF_GGUF_H
#define HF_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer.h"

/* ggml tensor types this module knows (the numbers are ggml's). */
typedef enum { GGUF_F32 = 0, GGUF_F16 = 1, GGUF_Q4_0 = 2, GGUF_Q8_0 = 8, GGUF_BF16 = 30 } gguf_type;
#define GGUF_QK 32 /* values per Q8_0 / Q4_0 block */

/* Metadata value types (the numbers are GGUF's). */
enum {
    GGUF_V_UINT8 = 0, GGUF_V_INT8 = 1, GGUF_V_UINT16 = 2, GGUF_V_INT16 = 3, GGUF_V_UINT32 = 4, GGUF_V_INT32 = 5,
    GGUF_V_FLOAT32 = 6, GGUF_V_BOOL = 7, GGUF_V_STRING = 8, GGUF_V_ARRAY = 9, GGUF_V_UINT64 = 10,
    GGUF_V_INT64 = 11, GGUF_V_FLOAT64 = 12
};

/* "f32" | "f16" | "bf16" | "q8_0" | "q4_0" -> type; -1 for anything else. */
int gguf_type_parse(const char *name);
const char *gguf_type_name(int type); /* "F32", ..., "Q4_0"; "?" for an unknown number */
/* Bytes of a row of n values of type t (n a multiple of GGUF_QK for the block types); 0 for an unknown type. */
size_t gguf_row_size(int type, int64_t n);
/* Converts n floats into type t (n a multiple of GGUF_QK for Q8_0 / Q4_0), as ggml's reference code does. */
void gguf_quantize_row(int type, const float *x, void *dst, int64_t n);
/* The inverse: n values of type t to floats (what ggml's dequantizers compute). */
void gguf_dequantize_row(int type, const void *src, float *y, int64_t n);

/* ---------- reading ---------- */

typedef struct {
    char *key;
    uint32_t type;       /* GGUF_V_* */
    uint32_t arr_type;   /* element type when type is GGUF_V_ARRAY */
    uint64_t n;          /* elements of an array (1 otherwise) */
    const unsigned char *val; /* into the mapping: the value (for arrays, the first element) */
    uint64_t *str_off;   /* string arrays: offset of each element from val (owned) */
} gguf_kv;

typedef struct {
    char *name;
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;       /* gguf_type */
    uint64_t offset;     /* from the start of the data section */
    size_t nbytes;
    const void *data;    /* into the mapping */
} gguf_tensor;

typedef struct {
    char *path;
    void *map;
    size_t size;
    uint32_t version;
    uint32_t alignment;
    gguf_kv *kv;
    int64_t n_kv;
    gguf_tensor *tensors;
    int64_t n_tensors;
} gguf_file;

/* Maps path and checks all of it before anything is used: magic, version (2 or 3), counts against the file
 * size, every string and array inside the file, value types, tensor dimensions, types and sizes, offsets
 * aligned, inside the data section and not overlapping, no duplicate keys or tensor names. */
gguf_file *gguf_open(const char *path, char *err, size_t errcap);
void gguf_close(gguf_file *f);
const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);
/* Typed lookups: 1 found (value in *out), 0 absent, -1 present with another type (err names the key). Any
 * integer type fits gguf_get_int; FLOAT32/FLOAT64 fit gguf_get_float. gguf_get_str points into the mapping
 * (*len bytes, not NUL-terminated). */
int gguf_get_int(const gguf_file *f, const char *key, int64_t *out, char *err, size_t errcap);
int gguf_get_float(const gguf_file *f, const char *key, double *out, char *err, size_t errcap);
int gguf_get_bool(const gguf_file *f, const char *key, bool *out, char *err, size_t errcap);
int gguf_get_str(const gguf_file *f, const char *key, const char **s, size_t *len, char *err, size_t errcap);
/* Element i of a string array (bounds checked by the caller against kv->n). */
const char *gguf_arr_str(const gguf_kv *kv, uint64_t i, size_t *len);
/* Element i of an integer array as int64 (any integer element type). */
int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i);

/* True when path names a GGUF file (ends in ".gguf"). */
bool gguf_is_path(const char *path);

/* For model_load: reads a qwen2 or llama GGUF into cfg (as model_read_config would from config.json) and
 * returns its weights as a st_file with the Hugging Face tensor names (model.embed_tokens.weight, ...):
 * F32 / F16 / BF16 tensors point into the mapping, Q8_0 / Q4_0 ones are dequantised to owned F32 copies, and
 * llama's Q/K rows are put back into Hugging Face's rotary order. The st_file owns the mapping (st_close). */
st_file *gguf_load_weights(const char *path, model_config *cfg, char *err, size_t errcap);

/* The tokenizer of the model at tok_dir (what model_tokenizer_dir gives): tok_dir/tokenizer.json with the
 * chat template of tok_dir/tokenizer_config.json, or, when tok_dir is a GGUF file, the byte-level BPE
 * tokenizer stored in it (tokenizer.ggml.*; pre-tokenizers qwen2 and llama-bpe) and tokenizer.chat_template.
 * *tpl (may be NULL) gets the chat template as chat_detect classifies it. */
tokenizer *gguf_model_tokenizer(const char *tok_dir, chat_template *tpl, char *err, size_t errcap);

/* Shared by the reader and the writer (and the tests). */
/* Hugging Face tensor name -> llama.cpp's ("model.layers.3.mlp.up_proj.weight" -> "blk.3.ffn_up.weight");
 * 0, or -1 for a name that is not part of a qwen2 / llama model. */
int gguf_hf_to_gguf_name(const char *hf, char *out, size_t cap);
/* llama.cpp runs the llama architecture with interleaved rotary pairs, Hugging Face with halves: its converter
 * reorders the rows of Q and K within each head (GGUF row 2j + i = Hugging Face row i * head_dim/2 + j).
 * Copies rows rows of row_bytes from src to dst in that order (to_gguf) or back (!to_gguf). */
void gguf_permute_rows(void *dst, const void *src, int rows, size_t row_bytes, int head_dim, bool to_gguf);
/* The Split regexes of the pre-tokenizers llama.cpp knows as "qwen2" and "llama-bpe", as tokenizer.json has them. */
extern const char *const gguf_pre_qwen2;
extern const char *const gguf_pre_llama3;

/* ---------- writing ---------- */

typedef struct {
    const char *model_dir; /* Hugging Face folder: config.json, safetensors (single or sharded) */
    const char *tok_dir;   /* folder with tokenizer.json / tokenizer_config.json (often model_dir) */
    const char *output;    /* the .gguf file, written atomically */
    int type;              /* gguf_type of the matrices; norms and biases are always F32 */
    const char *name;      /* general.name, or NULL for the folder's name */
} gguf_export_opts;

/* Writes the model as GGUF v3: llama.cpp's metadata for its architecture (qwen2 / llama), the tokenizer
 * (tokens, token types, merges, pre-tokenizer, special ids, chat template) and the tensors under llama.cpp's
 * names and layouts. A matrix whose rows are not a multiple of 32 values is written as F16 when a block type
 * was asked for (llama.cpp's converter does the same). Refuses tokenizers llama.cpp would read differently
 * (not byte-level BPE, an unknown pre-tokenizer regex). progress (may be NULL) is called after each tensor. */
int gguf_export(const gguf_export_opts *o, void (*progress)(void *ctx, int done, int total), void *ctx, char *err,
                size_t errcap);

#endif
