#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, check the installation, and verify the bundled
# example samples in the sandbox. (Later: the RAFT benchmark on the bundled model.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
./build/halo-forge test --level smoke
./build/halo-forge verify --verifier gcc --run --input examples/samples.jsonl --output results/verified_examples.jsonl
