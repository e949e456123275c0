/**
 * Onlining a memory block: drivers/base/memory.c `memory_block_online` and mm/memory_hotplug.c
 * `mhp_init_memmap_on_memory` / `online_pages` (6.1; apps/docs/kernel/hotplug.md#block-online, apps/docs/kernel/memmap-on-memory.md#accounting), plus the shared helpers the
 * offline path uses (zone span growth/shrink, present-page accounting, notifier calls with injected errors).
 * Every step is an event, in the kernel's order.
 */
import { printOnce, warnOnText } from '../kernel/printk.js';
import type { ZoneName } from '../arch/backend.js';
import type { OnlineType } from '../api.js';
import { fail, ok, type ErrnoName, type KResult } from '../kernel/errno.js';
import type { KernelCtx } from '../commands/registry.js';
import { blockIdToPfn, hex, pfnToBytes, pfnToSectionNr } from '../model/geometry.js';
import { SECTION_IS_EARLY, type ReadonlyMachineState } from '../model/state.js';
import { virtioMemFakeOfflinePages } from '../drivers/events.js';
import { getZone, grownSpan, nodeStates, shrunkSpan, zoneForPfnRange } from './zone.js';

type Block = NonNullable<ReturnType<ReadonlyMachineState['blocks']['get']>>;

/** The memory notifier actions (apps/docs/kernel/hotplug.md#memory-blocks: MEM_ONLINE 1 … MEM_CANCEL_OFFLINE 32). */
export type MemNotifierAction = 'MEM_GOING_ONLINE' | 'MEM_ONLINE' | 'MEM_CANCEL_ONLINE' | 'MEM_GOING_OFFLINE' | 'MEM_OFFLINE' | 'MEM_CANCEL_OFFLINE';

/** Block range in pfns. */
export function blockPfnRange(s: ReadonlyMachineState, block: Block): { startPfn: number; nrPages: number } {
  const g = s.machine.geometry;
  return { startPfn: blockIdToPfn(g, block.id), nrPages: g.pagesPerBlock };
}

/** Self-hosted vmemmap pages of a block: nr_vmemmap_pages (≤6.5) or its altmap's free (6.6+), as part A recorded. */
export function blockVmemmapPages(s: ReadonlyMachineState, block: Block): number {
  if (block.nrVmemmapPages > 0) return block.nrVmemmapPages;
  if (block.altmapId !== null) return s.altmaps.get(block.altmapId)?.free ?? 0;
  return 0;
}

/** [start, end) in bytes as the kernel prints "[mem 0x…-0x…]". */
export const memRange = (s: ReadonlyMachineState, startPfn: number, nrPages: number): string =>
  `[mem ${hex(pfnToBytes(s.machine.geometry, startPfn))}-${hex(pfnToBytes(s.machine.geometry, startPfn + nrPages) - 1n)}]`;

/** Fault-injection site names of the notifier actions (built once, not per call). */
const NOTIFIER_SITE: Readonly<Record<MemNotifierAction, string>> = {
  MEM_GOING_ONLINE: 'notifier:MEM_GOING_ONLINE',
  MEM_ONLINE: 'notifier:MEM_ONLINE',
  MEM_CANCEL_ONLINE: 'notifier:MEM_CANCEL_ONLINE',
  MEM_GOING_OFFLINE: 'notifier:MEM_GOING_OFFLINE',
  MEM_OFFLINE: 'notifier:MEM_OFFLINE',
  MEM_CANCEL_OFFLINE: 'notifier:MEM_CANCEL_OFFLINE',
};

/**
 * memory_notify(action): record the call; the fault injector (site `notifier:<ACTION>`) or an arch notifier
 * may veto it. Only the GOING_* actions can fail (the others ignore the chain's answer).
 */
export function memoryNotify(ctx: KernelCtx, action: MemNotifierAction, startPfn: number, nrPages: number, archVeto?: ErrnoName): 0 | ErrnoName {
  let result: 0 | ErrnoName = 0;
  if (action === 'MEM_GOING_ONLINE' || action === 'MEM_GOING_OFFLINE') {
    if (archVeto) result = archVeto;
    else {
      const f = ctx.faults.active ? ctx.faults.site(NOTIFIER_SITE[action], { startPfn, nrPages }) : null;
      if (f) result = f.errno;
    }
  }
  ctx.emit('notifier', { action, startPfn, nrPages, result });
  return result;
}

/** move_pfn_range_to_zone's span part (resize_zone_range + resize_pgdat_range). */
export function growZone(ctx: KernelCtx, nid: number, zone: ZoneName, startPfn: number, nrPages: number): void {
  const z = getZone(ctx.state, nid, zone);
  const span = grownSpan(z, startPfn, nrPages);
  if (!z || z.startPfn !== span.startPfn || z.spannedPages !== span.spannedPages) {
    ctx.emit('zone.resize', { nid, zone, startPfn: span.startPfn, spannedPages: span.spannedPages });
  }
}

/** remove_pfn_range_from_zone's span part (shrink_zone_span + update_pgdat_span). */
export function shrinkZone(ctx: KernelCtx, nid: number, zone: ZoneName, startPfn: number, nrPages: number): void {
  if (zone === 'Device') return; // ZONE_DEVICE spans are never shrunk here (issue 5)
  const span = shrunkSpan(ctx.state, nid, zone, startPfn, nrPages);
  const z = getZone(ctx.state, nid, zone);
  if (span && z && (z.startPfn !== span.startPfn || z.spannedPages !== span.spannedPages)) {
    ctx.emit('zone.resize', { nid, zone, startPfn: span.startPfn, spannedPages: span.spannedPages });
  }
}

/** adjust_present_page_count: zone/node present (and present_early for early sections) and the group's counters. */
export function adjustPresentPageCount(ctx: KernelCtx, block: Block, zone: ZoneName, startPfn: number, delta: number): void {
  const s = ctx.state;
  const early = ((s.sectionTable[pfnToSectionNr(s.machine.geometry, startPfn)]?.flags ?? 0) & SECTION_IS_EARLY) !== 0;
  ctx.emit('zone.present', { nid: block.nid, zone, delta, earlyDelta: early ? delta : 0 });
  if (block.group !== null) {
    const movable = zone === 'Movable';
    ctx.emit('memory_group.present', { id: block.group, kernelDelta: movable ? 0 : delta, movableDelta: movable ? delta : 0 });
  }
}

/** Mark [startSection, endSection] online/offline, skipping nothing: callers pass valid sections only. */
function markSections(ctx: KernelCtx, online: boolean, startPfn: number, endPfn: number): void {
  if (endPfn <= startPfn) return;
  const g = ctx.state.machine.geometry;
  const range = { startSection: pfnToSectionNr(g, startPfn), endSection: pfnToSectionNr(g, endPfn - 1) };
  ctx.emit(online ? 'section.mark_online' : 'section.mark_offline', range);
}

export function emitNodeStatesIfChanged(ctx: KernelCtx, nid: number, before: { memory: boolean; normalMemory: boolean }): void {
  const after = nodeStates(ctx.state, nid);
  if (after.memory !== before.memory || after.normalMemory !== before.normalMemory) ctx.emitOther('node.states', { nid, ...after });
}

/** mhp_init_memmap_on_memory (6.1). */
function mhpInitMemmapOnMemory(ctx: KernelCtx, block: Block, startPfn: number, nrVmemmap: number, zone: ZoneName): void {
  const g = ctx.state.machine.geometry;
  growZone(ctx, block.nid, zone, startPfn, nrVmemmap);
  ctx.emitOther('memmap_on_memory.init', { block: block.id, startPfn, nrPages: nrVmemmap, zone });
  if (nrVmemmap >= g.pagesPerSection) {
    const end = Math.floor((startPfn + nrVmemmap) / g.pagesPerSection) * g.pagesPerSection;
    markSections(ctx, true, startPfn, end);
  }
}

/** mhp_deinit_memmap_on_memory (6.1). */
export function mhpDeinitMemmapOnMemory(ctx: KernelCtx, block: Block, startPfn: number, nrVmemmap: number, zone: ZoneName): void {
  const g = ctx.state.machine.geometry;
  if (nrVmemmap >= g.pagesPerSection) {
    const end = Math.floor((startPfn + nrVmemmap) / g.pagesPerSection) * g.pagesPerSection;
    markSections(ctx, false, startPfn, end);
  }
  ctx.emitOther('memmap_on_memory.deinit', { block: block.id, startPfn, nrPages: nrVmemmap, zone });
  shrinkZone(ctx, block.nid, zone, startPfn, nrVmemmap);
}

/** online_pages(pfn, nr_pages, zone, group) (6.1). */
function onlinePages(ctx: KernelCtx, block: Block, pfn: number, nrPages: number, zone: ZoneName): 0 | ErrnoName {
  const g = ctx.state.machine.geometry;
  if (nrPages === 0 || pfn % g.pageblockPages !== 0 || (pfn + nrPages) % g.pagesPerSection !== 0) {
    printOnce(ctx, warnOnText('mm/memory_hotplug.c', 'online_pages'));
    return 'EINVAL';
  }
  growZone(ctx, block.nid, zone, pfn, nrPages);
  const before = nodeStates(ctx.state, block.nid);
  const veto = memoryNotify(ctx, 'MEM_GOING_ONLINE', pfn, nrPages);
  if (veto !== 0) {
    memoryNotify(ctx, 'MEM_CANCEL_ONLINE', pfn, nrPages);
    shrinkZone(ctx, block.nid, zone, pfn, nrPages);
    return veto;
  }
  // online_pages_range: free to the buddy in max-order chunks (except pages a virtio-mem device has not
  // plugged: its online_page_callback keeps them PageOffline), then online_mem_sections.
  ctx.emit('zone.managed', { nid: block.nid, zone, delta: nrPages - virtioMemFakeOfflinePages(ctx.state, block.id) });
  markSections(ctx, true, pfn, pfn + nrPages);
  adjustPresentPageCount(ctx, block, zone, pfn, nrPages);
  emitNodeStatesIfChanged(ctx, block.nid, before);
  memoryNotify(ctx, 'MEM_ONLINE', pfn, nrPages);
  return 0;
}

/**
 * memory_block_change_state(mem, MEM_ONLINE, MEM_OFFLINE) → memory_block_online(mem) (6.1). The caller has
 * checked the device state (`state`/`online` file semantics); this returns the kernel's 0 or errno.
 */
export function memoryBlockOnline(ctx: KernelCtx, blockId: number, onlineType: OnlineType): KResult {
  const s = ctx.state;
  const block = s.blockTable[blockId];
  if (!block) return fail('ENOENT', `memory${blockId} does not exist`);
  if (block.state !== 'offline') return fail('EINVAL', `memory${blockId} is ${block.state}, not offline`);
  const { startPfn, nrPages } = blockPfnRange(s, block);
  const nrVmemmap = blockVmemmapPages(s, block);
  const zone = zoneForPfnRange(s, onlineType, block.nid, block.group, startPfn, nrPages);
  if (nrVmemmap > 0) mhpInitMemmapOnMemory(ctx, block, startPfn, nrVmemmap, zone);
  const r = onlinePages(ctx, block, startPfn + nrVmemmap, nrPages - nrVmemmap, zone);
  if (r !== 0) {
    if (nrVmemmap > 0) mhpDeinitMemmapOnMemory(ctx, block, startPfn, nrVmemmap, zone);
    return fail(r, `online_pages ${memRange(s, startPfn + nrVmemmap, nrPages - nrVmemmap)} failed`);
  }
  if (nrVmemmap > 0) adjustPresentPageCount(ctx, block, zone, startPfn, nrVmemmap);
  ctx.emit('memory_block.state', { id: block.id, from: 'offline', to: 'online', onlineType, zone });
  return ok();
}
