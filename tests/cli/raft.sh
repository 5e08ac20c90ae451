# raft train, end to end on a tiny random model: the output layout, statistics, the next cycle sampling
# from the trained weights, resume (finished cycles skipped, a half-generated cycle continued, a verified
# cycle not verified again), Ctrl-C, a cycle that keeps nothing, flag errors.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

"$HF" -q model init --preset tiny --seed 3 --init-std 0.3 --output m >/dev/null
for i in 1 2 3 4; do echo "{\"id\": \"p$i\", \"prompt\": \"Write program number $i in C\"}"; done > p.jsonl
# Random weights write gibberish: the custom verifier rewards completions that contain an "e", so
# some samples pass and some do not, and the filter has something to keep.
common=(--model m --prompts p.jsonl --samples-per-prompt 4 --max-new-tokens 10 --verifier custom
        --verify-command "grep -q e {file}" --batch-size 2 --gradient-accumulation 1 --learning-rate 2e-2
        --lora-rank 4 --workers 2)

expect_rc 0 "raft train, 2 cycles" -- "$HF" raft train "${common[@]}" --output run --cycles 2
expect_grep "^run/cycle_2_final$" "$T/out" "prints the final adapter"
expect_grep "Cycle 2: sampling from run/cycle_1_final applied to the base model" "$T/err" "cycle 2 samples from cycle 1's adapter"
expect_grep "samples verified during generation" "$T/err" "verification overlaps generation"
for c in 1 2; do
    for f in cycle_${c}_samples.jsonl cycle_${c}_verified.jsonl cycle_${c}_final/adapter_config.json \
             cycle_${c}_final/adapter_model.safetensors cycle_${c}/metrics.jsonl; do
        if [ -s "run/$f" ]; then passes=$((passes + 1)); else echo "FAIL: run/$f missing"; fails=$((fails + 1)); fi
    done
done
expect_rc 1 "no merged weights written (the adapter is applied in memory)" -- test -e run/work_model
for f in raft_statistics.json curriculum_stats.json; do
    if [ -s "run/$f" ]; then passes=$((passes + 1)); else echo "FAIL: run/$f missing"; fails=$((fails + 1)); fi
done
cat > check.py <<'PY'
import json, sys
out = sys.argv[1]; cycles = int(sys.argv[2]); base_lr = float(sys.argv[3]) if len(sys.argv) > 3 else 2e-2
stats = json.load(open(f"{out}/raft_statistics.json"))
assert [s["cycle"] for s in stats] == list(range(1, cycles + 1)), stats
for s in stats:
    c = s["cycle"]
    samples = [json.loads(l) for l in open(f"{out}/cycle_{c}_samples.jsonl")]
    assert len(samples) == 16, len(samples)
    assert len({(r["prompt_id"], r["sample_idx"]) for r in samples}) == 16, "duplicate samples"
    ver = [json.loads(l) for l in open(f"{out}/cycle_{c}_verified.jsonl")]
    assert len(ver) == 16
    rewards = [r["reward"] for r in ver]
    assert rewards == sorted(rewards, reverse=True), "verified file sorted by reward"
    assert all(r["success"] == (r["reward"] == 1.0) for r in ver)
    assert s["elapsed_minutes"] >= 0 and s["total_samples"] == 16 and sum(s["reward_distribution"].values()) == 16, s
    assert abs(s["success_rate"] - sum(r["success"] for r in ver) / 16) < 1e-9
    assert 1 <= s["kept"] <= 16, s
    train = [json.loads(l) for l in open(f"{out}/cycle_{c}/train.jsonl")]
    assert len(train) == s["kept"], (len(train), s["kept"])
    assert [m["role"] for m in train[0]["messages"]] == ["system", "user", "assistant"]
    assert s["train_loss"] is not None and s["train_loss"] > 0
    # learning rate of cycle c = base x 0.85^(c-1)
    assert abs(s["learning_rate"] - base_lr * 0.85 ** (c - 1)) < 1e-9, s["learning_rate"]
cur = json.load(open(f"{out}/curriculum_stats.json"))
assert sum(p["attempts"] for p in cur["prompt_stats"]) == 16 * cycles, cur
print("ok")
PY
expect_rc 0 "files, statistics and training data agree" -- $PY check.py run 2

# The weights cycle 2 samples from are the base with cycle 1's adapter applied: they score a text
# differently from the base model, and as the adapter merged into f32 weights does.
"$HF" -q raft train "${common[@]}" --output one --cycles 1 >/dev/null 2>&1
"$HF" -q score --model m --text "int main() { return 0; }" > s_base.json
expect_rc 0 "merge cycle 1's adapter" -- "$HF" -q lora merge --adapter run/cycle_1_final --model m --output merged1 --dtype f32
"$HF" -q score --model merged1 --text "int main() { return 0; }" > s_c1.json
"$HF" -q score --model run/cycle_1_final --text "int main() { return 0; }" > s_work.json
expect_rc 1 "trained weights differ from the base" -- cmp -s s_base.json s_c1.json
expect_rc 0 "base + adapter in memory = merged weights (within the base's bf16 rounding)" -- $PY -c "
import json; a, b, base = (json.load(open(f)) for f in ('s_c1.json', 's_work.json', 's_base.json'))
assert a['tokens'] == b['tokens']
rounding = max(abs(x - y) for x, y in zip(a['logprobs'], b['logprobs']))
effect = max(abs(x - y) for x, y in zip(a['logprobs'], base['logprobs']))
assert rounding < 0.1 * effect, (rounding, effect)  # test_raft_weights checks the rounding weight by weight"
expect_rc 0 "cycle 1 of another run is the same (seeded)" -- cmp one/cycle_1_final/adapter_model.safetensors run/cycle_1_final/adapter_model.safetensors

# Resume: finished cycles are skipped and left as they are.
cp run/cycle_1_samples.jsonl c1.bak
cp -r run half
expect_rc 0 "rerun with one more cycle" -- "$HF" raft train "${common[@]}" --output run --cycles 3
expect_grep "Cycle 1: already done, skipped" "$T/err" "cycle 1 skipped"
expect_grep "Cycle 2: already done, skipped" "$T/err" "cycle 2 skipped"
expect_rc 0 "cycle 1 samples untouched" -- cmp c1.bak run/cycle_1_samples.jsonl
expect_rc 0 "3 cycles consistent" -- $PY check.py run 3

# A half-generated cycle (crash in the middle of a line) continues with the missing samples only.
rm -rf half/cycle_2_final half/cycle_2_verified.jsonl half/cycle_2
head -n 5 run/cycle_2_samples.jsonl > half/cycle_2_samples.jsonl
printf '{"prompt_id": "p1", "compl' >> half/cycle_2_samples.jsonl
head -n 5 half/cycle_2_samples.jsonl > first5
expect_rc 0 "resume a half-generated cycle" -- "$HF" raft train "${common[@]}" --output half --cycles 2
expect_grep "Cycle 2/2: 4 prompts, stage generate" "$T/err" "resumed at generation"
expect_grep "generating 11 samples" "$T/err" "only the 11 missing samples"
expect_rc 0 "the 5 saved samples kept" -- cmp first5 <(head -n 5 half/cycle_2_samples.jsonl)
expect_rc 0 "half-generated cycle completed" -- $PY check.py half 2

# A verified cycle is not verified again.
rm -rf half/cycle_2_final half/cycle_2
cp half/cycle_2_verified.jsonl v2.bak
expect_rc 0 "resume at training" -- "$HF" raft train "${common[@]}" --output half --cycles 2
expect_grep "stage train" "$T/err" "resumed at training"
expect_rc 1 "no verification" -- grep -q "verify: " "$T/err"
expect_rc 0 "verified file untouched" -- cmp v2.bak half/cycle_2_verified.jsonl

# A cycle whose samples all fail keeps nothing: the weights stay, the cycle still finishes.
expect_rc 0 "nothing kept" -- "$HF" raft train --model m --prompts p.jsonl --samples-per-prompt 2 --max-new-tokens 4 \
    --verifier custom --verify-command "false {file}" --lora-rank 4 --output none --cycles 1
expect_grep "no sample kept" "$T/err" "says nothing was kept"
expect_grep '"kept":[[:space:]]*0' none/raft_statistics.json "kept 0 in the statistics"
if [ -s none/cycle_1_final/adapter_model.safetensors ]; then passes=$((passes + 1)); else echo "FAIL: no adapter after an empty cycle"; fails=$((fails + 1)); fi

# Ctrl-C in the middle of a long generation stops within seconds and keeps the complete samples.
for i in $(seq 1 32); do echo "{\"id\": \"q$i\", \"prompt\": \"Write program number $i in C\"}"; done > many.jsonl
"$HF" raft train --model m --prompts many.jsonl --samples-per-prompt 64 --max-new-tokens 400 --verifier custom \
    --verify-command "true {file}" --output int --cycles 1 --generation-batch-size 8 >/dev/null 2>int.err &
pid=$!
for _ in $(seq 1 100); do [ -s int/cycle_1_samples.jsonl ] && break; sleep 0.05; done
kill -INT $pid
t0=$(date +%s)
wait $pid
rc=$?
t1=$(date +%s)
expect_rc 0 "interrupted run exits with 130 (rc $rc)" -- test "$rc" -eq 130
expect_rc 0 "stopped within 5 s ($((t1 - t0)) s)" -- test $((t1 - t0)) -le 5
expect_grep "interrupted" int.err "says it was interrupted"
expect_rc 1 "no final adapter after the interrupt" -- test -d int/cycle_1_final
expect_rc 0 "saved samples are complete lines" -- $PY -c "
import json; n = sum(1 for l in open('int/cycle_1_samples.jsonl') if json.loads(l)); assert 0 < n < 2048, n"

# Ctrl-C while the verifiers run (programs that never end, a long timeout): stops within seconds,
# kills the running programs, leaves no sandbox directory, writes no verified file.
"$HF" raft train --model m --prompts p.jsonl --samples-per-prompt 2 --max-new-tokens 4 --verifier custom \
    --verify-command "tail -f {file}" --workers 2 --output vint --cycles 1 >/dev/null 2>vint.err &
pid=$!
for _ in $(seq 1 200); do [ "$( { wc -l < vint/cycle_1_samples.jsonl; } 2>/dev/null || echo 0)" -ge 8 ] && break; sleep 0.05; done
sleep 0.5
kill -INT $pid
t0=$(date +%s)
wait $pid
rc=$?
t1=$(date +%s)
expect_rc 0 "interrupted while verifying: exits with 130 (rc $rc)" -- test "$rc" -eq 130
expect_rc 0 "stopped within 5 s ($((t1 - t0)) s)" -- test $((t1 - t0)) -le 5
expect_rc 1 "no verified file" -- test -e vint/cycle_1_verified.jsonl
left=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' | grep -c "hf-sbx-$pid[-]")
expect_rc 0 "no program left running ($left)" -- test "$left" -eq 0
expect_rc 0 "no sandbox directory left" -- test -z "$(ls -d "${TMPDIR:-/tmp}/hf-sbx-$pid-"* 2>/dev/null)"
expect_rc 0 "resume verifies the saved samples" -- "$HF" raft train --model m --prompts p.jsonl --samples-per-prompt 2 \
    --max-new-tokens 4 --verifier custom --verify-command "grep -q e {file}" --workers 2 --output vint --cycles 1
expect_grep "stage verify" "$T/err" "resumed at verification"

# Starting from an adapter (an SFT result): cycle 1 samples with it merged in and trains it further.
expect_rc 0 "--checkpoint" -- "$HF" raft train "${common[@]}" --output fromck --cycles 1 --checkpoint run/cycle_1_final --lora-rank 8
expect_grep "Cycle 1: sampling from run/cycle_1_final applied to the base model" "$T/err" "cycle 1 samples from the checkpoint"
expect_grep '"r":[[:space:]]*4' fromck/cycle_1_final/adapter_config.json "the checkpoint's rank is kept"
expect_rc 0 "an adapter as --model means its base + the adapter" -- "$HF" raft train "${common[@]}" --model run/cycle_1_final --output fromck2 --cycles 1
expect_grep "Cycle 1: sampling from run/cycle_1_final applied to the base model" "$T/err" "adapter given as --model"

# Full fine-tuning (--no-lora): cycle_N_final is a full model folder, the next cycle samples from it,
# and a rerun resumes.
expect_rc 0 "raft train --no-lora, 2 cycles" -- "$HF" raft train "${common[@]}" --learning-rate 1e-3 --no-lora --output full --cycles 2
expect_grep "^full/cycle_2_final$" "$T/out" "prints the final model"
expect_grep "Cycle 2: sampling from full/cycle_1_final applied to the base model" "$T/err" "cycle 2 samples from cycle 1's model"
for c in 1 2; do
    for f in config.json model.safetensors tokenizer.json; do
        if [ -s "full/cycle_${c}_final/$f" ]; then passes=$((passes + 1)); else echo "FAIL: full/cycle_${c}_final/$f missing"; fails=$((fails + 1)); fi
    done
done
expect_rc 1 "no adapter in full mode" -- test -e full/cycle_1_final/adapter_config.json
"$HF" -q score --model full/cycle_2_final --text "int main() { return 0; }" > s_full.json
expect_rc 1 "fully fine-tuned weights differ from the base" -- cmp -s s_base.json s_full.json
expect_rc 0 "resume --no-lora with one more cycle" -- "$HF" raft train "${common[@]}" --learning-rate 1e-3 --no-lora --output full --cycles 3
expect_grep "Cycle 2: already done, skipped" "$T/err" "finished full cycles skipped"
expect_grep "Cycle 3: sampling from full/cycle_2_final" "$T/err" "cycle 3 samples from cycle 2's model"
expect_rc 0 "3 full cycles consistent" -- $PY check.py full 3 1e-3

# Errors.
expect_rc 2 "no --model" -- "$HF" raft train --prompts p.jsonl
expect_grep "model" "$T/err" "names the missing flag"
expect_rc 2 "missing prompts file" -- "$HF" raft train --model m --prompts nope.jsonl
expect_grep "nope.jsonl" "$T/err" "names the file"
expect_rc 2 "custom verifier without a command" -- "$HF" raft train --model m --prompts p.jsonl --verifier custom
expect_rc 2 "bad curriculum" -- "$HF" raft train --model m --prompts p.jsonl --curriculum sideways
expect_rc 1 "not a model folder" -- "$HF" raft train --model p.jsonl --prompts p.jsonl --output bad
finish
