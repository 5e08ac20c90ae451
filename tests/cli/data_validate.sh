# data validate: formats, problems by line, and --verify (each record's own solution against its own tests).
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
FX="$SRC/tests/fixtures/bench"

# The benchmark fixtures in the original's data/rlvr format: prompts only (no solutions), valid
expect_rc 0 "humaneval_mini is a valid rlvr file" -- "$HF" data validate "$FX/humaneval_mini.jsonl"
expect_grep "format rlvr, 3 records" "$T/out" "detects rlvr"

# Prepared data from the fake viewer's HumanEval/MBPP/Codeforces sets: every reference solution passes
"$PY" "$SRC/tests/datasets_server.py" --make-fixture "$T/ds" || { echo "FAIL: fixture"; exit 1; }
"$PY" "$SRC/tests/datasets_server.py" --root "$T/ds" --log /dev/null --lifetime 200 > "$T/port" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 600); do [ -s "$T/port" ] && break; sleep 0.1; done
export HF_DATASETS_SERVER="http://127.0.0.1:$(cat "$T/port")" HF_HOME="$T/hf"
unset HF_TOKEN HF_HUB_OFFLINE HF_DATASETS_OFFLINE HF_DATASETS_CACHE
for d in humaneval humaneval_plus mbpp mbpp_plus codeforces_python codeforces_rust; do
    "$HF" -q data prepare -d "$d" -o "$d.jsonl" || bad "prepare $d"
    expect_rc 0 "$d: its solutions pass --verify" -- "$HF" data validate --verify "$d.jsonl"
    n=$(wc -l < "$d.jsonl")
    expect_grep "verified: $n of $n solutions pass their tests, 0 fail" "$T/out" "$d: all $n verified"
done
"$HF" -q data prepare -d codeforces -o cf.jsonl --max-examples 12 || bad "prepare codeforces"
expect_rc 0 "codeforces C++ solutions pass their example tests" -- "$HF" data validate --verify cf.jsonl
expect_grep "verified: 12 of 12" "$T/out" "all 12 C++ records verified (execution verifier)"

# A wrong canonical solution, a wrong MBPP function and a C++ program with the wrong output are caught
"$PY" - humaneval.jsonl mbpp.jsonl cf.jsonl > broken.jsonl <<'P'
import json, sys
he = [json.loads(l) for l in open(sys.argv[1])]
mb = [json.loads(l) for l in open(sys.argv[2])]
cf = [json.loads(l) for l in open(sys.argv[3])]
he[0]["completion"] = he[0]["completion"].replace("return x + y", "return x - y")
mb[0]["completion"] = mb[0]["completion"].replace("break", "pass")
cf[0]["completion"] = cf[0]["completion"].replace("a + b", "a * b").replace("best = x", "best = 0")
for r in [he[1], he[0], mb[0], cf[0]]:
    print(json.dumps(r))
P
expect_rc 1 "broken solutions fail" -- "$HF" data validate --verify broken.jsonl
expect_grep "verified: 1 of 4 solutions pass their tests, 3 fail" "$T/out" "counts"
expect_grep "broken.jsonl:2: error: record 'HumanEval/0': its own solution fails" "$T/err" "names the HumanEval record and line"
expect_grep "broken.jsonl:3: error: record 'mbpp_11'" "$T/err" "names the MBPP record"
expect_grep "broken.jsonl:4: error: record '" "$T/err" "names the C++ record"
expect_rc 0 "without --verify the same file is well-formed" -- "$HF" data validate broken.jsonl

# Problems, each with its line
cat > bad.jsonl <<'B'
{"text": "<|im_start|>user\nhello there friend<|im_end|>\n<|im_start|>assistant\nhi, how can I help?<|im_end|>\n"}
{"text": ""}
not json
{"messages": [{"role": "user", "content": "x"}]}
{"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]}
{"prompt": "ok", "completion": "fine answer here"}
{"id": "a", "prompt": "Write code that prints 1", "tests": 42}
{"id": "a", "prompt": "Write code that prints 2"}
{"foo": 1}
B
expect_rc 1 "invalid file" -- "$HF" data validate bad.jsonl
for want in "bad.jsonl:2: error: empty 'text'" "bad.jsonl:3: error:" "bad.jsonl:4: error: no assistant turn" \
    "bad.jsonl:5: error: message 1: unknown role 'wizard'" "bad.jsonl:6: warning: short prompt" \
    "bad.jsonl:7: error:.*tests" "bad.jsonl:8: error: duplicate id 'a' \\(first on line 7\\)" \
    "bad.jsonl:9: error: no 'text', 'messages' or 'prompt'"; do
    expect_grep "$want" "$T/err" "reports: $want"
done
expect_grep "INVALID" "$T/out" "says invalid"
expect_grep "format mixed" "$T/out" "mixed formats"

# Formats and statistics
"$PY" -c "
import json
for i in range(20):
    print(json.dumps({'text': '<|im_start|>user\nquestion number %d<|im_end|>\n<|im_start|>assistant\n%s<|im_end|>\n' % (i, 'x' * (10 + i))}))
" > sft.jsonl
expect_rc 0 "sft file" -- "$HF" data validate sft.jsonl --preview 2
expect_grep "format sft, 20 records" "$T/out" "sft format"
expect_grep "response length: average 20, max 29" "$T/out" "response statistics from the ChatML text"
expect_grep "^--- line 2" "$T/out" "preview"
[ "$(grep -c '^--- line' "$T/out")" -eq 2 ] && ok || bad "preview shows 2 records"
expect_rc 1 "missing file" -- "$HF" data validate nope.jsonl
expect_grep "nope.jsonl" "$T/err" "names the file"
expect_rc 2 "no file" -- "$HF" data validate
finish
