# The original halo-forge's config files load unchanged: every key maps onto a flag (shown by --show-config
# with its FILE:LINE) or is warned about with FILE:LINE; our configs/ are valid and load without a warning.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
FX="$SRC/tests/fixtures/original_configs"

# every key of FILE is accounted for in the output of CMD --config FILE --show-config
check_all_keys() {
    local cmd=$1 f=$2
    $HF $cmd --config "$f" --show-config > "$T/show" 2> "$T/warn" || { bad "$f: $cmd --show-config failed"; cat "$T/warn"; return; }
    "$PY" - "$f" "$T/show" "$T/warn" <<'P' && ok || bad "$f: a key is neither mapped nor warned"
import re, sys
path, show, warn = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
stack, leaves = [], []
lines = open(path).read().split("\n")
for i, line in enumerate(lines, 1):
    if not line.strip() or line.lstrip().startswith("#") or line.lstrip().startswith("- "):
        continue
    ind = len(line) - len(line.lstrip())
    key, _, val = line.strip().partition(":")
    while stack and stack[-1][0] >= ind:
        stack.pop()
    full = ".".join([s[1] for s in stack] + [key])
    nxt = next((l for l in lines[i:] if l.strip() and not l.lstrip().startswith("#")), "")
    is_list = nxt.lstrip().startswith("- ")
    if val.split("#")[0].strip() or is_list:
        leaves.append((i, full))
    else:
        stack.append((ind, key))
missing = []
for line, key in leaves:
    mapped = f"{path}:{line} {key})" in show
    warned = re.search(re.escape(f"{path}:{line}: '{key}'"), warn)
    if not (mapped or warned):
        missing.append(f"{path}:{line} {key}")
assert leaves and not missing, missing
P
}
for f in "$FX"/raft_example.yaml "$FX"/raft_conservative.yaml "$FX"/production_0.5b.yaml "$FX"/experimental/raft_decay_lr.yaml; do
    check_all_keys "raft train" "$f"
done
check_all_keys "sft train" "$FX/sft_example.yaml"

# values land on the right flags (the original's precedence bug: its CLI defaults hid these)
show() { "$HF" "$1" train --config "$2" --show-config 2>/dev/null; }
show raft "$FX/production_0.5b.yaml" > p.txt
expect_grep "^  --verifier +mbpp +\(.*production_0.5b.yaml:30 verifier.type\)" p.txt "production: verifier.type mbpp is used"
expect_grep "^  --model +Qwen/Qwen2.5-Coder-0.5B +\(.*:2 model.name\)" p.txt "production: model.name is the model"
expect_grep "^  --output +models/production_0.5b_raft " p.txt "production: output_dir"
expect_grep "^  --generation-batch-size +16 " p.txt "generation.batch_size"
expect_grep "^  --learning-rate +5e-5 " p.txt "5e-5 is a number"
show raft "$FX/experimental/raft_decay_lr.yaml" > e.txt
expect_grep "^  --prompts +data/rlvr/mbpp_train_prompts.jsonl +\(.*data.prompts\)" e.txt "experimental: data.prompts is read (the original ignored it)"
expect_grep "^  --verifier +rlvr_pytest " e.txt "rlvr_pytest accepted (the python verifier)"
expect_grep "^  --learning-rate +5e-5 +\(.*training.base_learning_rate\)" e.txt "base_learning_rate"
expect_grep "^  --lr-decay +0.85 +\(.*training.lr_decay_factor\)" e.txt "lr_decay_factor"
expect_grep "^  --temperature +0.7 +\(.*raft.temperature\)" e.txt "raft.temperature"
expect_grep "^  --epochs +1 +\(.*training.epochs_per_cycle\)" e.txt "epochs_per_cycle"
show raft "$FX/raft_conservative.yaml" > c.txt
expect_grep "^  --lr-decay +0.9 +\(.*training.lr_decay_per_cycle\)" c.txt "conservative: lr_decay_per_cycle"
expect_grep "^  --min-lr +1e-6 +\(.*training.min_lr\)" c.txt "conservative: min_lr"
expect_grep "^  --min-samples +200 " c.txt "conservative: min_samples"
expect_grep "^  --keep-percent +0.8 " c.txt "conservative: keep_top_percent"
"$HF" raft train --config "$FX/raft_conservative.yaml" --keep-percent 0.3 --show-config > cl.txt 2>/dev/null
expect_grep "^  --keep-percent +0.3 +\(command line\)" cl.txt "the command line wins over the file"
show sft "$FX/sft_example.yaml" > s.txt
expect_grep "^  --batch-size +2 +\(.*per_device_train_batch_size\)" s.txt "sft: per_device_train_batch_size"
expect_grep "^  --target-modules +q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj " s.txt "sft: the target list"
expect_grep "^  --data +data/train.jsonl " s.txt "sft: data.train_file"
# a Windows config: the MSVC-over-SSH verifier does not exist here: a clear error at its line
expect_rc 2 "raft_windows: msvc" -- "$HF" raft train --config "$FX/raft_windows.yaml" --show-config
expect_grep "raft_windows.yaml:7: verifier.type: 'msvc' is not one of" "$T/err" "names the file, line and key"
# config validate accepts every original file but the Windows one's keys are still valid YAML
for f in "$FX"/*.yaml "$FX"/experimental/*.yaml; do
    expect_rc 0 "config validate $(basename "$f")" -- "$HF" config validate "$f"
done

# our configs/: valid, and they load with no warning
for f in "$SRC"/configs/*.yaml; do
    expect_rc 0 "config validate $(basename "$f")" -- "$HF" config validate "$f"
    case $(basename "$f") in sft*) c=sft;; *) c=raft;; esac
    expect_rc 0 "$c train loads $(basename "$f")" -- "$HF" "$c" train --config "$f" --show-config
    [ ! -s "$T/err" ] && ok || { bad "$(basename "$f") loads with warnings"; cat "$T/err"; }
done
finish
