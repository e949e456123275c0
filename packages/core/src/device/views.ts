/**
 * What the ZONE_DEVICE mappings cost and where their memmap lives: per pgmap, its altmap arithmetic
 * (apps/docs/kernel/vmemmap.md#altmap) and the vmemmap pages behind it by source — RAM (buddy), the device (altmap), or shared
 * by the compound-page dedup (reuse, apps/docs/kernel/zone-device.md#compound-dedup), whose count is the saving.
 */
import { pfnToPageVa } from '../model/geometry.js';
import type { ReadonlyMachineState } from '../model/state.js';
import { altmapRemaining } from '../vmemmap/altmap.js';
import { vmemmapRunsOf } from '../hugetlb/state.js';
import { deviceState } from './state.js';

export interface PgmapRow {
  readonly id: string;
  readonly type: string;
  readonly provider: string;
  readonly node: number;
  readonly startPfn: number;
  readonly nrPages: number;
  readonly pgprot: string;
  readonly vmemmapShift: number;
  readonly altmap: { readonly basePfn: number; readonly reserve: number; readonly free: number; readonly alloc: number; readonly align: number; readonly remaining: number } | null;
  /** Vmemmap pages of the range by what backs them (boot: the range shares an early section's boot memmap). */
  readonly vmemmapPages: Readonly<Record<string, number>>;
  /** Pages the compound dedup did not need (mapped to a shared tail page). */
  readonly dedupSavedPages: number;
}

export function viewPgmaps(s: ReadonlyMachineState): PgmapRow[] {
  const g = s.machine.geometry;
  return [...deviceState(s).pgmaps.values()]
    .sort((a, b) => a.startPfn - b.startPfn)
    .map((p) => {
      const a = p.altmapId !== null ? s.altmaps.get(p.altmapId) : undefined;
      const pages = Math.ceil((p.nrPages * g.structPageBytes) / g.pageBytes);
      const by: Record<string, number> = {};
      for (const r of vmemmapRunsOf(s, pfnToPageVa(g, p.startPfn), pages)) by[r.source] = (by[r.source] ?? 0) + (r.endIdx - r.startIdx);
      return {
        id: p.id,
        type: p.type,
        provider: p.provider,
        node: p.nid,
        startPfn: p.startPfn,
        nrPages: p.nrPages,
        pgprot: p.pgprot,
        vmemmapShift: p.vmemmapShift,
        altmap: a ? { basePfn: a.basePfn, reserve: a.reserve, free: a.free, alloc: a.alloc, align: a.align, remaining: altmapRemaining(a) } : null,
        vmemmapPages: by,
        dedupSavedPages: by.reuse ?? 0,
      };
    });
}
