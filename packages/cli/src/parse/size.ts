/**
 * Sizes and addresses as users write them everywhere in memhp: `4K`, `128M`, `2G`, `1T`, plain bytes, or
 * `0x…` (issue 6). Binary units, as the kernel's memparse() reads `mem=` and `hugepagesz=`. Results are
 * bigint because physical addresses can reach 2^52.
 */
const UNITS: Readonly<Record<string, bigint>> = {
  '': 1n,
  K: 1n << 10n,
  M: 1n << 20n,
  G: 1n << 30n,
  T: 1n << 40n,
  P: 1n << 50n,
  E: 1n << 60n,
};

export class SizeSyntaxError extends Error {
  constructor(readonly given: string) {
    super(`not a size: "${given}" (expected e.g. 4K, 128M, 2G, 1T, 134217728 or 0x8000000)`);
    this.name = 'SizeSyntaxError';
  }
}

export function parseSize(input: string | number | bigint): bigint {
  if (typeof input === 'bigint') {
    if (input < 0n) throw new SizeSyntaxError(String(input));
    return input;
  }
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new SizeSyntaxError(String(input));
    return BigInt(input);
  }
  const s = input.trim();
  if (/^0x[0-9a-f]+$/i.test(s)) return BigInt(s);
  const m = /^(\d+)\s*([KMGTPE]?)(?:i?B)?$/i.exec(s);
  if (!m) throw new SizeSyntaxError(input);
  const unit = UNITS[(m[2] ?? '').toUpperCase()];
  if (unit === undefined) throw new SizeSyntaxError(input);
  return BigInt(m[1]!) * unit;
}

/** A size that must fit a JavaScript number (page sizes, struct page sizes). */
export function parseSmallSize(input: string | number): number {
  const b = parseSize(input);
  if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new SizeSyntaxError(String(input));
  return Number(b);
}

/** Human form with the largest exact binary unit: 134217728 → "128M", 0x1000 → "4K", 3 → "3". */
export function formatSize(bytes: bigint | number): string {
  let b = BigInt(bytes);
  if (b === 0n) return '0';
  for (const [u, v] of [['E', 1n << 60n], ['P', 1n << 50n], ['T', 1n << 40n], ['G', 1n << 30n], ['M', 1n << 20n], ['K', 1n << 10n]] as const) {
    if (b % v === 0n) {
      b /= v;
      return `${b}${u}`;
    }
  }
  return b.toString();
}

/** A human "1.5 GiB" style figure for summaries (not exact; exact values go in JSON). */
export function humanBytes(bytes: bigint | number): string {
  const n = Number(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(2)} ${units[i]}`;
}

export const toHex = (b: bigint | number): string => `0x${BigInt(b).toString(16)}`;
