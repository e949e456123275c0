/**
 * Write 0 ≤ n ≤ 2^53 in decimal at b[off..]; returns the new offset. No string is allocated.
 *
 * Shared by the caller-side EventEncoder and the writer thread's tape formatter. The thread runs it from its source
 * text, so it must stay self-contained: no reference to anything but its own name and its arguments.
 */
export function formatUint(n: number, b: Uint8Array, off: number): number {
  if (n < 2147483648) {
    if (n < 10) {
      b[off] = 48 + n;
      return off + 1;
    }
    const len = n < 100 ? 2 : n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
    let p = off + len;
    while (n >= 10) {
      const q = (n / 10) | 0;
      b[--p] = 48 + n - q * 10;
      n = q;
    }
    b[p - 1] = 48 + n;
    return off + len;
  }
  // pfns and byte offsets: split in base 1e8 so every part fits int32 arithmetic.
  const hi = Math.floor(n / 1e8);
  let lo = n - hi * 1e8;
  const end = formatUint(hi, b, off) + 8;
  let p = end;
  for (let k = 0; k < 8; k++) {
    const q = (lo / 10) | 0;
    b[--p] = 48 + lo - q * 10;
    lo = q;
  }
  return end;
}
