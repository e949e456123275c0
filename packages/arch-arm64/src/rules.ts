/**
 * arm64 behaviour that changed across releases, each written once with its range and source (apps/docs/kernel/timeline.md#timeline).
 */
import { defineRule } from '@memhp/core';

/** SECTION_SIZE_BITS per granule: 30 for every page size before 5.12, then 27 / 27 / 29 (apps/docs/kernel/constants.md#per-arch). */
export const ARM64_SECTION_SIZE_BITS = defineRule<Readonly<Record<number, number>>>({
  name: 'arm64.sectionSizeBits',
  source: 'apps/docs/kernel/constants.md#per-arch notes, apps/docs/kernel/timeline.md#timeline (5.12)',
  ranges: [
    { until: '5.12', value: { 4096: 30, 16384: 30, 65536: 30 } },
    { since: '5.12', value: { 4096: 27, 16384: 27, 65536: 29 } },
  ],
});

/**
 * What vmemmap_populate does when a PMD_SIZE allocation fails (apps/docs/kernel/vmemmap.md#arm64-populate):
 * - 'fail': the hot-add fails with -ENOMEM (≤ 5.10);
 * - 'per-pmd-altmap': only that PMD falls back to base pages, passing the same altmap (seed 004 v4, 9f84f39f5515);
 * - 'generic': the generic vmemmap_populate_hugepages: with an altmap -ENOMEM, without base pages from RAM.
 */
export type Arm64PmdFailure = 'fail' | 'per-pmd-altmap' | 'generic';
export const ARM64_PMD_FAILURE = defineRule<Arm64PmdFailure>({
  name: 'arm64.vmemmapPmdFailure',
  source: 'apps/docs/kernel/vmemmap.md#arm64-populate; seed 004; commit 9f84f39f5515 (v5.11-rc1); generic helper ≈6.4 (verify)',
  ranges: [
    { until: '5.11', value: 'fail' },
    { since: '5.11', until: '6.4', value: 'per-pmd-altmap' },
    { since: '6.4', value: 'generic', note: 'release of the conversion to verify; no supported version lies between 6.1 and 6.6' },
  ],
});

/**
 * "Populate vmemmap at the page level if not section aligned" (Zhenhua Huang, 2025, Cc stable): a range smaller
 * than one section's memmap uses base pages with the altmap. Read in Debian 6.1.192 (6.1.y backport); mainline
 * 6.14/6.15; 6.6.y stable (verify); series that were end-of-life before the fix (5.13–6.0, 6.8, 6.11) never got it;
 * 5.10.y has no such code path to patch cleanly (verify).
 */
export const ARM64_SUBSECTION_BASEPAGES = defineRule<boolean>({
  name: 'arm64.subsectionBasePages',
  source: 'apps/docs/kernel/vmemmap.md#arm64-populate (6.1.y backport, 6.14/6.15 + stable)',
  ranges: [
    { until: '6.1', value: false },
    { since: '6.1', until: '6.2', value: true, note: '6.1.y backport (read in 6.1.192 arch/arm64/mm/mmu.c)' },
    { since: '6.2', until: '6.6', value: false },
    { since: '6.6', until: '6.7', value: true, note: '6.6.y stable backport (verify)' },
    { since: '6.7', until: '6.14', value: false, note: 'series end-of-life before the 2025 fix' },
    { since: '6.14', value: true },
  ],
});

/** ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE: arm64 since 5.13 (apps/docs/kernel/memmap-on-memory.md#arches). */
export const ARM64_MEMMAP_ON_MEMORY = defineRule<boolean>({
  name: 'arm64.memmapOnMemory',
  source: 'apps/docs/kernel/memmap-on-memory.md#arches',
  ranges: [
    { until: '5.13', value: false },
    { since: '5.13', value: true },
  ],
});

/**
 * HVO on arm64: selected in 5.19 (1e63ac088f20), deselected by 060a2c92d1b6 (Catalin Marinas, "arm64: mm: hugetlb:
 * Disable HUGETLB_PAGE_OPTIMIZE_VMEMMAP") in 6.3, and by its stable backports to 6.1.16 (listed in the "Linux
 * 6.1.16" announcement, 2023-03-10) and 6.2.3 (pushed to linux-6.2.y stable-rc on 2023-03-07). 6.0.y had reached
 * its end of life before. The 6.1.192 tree (/work/linux-6.1) does not select ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP.
 */
export const ARM64_HVO = defineRule<boolean>({
  name: 'arm64.hugetlbVmemmapOptimize',
  source: 'apps/docs/kernel/hvo.md#sizes; 1e63ac088f20 (5.19); 060a2c92d1b6 (6.3; stable 6.1.16, 6.2.3)',
  ranges: [
    { until: '5.19', value: false },
    { since: '5.19', until: '6.1.16', value: true },
    { since: '6.1.16', until: '6.2', value: false, note: 'stable backport of 060a2c92d1b6' },
    { since: '6.2', until: '6.2.3', value: true },
    { since: '6.2.3', value: false, note: '6.3 mainline; 6.2.3 stable backport' },
  ],
});

/**
 * Compound-devmap vmemmap dedup: every SPARSEMEM_VMEMMAP arch from 5.19; the 6.4 crash fix (backported to 6.1.y,
 * gated there on the HVO arch symbol arm64 no longer selects) requires an arch opt-in that arm64 does not give
 * (apps/docs/kernel/zone-device.md#compound-dedup; verify for later releases).
 */
export const ARM64_DAX_DEDUP = defineRule<boolean>({
  name: 'arm64.daxVmemmapOptimize',
  source: 'apps/docs/kernel/zone-device.md#compound-dedup',
  ranges: [
    { until: '5.19', value: false },
    { since: '5.19', until: '6.1', value: true },
    { since: '6.1', value: false },
  ],
});

/** 52-bit physical addresses with 4K/16K granules need LPA2 (6.9, verify); 64K has them since 5.4. */
export const ARM64_LPA2 = defineRule<boolean>({
  name: 'arm64.lpa2',
  source: 'arm64 LPA2 support for 4K/16K granules (6.9, verify)',
  ranges: [
    { until: '6.9', value: false },
    { since: '6.9', value: true },
  ],
});
