# halo-forge verify and halo-forge test, end to end: single file, JSONL batch, bad lines, bad flags.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

cat > hello.c <<'C'
#include <stdio.h>
int main(void) { printf("Hello\n"); return 0; }
C
expect_rc 0 "single file, correct" -- "$HF" verify --verifier gcc --run --expected Hello hello.c
expect_grep '"status":[[:space:]]*"correct"' "$T/out" "status correct"
expect_grep '"reward":[[:space:]]*1' "$T/out" "reward 1"
expect_grep '"actual_output":[[:space:]]*"Hello\\n"' "$T/out" "carries the real output"
"$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" && passes=$((passes + 1)) || { echo "FAIL: stdout is not one JSON document"; fails=$((fails + 1)); }

expect_rc 0 "single file, compile only" -- "$HF" verify hello.c
expect_grep '"status":[[:space:]]*"compiled"' "$T/out" "compile-only status"

printf 'int main() { return 0 }\n' > broken.c
expect_rc 0 "single file, compile error" -- "$HF" verify --verifier clang broken.c
expect_grep '"reward":[[:space:]]*0' "$T/out" "compile error reward 0"

printf '#include <stdio.h>\nint main(void){int n; if (scanf("%%d",&n)!=1) return 1; printf("%%d\\n", n*2); return 0;}\n' > dbl.c
expect_rc 0 "stdin flag" -- "$HF" verify --run --stdin 21 --expected 42 dbl.c
expect_grep '"status":[[:space:]]*"correct"' "$T/out" "stdin reaches the program"

printf 'int main(void){ for(;;){} }\n' > spin.c
expect_rc 0 "run timeout flag" -- "$HF" verify --run --run-timeout 0.5 spin.c
expect_grep '"status":[[:space:]]*"timeout"' "$T/out" "runaway is a timeout"

# batch: good records, a bad JSON line, a record without code, duplicates, tests for the execution verifier
cat > samples.jsonl <<'J'
{"id": 1, "completion": "```c\n#include <stdio.h>\nint main(void){puts(\"A\");return 0;}\n```", "expected_output": "A", "extra": {"kept": true}}
{"id": 2, "completion": "```c\n#include <stdio.h>\nint main(void){puts(\"A\");return 0;}\n```", "expected_output": "B"}
this is not json
{"id": 4, "prompt": "no code here"}

{"id": 6, "code": "int main( {"}
{"id": 7, "code": "#include <stdio.h>\nint main(void){int a,b; if(scanf(\"%d %d\",&a,&b)!=2) return 1; printf(\"%d\\n\",a+b); return 0;}", "stdin": "2 3", "expected_output": "5"}
J
expect_rc 0 "batch verify" -- "$HF" verify --verifier gcc --run --input samples.jsonl --output res/verified.jsonl --workers 2
ls logs/verify_*.log >/dev/null 2>&1 && passes=$((passes + 1)) || { echo "FAIL: batch verify wrote no logs/verify_<time>.log"; fails=$((fails + 1)); }
expect_grep "samples.jsonl:3:" "$T/err" "bad JSON reported with its line number"
expect_grep "samples.jsonl:4:.*completion" "$T/err" "record without code reported with its line number"
expect_grep "Verified 4 samples" "$T/out" "summary counts the good records"
expect_grep "samples/s" "$T/out" "summary has the rate"
expect_grep "Mean reward: 0\.(675|68)" "$T/out" "mean reward (1 + 0.7 + 0 + 1) / 4"
expect_grep "correct +2" "$T/out" "counts by status"
expect_grep "Bad lines skipped: 2" "$T/out" "bad lines counted"
"$PY" - "$T/res/verified.jsonl" <<'P' && passes=$((passes + 1)) || fails=$((fails + 1))
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["id"] for r in recs] == [1, 2, 6, 7], [r["id"] for r in recs]
assert recs[0]["extra"] == {"kept": True} and recs[0]["status"] == "correct" and recs[0]["actual_output"] == "A\n"
assert recs[1]["status"] == "wrong_output" and recs[1]["reward"] == 0.7 and recs[1]["compile_cached"] is True
assert recs[2]["status"] == "compile_error" and recs[2]["reward"] == 0
assert recs[3]["status"] == "correct"
for r in recs:
    for k in ("reward", "status", "language", "compile_time", "run_time", "actual_output", "stderr", "error"):
        assert k in r, k
P

cat > exec.jsonl <<'J'
{"code": "#include <stdio.h>\nint main(void){int a,b; scanf(\"%d %d\",&a,&b); printf(\"%d\\n\", a>9 ? 0 : a+b); return 0;}", "tests": [{"input": "1 2", "expected": "3"}, {"input": "3 4", "expected": "7"}, {"input": "10 1", "expected": "11"}, {"input": "5 5", "expected": "10"}]}
J
expect_rc 0 "execution verifier" -- "$HF" verify --verifier execution --input exec.jsonl --output exec_out.jsonl
expect_grep '"tests_passed":3,"tests_total":4' "$T/exec_out.jsonl" "test cases counted"
expect_grep '"reward":0.875' "$T/exec_out.jsonl" "partial credit 0.5 + 0.5 x 3/4"

if [ -x /usr/bin/python3 ]; then
cat > py.jsonl <<'J'
{"task_id": "HumanEval/0", "prompt": "def add(a, b):\n", "completion": "    return a + b\n", "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n", "entry_point": "add"}
{"task_id": "MBPP/1", "completion": "```python\ndef sq(x):\n    return x * x\n```", "test_list": ["assert sq(3) == 9", "assert sq(-2) == 4"]}
{"task_id": "cheat", "completion": "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)\n", "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n", "entry_point": "add"}
J
expect_rc 0 "python verifier" -- "$HF" verify --verifier python --input py.jsonl --output py_out.jsonl
expect_grep "correct +2" "$T/out" "HumanEval and MBPP pass"
expect_grep "runtime_error +1" "$T/out" "early exit does not pass"
fi

# usage errors
expect_rc 2 "unknown verifier" -- "$HF" verify --verifier msvc hello.c
expect_grep "verifier" "$T/err" "names the flag"
expect_rc 2 "nothing to verify" -- "$HF" verify
expect_rc 2 "input without output" -- "$HF" verify --input samples.jsonl
expect_rc 2 "file and input" -- "$HF" verify --input samples.jsonl --output x.jsonl hello.c
expect_rc 2 "custom without {file}" -- "$HF" verify --verifier custom --command "true" hello.c
expect_rc 2 "negative timeout" -- "$HF" verify --run-timeout -1 hello.c
expect_rc 2 "bad match mode" -- "$HF" verify --match fuzzy hello.c
expect_rc 1 "missing file" -- "$HF" verify nope.c
expect_grep "nope.c" "$T/err" "names the missing file"
expect_rc 1 "missing input" -- "$HF" verify --input nope.jsonl --output x.jsonl
expect_rc 0 "help" -- "$HF" verify --help
expect_grep "Usage: halo-forge verify" "$T/out" "help text"

# config file precedence: the file sets the run timeout, the command line wins over it
printf 'verifier:\n  run_timeout: 0.5\n  type: gcc\n' > v.yaml
expect_rc 0 "config file" -- "$HF" verify --config v.yaml --run spin.c
expect_grep '"status":[[:space:]]*"timeout"' "$T/out" "config run_timeout used"

# without namespaces (HF_SANDBOX=minimal, what a machine that refuses them gets): still contained
cat > bomb.c <<'C'
#include <unistd.h>
int main(void) { for (;;) fork(); }
C
cat > orphan.c <<'C'
#include <stdio.h>
#include <unistd.h>
int main(void) { if (fork() == 0) { sleep(60); return 0; } if (fork() == 0) { setsid(); if (fork() == 0) sleep(60); return 0; } puts("parent done"); return 0; }
C
expect_rc 0 "minimal sandbox: fork bomb" -- env HF_SANDBOX=minimal "$HF" verify --run --run-timeout 1 bomb.c
expect_grep '"status":[[:space:]]*"timeout"' "$T/out" "minimal: fork bomb stopped"
# run in the background to learn its pid: its jobs' uids are 1700000000 + (pid % 4096) * 256 + slot
env HF_SANDBOX=minimal "$HF" verify --run --expected "parent done" orphan.c >"$T/out" 2>"$T/err" &
hfpid=$!
wait $hfpid && passes=$((passes + 1)) || { echo "FAIL: minimal sandbox: orphans: exit status"; fails=$((fails + 1)); }
expect_grep '"status":[[:space:]]*"correct"' "$T/out" "minimal: did not wait for the orphans"
lo=$((1700000000 + (hfpid % 4096) * 256))
left=1
for i in $(seq 40); do
    left=$(awk -v lo=$lo 'function count() { if (u != "" && u >= lo && u < lo + 256 && s != "Z") n++; u = ""; s = "" }
        FNR == 1 { count() } /^State:/ { s = $2 } /^Uid:/ { u = $2 } END { count(); print n + 0 }' /proc/[0-9]*/status 2>/dev/null)
    [ "$left" -eq 0 ] && break
    sleep 0.1
done
if [ "$left" -eq 0 ]; then passes=$((passes + 1)); else echo "FAIL: $left sandbox processes left"; fails=$((fails + 1)); fi

# a halo-forge killed in the middle of a job leaves its job directory behind; the next pool removes it
mkdir -p "$T/tmp"
chmod 711 "$T" # as root, jobs run under uids of their own and must reach their directories
chmod 755 "$T/tmp"
printf '#include <unistd.h>\nint main(void) { sleep(60); return 0; }\n' > sleeper.c
TMPDIR="$T/tmp" "$HF" verify --run --run-timeout 30 sleeper.c >/dev/null 2>&1 &
victim=$!
for i in $(seq 100); do
    ls "$T/tmp" | grep -q "^hf-sbx-$victim-" && [ "$(ls "$T/tmp" | grep -c "^hf-sbx-$victim-")" -ge 2 ] && break
    sleep 0.1
done
kill -9 $victim
wait $victim 2>/dev/null
left=$(ls "$T/tmp" | grep -c "^hf-sbx-$victim-")
if [ "$left" -ge 1 ]; then passes=$((passes + 1)); else echo "FAIL: the killed process left no directory to clean"; fails=$((fails + 1)); fi
printf '{"code": "int main(void) { return 0; }"}\n' > one.jsonl
expect_rc 0 "batch after a killed run" -- env TMPDIR="$T/tmp" "$HF" verify --input one.jsonl --output one.out.jsonl
expect_grep 'removed [0-9]+ sandbox director' "$T/err" "says it removed stale directories"
left=$(ls "$T/tmp" | grep -c "^hf-sbx-" || true)
if [ "$left" -eq 0 ]; then passes=$((passes + 1)); else echo "FAIL: $left sandbox directories left in $T/tmp"; fails=$((fails + 1)); fi

# test --level
expect_rc 0 "smoke test" -- "$HF" test --level smoke
expect_grep '^\[OK\] +Verifier: valid program' "$T/out" "valid program check"
expect_grep '^\[OK\] +Verifier: garbage' "$T/out" "garbage check"
expect_grep '^\[OK\] +Sandbox: runaway' "$T/out" "runaway check"
expect_grep '\([0-9]+\.[0-9]+ s\)' "$T/out" "times printed"
expect_grep 'Test Results: [0-9]+/[0-9]+ passed' "$T/out" "summary line"
expect_rc 1 "standard needs a model" -- "$HF" test --level standard
expect_grep "pass --model" "$T/err" "says a model is needed"
expect_rc 2 "bad level" -- "$HF" test --level huge
finish
