/**
 * Minimal backends for part-B tests of pure arithmetic (memmap_on_memory predicate, params): constants and
 * policies only, written from apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/constants.md#pageblock, apps/docs/kernel/memmap-on-memory.md#arches and apps/docs/kernel/memmap-on-memory.md#examples. Their vmemmap hooks populate with base pages
 * through the context (enough for anything that only explains); the real populate logic lives in the arch
 * packages and in part A's test backend.
 */
import type { ArchBackend, ArchConfig, ArchConstants, ParamSpec } from '../../src/arch/backend.js';
import { atLeast } from '../../src/kernel/version.js';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const log2 = (n: number): number => Math.log2(n);

function tiny(opts: {
  id: string;
  pageSizes: number[];
  sectionSizeBits: (c: ArchConfig) => number;
  pmdShift: (c: ArchConfig) => number;
  pageblockOrder: (c: ArchConfig) => number;
  memmapOnMemorySince: string | null;
  blockSize: (c: ArchConfig) => bigint;
  hook?: ArchBackend['supportsMemmapOnMemory'];
  features?: ParamSpec[];
}): ArchBackend {
  const constants = (c: ArchConfig): ArchConstants => ({
    arch: opts.id,
    pageShift: log2(c.pageSizeBytes),
    sectionSizeBits: opts.sectionSizeBits(c),
    maxPhysmemBits: 46,
    pmdShift: opts.pmdShift(c),
    pudShift: opts.pmdShift(c) + log2(c.pageSizeBytes) - 3,
    pgtableLevels: 4,
    pageblockOrder: opts.pageblockOrder(c),
    maxBuddyOrder: 10,
    vmemmapBase: 0xffffea0000000000n,
    memSectionBytes: 16,
    lowZones: [],
  });
  return {
    id: opts.id,
    displayName: `${opts.id} (test)`,
    pageSizes: opts.pageSizes,
    features: opts.features ?? [],
    supports: () => ({ supported: true }),
    constants,
    capabilities: (c) => ({
      memoryHotplug: true,
      memmapOnMemory: opts.memmapOnMemorySince !== null && atLeast(c.kernel, opts.memmapOnMemorySince),
      hugetlbVmemmapOptimize: true,
      daxVmemmapOptimize: false,
      keepMemblock: false,
      bootMemoryOfflinable: true,
      zoneDevice: true,
    }),
    memoryBlockSize: (c, input) => ({ bytes: input.overrideBytes ?? opts.blockSize(c), why: 'test backend' }),
    hugepageSizes: () => [{ bytes: 2n * MiB, level: 'pmd' }, { bytes: GiB, level: 'pud' }],
    defaultHugepageBytes: () => 2n * MiB,
    supportsMemmapOnMemory: opts.hook,
    vmemmapPopulate: (ctx, start, end, node, altmap) => ctx.populateBasePages(start, end, node, altmap),
    vmemmapFree: (ctx, start, end, altmap) => ctx.unmapRange(start, end, altmap, { freePartialLeaves: false }),
  };
}

/** x86-64 4K (apps/docs/kernel/constants.md#per-arch row 1): 128 MiB sections, PMD 2 MiB, pageblock order 9; memmap_on_memory 5.13+. */
export const tinyX86 = tiny({
  id: 'x86_64',
  pageSizes: [4096],
  sectionSizeBits: () => 27,
  pmdShift: () => 21,
  pageblockOrder: () => 9,
  memmapOnMemorySince: '5.13',
  blockSize: () => 128n * MiB,
  features: [{ name: 'pse', kind: 'bool', default: 'true', description: 'CPU 2 MiB pages', feature: 'pse' }],
});

/** arm64 (apps/docs/kernel/constants.md#per-arch rows 2–4, apps/docs/kernel/constants.md#pageblock): PMD 2 MiB / 32 MiB / 512 MiB; pageblock order 9 / 11 / 13; block = section. */
export const tinyArm64 = tiny({
  id: 'arm64',
  pageSizes: [4096, 16384, 65536],
  sectionSizeBits: (c) => (c.pageSizeBytes === 65536 ? 29 : 27),
  pmdShift: (c) => ({ 4096: 21, 16384: 25, 65536: 29 })[c.pageSizeBytes] as number,
  pageblockOrder: (c) => ({ 4096: 9, 16384: 11, 65536: 13 })[c.pageSizeBytes] as number,
  memmapOnMemorySince: '5.13',
  blockSize: (c) => (c.pageSizeBytes === 65536 ? 512n * MiB : 128n * MiB),
});

/**
 * ppc64 book3s radix (apps/docs/kernel/constants.md#per-arch ppc rows, apps/docs/kernel/constants.md#pageblock "ppc64 radix 64K 5, ppc64 4K 9", apps/docs/kernel/memmap-on-memory.md#arches "6.6+, radix only"):
 * 16 MiB sections, PMD 2 MiB; the 6.6 arch hook (apps/docs/kernel/memmap-on-memory.md#support): radix 4K → V multiple of PMD_SIZE, radix 64K → yes.
 * The block size is the LMB size; tests pass it explicitly.
 */
export const tinyPpc64Radix = tiny({
  id: 'ppc64',
  pageSizes: [4096, 65536],
  sectionSizeBits: () => 24,
  pmdShift: () => 21,
  pageblockOrder: (c) => (c.pageSizeBytes === 65536 ? 5 : 9),
  memmapOnMemorySince: '6.6',
  blockSize: () => 256n * MiB,
  hook: (c, vmemmapBytes) => (c.pageSizeBytes === 65536 ? true : vmemmapBytes % (2n * MiB) === 0n),
});
