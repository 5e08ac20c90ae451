/* The worker pool: a stream of samples verified on N threads while the caller keeps producing them
 * (vf_stream_*), and vf_verify_batch on top of it. Each distinct (language, source) pair is compiled
 * once: the first sample that needs it compiles it, samples that arrive while it compiles wait on the
 * unit (without holding a thread) and are graded as soon as it is ready. RL batches repeat
 * completions a lot. */
#include "verify/vf_internal.h"

#include "core/log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NO_UNIT (-1L)     /* graded without a compile (python, custom) */
#define GRADED_EARLY (-2L) /* graded at submit time (a language the verifier does not compile) */

typedef struct {
    vf_sample s;         /* owned deep copy */
    vf_test_case *tests; /* owned copy of s.tests */
    char *code;
    vf_lang lang;
    long unit;           /* index into units, or NO_UNIT / GRADED_EARLY */
    bool done;
    vf_result res;
} item;

typedef struct {
    vf_unit u;
    uint64_t hash;
    bool compiling;      /* a worker has claimed the compile */
    bool ready;          /* compiled (or failed to) */
    size_t *waiting;     /* items queued behind the compile */
    size_t n_waiting, cap_waiting;
} unit_entry;

struct vf_stream {
    vf_config cfg;                    /* a copy; cfg.cancel points at stop */
    const volatile int *user_cancel;  /* the caller's flag */
    volatile int stop;
    vf_stream_fn fn;
    void *user;
    pthread_mutex_t lock;
    pthread_cond_t work, idle;
    item **items;
    size_t n_items, cap_items, n_done;
    unit_entry **units;
    size_t n_units, cap_units;
    size_t *queue;                    /* FIFO of item indices, [q_head, q_tail) */
    size_t q_head, q_tail, q_cap;
    pthread_t threads[128];
    int n_threads, max_threads, busy;
    bool finishing, oom;
    int nice;                         /* added to the workers' nice value */
};

static uint64_t hash_key(vf_lang lang, const char *code) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)lang;
    for (const unsigned char *p = (const unsigned char *)code; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, nc * elem);
    if (!p) return false;
    *arr = p;
    *cap = nc;
    return true;
}

/* Caller holds the lock. */
static bool push_queue(vf_stream *s, size_t idx) {
    if (s->q_tail == s->q_cap && s->q_head > 0) {
        memmove(s->queue, s->queue + s->q_head, (s->q_tail - s->q_head) * sizeof *s->queue);
        s->q_tail -= s->q_head;
        s->q_head = 0;
    }
    if (!grow((void **)&s->queue, &s->q_cap, s->q_tail + 1, sizeof *s->queue)) return false;
    s->queue[s->q_tail++] = idx;
    return true;
}

static void propagate_cancel(vf_stream *s) {
    if (s->user_cancel && *s->user_cancel) s->stop = 1;
}

/* Caller holds the lock: the item is finished (its result is in). */
static void mark_done(vf_stream *s, size_t idx) {
    s->items[idx]->done = true;
    s->n_done++;
    if (s->fn) s->fn(s->user, idx, &s->items[idx]->res);
    pthread_cond_broadcast(&s->idle);
}

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(c, m, &ts);
}

static void *worker(void *arg) {
    vf_stream *s = arg;
    /* Below the caller's priority (Linux nice is per thread, and the compilers and programs this thread
     * starts inherit it): when the stream runs next to the model decoding, the decoding threads keep
     * their cores and verification takes the time they leave idle; alone, it runs at full speed. */
    if (s->nice > 0) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), getpriority(PRIO_PROCESS, 0) + s->nice);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        propagate_cancel(s);
        if (s->stop) break;
        if (s->q_head == s->q_tail) {
            if (s->finishing && s->busy == 0) break;
            /* timed: an idle worker is also who notices the caller's cancel flag */
            timed_wait(&s->work, &s->lock, 50);
            continue;
        }
        size_t idx = s->queue[s->q_head++];
        item *it = s->items[idx];
        unit_entry *ue = it->unit >= 0 ? s->units[it->unit] : NULL;
        bool compile = false;
        if (ue && !ue->ready) {
            if (ue->compiling) {
                /* someone compiles it: wait on the unit, not on a thread */
                if (!grow((void **)&ue->waiting, &ue->cap_waiting, ue->n_waiting + 1, sizeof *ue->waiting)) {
                    s->oom = true;
                    s->stop = 1;
                    break;
                }
                ue->waiting[ue->n_waiting++] = idx;
                continue;
            }
            compile = true;
            ue->compiling = true;
        }
        s->busy++;
        pthread_mutex_unlock(&s->lock);
        if (compile) {
            vf_unit tmp;
            memset(&tmp, 0, sizeof tmp);
            vf_compile(&s->cfg, ue->u.code, ue->u.lang, &tmp);
            tmp.code = ue->u.code;
            pthread_mutex_lock(&s->lock);
            ue->u = tmp;
            ue->ready = true;
            for (size_t k = 0; k < ue->n_waiting; k++)
                if (!push_queue(s, ue->waiting[k])) s->oom = true, s->stop = 1;
            ue->n_waiting = 0;
            pthread_cond_broadcast(&s->work);
            pthread_mutex_unlock(&s->lock);
        }
        if (it->unit == NO_UNIT) vf_grade_uncompiled(&s->cfg, &it->s, it->code, it->lang, &it->res);
        else vf_grade_compiled(&s->cfg, &it->s, &ue->u, &it->res);
        if (ue && !compile) it->res.compile_cached = true;
        pthread_mutex_lock(&s->lock);
        s->busy--;
        mark_done(s, idx);
        pthread_cond_broadcast(&s->work);
    }
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static vf_stream *stream_start(const vf_config *cfg, vf_stream_fn fn, void *user, int nice, char *err,
                               size_t errcap) {
    if (vf_check_config(cfg, err, errcap) != 0) return NULL;
    /* a halo-forge killed mid-batch left its job directories behind; nobody else will remove them */
    int stale = sbx_clean_stale_dirs();
    if (stale > 0)
        log_info("removed %d sandbox director%s left by halo-forge processes that no longer exist", stale,
                 stale == 1 ? "y" : "ies");
    vf_stream *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "verify: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->user_cancel = cfg->cancel;
    s->cfg.cancel = &s->stop;
    s->fn = fn;
    s->user = user;
    int workers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (workers < 1) workers = 1;
    if (workers > 128) workers = 128;
    s->max_threads = workers;
    s->nice = nice;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->idle, NULL);
    return s;
}

vf_stream *vf_stream_start(const vf_config *cfg, vf_stream_fn fn, void *user, char *err, size_t errcap) {
    const char *nv = getenv("HF_VERIFY_NICE");
    return stream_start(cfg, fn, user, nv && *nv ? atoi(nv) : 10, err, errcap);
}

static char *dup_or_null(const char *x, bool *oom) {
    if (!x) return NULL;
    char *d = strdup(x);
    if (!d) *oom = true;
    return d;
}

static void item_free(item *it) {
    if (!it) return;
    free((char *)it->s.completion);
    free((char *)it->s.expected_output);
    free((char *)it->s.stdin_text);
    free((char *)it->s.test_code);
    free((char *)it->s.entry_point);
    free((char *)it->s.prompt);
    for (size_t i = 0; it->tests && i < it->s.n_tests; i++) {
        free((char *)it->tests[i].input);
        free((char *)it->tests[i].expected);
    }
    free(it->tests);
    free(it->code);
    vf_result_free(&it->res);
    free(it);
}

static item *item_copy(const vf_sample *src) {
    item *it = calloc(1, sizeof *it);
    if (!it) return NULL;
    bool oom = false;
    it->s.completion = dup_or_null(src->completion ? src->completion : "", &oom);
    it->s.expected_output = dup_or_null(src->expected_output, &oom);
    it->s.stdin_text = dup_or_null(src->stdin_text, &oom);
    it->s.test_code = dup_or_null(src->test_code, &oom);
    it->s.entry_point = dup_or_null(src->entry_point, &oom);
    it->s.prompt = dup_or_null(src->prompt, &oom);
    if (src->n_tests && src->tests) {
        it->tests = calloc(src->n_tests, sizeof *it->tests);
        if (!it->tests) oom = true;
        for (size_t i = 0; it->tests && i < src->n_tests; i++) {
            it->tests[i].input = dup_or_null(src->tests[i].input, &oom);
            it->tests[i].expected = dup_or_null(src->tests[i].expected, &oom);
        }
        it->s.tests = it->tests;
        it->s.n_tests = it->tests ? src->n_tests : 0;
    }
    if (oom) {
        item_free(it);
        return NULL;
    }
    return it;
}

long vf_stream_submit(vf_stream *s, const vf_sample *sample) {
    item *it = item_copy(sample);
    if (!it) return -1;
    vf_lang hint;
    it->code = vf_extract_code(it->s.completion, &hint);
    if (!it->code) {
        item_free(it);
        return -1;
    }
    it->lang = vf_pick_language(&s->cfg, it->code, hint);
    it->unit = NO_UNIT;
    bool early = vf_wrong_family(&s->cfg, it->lang, &it->res);
    if (early) it->unit = GRADED_EARLY;
    const bool compiles = !early && vf_kind_compiles(s->cfg.kind);
    const uint64_t h = compiles ? hash_key(it->lang, it->code) : 0;

    pthread_mutex_lock(&s->lock);
    propagate_cancel(s);
    if (!grow((void **)&s->items, &s->cap_items, s->n_items + 1, sizeof *s->items)) goto oom;
    if (compiles) {
        long found = -1;
        for (size_t u = 0; u < s->n_units && found < 0; u++)
            if (s->units[u]->hash == h && s->units[u]->u.lang == it->lang && !strcmp(s->units[u]->u.code, it->code))
                found = (long)u;
        if (found < 0) {
            if (!grow((void **)&s->units, &s->cap_units, s->n_units + 1, sizeof *s->units)) goto oom;
            unit_entry *ue = calloc(1, sizeof *ue);
            if (ue) ue->u.code = strdup(it->code);
            if (!ue || !ue->u.code) {
                free(ue);
                goto oom;
            }
            ue->u.lang = it->lang;
            ue->hash = h;
            found = (long)s->n_units;
            s->units[s->n_units++] = ue;
        }
        it->unit = found;
    }
    size_t idx = s->n_items;
    s->items[s->n_items++] = it;
    if (early) {
        mark_done(s, idx);
    } else {
        if (!push_queue(s, idx)) {
            s->n_items--;
            goto oom;
        }
        size_t pending = s->q_tail - s->q_head + (size_t)s->busy;
        if (s->n_threads < s->max_threads && (size_t)s->n_threads < pending &&
            pthread_create(&s->threads[s->n_threads], NULL, worker, s) == 0)
            s->n_threads++;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->lock);
    return (long)idx;
oom:
    pthread_mutex_unlock(&s->lock);
    item_free(it);
    return -1;
}

size_t vf_stream_done(vf_stream *s) {
    pthread_mutex_lock(&s->lock);
    size_t d = s->n_done;
    pthread_mutex_unlock(&s->lock);
    return d;
}

void vf_stream_cancel(vf_stream *s) {
    s->stop = 1;
    pthread_mutex_lock(&s->lock);
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
}

static void set_cancelled(vf_result *r) {
    vf_result_free(r);
    memset(r, 0, sizeof *r);
    r->status = VF_SANDBOX_ERROR;
    r->reward = 0;
    r->error = strdup("sandbox: cancelled");
    r->stdout_text = strdup("");
    r->stderr_text = strdup("");
    r->compile_log = strdup("");
}

int vf_stream_finish(vf_stream *s, vf_result **out, size_t *n) {
    if (out) *out = NULL;
    if (n) *n = 0;
    pthread_mutex_lock(&s->lock);
    s->finishing = true;
    pthread_cond_broadcast(&s->work);
    /* no thread yet but work queued (every pthread_create failed): do it here */
    bool inline_work = s->n_threads == 0 && s->q_head < s->q_tail;
    pthread_mutex_unlock(&s->lock);
    if (inline_work) worker(s);
    pthread_mutex_lock(&s->lock);
    while (s->n_threads > 0) {
        propagate_cancel(s);
        if (s->stop || (s->q_head == s->q_tail && s->busy == 0 && s->n_done == s->n_items)) break;
        timed_wait(&s->idle, &s->lock, 50);
    }
    if (s->stop) pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < s->n_threads; i++) pthread_join(s->threads[i], NULL);
    propagate_cancel(s);
    const bool stopped = s->stop != 0;
    /* Fairness: a sample that hit the wall clock while using little CPU may have been starved by its
     * neighbours (a fork bomb in the same batch, or the model decoding next to it). Run those again,
     * one at a time, before trusting the timeout. A program that really sleeps times out again. */
    if (!stopped && s->n_threads > 1) {
        double limit = s->cfg.run_timeout_s > 0 ? s->cfg.run_timeout_s : 5;
        for (size_t i = 0; i < s->n_items && !s->stop; i++) {
            item *it = s->items[i];
            if (it->res.status != VF_TIMEOUT || it->res.run_cpu_s >= 0.5 * limit || it->unit == GRADED_EARLY) continue;
            bool cached = it->res.compile_cached;
            vf_result_free(&it->res);
            memset(&it->res, 0, sizeof it->res);
            if (it->unit == NO_UNIT) vf_grade_uncompiled(&s->cfg, &it->s, it->code, it->lang, &it->res);
            else vf_grade_compiled(&s->cfg, &it->s, &s->units[it->unit]->u, &it->res);
            it->res.compile_cached = cached;
        }
    }
    int rc = (stopped || s->stop || s->oom) ? 1 : 0;
    vf_result *res = NULL;
    if (out && s->n_items) res = calloc(s->n_items, sizeof *res);
    for (size_t i = 0; i < s->n_items; i++) {
        item *it = s->items[i];
        if (!it->done || (rc && it->res.status == VF_SANDBOX_ERROR)) set_cancelled(&it->res);
        if (res) {
            res[i] = it->res;
            memset(&it->res, 0, sizeof it->res);
        }
        item_free(it);
    }
    if (out) *out = res;
    if (n) *n = res ? s->n_items : 0;
    if (out && s->n_items && !res) rc = -1;
    for (size_t u = 0; u < s->n_units; u++) {
        unit_entry *ue = s->units[u];
        vf_unit_free(&ue->u);
        free(ue->waiting);
        free(ue);
    }
    free(s->units);
    free(s->items);
    free(s->queue);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->idle);
    free(s);
    return rc;
}

typedef struct {
    vf_progress_fn fn;
    void *user;
    size_t done, total;
} batch_progress;

static void on_batch_result(void *user, size_t idx, const vf_result *r) {
    batch_progress *bp = user;
    (void)idx;
    (void)r;
    bp->done++;
    if (bp->fn) bp->fn(bp->user, bp->done, bp->total);
}

int vf_verify_batch(const vf_config *cfg, const vf_sample *samples, size_t n, vf_result *out, vf_progress_fn fn,
                    void *user, char *err, size_t errcap) {
    if (vf_check_config(cfg, err, errcap) != 0) return -1;
    memset(out, 0, n * sizeof *out);
    if (n == 0) return 0;
    batch_progress bp = {fn, user, 0, n};
    vf_stream *s = stream_start(cfg, on_batch_result, &bp, 0, err, errcap); /* nothing to yield to */
    if (!s) return -1;
    bool oom = false;
    for (size_t i = 0; i < n && !oom; i++) oom = vf_stream_submit(s, &samples[i]) < 0;
    if (oom) vf_stream_cancel(s);
    vf_result *res = NULL;
    size_t got = 0;
    int rc = vf_stream_finish(s, &res, &got);
    if (oom || rc < 0 || got != n) {
        for (size_t i = 0; i < got; i++) vf_result_free(&res[i]);
        free(res);
        snprintf(err, errcap, "verify: out of memory for a batch of %zu samples", n);
        return -1;
    }
    memcpy(out, res, n * sizeof *out);
    free(res);
    if (rc == 1) {
        snprintf(err, errcap, "verify: cancelled");
        return 1;
    }
    return 0;
}
