/* tok_write: the tokenizer.json / tokenizer_config.json layout shared by the tokenizers halo-forge
 * writes itself (tok_write_small, tok_train): Qwen2's structure (NFC, the Qwen2 Split regex,
 * ByteLevel without prefix space, BPE) with the ChatML special tokens after the vocabulary.
 * Internal to the tokenizer module. */
#ifndef HF_TOK_WRITE_H
#define HF_TOK_WRITE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define TOK_N_SPECIALS 3
/* <|endoftext|>, <|im_start|>, <|im_end|>: ids first_special, +1, +2. */
extern const char *const tok_chatml_specials[TOK_N_SPECIALS];

/* Byte-level spelling of raw bytes (the GPT-2 alphabet, UTF-8) into out (at least 2*n+1 bytes). */
void tok_byte_level(const unsigned char *s, size_t n, char *out);

/* The tokenizer.json document around vocab (an object: byte-level string -> id) and merges (an
 * array of ["left", "right"] pairs), which it takes over. Caller frees the result with cJSON_Delete. */
cJSON *tok_bpe_document(cJSON *vocab, cJSON *merges, int first_special);

/* Writes tokenizer.json (tok_bpe_document) and a Qwen2 tokenizer_config.json (ChatML chat template,
 * eos <|im_end|>, pad <|endoftext|>) into dir (created if missing), atomically. Takes over vocab
 * and merges. Returns 0, or -1 with "PATH: reason" in err. */
int tok_write_bpe(const char *dir, cJSON *vocab, cJSON *merges, int first_special, char *err, size_t errcap);

#endif
