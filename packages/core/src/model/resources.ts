/**
 * The iomem resource table's storage: an array for readers plus an id → slot map and a section → ids index, so
 * request, release and conflict checks cost O(sections of the range), not O(resources) — a 64 TiB machine has
 * half a million of them. Only evolve mutates (the `*Mut` functions); the queries are for everyone.
 */
import type { MachineState, ReadonlyMachineState, ResourceState } from './state.js';

type Res = ReadonlyMachineState['resources'][number];

/** Physical addresses are below 2^52, so plain doubles divide them exactly. */
const sectionSpan = (s: ReadonlyMachineState, startBytes: bigint, endBytes: bigint): [number, number] => {
  const size = 2 ** s.machine.geometry.sectionSizeBits;
  return [Math.floor(Number(startBytes) / size), Math.floor(Number(endBytes) / size)];
};

/** Resources overlapping [startBytes, endBytes] (inclusive), in no particular order. */
export function resourcesIntersecting(s: ReadonlyMachineState, startBytes: bigint, endBytes: bigint): Res[] {
  if (endBytes < startBytes) return [];
  const [a, b] = sectionSpan(s, startBytes, endBytes);
  const out: Res[] = [];
  if (a === b) {
    // one section: its id list has no duplicates
    for (const id of s.resourceIndex.get(a) ?? []) {
      const r = resourceById(s, id);
      if (r && r.endBytes >= startBytes && r.startBytes <= endBytes) out.push(r);
    }
    return out;
  }
  const seen = new Set<number>();
  for (let nr = a; nr <= b; nr++) {
    const ids = s.resourceIndex.get(nr);
    if (!ids) continue;
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const r = resourceById(s, id);
      if (r && r.endBytes >= startBytes && r.startBytes <= endBytes) out.push(r);
    }
  }
  return out;
}

export function resourceById(s: ReadonlyMachineState, id: number): Res | undefined {
  const slot = s.resourceSlot.get(id);
  return slot === undefined ? undefined : s.resources[slot];
}

/** /proc/iomem order: by start address. */
export const iomemSorted = (s: ReadonlyMachineState): Res[] => [...s.resources].sort((x, y) => (x.startBytes < y.startBytes ? -1 : x.startBytes > y.startBytes ? 1 : 0));

function indexAdd(s: MachineState, r: ResourceState): void {
  const [a, b] = sectionSpan(s, r.startBytes, r.endBytes);
  for (let nr = a; nr <= b; nr++) {
    const ids = s.resourceIndex.get(nr);
    if (ids) ids.push(r.id);
    else s.resourceIndex.set(nr, [r.id]);
  }
}

function indexRemove(s: MachineState, r: ResourceState): void {
  const [a, b] = sectionSpan(s, r.startBytes, r.endBytes);
  for (let nr = a; nr <= b; nr++) {
    const ids = s.resourceIndex.get(nr);
    if (!ids) continue;
    const i = ids.indexOf(r.id);
    if (i >= 0) ids.splice(i, 1);
    if (ids.length === 0) s.resourceIndex.delete(nr);
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
