/**
 * The arm64 backend: 4K / 16K / 64K granules (apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/constants.md#pageblock, apps/docs/kernel/vmemmap.md#layout, apps/docs/kernel/vmemmap.md#arm64-populate, apps/docs/kernel/memmap-on-memory.md#arches, apps/docs/kernel/hvo.md#sizes).
 */
import { pick, type ArchBackend, type ArchCapabilities, type ArchConfig, type BlockSizeDecision, type BlockSizeInput, type Unsupported } from '@memhp/core';
import { ARM64_FEATURES, numberFeature } from './features.js';
import { ARM64_PAGE_SIZES, arm64Constants } from './constants.js';
import { ARM64_DAX_DEDUP, ARM64_HVO, ARM64_LPA2, ARM64_MEMMAP_ON_MEMORY } from './rules.js';
import { arm64DefaultHugepageBytes, arm64HugepageSizes } from './hugetlb.js';
import { arm64VmemmapFree, arm64VmemmapPopulate } from './vmemmap.js';

export const STRUCT_PAGE_SIZES = [56, 64, 72, 80] as const;

/** CONFIG_ARM64_VA_BITS choices per granule (arch/arm64/Kconfig). */
const VA_BITS: Readonly<Record<number, readonly number[]>> = { 4096: [39, 48, 52], 16384: [47, 48, 52], 65536: [42, 48, 52] };

function arm64Supports(config: ArchConfig): { supported: true } | Unsupported {
  if (!(ARM64_PAGE_SIZES as readonly number[]).includes(config.pageSizeBytes)) {
    return { supported: false, why: `arm64 granules are 4K, 16K and 64K (asked for ${config.pageSizeBytes} bytes)` };
  }
  if (!(STRUCT_PAGE_SIZES as readonly number[]).includes(config.structPageBytes)) {
    return { supported: false, why: `sizeof(struct page) must be one of ${STRUCT_PAGE_SIZES.join(', ')} (apps/docs/kernel/constants.md#struct-page), got ${config.structPageBytes}` };
  }
  const va = numberFeature(config, 'vaBits');
  const pa = numberFeature(config, 'paBits');
  const granule = `${config.pageSizeBytes / 1024}K`;
  if (!(VA_BITS[config.pageSizeBytes] ?? []).includes(va)) {
    return { supported: false, why: `vaBits ${va} is not a CONFIG_ARM64_VA_BITS choice for the ${granule} granule` };
  }
  if (pa !== 48 && pa !== 52) return { supported: false, why: `paBits must be 48 or 52, got ${pa}` };
  const lpa2 = pick(ARM64_LPA2, config.kernel);
  if ((pa === 52 || va === 52) && config.pageSizeBytes !== 65536 && !lpa2) {
    return { supported: false, why: `52-bit addresses with the ${granule} granule need LPA2 (6.9+, verify); kernel ${config.kernel}` };
  }
  return { supported: true };
}

function arm64Capabilities(config: ArchConfig): ArchCapabilities {
  return {
    memoryHotplug: true,
    // Enabled for every granule; 16K/64K never pass the generic "memmap is a multiple of PMD_SIZE" check (apps/docs/kernel/memmap-on-memory.md#arches).
    memmapOnMemory: pick(ARM64_MEMMAP_ON_MEMORY, config.kernel),
    hugetlbVmemmapOptimize: pick(ARM64_HVO, config.kernel),
    daxVmemmapOptimize: pick(ARM64_DAX_DEDUP, config.kernel),
    keepMemblock: true,
    // prevent_bootmem_remove_notifier: MEM_GOING_OFFLINE of an early section → NOTIFY_BAD → -EPERM (apps/docs/kernel/vmemmap.md#arm64-populate).
    bootMemoryOfflinable: false,
    zoneDevice: true,
  };
}

/** arm64 keeps the generic memory_block_size_bytes(): one section (apps/docs/kernel/hotplug.md#memory-blocks). */
function arm64MemoryBlockSize(config: ArchConfig, input: BlockSizeInput): BlockSizeDecision {
  const section = 1n << BigInt(arm64Constants(config).sectionSizeBits);
  if (input.overrideBytes !== undefined) {
    return { bytes: input.overrideBytes, why: 'explicit block size (arm64 has no knob for it: models a patched kernel)' };
  }
  return { bytes: section, why: `generic memory_block_size_bytes(): one section = ${section >> 20n} MiB` };
}

/**
 * The linear map of hot-added memory (6.1 arch_add_memory): with rodata=full (Debian's default,
 * CONFIG_RODATA_FULL_DEFAULT_ENABLED=y) — or DEBUG_PAGEALLOC/KFENCE — can_set_direct_map() forces
 * NO_BLOCK_MAPPINGS, so base pages only; otherwise PMD blocks, and PUD blocks with 4K pages (use_1G_block).
 * Its page tables come from __pgd_pgtable_alloc (no constructor: not in PageTables) and are charged to free memory.
 * Read on Debian 6.1.192 cloud-arm64 (rodata=full): a 1 GiB DIMM at 0xc0000000 took 18688 kB of accounted free
 * memory against 16384 kB of memmap (conform arm64-dimm-1g-movable step 1) — 513 page-table pages = 2052 kB.
 */
function arm64LinearMapTableShifts(config: ArchConfig): readonly number[] {
  const c = arm64Constants(config);
  const rodataFull = config.features.rodataFull ?? ARM64_FEATURES.find((f) => f.name === 'rodataFull')?.default;
  if (rodataFull === true || rodataFull === 'true') return [c.pageShift];
  return c.pageShift === 12 ? [c.pudShift, c.pmdShift, c.pageShift] : [c.pmdShift, c.pageShift];
}

export const arm64Backend: ArchBackend = {
  id: 'arm64',
  aliases: ['aarch64'],
  displayName: 'arm64 (AArch64)',
  pageSizes: ARM64_PAGE_SIZES,
  features: ARM64_FEATURES,
  supports: arm64Supports,
  constants: arm64Constants,
  capabilities: arm64Capabilities,
  memoryBlockSize: arm64MemoryBlockSize,
  linearMapTableShifts: arm64LinearMapTableShifts,
  hugepageSizes: arm64HugepageSizes,
  defaultHugepageBytes: arm64DefaultHugepageBytes,
  vmemmapPopulate: arm64VmemmapPopulate,
  vmemmapFree: arm64VmemmapFree,
};
