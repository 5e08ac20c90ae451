# benchmark full, end to end on a tiny random model: the seed's output layout, summary.json schema
# (the original's keys as a subset), samples records with the real program output, console tables,
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
import json, csv
s = json.load(open("b/summary.json"))
orig = {"model_name", "model_short", "n_cycles", "total_time_sec", "baseline", "cycles", "final",
        "hardware_summary", "improvement"}
assert orig <= set(s), set(s) ^ orig
ev_keys = {"total_prompts", "total_samples", "compiled", "passed", "compile_rate", "pass_rate", "pass_at_1",
           "pass_at_k", "avg_reward", "tokens_per_sec", "generation_time_sec", "verification_time_sec", "hardware"}
for phase in ("baseline", "final"):
    e = s[phase]
    assert ev_keys <= set(e), ev_keys - set(e)
    assert e["total_prompts"] == 3 and e["total_samples"] == 9, e
    recs = [json.loads(l) for l in open(f"b/{phase}_samples.jsonl")]
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
    rows = list(csv.reader(open(f"b/{phase}_hardware.csv")))
    assert rows[0][:6] == ["timestamp", "gpu_util_pct", "gpu_mem_used_gb", "gpu_mem_total_gb", "gpu_temp_c", "gpu_power_w"]
    assert "cpu_power_w" in rows[0] and "rss_gb" in rows[0] and len(rows) >= 3
assert [c["cycle"] for c in s["cycles"]] == [1, 2]
for c in s["cycles"]:
    assert {"cycle", "generated", "verified", "kept", "compile_rate", "avg_reward", "training_loss",
            "training_steps", "cycle_time_sec", "hardware"} <= set(c), c
    assert c["generated"] == 9
    kept = [json.loads(l) for l in open(f"b/cycle_{c['cycle']}/kept.jsonl")]
    assert len(kept) == c["kept"], (len(kept), c["kept"])
    assert len(open(f"b/cycle_{c['cycle']}/samples.jsonl").readlines()) == 9
imp = s["improvement"]
assert abs(imp["compile_rate"] - (s["final"]["compile_rate"] - s["baseline"]["compile_rate"])) < 1e-3
print("ok")
PY
expect_rc 0 "summary schema, samples records and hardware CSVs" -- $PY check.py

expect_rc 2 "neither --model nor --suite" -- "$HF" benchmark full
expect_grep "exactly one of --model" "$T/err" "says what is missing"
expect_rc 2 "both --model and --suite" -- "$HF" benchmark full --model m --suite small
expect_rc 2 "bad suite" -- "$HF" benchmark full --suite huge
expect_rc 2 "custom without a command" -- "$HF" benchmark full --model m --verifier custom
expect_rc 1 "missing prompts file" -- "$HF" benchmark full --model m --prompts nope.jsonl --output x
expect_grep "nope.jsonl" "$T/err" "names the file"
finish
