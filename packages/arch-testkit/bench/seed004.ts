/**
 * Seed 004 what-if, recorded: writes one NDJSON log per fallback design (the kit's test-double events) and a
 * summary to bench-results/seed004.json, so the two logs can be diffed line by line.
 *   pnpm --filter @memhp/arch-testkit bench
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { arm64Backend, type VmemmapFallback } from '@memhp/arch-arm64';
import { createTestHarness } from '../src/test-context.js';

const out = resolve(import.meta.dirname, '../../../bench-results');
mkdirSync(out, { recursive: true });
const summary: Record<string, unknown> = {};
for (const fallback of ['per-pmd', 'redo-all'] as VmemmapFallback[]) {
  const config = { pageSizeBytes: 4096, structPageBytes: 64, kernel: '5.10' as const, features: { vmemmapFallback: fallback } };
  const h = createTestHarness(arm64Backend, config, { failPmdAlloc: (i) => i === 4 });
  const t0 = performance.now();
  const result = h.populate(4 * 262144, 262144);
  const ms = performance.now() - t0;
  const header = { format: 'memhp-arch-testkit-log', arch: 'arm64', config, fault: 'PMD_SIZE allocation #5 fails' };
  writeFileSync(join(out, `seed004-${fallback}.ndjson`), [header, ...h.events].map((e) => JSON.stringify(e)).join('\n') + '\n');
  summary[fallback] = { result, events: h.events.length, ...h.state.touched, leaves: h.state.leaves.size, ptes: h.state.ptes.size, ms: Number(ms.toFixed(2)) };
}
writeFileSync(join(out, 'seed004.json'), JSON.stringify(summary, null, 2) + '\n');
console.log(JSON.stringify(summary, null, 2));
