/**
 * vmemmap bookkeeping through the test backend's x86-like populate/free (apps/docs/kernel/vmemmap.md#sources to apps/docs/kernel/vmemmap.md#x86-sub-pmd, apps/docs/kernel/vmemmap.md#x86-free): PMD leaves,
 * the per-PMD fallback to base pages, page-table pages, sub-PMD sharing with a 56-byte struct page, and the
 * fault injector's PMD failures and fragmentation model.
 */
import { EventBus } from '@memhp/events';
import { describe, expect, it } from 'vitest';
import type { MachineState, MhpFlag, Simulator } from '../src/index.js';
import { GiB, MiB, small } from './support/machines.js';
import { lastOpEvents, modelOf, sim } from './support/raw.js';

const add = (s: Simulator, startBytes: bigint, sizeBytes: bigint, flags: MhpFlag[] = []) =>
  s.exec({ kind: 'add_memory', node: 0, range: { startBytes, sizeBytes }, flags });
const remove = (s: Simulator, startBytes: bigint, sizeBytes: bigint) => s.exec({ kind: 'remove_memory', range: { startBytes, sizeBytes } });
const tables = (s: Simulator) => (s.state as MachineState).vmemmap.pmds;

describe('PMD allocation failure without an altmap', () => {
  it('falls back to 512 base pages in a new PTE table for that PMD only (apps/docs/kernel/vmemmap.md#x86-populate step 2)', () => {
    const s = sim(small(4), { faults: { sites: { pmd: { nth: [1] } } }, bus: new EventBus({ historyLimit: 500 }) });
    const free0 = s.state.counters.nrFreePages;
    expect(add(s, 8n * GiB, 256n * MiB).ok).toBe(true);
    const kinds = [...tables(s).values()].filter((e) => e.kind === 'table' || e.source === 'buddy').map((e) => e.kind);
    expect(kinds.sort()).toEqual(['leaf', 'table']);
    // first section: one PTE table page + 512 base pages; second: one 2 MiB leaf (512 pages)
    expect(free0 - s.state.counters.nrFreePages).toBe(1 + 512 + 512);
    const types = lastOpEvents(s).map((e) => e.type);
    expect(types).toContain('fault.inject');
    expect(types).toContain('vmemmap.alloc_fail');
    // both ranges are returned on removal, the PTE table page too
    expect(remove(s, 8n * GiB, 256n * MiB).ok).toBe(true);
    expect(s.state.counters.nrFreePages).toBe(free0);
  });

  it('takes a memmap_on_memory PMD from the altmap even when every page-allocator PMD allocation would fail', () => {
    // the altmap is tried first and never falls back (apps/docs/kernel/vmemmap.md#sources item 1); exhaustion is in vmemmap-altmap.test.ts
    const s = sim(small(4, '6.18', 'memory_hotplug.memmap_on_memory=1'), { faults: { pmdAllocFailRate: 1 } });
    expect(add(s, 8n * GiB, 128n * MiB, ['memmap_on_memory']).ok).toBe(true);
    expect([...tables(s).values()].some((e) => e.kind === 'leaf' && e.source === 'altmap')).toBe(true);
  });
});

describe('fragmentation model', () => {
  it('serves PMD-sized blocks while free ones remain, then falls back, and gets them back on removal', () => {
    const s = sim(small(4), { faults: { freePmdBlocks: 2 } });
    for (let i = 0n; i < 3n; i++) expect(add(s, 8n * GiB + i * 128n * MiB, 128n * MiB).ok).toBe(true);
    const entries = [...tables(s).values()].filter((e) => e.kind === 'table' || e.source === 'buddy');
    expect(entries.map((e) => e.kind).sort()).toEqual(['leaf', 'leaf', 'table']);
    expect(s.faults.freePmdBlocks).toBe(0);
    expect(remove(s, 8n * GiB, 128n * MiB).ok).toBe(true);
    expect(s.faults.freePmdBlocks).toBe(1);
  });
});

describe('sub-PMD sharing with a 56-byte struct page (x86 PAGE_UNUSED tracking, apps/docs/kernel/vmemmap.md#x86-sub-pmd)', () => {
  // a section's memmap is 32768 × 56 B = 1.75 MiB, so neighbouring sections share 2 MiB leaves
  const machine = () => sim({ ...small(4), structPageBytes: 56 });

  it('accounts 448 boot memmap pages per early section (ceil(32768 × 56 / 4096))', () => {
    // apps/docs/kernel/vmemmap.md#boot-memmap: nr_memmap_boot_pages per early section
    expect(machine().state.counters.nrMemmapBootPages).toBe(32 * 448);
  });

  it('keeps a leaf shared with a neighbour until both ranges are removed', () => {
    const s = machine();
    const before = modelOf(s.state);
    // section 64's memmap starts at 64 × 1.75 MiB = 112 MiB (PMD-aligned); section 65's crosses 114 MiB
    expect(add(s, 8n * GiB, 128n * MiB).ok).toBe(true);
    expect(add(s, 8n * GiB + 128n * MiB, 128n * MiB).ok).toBe(true);
    const leaves = () => [...tables(s).values()].filter((e) => e.kind === 'leaf' && e.source === 'buddy').length;
    expect(leaves()).toBe(2);
    // removing section 64 frees [112, 113.75) MiB of the first leaf; [113.75, 114) still belongs to section 65
    expect(remove(s, 8n * GiB, 128n * MiB).ok).toBe(true);
    expect(leaves()).toBe(2);
    expect(remove(s, 8n * GiB + 128n * MiB, 128n * MiB).ok).toBe(true);
    expect(leaves()).toBe(0);
    expect(modelOf(s.state)).toEqual(before);
  });
});

describe('page-table pages', () => {
  it('allocates a PMD table per 1 GiB of vmemmap (64 GiB of RAM) and frees it when its last leaf goes', () => {
    const s = sim(small(4));
    const pmdTables = () => (s.state as MachineState).vmemmap.tables.pmd.size;
    expect(pmdTables()).toBe(1);
    // 64 GiB of RAM at 64 B per 4 KiB is 1 GiB of vmemmap: RAM at 64 GiB needs a second PMD table
    expect(add(s, 64n * GiB, 128n * MiB).ok).toBe(true);
    expect(pmdTables()).toBe(2);
    expect(remove(s, 64n * GiB, 128n * MiB).ok).toBe(true);
    expect(pmdTables()).toBe(1);
  });
});
