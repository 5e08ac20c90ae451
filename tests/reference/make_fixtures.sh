#!/usr/bin/env bash
# Regenerates tests/fixtures/model/: tiny random models written by `halo-forge model init` and the
# log-probabilities the PyTorch reference (qwen2_ref.py) computes for them. The C test
# test_model_reference compares our forward pass against these files, so it runs without torch.
# Usage: tests/reference/make_fixtures.sh path/to/halo-forge
set -euo pipefail
HF=${1:?usage: make_fixtures.sh HALO_FORGE_BINARY}
cd "$(dirname "$0")/../.."
OUT=tests/fixtures/model
rm -rf "$OUT"; mkdir -p "$OUT"
common="--init-std 0.1 --perturb -q"
# name | flags   (GQA ratios 1, 2, 7; odd sizes; tied and untied; bf16 and f32; the Llama variant)
while IFS='|' read -r name flags; do
    [ -z "$name" ] && continue
    "$HF" -q model init $common $flags --output "$OUT/$name" >/dev/null
    python3 - "$OUT/$name" <<'PY'
import json, random, sys
d = sys.argv[1]
v = json.load(open(d + "/config.json"))["vocab_size"]
r = random.Random(d)
json.dump({"sequences": [[r.randrange(v) for _ in range(9)], [r.randrange(v) for _ in range(5)]]},
          open(d + "/request.json", "w"))
PY
    /usr/bin/python3 tests/reference/qwen2_ref.py "$OUT/$name" "$OUT/$name/request.json" "$OUT/$name/reference.json"
    python3 - "$OUT/$name" <<'PY'
import json, sys
d = sys.argv[1]
req = json.load(open(d + "/request.json")); ref = json.load(open(d + "/reference.json"))
json.dump({"sequences": req["sequences"], "logprobs": ref["logprobs"]}, open(d + "/expected.json", "w"),
          separators=(",", ":"))
PY
    rm "$OUT/$name/request.json" "$OUT/$name/reference.json"
done <<'LIST'
gqa1_tied_f32|--hidden-size 32 --num-heads 4 --num-kv-heads 4 --num-layers 2 --intermediate-size 48 --vocab-size 61 --dtype f32 --seed 1
gqa2_untied_bf16|--hidden-size 48 --num-heads 4 --num-kv-heads 2 --num-layers 2 --intermediate-size 64 --vocab-size 80 --no-tie --dtype bf16 --seed 2
gqa7_tied_bf16|--hidden-size 56 --num-heads 7 --num-kv-heads 1 --num-layers 2 --intermediate-size 40 --vocab-size 70 --rope-theta 10000 --dtype bf16 --seed 3
odd_headdim_bf16|--hidden-size 36 --num-heads 3 --num-kv-heads 3 --head-dim 10 --num-layers 3 --intermediate-size 50 --vocab-size 77 --dtype bf16 --seed 4
llama_untied_f32|--arch llama --hidden-size 32 --num-heads 4 --num-kv-heads 2 --num-layers 2 --intermediate-size 56 --vocab-size 70 --no-tie --dtype f32 --seed 5
LIST
du -sh "$OUT"
