#!/usr/bin/env bash
# Builds one portable release archive:
#   packaging/archive.sh TARGET BINARY OUTDIR VERSION
# e.g. packaging/archive.sh x86_64-unknown-linux-gnu dist/burrow-x86_64-unknown-linux-gnu dist 0.1.0
#
# Writes OUTDIR/burrow-VERSION-TARGET.tar.gz (.zip for a Windows target) holding one folder,
# burrow-VERSION-TARGET/, with the binary as `burrow` (`burrow.exe` on Windows, mode 0755),
# the conf/ samples, README.md, the docs/ they refer to (docs/config.md: every key), and
# LICENSE when the tree has one (Linux ones also packaging/install.sh and packaging/linux/).
# Prints the archive's path.
#
# Reproducible: entries sorted, owner 0:0, every mtime SOURCE_DATE_EPOCH (default: the last
# commit's time), gzip without a name or time; the same inputs give the same bytes.
# Needs GNU tar, gzip and zip (the release workflow runs it on Linux).
# The tree archived is the repository holding this script, or ARCHIVE_ROOT when set (tests).
set -euo pipefail

if [ "$#" -ne 4 ]; then
  echo "Usage: packaging/archive.sh TARGET BINARY OUTDIR VERSION" >&2
  exit 2
fi
TARGET="$1"
BINARY="$2"
OUTDIR="$3"
VERSION="$4"
ROOT="${ARCHIVE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

[[ "$TARGET" =~ ^[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+(-[a-z0-9_]+)?$ ]] ||
  { echo "archive: '$TARGET' is not a target triple" >&2; exit 2; }
[[ "$VERSION" =~ ^[0-9A-Za-z.+-]+$ ]] || { echo "archive: bad version '$VERSION'" >&2; exit 2; }
[ -f "$BINARY" ] || { echo "archive: no binary at '$BINARY'" >&2; exit 1; }
for need in README.md conf; do
  [ -e "$ROOT/$need" ] || { echo "archive: $ROOT/$need is missing" >&2; exit 1; }
done

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)"
fi
export SOURCE_DATE_EPOCH

NAME="burrow-${VERSION}-${TARGET}"
EXE=""
[[ "$TARGET" == *windows* ]] && EXE=".exe"

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
mkdir "$STAGE/$NAME"
cp "$BINARY" "$STAGE/$NAME/burrow$EXE"
cp -R "$ROOT/conf" "$STAGE/$NAME/conf"
# conf/data/ is what running conf/server.jsonc in the tree leaves (its dataDir, gitignored): an
# audit database with agent names and addresses, never shipped.
rm -rf "$STAGE/$NAME/conf/data"
cp "$ROOT/README.md" "$STAGE/$NAME/README.md"
# README.md and the samples point at docs/config.md and the other documents.
[ -d "$ROOT/docs" ] && cp -R "$ROOT/docs" "$STAGE/$NAME/docs"
[ -f "$ROOT/LICENSE" ] && cp "$ROOT/LICENSE" "$STAGE/$NAME/LICENSE"
# Linux archives carry install.sh and what it installs (units, /etc/burrow samples), so an
# unpacked archive installs with packaging/install.sh alone.
if [[ "$TARGET" == *linux* ]]; then
  mkdir -p "$STAGE/$NAME/packaging"
  cp "$ROOT/packaging/install.sh" "$STAGE/$NAME/packaging/install.sh"
  cp -R "$ROOT/packaging/linux" "$STAGE/$NAME/packaging/linux"
fi
# Artifacts lose their modes between workflow jobs: set them here.
find "$STAGE/$NAME" -type d -exec chmod 0755 {} +
find "$STAGE/$NAME" -type f -exec chmod 0644 {} +
chmod 0755 "$STAGE/$NAME/burrow$EXE"
[ -f "$STAGE/$NAME/packaging/install.sh" ] && chmod 0755 "$STAGE/$NAME/packaging/install.sh"
find "$STAGE/$NAME" -name '*.sh' -exec chmod 0755 {} +
find "$STAGE/$NAME" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
if [ -n "$EXE" ]; then
  OUT="$OUTDIR/$NAME.zip"
  rm -f "$OUT"
  # zip stores entries in the order given: sort them; -X leaves out uid/gid extras.
  (cd "$STAGE" && find "$NAME" -print | LC_ALL=C sort | zip -q -X -D "$OUT" -@)
else
  OUT="$OUTDIR/$NAME.tar.gz"
  tar -C "$STAGE" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$SOURCE_DATE_EPOCH" --format=gnu -cf - "$NAME" | gzip -n -9 >"$OUT"
fi
echo "$OUT"
