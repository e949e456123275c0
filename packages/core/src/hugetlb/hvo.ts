/**
 * HugeTLB Vmemmap Optimization (mm/hugetlb_vmemmap.c, 5.14–6.18; apps/docs/kernel/hvo.md#hvo): the decision
 * (vmemmap_should_optimize), the optimisation (split the PMD, remap the tails, free their pages; 6.2+ moves
 * the head to a new page) and the restore when the page leaves the pool. Every decision is an event.
 */
import type { KernelCtx } from '../commands/registry.js';
import type { ErrnoName } from '../kernel/errno.js';
import { pick, type KernelVersion } from '../kernel/version.js';
import { hvoNewHeadPage, hvoReservedVmemmapPages } from '../kernel/rules.js';
import { hex, isPowerOfTwo, pfnToPageVa } from '../model/geometry.js';
import type { ReadonlyMachineState } from '../model/state.js';
import { highestPopulatedZone } from '../sparse/sparse.js';
import { KERNEL_ZONES, nodeStates } from '../hotplug/zone.js';
import type { MachineState } from '../model/state.js';
import { cBitmapList, printRatelimited } from '../kernel/printk.js';
import { hvoSelfHostedCheck, hvoVmemmapAllocGfp } from './rules.js';
import { hugetlbState, vmemmapRunsOf, type HstateState, type HugePageState, type HvoSkipReason } from './state.js';

/** What HVO does to one huge page of an hstate on this machine (apps/docs/kernel/hvo.md#what-it-does, apps/docs/kernel/hvo.md#sizes). */
export interface HvoGeometry {
  /** w: vmemmap pages of one huge page (fractional when below a page). */
  readonly vmemmapPages: number;
  /** Vmemmap pages HVO keeps (HUGETLB_VMEMMAP_RESERVE_SIZE / PAGE_SIZE): 2 in 5.14–5.17, 1 from 5.18; null: no HVO. */
  readonly kept: number | null;
  /** Pages freed per huge page, 0 when the hstate is not optimisable. */
  readonly freed: number;
}

/** hugetlb_vmemmap_optimizable_size(h) / PAGE_SIZE, and w. */
export function hvoGeometry(s: ReadonlyMachineState, order: number): HvoGeometry {
  return hvoGeometryOf(s.machine.geometry, s.machine.kernel, order);
}

/** {@link hvoGeometry} from the page and struct page sizes alone (no machine), for explainHvo. */
export function hvoGeometryOf(g: { readonly pageBytes: number; readonly structPageBytes: number }, kernel: KernelVersion, order: number): HvoGeometry {
  const vmemmapPages = (2 ** order * g.structPageBytes) / g.pageBytes;
  const kept = pick(hvoReservedVmemmapPages, kernel);
  const freed = kept === null || !isPowerOfTwo(g.structPageBytes) ? 0 : Math.max(0, Math.floor(vmemmapPages) - kept);
  return { vmemmapPages, kept, freed };
}

/** vmemmap_optimize_enabled: the sysctl (5.19+) when registered, else `hugetlb_free_vmemmap=`. */
export function hvoEnabled(s: ReadonlyMachineState): boolean {
  return s.knobs.hugetlbOptimizeVmemmap ?? s.params.hugetlbFreeVmemmap;
}

/**
 * The memory block whose self-hosted vmemmap holds `pfn`, if the VmemmapSelfHosted flag is set on that page's
 * struct page. mhp_init_memmap_on_memory sets it when the block is first onlined and nothing clears it until
 * the block is removed (a later online re-initialises the struct pages and sets it again), so the flag is on
 * for a self-hosting block that is online or was onlined before (its onlineType is recorded).
 */
export function pageVmemmapSelfHosted(s: ReadonlyMachineState, pfn: number): number | null {
  const g = s.machine.geometry;
  const b = s.blockTable[Math.floor(pfn / g.pagesPerBlock)];
  if (!b) return null;
  let v = b.nrVmemmapPages;
  if (v === 0 && b.altmapId !== null) v = s.altmaps.get(b.altmapId)?.free ?? 0;
  if (v === 0) return null;
  const start = b.id * g.pagesPerBlock;
  if (pfn < start || pfn >= start + v) return null;
  return b.state !== 'offline' || b.onlineType !== null ? b.id : null;
}

/**
 * The pfn of the page backing vmemmap address `va`, found the way vmemmap_should_optimize walks the kernel
 * page table: a PMD leaf gives its base page + pte_index(va), a PTE its page. memhp knows the physical page
 * only for altmap-backed vmemmap (boot and buddy pages are anonymous), where populate hands out the altmap's
 * pfns in VA order after its reserve and alignment padding; null otherwise.
 */
export function vmemmapBackingPfn(s: ReadonlyMachineState, va: bigint): { source: string; pfn: number | null } {
  const g = s.machine.geometry;
  const [run] = vmemmapRunsOf(s, va, 1);
  if (!run) return { source: 'none', pfn: null };
  if (run.source !== 'altmap' || run.altmapId === null) return { source: run.source, pfn: null };
  const a = s.altmaps.get(run.altmapId);
  if (!a) return { source: run.source, pfn: null };
  const first = pfnToPageVa(g, a.basePfn);
  return { source: 'altmap', pfn: a.basePfn + a.reserve + a.align + Number((va - first) >> BigInt(g.pageShift)) };
}

/** vmemmap_should_optimize(h, head) (6.1), with the arch and struct-page conditions of apps/docs/kernel/hvo.md#conditions items 1 and 3. */
export function hvoShouldOptimize(s: ReadonlyMachineState, hs: HstateState, headPfn: number): HvoSkipReason | null {
  const g = s.machine.geometry;
  if (!s.machine.capabilities.hugetlbVmemmapOptimize || pick(hvoReservedVmemmapPages, s.machine.kernel) === null) return 'arch';
  if (!hvoEnabled(s)) return 'disabled';
  if (!isPowerOfTwo(g.structPageBytes)) return 'struct-page-not-power-of-two';
  if (hvoGeometry(s, hs.order).freed <= 0) return 'hstate-not-optimisable';
  if (pick(hvoSelfHostedCheck, s.machine.kernel)) {
    const backing = vmemmapBackingPfn(s, pfnToPageVa(g, headPfn));
    if (backing.pfn !== null && pageVmemmapSelfHosted(s, backing.pfn) !== null) return 'self-hosted';
  }
  return null;
}

/**
 * Whether a GFP_KERNEL | __GFP_THISNODE allocation on `nid` has a zone to take a page from: the node's own
 * zonelist holds only its populated zones up to ZONE_NORMAL (build_zonerefs_node, managed_zone; gfp_zone(GFP_KERNEL)
 * is ZONE_NORMAL, so never ZONE_MOVABLE or ZONE_DEVICE: core's KERNEL_ZONES). A node whose
 * memory is all ZONE_MOVABLE — a hot-added DIMM onlined movable, a memoryless node — has none, and the
 * allocation fails without looking at free memory (__alloc_pages_slowpath: no preferred zone → nopage).
 */
export function nodeHasKernelZone(s: ReadonlyMachineState, nid: number): boolean {
  const n = s.nodes.get(nid);
  if (!n) return false;
  for (const z of n.zones.values()) if (KERNEL_ZONES.includes(z.name) && z.managedPages > 0) return true;
  return false;
}

/**
 * `n` order-0 allocations for HVO: on `thisNode` only when the version binds them there (__GFP_THISNODE,
 * {@link hvoVmemmapAllocGfp}), then fault injection, then free memory (memhp counts free pages for the whole
 * machine, not per node or zone). Returns why it failed, or null.
 */
function order0(ctx: KernelCtx, what: string, n: number, thisNode: number): string | null {
  if (pick(hvoVmemmapAllocGfp, ctx.state.machine.kernel).thisNode && !nodeHasKernelZone(ctx.state, thisNode))
    return `node ${thisNode} has no zone a GFP_KERNEL | __GFP_THISNODE allocation may use (its memory is all ZONE_MOVABLE)`;
  for (let i = 0; i < n; i++) {
    const f = ctx.faults.order0Alloc({ what });
    if (f) return f.reason;
  }
  if (ctx.state.counters.nrFreePages < n) return `only ${ctx.state.counters.nrFreePages} free pages`;
  return null;
}

/** One page-table page (pte_alloc_one_kernel: GFP_PGTABLE_KERNEL, any node): fault injection, then free memory. */
function order0Anywhere(ctx: KernelCtx, what: string): string | null {
  const f = ctx.faults.order0Alloc({ what });
  if (f) return f.reason;
  return ctx.state.counters.nrFreePages < 1 ? `only ${ctx.state.counters.nrFreePages} free pages` : null;
}

/**
 * hugetlb_vmemmap_optimize(h, head): decide, split the PMD leaves covering the page's vmemmap (one PTE table
 * each, allocated once), 6.2+ try a new head page, then remap and free. A failed split leaves the page
 * unoptimised (the kernel's vmemmap_remap_free returns -ENOMEM).
 */
export function hvoOptimize(ctx: KernelCtx, page: Readonly<HugePageState>): void {
  const s = ctx.state;
  const g = s.machine.geometry;
  const hs = hugetlbState(s).hstates.get(page.order);
  if (!hs) return;
  const reason = hvoShouldOptimize(s, hs, page.headPfn);
  if (reason) {
    ctx.emitOther('hvo.skip', { order: page.order, headPfn: page.headPfn, reason });
    return;
  }
  const geo = hvoGeometry(s, page.order);
  const kept = geo.kept ?? 1;
  const w = Math.floor(geo.vmemmapPages);
  const va = pfnToPageVa(g, page.headPfn);
  const pmdBytes = 1n << BigInt(g.pmdShift);
  const end = va + BigInt(w * g.pageBytes);
  for (let base = (va >> BigInt(g.pmdShift)) << BigInt(g.pmdShift); base < end; base += pmdBytes) {
    const idx = Number(base >> BigInt(g.pmdShift));
    const e = s.vmemmap.pmds.get(idx);
    if (e?.kind !== 'leaf') continue;
    const why = order0Anywhere(ctx, 'HVO PTE table');
    if (why) {
      ctx.emit('vmemmap.alloc_fail', { va: hex(base), order: 0, source: 'buddy', reason: `HVO split: ${why}` });
      ctx.emitOther('hvo.skip', { order: page.order, headPfn: page.headPfn, reason: 'pte-table-alloc-failure' });
      return;
    }
    ctx.emitOther('hvo.split_pmd', { pmdIndex: idx, va: hex(base), node: e.node, source: e.source === 'boot' ? 'boot' : 'buddy' });
  }
  // 6.2+: a fresh page for the head (GFP without retry or warning, on the page's node until 6.7); failing it just
  // keeps the old head.
  const newHead = pick(hvoNewHeadPage, s.machine.kernel) && order0(ctx, 'HVO new head vmemmap page', 1, page.nid) === null;
  const freedFrom = newHead ? 0 : kept;
  let freedBoot = 0;
  let freedBuddy = 0;
  for (const r of vmemmapRunsOf(s, va + BigInt(freedFrom * g.pageBytes), w - freedFrom)) {
    if (r.source === 'boot') freedBoot += r.endIdx - r.startIdx;
    else if (r.source === 'buddy') freedBuddy += r.endIdx - r.startIdx;
  }
  ctx.emitOther('hvo.optimize', {
    order: page.order,
    headPfn: page.headPfn,
    va: hex(va),
    vmemmapPages: w,
    kept,
    newHead,
    freedBoot,
    freedBuddy,
    bootZone: freedBoot > 0 ? highestPopulatedZone(s as MachineState, page.nid) : null,
    nid: page.nid,
  });
}

/**
 * hugetlb_vmemmap_restore(h, head): allocate w − kept pages (on the page's node until 6.7, {@link hvoVmemmapAllocGfp})
 * and map them read-write again. Any failure → -ENOMEM and the page stays optimised; the allocator's warn_alloc
 * prints "page allocation failure" (the mask has no __GFP_NOWARN), rate-limited ({@link printRatelimited}).
 */
export function hvoRestore(ctx: KernelCtx, page: Readonly<HugePageState>): 0 | ErrnoName {
  if (page.hvo !== 'optimized') return 0;
  const s = ctx.state;
  const g = s.machine.geometry;
  const geo = hvoGeometry(s, page.order);
  const kept = geo.kept ?? 1;
  const pages = Math.floor(geo.vmemmapPages) - kept;
  const why = order0(ctx, 'HVO restore', pages, page.nid);
  if (why) {
    ctx.emitOther('hvo.restore_fail', { order: page.order, headPfn: page.headPfn, needed: pages, reason: why });
    printRatelimited(ctx, warnAllocText(s, pick(hvoVmemmapAllocGfp, s.machine.kernel).mode));
    return 'ENOMEM';
  }
  ctx.emitOther('hvo.restore', { order: page.order, headPfn: page.headPfn, va: hex(pfnToPageVa(g, page.headPfn)), pages, kept });
  return 0;
}

/**
 * warn_alloc's first line for a failed order-0 allocation without a nodemask (mm/page_alloc.c, 6.1: "%s: %pV,
 * mode:%#x(%pGg), nodemask=%*pbl" then cpuset_print_current_mems_allowed), without the leading task name
 * ("init: "), which depends on who wrote to the pool. The writer is taken to be in the root cpuset ("/"), whose
 * mems_allowed follows the nodes with memory (cpuset's hotplug handling of N_MEMORY).
 */
export function warnAllocText(s: ReadonlyMachineState, mode: string): string {
  const withMemory = [...s.nodes.keys()].filter((nid) => nodeStates(s, nid).memory);
  return `page allocation failure: order:0, mode:${mode}, nodemask=(null),cpuset=/,mems_allowed=${cBitmapList(withMemory)}`;
}
