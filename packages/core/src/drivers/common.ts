/**
 * What the drivers share: memory groups (mm/memory_hotplug.c memory_group_register_{static,dynamic},
 * apps/docs/kernel/hotplug.md#entry-points), the memmap_on_memory predicate as a driver asks it, block-wise offlining with the
 * device core's semantics, and where a hypervisor places new device memory.
 */
import type { MhpFlag } from '../api.js';
import type { KernelCtx } from '../commands/registry.js';
import { fail, ok, type ErrnoName, type KResult } from '../kernel/errno.js';
import { pick } from '../kernel/version.js';
import { memoryGroups } from '../kernel/rules.js';
import { memmapOnMemoryVerdict } from '../hotplug/add-memory.js';
import { memoryBlockOffline } from '../hotplug/offline.js';
import { memoryBlockOnline } from '../hotplug/online.js';
import type { ReadonlyMachineState } from '../model/state.js';
import { driverState } from './events.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;

export const alignUpBig = (v: bigint, a: bigint): bigint => ((v + a - 1n) / a) * a;
export const alignDownBig = (v: bigint, a: bigint): bigint => (v / a) * a;

/** mhp_supports_memmap_on_memory(size) as a driver calls it (6.8+ callers pass no size: use one block). */
export const driverSupportsMemmapOnMemory = (ctx: KernelCtx, requestBytes: bigint): boolean =>
  memmapOnMemoryVerdict(ctx, requestBytes).supported;

/** Lowest unused memory group id (the kernel's xarray allocation starts at 0). */
export function nextGroupId(s: ReadonlyMachineState): number {
  let id = 0;
  while (s.groups.has(id)) id++;
  return id;
}

/**
 * memory_group_register_static(nid, max_pages) / memory_group_register_dynamic(nid, unit_pages) (5.15+).
 * Returns the group id, null before 5.15 (no groups: the driver passes the node), or an error.
 */
export function registerMemoryGroup(
  ctx: KernelCtx,
  kind: 'static' | 'dynamic',
  nid: number,
  pages: number,
): { ok: true; id: number | null } | { ok: false; errno: ErrnoName; why: string } {
  if (!pick(memoryGroups, ctx.kernel)) return { ok: true, id: null };
  const g = ctx.machine.geometry;
  if (!ctx.state.nodes.has(nid) && !ctx.machine.config.nodes.some((n) => n.id === nid)) return { ok: false, errno: 'EINVAL', why: `node ${nid} is not possible` };
  if (kind === 'static' && pages === 0) return { ok: false, errno: 'EINVAL', why: 'static memory group with max_pages 0' };
  if (kind === 'dynamic' && (pages === 0 || (pages & (pages - 1)) !== 0 || pages < g.pagesPerBlock))
    return { ok: false, errno: 'EINVAL', why: `dynamic memory group unit of ${pages} pages is 0, not a power of two or smaller than a memory block` };
  const id = nextGroupId(ctx.state);
  ctx.emit('memory_group.register', { id, nid, kind, pages });
  return { ok: true, id };
}

export function unregisterMemoryGroup(ctx: KernelCtx, id: number | null): void {
  if (id === null || !ctx.state.groups.has(id)) return;
  ctx.emit('memory_group.unregister', { id });
}

/** The `node` and flags a driver passes to add_memory: the group id with MHP_NID_IS_MGID from 5.15. */
export function addTarget(node: number, group: number | null, flags: readonly MhpFlag[]): { node: number; flags: MhpFlag[] } {
  return group === null ? { node, flags: [...flags] } : { node: group, flags: ['nid_is_mgid', ...flags] };
}

/** Memory block ids of [start, start + size). */
export function blockIdsOf(ctx: KernelCtx, startBytes: bigint, sizeBytes: bigint): number[] {
  const b = ctx.machine.geometry.blockSizeBytes;
  const ids: number[] = [];
  for (let a = alignDownBig(startBytes, b); a < startBytes + sizeBytes; a += b) ids.push(Number(a / b));
  return ids;
}

/**
 * device_offline on every block of a range (already-offline blocks count as done); on the first failure,
 * device_online the blocks this call offlined (with the policy's zone, as acpi_bus_online does) and fail.
 */
export function offlineBlocks(ctx: KernelCtx, ids: readonly number[]): KResult {
  const done: number[] = [];
  for (const id of ids) {
    const b = ctx.state.blockTable[id];
    if (!b || b.state === 'offline') continue;
    const r = memoryBlockOffline(ctx, id);
    if (!r.ok) {
      for (const back of done) memoryBlockOnline(ctx, back, 'online');
      return fail(r.errno, `memory${id}: ${r.why}`);
    }
    done.push(id);
  }
  return ok();
}

/** End of boot RAM (the highest boot System RAM byte + 1). */
export function bootRamEnd(s: ReadonlyMachineState): bigint {
  let end = 0n;
  for (const r of s.resources) if (r.boot && r.flags.includes('system_ram') && r.endBytes + 1n > end) end = r.endBytes + 1n;
  return end;
}

/**
 * Where QEMU places the next memory device (pc-dimm, virtio-mem): in the device-memory region that starts at
 * ALIGN_UP(4 GiB + RAM above 4 GiB, 1 GiB) — i.e. above the end of boot RAM, never below 4 GiB (hw/i386/pc.c);
 * on arm64 QEMU's virt machine at ALIGN_UP(end of RAM, 1 GiB) with no 4 GiB floor (hw/arm/virt.c
 * virt_set_memmap; read on Debian 6.1.192 under QEMU 7.2: 2 GiB at 0x40000000, the first DIMM at 0xc0000000);
 * first fit after the devices already there, aligned to `alignBytes`.
 */
export function placeDevice(s: ReadonlyMachineState, sizeBytes: bigint, alignBytes: bigint): bigint {
  const floor = s.machine.arch === 'arm64' ? 0n : 4n * GiB;
  const base = alignUpBig(bootRamEnd(s) > floor ? bootRamEnd(s) : floor, GiB);
  const d = driverState(s);
  const used: Array<[bigint, bigint]> = [];
  for (const x of d.dimms.values()) used.push([x.startBytes, x.startBytes + x.sizeBytes]);
  for (const x of d.virtioMem.values()) used.push([x.regionStartBytes, x.regionStartBytes + x.regionBytes]);
  for (const r of s.resources) if (!r.boot && r.endBytes + 1n > base) used.push([r.startBytes, r.endBytes + 1n]);
  used.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let at = alignUpBig(base, alignBytes);
  for (const [a, b] of used) {
    if (at + sizeBytes <= a) break;
    if (b > at) at = alignUpBig(b, alignBytes);
  }
  return at;
}

/** QEMU's default alignment for a RAM-backed memory device: the THP size (2 MiB on x86-64 / arm64-4K). */
export const QEMU_DEFAULT_DEVICE_ALIGN = 2n * MiB;
