/**
 * Seed 004, the what-if: when a PMD_SIZE vmemmap allocation fails part-way through a section, fall back per PMD
 * (v4, merged in 5.11) or unmap everything mapped so far and redo the whole range with base pages (v1)?
 * Anshuman's review predicted that v1 "unnecessarily goes through large sections" — memory allocated, freed and
 * allocated again, and more page-table pages. The seed's kernel had 1 GiB arm64 sections (5.10: a section's
 * memmap is 16 MiB = 8 PMDs), so the failure of the 5th PMD allocation shows the difference.
 */
import { describe, expect, it } from 'vitest';
import { arm64Backend, type VmemmapFallback } from '@memhp/arch-arm64';
import { createTestHarness } from '../src/test-context.js';

const SECTION_PFNS = 262144; // 1 GiB of 4 KiB pages (SECTION_SIZE_BITS 30 before 5.12, DOMAIN.md §1.2)
const run = (vmemmapFallback: VmemmapFallback) => {
  const h = createTestHarness(
    arm64Backend,
    { pageSizeBytes: 4096, structPageBytes: 64, kernel: '5.10', features: { vmemmapFallback } },
    { failPmdAlloc: (i) => i === 4 },
  );
  const result = h.populate(4 * SECTION_PFNS, SECTION_PFNS);
  return { result, h };
};

describe('seed 004: per-PMD fallback versus redo-all', () => {
  it('fails the hot-add on 5.10 as released (no fallback)', () => {
    expect(run('auto').result).toBe('ENOMEM');
  });

  it('per-PMD (v4): 7 leaves and one PTE table of 512 base pages; every page allocated once', () => {
    const { result, h } = run('per-pmd');
    expect(result).toBe(0);
    expect(h.state.leaves.size).toBe(7);
    expect(h.state.ptes.size).toBe(512);
    expect(h.state.pteTables.size).toBe(1);
    // memmap of 1 GiB = 16 MiB = 4096 pages, each allocated exactly once
    expect(h.state.touched.allocatedPages).toBe(4096);
    expect(h.state.touched.freedPages).toBe(0);
  });

  it('redo-all (v1): the 4 leaves mapped before the failure are freed and the whole 16 MiB is redone with base pages', () => {
    const { result, h } = run('redo-all');
    expect(result).toBe(0);
    expect(h.state.leaves.size).toBe(0);
    expect(h.state.ptes.size).toBe(4096);
    expect(h.state.pteTables.size).toBe(8);
    // touched twice: 4 × 512 pages allocated, freed, then 4096 base pages
    expect(h.state.touched.allocatedPages).toBe(4 * 512 + 4096);
    expect(h.state.touched.freedPages).toBe(4 * 512);
    expect(h.events.filter((e) => e.t === 'pmd.unmap')).toHaveLength(4);
  });

  it('redo-all ends with 7 more page-table pages (8 PTE tables instead of 1) and allocates 9 more on the way', () => {
    const a = run('per-pmd').h.state;
    const b = run('redo-all').h.state;
    expect(b.held.pgtable - a.held.pgtable).toBe(7);
    // vmemmap_free also frees the PMD and PUD tables it emptied (free_empty_tables); the redo allocates them again
    expect(b.touched.pgtableAllocs - a.touched.pgtableAllocs).toBe(9);
  });
});
