# generate, end to end on a tiny random model: output records, order, reproducibility, stop strings, errors.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# (model init writes the small test tokenizer and takes <|im_end|> / <|endoftext|> as end ids)
expect_rc 0 "model init" -- "$HF" model init --preset tiny --seed 3 --init-std 0.3 --output m

expect_rc 0 "one prompt, 3 samples" -- "$HF" generate --model m --prompt "Write hello world in C" -n 3 \
    --max-new-tokens 8 --seed 1 -o out1.jsonl
ls logs/generate_*.log >/dev/null 2>&1 && passes=$((passes + 1)) || { echo "FAIL: generate wrote no logs/generate_<time>.log"; fails=$((fails + 1)); }
expect_grep "tokens/s" "$T/err" "summary with tokens/s"
[ "$(wc -l < out1.jsonl)" -eq 3 ] && passes=$((passes + 1)) || { echo "FAIL: expected 3 records"; fails=$((fails + 1)); }
cat > check.py <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2]); maxnew = int(sys.argv[3])
for i, r in enumerate(recs):
    assert set(r) >= {"prompt", "completion", "sample_idx", "n_tokens", "finish_reason"}, r
    assert r["sample_idx"] == i % n, (i, r["sample_idx"])
    assert 1 <= r["n_tokens"] <= maxnew, r
    assert r["finish_reason"] in ("stop", "length"), r
    assert r["finish_reason"] == "stop" or r["n_tokens"] == maxnew, r
print("ok")
PY
expect_rc 0 "records are well formed and ordered" -- $PY check.py out1.jsonl 3 8

expect_rc 0 "same seed again, batch size 1" -- "$HF" generate --model m --prompt "Write hello world in C" -n 3 \
    --max-new-tokens 8 --seed 1 --batch-size 1 -o out2.jsonl
expect_rc 0 "same seed, same output at another batch size" -- cmp out1.jsonl out2.jsonl
expect_rc 0 "another seed" -- "$HF" generate --model m --prompt "Write hello world in C" -n 3 \
    --max-new-tokens 8 --seed 2 -o out3.jsonl
expect_rc 1 "another seed, other samples" -- cmp -s out1.jsonl out3.jsonl

# prompts file: 'prompt' or 'text', ids copied, prompt order kept; output on stdout
printf '%s\n' '{"id": "a1", "prompt": "int add(int a, int b)"}' '' '{"task_id": 7, "text": "Say hi"}' > p.jsonl
expect_rc 0 "prompts file to stdout" -- "$HF" generate --model m --prompts p.jsonl -n 2 --max-new-tokens 6 \
    --batch-size 3
cp "$T/out" stdout.jsonl
expect_rc 0 "four records in order" -- $PY check.py stdout.jsonl 2 6
expect_grep '^\{"id":"a1","prompt":"int add\(int a, int b\)".*"sample_idx":0' stdout.jsonl "first record has the id"
expect_grep '^\{"task_id":7,"prompt":"Say hi".*"sample_idx":1' stdout.jsonl "task_id copied"

# greedy: all samples of a prompt are the same
expect_rc 0 "greedy" -- "$HF" generate --model m --prompt "abc" -n 3 --temperature 0 --max-new-tokens 10
cp "$T/out" greedy.jsonl
expect_rc 0 "greedy samples equal" -- $PY -c '
import json, sys
c = [json.loads(l)["completion"] for l in open(sys.argv[1])]
assert len(c) == 3 and c[0] == c[1] == c[2], c' greedy.jsonl

# precision: exact (fp32 products) works too; unknown values are usage errors
expect_rc 0 "greedy, exact precision" -- "$HF" generate --model m --prompt "abc" -n 1 --temperature 0 \
    --max-new-tokens 10 --precision exact
expect_rc 2 "bad precision" -- "$HF" generate --model m --prompt x --precision half
# the program re-executes itself to set OMP_WAIT_POLICY: standard input must survive that
expect_rc 0 "prompts on standard input" -- sh -c '"$1" generate --model m --prompts - -n 1 --max-new-tokens 3 < p.jsonl' sh "$HF"
expect_grep '"task_id":7' "$T/out" "prompts read from standard input"

# stop strings never appear in the completions and end them with finish_reason stop
expect_rc 0 "stop strings" -- "$HF" generate --model m --prompt "Write code" -n 6 --max-new-tokens 40 \
    --stop e --stop 'a\,b' --stop '\n' -o stop.jsonl
expect_rc 0 "stop strings cut the text" -- $PY -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert "e" not in r["completion"] and "\n" not in r["completion"] and "a,b" not in r["completion"], r' stop.jsonl

# Ctrl-C stops generation cleanly: exit 130, no output file, no temporary file left
"$HF" generate --model m --prompt "count" -n 16 --max-new-tokens 4000 --ignore-eos -o int.jsonl \
    >/dev/null 2>int.err &
pid=$!
for _ in $(seq 100); do ls int.jsonl.tmp.* >/dev/null 2>&1 && break; sleep 0.05; done
sleep 0.3
kill -INT $pid
wait $pid
got=$?
if [ "$got" -eq 130 ] && [ ! -e int.jsonl ] && ! ls int.jsonl.tmp.* >/dev/null 2>&1 && grep -q interrupted int.err; then
    passes=$((passes + 1))
else
    echo "FAIL: SIGINT: exit $got"; cat int.err; ls; fails=$((fails + 1))
fi

# errors
expect_rc 1 "missing model folder" -- "$HF" generate --model nope --prompt x
expect_grep "nope" "$T/err" "names the missing folder"
expect_rc 2 "no --model" -- "$HF" generate --prompt x
expect_rc 2 "no prompt" -- "$HF" generate --model m
expect_rc 2 "both --prompt and --prompts" -- "$HF" generate --model m --prompt x --prompts p.jsonl
expect_rc 2 "top-p 0" -- "$HF" generate --model m --prompt x --top-p 0
expect_rc 2 "negative temperature" -- "$HF" generate --model m --prompt x --temperature -1
expect_rc 2 "zero samples" -- "$HF" generate --model m --prompt x -n 0
expect_rc 2 "unknown template" -- "$HF" generate --model m --prompt x --chat-template jinja
expect_rc 2 "unknown flag" -- "$HF" generate --model m --prompt x --beams 4
printf '%s\n' '{"prompt": "ok"}' 'not json' '{"prompt": 5}' '{"text": "fine"}' > bad.jsonl
expect_rc 1 "bad prompt lines" -- "$HF" generate --model m --prompts bad.jsonl -o never.jsonl
expect_grep "bad.jsonl:2" "$T/err" "names line 2"
expect_grep "bad.jsonl:3: no 'prompt' or 'text'" "$T/err" "names line 3 and the field"
[ ! -e never.jsonl ] && passes=$((passes + 1)) || { echo "FAIL: output written despite bad input"; fails=$((fails + 1)); }
: > empty.jsonl
expect_rc 1 "empty prompts file" -- "$HF" generate --model m --prompts empty.jsonl
expect_grep "no prompts" "$T/err" "says there are no prompts"
expect_rc 1 "missing prompts file" -- "$HF" generate --model m --prompts nope.jsonl
mkdir -p broken && cp m/config.json broken/ && cp m/tokenizer.json broken/
expect_rc 1 "model folder without weights" -- "$HF" generate --model broken --prompt x
expect_rc 0 "help" -- "$HF" generate --help
expect_grep "finish_reason" "$T/out" "help documents the records"
finish
