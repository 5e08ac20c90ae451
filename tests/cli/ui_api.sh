# halo-forge ui, the JSON API over HTTP (curl): a finished benchmark full run on the bundled tiny model
# (figures equal to its summary.json and files), a raft train launched through the API and watched while
# it runs, then stopped with SIGINT (interrupted, exit 130, finished work kept), damaged files (shown as
# problems, the server keeps answering), and the security rules: Host header, path rules (.., absolute
# paths, links out, encoded variants), JSON-only POSTs, cross-origin POSTs, launch validation, and the
# token of a server bound beyond loopback.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
pids=()
trap 'for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done; wait; rm -rf "$T"' EXIT

cp -r "$SRC/models/tiny-coder" model
"$HF" -q benchmark full --model model --cycles 1 --samples-per-prompt 2 --max-new-tokens 96 --monitor-interval 0.2 \
    --output runs/done >/dev/null 2>bf.err || { echo "FAIL: benchmark full for the fixture"; cat bf.err; exit 1; }

# start_server OUT ARGS...: runs halo-forge ui in the background and waits for its address line
start_server() {
    local out=$1; shift
    "$HF" ui --port 0 "$@" >"$out" 2>"$out.err" &
    pids+=($!)
    for _ in $(seq 1 600); do grep -qs '^halo-forge ui: http' "$out" && return 0; sleep 0.1; done
    echo "FAIL: ui did not start"; cat "$out" "$out.err"; exit 1
}
start_server ui.out --runs runs
URL=$(sed -n 's/^halo-forge ui: \(http[^ ?]*\).*/\1/p' ui.out)
PORT=$(echo "$URL" | sed 's/.*:\([0-9]*\)\/$/\1/')

# get PATH [CURL ARGS]: body in $T/body, status in $code
get() { local p=$1; shift; code=$(curl -s -o "$T/body" -w '%{http_code}' "$@" "$URL${p#/}"); }
post() { local p=$1 d=$2; shift 2; code=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' -d "$d" "$@" "$URL${p#/}"); }
expect_code() { if [ "$code" = "$1" ]; then passes=$((passes + 1)); else echo "FAIL: $2: HTTP $code, expected $1"; head -c 600 "$T/body"; echo; fails=$((fails + 1)); fi; }
# check DESCRIPTION PYTHON-EXPR: evaluated with d = the JSON body
check() {
    if "$PY" -c "import json,sys,os; d=json.load(open('$T/body')); sys.exit(0 if ($2) else 1)" 2>"$T/pyerr"; then passes=$((passes + 1))
    else echo "FAIL: $1"; head -c 1500 "$T/body"; echo; cat "$T/pyerr"; fails=$((fails + 1)); fi
}

# ---- the page and its assets, served by the program (no network)
get /; expect_code 200 "the page"
expect_grep '<script src="chart.js">' "$T/body" "the page loads Chart.js from the server"
get /chart.js; expect_code 200 "Chart.js"
expect_grep 'Chart.js v3' "$T/body" "Debian's Chart.js is embedded"
get /app.js; expect_code 200 "app.js"

# ---- a finished run
get /api/runs; expect_code 200 "runs list"
check "the finished run is listed as finished" \
    "[r for r in d['runs'] if r['id']=='2/done' and r['status']=='finished' and r['kind']=='benchmark full' and 'benchmark full' in r['command'] and r['model']=='model']"
get "/api/run?id=2/done"; expect_code 200 "run detail"
cp "$T/body" done.json
check "phases baseline, cycle 1, final" "[p['name'] for p in d['phases']]==['baseline','cycle 1','final']"
check "compile rate and pass@1 equal summary.json" \
    "all(abs(d['phases'][i]['compile_rate']-d['summary'][k]['compile_rate'])<1e-4 and abs(d['phases'][i]['pass_at_1']-d['summary'][k]['pass_at_1'])<1e-4 for i,k in ((0,'baseline'),(2,'final')))"
check "cycle figures equal raft_statistics.json" \
    "(lambda s: d['phases'][1]['kept']==s['kept'] and abs(d['phases'][1]['compile_rate']-s['compile_rate'])<1e-9)(json.load(open('runs/done/raft/raft_statistics.json'))[0])"
check "one training point per metrics line" "len(d['training']['steps'])==len(open('runs/done/raft/cycle_1/metrics.jsonl').read().splitlines()) and len(d['training']['steps'])>0"
check "one hardware point per CSV row" \
    "len(d['hardware']['t'])==sum(len(open(f).read().splitlines())-1 for f in ['runs/done/baseline_hardware.csv','runs/done/cycle_1/hardware.csv','runs/done/final_hardware.csv'])"
check "reward histogram counts every sample" "all(sum(p['reward_hist'].values())==p['samples']==32 for p in d['phases'])"
check "no problems in a clean run" "d['problems']==[] and d['status']=='finished' and d['info']['exit_code']==0"
get "/api/samples?id=2/done&limit=1000"; expect_code 200 "samples"
check "all samples of all phases" "d['total']==96 and d['matched']==96 and d['sets']==['baseline','cycle 1','final']"
n_ce=$(cat runs/done/baseline_samples.jsonl | grep -c '"status":"compile_error"')
get "/api/samples?id=2/done&set=baseline&status=compile_error"
check "status filter" "d['matched']==$n_ce and all(s['status']=='compile_error' and s['set']=='baseline' for s in d['samples'])"
get "/api/samples?id=2/done&prompt=fibonacci"
check "prompt filter" "d['matched']==6 and all(s['prompt_id']=='fibonacci' for s in d['samples'])"
get "/api/sample?id=2/done&set=final&line=5"; expect_code 200 "one sample"
check "the sample is line 5 of final_samples.jsonl" "(lambda r: d['code']==r['code'] and d['actual_output']==r['actual_output'] and d['line']==5)(json.loads(open('runs/done/final_samples.jsonl').read().splitlines()[4]))"
get "/api/sample?id=2/done&set=final&line=999"; expect_code 404 "a line that is not there"
get "/api/file?id=2/done&path=summary.json"; expect_code 200 "a run file"
expect_rc 0 "the raw file is the file" -- cmp "$T/body" runs/done/summary.json
get "/api/compare?id=2/done"; expect_code 200 "compare"
check "comparison row from the run" "(lambda s: abs(d['rows'][0]['baseline_compile']-s['baseline']['compile_rate'])<1e-4 and abs(d['rows'][0]['final_compile']-s['final']['compile_rate'])<1e-4)(json.load(open('runs/done/summary.json')))"

# ---- the verifier playground
post /api/verify '{"verifier": "gcc", "code": "#include <cstdio>\nint main() { puts(\"hi\"); }", "expected_output": "hi"}'
expect_code 200 "playground"
check "graded correct" "d['status']=='correct' and d['reward']==1"
post /api/verify '{"verifier": "gcc", "code": "int main() { return x; }"}'
check "graded compile error" "d['status']=='compile_error' and d['reward']==0"
post /api/verify '{"verifier": "custom", "code": "x"}'; expect_code 400 "no custom commands from the playground"

# ---- a raft train in progress, launched through the API, then stopped
for i in 1 2 3 4; do echo "{\"id\": \"p$i\", \"prompt\": \"Write a C++ program that prints $i.\", \"expected_output\": \"$i\"}"; done > p.jsonl
post /api/launch '{"command": "raft train", "root": 2, "output": "live", "flags": {"model": "model", "prompts": "p.jsonl", "cycles": 50, "samples-per-prompt": 4, "max-new-tokens": 96, "run": true}}'
expect_code 201 "launch"
check "launched as the program itself" "d['argv'][:2]==['raft','train'] and d['run_id']=='2/live'"
job=$("$PY" -c "import json; print(json.load(open('$T/body'))['job'])")
# wait until the run has written samples (polling the API, no fixed sleep)
for _ in $(seq 1 1200); do
    get "/api/run?id=2/live"
    "$PY" -c "import json,sys; d=json.load(open('$T/body')); sys.exit(0 if d.get('phases') and d['phases'][0]['samples']>=1 else 1)" 2>/dev/null && break
    sleep 0.1
done
check "the live run is running, with samples" "d['status']=='running' and d['kind']=='raft train' and d['phases'][0]['samples']>=1"
check "a file being written is not a problem" "d['problems']==[]"
get /api/jobs
check "the job is running" "d[0]['job']==$job and d[0]['running'] and d[0]['exit_code'] is None"
get "/api/runs"
check "listed as running" "[r for r in d['runs'] if r['id']=='2/live' and r['status']=='running']"
post /api/stop "{\"job\": $job}"; expect_code 200 "stop"
for _ in $(seq 1 1200); do
    get /api/jobs
    "$PY" -c "import json,sys; sys.exit(0 if not json.load(open('$T/body'))[0]['running'] else 1)" && break
    sleep 0.1
done
check "stopped with SIGINT: exit 130" "d[0]['exit_code']==130"
get "/api/run?id=2/live"
check "shown as interrupted" "d['status']=='interrupted' and d['info']['exit_code']==130"
get "/api/log?job=$job"
check "the live log says it kept its work" "'interrupted' in d['text'] and not d['running']"
post /api/stop "{\"job\": $job}"; expect_code 409 "a stopped job cannot be stopped again"
expect_grep '"prompt_id"' runs/live/cycle_1_samples.jsonl "samples written before the stop are kept"

# ---- damaged files: shown as such, the server keeps answering
cp -r runs/done runs/broken
rm runs/broken/run.json
head -c 300 runs/done/summary.json > runs/broken/summary.json
echo 'this is not json' >> runs/broken/baseline_samples.jsonl
printf '{"prompt_id": "cut' >> runs/broken/final_samples.jsonl
get "/api/run?id=2/broken"; expect_code 200 "a damaged run"
check "each damaged file is named" \
    "{p['file'] for p in d['problems']}=={'summary.json','baseline_samples.jsonl','final_samples.jsonl'} and d['phases'][0]['samples']==32"
get /api/runs
check "the list marks it" "[r for r in d['runs'] if r['id']=='2/broken' and r['problems']>=1]"

# ---- security: the Host header (DNS rebinding), paths, methods
get /api/runs -H "Host: evil.example:$PORT"; expect_code 403 "a foreign Host header"
get /api/runs -H "Host: 127.0.0.1:$PORT"; expect_code 200 "our Host header"
ln -s /etc/passwd runs/done/passwd_link
ln -s / runs/rootlink
for p in '../done/summary.json' '..%2Fdone%2Fsummary.json' '%2Fetc%2Fpasswd' '/etc/passwd' 'raft/../summary.json' \
         './summary.json' 'raft//raft_statistics.json' '..' '.'; do
    get "/api/file?id=2/done&path=$p"; expect_code 400 "path $p"
done
get "/api/file?id=2/done&path=passwd_link"; expect_code 403 "a link out of the run folder"
get "/api/file?id=2/done&path=%252e%252e%252fdone%252fsummary.json"; expect_code 404 "double-encoded dots are a plain name"
get "/api/file?id=2/done&path=raft"; expect_code 404 "a folder is not a file"
for id in '2/..' '2/done/..' '/etc' '..' '9/done' '2/%2e%2e'; do
    get "/api/run?id=$id"; expect_code 400 "run id $id"
done
get "/api/run?id=2/rootlink"; expect_code 403 "a linked folder out of the run folders"
get "/api/file?id=2/rootlink&path=etc/passwd"; expect_code 403 "a file through a linked folder"
get /api/nothing; expect_code 404 "unknown endpoint"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X PUT "${URL}api/runs"); expect_code 405 "PUT"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/plain' -d '{"job": 1}' "${URL}api/stop"); expect_code 415 "a form post"
post /api/stop '{"job": 1}' -H 'Origin: http://evil.example'; expect_code 403 "a cross-origin post"
post /api/launch '{"command": "benchmark full", "output": "x", "flags": {"model": "model", "verify-command": "sh -c id"}}'
expect_code 400 "launch with a flag the dashboard does not set"
check "the refusal names the flag" "'flags.verify-command' in d['error']"
post /api/launch '{"command": "benchmark full", "root": 2, "output": "../../escape", "flags": {"model": "model"}}'
expect_code 400 "launch outside the run folders"
post /api/launch '{"command": "sh", "output": "x"}'; expect_code 400 "launch of another program"
post /api/launch 'not json'; expect_code 400 "a body that is not JSON"
expect_rc 0 "nothing was created outside the run folders" -- test ! -e escape -a ! -e ../escape

# ---- a server bound beyond loopback needs its token on every request
start_server tok.out --host 0.0.0.0 --runs runs
TURL=$(sed -n 's/^halo-forge ui: \(http[^ ?]*\).*/\1/p' tok.out)
TOKEN=$(sed -n 's/^token: \([0-9a-f]*\) .*/\1/p' tok.out)
TPORT=$(echo "$TURL" | sed 's/.*:\([0-9]*\)\/$/\1/')
expect_rc 0 "a 128-bit token is printed" -- test ${#TOKEN} -eq 32
L="http://127.0.0.1:$TPORT"
tcode() { code=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"); }
tcode "$L/api/runs"; expect_code 401 "no token"
tcode "$L/"; expect_code 401 "no token for the page either"
tcode "$L/chart.js"; expect_code 401 "nor for its assets"
# Change the last hex digit to a different one (appending a fixed "0" matched 1 token in 16).
last=${TOKEN: -1}; if [ "$last" = 0 ]; then other=1; else other=0; fi
tcode -H "X-Halo-Token: ${TOKEN%?}$other" "$L/api/runs"; expect_code 401 "a wrong token"
tcode -H "X-Halo-Token: $TOKEN" "$L/api/runs"; expect_code 200 "token header"
tcode -H "Authorization: Bearer $TOKEN" "$L/api/runs"; expect_code 200 "bearer token"
tcode "$L/?token=$TOKEN"; expect_code 200 "token in the address"
expect_grep "^Set-Cookie: hf_token=$TOKEN; Path=/; HttpOnly; SameSite=Strict" "$T/headers" "the page gets the token as a cookie"
tcode -H "Cookie: hf_token=$TOKEN" "$L/api/run?id=2/done"; expect_code 200 "token cookie"
tcode -H 'Content-Type: application/json' -d '{"job": 1}' "$L/api/stop"; expect_code 401 "no token, no stop"

for p in "${pids[@]}"; do kill -INT "$p"; done
for p in "${pids[@]}"; do wait "$p"; rc=$?; expect_rc 0 "the server exits cleanly on SIGINT" -- test "$rc" -eq 0; done
pids=()
finish
