# plot benchmarks on a real benchmark full run of the bundled model, and the TensorBoard events of
# benchmark full and raft train read back by an independent reader and compared with the run's JSON.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
CHECK="$SRC/tests/plot_check.py"
M="$SRC/models/tiny-coder"

cat > p.jsonl <<'P'
{"id": "count_to_4", "prompt": "Write a C++ program that prints the numbers 1 through 4, each on a new line.", "expected_output": "1\n2\n3\n4", "category": "basic_io"}
{"id": "sum_7_9", "prompt": "Write a C++ function that returns the sum of two integers a and b, then call it in main to print the result of 7 + 9.", "expected_output": "16", "category": "arithmetic"}
P
expect_rc 0 "benchmark full on tiny-coder" -- "$HF" -q benchmark full --model "$M" --prompts p.jsonl --cycles 2 \
    --samples-per-prompt 4 --max-new-tokens 128 --monitor-interval 0.5 --output bf

# TensorBoard: benchmark full's own events against summary.json and the hardware CSVs
"$PY" "$CHECK" events bf/tensorboard > bf_events.json 2>"$T/err"
expect_rc 0 "bf/tensorboard decodes" -- test -s bf_events.json
expect_rc 0 "benchmark events = summary.json + hardware CSVs" -- $PY - <<'P'
import csv, glob, json, math
ev = json.load(open("bf_events.json"))
s = json.load(open("bf/summary.json"))
f32 = lambda a, b: a is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
for tag, key in [("eval/compile_rate", "compile_rate"), ("eval/pass_at_1", "pass_at_1"), ("eval/avg_reward", "avg_reward")]:
    pts = {p[0]: p[1] for p in ev[tag]}
    assert sorted(pts) == [0, 2], (tag, pts)
    assert f32(pts[0], s["baseline"][key]) and f32(pts[2], s["final"][key]), (tag, pts)
for tag, key in [("cycle/compile_rate", "compile_rate"), ("cycle/kept", "kept"), ("cycle/training_loss", "training_loss")]:
    pts = {p[0]: p[1] for p in ev[tag]}
    assert sorted(pts) == [1, 2], (tag, pts)
    for c in s["cycles"]:
        assert f32(pts[c["cycle"]], c[key]), (tag, pts, c[key])
rows = []
for f in ["bf/baseline_hardware.csv", "bf/cycle_1/hardware.csv", "bf/cycle_2/hardware.csv", "bf/final_hardware.csv"]:
    rows += list(csv.DictReader(open(f)))
cpu = ev["hardware/cpu_util_pct"]
assert [p[0] for p in cpu] == list(range(len(rows))), (len(cpu), len(rows))
for p, r in zip(cpu, rows):
    assert f32(p[1], float(r["cpu_util_pct"])) and abs(p[2] - float(r["timestamp"])) < 1e-3, (p, r)
P
# raft's per-cycle events against raft_statistics.json; each cycle's training against its metrics.jsonl
"$PY" "$CHECK" events bf/raft/tensorboard > raft_events.json 2>"$T/err"
expect_rc 0 "raft events = raft_statistics.json" -- $PY - <<'P'
import json, math
ev = json.load(open("raft_events.json"))
st = json.load(open("bf/raft/raft_statistics.json"))
for tag, key in [("raft/compile_rate", "compile_rate"), ("raft/kept", "kept"), ("raft/avg_reward", "avg_reward"),
                 ("raft/train_loss", "train_loss"), ("raft/learning_rate", "learning_rate")]:
    pts = {p[0]: p[1] for p in ev[tag]}
    assert sorted(pts) == [c["cycle"] for c in st], (tag, pts)
    for c in st:
        assert math.isclose(pts[c["cycle"]], c[key], rel_tol=1e-6), (tag, pts, c)
P
for c in 1 2; do
    if [ -f bf/raft/cycle_$c/metrics.jsonl ]; then
        expect_rc 0 "cycle $c events = its metrics.jsonl" -- $PY "$CHECK" metrics bf/raft/cycle_$c/tensorboard bf/raft/cycle_$c/metrics.jsonl
    fi
done

# the figures
expect_rc 0 "plot benchmarks bf" -- "$HF" plot benchmarks bf
for f in compile_rate_comparison pass_at_1_comparison training_progress memory_usage time_breakdown hardware_timeline; do
    expect_grep "^bf/figures/$f.png$" "$T/out" "prints $f.png"
    expect_grep "^bf/figures/$f.svg$" "$T/out" "prints $f.svg"
done
expect_grep "^bf/figures/summary.txt$" "$T/out" "prints summary.txt"
expect_rc 0 "compile_rate_comparison.png 1100x720" -- $PY "$CHECK" png bf/figures/compile_rate_comparison.png 1100 720
expect_rc 0 "compile rate: baseline and final bars" -- $PY "$CHECK" svg bf/figures/compile_rate_comparison.svg 1100 720 0 2
expect_rc 0 "pass@1: baseline and final bars" -- $PY "$CHECK" svg bf/figures/pass_at_1_comparison.svg 1100 720 0 2
expect_rc 0 "time breakdown: six stacked parts" -- $PY "$CHECK" svg bf/figures/time_breakdown.svg 1100 760 0 6
expect_rc 0 "memory: system, RSS, GPU" -- $PY "$CHECK" svg bf/figures/memory_usage.svg 1100 720 0 -1
expect_rc 0 "training_progress.png 1600x1100" -- $PY "$CHECK" png bf/figures/training_progress.png 1600 1100
# one model: one line in each of the four panels (same colour)
expect_rc 4 "training_progress: four panels of one line" -- $PY - bf/figures/training_progress.svg <<'P'
import re, sys
sys.exit(len(re.findall(r'stroke-width:2\.25;[^"]*stroke:rgb', open(sys.argv[1]).read())))
P
# the hardware timeline: one line per measured column of the CSVs (no GPU on a CPU machine: none drawn)
expect_rc 0 "hardware_timeline: a line per measured sensor" -- $PY - "$CHECK" <<'P'
import csv, re, subprocess, sys
rows = []
for f in ["bf/baseline_hardware.csv", "bf/cycle_1/hardware.csv", "bf/cycle_2/hardware.csv", "bf/final_hardware.csv"]:
    rows += list(csv.DictReader(open(f)))
cols = ["cpu_util_pct", "gpu_util_pct", "sys_mem_used_gb", "rss_gb", "gpu_mem_used_gb", "cpu_power_w", "gpu_power_w"]
measured = [c for c in cols if any(r[c] for r in rows)]
power = any(c in measured for c in ("cpu_power_w", "gpu_power_w"))
h = 1400 if power else 1000
svg = open("bf/figures/hardware_timeline.svg").read()
lines = re.findall(r'stroke-width:2\.25;[^"]*stroke:rgb', svg)
assert len(lines) == len(measured), (len(lines), measured)
subprocess.run([sys.executable, sys.argv[1], "png", "bf/figures/hardware_timeline.png", "1400", str(h)], check=True)
P
expect_grep "^\| tiny-coder \| [0-9.]+% \| [0-9.]+% \|" bf/figures/summary.txt "summary.txt has the Summary Table row"
expect_grep "^Cycle 2: " bf/figures/summary.txt "and the detailed results"

# two models (a folder of benchmark folders): two groups of bars, two lines per progress panel
mkdir -p two && cp -r bf two/first && cp -r bf two/second && rm -rf two/*/figures
$PY - <<'P'
import json
p = "two/second/summary.json"
s = json.load(open(p)); s["model_short"] = "second-model"; s["baseline"]["compile_rate"] = 0.125
json.dump(s, open(p, "w"))
P
expect_rc 0 "plot benchmarks on two models" -- "$HF" plot benchmarks two --output twofig
expect_rc 0 "two models: still baseline + final colours" -- $PY "$CHECK" svg twofig/compile_rate_comparison.svg 1100 720 0 2
expect_rc 8 "two models: eight progress lines" -- $PY - twofig/training_progress.svg <<'P'
import re, sys
sys.exit(len(re.findall(r'stroke-width:2\.25;[^"]*stroke:rgb', open(sys.argv[1]).read())))
P
expect_rc 0 "one hardware timeline per model" -- test -s twofig/hardware_timeline_second-model.png
expect_grep "12.5%" twofig/summary.txt "the edited baseline shows in the table"

# a --suite output: comparison_summary.json, each model's files in a folder named by its model_short
mkdir -p suite && cp -r two/first suite/tiny-coder && cp -r two/second suite/second-model
$PY - <<'P'
import json
ms = [json.load(open(f"suite/{m}/summary.json")) for m in ("tiny-coder", "second-model")]
json.dump({"models": ms, "comparison": {}}, open("suite/comparison_summary.json", "w"))
P
rm suite/*/summary.json
expect_rc 0 "plot benchmarks on a suite output" -- "$HF" plot benchmarks suite
expect_rc 0 "suite: a hardware timeline per model, from its folder" -- test -s suite/figures/hardware_timeline_second-model.png
expect_grep "^\| [^|]+ \| 12.5% \|" suite/figures/summary.txt "suite: both models in the table"

# bad input
expect_rc 1 "no results" -- "$HF" plot benchmarks p.jsonl
mkdir -p broken && echo '{"model_name": "x"' > broken/summary.json
expect_rc 1 "malformed summary.json" -- "$HF" plot benchmarks broken
expect_grep "broken/summary.json: not a JSON object" "$T/err" "names the file"
echo '{"model_name": "x", "baseline": {}}' > broken/summary.json
expect_rc 1 "summary.json without final" -- "$HF" plot benchmarks broken
expect_grep 'broken/summary.json: no "final" object' "$T/err" "names the missing field"
mkdir -p nothing
expect_rc 1 "empty folder" -- "$HF" plot benchmarks nothing
expect_grep "nothing: no benchmark results" "$T/err" "says what it looks for"
finish
