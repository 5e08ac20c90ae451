/* tok_train: trains a byte-level BPE tokenizer (Qwen2's layout) on a corpus and writes it as a
 * Hugging Face tokenizer.json + tokenizer_config.json that both tok_load and HF tokenizers load.
 *
 * The text is pre-tokenized exactly as tok_encode does it (NFC, Qwen2's Split regex, ByteLevel);
 * the distinct pieces ("words") are counted. The vocabulary starts with the 256 byte tokens (id =
 * byte value), so any text encodes. Then, repeatedly, the most frequent adjacent pair of tokens
 * inside words (counts weighted by word frequency; ties: the pair whose left, then right token's
 * bytes sort first) is merged into a new token, until the vocabulary holds vocab_size minus the 3
 * ChatML special tokens or no pair occurs min_frequency times. The special tokens <|endoftext|>,
 * <|im_start|>, <|im_end|> follow the learned vocabulary as added tokens. Same corpus and options,
 * same bytes. Merges are written as "left right" strings, the form every tokenizers version reads.
 *
 * Use: tok_train_new, tok_train_add_file / tok_train_add_text (any number), tok_train_run,
 * tok_train_write, tok_train_free. Not thread-safe. */
#ifndef HF_TOK_TRAIN_H
#define HF_TOK_TRAIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct tok_trainer tok_trainer;

typedef struct {
    int vocab_size;    /* total, special tokens included; at least TOK_TRAIN_MIN_VOCAB */
    int min_frequency; /* a pair must occur this often to be merged (>= 1; 2 is usual) */
    /* Called now and then during tok_train_run with merges done and the most possible. May be NULL. */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} tok_train_options;

#define TOK_TRAIN_MIN_VOCAB (256 + 3)

typedef struct {
    int64_t text_bytes;  /* corpus bytes added (before normalization, special tokens included) */
    int64_t word_bytes;  /* bytes of the pre-tokenized pieces (normalized) */
    int64_t pieces;      /* pre-tokenized pieces, counted with repetition */
    int64_t words;       /* distinct pieces */
    int64_t tokens;      /* tokens the pieces encode to after training */
    int merges;
    int vocab_size;      /* learned vocabulary + special tokens */
} tok_train_stats;

/* A trainer with an empty corpus, or NULL (out of memory) with the reason in err. */
tok_trainer *tok_train_new(char *err, size_t errcap);
void tok_train_free(tok_trainer *tr);

/* Adds UTF-8 text to the corpus. Special-token text in it (<|im_end|>...) is skipped, not learned.
 * Returns 0, or -1 (invalid UTF-8, out of memory) with "NAME: reason" in err. */
int tok_train_add_text(tok_trainer *tr, const char *text, size_t len, const char *name, char *err, size_t errcap);

/* Adds a file: a .jsonl file's records give the text of their SFT fields (text; each message's
 * content; prompt and completion/response; instruction, input and output); any other file is
 * plain UTF-8 text. Returns 0, or -1 with "FILE[:LINE]: reason" in err (unreadable file, bad JSON
 * line, a record with none of those fields, invalid UTF-8). */
int tok_train_add_file(tok_trainer *tr, const char *path, char *err, size_t errcap);

/* Learns the merges (once per trainer). Returns 0, or -1 with the reason in err (vocab_size too
 * small, min_frequency < 1, empty corpus, out of memory). Fills *stats when not NULL. */
int tok_train_run(tok_trainer *tr, const tok_train_options *o, tok_train_stats *stats, char *err, size_t errcap);

/* Writes tokenizer.json and tokenizer_config.json into dir (created if missing), atomically.
 * Needs a successful tok_train_run. Returns 0, or -1 with "PATH: reason" in err. */
int tok_train_write(const tok_trainer *tr, const char *dir, char *err, size_t errcap);

#endif
