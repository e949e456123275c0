/**
 * Seed 004 what-if, recorded on core: one memhp log per fallback design (a booted arm64 5.10 machine hot-adds a
 * 1 GiB section while core's fault injector fails the 5th PMD_SIZE allocation) and a summary in
 * bench-results/seed004.json. The logs are ordinary memhp logs: `memhp replay` and `memhp diff` read them.
 *   pnpm --filter @memhp/arch-testkit bench
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serializeEvent, serializeHeader } from '@memhp/events';
import { arm64Backend, type VmemmapFallback } from '@memhp/arch-arm64';
import { bootKitMachine } from '../src/core-run.js';

const out = resolve(import.meta.dirname, '../../../bench-results');
mkdirSync(out, { recursive: true });
const summary: Record<string, unknown> = {};
for (const fallback of ['per-pmd', 'redo-all'] as VmemmapFallback[]) {
  const config = { pageSizeBytes: 4096, structPageBytes: 64, kernel: '5.10' as const, features: { vmemmapFallback: fallback } };
  const k = bootKitMachine(arm64Backend, config, { faults: { sites: { pmd: { nth: [5] } } } });
  const t0 = performance.now();
  const op = k.exec({ kind: 'add_memory', node: 0, range: { startBytes: k.baseBytes, sizeBytes: k.sectionBytes }, flags: [] });
  const ms = performance.now() - t0;
  writeFileSync(join(out, `seed004-${fallback}.ndjson`), [serializeHeader(k.sim.header()), ...k.events.map(serializeEvent)].join('\n') + '\n');
  const pageCount = (type: string) =>
    op.events
      .filter((e) => e.type === type)
      .reduce((n, e) => n + Number((BigInt((e.payload as { end: string }).end) - BigInt((e.payload as { start: string }).start)) / 4096n), 0);
  summary[fallback] = {
    result: op.result.ok ? 0 : op.result.errno,
    events: op.events.length,
    allocatedPages: pageCount('vmemmap.populate'),
    freedPages: pageCount('vmemmap.depopulate'),
    pgtableAllocs: op.events.filter((e) => e.type === 'vmemmap.pgtable_alloc').length,
    ms: Number(ms.toFixed(2)),
  };
}
writeFileSync(join(out, 'seed004.json'), JSON.stringify(summary, null, 2) + '\n');
console.log(JSON.stringify(summary, null, 2));
