/**
 * The auto-movable online policy (5.15+; mm/memory_hotplug.c `auto_movable_zone_for_pfn`,
 * `auto_movable_can_online_movable`, `auto_movable_stats_account_{zone,group}`; apps/docs/kernel/hotplug.md#auto-movable).
 * Returns the zone and the numbers behind the decision so `explain` and tests can show them.
 */
import type { ZoneName } from '../arch/backend.js';
import { pfnToSectionNr } from '../model/geometry.js';
import type { ReadonlyMachineState } from '../model/state.js';
import { defaultKernelZoneForPfn, pageZone, pfnIsOnline } from './zone.js';

export interface AutoMovableCheck {
  /** 'global' (NUMA_NO_NODE) or the node id. */
  readonly scope: 'global' | number;
  readonly movablePages: number;
  readonly kernelEarlyPages: number;
  /** Σ over the other dynamic groups of max(0, movable × 100 / ratio − kernel). */
  readonly reqKernelEarlyPages: number;
  readonly otherGroupsMovablePages: number;
  readonly needPages: number;
  readonly passed: boolean;
}

export interface AutoMovableDecision {
  readonly zone: ZoneName;
  readonly why: string;
  readonly checks: readonly AutoMovableCheck[];
}

/** auto_movable_can_online_movable(nid, group, nr_pages). */
export function autoMovableCanOnlineMovable(
  s: ReadonlyMachineState,
  scope: 'global' | number,
  group: number | null,
  nrPages: number,
): AutoMovableCheck {
  const ratio = s.knobs.autoMovableRatio;
  let movable = 0;
  let kernelEarly = 0;
  for (const n of s.nodes.values()) {
    if (scope !== 'global' && n.id !== scope) continue;
    for (const z of n.zones.values()) {
      if (z.presentPages === 0 || z.name === 'Device') continue; // populated_zone; ZONE_DEVICE has no present pages
      if (z.name === 'Movable') movable += z.presentPages;
      else {
        kernelEarly += z.presentEarlyPages - z.cmaPages;
        movable += z.cmaPages; // CMA pages behave like ZONE_MOVABLE
      }
    }
  }
  // walk_dynamic_memory_groups(nid, …, excluded = group): every other dynamic group on the node (or all).
  let req = 0;
  let groupMovable = 0;
  if (ratio !== 0) {
    for (const g of s.groups.values()) {
      if (g.kind !== 'dynamic' || g.id === group) continue;
      if (scope !== 'global' && g.nid !== scope) continue;
      const pages = Math.trunc((g.presentMovablePages * 100) / ratio) - g.presentKernelPages;
      if (pages > 0) req += pages;
      groupMovable += g.presentMovablePages;
    }
  }
  const base = { scope, reqKernelEarlyPages: req, otherGroupsMovablePages: groupMovable, needPages: nrPages };
  if (kernelEarly <= req) return { ...base, movablePages: movable, kernelEarlyPages: kernelEarly, passed: false };
  kernelEarly -= req;
  movable -= groupMovable;
  const g = group === null ? undefined : s.groups.get(group);
  if (g?.kind === 'dynamic') kernelEarly += g.presentKernelPages;
  movable += nrPages;
  // Unsigned long arithmetic in the kernel: ratio × kernel_early / 100, integer division.
  const passed = movable <= Math.floor((ratio * kernelEarly) / 100);
  return { ...base, movablePages: movable, kernelEarlyPages: kernelEarly, passed };
}

/** auto_movable_zone_for_pfn(nid, group, pfn, nr_pages). */
export function autoMovableZoneForPfn(
  s: ReadonlyMachineState,
  nid: number,
  group: number | null,
  pfn: number,
  nrPages: number,
): AutoMovableDecision {
  const kernelZone = (why: string, checks: AutoMovableCheck[] = [], atPfn = pfn): AutoMovableDecision => ({
    zone: defaultKernelZoneForPfn(s, nid, atPfn, nrPages),
    why,
    checks,
  });
  if (s.knobs.autoMovableRatio === 0) return kernelZone('auto_movable_ratio is 0');
  const g = group === null ? undefined : s.groups.get(group);
  let maxPages: number;
  let onlinePages = 0;
  let scanPfn = pfn;
  if (g && g.kind === 'static') {
    maxPages = g.pages;
    onlinePages = g.presentMovablePages;
    if (g.presentKernelPages > 0) return kernelZone(`static memory group ${g.id} already has kernel pages`);
  } else if (!g || g.pages === nrPages) {
    maxPages = nrPages;
  } else {
    // A dynamic group with a unit larger than the block: look at every online section of the unit.
    const geo = s.machine.geometry;
    maxPages = g.pages;
    scanPfn = Math.floor(pfn / g.pages) * g.pages;
    const endPfn = scanPfn + g.pages;
    for (let p = scanPfn; p < endPfn; p += geo.pagesPerSection) {
      if (!pfnIsOnline(s, p)) continue;
      if (pageZone(s, p)?.zone !== 'Movable')
        return kernelZone(`section ${pfnToSectionNr(geo, p)} of the same ${g.pages}-page unit is online in a kernel zone`, [], p);
      onlinePages += geo.pagesPerSection;
    }
    // The kernel's loop leaves pfn at the end of the unit; a later fallback asks for the kernel zone there.
    scanPfn = endPfn;
  }
  const need = maxPages - onlinePages;
  const checks: AutoMovableCheck[] = [];
  const global = autoMovableCanOnlineMovable(s, 'global', group, need);
  checks.push(global);
  if (!global.passed) return kernelZone('the global MOVABLE:KERNEL_EARLY ratio would be exceeded', checks, scanPfn);
  if (s.knobs.autoMovableNumaAware) {
    const local = autoMovableCanOnlineMovable(s, nid, group, need);
    checks.push(local);
    if (!local.passed) return kernelZone(`node ${nid}'s MOVABLE:KERNEL_EARLY ratio would be exceeded`, checks, scanPfn);
  }
  return { zone: 'Movable', why: `${need} more movable pages stay within auto_movable_ratio ${s.knobs.autoMovableRatio}%`, checks };
}
