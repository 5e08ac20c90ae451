/* dgen: `data generate` — training examples written by an LLM over an API, each program verified by our
 * own verifiers before it is kept (the original kept whatever came back).
 *
 * The original's four topics (rust_async, python_testing, cpp_algorithms, go_concurrency), each with five
 * categories and three complexity levels, and its two-call recipe per example: one call asks for a realistic
 * user request on the category (at most 200 tokens), a second asks for the code answering it (at most 2000
 * tokens, "provide only the code"), both at temperature 0.7. Backends:
 *   openai     OpenAI-compatible /chat/completions   $OPENAI_API_KEY,   $OPENAI_BASE_URL   (https://api.openai.com/v1)
 *   deepseek   the same API                          $DEEPSEEK_API_KEY, $DEEPSEEK_BASE_URL (https://api.deepseek.com/v1)
 *   ollama     the same API, no key                  $OLLAMA_HOST -> http://HOST/v1     (http://localhost:11434/v1)
 *   anthropic  the Messages API /messages            $ANTHROPIC_API_KEY, $ANTHROPIC_BASE_URL (https://api.anthropic.com/v1)
 * (vLLM and the llama.cpp server speak the OpenAI API: --backend openai --base-url URL.) 429 and 5xx answers
 * are retried with backoff and Retry-After (data/dhttp.h); deepseek waits 1 s between requests as the
 * original did.
 *
 * Examples are slots 0..n-1, slot i being category (i / levels) % categories at level i % levels, so a
 * resumed run makes the same slots. Every finished slot (kept or rejected) is appended to OUT.partial.jsonl
 * at once; OUT itself is rewritten atomically every checkpoint_every slots and at the end, when the journal is
 * removed. Rerunning the same command resumes from the journal without asking the API again for finished
 * slots. */
#ifndef HF_DGEN_H
#define HF_DGEN_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { DG_API_OPENAI, DG_API_ANTHROPIC } dg_api;

typedef struct {
    const char *name;
    dg_api api;
    const char *default_base;
    const char *base_env;    /* environment variable overriding the base URL, or NULL */
    const char *key_env;     /* environment variable of the API key, NULL when none is needed */
    const char *default_model;
    double min_interval_s;   /* between requests */
} dg_backend;

typedef struct {
    const char *name;
    const char *language;    /* cpp, python, rust, go */
    const char *description;
    const char *categories[5];
    const char *levels[3];
    int per_category;        /* examples per (category, level) in a full run */
    const char *required;    /* patterns the code must use */
    const char *forbidden;
    const char *style;
    const char *system;
} dg_topic;

const dg_backend *dg_backend_find(const char *name); /* also "claude" for anthropic */
const dg_topic *dg_topic_find(const char *name);
const dg_topic *dg_topics(size_t *n);
const char *dg_backend_names(void);                  /* "openai|anthropic|ollama|deepseek" */

typedef struct {
    const dg_topic *topic;
    const dg_backend *backend;
    const char *model;        /* NULL: the backend's default */
    const char *base_url;     /* NULL: from the environment or the default */
    const char *api_key;      /* NULL: from the backend's environment variable */
    long n;                   /* examples; 0: the topic's full count */
    const char *output;
    long checkpoint_every;    /* default 100 */
    int max_retries;          /* default 5 */
    double temperature;       /* default 0.7 */
    bool no_verify;           /* keep unverified (records say so) */
    int workers;              /* unused by the verifier of one program; kept for the config */
    const volatile int *cancel;
} dg_options;

typedef struct {
    long slots, resumed, kept, rejected, requests;
} dg_stats;

void dg_options_default(dg_options *o);

typedef void (*dg_progress_fn)(void *user, long done, long total);

/* Runs the generation. Returns 0 when every slot is done, 1 when cancelled (the journal keeps the finished
 * slots), -1 with the reason in err (an API error that retries did not fix, a key refused, a bad journal). */
int dg_run(const dg_options *o, dg_stats *st, dg_progress_fn fn, void *user, char *err, size_t errcap);

#endif
