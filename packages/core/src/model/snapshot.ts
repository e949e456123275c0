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
const TWO_64 = 1n << 64n;

/** A coder for one column of small values: code() remembers the last value it saw (neighbours are often alike). */
function coder(): (x: unknown) => number {
  let last: unknown = undefined;
  let lastCode = code(undefined);
  return (x) => {
    if (x === last) return lastCode;
    const c = code(x);
    if (c >= 0) {
      last = x;
      lastCode = c;
    }
    return c;
  };
}

/** x is a 32-bit integer the int columns hold (not −0, not the null marker). */
function isInt(x: unknown): x is number {
  return typeof x === 'number' && (x | 0) === x && x !== NULL_INT && (x !== 0 || 1 / x > 0);
}

/** x is a number the float columns hold exactly (not NaN: every NaN reads back as one). */
function isNum(x: unknown): x is number {
  return typeof x === 'number' && x === x;
}

/** Columns of one table, `n` rows: ints, floats, small-value codes and 64-bit bigints, each row `stride` wide. */
class Cols {
  ints: Int32Array;
  nums: Float64Array;
  codes: Uint8Array;
  bigs: BigUint64Array;
  constructor(
    public n: number,
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
  /** Room for `rows` rows, the rows so far kept. */
  grow(rows: number): void {
    const g = new Cols(rows, this.nI, this.nF, this.nC, this.nB);
    g.ints.set(this.ints);
    g.nums.set(this.nums);
    g.codes.set(this.codes);
    g.bigs.set(this.bigs);
    Object.assign(this, { n: rows, ints: g.ints, nums: g.nums, codes: g.codes, bigs: g.bigs });
  }
  /** Shrinks the columns to the rows used. */
  trim(rows: number): void {
    if (rows === this.n) return;
    this.ints = this.ints.slice(0, rows * this.nI);
    this.nums = this.nums.slice(0, rows * this.nF);
    this.codes = this.codes.slice(0, rows * this.nC);
    this.bigs = this.bigs.slice(0, rows * this.nB);
    this.n = rows;
  }
  get bytes(): number {
    return this.ints.byteLength + this.nums.byteLength + this.codes.byteLength + this.bigs.byteLength;
  }
}

const intOrNull = (x: number | null): number => (x === null ? NULL_INT : x);
/** Int column value x is v (an int the column holds: not −0, so +0 only). */
const intIs = (x: number, v: unknown): boolean => x === v && (x !== 0 || 1 / (v as number) > 0);
/** Int-or-null column value x is v. */
const intOrNullIs = (x: number, v: unknown): boolean => (x === NULL_INT ? v === null : intIs(x, v));
/** Float column value x is v (the same zero too; NaN is never equal: put refuses it). */
const numIs = (x: number, v: unknown): boolean => x === v && (x !== 0 || 1 / x === 1 / (v as number));
const nullIfMarked = (x: number): number | null => (x === NULL_INT ? null : x);

/**
 * One entry type's columns. put writes row j and returns false when a value does not fit (the entry is then kept
 * as a copy; what put wrote to row j is ignored); get reads row j back as a new object; set writes row j into an
 * existing entry of the same type (every field of it) and returns false when that entry cannot take it (a PMD
 * entry that is a PTE table) — {@link unpackStateInto} reuses a consumed state's entries so.
 */
interface Codec<V> {
  readonly shape: readonly [ints: number, nums: number, codes: number, bigs: number];
  put(c: Cols, j: number, v: V): boolean;
  get(c: Cols, j: number): V;
  set(c: Cols, j: number, into: V): boolean;
  /**
   * Row j holds v exactly: put(v) would succeed and write what row j holds (a false "no" only costs a chunk packed
   * again; a false "yes" would lose a change, so anything unsure is a no).
   */
  eq(c: Cols, j: number, v: V): boolean;
}

function sectionCodec(): Codec<SectionState> {
  const usage = coder();
  return {
    shape: [2, 0, 1, 1],
    put(c, j, v) {
      const { flags, nid, subsectionMap } = v;
      const u = usage(v.usage);
      if (!isInt(flags) || !isInt(nid) || u < 0 || typeof subsectionMap !== 'bigint' || subsectionMap < 0n || subsectionMap >= TWO_64) return false;
      c.ints[2 * j] = flags;
      c.ints[2 * j + 1] = nid;
      c.codes[j] = u;
      c.bigs[j] = subsectionMap;
      return true;
    },
    get: (c, j) => ({ flags: c.ints[2 * j]!, subsectionMap: c.bigs[j]!, usage: VALUE[c.codes[j]!] as SectionState['usage'], nid: c.ints[2 * j + 1]! }),
    eq: (c, j, v) => intIs(c.ints[2 * j]!, v.flags) && intIs(c.ints[2 * j + 1]!, v.nid) && VALUE[c.codes[j]!] === v.usage && c.bigs[j] === v.subsectionMap,
    set(c, j, o) {
      o.flags = c.ints[2 * j]!;
      o.subsectionMap = c.bigs[j]!;
      o.usage = VALUE[c.codes[j]!] as SectionState['usage'];
      o.nid = c.ints[2 * j + 1]!;
      return true;
    },
  };
}

function blockCodec(): Codec<MemoryBlockState> {
  const [state, zone, early, online] = [coder(), coder(), coder(), coder()];
  return {
    shape: [5, 0, 4, 0],
    put(c, j, v) {
      const id = v.id;
      const nid = v.nid;
      const nr = v.nrVmemmapPages;
      const alt = intOrNull(v.altmapId);
      const group = intOrNull(v.group);
      const a = state(v.state);
      const b = zone(v.zone);
      const e = early(v.early);
      const o = online(v.onlineType);
      if (!isInt(id) || !isInt(nid) || !isInt(nr) || !(alt === NULL_INT || isInt(alt)) || !(group === NULL_INT || isInt(group)) || a < 0 || b < 0 || e < 0 || o < 0) return false;
      const i = 5 * j;
      const ints = c.ints;
      ints[i] = id;
      ints[i + 1] = nid;
      ints[i + 2] = nr;
      ints[i + 3] = alt;
      ints[i + 4] = group;
      const k = 4 * j;
      const codes = c.codes;
      codes[k] = a;
      codes[k + 1] = b;
      codes[k + 2] = e;
      codes[k + 3] = o;
      return true;
    },
    get(c, j) {
      const i = 5 * j;
      const k = 4 * j;
      const ints = c.ints;
      const codes = c.codes;
      return {
        id: ints[i]!,
        state: VALUE[codes[k]!] as MemoryBlockState['state'],
        zone: VALUE[codes[k + 1]!] as MemoryBlockState['zone'],
        nid: ints[i + 1]!,
        nrVmemmapPages: ints[i + 2]!,
        altmapId: nullIfMarked(ints[i + 3]!),
        group: nullIfMarked(ints[i + 4]!),
        early: VALUE[codes[k + 2]!] as boolean,
        onlineType: VALUE[codes[k + 3]!] as MemoryBlockState['onlineType'],
      };
    },
    eq(c, j, v) {
      const i = 5 * j;
      const k = 4 * j;
      const ints = c.ints;
      const codes = c.codes;
      return (
        intIs(ints[i]!, v.id) &&
        intIs(ints[i + 1]!, v.nid) &&
        intIs(ints[i + 2]!, v.nrVmemmapPages) &&
        intOrNullIs(ints[i + 3]!, v.altmapId) &&
        intOrNullIs(ints[i + 4]!, v.group) &&
        VALUE[codes[k]!] === v.state &&
        VALUE[codes[k + 1]!] === v.zone &&
        VALUE[codes[k + 2]!] === v.early &&
        VALUE[codes[k + 3]!] === v.onlineType
      );
    },
    set(c, j, o) {
      const i = 5 * j;
      const k = 4 * j;
      const ints = c.ints;
      const codes = c.codes;
      o.id = ints[i]!;
      o.state = VALUE[codes[k]!] as MemoryBlockState['state'];
      o.zone = VALUE[codes[k + 1]!] as MemoryBlockState['zone'];
      o.nid = ints[i + 1]!;
      o.nrVmemmapPages = ints[i + 2]!;
      o.altmapId = nullIfMarked(ints[i + 3]!);
      o.group = nullIfMarked(ints[i + 4]!);
      o.early = VALUE[codes[k + 2]!] as boolean;
      o.onlineType = VALUE[codes[k + 3]!] as MemoryBlockState['onlineType'];
      return true;
    },
  };
}

function altmapCodec(): Codec<AltmapState> {
  const owner = coder();
  return {
    shape: [0, 7, 1, 0],
    put(c, j, v) {
      const { id, basePfn, endPfn, reserve, free, align, alloc } = v;
      const o = owner(v.owner);
      if (!isNum(id) || !isNum(basePfn) || !isNum(endPfn) || !isNum(reserve) || !isNum(free) || !isNum(align) || !isNum(alloc) || o < 0) return false;
      const i = 7 * j;
      const f = c.nums;
      f[i] = id;
      f[i + 1] = basePfn;
      f[i + 2] = endPfn;
      f[i + 3] = reserve;
      f[i + 4] = free;
      f[i + 5] = align;
      f[i + 6] = alloc;
      c.codes[j] = o;
      return true;
    },
    get(c, j) {
      const i = 7 * j;
      const f = c.nums;
      return { id: f[i]!, basePfn: f[i + 1]!, endPfn: f[i + 2]!, reserve: f[i + 3]!, free: f[i + 4]!, align: f[i + 5]!, alloc: f[i + 6]!, owner: VALUE[c.codes[j]!] as AltmapState['owner'] };
    },
    eq(c, j, v) {
      const i = 7 * j;
      const f = c.nums;
      return (
        numIs(f[i]!, v.id) &&
        numIs(f[i + 1]!, v.basePfn) &&
        numIs(f[i + 2]!, v.endPfn) &&
        numIs(f[i + 3]!, v.reserve) &&
        numIs(f[i + 4]!, v.free) &&
        numIs(f[i + 5]!, v.align) &&
        numIs(f[i + 6]!, v.alloc) &&
        VALUE[c.codes[j]!] === v.owner
      );
    },
    set(c, j, o) {
      const i = 7 * j;
      const f = c.nums;
      o.id = f[i]!;
      o.basePfn = f[i + 1]!;
      o.endPfn = f[i + 2]!;
      o.reserve = f[i + 3]!;
      o.free = f[i + 4]!;
      o.align = f[i + 5]!;
      o.alloc = f[i + 6]!;
      o.owner = VALUE[c.codes[j]!] as AltmapState['owner'];
      return true;
    },
  };
}

type PmdLeaf = Extract<PmdEntry, { kind: 'leaf' }>;

/** PMD leaves without sub-PMD usage; PTE tables and tracked leaves are kept as copies. */
function pmdCodec(): Codec<PmdEntry> {
  const source = coder();
  return {
    shape: [2, 0, 1, 0],
    put(c, j, v) {
      if (v.kind !== 'leaf' || v.used !== null) return false;
      const s = source(v.source);
      const node = v.node;
      const alt = intOrNull(v.altmapId);
      if (s < 0 || !isInt(node) || !(alt === NULL_INT || isInt(alt))) return false;
      c.codes[j] = s;
      c.ints[2 * j] = node;
      c.ints[2 * j + 1] = alt;
      return true;
    },
    get(c, j) {
      const e: PmdLeaf = { kind: 'leaf', source: VALUE[c.codes[j]!] as PmdLeaf['source'], node: c.ints[2 * j]!, altmapId: nullIfMarked(c.ints[2 * j + 1]!), used: null };
      return e;
    },
    eq: (c, j, v) => v.kind === 'leaf' && v.used === null && VALUE[c.codes[j]!] === v.source && intIs(c.ints[2 * j]!, v.node) && intOrNullIs(c.ints[2 * j + 1]!, v.altmapId),
    set(c, j, o) {
      // a PTE table has other fields: it is not turned into a leaf
      if (o.kind !== 'leaf') return false;
      o.source = VALUE[c.codes[j]!] as PmdLeaf['source'];
      o.node = c.ints[2 * j]!;
      o.altmapId = nullIfMarked(c.ints[2 * j + 1]!);
      o.used = null;
      return true;
    },
  };
}

function pgtableCodec(): Codec<PgtablePage> {
  const source = coder();
  return {
    shape: [1, 0, 1, 0],
    put(c, j, v) {
      const s = source(v.source);
      const n = v.entries;
      if (s < 0 || !isInt(n)) return false;
      c.codes[j] = s;
      c.ints[j] = n;
      return true;
    },
    get: (c, j) => ({ source: VALUE[c.codes[j]!] as PgtablePage['source'], entries: c.ints[j]! }),
    eq: (c, j, v) => VALUE[c.codes[j]!] === v.source && intIs(c.ints[j]!, v.entries),
    set(c, j, o) {
      o.source = VALUE[c.codes[j]!] as PgtablePage['source'];
      o.entries = c.ints[j]!;
      return true;
    },
  };
}

const CODECS = { section: sectionCodec(), block: blockCodec(), altmap: altmapCodec(), pmd: pmdCodec(), pgtable: pgtableCodec() };

/**
 * Slots of a table packed together. A table is packed chunk by chunk, and a chunk whose slots hold what the same
 * chunk of the previous packed state holds (compared row by row: reading an entry costs a tenth of packing it) is
 * that chunk itself, shared: a log's events touch a few entries between two snapshots, so a snapshot packs those
 * and shares the rest — its time and its memory go with what changed, not with the state's size.
 */
const CHUNK = 1024;

/** Slots [lo, lo + CHUNK) of a table (or every slot of a sparse one), packed: its filled slots in order, each either in the columns or a copy. */
interface PackedChunk {
  /** Slot of each row. */
  readonly slots: Int32Array;
  readonly cols: Cols;
  /** Rows the columns could not hold: row → a deep copy of the value. */
  readonly copies: Map<number, unknown> | null;
  /** Slots holding an explicit `undefined` (a cleared slot below the table's end), as opposed to a hole. */
  readonly undefs: number[];
  readonly bytes: number;
}

/** One lookup table, packed: chunk c holds slots [c·CHUNK, (c + 1)·CHUNK); a sparse table (walked by for-in) is one chunk. */
interface PackedTable {
  length: number;
  /** Whether chunk c holds slots [c·CHUNK, (c + 1)·CHUNK) (false: one chunk holds them all). */
  chunked: boolean;
  chunks: PackedChunk[];
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

function chunkBytes(slots: Int32Array, cols: Cols, undefs: number[], copies: Map<number, unknown> | null): number {
  return 64 + slots.byteLength + cols.bytes + 8 * undefs.length + (copies ? 256 * copies.size : 0);
}

/** Packs slots [lo, hi) of a dense table (one walked slot by slot). */
function packRange<V>(t: ReadonlyArray<V | undefined>, lo: number, hi: number, codec: Codec<V>): PackedChunk {
  let n = 0;
  for (let i = lo; i < hi; i++) if (t[i] !== undefined) n++;
  const cols = new Cols(n, ...codec.shape);
  const slots = new Int32Array(n);
  let copies: Map<number, unknown> | null = null;
  const undefs: number[] = [];
  let rows = 0;
  for (let i = lo; i < hi; i++) {
    const v = t[i];
    if (v === undefined) {
      if (i in t) undefs.push(i);
      continue;
    }
    slots[rows] = i;
    if (!codec.put(cols, rows, v)) (copies ??= new Map()).set(rows, deepCopy(v));
    rows++;
  }
  return { slots, cols, copies, undefs, bytes: chunkBytes(slots, cols, undefs, copies) };
}

/** Packs every slot of a table as one chunk (a sparse one, walked by for-in). */
function packAll<V>(t: ReadonlyArray<V | undefined>, count: number, codec: Codec<V>): PackedChunk {
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
      cols.grow(bigger.length);
    }
    slots[rows] = i;
    if (!codec.put(cols, rows, v)) (copies ??= new Map()).set(rows, deepCopy(v));
    rows++;
  });
  cols.trim(rows);
  if (rows !== slots.length) slots = slots.slice(0, rows);
  return { slots, cols, copies, undefs, bytes: chunkBytes(slots, cols, undefs, copies) };
}

/**
 * Whether slots [lo, hi) of a dense table pack to exactly chunk `c`: the same slots filled, the same explicitly
 * undefined, each entry packing to c's row (the codec's eq). A row c keeps as a copy counts as a difference (the
 * chunk is packed again).
 */
function sameRange<V>(t: ReadonlyArray<V | undefined>, lo: number, hi: number, codec: Codec<V>, c: PackedChunk): boolean {
  const { slots, cols, copies, undefs } = c;
  let j = 0;
  let u = 0;
  for (let i = lo; i < hi; i++) {
    const v = t[i];
    if (v === undefined) {
      if (i in t && undefs[u++] !== i) return false;
      continue;
    }
    if (j >= slots.length || slots[j] !== i || (copies !== null && copies.has(j))) return false;
    if (!codec.eq(cols, j, v)) return false;
    j++;
  }
  return j === slots.length && u === undefs.length;
}

/**
 * Packs a table; with `prev` (the same table of an earlier packed state), each chunk whose slots pack to what prev's
 * same chunk holds is prev's chunk, shared (chunks are never written once made).
 */
function packTable<V>(t: ReadonlyArray<V | undefined>, count: number, codec: Codec<V>, prev?: PackedTable): PackedTable {
  if (t.length > WALK_SLOTS) return { length: t.length, chunked: false, chunks: [packAll(t, count, codec)] };
  const old = prev !== undefined && prev.chunked ? prev.chunks : [];
  const chunks: PackedChunk[] = [];
  for (let lo = 0, c = 0; lo < t.length; lo += CHUNK, c++) {
    const hi = Math.min(lo + CHUNK, t.length);
    const o = old[c];
    chunks.push(o !== undefined && sameRange(t, lo, hi, codec, o) ? o : packRange(t, lo, hi, codec));
  }
  return { length: t.length, chunked: true, chunks };
}

/**
 * A new table of the packed one. With `old` (a consumed state's table of the same entries), the entry `old` has at
 * a slot is written with the packed row and put at that slot rather than a new object made: no allocation, so no
 * garbage for the GC (the entries of one table are never shared between slots, nor with anything outside it).
 */
function unpackTable<V>(p: PackedTable, codec: Codec<V>, old?: ReadonlyArray<V | undefined>): Array<V | undefined> {
  const t: Array<V | undefined> = p.length <= WALK_SLOTS ? new Array<V | undefined>(p.length) : [];
  for (const { slots, cols, copies, undefs } of p.chunks) {
    for (let j = 0; j < slots.length; j++) {
      const c = copies === null ? undefined : copies.get(j);
      const slot = slots[j]!;
      if (c !== undefined) t[slot] = deepCopy(c) as V;
      else {
        const o = old === undefined ? undefined : old[slot];
        t[slot] = o !== undefined && codec.set(cols, j, o) ? o : codec.get(cols, j);
      }
    }
    for (const i of undefs) t[i] = undefined;
  }
  if (t.length !== p.length) t.length = p.length;
  return t;
}

function tableBytes(p: PackedTable, seen?: Set<PackedChunk>): number {
  let n = 0;
  for (const c of p.chunks) {
    if (seen !== undefined) {
      if (seen.has(c)) continue;
      seen.add(c);
    }
    n += c.bytes;
  }
  return n;
}

interface PackedMap {
  base: number;
  count: number;
  spill: Map<number, unknown> | null;
  table: PackedTable;
}

function packMap<V>(m: TableMap<V>, codec: Codec<V>, prev?: PackedMap): PackedMap {
  return { base: m.base, count: m.count, spill: m.spill === null ? null : deepCopy(m.spill), table: packTable(m.table, m.count, codec, prev?.table) };
}

/**
 * Writes the packed table into `old` itself, a table of the same length whose every slot is filled as every slot of
 * the packed one is (no holes, no explicit undefined in either): an entry that already holds its packed row (the
 * codec's eq: most of them, when `old` is a state a few thousand events away) is not written, and no new table is
 * made — a seek unpacking a 6 TiB state made four new 49,184-slot arrays, and the GC work they brought on cost as
 * much as the unpack. False (having written some entries, which a caller then unpacks again) if a slot of old is
 * empty after all.
 */
function unpackTableInPlace<V>(p: PackedTable, codec: Codec<V>, old: Array<V | undefined>): boolean {
  for (const { slots, cols, copies } of p.chunks) {
    for (let j = 0; j < slots.length; j++) {
      const slot = slots[j]!;
      const c = copies === null ? undefined : copies.get(j);
      if (c !== undefined) {
        old[slot] = deepCopy(c) as V;
        continue;
      }
      const o = old[slot];
      if (o === undefined) return false;
      if (!codec.eq(cols, j, o) && !codec.set(cols, j, o)) old[slot] = codec.get(cols, j);
    }
  }
  return true;
}

function unpackMap<V>(p: PackedMap, codec: Codec<V>, old?: TableMap<V>): TableMap<V> {
  // a TableMap's window starts at its base: the old table's slots are the same keys only at the same base
  const oldTable = old !== undefined && old.base === p.base ? (old.table as Array<V | undefined>) : undefined;
  const full = oldTable !== undefined && p.table.chunked && p.count === p.table.length && old!.count === oldTable.length && oldTable.length === p.table.length;
  const table = full && unpackTableInPlace(p.table, codec, oldTable) ? oldTable : unpackTable(p.table, codec, oldTable);
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
  /**
   * resourceIndex in runs of consecutive slots holding the same resource (a 6 TiB state has 49,184 slots and two
   * resources): run j covers slots[j] … slots[j] + counts[j] − 1, each holding the resource at position refs[j] − 1
   * of `resources`, or (refs[j] = −(k + 1), a run of one slot) a new copy of list k of `resourceLists`.
   */
  readonly resourceIndex: { length: number; slots: Int32Array; counts: Int32Array; refs: Int32Array; undefs: number[] };
  readonly resourceLists: number[][];
  /** Bytes it takes alone (its typed arrays, plus an allowance for the copied rest), shared chunks included. */
  readonly bytes: number;
  /** Bytes of the chunks it shares with the state it was packed after (packState's `prev`): 0 without one. */
  readonly sharedBytes: number;
}

/**
 * Packs a state (it is only read). With `prev` (an earlier packed state, typically of the same log a few thousand
 * events before), the chunks of the big tables that pack the same as prev's are prev's own, shared: packing then
 * costs a read of each entry and a pack of the chunks that changed, and the new state takes memory only for those
 * ({@link packedBytesOf} counts states that share chunks). Either way it unpacks to a state equal to this one.
 */
export function packState(state: ReadonlyMachineState, prev?: PackedState): PackedState {
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
  const counts: number[] = [];
  const refs: number[] = [];
  const undefs: number[] = [];
  // the run being extended: the resource its slots hold and the slot after its last
  let runOf: ResourceState | null = null;
  let runEnd = -1;
  eachSlot(resourceIndex, (i, v) => {
    if (v === undefined) {
      undefs.push(i);
      return;
    }
    if (v === runOf && i === runEnd) {
      counts[counts.length - 1]!++;
      runEnd++;
      return;
    }
    idxSlots.push(i);
    counts.push(1);
    if (Array.isArray(v)) {
      lists.push(v.map((r) => pos.get(r) ?? -1));
      refs.push(-lists.length);
      runOf = null;
    } else {
      refs.push((pos.get(v) ?? -1) + 1);
      runOf = v;
      runEnd = i + 1;
    }
  });
  if (refs.some((r) => r === 0) || lists.some((l) => l.includes(-1))) throw new Error('packState: resourceIndex names a resource not in resources');
  const packed = {
    rest: deepCopy(rest) as Record<string, unknown>,
    sections: packMap(sections, CODECS.section, prev?.sections),
    blocks: packMap(blocks, CODECS.block, prev?.blocks),
    altmaps: packMap(altmaps, CODECS.altmap, prev?.altmaps),
    pmds: packMap(pmds, CODECS.pmd, prev?.pmds),
    tables: Object.fromEntries(Object.entries(tables).map(([level, m]) => [level, packMap(m, CODECS.pgtable, prev?.tables[level])])),
    vmemmapRest: deepCopy(vmemmapRest) as Record<string, unknown>,
    resources: res,
    resourceSlot: resourceSlot.slice(),
    resourceIndex: { length: resourceIndex.length, slots: Int32Array.from(idxSlots), counts: Int32Array.from(counts), refs: Int32Array.from(refs), undefs },
    resourceLists: lists,
  };
  let bytes = 65536 + 12 * idxSlots.length + 8 * resourceSlot.length + 256 * resources.length;
  for (const m of mapsOf(packed)) bytes += tableBytes(m.table);
  let sharedBytes = 0;
  if (prev !== undefined) {
    const theirs = new Set<PackedChunk>();
    for (const m of mapsOf(prev)) for (const c of m.table.chunks) theirs.add(c);
    for (const m of mapsOf(packed)) for (const c of m.table.chunks) if (theirs.has(c)) sharedBytes += c.bytes;
  }
  return { ...packed, bytes, sharedBytes };
}

function mapsOf(p: Pick<PackedState, 'sections' | 'blocks' | 'altmaps' | 'pmds' | 'tables'>): PackedMap[] {
  return [p.sections, p.blocks, p.altmaps, p.pmds, ...Object.values(p.tables)];
}

/**
 * Bytes the packed states take together: each its own {@link PackedState.bytes}, less the chunks it shares with
 * another of them (counted once).
 */
export function packedBytesOf(states: Iterable<PackedState>): number {
  const seen = new Set<PackedChunk>();
  let n = 0;
  for (const p of states) {
    const maps = mapsOf(p);
    n += p.bytes;
    for (const m of maps) n -= tableBytes(m.table);
    for (const m of maps) n += tableBytes(m.table, seen);
  }
  return n;
}

/** A new state equal to the one packed (as cloneState would copy it); the packed state is left as it was. */
export function unpackState(p: PackedState): MachineState {
  return unpack(p, undefined);
}

/**
 * A state equal to the one packed, as {@link unpackState} makes, built in part of `into` — a state the caller gives
 * up (a live state it will not read again): the entries of its big tables (sections, memory blocks, altmaps, PMD
 * entries, page-table pages) are written with the packed values and reused where they fit, rather than ~200,000
 * new objects made for a 6 TiB state and the old ones left to the GC. Everything else is new, as in unpackState;
 * the packed state is left as it was and shares nothing with the result. `into` must not be used afterwards (its
 * entries now belong to the result), and must not share an entry between two slots of a table (no state evolve
 * makes does).
 */
export function unpackStateInto(p: PackedState, into: MachineState): MachineState {
  return unpack(p, into);
}

function unpack(p: PackedState, into: MachineState | undefined): MachineState {
  const sections = unpackMap(p.sections, CODECS.section, into?.sections);
  const blocks = unpackMap(p.blocks, CODECS.block, into?.blocks);
  const resources = deepCopy(p.resources);
  const ri = p.resourceIndex;
  const resourceIndex: Array<ResourceState | ResourceState[] | undefined> = ri.length <= WALK_SLOTS ? new Array(ri.length) : [];
  for (let j = 0; j < ri.slots.length; j++) {
    const r = ri.refs[j]!;
    const at = ri.slots[j]!;
    if (r > 0) {
      const res = resources[r - 1]!;
      for (let i = at, end = at + ri.counts[j]!; i < end; i++) resourceIndex[i] = res;
    } else resourceIndex[at] = p.resourceLists[-r - 1]!.map((k) => resources[k]!);
  }
  for (const i of ri.undefs) resourceIndex[i] = undefined;
  if (resourceIndex.length !== ri.length) resourceIndex.length = ri.length;
  const oldTables = into?.vmemmap.tables as Record<string, TableMap<PgtablePage> | undefined> | undefined;
  const tables = Object.fromEntries(Object.entries(p.tables).map(([level, m]) => [level, unpackMap(m, CODECS.pgtable, oldTables?.[level])]));
  return {
    ...(deepCopy(p.rest) as object),
    sections,
    sectionTable: sections.table,
    blocks,
    blockTable: blocks.table,
    altmaps: unpackMap(p.altmaps, CODECS.altmap, into?.altmaps),
    vmemmap: { ...(deepCopy(p.vmemmapRest) as object), pmds: unpackMap(p.pmds, CODECS.pmd, into?.vmemmap.pmds), tables },
    resources,
    resourceSlot: p.resourceSlot.slice(),
    resourceIndex,
  } as MachineState;
}

/** Bytes a packed state takes (its typed arrays, plus an allowance for the copied rest). */
export function packedBytes(p: PackedState): number {
  return p.bytes;
}
