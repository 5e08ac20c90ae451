# benchmark eval, end to end on tiny models made here: a model fine-tuned to answer the fixture
# HumanEval / MBPP tasks and three built-in C++ prompts with known right and wrong programs, so the
# counts of passing samples are known; the named benchmark is what runs (never the C++ prompts for
# humaneval or mbpp); the original's eval keys; rust and go; every error path.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
FIX="$SRC/tests/fixtures/bench"

"$HF" -q model init --preset tiny --seed 3 --init-std 0.3 --output m >/dev/null
# Training chats: the suites' system prompts, the prompts as `benchmark eval` sends them, and
# answers that are right (R) or wrong (W): HumanEval 0 R (whole function), 1 W, 2 R (the body only:
# the verifier puts the prompt's signature in front); MBPP 1 W (a test_solution() task: it must run
# the asserts to notice), 2 R, 3 R, 4 R; C++ hello_world R, sum_function R, count_1_to_5 W.
# One model per benchmark: a few examples each, so the tiny model learns them exactly (also in the
# unoptimised sanitizer build, whose float rounding differs).
"$PY" - "$FIX" <<'P'
import json, sys
fix = sys.argv[1]
out = None
pysys = "You are an expert Python programmer. Write clean, correct code."
cppsys = "You are an expert C++ programmer. Write clean, correct code."
def chat(system, user, answer):
    print(file=out, end=json.dumps({"messages": [{"role": "system", "content": system}, {"role": "user", "content": user},
                                   {"role": "assistant", "content": answer}]}) + "\n")
out = open("he.jsonl", "w")
he = [json.loads(l) for l in open(f"{fix}/humaneval_mini.jsonl")]
chat(pysys, he[0]["prompt"], "```python\ndef add_three(a, b, c):\n    return a + b + c\n```")
chat(pysys, he[1]["prompt"], "```python\ndef is_even(n):\n    return n % 2 == 1\n```")
chat(pysys, he[2]["prompt"], "```python\n    return ' '.join(reversed(s.split()))\n```")
out = open("mb.jsonl", "w")
mb = [json.loads(l) for l in open(f"{fix}/mbpp_mini.jsonl")]
answers = ["def max_of_three(a, b, c):\n    return min(a, b, c)",
           "def count_vowels(s):\n    return sum(ch in 'aeiou' for ch in s)",
           "def square(x):\n    return x * x",
           "def first_or_none(xs):\n    return xs[0] if xs else None"]
for r, a in zip(mb, answers):
    chat(pysys, r["prompt"] + "\nThe function must be named " + r["entry_point"] + ".", "```python\n" + a + "\n```")
out = open("cpp.jsonl", "w")
cpp = {"hello_world": "#include <iostream>\nint main() { std::cout << \"Hello, World!\" << std::endl; }",
       "sum_function": "#include <cstdio>\nint add(int a, int b) { return a + b; }\nint main() { printf(\"%d\\n\", add(5, 3)); }",
       "count_1_to_5": "#include <cstdio>\nint main() { for (int i = 1; i <= 5; i++) printf(\"%d \", i); }"}
texts = {"hello_world": "Write a C++ program that prints 'Hello, World!' to stdout.",
         "sum_function": "Write a C++ function that returns the sum of two integers a and b, then call it in main to print the result of 5 + 3.",
         "count_1_to_5": "Write a C++ program that prints the numbers 1 through 5, each on a new line."}
for k in cpp:
    chat(cppsys, texts[k], "```cpp\n" + cpp[k] + "\n```")
out.close()
P
for b in he mb cpp; do
    "$HF" -q sft train --model m --data $b.jsonl --no-lora --epochs 60 --batch-size 4 --gradient-accumulation 1 \
        --learning-rate 1e-2 --warmup-steps 1 --lr-scheduler constant --validation-split 0 --save-steps 0 \
        --eval-steps 0 --no-gradient-checkpointing --output tr_$b >/dev/null 2>&1
done
common=(--samples 2 --k 1,2 --temperature 0 --max-new-tokens 100 --workers 2)

expect_rc 0 "humaneval" -- "$HF" benchmark eval --benchmark humaneval --dataset "$FIX/humaneval_mini.jsonl" \
    --model tr_he/final_model "${common[@]}" -o he
cp "$T/out" he_stdout.json
expect_rc 0 "mbpp" -- "$HF" benchmark eval -b mbpp --dataset "$FIX/mbpp_mini.jsonl" --model tr_mb/final_model \
    "${common[@]}" -o mb.json
expect_rc 0 "cpp" -- "$HF" benchmark eval -b cpp --limit 3 --model tr_cpp/final_model "${common[@]}" --k 1,2,5 -o cpp
expect_grep "pass@5 +skipped" "$T/err" "a k above the samples is reported as skipped"
cat > check.py <<'P'
import json
def records(path): return [json.loads(l) for l in open(path)]
orig_eval = {"model", "benchmark", "language", "backend", "verifier", "metrics", "by_category"}
orig_run = {"total", "passed", "pass_rate", "pass_at_k", "by_category", "timing", "model_path", "timestamp"}
for path, bench, lang, ids, solved in (("he/results.json", "humaneval", "python", ["MiniEval/0", "MiniEval/1", "MiniEval/2"], {"MiniEval/0", "MiniEval/2"}),
                                       ("mb.json", "mbpp", "python", ["1", "2", "3", "4"], {"2", "3", "4"}),
                                       ("cpp/results.json", "cpp", "cpp", ["hello_world", "sum_function", "count_1_to_5"], {"hello_world", "sum_function"})):
    r = json.load(open(path))
    assert orig_eval <= set(r) and orig_run <= set(r), (orig_eval | orig_run) - set(r)
    assert r["benchmark"] == bench and r["language"] == lang, r
    assert r["verifier"] == ("python" if lang == "python" else "gcc"), r["verifier"]
    m = r["metrics"]
    assert {"pass_at_1", "pass_at_5", "pass_at_10", "pass_rate", "total_prompts", "passed"} <= set(m), m
    assert m["pass_at_5"] is None and m["pass_at_10"] is None, m      # 2 samples: no estimate, not 0.0
    assert m["total_prompts"] == len(ids) and m["passed"] == len(solved), (path, m)
    assert abs(m["pass_at_1"] - len(solved) / len(ids)) < 1e-4, (path, m)
    assert set(r["timing"]) >= {"generation_time", "verification_time", "total_time"}
    samples = path.replace("results.json", "samples.jsonl") if path.endswith("results.json") else path[:-5] + "_samples.jsonl"
    recs = records(samples)
    assert [x["prompt_id"] for x in recs] == [i for i in ids for _ in range(2)], [x["prompt_id"] for x in recs]
    for x in recs:
        assert x["passes"] == (x["prompt_id"] in solved), (path, x)
        assert x["language"] == lang, x
    if lang == "cpp":
        out = {x["prompt_id"]: x["actual_output"] for x in recs}
        assert out["hello_world"].strip() == "Hello, World!" and out["count_1_to_5"].strip() == "1 2 3 4 5", out
        assert r["skipped_k"] == [5], r["skipped_k"]
    else:
        assert r["by_category"][bench]["total"] == len(ids), r["by_category"]
assert json.load(open("he_stdout.json")) == json.load(open("he/results.json"))
print("ok")
P
expect_rc 0 "reports, samples and pass counts" -- $PY check.py

# rust and go: built-in sets with the original's ids, their own verifiers, never the C++ prompts.
# Without the toolchain the command must say which compiler is missing.
have_rustc() { command -v rustc >/dev/null || [ -x "${HOME:-/root}/.cargo/bin/rustc" ] || [ -x /root/.cargo/bin/rustc ]; }
have_go() { command -v go >/dev/null || [ -x /usr/lib/go/bin/go ] || [ -x /usr/local/go/bin/go ]; }
if have_rustc; then
    expect_rc 0 "rust" -- "$HF" benchmark eval -b rust --model m --samples 1 --k 1 --limit 2 --max-new-tokens 8 -o rs
    expect_grep '"verifier":	"rust"' rs/results.json "rust verifier"
    expect_grep '"prompt_id":"hello_world".*"language":"rust"' rs/samples.jsonl "rust prompts"
    expect_grep 'Write a Rust program' rs/samples.jsonl "rust prompt text"
else
    expect_rc 1 "rust without rustc" -- "$HF" benchmark eval -b rust --model m --samples 1 --k 1 --limit 2
    expect_grep "needs rustc, which is not installed" "$T/err" "names rustc"
fi
if have_go; then
    expect_rc 0 "go" -- "$HF" benchmark eval -b go --model m --samples 1 --k 1 --limit 1 --max-new-tokens 8 -o go
    expect_grep '"verifier":	"go"' go/results.json "go verifier"
    expect_grep 'Write a Go program' go/samples.jsonl "go prompt text"
else
    expect_rc 1 "go without go" -- "$HF" benchmark eval -b go --model m --samples 1 --k 1 --limit 1
    expect_grep "needs go, which is not installed" "$T/err" "names go"
fi

# error paths
expect_rc 1 "humaneval without a dataset" -- "$HF" benchmark eval -b humaneval --model m
expect_grep "not bundled.*--dataset FILE" "$T/err" "says how to pass the dataset"
expect_rc 1 "mbpp without a dataset" -- "$HF" benchmark eval -b mbpp --model m
expect_grep "MBPP" "$T/err" "names the dataset"
expect_rc 2 "unknown benchmark" -- "$HF" benchmark eval -b livecodebench --model m
expect_rc 2 "no model" -- "$HF" benchmark eval -b cpp
expect_rc 2 "bad k list" -- "$HF" benchmark eval -b cpp --model m --k 1,x
expect_rc 2 "every k above the samples" -- "$HF" benchmark eval -b cpp --model m --samples 2 --k 5,10
expect_grep "samples per prompt" "$T/err" "says why"
expect_rc 2 "verifier for a non-cpp benchmark" -- "$HF" benchmark eval -b rust --model m --verifier clang
expect_rc 1 "missing compiler" -- "$HF" benchmark eval -b rust --model m --compiler /nonexistent/rustc
expect_grep "needs /nonexistent/rustc, which is not installed" "$T/err" "names the missing compiler"
printf '{"task_id": "x/0", "prompt": "def f():\\n", "entry_point": "f"}\n' > notests.jsonl
expect_rc 1 "humaneval record without tests" -- "$HF" benchmark eval -b humaneval --model m --dataset notests.jsonl
expect_grep "notests.jsonl:1: not a HumanEval task" "$T/err" "names the file and line"
expect_rc 1 "missing dataset file" -- "$HF" benchmark eval -b mbpp --model m --dataset nope.jsonl
expect_grep "nope.jsonl" "$T/err" "names the file"
expect_rc 1 "missing model" -- "$HF" benchmark eval -b cpp --model nowhere --limit 1 --samples 1 --k 1
finish
