/* rollout: every selected prompt sampled n times and verified, results in selection order whatever
 * order they were decoded in, and a journal that a rerun continues from (cut lines, duplicates and
 * other prompts' lines dropped) without decoding what it already holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/rollout.h"
#include "core/fs.h"
#include "core/jsonl.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[256], model_dir[512], journal[512];
static bench_prompt_set prompts;
static vf_config verifier;
static const size_t select_rev[] = {2, 0}; /* prompts c then a; b is not sampled */
static char *full[6];                       /* the completions of an uninterrupted run */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    snprintf(root, sizeof root, "/tmp/hf-test-rollout-%d", (int)getpid());
    fs_remove_tree(root);
    assert_int_equal(fs_mkdirs(root), 0);
    char err[512], path[600];
    model_config c;
    assert_int_equal(model_preset("tiny", &c), 0);
    snprintf(model_dir, sizeof model_dir, "%s/m", root);
    assert_int_equal(tok_write_small(model_dir, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/tokenizer.json", model_dir);
    tokenizer *t = tok_load(path, err, sizeof err);
    assert_non_null(t);
    c.vocab_size = tok_vocab_size(t);
    c.n_eos = 1;
    c.eos_ids[0] = tok_token_to_id(t, "<|im_end|>");
    tok_free(t);
    assert_int_equal(model_write_random(model_dir, &c, true, 5, 0.3, false, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/p.jsonl", root);
    write_file(path, "{\"id\": \"a\", \"prompt\": \"Write a C program\"}\n"
                     "{\"id\": \"b\", \"prompt\": \"Print hello\"}\n"
                     "{\"id\": \"c\", \"prompt\": \"Sum two numbers\"}\n");
    assert_int_equal(bench_prompts_load(path, &prompts, err, sizeof err), 0);
    vf_config_default(&verifier, VF_CUSTOM);
    verifier.custom_command = "/bin/true {file}"; /* every sample passes: the test is about bookkeeping */
    verifier.workers = 2;
    snprintf(journal, sizeof journal, "%s/journal.jsonl", root);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    bench_prompts_free(&prompts);
    for (int k = 0; k < 6; k++) free(full[k]);
    fs_remove_tree(root);
    return 0;
}

static rollout_opts options(void) {
    rollout_opts o = {.label = "test", .model_dir = model_dir, .prompts = &prompts, .select = select_rev,
                      .n_select = 2, .samples_per_prompt = 3, .max_new_tokens = 6, .gen_batch_size = 4,
                      .temperature = 1.0, .seed = 9, .verifier = &verifier, .journal_path = journal};
    return o;
}

static long journal_lines(void) {
    jsonl_reader r;
    assert_int_equal(jsonl_open(&r, journal), 0);
    cJSON *obj;
    char e[256];
    int rc;
    long n = 0;
    while ((rc = jsonl_next(&r, &obj, e, sizeof e)) != 0) {
        assert_int_equal(rc, 1); /* every line is a whole record */
        n++;
        cJSON_Delete(obj);
    }
    jsonl_close(&r);
    return n;
}

static void test_order_and_journal(void **state) {
    (void)state;
    unlink(journal);
    rollout_opts o = options();
    rollout_result r;
    char err[512];
    assert_int_equal(rollout_run(&o, &r, err, sizeof err), 0);
    assert_int_equal(r.n, 6);
    assert_int_equal(r.resumed, 0);
    assert_int_equal(r.gen.n_samples, 6);
    for (size_t k = 0; k < r.n; k++) {
        assert_int_equal(r.prompt[k], select_rev[k / 3]);
        assert_non_null(r.completion[k]);
        assert_true(r.n_tokens[k] >= 1 && r.n_tokens[k] <= 6);
        assert_true(r.results[k].success);
        full[k] = strdup(r.completion[k]);
    }
    assert_string_equal(rollout_prompt_of(&o, &r, 0)->id, "c");
    assert_string_equal(rollout_prompt_of(&o, &r, 5)->id, "a");
    assert_int_equal(journal_lines(), 6);
    cJSON *rec = rollout_record(&o, &r, 4);
    assert_string_equal(json_get_str(rec, "prompt_id", ""), "a");
    assert_int_equal((int)json_get_num(rec, "sample_idx", -1), 1);
    assert_string_equal(json_get_str(rec, "completion", "?"), r.completion[4]);
    cJSON_Delete(rec);
    rollout_result_free(&r);
}

static void test_resume_from_journal(void **state) {
    (void)state;
    /* the three samples of c and sample 1 of a made earlier, a duplicate, a prompt that is not selected,
       a sample index out of range, and a line of a cut by a crash */
    write_file(journal, "{\"prompt_id\": \"c\", \"sample_idx\": 0, \"completion\": \"OLD0\", \"n_tokens\": 2, "
                        "\"finish_reason\": \"stop\"}\n"
                        "{\"prompt_id\": \"c\", \"sample_idx\": 2, \"completion\": \"OLD2\", \"n_tokens\": 3}\n"
                        "{\"prompt_id\": \"c\", \"sample_idx\": 0, \"completion\": \"DUP\"}\n"
                        "{\"prompt_id\": \"c\", \"sample_idx\": 1, \"completion\": \"OLD1\"}\n"
                        "{\"prompt_id\": \"b\", \"sample_idx\": 1, \"completion\": \"NOT SELECTED\"}\n"
                        "{\"prompt_id\": \"a\", \"sample_idx\": 3, \"completion\": \"OUT OF RANGE\"}\n"
                        "{\"prompt_id\": \"a\", \"sample_idx\": 1, \"completion\": \"OLDA1\"}\n"
                        "{\"prompt_id\": \"a\", \"sample_idx\": 2, \"compl");
    rollout_opts o = options();
    rollout_result r;
    char err[512];
    assert_int_equal(rollout_run(&o, &r, err, sizeof err), 0);
    assert_int_equal(r.resumed, 4);
    assert_int_equal(r.gen.n_samples, 2); /* only samples 0 and 2 of a were decoded */
    assert_string_equal(r.completion[4], "OLDA1");
    assert_string_equal(r.completion[3], full[3]); /* drawn as the uninterrupted run drew them */
    assert_string_equal(r.completion[5], full[5]);
    assert_string_equal(r.completion[0], "OLD0"); /* the first line of a sample wins over a duplicate */
    assert_int_equal(r.finish[0], GEN_FINISH_STOP);
    assert_string_equal(r.completion[1], "OLD1");
    assert_string_equal(r.completion[2], "OLD2");
    assert_int_equal(r.n_tokens[2], 3);
    for (size_t k = 0; k < r.n; k++) assert_true(r.results[k].success);
    assert_int_equal(journal_lines(), 6); /* the cut line is gone: appended lines stand on their own */
    rollout_result_free(&r);

    /* a journal that holds everything: nothing is decoded, the weights are not even loaded */
    o.weights_dir = "/nonexistent/adapter";
    assert_int_equal(rollout_run(&o, &r, err, sizeof err), 0);
    assert_int_equal(r.resumed, 6);
    assert_int_equal(r.gen.n_samples, 0);
    assert_string_equal(r.completion[2], "OLD2");
    rollout_result_free(&r);
}

static void test_errors_and_cancel(void **state) {
    (void)state;
    unlink(journal);
    rollout_opts o = options();
    rollout_result r;
    char err[512];
    volatile int stop = 1;
    o.cancel = &stop;
    assert_int_equal(rollout_run(&o, &r, err, sizeof err), 1);
    o.cancel = NULL;
    o.weights_dir = "/nonexistent/adapter";
    assert_int_equal(rollout_run(&o, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/adapter"));
    o = options();
    const size_t bad[] = {7};
    o.select = bad;
    o.n_select = 1;
    assert_int_equal(rollout_run(&o, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "out of range"));
    o = options();
    o.journal_path = "/nonexistent/dir/journal.jsonl";
    assert_int_equal(rollout_run(&o, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/dir/journal.jsonl"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_journal),
        cmocka_unit_test(test_resume_from_journal),
        cmocka_unit_test(test_errors_and_cancel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
