#!/usr/bin/env bash
# The release workflow's Linux packages: one .deb per Linux target.
#   packaging/linux/release-debs.sh DIST_DIR VERSION [BIN_DIR]
# Reads BIN_DIR/burrow-x86_64-unknown-linux-gnu and BIN_DIR/burrow-aarch64-unknown-linux-gnu
# (BIN_DIR defaults to DIST_DIR's sibling "bin": dist/release -> dist/bin, where the release
# workflow downloads the compiled binaries) and writes burrow_VERSION_amd64.deb and
# burrow_VERSION_arm64.deb into DIST_DIR (see build-deb.sh), before SHA256SUMS is made.
set -euo pipefail

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
  echo "Usage: packaging/linux/release-debs.sh DIST_DIR VERSION [BIN_DIR]" >&2
  exit 2
fi
DIST_DIR="$1"
VERSION="$2"
BIN_DIR="${3:-$(dirname "$DIST_DIR")/bin}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for pair in x86_64-unknown-linux-gnu:amd64 aarch64-unknown-linux-gnu:arm64; do
  target="${pair%%:*}"
  arch="${pair##*:}"
  binary="$BIN_DIR/burrow-$target"
  [ -f "$binary" ] || { echo "release-debs: no binary at $binary" >&2; exit 1; }
  bash "$HERE/build-deb.sh" "$binary" "$VERSION" "$arch" "$DIST_DIR"
done
