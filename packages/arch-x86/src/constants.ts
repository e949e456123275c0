/**
 * x86-64 constants (apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/constants.md#pageblock, apps/docs/kernel/vmemmap.md#layout, apps/docs/kernel/sparse.md#section-table). They do not change across the supported kernel
 * versions: SECTION_SIZE_BITS 27, PMD 2 MiB, PUD 1 GiB, pageblock order 9 (HUGETLB_PAGE_ORDER), largest
 * buddy order 10 (6.1 MAX_ORDER 11, exclusive); CONFIG_PAGE_BLOCK_MAX_ORDER (≈6.16) leaves x86 at 9.
 */
import type { ArchConfig, ArchConstants } from '@memhp/core';
import { flag } from './features.js';

export const X86_PAGE_SHIFT = 12;
export const X86_SECTION_SIZE_BITS = 27;
export const X86_PMD_SHIFT = 21;
export const X86_PUD_SHIFT = 30;

/** arch/x86/include/asm/page_64_types.h: __VMEMMAP_BASE_L4 / __VMEMMAP_BASE_L5 (no KASLR). */
export const VMEMMAP_BASE_L4 = 0xffffea0000000000n;
export const VMEMMAP_BASE_L5 = 0xffd4000000000000n;

/** MAX_DMA_ADDRESS (16 MiB) and MAX_DMA32_PFN << PAGE_SHIFT (4 GiB). */
export const X86_DMA_END = 16n << 20n;
export const X86_DMA32_END = 4n << 30n;

export function x86Constants(config: ArchConfig): ArchConstants {
  const la57 = flag(config, 'la57');
  return {
    arch: 'x86_64',
    pageShift: X86_PAGE_SHIFT,
    sectionSizeBits: X86_SECTION_SIZE_BITS,
    // MAX_PHYSMEM_BITS: 46 with 4-level paging, 52 with 5-level (decided at boot, apps/docs/kernel/constants.md#per-arch).
    maxPhysmemBits: la57 ? 52 : 46,
    pmdShift: X86_PMD_SHIFT,
    pudShift: X86_PUD_SHIFT,
    pgtableLevels: la57 ? 5 : 4,
    pageblockOrder: 9,
    maxBuddyOrder: 10,
    vmemmapBase: la57 ? VMEMMAP_BASE_L5 : VMEMMAP_BASE_L4,
    memSectionBytes: flag(config, 'pageExtension') ? 32 : 16,
    lowZones: [
      { zone: 'DMA', endBytes: X86_DMA_END },
      { zone: 'DMA32', endBytes: X86_DMA32_END },
    ],
  };
}
