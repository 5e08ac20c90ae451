/* halo-forge generate --model M (--prompt T | --prompts F.jsonl) [-n 8] [--temperature 0.7] ... */
#include "cli/commands.h"
#include "backend/bk_device.h"
#include "model/hub.h"
#include "model/lora_apply.h"
#include "model/gguf.h"
#include "core/args.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/progress.h"
#include "generate/generate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const arg_spec generate_flags[] = {
    {"model", 'm', ARG_STR, NULL, "Model folder, Hub id or .gguf file (a LoRA adapter folder: its base model with the adapter applied)", "model.name|base_model",
     NULL, 0, 0, "DIR"},
    {"prompt", 'p', ARG_STR, NULL, "One prompt (the user message)", NULL, NULL, 0, 0, "TEXT"},
    {"prompts", 0, ARG_STR, NULL, "JSONL file of prompts ('prompt' or 'text' field; '-' for standard input)",
     NULL, NULL, 0, 0, "FILE"},
    {"num-samples", 'n', ARG_INT, "8", "Completions per prompt", "samples_per_prompt|raft.samples_per_prompt", NULL,
     1, 1000000, "N"},
    {"temperature", 't', ARG_FLOAT, "0.7", "Sampling temperature; 0 is greedy", "generation.temperature", NULL, 0,
     100, NULL},
    {"top-p", 0, ARG_FLOAT, "1.0", "Nucleus sampling: keep the fewest top tokens whose probability reaches P",
     "generation.top_p", NULL, 0, 1, "P"},
    {"top-k", 0, ARG_INT, "0", "Keep only the K most likely tokens (0: off)", "generation.top_k", NULL, 0,
     1000000000, "K"},
    {"max-new-tokens", 0, ARG_INT, "1024", "Generated tokens per completion at most",
     "generation.max_new_tokens", NULL, 1, 10000000, "N"},
    {"seed", 's', ARG_INT, "0", "Random seed: the same seed gives the same completions", NULL, NULL, 0, 0, NULL},
    {"system-prompt", 0, ARG_STR, NULL, "System message put before each prompt", "system_prompt", NULL, 0, 0,
     "TEXT"},
    {"chat-template", 0, ARG_STR, "auto", "Prompt format; auto reads the model's tokenizer_config.json", NULL,
     "auto|chatml|llama3|raw", 0, 0, NULL},
    {"batch-size", 'b', ARG_INT, "0", "Sequences decoded together (0: auto: every sample at once up to 64, fewer when "
     "their KV cache would pass 4 GiB)", "generation.batch_size", NULL, 0, 65536, "N"},
    {"stop", 0, ARG_LIST, NULL, "Stop string (repeatable; \\n \\t \\\\ and \\, are unescaped)", "generation.stop",
     NULL, 0, 0, "S"},
    {"ignore-eos", 0, ARG_BOOL, NULL, "Do not stop at end-of-sequence tokens (for benchmarks)", NULL, NULL, 0, 0,
     NULL},
    {"precision", 0, ARG_STR, "fast", "Matrix products: fast (bf16 activations, ~2x faster) or exact (fp32)",
     "generation.precision", "fast|exact", 0, 0, NULL},
    {"output", 'o', ARG_STR, "-", "JSONL output file ('-': standard output)", NULL, NULL, 0, 0, "FILE"},
    {"device", 0, ARG_STR, "cpu", BK_DEVICE_HELP, NULL, NULL, 0, 0, "DEVICE"},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static const cmd_spec generate_cmd = {
    "generate", "Sample completions for prompts with a model (batched, KV-cached, on the CPU).", NULL, 0, 0,
    generate_flags,
    "Each prompt becomes a chat (system prompt + user message) rendered with the chat template, is\n"
    "tokenized and prefilled once, and its N samples decode together with other prompts' samples.\n"
    "Output: one JSON object per line, in prompt order then sample order:\n"
    "  {\"prompt\", \"completion\", \"sample_idx\", \"n_tokens\", \"finish_reason\"}\n"
    "plus \"id\" / \"task_id\" copied from the input line when it has them. finish_reason is \"stop\"\n"
    "(end-of-sequence token or stop string), \"length\" (--max-new-tokens or the model's context) or\n"
    "\"prompt_too_long\". A summary with tokens/s (generated tokens only) goes to standard error.\n"
    "A prompts file with bad lines is refused as a whole, naming every bad line.",
    NULL,
};

typedef struct {
    char **text;   /* prompt texts */
    cJSON **ids;   /* the input's "id" / "task_id" items (detached copies), or NULL */
    cJSON **task_ids;
    int n, cap;
} prompt_list;

static void prompts_free(prompt_list *pl) {
    for (int i = 0; i < pl->n; i++) {
        free(pl->text[i]);
        cJSON_Delete(pl->ids[i]);
        cJSON_Delete(pl->task_ids[i]);
    }
    free(pl->text);
    free(pl->ids);
    free(pl->task_ids);
}

static int prompts_add(prompt_list *pl, const char *text, const cJSON *id, const cJSON *task_id) {
    if (pl->n == pl->cap) {
        int c = pl->cap ? pl->cap * 2 : 64;
        char **t = realloc(pl->text, (size_t)c * sizeof *t);
        if (t) pl->text = t;
        cJSON **a = realloc(pl->ids, (size_t)c * sizeof *a);
        if (a) pl->ids = a;
        cJSON **b = realloc(pl->task_ids, (size_t)c * sizeof *b);
        if (b) pl->task_ids = b;
        if (!t || !a || !b) return -1;
        pl->cap = c;
    }
    pl->text[pl->n] = strdup(text);
    pl->ids[pl->n] = id ? cJSON_Duplicate(id, true) : NULL;
    pl->task_ids[pl->n] = task_id ? cJSON_Duplicate(task_id, true) : NULL;
    pl->n++;
    return 0;
}

/* Reads every prompt of a JSONL file; reports each bad line and returns -1 if there was any. */
static int read_prompts(const char *path, prompt_list *pl) {
    jsonl_reader r;
    if (jsonl_open(&r, path) != 0) {
        log_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int bad = 0, rc;
    char err[512];
    cJSON *obj;
    while ((rc = jsonl_next(&r, &obj, err, sizeof err)) != 0) {
        if (rc < 0) {
            log_error("%s", err);
            bad++;
            continue;
        }
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "prompt");
        if (!p) p = cJSON_GetObjectItemCaseSensitive(obj, "text");
        if (!cJSON_IsString(p)) {
            log_error("%s:%ld: no 'prompt' or 'text' string field", path, r.lineno);
            bad++;
        } else if (prompts_add(pl, p->valuestring, cJSON_GetObjectItemCaseSensitive(obj, "id"),
                               cJSON_GetObjectItemCaseSensitive(obj, "task_id")) != 0) {
            log_error("out of memory reading %s", path);
            bad++;
        }
        cJSON_Delete(obj);
    }
    jsonl_close(&r);
    if (bad) {
        log_error("%s: %d bad line%s; nothing generated", path, bad, bad == 1 ? "" : "s");
        return -1;
    }
    if (pl->n == 0) {
        log_error("%s: no prompts", path);
        return -1;
    }
    return 0;
}

/* Splits the --stop value (repeats joined with ',') on unescaped commas and unescapes each part. */
static int parse_stops(const char *v, char ***out) {
    int n = 0;
    size_t len = v ? strlen(v) : 0;
    char **list = calloc(len / 1 + 2, sizeof *list);
    char *cur = malloc(len + 1);
    if (!list || !cur) {
        free(list);
        free(cur);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; v && i <= len; i++) {
        char c = v[i];
        if (c == '\\' && i + 1 < len) {
            char d = v[++i];
            cur[k++] = d == 'n' ? '\n' : d == 't' ? '\t' : d == 'r' ? '\r' : d;
            continue;
        }
        if (c == ',' || c == '\0') {
            cur[k] = 0;
            if (k) list[n++] = strdup(cur);
            k = 0;
            continue;
        }
        cur[k++] = c;
    }
    free(cur);
    *out = list;
    return n;
}

typedef struct {
    FILE *f;
    const prompt_list *pl;
    int n_samples;
    char **pending; /* serialised records waiting for the ones before them, by prompt*n + sample */
    long next;      /* next record to write */
    long total;
    progress prog;
    bool write_failed;
    long finish_counts[3];
} writer;

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

/* After each decoding step: refresh the progress line, and stop on Ctrl-C / SIGTERM. */
static int on_step(void *user, const gen_stats *st) {
    writer *w = user;
    (void)st;
    progress_update(&w->prog, w->prog.done);
    return interrupted != 0;
}

static int on_result(void *user, const gen_result *r) {
    writer *w = user;
    cJSON *o = cJSON_CreateObject();
    const cJSON *id = w->pl->ids[r->prompt_idx], *task_id = w->pl->task_ids[r->prompt_idx];
    if (id) cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, true));
    if (task_id) cJSON_AddItemToObject(o, "task_id", cJSON_Duplicate(task_id, true));
    cJSON_AddStringToObject(o, "prompt", w->pl->text[r->prompt_idx]);
    cJSON_AddStringToObject(o, "completion", r->completion);
    cJSON_AddNumberToObject(o, "sample_idx", r->sample_idx);
    cJSON_AddNumberToObject(o, "n_tokens", r->n_tokens);
    cJSON_AddItemToObject(o, "token_ids", cJSON_CreateIntArray(r->tokens, r->n_tokens));
    cJSON_AddStringToObject(o, "finish_reason", gen_finish_name(r->finish));
    long k = (long)r->prompt_idx * w->n_samples + r->sample_idx;
    w->pending[k] = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if ((unsigned)r->finish < 3) w->finish_counts[r->finish]++;
    if (!w->pending[k]) {
        w->write_failed = true;
        return 1;
    }
    /* records go out in prompt, then sample order, as soon as all before them are done */
    while (w->next < w->total && w->pending[w->next]) {
        if (fputs(w->pending[w->next], w->f) < 0 || fputc('\n', w->f) < 0) w->write_failed = true;
        free(w->pending[w->next]);
        w->pending[w->next] = NULL;
        w->next++;
    }
    fflush(w->f);
    progress_add(&w->prog, 1);
    return w->write_failed ? 1 : 0;
}

int cmd_generate(int argc, char **argv) {
    int rc;
    args *a = args_parse(&generate_cmd, argc, argv, &rc);
    if (!a) return rc;
    int device_kind;
    if ((rc = cli_device_setup(a, "generate", args_str(a, "model"), &device_kind)) != 0) {
        args_free(a);
        return rc;
    }
    rc = 1;
    prompt_list pl = {0};
    char **stops = NULL;
    int n_stop = 0;
    model *m = NULL;
    tokenizer *t = NULL;
    writer w = {0};
    char tmp_path[4200] = "";
    const char *dir = args_str(a, "model"), *prompt = args_str(a, "prompt"), *prompts = args_str(a, "prompts");
    const char *out = args_str(a, "output");
    if (!dir) {
        rc = args_usage_error(&generate_cmd, "--model DIR is required");
        goto done;
    }
    if (!prompt == !prompts) {
        rc = args_usage_error(&generate_cmd, "give exactly one of --prompt TEXT or --prompts FILE");
        goto done;
    }
    if (args_float(a, "top-p") <= 0.0) {
        rc = args_usage_error(&generate_cmd, "--top-p must be greater than 0 (got %g)", args_float(a, "top-p"));
        goto done;
    }
    n_stop = parse_stops(args_str(a, "stop"), &stops);
    if (n_stop < 0) goto done;
    if (prompt) {
        if (prompts_add(&pl, prompt, NULL, NULL) != 0) goto done;
    } else if (read_prompts(prompts, &pl) != 0) {
        goto done;
    }

    log_open_command("generate");
    char err[1024], resolved[4096];
    if (hub_resolve(dir, resolved, sizeof resolved, NULL, err, sizeof err) != 0) {
        log_error("%s", err);
        goto done;
    }
    dir = resolved;
    char tdir[4096];
    if (model_tokenizer_dir(dir, tdir, sizeof tdir, err, sizeof err)) {
        log_error("%s", err);
        goto done;
    }
    chat_template auto_tpl; /* a GGUF file carries its tokenizer and chat template */
    if (!(t = gguf_model_tokenizer(tdir, &auto_tpl, err, sizeof err))) {
        log_error("%s", err);
        goto done;
    }
    if (!(m = model_load(dir, err, sizeof err))) {
        log_error("%s", err);
        goto done;
    }
    model_set_precision(m, strcmp(args_str(a, "precision"), "exact") ? MODEL_PRECISION_FAST : MODEL_PRECISION_EXACT);
    gen_params p;
    gen_params_default(&p);
    p.n_samples = (int)args_int(a, "num-samples");
    p.max_new_tokens = (int)args_int(a, "max-new-tokens");
    p.sampling.temperature = (float)args_float(a, "temperature");
    p.sampling.top_p = (float)args_float(a, "top-p");
    p.sampling.top_k = (int)args_int(a, "top-k");
    p.seed = (uint64_t)args_int(a, "seed");
    p.batch_size = (int)args_int(a, "batch-size");
    p.stop = (const char *const *)stops;
    p.n_stop = n_stop;
    p.ignore_eos = args_bool(a, "ignore-eos");
    p.system_prompt = args_str(a, "system-prompt");
    const char *tpl = args_str(a, "chat-template");
    p.tpl = !strcmp(tpl, "auto") ? auto_tpl : (chat_template)chat_parse_name(tpl);
    if (gen_params_check(&p, err, sizeof err) != 0) {
        rc = args_usage_error(&generate_cmd, "%s", err);
        goto done;
    }

    if (!strcmp(out, "-")) {
        w.f = stdout;
    } else {
        snprintf(tmp_path, sizeof tmp_path, "%s.tmp.%d", out, (int)getpid());
        if (!(w.f = fopen(tmp_path, "w"))) {
            log_error("%s: cannot write: %s", out, strerror(errno));
            tmp_path[0] = 0;
            goto done;
        }
    }
    w.pl = &pl;
    w.n_samples = p.n_samples;
    w.total = (long)pl.n * p.n_samples;
    w.pending = calloc((size_t)w.total, sizeof *w.pending);
    if (!w.pending) {
        log_error("out of memory");
        goto done;
    }
    const model_config *cfg = model_get_config(m);
    char batch_text[32] = "auto";
    if (p.batch_size > 0) snprintf(batch_text, sizeof batch_text, "%d", p.batch_size);
    log_info("Generating %d sample%s for %d prompt%s with %s (%s, %zu parameters): temperature %g, top-p %g, "
             "top-k %d, up to %d new tokens, batch %s, seed %llu",
             p.n_samples, p.n_samples == 1 ? "" : "s", pl.n, pl.n == 1 ? "" : "s", dir, cfg->arch,
             model_num_params(m), (double)p.sampling.temperature, (double)p.sampling.top_p, p.sampling.top_k,
             p.max_new_tokens, batch_text, (unsigned long long)p.seed);
    p.on_step = on_step;
    p.step_user = &w;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    progress_start(&w.prog, "generate", w.total, "samples");
    gen_stats st;
    int grc = gen_run(m, t, (const char *const *)pl.text, pl.n, &p, on_result, &w, &st, err, sizeof err);
    progress_finish(&w.prog);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (grc < 0) {
        log_error("%s", err);
        goto done;
    }
    if (interrupted) {
        log_warn("interrupted: %ld of %ld samples done; %s", st.n_samples, w.total,
                 tmp_path[0] ? "no output file written" : "output incomplete");
        rc = 128 + interrupted;
        goto done;
    }
    if (w.write_failed || fflush(w.f) != 0) {
        log_error("%s: write failed: %s", out, strerror(errno));
        goto done;
    }
    if (tmp_path[0]) {
        if (fsync(fileno(w.f)) != 0 || fclose(w.f) != 0) {
            w.f = NULL;
            log_error("%s: write failed: %s", out, strerror(errno));
            goto done;
        }
        w.f = NULL;
        if (rename(tmp_path, out) != 0) {
            log_error("%s: cannot rename %s into place: %s", out, tmp_path, strerror(errno));
            goto done;
        }
        tmp_path[0] = 0;
    }
    log_info("Generated %ld samples (%ld stop, %ld length%s) for %d prompt%s: %ld tokens in %.2f s, %.1f tokens/s "
             "(prefill %ld prompt tokens in %.2f s; sampling %.2f s)",
             st.n_samples, w.finish_counts[GEN_FINISH_STOP], w.finish_counts[GEN_FINISH_LENGTH],
             w.finish_counts[GEN_FINISH_PROMPT_TOO_LONG] ? ", some prompts too long" : "", st.n_prompts,
             st.n_prompts == 1 ? "" : "s",
             st.generated_tokens, st.seconds, st.seconds > 0 ? (double)st.generated_tokens / st.seconds : 0.0,
             st.prompt_tokens, st.prefill_seconds, st.sample_seconds);
    if (out && strcmp(out, "-")) log_info("Wrote %s", out);
    rc = 0;
done:
    if (w.f && w.f != stdout) fclose(w.f);
    if (tmp_path[0]) unlink(tmp_path);
    if (w.pending)
        for (long i = 0; i < w.total; i++) free(w.pending[i]);
    free(w.pending);
    model_free(m);
    tok_free(t);
    prompts_free(&pl);
    if (stops)
        for (int i = 0; i < n_stop; i++) free(stops[i]);
    free(stops);
    args_free(a);
    return rc;
}
