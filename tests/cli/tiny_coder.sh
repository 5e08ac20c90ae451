#!/usr/bin/env bash
# The bundled model: it loads, writes code that compiles, and a short RAFT cycle trains on it.
source "$HF_SOURCE_DIR/tests/cli_lib.sh"
M="$HF_SOURCE_DIR/models/tiny-coder"
cd "$T"

# The folder is a complete model whose recommended settings parse.
for f in config.json model.safetensors tokenizer.json tokenizer_config.json halo-forge.yaml README.md; do
    expect_rc 0 "has $f" -- test -s "$M/$f"
done
size=$(du -sk "$M" | cut -f1)
expect_rc 0 "folder under 25 MB ($size kB)" -- test "$size" -lt 25600

# Two held-out-style prompts (not the benchmark's), 4 samples each, one RAFT cycle.
cat > p.jsonl <<'P'
{"id": "count_to_4", "prompt": "Write a C++ program that prints the numbers 1 through 4, each on a new line.", "expected_output": "1\n2\n3\n4", "category": "basic_io"}
{"id": "sum_7_9", "prompt": "Write a C++ function that returns the sum of two integers a and b, then call it in main to print the result of 7 + 9.", "expected_output": "16", "category": "arithmetic"}
P
expect_rc 0 "one RAFT cycle on tiny-coder" -- "$HF_BIN" raft train --model "$M" --prompts p.jsonl --output raft \
    --cycles 1 --samples-per-prompt 4 --max-new-tokens 160 --verifier gcc --seed 3
expect_grep "recommended by" "$T/err" "takes the model's recommended settings"
expect_rc 0 "RAFT outputs and a trained adapter" -- python3 - <<'P'
import json
samples = [json.loads(l) for l in open("raft/cycle_1_samples.jsonl")]
verified = [json.loads(l) for l in open("raft/cycle_1_verified.jsonl")]
assert len(samples) == 8 and len(verified) == 8, (len(samples), len(verified))
compiled = [v for v in verified if v.get("reward", 0) >= 0.5]
assert compiled, "no sample of the bundled model compiled"
stats = json.load(open("raft/raft_statistics.json"))
first = stats[0] if isinstance(stats, list) else stats["cycles"][0]
assert first.get("kept", first.get("num_kept", 0)) > 0, first
import os
assert os.path.getsize("raft/cycle_1_final/adapter_model.safetensors") > 0
P
finish
