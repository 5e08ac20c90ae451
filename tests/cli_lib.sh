# Helpers for the end-to-end CLI tests (sourced, not a test itself).
# HF_BIN is the program under test; each test works in its own temporary directory.
set -u
HF=${HF_BIN:?HF_BIN must point at the halo-forge binary}
SRC=${HF_SOURCE_DIR:?HF_SOURCE_DIR must point at the source tree}
T=$(mktemp -d /tmp/hf_cli_XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
passes=0

# expect_rc CODE DESCRIPTION -- COMMAND...: runs COMMAND, saves stdout/stderr in $T/out, $T/err.
expect_rc() {
    local want=$1 what=$2; shift 3
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, expected $want"; echo "--- stdout"; head -c 2000 "$T/out"; echo "--- stderr"; head -c 2000 "$T/err"
        fails=$((fails + 1))
    else
        passes=$((passes + 1))
    fi
}
# expect_grep PATTERN FILE DESCRIPTION
expect_grep() {
    if grep -qE -- "$1" "$2"; then passes=$((passes + 1)); else
        echo "FAIL: $3: /$1/ not found in $(basename "$2")"; head -c 2000 "$2"; fails=$((fails + 1)); fi
}
finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}
