#!/usr/bin/env bash
# Debian packages the tests need (Chromium for the docs browser test, nats-server for the sweep and
# JetStream log tests, which start their own server). Installs them when missing and
# when we are root with apt-get; otherwise says what is missing and lets the tests that need it fail.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null
else
  echo "warning: missing ${need[*]} (install with: sudo apt-get install -y ${need[*]})" >&2
fi
