/**
 * The iomem resource table's storage: an array for readers plus an id → slot map and a section → resources index, so
 * request, release and conflict checks cost O(sections of the range), not O(resources) — a 64 TiB machine has
 * half a million of them. Only evolve mutates (the `*Mut` functions); the queries are for everyone.
 */
import type { MachineState, ReadonlyMachineState, ResourceState } from './state.js';

type Res = ReadonlyMachineState['resources'][number];

/** First and last section of [startBytes, endBytes]: physical addresses are below 2^52, so doubles divide them exactly. */
const sectionOf = (s: ReadonlyMachineState, bytes: bigint): number => Math.floor(Number(bytes) / 2 ** s.machine.geometry.sectionSizeBits);

const overlaps = (r: Res, startBytes: bigint, endBytes: bigint): boolean => r.endBytes >= startBytes && r.startBytes <= endBytes;

/**
 * Resources overlapping [startBytes, endBytes] (inclusive), in index order (the order they were indexed in: the
 * first section's list first), which callers that report "the first conflict" rely on.
 */
export function resourcesIntersecting(s: ReadonlyMachineState, startBytes: bigint, endBytes: bigint): Res[] {
  const out: Res[] = [];
  if (endBytes < startBytes) return out;
  const a = sectionOf(s, startBytes);
  const b = sectionOf(s, endBytes);
  if (a === b) {
    // one section: its list has no duplicates
    const rs = s.resourceIndex.get(a);
    if (rs) for (let i = 0; i < rs.length; i++) if (overlaps(rs[i]!, startBytes, endBytes)) out.push(rs[i]!);
    return out;
  }
  const seen = new Set<Res>();
  for (let nr = a; nr <= b; nr++) {
    const rs = s.resourceIndex.get(nr);
    if (!rs) continue;
    for (const r of rs) {
      if (seen.has(r)) continue;
      seen.add(r);
      if (overlaps(r, startBytes, endBytes)) out.push(r);
    }
  }
  return out;
}

/** The first resource (in {@link resourcesIntersecting} order) that contains all of [startBytes, endBytes]. */
export function resourceContaining(s: ReadonlyMachineState, startBytes: bigint, endBytes: bigint): Res | undefined {
  if (endBytes < startBytes) return undefined;
  // a containing resource is in the list of the range's first section
  const rs = s.resourceIndex.get(sectionOf(s, startBytes));
  if (rs) for (let i = 0; i < rs.length; i++) if (rs[i]!.startBytes <= startBytes && rs[i]!.endBytes >= endBytes) return rs[i];
  return undefined;
}

export function resourceById(s: ReadonlyMachineState, id: number): Res | undefined {
  const slot = s.resourceSlot.get(id);
  return slot === undefined ? undefined : s.resources[slot];
}

/** /proc/iomem order: by start address. */
export const iomemSorted = (s: ReadonlyMachineState): Res[] => [...s.resources].sort((x, y) => (x.startBytes < y.startBytes ? -1 : x.startBytes > y.startBytes ? 1 : 0));

function indexAdd(s: MachineState, r: ResourceState): void {
  const b = sectionOf(s, r.endBytes);
  for (let nr = sectionOf(s, r.startBytes); nr <= b; nr++) {
    const rs = s.resourceIndex.get(nr);
    if (rs) rs.push(r);
    else s.resourceIndex.set(nr, [r]);
  }
}

function indexRemove(s: MachineState, r: ResourceState): void {
  const b = sectionOf(s, r.endBytes);
  for (let nr = sectionOf(s, r.startBytes); nr <= b; nr++) {
    const rs = s.resourceIndex.get(nr);
    if (!rs) continue;
    if (rs.length === 1 && rs[0] === r) {
      s.resourceIndex.delete(nr);
      continue;
    }
    const i = rs.indexOf(r);
    if (i >= 0) rs.splice(i, 1);
    if (rs.length === 0) s.resourceIndex.delete(nr);
  }
}

export function insertResourceMut(s: MachineState, r: ResourceState): void {
  s.resourceSlot.set(r.id, s.resources.length);
  s.resources.push(r);
  indexAdd(s, r);
  if (r.id >= s.nextResourceId) s.nextResourceId = r.id + 1;
}

export function removeResourceMut(s: MachineState, id: number): void {
  const slot = s.resourceSlot.get(id);
  if (slot === undefined) return;
  const r = s.resources[slot]!;
  indexRemove(s, r);
  const last = s.resources.pop()!;
  if (last.id !== id) {
    s.resources[slot] = last;
    s.resourceSlot.set(last.id, slot);
  }
  s.resourceSlot.delete(id);
}

/** Change a resource's span (shrink, grow by merge), keeping the index right. */
export function resizeResourceMut(s: MachineState, id: number, startBytes: bigint, endBytes: bigint): void {
  const slot = s.resourceSlot.get(id);
  if (slot === undefined) return;
  const r = s.resources[slot]!;
  indexRemove(s, r);
  r.startBytes = startBytes;
  r.endBytes = endBytes;
  indexAdd(s, r);
}
