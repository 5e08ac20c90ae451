/* dist: the one place that talks to MPI. Data-parallel runs (`mpirun -np N halo-forge ...`) split
 * rollouts and training batches across ranks; everything else in the program calls these functions and
 * never includes mpi.h. Built without MPI (HF_MPI off), or started without mpirun, the same functions
 * are those of a single rank: rank 0 of 1, collectives return their input unchanged, so callers need no
 * #ifdef and a single process behaves exactly as before.
 *
 * Errors: MPI_COMM_WORLD uses MPI_ERRORS_RETURN; a failed collective (a peer died) makes the calling
 * rank print "rank R of N: <what> failed: <MPI's reason>" and abort the whole job (MPI_Abort, exit
 * status 1), so no rank waits forever. mpirun also names a rank killed by a signal.
 *
 * Memory: buffers are the caller's; dist_allgather_blobs returns arrays the caller frees. */
#ifndef HF_DIST_DIST_H
#define HF_DIST_DIST_H

#include <stdbool.h>
#include <stddef.h>

/* Initialises MPI when the process was started by an MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
 * PMIX_RANK in the environment) and MPI is built in; otherwise a no-op. Safe to call more than once.
 * Registers dist_finalize with atexit. */
void dist_init(int *argc, char ***argv);
void dist_finalize(void);
/* True when built with MPI support (whether or not this run uses it). */
bool dist_built(void);
int dist_rank(void);
int dist_size(void);
static inline bool dist_is_root(void) { return dist_rank() == 0; }
void dist_barrier(void);
/* x[i] = scale * (sum over ranks of x[i]), on every rank. */
void dist_allreduce_f32(float *x, size_t n, float scale);
void dist_allreduce_f64(double *x, size_t n);
void dist_allreduce_long(long *x, size_t n);
/* Copies root's n bytes into buf on every rank. */
void dist_bcast(void *buf, size_t n, int root);
/* Every rank contributes one blob of n bytes; on return *all holds the blobs of ranks 0..size-1 back
 * to back and (*lens)[r] the size of rank r's (both malloc'd, caller frees). Returns 0, or -1 when out
 * of memory (the job is aborted: a rank cannot leave a collective alone). */
int dist_allgather_blobs(const void *mine, size_t n, char **all, size_t **lens);
/* Collective: every rank gets rank 0's rc; where it is non-zero, the other ranks' err becomes
 * "rank 0: <rank 0's err>". For a step rank 0 alone does (writing an output the others then read): it is
 * also the point after which they can read it. Returns rank 0's rc (rc itself in a single process). */
int dist_root_rc(int rc, char *err, size_t errcap);
/* Collective: the first failure of any rank, for a step every rank does on its own share: -1 where some
 * rank returned -1 (else 1 where some returned 1, else 0); err becomes "rank R: <its err>" when the
 * failing rank is another one. rc itself in a single process. */
int dist_any_rc(int rc, char *err, size_t errcap);
/* Prints "rank R of N: msg" to stderr and stops every rank with exit status code (non-zero). */
void dist_abort(int code, const char *msg);

#endif
