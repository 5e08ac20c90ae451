#!/usr/bin/env bash
# Learning efficacy of RAFT vs GRPO vs RLOO (issue 15): `rl train` on the bundled models/tiny-coder with the 16
# built-in C++ prompts (gcc, programs run against the expected output), the same sample budget per cycle for
# every method (PROMPTS x SAMPLES), from the same seeds. Per cycle: compile rate and pass@1 of the cycle's
# samples (drawn from the weights the cycle starts from: cycle 1 is the base model) and the cycle's wall time
# (generation + verification + training); then, with FINAL_EVAL=1, `benchmark run` of each final adapter with
# the same budget ("final"). pass@1 is the unbiased estimate, which with equal samples per prompt is the
# fraction of correct samples.
#
# Usage: bench/rl_efficacy.sh [BUILD_DIR]    (run from anywhere; the issue's full configuration is the default)
#   CYCLES=4 SEEDS="1 2 3" PROMPTS=16 SAMPLES=8 MAX_NEW_TOKENS=256 METHODS="raft grpo rloo" FINAL_EVAL=1
#   BASELINE=1: also `benchmark run` of the base model per seed with the same settings as "final" (the
#   reference the final adapters are compared with: the final evaluation's sampler is benchmark run's, not the
#   cycles' rollout). KEEP=1 keeps the runs' folders (printed); EXTRA="--flag value" goes to every rl train.
# Everything else is each command's default with the model's recommended settings (its halo-forge.yaml:
# learning rate 1e-3, batch 4 for RAFT), so the methods differ only in the update.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
HF=$(realpath "${1:-$SRC/build}")/halo-forge
CYCLES=${CYCLES:-4}; SEEDS=${SEEDS:-"1 2 3"}; PROMPTS=${PROMPTS:-16}; SAMPLES=${SAMPLES:-8}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-256}; METHODS=${METHODS-"raft grpo rloo"}; FINAL_EVAL=${FINAL_EVAL:-1}
EXTRA=${EXTRA:-}; BASELINE=${BASELINE:-1}
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
D=$(mktemp -d /tmp/hf_rleff_XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then echo "runs in $D"; else trap 'rm -rf "$D"' EXIT; fi

# The built-in prompts, read from the source so that they stay the ones `benchmark` uses.
$PY - "$SRC/src/bench/prompts.c" "$PROMPTS" > "$D/prompts.jsonl" <<'PY'
import json, re, sys
src = open(sys.argv[1]).read()
s = r'"((?:[^"\\]|\\.)*)"'
items = re.findall(r'\{' + r',\s*'.join([s] * 5) + r'\}', src)
assert len(items) == 16, len(items)
un = lambda t: t.encode().decode("unicode_escape")
for i, d, c, p, e in items[:int(sys.argv[2])]:
    print(json.dumps({"id": un(i), "difficulty": un(d), "category": un(c), "prompt": un(p), "expected_output": un(e)}))
PY

echo "machine: $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "config: cycles $CYCLES, seeds $SEEDS, $(wc -l < "$D/prompts.jsonl") prompts x $SAMPLES samples, max_new_tokens $MAX_NEW_TOKENS, methods $METHODS${EXTRA:+, extra: $EXTRA}"
rows="$D/rows.jsonl"
: > "$rows"
for seed in $SEEDS; do
    if [ "$BASELINE" = 1 ]; then
        t0=$(date +%s.%N)
        "$HF" -q benchmark run --model "$SRC/models/tiny-coder" --prompts "$D/prompts.jsonl" --samples "$SAMPLES" \
            --max-new-tokens "$MAX_NEW_TOKENS" --seed "$seed" --k 1 --output "$D/base_$seed.json" >/dev/null
        t1=$(date +%s.%N)
        $PY -c 'import json, sys; r = json.load(open(sys.argv[1])); print(json.dumps({"method": "base", "seed": int(sys.argv[2]), "cycle": "final", "compile": r["compile_rate"], "pass1": r["pass_at_k"]["1"], "wall": float(sys.argv[4]) - float(sys.argv[3])}))' \
            "$D/base_$seed.json" "$seed" "$t0" "$t1" >> "$rows"
    fi
    for m in $METHODS; do
        out="$D/${m}_$seed"
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        "$HF" -q rl train --model "$SRC/models/tiny-coder" --prompts "$D/prompts.jsonl" --algorithm "$m" \
            --verifier gcc --run --samples-per-prompt "$SAMPLES" --max-new-tokens "$MAX_NEW_TOKENS" \
            --cycles "$CYCLES" --seed "$seed" --output "$out" $EXTRA >/dev/null
        t1=$(date +%s.%N)
        fin=""
        if [ "$FINAL_EVAL" = 1 ]; then
            "$HF" -q benchmark run --model "$out/cycle_${CYCLES}_final" --prompts "$D/prompts.jsonl" \
                --samples "$SAMPLES" --max-new-tokens "$MAX_NEW_TOKENS" --seed "$seed" --k 1 \
                --output "$out/final.json" >/dev/null
            fin="$out/final.json"
        fi
        t2=$(date +%s.%N)
        $PY - "$out/raft_statistics.json" "$m" "$seed" "$t0" "$t1" "$t2" "$fin" >> "$rows" <<'PY'
import json, sys
stats, m, seed, t0, t1, t2, fin = sys.argv[1], sys.argv[2], int(sys.argv[3]), *map(float, sys.argv[4:7]), sys.argv[7]
for s in json.load(open(stats)):
    wall = s["generation_time_s"] + s["verification_time_s"] + s["training_time_s"]
    print(json.dumps({"method": m, "seed": seed, "cycle": s["cycle"], "compile": s["compile_rate"],
                      "pass1": s["success_rate"], "wall": wall}))
print(json.dumps({"method": m, "seed": seed, "cycle": "total", "wall": t1 - t0}))
if fin:
    r = json.load(open(fin))
    print(json.dumps({"method": m, "seed": seed, "cycle": "final", "compile": r["compile_rate"],
                      "pass1": r["pass_at_k"]["1"], "wall": t2 - t1}))
PY
        echo "done: $m seed $seed ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s training run)" >&2
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$PY - "$rows" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
methods = list(dict.fromkeys(r["method"] for r in rows))
seeds = sorted({r["seed"] for r in rows})
print("\nper run (compile rate / pass@1 of the cycle's samples, cycle wall time):")
print("| method | seed | cycle | compile | pass@1 | wall s |")
print("|---|---|---|---|---|---|")
for r in rows:
    if r["method"] == "base":
        print(f"| base model (no training) | {r['seed']} | benchmark run | {100 * r['compile']:.1f}% | {100 * r['pass1']:.1f}% | {r['wall']:.0f} |")
    elif r["cycle"] == "total":
        print(f"| {r['method']} | {r['seed']} | rl train total | | | {r['wall']:.0f} |")
    else:
        print(f"| {r['method']} | {r['seed']} | {r['cycle']} | {100 * r['compile']:.1f}% | {100 * r['pass1']:.1f}% | {r['wall']:.0f} |")
print(f"\nmean over seeds {seeds} (cycle c: samples from the weights after c - 1 updates; final: after all, by"
      " benchmark run; base: benchmark run of the untrained model):")
cycles = sorted({r["cycle"] for r in rows if isinstance(r["cycle"], int)}) + ["final"]
print("| method | " + " | ".join(f"cycle {c}" if c != "final" else "final" for c in cycles) + " | rl train wall s |")
print("|---|" + "---|" * (len(cycles) + 1))
for m in methods:
    cells = []
    for c in cycles:
        v = [r for r in rows if r["method"] == m and r["cycle"] == c]
        if not v:
            cells.append("")
            continue
        cells.append(f"{100 * statistics.mean(x['compile'] for x in v):.1f}% / {100 * statistics.mean(x['pass1'] for x in v):.1f}%")
    w = [r["wall"] for r in rows if r["method"] == m and r["cycle"] == "total"]
    print(f"| {m} | " + " | ".join(cells) + (f" | {statistics.mean(w):.0f} |" if w else " | |"))
print("(cells: compile rate / pass@1)")
PY
