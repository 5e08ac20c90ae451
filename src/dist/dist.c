/* dist: MPI behind a small interface (see dist.h). */
#include "dist/dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HF_HAVE_MPI
#include <mpi.h>

static int g_on, g_rank, g_size = 1;

/* MPI counts are int: large arrays go in chunks of this many elements. */
#define DIST_CHUNK ((size_t)1 << 28)

static void check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    fprintf(stderr, "halo-forge: rank %d of %d: %s failed: %s (did another rank stop?)\n", g_rank, g_size, what, msg);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    _Exit(1);
}

static int launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

void dist_init(int *argc, char ***argv) {
    if (g_on || !launched_by_mpi()) return;
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "halo-forge: MPI_Init failed\n");
        exit(1);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_on = 1;
    atexit(dist_finalize);
}

void dist_finalize(void) {
    if (!g_on) return;
    g_on = 0;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
}

bool dist_built(void) { return true; }
int dist_rank(void) { return g_on ? g_rank : 0; }
int dist_size(void) { return g_on ? g_size : 1; }

void dist_barrier(void) {
    if (g_on && g_size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
}

void dist_allreduce_f32(float *x, size_t n, float scale) {
    if (g_on && g_size > 1)
        for (size_t i = 0; i < n; i += DIST_CHUNK) {
            size_t c = n - i < DIST_CHUNK ? n - i : DIST_CHUNK;
            check(MPI_Allreduce(MPI_IN_PLACE, x + i, (int)c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "allreduce");
        }
    if (scale != 1.0f)
        for (size_t i = 0; i < n; i++) x[i] *= scale;
}

void dist_allreduce_f64(double *x, size_t n) {
    if (g_on && g_size > 1 && n)
        check(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "allreduce");
}

void dist_allreduce_long(long *x, size_t n) {
    if (g_on && g_size > 1 && n)
        check(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_LONG, MPI_SUM, MPI_COMM_WORLD), "allreduce");
}

void dist_bcast(void *buf, size_t n, int root) {
    if (!(g_on && g_size > 1)) return;
    for (size_t i = 0; i < n; i += DIST_CHUNK) {
        size_t c = n - i < DIST_CHUNK ? n - i : DIST_CHUNK;
        check(MPI_Bcast((char *)buf + i, (int)c, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
    }
}

int dist_allgather_blobs(const void *mine, size_t n, char **all, size_t **lens) {
    int size = dist_size();
    *all = NULL;
    *lens = calloc((size_t)size, sizeof **lens);
    long long my = (long long)n, *ln = calloc((size_t)size, sizeof *ln);
    if (!*lens || !ln) dist_abort(1, "out of memory gathering samples");
    if (size == 1) {
        ln[0] = my;
    } else {
        check(MPI_Allgather(&my, 1, MPI_LONG_LONG, ln, 1, MPI_LONG_LONG, MPI_COMM_WORLD), "gather");
    }
    size_t total = 0;
    for (int r = 0; r < size; r++) total += (size_t)ln[r];
    if (total > (size_t)INT32_MAX) dist_abort(1, "gathered samples exceed 2 GiB");
    *all = malloc(total ? total : 1);
    int *cnt = calloc((size_t)size, sizeof *cnt), *off = calloc((size_t)size, sizeof *off);
    if (!*all || !cnt || !off) dist_abort(1, "out of memory gathering samples");
    size_t o = 0;
    for (int r = 0; r < size; r++) {
        (*lens)[r] = (size_t)ln[r];
        cnt[r] = (int)ln[r];
        off[r] = (int)o;
        o += (size_t)ln[r];
    }
    if (size == 1) {
        if (n) memcpy(*all, mine, n);
    } else {
        check(MPI_Allgatherv(mine, (int)n, MPI_BYTE, *all, cnt, off, MPI_BYTE, MPI_COMM_WORLD), "gather");
    }
    free(ln);
    free(cnt);
    free(off);
    return 0;
}

void dist_abort(int code, const char *msg) {
    fprintf(stderr, "halo-forge: rank %d of %d: %s\n", dist_rank(), dist_size(), msg);
    fflush(stderr);
    if (g_on) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    exit(code ? code : 1);
}

#else /* no MPI: one rank */

void dist_init(int *argc, char ***argv) { (void)argc; (void)argv; }
void dist_finalize(void) {}
bool dist_built(void) { return false; }
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
void dist_barrier(void) {}
void dist_allreduce_f32(float *x, size_t n, float scale) {
    if (scale != 1.0f)
        for (size_t i = 0; i < n; i++) x[i] *= scale;
}
void dist_allreduce_f64(double *x, size_t n) { (void)x; (void)n; }
void dist_allreduce_long(long *x, size_t n) { (void)x; (void)n; }
void dist_bcast(void *buf, size_t n, int root) { (void)buf; (void)n; (void)root; }
int dist_allgather_blobs(const void *mine, size_t n, char **all, size_t **lens) {
    *all = malloc(n ? n : 1);
    *lens = malloc(sizeof **lens);
    if (!*all || !*lens) {
        free(*all);
        free(*lens);
        *all = NULL;
        *lens = NULL;
        return -1;
    }
    if (n) memcpy(*all, mine, n);
    (*lens)[0] = n;
    return 0;
}
void dist_abort(int code, const char *msg) {
    fprintf(stderr, "halo-forge: rank 0 of 1: %s\n", msg);
    exit(code ? code : 1);
}

#endif

/* ---- built on the collectives above, the same with or without MPI ---- */

typedef struct {
    int rc;
    char msg[1020];
} dist_status;

int dist_root_rc(int rc, char *err, size_t errcap) {
    if (dist_size() == 1) return rc;
    dist_status st = {.rc = rc};
    if (dist_is_root() && rc && err) snprintf(st.msg, sizeof st.msg, "%s", err);
    dist_bcast(&st, sizeof st, 0);
    if (!dist_is_root() && st.rc && err && errcap) snprintf(err, errcap, "rank 0: %s", st.msg);
    return st.rc;
}

int dist_any_rc(int rc, char *err, size_t errcap) {
    if (dist_size() == 1) return rc;
    dist_status st = {.rc = rc};
    if (rc && err) snprintf(st.msg, sizeof st.msg, "%s", err);
    char *all = NULL;
    size_t *lens = NULL;
    dist_allgather_blobs(&st, sizeof st, &all, &lens);
    int worst = -1;
    dist_status s;
    for (int pass = 0; pass < 2 && worst < 0; pass++) /* an error first, else a cancellation */
        for (int r = 0; r < dist_size() && worst < 0; r++) {
            memcpy(&s, all + (size_t)r * sizeof st, sizeof s);
            if (pass == 0 ? s.rc < 0 : s.rc > 0) worst = r;
        }
    int out = 0;
    if (worst >= 0) {
        memcpy(&s, all + (size_t)worst * sizeof st, sizeof s);
        out = s.rc;
        if (worst != dist_rank() && err && errcap) snprintf(err, errcap, "rank %d: %s", worst, s.msg);
    }
    free(all);
    free(lens);
    return out;
}
