#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed time from its committed seeds (tests/fuzz/corpus/NAME), the
# past findings (tests/fuzz/regress/NAME) and its dictionary (tests/fuzz/NAME.dict, when there is one).
# Fails on any finding (crash, sanitizer report, leak, timeout, out-of-memory): the input that triggered
# it is left in WORK/NAME/ (crash-*, leak-*, timeout-*...) and its path printed.
# Usage: run.sh TARGET_BINARY NAME SECONDS WORK
set -uo pipefail
bin=$1 name=$2 secs=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work/$name/corpus"
dict=()
[ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
log="$work/$name/fuzz.log"
# New inputs go into WORK (the first folder); the committed folders are only read.
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$work/$name/" "${dict[@]}" "$work/$name/corpus" "$here/corpus/$name" \
    $( [ -d "$here/regress/$name" ] && echo "$here/regress/$name" ) >"$log" 2>&1
rc=$?
# The summary: executions, coverage (edges), features and corpus size at the end.
grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1
grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log"
if [ $rc -ne 0 ]; then
    echo "fuzz_$name: FINDING (exit $rc); the input is in $work/$name/:"
    ls "$work/$name" | grep -v -e '^corpus$' -e '^fuzz.log$' || true
    grep -A60 -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|==ERROR' "$log" | head -80
    exit 1
fi
echo "fuzz_$name: no finding in ${secs} s"
