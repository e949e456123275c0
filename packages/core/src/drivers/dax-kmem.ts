/**
 * dax/kmem (drivers/dax/kmem.c, 6.1: dev_dax_kmem_probe / dev_dax_kmem_remove): device memory (a device-dax
 * range: pmem, soft-reserved CXL/HBM) turned into System RAM, as `daxctl reconfigure-device --mode=system-ram`
 * does, and back.
 *
 * - The range is trimmed to whole memory blocks (a range with nothing left → -EINVAL).
 * - A static memory group (5.15+) over all of it; add_memory_driver_managed(…, "System RAM (kmem)",
 *   MHP_NID_IS_MGID), plus MHP_MEMMAP_ON_MEMORY from 6.8 (apps/docs/kernel/memmap-on-memory.md#lifecycle, apps/docs/kernel/timeline.md#timeline; the core ignores the flag when
 *   the predicate refuses).
 * - `offline`: daxctl offlines every block (any failure → its errno), then kmem removes the memory.
 */
import type { CommandHandlers, CommandOf, KernelCtx } from '../commands/registry.js';
import { fail, ok, type KResult } from '../kernel/errno.js';
import { pick } from '../kernel/version.js';
import { daxKmemMemmapOnMemory } from '../kernel/rules.js';
import { hex } from '../model/geometry.js';
import { addTarget, alignDownBig, alignUpBig, blockIdsOf, offlineBlocks, registerMemoryGroup, unregisterMemoryGroup } from './common.js';
import { driverState } from './events.js';

export const KMEM_RESOURCE_NAME = 'System RAM (kmem)';

function probe(ctx: KernelCtx, cmd: CommandOf<'dax_kmem'>): KResult {
  if (driverState(ctx.state).daxKmem.has(cmd.id)) return fail('EBUSY', `dax device "${cmd.id}" is already bound to kmem`);
  const mb = ctx.machine.geometry.blockSizeBytes;
  const start = alignUpBig(cmd.range.startBytes, mb);
  const end = alignDownBig(cmd.range.startBytes + cmd.range.sizeBytes, mb);
  if (end <= start) return fail('EINVAL', `dax/kmem: rejecting DAX region ${hex(cmd.range.startBytes)}+${hex(cmd.range.sizeBytes)} without any memory after alignment to ${hex(mb)}`);
  const size = end - start;
  const grp = registerMemoryGroup(ctx, 'static', cmd.node, Number(size / BigInt(ctx.machine.geometry.pageBytes)));
  if (!grp.ok) return fail(grp.errno, `dax/kmem: ${grp.why}`);
  const mom = pick(daxKmemMemmapOnMemory, ctx.kernel);
  ctx.emitOther('dax_kmem.probe', { id: cmd.id, node: cmd.node, start: hex(start), size: hex(size), group: grp.id, memmapOnMemory: mom });
  const t = addTarget(cmd.node, grp.id, mom ? ['memmap_on_memory'] : []);
  const r = ctx.call({ kind: 'add_memory_driver_managed', node: t.node, range: { startBytes: start, sizeBytes: size }, resourceName: KMEM_RESOURCE_NAME, flags: t.flags });
  if (!r.ok) {
    unregisterMemoryGroup(ctx, grp.id);
    ctx.emitOther('dax_kmem.remove', { id: cmd.id });
    return fail(r.errno, `dax/kmem: mapping ${hex(start)}-${hex(end - 1n)} could not be added: ${r.why}`);
  }
  return ok();
}

function release(ctx: KernelCtx, cmd: CommandOf<'dax_kmem'>): KResult {
  const d = driverState(ctx.state).daxKmem.get(cmd.id);
  if (!d) return fail('ENODEV', `dax device "${cmd.id}" is not bound to kmem`);
  const off = offlineBlocks(ctx, blockIdsOf(ctx, d.startBytes, d.sizeBytes));
  if (!off.ok) return off;
  const r = ctx.call({ kind: 'remove_memory', range: { startBytes: d.startBytes, sizeBytes: d.sizeBytes } });
  if (!r.ok) return fail(r.errno, `dax/kmem: remove_memory: ${r.why}`);
  unregisterMemoryGroup(ctx, d.group);
  ctx.emitOther('dax_kmem.remove', { id: cmd.id });
  return ok();
}

export const daxKmemHandlers: CommandHandlers = {
  dax_kmem: (ctx, cmd) => (cmd.action === 'online' ? probe(ctx, cmd) : release(ctx, cmd)),
};
