#!/usr/bin/env bash
# The conformance matrix (issue 17): every scenario of packages/conformance/scenarios on every kernel, compared
# with the model; results saved as JSON fixtures and the docs page regenerated from them.
# Usage: pnpm conformance [kernel spec ...]   (default: debian:6.1 debian:6.12)
# Needs qemu-system-x86, qemu-system-arm (arm64 scenarios), busybox-static, cpio and apt-get
# (scripts/ensure-system-deps.sh). Takes minutes: one
# QEMU boot per scenario and kernel (10–30 s each under TCG; arm64 16–40 s, more under load).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
pnpm turbo run build --filter @memhp/cli --output-logs=errors-only >/dev/null
kernels=("$@")
[ ${#kernels[@]} -eq 0 ] && kernels=(debian:6.1 debian:6.12)
status=0
for k in "${kernels[@]}"; do
  echo "== $k" >&2
  node packages/cli/dist/bin.js conform packages/conformance/scenarios/*.yaml --kernel "$k" --known packages/conformance/known-differences.yaml --save packages/conformance/fixtures || status=$?
done
node scripts/gen-conformance-page.mjs
exit "$status"
