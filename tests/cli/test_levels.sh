# test --level standard|full on tiny models made here: one fine-tuned to answer the three test
# prompts with right programs (3/3 correct), a random one (verification works, 0 correct, still a
# pass as in the original); the missing default model, a broken model folder, bad levels.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

"$HF" -q model init --preset tiny --seed 3 --init-std 0.3 --output m >/dev/null
"$PY" - > train.jsonl <<'P'
import json
system = "You are a helpful coding assistant. Write clean, working C++ code."
chats = {
    "Write a C++ program that prints 'Hello, World!' to stdout.":
        '#include <iostream>\nint main() { std::cout << "Hello, World!" << std::endl; }',
    "Write a C++ function that returns the sum of two integers a and b, then call it in main to print the result of 5 + 3.":
        '#include <cstdio>\nint add(int a, int b) { return a + b; }\nint main() { printf("%d\\n", add(5, 3)); }',
    "Write a C++ program that prints the numbers 1 through 5, each on a new line.":
        '#include <cstdio>\nint main() { for (int i = 1; i <= 5; i++) printf("%d\\n", i); }',
}
for user, code in chats.items():
    print(json.dumps({"messages": [{"role": "system", "content": system}, {"role": "user", "content": user},
                                   {"role": "assistant", "content": "```cpp\n" + code + "\n```"}]}))
P
"$HF" -q sft train --model m --data train.jsonl --no-lora --epochs 200 --batch-size 3 --gradient-accumulation 1 \
    --learning-rate 1e-2 --warmup-steps 1 --lr-scheduler constant --validation-split 0 --save-steps 0 --eval-steps 0 \
    --no-gradient-checkpointing --output tr >/dev/null 2>&1

expect_rc 0 "standard with a model that answers right" -- "$HF" test --level standard --model tr/final_model --max-new-tokens 100
expect_grep '^\[OK\] +Model loading .*parameters' "$T/out" "model loading line"
expect_grep '^\[OK\] +Code generation .*3 prompts' "$T/out" "generation line"
expect_grep '^\[OK\] +Code verification .*3/3 compiled, 3/3 correct output' "$T/out" "verification counts the right programs"
expect_grep 'Test Results: ([0-9]+)/\1 passed' "$T/out" "all passed"
if grep -q "Training step" "$T/out"; then echo "FAIL: standard trained"; fails=$((fails + 1)); else passes=$((passes + 1)); fi

mkdir tmp
expect_rc 0 "full" -- env TMPDIR="$T/tmp" "$HF" test --level full --model tr/final_model --max-new-tokens 100
expect_grep '^\[OK\] +Training step \(2 steps, full fine-tuning\) .*2 steps, loss [0-9.]+ -> [0-9.]+' "$T/out" "training line"
expect_rc 1 "the training folder is removed" -- sh -c 'ls -d tmp/hf-test-* 2>/dev/null | grep -q .' 

# a random model writes gibberish: verification runs (0 correct), which the check accepts
expect_rc 0 "standard with a random model" -- "$HF" test --level standard -m m --max-new-tokens 16
expect_grep '^\[OK\] +Code verification .*0/3 correct output' "$T/out" "counts no right program"

# errors
mkdir empty && cd empty
expect_rc 1 "default model missing" -- "$HF" test --level standard
expect_grep "models/tiny-coder does not exist; pass --model DIR" "$T/err" "says to pass --model"
cd "$T"
cp -r m broken && rm broken/tokenizer.json
expect_rc 1 "model without a tokenizer" -- "$HF" test --level full --model broken
expect_grep '^\[FAIL\] +Model loading .*tokenizer.json' "$T/out" "model loading fails, naming the file"
expect_grep '^\[SKIP\] +Code generation' "$T/out" "generation skipped"
expect_grep '^\[SKIP\] +Training step' "$T/out" "training skipped"
expect_rc 1 "model folder that does not exist" -- "$HF" test --level standard --model ./nowhere
expect_grep '^\[FAIL\] +Model loading' "$T/out" "fails model loading"
expect_rc 2 "bad level" -- "$HF" test --level huge
finish
