/**
 * arm64 vmemmap_populate per kernel version (DOMAIN.md §3.5; seed 004), run on the kit's test double.
 */
import { describe, expect, it } from 'vitest';
import type { ArchConfig, KernelVersion } from '@memhp/core';
import { arm64Backend } from '@memhp/arch-arm64';
import { createTestHarness } from '../src/test-context.js';

const cfg = (kernel: KernelVersion, pageSizeBytes = 4096, features: ArchConfig['features'] = {}, structPageBytes = 64): ArchConfig => ({
  pageSizeBytes,
  structPageBytes,
  kernel,
  features,
});
const PPS = 32768; // 4K, 5.12+: 128 MiB sections (DOMAIN.md §1.2)
const BASE = 32 * PPS;

describe('arm64 vmemmap_populate', () => {
  it('fails the hot-add with -ENOMEM when a PMD allocation fails before 5.11 (seed 004 original behaviour)', () => {
    const h = createTestHarness(arm64Backend, cfg('5.10'), { failPmdAlloc: () => true });
    // 5.10: one 1 GiB section = 262144 pfns, memmap 16 MiB = 8 PMDs
    expect(h.populate(4 * 262144, 262144)).toBe('ENOMEM');
  });

  it('falls back per PMD to base pages from 5.11 (seed 004 v4, commit 9f84f39f5515)', () => {
    const h = createTestHarness(arm64Backend, cfg('6.0'), { failPmdAlloc: () => true });
    expect(h.populate(BASE, PPS)).toBe(0);
    expect(h.state.ptes.size).toBe(512);
  });

  it('takes the fallback base pages from the same altmap in 5.11–6.1 (seed 004 v3: "fallback to altmap base pages as well")', () => {
    // A pmem-like altmap: reserve 2 pfns, so the 512-pfn PMD block needs 510 pfns of padding and does not fit in 600
    const h = createTestHarness(arm64Backend, cfg('6.0'));
    const a = h.createAltmap({ basePfn: BASE, reserve: 2, free: 600 });
    expect(h.populate(BASE, PPS, a)).toBe(0);
    expect(a.alloc).toBe(512);
    expect(h.state.held.buddy).toBe(0);
  });

  it('fails the same altmap case with -ENOMEM once arm64 uses the generic helper (≈6.4, DOMAIN.md §3.5)', () => {
    const h = createTestHarness(arm64Backend, cfg('6.6'));
    const a = h.createAltmap({ basePfn: BASE, reserve: 2, free: 600 });
    expect(h.populate(BASE, PPS, a)).toBe('ENOMEM');
  });

  it('uses base pages for 16K and 64K granules, passing the altmap (ARM64_KERNEL_USES_PMD_MAPS is 4K only)', () => {
    for (const p of [16384, 65536]) {
      const h = createTestHarness(arm64Backend, cfg('6.1', p));
      const pps = h.pagesPerSection;
      const a = h.createAltmap({ basePfn: 8 * pps, free: pps });
      expect(h.populate(8 * pps, pps, a)).toBe(0);
      expect(h.state.leaves.size).toBe(0);
      // 8192 pfns × 64 B = 512 KiB = 32 pages of 16 KiB or 8 pages of 64 KiB (DOMAIN.md §1.2)
      expect(a.alloc).toBe(p === 16384 ? 32 : 8);
    }
  });

  it('before the sub-section fix, removing one sub-section frees the PMD its neighbour still uses (DOMAIN.md §3.5, 6.14/6.15 row)', () => {
    const h = createTestHarness(arm64Backend, cfg('6.0'));
    expect(h.populate(BASE, 512)).toBe(0);
    expect(h.populate(BASE + 512, 512)).toBe(0);
    h.depopulate(BASE, 512);
    expect(h.unmappedPages(...h.memmapRange(BASE + 512, 512))).toBeGreaterThan(0);
  });

  it('with the sub-section fix (6.1.y backport, 6.14+) maps sub-sections with base pages and keeps the neighbour', () => {
    for (const k of ['6.1', '6.18'] as const) {
      const h = createTestHarness(arm64Backend, cfg(k));
      expect(h.populate(BASE, 512)).toBe(0);
      expect(h.populate(BASE + 512, 512)).toBe(0);
      expect(h.state.leaves.size).toBe(0);
      h.depopulate(BASE, 512);
      expect(h.unmappedPages(...h.memmapRange(BASE + 512, 512))).toBe(0);
    }
  });

  it('only verifies a PMD that already holds a fallback PTE table, leaving a 72-byte neighbour section unmapped (kernel behaviour 5.11+)', () => {
    // 72 B: section 32's memmap ends 0.25 MiB into its second PMD; that PMD falls back; section 33 then finds a table
    const h = createTestHarness(arm64Backend, cfg('6.0', 4096, {}, 72), { failPmdAlloc: (i) => i === 1 });
    expect(h.populate(BASE, PPS)).toBe(0);
    expect(h.populate(BASE + PPS, PPS)).toBe(0);
    expect(h.unmappedPages(...h.memmapRange(BASE + PPS, PPS))).toBeGreaterThan(0);
  });
});
