# model download end to end, against tests/hub_server.py (a local stand-in for the Hugging Face Hub).
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" "$SRC/tests/hub_server.py" --make-fixture "$T/repos" || { echo "FAIL: cannot make the fixture"; exit 1; }
"$PY" "$SRC/tests/hub_server.py" --root "$T/repos" --log "$T/requests.log" --lifetime 120 > "$T/ports" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 600); do [ -s "$T/ports" ] && break; sleep 0.1; done
read -r PORT _ < "$T/ports"
export HF_ENDPOINT="http://127.0.0.1:$PORT" HF_HOME="$T/hf"
unset HF_TOKEN HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_HUB_OFFLINE HF_TOKEN_PATH TRANSFORMERS_OFFLINE

expect_rc 0 "download into an empty cache" -- "$HF" model download tiny-org/tiny-model
expect_grep "^$T/hf/hub/models--tiny-org--tiny-model/snapshots/[0-9a-f]{40}\$" "$T/out" "prints the snapshot folder"
DIR=$(cat "$T/out")
for f in config.json generation_config.json tokenizer.json tokenizer_config.json model.safetensors; do
    if cmp -s "$DIR/$f" "$T/repos/tiny-org/tiny-model/main/$f"; then passes=$((passes + 1)); else
        echo "FAIL: $f differs from the served file"; fails=$((fails + 1)); fi
done
expect_grep "Downloaded 5 files" "$T/err" "says what it downloaded"

: > "$T/requests.log"
expect_rc 0 "second run" -- "$HF" model download tiny-org/tiny-model
expect_grep "^$DIR\$" "$T/out" "same folder"
if grep -q resolve "$T/requests.log"; then echo "FAIL: second run requested files"; fails=$((fails + 1)); else passes=$((passes + 1)); fi

expect_rc 0 "--revision branch" -- "$HF" model download tiny-org/tiny-model --revision v1
expect_grep "snapshots/[0-9a-f]{40}\$" "$T/out" "v1 folder"
V1=$(cat "$T/out")
[ "$V1" != "$DIR" ] && passes=$((passes + 1)) || { echo "FAIL: v1 resolved to main's commit"; fails=$((fails + 1)); }
expect_rc 0 "@commit" -- "$HF" model download "tiny-org/tiny-model@$(basename "$V1")"
expect_grep "^$V1\$" "$T/out" "commit hash gives the same folder"

HF_HUB_OFFLINE=1 expect_rc 0 "offline with the cache" -- "$HF" model download tiny-org/tiny-model
HF_HUB_OFFLINE=1 HF_HOME="$T/empty" expect_rc 1 "offline without the cache" -- "$HF" model download tiny-org/tiny-model
expect_grep "HF_HUB_OFFLINE.*not in the cache" "$T/err" "offline error says why"

expect_rc 1 "unknown repo" -- "$HF" model download tiny-org/nope
expect_grep "tiny-org/nope not found.*404" "$T/err" "404 message"
expect_rc 1 "unknown revision" -- "$HF" model download tiny-org/tiny-model@nope
expect_grep "revision 'nope' not found" "$T/err" "revision message"
expect_rc 1 "not an id" -- "$HF" model download 'bad id'
expect_grep "ORG/NAME" "$T/err" "id format in the message"

curl -s "$HF_ENDPOINT/_test/set?token=s3cret" >/dev/null
HF_HOME="$T/hf2" HF_TOKEN=wrong expect_rc 1 "wrong token" -- "$HF" model download tiny-org/tiny-model
expect_grep "refused the token from \\\$HF_TOKEN.*401" "$T/err" "401 message"
HF_HOME="$T/hf2" HF_TOKEN=s3cret expect_rc 0 "right token" -- "$HF" model download tiny-org/tiny-model
curl -s "$HF_ENDPOINT/_test/reset" >/dev/null

# Two processes fetching the same model at once (slow server): one downloads, the other waits for it.
curl -s "$HF_ENDPOINT/_test/set?slow=0.05" >/dev/null
: > "$T/requests.log"
HF_HOME="$T/hf3" "$HF" model download tiny-org/tiny-model > "$T/a.out" 2> "$T/a.err" &
A=$!
HF_HOME="$T/hf3" "$HF" model download tiny-org/tiny-model > "$T/b.out" 2> "$T/b.err"
rb=$?
wait $A
ra=$?
curl -s "$HF_ENDPOINT/_test/reset" >/dev/null
if [ $ra -eq 0 ] && [ $rb -eq 0 ] && cmp -s "$T/a.out" "$T/b.out"; then passes=$((passes + 1)); else
    echo "FAIL: concurrent downloads: exit $ra and $rb"; cat "$T/a.err" "$T/b.err"; fails=$((fails + 1)); fi
n=$(grep -c "cdn GET" "$T/requests.log")
if [ "$n" -eq 1 ]; then passes=$((passes + 1)); else echo "FAIL: concurrent downloads fetched the blob $n times"; fails=$((fails + 1)); fi
if find "$T/hf3" -name '*.incomplete' | grep -q .; then echo "FAIL: partial files left"; fails=$((fails + 1)); else passes=$((passes + 1)); fi

expect_rc 2 "no id" -- "$HF" model download
expect_rc 2 "bad flag" -- "$HF" model download tiny-org/tiny-model --retries -1
expect_rc 0 "help" -- "$HF" model download --help
expect_grep "HF_HUB_OFFLINE" "$T/out" "help names the environment"
finish
