# halo-forge info: the readable report, the JSON object and its keys, unavailable tools.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

expect_rc 0 "info" -- "$HF" info
for w in "^CPU " "^Cores " "^SIMD " "^Memory .*GiB total" "^BLAS +OpenBLAS [0-9]" "^GPUs " "NVIDIA NVML: " \
         "^Energy " "^  gcc +gcc .*[0-9]+\.[0-9]+.* /" "^  go "; do
    expect_grep "$w" "$T/out" "report line $w"
done
[ -s "$T/err" ] && { echo "FAIL: info wrote to stderr:"; cat "$T/err"; fails=$((fails + 1)); }

expect_rc 0 "info --json" -- "$HF" info --json
cp "$T/out" info.json
# check_json FILE <<'CHECKS' with lines "python-expression ## description", d being the object:
# all checks in one interpreter start (pyenv's python3 shim alone takes a second).
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
check_json() {
    local out
    out=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = bad = 0
for line in sys.stdin:
    if not line.strip(): continue
    expr, _, what = line.partition("##")
    try: good = bool(eval(expr, {"d": d}))
    except Exception as e: good = False; what += " (%r)" % e
    if good: ok += 1
    else: bad += 1; print("FAIL: %s: %s" % (what.strip(), expr.strip()))
print(ok, bad)' "$1")
    echo "$out" | grep '^FAIL' || true
    set -- $(echo "$out" | tail -1)
    passes=$((passes + ${1:-0})); fails=$((fails + ${2:-1}))
}
check_json info.json <<'CHECKS'
set(d) >= {'halo_forge_version','os','cpu','memory','blas','gpus','nvml','rocm_smi','energy','tools'} ## top-level keys
d['memory']['total_bytes'] > d['memory']['available_bytes'] > 0 ## memory numbers
d['cpu']['logical_cpus'] >= 1 and isinstance(d['cpu']['features']['avx2'], bool) ## cpu
d['blas']['name'] == 'OpenBLAS' and d['blas']['version'] ## blas
d['tools']['gcc']['path'].endswith('gcc') and d['tools']['gcc']['version'] ## gcc found with a version
set(d['tools']) == {'gcc','g++','clang','clang++','x86_64-w64-mingw32-g++','python3','rustc','cargo','go'} ## every toolchain has a key
d['nvml']['available'] or d['nvml']['reason'] ## NVML in use or why not
d['nvml']['available'] or not [g for g in d['gpus'] if g['vendor'] == 'nvidia'] ## no NVIDIA GPU without NVML
d['energy']['available'] == (d['energy']['source'] is not None) == (d['energy']['reason'] is None) ## energy state
CHECKS

# Nothing on PATH: every tool is unavailable (null in JSON, "unavailable" in text), nothing crashes.
expect_rc 0 "info with an empty PATH" -- env PATH=/nonexistent "$HF" info --json
cp "$T/out" empty.json
check_json empty.json <<'CHECKS'
all(v is None for v in d['tools'].values()) ## tools null without PATH
CHECKS
expect_rc 0 "text with an empty PATH" -- env PATH=/nonexistent "$HF" info
expect_grep "^  gcc +unavailable \(not on PATH\)" "$T/out" "text says unavailable"

# -q keeps the data on stdout; the flag can come from a config file. (PATH emptied: faster.)
expect_rc 0 "quiet json" -- env PATH=/nonexistent "$HF" -q info --json
expect_grep '"halo_forge_version"' "$T/out" "json under -q"
printf 'json: true\n' > info.yaml
expect_rc 0 "json from config" -- env PATH=/nonexistent "$HF" info --config info.yaml
expect_grep '"tools"' "$T/out" "config json: true gives JSON"

# GPUs through NVML: a stand-in library (tests/fixtures/sysinfo/fake_nvml.c) with two GPUs, the
# second without a power reading.
if command -v gcc >/dev/null && gcc -shared -fPIC -o libfake-nvml.so "$SRC/tests/fixtures/sysinfo/fake_nvml.c"; then
    expect_rc 0 "info with NVML" -- env PATH=/nonexistent HF_NVML_LIBRARY="$T/libfake-nvml.so" "$HF" info
    expect_grep "^GPUs +2 found" "$T/out" "two GPUs"
    expect_grep "^ +\[0\] Fake GPU 0 \(nvidia, via nvml, id GPU-fake-0, driver 999.12\)" "$T/out" "GPU 0 named"
    expect_grep "80.0 GiB memory \(1.0 GiB used\), 40% busy, 123.5 W, 55 C" "$T/out" "GPU 0 readings"
    expect_grep "41% busy, power unavailable, 56 C" "$T/out" "GPU 1 power unavailable"
    expect_grep "NVIDIA NVML: in use" "$T/out" "NVML in use"
    expect_rc 0 "info --json with NVML" -- env PATH=/nonexistent HF_NVML_LIBRARY="$T/libfake-nvml.so" "$HF" info --json
    cp "$T/out" nvml.json
    check_json nvml.json <<'CHECKS'
d['nvml'] == {'available': True, 'reason': None} ## NVML available
[g['name'] for g in d['gpus']] == ['Fake GPU 0', 'Fake GPU 1'] ## GPU names
d['gpus'][0]['power_w'] == 123.46 and d['gpus'][1]['power_w'] is None ## power, null when unsupported
d['gpus'][0]['memory_total_bytes'] == 80 * 2**30 and d['gpus'][0]['gtt_total_bytes'] is None ## memory
CHECKS
    expect_rc 0 "NVML init failure" -- env PATH=/nonexistent FAKE_NVML_INIT_FAIL=1 HF_NVML_LIBRARY="$T/libfake-nvml.so" "$HF" info
    expect_grep "NVIDIA NVML: unavailable \(nvmlInit failed: Driver Not Loaded\)" "$T/out" "init failure explained"
fi

expect_rc 2 "unknown flag" -- "$HF" info --bogus
expect_grep "unknown flag '--bogus'" "$T/err" "names the bad flag"
expect_rc 2 "stray argument" -- "$HF" info extra
expect_rc 0 "help" -- "$HF" info --help
expect_grep "Usage: halo-forge info" "$T/out" "help text"
expect_rc 0 "main help" -- "$HF" --help
expect_grep "^  info " "$T/out" "info is listed"
finish
