/**
 * The HugeTLB pool (mm/hugetlb.c, 6.1; apps/docs/kernel/hvo.md#hvo, apps/docs/kernel/knobs.md#cmdline, apps/docs/kernel/knobs.md#runtime): hstates from the backend, boot-time
 * `hugepages=` / `hugepagesz=` / `default_hugepagesz=`, `nr_hugepages` (global and per node) through
 * set_max_huge_pages, surplus pages, users mapping pages, and the free/restore path. Pages are placed on real
 * pfns inside online memory blocks so HVO can walk to their vmemmap and offlining can find them.
 *
 * Placement is a model choice (the buddy allocator's choice is not predictable): the highest zone the
 * allocation may use (ZONE_MOVABLE first for migratable sizes; never for gigantic pages, hugepage_movable_supported),
 * then the highest free naturally aligned range in it. Memory the kernel itself uses (kernel image, slab …) is
 * not modelled, so a slot is free when no huge page and no self-hosted vmemmap occupies it.
 */
import type { ZoneName } from '../arch/backend.js';
import type { KernelCtx } from '../commands/registry.js';
import { fail, ok, type ErrnoName, type KResult } from '../kernel/errno.js';
import { alignDown } from '../model/geometry.js';
import type { ReadonlyMachineState } from '../model/state.js';
import { hvoOptimize, hvoRestore } from './hvo.js';
import { hugetlbState, usedLowerBound, type HstateState, type HugePageState } from './state.js';

const ZONE_PREF: readonly ZoneName[] = ['Movable', 'Normal', 'DMA32', 'DMA'];

/** log2 of a power-of-two bigint. */
const log2 = (b: bigint): number => b.toString(2).length - 1;

/** hugetlb_init: register one hstate per size the backend supports for this configuration. */
export function hugetlbInit(ctx: KernelCtx): void {
  const g = ctx.machine.geometry;
  const sizes = ctx.backend
    .hugepageSizes(ctx.archConfig)
    .filter((h) => h.requiresFeature === undefined || ctx.archConfig.features[h.requiresFeature] === true);
  if (sizes.length === 0) return;
  const def = ctx.state.params.defaultHugepageBytes ?? ctx.backend.defaultHugepageBytes(ctx.archConfig);
  const hstates = sizes.map((h) => {
    const order = log2(h.bytes) - g.pageShift;
    // hstate_is_gigantic: order > MAX_ORDER − 1 (the largest buddy order)
    const gigantic = order > g.maxBuddyOrder;
    return { order, bytes: '0x' + h.bytes.toString(16), gigantic, movable: !gigantic, vmemmapPages: (2 ** order * g.structPageBytes) / g.pageBytes };
  });
  const defaultOrder = sizes.some((h) => h.bytes === def) ? log2(def) - g.pageShift : hstates[0]!.order;
  ctx.emitOther('hugetlb.init', { hstates, defaultOrder });
}

/** Boot-time pools from `hugepages=` (hugetlb_hstate_alloc_pages, after hugetlb_init). */
export function hugetlbBootPools(ctx: KernelCtx): void {
  const h = hugetlbState(ctx.state);
  const g = ctx.machine.geometry;
  for (const req of ctx.state.params.hugepages) {
    const order = req.sizeBytes === null ? h.defaultOrder : log2(req.sizeBytes) - g.pageShift;
    if (!h.hstates.has(order)) continue;
    if (req.perNode) for (const [nid, n] of Object.entries(req.perNode)) setMaxHugePages(ctx, order, n, Number(nid));
    else setMaxHugePages(ctx, order, req.count, null);
  }
}

/** Resolve a size in bytes (0 = the default hstate) to an hstate order, or an error naming the sysfs directory. */
export function hstateForSize(s: ReadonlyMachineState, sizeBytes: bigint): { order: number } | { errno: ErrnoName; why: string } {
  const h = hugetlbState(s);
  const g = s.machine.geometry;
  if (sizeBytes === 0n) return h.hstates.has(h.defaultOrder) ? { order: h.defaultOrder } : { errno: 'ENOENT', why: 'no HugeTLB sizes on this machine' };
  const order = log2(sizeBytes) - g.pageShift;
  if ((1n << BigInt(log2(sizeBytes))) !== sizeBytes || !h.hstates.has(order)) {
    const have = [...h.hstates.values()].map((x) => `hugepages-${x.bytes / 1024n}kB`).join(', ');
    return { errno: 'ENOENT', why: `/sys/kernel/mm/hugepages/hugepages-${sizeBytes / 1024n}kB does not exist (this machine has: ${have})` };
  }
  return { order };
}

/** Nodes with memory (N_MEMORY): a node with an online memory block. */
export function nodesWithMemory(s: ReadonlyMachineState): number[] {
  const out = new Set<number>();
  for (const b of s.blocks.values()) if (b.state !== 'offline') out.add(b.nid);
  return [...out].sort((a, b) => a - b);
}

/** hstate_next_node_to_{alloc,free}: the allowed node at or after `next`, wrapping. */
function rotate(allowed: readonly number[], next: number): number[] {
  const i = allowed.findIndex((n) => n >= next);
  const k = i < 0 ? 0 : i;
  return [...allowed.slice(k), ...allowed.slice(0, k)];
}
const after = (allowed: readonly number[], nid: number): number => {
  const i = allowed.indexOf(nid);
  return allowed[(i + 1) % allowed.length] ?? nid;
};

export interface PfnRange {
  readonly startPfn: number;
  readonly endPfn: number;
  readonly zone: ZoneName;
}

/** Free pfn ranges of a node for huge pages: online blocks (minus self-hosted vmemmap) ∩ System RAM, merged. */
export function hugetlbCandidateRanges(s: ReadonlyMachineState, nid: number): PfnRange[] {
  const g = s.machine.geometry;
  const raw: PfnRange[] = [];
  for (const b of [...s.blocks.values()].sort((x, y) => x.id - y.id)) {
    if (b.nid !== nid || b.state !== 'online' || b.zone === null || b.zone === 'Device') continue;
    let v = b.nrVmemmapPages;
    if (v === 0 && b.altmapId !== null) v = s.altmaps.get(b.altmapId)?.free ?? 0;
    const start = b.id * g.pagesPerBlock + v;
    const end = (b.id + 1) * g.pagesPerBlock;
    for (const r of s.resources) {
      if (!r.flags.includes('system_ram')) continue;
      const a = Math.max(start, Number((r.startBytes + BigInt(g.pageBytes) - 1n) >> BigInt(g.pageShift)));
      const z = Math.min(end, Number((r.endBytes + 1n) >> BigInt(g.pageShift)));
      if (z > a) raw.push({ startPfn: a, endPfn: z, zone: b.zone });
    }
  }
  raw.sort((x, y) => x.startPfn - y.startPfn);
  const out: PfnRange[] = [];
  for (const r of raw) {
    const last = out[out.length - 1];
    if (last && last.endPfn === r.startPfn && last.zone === r.zone) out[out.length - 1] = { ...last, endPfn: r.endPfn };
    else out.push(r);
  }
  return out;
}

/** The highest free, naturally aligned slot of 2^order pages in the node's allowed zones. */
export function findFreeSlot(
  s: ReadonlyMachineState,
  hs: Readonly<HstateState>,
  nid: number,
  ranges: readonly PfnRange[] = hugetlbCandidateRanges(s, nid),
): { headPfn: number; zone: ZoneName } | null {
  const n = 2 ** hs.order;
  const used = hugetlbState(s).used;
  for (const zone of ZONE_PREF) {
    if (zone === 'Movable' && !hs.movable) continue;
    for (const r of ranges.filter((x) => x.zone === zone).reverse()) {
      // walk the gaps between the pool's (merged, disjoint, sorted) ranges from the top down
      let j = usedLowerBound(used, r.endPfn - 1);
      if (j >= used.length || used[j]![0] >= r.endPfn) j -= 1;
      let hi = r.endPfn;
      for (; ; j--) {
        const u = j >= 0 ? used[j] : undefined;
        const inside = u !== undefined && u[1] > r.startPfn;
        const lo = inside ? Math.max(u[1], r.startPfn) : r.startPfn;
        const slot = alignDown(hi - n, n);
        if (hi - lo >= n && slot >= lo) return { headPfn: slot, zone };
        if (!inside) break;
        hi = Math.min(hi, u[0]);
        if (hi <= r.startPfn) break;
      }
    }
  }
  return null;
}

/**
 * alloc_fresh_huge_page on one node (__GFP_THISNODE): a PMD-sized page is an order-9-like buddy allocation and
 * goes through the same fault model as PMD-sized vmemmap blocks; gigantic pages use alloc_contig_pages (fault
 * site `hugetlb:gigantic`). Then prep_new_huge_page, the page joins the pool (free), and HVO runs.
 */
export function allocFreshHugePage(
  ctx: KernelCtx,
  hs: Readonly<HstateState>,
  nid: number,
  surplus: boolean,
  nextNid: number,
  ranges?: RangeCache,
): HugePageState | string {
  const s = ctx.state;
  const g = s.machine.geometry;
  const slot = findFreeSlot(s, hs, nid, ranges ? ranges(nid) : hugetlbCandidateRanges(s, nid));
  if (!slot) return `no free ${hs.gigantic ? 'contiguous range' : 'block'} of ${2 ** hs.order} pages on node ${nid}`;
  if (s.counters.nrFreePages < 2 ** hs.order) return `only ${s.counters.nrFreePages} free pages`;
  const detail = { order: hs.order, nid, pfn: slot.headPfn };
  const f =
    hs.order === g.pmdShift - g.pageShift
      ? ctx.faults.pmdAlloc(detail)
      : hs.gigantic
        ? ctx.faults.site('hugetlb:gigantic', detail)
        : ctx.faults.site('hugetlb:alloc', detail);
  if (f) return f.reason;
  ctx.emitOther('hugetlb.alloc', { order: hs.order, headPfn: slot.headPfn, nid, zone: slot.zone, surplus, nextNidToAlloc: nextNid });
  const page = hugetlbState(ctx.state).pages.get(slot.headPfn)!;
  hvoOptimize(ctx, page);
  return hugetlbState(ctx.state).pages.get(slot.headPfn)!;
}

/**
 * Candidate ranges per node, computed once per command: memory blocks and resources do not change while the
 * pool grows (only the pool's own occupancy does, which findFreeSlot reads from the state).
 */
export type RangeCache = (nid: number) => readonly PfnRange[];
export function rangeCache(s: ReadonlyMachineState): RangeCache {
  const m = new Map<number, readonly PfnRange[]>();
  return (nid) => {
    let r = m.get(nid);
    if (!r) m.set(nid, (r = hugetlbCandidateRanges(s, nid)));
    return r;
  };
}

/** alloc_pool_huge_page: try each allowed node once, round-robin from next_nid_to_alloc. */
function allocPoolHugePage(ctx: KernelCtx, hs: Readonly<HstateState>, allowed: readonly number[], surplus = false, ranges: RangeCache = rangeCache(ctx.state)): HugePageState | null {
  const reasons: string[] = [];
  for (const nid of rotate(allowed, hs.nextNidToAlloc)) {
    const r = allocFreshHugePage(ctx, hs, nid, surplus, after(allowed, nid), ranges);
    if (typeof r !== 'string') return r;
    reasons.push(r);
  }
  ctx.emitOther('hugetlb.alloc_fail', { order: hs.order, nids: [...allowed], reason: reasons.join('; ') || 'no node with memory' });
  return null;
}

/** update_and_free_page: restore the vmemmap, then back to the buddy; on restore failure add it back (surplus). */
export function updateAndFreePage(ctx: KernelCtx, page: Readonly<HugePageState>, adjustSurplusOnFailure: boolean): 0 | ErrnoName {
  const g = ctx.machine.geometry;
  if (hvoRestore(ctx, page) !== 0) {
    ctx.emitOther('hugetlb.add_back', {
      order: page.order,
      headPfn: page.headPfn,
      nid: page.nid,
      zone: page.zone,
      adjustSurplus: adjustSurplusOnFailure,
      newHead: page.newHead,
      freedVmemmapPages: page.freedVmemmapPages,
    });
    return 'ENOMEM';
  }
  ctx.emitOther('hugetlb.free', { order: page.order, headPfn: page.headPfn, nid: page.nid });
  if (page.order === g.pmdShift - g.pageShift) ctx.faults.pmdFreed();
  return 0;
}

/** Free pages of an hstate on a node (or all nodes), most recently enqueued first (the free lists are LIFO). */
export function freePagesOn(s: ReadonlyMachineState, order: number, nid: number | null): HugePageState[] {
  const h = hugetlbState(s);
  const hs = h.hstates.get(order);
  if (!hs) return [];
  const out: HugePageState[] = [];
  for (const [n, l] of hs.freeLists) if (nid === null || n === nid) for (const pfn of l) out.push(h.pages.get(pfn) as HugePageState);
  return out.sort((a, b) => b.enqueuedSeq - a.enqueuedSeq);
}

/** The head of a node's free list (dequeue_huge_page_node_exact takes the first entry). */
function topFreePage(s: ReadonlyMachineState, order: number, nid: number): HugePageState | undefined {
  const h = hugetlbState(s);
  const l = h.hstates.get(order)?.freeLists.get(nid);
  const pfn = l && l.length ? l[l.length - 1] : undefined;
  return pfn === undefined ? undefined : (h.pages.get(pfn) as HugePageState);
}

export interface PoolCounts {
  nr: number;
  free: number;
  surplus: number;
}

/** nr_huge_pages, free_huge_pages, surplus_huge_pages (global, or of one node). */
export function poolCounts(s: ReadonlyMachineState, order: number, nid: number | null = null): PoolCounts {
  const hs = hugetlbState(s).hstates.get(order);
  const sum = (m: ReadonlyMap<number, number> | undefined): number => {
    let t = 0;
    for (const [n, c] of m ?? []) if (nid === null || n === nid) t += c;
    return t;
  };
  return { nr: sum(hs?.nr), free: sum(hs?.free), surplus: sum(hs?.surplus) };
}

/** remove_pool_huge_page(h, nodes, acct_surplus=false): the page taken off a free list, or null. */
function removePoolHugePage(ctx: KernelCtx, hs: Readonly<HstateState>, allowed: readonly number[]): HugePageState | null {
  for (const nid of rotate(allowed, hs.nextNidToFree)) {
    const page = topFreePage(ctx.state, hs.order, nid);
    if (!page) continue;
    ctx.emitOther('hugetlb.remove', { order: hs.order, headPfn: page.headPfn, nextNidToFree: after(allowed, nid) });
    return page;
  }
  return null;
}

/** adjust_pool_surplus(h, nodes, delta). */
function adjustPoolSurplus(ctx: KernelCtx, hs: Readonly<HstateState>, allowed: readonly number[], delta: -1 | 1): boolean {
  const start = delta < 0 ? hs.nextNidToAlloc : hs.nextNidToFree;
  for (const nid of rotate(allowed, start)) {
    const sur = hs.surplus.get(nid) ?? 0;
    const ok = delta < 0 ? sur > 0 : sur < poolCounts(ctx.state, hs.order, nid).nr;
    if (!ok) continue;
    ctx.emitOther('hugetlb.surplus', { order: hs.order, nid, delta, nextNid: after(allowed, nid) });
    return true;
  }
  return false;
}

/**
 * set_max_huge_pages(h, count, nid) (6.1): per-node counts are turned into a global target; surplus pages are
 * made persistent first; fresh pages are allocated until the target or the first failure; then free pages are
 * removed (down to the pages in use) and finally in-use pages become surplus. Always returns 0: the pool may
 * simply not reach the target.
 */
export function setMaxHugePages(ctx: KernelCtx, order: number, countIn: number, nid: number | null): KResult {
  const h = () => hugetlbState(ctx.state);
  const hs = () => h().hstates.get(order)!;
  if (!h().hstates.has(order)) return fail('ENOENT', `no hstate of order ${order}`);
  const mem = nodesWithMemory(ctx.state);
  const allowed = nid === null ? mem : [nid];
  let count = countIn;
  if (nid !== null) count += poolCounts(ctx.state, order).nr - poolCounts(ctx.state, order, nid).nr;
  const persistent = () => {
    const c = poolCounts(ctx.state, order);
    return c.nr - c.surplus;
  };
  while (poolCounts(ctx.state, order).surplus > 0 && count > persistent()) if (!adjustPoolSurplus(ctx, hs(), allowed, -1)) break;
  const ranges = rangeCache(ctx.state);
  while (count > persistent()) {
    if (allowed.length === 0 || !allocPoolHugePage(ctx, hs(), allowed, false, ranges)) {
      if (allowed.length === 0) ctx.emitOther('hugetlb.alloc_fail', { order, nids: [], reason: 'no allowed node has memory' });
      return ok();
    }
  }
  const c = poolCounts(ctx.state, order);
  const minCount = Math.max(count, c.nr - c.free);
  // Pages are taken off the lists under hugetlb_lock first, then freed (update_and_free_pages_bulk): a page
  // whose vmemmap cannot be restored comes back as surplus and is not taken again in this call.
  const removed: HugePageState[] = [];
  while (minCount < persistent()) {
    const page = removePoolHugePage(ctx, hs(), allowed);
    if (!page) break;
    removed.push(page);
  }
  for (const page of removed) updateAndFreePage(ctx, page, true);
  while (count < persistent()) if (!adjustPoolSurplus(ctx, hs(), allowed, 1)) break;
  return ok();
}

/**
 * A user maps `pages` huge pages (dequeue from the free lists, preferring `nid`; beyond them, surplus pages
 * up to nr_overcommit_hugepages for the default size) or unmaps −pages (free_huge_page: a surplus node gives
 * its page back to the buddy, restoring the vmemmap; otherwise the page returns to the free list).
 */
export function hugetlbUse(ctx: KernelCtx, order: number, pages: number, nid: number | null): KResult {
  const s = ctx.state;
  const h = hugetlbState(s);
  const hs = h.hstates.get(order);
  if (!hs) return fail('ENOENT', `no hstate of order ${order}`);
  for (let i = 0; i < pages; i++) {
    // the local node first, then every node in order (a simplified zonelist walk)
    const nodes = [...(nid !== null ? [nid] : []), ...[...(hs.freeLists.keys())].sort((a, b) => a - b)];
    const page = nodes.map((n) => topFreePage(s, order, n)).find((p) => p !== undefined);
    if (page) {
      ctx.emitOther('hugetlb.use', { order, headPfn: page.headPfn, inUse: true });
      continue;
    }
    const overcommit = order === h.defaultOrder ? s.knobs.nrOvercommitHugepages : 0;
    if (poolCounts(s, order).surplus >= overcommit) return fail('ENOMEM', `no free huge page and surplus ${poolCounts(s, order).surplus} ≥ nr_overcommit_hugepages ${overcommit}`);
    const allowed = nid !== null ? [nid] : nodesWithMemory(s);
    const fresh = allocPoolHugePage(ctx, hugetlbState(ctx.state).hstates.get(order)!, allowed, true);
    if (!fresh) return fail('ENOMEM', 'alloc_surplus_huge_page failed');
    ctx.emitOther('hugetlb.use', { order, headPfn: fresh.headPfn, inUse: true });
  }
  for (let i = 0; i < -pages; i++) {
    const used = [...hugetlbState(ctx.state).pages.values()]
      .filter((p) => p.order === order && p.inUse && (nid === null || p.nid === nid))
      .sort((a, b) => b.headPfn - a.headPfn);
    const page = used[0];
    if (!page) return fail('EINVAL', 'no mapped huge page to unmap');
    ctx.emitOther('hugetlb.use', { order, headPfn: page.headPfn, inUse: false });
    if ((hugetlbState(ctx.state).hstates.get(order)!.surplus.get(page.nid) ?? 0) > 0) {
      const hs2 = hugetlbState(ctx.state).hstates.get(order)!;
      ctx.emitOther('hugetlb.remove', { order, headPfn: page.headPfn, nextNidToFree: hs2.nextNidToFree });
      ctx.emitOther('hugetlb.surplus', { order, nid: page.nid, delta: -1, nextNid: hs2.nextNidToAlloc });
      updateAndFreePage(ctx, page, true);
    }
  }
  return ok();
}
