/**
 * Helpers for the state's array lookup tables (model/state.ts `sectionTable`, `blockTable`, `resourceSlot`,
 * `resourceIndex`, and the tables behind every TableMap): arrays by a small dense number, which hot paths read
 * instead of a Map, since at scale every Map lookup is a cache miss (~100 ns) and an array slot is not. Only evolve
 * writes them.
 */

/**
 * Empty slot i of a lookup table. Trailing empty slots are dropped, so a table goes back to its old length once
 * what was added is removed again (a state after add + remove equals the state before, also to toEqual).
 */
export function clearSlot<T>(t: Array<T | undefined>, i: number): void {
  if (i < t.length - 1) t[i] = undefined;
  else if (i === t.length - 1) {
    let n = i;
    for (let steps = 0; n > 0 && t[n - 1] === undefined; steps++) {
      // A long hole in a huge table (a few sections high up in a large physical space, which V8 keeps as a
      // dictionary) is crossed by the keys the table holds rather than slot by slot. A table of up to WALK_SLOTS
      // is walked: emptied slot by slot (every block removed in turn) it still holds each index, and for-in would
      // list them all (node 20: 24 ms for 131,584 slots, where the walk takes 2 ms).
      if (steps === 4096 && t.length > WALK_SLOTS) {
        n = lastFilledBelow(t, n) + 1;
        break;
      }
      n -= 1;
    }
    t.length = n;
  }
}

/**
 * Arrays up to this many slots are walked slot by slot, longer ones (maybe sparse) by for-in over the indices they
 * hold: walking one as a dictionary costs 62 ms at worst (node 20). clearSlot and deepCopy both go by it.
 */
export const WALK_SLOTS = 2 ** 21;

/** The highest filled index below `end`, or -1: for-in lists an array's indices ascending, only those it holds. */
function lastFilledBelow<T>(t: Array<T | undefined>, end: number): number {
  let last = -1;
  for (const k in t) {
    const j = Number(k);
    if (j >= end) break;
    if (t[j] !== undefined) last = j;
  }
  return last;
}

/** Keys a table holds from its base up; the rest (there should be none) go to the spill Map. */
const WINDOW = 2 ** 31;

/**
 * A read-only Map by number over a lookup table: the state's `sections` and `blocks` (over `sectionTable` and
 * `blockTable` — the same arrays, not copies), `altmaps`, and the vmemmap's `pmds` and page-table `tables`.
 * Evolve writes each entry once, in the table. At half a million entries a Map's own writes and lookups are
 * cache misses, and a key past 2^31 (a PMD index) is a boxed number besides: replacing the sections' and blocks'
 * Maps took 12% off a hot-add cycle's CPU (0.323 → 0.284 µs per event, 8 TiB, no subscriber); replacing the
 * altmaps' and the vmemmap's took the 64 TiB run with no subscriber from 10.1–10.6 s to 7.8–8.0 s and its peak
 * RSS from 563 to 492 MiB (packages/core/bench/scale.ts).
 *
 * Key k lives in slot k − base: the vmemmap's keys are virtual addresses shifted right (va >> PMD_SHIFT …), and
 * a base of vmemmap_base shifted the same way makes them small. A key the window does not cover (below the base,
 * or 2^31 and more above it) is kept in `spill`, a plain Map, so every number key still works.
 *
 * Iteration is in key order (a Map's would be insertion order); every reader in the repository sorts by key
 * anyway. Fields are plain, so structuredClone copies them too (it loses the class; cloneState keeps it): `table` is
 * the lookup table itself, `count` its filled slots.
 */
export class TableMap<V> implements ReadonlyMap<number, V> {
  count = 0;
  spill: Map<number, V> | null = null;
  constructor(
    readonly table: Array<V | undefined>,
    readonly base = 0,
  ) {}

  get size(): number {
    return this.spill === null ? this.count : this.count + this.spill.size;
  }

  /**
   * The table slot of key k, or -1 for a key the table cannot hold (kept in `spill`). Map keys are compared by
   * SameValueZero: '3' or 1.5 is no slot, where a table index would coerce.
   */
  slot(k: number): number {
    const i = k - this.base;
    return Number.isInteger(k) && i >= 0 && i < WINDOW ? i : -1;
  }

  get(k: number): V | undefined {
    const i = this.slot(k);
    if (i >= 0) return this.table[i];
    return this.spill === null ? undefined : this.spill.get(k);
  }

  has(k: number): boolean {
    return this.get(k) !== undefined;
  }

  /** evolve only: key k holds v. */
  put(k: number, v: V): void {
    const i = this.slot(k);
    if (i >= 0) {
      if (this.table[i] === undefined) this.count += 1;
      this.table[i] = v;
    } else (this.spill ??= new Map()).set(k, v);
  }

  /** evolve only: key k holds nothing. */
  remove(k: number): void {
    const i = this.slot(k);
    if (i >= 0) {
      if (this.table[i] === undefined) return;
      this.count -= 1;
      clearSlot(this.table, i);
    } else if (this.spill !== null) {
      this.spill.delete(k);
      if (this.spill.size === 0) this.spill = null;
    }
  }

  *keys(): MapIterator<number> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  *entries(): MapIterator<[number, V]> {
    const spill = this.spill === null ? [] : [...this.spill].sort((a, b) => a[0] - b[0]);
    let j = 0;
    while (j < spill.length && spill[j]![0] < this.base) yield spill[j++]!;
    yield* inTable(this.table, this.base, this.count);
    while (j < spill.length) yield spill[j++]!;
  }

  [Symbol.iterator](): MapIterator<[number, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: number, map: ReadonlyMap<number, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  get [Symbol.toStringTag](): string {
    return 'TableMap';
  }
}

/** The entries of a TableMap's table, ascending: keys are base + slot. */
function* inTable<V>(t: ReadonlyArray<V | undefined>, base: number, count: number): Generator<[number, V]> {
  if (t.length <= 4 * count + 1024) {
    for (let i = 0; i < t.length; i++) {
      const v = t[i];
      if (v !== undefined) yield [base + i, v];
    }
    return;
  }
  // A sparse table (a few sections high up in a large physical space): V8 keeps it as a dictionary, and for-in
  // lists only the indices it holds, ascending.
  for (const i in t) {
    const v = t[i as unknown as number];
    if (v !== undefined) yield [base + Number(i), v];
  }
}
