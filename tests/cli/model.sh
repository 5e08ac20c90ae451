# model init and score, end to end: folders written, determinism, flag errors, JSON output, clear errors.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

expect_rc 0 "model init tiny" -- "$HF" -q model init --seed 7 --output m1
expect_grep "^m1$" "$T/out" "prints the folder on stdout"
for f in config.json generation_config.json model.safetensors tokenizer.json tokenizer_config.json; do
    if [ -s "m1/$f" ]; then passes=$((passes + 1)); else echo "FAIL: m1/$f missing"; fails=$((fails + 1)); fi
done
expect_grep '"architectures":.*"Qwen2ForCausalLM"' m1/config.json "Qwen2 architecture"
expect_grep '"tie_word_embeddings":[[:space:]]*true' m1/config.json "tiny is tied"
expect_grep '"eos_token_id":' m1/generation_config.json "eos ids from the tokenizer"
expect_grep '"format":"pt"' m1/model.safetensors "safetensors metadata format=pt"
expect_grep 'model.layers.1.self_attn.q_proj.bias' m1/model.safetensors "HF tensor names with q bias"

expect_rc 0 "same seed again" -- "$HF" -q model init --seed 7 --output m2
expect_rc 0 "same seed, same bytes" -- cmp m1/model.safetensors m2/model.safetensors
expect_rc 0 "other seed" -- "$HF" -q model init --seed 8 --output m3
expect_rc 1 "other seed, other bytes" -- cmp -s m1/model.safetensors m3/model.safetensors

expect_rc 0 "llama, untied, f32, copied tokenizer" -- "$HF" -q model init --arch llama --no-tie --dtype f32 \
    --hidden-size 48 --num-heads 6 --num-kv-heads 3 --tokenizer m1/tokenizer.json --output m4
expect_grep '"LlamaForCausalLM"' m4/config.json "llama architecture"
expect_grep 'lm_head.weight' m4/model.safetensors "untied head has lm_head.weight"
expect_rc 1 "llama has no biases" -- grep -q 'q_proj.bias' m4/model.safetensors
expect_rc 0 "tokenizer copied" -- cmp m1/tokenizer.json m4/tokenizer.json
expect_rc 0 "tokenizer_config copied" -- cmp m1/tokenizer_config.json m4/tokenizer_config.json

expect_rc 2 "heads not a multiple of kv heads" -- "$HF" model init --num-heads 5 --num-kv-heads 2 --output bad
expect_grep "multiple of --num-kv-heads" "$T/err" "says why"
expect_rc 2 "no --output" -- "$HF" model init
expect_rc 2 "unknown preset" -- "$HF" model init --preset gpt2 --output bad
expect_rc 2 "unknown dtype" -- "$HF" model init --dtype f64 --output bad
expect_rc 2 "contradicting tie flags" -- "$HF" model init --tie-embeddings --no-tie --output bad
expect_rc 1 "vocab smaller than the tokenizer" -- "$HF" model init --vocab-size 100 --output bad
expect_grep "more than vocab_size 100" "$T/err" "names the conflict"

# score
text='int add(int a, int b) { return a + b; }'
expect_rc 0 "score --text" -- "$HF" score --model m1 --text "$text"
cp "$T/out" score_text.json
python3 - "$T/out" <<'PY' >"$T/check" 2>&1
import json, math, sys
d = json.load(open(sys.argv[1]))
assert len(d["logprobs"]) == len(d["tokens"]) - 1 >= 10, d
assert all(lp < 0 for lp in d["logprobs"])
nll = -sum(d["logprobs"]) / len(d["logprobs"])
assert abs(nll - d["nll"]) < 1e-4 and abs(math.exp(nll) - d["perplexity"]) < 1e-2 * d["perplexity"]
print("ok")
PY
expect_grep "^ok$" "$T/check" "score JSON is consistent (logprobs = tokens-1, nll, perplexity)"
printf '%s' "$text" > text.txt
expect_rc 0 "score --file" -- "$HF" score --model m1 --file text.txt
cp "$T/out" score_file.json
expect_rc 0 "--file gives the same result as --text" -- cmp score_file.json score_text.json
expect_rc 0 "score with the other model" -- "$HF" score --model m4 --text "$text"
cp "$T/out" score_m4.json
expect_rc 1 "other weights, other scores" -- cmp -s score_m4.json score_text.json

expect_rc 2 "score needs text" -- "$HF" score --model m1
expect_rc 2 "score needs --model" -- "$HF" score --text hi
expect_rc 1 "one token cannot be scored" -- "$HF" score --model m1 --text "a"
expect_grep "at least 2" "$T/err" "says why"
expect_rc 1 "missing model folder" -- "$HF" score --model nope --text "hello world"
expect_grep "nope" "$T/err" "names the folder"
expect_rc 1 "missing file" -- "$HF" score --model m1 --file nothere.txt
expect_grep "nothere.txt" "$T/err" "names the file"

# Broken checkpoints are refused with the file named.
cp -r m1 broken
head -c 1000 m1/model.safetensors > broken/model.safetensors
expect_rc 1 "truncated safetensors" -- "$HF" score --model broken --text "hello world"
expect_grep "broken/model.safetensors: .*(truncated|outside the file)" "$T/err" "names the truncated file"
cp m1/model.safetensors broken/
sed -i 's/Qwen2ForCausalLM/MistralForCausalLM/' broken/config.json
expect_rc 1 "unsupported architecture" -- "$HF" score --model broken --text "hello world"
expect_grep "broken/config.json: unsupported architecture \"MistralForCausalLM\"" "$T/err" "names the architecture"
finish
