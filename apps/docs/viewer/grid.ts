/**
 * The viewer's two canvas grids (sections, vmemmap PMD entries) as rows: cells laid out by number, 64 to a row,
 * rows with nothing in them (address-space holes) left out. Each row carries a signature of what its cells look
 * like, so a frame repaints only the rows that look different from the frame before ({@link rowsToRepaint}):
 * scrubbing a 6 TiB log, most seeks change none of the 4,096 cells drawn, and painting all of them again cost the
 * page ~10 ms of script and ~12 ms of canvas raster a seek.
 */

export const PER_ROW = 64;

export interface GridRows<T> {
  /** The number each drawn row starts at (a multiple of PER_ROW). */
  readonly rowStart: readonly number[];
  /** Drawn rows that come after a hole (a row with nothing in it). */
  readonly gaps: readonly number[];
  /** Index in the items of each row's first item, and the items' count at the end (rowStart.length + 1 entries). */
  readonly first: readonly number[];
  /** What each row's cells look like: equal strings, equal pixels. */
  readonly sig: readonly string[];
  readonly items: readonly T[];
  readonly key: (t: T) => number;
}

/**
 * Lays out `items` (in ascending key order) in rows; `look` says what a cell looks like (everything its drawing
 * reads besides its place).
 */
export function gridRows<T>(items: readonly T[], key: (t: T) => number, look: (t: T) => string): GridRows<T> {
  const rowStart: number[] = [];
  const gaps: number[] = [];
  const first: number[] = [];
  const sig: string[] = [];
  let prevRow = -2;
  let s = '';
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const k = key(it);
    const r = Math.floor(k / PER_ROW);
    if (r !== prevRow) {
      if (prevRow >= 0) {
        sig.push(s);
        if (r !== prevRow + 1) gaps.push(rowStart.length);
      }
      rowStart.push(r * PER_ROW);
      first.push(i);
      prevRow = r;
      s = '';
    }
    s += `${k - r * PER_ROW}:${look(it)};`;
  }
  if (items.length) sig.push(s);
  first.push(items.length);
  return { rowStart, gaps, first, sig, items, key };
}

/** What a canvas shows: its rows as they were painted, at what pixel size. */
export interface Painted {
  readonly rowStart: readonly number[];
  readonly sig: readonly string[];
  readonly width: number;
  readonly height: number;
}

/**
 * The rows of `next` to paint on a canvas that shows `prev`: null (paint it all, from clear) when there is nothing
 * on it yet, its pixel size changed or the rows drawn are not the same ones; else the rows whose cells look different.
 */
export function rowsToRepaint(prev: Painted | undefined, next: Painted): number[] | null {
  if (!prev || prev.width !== next.width || prev.height !== next.height || prev.rowStart.length !== next.rowStart.length) return null;
  for (let r = 0; r < next.rowStart.length; r++) if (prev.rowStart[r] !== next.rowStart[r]) return null;
  const out: number[] = [];
  for (let r = 0; r < next.sig.length; r++) if (prev.sig[r] !== next.sig[r]) out.push(r);
  return out;
}

/** The item at number `k` (in row `row`), or undefined: a binary search of that row's items. */
export function itemInRow<T>(g: GridRows<T>, row: number, k: number): T | undefined {
  let lo = g.first[row]!;
  let hi = g.first[row + 1]! - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = g.key(g.items[mid]!);
    if (m === k) return g.items[mid];
    if (m < k) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
