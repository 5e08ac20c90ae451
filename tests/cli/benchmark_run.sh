# benchmark run, end to end on tiny models made here. A model fine-tuned to answer four prompts with
# known programs (two right, one with the wrong output, one that does not compile) gives known
# counts: pass@k per benchmark and category, the original's JSON keys, per-sample records with the
# real program output; --output as a folder or a FILE.json; a LoRA adapter folder as the model;
# every usage and input error.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

"$HF" -q model init --preset tiny --seed 3 --init-std 0.3 --output m >/dev/null
SYS="Answer with one C program."
"$PY" - "$SYS" <<'P'
import json, sys
system = sys.argv[1]
answers = {"p1": 'int main() { puts("8"); }', "p2": 'int main() { printf("%d\\n", 5 + 3); }',
           "p3": 'int main() { puts("7"); }', "p4": "int main( {"}
cats = {"p1": "easy", "p2": "hard", "p3": "easy", "p4": "hard"}
texts = {"p1": "Show eight with puts.", "p2": "Compute five plus three and print it.",
         "p3": "Output the number after seven, please.", "p4": "Give a program whose output is 8."}
with open("p.jsonl", "w") as pf, open("train.jsonl", "w") as tf:
    for i, (pid, code) in enumerate(answers.items()):
        prompt = texts[pid]
        pf.write(json.dumps({"id": pid, "prompt": prompt, "category": cats[pid], "expected_output": "8"}) + "\n")
        answer = "```c\n#include <stdio.h>\n" + code + "\n```"
        tf.write(json.dumps({"messages": [{"role": "system", "content": system}, {"role": "user", "content": prompt},
                                          {"role": "assistant", "content": answer}]}) + "\n")
P
"$HF" -q sft train --model m --data train.jsonl --no-lora --epochs 120 --batch-size 4 --gradient-accumulation 1 \
    --learning-rate 5e-3 --warmup-steps 1 --lr-scheduler constant --validation-split 0 --save-steps 0 --eval-steps 0 \
    --no-gradient-checkpointing --output tr >/dev/null 2>&1
common=(--model tr/final_model --prompts p.jsonl --system-prompt "$SYS" --temperature 0 --max-new-tokens 60 --workers 2)

expect_rc 0 "benchmark run into a folder" -- "$HF" benchmark run "${common[@]}" --samples 3 --k 1,2,5 -o res
cp "$T/out" stdout.json
expect_grep "pass@1 +50\.0%" "$T/err" "readable summary: pass@1"
expect_grep "pass@5 +skipped" "$T/err" "readable summary: k above the samples is skipped"
expect_grep "prompts solved +2/4" "$T/err" "readable summary: prompts solved"
expect_grep "^  easy +2 +1 " "$T/err" "readable summary: category table"
expect_rc 0 "benchmark run into FILE.json" -- "$HF" -q benchmark run "${common[@]}" --samples 2 --k 1 --max-prompts 2 -o r/run.json
cat > check.py <<'P'
import csv, json
r = json.load(open("res/results.json"))
assert json.load(open("stdout.json")) == r, "stdout and results.json differ"
orig = {"total", "passed", "pass_rate", "pass_at_k", "by_category", "timing", "model_path", "timestamp"}
assert orig <= set(r), orig - set(r)
assert set(r["timing"]) >= {"generation_time", "verification_time", "total_time"}, r["timing"]
assert r["total"] == 4 and r["passed"] == 2 and abs(r["pass_rate"] - 0.5) < 1e-9, r
assert set(r["pass_at_k"]) == {"1", "2"} and r["skipped_k"] == [5], (r["pass_at_k"], r["skipped_k"])
assert abs(r["pass_at_k"]["1"] - 0.5) < 1e-4 and abs(r["pass_at_k"]["2"] - 0.5) < 1e-4, r["pass_at_k"]
for cat in ("easy", "hard"):
    c = r["by_category"][cat]
    assert {"total", "passed", "pass_rate"} <= set(c) and c["total"] == 2 and c["passed"] == 1, (cat, c)
assert r["samples"] == 12 and r["compiled"] == 9 and r["samples_passed"] == 6, r
assert r["status_counts"] == {"correct": 6, "wrong_output": 3, "compile_error": 3}, r["status_counts"]
assert r["samples_per_prompt"] == 3 and r["verifier"] == "gcc" and r["run"] is True
assert r["generated_tokens"] > 0 and r["tokens_per_sec"] > 0
assert r["model_path"] == "tr/final_model" and r["prompts_file"] == "p.jsonl"
recs = [json.loads(l) for l in open("res/samples.jsonl")]
assert len(recs) == 12 and [x["sample_idx"] for x in recs[:3]] == [0, 1, 2]
keys = {"prompt_id", "prompt", "expected_output", "code", "sample_idx", "compiles", "reward", "error", "passes",
        "actual_output", "category", "status", "generated_tokens"}
want = {"p1": ("8", True, "correct"), "p2": ("8", True, "correct"), "p3": ("7", False, "wrong_output"),
        "p4": ("", False, "compile_error")}
for x in recs:
    assert keys <= set(x), keys - set(x)
    out, ok, status = want[x["prompt_id"]]
    assert x["actual_output"].strip() == out and x["passes"] == ok and x["status"] == status, x
    assert (x["error"] is None) == ok, x
rows = list(csv.reader(open("res/hardware.csv")))
assert rows[0][0] == "timestamp" and len(rows) >= 2
f = json.load(open("r/run.json"))
assert f["total"] == 2 and f["samples"] == 4 and f["pass_at_k"] == {"1": 1}, f
assert len(open("r/run_samples.jsonl").readlines()) == 4
print("ok")
P
expect_rc 0 "report, samples and hardware files" -- $PY check.py

# a LoRA adapter folder: merged onto its base for sampling
"$HF" -q sft train --model m --data train.jsonl --epochs 1 --batch-size 4 --gradient-accumulation 1 --lora-rank 2 \
    --validation-split 0 --save-steps 0 --eval-steps 0 --output lora >/dev/null 2>&1
expect_rc 0 "adapter folder as the model" -- "$HF" benchmark run --model lora/final_model --prompts p.jsonl --samples 1 \
    --k 1 --max-new-tokens 4 --max-prompts 1
expect_grep "LoRA adapter of" "$T/err" "says it applies the adapter"
expect_grep '"model_path":	"lora/final_model"' "$T/out" "reports the adapter as the model"

# errors
expect_rc 2 "no model" -- "$HF" benchmark run --prompts p.jsonl
expect_grep "--model DIR and --prompts FILE are required" "$T/err" "says what is missing"
expect_rc 2 "no prompts" -- "$HF" benchmark run --model m
expect_rc 2 "bad k list" -- "$HF" benchmark run --model m --prompts p.jsonl --k 1,five
expect_grep "\-\-k" "$T/err" "names the flag"
expect_rc 2 "k of 0" -- "$HF" benchmark run --model m --prompts p.jsonl --k 0
expect_rc 2 "every k above the samples" -- "$HF" benchmark run --model m --prompts p.jsonl --samples 3 --k 5,10
expect_grep "above the 3 samples per prompt" "$T/err" "says why"
expect_rc 2 "unknown verifier" -- "$HF" benchmark run --model m --prompts p.jsonl --verifier javac
expect_rc 2 "samples 0" -- "$HF" benchmark run --model m --prompts p.jsonl --samples 0
expect_rc 1 "missing prompts file" -- "$HF" benchmark run --model m --prompts nope.jsonl
expect_grep "nope.jsonl" "$T/err" "names the file"
echo "not json" > bad.jsonl
expect_rc 1 "prompts file without a prompt" -- "$HF" benchmark run --model m --prompts bad.jsonl
expect_grep "bad.jsonl" "$T/err" "names the file"
expect_rc 1 "missing model folder" -- "$HF" benchmark run --model ./nowhere --prompts p.jsonl --samples 1 --k 1
expect_grep "nowhere" "$T/err" "names the model"
finish
