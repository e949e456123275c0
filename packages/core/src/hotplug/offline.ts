/**
 * Offlining a memory block: drivers/base/memory.c `memory_block_offline` and mm/memory_hotplug.c
 * `offline_pages` (6.1; apps/docs/kernel/hotplug.md#offlining, apps/docs/kernel/hotplug.md#errors), with the kernel's failure reasons:
 * -EINVAL (block spans several zones, misaligned, memory holes, multizone range), -EBUSY (isolation failure or an
 * unmovable page), a notifier's errno (arm64 boot memory → -EPERM), -EINTR (signal), and HugeTLB dissolve errors.
 *
 * Fault-injection sites: `offline:isolate` (→ -EBUSY "failure to isolate range"), `notifier:MEM_GOING_OFFLINE`,
 * `offline:signal` (→ -EINTR), `offline:unmovable` (→ -EBUSY), `offline:dissolve` (→ -ENOMEM).
 */
import { cHex, printOnce, warnOnText } from '../kernel/printk.js';
import type { ZoneName } from '../arch/backend.js';
import { fail, ok, type ErrnoName, type KResult } from '../kernel/errno.js';
import type { KernelCtx } from '../commands/registry.js';
import { pfnToBytes, pfnToSectionNr } from '../model/geometry.js';
import { SECTION_IS_EARLY, type ReadonlyMachineState } from '../model/state.js';
import {
  adjustPresentPageCount,
  blockPfnRange,
  blockVmemmapPages,
  emitNodeStatesIfChanged,
  memoryNotify,
  memRange,
  mhpDeinitMemmapOnMemory,
  shrinkZone,
} from './online.js';
import { nodeStates, pageZoneName } from './zone.js';
import { resourcesIntersecting } from '../model/resources.js';
import { virtioMemFakeOfflinePages } from '../drivers/events.js';
import { hugetlbOfflineRange } from '../hugetlb/offline.js';

/** walk_system_ram_range: pages of [startPfn, startPfn + nrPages) covered by System RAM resources. */
export function systemRamPages(s: ReadonlyMachineState, startPfn: number, nrPages: number): number {
  const g = s.machine.geometry;
  const a0 = startPfn * g.pageBytes;
  const b0 = (startPfn + nrPages) * g.pageBytes;
  if (a0 >= 0 && Number.isSafeInteger(b0)) {
    // in doubles, exact below 2^53 (physical addresses are below 2^52): no bigint arithmetic per offline
    let n = 0;
    for (const r of resourcesIntersecting(s, BigInt(a0), BigInt(b0 - 1))) {
      if (!r.flags.includes('system_ram')) continue;
      const rs = Number(r.startBytes);
      const re = Number(r.endBytes) + 1;
      const lo = rs > a0 ? rs : a0;
      const hi = re < b0 ? re : b0;
      if (hi > lo) n += hi - lo;
    }
    return Math.floor(n / g.pageBytes);
  }
  const a = pfnToBytes(g, startPfn);
  const b = pfnToBytes(g, startPfn + nrPages);
  let bytes = 0n;
  for (const r of resourcesIntersecting(s, a, b - 1n)) {
    if (!r.flags.includes('system_ram')) continue;
    const lo = r.startBytes > a ? r.startBytes : a;
    const hi = r.endBytes + 1n < b ? r.endBytes + 1n : b;
    if (hi > lo) bytes += hi - lo;
  }
  return Number(bytes >> BigInt(g.pageShift));
}

/** The arm64-style notifier: MEM_GOING_OFFLINE of a range containing an early section is refused (apps/docs/kernel/vmemmap.md#arm64-populate). */
function bootMemoryVeto(ctx: KernelCtx, startPfn: number, nrPages: number): ErrnoName | undefined {
  if (ctx.machine.capabilities.bootMemoryOfflinable) return undefined;
  const g = ctx.machine.geometry;
  // arch/arm64/mm/mmu.c prevent_bootmem_remove_notifier (6.1): steps a section at a time from the first pfn and
  // names the first early section it meets, [start end] in "%lx" with end = start + section size
  for (let pfn = startPfn; pfn < startPfn + nrPages; pfn += g.pagesPerSection) {
    if (((ctx.state.sectionTable[pfnToSectionNr(g, pfn)]?.flags ?? 0) & SECTION_IS_EARLY) !== 0) {
      const start = BigInt(pfn) << BigInt(g.pageShift);
      ctx.warn(`Boot memory [${cHex(start)} ${cHex(start + (BigInt(g.pagesPerSection) << BigInt(g.pageShift)))}] offlining attempted`);
      return 'EPERM';
    }
  }
  return undefined;
}

type Block = NonNullable<ReturnType<ReadonlyMachineState['blocks']['get']>>;

/**
 * offline_pages' failure path once the range is isolated: undo the isolation, MEM_CANCEL_OFFLINE. (Module
 * functions rather than closures per call here and below: under tsx every named closure costs a __name call.)
 */
function unisolateAndFail(ctx: KernelCtx, pfn: number, nrPages: number, errno: ErrnoName, reason: string): { errno: ErrnoName; reason: string } {
  ctx.emitOther('pageblock.unisolate', { startPfn: pfn, nrPages });
  memoryNotify(ctx, 'MEM_CANCEL_OFFLINE', pfn, nrPages);
  return { errno, reason };
}

/** memory_block_offline's failure path: the block goes back online. */
function backOnline(ctx: KernelCtx, id: number, zone: ZoneName | null, errno: ErrnoName, why: string): KResult {
  ctx.emit('memory_block.state', { id, from: 'going-offline', to: 'online', onlineType: null, zone });
  return fail(errno, why);
}

/** offline_pages(start_pfn, nr_pages, zone, group) (6.1). Returns 0 or the errno with the kernel's reason. */
function offlinePages(ctx: KernelCtx, block: Block, pfn: number, nrPages: number, zone: ZoneName): { errno: ErrnoName; reason: string } | null {
  const s = ctx.state;
  const g = s.machine.geometry;
  if (nrPages === 0 || pfn % g.pageblockPages !== 0 || (pfn + nrPages) % g.pagesPerSection !== 0) {
    printOnce(ctx, warnOnText('mm/memory_hotplug.c', 'offline_pages'));
    return { errno: 'EINVAL', reason: 'misaligned range' };
  }
  if (systemRamPages(s, pfn, nrPages) !== nrPages) return { errno: 'EINVAL', reason: 'memory holes' };
  if (pageZoneName(s, pfn) !== zone || pageZoneName(s, pfn + nrPages - 1) !== zone) {
    printOnce(ctx, warnOnText('mm/memory_hotplug.c', 'offline_pages'));
    return { errno: 'EINVAL', reason: 'multizone range' };
  }
  const faults = ctx.faults.active ? ctx.faults : null;
  const iso = faults?.site('offline:isolate', { startPfn: pfn, nrPages }) ?? null;
  ctx.emitOther('pageblock.isolate', { startPfn: pfn, nrPages, result: iso ? 'EBUSY' : 0 });
  if (iso) return { errno: 'EBUSY', reason: 'failure to isolate range' };

  const veto = memoryNotify(ctx, 'MEM_GOING_OFFLINE', pfn, nrPages, bootMemoryVeto(ctx, pfn, nrPages));
  if (veto !== 0) return unisolateAndFail(ctx, pfn, nrPages, veto, 'notifier failure');

  const loopFault =
    (faults?.site('offline:signal', { startPfn: pfn }) && { errno: 'EINTR' as const, reason: 'signal backoff' }) ||
    (faults?.site('offline:unmovable', { startPfn: pfn }) && { errno: 'EBUSY' as const, reason: 'unmovable page' }) ||
    (faults?.site('offline:dissolve', { startPfn: pfn }) && { errno: 'ENOMEM' as const, reason: 'failure to dissolve huge pages' }) ||
    // HugeTLB pages in the range: migrate the used ones, dissolve the free ones (issue 5, hugetlb/offline.ts)
    hugetlbOfflineRange(ctx, pfn, nrPages) ||
    null;
  ctx.emitOther('offline.migrate', { startPfn: pfn, nrPages, result: loopFault ? loopFault.errno : 0, reason: loopFault?.reason ?? null });
  if (loopFault) return unisolateAndFail(ctx, pfn, nrPages, loopFault.errno, loopFault.reason);

  // __offline_isolated_pages (sections go offline), then managed and present pages drop.
  const before = nodeStates(s, block.nid);
  ctx.emit('section.mark_offline', { startSection: pfnToSectionNr(g, pfn), endSection: pfnToSectionNr(g, pfn + nrPages - 1) });
  // Net of virtio-mem's GOING_OFFLINE notifier, which first re-adds its PageOffline pages to managed so that
  // offline_pages can subtract the whole range: only the pages that were in the buddy leave.
  ctx.emit('zone.managed', { nid: block.nid, zone, delta: -(nrPages - virtioMemFakeOfflinePages(s, block.id)) });
  adjustPresentPageCount(ctx, block, zone, pfn, -nrPages);
  emitNodeStatesIfChanged(ctx, block.nid, before);
  memoryNotify(ctx, 'MEM_OFFLINE', pfn, nrPages);
  shrinkZone(ctx, block.nid, zone, pfn, nrPages);
  return null;
}

/**
 * memory_block_change_state(mem, MEM_OFFLINE, MEM_ONLINE) → memory_block_offline(mem) (6.1): the block is
 * going-offline while offline_pages runs, then offline, or online again on failure.
 */
export function memoryBlockOffline(ctx: KernelCtx, blockId: number): KResult {
  const s = ctx.state;
  const block = s.blockTable[blockId];
  if (!block) return fail('ENOENT', `memory${blockId} does not exist`);
  if (block.state !== 'online') return fail('EINVAL', `memory${blockId} is ${block.state}, not online`);
  const zone = block.zone;
  ctx.emit('memory_block.state', { id: block.id, from: 'online', to: 'going-offline', onlineType: null, zone });
  if (zone === null) return backOnline(ctx, block.id, zone, 'EINVAL', `memory${blockId} spans several zones or nodes (valid_zones "none"): it cannot be offlined`);
  const { startPfn, nrPages } = blockPfnRange(s, block);
  const nrVmemmap = blockVmemmapPages(s, block);
  if (nrVmemmap > 0) adjustPresentPageCount(ctx, block, zone, startPfn, -nrVmemmap);
  const r = offlinePages(ctx, block, startPfn + nrVmemmap, nrPages - nrVmemmap, zone);
  if (r) {
    if (nrVmemmap > 0) adjustPresentPageCount(ctx, block, zone, startPfn, nrVmemmap);
    return backOnline(ctx, block.id, zone, r.errno, `memory offlining ${memRange(s, startPfn + nrVmemmap, nrPages - nrVmemmap)} failed due to ${r.reason}`);
  }
  if (nrVmemmap > 0) mhpDeinitMemmapOnMemory(ctx, block, startPfn, nrVmemmap, zone);
  ctx.emit('memory_block.state', { id: block.id, from: 'going-offline', to: 'offline', onlineType: null, zone: null });
  return ok();
}
