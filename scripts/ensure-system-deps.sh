#!/usr/bin/env bash
# Debian packages the tests need (Chromium for the docs browser test; nats-server for the sweep and JetStream
# log tests, which start their own server; QEMU, busybox-static and cpio for memhp conform). Installs them when missing and
# when we are root with apt-get; otherwise says what is missing and lets the tests that need it fail.
set -euo pipefail

# Facilities of every Linux system the events writer tests use (/dev/full for ENOSPC, /dev/shm for tmpfs). A
# minimal container can lack them; create them when we are root, else say so (those tests then fail, not skip).
if [ ! -e /dev/full ]; then
  if [ "$(id -u)" = 0 ]; then mknod -m 666 /dev/full c 1 7; else echo "warning: /dev/full is missing (as root: mknod -m 666 /dev/full c 1 7)" >&2; fi
fi
if [ ! -d /dev/shm ]; then
  if [ "$(id -u)" = 0 ]; then mkdir -p /dev/shm && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm; else echo "warning: /dev/shm is missing (as root: mount -t tmpfs tmpfs /dev/shm)" >&2; fi
fi

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
# memhp conform (packages/conformance): QEMU, the guest's busybox, and cpio for its initramfs; the kernel itself
# is fetched with apt-get download into the cache by the test.
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
# arm64 guests: QEMU's virt machine; UEFI firmware (Debian 13's is fetched into the cache, this one is the offline
# fallback); the arm64 busybox is fetched from Debian too.
command -v qemu-system-aarch64 >/dev/null 2>&1 || need+=(qemu-system-arm)
[ -f /usr/share/AAVMF/AAVMF_CODE.fd ] || need+=(qemu-efi-aarch64)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null
else
  echo "warning: missing ${need[*]} (install with: sudo apt-get install -y ${need[*]})" >&2
fi
