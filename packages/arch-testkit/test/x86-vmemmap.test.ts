/**
 * x86-64 vmemmap_populate / vmemmap_free as apps/docs/kernel/vmemmap.md#x86-populate, apps/docs/kernel/vmemmap.md#x86-sub-pmd and apps/docs/kernel/vmemmap.md#x86-free describe them (6.1
 * arch/x86/mm/init_64.c), run inside core: a booted machine hot-adds with add_memory / memremap_pages, core's
 * fault injector fails chosen PMD_SIZE allocations, and the mapping is read from core's page tables.
 */
import { describe, expect, it } from 'vitest';
import type { ArchConfig, Command, KernelVersion, MhpFlag } from '@memhp/core';
import { x86Backend } from '@memhp/arch-x86';
import { bootKitMachine, memmapMapping, ramBackedPages, snapshotVmemmap, vmemmapLeftovers, type KitBootOptions } from '../src/core-run.js';

const cfg = (kernel: KernelVersion = '6.1', structPageBytes = 64, features: ArchConfig['features'] = {}): ArchConfig => ({
  pageSizeBytes: 4096,
  structPageBytes,
  kernel,
  features,
});
// every machine checks the core invariants after each event, so a backend that breaks one fails here
const boot = (config: ArchConfig, opts: KitBootOptions = {}) => bootKitMachine(x86Backend, config, { checkInvariants: true, ...opts });
const SECTION = 128n << 20n; // x86-64 4K: SECTION_SIZE_BITS 27 (apps/docs/kernel/constants.md#per-arch)
const add = (at: bigint, size = SECTION, flags: readonly MhpFlag[] = []): Command => ({ kind: 'add_memory', node: 0, range: { startBytes: at, sizeBytes: size }, flags });
const pmem = (id: string, at: bigint, size: bigint, freePages: number): Command => ({
  kind: 'memremap_pages',
  id,
  node: 0,
  range: { startBytes: at, sizeBytes: size },
  type: 'devdax',
  altmapReserveBytes: 0n,
  altmapFreeBytes: BigInt(freePages) * 4096n,
});

describe('x86-64 vmemmap_populate on core', () => {
  it('maps a 128 MiB section with one 2 MiB PMD leaf from the page allocator (apps/docs/kernel/vmemmap.md#x86-populate, apps/docs/kernel/constants.md#per-arch)', () => {
    const k = boot(cfg());
    expect(k.exec(add(k.baseBytes)).result.ok).toBe(true);
    expect(memmapMapping(k, k.baseBytes, SECTION)).toEqual({ leaves: { buddy: 1 }, ptePages: {}, pteTables: 0, unmapped: 0 });
  });

  it('falls back to 512 base pages for only the PMD whose allocation failed, without an altmap (apps/docs/kernel/vmemmap.md#x86-populate)', () => {
    const k = boot(cfg(), { faults: { sites: { pmd: { nth: [2] } } } });
    // a 2-section add: __add_pages populates section by section, one PMD step each
    expect(k.exec(add(k.baseBytes, 2n * SECTION)).result.ok).toBe(true);
    expect(memmapMapping(k, k.baseBytes, 2n * SECTION)).toEqual({ leaves: { buddy: 1 }, ptePages: { buddy: 512 }, pteTables: 1, unmapped: 0 });
  });

  it('fails with -ENOMEM and no fallback when the PMD block cannot come from the altmap (apps/docs/kernel/vmemmap.md#x86-populate)', () => {
    const k = boot(cfg());
    const op = k.exec(pmem('p', k.baseBytes, SECTION, 511));
    expect(op.result).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(ramBackedPages(op.events, ...k.memmapRange(k.baseBytes, SECTION), 4096n)).toBe(0);
  });

  it('takes the memmap of a memmap_on_memory block from the altmap as a 2 MiB leaf, and gives it back (apps/docs/kernel/memmap-on-memory.md#lifecycle, apps/docs/kernel/memmap-on-memory.md#accounting: v = 512)', () => {
    const k = boot(cfg(), { cmdline: 'memory_hotplug.memmap_on_memory=1' });
    const before = snapshotVmemmap(k.state);
    const op = k.exec(add(k.baseBytes, SECTION, ['memmap_on_memory']));
    expect(op.result.ok).toBe(true);
    expect(memmapMapping(k, k.baseBytes, SECTION).leaves).toEqual({ altmap: 1 });
    expect([...k.state.altmaps.values()].map((a) => a.alloc)).toEqual([512]);
    const rm = k.exec({ kind: 'remove_memory', range: { startBytes: k.baseBytes, sizeBytes: SECTION } });
    expect(rm.events.filter((e) => e.type === 'altmap.destroy').map((e) => (e.payload as { alloc: number }).alloc)).toEqual([0]);
    expect(vmemmapLeftovers(before, k.state)).toEqual([]);
  });

  it('populates a sub-section from RAM with base pages and ignores the altmap (apps/docs/kernel/vmemmap.md#x86-populate rule 1, apps/docs/kernel/zone-device.md#pmem-altmap)', () => {
    const k = boot(cfg());
    expect(k.exec(pmem('p', k.baseBytes, 2n << 20n, 512)).result.ok).toBe(true);
    expect([...k.state.altmaps.values()].map((a) => a.alloc)).toEqual([0]);
    // 512 pfns × 64 B = 32 KiB = 8 base pages
    expect(memmapMapping(k, k.baseBytes, 2n << 20n)).toEqual({ leaves: {}, ptePages: { buddy: 8 }, pteTables: 1, unmapped: 0 });
  });

  it('refuses an altmap without PSE: "no cpu support for altmap allocations" (apps/docs/kernel/vmemmap.md#x86-populate rule 3)', () => {
    const k = boot(cfg('6.1', 64, { pse: false }));
    const op = k.exec(pmem('p', k.baseBytes, SECTION, 32768));
    expect(op.result).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(op.events.some((e) => e.type === 'vmemmap.note' && /no cpu support for altmap/.test((e.payload as { what: string }).what))).toBe(true);
    expect(k.exec(add(k.baseBytes)).result.ok).toBe(true);
    expect(memmapMapping(k, k.baseBytes, SECTION).ptePages).toEqual({ buddy: 512 });
  });

  it('shares a PMD leaf between sections with 56-byte struct pages and frees it only when all of it is unused (apps/docs/kernel/vmemmap.md#x86-sub-pmd)', () => {
    const k = boot(cfg('6.1', 56));
    const before = snapshotVmemmap(k.state);
    // section memmap = 32768 × 56 B = 1.75 MiB: the two sections' memmaps share their second PMD
    expect(k.exec(add(k.baseBytes)).result.ok).toBe(true);
    expect(k.exec(add(k.baseBytes + SECTION)).result.ok).toBe(true);
    expect(memmapMapping(k, k.baseBytes, 2n * SECTION).leaves).toEqual({ buddy: 2 });
    k.exec({ kind: 'remove_memory', range: { startBytes: k.baseBytes, sizeBytes: SECTION } });
    // the second section's first 0.25 MiB still uses the shared leaf
    expect(memmapMapping(k, k.baseBytes + SECTION, SECTION)).toMatchObject({ leaves: { buddy: 2 }, unmapped: 0 });
    k.exec({ kind: 'remove_memory', range: { startBytes: k.baseBytes + SECTION, sizeBytes: SECTION } });
    expect(vmemmapLeftovers(before, k.state)).toEqual([]);
  });

  it('fills a PMD that already holds a PTE table from RAM in 6.1 but from the altmap once x86 uses the generic helper (apps/docs/kernel/vmemmap.md#x86-populate)', () => {
    const run = (kernel: KernelVersion) => {
      // 72-byte struct pages: the first section's memmap ends 0.25 MiB into its second PMD, which falls back to a table
      const k = boot(cfg(kernel, 72), { faults: { sites: { pmd: { nth: [2] } } } });
      expect(k.exec(add(k.baseBytes)).result.ok).toBe(true);
      expect(k.exec(pmem('p', k.baseBytes + SECTION, SECTION, 32768)).result.ok).toBe(true);
      return memmapMapping(k, k.baseBytes + SECTION, SECTION).ptePages.altmap ?? 0;
    };
    expect(run('6.1')).toBe(0);
    // [2.25 MiB, 4 MiB) of the table PMD = 448 base pages from the altmap
    expect(run('6.18')).toBe(448);
  });
});
