/**
 * Packed snapshots of a state: the log viewer keeps many states to seek from, and a deep copy of a 6 TiB state
 * (cloneState) is ~200,000 small objects — 100–600 ms to make, ~20 MiB of heap, and every one of them marked again
 * by each full GC while it is kept. A packed state holds the big tables (sections, memory blocks, altmaps, vmemmap
 * PMD entries and page-table pages, the resource index) as columns of typed arrays, which the GC never walks, and
 * the rest (nodes, zones, counters …, a few hundred objects) as a deep copy. {@link unpackState} builds a fresh state
 * from one, as many times as asked: the packed form is never written.
 *
 * Each entry type has a codec naming its fields one by one (the decoder's object literal is typed, so a field added
 * to the type and not here fails to compile). An entry a codec cannot hold exactly (a PMD entry that is a PTE table
 * or has sub-PMD usage, a number that is not a 32-bit integer where one is expected, a subsection map wider than 64
 * bits …) is kept as a deep copy beside the columns, so every state packs and unpacks to an equal one.
 */

import { deepCopy } from './deep-copy.js';
import type { AltmapState, MachineState, MemoryBlockState, PgtablePage, PmdEntry, ReadonlyMachineState, ResourceState, SectionState } from './state.js';
import { TableMap, WALK_SLOTS } from './tables.js';

/** Small values (strings, null, booleans, undefined) by code: one table for every packed state, codes below 256. */
const CODE = new Map<unknown, number>();
const VALUE: unknown[] = [];
function code(x: unknown): number {
  let c = CODE.get(x);
  if (c === undefined) {
    c = VALUE.length;
    if (c > 255) return -1;
    CODE.set(x, c);
    VALUE.push(x);
  }
  return c;
}

const NULL_INT = -2147483648;

/** Column writer for one table: `j` is the entry's row. Each put returns false when the value does not fit. */
class Cols {
  ints: Int32Array;
  nums: Float64Array;
  codes: Uint8Array;
  bigs: BigUint64Array;
  constructor(
    readonly n: number,
    readonly nI: number,
    readonly nF: number,
    readonly nC: number,
    readonly nB: number,
  ) {
    this.ints = new Int32Array(n * nI);
    this.nums = new Float64Array(n * nF);
    this.codes = new Uint8Array(n * nC);
    this.bigs = new BigUint64Array(n * nB);
  }
  int(j: number, k: number, x: number): boolean {
    if ((x | 0) !== x || x === NULL_INT || Object.is(x, -0)) return false;
    this.ints[j * this.nI + k] = x;
    return true;
  }
  intOrNull(j: number, k: number, x: number | null): boolean {
    if (x === null) {
      this.ints[j * this.nI + k] = NULL_INT;
      return true;
    }
    return this.int(j, k, x);
  }
  num(j: number, k: number, x: number): boolean {
    if (typeof x !== 'number' || Number.isNaN(x)) return false;
    this.nums[j * this.nF + k] = x;
    return true;
  }
  code(j: number, k: number, x: unknown): boolean {
    const c = code(x);
    if (c < 0) return false;
    this.codes[j * this.nC + k] = c;
    return true;
  }
  big(j: number, k: number, x: bigint): boolean {
    if (typeof x !== 'bigint' || x < 0n || x >= 1n << 64n) return false;
    this.bigs[j * this.nB + k] = x;
    return true;
  }
  getInt(j: number, k: number): number {
    return this.ints[j * this.nI + k]!;
  }
  getIntOrNull(j: number, k: number): number | null {
    const x = this.ints[j * this.nI + k]!;
    return x === NULL_INT ? null : x;
  }
  getNum(j: number, k: number): number {
    return this.nums[j * this.nF + k]!;
  }
  getCode<T>(j: number, k: number): T {
    return VALUE[this.codes[j * this.nC + k]!] as T;
  }
  getBig(j: number, k: number): bigint {
    return this.bigs[j * this.nB + k]!;
  }
  /** Shrinks the columns to the rows used. */
  trim(rows: number): void {
    if (rows === this.n) return;
    this.ints = this.ints.slice(0, rows * this.nI);
    this.nums = this.nums.slice(0, rows * this.nF);
    this.codes = this.codes.slice(0, rows * this.nC);
    this.bigs = this.bigs.slice(0, rows * this.nB);
  }
  get bytes(): number {
    return this.ints.byteLength + this.nums.byteLength + this.codes.byteLength + this.bigs.byteLength;
  }
}

interface Codec<V> {
  readonly shape: readonly [ints: number, nums: number, codes: number, bigs: number];
  put(c: Cols, j: number, v: V): boolean;
  get(c: Cols, j: number): V;
}

const sectionCodec: Codec<SectionState> = {
  shape: [2, 0, 1, 1],
  put: (c, j, v) => c.int(j, 0, v.flags) && c.int(j, 1, v.nid) && c.code(j, 0, v.usage) && c.big(j, 0, v.subsectionMap),
  get: (c, j) => ({ flags: c.getInt(j, 0), subsectionMap: c.getBig(j, 0), usage: c.getCode(j, 0), nid: c.getInt(j, 1) }),
};

const blockCodec: Codec<MemoryBlockState> = {
  shape: [5, 0, 4, 0],
  put: (c, j, v) =>
    c.int(j, 0, v.id) &&
    c.int(j, 1, v.nid) &&
    c.int(j, 2, v.nrVmemmapPages) &&
    c.intOrNull(j, 3, v.altmapId) &&
    c.intOrNull(j, 4, v.group) &&
    c.code(j, 0, v.state) &&
    c.code(j, 1, v.zone) &&
    c.code(j, 2, v.early) &&
    c.code(j, 3, v.onlineType),
  get: (c, j) => ({
    id: c.getInt(j, 0),
    state: c.getCode(j, 0),
    zone: c.getCode(j, 1),
    nid: c.getInt(j, 1),
    nrVmemmapPages: c.getInt(j, 2),
    altmapId: c.getIntOrNull(j, 3),
    group: c.getIntOrNull(j, 4),
    early: c.getCode(j, 2),
    onlineType: c.getCode(j, 3),
  }),
};

const altmapCodec: Codec<AltmapState> = {
  shape: [0, 7, 1, 0],
  put: (c, j, v) =>
    c.num(j, 0, v.id) &&
    c.num(j, 1, v.basePfn) &&
    c.num(j, 2, v.endPfn) &&
    c.num(j, 3, v.reserve) &&
    c.num(j, 4, v.free) &&
    c.num(j, 5, v.align) &&
    c.num(j, 6, v.alloc) &&
    c.code(j, 0, v.owner),
  get: (c, j) => ({
    id: c.getNum(j, 0),
    basePfn: c.getNum(j, 1),
    endPfn: c.getNum(j, 2),
    reserve: c.getNum(j, 3),
    free: c.getNum(j, 4),
    align: c.getNum(j, 5),
    alloc: c.getNum(j, 6),
    owner: c.getCode(j, 0),
  }),
};

/** PMD leaves without sub-PMD usage; PTE tables and tracked leaves are kept as copies. */
const pmdCodec: Codec<PmdEntry> = {
  shape: [2, 0, 1, 0],
  put: (c, j, v) => v.kind === 'leaf' && v.used === null && c.code(j, 0, v.source) && c.int(j, 0, v.node) && c.intOrNull(j, 1, v.altmapId),
  get: (c, j) => ({ kind: 'leaf', source: c.getCode(j, 0), node: c.getInt(j, 0), altmapId: c.getIntOrNull(j, 1), used: null }),
};

const pgtableCodec: Codec<PgtablePage> = {
  shape: [1, 0, 1, 0],
  put: (c, j, v) => c.code(j, 0, v.source) && c.int(j, 0, v.entries),
  get: (c, j) => ({ source: c.getCode(j, 0), entries: c.getInt(j, 0) }),
};

/** One lookup table, packed: its filled slots in order, each either in the columns or a copy. */
interface PackedTable {
  length: number;
  /** Slot of each row. */
  slots: Int32Array;
  cols: Cols;
  /** Rows the columns could not hold: row → a deep copy of the value. */
  copies: Map<number, unknown> | null;
  /** Slots holding an explicit `undefined` (a cleared slot below the table's end), as opposed to a hole. */
  undefs: number[];
}

/** Calls fn(slot, value) for each slot a table holds, ascending (holes skipped; explicit undefined included). */
function eachSlot<V>(t: ReadonlyArray<V | undefined>, fn: (i: number, v: V | undefined) => void): void {
  if (t.length <= WALK_SLOTS) {
    for (let i = 0; i < t.length; i++) {
      const v = t[i];
      if (v !== undefined || i in t) fn(i, v);
    }
  } else for (const k in t) fn(Number(k), t[k as unknown as number]);
}

function packTable<V>(t: ReadonlyArray<V | undefined>, count: number, codec: Codec<V>): PackedTable {
  const n = Math.min(count, t.length);
  const cols = new Cols(n, ...codec.shape);
  let slots = new Int32Array(n);
  let rows = 0;
  let copies: Map<number, unknown> | null = null;
  const undefs: number[] = [];
  eachSlot(t, (i, v) => {
    if (v === undefined) {
      undefs.push(i);
      return;
    }
    if (rows === slots.length) {
      // count was short (a table not behind a TableMap): grow
      const bigger = new Int32Array(Math.max(16, rows * 2));
      bigger.set(slots);
      slots = bigger;
      const grown = new Cols(bigger.length, ...codec.shape);
      grown.ints.set(cols.ints);
      grown.nums.set(cols.nums);
      grown.codes.set(cols.codes);
      grown.bigs.set(cols.bigs);
      Object.assign(cols, { ints: grown.ints, nums: grown.nums, codes: grown.codes, bigs: grown.bigs, n: grown.n });
    }
    slots[rows] = i;
    if (!codec.put(cols, rows, v)) (copies ??= new Map()).set(rows, deepCopy(v));
    rows++;
  });
  cols.trim(rows);
  return { length: t.length, slots: rows === slots.length ? slots : slots.slice(0, rows), cols, copies, undefs };
}

function unpackTable<V>(p: PackedTable, codec: Codec<V>): Array<V | undefined> {
  const t: Array<V | undefined> = p.length <= WALK_SLOTS ? new Array<V | undefined>(p.length) : [];
  const { slots, cols, copies } = p;
  for (let j = 0; j < slots.length; j++) {
    const c = copies === null ? undefined : copies.get(j);
    t[slots[j]!] = c === undefined ? codec.get(cols, j) : (deepCopy(c) as V);
  }
  for (const i of p.undefs) t[i] = undefined;
  if (t.length !== p.length) t.length = p.length;
  return t;
}

function tableBytes(p: PackedTable): number {
  return p.slots.byteLength + p.cols.bytes + 8 * p.undefs.length + (p.copies ? 256 * p.copies.size : 0);
}

interface PackedMap {
  base: number;
  count: number;
  spill: Map<number, unknown> | null;
  table: PackedTable;
}

function packMap<V>(m: TableMap<V>, codec: Codec<V>): PackedMap {
  return { base: m.base, count: m.count, spill: m.spill === null ? null : deepCopy(m.spill), table: packTable(m.table, m.count, codec) };
}

function unpackMap<V>(p: PackedMap, codec: Codec<V>, table = unpackTable(p.table, codec)): TableMap<V> {
  const m = new TableMap<V>(table, p.base);
  m.count = p.count;
  m.spill = p.spill === null ? null : (deepCopy(p.spill) as Map<number, V>);
  return m;
}

/** A state packed by {@link packState}: opaque; {@link unpackState} makes states of it, {@link packedBytes} sizes it. */
export interface PackedState {
  readonly rest: Record<string, unknown>;
  readonly sections: PackedMap;
  readonly blocks: PackedMap;
  readonly altmaps: PackedMap;
  readonly pmds: PackedMap;
  readonly tables: Record<string, PackedMap>;
  readonly vmemmapRest: Record<string, unknown>;
  readonly resources: ResourceState[];
  readonly resourceSlot: Array<number | undefined>;
  /** resourceIndex: per filled slot, the position in `resources` + 1, or −(k + 1) for list k of `resourceLists`. */
  readonly resourceIndex: { length: number; slots: Int32Array; refs: Int32Array; undefs: number[] };
  readonly resourceLists: number[][];
  readonly bytes: number;
}

/** Packs a state (it is only read). */
export function packState(state: ReadonlyMachineState): PackedState {
  const s = state as unknown as MachineState;
  if (s.sections.table !== s.sectionTable || s.blocks.table !== s.blockTable) throw new Error('packState: a TableMap is not over its table');
  const { sections, sectionTable, blocks, blockTable, altmaps, vmemmap, resources, resourceSlot, resourceIndex, ...rest } = s;
  void sectionTable;
  void blockTable;
  const { pmds, tables, ...vmemmapRest } = vmemmap;
  const res = deepCopy(resources);
  const pos = new Map<ResourceState, number>();
  resources.forEach((r, i) => pos.set(r, i));
  const lists: number[][] = [];
  const idxSlots: number[] = [];
  const refs: number[] = [];
  const undefs: number[] = [];
  eachSlot(resourceIndex, (i, v) => {
    if (v === undefined) {
      undefs.push(i);
      return;
    }
    idxSlots.push(i);
    if (Array.isArray(v)) {
      lists.push(v.map((r) => pos.get(r) ?? -1));
      refs.push(-lists.length);
    } else refs.push((pos.get(v) ?? -1) + 1);
  });
  if (refs.some((r) => r === 0) || lists.some((l) => l.includes(-1))) throw new Error('packState: resourceIndex names a resource not in resources');
  const packed = {
    rest: deepCopy(rest) as Record<string, unknown>,
    sections: packMap(sections, sectionCodec),
    blocks: packMap(blocks, blockCodec),
    altmaps: packMap(altmaps, altmapCodec),
    pmds: packMap(pmds, pmdCodec),
    tables: Object.fromEntries(Object.entries(tables).map(([level, m]) => [level, packMap(m, pgtableCodec)])),
    vmemmapRest: deepCopy(vmemmapRest) as Record<string, unknown>,
    resources: res,
    resourceSlot: resourceSlot.slice(),
    resourceIndex: { length: resourceIndex.length, slots: Int32Array.from(idxSlots), refs: Int32Array.from(refs), undefs },
    resourceLists: lists,
  };
  let bytes = 65536 + 8 * (idxSlots.length + resourceSlot.length) + 256 * resources.length;
  for (const m of [packed.sections, packed.blocks, packed.altmaps, packed.pmds, ...Object.values(packed.tables)]) bytes += tableBytes(m.table);
  return { ...packed, bytes };
}

/** A new state equal to the one packed (as cloneState would copy it); the packed state is left as it was. */
export function unpackState(p: PackedState): MachineState {
  const sections = unpackMap(p.sections, sectionCodec);
  const blocks = unpackMap(p.blocks, blockCodec);
  const resources = deepCopy(p.resources);
  const ri = p.resourceIndex;
  const resourceIndex: Array<ResourceState | ResourceState[] | undefined> = ri.length <= WALK_SLOTS ? new Array(ri.length) : [];
  for (let j = 0; j < ri.slots.length; j++) {
    const r = ri.refs[j]!;
    resourceIndex[ri.slots[j]!] = r > 0 ? resources[r - 1]! : p.resourceLists[-r - 1]!.map((k) => resources[k]!);
  }
  for (const i of ri.undefs) resourceIndex[i] = undefined;
  if (resourceIndex.length !== ri.length) resourceIndex.length = ri.length;
  const tables = Object.fromEntries(Object.entries(p.tables).map(([level, m]) => [level, unpackMap(m, pgtableCodec)]));
  return {
    ...(deepCopy(p.rest) as object),
    sections,
    sectionTable: sections.table,
    blocks,
    blockTable: blocks.table,
    altmaps: unpackMap(p.altmaps, altmapCodec),
    vmemmap: { ...(deepCopy(p.vmemmapRest) as object), pmds: unpackMap(p.pmds, pmdCodec), tables },
    resources,
    resourceSlot: p.resourceSlot.slice(),
    resourceIndex,
  } as MachineState;
}

/** Bytes a packed state takes (its typed arrays, plus an allowance for the copied rest). */
export function packedBytes(p: PackedState): number {
  return p.bytes;
}
