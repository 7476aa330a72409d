#!/usr/bin/env bash
# Smoke test of a built .deb on a machine where systemd runs (a GitHub ubuntu runner; not
# in a container): the units really start under their sandbox.
#   packaging/linux/smoke-deb.sh DEB
# Installs DEB, puts a throw-away certificate in /etc/burrow/tls, enables the sample domain
# "localhost" on both sides (the agent trusts nothing: "insecure", loopback only), starts
# burrow-server (binding 443 as the burrow user) and burrow-agent, fetches one page from a
# local web server through the tunnel, reloads the server (SIGHUP: "Reloaded on SIGHUP" in
# the journal), checks the audit database in /var/lib/burrow, then purges the package and
# checks that the user, /etc/burrow and /var/lib/burrow are gone.
# Needs root (or sudo), systemd, curl, openssl and python3. Changes the machine: run it on a
# throw-away runner only.
set -euo pipefail

[ "$#" -eq 1 ] || { echo "Usage: packaging/linux/smoke-deb.sh DEB" >&2; exit 2; }
DEB="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[ -d /run/systemd/system ] || { echo "smoke-deb: systemd is not running here" >&2; exit 1; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
WORK="$(mktemp -d)"
APP_PID=""
step() { echo "smoke-deb: $*"; }
journal() {
  $SUDO journalctl --no-pager -u burrow-server -u burrow-agent --since "@$START" || true
}
cleanup() {
  local status=$?
  [ "$status" -eq 0 ] || journal
  [ -z "$APP_PID" ] || kill "$APP_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
START="$(date +%s)"

step "install $DEB"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "$DEB"
getent passwd burrow
! systemctl is-enabled --quiet burrow-server || { echo "burrow-server is enabled" >&2; exit 1; }
! systemctl is-active --quiet burrow-server || { echo "burrow-server is running" >&2; exit 1; }

step "configure: a throw-away certificate, the sample domain as localhost on both sides"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
$SUDO install -m 0640 -o root -g burrow "$WORK/cert.pem" /etc/burrow/tls/cert.pem
$SUDO install -m 0640 -o root -g burrow "$WORK/key.pem" /etc/burrow/tls/key.pem
SECRET="smoke-$(openssl rand -hex 16)"
echo "{ \"active\": true, \"secret\": \"$SECRET\" }" >"$WORK/server.jsonc"
cat >"$WORK/agent.jsonc" <<EOF
{
  "active": true,
  "secret": "$SECRET",
  "remote": "127.0.0.1:443",
  "insecure": true,
  "targets": [{ "target": "http://127.0.0.1:8765" }]
}
EOF
$SUDO install -m 0640 -o root -g burrow "$WORK/server.jsonc" /etc/burrow/server.d/localhost.jsonc
$SUDO install -m 0640 -o root -g burrow "$WORK/agent.jsonc" /etc/burrow/agent.d/localhost.jsonc
$SUDO burrow check --strict /etc/burrow/server.jsonc /etc/burrow/agent.jsonc

step "a local web server and both services"
mkdir "$WORK/site"
echo "hello through burrow" >"$WORK/site/index.html"
python3 -m http.server 8765 --bind 127.0.0.1 --directory "$WORK/site" >/dev/null 2>&1 &
APP_PID=$!
$SUDO systemctl start burrow-server burrow-agent
systemctl is-active burrow-server burrow-agent

step "one request through the tunnel (the agent may take a moment to register)"
body=""
for _ in $(seq 1 60); do
  body="$(curl -sk --max-time 5 --resolve localhost:443:127.0.0.1 https://localhost/ || true)"
  [ "$body" = "hello through burrow" ] && break
  sleep 1
done
[ "$body" = "hello through burrow" ] || { echo "no answer through the tunnel: '$body'" >&2; exit 1; }

step "systemctl reload burrow-server: SIGHUP re-reads the configuration"
$SUDO systemctl reload burrow-server
for _ in $(seq 1 30); do
  journal | grep -q "Reloaded on SIGHUP" && break
  sleep 1
done
journal | grep "Reloaded on SIGHUP"
systemctl is-active burrow-server

step "the audit database is in /var/lib/burrow, the only place the server may write"
$SUDO test -f /var/lib/burrow/burrow.db
[ "$($SUDO stat -c %U /var/lib/burrow/burrow.db)" = burrow ]

step "purge"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get purge -y burrow
! getent passwd burrow || { echo "the user burrow is still there" >&2; exit 1; }
[ ! -e /etc/burrow ] && [ ! -e /var/lib/burrow ] && [ ! -e /usr/bin/burrow ]
step "ok"
