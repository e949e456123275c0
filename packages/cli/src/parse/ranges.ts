/**
 * Block lists as users write them in scenarios and options: `32-39`, `32,34,40-41`, `7`, or a YAML list of
 * those. Inclusive ranges, as sysfs memory block ids are listed by people (`memory32`…`memory39`).
 */
export class RangeSyntaxError extends Error {
  constructor(readonly given: string) {
    super(`not a block list: "${given}" (expected e.g. 32-39, 32,34,40-41 or 7)`);
    this.name = 'RangeSyntaxError';
  }
}

/** An inclusive run of block ids, `first`-`last`. */
export interface BlockRange {
  readonly first: number;
  readonly last: number;
}

/** At most this many comma-separated parts in one list (a list is read, not expanded; see parseBlockRanges). */
export const MAX_BLOCK_LIST_PARTS = 65536;

/**
 * A block list as sorted, merged inclusive ranges, never expanded: `0-16777216` repeated forty times is one range,
 * so memory stays proportional to the text, not to the span. Ids must be safe integers.
 */
export function parseBlockRanges(input: string | number | ReadonlyArray<string | number>): BlockRange[] {
  const raw: BlockRange[] = [];
  const one = (x: string | number): void => {
    if (typeof x === 'number') {
      if (!Number.isSafeInteger(x) || x < 0) throw new RangeSyntaxError(String(x));
      raw.push({ first: x, last: x });
      return;
    }
    const parts = String(x).split(',');
    if (parts.length + raw.length > MAX_BLOCK_LIST_PARTS) throw new RangeSyntaxError(`${String(x).slice(0, 40)}…`);
    for (const part of parts) {
      const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part.trim());
      if (!m) throw new RangeSyntaxError(String(x));
      const a = Number(m[1]);
      const b = m[2] === undefined ? a : Number(m[2]);
      if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) throw new RangeSyntaxError(String(x));
      raw.push({ first: a, last: b });
    }
  };
  if (Array.isArray(input)) for (const x of input) one(x as string | number);
  else one(input as string | number);
  raw.sort((p, q) => p.first - q.first);
  const out: Array<{ first: number; last: number }> = [];
  for (const r of raw) {
    const prev = out[out.length - 1];
    if (prev && r.first <= prev.last + 1) prev.last = Math.max(prev.last, r.last);
    else out.push({ ...r });
  }
  return out;
}

/** How many ids the ranges hold. */
export const blockCount = (ranges: readonly BlockRange[]): number => ranges.reduce((n, r) => n + (r.last - r.first + 1), 0);

/** The ids in order, one at a time (never an array of them all). */
export function* blockIds(ranges: readonly BlockRange[]): Generator<number> {
  for (const r of ranges) for (let i = r.first; i <= r.last; i++) yield i;
}

/**
 * Every id of a small list, in the order written (duplicates kept), for callers that need an array; refuses a list of
 * more than `limit` ids instead of allocating it.
 */
export function parseBlockList(input: string | number | ReadonlyArray<string | number>, limit = 1 << 20): number[] {
  parseBlockRanges(input);
  const out: number[] = [];
  const tooMany = () => new RangeSyntaxError(`${String(input).slice(0, 40)}… (more than ${limit} blocks)`);
  const one = (x: string | number): void => {
    if (typeof x === 'number') {
      if (out.length >= limit) throw tooMany();
      out.push(x);
      return;
    }
    for (const part of String(x).split(',')) {
      const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part.trim())!;
      const a = Number(m[1]);
      const b = m[2] === undefined ? a : Number(m[2]);
      for (let i = a; i <= b; i++) {
        if (out.length >= limit) throw tooMany();
        out.push(i);
      }
    }
  };
  if (Array.isArray(input)) for (const x of input) one(x as string | number);
  else one(input as string | number);
  return out;
}

/** The inverse, for reports: [32,33,34,40] → "32-34,40". */
export function formatBlockList(ids: readonly number[]): string {
  const s = [...ids].sort((x, y) => x - y);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
