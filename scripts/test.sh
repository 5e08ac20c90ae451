#!/usr/bin/env bash
# Sets up, builds with warnings as errors, runs every test, then runs them again under
# AddressSanitizer + UndefinedBehaviorSanitizer. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tests.sh

jobs=$(nproc)
echo "== build (warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHF_WERROR=ON -DHF_UNIT_TESTS=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 1200)

echo "== build with AddressSanitizer + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHF_WERROR=ON -DHF_SANITIZE=ON -DHF_UNIT_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under sanitizers"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    HF_SANITIZED=1 ctest --output-on-failure -j"$jobs" --timeout 2400)

# Each libFuzzer target for a fixed time from its committed seeds; any finding fails (docs/reliability.md).
fuzz_s=${HF_FUZZ_SECONDS:-30}
echo "== fuzz: each parser target for $fuzz_s s (libFuzzer, clang, ASan + UBSan)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHF_FUZZ=ON -DHF_UNIT_TESTS=OFF \
    -DHF_FUZZ_SECONDS="$fuzz_s" >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_targets
(cd build-fuzz && ctest -L fuzz --output-on-failure -j"$jobs" --timeout $((fuzz_s * 3 + 60)))
echo "== all tests passed"
