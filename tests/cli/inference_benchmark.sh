# inference benchmark: greedy latency on the bundled tiny-coder (a folder and its GGUF): the JSON has every
# figure, counts add up, percentiles are ordered, --output holds what stdout printed, prompts come from a
# file; bad input is refused with the file and line. No timing is asserted beyond the order of percentiles.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

TC="$SRC/models/tiny-coder"
check() { # check DESCRIPTION FILE PYTHON-EXPRESSIONS...: each must hold on the JSON object j
    local what=$1 f=$2; shift 2
    if python3 - "$f" "$@" >chk.out 2>&1 <<'PY'
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
for e in sys.argv[2:]:
    assert eval(e), e
PY
    then passes=$((passes + 1)); else echo "FAIL: $what"; tail -3 chk.out; fails=$((fails + 1)); fi
}
ordered='all(j[k]["min"] <= j[k]["p50"] <= j[k]["p90"] <= j[k]["p99"] <= j[k]["max"] for k in ("ttft_ms", "token_latency_ms", "latency_ms"))'

expect_rc 0 "benchmark the folder, built-in prompts" -- "$HF" -q inference benchmark -m "$TC" --max-tokens 12 --warmup 1 \
    --ignore-eos --output res.json
check "built-in run" "$T/out" 'j["num_prompts"] == 5' 'j["generated_tokens"] == 60' 'j["prompt_tokens"] > 5' \
    "$ordered" 'j["tokens_per_s"] > 0 and j["decode_tokens_per_s"] > 0' 'j["peak_rss_mib"] > 1' \
    'j["ttft_ms"]["min"] > 0' 'j["prompts"] == "built-in" and j["precision"] == "fast"'
cp "$T/out" printed.json
expect_rc 0 "--output holds the printed JSON" -- cmp res.json printed.json

printf '{"prompt": "int add(int a, int b) {"}\n\n{"text": "#include <stdio.h>"}\n{"prompt": "int x"}\n' > p.jsonl
expect_rc 0 "export tiny-coder to GGUF" -- "$HF" -q export gguf -m "$TC" -o tc.gguf -t q8_0
expect_rc 0 "benchmark the GGUF with a prompts file" -- "$HF" -q inference benchmark -m tc.gguf --prompts p.jsonl \
    --num-prompts 2 --max-tokens 8 --warmup 0 --ignore-eos --precision exact
check "prompts file run" "$T/out" 'j["num_prompts"] == 2' 'j["generated_tokens"] == 16' "$ordered" \
    'j["prompts"] == "p.jsonl" and j["precision"] == "exact" and j["warmup"] == 0'
# Without --ignore-eos a generation may stop early, never run long.
expect_rc 0 "stopping at end-of-sequence" -- "$HF" -q inference benchmark -m "$TC" --max-tokens 40 --warmup 0
check "at most max-tokens each" "$T/out" '0 < j["generated_tokens"] <= 5 * 40'

expect_rc 2 "no --model" -- "$HF" inference benchmark
expect_rc 2 "--max-tokens 0" -- "$HF" inference benchmark -m "$TC" --max-tokens 0
printf '{"prompt": "ok"}\n{"id": 3}\n' > bad.jsonl
expect_rc 1 "a line without a prompt" -- "$HF" inference benchmark -m "$TC" --prompts bad.jsonl
expect_grep 'bad.jsonl:2: no "prompt"' "$T/err" "names the file and line"
expect_rc 1 "a missing prompts file" -- "$HF" inference benchmark -m "$TC" --prompts nowhere.jsonl
expect_grep "nowhere.jsonl" "$T/err" "names the file"
expect_rc 1 "prompt past the context" -- "$HF" inference benchmark -m "$TC" --max-tokens 5000 --warmup 0
expect_grep "context" "$T/err" "says the context is too short"
finish
