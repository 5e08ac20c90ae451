#!/usr/bin/env bash
# Installs everything halo-forge needs to build and to run its tests on Debian 12.
# Safe to run more than once. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Build and run time.
PKGS="build-essential cmake pkg-config git
      libopenblas-dev libcjson-dev libyaml-dev libpcre2-dev libutf8proc-dev libcurl4-openssl-dev libssl-dev libseccomp-dev
      gcc g++ clang"
# Tests: unit-test library, verifier toolchains, the PyTorch reference, the Hugging Face tokenizers (npm).
PKGS="$PKGS libcmocka-dev curl g++-mingw-w64-x86-64 golang-go python3 python3-torch python3-numpy nodejs npm"

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
