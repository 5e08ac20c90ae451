# plot training and the TensorBoard events of sft train: the event file read back by an independent reader
# (CRCs, tags, steps, values) equals metrics.jsonl, also after a kill and --resume; the figures are valid
# PNG/SVG of the documented sizes with one data line per series; bad input is an error naming it.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
CHECK="$SRC/tests/plot_check.py"

"$HF" -q model init --seed 3 --hidden-size 32 --intermediate-size 48 --num-heads 4 --num-kv-heads 2 --output m >/dev/null
for i in $(seq 1 24); do
    a=$((i * 7 % 50)); b=$((i * 13 % 50))
    echo "{\"prompt\": \"add $a $b\", \"completion\": \"$((a + b))\"}"
done > d.jsonl
common=(--model m --data d.jsonl --epochs 2 --batch-size 2 --gradient-accumulation 2 --lora-rank 4 --save-steps 4
        --eval-steps 4 --save-total-limit 0 --validation-split 0.2)
expect_rc 0 "sft train a" -- "$HF" -q sft train "${common[@]}" --learning-rate 5e-3 --output a
expect_rc 0 "sft train b" -- "$HF" -q sft train "${common[@]}" --learning-rate 1e-3 --output b

# TensorBoard: one event file per run, whose events are the metrics lines
expect_rc 0 "a/tensorboard = a/metrics.jsonl" -- $PY "$CHECK" metrics a/tensorboard a/metrics.jsonl
expect_grep "events match" "$T/out" "events compared"
expect_rc 0 "b/tensorboard = b/metrics.jsonl" -- $PY "$CHECK" metrics b/tensorboard b/metrics.jsonl
# a hard kill in the middle of step 6, then --resume: the events are replaced by the kept lines + the rest
HF_TRAIN_TEST_KILL_AT_STEP=6 "$HF" -q sft train "${common[@]}" --learning-rate 5e-3 --output c >/dev/null 2>&1
expect_rc 0 "killed run's events are readable (torn tail at most)" -- $PY - c/tensorboard <<'P'
import glob, struct, sys
(path,) = glob.glob(sys.argv[1] + "/events.out.tfevents.*")
data = open(path, "rb").read()
off = n = 0
while len(data) - off >= 16:
    (ln,) = struct.unpack_from("<Q", data, off)
    if off + 16 + ln > len(data): break
    off += 16 + ln; n += 1
assert n >= 6, n  # file_version + steps 1..5
P
expect_rc 0 "resume c" -- "$HF" -q sft train "${common[@]}" --learning-rate 5e-3 --output c --resume c/checkpoint-4
expect_rc 0 "resumed events = resumed metrics.jsonl (one file, no duplicate steps)" -- \
    $PY "$CHECK" metrics c/tensorboard c/metrics.jsonl
steps=$(grep -c '"loss"' c/metrics.jsonl)
expect_rc 0 "resumed run has all steps ($steps)" -- test "$steps" -eq "$(grep -c '"loss"' a/metrics.jsonl)"

# figures of one run: default folder RUN/figures, PNG + SVG each, paths printed
expect_rc 0 "plot training a" -- "$HF" plot training a
for f in loss_curve learning_rate grad_norm training_summary; do
    expect_grep "^a/figures/$f.png$" "$T/out" "prints $f.png"
    expect_grep "^a/figures/$f.svg$" "$T/out" "prints $f.svg"
done
expect_rc 0 "loss_curve.png 1200x720" -- $PY "$CHECK" png a/figures/loss_curve.png 1200 720
expect_rc 0 "training_summary.png 1600x1100" -- $PY "$CHECK" png a/figures/training_summary.png 1600 1100
expect_rc 0 "loss_curve.svg: training + validation loss" -- $PY "$CHECK" svg a/figures/loss_curve.svg 1200 720 2 2
expect_rc 0 "learning_rate.svg: one line" -- $PY "$CHECK" svg a/figures/learning_rate.svg 1200 720 1 1
expect_rc 0 "grad_norm.svg: one line" -- $PY "$CHECK" svg a/figures/grad_norm.svg 1200 720 1 1
# the summary: loss (2 series) + lr + grad norm + tokens/s, drawn in the first two palette colours
expect_rc 5 "training_summary.svg: five data lines" -- $PY - a/figures/training_summary.svg <<'P'
import re, sys
n = len(re.findall(r'stroke-width:2\.25;[^"]*stroke:rgb', open(sys.argv[1]).read()))
sys.exit(n)
P
# the points drawn are the run's steps: the loss line of loss_curve.svg has one vertex per step
n_steps=$(grep -c '"loss"' a/metrics.jsonl)
expect_rc 0 "the loss line has $n_steps points" -- $PY - a/figures/loss_curve.svg "$n_steps" <<'P'
import re, sys
svg = open(sys.argv[1]).read()
d = re.findall(r'<path style="fill:none;stroke-width:2\.25;[^"]*" d="([^"]*)"', svg)[0]
pts = len(re.findall(r'[ML] ', d))
assert pts == int(sys.argv[2]), (pts, sys.argv[2])
P

# several runs, --compare: one subfolder per run plus the overlays
expect_rc 0 "plot training a b --compare" -- "$HF" plot training a b --compare --output figs
expect_grep "^figs/comparison/grad_norm_comparison.svg$" "$T/out" "prints the comparison files"
for f in a/loss_curve b/loss_curve comparison/loss_comparison comparison/lr_comparison comparison/grad_norm_comparison; do
    expect_rc 0 "figs/$f.png" -- $PY "$CHECK" png "figs/$f.png" 1200 720
done
expect_rc 0 "loss_comparison.svg: two runs, two colours" -- $PY "$CHECK" svg figs/comparison/loss_comparison.svg 1200 720 2 2
expect_rc 0 "lr_comparison.svg: two runs" -- $PY "$CHECK" svg figs/comparison/lr_comparison.svg 1200 720 2 2

# a folder of event files (ours here; the original's trainer logs have the same tags)
mkdir -p tbonly && cp a/tensorboard/* tbonly/
expect_rc 0 "plot training on TensorBoard events" -- "$HF" plot training tbonly --output tbfig
expect_rc 0 "events: training + validation loss" -- $PY "$CHECK" svg tbfig/loss_curve.svg 1200 720 2 2
expect_rc 0 "events: the loss line has $n_steps points" -- $PY - tbfig/loss_curve.svg "$n_steps" <<'P'
import re, sys
svg = open(sys.argv[1]).read()
d = re.findall(r'<path style="fill:none;stroke-width:2\.25;[^"]*" d="([^"]*)"', svg)[0]
assert len(re.findall(r'[ML] ', d)) == int(sys.argv[2])
P

# bad input
expect_rc 1 "missing run" -- "$HF" plot training nothere
expect_grep "nothere: no such file or folder" "$T/err" "names the missing path"
mkdir empty
expect_rc 1 "not a run" -- "$HF" plot training empty
expect_grep "empty: not a training run" "$T/err" "says what a run folder holds"
printf 'garbage\n{"step": 1}\n' > bad.jsonl
expect_rc 1 "no steps" -- "$HF" plot training bad.jsonl
expect_grep "bad.jsonl:1: " "$T/err" "bad line named with its number"
expect_grep "bad.jsonl: no training steps" "$T/err" "no steps"
expect_rc 2 "--compare with one run" -- "$HF" plot training a --compare
expect_grep "two or more" "$T/err" "explains --compare"
printf 'garbage\n' > tbonly/events.out.tfevents.1.torn
expect_rc 0 "a corrupt event file is warned about, the rest plotted" -- "$HF" plot training tbonly --output tbfig2
expect_grep "events.out.tfevents.1.torn: record 0: (bad length CRC|torn)" "$T/err" "names the bad file"
finish
