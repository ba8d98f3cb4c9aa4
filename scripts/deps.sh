#!/usr/bin/env bash
# Install the Debian 12 packages Aldis needs to build and test, when missing.
# Runs apt-get only as root and only for packages not installed yet.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang
      libuv1-dev libexpat1-dev libssl-dev libgsasl-dev libidn-dev libidn2-dev
      libsqlite3-dev libyaml-dev libcmocka-dev
      libwebsockets-dev libxml2-dev libtasn1-6-dev libtasn1-bin libxmlsec1-dev xmlsec1
      chromium fonts-noto-color-emoji
      python3 python3-slixmpp python3-aioxmpp python3-nbxmpp openssl sqlite3)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The web client builds with Node.js and npm: Debian's (18.19) when the
# machine has none of its own.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "aldis: missing Debian packages: ${missing[*]}" >&2
  echo "aldis: run 'sudo scripts/deps.sh' (or install them) and try again" >&2
  exit 1
fi
echo "aldis: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
