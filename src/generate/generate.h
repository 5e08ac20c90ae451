/* generate: the batched sampling engine. Prompts in, completions out.
 *
 * Each prompt is chat-formatted, tokenized and prefilled once; its KV cache is forked (copied) to
 * each of its n_samples sequences. A fixed pool of batch_size KV slots decodes every active sequence
 * together, one model_forward call per step. A sequence that finishes frees its slot at once and the
 * next waiting sample (or the next prompt's prefill, which joins a decoding step) takes it: continuous
 * batching. Every finished sample is handed to a callback as soon as it is done, so a consumer (the
 * RAFT loop's verifiers) can work while generation goes on.
 *
 * Reproducibility: the random stream of sample j of prompt i is derived from (seed, i, j) only
 * (gen_seed_stream), so the same seed gives the same completions whatever batch_size is, and in
 * whatever order samples finish, provided the model computes a sequence's logits bit-identically in
 * any batch. At a fixed batch_size runs are always bit-identical. (Today model_forward switches from a
 * row-by-row kernel to blocked sgemm as the batch grows, which moves logits by ~1e-6: enough to flip
 * a rare sample whose draw lands on a boundary, so across batch sizes outputs agree almost always,
 * not always.)
 *
 * On a backend that samples (a GPU: model_samples_on_device) the logits stay on the device: each step draws
 * every row there (model_forward_sample) and only token ids and their log-probabilities come back. The draw of
 * token j of a sample is seeded from (seed, prompt, sample, j) alone, so the same seed gives the same
 * completions run to run and whatever the batch; greedy decoding picks the same ids as on the CPU (up to
 * fp32 rounding of near-ties), sampled completions differ from the CPU's (another random generator).
 *
 * A sequence stops at the first of: an end-of-sequence id of the model (every id in its
 * generation_config.json, e.g. Qwen's 151645 and 151643), a stop string appearing in its decoded text,
 * max_new_tokens generated tokens, or the model's context length.
 *
 * Ownership: the engine borrows the model and the tokenizer (neither is modified; the model's scratch
 * buffers are used, so one model runs one gen_run at a time). Results passed to the callback are valid
 * during the call only. */
#ifndef HF_GENERATE_H
#define HF_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "generate/sampler.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef enum {
    GEN_FINISH_STOP = 0,        /* an end-of-sequence token or a stop string */
    GEN_FINISH_LENGTH,          /* max_new_tokens, or the model's context length */
    GEN_FINISH_PROMPT_TOO_LONG, /* the prompt leaves no room for one new token in the context */
} gen_finish;

/* "stop", "length", "prompt_too_long". */
const char *gen_finish_name(gen_finish f);

typedef struct gen_stats gen_stats;

/* Called after every forward step with the figures so far, on the thread that called gen_run: for
 * progress displays and for cancelling (a signal handler sets a flag, this returns it). Return 0 to
 * go on, anything else to stop the run (gen_run then returns 1). */
typedef int (*gen_step_fn)(void *user, const gen_stats *so_far);

typedef struct {
    int n_samples;             /* completions per prompt, >= 1 */
    int max_new_tokens;        /* >= 1 */
    gen_sampling sampling;     /* temperature (0: greedy), top_p, top_k */
    uint64_t seed;
    int batch_size;            /* sequences decoded together (KV slots), >= 1; 0: gen_auto_batch's choice */
    const char *const *stop;   /* stop strings (n_stop of them), matched on the decoded text; may be NULL */
    int n_stop;
    bool ignore_eos;           /* keep going past end-of-sequence ids (benchmarks) */
    chat_template tpl;         /* how gen_run renders prompts (CHAT_RAW: the text as it is) */
    const char *system_prompt; /* system message for the template, or NULL / "" for none */
    const unsigned char *skip; /* NULL, or [n_prompts * n_samples]: nonzero = do not generate sample j of
                                  prompt i (resuming); every other sample comes out as in a full run, and a
                                  prompt with nothing left to generate is not prefilled */
    gen_step_fn on_step;       /* optional, called after each step with step_user */
    void *step_user;
} gen_params;

/* Defaults: 1 sample, 1024 new tokens, temperature 0.7, top_p 1, top_k 0, seed 0, batch 0 (auto), ChatML. */
void gen_params_default(gen_params *p);
/* The batch size that batch_size 0 stands for: every sequence at once up to GEN_AUTO_BATCH_MAX, fewer
 * when their KV cache (max_len tokens each, kv_bytes_per_token) would pass GEN_AUTO_KV_BYTES. On CPUs
 * decoding speed rises with the batch up to about 32 sequences and is flat past 64 (docs/benchmarks.md);
 * the choice depends on the model and the settings only, never on the machine's free memory, so a seed
 * gives the same samples everywhere. */
#define GEN_AUTO_BATCH_MAX 64
#define GEN_AUTO_KV_BYTES (4LL << 30)
int gen_auto_batch(const model *m, long n_sequences, int max_len);

/* Checks p; returns 0, or -1 with the reason in err. */
int gen_params_check(const gen_params *p, char *err, size_t errcap);

/* One finished sample. */
typedef struct {
    int prompt_idx;          /* index into the prompts given to gen_run */
    int sample_idx;          /* 0 .. n_samples-1 */
    const char *completion;  /* decoded text of the generated tokens, NUL-terminated, without special
                                tokens and cut before a stop string; invalid UTF-8 becomes U+FFFD,
                                NUL bytes are dropped */
    size_t completion_len;
    const int *tokens;       /* generated ids, an end-of-sequence id included when it stopped on one */
    int n_tokens;
    int n_prompt_tokens;     /* length of the formatted, tokenized prompt */
    gen_finish finish;
    const float *logprobs;   /* [n_tokens]: each token's log-probability under the distribution it was drawn
                                from (gen_sample_lp: temperature, top-k / top-p applied) */
} gen_result;

/* Called once per finished sample, in the order samples finish, on the thread that called gen_run.
 * Return 0 to go on, anything else to stop the run (gen_run then returns 1). */
typedef int (*gen_result_fn)(void *user, const gen_result *r);

struct gen_stats {
    int n_prompts;
    long n_samples;          /* samples finished (and handed to the callback) */
    long prompt_tokens;      /* prefilled tokens (each prompt once) */
    long generated_tokens;   /* sampled tokens, all samples */
    long steps;              /* model_forward calls */
    double seconds;          /* wall time of the run, from the first prefill to the last sample */
    double prefill_seconds;  /* time in forward calls that carried a prefill */
    double sample_seconds;   /* time spent choosing tokens (softmax, top-k/top-p, draws) */
};

/* Renders each prompt with p->tpl (system prompt + user message + assistant opener), tokenizes it,
 * and runs gen_run_ids. Returns 0 when every sample was delivered, 1 when the callback stopped the
 * run, -1 on error (err says what; samples already delivered stay delivered). stats may be NULL. */
int gen_run(model *m, const tokenizer *t, const char *const *prompts, int n_prompts, const gen_params *p,
            gen_result_fn cb, void *user, gen_stats *stats, char *err, size_t errcap);

/* The same from token ids (the caller formatted and tokenized the prompts; p->tpl and
 * p->system_prompt are ignored). prompt_ids[i] has n_ids[i] >= 1 ids. t may be NULL (benchmarks):
 * completions are then empty and stop strings never match. */
int gen_run_ids(model *m, const tokenizer *t, const int *const *prompt_ids, const int *n_ids, int n_prompts,
                const gen_params *p, gen_result_fn cb, void *user, gen_stats *stats, char *err, size_t errcap);

/* Copies n bytes of src to out, replacing each maximal ill-formed UTF-8 subsequence with U+FFFD as
 * Rust's from_utf8_lossy (and so Hugging Face's decode) does, dropping NUL bytes (the result is a C
 * string), and NUL-terminates. out needs room for 3 * n + 1 bytes. Returns the output length. */
size_t gen_utf8_lossy(const char *src, size_t n, char *out);

/* The formatted prompt text gen_run feeds the tokenizer (heap string, caller frees). */
char *gen_format_prompt(const gen_params *p, const char *prompt);

#endif
