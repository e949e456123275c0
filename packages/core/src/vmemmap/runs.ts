/**
 * Run-length PTE bookkeeping for one PTE table: sorted, disjoint runs [startIdx, endIdx) of mapped PTEs, each
 * with one backing source. Adjacent runs with the same source and altmap are coalesced so a fully mapped table
 * is one run (memory stays proportional to mapping changes, not to pages).
 */
import type { PteRun } from '../model/state.js';

export const runsCount = (runs: readonly PteRun[]): number => {
  let n = 0;
  for (const r of runs) n += r.endIdx - r.startIdx;
  return n;
};

/** Map [run.startIdx, run.endIdx); the caller guarantees those PTEs were empty. */
export function insertRun(runs: PteRun[], run: PteRun): void {
  if (run.endIdx <= run.startIdx) return;
  let i = 0;
  while (i < runs.length && runs[i]!.startIdx < run.startIdx) i++;
  runs.splice(i, 0, { ...run });
  coalesce(runs);
}

/** Unmap [a, b): runs are cut at the edges. */
export function removeRange(runs: PteRun[], a: number, b: number): void {
  const out: PteRun[] = [];
  for (const r of runs) {
    if (r.endIdx <= a || r.startIdx >= b) out.push(r);
    else {
      if (r.startIdx < a) out.push({ ...r, endIdx: a });
      if (r.endIdx > b) out.push({ ...r, startIdx: b });
    }
  }
  runs.length = 0;
  runs.push(...out);
}

/** The parts of [a, b) that are mapped, with their sources. */
export function runsIn(runs: readonly PteRun[], a: number, b: number): PteRun[] {
  const out: PteRun[] = [];
  for (const r of runs) {
    const x = Math.max(a, r.startIdx);
    const y = Math.min(b, r.endIdx);
    if (x < y) out.push({ ...r, startIdx: x, endIdx: y });
  }
  return out;
}

/** The unmapped gaps of [a, b). */
export function gapsIn(runs: readonly PteRun[], a: number, b: number): Array<[number, number]> {
  const gaps: Array<[number, number]> = [];
  let cur = a;
  for (const r of runs) {
    if (r.endIdx <= cur) continue;
    if (r.startIdx >= b) break;
    if (r.startIdx > cur) gaps.push([cur, Math.min(r.startIdx, b)]);
    cur = Math.max(cur, r.endIdx);
    if (cur >= b) break;
  }
  if (cur < b) gaps.push([cur, b]);
  return gaps;
}

function coalesce(runs: PteRun[]): void {
  for (let i = runs.length - 1; i > 0; i--) {
    const p = runs[i - 1]!;
    const r = runs[i]!;
    if (p.endIdx === r.startIdx && p.source === r.source && p.altmapId === r.altmapId) {
      p.endIdx = r.endIdx;
      runs.splice(i, 1);
    }
  }
}
