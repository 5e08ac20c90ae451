# NaN/Inf during training: a run whose numbers blow up stops with a message naming the step, the learning
# rate and the last good checkpoint, keeps that checkpoint, and writes no NaN weights anywhere; raft keeps
# the previous cycle's weights. The tiny test models do not blow up at any learning rate the flags allow
# (checked below: Adam bounds each update by the learning rate), so the NaN comes from the trainer's test
# hook HF_TRAIN_TEST_NAN_AT_STEP, which poisons one weight after that step's update, as a blow-up would.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

"$HF" -q model init --preset tiny --seed 1 --output m >/dev/null
for i in $(seq 1 20); do echo "{\"text\": \"int main() { return $i; } // program $i\"}"; done > d.jsonl
sft=(sft train --model m --data d.jsonl --batch-size 2 --gradient-accumulation 1 --save-steps 2 --max-steps 10)

cat > finite.py <<'PY'
# finite.py DIR...: every safetensors file under DIR holds only finite numbers
import glob, json, struct, sys, math
n = 0
for d in sys.argv[1:]:
    for f in glob.glob(f"{d}/**/*.safetensors", recursive=True):
        b = open(f, "rb").read(); hl = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + hl]); base = 8 + hl
        for k, t in h.items():
            if k == "__metadata__": continue
            s, e = t["data_offsets"]; raw = b[base + s:base + e]
            if t["dtype"] == "F32": vals = struct.unpack(f"<{len(raw) // 4}f", raw)
            else: vals = [struct.unpack("<f", b"\0\0" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
            assert all(math.isfinite(v) for v in vals), f"{f}: {k} holds NaN/Inf"
        n += 1
assert n > 0, "no weight files"
print(n, "weight files, all finite")
PY

# NaN in the weights after step 5: step 6's loss is NaN; checkpoints 2 and 4 stay, nothing after.
for mode in lora full; do
    extra=(); [ $mode = full ] && extra=(--no-lora)
    HF_TRAIN_TEST_NAN_AT_STEP=5 expect_rc 1 "sft ($mode): NaN weights after step 5" -- "$HF" "${sft[@]}" "${extra[@]}" --output "s5$mode"
    expect_grep "step 6: the training diverged \(is --learning-rate [0-9.e-]+ too high\?\).*last good checkpoint is s5$mode/checkpoint-4" "$T/err" "the message names step, learning rate and last checkpoint ($mode)"
    expect_rc 0 "checkpoint-4 kept ($mode)" -- test -d "s5$mode/checkpoint-4"
    expect_rc 1 "nothing saved after the blow-up ($mode)" -- test -e "s5$mode/checkpoint-6" -o -e "s5$mode/final_model"
    expect_rc 0 "no NaN in any saved weights ($mode)" -- $PY finite.py "s5$mode"
    expect_rc 1 "no NaN written into metrics.jsonl ($mode)" -- grep -qi nan "s5$mode/metrics.jsonl"
    expect_rc 0 "resume from the last good checkpoint ($mode)" -- "$HF" "${sft[@]}" "${extra[@]}" --output "s5$mode" --resume "s5$mode/checkpoint-4"
    expect_rc 0 "the resumed run's weights are finite ($mode)" -- test -d "s5$mode/final_model"
done
# NaN after step 6, a save step: the loss of step 6 was computed before the update and is finite, the
# weights are not: checkpoint-6 must not be written.
HF_TRAIN_TEST_NAN_AT_STEP=6 expect_rc 1 "sft: NaN weights at a save step" -- "$HF" "${sft[@]}" --output s6
expect_grep "the weights hold NaN or Inf at step 6" "$T/err" "the save is refused"
expect_rc 1 "no checkpoint-6" -- test -e s6/checkpoint-6
expect_rc 0 "no .tmp left" -- test -z "$(find s6 -name '*.tmp')"
HF_TRAIN_TEST_NAN_AT_STEP=10 expect_rc 1 "sft: NaN weights at the last step" -- "$HF" "${sft[@]}" --output s10
expect_rc 1 "no final_model from NaN weights" -- test -e s10/final_model
expect_rc 0 "checkpoint-8 is the last" -- test -d s10/checkpoint-8

# The largest learning rate the flags allow, no clipping, constant schedule: the loss explodes but stays
# finite, and so do the saved weights.
expect_rc 0 "sft at --learning-rate 10 without clipping" -- "$HF" sft train --model m --data d.jsonl --batch-size 2 \
    --gradient-accumulation 1 --max-steps 300 --epochs 100 --no-lora --max-grad-norm 0 --weight-decay 0 \
    --lr-scheduler constant --warmup-steps 0 --learning-rate 10 --output big
expect_rc 0 "its weights are finite" -- $PY finite.py big

# raft: a blow-up in cycle 2's training keeps cycle 1's weights and writes no cycle_2_final.
echo '{"id": "p1", "prompt": "Write a program"}' > p.jsonl
raft=(raft train --model m --prompts p.jsonl --samples-per-prompt 2 --max-new-tokens 8 --verifier custom
      --verify-command "test -s {file}" --batch-size 2 --gradient-accumulation 1 --lora-rank 4 --workers 1 --output r)
expect_rc 0 "raft cycle 1" -- "$HF" "${raft[@]}" --cycles 1
sum1=$(cat r/cycle_1_final/* | sha256sum)
HF_TRAIN_TEST_NAN_AT_STEP=1 expect_rc 1 "raft cycle 2 diverges" -- "$HF" "${raft[@]}" --cycles 2
expect_grep "the training diverged" "$T/err" "raft says why"
expect_rc 1 "no cycle_2_final" -- test -e r/cycle_2_final
expect_rc 0 "cycle 1's weights untouched" -- test "$(cat r/cycle_1_final/* | sha256sum)" = "$sum1"
expect_rc 0 "no NaN in raft's weights" -- $PY finite.py r
finish
