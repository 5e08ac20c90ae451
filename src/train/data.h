/* data: training examples for supervised fine-tuning, read from JSON Lines and tokenized.
 *
 * Record formats (the first that matches wins):
 *   {"text": "..."}                                raw text, every token is a target
 *   {"messages": [{"role", "content"}, ...]}       chat; targets are the assistant turns
 *   {"prompt": "...", "completion"|"response": "...", "system": "..."}  a user turn and the assistant's
 *                                                  answer, after a system turn when "system" is given
 *   {"instruction": "...", "input": "...", "output": "..."}  alpaca: system "You are a helpful
 *                                                  assistant.", user "instruction\n\ninput", assistant output
 * The structured forms are rendered with the model's chat template (chat_render). Unless
 * train_on_prompt is set only the assistant tokens are targets. Examples are truncated to
 * max_seq_len tokens. A bad line (not JSON, no known format, wrong types, nothing left to learn after
 * truncation) is reported as "FILE:LINE: reason" through the warn callback and skipped.
 *
 * Batches pack whole examples one after the other with no padding (train_batch is ragged), so no
 * compute is spent on padding. The order of an epoch is a permutation drawn from (seed, epoch), or
 * file order with shuffle off, so a position (epoch, index) identifies the data of any step. */
#ifndef HF_DATA_H
#define HF_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokenizer.h"
#include "train/train_model.h"

typedef struct {
    int max_seq_len;
    bool train_on_prompt;
    long max_samples;     /* keep at most this many records (after a seeded shuffle, as the original); 0: all */
    uint64_t seed;
    chat_template tpl;
} data_options;

typedef struct {
    size_t off;           /* into the pools */
    int len;
    int n_targets;
    long line;            /* line number in the file */
} data_example;

typedef struct {
    data_example *ex;
    int n;
    int *tok_pool;
    uint8_t *tgt_pool;
    size_t pool_len;
    long n_bad;           /* lines skipped */
} data_set;

typedef void (*data_warn_fn)(void *ctx, const char *msg);

/* Reads and tokenizes path into ds. Returns 0, or -1 (file unreadable, no usable record, out of
 * memory) with "PATH: reason" in err. */
int data_load(data_set *ds, const char *path, const tokenizer *tok, const data_options *o, data_warn_fn warn,
              void *warn_ctx, char *err, size_t errcap);
/* Tokenizes one record (the formats above) into ds, as data_load does for each line. */
int data_add_record(data_set *ds, const void *cjson_record, long line, const tokenizer *tok, const data_options *o,
                    char *err, size_t errcap);
void data_free(data_set *ds);

/* Moves a seeded random fraction of ds (the tail of a shuffle, int(n * (1 - fraction)) kept) into val.
 * Nothing moves when that would leave val empty or train empty. */
int data_split(data_set *ds, data_set *val, double fraction, uint64_t seed);

/* The order of epoch e: a permutation of 0..n-1 into order[n]. */
void data_epoch_order(int *order, int n, uint64_t seed, long epoch, bool shuffle);

/* A batch of examples order[first .. first+count-1]: fills the caller's arrays (sized for the sum
 * of their lengths, and count + 1 starts) and returns the batch. */
typedef struct {
    int *tokens;
    int *seq_start;
    uint8_t *target;
    int cap_tokens, cap_seqs;
    train_batch b;
    long n_targets;
} data_batch;
int data_make_batch(data_batch *db, const data_set *ds, const int *order, int first, int count);
void data_batch_free(data_batch *db);

#endif
