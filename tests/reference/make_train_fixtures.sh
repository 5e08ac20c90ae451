#!/usr/bin/env bash
# Regenerates tests/fixtures/train/: for some of the tiny models of tests/fixtures/model/, the loss,
# the LoRA and full gradients after one backward and the losses of 10 AdamW steps that the PyTorch
# reference (train_ref.py) computes on a fixed packed batch. test_train compares the C trainer to them.
# Usage: tests/reference/make_train_fixtures.sh   (needs /usr/bin/python3 with torch)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=tests/fixtures/train
rm -rf "$OUT"; mkdir -p "$OUT"
for name in gqa2_untied_bf16 gqa1_tied_f32 llama_untied_f32 odd_headdim_bf16; do
    mkdir -p "$OUT/$name"
    python3 - "tests/fixtures/model/$name" "$OUT/$name/request.json" <<'PY'
import json, random, sys
d, out = sys.argv[1], sys.argv[2]
v = json.load(open(d + "/config.json"))["vocab_size"]
r = random.Random(d)
lens = [9, 6, 4]
seqs = [[r.randrange(v) for _ in range(n)] for n in lens]
# sequence 0: a 4-token prompt (masked), sequence 1: all tokens, sequence 2: a 2-token prompt
targets = [[0] * 4 + [1] * 5, [0] + [1] * 5, [0, 0, 1, 1]]
lrs = []
peak, warm, total = 1e-2, 3, 10
for s in range(total):
    if s < warm:
        lrs.append(peak * (s + 1) / (warm + 1))
    else:
        p = (s - warm) / (total - warm)
        import math
        lrs.append(peak * 0.5 * (1 + math.cos(math.pi * p)))
json.dump({"sequences": seqs, "targets": targets, "seed": 7,
           "lora": {"r": 4, "alpha": 8, "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
           "adam": {"lrs": lrs, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01, "max_grad_norm": 1.0}},
          open(out, "w"), indent=1)
PY
    /usr/bin/python3 tests/reference/train_ref.py "tests/fixtures/model/$name" "$OUT/$name/request.json" "$OUT/$name"
done
du -sh "$OUT"
