/**
 * HugeTLB pages in a range being offlined (mm/memory_hotplug.c offline_pages → do_migrate_range and
 * dissolve_free_huge_pages, mm/hugetlb.c dissolve_free_huge_page; 6.1; apps/docs/kernel/hotplug.md#offlining, apps/docs/kernel/hvo.md#steps): in-use pages are
 * migrated to a page outside the range, free pages are dissolved — which needs the HVO restore allocation.
 */
import type { KernelCtx } from '../commands/registry.js';
import type { ErrnoName } from '../kernel/errno.js';
import { allocFreshHugePage, freePagesOn, nodesWithMemory, poolCounts, updateAndFreePage } from './pool.js';
import { hugetlbState, type HugePageState } from './state.js';

export interface OfflineFailure {
  readonly errno: ErrnoName;
  readonly reason: string;
}

const inRange = (p: Readonly<HugePageState>, start: number, end: number): boolean => p.headPfn < end && p.headPfn + 2 ** p.order > start;

/**
 * do_migrate_range for the HugeTLB pages of [start, start + nr): the target is a free pool page outside the
 * range on another node if there is one (alloc_migration_target clears the source node from the mask unless it
 * is the only one), else a fresh page (alloc_migrate_huge_page), whose source page is then freed to the buddy.
 * With no target the kernel retries until a signal arrives: memhp reports that as -EINTR "signal backoff".
 */
export function migrateHugetlbRange(ctx: KernelCtx, startPfn: number, nrPages: number): OfflineFailure | null {
  const end = startPfn + nrPages;
  const used = [...hugetlbState(ctx.state).pages.values()].filter((p) => p.inUse && inRange(p, startPfn, end)).sort((a, b) => a.headPfn - b.headPfn);
  for (const page of used) {
    const others = nodesWithMemory(ctx.state).filter((n) => n !== page.nid);
    const allowed = others.length ? others : [page.nid];
    const target = allowed.flatMap((n) => freePagesOn(ctx.state, page.order, n)).find((p) => !inRange(p, startPfn, end));
    if (target) {
      ctx.emitOther('hugetlb.migrate', { order: page.order, fromPfn: page.headPfn, toPfn: target.headPfn });
      continue;
    }
    let fresh: HugePageState | string = 'no node to allocate on';
    const hs = hugetlbState(ctx.state).hstates.get(page.order)!;
    for (const n of allowed) {
      fresh = allocFreshHugePage(ctx, hs, n, false, hs.nextNidToAlloc);
      if (typeof fresh !== 'string') break;
    }
    if (typeof fresh === 'string') {
      ctx.emitOther('hugetlb.alloc_fail', { order: page.order, nids: allowed, reason: `migration target: ${fresh}` });
      return { errno: 'EINTR', reason: 'signal backoff (no migration target for an in-use HugeTLB page; the kernel retries until a signal)' };
    }
    ctx.emitOther('hugetlb.migrate', { order: page.order, fromPfn: page.headPfn, toPfn: fresh.headPfn });
    // the temporary target keeps the data; the old page is freed to the buddy (its vmemmap restored first)
    const old = hugetlbState(ctx.state).pages.get(page.headPfn)!;
    ctx.emitOther('hugetlb.remove', { order: old.order, headPfn: old.headPfn, nextNidToFree: hs.nextNidToFree });
    updateAndFreePage(ctx, old, true);
  }
  return null;
}

/**
 * dissolve_free_huge_pages(start, end): every free pool page in the range is removed, its vmemmap restored and
 * freed; a restore failure adds it back and offlining fails "failure to dissolve huge pages" (-ENOMEM); no
 * available (unreserved) free page, or a page still in use → -EBUSY.
 */
export function dissolveFreeHugePages(ctx: KernelCtx, startPfn: number, nrPages: number): OfflineFailure | null {
  const end = startPfn + nrPages;
  const pages = [...hugetlbState(ctx.state).pages.values()].filter((p) => inRange(p, startPfn, end)).sort((a, b) => a.headPfn - b.headPfn);
  for (const page of pages) {
    if (page.inUse) return { errno: 'EBUSY', reason: 'failure to dissolve huge pages' };
    if (poolCounts(ctx.state, page.order).free <= 0) return { errno: 'EBUSY', reason: 'failure to dissolve huge pages' };
    const hs = hugetlbState(ctx.state).hstates.get(page.order)!;
    ctx.emitOther('hugetlb.remove', { order: page.order, headPfn: page.headPfn, nextNidToFree: hs.nextNidToFree });
    if (updateAndFreePage(ctx, page, false) !== 0) return { errno: 'ENOMEM', reason: 'failure to dissolve huge pages' };
  }
  return null;
}

/** The HugeTLB part of offline_pages' loop: migrate, then dissolve. */
export function hugetlbOfflineRange(ctx: KernelCtx, startPfn: number, nrPages: number): OfflineFailure | null {
  if (hugetlbState(ctx.state).pages.size === 0) return null;
  return migrateHugetlbRange(ctx, startPfn, nrPages) ?? dissolveFreeHugePages(ctx, startPfn, nrPages);
}
