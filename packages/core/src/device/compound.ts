/**
 * vmemmap_populate_compound_pages (mm/sparse-vmemmap.c, 5.19+; apps/docs/kernel/zone-device.md#compound-dedup): the vmemmap of a compound
 * devmap is deduplicated while it is populated. Per compound page only vmemmap page 0 (head) and page 1 (first
 * tails) are real pages; pages 2 … w−1 map page 1 again. A section that starts inside a compound page larger than
 * a sub-section (reuse_compound_section) maps all of its vmemmap to the previous section's tail page.
 */
import type { AltmapHandle } from '../arch/backend.js';
import type { KernelCtx } from '../commands/registry.js';
import type { ErrnoName } from '../kernel/errno.js';
import { tableShift } from '../model/evolve.js';
import { hex, pageVaToPfn } from '../model/geometry.js';
import type { MachineState } from '../model/state.js';
import { allocatedLevels } from '../vmemmap/context.js';
import type { PgmapGeometry } from '../hotplug/mhp-params.js';

/** vmemmap_{p4d,pud,pmd,pte}_populate for `va` (page-table pages from the page allocator; never the altmap). */
function ensurePteTable(ctx: KernelCtx, va: bigint, nid: number): 0 | ErrnoName {
  const s = ctx.state as MachineState;
  for (const level of allocatedLevels(s.machine.geometry.pgtableLevels)) {
    const shift = BigInt(tableShift(s, level));
    const idx = Number(va >> shift);
    if (s.vmemmap.tables[level].has(idx)) continue;
    const tva = (va >> shift) << shift;
    const f = ctx.faults.order0Alloc({ what: `vmemmap ${level} table`, va: hex(tva) });
    if (f) {
      ctx.emit('vmemmap.alloc_fail', { va: hex(tva), order: 0, source: 'buddy', reason: `page-table page: ${f.reason}` });
      return 'ENOMEM';
    }
    ctx.emit('vmemmap.pgtable_alloc', { level, index: idx, va: hex(tva), node: nid, source: 'buddy' });
  }
  return 0;
}

/** vmemmap_populate_range(…, reuse): map [a, b) to an already populated page (nothing is allocated). */
function mapReuse(ctx: KernelCtx, a: bigint, b: bigint, nid: number): 0 | ErrnoName {
  const g = ctx.machine.geometry;
  const pmd = 1n << BigInt(g.pmdShift);
  for (let addr = a; addr < b; ) {
    const next = ((addr >> BigInt(g.pmdShift)) << BigInt(g.pmdShift)) + pmd < b ? ((addr >> BigInt(g.pmdShift)) << BigInt(g.pmdShift)) + pmd : b;
    const r = ensurePteTable(ctx, addr, nid);
    if (r !== 0) return r;
    ctx.emit('vmemmap.populate', { start: hex(addr), end: hex(next), granularity: 'pte', source: 'reuse', node: nid, altmapId: null, fallback: null });
    addr = next;
  }
  return 0;
}

/** The ActivateOptions.populate hook for a pgmap with compound pages. */
export function populateCompoundPages(pg: PgmapGeometry) {
  return (ctx: KernelCtx, start: bigint, end: bigint, nid: number, _altmap: AltmapHandle | null): 0 | ErrnoName => {
    const g = ctx.machine.geometry;
    const P = BigInt(g.pageBytes);
    const perCompound = 2 ** pg.vmemmapShift;
    const offset = pageVaToPfn(g, start) - pg.startPfn;
    if (offset % perCompound !== 0 && perCompound > g.pagesPerSubsection) return mapReuse(ctx, start, end, nid);
    const size = BigInt(perCompound * g.structPageBytes) < end - start ? BigInt(perCompound * g.structPageBytes) : end - start;
    const vm = ctx.vmemmap(false);
    for (let addr = start; addr < end; addr += size) {
      const last = addr + size;
      const real = addr + 2n * P < last ? addr + 2n * P : last;
      if (vm.populateBasePages(addr, real, nid, null) !== 0) return 'ENOMEM';
      if (real < last && mapReuse(ctx, real, last, nid) !== 0) return 'ENOMEM';
    }
    return 0;
  };
}
