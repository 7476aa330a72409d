#!/usr/bin/env bash
# Builds the Debian package of Burrow from a compiled binary:
#   packaging/linux/build-deb.sh BINARY VERSION ARCH OUTDIR
# e.g. packaging/linux/build-deb.sh dist/bin/burrow-x86_64-unknown-linux-gnu 0.2.0 amd64 dist/release
#
# Writes OUTDIR/burrow_DEBVERSION_ARCH.deb (DEBVERSION is VERSION with its first "-" made
# "~", so 0.2.0-rc1 sorts before 0.2.0) and prints its path. ARCH is Debian's name: amd64
# or arm64. Contents:
#   /usr/bin/burrow                              the binary (0755)
#   /lib/systemd/system/burrow-{server,agent}.service   the units (neither enabled nor started)
#   /etc/burrow/{server,agent}.jsonc, server.d/, agent.d/ samples (conffiles, 0640), tls/
#   /usr/share/doc/burrow/                       README.md, install.md, and config.md,
#                                                operator.md, admin.md (the samples name them)
# Maintainer scripts (packaging/linux/debian/): postinst makes the "burrow" system user and
# gives it /etc/burrow (read) and /var/lib/burrow (write); prerm stops the services on
# remove; postrm on purge removes /etc/burrow, /var/lib/burrow and the user.
# Depends: adduser, and libc6 (>= the newest GLIBC_x.y the binary needs, when readelf can
# tell; a stand-in script gets plain libc6). Needs dpkg-deb (1.19+ for --root-owner-group).
# Reproducible: every mtime is SOURCE_DATE_EPOCH (default: the last commit's time).
set -euo pipefail
# Modes are set below; folders made on the way get 0755 whatever the caller's umask.
umask 022

if [ "$#" -ne 4 ]; then
  echo "Usage: packaging/linux/build-deb.sh BINARY VERSION ARCH OUTDIR" >&2
  exit 2
fi
BINARY="$1"
VERSION="$2"
ARCH="$3"
OUTDIR="$4"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

[[ "$VERSION" =~ ^[0-9][0-9A-Za-z.+-]*$ ]] || { echo "build-deb: bad version '$VERSION'" >&2; exit 2; }
case "$ARCH" in amd64 | arm64) ;; *) echo "build-deb: ARCH must be amd64 or arm64, not '$ARCH'" >&2; exit 2 ;; esac
[ -f "$BINARY" ] || { echo "build-deb: no binary at '$BINARY'" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb not found (apt-get install dpkg)" >&2; exit 1; }
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)"
fi
export SOURCE_DATE_EPOCH
DEBVERSION="${VERSION/-/\~}"

# The libc6 version the binary needs: the newest GLIBC_x.y version it references (readelf
# reads an ELF file of any architecture, so amd64 and arm64 are both built on one runner).
libc_depends() {
  local newest=""
  if command -v readelf >/dev/null && readelf -V -W "$BINARY" >/dev/null 2>&1; then
    newest="$(readelf -V -W "$BINARY" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' |
      sort -V | tail -n 1 || true)"
  fi
  if [ -n "$newest" ]; then echo "libc6 (>= $newest)"; else echo "libc6"; fi
}

STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
PKG="$STAGE/burrow"
install -D -m 0755 "$BINARY" "$PKG/usr/bin/burrow"
for unit in burrow-server burrow-agent; do
  install -D -m 0644 "$HERE/$unit.service" "$PKG/lib/systemd/system/$unit.service"
done
CONFFILES=(server.jsonc agent.jsonc server.d/_example.com.jsonc agent.d/_example.com.jsonc)
for file in "${CONFFILES[@]}"; do
  install -D -m 0640 "$HERE/etc/burrow/$file" "$PKG/etc/burrow/$file"
done
install -d -m 0750 "$PKG/etc/burrow" "$PKG/etc/burrow/tls" "$PKG/etc/burrow/server.d" \
  "$PKG/etc/burrow/agent.d"
install -D -m 0644 "$ROOT/docs/install.md" "$PKG/usr/share/doc/burrow/install.md"
install -D -m 0644 "$ROOT/README.md" "$PKG/usr/share/doc/burrow/README.md"
for doc in config operator admin; do
  install -D -m 0644 "$ROOT/docs/$doc.md" "$PKG/usr/share/doc/burrow/$doc.md"
done

install -d -m 0755 "$PKG/DEBIAN"
for script in postinst prerm postrm; do
  install -m 0755 "$HERE/debian/$script" "$PKG/DEBIAN/$script"
done
printf '/etc/burrow/%s\n' "${CONFFILES[@]}" >"$PKG/DEBIAN/conffiles"
chmod 0644 "$PKG/DEBIAN/conffiles"
SIZE="$(du -sk --exclude=DEBIAN "$PKG" | cut -f 1)"
cat >"$PKG/DEBIAN/control" <<EOF
Package: burrow
Version: $DEBVERSION
Architecture: $ARCH
Maintainer: Burrow maintainers <burrow@localhost>
Installed-Size: $SIZE
Depends: adduser, $(libc_depends)
Section: net
Priority: optional
Description: self-hosted tunnel: a server and agents that carry HTTPS over wss
 Burrow's server terminates TLS and routes requests by Host to agents that
 dial out to it over wss from beside private services; the agents need no
 inbound port. One binary plays both roles, with systemd units
 burrow-server and burrow-agent (installed, neither enabled nor started).
EOF
chmod 0644 "$PKG/DEBIAN/control"
find "$PKG" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$OUTDIR"
OUT="$(cd "$OUTDIR" && pwd)/burrow_${DEBVERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$OUT" >/dev/null
echo "$OUT"
