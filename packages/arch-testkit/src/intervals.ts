/** Half-open bigint interval sets, sorted and merged: the PAGE_UNUSED bytes of a PMD leaf. */
export type Interval = readonly [bigint, bigint];

export function addInterval(set: readonly Interval[], add: Interval): Interval[] {
  let [s, e] = add;
  if (s >= e) return [...set];
  const out: Interval[] = [];
  for (const [a, b] of set) {
    if (b < s || a > e) out.push([a, b]);
    else {
      s = a < s ? a : s;
      e = b > e ? b : e;
    }
  }
  out.push([s, e]);
  return out.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

export function removeInterval(set: readonly Interval[], cut: Interval): Interval[] {
  const [s, e] = cut;
  const out: Interval[] = [];
  for (const [a, b] of set) {
    if (b <= s || a >= e) out.push([a, b]);
    else {
      if (a < s) out.push([a, s]);
      if (b > e) out.push([e, b]);
    }
  }
  return out;
}

export const covers = (set: readonly Interval[], want: Interval): boolean => set.some(([a, b]) => a <= want[0] && b >= want[1]);
