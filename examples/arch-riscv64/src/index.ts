/**
 * memhp-arch-riscv64 — a third-party memhp arch backend for riscv64 (4 KiB pages), written only against the
 * public exports of `@memhp/core`. It is the worked example of the backend tutorial in README.md.
 *
 * Facts: apps/docs/kernel/constants.md#per-arch (riscv64 row), apps/docs/kernel/vmemmap.md#other-arches, apps/docs/kernel/hvo.md#sizes (riscv64 row), apps/docs/kernel/timeline.md#timeline (6.11: riscv memory hotplug);
 * Documentation/arch/riscv/vm-layout.rst for the vmemmap addresses.
 */
import {
  atLeast,
  defineRule,
  pick,
  type AltmapHandle,
  type ArchBackend,
  type ArchCapabilities,
  type ArchConfig,
  type ArchConstants,
  type BlockSizeDecision,
  type ErrnoName,
  type HugepageSize,
  type ParamSpec,
  type Unsupported,
  type VmemmapContext,
} from '@memhp/core';

const PAGE_SHIFT = 12;
const SECTION_SIZE_BITS = 27;
const PMD_SHIFT = 21;
const PUD_SHIFT = 30;

/** Paging modes: levels and the vmemmap start of each (Documentation/arch/riscv/vm-layout.rst). */
const MODES: Readonly<Record<string, { levels: number; vmemmapStart: bigint }>> = {
  sv39: { levels: 3, vmemmapStart: 0xffffffc600000000n },
  sv48: { levels: 4, vmemmapStart: 0xffff8d8000000000n },
  sv57: { levels: 5, vmemmapStart: 0xff1c000000000000n },
};

export const features: readonly ParamSpec[] = [
  { name: 'satp', kind: 'enum', allowed: ['sv39', 'sv48', 'sv57'], default: 'sv57', feature: 'satp', description: 'paging mode the kernel chose at boot (the highest the CPU supports)' },
  { name: 'physRamBase', kind: 'size', default: '0x80000000', feature: 'physRamBase', description: 'phys_ram_base: the vmemmap is offset so that this pfn maps to VMEMMAP_START' },
  { name: 'hugeVmap', kind: 'bool', default: 'true', feature: 'hugeVmap', description: 'PMD (2 MiB) leaves for the vmemmap; base pages otherwise (apps/docs/kernel/vmemmap.md#other-arches)' },
  { name: 'svnapot', kind: 'bool', default: 'true', feature: 'svnapot', description: 'CPU extension Svnapot: enables the 64 KiB contiguous-PTE HugeTLB size (apps/docs/kernel/hvo.md#sizes)' },
];

const feature = (config: ArchConfig, name: string): string => String(config.features[name] ?? features.find((f) => f.name === name)?.default ?? '');
const enabled = (config: ArchConfig, name: string): boolean => ['true', '1', 'y', 'on'].includes(feature(config, name));

/** Memory hotplug and ZONE_DEVICE on riscv64 since 6.11 (apps/docs/kernel/vmemmap.md#other-arches, apps/docs/kernel/timeline.md#timeline). */
export const RISCV_HOTPLUG = defineRule<boolean>({
  name: 'riscv64.memoryHotplug',
  source: 'apps/docs/kernel/vmemmap.md#other-arches, apps/docs/kernel/timeline.md#timeline (6.11)',
  ranges: [
    { until: '6.11', value: false },
    { since: '6.11', value: true },
  ],
});

function supports(config: ArchConfig): { supported: true } | Unsupported {
  if (config.pageSizeBytes !== 4096) return { supported: false, why: 'riscv64 Linux uses 4 KiB base pages only' };
  if (![56, 64, 72, 80].includes(config.structPageBytes)) return { supported: false, why: `sizeof(struct page) ${config.structPageBytes} is not 56, 64, 72 or 80` };
  if (!pick(RISCV_HOTPLUG, config.kernel)) return { supported: false, why: `riscv64 memory hotplug exists since 6.11 (kernel ${config.kernel})` };
  if (!MODES[feature(config, 'satp')]) return { supported: false, why: `satp must be sv39, sv48 or sv57, got ${feature(config, 'satp')}` };
  return { supported: true };
}

function constants(config: ArchConfig): ArchConstants {
  const mode = MODES[feature(config, 'satp')] ?? { levels: 5, vmemmapStart: 0xff1c000000000000n };
  const ramBasePfn = BigInt(feature(config, 'physRamBase')) >> BigInt(PAGE_SHIFT);
  return {
    arch: 'riscv64',
    pageShift: PAGE_SHIFT,
    sectionSizeBits: SECTION_SIZE_BITS,
    maxPhysmemBits: 56,
    pmdShift: PMD_SHIFT,
    pudShift: PUD_SHIFT,
    pgtableLevels: mode.levels,
    pageblockOrder: 9,
    maxBuddyOrder: 10,
    // vmemmap = VMEMMAP_START − (phys_ram_base >> PAGE_SHIFT), as a struct page pointer.
    vmemmapBase: (mode.vmemmapStart - ramBasePfn * BigInt(config.structPageBytes)) & ((1n << 64n) - 1n),
    memSectionBytes: 16,
    lowZones: [{ zone: 'DMA32', endBytes: 4n << 30n }],
  };
}

function capabilities(config: ArchConfig): ArchCapabilities {
  const hotplug = pick(RISCV_HOTPLUG, config.kernel);
  return {
    memoryHotplug: hotplug,
    memmapOnMemory: false, // ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE not selected (apps/docs/kernel/memmap-on-memory.md#arches, verify for 6.18)
    hugetlbVmemmapOptimize: atLeast(config.kernel, '6.6'), // selected by mid-2023 (apps/docs/kernel/hvo.md#sizes, verify)
    daxVmemmapOptimize: hotplug, // enabled together with hotplug in 6.11 (apps/docs/kernel/vmemmap.md#other-arches, apps/docs/kernel/zone-device.md#compound-dedup)
    keepMemblock: false,
    bootMemoryOfflinable: true,
    zoneDevice: hotplug,
  };
}

function memoryBlockSize(config: ArchConfig, input: { overrideBytes?: bigint }): BlockSizeDecision {
  if (input.overrideBytes !== undefined) return { bytes: input.overrideBytes, why: 'explicit block size' };
  return { bytes: 1n << BigInt(constants(config).sectionSizeBits), why: 'generic memory_block_size_bytes(): one 128 MiB section' };
}

function hugepageSizes(config: ArchConfig): readonly HugepageSize[] {
  const sizes: HugepageSize[] = [];
  if (enabled(config, 'svnapot')) sizes.push({ bytes: 64n << 10n, level: 'cont-pte', requiresFeature: 'svnapot' });
  sizes.push({ bytes: 2n << 20n, level: 'pmd' }, { bytes: 1n << 30n, level: 'pud' });
  return sizes;
}

/**
 * vmemmap_populate: the generic vmemmap_populate_hugepages() (mm/sparse-vmemmap.c). An empty PMD gets a 2 MiB
 * leaf; if that allocation fails, an altmap fails the add (-ENOMEM) and otherwise the PMD falls back to base
 * pages; an existing leaf is verified; an existing PTE table is filled with base pages.
 */
function vmemmapPopulate(ctx: VmemmapContext, start: bigint, end: bigint, node: number, altmap: AltmapHandle | null): 0 | ErrnoName {
  if (!enabled(ctx.config, 'hugeVmap')) return ctx.populateBasePages(start, end, node, altmap, 'no huge vmap: base pages');
  const pmdBytes = 1n << BigInt(ctx.constants.pmdShift);
  for (let addr = start; addr < end; ) {
    const boundary = (addr & ~(pmdBytes - 1n)) + pmdBytes;
    const next = boundary < end ? boundary : end;
    const entry = ctx.pmdEntry(addr);
    if (entry === 'none') {
      const block = ctx.allocPmdBlock(addr, node, altmap);
      if (block) {
        const r = ctx.mapPmdLeaf(addr, block.source);
        if (r !== 0) return r;
        addr = next;
        continue;
      }
      if (altmap) return 'ENOMEM';
      ctx.note('PMD_SIZE vmemmap allocation failed: this PMD falls back to base pages', { va: `0x${addr.toString(16)}` });
    } else if (entry === 'leaf') {
      ctx.verifyPmd(addr, node);
      addr = next;
      continue;
    }
    if (ctx.populateBasePages(addr, next, node, entry === 'table' ? altmap : null) !== 0) return 'ENOMEM';
    addr = next;
  }
  return 0;
}

/** vmemmap_free → remove_pgd_mapping(…, is_vmemmap): a PMD leaf is freed whole, even when partly covered. */
function vmemmapFree(ctx: VmemmapContext, start: bigint, end: bigint, altmap: AltmapHandle | null): void {
  ctx.unmapRange(start, end, altmap, { freePartialLeaves: true });
}

export const backend: ArchBackend = {
  id: 'riscv64',
  aliases: ['riscv'],
  displayName: 'riscv64 (example third-party backend)',
  pageSizes: [4096],
  features,
  supports,
  constants,
  capabilities,
  memoryBlockSize,
  hugepageSizes,
  defaultHugepageBytes: () => 2n << 20n,
  vmemmapPopulate,
  vmemmapFree,
};

export default backend;
