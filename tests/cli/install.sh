# cmake --install into a temporary prefix: the program, the modules (library and headers), the manual page,
# the bundled model and the docs land where they should; the installed program runs from another folder,
# names its version and source revision, and finds the bundled model for `test --level standard`.
. "$HF_SOURCE_DIR/tests/cli_lib.sh"

build=$(dirname "$HF")
expect_rc 0 "cmake --install --prefix" -- cmake --install "$build" --prefix "$T/prefix"
for f in bin/halo-forge share/man/man1/halo-forge.1 share/halo-forge/models/tiny-coder/model.safetensors \
         share/halo-forge/models/tiny-coder/tokenizer.json share/doc/halo-forge/README.md \
         share/doc/halo-forge/raft.md lib/libhfcore.a include/halo-forge/model/model.h; do
    if [ -s "$T/prefix/$f" ]; then passes=$((passes + 1)); else echo "FAIL: $f not installed"; fails=$((fails + 1)); fi
done
mkdir -p elsewhere && cd elsewhere
expect_rc 0 "installed --version" -- "$T/prefix/bin/halo-forge" --version
expect_grep "^halo-forge [0-9]+\.[0-9]+\.[0-9]+$" "$T/out" "the version"
expect_grep "^source revision: ([0-9a-f]{7,}|v?[0-9].*|unknown \(not built from a git checkout\))" "$T/out" "the source revision"
expect_rc 0 "the installed program finds its bundled model" -- "$T/prefix/bin/halo-forge" test --level standard
expect_grep "share/halo-forge/models/tiny-coder" "$T/out" "from the install prefix"
# the manual page holds every command's flags
expect_grep '^\.SS "halo-forge raft train"' "$T/prefix/share/man/man1/halo-forge.1" "raft train in the man page"
expect_grep 'learning-rate' "$T/prefix/share/man/man1/halo-forge.1" "flags in the man page"
if command -v man >/dev/null 2>&1; then
    expect_rc 0 "man renders it" -- man -l "$T/prefix/share/man/man1/halo-forge.1"
fi
finish
