/* Fuzz target: what a Hugging Face Hub server sends back. The input is the sequence of raw HTTP responses
 * (status line, headers, body), one part each, that a loopback server in this process answers the
 * client's requests with, in order: the revision API call, then the HEAD and GET of each file. hub_resolve
 * runs a full download of "org/model" into a fresh cache against it: status codes, redirects, ETag and
 * size headers, the model-info JSON, the shard index, bodies shorter or longer than announced. Requests
 * beyond the input get a 404. An accepted download must be a folder with a config.json (or an adapter_config.json). */
#include "fuzz_http.h"

#include "model/hub.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fz_dir();
    unsetenv("HF_TOKEN");
    fzh_start();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fzh_set(data, size, 0);

    char cache[4200];
    snprintf(cache, sizeof cache, "%s/cache", fz_dir());
    fs_remove_tree(cache);
    hub_options o;
    hub_options_init(&o);
    o.cache_dir = cache;
    o.endpoint = fzh_endpoint;
    o.token = "";
    o.offline = HUB_OFFLINE_NO;
    o.max_retries = 1;
    o.retry_base_ms = 1;
    o.connect_timeout_s = 1;
    o.stall_timeout_s = 1;
    o.no_progress = true;
    char dir[4096], err[2048] = "";
    if (hub_resolve("org/model", dir, sizeof dir, &o, err, sizeof err) == 0) {
        char cfg[4200], adapter[4200];
        snprintf(cfg, sizeof cfg, "%s/config.json", dir);
        snprintf(adapter, sizeof adapter, "%s/adapter_config.json", dir);
        if (!fs_exists(cfg) && !fs_exists(adapter)) abort();
    } else if (!err[0]) {
        abort();
    }
    fzh_clear();
    return 0;
}
