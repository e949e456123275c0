#!/usr/bin/env bash
# The README's first command: install, build, and run memhp's main job on a built-in example.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
pnpm install --frozen-lockfile
pnpm turbo run build --output-logs=errors-only
mkdir -p .tmp
pnpm exec memhp run examples/scenarios/cloud-hot-add-12g.yaml -o .tmp/cloud-hot-add-12g.ndjson
