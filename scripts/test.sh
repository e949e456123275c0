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
# counts tests that did not run (a hook or the file failed) as failed, and agrees with vitest's exit status
unit=$(node scripts/summarize-vitest.mjs .vitest.json --exit-code "$status")
echo "unit, property and browser tests: $unit"

# Publishing: pack every package, publint/attw, publish dry run, install the tarballs and run memhp.
mkdir -p .tmp
pack_status=0
node scripts/pack-check.mjs > .tmp/pack-check.log 2>&1 || pack_status=$?
pack=$(grep -E '^[0-9]+ passed, [0-9]+ failed' .tmp/pack-check.log | tail -n 1 || true)
[ -n "$pack" ] || pack="0 passed, 1 failed"
if [ "$pack_status" -ne 0 ] && [[ "$pack" =~ ^[0-9]+\ passed,\ 0\ failed ]]; then pack="${pack/ 0 failed/ 1 failed}"; fi
echo "pack check: $pack"
if [ "$pack_status" -ne 0 ]; then cat .tmp/pack-check.log; status=1; fi

# The closing line CI reads: the counts added up ("N passed, N failed, N skipped"); a failure in it fails the run.
total=$(node scripts/summarize-vitest.mjs --sum "$unit" "$pack")
echo "$total"
[[ "$total" =~ \ 0\ failed ]] || status=1
exit "$status"
