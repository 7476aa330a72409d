#!/bin/sh
# Installs Burrow on a Linux machine without its .deb (any distribution with
# glibc and, for the services, systemd):
#   /usr/local/bin/burrow                      the binary
#   /etc/systemd/system/burrow-{server,agent}.service   the units (not enabled)
#   /etc/burrow/                               configuration samples (never overwritten)
#   /var/lib/burrow/                           the server's data folder
#   a "burrow" system user and group           the services run as it
#
# Usage:
#   sudo sh install.sh [--binary FILE]            install this binary (default: the `burrow`
#                                                 beside this script's folder, as in an
#                                                 unpacked release archive)
#   sudo sh install.sh --version V --base-url URL download burrow-V-TARGET.tar.gz and
#                                                 SHA256SUMS from URL/vV/, check, install
#                                                 (--base-url defaults to $BURROW_BASE_URL)
#   sudo sh install.sh --uninstall [--purge]      remove the binary and units; --purge also
#                                                 removes /etc/burrow, /var/lib/burrow and
#                                                 the user
# Options:
#   --root DIR     install into DIR instead of / (tests, image builds): no user, no chown,
#                  no systemctl; says what it would have done. Needs no root privileges.
#   --target T     release target to download (default: from `uname -m`)
#   -h, --help     this text
#
# Running it again changes nothing when nothing is new ("nothing to change"); with a new
# binary it replaces it and restarts the services that were running. Existing files in
# /etc/burrow are yours: they are never replaced nor removed, except by --uninstall --purge.
set -eu
umask 022

BASE_URL="${BURROW_BASE_URL:-}"
VERSION=""
BINARY=""
TARGET=""
ROOT=""
UNINSTALL=0
PURGE=0
CHANGED=0
UNITS="burrow-server burrow-agent"
SCRIPT_DIR="$(cd "$(dirname "$0")" 2>/dev/null && pwd || echo /nonexistent)"
WORK=""

say() { echo "burrow install: $*"; }
die() {
  echo "burrow install: $*" >&2
  exit 1
}
usage() { sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
cleanup() { if [ -n "$WORK" ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

while [ "$#" -gt 0 ]; do
  case "$1" in
    --binary) BINARY="${2:?--binary needs a file}"; shift 2 ;;
    --version) VERSION="${2:?--version needs a version}"; VERSION="${VERSION#v}"; shift 2 ;;
    --base-url) BASE_URL="${2:?--base-url needs a URL}"; shift 2 ;;
    --target) TARGET="${2:?--target needs a target}"; shift 2 ;;
    --root) ROOT="${2:?--root needs a folder}"; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "burrow install: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ "$PURGE" -eq 0 ] || [ "$UNINSTALL" -eq 1 ] || die "--purge goes with --uninstall"
if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT="$(cd "$ROOT" && pwd)"
  [ "$ROOT" != "/" ] || ROOT=""
fi

BIN="$ROOT/usr/local/bin/burrow"
UNIT_DIR="$ROOT/etc/systemd/system"
CONF="$ROOT/etc/burrow"
DATA="$ROOT/var/lib/burrow"

# Runs "$@" on the real system, or says it would (with --root).
system() {
  if [ -n "$ROOT" ]; then
    say "would run: $*"
  else
    "$@"
  fi
}

# Runs systemctl "$@" where systemd runs this machine; says it would (--root) or skips.
systemd_do() {
  if [ -n "$ROOT" ]; then
    say "would run: systemctl $*"
  elif [ -d /run/systemd/system ]; then
    systemctl "$@"
  else
    say "systemd is not running here: skipped systemctl $*"
  fi
}

# install_file SRC DEST MODE: copies when the content or the mode differs.
install_file() {
  if [ -f "$2" ] && cmp -s "$1" "$2" && [ "$(stat -c %a "$2")" = "$3" ]; then return 0; fi
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2.burrow-new"
  chmod "$3" "$2.burrow-new"
  mv -f "$2.burrow-new" "$2"
  say "installed ${2#"$ROOT"}"
  CHANGED=$((CHANGED + 1))
}

# install_conf SRC DEST: a configuration sample, written only when DEST does not exist.
install_conf() {
  [ ! -e "$2" ] || return 0
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2"
  chmod 0640 "$2"
  system chown root:burrow "${2#"$ROOT"}"
  say "installed ${2#"$ROOT"}"
  CHANGED=$((CHANGED + 1))
}

# make_dir DIR MODE OWNER: a folder with its mode and owner, made when missing.
make_dir() {
  if [ ! -d "$1" ]; then
    mkdir -p "$1"
    say "made ${1#"$ROOT"}"
    CHANGED=$((CHANGED + 1))
    [ -z "$ROOT" ] || say "would run: chown $3 ${1#"$ROOT"}"
  fi
  if [ "$(stat -c %a "$1")" != "$2" ]; then
    chmod "$2" "$1"
    CHANGED=$((CHANGED + 1))
  fi
  [ -n "$ROOT" ] || [ "$(stat -c %U:%G "$1")" = "$3" ] || { chown "$3" "$1"; CHANGED=$((CHANGED + 1)); }
}

# The release target of this machine.
machine_target() {
  case "$(uname -m)" in
    x86_64 | amd64) echo x86_64-unknown-linux-gnu ;;
    aarch64 | arm64) echo aarch64-unknown-linux-gnu ;;
    *) die "no Linux release for the architecture '$(uname -m)'" ;;
  esac
}

# Downloads and checks the release archive, unpacks it in $WORK; sets BINARY and SOURCE.
download() {
  [ -n "$VERSION" ] || die "no binary beside this script: give --binary FILE, or --version V --base-url URL"
  [ -n "$BASE_URL" ] || die "--version needs --base-url (e.g. https://github.com/OWNER/burrow/releases/download)"
  case "$BASE_URL" in
    https://* | file://*) ;;
    *) die "--base-url must start with https:// (or file:// for a local mirror)" ;;
  esac
  command -v curl >/dev/null 2>&1 || die "downloading needs curl"
  [ -n "$TARGET" ] || TARGET="$(machine_target)"
  name="burrow-$VERSION-$TARGET"
  url="${BASE_URL%/}/v$VERSION"
  say "downloading $url/$name.tar.gz"
  curl -fsSL --proto '=https,file' -o "$WORK/$name.tar.gz" "$url/$name.tar.gz" ||
    die "cannot download $url/$name.tar.gz"
  curl -fsSL --proto '=https,file' -o "$WORK/SHA256SUMS" "$url/SHA256SUMS" ||
    die "cannot download $url/SHA256SUMS"
  expected="$(awk -v f="$name.tar.gz" '$2 == f || $2 == "*" f { print $1 }' "$WORK/SHA256SUMS")"
  [ -n "$expected" ] || die "SHA256SUMS has no line for $name.tar.gz"
  actual="$(sha256sum "$WORK/$name.tar.gz" | cut -d ' ' -f 1)"
  [ "$actual" = "$expected" ] || die "checksum mismatch for $name.tar.gz: expected $expected, got $actual"
  say "checksum ok ($actual)"
  tar -xzf "$WORK/$name.tar.gz" -C "$WORK"
  BINARY="$WORK/$name/burrow"
  [ -f "$BINARY" ] || die "$name.tar.gz has no $name/burrow"
  if [ -d "$WORK/$name/packaging/linux" ]; then SOURCE="$WORK/$name/packaging/linux"; fi
}

install_all() {
  WORK="$(mktemp -d)"
  if [ -z "$BINARY" ] && [ -z "$VERSION" ] && [ -f "$SCRIPT_DIR/../burrow" ]; then
    BINARY="$SCRIPT_DIR/../burrow"
  fi
  SOURCE="$SCRIPT_DIR/linux"
  [ -n "$BINARY" ] || download
  [ -f "$BINARY" ] || die "no such binary: $BINARY"
  [ -f "$SOURCE/burrow-server.service" ] || die "unit files not found in $SOURCE"
  if [ -z "$ROOT" ] && command -v dpkg >/dev/null 2>&1 && dpkg -S /usr/bin/burrow >/dev/null 2>&1; then
    die "Burrow is installed as a Debian package: upgrade it with apt or dpkg instead"
  fi

  if [ -n "$ROOT" ]; then
    say "would run: useradd --system --user-group --home-dir /var/lib/burrow --no-create-home --shell /usr/sbin/nologin burrow (unless it exists)"
  elif ! getent passwd burrow >/dev/null 2>&1; then
    command -v useradd >/dev/null 2>&1 || die "useradd not found: create a system user 'burrow' first"
    shell=/usr/sbin/nologin
    [ -x "$shell" ] || shell=/sbin/nologin
    useradd --system --user-group --home-dir /var/lib/burrow --no-create-home --shell "$shell" burrow
    say "made the system user burrow"
    CHANGED=$((CHANGED + 1))
  fi

  before=$CHANGED
  install_file "$BINARY" "$BIN" 755
  for unit in $UNITS; do
    # The units name /usr/bin/burrow (the package's place); this install's is /usr/local/bin.
    sed 's#/usr/bin/burrow #/usr/local/bin/burrow #' "$SOURCE/$unit.service" >"$WORK/$unit.service"
    install_file "$WORK/$unit.service" "$UNIT_DIR/$unit.service" 644
  done
  program_changed=$((CHANGED - before))

  make_dir "$CONF" 750 root:burrow
  make_dir "$CONF/tls" 750 root:burrow
  for file in server.jsonc agent.jsonc server.d/_example.com.jsonc agent.d/_example.com.jsonc; do
    case "$file" in */*) make_dir "$CONF/${file%/*}" 750 root:burrow ;; esac
    install_conf "$SOURCE/etc/burrow/$file" "$CONF/$file"
  done
  make_dir "$DATA" 750 burrow:burrow

  if [ "$program_changed" -gt 0 ]; then
    systemd_do daemon-reload
    # A new binary or unit: the services that run now restart on it; others stay stopped.
    [ -n "$ROOT" ] || systemd_do try-restart burrow-server.service burrow-agent.service
  fi
  if [ "$CHANGED" -eq 0 ]; then
    say "nothing to change"
  else
    say "done. Configure /etc/burrow (docs/install.md), then: systemctl enable --now burrow-server (or burrow-agent)"
  fi
}

# remove PATH: deletes a file this script installed.
remove() {
  [ -e "$1" ] || return 0
  rm -f "$1"
  say "removed ${1#"$ROOT"}"
}

uninstall_all() {
  WORK="$(mktemp -d)"
  systemd_do disable --now burrow-server.service burrow-agent.service 2>/dev/null || true
  remove "$BIN"
  for unit in $UNITS; do remove "$UNIT_DIR/$unit.service"; done
  systemd_do daemon-reload
  if [ "$PURGE" -eq 0 ]; then
    say "kept /etc/burrow (configuration), /var/lib/burrow (data) and the user burrow: --uninstall --purge removes them"
    return 0
  fi
  rm -rf "$CONF" "$DATA"
  say "removed /etc/burrow and /var/lib/burrow"
  if [ -n "$ROOT" ]; then
    say "would run: userdel burrow"
  elif getent passwd burrow >/dev/null 2>&1; then
    userdel burrow
    say "removed the user burrow"
  fi
}

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo), or install into a folder with --root DIR"
fi
if [ "$UNINSTALL" -eq 1 ]; then
  uninstall_all
else
  install_all
fi
