#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, and run the seed's RAFT benchmark on the bundled
# model (models/tiny-coder): baseline evaluation of the 16 built-in C++ prompts, 2 RAFT cycles,
# final evaluation, then the Summary Table. A few minutes on 2 cores: set-up about 75 s and build +
# smoke test about 40 s on a fresh Debian 12 (README), the benchmark about 80 s.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
./build/halo-forge test --level smoke
# A fresh output folder: a rerun with the same folder would resume the finished benchmark instead.
out="results/demo_$(date +%Y%m%d_%H%M%S)"
./build/halo-forge benchmark full --model models/tiny-coder --cycles 2 --output "$out"
echo "Results: $out/summary.json"
