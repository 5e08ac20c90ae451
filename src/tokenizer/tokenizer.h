/* tokenizer: Hugging Face tokenizer.json byte-level BPE (as Qwen2/Qwen2.5/Qwen3 and Llama 3 use it),
 * with added/special tokens, and chat templates.
 *
 * Ownership: tok_load() returns a tokenizer that owns everything it needs; tok_free() releases it.
 * Buffers returned through out-parameters are heap-allocated and owned by the caller (free()).
 * A loaded tokenizer may be used by several threads at once (encode, decode, lookups). */
#ifndef HF_TOKENIZER_H
#define HF_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tokenizer tokenizer;

/* Loads a tokenizer.json. Errors (bad JSON, unsupported model type, bad merges...) go to err
 * as "FILE: what is wrong" and NULL is returned. */
tokenizer *tok_load(const char *path, char *err, size_t errcap);
/* Same from JSON text in memory (len bytes, not modified); name stands for the path in errors. */
tokenizer *tok_load_json(const char *json, size_t len, const char *name, char *err, size_t errcap);
void tok_free(tokenizer *t);

/* Encodes UTF-8 text into ids (*ids heap-allocated, *n its length). With allow_special, added
 * tokens written in the text (e.g. "<|im_end|>") become their ids; without it, only non-special
 * added tokens are matched and special ones are tokenized as plain text, as HF does with
 * split_special_tokens. Returns 0, or -1 on invalid UTF-8, out of memory, or a pre-tokenizer regex
 * that hits PCRE2's match limits (never a silently different split). */
int tok_encode(const tokenizer *t, const char *text, size_t len, bool allow_special, int **ids, size_t *n);

/* Runs everything tok_encode does before BPE (added tokens split out, normalizer, pre-tokenizer
 * steps) and calls piece(ctx, bytes, n) with the raw bytes of each pre-tokenized piece, in order;
 * the added tokens themselves are not reported. For BPE training. Returns 0, or -1 as tok_encode. */
int tok_pretokenize(const tokenizer *t, const char *text, size_t len, bool allow_special,
                    void (*piece)(void *ctx, const char *bytes, size_t n), void *ctx);

/* Decodes ids into a NUL-terminated UTF-8 string (heap). skip_special drops special tokens.
 * Invalid ids give NULL. Byte sequences that are not valid UTF-8 are kept as bytes (HF would
 * write U+FFFD). The text holds a NUL only if a token does; its length is then the sum of the
 * tok_token_bytes() lengths. */
char *tok_decode(const tokenizer *t, const int *ids, size_t n, bool skip_special);

/* The raw bytes a single token stands for (after byte-level decoding), for incremental decoding:
 * returns a pointer into the tokenizer (valid until tok_free) and its length, or NULL for an invalid id. */
const char *tok_token_bytes(const tokenizer *t, int id, size_t *len);

int tok_token_to_id(const tokenizer *t, const char *token); /* -1 when unknown */
bool tok_is_special(const tokenizer *t, int id);
int tok_vocab_size(const tokenizer *t);                      /* highest id + 1, added tokens included */

/* Writes a small byte-level BPE tokenizer.json (256 byte tokens, the given number of merges learned
 * from nothing but frequent ASCII code pairs, and the ChatML special tokens <|endoftext|>,
 * <|im_start|>, <|im_end|>) plus a matching tokenizer_config.json into dir. For tiny test models. */
int tok_write_small(const char *dir, char *err, size_t errcap);

/* Chat templates. */
typedef enum { CHAT_CHATML = 0, CHAT_LLAMA3, CHAT_RAW } chat_template;
typedef struct {
    const char *role;    /* "system", "user", "assistant" */
    const char *content;
} chat_message;

/* Picks the template from a model folder's tokenizer_config.json chat_template (ChatML when it
 * uses <|im_start|>, Llama 3 when it uses <|start_header_id|>); CHAT_CHATML when unrecognisable. */
chat_template chat_detect(const char *model_dir);
/* The same classification of a chat template's text (Jinja source); fallback when unrecognisable. */
chat_template chat_classify(const char *tpl, chat_template fallback);
/* Parses "chatml" | "llama3" | "raw"; returns -1 for anything else. */
int chat_parse_name(const char *name);
/* Renders messages; with add_generation_prompt, ends with the assistant turn opener. Heap string. */
char *chat_render(chat_template tpl, const chat_message *msgs, size_t n, bool add_generation_prompt);

#endif
