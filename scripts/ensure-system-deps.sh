#!/usr/bin/env bash
# Debian packages the tests need (Chromium for the docs browser test; QEMU, busybox-static, cpio for memhp conform). Installs them when missing and
# when we are root with apt-get; otherwise says what is missing and lets the tests that need it fail.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# memhp conform (packages/conformance): QEMU, the guest's busybox, and cpio for its initramfs; the kernel itself
# is fetched with apt-get download into the cache by the test.
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "warning: missing ${need[*]} (install with: sudo apt-get install -y ${need[*]})" >&2
fi
