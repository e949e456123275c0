/**
 * x86-64 capability flags per kernel version. Each rule is written once with its range and source
 * (apps/docs/kernel/timeline.md#timeline); `capabilities()` only picks.
 */
import { defineRule, pick, type ArchCapabilities, type ArchConfig } from '@memhp/core';

/** ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE: x86-64 since 5.13 (seed 000, commit a08a2ae34613). */
export const X86_MEMMAP_ON_MEMORY = defineRule<boolean>({
  name: 'x86.memmapOnMemory',
  source: 'apps/docs/kernel/memmap-on-memory.md#arches, apps/docs/kernel/timeline.md#timeline (5.13)',
  ranges: [
    { until: '5.13', value: false },
    { since: '5.13', value: true },
  ],
});

/** ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP: x86-64 since 5.14. */
export const X86_HVO = defineRule<boolean>({
  name: 'x86.hugetlbVmemmapOptimize',
  source: 'apps/docs/kernel/hvo.md#sizes, apps/docs/kernel/timeline.md#timeline (5.14)',
  ranges: [
    { until: '5.14', value: false },
    { since: '5.14', value: true },
  ],
});

/**
 * Compound-devmap vmemmap dedup: generic since 5.19 (commit 4917f55b4ef9); from 6.4 (and the 6.1.y backport) it
 * needs the arch opt-in, which x86-64 gives (ARCH_WANT_OPTIMIZE_DAX_VMEMMAP / the HVO symbol in 6.1.y).
 */
export const X86_DAX_DEDUP = defineRule<boolean>({
  name: 'x86.daxVmemmapOptimize',
  source: 'apps/docs/kernel/zone-device.md#compound-dedup',
  ranges: [
    { until: '5.19', value: false },
    { since: '5.19', value: true },
  ],
});

export function x86Capabilities(config: ArchConfig): ArchCapabilities {
  return {
    memoryHotplug: true,
    memmapOnMemory: pick(X86_MEMMAP_ON_MEMORY, config.kernel),
    hugetlbVmemmapOptimize: pick(X86_HVO, config.kernel),
    daxVmemmapOptimize: pick(X86_DAX_DEDUP, config.kernel),
    // x86 does not select ARCH_KEEP_MEMBLOCK (apps/docs/kernel/hotplug.md#add-steps step 5 lists arm64, ppc, loongarch, mips, arm).
    keepMemblock: false,
    bootMemoryOfflinable: true,
    zoneDevice: true,
  };
}
