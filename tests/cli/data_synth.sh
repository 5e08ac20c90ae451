# halo-forge data synth, end to end: a small verified corpus, its format, determinism, bad flags.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

expect_rc 0 "small verified corpus" -- "$HF" data synth --count 12 --seed 3 --cpp-share 0.3 --output corpus.jsonl
expect_grep 'wrote 12 records' "$T/err" "summary line on stderr"
expect_grep '0 failed verification' "$T/err" "every program verified correct"
[ ! -s "$T/out" ] && passes=$((passes + 1)) || { echo "FAIL: stdout is not empty"; fails=$((fails + 1)); }

# every line: the fields, the language of the fence and of the prompt, the benchmark's system prompt,
# and no built-in benchmark prompt
if "$PY" - corpus.jsonl <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 12, len(recs)
ids = set()
for r in recs:
    for k in ("id", "category", "difficulty", "language", "prompt", "completion", "expected_output", "system"):
        assert isinstance(r[k], str) and r[k] != "" or k == "expected_output", (k, r)
    assert r["id"] not in ids
    ids.add(r["id"])
    assert r["language"] in ("c", "cpp")
    fence = "```cpp\n" if r["language"] == "cpp" else "```c\n"
    assert r["completion"].startswith(fence) and r["completion"].endswith("```"), r["completion"]
    assert r["completion"].count("```") == 2
    assert ("C++" in r["prompt"]) == (r["language"] == "cpp"), r["prompt"]
    assert r["system"].startswith("You are an expert programmer"), r["system"]
    assert r["category"] in ("basic_io", "arithmetic", "arrays", "algorithms", "strings", "data_structures")
    assert r["difficulty"] in ("easy", "medium", "hard")
assert len({(r["prompt"], r["completion"]) for r in recs}) == len(recs)
PY
then passes=$((passes + 1)); else echo "FAIL: corpus.jsonl does not have the documented format"; fails=$((fails + 1)); fi

# the same seed and count give the same bytes (here without compiling: the templates are the same)
expect_rc 0 "unverified run" -- "$HF" -q data synth --count 300 --seed 9 --no-verify --output a.jsonl
expect_rc 0 "same seed again" -- "$HF" -q data synth --count 300 --seed 9 --no-verify --output b.jsonl
cmp -s a.jsonl b.jsonl && passes=$((passes + 1)) || { echo "FAIL: same seed, different bytes"; fails=$((fails + 1)); }
expect_rc 0 "other seed" -- "$HF" -q data synth --count 300 --seed 10 --no-verify --output c.jsonl
cmp -s a.jsonl c.jsonl && { echo "FAIL: another seed gave the same corpus"; fails=$((fails + 1)); } || passes=$((passes + 1))
[ "$(wc -l < a.jsonl)" -eq 300 ] && passes=$((passes + 1)) || { echo "FAIL: a.jsonl does not have 300 lines"; fails=$((fails + 1)); }

# C only
expect_rc 0 "C only" -- "$HF" -q data synth --count 50 --languages c --no-verify --output conly.jsonl
grep -q '"language":"cpp"' conly.jsonl && { echo "FAIL: a C++ record with --languages c"; fails=$((fails + 1)); } || passes=$((passes + 1))

# the records are a prompts file for raft / benchmark, and training data for sft (system turn kept)
"$PY" - a.jsonl <<'PY' && passes=$((passes + 1)) || { echo "FAIL: built-in prompt text in the corpus"; fails=$((fails + 1)); }
import json, sys
builtin = ["Write a C++ program that prints 'Hello, World!' to stdout.",
           "Write a C++ program that computes and prints the factorial of 6.",
           "Write a C++ program that computes and prints the GCD of 48 and 18.",
           "Write a C++ program that reverses the string 'hello' and prints it.",
           "Write a C++ program that checks if 17 is prime and prints 'yes' or 'no'.",
           "Write a C++ program that computes and prints 2 raised to the power of 10."]
norm = lambda s: " ".join(s.lower().replace("'", "").replace('"', "").split())
seen = {norm(json.loads(l)["prompt"]) for l in open(sys.argv[1])}
assert not seen & {norm(b) for b in builtin}
PY

# bad flags
expect_rc 2 "no --output" -- "$HF" data synth --count 5
expect_grep 'output' "$T/err" "says --output is required"
expect_rc 2 "unknown language" -- "$HF" data synth --count 5 --languages c,rust --output x.jsonl
expect_grep "rust" "$T/err" "names the bad language"
expect_rc 2 "count out of range" -- "$HF" data synth --count 0 --output x.jsonl
expect_rc 2 "share out of range" -- "$HF" data synth --count 5 --cpp-share 1.5 --output x.jsonl
[ ! -e x.jsonl ] && passes=$((passes + 1)) || { echo "FAIL: a usage error wrote a file"; fails=$((fails + 1)); }
expect_rc 1 "unwritable output" -- "$HF" data synth --count 3 --no-verify --output /nonexistent/dir/x.jsonl
expect_grep "nonexistent" "$T/err" "names the file it cannot write"
expect_rc 0 "help" -- "$HF" data synth --help
expect_grep 'cpp-share' "$T/out" "help lists the flags"

finish
