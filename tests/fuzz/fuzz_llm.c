/* Fuzz target: what an LLM API sends back to `data generate`, and the journal a killed run left behind.
 * Part 0 names the backend ("anthropic": the Messages API; anything else: the OpenAI chat API), part 1 is
 * the OUT.partial.jsonl journal found at start (none when empty), and the other parts are the raw HTTP
 * responses, in order, that a loopback server answers the chat requests with (two per example: the
 * request, then the code; requests beyond them get a 404). dg_run makes two examples, unverified (the
 * verifiers run compilers: that is tests/test_verify's ground, not a parser's).
 * What a caller relies on: a failure says why; a success leaves OUT with one JSON object per kept example
 * (string id, prompt and completion), at most two, and no journal. */
#include "fuzz_http.h"

#include <cjson/cJSON.h>

#include "data/dgen.h"

static char out_path[4200], journal[4300];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(out_path, sizeof out_path, "%s/generated.jsonl", fz_dir());
    snprintf(journal, sizeof journal, "%s.partial.jsonl", out_path);
    fzh_start();
    setenv("HF_DATA_RETRY_BASE_MS", "1", 1);
    setenv("HF_DATA_RETRY_MAX_MS", "5", 1);
    setenv("HF_DATA_TIMEOUT_S", "2", 1);
    return 0;
}

static void check_output(void) {
    if (fs_exists(journal)) abort();
    size_t len = 0;
    char *text = fs_read_file(out_path, &len);
    if (!text) abort();
    long lines = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        cJSON *r = cJSON_ParseWithLength(p, n);
        if (!cJSON_IsObject(r)) abort();
        const char *keys[] = {"id", "prompt", "completion"};
        for (int k = 0; k < 3; k++)
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, keys[k]))) abort();
        cJSON_Delete(r);
        lines++;
        p += n + 1;
    }
    if (lines > 2) abort();
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fzh_set(data, size, 2);
    unlink(out_path);
    unlink(journal);
    if (fzh_parts.n[1]) fz_write(fz_dir(), "generated.jsonl.partial.jsonl", fzh_part(1), fzh_parts.n[1]);
    dg_options o;
    dg_options_default(&o);
    o.topic = dg_topic_find("cpp_algorithms");
    o.backend = dg_backend_find(!strcmp(fzh_part(0), "anthropic") ? "anthropic" : "openai");
    o.base_url = fzh_endpoint;
    o.api_key = "test-key";
    o.n = 2;
    o.output = out_path;
    o.checkpoint_every = 1;
    o.max_retries = 1;
    o.no_verify = true;
    dg_stats st;
    char err[2048] = "";
    int rc = dg_run(&o, &st, NULL, NULL, err, sizeof err);
    if (rc == 0) check_output();
    else if (rc < 0 && !err[0]) abort();
    else if (rc > 0) abort(); /* nothing cancels it */
    fzh_clear();
    return 0;
}
