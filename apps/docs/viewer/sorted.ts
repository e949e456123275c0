/** The index of the last of the first `n` entries of ascending `xs` that is at or below `x`, or −1 if none is. */
export function floorIndex(xs: ArrayLike<number>, n: number, x: number): number {
  let lo = 0;
  let hi = n - 1;
  let r = -1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (xs[m]! <= x) {
      r = m;
      lo = m + 1;
    } else hi = m - 1;
  }
  return r;
}
