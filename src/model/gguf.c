/* GGUF reading and writing (see gguf.h). */
#include "model/gguf.h"
#include "core/err.h"
#include "core/fs.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGN 32
#define GGUF_MAX_DIMS 4

/* ---------- tensor types and the block formats ---------- */

int gguf_type_parse(const char *s) {
    if (!strcmp(s, "f32")) return GGUF_F32;
    if (!strcmp(s, "f16")) return GGUF_F16;
    if (!strcmp(s, "bf16")) return GGUF_BF16;
    if (!strcmp(s, "q8_0")) return GGUF_Q8_0;
    if (!strcmp(s, "q4_0")) return GGUF_Q4_0;
    return -1;
}

const char *gguf_type_name(int t) {
    switch (t) {
    case GGUF_F32: return "F32";
    case GGUF_F16: return "F16";
    case GGUF_BF16: return "BF16";
    case GGUF_Q8_0: return "Q8_0";
    case GGUF_Q4_0: return "Q4_0";
    default: return "?";
    }
}

/* Names of the other ggml types, for messages about files we cannot read. */
static const char *ggml_other_name(uint32_t t) {
    static const char *const names[] = {[3] = "Q4_1", [6] = "Q5_0", [7] = "Q5_1", [9] = "Q8_1", [10] = "Q2_K",
                                        [11] = "Q3_K", [12] = "Q4_K", [13] = "Q5_K", [14] = "Q6_K", [15] = "Q8_K",
                                        [16] = "IQ2_XXS", [17] = "IQ2_XS", [18] = "IQ3_XXS", [19] = "IQ1_S",
                                        [20] = "IQ4_NL", [21] = "IQ3_S", [22] = "IQ2_S", [23] = "IQ4_XS",
                                        [24] = "I8", [25] = "I16", [26] = "I32", [27] = "I64", [28] = "F64",
                                        [29] = "IQ1_M"};
    return t < sizeof names / sizeof names[0] && names[t] ? names[t] : "unknown";
}

size_t gguf_row_size(int t, int64_t n) {
    switch (t) {
    case GGUF_F32: return (size_t)n * 4;
    case GGUF_F16:
    case GGUF_BF16: return (size_t)n * 2;
    case GGUF_Q8_0: return (size_t)(n / GGUF_QK) * (2 + GGUF_QK);
    case GGUF_Q4_0: return (size_t)(n / GGUF_QK) * (2 + GGUF_QK / 2);
    default: return 0;
    }
}

static inline void put_u16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static inline uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

void gguf_quantize_row(int t, const float *x, void *dst, int64_t n) {
    unsigned char *o = dst;
    switch (t) {
    case GGUF_F32: memcpy(o, x, (size_t)n * 4); return;
    case GGUF_F16: for (int64_t i = 0; i < n; i++) put_u16(o + 2 * i, st_f32_to_f16(x[i])); return;
    case GGUF_BF16: for (int64_t i = 0; i < n; i++) put_u16(o + 2 * i, st_f32_to_bf16(x[i])); return;
    case GGUF_Q8_0:
        for (int64_t b = 0; b < n / GGUF_QK; b++, x += GGUF_QK, o += 2 + GGUF_QK) {
            float amax = 0;
            for (int j = 0; j < GGUF_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
            const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
            put_u16(o, st_f32_to_f16(d));
            for (int j = 0; j < GGUF_QK; j++) o[2 + j] = (unsigned char)(int8_t)roundf(x[j] * id);
        }
        return;
    case GGUF_Q4_0:
        for (int64_t b = 0; b < n / GGUF_QK; b++, x += GGUF_QK, o += 2 + GGUF_QK / 2) {
            /* The signed value of largest magnitude maps to -8, so the range is used on the side it lies. */
            float amax = 0, max = 0;
            for (int j = 0; j < GGUF_QK; j++)
                if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
            const float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
            put_u16(o, st_f32_to_f16(d));
            for (int j = 0; j < GGUF_QK / 2; j++) {
                int q0 = (int8_t)(x[j] * id + 8.5f), q1 = (int8_t)(x[j + GGUF_QK / 2] * id + 8.5f);
                if (q0 > 15) q0 = 15;
                if (q1 > 15) q1 = 15;
                o[2 + j] = (unsigned char)(q0 | q1 << 4);
            }
        }
        return;
    }
}

void gguf_dequantize_row(int t, const void *src, float *y, int64_t n) {
    const unsigned char *p = src;
    switch (t) {
    case GGUF_F32: memcpy(y, p, (size_t)n * 4); return;
    case GGUF_F16: for (int64_t i = 0; i < n; i++) y[i] = st_f16_to_f32(get_u16(p + 2 * i)); return;
    case GGUF_BF16: for (int64_t i = 0; i < n; i++) y[i] = st_bf16_to_f32(get_u16(p + 2 * i)); return;
    case GGUF_Q8_0:
        for (int64_t b = 0; b < n / GGUF_QK; b++, y += GGUF_QK, p += 2 + GGUF_QK) {
            const float d = st_f16_to_f32(get_u16(p));
            for (int j = 0; j < GGUF_QK; j++) y[j] = (float)(int8_t)p[2 + j] * d;
        }
        return;
    case GGUF_Q4_0:
        for (int64_t b = 0; b < n / GGUF_QK; b++, y += GGUF_QK, p += 2 + GGUF_QK / 2) {
            const float d = st_f16_to_f32(get_u16(p));
            for (int j = 0; j < GGUF_QK / 2; j++) {
                y[j] = (float)((p[2 + j] & 0x0f) - 8) * d;
                y[j + GGUF_QK / 2] = (float)((p[2 + j] >> 4) - 8) * d;
            }
        }
        return;
    }
}

static bool known_type(uint32_t t) {
    return t == GGUF_F32 || t == GGUF_F16 || t == GGUF_BF16 || t == GGUF_Q8_0 || t == GGUF_Q4_0;
}
static int64_t block_of(uint32_t t) { return t == GGUF_Q8_0 || t == GGUF_Q4_0 ? GGUF_QK : 1; }

/* ---------- reading ---------- */

typedef struct {
    const unsigned char *base;
    size_t size, pos;
    const char *path;
    char *err;
    size_t errcap;
} rd;

static int need(rd *r, uint64_t n, const char *what) {
    if (n > r->size - r->pos) {
        err_set(r->err, r->errcap, "%s: truncated: %s at byte %zu needs %llu bytes, %zu left", r->path, what, r->pos,
                (unsigned long long)n, r->size - r->pos);
        return -1;
    }
    return 0;
}
static int rd_u32(rd *r, uint32_t *v, const char *what) {
    if (need(r, 4, what)) return -1;
    memcpy(v, r->base + r->pos, 4);
    r->pos += 4;
    return 0;
}
static int rd_u64(rd *r, uint64_t *v, const char *what) {
    if (need(r, 8, what)) return -1;
    memcpy(v, r->base + r->pos, 8);
    r->pos += 8;
    return 0;
}
/* A string: its bytes are left in the mapping; *s points at them. */
static int rd_str(rd *r, const char **s, uint64_t *len, const char *what) {
    if (rd_u64(r, len, what)) return -1;
    if (need(r, *len, what)) return -1;
    *s = (const char *)r->base + r->pos;
    r->pos += *len;
    return 0;
}

static size_t vsize(uint32_t t) {
    switch (t) {
    case GGUF_V_UINT8: case GGUF_V_INT8: case GGUF_V_BOOL: return 1;
    case GGUF_V_UINT16: case GGUF_V_INT16: return 2;
    case GGUF_V_UINT32: case GGUF_V_INT32: case GGUF_V_FLOAT32: return 4;
    case GGUF_V_UINT64: case GGUF_V_INT64: case GGUF_V_FLOAT64: return 8;
    default: return 0;
    }
}

static int read_kv(rd *r, gguf_kv *kv) {
    const char *k;
    uint64_t klen;
    if (rd_str(r, &k, &klen, "metadata key")) return -1;
    if (klen == 0 || klen > 65535 || memchr(k, 0, klen)) {
        err_set(r->err, r->errcap, "%s: metadata key at byte %zu is empty, longer than 65535 bytes or holds a NUL",
                r->path, r->pos - klen);
        return -1;
    }
    if (!(kv->key = strndup(k, klen))) { err_set(r->err, r->errcap, "%s: out of memory", r->path); return -1; }
    if (rd_u32(r, &kv->type, kv->key)) return -1;
    kv->n = 1;
    if (kv->type == GGUF_V_STRING) {
        const char *s;
        uint64_t len;
        kv->val = r->base + r->pos;
        return rd_str(r, &s, &len, kv->key);
    }
    if (kv->type == GGUF_V_ARRAY) {
        if (rd_u32(r, &kv->arr_type, kv->key) || rd_u64(r, &kv->n, kv->key)) return -1;
        kv->val = r->base + r->pos;
        if (kv->arr_type == GGUF_V_STRING) {
            /* Each element takes at least its 8-byte length: bounds the table before it is allocated. */
            if (kv->n > (r->size - r->pos) / 8) {
                err_set(r->err, r->errcap, "%s: metadata '%s': %llu strings cannot fit in the %zu bytes left", r->path,
                        kv->key, (unsigned long long)kv->n, r->size - r->pos);
                return -1;
            }
            if (!(kv->str_off = malloc((size_t)(kv->n ? kv->n : 1) * sizeof *kv->str_off))) {
                err_set(r->err, r->errcap, "%s: out of memory", r->path);
                return -1;
            }
            for (uint64_t i = 0; i < kv->n; i++) {
                const char *s;
                uint64_t len;
                kv->str_off[i] = (uint64_t)(r->base + r->pos - kv->val);
                if (rd_str(r, &s, &len, kv->key)) return -1;
            }
            return 0;
        }
        size_t es = vsize(kv->arr_type);
        if (!es) {
            err_set(r->err, r->errcap, "%s: metadata '%s': array element type %u is not supported%s", r->path, kv->key,
                    kv->arr_type, kv->arr_type == GGUF_V_ARRAY ? " (nested arrays)" : "");
            return -1;
        }
        if (kv->n > (r->size - r->pos) / es) {
            err_set(r->err, r->errcap, "%s: truncated: metadata '%s' claims %llu elements, more than the file holds",
                    r->path, kv->key, (unsigned long long)kv->n);
            return -1;
        }
        r->pos += (size_t)kv->n * es;
        return 0;
    }
    size_t es = vsize(kv->type);
    if (!es) {
        err_set(r->err, r->errcap, "%s: metadata '%s' has unknown value type %u", r->path, kv->key, kv->type);
        return -1;
    }
    kv->val = r->base + r->pos;
    return need(r, es, kv->key) ? -1 : (r->pos += es, 0);
}

static int cmp_offset(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    for (int64_t i = 0; i < f->n_kv; i++) { free(f->kv[i].key); free(f->kv[i].str_off); }
    for (int64_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->kv);
    free(f->tensors);
    free(f->path);
    free(f);
}

gguf_file *gguf_open(const char *path, char *err, size_t errcap) {
    gguf_file *f = calloc(1, sizeof *f);
    gguf_tensor **order = NULL;
    int fd = -1;
    if (!f || !(f->path = strdup(path))) { err_set(err, errcap, "%s: out of memory", path); goto fail; }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) { err_set(err, errcap, "%s: cannot open: %s", path, strerror(errno)); goto fail; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { err_set(err, errcap, "%s: not a regular file", path); goto fail; }
    if (st.st_size < 24) {
        err_set(err, errcap, "%s: truncated: %lld bytes, a GGUF header takes 24", path, (long long)st.st_size);
        goto fail;
    }
    f->size = (size_t)st.st_size;
    void *map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) { err_set(err, errcap, "%s: cannot map: %s", path, strerror(errno)); goto fail; }
    f->map = map;
    close(fd);
    fd = -1;
    rd r = {f->map, f->size, 0, path, err, errcap};
    if (memcmp(r.base, GGUF_MAGIC, 4) != 0) {
        err_set(err, errcap, "%s: not a GGUF file (magic %02x %02x %02x %02x, expected \"GGUF\")", path, r.base[0],
                r.base[1], r.base[2], r.base[3]);
        goto fail;
    }
    r.pos = 4;
    uint64_t nt, nkv;
    if (rd_u32(&r, &f->version, "version") || rd_u64(&r, &nt, "tensor count") || rd_u64(&r, &nkv, "metadata count"))
        goto fail;
    if (f->version != 2 && f->version != 3) {
        err_set(err, errcap, "%s: GGUF version %u is not supported (2 and 3 are)", path, f->version);
        goto fail;
    }
    /* A key/value pair takes at least 8 + 1 + 4 + 1 bytes, a tensor info 8 + 1 + 4 + 8 + 4 + 8. */
    if (nkv > (f->size - r.pos) / 14) {
        err_set(err, errcap, "%s: metadata count %llu cannot fit in a file of %zu bytes", path, (unsigned long long)nkv,
                f->size);
        goto fail;
    }
    if (nt > (f->size - r.pos) / 33) {
        err_set(err, errcap, "%s: tensor count %llu cannot fit in a file of %zu bytes", path, (unsigned long long)nt,
                f->size);
        goto fail;
    }
    f->kv = calloc((size_t)nkv + 1, sizeof *f->kv);
    f->tensors = calloc((size_t)nt + 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) { err_set(err, errcap, "%s: out of memory", path); goto fail; }
    for (uint64_t i = 0; i < nkv; i++) {
        f->n_kv = (int64_t)i + 1;
        if (read_kv(&r, &f->kv[i])) goto fail;
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(f->kv[j].key, f->kv[i].key)) {
                err_set(err, errcap, "%s: metadata key '%s' appears twice", path, f->kv[i].key);
                goto fail;
            }
    }
    f->alignment = GGUF_DEFAULT_ALIGN;
    const gguf_kv *al = gguf_find(f, "general.alignment");
    if (al) {
        uint32_t a = 0;
        if (al->type != GGUF_V_UINT32) { err_set(err, errcap, "%s: general.alignment must be a uint32", path); goto fail; }
        memcpy(&a, al->val, 4);
        if (a == 0 || (a & (a - 1)) || a > (1u << 20)) {
            err_set(err, errcap, "%s: general.alignment %u is not a power of two up to 1 MiB", path, a);
            goto fail;
        }
        f->alignment = a;
    }
    for (uint64_t i = 0; i < nt; i++) {
        gguf_tensor *t = &f->tensors[i];
        f->n_tensors = (int64_t)i + 1;
        const char *nm;
        uint64_t nlen;
        if (rd_str(&r, &nm, &nlen, "tensor name")) goto fail;
        if (nlen == 0 || nlen > 64 * 1024 || memchr(nm, 0, nlen)) {
            err_set(err, errcap, "%s: tensor %llu: name is empty, too long or holds a NUL", path, (unsigned long long)i);
            goto fail;
        }
        if (!(t->name = strndup(nm, nlen))) { err_set(err, errcap, "%s: out of memory", path); goto fail; }
        if (rd_u32(&r, &t->n_dims, t->name)) goto fail;
        if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS) {
            err_set(err, errcap, "%s: tensor '%s' has %u dimensions (1 to 4 allowed)", path, t->name, t->n_dims);
            goto fail;
        }
        uint64_t numel = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            uint64_t ne;
            if (rd_u64(&r, &ne, t->name)) goto fail;
            if (ne == 0 || ne > (1ull << 40) || numel > (1ull << 62) / ne) {
                err_set(err, errcap, "%s: tensor '%s': dimension %u is %llu (zero, or the tensor is impossibly large)",
                        path, t->name, d, (unsigned long long)ne);
                goto fail;
            }
            t->ne[d] = (int64_t)ne;
            numel *= ne;
        }
        for (uint32_t d = t->n_dims; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        if (rd_u32(&r, &t->type, t->name) || rd_u64(&r, &t->offset, t->name)) goto fail;
        if (!known_type(t->type)) {
            err_set(err, errcap, "%s: tensor '%s' has ggml type %u (%s); halo-forge reads F32, F16, BF16, Q8_0 and Q4_0",
                    path, t->name, t->type, ggml_other_name(t->type));
            goto fail;
        }
        if (t->ne[0] % block_of(t->type)) {
            err_set(err, errcap, "%s: tensor '%s': %lld values per row is not a multiple of the %s block (32)", path,
                    t->name, (long long)t->ne[0], gguf_type_name((int)t->type));
            goto fail;
        }
        t->nbytes = gguf_row_size((int)t->type, t->ne[0]) * (size_t)(numel / (uint64_t)t->ne[0]);
        if (t->offset % f->alignment) {
            err_set(err, errcap, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u", path, t->name,
                    (unsigned long long)t->offset, f->alignment);
            goto fail;
        }
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(f->tensors[j].name, t->name)) {
                err_set(err, errcap, "%s: tensor '%s' appears twice", path, t->name);
                goto fail;
            }
    }
    size_t data_start = (r.pos + f->alignment - 1) / f->alignment * f->alignment;
    if (data_start > f->size) {
        err_set(err, errcap, "%s: truncated: the data section would start at byte %zu, past the end (%zu)", path,
                data_start, f->size);
        goto fail;
    }
    size_t data_len = f->size - data_start;
    if (!(order = malloc((size_t)(nt ? nt : 1) * sizeof *order))) { err_set(err, errcap, "%s: out of memory", path); goto fail; }
    for (uint64_t i = 0; i < nt; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset > data_len || t->nbytes > data_len - t->offset) {
            err_set(err, errcap,
                    "%s: truncated or bad offset: tensor '%s' needs bytes %llu..%llu of the data section, which has %zu",
                    path, t->name, (unsigned long long)t->offset, (unsigned long long)(t->offset + t->nbytes), data_len);
            goto fail;
        }
        t->data = (const unsigned char *)f->map + data_start + t->offset;
        order[i] = t;
    }
    qsort(order, (size_t)nt, sizeof *order, cmp_offset);
    for (uint64_t i = 1; i < nt; i++)
        if (order[i - 1]->offset + order[i - 1]->nbytes > order[i]->offset) {
            err_set(err, errcap, "%s: tensors '%s' and '%s' overlap in the data section", path, order[i - 1]->name,
                    order[i]->name);
            goto fail;
        }
    free(order);
    return f;
fail:
    free(order);
    if (fd >= 0) close(fd);
    gguf_close(f);
    return NULL;
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    for (int64_t i = 0; i < f->n_kv; i++)
        if (!strcmp(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (int64_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

static bool is_int_type(uint32_t t) {
    return t <= GGUF_V_INT32 || t == GGUF_V_UINT64 || t == GGUF_V_INT64;
}

static int64_t int_at(uint32_t t, const unsigned char *p) {
    switch (t) {
    case GGUF_V_UINT8: return p[0];
    case GGUF_V_INT8: return (int8_t)p[0];
    case GGUF_V_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case GGUF_V_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
    case GGUF_V_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case GGUF_V_INT32: { int32_t v; memcpy(&v, p, 4); return v; }
    case GGUF_V_UINT64: { uint64_t v; memcpy(&v, p, 8); return v > INT64_MAX ? INT64_MAX : (int64_t)v; }
    case GGUF_V_INT64: { int64_t v; memcpy(&v, p, 8); return v; }
    default: return 0;
    }
}

int gguf_get_int(const gguf_file *f, const char *key, int64_t *out, char *err, size_t errcap) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    if (!is_int_type(kv->type)) { err_set(err, errcap, "%s: metadata '%s' must be an integer", f->path, key); return -1; }
    *out = int_at(kv->type, kv->val);
    return 1;
}

int gguf_get_float(const gguf_file *f, const char *key, double *out, char *err, size_t errcap) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    if (kv->type == GGUF_V_FLOAT32) { float v; memcpy(&v, kv->val, 4); *out = v; return 1; }
    if (kv->type == GGUF_V_FLOAT64) { memcpy(out, kv->val, 8); return 1; }
    err_set(err, errcap, "%s: metadata '%s' must be a float", f->path, key);
    return -1;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out, char *err, size_t errcap) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_V_BOOL) { err_set(err, errcap, "%s: metadata '%s' must be a bool", f->path, key); return -1; }
    *out = kv->val[0] != 0;
    return 1;
}

int gguf_get_str(const gguf_file *f, const char *key, const char **s, size_t *len, char *err, size_t errcap) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_V_STRING) { err_set(err, errcap, "%s: metadata '%s' must be a string", f->path, key); return -1; }
    uint64_t n;
    memcpy(&n, kv->val, 8);
    *s = (const char *)kv->val + 8;
    *len = (size_t)n;
    return 1;
}

const char *gguf_arr_str(const gguf_kv *kv, uint64_t i, size_t *len) {
    const unsigned char *p = kv->val + kv->str_off[i];
    uint64_t n;
    memcpy(&n, p, 8);
    *len = (size_t)n;
    return (const char *)p + 8;
}

int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i) { return int_at(kv->arr_type, kv->val + i * vsize(kv->arr_type)); }

bool gguf_is_path(const char *path) {
    size_t n = path ? strlen(path) : 0;
    return n > 5 && !strcasecmp(path + n - 5, ".gguf");
}
