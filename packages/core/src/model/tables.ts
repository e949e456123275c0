/**
 * Helpers for the state's array lookup tables (model/state.ts `sectionTable`, `blockTable`, `resourceSlot`,
 * `resourceIndex`): arrays by a small dense number, which hot paths read instead of a Map, since at scale every
 * Map lookup is a cache miss (~100 ns) and an array slot is not. Only evolve writes them.
 *
 * (Measured and not kept: the same for altmaps and vmemmap PMD entries gained nothing — each phase that reads
 * them also writes the Map, which pays the miss anyway.)
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
      // A long hole (a sparse table: a few sections high up in a large physical space) is crossed by the keys
      // it holds rather than slot by slot.
      if (steps === 4096) {
        n = lastFilledBelow(t, n) + 1;
        break;
      }
      n -= 1;
    }
    t.length = n;
  }
}

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

/**
 * The state's `sections` and `blocks`: a read-only Map over a lookup table (`sectionTable`, `blockTable` — the same
 * array, not a copy), so evolve writes each entry once. Keeping a real Map beside the table cost 12% of a hot-add
 * cycle's CPU (packages/core/bench/scale.ts: 0.323 → 0.284 µs per event at 8 TiB, no subscriber), all of it in
 * the Map's own writes at half a million entries. Iteration is in key order (a Map's would be insertion order);
 * every reader in the repository sorts by key anyway.
 *
 * Fields are plain so that structuredClone keeps them (cloneState puts the prototype back): `table` is the lookup
 * table itself, `count` its filled slots.
 */
export class TableMap<V> implements ReadonlyMap<number, V> {
  count = 0;
  constructor(readonly table: Array<V | undefined>) {}

  get size(): number {
    return this.count;
  }

  get(k: number): V | undefined {
    // Map keys are compared by SameValueZero: '3' or 1.5 is no entry, where a table index would coerce.
    return Number.isInteger(k) && k >= 0 ? this.table[k] : undefined;
  }

  has(k: number): boolean {
    return this.get(k) !== undefined;
  }

  /** evolve only: fill slot k. */
  put(k: number, v: V): void {
    if (this.table[k] === undefined) this.count += 1;
    this.table[k] = v;
  }

  /** evolve only: empty slot k. */
  remove(k: number): void {
    if (this.table[k] === undefined) return;
    this.count -= 1;
    clearSlot(this.table, k);
  }

  *keys(): MapIterator<number> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  *entries(): MapIterator<[number, V]> {
    const t = this.table;
    if (t.length <= 4 * this.count + 1024) {
      for (let k = 0; k < t.length; k++) {
        const v = t[k];
        if (v !== undefined) yield [k, v];
      }
      return;
    }
    // A sparse table (a few sections high up in a large physical space): V8 keeps it as a dictionary, and for-in
    // lists only the indices it holds, ascending.
    for (const i in t) {
      const v = t[i as unknown as number];
      if (v !== undefined) yield [Number(i), v];
    }
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
