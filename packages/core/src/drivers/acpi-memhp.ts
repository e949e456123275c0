/**
 * The ACPI memory-device driver (drivers/acpi/acpi_memhotplug.c, 6.1: acpi_memory_enable_device /
 * acpi_memory_remove_memory) driven the way a hypervisor drives it: `plug_dimm` is QEMU's device_add pc-dimm
 * followed by the ACPI hot-add notification, `unplug_dimm` is device_del: the ACPI eject offlines every block
 * of the DIMM (re-onlining them if one refuses, → -EBUSY) and the driver then removes the memory.
 *
 * Per DIMM: a static memory group (5.15+) of PFN_UP(length) pages; MHP_MEMMAP_ON_MEMORY when the predicate
 * accepts the device length (≤6.7: only a DIMM of exactly one memory block) or, from 6.8, whenever the
 * predicate (without a size) does (apps/docs/kernel/memmap-on-memory.md#support, apps/docs/kernel/memmap-on-memory.md#examples row 13).
 */
import type { CommandHandlers, KernelCtx, CommandOf } from '../commands/registry.js';
import { fail, ok, type KResult } from '../kernel/errno.js';
import { pick } from '../kernel/version.js';
import { acpiMemhpMemmapOnMemory } from '../kernel/rules.js';
import { hex } from '../model/geometry.js';
import { addTarget, blockIdsOf, driverSupportsMemmapOnMemory, offlineBlocks, placeDevice, QEMU_DEFAULT_DEVICE_ALIGN, registerMemoryGroup, unregisterMemoryGroup } from './common.js';
import { driverState } from './events.js';

/** Whether the driver sets MHP_MEMMAP_ON_MEMORY for a device of `lengthBytes` on this kernel. */
export function acpiWantsMemmapOnMemory(ctx: KernelCtx, lengthBytes: bigint): boolean {
  switch (pick(acpiMemhpMemmapOnMemory, ctx.kernel)) {
    case 'never':
      return false;
    case 'device-length':
      return driverSupportsMemmapOnMemory(ctx, lengthBytes);
    case 'no-size':
      return driverSupportsMemmapOnMemory(ctx, ctx.machine.geometry.blockSizeBytes);
  }
}

export function plugDimm(ctx: KernelCtx, cmd: CommandOf<'plug_dimm'>): KResult {
  if (driverState(ctx.state).dimms.has(cmd.id)) return fail('EEXIST', `a DIMM with id "${cmd.id}" is already plugged`);
  if (cmd.sizeBytes <= 0n) return fail('EINVAL', `DIMM "${cmd.id}": size must be positive`);
  const placement = cmd.startBytes === undefined ? 'QEMU device-memory first fit (2 MiB aligned)' : 'given';
  const start = cmd.startBytes ?? placeDevice(ctx.state, cmd.sizeBytes, QEMU_DEFAULT_DEVICE_ALIGN);
  const P = BigInt(ctx.machine.geometry.pageBytes);
  const grp = registerMemoryGroup(ctx, 'static', cmd.node, Number((cmd.sizeBytes + P - 1n) / P)); // PFN_UP(total_length)
  if (!grp.ok) return fail(grp.errno, `acpi_memory_enable_device: ${grp.why}`);
  const mom = acpiWantsMemmapOnMemory(ctx, cmd.sizeBytes);
  ctx.emitOther('acpi_memhp.plug', { id: cmd.id, node: cmd.node, start: hex(start), size: hex(cmd.sizeBytes), group: grp.id, memmapOnMemory: mom, placement });
  const t = addTarget(cmd.node, grp.id, mom ? ['memmap_on_memory'] : []);
  const r = ctx.call({ kind: 'add_memory', node: t.node, range: { startBytes: start, sizeBytes: cmd.sizeBytes }, flags: t.flags });
  if (!r.ok && r.errno !== 'EEXIST') {
    // num_enabled == 0: "add_memory failed", the device is freed with its group.
    unregisterMemoryGroup(ctx, grp.id);
    ctx.emitOther('acpi_memhp.unplug', { id: cmd.id });
    return fail('EINVAL', `acpi_memory_enable_device: add_memory failed (-${r.errno}: ${r.why})`);
  }
  return ok();
}

export function unplugDimm(ctx: KernelCtx, cmd: CommandOf<'unplug_dimm'>): KResult {
  const d = driverState(ctx.state).dimms.get(cmd.id);
  if (!d) return fail('ENODEV', `no DIMM with id "${cmd.id}"`);
  const off = offlineBlocks(ctx, blockIdsOf(ctx, d.startBytes, d.sizeBytes));
  if (!off.ok) return fail('EBUSY', `ACPI eject of DIMM "${cmd.id}" refused: ${off.why}`);
  const r = ctx.call({ kind: 'remove_memory', range: { startBytes: d.startBytes, sizeBytes: d.sizeBytes } });
  if (!r.ok) return fail(r.errno, `__remove_memory of DIMM "${cmd.id}": ${r.why}`);
  unregisterMemoryGroup(ctx, d.group);
  ctx.emitOther('acpi_memhp.unplug', { id: cmd.id });
  return ok();
}

export const acpiMemhpHandlers: CommandHandlers = {
  plug_dimm: plugDimm,
  unplug_dimm: unplugDimm,
};
