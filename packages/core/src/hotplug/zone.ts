/**
 * Zone selection for onlining (mm/memory_hotplug.c, 6.1: `zone_for_pfn_range`, `default_kernel_zone_for_pfn`,
 * `default_zone_for_pfn`; apps/docs/kernel/hotplug.md#onlining) and the page→zone lookups the online/offline paths need
 * (`zone_intersects`, `page_zone`, `shrink_zone_span`). Pure functions over the read-only state.
 */
import type { ZoneName } from '../arch/backend.js';
import type { OnlineType } from '../api.js';
import { pfnToBlockId, pfnToSectionNr, sectionNrToPfn, subsectionBitSet } from '../model/geometry.js';
import { SECTION_IS_ONLINE, type DeepReadonly, type ReadonlyMachineState, type ZoneState } from '../model/state.js';
import { autoMovableZoneForPfn } from './auto-movable.js';

export type ZoneView = DeepReadonly<ZoneState>;

/** Kernel zones in zone_idx order, below ZONE_MOVABLE. */
export const KERNEL_ZONES: readonly ZoneName[] = ['DMA', 'DMA32', 'Normal'];
/** Every zone in zone_idx order. */
export const ZONE_ORDER: readonly ZoneName[] = ['DMA', 'DMA32', 'Normal', 'Movable', 'Device'];

export function getZone(s: ReadonlyMachineState, nid: number, name: ZoneName): ZoneView | undefined {
  return s.nodes.get(nid)?.zones.get(name);
}

/** zone_is_empty: no span. */
export const zoneIsEmpty = (z: ZoneView | undefined): boolean => !z || z.spannedPages === 0;
/** populated_zone: present pages > 0. */
export const populatedZone = (z: ZoneView | undefined): boolean => !!z && z.presentPages > 0;

/** zone_intersects: the zone's span overlaps [startPfn, startPfn + nrPages). */
export function zoneIntersects(z: ZoneView | undefined, startPfn: number, nrPages: number): boolean {
  if (!z || zoneIsEmpty(z)) return false;
  return startPfn < z.startPfn + z.spannedPages && startPfn + nrPages > z.startPfn;
}

/** default_kernel_zone_for_pfn: the first zone below ZONE_NORMAL that intersects the range, else ZONE_NORMAL. */
export function defaultKernelZoneForPfn(s: ReadonlyMachineState, nid: number, startPfn: number, nrPages: number): ZoneName {
  for (const name of ['DMA', 'DMA32'] as const) if (zoneIntersects(getZone(s, nid, name), startPfn, nrPages)) return name;
  return 'Normal';
}

/** default_zone_for_pfn (the contig-zones policy). */
export function defaultZoneForPfn(s: ReadonlyMachineState, nid: number, startPfn: number, nrPages: number): ZoneName {
  const kernelZone = defaultKernelZoneForPfn(s, nid, startPfn, nrPages);
  const inKernel = zoneIntersects(getZone(s, nid, kernelZone), startPfn, nrPages);
  const inMovable = zoneIntersects(getZone(s, nid, 'Movable'), startPfn, nrPages);
  if (inKernel !== inMovable) return inKernel ? kernelZone : 'Movable';
  return s.params.movableNode ? 'Movable' : kernelZone;
}

/**
 * zone_for_pfn_range(online_type, nid, group, start_pfn, nr_pages). `onlineType` 'online' follows the policy
 * (`memory_hotplug.online_policy`, read from the runtime knobs).
 */
export function zoneForPfnRange(
  s: ReadonlyMachineState,
  onlineType: OnlineType,
  nid: number,
  group: number | null,
  startPfn: number,
  nrPages: number,
): ZoneName {
  if (onlineType === 'online_kernel') return defaultKernelZoneForPfn(s, nid, startPfn, nrPages);
  if (onlineType === 'online_movable') return 'Movable';
  if (s.knobs.onlinePolicy === 'auto-movable') return autoMovableZoneForPfn(s, nid, group, startPfn, nrPages).zone;
  return defaultZoneForPfn(s, nid, startPfn, nrPages);
}

/**
 * pfn_to_online_page (apps/docs/kernel/sparse.md#validity) reduced to what zone lookups need: the section is online and the pfn's
 * sub-section bit is set. (The ZONE_DEVICE slow path is issue 5's; device pages are never IS_ONLINE here.)
 */
export function pfnIsOnline(s: ReadonlyMachineState, pfn: number): boolean {
  const g = s.machine.geometry;
  const ms = s.sectionTable[pfnToSectionNr(g, pfn)];
  if (!ms || (ms.flags & SECTION_IS_ONLINE) === 0) return false;
  return subsectionBitSet(g, ms.subsectionMap, pfn);
}

/** {@link pageZone}'s zone alone (no result object: offline_pages asks for two pfns per block). */
export function pageZoneName(s: ReadonlyMachineState, pfn: number): ZoneName | null {
  const g = s.machine.geometry;
  const b = s.blockTable[pfnToBlockId(g, pfn)];
  if (b?.zone) return b.zone;
  return pageZone(s, pfn)?.zone ?? null;
}

/**
 * page_zone(pfn_to_page(pfn)) for an initialised page: the zone of its online memory block; for a boot block
 * that spans several zones, the kernel zone whose span contains the pfn (boot zones do not overlap).
 */
export function pageZone(s: ReadonlyMachineState, pfn: number): { nid: number; zone: ZoneName } | null {
  const g = s.machine.geometry;
  const b = s.blockTable[pfnToBlockId(g, pfn)];
  if (b?.zone) return { nid: b.nid, zone: b.zone };
  const nid = s.sectionTable[pfnToSectionNr(g, pfn)]?.nid ?? b?.nid;
  if (nid === undefined) return null;
  for (const name of KERNEL_ZONES) {
    const z = getZone(s, nid, name);
    if (z && !zoneIsEmpty(z) && pfn >= z.startPfn && pfn < z.startPfn + z.spannedPages) return { nid, zone: name };
  }
  return null;
}

/** An online pfn of this node and zone (shrink_zone_span's find_smallest/biggest_section_pfn test). */
function belongsToZone(s: ReadonlyMachineState, pfn: number, nid: number, zone: ZoneName): boolean {
  if (!pfnIsOnline(s, pfn)) return false;
  const pz = pageZone(s, pfn);
  return pz !== null && pz.nid === nid && pz.zone === zone;
}

const sectionOnline = (s: ReadonlyMachineState, nr: number): boolean => ((s.sectionTable[nr]?.flags ?? 0) & SECTION_IS_ONLINE) !== 0;

/** The span after resize_zone_range (growing only): the union of the old span and the range. */
export function grownSpan(z: ZoneView | undefined, startPfn: number, nrPages: number): { startPfn: number; spannedPages: number } {
  if (!z || zoneIsEmpty(z)) return { startPfn, spannedPages: nrPages };
  const start = Math.min(z.startPfn, startPfn);
  const end = Math.max(z.startPfn + z.spannedPages, startPfn + nrPages);
  return { startPfn: start, spannedPages: end - start };
}

/**
 * shrink_zone_span (6.1): only when the removed range sits at the zone's first or last pfn, search (by
 * sub-section, skipping whole sections that are not online) for the nearest online pfn of this zone and node
 * and cut the span there; none left → the zone becomes empty (0, 0). Called after the range went offline.
 */
export function shrunkSpan(
  s: ReadonlyMachineState,
  nid: number,
  zone: ZoneName,
  startPfn: number,
  nrPages: number,
): { startPfn: number; spannedPages: number } | null {
  const z = getZone(s, nid, zone);
  if (!z || zoneIsEmpty(z)) return null;
  const g = s.machine.geometry;
  const endPfn = startPfn + nrPages;
  const zEnd = z.startPfn + z.spannedPages;
  if (z.startPfn === startPfn) {
    for (let pfn = endPfn; pfn < zEnd; ) {
      const nr = pfnToSectionNr(g, pfn);
      if (!sectionOnline(s, nr)) {
        pfn = sectionNrToPfn(g, nr + 1);
        continue;
      }
      if (belongsToZone(s, pfn, nid, zone)) return { startPfn: pfn, spannedPages: zEnd - pfn };
      pfn += g.pagesPerSubsection;
    }
    return { startPfn: 0, spannedPages: 0 };
  }
  if (zEnd === endPfn) {
    for (let pfn = startPfn - 1; pfn >= z.startPfn; ) {
      const nr = pfnToSectionNr(g, pfn);
      if (!sectionOnline(s, nr)) {
        pfn = sectionNrToPfn(g, nr) - 1;
        continue;
      }
      if (belongsToZone(s, pfn, nid, zone)) return { startPfn: z.startPfn, spannedPages: pfn - z.startPfn + 1 };
      pfn -= g.pagesPerSubsection;
    }
    return { startPfn: 0, spannedPages: 0 };
  }
  return null;
}

/** Node span (update_pgdat_span): the union of its zones' spans. */
export function nodeSpan(s: ReadonlyMachineState, nid: number): { startPfn: number; spannedPages: number } {
  let start = 0;
  let end = 0;
  for (const z of s.nodes.get(nid)?.zones.values() ?? []) {
    if (zoneIsEmpty(z)) continue;
    const ze = z.startPfn + z.spannedPages;
    if (end === 0) {
      start = z.startPfn;
      end = ze;
      continue;
    }
    start = Math.min(start, z.startPfn);
    end = Math.max(end, ze);
  }
  return { startPfn: start, spannedPages: end - start };
}

export interface NodeStates {
  readonly memory: boolean;
  readonly normalMemory: boolean;
}
// the four answers, shared: online and offline ask twice a block, and callers only read them
const NODE_STATES: readonly NodeStates[] = [
  Object.freeze({ memory: false, normalMemory: false }),
  Object.freeze({ memory: false, normalMemory: true }),
  Object.freeze({ memory: true, normalMemory: false }),
  Object.freeze({ memory: true, normalMemory: true }),
];

/** Node states (N_MEMORY, N_NORMAL_MEMORY) as node_states_check_changes_* compute them, from present pages. */
export function nodeStates(s: ReadonlyMachineState, nid: number): NodeStates {
  let memory = false;
  let normalMemory = false;
  const n = s.nodes.get(nid);
  if (!n) return NODE_STATES[0]!;
  // (one iterator kind here: `?? []` would make this loop polymorphic, and it runs twice per online/offline)
  for (const z of n.zones.values()) {
    if (z.name === 'Device' || z.presentPages === 0) continue;
    memory = true;
    if (z.name !== 'Movable') normalMemory = true;
  }
  return NODE_STATES[(memory ? 2 : 0) + (normalMemory ? 1 : 0)]!;
}
