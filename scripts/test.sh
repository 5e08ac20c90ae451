#!/usr/bin/env bash
# Sets up, builds with warnings as errors, runs every test, then runs them again under
# AddressSanitizer + UndefinedBehaviorSanitizer. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-tests.sh

jobs=$(nproc)
echo "== build (warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHF_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 1200)

echo "== build with AddressSanitizer + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHF_WERROR=ON -DHF_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under sanitizers"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    HF_SANITIZED=1 ctest --output-on-failure -j"$jobs" --timeout 2400)
echo "== all tests passed"
