/**
 * Seed 004, the what-if: when a PMD_SIZE vmemmap allocation fails part-way through a section, fall back per PMD
 * (v4, merged in 5.11) or unmap everything mapped so far and redo the whole range with base pages (v1)?
 * Anshuman's review predicted that v1 "unnecessarily goes through large sections" — memory allocated, freed and
 * allocated again, and more page-table pages. The seed's kernel had 1 GiB arm64 sections (5.10: a section's
 * memmap is 16 MiB = 8 PMDs), so the failure of the 5th PMD allocation shows the difference.
 *
 * Runs on core: a booted arm64 5.10 machine hot-adds one section with core's fault injector failing the 5th
 * runtime PMD_SIZE allocation; every number below is read from core's state or the events it recorded.
 */
import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@memhp/events';
import { arm64Backend, type VmemmapFallback } from '@memhp/arch-arm64';
import { bootKitMachine, replayProblems, type KitRun, type OpResult } from '../src/core-run.js';

const PAGE = 4096n;

function run(vmemmapFallback: VmemmapFallback): { k: KitRun; op: OpResult } {
  const k = bootKitMachine(
    arm64Backend,
    { pageSizeBytes: 4096, structPageBytes: 64, kernel: '5.10', features: { vmemmapFallback } },
    { faults: { sites: { pmd: { nth: [5] } } }, checkInvariants: true },
  );
  // one 1 GiB section (SECTION_SIZE_BITS 30 before 5.12, apps/docs/kernel/constants.md#per-arch)
  const op = k.exec({ kind: 'add_memory', node: 0, range: { startBytes: k.baseBytes, sizeBytes: k.sectionBytes }, flags: [] });
  return { k, op };
}

type Range = { start: string; end: string; granularity: 'pmd' | 'pte' };
const ranges = (events: readonly EventEnvelope[], type: string) => events.filter((e) => e.type === type).map((e) => e.payload as Range);
const pages = (rs: readonly Range[]) => rs.reduce((n, r) => n + Number((BigInt(r.end) - BigInt(r.start)) / PAGE), 0);

/** What the section's memmap ended up mapped with, from core's page tables. */
function mappedWith(k: KitRun) {
  const [s, e] = k.memmapRange(k.baseBytes, k.sectionBytes);
  const shift = BigInt(k.state.machine.geometry.pmdShift);
  let leaves = 0;
  let ptes = 0;
  let pteTables = 0;
  for (let i = Number(s >> shift); i < Number((e - 1n) >> shift) + 1; i++) {
    const entry = k.state.vmemmap.pmds.get(i);
    if (entry?.kind === 'leaf') leaves++;
    if (entry?.kind === 'table') {
      pteTables++;
      for (const r of entry.ptes) ptes += r.endIdx - r.startIdx;
    }
  }
  return { leaves, ptes, pteTables };
}

const pgtablePages = (k: KitRun) => Object.values(k.state.vmemmap.tables).reduce((n, m) => n + m.size, 0);

describe('seed 004: per-PMD fallback versus redo-all, on core', () => {
  it('fails the hot-add on 5.10 as released (no fallback)', () => {
    expect(run('auto').op.result).toMatchObject({ ok: false, errno: 'ENOMEM' });
  });

  it('per-PMD (v4): 7 leaves and one PTE table of 512 base pages; every page allocated once', () => {
    const { k, op } = run('per-pmd');
    expect(op.result.ok).toBe(true);
    expect(mappedWith(k)).toEqual({ leaves: 7, ptes: 512, pteTables: 1 });
    // memmap of 1 GiB = 262144 × 64 B = 16 MiB = 4096 pages, each allocated exactly once
    expect(pages(ranges(op.events, 'vmemmap.populate'))).toBe(4096);
    expect(ranges(op.events, 'vmemmap.depopulate')).toEqual([]);
  });

  it('redo-all (v1): the 4 leaves mapped before the failure are freed and the whole 16 MiB is redone with base pages', () => {
    const { k, op } = run('redo-all');
    expect(op.result.ok).toBe(true);
    expect(mappedWith(k)).toEqual({ leaves: 0, ptes: 4096, pteTables: 8 });
    // touched twice: 4 × 512 pages allocated, freed, then 4096 base pages
    expect(pages(ranges(op.events, 'vmemmap.populate'))).toBe(4 * 512 + 4096);
    const freed = ranges(op.events, 'vmemmap.depopulate');
    expect(pages(freed)).toBe(4 * 512);
    expect(freed.filter((r) => r.granularity === 'pmd')).toHaveLength(4);
  });

  it('redo-all ends with 7 more page-table pages (8 PTE tables instead of 1) and allocates 8 more on the way', () => {
    const a = run('per-pmd');
    const b = run('redo-all');
    expect(pgtablePages(b.k) - pgtablePages(a.k)).toBe(7);
    // the 7 PTE tables, plus the PMD table the unmap emptied and freed (free_empty_tables) and the redo allocated
    // again; the PUD table above it stays because boot memory's memmap shares it
    const allocs = (op: OpResult) => op.events.filter((e) => e.type === 'vmemmap.pgtable_alloc').length;
    expect(allocs(b.op) - allocs(a.op)).toBe(8);
  });

  it('the two designs leave logs that replay, and differ only from the failed allocation on', () => {
    const a = run('per-pmd');
    const b = run('redo-all');
    const types = (op: OpResult) => op.events.map((e) => e.type);
    const firstDiff = types(a.op).findIndex((t, i) => t !== types(b.op)[i] || JSON.stringify(a.op.events[i]!.payload) !== JSON.stringify(b.op.events[i]!.payload));
    // everything up to and including the injected failure of PMD allocation #5 is the same
    const failAt = types(a.op).indexOf('vmemmap.alloc_fail');
    // and the event right after it is the first to differ (the per-PMD fallback note vs the redo's unmap)
    expect(firstDiff).toBe(failAt + 1);
    expect([...replayProblems(a.k), ...replayProblems(b.k)]).toEqual([]);
  });
});
