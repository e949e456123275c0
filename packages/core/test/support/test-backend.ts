/**
 * A small x86-64-like backend for core's own tests (core must not import @memhp/arch-*): 4K pages, 128 MiB
 * sections, 2 MiB PMD leaves with the per-PMD fallback to base pages, no altmap for sub-section ranges, the
 * sub-PMD PAGE_UNUSED bookkeeping, and the x86 memory-block-size policy (apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/vmemmap.md#x86-populate, apps/docs/kernel/vmemmap.md#x86-sub-pmd, apps/docs/kernel/vmemmap.md#x86-free, apps/docs/kernel/hotplug.md#memory-blocks).
 */
import type { AltmapHandle, ArchBackend, ArchConfig, ErrnoName, VmemmapContext } from '../../src/index.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;

const flag = (c: ArchConfig, k: string): boolean => c.features[k] === true;

function pmdAddrEnd(addr: bigint, end: bigint, pmd: bigint): bigint {
  const b = (addr & ~(pmd - 1n)) + pmd;
  return b < end ? b : end;
}

function populate(ctx: VmemmapContext, start: bigint, end: bigint, node: number, altmap: AltmapHandle | null): 0 | ErrnoName {
  if (end - start < BigInt(ctx.sectionMemmapBytes)) return ctx.populateBasePages(start, end, node, null, 'sub-section range');
  if (!flag(ctx.config, 'pse')) return altmap ? 'ENOMEM' : ctx.populateBasePages(start, end, node, null, 'no PSE');
  const pmd = 1n << BigInt(ctx.constants.pmdShift);
  for (let addr = start, next: bigint; addr < end; addr = next) {
    next = pmdAddrEnd(addr, end, pmd);
    const e = ctx.pmdEntry(addr);
    if (e === 'none') {
      const blk = ctx.allocPmdBlock(addr, node, altmap);
      if (blk) {
        const r = ctx.mapPmdLeaf(addr, blk.source);
        if (r !== 0) return r;
        if (addr % pmd !== 0n || next % pmd !== 0n) {
          const base = addr & ~(pmd - 1n);
          if (addr !== base) ctx.markPmdUnused(base, addr);
          if (next % pmd !== 0n) ctx.markPmdUnused(next, base + pmd);
        }
        continue;
      }
      if (altmap) return 'ENOMEM';
      if (ctx.populateBasePages(addr, next, node, null, 'PMD allocation failed') !== 0) return 'ENOMEM';
    } else if (e === 'leaf') {
      ctx.verifyPmd(addr, node);
      ctx.markPmdUsed(addr, next);
    } else if (ctx.populateBasePages(addr, next, node, null, 'PMD holds a PTE table') !== 0) return 'ENOMEM';
  }
  return 0;
}

function free(ctx: VmemmapContext, start: bigint, end: bigint, altmap: AltmapHandle | null): void {
  const pmd = 1n << BigInt(ctx.constants.pmdShift);
  for (let addr = start, next: bigint; addr < end; addr = next) {
    next = pmdAddrEnd(addr, end, pmd);
    if ((addr % pmd !== 0n || next % pmd !== 0n) && ctx.pmdEntry(addr) === 'leaf') ctx.markPmdUnused(addr, next);
  }
  ctx.unmapRange(start, end, altmap, { freePartialLeaves: false });
}

export const testBackend: ArchBackend = {
  id: 'test-x86',
  displayName: 'x86-64-like test backend',
  pageSizes: [4096],
  features: [
    { name: 'pse', kind: 'bool', default: 'y', description: '2 MiB pages' },
    { name: 'pdpe1gb', kind: 'bool', default: 'y', description: '1 GiB pages' },
    { name: 'la57', kind: 'bool', default: 'n', description: '5-level paging' },
    { name: 'hypervisor', kind: 'bool', default: 'y', description: 'running in a VM' },
  ],
  supports: () => ({ supported: true }),
  constants: (c) => ({
    arch: 'test-x86',
    pageShift: 12,
    sectionSizeBits: 27,
    maxPhysmemBits: flag(c, 'la57') ? 52 : 46,
    pmdShift: 21,
    pudShift: 30,
    pgtableLevels: flag(c, 'la57') ? 5 : 4,
    pageblockOrder: 9,
    maxBuddyOrder: 10,
    vmemmapBase: flag(c, 'la57') ? 0xffd4000000000000n : 0xffffea0000000000n,
    memSectionBytes: 16,
    lowZones: [
      { zone: 'DMA', endBytes: 16n * MiB },
      { zone: 'DMA32', endBytes: 4n * GiB },
    ],
  }),
  capabilities: () => ({
    memoryHotplug: true,
    memmapOnMemory: true,
    hugetlbVmemmapOptimize: true,
    daxVmemmapOptimize: true,
    keepMemblock: false,
    bootMemoryOfflinable: true,
    zoneDevice: true,
  }),
  memoryBlockSize: (c, input) => {
    if (input.overrideBytes !== undefined) return { bytes: input.overrideBytes, why: 'override' };
    if (input.bootRamEndBytes < 64n * GiB) return { bytes: 128n * MiB, why: 'boot RAM ends below 64 GiB → 128 MiB' };
    if (!flag(c, 'hypervisor')) return { bytes: 2n * GiB, why: 'bare metal → 2 GiB' };
    for (const b of [2n * GiB, GiB, 512n * MiB, 256n * MiB]) if (input.bootRamEndBytes % b === 0n) return { bytes: b, why: 'VM: largest size dividing the end of boot RAM' };
    return { bytes: 128n * MiB, why: 'VM fallback' };
  },
  hugepageSizes: () => [{ bytes: 2n * MiB, level: 'pmd' }],
  defaultHugepageBytes: () => 2n * MiB,
  directMapShifts: (c) => (flag(c, 'pdpe1gb') ? [30, 21, 12] : [21, 12]),
  vmemmapPopulate: populate,
  vmemmapFree: free,
};
