/* tfevents: TensorBoard event files (see tfevents.h). */
#include "plot/tfevents.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"

#define TFEV_PREFIX "events.out.tfevents."

const tfev_tag tfev_train_tags[] = {
    {"loss", "train/loss"},
    {"lr", "train/learning_rate"},
    {"grad_norm", "train/grad_norm"},
    {"epoch", "train/epoch"},
    {"tokens", "train/tokens"},
    {"tokens_per_sec", "train/tokens_per_sec"},
    {"eval_loss", "eval/loss"},
    {NULL, NULL},
};

struct tfev_writer {
    FILE *f;
    tfev_mode mode;
    bool failed;
    char dir[4096];
    char name[512];  /* the file's name in dir */
    char path[4700]; /* dir/name */
    char tmp[4200];  /* REPLACE: the file being written */
};

/* ---- CRC-32C, reflected polynomial 0x82F63B78, one table (SSE4.2 would be faster; event files are tiny) */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t tfev_crc32c(const void *data, size_t n) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

uint32_t tfev_mask_crc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u; }

/* ---- protobuf encoding: a growable byte buffer */

typedef struct {
    unsigned char *p;
    size_t n, cap;
    bool oom;
} pbuf;

static void pb_put(pbuf *b, const void *data, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) { b->oom = true; return; }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void pb_varint(pbuf *b, uint64_t v) {
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = v & 0x7F;
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    pb_put(b, tmp, n);
}

static void pb_fixed(pbuf *b, uint64_t v, int bytes) {
    unsigned char tmp[8];
    for (int i = 0; i < bytes; i++) tmp[i] = (unsigned char)(v >> (8 * i));
    pb_put(b, tmp, (size_t)bytes);
}

static void pb_key(pbuf *b, int field, int wire) { pb_varint(b, (uint64_t)(field << 3 | wire)); }

static void pb_bytes(pbuf *b, int field, const void *data, size_t n) {
    pb_key(b, field, 2);
    pb_varint(b, n);
    pb_put(b, data, n);
}

static void pb_double(pbuf *b, int field, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    pb_key(b, field, 1);
    pb_fixed(b, u, 8);
}

static void pb_float(pbuf *b, int field, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    pb_key(b, field, 5);
    pb_fixed(b, u, 4);
}

/* ---- records */

static double now_s(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec * 1e-6;
}

static int write_record(tfev_writer *w, const pbuf *ev) {
    if (w->failed) return -1;
    if (ev->oom) { w->failed = true; return -1; }
    /* One buffer and one fwrite, so a record is whole in the file or (after a crash) a torn tail. */
    pbuf r = {0};
    pb_fixed(&r, ev->n, 8);
    pb_fixed(&r, tfev_mask_crc(tfev_crc32c(r.p, 8)), 4);
    pb_put(&r, ev->p, ev->n);
    pb_fixed(&r, tfev_mask_crc(tfev_crc32c(ev->p, ev->n)), 4);
    bool ok = !r.oom && fwrite(r.p, 1, r.n, w->f) == r.n && (w->mode != TFEV_STREAM || fflush(w->f) == 0);
    free(r.p);
    if (!ok) w->failed = true;
    return ok ? 0 : -1;
}

static bool is_event_file(const char *name) { return !strncmp(name, TFEV_PREFIX, strlen(TFEV_PREFIX)); }

/* Removes the event files of dir except the one named keep (NULL: all). */
static int clear_events(const char *dir, const char *keep, char *err, size_t errcap) {
    DIR *d = opendir(dir);
    if (!d) { err_set(err, errcap, "%s: cannot open: %s", dir, strerror(errno)); return -1; }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!is_event_file(e->d_name) || (keep && !strcmp(e->d_name, keep))) continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) != 0) {
            err_set(err, errcap, "%s: cannot remove: %s", p, strerror(errno));
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

tfev_writer *tfev_open(const char *dir, tfev_mode mode, char *err, size_t errcap) {
    if (fs_mkdirs(dir) != 0) {
        err_set(err, errcap, "%s: cannot create: %s", dir, strerror(errno));
        return NULL;
    }
    tfev_writer *w = calloc(1, sizeof *w);
    if (!w) { err_set(err, errcap, "%s: out of memory", dir); return NULL; }
    w->mode = mode;
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    /* REPLACE clears the old files only once the new one is complete (tfev_close) */
    if (mode == TFEV_STREAM && clear_events(dir, NULL, err, errcap) != 0) goto fail;
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "localhost");
    host[sizeof host - 1] = 0;
    for (char *c = host; *c; c++)
        if (*c == '/') *c = '_';
    snprintf(w->name, sizeof w->name, TFEV_PREFIX "%ld.%s", (long)time(NULL), host);
    snprintf(w->path, sizeof w->path, "%s/%s", dir, w->name);
    const char *open_path = w->path;
    if (mode == TFEV_REPLACE) {
        /* hidden, and without "tfevents" in its name, so TensorBoard never reads it half-written */
        snprintf(w->tmp, sizeof w->tmp, "%s/.tb-tmp.%ld", dir, (long)getpid());
        open_path = w->tmp;
    }
    if (!(w->f = fopen(open_path, "wb"))) {
        err_set(err, errcap, "%s: cannot write: %s", open_path, strerror(errno));
        goto fail;
    }
    pbuf ev = {0};
    pb_double(&ev, 1, now_s());
    pb_bytes(&ev, 3, "brain.Event:2", 13);
    int rc = write_record(w, &ev);
    free(ev.p);
    if (rc != 0) {
        err_set(err, errcap, "%s: cannot write: %s", open_path, strerror(errno));
        fclose(w->f);
        unlink(open_path);
        goto fail;
    }
    return w;
fail:
    free(w);
    return NULL;
}

const char *tfev_path(const tfev_writer *w) { return w->path; }

int tfev_scalars(tfev_writer *w, int64_t step, double wall_time, size_t n, const char *const *tags,
                 const double *values) {
    pbuf sum = {0}, val = {0}, ev = {0};
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(values[i])) continue;
        val.n = 0;
        pb_bytes(&val, 1, tags[i], strlen(tags[i]));
        pb_float(&val, 2, (float)values[i]);
        if (val.oom) break;
        pb_bytes(&sum, 1, val.p, val.n);
        used++;
    }
    int rc = 0;
    if (val.oom || sum.oom) {
        w->failed = true;
        rc = -1;
    } else if (used) {
        pb_double(&ev, 1, wall_time > 0 ? wall_time : now_s());
        pb_key(&ev, 2, 0);
        pb_varint(&ev, (uint64_t)step);
        pb_bytes(&ev, 5, sum.p, sum.n);
        rc = write_record(w, &ev);
    }
    free(sum.p);
    free(val.p);
    free(ev.p);
    return rc;
}

int tfev_scalar(tfev_writer *w, const char *tag, int64_t step, double wall_time, double value) {
    return tfev_scalars(w, step, wall_time, 1, &tag, &value);
}

int tfev_json(tfev_writer *w, const cJSON *obj, const char *step_key, const tfev_tag *tags, double wall_time) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, step_key);
    long step;
    if (!json_long_in(s, LONG_MIN, LONG_MAX, &step)) return 0;
    const char *names[64];
    double vals[64];
    size_t n = 0;
    for (const tfev_tag *t = tags; t->key && n < 64; t++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, t->key);
        if (!cJSON_IsNumber(v)) continue;
        names[n] = t->tag;
        vals[n++] = v->valuedouble;
    }
    if (!n) return 0;
    return tfev_scalars(w, (int64_t)step, wall_time, n, names, vals) ? -1 : (int)n;
}

long tfev_replay_jsonl(tfev_writer *w, const char *path, const char *step_key, const tfev_tag *tags) {
    jsonl_reader r;
    if (jsonl_open(&r, path) != 0) return 0;
    long events = 0;
    char err[512];
    for (;;) {
        cJSON *o = NULL;
        int k = jsonl_next(&r, &o, err, sizeof err);
        if (k == 0) break;
        if (k < 0) continue;
        int m = tfev_json(w, o, step_key, tags, 0);
        cJSON_Delete(o);
        if (m < 0) { events = -1; break; }
        if (m > 0) events++;
    }
    jsonl_close(&r);
    return events;
}

tfev_writer *tfev_follow_jsonl(const char *dir, const char *jsonl, const tfev_tag *tags) {
    char err[600];
    tfev_writer *w = dir ? tfev_open(dir, TFEV_STREAM, err, sizeof err) : NULL;
    if (!w) {
        log_warn("%s (TensorBoard events are not written)", dir ? err : "tensorboard: path too long");
        return NULL;
    }
    if (tfev_replay_jsonl(w, jsonl, "step", tags) < 0) {
        log_warn("%s: write error (TensorBoard events are not written)", tfev_path(w));
        tfev_close(w);
        return NULL;
    }
    return w;
}

void tfev_follow_line(tfev_writer **w, const char *line, const tfev_tag *tags) {
    if (!*w) return;
    cJSON *j = cJSON_Parse(line);
    int rc = j ? tfev_json(*w, j, "step", tags, 0) : 0;
    cJSON_Delete(j);
    if (rc < 0) {
        log_warn("%s: write error (TensorBoard events stop here)", tfev_path(*w));
        tfev_close(*w);
        *w = NULL;
    }
}

void tfev_follow_close(tfev_writer *w) {
    if (w && tfev_close(w) != 0) log_warn("TensorBoard events: write error");
}

int tfev_close(tfev_writer *w) {
    if (!w) return 0;
    int rc = w->failed ? -1 : 0;
    if (w->mode == TFEV_REPLACE && rc == 0 && fflush(w->f) == 0 && fsync(fileno(w->f)) != 0) rc = -1;
    if (fclose(w->f) != 0) rc = -1;
    if (w->mode == TFEV_REPLACE) {
        if (rc == 0 && rename(w->tmp, w->path) != 0) rc = -1;
        if (rc != 0) unlink(w->tmp);
        else if (clear_events(w->dir, w->name, NULL, 0) != 0) rc = -1;
    }
    free(w);
    return rc;
}

/* ---- reading */

typedef struct {
    const unsigned char *p, *end;
    bool bad;
} pbread;

static uint64_t rd_varint(pbread *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) break;
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) return v;
    }
    r->bad = true;
    return 0;
}

static uint64_t rd_fixed(pbread *r, int bytes) {
    if (r->end - r->p < bytes) { r->bad = true; r->p = r->end; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}

/* Skips or reads one field; for length-delimited fields sets *sub to the bytes. */
static int rd_field(pbread *r, int *field, int *wire, uint64_t *num, pbread *sub) {
    uint64_t key = rd_varint(r);
    if (r->bad) return -1;
    *field = (int)(key >> 3);
    *wire = (int)(key & 7);
    switch (*wire) {
    case 0: *num = rd_varint(r); break;
    case 1: *num = rd_fixed(r, 8); break;
    case 5: *num = rd_fixed(r, 4); break;
    case 2: {
        uint64_t n = rd_varint(r);
        if (r->bad || n > (uint64_t)(r->end - r->p)) { r->bad = true; return -1; }
        sub->p = r->p;
        sub->end = r->p + n;
        sub->bad = false;
        r->p += n;
        break;
    }
    default: r->bad = true; return -1;
    }
    return r->bad ? -1 : 0;
}

typedef struct {
    tfev_point *p;
    long n, cap;
} points;

static int push_point(points *ps, const pbread *tag, int64_t step, double wall, double value) {
    if (ps->n == ps->cap) {
        long cap = ps->cap ? ps->cap * 2 : 256;
        tfev_point *q = realloc(ps->p, (size_t)cap * sizeof *q);
        if (!q) return -1;
        ps->p = q;
        ps->cap = cap;
    }
    size_t len = (size_t)(tag->end - tag->p);
    char *t = malloc(len + 1);
    if (!t) return -1;
    memcpy(t, tag->p, len);
    t[len] = 0;
    ps->p[ps->n++] = (tfev_point){t, step, wall, value};
    return 0;
}

/* One Event payload: its summary values. */
static int decode_event(pbread ev, points *ps) {
    double wall = 0;
    int64_t step = 0;
    pbread summary = {0};
    bool have_summary = false;
    while (ev.p < ev.end) {
        int f, wt;
        uint64_t num = 0;
        pbread sub = {0};
        if (rd_field(&ev, &f, &wt, &num, &sub)) return 0; /* malformed: skip the event */
        if (f == 1 && wt == 1) memcpy(&wall, &num, 8);
        else if (f == 2 && wt == 0) step = (int64_t)num;
        else if (f == 5 && wt == 2) { summary = sub; have_summary = true; }
    }
    if (!have_summary) return 0;
    while (summary.p < summary.end) {
        int f, wt;
        uint64_t num = 0;
        pbread val = {0};
        if (rd_field(&summary, &f, &wt, &num, &val)) return 0;
        if (f != 1 || wt != 2) continue;
        pbread tag = {0};
        bool have_tag = false, have_val = false;
        float v = 0;
        while (val.p < val.end) {
            pbread sub = {0};
            if (rd_field(&val, &f, &wt, &num, &sub)) break;
            if (f == 1 && wt == 2) { tag = sub; have_tag = true; }
            else if (f == 2 && wt == 5) {
                uint32_t u = (uint32_t)num;
                memcpy(&v, &u, 4);
                have_val = true;
            }
        }
        if (have_tag && have_val && push_point(ps, &tag, step, wall, v)) return -1;
    }
    return 0;
}

static int read_file(const char *path, points *ps, char *err, size_t errcap) {
    size_t len;
    unsigned char *data = (unsigned char *)fs_read_file(path, &len);
    if (!data) { err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno)); return -1; }
    size_t off = 0;
    long rec = 0;
    while (off < len) {
        if (len - off < 12) { log_warn("%s: record %ld: torn (the file ends inside it)", path, rec); break; }
        uint64_t n = 0;
        for (int i = 0; i < 8; i++) n |= (uint64_t)data[off + i] << (8 * i);
        uint32_t lc = (uint32_t)data[off + 8] | (uint32_t)data[off + 9] << 8 | (uint32_t)data[off + 10] << 16 |
                      (uint32_t)data[off + 11] << 24;
        if (lc != tfev_mask_crc(tfev_crc32c(data + off, 8))) { log_warn("%s: record %ld: bad length CRC", path, rec); break; }
        if (n > len - off - 12 || len - off - 12 - n < 4) {
            log_warn("%s: record %ld: torn (the file ends inside it)", path, rec);
            break;
        }
        const unsigned char *pl = data + off + 12, *dc = pl + n;
        uint32_t c = (uint32_t)dc[0] | (uint32_t)dc[1] << 8 | (uint32_t)dc[2] << 16 | (uint32_t)dc[3] << 24;
        if (c != tfev_mask_crc(tfev_crc32c(pl, n))) { log_warn("%s: record %ld: bad data CRC", path, rec); break; }
        if (decode_event((pbread){pl, pl + n, false}, ps)) {
            free(data);
            err_set(err, errcap, "%s: out of memory", path);
            return -1;
        }
        off += 12 + n + 4;
        rec++;
    }
    free(data);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

long tfev_read_dir(const char *dir, tfev_point **out, char *err, size_t errcap) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) { err_set(err, errcap, "%s: cannot open: %s", dir, strerror(errno)); return -1; }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, "tfevents") || e->d_name[0] == '.') continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 8;
            char **q = realloc(names, cap * sizeof *q);
            if (!q) break;
            names = q;
        }
        names[nn] = strdup(e->d_name);
        if (names[nn]) nn++;
    }
    closedir(d);
    long rc = -1;
    points ps = {0};
    if (!nn) { err_set(err, errcap, "%s: no TensorBoard event files (events.out.tfevents.*)", dir); goto out; }
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (read_file(p, &ps, err, errcap)) goto out;
    }
    *out = ps.p;
    rc = ps.n;
    ps.p = NULL;
out:
    tfev_points_free(ps.p, ps.n);
    for (size_t i = 0; i < nn; i++) free(names[i]);
    free(names);
    return rc;
}

void tfev_points_free(tfev_point *p, long n) {
    for (long i = 0; p && i < n; i++) free(p[i].tag);
    free(p);
}
