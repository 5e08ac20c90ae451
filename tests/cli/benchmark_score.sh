# halo-forge benchmark score, end to end: samples of the built-in prompts (reference solutions and
# broken code) scored with pass@k per category; a custom prompts file; bad lines; usage errors.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
FIX="$SRC/tests/fixtures/bench/builtin"

# 2 samples for each of 3 prompts: prompt hello_world right twice, gcd right once, fibonacci never.
"$PY" - "$FIX" > samples.jsonl <<'P'
import json, sys
fix = sys.argv[1]
def src(name): return open(f"{fix}/{name}.cpp").read()
recs = [
    {"prompt_id": "hello_world", "completion": "Here it is:\n```cpp\n" + src("hello_world") + "```\n"},
    {"prompt_id": "hello_world", "completion": src("hello_world")},
    {"prompt_id": "gcd", "completion": "```cpp\n" + src("gcd") + "```"},
    {"prompt_id": "gcd", "completion": "```cpp\nint main( {\n```"},
    {"prompt_id": "fibonacci", "completion": src("count_1_to_5")},
    {"prompt_id": "fibonacci", "completion": "int main( {"},
]
for r in recs: print(json.dumps(r))
print("this line is not JSON")
print(json.dumps({"prompt_id": "gcd"}))
P
expect_rc 0 "score built-in prompts" -- "$HF" benchmark score -i samples.jsonl --k 1,2,5 -r scored.jsonl -o report.json -w 2
expect_grep "samples.jsonl:7:" "$T/err" "bad JSON reported with its line number"
expect_grep "samples.jsonl:8: no 'completion'" "$T/err" "record without code reported with its line number"
expect_grep "pass@5 not reported" "$T/err" "k above the samples per prompt is said, not estimated"
"$PY" - "$T/out" "$T/report.json" "$T/scored.jsonl" <<'P' && passes=$((passes + 1)) || { echo "FAIL: report content"; fails=$((fails + 1)); }
import json, sys
rep = json.load(open(sys.argv[1]))
assert rep == json.load(open(sys.argv[2]))
for k in ("total", "passed", "pass_rate", "pass_at_k", "by_category", "timing", "model_path", "timestamp"):
    assert k in rep, k          # the original's benchmark-run schema
for k in ("generation_time", "verification_time", "total_time"):
    assert k in rep["timing"], k
assert rep["total"] == 3 and rep["passed"] == 2 and rep["samples"] == 6 and rep["bad_lines"] == 2
assert abs(rep["pass_at_k"]["1"] - (1 + 0.5 + 0) / 3) < 1e-3, rep["pass_at_k"]
assert abs(rep["pass_at_k"]["2"] - 2 / 3) < 1e-3
assert "5" not in rep["pass_at_k"] and rep["skipped_k"] == [5]
cats = rep["by_category"]
assert cats["basic_io"] == {"total": 1, "passed": 1, "pass_rate": 1, "pass_at_k": {"1": 1, "2": 1}}, cats
assert cats["algorithms"]["total"] == 2 and cats["algorithms"]["passed"] == 1
assert rep["compiled"] == 4 and rep["samples_passed"] == 3
assert rep["status_counts"] == {"correct": 3, "wrong_output": 1, "compile_error": 2}, rep["status_counts"]
recs = [json.loads(l) for l in open(sys.argv[3])]
assert len(recs) == 6
assert recs[0]["passes"] and recs[0]["actual_output"] == "Hello, World!\n" and recs[0]["category"] == "basic_io"
assert recs[4]["compiles"] and not recs[4]["passes"] and recs[4]["actual_output"] == "1\n2\n3\n4\n5\n"
assert not recs[5]["compiles"] and recs[5]["reward"] == 0
P

# the hardware monitor runs while verifying
expect_rc 0 "hardware monitor" -- "$HF" benchmark score -i samples.jsonl --k 1 --compile-only --hardware-csv hw.csv --monitor-interval 0.1 -w 2
"$PY" - "$T/out" "$T/hw.csv" <<'P' && passes=$((passes + 1)) || { echo "FAIL: hardware monitor output"; fails=$((fails + 1)); }
import csv, json, sys
hw = json.load(open(sys.argv[1]))["hardware"]
assert hw["samples_count"] >= 2 and hw["duration_sec"] >= 0
assert set(hw["gpu"]) >= {"utilization_avg_pct", "memory_peak_gb", "power_avg_w", "energy_wh"}
assert hw["system"]["memory_peak_gb"] > 0 and hw["system"]["rss_peak_gb"] > 0
rows = list(csv.reader(open(sys.argv[2])))
assert rows[0] == ["timestamp", "gpu_util_pct", "gpu_mem_used_gb", "gpu_mem_total_gb", "gpu_temp_c", "gpu_power_w",
                   "sys_mem_used_gb", "sys_mem_total_gb", "cpu_util_pct", "cpu_power_w", "rss_gb"], rows[0]
assert len(rows) - 1 == hw["samples_count"] and all(len(r) == 11 for r in rows)
P
expect_rc 1 "hardware csv cannot be written" -- "$HF" benchmark score -i samples.jsonl --hardware-csv /nonexistent/dir/hw.csv
expect_grep "/nonexistent/dir/hw.csv" "$T/err" "names the CSV"

# compile-only: the original's semantics (compiling is passing)
expect_rc 0 "compile only" -- "$HF" benchmark score -i samples.jsonl --k 1 --compile-only -w 2
"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["run"] is False and r["samples_passed"] == 4, r' "$T/out" \
    && passes=$((passes + 1)) || { echo "FAIL: compile-only counts compiling samples"; fails=$((fails + 1)); }

# a prompts file with its own ids, categories and test cases
cat > prompts.jsonl <<'J'
{"id": "double", "prompt": "Read n, print 2n", "category": "math", "tests": [{"input": "2", "expected": "4"}, {"input": "5", "expected": "10"}]}
{"id": "hi", "text": "Say hi", "expected_output": "hi"}
J
cat > own.jsonl <<'J'
{"prompt_id": "double", "completion": "#include <stdio.h>\nint main(void){int n; if(scanf(\"%d\",&n)!=1) return 1; printf(\"%d\\n\", 2*n); return 0;}"}
{"prompt_id": "double", "completion": "#include <stdio.h>\nint main(void){int n; if(scanf(\"%d\",&n)!=1) return 1; printf(\"%d\\n\", n+2); return 0;}"}
{"prompt": "Say hi", "completion": "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}"}
{"prompt": "Say hi", "completion": "#include <stdio.h>\nint main(void){puts(\"hello\");return 0;}"}
{"prompt_id": "extra", "expected_output": "x", "completion": "#include <stdio.h>\nint main(void){puts(\"x\");return 0;}"}
J
expect_rc 0 "custom prompts with test cases" -- "$HF" benchmark score -i own.jsonl -p prompts.jsonl --verifier execution --k 1 -w 2
expect_grep "prompt id 'extra'.*not among the 2 prompts" "$T/err" "unknown id is warned about"
"$PY" - "$T/out" <<'P' && passes=$((passes + 1)) || { echo "FAIL: custom prompts report"; fails=$((fails + 1)); }
import json, sys
r = json.load(open(sys.argv[1]))
assert r["total"] == 3 and r["verifier"] == "execution", r
assert r["by_category"]["math"]["passed"] == 1
assert r["by_category"]["unknown"]["total"] == 2      # "hi" and the record's own "extra"
assert abs(r["pass_at_k"]["1"] - (0.5 + 0.5 + 1) / 3) < 1e-3, r["pass_at_k"]
P

# usage errors and failures, each with a clear message
expect_rc 2 "no input" -- "$HF" benchmark score
expect_grep "input FILE is required" "$T/err" "says what is missing"
expect_rc 2 "bad k" -- "$HF" benchmark score -i samples.jsonl --k 0,x
expect_grep "positive integers" "$T/err" "says what k must be"
expect_rc 2 "bad verifier" -- "$HF" benchmark score -i samples.jsonl --verifier msvc
expect_rc 1 "missing input" -- "$HF" benchmark score -i nothere.jsonl
expect_grep "nothere.jsonl: No such file" "$T/err" "names the file"
printf 'junk\n' > junk.jsonl
expect_rc 1 "nothing usable" -- "$HF" benchmark score -i junk.jsonl
expect_grep "no sample to score" "$T/err" "says there is nothing to score"
expect_rc 1 "bad prompts file" -- "$HF" benchmark score -i samples.jsonl -p junk.jsonl
expect_grep "junk.jsonl: no usable prompt" "$T/err" "prompts file error names the file"
expect_rc 0 "help" -- "$HF" benchmark score --help
expect_grep "unbiased" "$T/out" "help explains pass@k"
expect_rc 0 "listed in the main help" -- "$HF" --help
expect_grep "benchmark score" "$T/out" "command is listed"
finish
