/**
 * Hot-removing System RAM: mm/memory_hotplug.c remove_memory / try_remove_memory / offline_and_remove_memory /
 * try_offline_node (6.1), with the memmap_on_memory granularity rule per version (≤6.7: a self-hosting range
 * must be exactly one block; 6.8+: removed block by block, mixed ranges refused) (apps/docs/kernel/hotplug.md#removal, apps/docs/kernel/hotplug.md#errors).
 */
import { bugText, cHexAlt, cPhysAddr, printOnce } from '../kernel/printk.js';
import type { OnlineType } from '../api.js';
import type { CommandHandlers, CommandOf, KernelCtx } from '../commands/registry.js';
import { fail, ok, type KResult } from '../kernel/errno.js';
import { pick } from '../kernel/version.js';
import { memmapOnMemoryRemoveGranularity, memoryBlockVmemmapRecord } from '../kernel/rules.js';
import { blockIdToPfn, bytesToPfn, hex } from '../model/geometry.js';
import type { MachineState } from '../model/state.js';
import { checkHotplugMemoryRange, removeMemoryBlocksAndAltmaps } from './add-memory.js';
import { archRemoveMemory } from './arch-add-memory.js';
import { blocksInRange, removeMemoryBlockDevices } from './memory-block.js';
import { releaseMemRegion } from './resource.js';

/**
 * try_offline_node(nid): the node goes offline when it spans no pages, no memory block refers to it and it has
 * no CPUs.
 */
export function tryOfflineNode(ctx: KernelCtx, nid: number): void {
  const n = ctx.state.nodes.get(nid);
  if (!n || !n.online || n.hasCpus) return;
  for (const z of n.zones.values()) if (z.spannedPages > 0) return;
  for (const b of ctx.state.blocks.values()) if (b.nid === nid) return;
  ctx.emit('node.offline', { nid });
}

/** try_remove_memory(start, size). */
export function tryRemoveMemory(ctx: KernelCtx, startBytes: bigint, sizeBytes: bigint): KResult {
  const g = ctx.machine.geometry;
  const aligned = checkHotplugMemoryRange(ctx, startBytes, sizeBytes);
  if (!aligned.ok) {
    // BUG_ON(check_hotplug_memory_range(start, size)): its pr_err, then the BUG (callers must pass whole blocks)
    ctx.warn(aligned.why);
    ctx.warn(bugText('mm/memory_hotplug.c'));
    return aligned;
  }
  const startPfn = bytesToPfn(g, startBytes);
  const nrPages = bytesToPfn(g, sizeBytes);
  const blocks = blocksInRange(ctx.state, startPfn, nrPages);
  let nid: number | null = null;
  // blocks with a self-hosted memmap: how many, and the first
  let selfHosted = 0;
  let firstSelfHosted: (typeof blocks)[number] | null = null;
  for (const b of blocks) {
    if (b.state !== 'offline') {
      // check_memblock_offlined_cb (6.1): pr_warn with the first online block's range, "%pa"
      const begin = BigInt(blockIdToPfn(g, b.id)) << BigInt(g.pageShift);
      const why = `removing memory fails, because memory [${cPhysAddr(begin)}-${cPhysAddr(begin + g.blockSizeBytes - 1n)}] is onlined`;
      ctx.warn(why);
      return fail('EBUSY', why);
    }
    nid = b.nid;
    if (b.nrVmemmapPages > 0 || b.altmapId !== null) {
      firstSelfHosted ??= b;
      selfHosted += 1;
    }
  }

  const rule = pick(memmapOnMemoryRemoveGranularity, ctx.kernel);
  if (rule === 'per-block' && selfHosted > 0) {
    if (selfHosted !== blocks.length) {
      printOnce(ctx, 'Not all memblocks in range have altmaps'); // memblocks_have_altmaps: WARN_ONCE (6.8)
      return fail('EINVAL', 'range mixes memory blocks with and without a self-hosted memmap');
    }
    removeMemoryBlocksAndAltmaps(ctx, startBytes, sizeBytes);
  } else {
    let altmap = null;
    let altmapId: number | null = null;
    if (rule === 'single-block' && ctx.state.params.memmapOnMemory !== 'off' && firstSelfHosted !== null) {
      if (sizeBytes !== g.blockSizeBytes) {
        // pr_warn("Refuse to remove %#llx - %#llx," "wrong granularity\n", start, start + size) (6.1)
        const why = `Refuse to remove ${cHexAlt(startBytes)} - ${cHexAlt(startBytes + sizeBytes)},wrong granularity`;
        ctx.warn(why);
        return fail('EINVAL', why);
      }
      altmapId = firstSelfHosted.altmapId;
      altmap = altmapId !== null ? ((ctx.state as MachineState).altmaps.get(altmapId) ?? null) : null;
    }
    removeMemoryBlockDevices(ctx, startPfn, nrPages);
    archRemoveMemory(ctx, startBytes, sizeBytes, altmap);
    // ≤6.5: the temporary altmap of try_remove_memory; 6.6+: the block's altmap, WARN if not fully unmapped
    if (altmapId !== null) {
      const a = ctx.state.altmaps.get(altmapId);
      const warn = pick(memoryBlockVmemmapRecord, ctx.kernel) === 'altmap' && a !== undefined && a.alloc !== 0;
      if (warn) ctx.warn('Altmap not fully unmapped'); // WARN(altmap->alloc, …) in try_remove_memory (6.6)
      if (a) ctx.emit('altmap.destroy', { id: altmapId, alloc: a.alloc, warn });
    }
  }
  if (ctx.machine.capabilities.keepMemblock) ctx.emit('memblock.remove', { start: hex(startBytes), end: hex(startBytes + sizeBytes) });
  releaseMemRegion(ctx, startBytes, sizeBytes);
  if (nid !== null) tryOfflineNode(ctx, nid);
  return ok();
}

export function removeMemory(ctx: KernelCtx, cmd: CommandOf<'remove_memory'>): KResult {
  return tryRemoveMemory(ctx, cmd.range.startBytes, cmd.range.sizeBytes);
}

/**
 * offline_and_remove_memory(start, size): offline every online block (remembering movable vs kernel), remove;
 * on any failure re-online what was offlined with its remembered type and return the error.
 */
export function offlineAndRemoveMemory(ctx: KernelCtx, cmd: CommandOf<'offline_and_remove_memory'>): KResult {
  const g = ctx.machine.geometry;
  const { startBytes, sizeBytes } = cmd.range;
  const aligned = checkHotplugMemoryRange(ctx, startBytes, sizeBytes);
  if (!aligned.ok) return aligned;
  const blocks = blocksInRange(ctx.state, bytesToPfn(g, startBytes), bytesToPfn(g, sizeBytes));
  const offlined: Array<{ id: number; type: OnlineType }> = [];
  let r: KResult = ok();
  for (const b of blocks) {
    if (b.state === 'offline') continue;
    const type: OnlineType = b.zone === 'Movable' ? 'online_movable' : 'online_kernel';
    const rr = ctx.call({ kind: 'block_state', block: b.id, state: 'offline' });
    if (!rr.ok) {
      r = rr;
      break;
    }
    offlined.push({ id: b.id, type });
  }
  if (r.ok) r = tryRemoveMemory(ctx, startBytes, sizeBytes);
  if (!r.ok) {
    for (const o of offlined) if (ctx.state.blockTable[o.id]?.state === 'offline') ctx.call({ kind: 'block_state', block: o.id, state: o.type });
  }
  return r;
}

export const removeMemoryHandlers: CommandHandlers = {
  remove_memory: removeMemory,
  offline_and_remove_memory: offlineAndRemoveMemory,
};
