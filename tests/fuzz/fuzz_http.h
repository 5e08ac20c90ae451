/* fuzz_http: a loopback HTTP server inside the fuzz target's process, for the targets whose input is what
 * a remote server answers (the Hub, the dataset viewer, LLM APIs).
 *
 * fzh_start() listens on 127.0.0.1 at a free port (fzh_endpoint: "http://127.0.0.1:PORT") and serves
 * from a thread. fzh_set() gives it the raw responses (status line, headers, body: bytes sent as they
 * are) of the next requests, in order, one connection each; requests beyond them get a 404. The server
 * reads each request's head and as much body as its Content-Length announces before answering, so a
 * POST's body is never left unread (closing on unread data would reset the connection and make the
 * client's outcome depend on timing rather than on the input). Every connection is closed after its
 * response. */
#ifndef HF_FUZZ_HTTP_H
#define HF_FUZZ_HTTP_H

#include "fuzz_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

static int fzh_listen_fd = -1;
static char fzh_endpoint[64];
static pthread_mutex_t fzh_mu = PTHREAD_MUTEX_INITIALIZER;
static fz_parts fzh_parts;  /* the responses of the input being run (owned) */
static int fzh_next;        /* the part the next request gets */

/* Reads the request's head, then its body up to Content-Length (bounded), with a 1 s stall timeout. */
static void fzh_read_request(int c) {
    static char req[1 << 16];
    size_t got = 0;
    char *end = NULL;
    while (got < sizeof req - 1 && !end) {
        ssize_t r = recv(c, req + got, sizeof req - 1 - got, 0);
        if (r <= 0) return;
        got += (size_t)r;
        req[got] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    if (!end) return;
    long body = 0;
    for (char *h = strstr(req, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
        if (!strncasecmp(h + 2, "Content-Length:", 15)) body = strtol(h + 17, NULL, 10);
    size_t have = got - (size_t)(end + 4 - req);
    char sink[4096];
    while (body > 0 && (long)have < body) {
        ssize_t r = recv(c, sink, sizeof sink, 0);
        if (r <= 0) return;
        have += (size_t)r;
    }
}

static void *fzh_serve(void *arg) {
    (void)arg;
    for (;;) {
        int c = accept(fzh_listen_fd, NULL, NULL);
        if (c < 0) continue;
        struct timeval tv = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        fzh_read_request(c);
        static const char none[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        pthread_mutex_lock(&fzh_mu);
        const char *resp = none;
        size_t n = sizeof none - 1;
        if (fzh_next < fzh_parts.count) {
            resp = fzh_parts.p[fzh_next];
            n = fzh_parts.n[fzh_next];
        }
        fzh_next++;
        size_t off = 0;
        while (off < n) {
            ssize_t w = send(c, resp + off, n - off, MSG_NOSIGNAL);
            if (w <= 0) break;
            off += (size_t)w;
        }
        pthread_mutex_unlock(&fzh_mu);
        close(c);
    }
    return NULL;
}

static inline void fzh_start(void) {
    fzh_listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fzh_listen_fd < 0 || bind(fzh_listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fzh_listen_fd, 16) != 0 || getsockname(fzh_listen_fd, (struct sockaddr *)&a, &len) != 0) {
        perror("fuzz: loopback server");
        abort();
    }
    snprintf(fzh_endpoint, sizeof fzh_endpoint, "http://127.0.0.1:%d", ntohs(a.sin_port));
    pthread_t t;
    pthread_create(&t, NULL, fzh_serve, NULL);
    pthread_detach(t);
}

/* Splits the input into parts (fz_split) and serves parts first.. as the next responses. */
static inline void fzh_set(const uint8_t *data, size_t size, int first) {
    pthread_mutex_lock(&fzh_mu);
    fz_split(data, size, &fzh_parts);
    fzh_next = first;
    pthread_mutex_unlock(&fzh_mu);
}

/* Part i of the current input (NUL-terminated; "" when missing). */
static inline const char *fzh_part(int i) { return fzh_parts.p[i]; }

static inline void fzh_clear(void) {
    pthread_mutex_lock(&fzh_mu);
    fz_parts_free(&fzh_parts);
    memset(&fzh_parts, 0, sizeof fzh_parts);
    fzh_next = 0;
    pthread_mutex_unlock(&fzh_mu);
}

#endif
