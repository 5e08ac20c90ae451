# halo-forge tokenizer train, end to end: train on a small corpus (plain text + JSONL in the SFT
# forms), check the summary and the files, then check that Hugging Face tokenizers (node, the npm
# package scripts/setup.sh installs) encodes held-out text to exactly our ids, and that
# `model init --tokenizer DIR` takes the folder with a matching vocab_size.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

# Training text: this project's own C sources and a JSONL file in each SFT record form.
cat "$SRC"/src/tokenizer/*.c "$SRC"/src/core/*.c > code.txt
cat > sft.jsonl <<'JSONL'
{"text": "int add(int a, int b) { return a + b; }"}
{"messages": [{"role": "user", "content": "Write hello world in C."}, {"role": "assistant", "content": "#include <stdio.h>\nint main(void) { printf(\"Hello, World!\\n\"); return 0; }"}]}
{"prompt": "Print the sum of 2 and 3.", "completion": "printf(\"%d\\n\", 2 + 3);"}
{"prompt": "Reverse a string.", "response": "for (int i = n - 1; i >= 0; i--) putchar(s[i]);"}
{"instruction": "Square a number.", "input": "7", "output": "printf(\"%d\\n\", 7 * 7);"}
JSONL

expect_rc 0 "train" -- "$HF" tokenizer train --data code.txt,sft.jsonl --vocab-size 600 --output tok
expect_grep '^tok: vocab 600 \(341 merges \+ 256 bytes \+ 3 special\), [0-9.]+ bytes/token' "$T/out" "summary line"
expect_grep '"Qwen2Tokenizer"' tok/tokenizer_config.json "tokenizer_class"
expect_grep '"eos_token":[[:space:]]*"<\|im_end\|>"' tok/tokenizer_config.json "eos_token"
expect_grep '"id":[[:space:]]*599' tok/tokenizer.json "<|im_end|> is the last id"

# Same corpus, same bytes; --data repeated is the same as comma separated.
expect_rc 0 "train again" -- "$HF" tokenizer train --data code.txt --data sft.jsonl --vocab-size 600 --output tok2
cmp -s tok/tokenizer.json tok2/tokenizer.json && passes=$((passes + 1)) ||
    { echo "FAIL: two runs gave different tokenizer.json"; fails=$((fails + 1)); }

# Held-out text: code, Unicode (NFC composes e + U+0301), whitespace runs, digits, special tokens.
printf 'struct point { double x, y; };\n\n\n\tfor (size_t k = 0; k < 1024; k++)\t\t{ v[k] *= 3.14159; }\r\n' > held.txt
printf '    \n  \n你好，世界 naïve cafe\xcc\x81 👩‍💻 Ωmega ٣٤٥ ½ ２３ x²\n' >> held.txt
printf 'def f(s):\n    return s.upper()  # it'"'"'s 42\n<|im_start|>user\nhi<|im_end|>\n\x01\x7f~' >> held.txt
cat "$SRC"/tests/test_core.c >> held.txt

if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node is not installed (scripts/setup.sh installs it): Hugging Face comparison not run"
else
    for special in "" --special; do
        expect_rc 0 "HF encode $special" -- node "$SRC/tests/tokenizer/encode.js" tok/tokenizer.json held.txt $special
        cp "$T/out" hf.ids
        expect_rc 0 "our encode $special" -- "$HF" tokenize --tokenizer tok/tokenizer.json --file held.txt $special
        cmp -s "$T/out" hf.ids && passes=$((passes + 1)) ||
            { echo "FAIL: ids differ from Hugging Face tokenizers ($special)"; diff <(tr , '\n' < hf.ids) <(tr , '\n' < "$T/out") | head; fails=$((fails + 1)); }
    done
fi
# Round trip through our decoder.
expect_rc 0 "encode" -- "$HF" tokenize --tokenizer tok/tokenizer.json --file held.txt --special
expect_rc 0 "decode" -- "$HF" tokenize --tokenizer tok/tokenizer.json --special --decode "$(cat "$T/out")"
printf 'cafe\xcc\x81' > decomposed; printf 'caf\xc3\xa9' > composed
sed "s/$(cat decomposed)/$(cat composed)/" held.txt > held.nfc
cmp -s "$T/out" held.nfc && passes=$((passes + 1)) || { echo "FAIL: decode(encode(x)) != NFC(x)"; fails=$((fails + 1)); }

# A model folder takes the trained tokenizer, with vocab_size from it.
expect_rc 0 "model init with the folder" -- "$HF" model init --output m --tokenizer tok
expect_grep '"vocab_size":[[:space:]]*600' m/config.json "vocab_size follows the tokenizer"
cmp -s m/tokenizer_config.json tok/tokenizer_config.json && passes=$((passes + 1)) ||
    { echo "FAIL: tokenizer_config.json not copied"; fails=$((fails + 1)); }

# Errors.
expect_rc 1 "missing file" -- "$HF" tokenizer train --data nope.txt --vocab-size 600 --output x
expect_grep 'nope.txt' "$T/err" "names the missing file"
expect_rc 2 "vocab too small" -- "$HF" tokenizer train --data code.txt --vocab-size 258 --output x
: > empty.txt
expect_rc 1 "empty corpus" -- "$HF" tokenizer train --data empty.txt --vocab-size 600 --output x
expect_grep 'empty' "$T/err" "says the corpus is empty"
printf '{"text": "ok"}\n{"text": broken}\n' > bad.jsonl
expect_rc 1 "bad JSONL line" -- "$HF" tokenizer train --data bad.jsonl --vocab-size 600 --output x
expect_grep 'bad.jsonl:2' "$T/err" "names FILE:LINE"
printf '{"label": 3}\n' > nofield.jsonl
expect_rc 1 "record without text" -- "$HF" tokenizer train --data nofield.jsonl --vocab-size 600 --output x
expect_grep 'nofield.jsonl:1: no text field' "$T/err" "names the record"
expect_rc 2 "no --output" -- "$HF" tokenizer train --data code.txt
[ ! -e x ] && passes=$((passes + 1)) || { echo "FAIL: a failed run left x behind"; fails=$((fails + 1)); }
finish
