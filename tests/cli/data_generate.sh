# data generate against tests/llm_server.py (a local stand-in for the OpenAI-compatible and Anthropic APIs):
# the two-call recipe, every backend, keys, rate limits, verification of each program, and resuming.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
"$PY" "$SRC/tests/llm_server.py" --key sk-test --log "$T/llm.log" --lifetime 300 > "$T/port" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 600); do [ -s "$T/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$T/port")"
unset OPENAI_API_KEY OPENAI_BASE_URL DEEPSEEK_API_KEY DEEPSEEK_BASE_URL ANTHROPIC_API_KEY ANTHROPIC_BASE_URL OLLAMA_HOST
export HF_DATA_RETRY_BASE_MS=50
reset() { curl -s "$URL/_test/reset" > /dev/null; }

# OpenAI-compatible, C++: 8 examples, every fourth program does not compile and is rejected
OPENAI_API_KEY=sk-test OPENAI_BASE_URL="$URL/v1" expect_rc 0 "openai cpp_algorithms" -- \
    "$HF" data generate --topic cpp_algorithms --backend openai --n 8 -o cpp.jsonl
expect_grep "6 kept, 2 rejected by the verifier, of 8 examples \(0 resumed, 16 API requests\)" "$T/err" "summary"
expect_grep "cpp_algorithms_00004: rejected: compile_error" "$T/err" "names the rejected example"
"$PY" - cpp.jsonl <<'P' && ok || bad "generated records"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 6
assert [r["id"] for r in recs] == ["cpp_algorithms_%05d" % i for i in (1, 2, 3, 5, 6, 7)], [r["id"] for r in recs]
for r in recs:
    assert r["verified"] == {"verifier": "gcc", "ok": True, "status": "ran", "reward": 0.7}, r["verified"]
    assert r["completion"].startswith("```cpp\n") and r["prompt"].startswith("Please write")
    assert r["source"] == "llm_generated_cpp_algorithms" and r["backend"] == "openai" and r["model"] == "gpt-4"
    assert r["complexity"] in ("beginner", "intermediate", "advanced")
# slots walk the categories: 3 levels per category
assert [r["category"] for r in recs][:3] == ["sorting and searching"] * 3
P
[ ! -e cpp.jsonl.partial.jsonl ] && ok || bad "journal removed after a complete run"
grep -q "^openai gpt-4 prompt" "$T/llm.log" && grep -q "^openai gpt-4 code" "$T/llm.log" && ok || bad "two calls per example"

# Anthropic Messages API, Python (runs its own tests), a chosen model
reset; : > "$T/llm.log"
ANTHROPIC_API_KEY=sk-test ANTHROPIC_BASE_URL="$URL/v1" expect_rc 0 "anthropic python_testing" -- \
    "$HF" data generate --topic python_testing --backend anthropic --model claude-test --n 3 -o py.jsonl
grep -c "^anthropic claude-test" "$T/llm.log" | grep -qx 6 && ok || bad "6 Messages API calls with the model"
grep -q '"verifier":"python","ok":true' py.jsonl && ok || bad "python verified"
# Ollama (no key, OLLAMA_HOST) writing Go; DeepSeek (its key, 1 s between requests) writing Rust
reset
curl -s "$URL/_test/set?open=1" > /dev/null
OLLAMA_HOST="127.0.0.1:$(cat "$T/port")" expect_rc 0 "ollama go_concurrency" -- \
    "$HF" data generate --topic go_concurrency --backend ollama --n 2 -o go.jsonl
reset
[ "$(grep -c '"verifier":"go","ok":true' go.jsonl)" -eq 2 ] && ok || bad "go programs verified"
DEEPSEEK_API_KEY=sk-test expect_rc 0 "deepseek rust_async" -- \
    "$HF" data generate --topic rust_async --backend deepseek --base-url "$URL/v1" --n 1 -o rs.jsonl
grep -q '"verifier":"rust","ok":true' rs.jsonl && grep -q '"model":"deepseek-chat"' rs.jsonl && ok || bad "rust verified, deepseek's default model"

# keys: missing (usage), refused (401)
expect_rc 1 "no key" -- "$HF" data generate --topic cpp_algorithms --backend openai --base-url "$URL/v1" --n 1 -o x.jsonl
expect_grep "set OPENAI_API_KEY" "$T/err" "names the variable"
OPENAI_API_KEY=wrong expect_rc 1 "wrong key" -- "$HF" data generate --topic cpp_algorithms --backend openai --base-url "$URL/v1" --n 1 -o x.jsonl
expect_grep "API key in \\\$OPENAI_API_KEY was refused \(HTTP 401\)" "$T/err" "401 message"

# rate limits and server errors are retried (Retry-After honoured)
curl -s "$URL/_test/set?rate=2&ra=0.1&fail=1" > /dev/null
OPENAI_API_KEY=sk-test expect_rc 0 "429 and 500 retried" -- "$HF" data generate --topic cpp_algorithms --backend openai --base-url "$URL/v1" --n 1 -o r.jsonl
expect_grep "HTTP 429; retrying in 0.1 s" "$T/err" "429 retried after Retry-After"
expect_grep "HTTP 500; retrying" "$T/err" "500 retried"
reset

# an API that fails for good after 3 more requests: the finished examples survive in the journal, and a
# rerun resumes without asking for them again
curl -s "$URL/_test/set?stop_after=5" > /dev/null
OPENAI_API_KEY=sk-test expect_rc 1 "API stops answering" -- "$HF" data generate --topic cpp_algorithms --backend openai --base-url "$URL/v1" --n 5 -o res.jsonl --retries 0
expect_grep "rerun to resume" "$T/err" "says how to resume"
[ "$(wc -l < res.jsonl.partial.jsonl)" -eq 2 ] && ok || bad "2 finished examples in the journal"
reset; : > "$T/llm.log"
OPENAI_API_KEY=sk-test expect_rc 0 "resumed" -- "$HF" data generate --topic cpp_algorithms --backend openai --base-url "$URL/v1" --n 5 -o res.jsonl
expect_grep "of 5 examples \(2 resumed, 6 API requests\)" "$T/err" "only the 3 missing examples are asked for"
"$PY" -c "
import json
ids = [json.loads(l)['id'] for l in open('res.jsonl')]
assert ids[:2] == ['cpp_algorithms_00001', 'cpp_algorithms_00002'] and len(set(ids)) == len(ids), ids
" && ok || bad "resumed output in slot order"
[ ! -e res.jsonl.partial.jsonl ] && ok || bad "journal removed"

# usage
expect_rc 2 "no topic" -- "$HF" data generate
expect_rc 2 "bad topic" -- "$HF" data generate --topic cobol
expect_rc 2 "bad backend" -- "$HF" data generate --topic cpp_algorithms --backend gemini
expect_rc 0 "list" -- "$HF" data generate --list
expect_grep "^rust_async +rust +300" "$T/out" "the topics with their full size"
finish
