/**
 * arm64 constants per granule and kernel version (apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/constants.md#pageblock, apps/docs/kernel/vmemmap.md#layout).
 */
import { pick, type ArchConfig, type ArchConstants } from '@memhp/core';
import { bigFeature, numberFeature } from './features.js';
import { ARM64_SECTION_SIZE_BITS } from './rules.js';

export const ARM64_PAGE_SIZES = [4096, 16384, 65536] as const;

const log2 = (n: number): number => Math.log2(n);

/** Largest buddy order, inclusive: 6.1 ARCH_FORCE_MAX_ORDER 11 / 12 / 14 (exclusive), apps/docs/kernel/constants.md#pageblock. */
const MAX_BUDDY_ORDER: Readonly<Record<number, number>> = { 4096: 10, 16384: 11, 65536: 13 };

/** STRUCT_PAGE_MAX_SHIFT = ceil(log2(sizeof(struct page))) (apps/docs/kernel/constants.md#struct-page). */
export const structPageMaxShift = (structPageBytes: number): number => Math.ceil(log2(structPageBytes));

/**
 * VMEMMAP_START (6.1) = −2^(VA_BITS − VMEMMAP_SHIFT), VMEMMAP_SHIFT = PAGE_SHIFT − STRUCT_PAGE_MAX_SHIFT; the
 * array is offset so that memstart_addr's pfn maps to VMEMMAP_START (apps/docs/kernel/vmemmap.md#layout). The 6.1 layout is used
 * for every version (later releases move VMEMMAP_START; only alignment matters to the model).
 */
export function arm64VmemmapStart(pageShift: number, vaBits: number, structPageBytes: number): bigint {
  const vmemmapShift = pageShift - structPageMaxShift(structPageBytes);
  return (1n << 64n) - (1n << BigInt(vaBits - vmemmapShift));
}

export function arm64Constants(config: ArchConfig): ArchConstants {
  const pageShift = log2(config.pageSizeBytes);
  const sectionSizeBits = pick(ARM64_SECTION_SIZE_BITS, config.kernel)[config.pageSizeBytes];
  if (sectionSizeBits === undefined) throw new Error(`arm64 has no ${config.pageSizeBytes}-byte granule`);
  const vaBits = numberFeature(config, 'vaBits');
  const bitsPerLevel = pageShift - 3;
  const pmdShift = pageShift + bitsPerLevel;
  const start = arm64VmemmapStart(pageShift, vaBits, config.structPageBytes);
  const memstartPfn = bigFeature(config, 'memstartBytes') >> BigInt(pageShift);
  const dmaBits = numberFeature(config, 'zoneDmaBits');
  const fourGiB = 1n << 32n;
  return {
    arch: 'arm64',
    pageShift,
    sectionSizeBits,
    maxPhysmemBits: numberFeature(config, 'paBits'),
    pmdShift,
    // With three levels (64K/48-bit, 4K/39-bit) the PUD is folded and PUD_SHIFT = PGDIR_SHIFT, the same value.
    pudShift: pmdShift + bitsPerLevel,
    // ARM64_HW_PGTABLE_LEVELS(va_bits) = (va_bits − 4) / (PAGE_SHIFT − 3).
    pgtableLevels: Math.floor((vaBits - 4) / bitsPerLevel),
    // pageblock_order = HUGETLB_PAGE_ORDER = PMD_SHIFT − PAGE_SHIFT: 9 / 11 / 13 (apps/docs/kernel/constants.md#pageblock).
    pageblockOrder: bitsPerLevel,
    maxBuddyOrder: MAX_BUDDY_ORDER[config.pageSizeBytes] ?? 10,
    vmemmapBase: (start - memstartPfn * BigInt(config.structPageBytes)) & ((1n << 64n) - 1n),
    memSectionBytes: config.features.pageExtension === true || config.features.pageExtension === 'true' ? 32 : 16,
    lowZones:
      dmaBits >= 32
        ? [{ zone: 'DMA', endBytes: fourGiB }]
        : [
            { zone: 'DMA', endBytes: 1n << BigInt(dmaBits) },
            { zone: 'DMA32', endBytes: fourGiB },
          ],
  };
}
