/* Fuzz target: what a Hugging Face Hub server sends back. The input is the sequence of raw HTTP responses
 * (status line, headers, body), one part each, that a loopback server in this process answers the
 * client's requests with, in order: the revision API call, then the HEAD and GET of each file. hub_resolve
 * runs a full download of "org/model" into a fresh cache against it: status codes, redirects, ETag and
 * size headers, the model-info JSON, the shard index, bodies shorter or longer than announced. Requests
 * beyond the input get a 404. An accepted download must be a folder with a config.json (or an adapter_config.json). */
#include "fuzz_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "model/hub.h"

static int listen_fd;
static char endpoint[64];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static fz_parts cur;    /* the responses of the input being run */
static int next_resp;   /* the one the next request gets */

static void *serve(void *arg) {
    (void)arg;
    for (;;) {
        int c = accept(listen_fd, NULL, NULL);
        if (c < 0) continue;
        struct timeval tv = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char req[8192];
        size_t got = 0;
        while (got < sizeof req - 1) { /* the request's head: GET and HEAD carry no body */
            ssize_t r = recv(c, req + got, sizeof req - 1 - got, 0);
            if (r <= 0) break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n")) break;
        }
        static const char none[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        pthread_mutex_lock(&mu);
        const char *resp = none;
        size_t n = sizeof none - 1;
        if (next_resp < cur.count) {
            resp = cur.p[next_resp];
            n = cur.n[next_resp];
        }
        next_resp++;
        size_t off = 0;
        while (off < n) {
            ssize_t w = send(c, resp + off, n - off, MSG_NOSIGNAL);
            if (w <= 0) break;
            off += (size_t)w;
        }
        pthread_mutex_unlock(&mu);
        close(c);
    }
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fz_dir();
    unsetenv("HF_TOKEN");
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(listen_fd, 16) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&a, &len) != 0) {
        perror("fuzz_hub: loopback server");
        abort();
    }
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", ntohs(a.sin_port));
    pthread_t t;
    pthread_create(&t, NULL, serve, NULL);
    pthread_detach(t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pthread_mutex_lock(&mu);
    fz_split(data, size, &cur);
    next_resp = 0;
    pthread_mutex_unlock(&mu);

    char cache[4200];
    snprintf(cache, sizeof cache, "%s/cache", fz_dir());
    fs_remove_tree(cache);
    hub_options o;
    hub_options_init(&o);
    o.cache_dir = cache;
    o.endpoint = endpoint;
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
    pthread_mutex_lock(&mu);
    fz_parts_free(&cur);
    memset(&cur, 0, sizeof cur);
    pthread_mutex_unlock(&mu);
    return 0;
}
