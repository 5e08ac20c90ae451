#!/usr/bin/env bash
# Downloads, on a Debian 12 machine, the .deb files of the libraries halo-forge builds with (and what they
# load) into .hfdebs/, for a GPU machine whose image lacks them: bench/gpu_check.sh unpacks them there into a
# private folder. Carry .hfdebs with the working tree (the device tool's carry list). About 25 MB.
# The C library, the compiler's own libraries (libgcc, libstdc++, libgomp) and kernel headers are left out:
# the GPU machine's own are used.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .hfdebs
cd .hfdebs
pkgs="libcjson-dev libcjson1 libyaml-dev libyaml-0-2 libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0
libpcre2-posix3 libutf8proc-dev libutf8proc2 libcurl4-openssl-dev libcurl4 libssl-dev libssl3 libseccomp-dev
libseccomp2 libopenblas-dev libopenblas-pthread-dev libopenblas0-pthread libopenblas0 libgfortran5 libquadmath0
libcmocka-dev libcmocka0 pkgconf pkgconf-bin libpkgconf3 libbrotli1 libgssapi-krb5-2 libk5crypto3 libkrb5-3
libkrb5support0 libkeyutils1 libcom-err2 libldap-2.5-0 libsasl2-2 libsasl2-modules-db libdb5.3 libnghttp2-14
libpsl5 librtmp1 libssh2-1 libidn2-0 libunistring2 libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0
libtasn1-6 libffi8 libzstd1 zlib1g"
# shellcheck disable=SC2086
apt-get download $pkgs
ls -1 | wc -l
du -sh .
