# data prepare end to end, against tests/datasets_server.py (a local stand-in for the dataset viewer).
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" "$SRC/tests/datasets_server.py" --make-fixture "$T/ds" || { echo "FAIL: cannot make the fixture"; exit 1; }
"$PY" "$SRC/tests/datasets_server.py" --root "$T/ds" --log "$T/requests.log" --lifetime 300 > "$T/port" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 600); do [ -s "$T/port" ] && break; sleep 0.1; done
export HF_DATASETS_SERVER="http://127.0.0.1:$(cat "$T/port")" HF_HOME="$T/hf" HF_DATA_RETRY_BASE_MS=50
unset HF_TOKEN HF_HUB_OFFLINE HF_DATASETS_OFFLINE HF_DATASETS_CACHE HF_TOKEN_PATH HUGGING_FACE_HUB_TOKEN
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

expect_rc 0 "--list" -- "$HF" data prepare --list
for n in codeforces_cpp codeforces_python codeforces_rust mbpp mbpp_plus humaneval humaneval_plus livecodebench; do
    expect_grep "^$n " "$T/out" "--list names $n"
done
expect_rc 0 "sft datasets" -- "$HF" sft datasets
expect_grep "^humaneval " "$T/out" "sft datasets lists the registry"

# The specification's spelling, paginated (245 rows: 3 pages), a sample of 150 with the seed
expect_rc 0 "codeforces sample" -- "$HF" data prepare --dataset codeforces --output data/prompts.jsonl --max-examples 150
expect_grep "wrote 150 records" "$T/err" "summary"
expect_grep "1 duplicates" "$T/err" "the second generation of a problem is skipped"
"$PY" - data/prompts.jsonl <<'P' && ok || bad "codeforces records"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 150
assert len({r["id"] for r in recs}) == 150
for r in recs:
    assert r["language"] == "cpp" and r["source"] == "codeforces_cpp", r
    assert r["prompt"].startswith("You will be given a competitive programming problem"), r["prompt"]
    assert "```cpp" in r["completion"] and r["completion"].startswith("<think>"), r["completion"]
    assert isinstance(r["tests"], list) and all(set(t) == {"input", "expected"} for t in r["tests"]), r["tests"]
    assert r["difficulty"] in ("easy", "medium", "hard") and r["category"] != "unknown"
    assert r["system"].startswith("You are an expert competitive programmer")
P
grep -c "/rows" "$T/requests.log" | grep -qx 3 && ok || bad "three pages fetched ($(grep -c /rows "$T/requests.log"))"
# the same seed gives the same sample; another seed another; the cache answers a second run
expect_rc 0 "again" -- "$HF" -q data prepare --dataset codeforces_cpp --output again.jsonl --max-examples 150
cmp -s data/prompts.jsonl again.jsonl && ok || bad "same seed, different records"
grep -c "/rows" "$T/requests.log" | grep -qx 3 && ok || bad "a second run downloaded again"
expect_rc 0 "other seed" -- "$HF" -q data prepare --dataset codeforces_cpp --output other.jsonl --max-examples 150 --seed 7
cmp -s data/prompts.jsonl other.jsonl && bad "another seed gave the same sample" || ok
HF_HUB_OFFLINE=1 expect_rc 0 "offline from the cache" -- "$HF" -q data prepare --dataset codeforces --output off.jsonl --max-examples 150
cmp -s data/prompts.jsonl off.jsonl && ok || bad "offline run differs"
HF_HUB_OFFLINE=1 HF_HOME="$T/empty" expect_rc 1 "offline without the cache" -- "$HF" data prepare --dataset humaneval -o x.jsonl
expect_grep "HF_HUB_OFFLINE.*not in the cache" "$T/err" "offline error says why"

# languages: the Rust rows of the same set (by their fence), the Python config
expect_rc 0 "codeforces_rust" -- "$HF" -q data prepare -d codeforces_rust -o rust.jsonl
[ "$(wc -l < rust.jsonl)" -eq 3 ] && grep -q '"language":"rust"' rust.jsonl && ok || bad "3 rust records"
expect_rc 0 "codeforces_python --format sft --no-reasoning" -- "$HF" -q data prepare -d codeforces_python -o py.jsonl --format sft --no-reasoning
"$PY" - py.jsonl <<'P' && ok || bad "sft records in the qwen template"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 5
for r in recs:
    t = r["text"]
    assert t.startswith("<|im_start|>system\nYou are an expert competitive programmer"), t
    assert "<|im_start|>user\nPrint the sum" in t and "<|im_start|>assistant\n```python" in t, t
    assert "<think>" not in t and t.endswith("<|im_end|>\n")
    assert r["metadata"]["source"] == "codeforces_python" and r["metadata"]["language"] == "python"
P

# HumanEval: the full function in a fence, check() tests, entry point
expect_rc 0 "humaneval" -- "$HF" -q data prepare -d humaneval -o he.jsonl
"$PY" - he.jsonl <<'P' && ok || bad "humaneval records"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["id"] for r in recs] == [f"HumanEval/{i}" for i in range(6)], [r["id"] for r in recs]
for r in recs:
    assert r["completion"].startswith("```python\n" + r["prompt"]), r
    assert "def check(candidate)" in r["tests"] and r["entry_point"]
P
# MBPP: CRLF code made LF, the tests (with set-up code and challenge tests) and the function name in the prompt
expect_rc 0 "mbpp" -- "$HF" -q data prepare -d mbpp -o mbpp.jsonl --template llama
"$PY" - mbpp.jsonl <<'P' && ok || bad "mbpp records"
import json, sys
recs = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[1])}
assert set(recs) == {"mbpp_11", "mbpp_12", "mbpp_13", "mbpp_14", "mbpp_15"}, recs.keys()
r = recs["mbpp_11"]
assert "\r" not in r["completion"] and r["entry_point"] == "remove_Occ"
assert "Your code should pass these tests:" in r["prompt"] and 'assert remove_Occ("hello","l")' in r["prompt"]
assert 'remove_Occ("hellolloll"' in r["tests"], "challenge tests kept"
assert recs["mbpp_15"]["tests"].startswith("import math\n")
P
expect_rc 0 "mbpp --format messages" -- "$HF" -q data prepare -d mbpp -o mbpp_m.jsonl --format messages --system-prompt ""
"$PY" -c "
import json
for l in open('mbpp_m.jsonl'):
    m = json.loads(l)['messages']
    assert [x['role'] for x in m] == ['user', 'assistant'], m
" && ok || bad "messages without a system turn"
# a prepared set is what benchmark eval reads as it is (tiny-coder, one short sample per task)
for b in humaneval mbpp; do
    f=he.jsonl; [ $b = mbpp ] && f=mbpp.jsonl
    expect_rc 0 "benchmark eval --benchmark $b on a prepared set" -- "$HF" benchmark eval -m "$SRC/models/tiny-coder" \
        -b $b -d $f -n 1 --max-new-tokens 8 --k 1 -o be_$b.json
    "$PY" -c "import json,sys; d = json.load(open('be_$b.json')); assert d['total'] == (6 if '$b' == 'humaneval' else 5), d['total']" \
        && ok || bad "benchmark eval $b read every prepared task"
done
expect_rc 0 "mbpp_plus" -- "$HF" -q data prepare -d mbpp_plus -o mp.jsonl
expect_rc 0 "humaneval_plus" -- "$HF" -q data prepare -d humaneval_plus -o hp.jsonl
expect_rc 0 "livecodebench" -- "$HF" data prepare -d livecodebench -o lcb.jsonl
"$PY" - lcb.jsonl <<'P' && ok || bad "livecodebench: stdin tests kept, functional ones not"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 2 and "completion" not in recs[0]
assert recs[0]["tests"] == [{"input": "1 2\n", "expected": "3\n"}], recs[0]
assert "tests" not in recs[1] and "starter code" in recs[1]["prompt"]
P
expect_rc 1 "livecodebench has nothing to train on" -- "$HF" data prepare -d livecodebench -o x.jsonl --format sft
expect_grep "without a reference solution" "$T/err" "says why"

# Retries: 503 and 429 (with Retry-After) are retried, then the download goes on
rm -rf "$T/hf"
curl -s "$HF_DATASETS_SERVER/_test/set?fail=2&rate=1&ra=0.1" > /dev/null
expect_rc 0 "retries on 503 and 429" -- "$HF" data prepare -d humaneval -o he2.jsonl
expect_grep "HTTP 503; retrying" "$T/err" "503 retried"
expect_grep "HTTP 429; retrying in 0.1 s" "$T/err" "429 retried after Retry-After"
cmp -s he.jsonl he2.jsonl && ok || bad "retried download differs"
curl -s "$HF_DATASETS_SERVER/_test/reset" > /dev/null
# Resuming: a cached page is not fetched again after an interruption (here: a failure on page 2)
rm -rf "$T/hf"; : > "$T/requests.log"
curl -s "$HF_DATASETS_SERVER/_test/set?fail=100" > /dev/null
expect_rc 1 "server down" -- "$HF" data prepare -d codeforces -o x.jsonl --max-examples 150
expect_grep "HTTP 503" "$T/err" "names the status"
curl -s "$HF_DATASETS_SERVER/_test/reset" > /dev/null
# gated: a token is needed and sent
curl -s "$HF_DATASETS_SERVER/_test/set?token=s3cret" > /dev/null
rm -rf "$T/hf"
expect_rc 1 "gated without a token" -- "$HF" data prepare -d humaneval -o x.jsonl
expect_grep "HF_TOKEN" "$T/err" "tells to set HF_TOKEN"
HF_TOKEN=s3cret expect_rc 0 "gated with HF_TOKEN" -- "$HF" -q data prepare -d humaneval -o he3.jsonl
echo s3cret > "$T/tok"; rm -rf "$T/hf"
HF_TOKEN_PATH="$T/tok" expect_rc 0 "token from a file" -- "$HF" -q data prepare -d humaneval -o he4.jsonl
curl -s "$HF_DATASETS_SERVER/_test/reset" > /dev/null
[ ! -e x.jsonl ] && ok || bad "a failed run wrote its output"

# Local files: JSONL and JSON arrays with field mapping
cat > local.jsonl <<'L'
{"question": "Write a C program that prints 7.", "answer": "```c\n#include <stdio.h>\nint main(void) { printf(\"7\\n\"); return 0; }\n```", "expected_output": "7", "uid": "a1"}
{"question": "Write a C program that prints 8.", "answer": "```c\nint main(void) { return 0; }\n```", "expected_output": "8", "uid": "a2"}
L
expect_rc 0 "local jsonl with field mapping" -- "$HF" -q data prepare --input local.jsonl -o local_out.jsonl --prompt-field question --response-field answer --id-field uid
"$PY" -c "
import json
r = [json.loads(l) for l in open('local_out.jsonl')]
assert [x['id'] for x in r] == ['a1', 'a2'] and r[0]['language'] == 'c' and r[0]['expected_output'] == '7', r
" && ok || bad "local records"
echo '[{"instruction": "Say hi", "input": "in Python", "output": "print(\"hi\")"}]' > local.json
expect_rc 0 "local json array (alpaca)" -- "$HF" -q data prepare --input local.json -o la.jsonl --format sft --template chatml
grep -q '<|user|>\\nSay hi\\n\\nin Python<|end|>' la.jsonl && ok || bad "alpaca instruction + input in the chatml template"
printf '{"prompt": "ok one"}\n{bad json\n' > broken.jsonl
expect_rc 1 "bad local line" -- "$HF" data prepare --input broken.jsonl -o x.jsonl
expect_grep "broken.jsonl:2" "$T/err" "names the file and line"

# sft train --dataset: prepares into the cache, then trains (a tiny run on the bundled model)
expect_rc 0 "sft train --dataset mbpp" -- "$HF" sft train --dataset mbpp --model "$SRC/models/tiny-coder" --output sftm \
    --max-steps 1 --batch-size 1 --gradient-accumulation 1 --validation-split 0 --max-seq-length 256
[ -s "$T/hf/datasets/halo-forge/mbpp.jsonl" ] && [ -d sftm/final_model ] && ok || bad "prepared into the cache and trained"

# usage errors
expect_rc 2 "unknown dataset" -- "$HF" data prepare -d nope
expect_grep "unknown dataset 'nope'" "$T/err" "names it"
expect_rc 2 "neither" -- "$HF" data prepare
expect_rc 2 "both" -- "$HF" data prepare -d mbpp --input local.jsonl
expect_rc 2 "bad template" -- "$HF" data prepare -d mbpp --template phi
expect_rc 2 "sft train unknown dataset" -- "$HF" sft train --dataset nope
expect_grep "sft datasets" "$T/err" "points at the list"
expect_rc 0 "help" -- "$HF" data prepare --help
expect_grep "HF_DATASETS_SERVER" "$T/out" "help names the environment"
finish
