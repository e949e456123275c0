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
