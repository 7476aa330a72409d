#!/usr/bin/env bash
# Writes DIR/SHA256SUMS over the release files in DIR (archives and packages):
#   packaging/sha256sums.sh DIR
# One "<sha256>  <file name>" line per file, sorted by name: the format `sha256sum -c`
# reads (`cd DIR && sha256sum -c --ignore-missing SHA256SUMS`) and the Windows installer parses.
set -euo pipefail
[ "$#" -eq 1 ] || { echo "Usage: packaging/sha256sums.sh DIR" >&2; exit 2; }
cd "$1"
shopt -s nullglob
files=(*.tar.gz *.zip *.deb)
[ "${#files[@]}" -gt 0 ] || { echo "sha256sums: no archives in $1" >&2; exit 1; }
printf '%s\n' "${files[@]}" | LC_ALL=C sort | xargs -d '\n' sha256sum -- >SHA256SUMS
cat SHA256SUMS
