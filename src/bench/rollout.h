/* rollout: n completions of each prompt from one set of weights, each verified while the model goes
 * on decoding, with a journal that lets an interrupted run continue where it stopped. RAFT cycles and
 * every benchmark evaluation (baseline, final, run, eval) sample this way.
 *
 * rollout_run:
 *   1. reads the journal, when one is named and exists: each complete line whose prompt is among the
 *      selected ones is a sample already made (a line cut by a crash, or a duplicate, is dropped, and
 *      the file is rewritten without it); those samples are handed to the verifier first;
 *   2. loads the weights and decodes the missing samples (gen_run), appending each one to the
 *      journal (flushed line by line) and handing it to a vf_stream as soon as it is decoded;
 *   3. waits for the last verdicts.
 * Journal lines: {"prompt_id", "prompt", "completion", "sample_idx", "n_tokens", "finish_reason"}, and with
 * record_tokens "tokens" and "logprobs" (arrays of n_tokens numbers; floats print exactly).
 * The caller decides whether a journal belongs to the same options (and deletes one that does not, with
 * rollout_journal_remove).
 *
 * Several MPI ranks (`mpirun -np N`): every rank calls rollout_run with the same options. The missing samples
 * are split in contiguous blocks of equal count (result order: a prompt's samples stay together, so its
 * prefill is shared, except where a block boundary cuts one); each rank decodes and verifies its block on its
 * own cores (resumed samples are split for verification the same way), then every rank's samples and
 * verdicts are gathered so each rank returns the same full result. A sample's random stream depends on its
 * prompt's position in the selection and its sample index only (gen_seed_stream), never on the rank count, so
 * N ranks draw the samples one process draws (up to the rounding note in generate.h: a rank decodes a smaller
 * batch). Rank 0 alone writes the journal; rank r > 0 journals what it makes to "<journal>.rank<r>", which the
 * next run folds into the journal (so a rank that dies loses no finished sample, whatever the rank count of
 * the rerun); rank 0 reads and rewrites the journal before the others read it, and nobody appends to it
 * before every rank has read it, so all ranks resume the same samples. After the gather rank 0 appends the
 * other ranks' samples to the journal and removes the side journals. A rank's failure stops every rank with
 * "rank R: <reason>"; a rank that dies makes the others stop in the next collective (dist.h). Test hook:
 * HF_ROLLOUT_TEST_KILL_AFTER=N kills (SIGKILL) a process right after it journaled its N-th new sample.
 *
 * Results come in a fixed order whatever order samples were decoded or resumed in: the selected
 * prompts in the order given, samples 0..n-1 of each.
 *
 * Memory: options are borrowed; a rollout_result owns its arrays (rollout_result_free). */
#ifndef HF_BENCH_ROLLOUT_H
#define HF_BENCH_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bench/prompts.h"
#include "generate/generate.h"
#include "verify/verify.h"

typedef struct {
    const char *label;               /* for logs: "baseline evaluation", "Cycle 2" */
    const char *model_dir;           /* the base model: tokenizer, chat template, weights */
    const char *weights_dir;         /* NULL: model_dir's weights; else model_load_weights(model_dir, it) */
    const bench_prompt_set *prompts;
    const size_t *select;            /* indices into prompts to sample; NULL: every prompt in order */
    size_t n_select;                 /* with select */
    int samples_per_prompt;          /* >= 1 */
    int max_new_tokens;
    int gen_batch_size;
    double temperature;
    uint64_t seed;
    const char *system_prompt;       /* NULL or "": none */
    const vf_config *verifier;       /* copied; its cancel flag is replaced by the one below */
    const char *journal_path;        /* NULL: no journal (nothing resumes) */
    bool exact;                      /* sample with MODEL_PRECISION_EXACT (fp32 products) instead of FAST, from
                                        an adapter merged in f32 (model_apply_adapter_f32): the RL trainer's
                                        log-probs then equal the sampler's to fp32 rounding */
    bool record_tokens;              /* keep each sample's token ids and the sampler's log-probs (RL): in the
                                        result and as "tokens" / "logprobs" in journal lines and records; a
                                        journal line without them is generated again */
    const volatile int *cancel;      /* optional: stops decoding and verification (rollout_run returns 1) */
} rollout_opts;

typedef struct {
    size_t n;                 /* selected prompts x samples_per_prompt */
    int samples_per_prompt;
    size_t *prompt;           /* [n] index into the prompt set */
    char **completion;        /* [n] */
    long *n_tokens;           /* [n] generated tokens */
    gen_finish *finish;       /* [n] why decoding stopped */
    vf_result *results;       /* [n] verdicts */
    int **tokens;             /* [n] generated ids (record_tokens; else NULL) */
    float **logprobs;         /* [n] their log-probs under the distribution sampled from (record_tokens) */
    long resumed;             /* samples taken from the journal */
    gen_stats gen;            /* this run's decoding (zeros when everything came from the journal) */
    double generation_seconds;/* wall time of weights loading + decoding, 0 when nothing was decoded */
    double verify_wait_seconds; /* from the end of decoding to the last verdict */
} rollout_result;

/* Defaults: 8 samples per prompt, 1024 new tokens, batch 16, temperature 0.7, seed 42, label "rollout";
 * model, prompts and verifier still to be set. */
void rollout_opts_default(rollout_opts *o);

/* Runs steps 1-3. Returns 0 with *out filled (free with rollout_result_free), 1 when cancelled,
 * -1 with the reason in err ("FILE: reason" for files); out then holds nothing to free. */
int rollout_run(const rollout_opts *o, rollout_result *out, char *err, size_t errcap);
void rollout_result_free(rollout_result *r);

/* Deletes a journal and its side journals (rank 0 alone; a no-op on the other ranks). */
void rollout_journal_remove(const char *journal);

/* The prompt that result sample i answers. */
static inline const bench_prompt *rollout_prompt_of(const rollout_opts *o, const rollout_result *r, size_t i) {
    return &o->prompts->items[r->prompt[i]];
}

/* Sample i as a journal line: {"prompt_id", "prompt", "completion", "sample_idx", "n_tokens",
 * "finish_reason"}. Caller frees; NULL when out of memory. */
cJSON *rollout_record(const rollout_opts *o, const rollout_result *r, size_t i);

/* Sum of n_tokens over every sample (resumed ones too). */
long rollout_total_tokens(const rollout_result *r);

#endif
