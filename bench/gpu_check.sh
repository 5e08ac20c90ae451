#!/usr/bin/env bash
# One run on a GPU machine: configure and build with the CUDA module (HF_CUDA=ON), run the GPU tests, then the
# GPU decode benchmark on the Qwen2.5 presets, writing everything under $OUT (the device tool's output folder;
# ./gpu-out when unset). Made for one call of a few minutes on an H200 with 16 cores:
#
#   bash bench/gpu_check.sh [--quick] [--no-bench] [--no-sanitizer]
#
#   --quick         the benchmark on the 0.5B model only (B = 1, 64, 256)
#   --no-bench      build and tests only
#   --no-sanitizer  skip the compute-sanitizer memcheck pass of test_cuda_ops
# Environment: OUT (output folder), HF_GPU_BUILD (build folder, default build-gpu; an existing one is reused),
# JOBS (parallel build jobs, default all cores), HF_GPU_FORCE_BENCH=1 (benchmark steps even when the GPU tests did
# not pass), HF_GPU_TIME (seconds for the whole script, default 420: each
# later step is skipped, and said so, when too little is left).
#
# Files written (at most 8, as the device tool brings back): env.txt (machine, driver, toolchain, what was
# missing), build.log, tests.log, sanitizer.log, bench.log, bench.jsonl (one JSON object per model), summary.txt,
# train.log (the training section).
#
# Dependencies: when pkg-config cannot find the libraries halo-forge builds with (the GPU image is not Debian),
# the .deb files in .hfdebs/ (made by `bash bench/gpu_debs.sh` on a Debian 12 machine, carried with the tree)
# are unpacked into .hfsysroot/ and used for the build (headers, pkg-config files, link-time libraries) and for
# running the tests and the benchmark (LD_LIBRARY_PATH for those programs only, not for the compilers).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-out}
BUILD=${HF_GPU_BUILD:-build-gpu}
JOBS=${JOBS:-$(nproc)}
BUDGET=${HF_GPU_TIME:-420}
quick=0 bench=1 sanitizer=1
for a in "$@"; do
    case "$a" in
        --quick) quick=1 ;;
        --no-bench) bench=0 ;;
        --no-sanitizer) sanitizer=0 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$OUT" || { echo "gpu_check.sh: cannot create $OUT" >&2; exit 2; }
START=$(date +%s)
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }
# enough N: true when at least N seconds of the budget are left
enough() { [ "$(left)" -ge "$1" ]; }

# ---------- environment ----------
{
    echo "date: $(date -u)"; uname -a; cat /etc/os-release 2>/dev/null | head -3
    echo "cores: $(nproc)"; free -g 2>/dev/null | head -2
    nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv 2>&1 | head -5
    echo "nvcc: $(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || echo none)"
    (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1 | tail -2
    echo "cmake: $(cmake --version 2>&1 | head -1)"; echo "gcc: $(gcc --version 2>&1 | head -1)"
    echo "pkg-config: $(command -v pkg-config || command -v pkgconf || echo none)"
    echo "compute-sanitizer: $(command -v compute-sanitizer || echo none)"
} > "$OUT/env.txt" 2>&1

# ---------- dependencies ----------
PKGS="libcjson yaml-0.1 libpcre2-8 libutf8proc libcurl libcrypto libseccomp openblas cmocka"
RUN_ENV=()
CMAKE_EXTRA=()
have_deps() { command -v pkg-config >/dev/null && pkg-config --exists $PKGS 2>/dev/null; }
if ! have_deps; then
    echo "missing (pkg-config $PKGS): $(for p in $PKGS; do pkg-config --exists $p 2>/dev/null || printf '%s ' $p; done)" >> "$OUT/env.txt"
    if ! ls .hfdebs/*.deb >/dev/null 2>&1; then
        say "FAIL: the libraries halo-forge builds with are missing and no .hfdebs/ was carried (bash bench/gpu_debs.sh)"
        exit 1
    fi
    SR=$ROOT/.hfsysroot
    rm -rf "$SR" && mkdir -p "$SR"
    for f in .hfdebs/*.deb; do dpkg-deb -x "$f" "$SR" || { say "FAIL: cannot unpack $f"; exit 1; }; done
    LIBS=$SR/usr/lib/x86_64-linux-gnu
    # Debian picks libopenblas and libblas through alternatives, which unpacking does not set up
    ln -sf openblas-pthread/libopenblas.so.0 "$LIBS/libopenblas.so.0" 2>/dev/null
    export PKG_CONFIG_SYSROOT_DIR=$SR
    export PKG_CONFIG_LIBDIR=$LIBS/pkgconfig:$SR/usr/share/pkgconfig:$LIBS/openblas-pthread/pkgconfig
    if ! command -v pkg-config >/dev/null; then
        printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$LIBS" "$SR/usr/bin/pkgconf" > "$SR/pkg-config"
        chmod +x "$SR/pkg-config"
        export PKG_CONFIG=$SR/pkg-config
        PATH=$SR:$PATH
    fi
    CMAKE_EXTRA=(-DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$LIBS -Wl,-rpath-link,$LIBS/openblas-pthread")
    RUN_ENV=(env "LD_LIBRARY_PATH=$LIBS:$LIBS/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
    echo "using the carried .deb files unpacked in $SR" >> "$OUT/env.txt"
    pkg-config --exists $PKGS || { say "FAIL: pkg-config still misses libraries after unpacking .hfdebs"; pkg-config --print-errors --exists $PKGS >> "$OUT/env.txt" 2>&1; exit 1; }
fi

# ---------- build ----------
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
t0=$(date +%s)
{
    # warnings are not errors here: the GPU image's compiler may be newer than the one CI checks with
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DHF_WERROR=OFF -DHF_CUDA=ON -DCMAKE_CUDA_COMPILER="$NVCC" \
        "${CMAKE_EXTRA[@]}" &&
    cmake --build "$BUILD" -j"$JOBS" --target halo-forge hf-cuda test_cuda_ops test_cuda_train test_bk_check \
        bench_gpu_decode bench_gpu_train
} > "$OUT/build.log" 2>&1
rc=$?
say "build: rc=$rc in $(( $(date +%s) - t0 )) s ($BUILD, -j$JOBS)"
if [ $rc -ne 0 ]; then
    tail -40 "$OUT/build.log" | tee -a "$SUMMARY"
    exit 1
fi
BIN=$ROOT/$BUILD
[ -d "$BUILD" ] && case "$BUILD" in /*) BIN=$BUILD ;; esac

# ---------- tests ----------
t0=$(date +%s)
{
    "${RUN_ENV[@]}" "$BIN/halo-forge" info
    echo "== test_bk_check (CPU: the op table the model checks at load)"
    (cd "$BIN" && "${RUN_ENV[@]}" timeout 60 ./test_bk_check)
    echo "bk_check rc=$?"
    echo "== test_cuda_ops"
    (cd "$BIN" && "${RUN_ENV[@]}" timeout 300 ./test_cuda_ops)
    echo "rc=$?"
} > "$OUT/tests.log" 2>&1
trc=$(grep '^rc=' "$OUT/tests.log" | tail -1 | cut -d= -f2)
case "$trc" in
    0) say "test_cuda_ops: PASSED in $(( $(date +%s) - t0 )) s" ;;
    77) say "test_cuda_ops: SKIPPED (no usable GPU): $(grep SKIPPED "$OUT/tests.log" | head -1)" ;;
    *) say "test_cuda_ops: FAILED (rc=$trc)"; grep -E "FAIL|\[  FAILED|error" "$OUT/tests.log" | head -20 | tee -a "$SUMMARY" ;;
esac
say "test_bk_check: rc=$(grep '^bk_check rc=' "$OUT/tests.log" | cut -d= -f2) (0 = passed)"
# cli_device: --device without a GPU (module hidden); cli_device_gpu: generate / score on the GPU against the
# CPU (greedy tokens equal, log-probs to 1e-4, seeded sampling reproducible); rc 77 of a test = skipped
if [ -f "$BIN/CTestTestfile.cmake" ] && enough 60; then
    for t in cli_device cli_device_gpu; do
        (cd "$BIN" && "${RUN_ENV[@]}" ctest -R "^$t\$" --output-on-failure --timeout 150) > "$OUT/ctest_$t.txt" 2>&1
        r=$?
        if [ $r -ne 0 ]; then say "$t: FAILED (tests.log)"
        elif grep -q "Skipped" "$OUT/ctest_$t.txt"; then say "$t: SKIPPED (no usable GPU)"
        else say "$t: PASSED"; fi
        cat "$OUT/ctest_$t.txt" >> "$OUT/tests.log"; rm -f "$OUT/ctest_$t.txt"
    done
fi
grep -E "^ +cuda:[0-9]" "$OUT/tests.log" | head -4 | sed 's/^ */info: /' | tee -a "$SUMMARY"

# ---------- memory checker ----------
if [ $sanitizer -eq 1 ] && [ "$trc" = 0 ] && command -v compute-sanitizer >/dev/null && enough 200; then
    t0=$(date +%s)
    (cd "$BIN" && "${RUN_ENV[@]}" timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 ./test_cuda_ops) \
        > "$OUT/sanitizer.log" 2>&1
    src=$?
    say "compute-sanitizer memcheck of test_cuda_ops: rc=$src in $(( $(date +%s) - t0 )) s ($(grep -c 'Invalid\|ERROR SUMMARY: [1-9]' "$OUT/sanitizer.log") error lines; 124 = timed out, 9 = errors found)"
else
    say "compute-sanitizer: not run (tests not passed, tool missing, or time short)"
fi

# ---------- benchmark ----------
# HF_GPU_FORCE_BENCH=1 runs the benchmark steps even without a passing GPU test (to check this script's own
# steps on a machine without a GPU: the benchmark then reports SKIPPED, rc 77)
# the 0.5B preset as a model folder (`model init`), so the benchmarks read the file users make
M05=$ROOT/.gpu-qwen05
make_m05() {
    [ -f "$M05/model.safetensors" ] && return 0
    local t0=$(date +%s)
    "${RUN_ENV[@]}" "$BIN/halo-forge" -q model init --preset qwen2.5-0.5b --dtype bf16 --output "$M05" >> "$OUT/bench.log" 2>&1 ||
        { say "model init --preset qwen2.5-0.5b failed (bench.log)"; return 1; }
    say "model init qwen2.5-0.5b: $(( $(date +%s) - t0 )) s"
}
: > "$OUT/bench.log"
: > "$OUT/bench.jsonl"

# ---------- training on the GPU (issue "GPU backend, part 2"; its own section, results in train.log) ----------
# test_cuda_train: every CUDA training op against the CPU op, then the PyTorch training fixtures on the GPU.
# bench_gpu_train: LoRA r=16 (all 7 projections) on the 0.5B preset, 8 x 1024 tokens, tokens/s, MFU against the
# cuBLAS bf16 GEMM rate, peak GPU memory; then full fine-tuning of the same model (4 x 1024).
ttrc=none
if [ -x "$BIN/test_cuda_train" ] && enough 60; then
    t0=$(date +%s)
    (cd "$BIN" && "${RUN_ENV[@]}" timeout 120 ./test_cuda_train; echo "rc=$?") > "$OUT/train.log" 2>&1
    ttrc=$(grep '^rc=' "$OUT/train.log" | tail -1 | cut -d= -f2)
    case "$ttrc" in
        0) say "test_cuda_train: PASSED in $(( $(date +%s) - t0 )) s" ;;
        77) say "test_cuda_train: SKIPPED (no usable GPU)" ;;
        *) say "test_cuda_train: FAILED (rc=$ttrc)"; grep -E "max \|GPU|worst|FAIL|\[  FAILED|error" "$OUT/train.log" | head -30 | tee -a "$SUMMARY" ;;
    esac
else
    say "test_cuda_train: not run (not built, or $(left) s left)"
fi
trainbench() { # NAME SECONDS-NEEDED ARGS...
    local name=$1 need=$2; shift 2
    if ! enough "$need"; then say "train bench $name: skipped ($(left) s left, needs ~$need)"; return; fi
    local t0=$(date +%s)
    echo "== train bench $name: $*" >> "$OUT/train.log"
    "${RUN_ENV[@]}" timeout $(( $(left) - 10 )) "$BIN/bench_gpu_train" "$@" --json "$OUT/t.json" >> "$OUT/train.log" 2>&1
    local r=$?
    [ -f "$OUT/t.json" ] && cat "$OUT/t.json" >> "$OUT/bench.jsonl" && rm -f "$OUT/t.json"
    say "train bench $name: rc=$r in $(( $(date +%s) - t0 )) s"
}
if [ $bench -eq 1 ] && { [ "$ttrc" = 0 ] || [ "${HF_GPU_FORCE_BENCH:-0}" = 1 ]; } && [ -x "$BIN/bench_gpu_train" ] && make_m05; then
    trainbench lora-0.5b 70 --model "$M05" --mode lora --batch 8 --seq 1024 --steps 3
    [ $quick -eq 0 ] && trainbench full-0.5b 70 --model "$M05" --mode full --batch 4 --seq 1024 --steps 2
    grep -E "^bench_gpu_train|^batch|^cuBLAS|^MFU|^peak GPU" "$OUT/train.log" >> "$SUMMARY"
fi
if [ $bench -eq 0 ] || { [ "$trc" != 0 ] && [ "${HF_GPU_FORCE_BENCH:-0}" != 1 ]; }; then
    say "benchmark: not run"
    exit $([ "$trc" = 0 ] || [ "$trc" = 77 ] && echo 0 || echo 1)
fi
runbench() { # NAME SECONDS-NEEDED ARGS...
    local name=$1 need=$2; shift 2
    if ! enough "$need"; then say "bench $name: skipped ($(left) s left, needs ~$need)"; return; fi
    local t0=$(date +%s)
    echo "== bench $name: $*" >> "$OUT/bench.log"
    "${RUN_ENV[@]}" timeout $(( $(left) - 10 )) "$BIN/bench_gpu_decode" "$@" --json "$OUT/b.json" >> "$OUT/bench.log" 2>&1
    local r=$?
    [ -f "$OUT/b.json" ] && cat "$OUT/b.json" >> "$OUT/bench.jsonl" && rm -f "$OUT/b.json"
    say "bench $name: rc=$r in $(( $(date +%s) - t0 )) s"
}
make_m05
# the wired path end to end: `halo-forge generate --device cuda` on the 0.5B folder, 64 prompts x 1 sample,
# 64 new tokens each, one batch (logits still come back to the host each step: see docs/performance.md)
if [ -f "$M05/model.safetensors" ] && [ "$trc" = 0 ] && enough 90; then
    P=$BIN/.e2e_prompts.jsonl
    for i in $(seq 64); do echo "{\"prompt\": \"Write a C function number $i that adds two integers.\"}"; done > "$P"
    for dev in cuda; do
        t0=$(date +%s.%N)
        "${RUN_ENV[@]}" timeout 120 "$BIN/halo-forge" generate --model "$M05" --prompts "$P" --num-samples 1 \
            --max-new-tokens 64 --ignore-eos --temperature 0.7 --batch-size 64 --device $dev -o "$BIN/.e2e.jsonl" >> "$OUT/bench.log" 2>&1
        r=$?
        t1=$(date +%s.%N)
        ntok=$(grep -o '"n_tokens": *[0-9]*' "$BIN/.e2e.jsonl" 2>/dev/null | grep -o '[0-9]*$' | paste -sd+ | bc 2>/dev/null)
        say "e2e generate --device $dev (0.5B, 64 x 64 new tokens, B=64): rc=$r, ${ntok:-0} tokens in $(echo "$t1 - $t0" | bc) s wall (load included)"
    done
fi
if [ -f "$M05/model.safetensors" ]; then
    runbench qwen2.5-0.5b 60 --model "$M05" --batch $([ $quick -eq 1 ] && echo 1,64,256 || echo 1,64,128,256)
else
    runbench qwen2.5-0.5b 60 --preset qwen2.5-0.5b --batch 1,64,128,256
fi
if [ $quick -eq 0 ]; then
    runbench qwen2.5-1.5b 60 --preset qwen2.5-1.5b --batch 1,64,256
    runbench qwen2.5-3b 70 --preset qwen2.5-3b --batch 1,64,256
    runbench qwen2.5-7b 90 --preset qwen2.5-7b --batch 1,64,256
fi
grep -E "^device|copy:|decode \(graph\)|roofline|GEMM-only rate|prefill:|peak" "$OUT/bench.log" | head -60 >> "$SUMMARY"
say "total: $(( $(date +%s) - START )) s"
