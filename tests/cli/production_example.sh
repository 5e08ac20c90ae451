# The specification's production example, as written, end to end on the bundled tiny-coder:
#   halo-forge data prepare --dataset codeforces --output data/prompts.jsonl
#   halo-forge sft train --config configs/sft_example.yaml
#   halo-forge raft train --config configs/raft_example.yaml --checkpoint models/sft/final_model --cycles 6
# with the dataset from the local stand-in for the dataset viewer, the configs of configs/, and flags added
# only for small counts and the model (the example's 0.5B cannot be downloaded here).
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
M="$SRC/models/tiny-coder"
"$PY" "$SRC/tests/datasets_server.py" --make-fixture "$T/ds" || { echo "FAIL: fixture"; exit 1; }
"$PY" "$SRC/tests/datasets_server.py" --root "$T/ds" --log /dev/null --lifetime 900 > "$T/port" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 600); do [ -s "$T/port" ] && break; sleep 0.1; done
export HF_DATASETS_SERVER="http://127.0.0.1:$(cat "$T/port")" HF_HOME="$T/hf"
unset HF_TOKEN HF_HUB_OFFLINE HF_DATASETS_OFFLINE HF_DATASETS_CACHE
cp -r "$SRC/configs" configs

# 1. prepare (small count)
expect_rc 0 "data prepare --dataset codeforces" -- "$HF" data prepare --dataset codeforces --output data/prompts.jsonl --max-examples 4
[ "$(wc -l < data/prompts.jsonl)" -eq 4 ] && ok || bad "4 prompts"
expect_rc 0 "the prepared set passes its own tests" -- "$HF" data validate --verify data/prompts.jsonl
expect_grep "verified: 4 of 4" "$T/out" "its solutions verified"

# 2. SFT with configs/sft_example.yaml (its data.train_file is data/prompts.jsonl, output models/sft)
expect_rc 0 "sft train --config configs/sft_example.yaml" -- "$HF" sft train --config configs/sft_example.yaml \
    --model "$M" --epochs 1 --max-steps 3 --gradient-accumulation 1 --max-seq-length 512
expect_grep "^models/sft/final_model\$" "$T/out" "the adapter the next step names"
[ -f models/sft/final_model/adapter_config.json ] && ok || bad "SFT adapter written"

# 3. RAFT with configs/raft_example.yaml, the SFT adapter, 6 cycles (its base model comes from the adapter)
expect_rc 0 "raft train --config configs/raft_example.yaml --checkpoint models/sft/final_model --cycles 6" -- \
    "$HF" raft train --config configs/raft_example.yaml --checkpoint models/sft/final_model --cycles 6 \
    --samples-per-prompt 2 --max-new-tokens 64
expect_grep "the base model of --checkpoint models/sft/final_model" "$T/err" "base model from the adapter"
expect_grep "^models/raft/cycle_6_final\$" "$T/out" "prints the final adapter"
"$PY" - "$M" <<'P' && ok || bad "RAFT outputs"
import json, os, sys
ids = {json.loads(l)["id"] for l in open("data/prompts.jsonl")}
for c in range(1, 7):
    v = [json.loads(l) for l in open(f"models/raft/cycle_{c}_verified.jsonl")]
    assert len(v) == 8, (c, len(v))
    got = {r["prompt_id"] for r in v}
    assert got == ids, (got, ids)
    assert all("status" in r and "reward" in r for r in v)
    assert os.path.isfile(f"models/raft/cycle_{c}_final/adapter_config.json"), c
stats = json.load(open("models/raft/raft_statistics.json"))
cycles = stats if isinstance(stats, list) else stats.get("cycles", [])
assert len(cycles) == 6, len(cycles)
base = json.load(open("models/raft/cycle_6_final/adapter_config.json"))["base_model_name_or_path"]
assert os.path.realpath(base) == os.path.realpath(sys.argv[1]), base
P
finish
