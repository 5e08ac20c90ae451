# Kill anywhere, lose nothing: `raft train` and `benchmark full` on a tiny model are SIGKILLed again and
# again (during generation, verification, training, checkpoint writing), rerun after each kill, and the
# final outputs must equal those of an uninterrupted run, with every sample that was complete on disk
# at a kill kept as it was (never generated again). Kills during training and checkpoint writing use the
# trainer's test hooks (HF_TRAIN_TEST_KILL_AT_STEP, HF_TRAIN_TEST_KILL_IN_SAVE); the others fire when a
# file shows the run got that far. Where exactly a kill lands varies from run to run; what is checked
# does not depend on it. Sampling uses --generation-batch-size 1, so a resumed sample is computed in the
# same batch composition as in the uninterrupted run and must match it bit for bit (docs/raft.md).
# Then a full disk (a small tmpfs; root only) while a cycle's weights are written: a clear error, the
# previous cycle's weights intact, and a rerun with space again completes.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

"$HF" -q model init --preset tiny --seed 3 --init-std 0.3 --output m >/dev/null
for i in 1 2 3; do echo "{\"id\": \"p$i\", \"prompt\": \"Write program number $i in C\"}"; done > p.jsonl
raft=(raft train --model m --prompts p.jsonl --samples-per-prompt 3 --max-new-tokens 160 --verifier custom
      --verify-command "grep -q e {file}" --batch-size 2 --gradient-accumulation 1 --learning-rate 2e-2 --lora-rank 4
      --workers 2 --generation-batch-size 1 --cycles 2 --seed 5)

# lines FILE: number of complete lines of FILE (0 when absent)
lines() { if [ -f "$1" ]; then grep -c '' "$1" 2>/dev/null | head -1; else echo 0; fi; }
# snapshot DIR: after a kill, the finished samples (lines ended by a newline) of every sampling journal,
# by the label the next run's log gives that sampling step: the next run must generate only the rest.
snapshot() {
    $PY - "$1" "$kills" >>"$1.snap" <<'PYS'
import glob, json, os, re, sys
d, run = sys.argv[1], int(sys.argv[2])
counts = {}
for f in glob.glob(f"{d}/**/*.jsonl", recursive=True):
    b = os.path.basename(f)
    m = re.fullmatch(r"cycle_(\d+)_samples\.jsonl", b)
    label = f"Cycle {m.group(1)}" if m else {"baseline_generated.jsonl": "baseline evaluation",
                                              "final_generated.jsonl": "final evaluation"}.get(b)
    if label:
        data = open(f, "rb").read()
        counts[label] = data[:data.rfind(b"\n") + 1].count(b"\n")
print(json.dumps({"after_run": run, "finished": counts}))
PYS
}
# killrun NAME CONDITION -- COMMAND...: runs COMMAND in the background; SIGKILLs it once CONDITION (a shell
# command) succeeds; records the exit status in $rc (137 when the kill landed, or what it exited with).
killrun() {
    local name=$1 cond=$2; shift 3
    "$@" >/dev/null 2>"$name.$kills.log" &
    local pid=$! n=0
    while kill -0 $pid 2>/dev/null; do
        if eval "$cond"; then kill -KILL $pid 2>/dev/null; break; fi
        n=$((n + 1)); [ $n -gt 60000 ] && { kill -KILL $pid; break; }
        sleep 0.005
    done
    wait $pid
    rc=$?
}
# hookrun NAME VAR=VALUE -- COMMAND...: runs COMMAND with a trainer kill hook set.
hookrun() {
    local name=$1 var=$2; shift 3
    env "$var" "$@" >/dev/null 2>"$name.$kills.log"
    rc=$?
}

expect_rc 0 "raft train, uninterrupted" -- "$HF" -q "${raft[@]}" --output ref

kills=0
step() { # step WHAT: a kill happened (or the run ended first)
    snapshot k
    kills=$((kills + 1))
    echo "raft kill $kills ($1): exit $rc"
}
killrun k '[ "$(lines k/cycle_1_samples.jsonl)" -ge 1 ]' -- "$HF" "${raft[@]}" --output k; step "cycle 1, first sample"
killrun k '[ "$(lines k/cycle_1_samples.jsonl)" -ge 5 ]' -- "$HF" "${raft[@]}" --output k; step "cycle 1, mid-generation"
killrun k '[ "$(lines k/cycle_1_samples.jsonl)" -ge 9 ]' -- "$HF" "${raft[@]}" --output k; step "cycle 1, verification"
hookrun k HF_TRAIN_TEST_KILL_AT_STEP=2 -- "$HF" "${raft[@]}" --output k; step "cycle 1, training step 2"
hookrun k HF_TRAIN_TEST_KILL_IN_SAVE=1 -- "$HF" "${raft[@]}" --output k; step "cycle 1, writing its weights"
expect_rc 1 "no cycle_1_final after a kill while writing it" -- test -e k/cycle_1_final/adapter_config.json
killrun k '[ "$(lines k/cycle_2_samples.jsonl)" -ge 2 ]' -- "$HF" "${raft[@]}" --output k; step "cycle 2, generation"
hookrun k HF_TRAIN_TEST_KILL_AT_STEP=1 -- "$HF" "${raft[@]}" --output k; step "cycle 2, training step 1"
hookrun k HF_TRAIN_TEST_KILL_IN_SAVE=1 -- "$HF" "${raft[@]}" --output k; step "cycle 2, writing its weights"
expect_rc 0 "raft train completes after $kills kills" -- "$HF" "${raft[@]}" --output k
cp "$T/err" "k.$kills.log"
cat k.*.log | grep -oE "stage (generate|verify|train)" | sort | uniq -c | sed 's/^/  reruns resumed at: /'

cat > same.py <<'PY'
# same.py REF RUN SNAPSHOTS: RUN's outputs equal REF's, each (prompt, sample) once, and no rerun generated
# a sample that was finished when the run before it was killed.
import json, sys, glob, os
ref, run, kept = sys.argv[1], sys.argv[2], sys.argv[3]
def rel(p, base): return os.path.relpath(p, base)
for f in sorted(glob.glob(f"{ref}/**/*samples.jsonl", recursive=True)):
    g = os.path.join(run, rel(f, ref))
    # measured times (compile_time, run_time) differ between any two runs; everything else must not
    canon = lambda p: sorted(json.dumps({k: v for k, v in json.loads(l).items() if "time" not in k}, sort_keys=True)
                             for l in open(p, "rb").read().splitlines())
    assert canon(f) == canon(g), f"{g} differs from the uninterrupted run"
    b = open(g, "rb").read().splitlines()
    keys = [(json.loads(l).get("prompt_id"), json.loads(l).get("sample_idx")) for l in b]
    assert len(keys) == len(set(keys)), f"{g}: a sample appears twice"
finals = sorted(glob.glob(f"{ref}/**/*.safetensors", recursive=True))
assert finals
for f in finals:
    g = os.path.join(run, rel(f, ref))
    assert open(f, "rb").read() == open(g, "rb").read(), f"{g} differs from the uninterrupted run's weights"
for f in sorted(glob.glob(f"{ref}/**/*verified.jsonl", recursive=True)):
    pick = lambda p: sorted((r.get("prompt_id"), r.get("sample_idx"), r.get("reward"), r.get("status"))
                            for r in map(json.loads, open(p)))
    assert pick(f) == pick(os.path.join(run, rel(f, ref))), f"{f}: verdicts differ"
# No finished sample generated again: after every kill, the next run's log must say it generates only
# the samples that were not finished ("LABEL: generating M samples" with M = total - finished).
total = {}
for f in glob.glob(f"{ref}/**/*samples.jsonl", recursive=True):
    b = os.path.basename(f)
    label = {"baseline_samples.jsonl": "baseline evaluation", "final_samples.jsonl": "final evaluation"}.get(b)
    if b.startswith("cycle_") and b.endswith("_samples.jsonl"): label = "Cycle " + b.split("_")[1]
    if label: total[label] = sum(1 for _ in open(f))
import re
checked = resumed = 0
for snap in map(json.loads, open(kept)):
    path = f"{run}.{snap['after_run'] + 1}.log"
    if not os.path.exists(path): continue  # killed before it started: the next snapshot is the same
    log = open(path).read()
    for label, m in re.findall(r"^(?:info: )?(.+?): generating (\d+) samples?", log, re.M):
        done = snap["finished"].get(label, 0)
        assert int(m) == total[label] - done, f"run {snap['after_run'] + 1}: {label}: generates {m}, but {done} of {total[label]} were finished"
        checked += 1
        resumed += done > 0
print(f"same outputs, {len(finals)} weight files; {checked} reruns' generation checked, {resumed} of them continuing a journal")
assert checked > 0
PY
expect_rc 0 "raft: killed run equals the uninterrupted one" -- $PY same.py ref k k.snap
cat "$T/out"; [ "$fails" -gt 0 ] && cat "$T/err"

# ---------------------------------------------------------------- benchmark full
bench=(benchmark full --model m --prompts p.jsonl --samples-per-prompt 2 --max-new-tokens 160 --verifier custom
       --verify-command "grep -q e {file}" --batch-size 2 --gradient-accumulation 1 --learning-rate 1e-2 --lora-rank 4
       --workers 2 --generation-batch-size 1 --cycles 1 --seed 5 --monitor-interval 0.5)
expect_rc 0 "benchmark full, uninterrupted" -- "$HF" -q "${bench[@]}" --output bref
kills=0
stepb() { snapshot bk; kills=$((kills + 1)); echo "benchmark kill $kills ($1): exit $rc"; }
killrun bk '[ "$(lines bk/baseline_generated.jsonl)" -ge 2 ]' -- "$HF" "${bench[@]}" --output bk; stepb "baseline generation"
killrun bk '[ -f bk/baseline_phase.json ]' -- "$HF" "${bench[@]}" --output bk; stepb "after the baseline"
killrun bk '[ "$(lines bk/raft/cycle_1_samples.jsonl)" -ge 3 ]' -- "$HF" "${bench[@]}" --output bk; stepb "cycle generation"
hookrun bk HF_TRAIN_TEST_KILL_AT_STEP=1 -- "$HF" "${bench[@]}" --output bk; stepb "cycle training"
hookrun bk HF_TRAIN_TEST_KILL_IN_SAVE=1 -- "$HF" "${bench[@]}" --output bk; stepb "cycle weights"
killrun bk '[ "$(lines bk/final_generated.jsonl)" -ge 2 ]' -- "$HF" "${bench[@]}" --output bk; stepb "final generation"
expect_rc 0 "benchmark full completes after $kills kills" -- "$HF" "${bench[@]}" --output bk
cp "$T/err" "bk.$kills.log"
expect_rc 0 "benchmark: killed run equals the uninterrupted one" -- $PY same.py bref bk bk.snap
cat "$T/out"; [ "$fails" -gt 0 ] && cat "$T/err"
cat > summary.py <<'PY'
import json, sys
def strip(o):  # timings, energy and hardware differ between any two runs
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if not any(w in k for w in
                ("time", "sec", "hardware", "energy", "power", "tokens_per", "throughput", "minutes", "memory", "temp", "watts", "date", "output_dir"))}
    if isinstance(o, list): return [strip(v) for v in o]
    return o
a, b = (strip(json.load(open(f"{d}/summary.json"))) for d in sys.argv[1:3])
assert a == b, json.dumps(a)[:400] + "\n" + json.dumps(b)[:400]
PY
expect_rc 0 "benchmark: summary.json equals the uninterrupted one (timings aside)" -- $PY summary.py bref bk
[ "$fails" -gt 0 ] && cat "$T/err"

# ---------------------------------------------------------------- full disk while weights are written
if [ "$(id -u)" -ne 0 ] || ! mkdir -p disk || ! mount -t tmpfs -o size=16m tmpfs disk 2>/dev/null; then
    echo "SKIP: full-disk check needs root and tmpfs (mount -t tmpfs); not run"
else
    trap 'umount "$T/disk" 2>/dev/null; rm -rf "$T"' EXIT
    full=(raft train --model m --prompts p.jsonl --samples-per-prompt 2 --max-new-tokens 160 --verifier custom
          --verify-command "grep -q e {file}" --batch-size 2 --gradient-accumulation 1 --learning-rate 1e-3 --no-lora
          --workers 2 --generation-batch-size 1 --seed 5)
    expect_rc 0 "full fine-tuning, cycle 1 on the small disk" -- "$HF" "${full[@]}" --cycles 1 --output disk/run
    before=$(cat disk/run/cycle_1_final/* | sha256sum)
    # leave room for cycle 2's samples and verdicts, not for its weights (the tiny model's checkpoint is
    # larger than 200 kB)
    avail=$(df -k --output=avail disk | tail -1)
    dd if=/dev/zero of=disk/filler bs=1k count=$((avail - 200)) 2>/dev/null
    expect_rc 1 "cycle 2 on a full disk fails" -- "$HF" "${full[@]}" --cycles 2 --output disk/run
    expect_grep "No space left on device" "$T/err" "the error says the disk is full"
    expect_grep "disk/run/cycle_2" "$T/err" "the error names the file"
    expect_rc 0 "cycle 1's weights intact" -- test "$(cat disk/run/cycle_1_final/* | sha256sum)" = "$before"
    expect_rc 1 "no cycle_2_final" -- test -e disk/run/cycle_2_final
    expect_rc 0 "no partial checkpoint left taking the space" -- test -z "$(find disk/run -name '*.tmp*')"
    rm -f disk/filler
    expect_rc 0 "with space again the rerun completes cycle 2" -- "$HF" "${full[@]}" --cycles 2 --output disk/run
    expect_grep "stage train" "$T/err" "it resumed at training, not generating again"
    expect_rc 0 "cycle 2's weights" -- test -s disk/run/cycle_2_final/config.json
    umount disk
fi
finish
