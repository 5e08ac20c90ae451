/* dhttp: JSON over HTTP(S) with libcurl, for the data tools (the dataset viewer's API, LLM APIs).
 *
 * One call is one request with retries: connection failures, timeouts and the statuses 408, 429, 500,
 * 502, 503, 504 are retried with exponential backoff (base delay doubled each time, capped at 60 s), a
 * Retry-After header (seconds) taking the place of the computed delay; every retry is logged as a
 * warning naming what was being fetched. Any other status ends the call and is returned to the caller
 * with its body, which decides what it means (404, 401, ...).
 *
 * Not thread-safe across calls sharing a dhttp_options; separate calls on separate threads are fine. */
#ifndef HF_DHTTP_H
#define HF_DHTTP_H

#include <stddef.h>

typedef struct {
    int max_retries;       /* default 5 */
    int retry_base_ms;     /* first delay, default 1000 (env HF_DATA_RETRY_BASE_MS overrides, for tests) */
    int timeout_s;         /* whole request, default 300 */
    int connect_timeout_s; /* default 15 */
    int max_wait_ms;       /* longest wait before a retry, Retry-After included: default 600000
                            * (env HF_DATA_RETRY_MAX_MS; HF_DATA_TIMEOUT_S sets both timeouts, for tests) */
    const char *what;      /* names the request in messages ("rows 0-99 of openai/openai_humaneval") */
} dhttp_options;

void dhttp_options_init(dhttp_options *o);

/* GET (body NULL) or POST (body: JSON text, sent with Content-Type: application/json) to url, with the
 * extra headers in headers (a NULL-terminated array of "Name: value", may be NULL). On an answer from the
 * server returns 0 with *status the final HTTP status and *out the body as a NUL-terminated heap string
 * (caller frees; "" when empty). Returns -1 with the reason in err when no answer came after the retries
 * (connection refused, DNS, timeouts) or a retried status persisted; *unreachable (may be NULL) is set
 * when the server could not be contacted at all. */
int dhttp_request(const char *url, const char *const *headers, const char *body, const dhttp_options *o,
                  long *status, char **out, int *unreachable, char *err, size_t errcap);

/* Appends s to url-encoded form into out (capacity cap). Returns 0, or -1 when it does not fit. */
int dhttp_urlencode(char *out, size_t cap, const char *s);

#endif
