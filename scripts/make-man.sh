#!/usr/bin/env bash
# Writes the manual page halo-forge(1) from the program's own help text: `halo-forge --help`, then
# `halo-forge <command> --help` for every command it lists, so the page always matches the flags.
# Usage: make-man.sh BINARY OUTPUT   (the build runs it; `man ./build/halo-forge.1` to read)
set -euo pipefail
bin=$1
out=$2
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

# roff: escape backslashes, and protect lines that start with '.' or "'" (they would be requests).
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

version=$("$bin" --version | head -n1 | sed 's/^halo-forge //')
revision=$("$bin" --version | sed -n 's/^source revision: //p')
main_help=$("$bin" --help)
# The command column of the "Commands:" list: "  config validate   Summary" -> "config validate".
mapfile -t cmds < <(printf '%s\n' "$main_help" | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \(.*[^ ]\)  \+[A-Z].*/\1/p')
[ "${#cmds[@]}" -gt 0 ] || { echo "make-man.sh: no commands found in '$bin --help'" >&2; exit 1; }

{
    echo ".TH HALO-FORGE 1 \"\" \"halo-forge $version\" \"User Commands\""
    echo ".SH NAME"
    echo "halo-forge \\- RLVR training for code models: sample, verify in a sandbox, fine-tune (RAFT), benchmark"
    echo ".SH SYNOPSIS"
    echo ".B halo-forge"
    echo "[\\fB\\-q\\fR|\\fB\\-\\-quiet\\fR] [\\fB\\-v\\fR|\\fB\\-\\-verbose\\fR] \\fIcommand\\fR [\\fIsubcommand\\fR] [\\fIflags\\fR]"
    echo ".SH DESCRIPTION"
    echo ".nf"
    printf '%s\n' "$main_help" | esc
    echo ".fi"
    echo ".SH COMMANDS"
    for c in "${cmds[@]}"; do
        echo ".SS \"halo-forge $c\""
        echo ".nf"
        # shellcheck disable=SC2086  # the command words are separate arguments
        "$bin" $c --help | esc
        echo ".fi"
    done
    echo ".SH FILES"
    echo "Log files go to \\fIlogs/\\fR under the working directory. The bundled model \\fItiny-coder\\fR is"
    echo "installed under the data folder (\\fIshare/halo-forge/models\\fR); the documentation, one page"
    echo "per command group, under \\fIshare/doc/halo-forge\\fR."
    echo ".SH VERSION"
    echo "$version, source revision $revision."
} > "$tmp"
mv "$tmp" "$out"
trap - EXIT
