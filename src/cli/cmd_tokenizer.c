/* halo-forge tokenizer train: a byte-level BPE tokenizer learned from a corpus (tok_train). */
#include "cli/commands.h"
#include "core/args.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"
#include "tokenizer/tok_train.h"

#include <stdio.h>
#include <stdlib.h>

static const arg_spec train_flags[] = {
    {"data", 'd', ARG_LIST, NULL,
     "Training text (repeatable or comma separated): .jsonl SFT records, anything else plain text", NULL, NULL, 0, 0,
     "FILE"},
    {"vocab-size", 0, ARG_INT, "2048", "Vocabulary size, the 3 special tokens included", NULL, NULL, 259,
     1 << 24, NULL},
    {"output", 'o', ARG_STR, NULL, "Folder to write tokenizer.json and tokenizer_config.json into", NULL, NULL, 0, 0,
     "DIR"},
    {"min-frequency", 0, ARG_INT, "2", "Merge only pairs that occur at least this often", NULL, NULL, 1, 1e9, NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec train_cmd = {
    "tokenizer train", "Train a byte-level BPE tokenizer (Qwen2 layout, ChatML special tokens) on a corpus.", NULL, 0,
    0, train_flags,
    "The text is pre-tokenized as Qwen2 does (NFC, Qwen2's split regex, byte level); the vocabulary\n"
    "starts from the 256 bytes, so any text encodes, and grows by merging the most frequent adjacent\n"
    "pair until --vocab-size minus the special tokens <|endoftext|>, <|im_start|>, <|im_end|> is\n"
    "reached or no pair occurs --min-frequency times. .jsonl records give the text of their fields:\n"
    "text; messages[].content; prompt, completion/response; instruction, input, output.\n"
    "Writes a Hugging Face tokenizer.json and tokenizer_config.json (Qwen2Tokenizer, ChatML template)\n"
    "and prints a one-line summary. Use the folder with `model init --tokenizer DIR`.",
    NULL,
};

static void on_progress(void *ctx, int done, int total) {
    progress *p = ctx;
    (void)total;
    progress_update(p, done);
}

static int tokenizer_train(int argc, char **argv) {
    int rc;
    args *a = args_parse(&train_cmd, argc, argv, &rc);
    if (!a) return rc;
    char **files = NULL;
    tok_trainer *tr = NULL;
    size_t n_files = args_list(a, "data", &files);
    const char *out = args_str(a, "output");
    if (n_files == 0) {
        rc = args_usage_error(&train_cmd, "--data FILE is required");
        goto done;
    }
    if (!out) {
        rc = args_usage_error(&train_cmd, "--output DIR is required");
        goto done;
    }
    rc = 1;
    char err[4400];
    double t0 = time_now();
    tr = tok_train_new(err, sizeof err);
    if (!tr) { log_error("%s", err); goto done; }
    for (size_t i = 0; i < n_files; i++) {
        log_info("Reading %s", files[i]);
        if (tok_train_add_file(tr, files[i], err, sizeof err)) { log_error("%s", err); goto done; }
    }
    tok_train_options o = {(int)args_int(a, "vocab-size"), (int)args_int(a, "min-frequency"), on_progress, NULL};
    progress p;
    progress_start(&p, "merges", o.vocab_size - TOK_TRAIN_MIN_VOCAB, "merges");
    o.progress_ctx = &p;
    tok_train_stats st;
    int trc = tok_train_run(tr, &o, &st, err, sizeof err);
    progress_finish(&p);
    if (trc) { log_error("%s", err); goto done; }
    if (st.vocab_size < o.vocab_size)
        log_warn("stopped at %d tokens: no pair occurs %d times any more (--min-frequency)", st.vocab_size,
                 o.min_frequency);
    if (tok_train_write(tr, out, err, sizeof err)) { log_error("%s", err); goto done; }
    log_info("Trained in %.1f s: %lld pieces, %lld distinct", time_now() - t0, (long long)st.pieces,
             (long long)st.words);
    printf("%s: vocab %d (%d merges + 256 bytes + 3 special), %.2f bytes/token on %.1f MB of training text\n", out,
           st.vocab_size, st.merges, st.tokens ? (double)st.word_bytes / (double)st.tokens : 0.0,
           (double)st.text_bytes / 1e6);
    rc = 0;
done:
    tok_train_free(tr);
    args_list_free(files);
    args_free(a);
    return rc;
}

const cli_command cli_tokenizer_cmds[] = {
    {"train", "Train a byte-level BPE tokenizer on a corpus", tokenizer_train},
    {NULL, NULL, NULL},
};
