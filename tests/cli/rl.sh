# rl train, end to end on a tiny random model: every algorithm runs through the RAFT loop's files, the samples
# keep their token ids and the sampler's log-probs, per-step metrics (mismatch ~0), resume after SIGKILL in the
# middle of a rollout and in the middle of an update gives the same final adapter as an uninterrupted run, flag
# errors.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

"$HF" -q model init --preset tiny --seed 3 --init-std 0.3 --output m >/dev/null
for i in 1 2 3 4; do echo "{\"id\": \"p$i\", \"prompt\": \"Write program number $i in C\"}"; done > p.jsonl
# Random weights write gibberish: the custom verifier rewards completions that contain an "e".
common=(--model m --prompts p.jsonl --samples-per-prompt 4 --max-new-tokens 10 --verifier custom
        --verify-command "grep -q e {file}" --learning-rate 2e-2 --lora-rank 4 --workers 2 --temperature 0.8)

cat > check.py <<'PY'
import json, math, sys
out, algo, cycles = sys.argv[1], sys.argv[2], int(sys.argv[3])
stats = json.load(open(f"{out}/raft_statistics.json"))
assert [s["cycle"] for s in stats] == list(range(1, cycles + 1)), stats
for s in stats:
    c = s["cycle"]
    assert s["algorithm"] == algo, s
    rl = s["rl"]
    for k in ["mean_reward", "reward_std", "zero_std_group_fraction", "clip_fraction", "entropy", "response_length",
              "clipped_length_ratio", "logprob_mismatch_max", "logprob_mismatch_mean", "training_tokens_per_s"]:
        assert k in rl, k
    ver = [json.loads(l) for l in open(f"{out}/cycle_{c}_verified.jsonl")]
    assert len(ver) == 16
    for r in ver:
        assert len(r["tokens"]) == r["n_tokens"] == len(r["logprobs"]), r
        assert all(lp <= 0 for lp in r["logprobs"])
    assert abs(rl["mean_reward"] - sum(r["reward"] for r in ver) / 16) < 1e-9
    steps = [json.loads(l) for l in open(f"{out}/cycle_{c}/rl_metrics.jsonl")]
    assert len(steps) == rl["optimizer_steps"] >= 1, (len(steps), rl)
    first = steps[0]
    if not first["skipped"] and rl["samples_used"]:
        # the trainer recomputes the sampler's log-probs: ratios at the first step are 1 up to this
        assert first["logprob_mismatch_max"] < 1e-3, first
        assert first["ratio_deviation_max"] < 2e-3, first
    for st in steps:
        for k in ["loss", "mean_reward", "reward_std", "zero_std_group_fraction", "clip_fraction", "kl", "entropy",
                  "response_length", "clipped_length_ratio", "sampling_tokens_per_s", "training_tokens_per_s"]:
            assert k in st, (k, st)
print("ok")
PY

# (the tiny model has no end-of-sequence id: every sample runs to --max-new-tokens, which dapo's overlong
# filter would drop; dapo's refill rounds are tested in rl_dapo.sh, here its batch is the cycle's own groups)
for algo in grpo dapo dr-grpo rloo; do
    expect_rc 0 "rl train --algorithm $algo, 2 cycles" -- "$HF" rl train "${common[@]}" --algorithm $algo \
        --output run_$algo --cycles 2 --kl-coef 0.05 --overlong-filter off --max-refill-rounds 0
    expect_grep "^run_$algo/cycle_2_final$" "$T/out" "$algo: prints the final adapter"
    expect_grep "Cycle 2: sampling from run_$algo/cycle_1_final" "$T/err" "$algo: cycle 2 samples from cycle 1's adapter"
    expect_rc 0 "$algo: files, statistics and metrics agree" -- $PY check.py run_$algo $algo 2
    if [ -s run_$algo/cycle_2_final/adapter_model.safetensors ]; then passes=$((passes + 1)); else
        echo "FAIL: $algo: no adapter"; fails=$((fails + 1)); fi
done
expect_rc 1 "grpo and rloo train different adapters" -- cmp -s run_grpo/cycle_2_final/adapter_model.safetensors \
    run_rloo/cycle_2_final/adapter_model.safetensors
expect_grep '"kl":' run_grpo/cycle_1/rl_metrics.jsonl "KL logged"
expect_rc 0 "dapo's overlong filter on samples that all hit the limit" -- "$HF" rl train "${common[@]}" \
    --algorithm dapo --output overlong --cycles 1
expect_grep "no sample carries a learning signal" "$T/err" "says nothing was trained"
expect_rc 0 "and leaves the weights as they were (an adapter still written)" -- \
    test -s overlong/cycle_1_final/adapter_model.safetensors

# raft is reachable the same way: the RAFT loop's training output
expect_rc 0 "rl train --algorithm raft" -- "$HF" rl train "${common[@]}" --algorithm raft --batch-size 2 \
    --gradient-accumulation 1 --output run_raft --cycles 1
expect_rc 0 "raft: the trainer's metrics" -- test -s run_raft/cycle_1/metrics.jsonl

# Resume after SIGKILL. With --old-logprobs trainer the update depends on the samples' token ids only, and a
# resumed rollout draws the very ids an uninterrupted one draws: the final adapter is identical, bit for bit.
# The reference: an uninterrupted 2-cycle run.
exact=("${common[@]}" --algorithm grpo --cycles 2 --kl-coef 0.05 --old-logprobs trainer)
expect_rc 0 "uninterrupted reference run" -- "$HF" rl train "${exact[@]}" --output ref
# (a) killed in the middle of cycle 2's rollout: the journal ends with complete lines and a cut one.
cp -r ref kill_a
rm -rf kill_a/cycle_2_final kill_a/cycle_2_verified.jsonl kill_a/cycle_2
head -n 7 ref/cycle_2_samples.jsonl > kill_a/cycle_2_samples.jsonl
printf '{"prompt_id": "p3", "completion": "ab", "tok' >> kill_a/cycle_2_samples.jsonl
expect_rc 0 "resume after a kill mid-rollout" -- "$HF" rl train "${exact[@]}" --output kill_a
expect_grep "generating 9 samples" "$T/err" "only the 9 missing samples are generated"
expect_rc 0 "mid-rollout resume: the same final adapter" -- cmp kill_a/cycle_2_final/adapter_model.safetensors \
    ref/cycle_2_final/adapter_model.safetensors
# (b) killed in the middle of cycle 2's update: verified file written, some steps logged, a half-written
#     final folder under its temporary name.
cp -r ref kill_b
rm -rf kill_b/cycle_2_final
head -n 1 ref/cycle_2/rl_metrics.jsonl > kill_b/cycle_2/rl_metrics.jsonl
mkdir kill_b/cycle_2_final.tmp && printf 'partial' > kill_b/cycle_2_final.tmp/adapter_model.safetensors
expect_rc 0 "resume after a kill mid-update" -- "$HF" rl train "${exact[@]}" --output kill_b
expect_grep "stage train" "$T/err" "resumed at training"
expect_rc 0 "mid-update resume: the same final adapter" -- cmp kill_b/cycle_2_final/adapter_model.safetensors \
    ref/cycle_2_final/adapter_model.safetensors
cat > same_steps.py <<'PY'
import json, sys
timing = {"sampling_tokens_per_s", "training_tokens_per_s"}
a, b = ([{k: v for k, v in json.loads(l).items() if k not in timing} for l in open(f)] for f in sys.argv[1:3])
assert a == b, (a, b)
PY
expect_rc 0 "the update's metrics written again in full" -- $PY same_steps.py kill_b/cycle_2/rl_metrics.jsonl \
    ref/cycle_2/rl_metrics.jsonl
# (c) a real SIGKILL, wherever it lands (rollout, verification or update): the rerun ends with the same adapter.
"$HF" rl train "${exact[@]}" --output kill_c >/dev/null 2>kill_c.err &
pid=$!
for _ in $(seq 1 400); do [ -s kill_c/cycle_1_samples.jsonl ] && break; sleep 0.01; done
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
expect_rc 0 "resume after SIGKILL" -- "$HF" rl train "${exact[@]}" --output kill_c
expect_rc 0 "after SIGKILL: the same final adapter" -- cmp kill_c/cycle_2_final/adapter_model.safetensors \
    ref/cycle_2_final/adapter_model.safetensors
# With the sampler's own log-probs (the default) a resumed rollout's log-probs differ in their last bits (which
# samples were decoded together): the same token ids, and an adapter equal to rounding.
cp -r run_grpo kill_d
rm -rf kill_d/cycle_2_final kill_d/cycle_2_verified.jsonl kill_d/cycle_2
head -n 7 run_grpo/cycle_2_samples.jsonl > kill_d/cycle_2_samples.jsonl
expect_rc 0 "resume with the sampler's log-probs" -- "$HF" rl train "${common[@]}" --algorithm grpo --output kill_d \
    --cycles 2 --kl-coef 0.05
cat > close.py <<'PY'
import json, struct, sys, array
def ver(d):
    return {(r["prompt_id"], r["sample_idx"]): r for r in map(json.loads, open(d + "/cycle_2_verified.jsonl"))}
a, b = ver(sys.argv[1]), ver(sys.argv[2])
assert all(a[k]["tokens"] == b[k]["tokens"] for k in a), "token ids differ"
assert max(abs(x - y) for k in a for x, y in zip(a[k]["logprobs"], b[k]["logprobs"])) < 1e-4
def params(d):
    raw = open(d + "/cycle_2_final/adapter_model.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return array.array("f", raw[8 + n:])
pa, pb = params(sys.argv[1]), params(sys.argv[2])
# Relative L2 distance, not the largest element: Adam divides by the gradient's running RMS, so an
# element whose gradient is near zero can move by a whole step on a last-bit difference.
norm = sum(x * x for x in pa) ** 0.5
dist = sum((x - y) ** 2 for x, y in zip(pa, pb)) ** 0.5
print("adapter: |a| %.4g, |a-b| %.4g, max elem diff %.4g" % (norm, dist, max(abs(x - y) for x, y in zip(pa, pb))))
assert norm > 1e-3 and dist < 1e-3 * norm, (dist, norm)
PY
expect_rc 0 "sampler log-probs: same ids, adapter equal to rounding" -- $PY close.py kill_d run_grpo

# Full fine-tuning runs the same update on every parameter.
expect_rc 0 "rl train --no-lora" -- "$HF" rl train "${common[@]}" --no-lora --learning-rate 1e-3 --output full --cycles 1
expect_rc 0 "full: a model folder" -- test -s full/cycle_1_final/config.json

# Flag errors.
expect_rc 2 "unknown algorithm" -- "$HF" rl train "${common[@]}" --algorithm ppo --output bad
expect_grep "algorithm" "$T/err" "names the flag"
expect_rc 2 "greedy sampling refused" -- "$HF" rl train "${common[@]}" --temperature 0 --output bad
expect_grep "temperature" "$T/err" "says why"
expect_rc 2 "one sample per prompt refused" -- "$HF" rl train "${common[@]}" --samples-per-prompt 1 --output bad
expect_grep "samples-per-prompt" "$T/err" "says why"
expect_rc 2 "KL with full fine-tuning refused" -- "$HF" rl train "${common[@]}" --no-lora --kl-coef 0.1 --output bad
expect_grep "kl-coef needs LoRA" "$T/err" "says why"
expect_rc 0 "help" -- "$HF" rl train --help
expect_grep "dr-grpo" "$T/out" "help lists the algorithms"
finish
