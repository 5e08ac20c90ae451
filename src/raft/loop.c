/* raft loop: generate, verify, filter, train, and sample the next cycle from the trained weights. */
#include "raft/loop.h"
#include "dist/dist.h"
#include "core/err.h"

#include "bench/prompts.h"
#include "bench/rollout.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/timing.h"
#include "model/lora_apply.h"
#include "raft/resume.h"
#include "rl/cycle.h"
#include "train/train_model.h"
#include "train/train_run.h"
#include "plot/tblog.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool cancelled(const raft_loop_options *o) { return o->cancel && *o->cancel; }

void raft_loop_options_default(raft_loop_options *o) {
    memset(o, 0, sizeof *o);
    o->output_dir = "models/raft";
    o->cycles = 3;
    vf_config_default(&o->verifier, VF_GCC);
    raft_filter_cfg_default(&o->filter);
    o->shaping = RAFT_SHAPING_FIXED;
    o->curriculum = RAFT_CURRICULUM_NONE;
    o->curriculum_start = 0.2;
    o->curriculum_increment = 0.2;
    o->system_prompt = RAFT_DEFAULT_SYSTEM_PROMPT;
    o->samples_per_prompt = 8;
    o->temperature = 0.7;
    o->max_new_tokens = 1024;
    o->gen_batch_size = 0; /* gen_auto_batch */
    o->seed = 42;
    o->learning_rate = 5e-5;
    o->lr_decay = 0.85;
    o->min_lr = 1e-6;
    o->batch_size = 2;
    o->grad_accum = 16;
    o->epochs = 1;
    o->warmup_steps = 10;
    o->lora_rank = 16;
    o->lora_alpha = 32;
    o->lora_dropout = 0.05f;
    o->max_seq_len = 2048;
    o->algorithm = RL_RAFT;
    rl_update_opts_default(&o->rl, RL_GRPO);
    o->max_refill_rounds = 3;
}

/* ---- weights ---- */

/* Full fine-tuning: dst becomes a copy of the model folder src (hard links where the file system
 * allows; the files are never written in place, so sharing them is safe). */
static int carry_model(const char *src, const char *dst, char *err, size_t errcap) {
    char tmp[4300], failed[4700];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    fs_remove_tree(tmp);
    if (fs_link_files(src, tmp, failed, sizeof failed) != 0) {
        err_set(err, errcap, "%s: cannot copy to %s: %s", failed, tmp, strerror(errno));
        fs_remove_tree(tmp);
        return -1;
    }
    if (rename(tmp, dst) != 0) {
        err_set(err, errcap, "%s: cannot rename into place: %s", dst, strerror(errno));
        fs_remove_tree(tmp);
        return -1;
    }
    return 0;
}

/* Writes an adapter that equals prev_adapter (or a fresh one, B = 0, when NULL) to dst: a cycle that
 * kept nothing leaves the weights as they were. */
static int carry_adapter(const raft_loop_options *o, const char *prev_adapter, const char *dst, char *err,
                         size_t errcap) {
    lora_config lc = {.rank = o->lora_rank, .alpha = o->lora_alpha, .dropout = o->lora_dropout,
                      .targets = LORA_ALL_TARGETS};
    train_model *m = train_model_load(o->model_dir, &lc, o->seed, err, errcap);
    if (!m) return -1;
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    fs_remove_tree(tmp);
    int rc = -1;
    if (prev_adapter && train_model_load_adapter_weights(m, prev_adapter, err, errcap)) goto out;
    if (train_model_save_adapter(m, tmp, o->model_dir, err, errcap)) goto out;
    if (rename(tmp, dst) != 0) {
        err_set(err, errcap, "%s: cannot rename into place: %s", dst, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    train_model_free(m);
    return rc;
}

/* Writes the verified file: the records with their verdicts, best reward first (as the original),
 * ties in prompt and sample order. */
static int write_verified(cJSON **recs, size_t n, const vf_result *res, const char *verified_path, char *err,
                          size_t errcap) {
    for (size_t i = 0; i < n; i++) vf_result_to_json(&res[i], recs[i]);
    for (size_t i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        cJSON *x = recs[i];
        double rx = json_get_num(x, "reward", 0);
        size_t j = i;
        while (j > 0 && json_get_num(recs[j - 1], "reward", 0) < rx) {
            recs[j] = recs[j - 1];
            j--;
        }
        recs[j] = x;
    }
    size_t len = 0, bcap = 4096;
    char *buf = malloc(bcap);
    for (size_t i = 0; buf && i < n; i++) {
        char *line = cJSON_PrintUnformatted(recs[i]);
        size_t l = line ? strlen(line) : 0;
        if (!line || len + l + 2 > bcap) {
            while (line && len + l + 2 > bcap) bcap *= 2;
            char *nb = line ? realloc(buf, bcap) : NULL;
            if (!nb) {
                free(line);
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        memcpy(buf + len, line, l);
        len += l;
        buf[len++] = '\n';
        free(line);
    }
    if (!buf) {
        err_set(err, errcap, "raft: out of memory");
        return -1;
    }
    int rc = 0;
    if (fs_write_atomic(verified_path, buf, len) != 0) {
        err_set(err, errcap, "%s: cannot write: %s", verified_path, strerror(errno));
        rc = -1;
    }
    free(buf);
    return rc;
}

/* Samples the selected prompts from the weights prev (NULL: the base), verifying as they come, with the
 * cycle's samples file as the rollout journal (a rerun continues after its last complete line), then
 * writes the verified file. round > 0: refill round `round` of DAPO's dynamic sampling (its own seed; the
 * records say "refill_round"). Times and tokens are added to rep. 0 done, 1 cancelled, -1 error. */
static int sample_cycle(const raft_loop_options *o, const bench_prompt_set *ps, const size_t *sel, size_t nsel,
                        const char *prev, const char *samples_path, const char *verified_path, int cycle, int round,
                        raft_cycle_report *rep, char *err, size_t errcap) {
    char label[48];
    if (round > 0) snprintf(label, sizeof label, "Cycle %d refill %d", cycle, round);
    else snprintf(label, sizeof label, "Cycle %d", cycle);
    rollout_opts ro = {.label = label, .model_dir = o->model_dir, .weights_dir = prev, .prompts = ps, .select = sel,
                       .n_select = nsel, .samples_per_prompt = o->samples_per_prompt,
                       .max_new_tokens = o->max_new_tokens, .gen_batch_size = o->gen_batch_size,
                       .temperature = o->temperature,
                       .seed = o->seed + (uint64_t)cycle * 1000003u + (uint64_t)round * 104729u,
                       .system_prompt = o->system_prompt, .verifier = &o->verifier, .journal_path = samples_path,
                       .cancel = o->cancel, .record_tokens = o->algorithm != RL_RAFT,
                       .exact = o->algorithm != RL_RAFT && !o->rl.fast};
    rollout_result r;
    int rrc = rollout_run(&ro, &r, err, errcap);
    if (rrc) return rrc;
    rep->gen_seconds += r.generation_seconds;
    rep->generated_tokens += r.gen.generated_tokens;
    rep->verify_seconds += r.verify_wait_seconds;
    int rc = -1;
    cJSON **recs = calloc(r.n + 1, sizeof *recs);
    for (size_t i = 0; recs && i < r.n; i++)
        if (!(recs[i] = rollout_record(&ro, &r, i)) ||
            (round > 0 && !cJSON_AddNumberToObject(recs[i], "refill_round", round))) {
            err_set(err, errcap, "raft: out of memory");
            goto out;
        }
    if (!recs) err_set(err, errcap, "raft: out of memory");
    else if (dist_is_root()) rc = write_verified(recs, r.n, r.results, verified_path, err, errcap);
    else rc = 0;
    rc = dist_root_rc(rc, err, errcap); /* rank 0 alone writes it; the others read it once it is there */
out:
    for (size_t i = 0; recs && i < r.n; i++) cJSON_Delete(recs[i]);
    free(recs);
    rollout_result_free(&r);
    return rc;
}

/* ---- DAPO's dynamic sampling with refill (loop.h) ---- */

/* A cycle's verified records: the base round's, then each refill round's (owned). */
typedef struct {
    cJSON **recs;
    size_t n, cap;
} recset;

static void recset_free(recset *rs) {
    for (size_t i = 0; i < rs->n; i++) cJSON_Delete(rs->recs[i]);
    free(rs->recs);
    memset(rs, 0, sizeof *rs);
}

static char *refill_path(char *out, size_t cap, const char *out_dir, int cycle, int round, bool verified) {
    snprintf(out, cap, "%s/cycle_%d_refill_%d_%s.jsonl", out_dir, cycle, round, verified ? "verified" : "samples");
    return out;
}

/* Appends the records of a verified file whose prompt is in ps; those of refill round `round` > 0 say so in
 * "refill_round". 0, or -1 with err. */
static int load_verified(const char *path, const bench_prompt_set *ps, int round, recset *rs, char *err,
                         size_t errcap) {
    jsonl_reader r;
    if (jsonl_open(&r, path) != 0) {
        err_set(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int jrc, rc = 0;
    cJSON *obj;
    char e[512];
    while ((jrc = jsonl_next(&r, &obj, e, sizeof e)) != 0) {
        if (jrc < 0) continue;
        if (bench_prompts_find(ps, json_get_str(obj, "prompt_id", "")) < 0) {
            cJSON_Delete(obj);
            continue;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "refill_round");
        if (rs->n == rs->cap) {
            size_t cap = rs->cap ? rs->cap * 2 : 64;
            cJSON **nr = realloc(rs->recs, cap * sizeof *nr);
            if (!nr) {
                cJSON_Delete(obj);
                rc = -1;
                break;
            }
            rs->recs = nr;
            rs->cap = cap;
        }
        rs->recs[rs->n++] = obj;
        if (round > 0 && !cJSON_AddNumberToObject(obj, "refill_round", round)) {
            rc = -1;
            break;
        }
    }
    jsonl_close(&r);
    if (rc) err_set(err, errcap, "raft: out of memory");
    return rc;
}

typedef struct {
    int wanted;                  /* groups with a learning signal the batch wants: the cycle's prompts */
    int sampled, signal;         /* groups sampled in every round; those whose rewards differ */
    int rounds, refill_groups;   /* refill rounds run; groups they sampled */
    int batch, dropped, refilled, surplus; /* the batch's groups; its equal-reward ones; its signal groups from
                                              refill rounds; groups after the batch, left out */
} dyn_summary;

typedef struct {
    int round, sidx;
    long prompt;
    double reward;
    size_t rec;
} dyn_item;

static int cmp_dyn(const void *a, const void *b) {
    const dyn_item *x = a, *y = b;
    if (x->round != y->round) return (x->round > y->round) - (x->round < y->round);
    if (x->prompt != y->prompt) return (x->prompt > y->prompt) - (x->prompt < y->prompt);
    return (x->sidx > y->sidx) - (x->sidx < y->sidx);
}

/* Groups the records (round, prompt) and fills d; with in_batch, marks the records of the batch. 0, or -1 when
 * out of memory. */
static int dyn_scan(const recset *rs, const bench_prompt_set *ps, int G, int wanted, bool *in_batch,
                    dyn_summary *d) {
    memset(d, 0, sizeof *d);
    d->wanted = wanted;
    dyn_item *it = malloc((rs->n + 1) * sizeof *it);
    if (!it) return -1;
    for (size_t i = 0; i < rs->n; i++)
        it[i] = (dyn_item){json_get_int(rs->recs[i], "refill_round", 0),
                           json_get_int(rs->recs[i], "sample_idx", -1),
                           bench_prompts_find(ps, json_get_str(rs->recs[i], "prompt_id", "")),
                           json_get_num(rs->recs[i], "reward", 0), i};
    qsort(it, rs->n, sizeof *it, cmp_dyn);
    int in = 0; /* signal groups in the batch so far */
    for (size_t i = 0; i < rs->n;) {
        size_t j = i;
        while (j < rs->n && it[j].round == it[i].round && it[j].prompt == it[i].prompt) j++;
        bool whole = (int)(j - i) == G, equal = true;
        for (size_t k = i; k < j; k++) {
            whole &= it[k].sidx == (int)(k - i);
            equal &= it[k].reward == it[i].reward;
        }
        const bool signal = whole && !equal;
        d->sampled++;
        d->signal += signal;
        if (it[i].round > d->rounds) d->rounds = it[i].round;
        d->refill_groups += it[i].round > 0;
        if (in >= wanted) {
            d->surplus++;
        } else {
            d->batch++;
            d->dropped += whole && equal;
            if (signal) {
                in++;
                d->refilled += it[i].round > 0;
            }
            for (size_t k = i; in_batch && k < j; k++) in_batch[it[k].rec] = true;
        }
        i = j;
    }
    free(it);
    return 0;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(size_t *a, size_t n, uint64_t *st) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(splitmix64(st) % i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Runs the refill rounds cycle c still needs (a round whose verified file exists is read, not sampled again; a
 * half-sampled one continues from its journal), adding their records to rs. 0, 1 cancelled, -1 error. */
static int refill_cycle(const raft_loop_options *o, const bench_prompt_set *ps, const size_t *sel, size_t nsel,
                        const char *prev, int cycle, recset *rs, raft_cycle_report *rep, char *err, size_t errcap) {
    const size_t np = ps->count;
    const int wanted = (int)nsel;
    size_t *order = malloc((np + 1) * sizeof *order), *pick = malloc((nsel + 1) * sizeof *pick), pos = 0;
    bool *chosen = calloc(np + 1, sizeof *chosen);
    int rc = -1;
    char spath[4300], vpath[4300];
    if (!order || !pick || !chosen) {
        err_set(err, errcap, "raft: out of memory");
        goto out;
    }
    size_t k0 = 0;
    for (size_t i = 0; i < nsel; i++) chosen[sel[i]] = true;
    for (size_t i = 0; i < np; i++)
        if (!chosen[i]) order[k0++] = i;
    for (size_t i = 0; i < nsel; i++) order[k0 + i] = sel[i];
    uint64_t st = o->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)cycle);
    shuffle(order, k0, &st);
    shuffle(order + k0, nsel, &st);
    for (int round = 1; round <= o->max_refill_rounds; round++) {
        dyn_summary d;
        if (dyn_scan(rs, ps, o->samples_per_prompt, wanted, NULL, &d)) {
            err_set(err, errcap, "raft: out of memory");
            goto out;
        }
        if (d.signal >= wanted) break;
        const long missing = wanted - d.signal;
        long k = d.signal > 0 ? (missing * d.sampled + d.signal - 1) / d.signal : wanted;
        if (k > wanted) k = wanted;
        for (long i = 0; i < k; i++) pick[i] = order[(pos + (size_t)i) % np];
        pos += (size_t)k;
        log_info("Cycle %d: %d of %d groups carry a learning signal, %d wanted; refill round %d: %ld more prompt%s",
                 cycle, d.signal, d.sampled, wanted, round, k, k == 1 ? "" : "s");
        refill_path(spath, sizeof spath, o->output_dir, cycle, round, false);
        refill_path(vpath, sizeof vpath, o->output_dir, cycle, round, true);
        if (!fs_exists(vpath)) {
            int g = sample_cycle(o, ps, pick, (size_t)k, prev, spath, vpath, cycle, round, rep, err, errcap);
            if (g != 0 || cancelled(o)) {
                rc = g < 0 ? -1 : 1;
                goto out;
            }
        }
        if (load_verified(vpath, ps, round, rs, err, errcap)) goto out;
    }
    rc = 0;
out:
    free(order);
    free(pick);
    free(chosen);
    return rc;
}

/* ---- training ---- */

/* Mean of the "loss" values of a trainer's metrics.jsonl (NAN when none). */
static double mean_loss(const char *metrics_path) {
    jsonl_reader r;
    if (jsonl_open(&r, metrics_path) != 0) return NAN;
    cJSON *obj;
    char e[256];
    int rc;
    double sum = 0;
    long cnt = 0;
    while ((rc = jsonl_next(&r, &obj, e, sizeof e)) != 0) {
        if (rc < 0) continue;
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, "loss");
        if (cJSON_IsNumber(l)) {
            sum += l->valuedouble;
            cnt++;
        }
        cJSON_Delete(obj);
    }
    jsonl_close(&r);
    return cnt ? sum / (double)cnt : NAN;
}

/* cycle_c/kept.jsonl: the kept samples' verified records, best first. */
static int write_kept(const char *cdir, cJSON *const *recs, const long *kept, long nk, char *err, size_t errcap) {
    char path[4400];
    snprintf(path, sizeof path, "%s/kept.jsonl", cdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        err_set(err, errcap, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    int bad = 0;
    for (long i = 0; i < nk; i++) bad |= jsonl_write(f, recs[kept[i]]);
    if (fclose(f) != 0 || bad) {
        err_set(err, errcap, "%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* cycle_c/train.jsonl (the kept samples as chat records) and kept.jsonl. 0, or -1 (err). */
static int write_train_data(const raft_loop_options *o, const char *cdir, const char *data_path, cJSON *const *recs,
                            const long *kept, long nk, char *err, size_t errcap) {
    FILE *f = NULL;
    if (fs_mkdirs(cdir) != 0) {
        err_set(err, errcap, "%s: cannot create: %s", cdir, strerror(errno));
        goto fail;
    }
    if (!(f = fopen(data_path, "w"))) {
        err_set(err, errcap, "%s: cannot write: %s", data_path, strerror(errno));
        goto fail;
    }
    for (long i = 0; i < nk; i++) {
        const cJSON *rec = recs[kept[i]];
        cJSON *d = cJSON_CreateObject(), *msgs = cJSON_AddArrayToObject(d, "messages");
        const char *roles[3] = {"system", "user", "assistant"};
        const char *texts[3] = {o->system_prompt, json_get_str(rec, "prompt", ""),
                                json_get_str(rec, "completion", "")};
        for (int k = (o->system_prompt && *o->system_prompt) ? 0 : 1; k < 3; k++) {
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "role", roles[k]);
            cJSON_AddStringToObject(m, "content", texts[k]);
            cJSON_AddItemToArray(msgs, m);
        }
        int wrc = jsonl_write(f, d);
        cJSON_Delete(d);
        if (wrc) {
            err_set(err, errcap, "%s: write failed: %s", data_path, strerror(errno));
            goto fail;
        }
    }
    if (fclose(f) != 0) {
        f = NULL;
        err_set(err, errcap, "%s: write failed: %s", data_path, strerror(errno));
        goto fail;
    }
    f = NULL;
    if (write_kept(cdir, recs, kept, nk, err, errcap)) goto fail;
    return 0;
fail:
    if (f) fclose(f);
    return -1;
}

/* Filters the verified samples (rs: the cycle's records, every round's; borrowed), trains on the kept ones (RL:
 * on the records in_batch marks, every record when NULL; dyn: dynamic sampling's figures, or NULL), writes
 * cycle_c_final/ and the cycle's statistics entry. 0 done, 1 cancelled, -1 error. */
static int train_cycle(const raft_loop_options *o, const bench_prompt_set *ps, int cycle, double threshold,
                       double keep, const char *verified_path, const recset *rs, const bool *in_batch,
                       const dyn_summary *dyn, const char *prev_adapter, raft_curriculum *cur,
                       raft_cycle_report *rep, char *err, size_t errcap) {
    int rc = -1;
    const size_t n = rs->n;
    cJSON *const *recs = rs->recs;
    cJSON **batch = NULL;
    raft_scored *sc = malloc((n + 1) * sizeof *sc);
    long *kept = NULL;
    FILE *f = NULL;
    cJSON *entry = NULL;
    if (!sc) {
        err_set(err, errcap, "raft: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sc[i].prompt = bench_prompts_find(ps, json_get_str(recs[i], "prompt_id", ""));
        sc[i].reward = json_get_num(recs[i], "reward", 0);
        sc[i].success = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(recs[i], "success"));
    }

    raft_filter_cfg fc = o->filter;
    fc.reward_threshold = threshold;
    fc.keep_percent = keep;
    raft_filter_stats fst;
    long nk = raft_filter(sc, (long)n, &fc, &kept, &fst);
    if (nk < 0) {
        err_set(err, errcap, "raft: cannot filter (keep fraction %g, or out of memory)", keep);
        goto out;
    }
    long compiled = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_get_str(recs[i], "status", "");
        compiled += strcmp(s, "compile_error") != 0 && strcmp(s, "sandbox_error") != 0;
    }
    rep->samples = (long)n;
    rep->kept = nk;
    rep->success_rate = fst.success_rate;
    rep->avg_reward = fst.avg_reward;
    rep->compile_rate = n ? (double)compiled / (double)n : 0;
    rep->train_loss = NAN;
    log_info("Cycle %d: %ld samples, %.1f%% succeeded, mean reward %.3f; kept %ld (threshold %.2f, keep %.0f%%)",
             cycle, (long)n, 100 * fst.success_rate, fst.avg_reward, nk, threshold, 100 * keep);

    char cdir[4200], data_path[4400], final_dir[4200], path[4400];
    snprintf(cdir, sizeof cdir, "%s/cycle_%d", o->output_dir, cycle);
    raft_cycle_path(final_dir, sizeof final_dir, o->output_dir, cycle, RAFT_FILE_FINAL);
    const double lr = raft_cycle_lr(o->learning_rate, o->lr_decay, cycle, o->min_lr);
    rep->learning_rate = lr;
    double t0 = time_now();
    rl_update_report rr = {0};
    if (o->algorithm != RL_RAFT) {
        rl_cycle_opts co = {.model_dir = o->model_dir, .prev = prev_adapter, .full_finetune = o->full_finetune,
                            .lora_rank = o->lora_rank, .lora_alpha = o->lora_alpha, .system_prompt = o->system_prompt,
                            .verified_path = verified_path, .cycle_dir = cdir, .final_dir = final_dir,
                            .samples_per_prompt = o->samples_per_prompt, .update = o->rl,
                            .backend = o->train_backend};
        co.update.obj.algo = o->algorithm;
        co.update.learning_rate = lr;
        co.update.temperature = o->temperature;
        co.update.seed = o->seed + (uint64_t)cycle;
        co.update.cycle = cycle;
        co.update.cancel = o->cancel;
        co.update.sampling_tokens_per_s = rep->gen_seconds > 0 ? (double)rep->generated_tokens / rep->gen_seconds : NAN;
        co.update.groups_refilled = dyn ? dyn->refilled : 0;
        size_t nb = 0;
        if (!(batch = malloc((n + 1) * sizeof *batch))) {
            err_set(err, errcap, "raft: out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            if (!in_batch || in_batch[i]) batch[nb++] = recs[i];
        if (dyn)
            log_info("Cycle %d: dynamic sampling: %d of %d groups in the batch carry a learning signal (%d wanted); "
                     "%d dropped (rewards all equal), %d refilled from %d prompts in %d refill round%s, %d surplus "
                     "left out",
                     cycle, dyn->batch - dyn->dropped, dyn->batch, dyn->wanted, dyn->dropped, dyn->refilled,
                     dyn->refill_groups, dyn->rounds, dyn->rounds == 1 ? "" : "s", dyn->surplus);
        log_info("Cycle %d: %s update on %ld samples, learning rate %.3g", cycle, rl_algo_name(o->algorithm), (long)nb,
                 lr);
        int r = rl_cycle_train(&co, batch, nb, &rr, err, errcap);
        if (r) {
            if (r == 1 || cancelled(o)) rc = 1;
            goto out;
        }
        rep->train_steps = rr.steps;
        rep->train_loss = rr.loss;
        rep->kept = rr.samples_used;
        log_info("Cycle %d: %ld optimizer steps (%ld skipped) on %ld samples of %d/%d groups; clip fraction %.3f, "
                 "entropy %.3f, sampler/trainer log-prob mismatch max %.2g mean %.2g",
                 cycle, rr.steps, rr.skipped_steps, rr.samples_used, rr.groups_used, rr.groups, rr.clip_fraction,
                 rr.entropy, rr.mismatch_max, rr.mismatch_mean);
    } else if (nk == 0) {
        log_warn("Cycle %d: no sample kept; the weights stay as they were", cycle);
        int crc = 0;
        if (dist_is_root())
            crc = o->full_finetune ? carry_model(prev_adapter ? prev_adapter : o->model_dir, final_dir, err, errcap)
                                   : carry_adapter(o, prev_adapter, final_dir, err, errcap);
        if (dist_root_rc(crc, err, errcap)) goto out;
    } else {
        snprintf(data_path, sizeof data_path, "%s/train.jsonl", cdir);
        /* rank 0 alone writes the training data; the others read it once it is there */
        if (dist_root_rc(dist_is_root() ? write_train_data(o, cdir, data_path, recs, kept, nk, err, errcap) : 0, err,
                         errcap))
            goto out;
        train_options to;
        train_options_default(&to);
        /* full: cycle c trains the weights cycle c-1 left (cycle 1: the base, with --checkpoint's adapter
           merged when one is given) */
        to.model_dir = o->full_finetune && prev_adapter ? prev_adapter : o->model_dir;
        to.data_path = data_path;
        to.output_dir = cdir;
        to.epochs = o->epochs;
        to.batch_size = o->batch_size;
        to.grad_accum = o->grad_accum;
        to.learning_rate = (float)lr;
        const long steps = raft_cycle_steps(nk, o->batch_size, o->grad_accum, o->epochs);
        to.warmup_steps = raft_cycle_warmup(o->warmup_steps, steps);
        to.warmup_ratio = 0;
        to.scheduler = SCHED_LINEAR;
        to.weight_decay = 0;
        to.max_grad_norm = 1.0f;
        to.lora.rank = o->full_finetune ? 0 : o->lora_rank;
        to.lora.alpha = o->lora_alpha;
        to.lora.dropout = o->lora_dropout;
        to.lora.targets = LORA_ALL_TARGETS;
        to.save_steps = 0;
        to.eval_steps = 0;
        to.early_stopping_patience = 0;
        to.validation_split = 0;
        to.max_seq_len = o->max_seq_len;
        to.seed = o->seed + (uint64_t)cycle;
        to.init_adapter = o->full_finetune ? NULL : prev_adapter;
        to.cancel = o->cancel;
        to.backend = o->train_backend;
        rep->train_steps = steps;
        log_info("Cycle %d: training on %ld samples, %ld optimizer step%s, learning rate %.3g", cycle, nk, steps,
                 steps == 1 ? "" : "s", lr);
        if (train_run(&to, err, errcap) != 0) {
            if (cancelled(o)) rc = 1;
            goto out;
        }
        snprintf(path, sizeof path, "%s/final_model", cdir);
        int mrc = 0;
        if (dist_is_root()) { /* rank 0 alone saved it */
            fs_remove_tree(final_dir);
            if (rename(path, final_dir) != 0) {
                err_set(err, errcap, "%s: cannot rename %s into place: %s", final_dir, path, strerror(errno));
                mrc = -1;
            }
        }
        if (dist_root_rc(mrc, err, errcap)) goto out;
        snprintf(path, sizeof path, "%s/metrics.jsonl", cdir); /* complete now: rank 0 wrote it */
        rep->train_loss = mean_loss(path);
    }
    rep->train_seconds = time_now() - t0;

    raft_curriculum_record_samples(cur, sc, (long)n);
    entry = cJSON_CreateObject();
    cJSON_AddNumberToObject(entry, "cycle", cycle);
    cJSON_AddNumberToObject(entry, "elapsed_minutes", (rep->gen_seconds + rep->verify_seconds + rep->train_seconds) / 60);
    raft_filter_stats_to_json(&fst, entry);
    if (o->algorithm != RL_RAFT) { /* every sample is trained on: "kept" is what entered the loss */
        cJSON_ReplaceItemInObjectCaseSensitive(entry, "kept", cJSON_CreateNumber((double)rr.samples_used));
        cJSON_AddStringToObject(entry, "algorithm", rl_algo_name(o->algorithm));
        cJSON *j = cJSON_AddObjectToObject(entry, "rl");
        const struct { const char *k; double v; } f[] = {
            {"optimizer_steps", (double)rr.steps}, {"skipped_steps", (double)rr.skipped_steps},
            {"groups", rr.groups}, {"groups_used", rr.groups_used}, {"samples_used", (double)rr.samples_used},
            {"loss_tokens", (double)rr.tokens_used}, {"mean_reward", rr.mean_reward}, {"reward_std", rr.reward_std},
            {"zero_std_group_fraction", rr.zero_std_fraction}, {"groups_dropped", rr.groups_dropped},
            {"groups_refilled", dyn ? dyn->refilled : 0}, {"groups_wanted", dyn ? dyn->wanted : rr.groups},
            {"groups_sampled", dyn ? dyn->sampled : rr.groups}, {"groups_surplus", dyn ? dyn->surplus : 0},
            {"refill_rounds", dyn ? dyn->rounds : 0}, {"refill_groups_sampled", dyn ? dyn->refill_groups : 0},
            {"response_length", rr.response_length},
            {"clipped_length_ratio", rr.clipped_length_ratio}, {"loss", rr.loss}, {"clip_fraction", rr.clip_fraction},
            {"kl", rr.kl}, {"entropy", rr.entropy}, {"logprob_mismatch_max", rr.mismatch_max},
            {"logprob_mismatch_mean", rr.mismatch_mean}, {"ratio_deviation_max", rr.ratio_dev_max},
            {"training_tokens_per_s", rr.train_tokens_per_s}};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            if (isfinite(f[i].v)) cJSON_AddNumberToObject(j, f[i].k, f[i].v);
            else cJSON_AddNullToObject(j, f[i].k);
        }
    }
    cJSON_AddNumberToObject(entry, "learning_rate", lr);
    cJSON_AddNumberToObject(entry, "temperature", o->temperature);
    cJSON_AddNumberToObject(entry, "reward_threshold", threshold);
    cJSON_AddNumberToObject(entry, "keep_percent", keep);
    cJSON_AddNumberToObject(entry, "compile_rate", rep->compile_rate);
    cJSON_AddNumberToObject(entry, "train_steps", (double)rep->train_steps);
    if (isnan(rep->train_loss)) cJSON_AddNullToObject(entry, "train_loss");
    else cJSON_AddNumberToObject(entry, "train_loss", rep->train_loss);
    cJSON_AddNumberToObject(entry, "generation_time_s", rep->gen_seconds);
    cJSON_AddNumberToObject(entry, "verification_time_s", rep->verify_seconds);
    cJSON_AddNumberToObject(entry, "training_time_s", rep->train_seconds);
    cJSON_AddNumberToObject(entry, "generated_tokens", (double)rep->generated_tokens);
    fs_join(path, sizeof path, o->output_dir, "raft_statistics.json");
    int src = dist_is_root() ? raft_statistics_put(path, entry, err, errcap) : 0;
    char tberr[512]; /* the TensorBoard view of the statistics; the JSON stays the record */
    if (!src && dist_is_root() && tblog_raft(o->output_dir, tberr, sizeof tberr))
        log_warn("%s (TensorBoard events not updated)", tberr);
    if (dist_root_rc(src, err, errcap)) goto out;
    rc = 0;
out:
    if (f) fclose(f);
    cJSON_Delete(entry);
    free(batch);
    free(sc);
    free(kept);
    return rc;
}

/* ---- the loop ---- */

/* Adds a verified file's samples to the curriculum's per-prompt record. */
static int record_verified(raft_curriculum *cur, const bench_prompt_set *ps, const char *path, char *err,
                           size_t errcap) {
    jsonl_reader r;
    if (jsonl_open(&r, path) != 0) {
        err_set(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    cJSON *obj;
    char e[512];
    int rc;
    while ((rc = jsonl_next(&r, &obj, e, sizeof e)) != 0) {
        if (rc < 0) continue;
        long pi = bench_prompts_find(ps, json_get_str(obj, "prompt_id", ""));
        if (pi >= 0) raft_curriculum_record(cur, (size_t)pi, 1, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "success")));
        cJSON_Delete(obj);
    }
    jsonl_close(&r);
    return 0;
}

/* The rank and alpha of an adapter folder's adapter_config.json. */
static int adapter_shape(const char *dir, int *rank, float *alpha, char *err, size_t errcap) {
    char path[4200];
    fs_join(path, sizeof path, dir, "adapter_config.json");
    char *text = fs_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    double r = j ? json_get_num(j, "r", -1) : -1, al = j ? json_get_num(j, "lora_alpha", -1) : -1;
    cJSON_Delete(j);
    if (r < 1 || al < 0) {
        err_set(err, errcap, "%s: unreadable, or no \"r\" / \"lora_alpha\"", path);
        return -1;
    }
    *rank = (int)r;
    *alpha = (float)al;
    return 0;
}

int raft_loop_run(const raft_loop_options *opt, const raft_loop_hooks *hooks, char *err, size_t errcap) {
    raft_loop_options oo = *opt;
    const raft_loop_options *o = &oo;
    if (oo.init_adapter && adapter_shape(oo.init_adapter, &oo.lora_rank, &oo.lora_alpha, err, errcap)) return -1;
    bench_prompt_set own = {0};
    const bench_prompt_set *psp = o->prompts ? o->prompts : &own;
    raft_curriculum cur = {0};
    size_t *sel = NULL;
    recset rs = {0};
    bool *in_batch = NULL;
    cJSON *hist = NULL;
    int rc = -1;
    char path[4400], samples_path[4200], verified_path[4200], prev_final[4200];
    if (o->cycles < 1 || o->samples_per_prompt < 1) {
        err_set(err, errcap, "raft: cycles and samples per prompt must be at least 1");
        return -1;
    }
    if (o->max_refill_rounds < 0 || o->max_refill_rounds > RAFT_MAX_REFILL_ROUNDS) {
        err_set(err, errcap, "raft: refill rounds must be within 0..%d", RAFT_MAX_REFILL_ROUNDS);
        return -1;
    }
    if (fs_mkdirs(o->output_dir) != 0) {
        err_set(err, errcap, "%s: cannot create: %s", o->output_dir, strerror(errno));
        return -1;
    }
    if (!o->prompts && bench_prompts_load(o->prompts_path, &own, err, errcap)) return -1;
    const char **texts = malloc(psp->count * sizeof *texts);
    sel = malloc(psp->count * sizeof *sel);
    if (!texts || !sel) {
        free(texts);
        err_set(err, errcap, "raft: out of memory");
        goto out;
    }
    for (size_t i = 0; i < psp->count; i++) texts[i] = psp->items[i].prompt;
    int crc = raft_curriculum_init(&cur, o->curriculum, texts, psp->count);
    free(texts);
    if (crc) {
        err_set(err, errcap, "raft: out of memory");
        goto out;
    }
    cur.start = o->curriculum_start;
    cur.increment = o->curriculum_increment;
    if (o->curriculum_stats && raft_curriculum_load(&cur, o->curriculum_stats, false, err, errcap) < 0) goto out;
    raft_shaper sh;
    raft_shaper_init(&sh, o->shaping, o->filter.reward_threshold, o->filter.keep_percent, o->cycles);
    /* replay finished cycles into the adaptive shaper */
    fs_join(path, sizeof path, o->output_dir, "raft_statistics.json");
    if (!(hist = raft_statistics_load(path, err, errcap))) goto out;
    const cJSON *h;
    cJSON_ArrayForEach(h, hist) {
        int c = json_get_int(h, "cycle", 0);
        if (c < 1 || c > o->cycles || !raft_cycle_trained(o->output_dir, c)) continue;
        /* the per-prompt record is rebuilt from the finished cycles' verified samples, so a cycle
           that is redone after a crash is never counted twice */
        raft_cycle_path(verified_path, sizeof verified_path, o->output_dir, c, RAFT_FILE_VERIFIED);
        if (record_verified(&cur, psp, verified_path, err, errcap)) goto out;
        for (int r = 1; r <= RAFT_MAX_REFILL_ROUNDS; r++) /* DAPO's refill samples are the cycle's too */
            if (fs_exists(refill_path(path, sizeof path, o->output_dir, c, r, true)) &&
                record_verified(&cur, psp, path, err, errcap))
                goto out;
        raft_curriculum_update(&cur, c, json_get_num(h, "success_rate", 0));
        raft_shaper_update(&sh, c, json_get_long(h, "kept", 0), json_get_num(h, "success_rate", 0));
    }

    for (int c = 1; c <= o->cycles; c++) {
        raft_cycle_report rep = {.cycle = c, .train_loss = NAN};
        const char *prev = o->init_adapter;
        if (c > 1) prev = raft_cycle_path(prev_final, sizeof prev_final, o->output_dir, c - 1, RAFT_FILE_FINAL);
        if (raft_cycle_trained(o->output_dir, c)) {
            log_info("Cycle %d: already done, skipped", c);
            continue;
        }
        if (hooks && hooks->begin) hooks->begin(hooks->user, c);
        double thr, keep;
        raft_shaper_values(&sh, c, &thr, &keep);
        size_t nsel = raft_curriculum_select(&cur, c, sel);
        raft_cycle_path(samples_path, sizeof samples_path, o->output_dir, c, RAFT_FILE_SAMPLES);
        raft_cycle_path(verified_path, sizeof verified_path, o->output_dir, c, RAFT_FILE_VERIFIED);
        raft_cycle_state st;
        if (raft_resume_cycle(o->output_dir, c, (long)nsel * o->samples_per_prompt, &st, err, errcap)) goto out;
        log_info("Cycle %d/%d: %zu prompt%s, stage %s", c, o->cycles, nsel, nsel == 1 ? "" : "s",
                 raft_stage_name(st.stage));
        if (st.stage <= RAFT_STAGE_VERIFY) {
            /* refill rounds follow from the verified base round: any left from other samples are stale */
            for (int r = 1; r <= RAFT_MAX_REFILL_ROUNDS && dist_is_root(); r++) {
                unlink(refill_path(path, sizeof path, o->output_dir, c, r, false));
                unlink(refill_path(path, sizeof path, o->output_dir, c, r, true));
            }
            int g = sample_cycle(o, psp, sel, nsel, prev, samples_path, verified_path, c, 0, &rep, err, errcap);
            if (g != 0 || cancelled(o)) {
                rc = g < 0 ? -1 : 1;
                goto out;
            }
        }
        if (load_verified(verified_path, psp, 0, &rs, err, errcap)) goto out;
        const bool dynamic = o->algorithm != RL_RAFT && o->rl.drop_equal_groups;
        dyn_summary dyn;
        if (dynamic) {
            int g = refill_cycle(o, psp, sel, nsel, prev, c, &rs, &rep, err, errcap);
            if (g != 0 || cancelled(o)) {
                rc = g < 0 ? -1 : 1;
                goto out;
            }
            if (!(in_batch = calloc(rs.n + 1, sizeof *in_batch)) ||
                dyn_scan(&rs, psp, o->samples_per_prompt, (int)nsel, in_batch, &dyn)) {
                err_set(err, errcap, "raft: out of memory");
                goto out;
            }
        }
        int t = train_cycle(o, psp, c, thr, keep, verified_path, &rs, in_batch, dynamic ? &dyn : NULL, prev, &cur,
                            &rep, err, errcap);
        recset_free(&rs);
        free(in_batch);
        in_batch = NULL;
        if (t != 0) {
            rc = t;
            goto out;
        }
        raft_curriculum_update(&cur, c, rep.success_rate);
        raft_shaper_update(&sh, c, rep.kept, rep.success_rate);
        fs_join(path, sizeof path, o->output_dir, "curriculum_stats.json");
        if (dist_root_rc(dist_is_root() ? raft_curriculum_save(&cur, path, err, errcap) : 0, err, errcap)) goto out;
        if (hooks && hooks->end && hooks->end(hooks->user, &rep, err, errcap)) goto out;
        if (cancelled(o)) {
            rc = 1;
            goto out;
        }
    }
    rc = 0;
out:
    recset_free(&rs);
    free(in_batch);
    cJSON_Delete(hist);
    free(sel);
    raft_curriculum_free(&cur);
    bench_prompts_free(&own);
    return rc;
}
