# The commands on a GPU (--device cuda), against the same commands on the CPU: greedy generation on an f32 tiny
# model gives the same tokens (KV-cached decode on the device, prefix fork of 4 samples, continuous batching
# with a batch of 3), scoring gives the same log-probabilities to 1e-4, seeded sampling on the device gives the
# same completions run to run, a bf16 model generates too, and auto picks the GPU and says so. Without a usable
# GPU it exits 77, which CTest reports as skipped (never as passed).
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

"$HF" info > info.txt 2>&1
if ! grep -qE '^ +cuda:0 ' info.txt; then
    echo "SKIPPED: no usable GPU ($(grep -E '^CUDA' info.txt | head -1))"
    exit 77
fi

"$HF" -q model init --preset tiny --dtype f32 --init-std 0.3 --output m32 >/dev/null || { echo "FAIL: model init f32"; exit 1; }
"$HF" -q model init --preset tiny --output m16 >/dev/null || { echo "FAIL: model init bf16"; exit 1; }
printf '%s\n' '{"prompt": "int add(int a, int b) {"}' '{"prompt": "def fib(n):"}' '{"prompt": "hello"}' > p.jsonl

gen=(generate --model m32 --prompts p.jsonl --num-samples 4 --batch-size 3 --max-new-tokens 24 --ignore-eos)
expect_rc 0 "greedy generate on the CPU" -- "$HF" "${gen[@]}" --temperature 0 --precision exact --device cpu -o cpu.jsonl
expect_rc 0 "greedy generate on the GPU" -- "$HF" "${gen[@]}" --temperature 0 --precision exact --device cuda -o gpu.jsonl
expect_grep "device: cuda:0 " "$T/err" "generate says it runs on cuda:0"
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
ids() { "$PY" -c 'import json,sys; [print(r["sample_idx"], r["prompt"], r["token_ids"]) for r in map(json.loads, open(sys.argv[1]))]' "$1" | sort; }
ids cpu.jsonl > cpu.ids; ids gpu.jsonl > gpu.ids
expect_rc 0 "greedy tokens on the GPU equal the CPU's (12 samples)" -- cmp cpu.ids gpu.ids
[ "$(wc -l < gpu.ids)" -eq 12 ] || { echo "FAIL: expected 12 samples, got $(wc -l < gpu.ids)"; fails=$((fails + 1)); }

expect_rc 0 "score on the CPU" -- "$HF" score --model m32 --text "int main(void) { return 0; }" --device cpu
cp "$T/out" score_cpu.jsonl
expect_rc 0 "score on the GPU" -- "$HF" score --model m32 --text "int main(void) { return 0; }" --device cuda
cp "$T/out" score_gpu.jsonl
expect_rc 0 "GPU log-probabilities equal the CPU's to 1e-4" -- "$PY" -c '
import json, sys
def nums(o):
    if isinstance(o, bool): return []
    if isinstance(o, (int, float)): return [float(o)]
    if isinstance(o, list): return [x for v in o for x in nums(v)]
    if isinstance(o, dict): return [x for k in sorted(o) for x in nums(o[k])]
    return []
a = [x for l in open(sys.argv[1]) for x in nums(json.loads(l))]
b = [x for l in open(sys.argv[2]) for x in nums(json.loads(l))]
assert len(a) == len(b) and a, (len(a), len(b))
worst = max(abs(x - y) / max(1.0, abs(x)) for x, y in zip(a, b))
print("worst relative difference", worst)
assert worst <= 1e-4, worst
' score_cpu.jsonl score_gpu.jsonl

samp=(generate --model m16 --prompts p.jsonl --num-samples 4 --max-new-tokens 24 --temperature 0.9 --top-p 0.95 --seed 5 --device cuda)
expect_rc 0 "seeded sampling on the GPU (bf16), run 1" -- "$HF" "${samp[@]}" -o s1.jsonl
expect_rc 0 "seeded sampling on the GPU (bf16), run 2" -- "$HF" "${samp[@]}" -o s2.jsonl
ids s1.jsonl > s1.ids; ids s2.jsonl > s2.ids
expect_rc 0 "seeded sampling is reproducible run to run" -- cmp s1.ids s2.ids

expect_rc 0 "auto picks the GPU" -- "$HF" score --model m32 --text hello --device auto
expect_grep "device: cuda:0 .*\(auto\)" "$T/err" "auto says it uses the GPU"
finish
