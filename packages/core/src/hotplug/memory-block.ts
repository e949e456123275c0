/**
 * Memory block devices of hot-added memory (drivers/base/memory.c create_memory_block_devices,
 * remove_memory_block_devices, walk_memory_blocks — 6.1; apps/docs/kernel/hotplug.md#memory-blocks).
 */
import type { KernelCtx } from '../commands/registry.js';
import type { ErrnoName } from '../kernel/errno.js';
import { pfnToBlockId } from '../model/geometry.js';
import type { ReadonlyMachineState } from '../model/state.js';

export type MemoryBlock = NonNullable<ReturnType<ReadonlyMachineState['blocks']['get']>>;

/** Existing blocks of [startPfn, startPfn + nrPages), in id order (walk_memory_blocks skips missing ones). */
export function blocksInRange(s: ReadonlyMachineState, startPfn: number, nrPages: number): MemoryBlock[] {
  const g = s.machine.geometry;
  const out: MemoryBlock[] = [];
  const last = pfnToBlockId(g, startPfn + nrPages - 1);
  for (let id = pfnToBlockId(g, startPfn); id <= last; id++) {
    const b = s.blockTable[id];
    if (b) out.push(b);
  }
  return out;
}

/**
 * create_memory_block_devices(start, size, vmemmap, group): one offline block per block of the range; a block
 * that exists → -EEXIST, an allocation failure → -ENOMEM; on failure the blocks created by this call are removed.
 */
export function createMemoryBlockDevices(
  ctx: KernelCtx,
  nid: number,
  startPfn: number,
  nrPages: number,
  vmemmap: { nrVmemmapPages: number; altmapId: number | null },
  group: number | null,
): 0 | ErrnoName {
  const g = ctx.machine.geometry;
  const first = pfnToBlockId(g, startPfn);
  const last = pfnToBlockId(g, startPfn + nrPages - 1);
  for (let id = first; id <= last; id++) {
    let err: ErrnoName | null = null;
    if (ctx.state.blockTable[id] !== undefined) err = 'EEXIST';
    else if (ctx.faults.active && ctx.faults.slabAlloc('memory_block', { id })) err = 'ENOMEM';
    if (err) {
      for (let j = first; j < id; j++) ctx.emit('memory_block.remove', { id: j });
      return err;
    }
    ctx.emit('memory_block.create', {
      id,
      nid,
      state: 'offline',
      zone: null,
      early: false,
      nrVmemmapPages: vmemmap.nrVmemmapPages,
      altmapId: vmemmap.altmapId,
      group,
    });
  }
  return 0;
}

/** remove_memory_block_devices(start, size). */
export function removeMemoryBlockDevices(ctx: KernelCtx, startPfn: number, nrPages: number): void {
  for (const b of blocksInRange(ctx.state, startPfn, nrPages)) ctx.emit('memory_block.remove', { id: b.id });
}
