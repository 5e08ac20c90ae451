/* raft resume: what a rerun of the same command finds already done in its output folder.
 *
 * A cycle c leaves, in order:
 *   cycle_c_samples.jsonl    one record per generated sample, appended and flushed as it is made
 *   cycle_c_verified.jsonl   every sample with its reward, written atomically once all are verified
 *   cycle_c_final/           the trained weights; complete once it holds adapter_config.json (LoRA)
 *                            or config.json (full model). Write it as cycle_c_final.tmp/ and rename.
 * So cycle c is done when cycle_c_final/ is complete; otherwise it resumes at training when the
 * verified file exists, at verification when the samples file holds every expected sample, and at
 * generation otherwise: the samples file is the cycle's rollout journal (bench/rollout.h), which
 * continues after its last complete line. */
#ifndef HF_RAFT_RESUME_H
#define HF_RAFT_RESUME_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { RAFT_STAGE_GENERATE, RAFT_STAGE_VERIFY, RAFT_STAGE_TRAIN, RAFT_STAGE_DONE } raft_stage;

const char *raft_stage_name(raft_stage s); /* "generate" "verify" "train" "done" */

typedef enum { RAFT_FILE_SAMPLES, RAFT_FILE_VERIFIED, RAFT_FILE_FINAL } raft_file;

/* out_dir/cycle_<c>_samples.jsonl, _verified.jsonl or _final. Returns out, or NULL if it does not fit. */
char *raft_cycle_path(char *out, size_t cap, const char *out_dir, int cycle, raft_file which);

typedef struct {
    int cycle;
    raft_stage stage;
    long samples_done;        /* complete JSON-object lines at the start of the samples file */
    bool samples_file, verified, trained;
} raft_cycle_state;

/* Inspects cycle c. expected_samples is what the cycle generates in full (prompts x samples);
 * <= 0 means unknown (then a samples file alone never counts as complete). Returns 0, or -1 with
 * "PATH: reason" in err when a file exists but cannot be read. */
int raft_resume_cycle(const char *out_dir, int cycle, long expected_samples, raft_cycle_state *out, char *err,
                      size_t errcap);

/* True when cycle c's final weights are complete. */
bool raft_cycle_trained(const char *out_dir, int cycle);

/* First cycle in 1..n_cycles whose weights are not complete, or n_cycles + 1 when all are. */
int raft_resume_first_cycle(const char *out_dir, int n_cycles);

#endif
