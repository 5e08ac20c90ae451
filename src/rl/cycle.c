/* One policy-gradient cycle's training (see cycle.h). */
#include "rl/cycle.h"
#include "dist/dist.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "generate/generate.h"
#include "model/lora_apply.h"
#include "tokenizer/tokenizer.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const cJSON *rec;
    const char *pid;
    int round; /* "refill_round": DAPO's refill samples a prompt again as a new group */
    int sidx;
} ref;

static int cmp_ref(const void *a, const void *b) {
    const ref *x = a, *y = b;
    if (x->round != y->round) return (x->round > y->round) - (x->round < y->round);
    int c = strcmp(x->pid, y->pid);
    return c ? c : (x->sidx > y->sidx) - (x->sidx < y->sidx);
}

/* ids = prompt ids (formatted as the sampler formats them) + the record's tokens; lp its logprobs. */
static int build_sample(const rl_cycle_opts *o, const tokenizer *t, const gen_params *gp, const cJSON *rec,
                        rl_sample *s, char *err, size_t errcap) {
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(rec, "tokens"), *lp = cJSON_GetObjectItemCaseSensitive(rec, "logprobs");
    const int ng = cJSON_IsArray(tk) ? cJSON_GetArraySize(tk) : -1;
    if (ng < 0 || !cJSON_IsArray(lp) || cJSON_GetArraySize(lp) != ng) {
        err_set(err, errcap, "%s: sample %s/%d has no \"tokens\" / \"logprobs\" (sampled by raft train?); remove the "
                "cycle's samples and verified files to sample it again", o->verified_path,
                json_get_str(rec, "prompt_id", "?"), json_get_int(rec, "sample_idx", -1));
        return -1;
    }
    char *text = gen_format_prompt(gp, json_get_str(rec, "prompt", ""));
    int *pids = NULL;
    size_t np = 0;
    int erc = text ? tok_encode(t, text, strlen(text), true, &pids, &np) : -1;
    free(text);
    if (erc) {
        err_set(err, errcap, "%s: the prompt of %s cannot be tokenized", o->verified_path, json_get_str(rec, "prompt_id", "?"));
        return -1;
    }
    int *ids = realloc(pids, (np + (size_t)ng + 1) * sizeof *ids);
    float *lps = malloc(((size_t)ng + 1) * sizeof *lps);
    if (!ids || !lps) {
        free(ids ? ids : pids);
        free(lps);
        err_set(err, errcap, "rl: out of memory");
        return -1;
    }
    int k = 0;
    const cJSON *a, *b = lp->child;
    cJSON_ArrayForEach(a, tk) {
        long id;
        if (!json_long_in(a, 0, INT_MAX, &id) || !cJSON_IsNumber(b)) {
            free(ids);
            free(lps);
            err_set(err, errcap, "%s: sample %s/%d: tokens must be token ids and logprobs numbers", o->verified_path,
                    json_get_str(rec, "prompt_id", "?"), json_get_int(rec, "sample_idx", -1));
            return -1;
        }
        ids[np + (size_t)k] = (int)id;
        lps[k++] = (float)b->valuedouble;
        b = b->next;
    }
    s->ids = ids;
    s->n_prompt = (int)np;
    s->n_gen = ng;
    s->lp_old = lps;
    s->reward = json_get_num(rec, "reward", 0);
    s->truncated = !strcmp(json_get_str(rec, "finish_reason", ""), "length");
    return 0;
}

int rl_cycle_train(const rl_cycle_opts *o, cJSON *const *recs, size_t n, rl_update_report *rep, char *err,
                   size_t errcap) {
    const int G = o->samples_per_prompt;
    ref *rf = malloc((n + 1) * sizeof *rf);
    rl_sample *smp = calloc(n + 1, sizeof *smp);
    tokenizer *t = NULL;
    train_model *m = NULL;
    FILE *mf = NULL;
    int rc = -1, ns = 0, ngroups = 0;
    char tok_dir[4096], path[4400], tmp[4300];
    if (!rf || !smp) {
        err_set(err, errcap, "rl: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        rf[i] = (ref){recs[i], json_get_str(recs[i], "prompt_id", ""), json_get_int(recs[i], "refill_round", 0),
                      json_get_int(recs[i], "sample_idx", -1)};
    qsort(rf, n, sizeof *rf, cmp_ref);

    if (model_tokenizer_dir(o->model_dir, tok_dir, sizeof tok_dir, err, errcap)) goto out;
    fs_join(path, sizeof path, tok_dir, "tokenizer.json");
    if (!(t = tok_load(path, err, errcap))) goto out;
    gen_params gp;
    gen_params_default(&gp);
    gp.system_prompt = o->system_prompt;
    gp.tpl = chat_detect(tok_dir);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && rf[j].round == rf[i].round && !strcmp(rf[j].pid, rf[i].pid)) j++;
        bool whole = (int)(j - i) == G;
        for (size_t k = i; whole && k < j; k++) whole = rf[k].sidx == (int)(k - i);
        if (!whole) {
            log_warn("%s: prompt %s has %zu samples, not %d; left out of the update", o->verified_path, rf[i].pid,
                     j - i, G);
        } else {
            for (size_t k = i; k < j; k++)
                if (build_sample(o, t, &gp, rf[k].rec, &smp[ns++], err, errcap)) goto out;
            ngroups++;
        }
        i = j;
    }
    if (!ngroups) {
        err_set(err, errcap, "%s: no prompt has its %d samples", o->verified_path, G);
        goto out;
    }

    lora_config lc = {.rank = o->full_finetune ? 0 : o->lora_rank, .alpha = o->lora_alpha, .dropout = 0,
                      .targets = LORA_ALL_TARGETS};
    const char *load_dir = o->full_finetune && o->prev ? o->prev : o->model_dir;
    if (!(m = o->backend ? train_model_load_on(load_dir, &lc, o->update.seed, o->backend, err, errcap)
                         : train_model_load(load_dir, &lc, o->update.seed, err, errcap)))
        goto out;
    if (!o->full_finetune && o->prev && train_model_load_adapter_weights(m, o->prev, err, errcap)) goto out;
    train_model_set_fast(m, o->update.fast); /* the sampler's precision */
    if (fs_mkdirs(o->cycle_dir) != 0) {
        err_set(err, errcap, "%s: cannot create: %s", o->cycle_dir, strerror(errno));
        goto out;
    }
    snprintf(path, sizeof path, "%s/rl_metrics.jsonl", o->cycle_dir);
    if (!(mf = fopen(dist_is_root() ? path : "/dev/null", "w"))) { /* a redone update writes its steps again; rank 0
                                                                     alone writes outputs */
        err_set(err, errcap, "%s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    rl_update_opts u = o->update;
    u.metrics = mf;
    int urc = rl_update(m, smp, ngroups, G, &u, rep, err, errcap);
    if (urc) {
        rc = urc;
        goto out;
    }
    int src = 0; /* every rank holds the same weights: rank 0 alone saves them, the others go on once saved */
    if (dist_is_root()) {
        snprintf(tmp, sizeof tmp, "%s.tmp", o->final_dir);
        fs_remove_tree(tmp);
        if (o->full_finetune ? train_model_save_full(m, tmp, false, err, errcap)
                             : train_model_save_adapter(m, tmp, o->model_dir, err, errcap)) {
            src = -1;
        } else {
            fs_remove_tree(o->final_dir);
            if (rename(tmp, o->final_dir) != 0) {
                err_set(err, errcap, "%s: cannot rename into place: %s", o->final_dir, strerror(errno));
                src = -1;
            }
        }
    }
    if (dist_root_rc(src, err, errcap)) goto out;
    rc = 0;
out:
    if (mf && fclose(mf) != 0 && rc == 0) {
        err_set(err, errcap, "%s/rl_metrics.jsonl: write failed: %s", o->cycle_dir, strerror(errno));
        rc = -1;
    }
    for (int i = 0; smp && i < ns; i++) {
        free((void *)smp[i].ids);
        free((void *)smp[i].lp_old);
    }
    free(smp);
    free(rf);
    tok_free(t);
    train_model_free(m);
    return rc;
}
