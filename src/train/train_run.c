#include "train/train_run.h"
#include "model/lora_apply.h"
#include "core/err.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timing.h"
#include "plot/tfevents.h"
#include "tokenizer/tokenizer.h"
#include "train/data.h"
#include "train/opt_adamw.h"
#include "dist/dist.h"
#include "dist/dist_train.h"

#define STATE_MAGIC "HFTRAIN1"

void train_options_default(train_options *o) {
    *o = (train_options){
        .output_dir = "models/sft", .epochs = 3, .batch_size = 2, .grad_accum = 16, .learning_rate = 2e-4f,
        .warmup_ratio = 0.03f, .scheduler = SCHED_COSINE, .weight_decay = 0.01f, .max_grad_norm = 0.3f,
        .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
        .lora = {.rank = 16, .alpha = 32, .dropout = 0.05f, .targets = LORA_ALL_TARGETS},
        .save_steps = 500, .eval_steps = 250, .save_total_limit = 3, .early_stopping_patience = 5,
        .early_stopping_threshold = 0.001f, .validation_split = 0.05, .max_seq_len = 2048,
        .gradient_checkpointing = true, .shuffle = true, .fast_matmul = true, .seed = 42,
    };
}

/* What a checkpoint must carry besides the weights. */
typedef struct {
    long step;
    double best_eval;
    long bad_evals;
} run_state;

static void log_warn_cb(void *ctx, const char *msg) {
    (void)ctx;
    log_warn("%s", msg);
}

/* n floats of backend memory p to f: written in place on the CPU, through a host buffer of a few MiB from a
 * device. False on a write or device error. */
enum { IO_CHUNK = 1 << 22 };
static bool write_floats(FILE *f, bk_backend *bk, const float *p, size_t n) {
    if (bk->host_memory) return fwrite(p, sizeof(float), n, f) == n;
    float *buf = malloc((n < IO_CHUNK ? (n ? n : 1) : IO_CHUNK) * sizeof(float));
    bool ok = buf != NULL;
    for (size_t i = 0; ok && i < n; i += IO_CHUNK) {
        size_t c = n - i < IO_CHUNK ? n - i : IO_CHUNK;
        ok = bk->op.download(bk, buf, p + i, c * sizeof(float)) == 0 && fwrite(buf, sizeof(float), c, f) == c;
    }
    free(buf);
    return ok;
}
static bool read_floats(FILE *f, bk_backend *bk, float *p, size_t n) {
    if (bk->host_memory) return fread(p, sizeof(float), n, f) == n;
    float *buf = malloc((n < IO_CHUNK ? (n ? n : 1) : IO_CHUNK) * sizeof(float));
    bool ok = buf != NULL;
    for (size_t i = 0; ok && i < n; i += IO_CHUNK) {
        size_t c = n - i < IO_CHUNK ? n - i : IO_CHUNK;
        ok = fread(buf, sizeof(float), c, f) == c && bk->op.upload(bk, p + i, buf, c * sizeof(float)) == 0;
    }
    free(buf);
    return ok;
}

/* Streamed to PATH.tmp and renamed (the moments and parameters of a full model are gigabytes: no copy). The
 * parameters come from the host mirror (the weights were just saved from it: train_model_pull), the moments
 * from wherever the optimizer keeps them. */
static int write_state(const char *path, const run_state *rs, const opt_adamw *o, train_model *m, char *err,
                       size_t errcap) {
    size_t n;
    if (train_model_pull(m, err, errcap)) return -1;
    const float *p = train_model_host_params(m, &n);
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) { err_set(err, errcap, "%s: cannot write: %s", tmp, strerror(errno)); return -1; }
    int64_t h[4] = {rs->step, rs->bad_evals, (int64_t)n, o->step};
    bool ok = fwrite(STATE_MAGIC, 1, 8, f) == 8 && fwrite(h, sizeof h, 1, f) == 1 &&
              write_floats(f, o->bk, o->m, n) && write_floats(f, o->bk, o->v, n) &&
              fwrite(p, sizeof(float), n, f) == n;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path)) {
        remove(tmp);
        err_set(err, errcap, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int read_state(const char *dir, run_state *rs, opt_adamw *o, train_model *m, char *err, size_t errcap) {
    char path[4096], jpath[4096];
    fs_join(path, sizeof path, dir, "trainer_state.bin");
    size_t n;
    float *p = train_model_host_params(m, &n);
    FILE *f = fopen(path, "rb");
    if (!f) { err_set(err, errcap, "%s: cannot read: %s", path, strerror(errno)); return -1; }
    char magic[8];
    int64_t h[4];
    long want = (long)(8 + sizeof h + 3 * n * sizeof(float));
    bool ok = fseek(f, 0, SEEK_END) == 0 && ftell(f) == want && fseek(f, 0, SEEK_SET) == 0 &&
              fread(magic, 1, 8, f) == 8 && !memcmp(magic, STATE_MAGIC, 8) && fread(h, sizeof h, 1, f) == 1 &&
              (size_t)h[2] == n;
    if (!ok) {
        fclose(f);
        err_set(err, errcap, "%s: not a training state of this model and these settings (size, magic or parameter "
               "count differs)", path);
        return -1;
    }
    ok = read_floats(f, o->bk, o->m, n) && read_floats(f, o->bk, o->v, n) && fread(p, sizeof(float), n, f) == n;
    fclose(f);
    if (!ok) {
        err_set(err, errcap, "%s: short read%s%s", path, o->bk->host_memory ? "" : " or device error: ",
                o->bk->host_memory ? "" : o->bk->err);
        return -1;
    }
    if (train_model_push(m, err, errcap)) return -1;
    o->step = h[3];
    rs->step = h[0];
    rs->bad_evals = h[1];
    /* best eval loss is kept as text in training_config.json (exact with %.17g) */
    fs_join(jpath, sizeof jpath, dir, "training_config.json");
    char *text = fs_read_file(jpath, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    rs->best_eval = j ? json_get_num(j, "best_eval_loss", INFINITY) : INFINITY;
    if (j && cJSON_IsNull(cJSON_GetObjectItem(j, "best_eval_loss"))) rs->best_eval = INFINITY;
    cJSON_Delete(j);
    return 0;
}

static int write_config_json(const char *path, const train_options *o, const run_state *rs, long total_steps,
                             char *err, size_t errcap) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", o->model_dir);
    cJSON_AddStringToObject(j, "data", o->data_path);
    cJSON_AddNumberToObject(j, "global_step", (double)rs->step);
    cJSON_AddNumberToObject(j, "total_steps", (double)total_steps);
    if (isfinite(rs->best_eval)) {
        char num[64];
        snprintf(num, sizeof num, "%.17g", rs->best_eval);
        cJSON_AddRawToObject(j, "best_eval_loss", num);
    } else {
        cJSON_AddNullToObject(j, "best_eval_loss");
    }
    cJSON_AddNumberToObject(j, "epochs", o->epochs);
    cJSON_AddNumberToObject(j, "batch_size", o->batch_size);
    cJSON_AddNumberToObject(j, "gradient_accumulation", o->grad_accum);
    cJSON_AddNumberToObject(j, "learning_rate", o->learning_rate);
    cJSON_AddStringToObject(j, "lr_scheduler", sched_name(o->scheduler));
    cJSON_AddNumberToObject(j, "warmup_ratio", o->warmup_ratio);
    cJSON_AddNumberToObject(j, "warmup_steps", (double)o->warmup_steps);
    cJSON_AddNumberToObject(j, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(j, "max_grad_norm", o->max_grad_norm);
    cJSON_AddNumberToObject(j, "lora_rank", o->lora.rank);
    cJSON_AddNumberToObject(j, "lora_alpha", o->lora.alpha);
    cJSON_AddNumberToObject(j, "lora_dropout", o->lora.dropout);
    cJSON_AddNumberToObject(j, "max_seq_length", o->max_seq_len);
    cJSON_AddNumberToObject(j, "validation_split", o->validation_split);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddBoolToObject(j, "shuffle", o->shuffle);
    cJSON_AddBoolToObject(j, "train_on_prompt", o->train_on_prompt);
    cJSON_AddStringToObject(j, "matmul", o->fast_matmul ? "fast" : "exact");
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = text ? fs_write_atomic(path, text, strlen(text)) : -1;
    free(text);
    if (rc) err_set(err, errcap, "%s: cannot write", path);
    return rc;
}

static int save_weights(train_model *m, const char *dir, const char *base_name, char *err, size_t errcap) {
    if (train_model_lora(m)->rank > 0) return train_model_save_adapter(m, dir, base_name, err, errcap);
    return train_model_save_full(m, dir, false, err, errcap);
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Removes the oldest checkpoint-N folders beyond limit. */
static void prune_checkpoints(const char *out, int limit) {
    if (limit <= 0) return;
    DIR *d = opendir(out);
    if (!d) return;
    long steps[4096];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        char *end;
        if (strncmp(e->d_name, "checkpoint-", 11)) continue;
        long s = strtol(e->d_name + 11, &end, 10);
        if (*end || end == e->d_name + 11) continue;
        steps[n++] = s;
    }
    closedir(d);
    qsort(steps, (size_t)n, sizeof(long), cmp_long);
    for (int i = 0; i + limit < n; i++) {
        char name[64], path[4096];
        snprintf(name, sizeof name, "checkpoint-%ld", steps[i]);
        fs_join(path, sizeof path, out, name);
        if (fs_remove_tree(path)) log_warn("%s: cannot remove old checkpoint", path);
        else log_debug("removed %s (--save-total-limit %d)", path, limit);
    }
}

/* True when every trainable weight is a finite number. Checked before anything is saved, so a diverged
 * run never writes NaN or Inf weights over (or next to) the good ones. */
static bool params_finite(train_model *m) {
    size_t n;
    const float *p = train_model_params(m, &n);
    bk_backend *bk = train_model_backend(m);
    /* the sum of squares of finite floats is finite in double (at most 2^256 per element), so it is finite exactly
     * when every weight is; one reduction where the weights are */
    return isfinite(bk->op.sumsq(bk, p, n));
}

/* The message of a run stopped because the numbers blew up: what, at which step, the likely cause and
 * what is left on disk. last_good is the newest folder saved by this run ("" when none). */
static void diverged(char *err, size_t errcap, const train_options *o, long step, const char *what,
                     const char *last_good) {
    err_set(err, errcap,
            "train: %s at step %ld: the training diverged (is --learning-rate %g too high?); stopped without "
            "saving it; %s%s",
            what, step, (double)o->learning_rate, last_good[0] ? "the last good checkpoint is " : "no checkpoint was saved by this run",
            last_good);
}

static int save_checkpoint(train_model *m, const train_options *o, const char *base_name, const run_state *rs,
                           const opt_adamw *opt, long total_steps, const char *name, char *err, size_t errcap) {
    if (!dist_is_root()) return 0;
    char dir[4096], tmp[4200], path[4300];
    fs_join(dir, sizeof dir, o->output_dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    if (fs_exists(tmp)) fs_remove_tree(tmp);
    if (fs_mkdirs(tmp)) { err_set(err, errcap, "%s: cannot create folder", tmp); return -1; }
    /* a failure (a full disk) leaves the earlier folder of that name, if any, as it was */
    if (save_weights(m, tmp, base_name, err, errcap)) goto fail;
    if (getenv("HF_TRAIN_TEST_KILL_IN_SAVE")) raise(SIGKILL); /* test hook: a hard kill while a checkpoint is written */
    snprintf(path, sizeof path, "%s/trainer_state.bin", tmp);
    if (write_state(path, rs, opt, m, err, errcap)) goto fail;
    snprintf(path, sizeof path, "%s/training_config.json", tmp);
    if (write_config_json(path, o, rs, total_steps, err, errcap)) goto fail;
    if (fs_replace_dir(tmp, dir)) { err_set(err, errcap, "%s: cannot rename to %s: %s", tmp, dir, strerror(errno)); goto fail; }
    return 0;
fail:
    fs_remove_tree(tmp);
    return -1;
}

/* best_model/: the weights (and tokenizer files) at the evaluation with the best eval_loss so far, with
 * best_eval.json {"step", "eval_loss"}; written to best_model.tmp and renamed like a checkpoint. */
static int save_best(train_model *m, const train_options *o, const char *base_name, long step, double eval_loss,
                     char *err, size_t errcap) {
    if (!dist_is_root()) return 0;
    char dir[4096], tmp[4200], path[4300], text[128];
    fs_join(dir, sizeof dir, o->output_dir, "best_model");
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    if (fs_exists(tmp)) fs_remove_tree(tmp);
    if (fs_mkdirs(tmp)) { err_set(err, errcap, "%s: cannot create folder", tmp); return -1; }
    if (save_weights(m, tmp, base_name, err, errcap)) goto fail;
    snprintf(path, sizeof path, "%s/best_eval.json", tmp);
    int n = snprintf(text, sizeof text, "{\"step\": %ld, \"eval_loss\": %.6f}\n", step, eval_loss);
    if (fs_write_atomic(path, text, (size_t)n)) { err_set(err, errcap, "%s: cannot write: %s", path, strerror(errno)); goto fail; }
    if (fs_replace_dir(tmp, dir)) { err_set(err, errcap, "%s: cannot rename to %s: %s", tmp, dir, strerror(errno)); goto fail; }
    return 0;
fail:
    fs_remove_tree(tmp);
    return -1;
}

/* Keeps the metrics lines of steps <= last_step (a resumed run rewrites what came after). */
static int trim_metrics(const char *path, long last_step) {
    size_t len;
    char *text = fs_read_file(path, &len);
    if (!text) return 0;
    char *out = malloc(len + 1);
    if (!out) { free(text); return -1; }
    size_t w = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line + 1) : strlen(line);
        char save = line[ll - (nl ? 1 : 0)];
        line[ll - (nl ? 1 : 0)] = 0;
        cJSON *j = cJSON_Parse(line);
        line[ll - (nl ? 1 : 0)] = save;
        if (j && json_get_num(j, "step", 1e18) <= (double)last_step) {
            memcpy(out + w, line, ll);
            w += ll;
        }
        cJSON_Delete(j);
        line += ll;
    }
    int rc = fs_write_atomic(path, out, w);
    free(out);
    free(text);
    return rc;
}

static double evaluate(train_model *m, const data_set *val, int bs, data_batch *db, char *err, size_t errcap) {
    int *order = malloc((size_t)val->n * sizeof(int));
    if (!order) { err_set(err, errcap, "out of memory"); return NAN; }
    data_epoch_order(order, val->n, 0, 0, false);
    double sum = 0;
    long cnt = 0;
    for (int i = 0; i < val->n; i += bs) {
        int c = val->n - i < bs ? val->n - i : bs;
        double nll;
        long nt;
        if (data_make_batch(db, val, order, i, c) || train_model_eval(m, &db->b, &nll, &nt, err, errcap)) {
            free(order);
            return NAN;
        }
        sum += nll;
        cnt += nt;
    }
    free(order);
    return cnt ? sum / (double)cnt : NAN;
}

int train_run(const train_options *o, char *err, size_t errcap) {
    int rc = -1;
    tokenizer *tok = NULL;
    train_model *m = NULL;
    data_set train = {0}, val = {0};
    data_batch db = {0};
    opt_adamw opt = {0};
    int *order = NULL;
    FILE *metrics = NULL;
    tfev_writer *tb = NULL; /* output_dir/tensorboard: the metrics lines as TensorBoard scalars */
    progress prog;
    bool prog_on = false;

    if (o->batch_size < 1 || o->grad_accum < 1 || o->epochs < 1 || o->max_seq_len < 2 || o->learning_rate <= 0) {
        err_set(err, errcap, "train: batch size, accumulation and epochs must be >= 1, max sequence length >= 2, "
                            "learning rate > 0");
        return -1;
    }
    /* The model: a plain folder, or an adapter folder applied to its base (which may be an adapter too). */
    char base_dir[4096], tok_dir[4096], tpath[4096];
    int is_adapter = train_adapter_base(o->model_dir, base_dir, sizeof base_dir, err, errcap);
    if (is_adapter < 0) return -1;
    if (!is_adapter) {
        fs_join(tpath, sizeof tpath, o->model_dir, "config.json");
        if (!fs_exists(tpath)) {
            err_set(err, errcap, "%s: not a model folder (no config.json)%s", o->model_dir,
                    fs_is_dir(o->model_dir) ? ""
                                            : "; give a local folder (Hugging Face ids are not downloaded by sft train)");
            return -1;
        }
    }
    if (model_tokenizer_dir(o->model_dir, tok_dir, sizeof tok_dir, err, errcap)) return -1;
    fs_join(tpath, sizeof tpath, tok_dir, "tokenizer.json");
    if (!(tok = tok_load(tpath, err, errcap))) goto out;
    double t0 = time_now();
    lora_config lc = o->lora;
    lc.fp32_base = is_adapter; /* the adapter is merged into the base weights, which must then be fp32 */
    if (!(m = train_model_load_on(o->model_dir, &lc, o->seed, o->backend, err, errcap))) goto out;
    const char *load_dir = train_model_dir(m);
    train_model_set_fast(m, o->fast_matmul);
    if (o->init_adapter && o->lora.rank > 0 && !o->resume_dir &&
        train_model_load_adapter_weights(m, o->init_adapter, err, errcap))
        goto out;
    if (is_adapter) log_info("Loaded adapter %s on its base model %s", o->model_dir, load_dir);
    train_model_set_checkpointing(m, o->gradient_checkpointing);
    size_t n_par;
    train_model_params(m, &n_par);
    log_info("Model %s loaded in %.1f s: %s, %zu trainable parameters", load_dir, time_now() - t0,
             o->lora.rank ? "LoRA" : "full fine-tuning", n_par);

    data_options dopt = {.max_seq_len = o->max_seq_len, .train_on_prompt = o->train_on_prompt,
                         .max_samples = o->max_samples, .seed = o->seed, .tpl = chat_detect(tok_dir)};
    if (data_load(&train, o->data_path, tok, &dopt, log_warn_cb, NULL, err, errcap)) goto out;
    if (data_split(&train, &val, o->validation_split, o->seed)) { err_set(err, errcap, "out of memory"); goto out; }
    if (train.n_bad) log_warn("%s: skipped %ld bad line%s", o->data_path, train.n_bad, train.n_bad == 1 ? "" : "s");
    log_info("Data: %d training and %d validation examples (%zu tokens)", train.n, val.n, train.pool_len);

    const long n_micro = (train.n + o->batch_size - 1) / o->batch_size;
    const long spe = (n_micro + o->grad_accum - 1) / o->grad_accum;
    const long total = spe * o->epochs;
    const long warmup = sched_warmup(o->warmup_steps, o->warmup_ratio, total);
    const long stop_at = o->max_steps > 0 && o->max_steps < total ? o->max_steps : total;
    if (o->max_steps < 0) {
        log_info("Dry run: %ld optimizer steps (%d epochs x %ld), warmup %ld; nothing trained", total, o->epochs, spe,
                 warmup);
        rc = 0;
        goto out;
    }
    opt_adamw_config oc = {o->beta1, o->beta2, o->eps, o->weight_decay};
    if (opt_adamw_init_on(&opt, train_model_backend(m), n_par)) {
        bk_backend *bk = train_model_backend(m);
        err_set(err, errcap, "out of memory%s%s for the optimizer state (%.2f GiB: AdamW moments of %zu parameters)%s%s",
                bk->host_memory ? "" : " on ", bk->host_memory ? "" : bk->name,
                (double)n_par * 8.0 / (1024.0 * 1024.0 * 1024.0), n_par, bk->host_memory ? "" : "; use LoRA or --device cpu: ",
                bk->host_memory ? "" : bk->err);
        goto out;
    }
    order = malloc((size_t)train.n * sizeof(int));
    if (!order) { err_set(err, errcap, "out of memory"); goto out; }
    run_state rs = {.step = 0, .best_eval = INFINITY, .bad_evals = 0};
    if (fs_mkdirs(o->output_dir)) { err_set(err, errcap, "%s: cannot create folder", o->output_dir); goto out; }
    char mpath[4096];
    fs_join(mpath, sizeof mpath, o->output_dir, "metrics.jsonl");
    if (o->resume_dir) {
        if (read_state(o->resume_dir, &rs, &opt, m, err, errcap)) goto out;
        log_info("Resuming from %s at step %ld of %ld", o->resume_dir, rs.step, total);
        if (dist_is_root() && trim_metrics(mpath, rs.step)) log_warn("%s: cannot trim", mpath);
    } else if (dist_is_root()) { /* rank 0 alone writes outputs */
        if (fs_exists(mpath)) remove(mpath);
        char bpath[4096];
        fs_join(bpath, sizeof bpath, o->output_dir, "best_model");
        if (fs_exists(bpath) && fs_remove_tree(bpath)) log_warn("%s: cannot remove the earlier run's", bpath);
    }
    if (!(metrics = fopen(dist_is_root() ? mpath : "/dev/null", "a"))) { err_set(err, errcap, "%s: cannot open: %s", mpath, strerror(errno)); goto out; }
    char tbdir[4200]; /* the metrics lines as TensorBoard events, the kept ones of a resumed run replayed */
    if (dist_is_root()) tb = tfev_follow_jsonl(fs_join(tbdir, sizeof tbdir, o->output_dir, "tensorboard"), mpath, tfev_train_tags);
    log_info("Training: %d epoch%s x %ld steps (batch %d x accumulation %d), %s schedule, warmup %ld, lr %g",
             o->epochs, o->epochs == 1 ? "" : "s", spe, o->batch_size, o->grad_accum, sched_name(o->scheduler), warmup,
             (double)o->learning_rate);

    const char *kill_env = getenv("HF_TRAIN_TEST_KILL_AT_STEP"); /* test hook: a hard kill inside that step */
    const long kill_at = kill_env ? atol(kill_env) : -1;
    /* test hook: one weight becomes NaN after that step's update, as a blow-up would leave it (the tiny
     * test models do not diverge at any learning rate the flags allow: Adam bounds each update) */
    const char *nan_env = getenv("HF_TRAIN_TEST_NAN_AT_STEP");
    const long nan_at = nan_env ? atol(nan_env) : -1;
    char last_good[4096] = ""; /* newest folder this run saved */
    long cur_epoch = -1;
    progress_start(&prog, "sft", stop_at, "steps");
    prog_on = true;
    progress_update(&prog, rs.step);
    bool stopped_early = false;
    while (rs.step < stop_at && !stopped_early) {
        if (o->cancel && *o->cancel) {
            err_set(err, errcap, "train: interrupted at step %ld of %ld", rs.step, stop_at);
            goto out;
        }
        const long step = rs.step, epoch = step / spe, k = step % spe;
        if (epoch != cur_epoch) {
            data_epoch_order(order, train.n, o->seed, epoch, o->shuffle);
            cur_epoch = epoch;
        }
        const long mb0 = k * o->grad_accum, mb1 = mb0 + o->grad_accum < n_micro ? mb0 + o->grad_accum : n_micro;
        long targets = 0, tokens = 0;
        for (long mb = mb0; mb < mb1; mb++) {
            int first = (int)(mb * o->batch_size), cnt = train.n - first < o->batch_size ? train.n - first : o->batch_size;
            for (int i = 0; i < cnt; i++) {
                targets += train.ex[order[first + i]].n_targets;
                tokens += train.ex[order[first + i]].len;
            }
        }
        double ts = time_now(), nll_sum = 0;
        train_model_zero_grad(m);
        for (long mb = mb0; mb < mb1; mb++) {
            if ((mb - mb0) % dist_size() != dist_rank()) continue; /* data-parallel: this rank's micro-batches */
            int first = (int)(mb * o->batch_size), cnt = train.n - first < o->batch_size ? train.n - first : o->batch_size;
            if (data_make_batch(&db, &train, order, first, cnt)) { err_set(err, errcap, "out of memory"); goto out; }
            train_model_set_dropout_key(m, o->seed, (uint64_t)(epoch * n_micro + mb));
            double nll;
            long nt;
            if (train_model_step(m, &db.b, 1.0f / (float)targets, &nll, &nt, err, errcap)) goto out;
            nll_sum += nll;
            if (step + 1 == kill_at) raise(SIGKILL);
        }
        /* The full gradient of the step is ready here (every micro-batch accumulated, nothing clipped yet): the
         * one place where it may be reduced across processes before clipping and the update. */
        dist_allreduce_grads(m, &nll_sum); /* sum over ranks: each scaled by the global 1/targets already */
        const double gnorm = opt_clip_grad_norm(m, o->max_grad_norm);
        if (!isfinite(gnorm) || !isfinite(nll_sum)) {
            diverged(err, errcap, o, step + 1, isfinite(nll_sum) ? "the gradients are not finite" : "the loss is not finite",
                     last_good);
            goto out;
        }
        const float lr = sched_lr(o->scheduler, o->learning_rate, step, warmup, total);
        opt_adamw_step(&opt, m, lr, &oc);
        if (step + 1 == nan_at) {
            size_t np;
            float *pp = train_model_params(m, &np);
            const float nan = NAN;
            bk_backend *bk = train_model_backend(m);
            bk->op.upload(bk, pp + np / 2, &nan, sizeof nan);
        }
        rs.step = step + 1;
        const double dt = time_now() - ts, loss = nll_sum / (double)targets;
        char line[512];
        snprintf(line, sizeof line,
                 "{\"step\":%ld,\"epoch\":%.4f,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6f,\"tokens\":%ld,"
                 "\"tokens_per_sec\":%.1f}\n",
                 rs.step, (double)rs.step / (double)spe, loss, (double)lr, gnorm, tokens, dt > 0 ? tokens / dt : 0.0);
        fputs(line, metrics);
        fflush(metrics);
        tfev_follow_line(&tb, line, tfev_train_tags);
        if (!isfinite(loss)) { diverged(err, errcap, o, rs.step, "the loss is not finite", last_good); goto out; }
        if (rs.step % 10 == 0 || rs.step == 1 || log_is_verbose())
            log_info("step %ld/%ld  loss %.4f  lr %.3g  grad_norm %.3f  %.0f tokens/s", rs.step, total, loss,
                     (double)lr, gnorm, dt > 0 ? tokens / dt : 0.0);
        progress_update(&prog, rs.step);
        if (o->eval_steps > 0 && val.n > 0 && (rs.step % o->eval_steps == 0 || rs.step == stop_at)) {
            double ev = evaluate(m, &val, o->batch_size, &db, err, errcap);
            if (isnan(ev)) goto out;
            snprintf(line, sizeof line, "{\"step\":%ld,\"eval_loss\":%.6f}\n", rs.step, ev);
            fputs(line, metrics);
            fflush(metrics);
            tfev_follow_line(&tb, line, tfev_train_tags);
            log_info("step %ld: eval_loss %.4f", rs.step, ev);
            if (!isfinite(ev)) { diverged(err, errcap, o, rs.step, "the evaluation loss is not finite", last_good); goto out; }
            if (ev < rs.best_eval - o->early_stopping_threshold) {
                rs.best_eval = ev;
                rs.bad_evals = 0;
                if (!params_finite(m)) { diverged(err, errcap, o, rs.step, "the weights hold NaN or Inf", last_good); goto out; }
                if (save_best(m, o, o->model_dir, rs.step, ev, err, errcap)) goto out;
            } else if (o->early_stopping_patience > 0 && ++rs.bad_evals >= o->early_stopping_patience) {
                log_info("Early stopping: no eval_loss improvement for %ld evaluations", rs.bad_evals);
                stopped_early = true;
            }
        }
        if (o->save_steps > 0 && rs.step % o->save_steps == 0 && dist_is_root()) {
            char name[64];
            snprintf(name, sizeof name, "checkpoint-%ld", rs.step);
            if (!params_finite(m)) { diverged(err, errcap, o, rs.step, "the weights hold NaN or Inf", last_good); goto out; }
            if (save_checkpoint(m, o, o->model_dir, &rs, &opt, total, name, err, errcap)) goto out;
            fs_join(last_good, sizeof last_good, o->output_dir, name);
            prune_checkpoints(o->output_dir, o->save_total_limit);
            log_debug("saved %s", name);
        }
    }
    progress_finish(&prog);
    prog_on = false;
    if (!params_finite(m)) { diverged(err, errcap, o, rs.step, "the weights hold NaN or Inf", last_good); goto out; }
    if (save_checkpoint(m, o, o->model_dir, &rs, &opt, total, "final_model", err, errcap)) goto out;
    log_info("Saved %s/final_model (%s)", o->output_dir, o->lora.rank ? "LoRA adapter" : "full model");
    rc = 0;
out:
    if (prog_on) progress_finish(&prog);
    if (metrics) fclose(metrics);
    tfev_follow_close(tb);
    free(order);
    opt_adamw_free(&opt);
    data_batch_free(&db);
    data_free(&train);
    data_free(&val);
    train_model_free(m);
    tok_free(tok);
    return rc;
}
