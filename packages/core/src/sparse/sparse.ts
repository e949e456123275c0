/**
 * Hot-add and hot-remove of (parts of) sections: mm/sparse.c sparse_index_init, sparse_add_section,
 * section_activate, section_deactivate, sparse_remove_section, online_mem_sections / offline_mem_sections
 * (6.1, sub-section hotplug since 5.3 — seed 003; memmap accounting of 6.11+; apps/docs/kernel/sparse.md#section-table, apps/docs/kernel/sparse.md#add-section to apps/docs/kernel/sparse.md#online-marking).
 */
import { cHexAlt } from '../kernel/printk.js';
import type { AltmapHandle, ZoneName } from '../arch/backend.js';
import type { KernelCtx } from '../commands/registry.js';
import type { ErrnoName } from '../kernel/errno.js';
import {
  maskHex,
  memmapPages,
  pfnToPageVa,
  pfnToSectionNr,
  sectionNrToPfn,
  sectionNrToRoot,
  subsectionMask,
} from '../model/geometry.js';
import { SECTION_IS_EARLY, type MachineState, type ZoneState } from '../model/state.js';
import { earlySection } from './section.js';

/**
 * sparse_index_init (hot-plug flavour): a root that exists is fine (0; it was -EEXIST before 5.3, seed 003);
 * otherwise a page of mem_sections is allocated from slab on the node, failing with -ENOMEM.
 */
export function sparseIndexInit(ctx: KernelCtx, sectionNr: number, nid: number): 0 | ErrnoName {
  const root = sectionNrToRoot(ctx.machine.geometry, sectionNr);
  if (ctx.state.roots.has(root)) return 0;
  const f = ctx.faults.slabAlloc('section root', { root });
  if (f) return 'ENOMEM';
  ctx.emit('section.root_alloc', { root, nid, source: 'slab' });
  return 0;
}

const NOT_POPULATED = Object.freeze({ populated: false });
const POPULATED = Object.freeze({ populated: true });

export interface ActivateOptions {
  /** ZONE_DEVICE: a replacement for vmemmap_populate (e.g. compound-page dedup); default the backend's. */
  readonly populate?: (ctx: KernelCtx, startVa: bigint, endVa: bigint, nid: number, altmap: AltmapHandle | null) => 0 | ErrnoName;
}

/**
 * section_activate: usage, sub-section map (-EINVAL empty mask, -EEXIST overlap), the early-partial-section
 * shortcut, then populate; a failed populate is rolled back with section_deactivate and gives -ENOMEM.
 * Returns whether memmap pages were populated (for the accounting) or the errno.
 */
export function sectionActivate(
  ctx: KernelCtx,
  nid: number,
  pfn: number,
  nrPages: number,
  altmap: AltmapHandle | null,
  opts: ActivateOptions = {},
): { populated: boolean } | ErrnoName {
  const g = ctx.machine.geometry;
  const nr = pfnToSectionNr(g, pfn);
  let usageAllocated = false;
  let ms = ctx.state.sectionTable[nr];
  if ((ms?.usage ?? 'none') === 'none') {
    if (ctx.faults.active && ctx.faults.slabAlloc('mem_section_usage', { section: nr })) return 'ENOMEM';
    ctx.emit('section.usage_alloc', { section: nr, source: 'slab' });
    usageAllocated = true;
    ms = ctx.state.sectionTable[nr];
  }
  // fill_subsection_map (evolve updates `ms` in place)
  const before = ms?.subsectionMap ?? 0n;
  const mask = subsectionMask(g, pfn, nrPages);
  const result: 0 | ErrnoName = mask === 0n ? 'EINVAL' : (mask & before) !== 0n ? 'EEXIST' : 0;
  const after = result !== 0 ? before : before === 0n ? mask : before | mask;
  ctx.emit('subsection.fill', { section: nr, pfn, nrPages, mask: maskHex(mask), before: maskHex(before), after: maskHex(after), result });
  if (result !== 0) {
    if (usageAllocated) ctx.emit('section.usage_free', { section: nr, rcu: false });
    return result;
  }
  // The boot memmap of an early section is complete: a partial add reuses it (apps/docs/kernel/sparse.md#add-section step 2.3).
  if (nrPages < g.pagesPerSection && earlySection(ms)) return NOT_POPULATED;

  const start = pfnToPageVa(g, pfn);
  const end = pfnToPageVa(g, pfn + nrPages);
  const r = opts.populate
    ? opts.populate(ctx, start, end, nid, altmap)
    : ctx.backend.vmemmapPopulate(ctx.vmemmap(false), start, end, nid, altmap);
  if (r !== 0) {
    sectionDeactivate(ctx, pfn, nrPages, altmap, { rollback: true });
    return 'ENOMEM';
  }
  return POPULATED;
}

/**
 * sparse_add_section: root, section_activate, then set_section_nid + __section_mark_present +
 * sparse_init_one_section (HAS_MEM_MAP; never IS_EARLY or IS_ONLINE). nr_memmap_pages grows by the memmap of the
 * range when it was populated (altmap-backed included; 6.11+ vmstat, apps/docs/kernel/sparse.md#add-section step 5).
 */
export function sparseAddSection(
  ctx: KernelCtx,
  nid: number,
  startPfn: number,
  nrPages: number,
  altmap: AltmapHandle | null,
  opts: ActivateOptions = {},
): 0 | ErrnoName {
  const g = ctx.machine.geometry;
  const nr = pfnToSectionNr(g, startPfn);
  const root = sparseIndexInit(ctx, nr, nid);
  if (root !== 0) return root;
  const a = sectionActivate(ctx, nid, startPfn, nrPages, altmap, opts);
  if (typeof a === 'string') return a;
  ctx.emit('section.mark_present', { section: nr, nid, boot: false });
  ctx.emit('section.set_memmap', {
    section: nr,
    early: false,
    memmapPages: a.populated ? memmapPages(g, nrPages) : 0,
    account: a.populated ? 'hotplug' : 'none',
  });
  return 0;
}

/**
 * section_deactivate (apps/docs/kernel/sparse.md#remove-section): clear the sub-section bits (WARN and return if any is not set); when the
 * map becomes empty clear HAS_MEM_MAP and free the usage unless it is boot memory; depopulate the range of a
 * hot-added section, or free the whole boot memmap of an early section whose map is now empty; zero the word
 * when empty. `rollback` = the failure path of section_activate (nothing was accounted yet).
 */
export function sectionDeactivate(
  ctx: KernelCtx,
  pfn: number,
  nrPages: number,
  altmap: AltmapHandle | null,
  opts: { rollback?: boolean } = {},
): void {
  const s = ctx.state as MachineState;
  const g = ctx.machine.geometry;
  const nr = pfnToSectionNr(g, pfn);
  const ms = s.sectionTable[nr];
  const wasEarly = !!ms && (ms.flags & SECTION_IS_EARLY) !== 0;
  const before = ms?.subsectionMap ?? 0n;
  const mask = subsectionMask(g, pfn, nrPages);
  if (!ms || ms.usage === 'none' || (before & mask) !== mask) {
    // mm/sparse.c clear_subsection_map (6.1): WARN(…, "section already deactivated (%#lx + %ld)\n", pfn, nr_pages)
    ctx.warn(`section already deactivated (${cHexAlt(pfn)} + ${nrPages})`);
    ctx.emit('subsection.clear', { section: nr, pfn, nrPages, mask: maskHex(mask), before: maskHex(before), after: maskHex(before), result: 'WARN' });
    return;
  }
  const after = before ^ mask;
  ctx.emit('subsection.clear', { section: nr, pfn, nrPages, mask: maskHex(mask), before: maskHex(before), after: maskHex(after), result: 0 });
  const empty = after === 0n;
  if (empty) ctx.emit('section.clear_memmap', { section: nr, usage: ms.usage === 'boot' ? 'kept' : 'freed' });

  if (!wasEarly) {
    const start = pfnToPageVa(g, pfn);
    ctx.backend.vmemmapFree(ctx.vmemmap(false), start, pfnToPageVa(g, pfn + nrPages), altmap);
    if (!opts.rollback) {
      ctx.emit('section.memmap_release', { section: nr, pfn, nrPages, memmapPages: memmapPages(g, nrPages), account: 'hotplug' });
    }
  } else if (empty) {
    // free_map_bootmem: the whole boot memmap of the section goes back through bootmem and becomes managed
    const reservedBefore = s.counters.bootReservedPages;
    const start = pfnToPageVa(g, sectionNrToPfn(g, nr));
    ctx.backend.vmemmapFree(ctx.vmemmap(false), start, start + BigInt(g.sectionMemmapBytes), null);
    const freed = reservedBefore - s.counters.bootReservedPages;
    ctx.emit('section.memmap_release', { section: nr, pfn, nrPages, memmapPages: g.sectionMemmapPages, account: 'boot' });
    const zone = highestPopulatedZone(s, ms.nid);
    if (freed > 0 && zone) ctx.emit('zone.managed', { nid: ms.nid, zone, delta: freed });
  }
  if (empty) ctx.emit('section.invalidate', { section: nr });
}

/** The zone a node's boot memblock allocations came from (top-down: the highest populated zone). */
export function highestPopulatedZone(s: MachineState, nid: number): ZoneName | null {
  const n = s.nodes.get(nid);
  if (!n) return null;
  let best: ZoneState | null = null;
  for (const z of n.zones.values()) {
    if (z.presentPages > 0 && z.name !== 'Movable' && z.name !== 'Device' && (!best || z.startPfn > best.startPfn)) best = z;
  }
  return best?.name ?? null;
}

/** sparse_remove_section (the hwpoison bookkeeping it also does is not modelled). */
export function sparseRemoveSection(ctx: KernelCtx, pfn: number, nrPages: number, altmap: AltmapHandle | null): void {
  sectionDeactivate(ctx, pfn, nrPages, altmap);
}

/** online_mem_sections(start, end): IS_ONLINE on every valid section touched (invalid ones are skipped). */
export function onlineMemSections(ctx: KernelCtx, startPfn: number, endPfn: number): void {
  const g = ctx.machine.geometry;
  ctx.emit('section.mark_online', { startSection: pfnToSectionNr(g, startPfn), endSection: pfnToSectionNr(g, endPfn - 1) });
}

/** offline_mem_sections(start, end). */
export function offlineMemSections(ctx: KernelCtx, startPfn: number, endPfn: number): void {
  const g = ctx.machine.geometry;
  ctx.emit('section.mark_offline', { startSection: pfnToSectionNr(g, startPfn), endSection: pfnToSectionNr(g, endPfn - 1) });
}
