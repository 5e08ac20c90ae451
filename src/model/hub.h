/* hub: turns a --model argument into a local model folder, downloading from the Hugging Face Hub.
 *
 * A model argument is either an existing local folder (used as is) or a Hub id "ORG/NAME[@revision]".
 * Hub ids resolve through the standard Hugging Face cache, laid out exactly as the Python library
 * huggingface_hub lays it out, so a cache filled by Python is reused here and the other way round:
 *
 *   CACHE/models--ORG--NAME/refs/REVISION        the commit hash a branch or tag pointed to (no newline)
 *   CACHE/models--ORG--NAME/blobs/ETAG           file contents, named by their ETag (sha256 for LFS files,
 *                                                git blob sha1 otherwise); ETAG.incomplete while downloading
 *   CACHE/models--ORG--NAME/snapshots/COMMIT/F   relative symlink to ../../blobs/ETAG
 *   CACHE/models--ORG--NAME/.no_exist/COMMIT/F   empty marker: F is known not to exist at COMMIT
 *   CACHE/.locks/models--ORG--NAME/ETAG.lock     flock()ed while a blob is written (as Python's filelock)
 *
 * CACHE is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub. The server is $HF_ENDPOINT (default https://huggingface.co); the token is
 * $HF_TOKEN, else the file $HF_TOKEN_PATH, else $HF_HOME/token; HF_HUB_OFFLINE=1 forbids the network.
 *
 * Only the files halo-forge reads are fetched: config.json, generation_config.json (optional),
 * tokenizer.json, tokenizer_config.json, and model.safetensors or model.safetensors.index.json with
 * its shards; for a PEFT adapter repo adapter_config.json and adapter_model.safetensors (plus the
 * tokenizer files when the repo has them). Downloads resume from partial files, are checked against
 * the size and (for LFS files) the sha256 the Hub announces, and are renamed into place atomically.
 *
 * Not thread-safe across concurrent calls in one process on the same repo; separate processes are
 * fine (blob writes are locked). Functions return 0 on success and -1 with a message in err. */
#ifndef HF_HUB_H
#define HF_HUB_H

#include <stdbool.h>
#include <stddef.h>

enum { HUB_OFFLINE_FROM_ENV = 0, HUB_OFFLINE_NO = 1, HUB_OFFLINE_YES = 2 };

typedef struct {
    const char *revision;   /* overrides an @revision in the id; NULL: the id's, else "main" */
    const char *cache_dir;  /* NULL: from the environment (see above) */
    const char *endpoint;   /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *token;      /* NULL: from the environment or the token file; "" for none */
    int offline;            /* HUB_OFFLINE_FROM_ENV ($HF_HUB_OFFLINE), HUB_OFFLINE_NO or HUB_OFFLINE_YES */
    int max_retries;        /* retries of a failed request or transfer (a transfer that made progress
                             * restarts the count); default 5 */
    int retry_base_ms;      /* first wait before a retry, doubled each time, capped at 30 s; default 1000 */
    int connect_timeout_s;  /* default 15 */
    int stall_timeout_s;    /* a transfer receiving nothing for this long is aborted (and retried); default 30 */
    bool no_progress;       /* no progress display even on a terminal */
} hub_options;

/* Fills o with the defaults above. A NULL hub_options* in the calls below means the same. */
void hub_options_init(hub_options *o);

/* Resolves model to a local folder, written to dir_out (capacity cap):
 * - an existing local folder: dir_out = model, nothing else happens;
 * - a Hub id ORG/NAME[@revision]: dir_out = CACHE/models--ORG--NAME/snapshots/COMMIT after fetching the
 *   missing files. Online, one API request maps the revision to its commit (none when the revision is a
 *   commit hash whose snapshot is complete) and files already in the snapshot are not requested again.
 *   When the Hub cannot be reached, or offline, the revision resolves from the cache alone and the
 *   error names the files the cache lacks.
 * Errors name the cause: not a folder nor an id, repository or revision not found (404), authentication
 * needed or token refused (401/403, gated repos: set HF_TOKEN), network failures after the retries. */
int hub_resolve(const char *model, char *dir_out, size_t cap, const hub_options *opt, char *err, size_t errcap);

/* Splits "ORG/NAME[@revision]" into repo_id and revision ("" when none given) and validates both
 * as the Hub does (letters, digits, '-', '_', '.'; no "--" or ".."; at most 96 characters; a revision
 * without whitespace or ".." components). Returns 0, or -1 with the reason in err. */
int hub_parse_id(const char *model, char *repo_id, size_t idcap, char *revision, size_t revcap, char *err,
                 size_t errcap);

/* The Hub cache folder from opt->cache_dir or the environment (not created). Returns 0 or -1. */
int hub_cache_dir(const hub_options *opt, char *out, size_t cap);

/* True for a 40-character lowercase hex string: a full commit hash. */
bool hub_is_commit_hash(const char *s);

#endif
