/**
 * arm64 vmemmap_populate per kernel version (apps/docs/kernel/vmemmap.md#arm64-populate; seed 004), run inside core: a booted machine
 * hot-adds with add_memory / memremap_pages, core's fault injector fails PMD_SIZE allocations, and the mapping is
 * read from core's page tables.
 */
import { describe, expect, it } from 'vitest';
import type { ArchConfig, Command, KernelVersion } from '@memhp/core';
import { arm64Backend } from '@memhp/arch-arm64';
import { bootKitMachine, memmapMapping, ramBackedPages, type KitBootOptions } from '../src/core-run.js';

const cfg = (kernel: KernelVersion, pageSizeBytes = 4096, features: ArchConfig['features'] = {}, structPageBytes = 64): ArchConfig => ({
  pageSizeBytes,
  structPageBytes,
  kernel,
  features,
});
// every machine checks the core invariants after each event, so a backend that breaks one fails here
const boot = (config: ArchConfig, opts: KitBootOptions = {}) => bootKitMachine(arm64Backend, config, { checkInvariants: true, ...opts });
const ALL_PMD_FAIL: KitBootOptions = { faults: { pmdAllocFailRate: 1 } };
const SUB = 2n << 20n; // SUBSECTION_SHIFT 21 on every arch (apps/docs/kernel/constants.md#arch-independent)
const add = (at: bigint, size: bigint): Command => ({ kind: 'add_memory', node: 0, range: { startBytes: at, sizeBytes: size }, flags: [] });
const devdax = (id: string, at: bigint, size: bigint, altmap?: { reserve: number; free: number; page: bigint }): Command => ({
  kind: 'memremap_pages',
  id,
  node: 0,
  range: { startBytes: at, sizeBytes: size },
  type: 'devdax',
  ...(altmap ? { altmapReserveBytes: BigInt(altmap.reserve) * altmap.page, altmapFreeBytes: BigInt(altmap.free) * altmap.page } : {}),
});
const altmapAlloc = (k: ReturnType<typeof boot>) => [...k.state.altmaps.values()].map((a) => a.alloc);

describe('arm64 vmemmap_populate on core', () => {
  it('fails the hot-add with -ENOMEM when a PMD allocation fails before 5.11 (seed 004 original behaviour)', () => {
    // 5.10: one 1 GiB section, memmap 16 MiB = 8 PMDs (apps/docs/kernel/constants.md#per-arch notes)
    const k = boot(cfg('5.10'), ALL_PMD_FAIL);
    expect(k.exec(add(k.baseBytes, k.sectionBytes)).result).toMatchObject({ ok: false, errno: 'ENOMEM' });
  });

  it('falls back per PMD to base pages from 5.11 (seed 004 v4, commit 9f84f39f5515)', () => {
    const k = boot(cfg('6.0'), ALL_PMD_FAIL);
    expect(k.exec(add(k.baseBytes, k.sectionBytes)).result.ok).toBe(true);
    // 128 MiB section: memmap 2 MiB = 512 base pages (apps/docs/kernel/constants.md#per-arch arm64 4K row)
    expect(memmapMapping(k, k.baseBytes, k.sectionBytes)).toEqual({ leaves: {}, ptePages: { buddy: 512 }, pteTables: 1, unmapped: 0 });
  });

  it('takes the fallback base pages from the same altmap in 5.11–6.1 (seed 004 v3: "fallback to altmap base pages as well")', () => {
    // A pmem-like altmap: reserve 2 pfns, so the 512-pfn PMD block needs 510 pfns of padding and does not fit in 600
    const k = boot(cfg('6.0'));
    const op = k.exec(devdax('p', k.baseBytes, k.sectionBytes, { reserve: 2, free: 600, page: 4096n }));
    expect(op.result.ok).toBe(true);
    expect(altmapAlloc(k)).toEqual([512]);
    expect(ramBackedPages(op.events, ...k.memmapRange(k.baseBytes, k.sectionBytes), 4096n)).toBe(0);
  });

  it('fails the same altmap case with -ENOMEM once arm64 uses the generic helper (≈6.4, apps/docs/kernel/vmemmap.md#arm64-populate)', () => {
    const k = boot(cfg('6.6'));
    expect(k.exec(devdax('p', k.baseBytes, k.sectionBytes, { reserve: 2, free: 600, page: 4096n })).result).toMatchObject({ ok: false, errno: 'ENOMEM' });
  });

  it('uses base pages for 16K and 64K granules, passing the altmap (ARM64_KERNEL_USES_PMD_MAPS is 4K only)', () => {
    for (const p of [16384, 65536]) {
      const k = boot(cfg('6.1', p));
      const pps = Number(k.sectionBytes / k.pageBytes);
      expect(k.exec(devdax('p', k.baseBytes, k.sectionBytes, { reserve: 0, free: pps, page: k.pageBytes })).result.ok).toBe(true);
      expect(memmapMapping(k, k.baseBytes, k.sectionBytes).leaves).toEqual({});
      // 8192 pfns × 64 B = 512 KiB = 32 pages of 16 KiB or 8 pages of 64 KiB (apps/docs/kernel/constants.md#per-arch)
      expect(altmapAlloc(k)).toEqual([p === 16384 ? 32 : 8]);
    }
  });

  it('before the sub-section fix, removing one sub-section frees the PMD its neighbour still uses (apps/docs/kernel/vmemmap.md#arm64-populate, 6.14/6.15 row)', () => {
    const k = boot(cfg('6.0'), { checkInvariants: false }); // the kernel bug leaves a valid sub-section unmapped: the invariant would fire
    expect(k.exec(devdax('a', k.baseBytes, SUB)).result.ok).toBe(true);
    expect(k.exec(devdax('b', k.baseBytes + SUB, SUB)).result.ok).toBe(true);
    k.exec({ kind: 'memunmap_pages', id: 'a' });
    // 512 pfns × 64 B = 32 KiB = 8 vmemmap pages of the neighbour, unmapped with the shared leaf
    expect(memmapMapping(k, k.baseBytes + SUB, SUB).unmapped).toBe(8);
  });

  it('with invariants checked, the same pre-fix removal fails the memmap invariant, naming the neighbour\'s sub-section', () => {
    const k = boot(cfg('6.0'));
    expect(k.exec(devdax('a', k.baseBytes, SUB)).result.ok).toBe(true);
    expect(k.exec(devdax('b', k.baseBytes + SUB, SUB)).result.ok).toBe(true);
    expect(() => k.exec({ kind: 'memunmap_pages', id: 'a' })).toThrow(/invariant "present valid sections have their memmap mapped" violated .*sub-section 1: memmap not mapped/);
  });

  it('with the sub-section fix (6.1.y backport, 6.14+) maps sub-sections with base pages and keeps the neighbour', () => {
    for (const kernel of ['6.1', '6.18'] as const) {
      const k = boot(cfg(kernel));
      expect(k.exec(devdax('a', k.baseBytes, SUB)).result.ok).toBe(true);
      expect(k.exec(devdax('b', k.baseBytes + SUB, SUB)).result.ok).toBe(true);
      expect(memmapMapping(k, k.baseBytes, 2n * SUB).leaves).toEqual({});
      k.exec({ kind: 'memunmap_pages', id: 'a' });
      expect(memmapMapping(k, k.baseBytes + SUB, SUB)).toEqual({ leaves: {}, ptePages: { buddy: 8 }, pteTables: 1, unmapped: 0 });
    }
  });

  it('only verifies a PMD that already holds a fallback PTE table, leaving a 72-byte neighbour section unmapped (kernel behaviour 5.11+)', () => {
    // 72 B: the first section's memmap ends 0.25 MiB into its second PMD; that PMD falls back; the next section finds a table
    const k = boot(cfg('6.0', 4096, {}, 72), { faults: { sites: { pmd: { nth: [2] } } }, checkInvariants: false }); // leaves a section unmapped, as the kernel does
    expect(k.exec(add(k.baseBytes, k.sectionBytes)).result.ok).toBe(true);
    expect(k.exec(add(k.baseBytes + k.sectionBytes, k.sectionBytes)).result.ok).toBe(true);
    // [2.25 MiB, 4 MiB) of the table PMD: 448 vmemmap pages the second section needs and nobody maps
    expect(memmapMapping(k, k.baseBytes + k.sectionBytes, k.sectionBytes).unmapped).toBe(448);
  });
});
