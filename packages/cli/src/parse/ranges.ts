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

export function parseBlockList(input: string | number | ReadonlyArray<string | number>): number[] {
  if (Array.isArray(input)) return input.flatMap((x) => parseBlockList(x as string | number));
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new RangeSyntaxError(String(input));
    return [input];
  }
  const out: number[] = [];
  for (const part of String(input).split(',')) {
    const p = part.trim();
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(p);
    if (!m) throw new RangeSyntaxError(String(input));
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 1 << 24) throw new RangeSyntaxError(String(input));
    for (let i = a; i <= b; i++) out.push(i);
  }
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
