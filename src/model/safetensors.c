#include "model/safetensors.h"
#include "core/jsonl.h"
#include "core/err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const dtype_names[] = {"F32", "BF16", "F16"};

const char *st_dtype_name(st_dtype t) { return (unsigned)t < 3 ? dtype_names[t] : "?"; }
size_t st_dtype_size(st_dtype t) { return t == ST_F32 ? 4 : 2; }
int st_dtype_parse(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, dtype_names[i])) return i;
    return -1;
}
int64_t st_numel(const st_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { /* subnormal: renormalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
    else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    union { uint32_t u; float f; } v = {.u = u};
    return v.f;
}

uint16_t st_f32_to_f16(float f) {
    union { float f; uint32_t u; } v = {.f = f};
    uint32_t sign = (v.u >> 16) & 0x8000;
    float a = fabsf(f);
    if (isnan(f)) return (uint16_t)(sign | 0x7e00);
    if (a >= 65520.0f) return (uint16_t)(sign | 0x7c00);
    if (a < 6.103515625e-05f) /* subnormal or zero: units of 2^-24, rint rounds to even */
        return (uint16_t)(sign | (uint32_t)rintf(a * 16777216.0f));
    uint32_t u = v.u & 0x7fffffffu;
    u += 0xfffu + ((u >> 13) & 1u);
    return (uint16_t)(sign | (((u >> 23) - 127 + 15) << 10) | ((u >> 13) & 0x3ff));
}

void st_close(st_file *f) {
    if (!f) return;
    if (f->map && f->map != MAP_FAILED) munmap(f->map, f->map_len);
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_copies; i++) free(f->copies[i]);
    free(f->copies);
    free(f->tensors);
    free(f->path);
    free(f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

/* A JSON number that is a non-negative whole number below 2^53. */
static int json_u64(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != floor(d)) return -1;
    *out = (uint64_t)d;
    return 0;
}

typedef struct {
    uint64_t begin, end;
    int idx;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

long st_first_nonfinite(const st_tensor *t) {
    size_t n = t->nbytes / st_dtype_size(t->dtype);
    /* exponent all ones = Inf or NaN; an OR over blocks vectorises, the element is found afterwards */
    const size_t blk = 4096;
    for (size_t b0 = 0; b0 < n; b0 += blk) {
        size_t b1 = b0 + blk < n ? b0 + blk : n;
        unsigned bad = 0;
        if (t->dtype == ST_F32) {
            const uint32_t *u = t->data;
#pragma omp simd reduction(| : bad)
            for (size_t i = b0; i < b1; i++) bad |= (u[i] & 0x7f800000u) == 0x7f800000u;
        } else {
            const uint16_t *h = t->data;
            const uint16_t mask = t->dtype == ST_BF16 ? 0x7f80 : 0x7c00;
#pragma omp simd reduction(| : bad)
            for (size_t i = b0; i < b1; i++) bad |= (h[i] & mask) == mask;
        }
        if (!bad) continue;
        for (size_t i = b0; i < b1; i++) {
            bool nf = t->dtype == ST_F32 ? (((const uint32_t *)t->data)[i] & 0x7f800000u) == 0x7f800000u
                                         : (((const uint16_t *)t->data)[i] & (t->dtype == ST_BF16 ? 0x7f80 : 0x7c00)) ==
                                               (t->dtype == ST_BF16 ? 0x7f80 : 0x7c00);
            if (nf) return (long)i;
        }
    }
    return -1;
}

st_file *st_open(const char *path, char *err, size_t errcap) {
    st_file *f = calloc(1, sizeof *f);
    cJSON *root = NULL;
    span *spans = NULL;
    if (!f || !(f->path = strdup(path))) { err_set(err, errcap, "%s: out of memory", path); free(f); return NULL; }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { err_set(err, errcap, "%s: cannot open: %s", path, strerror(errno)); goto fail; }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        err_set(err, errcap, "%s: not a regular file", path);
        close(fd);
        goto fail;
    }
    size_t fsize = (size_t)sb.st_size;
    if (fsize < 8) {
        err_set(err, errcap, "%s: truncated: %zu bytes, shorter than the 8-byte header length", path, fsize);
        close(fd);
        goto fail;
    }
    f->map = mmap(NULL, fsize, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) { f->map = NULL; err_set(err, errcap, "%s: mmap failed: %s", path, strerror(errno)); goto fail; }
    f->map_len = fsize;
    const unsigned char *p = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen > ST_MAX_HEADER) {
        err_set(err, errcap, "%s: header length %llu is larger than the %u-byte limit (not a safetensors file?)", path,
               (unsigned long long)hlen, ST_MAX_HEADER);
        goto fail;
    }
    if (hlen > fsize - 8) {
        err_set(err, errcap, "%s: truncated: header says %llu bytes but the file has only %zu after the length", path,
               (unsigned long long)hlen, fsize - 8);
        goto fail;
    }
    if (hlen < 2) { err_set(err, errcap, "%s: header of %llu bytes is too short", path, (unsigned long long)hlen); goto fail; }
    const char *hdr = (const char *)p + 8;
    const char *endp = NULL;
    root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &endp, 0);
    if (!root) {
        size_t off = endp ? (size_t)(endp - hdr) : 0;
        err_set(err, errcap, "%s: header is not valid JSON (near byte %zu of the header)", path, off);
        goto fail;
    }
    if (!cJSON_IsObject(root)) { err_set(err, errcap, "%s: header is not a JSON object", path); goto fail; }
    for (size_t i = (size_t)(endp - hdr); i < hlen; i++)
        if (hdr[i] != ' ' && hdr[i] != '\0') {
            err_set(err, errcap, "%s: header has trailing bytes after the JSON object", path);
            goto fail;
        }
    long bl, bc;
    if (!json_utf8_valid(hdr, (size_t)hlen, &bl, &bc)) {
        err_set(err, errcap, "%s: header is not valid UTF-8 (line %ld, column %ld of the header)", path, bl, bc);
        goto fail;
    }
    const char *dup = json_duplicate_key(root); /* sorted, so a header of a million names stays fast */
    if (dup) {
        err_set(err, errcap, "%s: tensor '%s' appears twice in the header", path, dup);
        goto fail;
    }
    size_t data_start = 8 + (size_t)hlen, data_len = fsize - data_start;
    int n = cJSON_GetArraySize(root);
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    spans = calloc((size_t)n + 1, sizeof *spans);
    if (!f->tensors || !spans) { err_set(err, errcap, "%s: out of memory", path); goto fail; }
    for (cJSON *e = root->child; e; e = e->next) {
        const char *name = e->string ? e->string : "";
        if (!strcmp(name, "__metadata__")) {
            if (!cJSON_IsObject(e)) { err_set(err, errcap, "%s: __metadata__ is not an object", path); goto fail; }
            for (cJSON *m = e->child; m; m = m->next)
                if (!cJSON_IsString(m)) {
                    err_set(err, errcap, "%s: __metadata__ value '%s' is not a string", path, m->string);
                    goto fail;
                }
            continue;
        }
        if (!cJSON_IsObject(e)) { err_set(err, errcap, "%s: tensor '%s': entry is not an object", path, name); goto fail; }
        cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
        cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo)) {
            err_set(err, errcap, "%s: tensor '%s': needs string dtype, array shape and array data_offsets", path, name);
            goto fail;
        }
        int dt = st_dtype_parse(jd->valuestring);
        if (dt < 0) {
            err_set(err, errcap, "%s: tensor '%s': unsupported dtype '%s' (supported: F32, BF16, F16)", path, name,
                   jd->valuestring);
            goto fail;
        }
        st_tensor *t = &f->tensors[f->n_tensors];
        t->dtype = (st_dtype)dt;
        t->ndim = cJSON_GetArraySize(js);
        if (t->ndim > ST_MAX_DIMS) { err_set(err, errcap, "%s: tensor '%s': too many dimensions", path, name); goto fail; }
        uint64_t numel = 1;
        int d = 0;
        for (cJSON *s = js->child; s; s = s->next, d++) {
            uint64_t v;
            if (json_u64(s, &v) != 0 || v > (1ull << 40)) {
                err_set(err, errcap, "%s: tensor '%s': shape entries must be non-negative integers", path, name);
                goto fail;
            }
            t->shape[d] = (int64_t)v;
            numel *= v;
            if (numel > (1ull << 42)) { err_set(err, errcap, "%s: tensor '%s': shape is absurdly large", path, name); goto fail; }
        }
        uint64_t b, en;
        if (cJSON_GetArraySize(jo) != 2 || json_u64(jo->child, &b) != 0 || json_u64(jo->child->next, &en) != 0 || b > en) {
            err_set(err, errcap, "%s: tensor '%s': data_offsets must be [begin, end] with begin <= end", path, name);
            goto fail;
        }
        if (en > data_len) {
            err_set(err, errcap, "%s: tensor '%s': data_offsets [%llu, %llu] lie outside the file (%zu data bytes)", path,
                   name, (unsigned long long)b, (unsigned long long)en, data_len);
            goto fail;
        }
        if (en - b != numel * st_dtype_size(t->dtype)) {
            err_set(err, errcap, "%s: tensor '%s': %llu bytes do not match shape and dtype %s (%llu bytes)", path, name,
                   (unsigned long long)(en - b), st_dtype_name(t->dtype),
                   (unsigned long long)(numel * st_dtype_size(t->dtype)));
            goto fail;
        }
        if (!(t->name = strdup(name))) { err_set(err, errcap, "%s: out of memory", path); goto fail; }
        t->nbytes = (size_t)(en - b);
        t->data = p + data_start + b;
        spans[f->n_tensors] = (span){b, en, f->n_tensors};
        f->n_tensors++;
    }
    qsort(spans, (size_t)f->n_tensors, sizeof *spans, span_cmp);
    for (int i = 1; i < f->n_tensors; i++)
        if (spans[i].begin < spans[i - 1].end) {
            err_set(err, errcap, "%s: tensors '%s' and '%s' overlap", path, f->tensors[spans[i - 1].idx].name,
                   f->tensors[spans[i].idx].name);
            goto fail;
        }
    /* Data the file stores at an address unsuitable for its element type gets an aligned copy. */
    for (int i = 0; i < f->n_tensors; i++) {
        st_tensor *t = &f->tensors[i];
        if (((uintptr_t)t->data % st_dtype_size(t->dtype)) == 0) continue;
        void **nc = realloc(f->copies, (size_t)(f->n_copies + 1) * sizeof *nc);
        /* 64-byte aligned, as the kernels like (see lora_apply.c): the same numbers in every process */
        void *copy = aligned_alloc(64, t->nbytes ? (t->nbytes + 63) / 64 * 64 : 64);
        if (!nc || !copy) { free(copy); if (nc) f->copies = nc; err_set(err, errcap, "%s: out of memory", path); goto fail; }
        f->copies = nc;
        memcpy(copy, t->data, t->nbytes);
        f->copies[f->n_copies++] = copy;
        t->data = copy;
    }
    /* A NaN or Inf weight poisons every activation after it: refuse the file rather than sample garbage
     * or train on it. One pass over the data, which the model reads anyway. */
    for (int i = 0; i < f->n_tensors; i++) {
        long at = st_first_nonfinite(&f->tensors[i]);
        if (at >= 0) {
            err_set(err, errcap, "%s: tensor '%s' holds a NaN or Inf value (element %ld): the weights are corrupt",
                    path, f->tensors[i].name, at);
            goto fail;
        }
    }
    cJSON_Delete(root);
    free(spans);
    return f;
fail:
    cJSON_Delete(root);
    free(spans);
    st_close(f);
    return NULL;
}

static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int st_write(const char *path, const st_spec *specs, int n, const char *metadata_json, st_fill_fn fill, void *ctx,
             char *err, size_t errcap) {
    cJSON *root = cJSON_CreateObject();
    char *json = NULL, *hdr = NULL, *tmp = NULL;
    void *buf = NULL;
    int fd = -1, rc = -1;
    if (!root) goto oom;
    if (metadata_json) {
        cJSON *meta = cJSON_Parse(metadata_json);
        if (!meta) { err_set(err, errcap, "%s: metadata is not valid JSON", path); goto done; }
        cJSON_AddItemToObject(root, "__metadata__", meta);
    }
    uint64_t off = 0;
    size_t maxbytes = 0;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        cJSON *t = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offs = cJSON_CreateArray();
        if (!t || !shape || !offs) { cJSON_Delete(t); cJSON_Delete(shape); cJSON_Delete(offs); goto oom; }
        cJSON_AddItemToObject(root, specs[i].name, t);
        cJSON_AddStringToObject(t, "dtype", st_dtype_name(specs[i].dtype));
        for (int d = 0; d < specs[i].ndim; d++) {
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)specs[i].shape[d]));
            numel *= (uint64_t)specs[i].shape[d];
        }
        cJSON_AddItemToObject(t, "shape", shape);
        uint64_t nb = numel * st_dtype_size(specs[i].dtype);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + nb)));
        cJSON_AddItemToObject(t, "data_offsets", offs);
        off += nb;
        if (nb > maxbytes) maxbytes = (size_t)nb;
    }
    json = cJSON_PrintUnformatted(root);
    if (!json) goto oom;
    /* Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does. */
    size_t jl = strlen(json), hl = (jl + 7) / 8 * 8;
    hdr = malloc(8 + hl);
    if (!hdr) goto oom;
    for (int i = 0; i < 8; i++) hdr[i] = (char)((uint64_t)hl >> (8 * i));
    memcpy(hdr + 8, json, jl);
    memset(hdr + 8 + jl, ' ', hl - jl);
    size_t plen = strlen(path) + 32;
    if (!(tmp = malloc(plen))) goto oom;
    snprintf(tmp, plen, "%s.tmp.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { err_set(err, errcap, "%s: cannot create: %s", tmp, strerror(errno)); goto done; }
    if (write_all(fd, hdr, 8 + hl) != 0) goto io;
    buf = malloc(maxbytes ? maxbytes : 1);
    if (!buf) goto oom;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < specs[i].ndim; d++) numel *= (uint64_t)specs[i].shape[d];
        size_t nb = (size_t)(numel * st_dtype_size(specs[i].dtype));
        if (fill(ctx, i, buf, nb) != 0) { err_set(err, errcap, "%s: could not produce tensor '%s'", path, specs[i].name); goto done; }
        st_tensor chk = {.dtype = specs[i].dtype, .data = buf, .nbytes = nb};
        long bad = st_first_nonfinite(&chk); /* what st_open would refuse is never written */
        if (bad >= 0) {
            err_set(err, errcap, "%s: tensor '%s' holds a NaN or Inf value (element %ld): not written", path,
                    specs[i].name, bad);
            goto done;
        }
        if (write_all(fd, buf, nb) != 0) goto io;
    }
    if (fsync(fd) != 0) goto io;
    if (close(fd) != 0) { fd = -1; goto io; }
    fd = -1;
    if (rename(tmp, path) != 0) goto io;
    rc = 0;
    goto done;
oom:
    err_set(err, errcap, "%s: out of memory", path);
    goto done;
io:
    err_set(err, errcap, "%s: write failed: %s", path, strerror(errno));
done:
    if (fd >= 0) close(fd);
    if (rc != 0 && tmp) unlink(tmp);
    free(buf);
    free(tmp);
    free(hdr);
    free(json);
    cJSON_Delete(root);
    return rc;
}
