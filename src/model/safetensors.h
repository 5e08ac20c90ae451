/* safetensors: reading (memory-mapped) and writing the Hugging Face safetensors format.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON header, then the raw tensor
 * data. The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} with
 * offsets relative to the first byte after the header, plus an optional "__metadata__" object of
 * string values. The reader checks everything before anything is used: header length against the
 * file size, JSON syntax, dtypes, shapes against byte sizes, offsets inside the file and no two
 * tensors overlapping, valid UTF-8, no name twice, and every weight finite (no NaN or Inf). Every
 * message names the file.
 *
 * Ownership: st_open() returns a st_file that owns the mapping and the tensor table; tensor data
 * pointers stay valid until st_close(). */
#ifndef HF_SAFETENSORS_H
#define HF_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32 = 0, ST_BF16 = 1, ST_F16 = 2 } st_dtype;

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* the reference implementation's limit on header size */

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;   /* into the mapping (or an aligned copy when the file misaligns it) */
    size_t nbytes;
} st_tensor;

typedef struct {
    char *path;
    void *map;
    size_t map_len;
    st_tensor *tensors;
    int n_tensors;
    void **copies;      /* aligned copies of misaligned tensors, freed on close */
    int n_copies;
} st_file;

/* Maps and validates path. NULL with "PATH: what is wrong" in err on any problem. */
st_file *st_open(const char *path, char *err, size_t errcap);
void st_close(st_file *f);
/* The tensor called name, or NULL. */
const st_tensor *st_find(const st_file *f, const char *name);

const char *st_dtype_name(st_dtype t);   /* "F32", "BF16", "F16" */
size_t st_dtype_size(st_dtype t);
/* Parses "F32"/"BF16"/"F16"; -1 for anything else. */
int st_dtype_parse(const char *name);
int64_t st_numel(const st_tensor *t);
/* Index of the first NaN or Inf element of t, or -1 when every element is finite. st_open refuses
 * files with any (a corrupt checkpoint), so tensors it returns are finite. */
long st_first_nonfinite(const st_tensor *t);

/* Writing: the caller describes every tensor; fill() is called once per tensor, in order, with a
 * buffer of exactly that tensor's byte size to fill (little-endian). The file is written to a
 * temporary name and renamed into place, so a reader never sees a partial file. metadata_json is
 * the "__metadata__" object as JSON text (e.g. "{\"format\":\"pt\"}"), or NULL. A tensor holding a NaN
 * or Inf is refused (-1, nothing written): no writer can leave weights st_open would refuse. */
typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
} st_spec;

typedef int (*st_fill_fn)(void *ctx, int index, void *dst, size_t nbytes);

int st_write(const char *path, const st_spec *specs, int n, const char *metadata_json, st_fill_fn fill, void *ctx,
             char *err, size_t errcap);

/* Number conversions used across the model code. */
static inline float st_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {.u = (uint32_t)h << 16};
    return v.f;
}
/* Round to nearest even; NaN stays NaN. */
static inline uint16_t st_f32_to_bf16(float f) {
    union { float f; uint32_t u; } v = {.f = f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}
float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_f16(float f);

#endif
