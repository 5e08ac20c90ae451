/* Fuzz target: what the Hugging Face dataset viewer sends back to `data prepare`. Part 0 of the input
 * names a registry dataset (humaneval, mbpp, codeforces_cpp, livecodebench...: it picks the row
 * converter); the other parts are the raw HTTP responses, in order, that a loopback server answers the
 * /splits and /rows requests with (requests beyond them get a 404). dp_prepare runs the whole
 * preparation (dsv_open, the pages, each row's conversion, the sampling) into a fresh cache, with a
 * handful of examples so that few pages are read.
 * What a caller relies on: a failure says why; an accepted answer is JSONL whose every line is an object
 * with a string id and prompt, no more lines than asked for, and a cache that a second, offline run reads
 * back to the same records. */
#include "fuzz_http.h"

#include <cjson/cJSON.h>

#include "data/dprep.h"

static char cache[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(cache, sizeof cache, "%s/viewer-cache", fz_dir());
    fzh_start();
    setenv("HF_DATASETS_SERVER", fzh_endpoint, 1);
    setenv("HF_DATASETS_CACHE", cache, 1);
    setenv("HF_HOME", cache, 1);
    setenv("HF_DATA_RETRY_BASE_MS", "1", 1);
    setenv("HF_DATA_RETRY_MAX_MS", "5", 1);
    setenv("HF_DATA_TIMEOUT_S", "2", 1);
    unsetenv("HF_TOKEN");
    unsetenv("HUGGING_FACE_HUB_TOKEN");
    unsetenv("HF_TOKEN_PATH");
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("HF_DATASETS_OFFLINE");
    return 0;
}

static int prepare(const dp_spec *spec, char **out, size_t *len, char *err, size_t errcap) {
    dp_options o;
    dp_options_default(&o);
    o.spec = spec;
    o.max_examples = 3;
    dp_stats st;
    return dp_prepare(&o, out, len, &st, NULL, NULL, err, errcap);
}

static void check_records(const char *text, size_t len) {
    long lines = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        cJSON *r = cJSON_ParseWithLength(p, n);
        if (!cJSON_IsObject(r) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "id")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "prompt")))
            abort();
        cJSON_Delete(r);
        lines++;
        p += n + 1;
    }
    if (lines > 3) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fzh_set(data, size, 1);
    const dp_spec *spec = dp_find(fzh_part(0));
    if (!spec) spec = dp_find("humaneval");
    fs_remove_tree(cache);
    char *out = NULL, err[2048] = "";
    size_t len = 0;
    if (prepare(spec, &out, &len, err, sizeof err) == 0) {
        check_records(out, len);
        /* Everything came from the cache now: offline, the same records. */
        setenv("HF_DATASETS_OFFLINE", "1", 1);
        char *again = NULL, err2[2048] = "";
        size_t len2 = 0;
        if (prepare(spec, &again, &len2, err2, sizeof err2) != 0 || len2 != len || memcmp(out, again, len)) abort();
        unsetenv("HF_DATASETS_OFFLINE");
        free(again);
    } else if (!err[0]) {
        abort();
    }
    free(out);
    fzh_clear();
    return 0;
}
