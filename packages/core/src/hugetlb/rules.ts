/**
 * Version rules of the HugeTLB pool and HVO that core's kernel/rules.ts does not already carry (it has
 * hvoReservedVmemmapPages, hvoNewHeadPage, hvoSysctlRegistration, memmapOnMemoryHvoExclusion).
 */
import { defineRule } from '../kernel/version.js';

/**
 * vmemmap_should_optimize walks the vmemmap page table to the page backing the head struct page and refuses
 * when that page is VmemmapSelfHosted (commit 66361095129b, v6.0, seed 001). Before 6.0 the two features were
 * mutually exclusive by configuration instead (apps/docs/kernel/memmap-on-memory.md#support), so no per-page check exists.
 */
export const hvoSelfHostedCheck = defineRule<boolean>({
  name: 'HVO skips pages whose vmemmap is self-hosted (VmemmapSelfHosted)',
  source: 'apps/docs/kernel/memmap-on-memory.md#self-hosted, apps/docs/kernel/hvo.md#conditions item 5; mm/hugetlb_vmemmap.c vmemmap_should_optimize (6.1)',
  ranges: [
    { until: '6.0', value: false, note: '5.14–5.19: memmap_on_memory and HVO exclude each other (apps/docs/kernel/memmap-on-memory.md#support)' },
    { since: '6.0', value: true },
  ],
});

/**
 * Compound-page vmemmap dedup for device-DAX (vmemmap_can_optimize): absent before 5.19; 5.19–6.0 on every
 * SPARSEMEM_VMEMMAP arch; from the 6.4 fix (backported to 6.1.y, which gates it on the HugeTLB-HVO arch symbol)
 * only where the arch opts in and the compound page's vmemmap exceeds VMEMMAP_RESERVE_NR (2) pages.
 */
export const daxVmemmapDedup = defineRule<'none' | 'any-arch' | 'arch-opt-in'>({
  name: 'compound devmap vmemmap dedup (device-DAX)',
  source: 'apps/docs/kernel/zone-device.md#compound-dedup; commit 4917f55b4ef9 (5.19); include/linux/mm.h vmemmap_can_optimize (6.1.y)',
  ranges: [
    { until: '5.19', value: 'none' },
    { since: '5.19', until: '6.1', value: 'any-arch' },
    { since: '6.1', value: 'arch-opt-in', note: '6.1.y backport of the 6.4 crash fix' },
  ],
});

/** mhp_params.pgmap exists (compound devmaps pass their geometry to arch_add_memory). */
export const mhpParamsPgmap = defineRule<boolean>({
  name: 'mhp_params.pgmap',
  source: 'apps/docs/kernel/index.md#sources seed 002 row, apps/docs/kernel/hotplug.md#entry-points mhp_params (5.19/6.0)',
  ranges: [{ until: '5.19', value: false }, { since: '5.19', value: true }],
});

/**
 * How HVO allocates vmemmap pages on the huge page's node (mm/hugetlb_vmemmap.c): the restore's GFP mask in
 * alloc_vmemmap_page_list (hugetlb_vmemmap_restore), and whether it and the 6.2+ new head page of
 * vmemmap_remap_free are bound to that node by __GFP_THISNODE. A node-bound GFP_KERNEL allocation can only use
 * the node's DMA/DMA32/Normal zones, so on a node whose memory is all ZONE_MOVABLE (a hot-added DIMM onlined
 * movable) it always fails: the restore gives -ENOMEM and the page stays in the pool as surplus, and (6.2–6.6)
 * the new head page is not taken. `mode` is the mask as warn_alloc prints it ("%#x(%pGg)"; the bit values of
 * include/linux/gfp_types.h did not change over these releases), for the restore, which has no __GFP_NOWARN.
 */
export const hvoVmemmapAllocGfp = defineRule<{ readonly thisNode: boolean; readonly mode: string }>({
  name: 'HVO vmemmap allocations: GFP mask and node binding',
  source:
    'apps/docs/kernel/hvo.md#steps; mm/hugetlb_vmemmap.c hugetlb_vmemmap_restore (6.1.192: GFP_KERNEL | __GFP_NORETRY | __GFP_THISNODE); Pasha Tatashin "mm: hugetlb_vmemmap: provide stronger vmemmap allocation guarantees" (6.5: __GFP_RETRY_MAYFAIL); Yuan Can "mm: hugetlb_vmemmap: fix hugetlb page number decrease failed on movable nodes" and "… allow alloc vmemmap pages fallback to other nodes" (6.7-rc1 MM pull: no __GFP_THISNODE)',
  ranges: [
    { until: '6.5', value: { thisNode: true, mode: '0x210cc0(GFP_KERNEL|__GFP_NORETRY|__GFP_THISNODE)' }, note: 'not backported to 6.1.y (6.1.192 read)' },
    { since: '6.5', until: '6.7', value: { thisNode: true, mode: '0x204cc0(GFP_KERNEL|__GFP_RETRY_MAYFAIL|__GFP_THISNODE)' } },
    { since: '6.7', value: { thisNode: false, mode: '0x4cc0(GFP_KERNEL|__GFP_RETRY_MAYFAIL)' }, note: 'falls back to the other nodes\' zonelist' },
  ],
});
