/**
 * x86-64 vmemmap_populate / vmemmap_free as DOMAIN.md §3.3, §3.4 and §3.7 describe them (6.1
 * arch/x86/mm/init_64.c), run on the kit's test double.
 */
import { describe, expect, it } from 'vitest';
import type { ArchConfig, KernelVersion } from '@memhp/core';
import { x86Backend } from '@memhp/arch-x86';
import { createTestHarness } from '../src/test-context.js';

const cfg = (kernel: KernelVersion = '6.1', structPageBytes = 64, features: ArchConfig['features'] = {}): ArchConfig => ({
  pageSizeBytes: 4096,
  structPageBytes,
  kernel,
  features,
});
const PPS = 32768; // PAGES_PER_SECTION, x86-64 4K (DOMAIN.md §1.2)
const BASE = 16 * PPS; // 2 GiB, section 16

describe('x86-64 vmemmap_populate', () => {
  it('maps a 128 MiB section with one 2 MiB PMD leaf from the page allocator (DOMAIN.md §3.3, §1.2)', () => {
    const h = createTestHarness(x86Backend, cfg());
    expect(h.populate(BASE, PPS)).toBe(0);
    expect(h.state.leaves.size).toBe(1);
    expect(h.state.held.buddy).toBe(512);
    expect(h.state.ptes.size).toBe(0);
  });

  it('falls back to 512 base pages for only the PMD whose allocation failed, without an altmap (§3.3)', () => {
    const h = createTestHarness(x86Backend, cfg(), { failPmdAlloc: (i) => i === 1 });
    expect(h.populate(BASE, 2 * PPS)).toBe(0); // a 2-section call: two PMD steps
    expect(h.state.leaves.size).toBe(1);
    expect(h.state.ptes.size).toBe(512);
    expect(h.state.pteTables.size).toBe(1);
  });

  it('fails with -ENOMEM and no fallback when the PMD block cannot come from the altmap (§3.3)', () => {
    const h = createTestHarness(x86Backend, cfg());
    const a = h.createAltmap({ basePfn: BASE, free: 511 });
    expect(h.populate(BASE, PPS, a)).toBe('ENOMEM');
    expect(h.state.held.buddy).toBe(0);
  });

  it('takes the memmap of a memmap_on_memory block from the altmap as a 2 MiB leaf (§5.1, §5.3: v = 512)', () => {
    const h = createTestHarness(x86Backend, cfg());
    const a = h.createAltmap({ basePfn: BASE, free: PPS });
    expect(h.populate(BASE, PPS, a)).toBe(0);
    expect(a.alloc).toBe(512);
    h.depopulate(BASE, PPS, a);
    expect(a.alloc).toBe(0);
  });

  it('populates a sub-section from RAM with base pages and ignores the altmap (§3.3 rule 1, §7.3)', () => {
    const h = createTestHarness(x86Backend, cfg());
    const a = h.createAltmap({ basePfn: BASE, free: PPS });
    expect(h.populate(BASE, 512, a)).toBe(0);
    expect(a.alloc).toBe(0);
    // 512 pfns × 64 B = 32 KiB = 8 base pages
    expect(h.state.ptes.size).toBe(8);
    expect(h.state.held.buddy).toBe(8);
  });

  it('refuses an altmap without PSE: "no cpu support for altmap allocations" (§3.3 rule 3)', () => {
    const h = createTestHarness(x86Backend, cfg('6.1', 64, { pse: false }));
    const a = h.createAltmap({ basePfn: BASE, free: PPS });
    expect(h.populate(BASE, PPS, a)).toBe('ENOMEM');
    expect(h.events.some((e) => e.t === 'note' && /no cpu support for altmap/.test(e.what))).toBe(true);
    expect(h.populate(BASE, PPS)).toBe(0);
    expect(h.state.ptes.size).toBe(512);
  });

  it('shares a PMD leaf between sections with 56-byte struct pages and frees it only when all of it is unused (§3.4)', () => {
    const h = createTestHarness(x86Backend, cfg('6.1', 56));
    // section memmap = 32768 × 56 B = 1.75 MiB: sections 16 and 17 share the second PMD of their memmaps
    expect(h.populate(BASE, PPS)).toBe(0);
    expect(h.populate(BASE + PPS, PPS)).toBe(0);
    // memmaps at [14, 15.75) MiB and [15.75, 17.5) MiB of the vmemmap: two leaves, the first one shared
    expect(h.state.leaves.size).toBe(2);
    h.depopulate(BASE, PPS);
    expect(h.state.leaves.size).toBe(2); // section 17's first 0.25 MiB still uses the shared leaf
    expect(h.unmappedPages(...h.memmapRange(BASE + PPS, PPS))).toBe(0);
    h.depopulate(BASE + PPS, PPS);
    expect(h.leftovers()).toEqual([]);
  });

  it('fills a PMD that already holds a PTE table from RAM in 6.1 but from the altmap once x86 uses the generic helper (§3.3)', () => {
    const run = (kernel: KernelVersion) => {
      // 72-byte struct pages: section 16's memmap ends 0.25 MiB into its second PMD, which falls back to a table.
      const h = createTestHarness(x86Backend, cfg(kernel, 72), { failPmdAlloc: (i) => i === 1 });
      expect(h.populate(BASE, PPS)).toBe(0);
      const a = h.createAltmap({ basePfn: BASE + PPS, free: PPS });
      expect(h.populate(BASE + PPS, PPS, a)).toBe(0);
      return h.state.ptes.size === 0 ? -1 : [...h.state.ptes.values()].filter((p) => p.source === 'altmap').length;
    };
    expect(run('6.1')).toBe(0);
    // [2.25 MiB, 4 MiB) of the table PMD = 448 base pages from the altmap
    expect(run('6.18')).toBe(448);
  });
});
