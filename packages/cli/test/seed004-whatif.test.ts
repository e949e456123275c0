/**
 * Seed 004's what-if as a user runs it: the two fallback designs the thread weighed, on the same injected failure
 * (arm64 4K, kernel 5.10, 1 GiB sections → 16 MiB of memmap = 8 PMD_SIZE blocks; the 5th allocation fails).
 * Expected numbers follow from apps/docs/kernel/constants.md#per-arch (1 GiB section before 5.12, 2 MiB memmap per 128 MiB) and apps/docs/kernel/vmemmap.md#arm64-populate:
 *  - per-PMD (v4, merged): 7 leaves + 512 base pages = 16 MiB from the page allocator, nothing freed;
 *  - redo-all (v1, rejected): 4 leaves (8 MiB) mapped, unmapped and freed, then 16 MiB of base pages = 24 MiB
 *    allocated, 8 MiB of it touched twice.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { memhp, memhpInProcess, tmp } from './helpers.js';

const MiB = 1024 * 1024;

interface RunJson {
  summary: { memmapBytesBySource: Record<string, number>; memmapBytesFreed: Record<string, number>; mappings: { pmd: number; pte: number } };
}

describe('seed 004 what-if: per-PMD fallback vs abort-and-redo with base pages', () => {
  it('records two logs whose memmap accounting differs the way the thread predicts', async () => {
    const dir = tmp();
    const runs: Record<string, RunJson> = {};
    for (const design of ['per-pmd', 'redo-all'] as const) {
      const r = await memhp(['run', `examples/scenarios/004-whatif-${design}.yaml`, '-o', join(dir, `${design}.ndjson`), '--json']);
      expect(r.code, r.stderr).toBe(0);
      runs[design] = JSON.parse(r.stdout) as RunJson;
    }
    const perPmd = runs['per-pmd']!.summary;
    const redoAll = runs['redo-all']!.summary;
    expect(perPmd.memmapBytesBySource.buddy).toBe(16 * MiB);
    expect(perPmd.memmapBytesFreed.buddy ?? 0).toBe(0);
    expect(redoAll.memmapBytesBySource.buddy).toBe(24 * MiB);
    expect(redoAll.memmapBytesFreed.buddy).toBe(8 * MiB);

    // memhp diff names the first event where the designs part ways: the failed PMD allocation's aftermath.
    const d = await memhpInProcess(['diff', join(dir, 'per-pmd.ndjson'), join(dir, 'redo-all.ndjson'), '--json']);
    type Side = { type: string; payload: { what?: string } };
    const diff = JSON.parse(d.stdout) as { identical: boolean; firstDivergence: { seq: number; a: Side; b: Side } };
    expect(diff.identical).toBe(false);
    expect(diff.firstDivergence.a.type).toBe('vmemmap.note');
    expect(diff.firstDivergence.a.payload.what).toMatch(/this PMD falls back to base pages/);
    expect(diff.firstDivergence.b.payload.what).toMatch(/unmapping the whole range and redoing it with base pages/);
  }, 60_000);
});
