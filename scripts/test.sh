#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs, builds, lints, typechecks and runs every test.
# Usage: npm test   (the README's second command; .ci/run calls it too)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

bash scripts/ensure-system-deps.sh
pnpm install --frozen-lockfile
pnpm turbo run build
pnpm turbo run typecheck
pnpm lint

rm -f .vitest.json
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.vitest.json || status=$?
if [ -f .vitest.json ]; then
  node scripts/summarize-vitest.mjs .vitest.json
else
  echo "0 passed, 1 failed"
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
