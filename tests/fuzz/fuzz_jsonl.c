/* Fuzz target: the JSON Lines and JSON files halo-forge reads from other tools and from its own earlier
 * runs. The first byte picks the reader, the rest is the file:
 *   0  jsonl_next over the file, each object read as a verified sample (vf_result_from_json, the
 *      cycle and benchmark sample records) and as a benchmark prompt (bench_prompt_from_json)
 *   1  sft/raft training data (data_load: text, messages, prompt/completion, alpaca) with a small tokenizer
 *   2  a benchmark prompt file (bench_prompts_load)
 *   3  raft_statistics.json (raft_statistics_load)
 *   4  curriculum_stats.json (raft_curriculum_load, restoring)
 *   5  a RAFT cycle's samples journal (raft_resume_cycle)
 *   6  a tokenizer-training corpus (tok_train_add_file) */
#include "fuzz_util.h"

#include "bench/prompts.h"
#include "core/jsonl.h"
#include "raft/curriculum.h"
#include "raft/filter.h"
#include "raft/resume.h"
#include "tokenizer/tok_train.h"
#include "tokenizer/tokenizer.h"
#include "train/data.h"
#include "verify/verify.h"

static tokenizer *tok;

static void warn(void *ctx, const char *msg) {
    (void)msg;
    (*(long *)ctx)++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char err[512], path[600];
    if (tok_write_small(fz_dir(), err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); abort(); }
    snprintf(path, sizeof path, "%s/tokenizer.json", fz_dir());
    tok = tok_load(path, err, sizeof err);
    if (!tok) { fprintf(stderr, "%s\n", err); abort(); }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int which = data[0] % 7;
    const char *dir = fz_dir();
    const char *path = fz_write(dir, which == 5 ? "cycle_1_samples.jsonl" : "input.jsonl", data + 1, size - 1);
    char file[4096];
    snprintf(file, sizeof file, "%s", path);
    char err[1024] = "";
    switch (which) {
    case 0: {
        jsonl_reader r;
        if (jsonl_open(&r, file) != 0) abort();
        cJSON *obj;
        int rc;
        while ((rc = jsonl_next(&r, &obj, err, sizeof err)) != 0) {
            if (rc < 0) {
                if (!strstr(err, file)) abort(); /* a bad line is reported with its file */
                continue;
            }
            if (!cJSON_IsObject(obj)) abort();
            vf_result res;
            if (vf_result_from_json(obj, &res) == 0) vf_result_free(&res);
            bench_prompt bp;
            char why[256];
            if (bench_prompt_from_json(obj, r.lineno, &bp, why, sizeof why) == 0) bench_prompt_free(&bp);
            json_get_str(obj, "completion", "");
            json_get_num(obj, "reward", 0);
            cJSON_Delete(obj);
        }
        jsonl_close(&r);
        break;
    }
    case 1: {
        data_set ds;
        memset(&ds, 0, sizeof ds);
        data_options o = {.max_seq_len = 64, .train_on_prompt = data[0] & 8, .max_samples = data[0] & 16 ? 3 : 0,
                          .seed = 1, .tpl = (chat_template)((data[0] >> 5) % 3)};
        long warned = 0;
        if (data_load(&ds, file, tok, &o, warn, &warned, err, sizeof err) == 0) {
            for (int i = 0; i < ds.n; i++)
                if (ds.ex[i].len < 1 || ds.ex[i].len > o.max_seq_len || ds.ex[i].off + ds.ex[i].len > ds.pool_len)
                    abort();
        }
        data_free(&ds);
        break;
    }
    case 2: {
        bench_prompt_set set;
        memset(&set, 0, sizeof set);
        bench_prompts_load(file, &set, err, sizeof err);
        bench_prompts_free(&set);
        break;
    }
    case 3: {
        cJSON *a = raft_statistics_load(file, err, sizeof err);
        if (a && !cJSON_IsArray(a)) abort();
        cJSON_Delete(a);
        break;
    }
    case 4: {
        const char *prompts[] = {"Write a C program that prints hello", "Sort an array", ""};
        raft_curriculum cur;
        if (raft_curriculum_init(&cur, RAFT_CURRICULUM_HISTORICAL, prompts, 3) != 0) abort();
        raft_curriculum_load(&cur, file, true, err, sizeof err);
        size_t sel[3];
        raft_curriculum_select(&cur, 1, sel);
        raft_curriculum_free(&cur);
        break;
    }
    case 5: {
        raft_cycle_state st;
        if (raft_resume_cycle(dir, 1, 4, &st, err, sizeof err) == 0 && st.samples_done < 0) abort();
        break;
    }
    case 6: {
        tok_trainer *tr = tok_train_new(err, sizeof err);
        if (!tr) abort();
        tok_train_add_file(tr, file, err, sizeof err);
        tok_train_free(tr);
        break;
    }
    }
    return 0;
}
