#!/usr/bin/env bash
# Installs what halo-forge needs to build and run on Debian 12 (the main job): compilers, the libraries
# it links, and the toolchains its verifiers run. Test-only tools (PyTorch, Node, npm packages) are
# installed by scripts/setup-tests.sh. Safe to run more than once. Needs root (or sudo) for apt-get.
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
libcairo2-dev
fonts-dejavu-core
libmicrohttpd-dev
libjs-chart.js
g++-mingw-w64-x86-64
golang-go
rustc
python3
"
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
