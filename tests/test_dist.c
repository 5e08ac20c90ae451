/* dist: the data-parallel gradient. Run alone it checks the single-rank functions; under
 * `mpirun -np N` (tests/mpi/dist_unit.sh) each rank takes every N-th sequence of a fixture batch, and
 * the all-reduced gradient must equal the gradient this rank computes alone over the whole batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "dist/dist.h"
#include "dist/dist_train.h"
#include "train/train_model.h"

static const char *src_dir(void) {
    const char *s = getenv("HF_SOURCE_DIR");
    return s ? s : HF_SOURCE_DIR;
}

typedef struct {
    int *tokens, *seq_start;
    uint8_t *target;
    train_batch b;
    long n_targets;
} owned_batch;

/* The sequences s of the fixture request with s % stride == pick (stride 1: all of them). */
static void batch_pick(owned_batch *ob, const cJSON *req, int stride, int pick) {
    const cJSON *seqs = cJSON_GetObjectItem(req, "sequences"), *tgs = cJSON_GetObjectItem(req, "targets");
    int ns = cJSON_GetArraySize(seqs), n = 0, k = 0;
    for (int s = pick; s < ns; s += stride) n += cJSON_GetArraySize(cJSON_GetArrayItem(seqs, s)), k++;
    ob->tokens = malloc((size_t)(n + 1) * sizeof(int));
    ob->target = malloc((size_t)n + 1);
    ob->seq_start = malloc((size_t)(k + 1) * sizeof(int));
    int t = 0, q = 0;
    ob->n_targets = 0;
    for (int s = pick; s < ns; s += stride) {
        ob->seq_start[q++] = t;
        const cJSON *ids = cJSON_GetArrayItem(seqs, s), *tg = cJSON_GetArrayItem(tgs, s);
        for (int i = 0; i < cJSON_GetArraySize(ids); i++, t++) {
            ob->tokens[t] = cJSON_GetArrayItem(ids, i)->valueint;
            ob->target[t] = (uint8_t)cJSON_GetArrayItem(tg, i)->valueint;
            if (i > 0 && ob->target[t]) ob->n_targets++;
        }
    }
    ob->seq_start[q] = t;
    ob->b = (train_batch){.n_tokens = n, .n_seqs = k, .tokens = ob->tokens, .seq_start = ob->seq_start,
                          .target = ob->target};
}

static void batch_free(owned_batch *ob) {
    free(ob->tokens);
    free(ob->target);
    free(ob->seq_start);
}

static void test_single_rank_ops(void **state) {
    (void)state;
    if (dist_size() != 1) skip();
    assert_int_equal(dist_rank(), 0);
    float x[3] = {1, 2, 3};
    dist_allreduce_f32(x, 3, 0.5f);
    assert_true(x[0] == 0.5f && x[1] == 1.0f && x[2] == 1.5f);
    char *all;
    size_t *lens;
    assert_int_equal(dist_allgather_blobs("abc", 3, &all, &lens), 0);
    assert_int_equal(lens[0], 3);
    assert_memory_equal(all, "abc", 3);
    free(all);
    free(lens);
}

/* Every rank's blob arrives on every rank, in rank order. */
static void test_gather_order(void **state) {
    (void)state;
    char mine[32];
    int n = snprintf(mine, sizeof mine, "rank%d", dist_rank());
    char *all;
    size_t *lens;
    assert_int_equal(dist_allgather_blobs(mine, (size_t)n, &all, &lens), 0);
    size_t off = 0;
    for (int r = 0; r < dist_size(); r++) {
        char want[32];
        int w = snprintf(want, sizeof want, "rank%d", r);
        assert_int_equal(lens[r], (size_t)w);
        assert_memory_equal(all + off, want, (size_t)w);
        off += lens[r];
    }
    free(all);
    free(lens);
}

/* A failure anywhere reaches every rank, named by its rank; an error wins over a cancellation. */
static void test_status(void **state) {
    (void)state;
    const int me = dist_rank(), last = dist_size() - 1;
    char err[256];
    snprintf(err, sizeof err, "mine %d", me);
    assert_int_equal(dist_root_rc(0, err, sizeof err), 0);
    assert_int_equal(dist_any_rc(0, err, sizeof err), 0);
    /* rank 0 fails alone: the others get its reason */
    snprintf(err, sizeof err, "%s", me == 0 ? "disk full" : "fine");
    assert_int_equal(dist_root_rc(me == 0 ? -1 : 0, err, sizeof err), -1);
    assert_string_equal(err, me == 0 ? "disk full" : "rank 0: disk full");
    /* the last rank fails, rank 0 was cancelled: every rank reports the last rank's error */
    snprintf(err, sizeof err, "%s", me == last ? "no memory" : "cancelled");
    int rc = dist_any_rc(me == last ? -1 : me == 0 ? 1 : 0, err, sizeof err);
    assert_int_equal(rc, -1);
    char want[64];
    if (me == last) snprintf(want, sizeof want, "no memory");
    else snprintf(want, sizeof want, "rank %d: no memory", last);
    assert_string_equal(err, want);
}

/* Gradient of this rank's share (scaled by the global target count) summed over ranks == gradient of
 * the whole batch in one process; full fine-tuning and LoRA. */
static void test_allreduced_gradient(void **state) {
    (void)state;
    char path[4096], model_dir[4096], err[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/train/gqa2_untied_bf16/request.json", src_dir());
    snprintf(model_dir, sizeof model_dir, "%s/tests/fixtures/model/gqa2_untied_bf16", src_dir());
    char *text = fs_read_file(path, NULL);
    assert_non_null(text);
    cJSON *req = cJSON_Parse(text);
    free(text);
    assert_non_null(req);
    owned_batch all, mine;
    batch_pick(&all, req, 1, 0);
    batch_pick(&mine, req, dist_size(), dist_rank());
    for (int rank = 0; rank <= 4; rank += 4) {
        lora_config lc = {.rank = rank, .alpha = 8, .dropout = 0, .targets = LORA_ALL_TARGETS};
        train_model *m = train_model_load(model_dir, &lc, 1, err, sizeof err);
        if (!m) fail_msg("%s", err);
        size_t n;
        /* B is zero at initialisation, so A's gradient would be zero: give B values */
        float *p = train_model_params(m, &n);
        for (size_t i = 0; i < n && rank; i++) p[i] += 0.01f * (float)((i * 2654435761u) % 7) - 0.03f;
        double nll_all, nll_mine = 0;
        long nt;
        train_model_zero_grad(m);
        assert_int_equal(train_model_step(m, &all.b, 1.0f / (float)all.n_targets, &nll_all, &nt, err, sizeof err), 0);
        float *g = train_model_grads(m, &n), *g_all = malloc(n * sizeof *g_all);
        memcpy(g_all, g, n * sizeof *g_all);
        train_model_zero_grad(m);
        if (mine.b.n_seqs > 0)
            assert_int_equal(train_model_step(m, &mine.b, 1.0f / (float)all.n_targets, &nll_mine, &nt, err, sizeof err), 0);
        dist_allreduce_grads(m, &nll_mine);
        g = train_model_grads(m, &n);
        double d = 0, r = 0;
        for (size_t i = 0; i < n; i++) {
            d += ((double)g[i] - g_all[i]) * ((double)g[i] - g_all[i]);
            r += (double)g_all[i] * g_all[i];
        }
        assert_true(r > 0);
        /* only the order of float sums differs */
        if (sqrt(d) / sqrt(r) > 1e-5) fail_msg("rank %d: relative gradient difference %g", dist_rank(), sqrt(d) / sqrt(r));
        assert_true(fabs(nll_mine - nll_all) <= 1e-5 * fabs(nll_all));
        free(g_all);
        train_model_free(m);
    }
    batch_free(&all);
    batch_free(&mine);
    cJSON_Delete(req);
}

int main(int argc, char **argv) {
    dist_init(&argc, &argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_rank_ops),
        cmocka_unit_test(test_gather_order),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_allreduced_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
