/**
 * The iomem resource table's storage: an array for readers plus an id → slot map and a section → resources index, so
 * request, release and conflict checks cost O(sections of the range), not O(resources) — a 64 TiB machine has
 * half a million of them. Only evolve mutates (the `*Mut` functions); the queries are for everyone.
 */
import type { IomemFlag, MachineState, ReadonlyMachineState, ResourceState } from './state.js';
import { clearSlot } from './tables.js';

type Res = ReadonlyMachineState['resources'][number];

/**
 * Plain hot-added System RAM's flags: one frozen list shared by every such resource and request (half a million
 * at 64 TiB), as the bus would freeze it anyway.
 */
export const SYSTEM_RAM_BUSY = Object.freeze(['system_ram', 'busy']) as IomemFlag[];

/** First and last section of [startBytes, endBytes]: physical addresses are below 2^52, so doubles divide them exactly. */
// (a product of two geometry fields, not 2 ** sectionSizeBits: a variable power is a ~50 ns libm call)
const sectionOf = (s: ReadonlyMachineState, bytes: bigint): number =>
  Math.floor(Number(bytes) / (s.machine.geometry.pagesPerSection * s.machine.geometry.pageBytes));

const NONE: readonly Res[] = Object.freeze([]);

const overlaps = (r: Res, startBytes: bigint, endBytes: bigint): boolean => r.endBytes >= startBytes && r.startBytes <= endBytes;

/**
 * Resources overlapping [startBytes, endBytes] (inclusive), in index order (the order they were indexed in: the
 * first section's entry first), which callers that report "the first conflict" rely on.
 */
export function resourcesIntersecting(s: ReadonlyMachineState, startBytes: bigint, endBytes: bigint): readonly Res[] {
  // the common answer to a hot-add's conflict check is "none": one shared empty list rather than one per call
  if (endBytes < startBytes) return NONE;
  const a = sectionOf(s, startBytes);
  const b = sectionOf(s, endBytes);
  if (a === b) {
    // one section: its entry has no duplicates
    const x = s.resourceIndex[a];
    if (x === undefined) return NONE;
    if (!isList(x)) return overlaps(x, startBytes, endBytes) ? [x] : NONE;
    const out: Res[] = [];
    for (let i = 0; i < x.length; i++) if (overlaps(x[i]!, startBytes, endBytes)) out.push(x[i]!);
    return out;
  }
  const out: Res[] = [];
  const seen = new Set<Res>();
  for (let nr = a; nr <= b; nr++) {
    const x = s.resourceIndex[nr];
    if (x === undefined) continue;
    for (const r of isList(x) ? x : [x]) {
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
  // a containing resource is in the entry of the range's first section
  const x = s.resourceIndex[sectionOf(s, startBytes)];
  if (x === undefined) return undefined;
  if (!isList(x)) return x.startBytes <= startBytes && x.endBytes >= endBytes ? x : undefined;
  for (let i = 0; i < x.length; i++) if (x[i]!.startBytes <= startBytes && x[i]!.endBytes >= endBytes) return x[i];
  return undefined;
}

export function resourceById(s: ReadonlyMachineState, id: number): Res | undefined {
  const slot = s.resourceSlot[id];
  return slot === undefined ? undefined : s.resources[slot];
}

/** /proc/iomem order: by start address. */
export const iomemSorted = (s: ReadonlyMachineState): Res[] => [...s.resources].sort((x, y) => (x.startBytes < y.startBytes ? -1 : x.startBytes > y.startBytes ? 1 : 0));

const isList = <T>(x: T | readonly T[]): x is readonly T[] => Array.isArray(x);

function indexAdd(s: MachineState, r: ResourceState): void {
  const b = sectionOf(s, r.endBytes);
  for (let nr = sectionOf(s, r.startBytes); nr <= b; nr++) {
    const x = s.resourceIndex[nr];
    if (x === undefined) s.resourceIndex[nr] = r;
    else if (Array.isArray(x)) x.push(r);
    else s.resourceIndex[nr] = [x, r];
  }
}

function indexRemove(s: MachineState, r: ResourceState): void {
  const b = sectionOf(s, r.endBytes);
  for (let nr = sectionOf(s, r.startBytes); nr <= b; nr++) {
    const x = s.resourceIndex[nr];
    if (x === undefined) continue;
    if (!Array.isArray(x)) {
      if (x === r) clearSlot(s.resourceIndex, nr);
      continue;
    }
    const i = x.indexOf(r);
    if (i >= 0) x.splice(i, 1);
    if (x.length === 0) clearSlot(s.resourceIndex, nr);
    else if (x.length === 1) s.resourceIndex[nr] = x[0]!;
  }
}

export function insertResourceMut(s: MachineState, r: ResourceState): void {
  s.resourceSlot[r.id] = s.resources.length;
  s.resources.push(r);
  indexAdd(s, r);
  if (r.id >= s.nextResourceId) s.nextResourceId = r.id + 1;
}

export function removeResourceMut(s: MachineState, id: number): void {
  const slot = s.resourceSlot[id];
  if (slot === undefined) return;
  const r = s.resources[slot]!;
  indexRemove(s, r);
  const last = s.resources.pop()!;
  if (last.id !== id) {
    s.resources[slot] = last;
    s.resourceSlot[last.id] = slot;
  }
  clearSlot(s.resourceSlot, id);
}

/** Change a resource's span (shrink, grow by merge), keeping the index right. */
export function resizeResourceMut(s: MachineState, id: number, startBytes: bigint, endBytes: bigint): void {
  const slot = s.resourceSlot[id];
  if (slot === undefined) return;
  const r = s.resources[slot]!;
  indexRemove(s, r);
  r.startBytes = startBytes;
  r.endBytes = endBytes;
  indexAdd(s, r);
}
