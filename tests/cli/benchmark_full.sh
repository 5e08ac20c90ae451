# benchmark full, end to end on a tiny random model: the seed's output layout, summary.json schema
# (the original's keys as a subset), samples records with the real program output, console tables,
# resume after an interrupt (finished phases skipped, a half-done one continued), full fine-tuning,
# flag errors.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

"$HF" -q model init --preset tiny --seed 3 --init-std 0.3 --output m >/dev/null
for i in 1 2 3; do echo "{\"id\": \"p$i\", \"prompt\": \"Write program number $i in C\", \"category\": \"c$((i % 2))\"}"; done > p.jsonl
# gibberish from random weights: the custom verifier passes a completion with an "e" in it and prints
# the matching lines, which become the sample's actual_output
common=(--model m --prompts p.jsonl --samples-per-prompt 3 --max-new-tokens 8 --verifier custom
        --verify-command "grep e {file}" --batch-size 2 --gradient-accumulation 1 --learning-rate 1e-2 --lora-rank 4
        --monitor-interval 0.1 --workers 2)

expect_rc 0 "benchmark full, 2 cycles" -- "$HF" benchmark full "${common[@]}" --cycles 2 --output b
expect_grep "^Summary Table" "$T/out" "summary table printed"
expect_grep "samples verified during generation" "$T/err" "cycles verify while generating"
expect_grep "^\| Model \| Baseline Compile \| Final Compile \| Improvement \| pass@1 \| Time \| Energy \|" "$T/out" "table header"
expect_grep "^Detailed Results" "$T/out" "detailed results printed"
expect_grep "^Cycle 2: +[0-9.]+% compile \(kept [0-9]+ samples, loss=" "$T/out" "per-cycle line"
for f in summary.json baseline_samples.jsonl baseline_hardware.csv final_samples.jsonl final_hardware.csv \
         cycle_1/samples.jsonl cycle_1/hardware.csv cycle_1/checkpoint/adapter_config.json \
         cycle_2/samples.jsonl cycle_2/hardware.csv cycle_2/checkpoint/adapter_model.safetensors; do
    if [ -s "b/$f" ]; then passes=$((passes + 1)); else echo "FAIL: b/$f missing"; fails=$((fails + 1)); fi
done
for f in cycle_1/kept.jsonl cycle_2/kept.jsonl; do
    if [ -f "b/$f" ]; then passes=$((passes + 1)); else echo "FAIL: b/$f missing"; fails=$((fails + 1)); fi
done
expect_rc 1 "no leftover merged weights" -- test -e b/raft/work_model
cat > check.py <<'PY'
import json, csv, sys
B = sys.argv[1] if len(sys.argv) > 1 else "b"
s = json.load(open(f"{B}/summary.json"))
orig = {"model_name", "model_short", "n_cycles", "total_time_sec", "baseline", "cycles", "final",
        "hardware_summary", "improvement"}
assert orig <= set(s), set(s) ^ orig
ev_keys = {"total_prompts", "total_samples", "compiled", "passed", "compile_rate", "pass_rate", "pass_at_1",
           "pass_at_k", "avg_reward", "tokens_per_sec", "generation_time_sec", "verification_time_sec", "hardware"}
for phase in ("baseline", "final"):
    e = s[phase]
    assert ev_keys <= set(e), ev_keys - set(e)
    assert e["total_prompts"] == 3 and e["total_samples"] == 9, e
    recs = [json.loads(l) for l in open(f"{B}/{phase}_samples.jsonl")]
    assert len(recs) == 9
    for r in recs:
        assert {"prompt_id", "prompt", "expected_output", "code", "sample_idx", "compiles", "reward", "error",
                "passes", "actual_output"} <= set(r), r
        if r["passes"]:
            out = r["actual_output"]
            assert out and all("e" in line for line in out.split("\n") if line), r  # the real output
    assert abs(e["pass_rate"] - sum(r["passes"] for r in recs) / 9) < 1e-3
    assert e["tokens_per_sec"] is None or e["tokens_per_sec"] > 0
    assert e["hardware"]["samples_count"] >= 2
    rows = list(csv.reader(open(f"{B}/{phase}_hardware.csv")))
    assert rows[0][:6] == ["timestamp", "gpu_util_pct", "gpu_mem_used_gb", "gpu_mem_total_gb", "gpu_temp_c", "gpu_power_w"]
    assert "cpu_power_w" in rows[0] and "rss_gb" in rows[0] and len(rows) >= 3
assert [c["cycle"] for c in s["cycles"]] == [1, 2]
for c in s["cycles"]:
    assert {"cycle", "generated", "verified", "kept", "compile_rate", "avg_reward", "training_loss",
            "training_steps", "cycle_time_sec", "hardware"} <= set(c), c
    assert c["generated"] == 9
    kept = [json.loads(l) for l in open(f"{B}/cycle_{c['cycle']}/kept.jsonl")]
    assert len(kept) == c["kept"], (len(kept), c["kept"])
    assert len(open(f"{B}/cycle_{c['cycle']}/samples.jsonl").readlines()) == 9
imp = s["improvement"]
assert abs(imp["compile_rate"] - (s["final"]["compile_rate"] - s["baseline"]["compile_rate"])) < 1e-3
print("ok")
PY
expect_rc 0 "summary schema, samples records and hardware CSVs" -- $PY check.py

# Interrupted after the baseline and cycle 1 (SIGINT), then rerun: the finished phases are skipped and
# left as they are, the rest is done, the result is complete.
slow=("${common[@]}" --max-new-tokens 200)
"$HF" benchmark full "${slow[@]}" --cycles 2 --output r >/dev/null 2>r1.err &
pid=$!
for _ in $(seq 1 600); do [ -s r/cycle_1/cycle.json ] && break; sleep 0.05; done
kill -INT $pid
wait $pid
rc=$?
expect_rc 0 "interrupted benchmark exits with 130 (rc $rc)" -- test "$rc" -eq 130
expect_rc 1 "no summary after the interrupt" -- test -e r/summary.json
expect_grep '"done":[[:space:]]*true' r/baseline_phase.json "baseline finished before the interrupt"
touch -d '2001-01-01' r/baseline_samples.jsonl r/cycle_1/samples.jsonl r/raft/cycle_1_final/adapter_model.safetensors
expect_rc 0 "rerun continues" -- "$HF" benchmark full "${slow[@]}" --cycles 2 --output r
expect_grep "baseline evaluation: already done, skipped" "$T/err" "baseline not redone"
expect_grep "Cycle 1: already done, skipped" "$T/err" "cycle 1 not redone"
expect_rc 1 "final evaluation ran in the rerun" -- grep -q "final evaluation: already done" "$T/err"
expect_rc 0 "baseline samples untouched" -- test -z "$(find r/baseline_samples.jsonl -newermt 2002-01-01)"
expect_rc 0 "cycle 1 samples untouched" -- test -z "$(find r/cycle_1/samples.jsonl -newermt 2002-01-01)"
expect_rc 0 "cycle 1 weights untouched" -- test -z "$(find r/raft/cycle_1_final/adapter_model.safetensors -newermt 2002-01-01)"
expect_rc 0 "resumed result complete and consistent" -- $PY check.py r
expect_rc 0 "a third run redoes nothing" -- "$HF" benchmark full "${slow[@]}" --cycles 2 --output r
expect_grep "final evaluation: already done, skipped" "$T/err" "final not redone"

# Interrupted in the middle of the baseline's generation: the saved completions are kept.
"$HF" benchmark full "${slow[@]}" --cycles 1 --output h --generation-batch-size 1 >/dev/null 2>h1.err &
pid=$!
for _ in $(seq 1 600); do [ -s h/baseline_generated.jsonl ] && break; sleep 0.02; done
kill -INT $pid
wait $pid
rc=$?
expect_rc 0 "interrupted in the baseline (rc $rc)" -- test "$rc" -eq 130
n_saved=$(wc -l < h/baseline_generated.jsonl)
expect_rc 0 "rerun after a half-done baseline" -- "$HF" benchmark full "${slow[@]}" --cycles 1 --output h --generation-batch-size 1
expect_grep "baseline evaluation: [0-9]+ samples kept from an interrupted run" "$T/err" "half-done baseline continued"
expect_rc 1 "generated file removed once the phase is done" -- test -e h/baseline_generated.jsonl
expect_rc 0 "summary after the continued baseline (${n_saved} samples had been saved)" -- $PY -c "
import json; s = json.load(open('h/summary.json')); assert s['baseline']['total_samples'] == 9, s['baseline']"

# Full fine-tuning: every cycle's checkpoint is a full model folder.
expect_rc 0 "benchmark full --no-lora" -- "$HF" benchmark full "${common[@]}" --cycles 1 --output f --no-lora
for f in cycle_1/checkpoint/config.json cycle_1/checkpoint/model.safetensors summary.json; do
    if [ -s "f/$f" ]; then passes=$((passes + 1)); else echo "FAIL: f/$f missing"; fails=$((fails + 1)); fi
done
expect_rc 1 "no adapter in full mode" -- test -e f/cycle_1/checkpoint/adapter_config.json

expect_rc 2 "neither --model nor --suite" -- "$HF" benchmark full
expect_grep "exactly one of --model" "$T/err" "says what is missing"
expect_rc 2 "both --model and --suite" -- "$HF" benchmark full --model m --suite small
expect_rc 2 "bad suite" -- "$HF" benchmark full --suite huge
expect_rc 2 "custom without a command" -- "$HF" benchmark full --model m --verifier custom
expect_rc 1 "missing prompts file" -- "$HF" benchmark full --model m --prompts nope.jsonl --output x
expect_grep "nope.jsonl" "$T/err" "names the file"
finish
