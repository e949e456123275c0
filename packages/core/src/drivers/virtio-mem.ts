/**
 * virtio-mem (drivers/virtio/virtio_mem.c, 6.1): a paravirtualised memory device with a region, a device block
 * size and a requested size the hypervisor changes. The `virtio_mem` command is one resize as the driver's
 * worker handles it.
 *
 * - Mode (virtio_mem_init_hotplug): sub-block size sb = max(device block, pageblock); sb < memory block →
 *   Sub Block Mode (memory is added one memory block at a time and plugged in sub-blocks; unplugged parts of an
 *   online block stay PageOffline); otherwise Big Block Mode with bb = max(device block, memory block), added and
 *   removed a whole big block at a time. 5.10 has no BBM (a device block larger than a memory block is refused).
 * - One dynamic memory group (5.15+), unit = one memory block (SBM) or one big block (BBM).
 * - add_memory_driver_managed(…, "System RAM (virtio_mem)", MHP_MERGE_RESOURCE | MHP_NID_IS_MGID); no
 *   memmap_on_memory (apps/docs/kernel/memmap-on-memory.md#lifecycle).
 * - Plug order: partially plugged online blocks, partially plugged offline blocks, then new blocks (lowest
 *   first). Unplug order: offline blocks (partial first), then online movable, then online kernel blocks, highest
 *   block and highest sub-block first; a block with nothing plugged is removed (offline_and_remove_memory when
 *   online). BBM unplugs highest big blocks first: offline ones, then movable, then any.
 *
 * Fault sites: `virtio_mem:plug` / `virtio_mem:unplug` (the device refuses a request), `virtio_mem:fake_offline`
 * (alloc_contig_range fails on an online sub-block, → -EBUSY).
 */
import type { CommandHandlers, CommandOf, KernelCtx } from '../commands/registry.js';
import { fail, ok, type ErrnoName, type KResult } from '../kernel/errno.js';
import { pick } from '../kernel/version.js';
import { virtioMemBigBlockMode } from '../kernel/rules.js';
import { hex } from '../model/geometry.js';
import { addTarget, alignUpBig, placeDevice, registerMemoryGroup } from './common.js';
import { driverState, popcount, type VirtioMemState } from './events.js';

export const VIRTIO_MEM_RESOURCE_NAME = 'System RAM (virtio_mem)';

interface Geometry {
  readonly unitBytes: bigint;
  readonly unitsPerAdd: number;
  readonly sbsPerUnit: number;
  readonly firstUnit: number;
  /** Exclusive. */
  readonly endUnit: number;
  /** Bytes of one Linux add (a memory block in SBM, a big block in BBM). */
  readonly addBytes: bigint;
}

function deviceGeometry(ctx: KernelCtx, dev: VirtioMemState): Geometry {
  const mb = ctx.machine.geometry.blockSizeBytes;
  const addBytes = dev.mode === 'sbm' ? mb : dev.unitBytes;
  const lo = dev.regionStartBytes > ctx.machine.pluggableStartBytes ? dev.regionStartBytes : ctx.machine.pluggableStartBytes;
  return {
    unitBytes: dev.unitBytes,
    unitsPerAdd: 1,
    sbsPerUnit: dev.mode === 'sbm' ? Number(mb / dev.unitBytes) : 1,
    firstUnit: Number(alignUpBig(lo, addBytes) / addBytes),
    endUnit: Number((dev.regionStartBytes + dev.regionBytes) / addBytes),
    addBytes,
  };
}

const pluggedBytes = (dev: VirtioMemState): bigint => {
  let n = 0n;
  for (const u of dev.units.values()) n += BigInt(popcount(u.plugged));
  return n * dev.unitBytes;
};

/** The device block, mode and region of a new device (virtio_mem_init + virtio_mem_init_hotplug). */
function configure(ctx: KernelCtx, cmd: CommandOf<'virtio_mem'>): { ok: true } | { ok: false; errno: ErrnoName; why: string } {
  const g = ctx.machine.geometry;
  const mb = g.blockSizeBytes;
  const deviceBlock = cmd.deviceBlockBytes ?? 1n << BigInt(g.pmdShift); // QEMU default: the THP size
  if (deviceBlock <= 0n || (deviceBlock & (deviceBlock - 1n)) !== 0n) return { ok: false, errno: 'EINVAL', why: `device block size ${deviceBlock} is not a power of two` };
  const pageblockBytes = BigInt(g.pageblockPages * g.pageBytes);
  const sb = deviceBlock > pageblockBytes ? deviceBlock : pageblockBytes;
  const sbm = sb < mb;
  if (!sbm && !pick(virtioMemBigBlockMode, ctx.kernel))
    return { ok: false, errno: 'EINVAL', why: `kernel ${ctx.kernel} has no Big Block Mode: device block ${hex(deviceBlock)} ≥ memory block ${hex(mb)} is not supported` };
  const unit = sbm ? sb : deviceBlock > mb ? deviceBlock : mb;
  const addBytes = sbm ? mb : unit;
  const regionBytes = cmd.regionBytes ?? alignUpBig(cmd.requestedBytes > 0n ? cmd.requestedBytes : addBytes, addBytes);
  const align = deviceBlock > mb ? deviceBlock : mb;
  const regionStart = cmd.regionStartBytes ?? placeDevice(ctx.state, regionBytes, align);
  // virtio_mem_init (drivers/virtio/virtio_mem.c, 5.11+): a region outside mhp_get_pluggable_range() is refused
  // ("The device memory is not addressable") before any memory is added.
  if (regionStart + regionBytes - 1n > ctx.machine.pluggableEndBytes)
    return fail('EINVAL', `the device memory ${hex(regionStart)}-${hex(regionStart + regionBytes - 1n)} is not addressable (PHYSMEM_END ${hex(ctx.machine.pluggableEndBytes)})`);
  const node = cmd.node ?? 0;
  const unitPages = Number((sbm ? mb : unit) / BigInt(g.pageBytes));
  const grp = registerMemoryGroup(ctx, 'dynamic', node, unitPages);
  if (!grp.ok) return { ok: false, errno: grp.errno, why: grp.why };
  ctx.emitOther('virtio_mem.config', {
    id: cmd.id,
    node,
    regionStart: hex(regionStart),
    regionSize: hex(regionBytes),
    deviceBlockSize: hex(deviceBlock),
    mode: sbm ? 'sbm' : 'bbm',
    unitSize: hex(unit),
    group: grp.id,
    requested: hex(0n),
  });
  return { ok: true };
}

const unitAddr = (dev: VirtioMemState, geo: Geometry, unit: number): bigint => BigInt(unit) * geo.addBytes;

function addUnit(ctx: KernelCtx, dev: VirtioMemState, geo: Geometry, unit: number): KResult {
  const t = addTarget(dev.node, dev.group, ['merge_resource']);
  return ctx.call({
    kind: 'add_memory_driver_managed',
    node: t.node,
    range: { startBytes: unitAddr(dev, geo, unit), sizeBytes: geo.addBytes },
    resourceName: VIRTIO_MEM_RESOURCE_NAME,
    flags: t.flags,
  });
}

/** Device request VIRTIO_MEM_REQ_PLUG/UNPLUG for sub-blocks `mask` of `unit`. */
function deviceRequest(ctx: KernelCtx, dev: VirtioMemState, unit: number, before: bigint, after: bigint, plug: boolean, fakeOffline = false): ErrnoName | null {
  const f = ctx.faults.site(plug ? 'virtio_mem:plug' : 'virtio_mem:unplug', { id: dev.id, unit });
  if (f) return f.errno;
  const changed = popcount(plug ? after & ~before : before & ~after);
  const pages = Number((BigInt(changed) * dev.unitBytes) / BigInt(ctx.machine.geometry.pageBytes));
  if (plug) ctx.emitOther('virtio_mem.plug', { id: dev.id, unit, before: hex(before), after: hex(after), pages });
  else ctx.emitOther('virtio_mem.unplug', { id: dev.id, unit, before: hex(before), after: hex(after), pages, fakeOffline });
  return null;
}

function blockOfUnit(ctx: KernelCtx, dev: VirtioMemState, geo: Geometry, unit: number) {
  return ctx.state.blockTable[Number(unitAddr(dev, geo, unit) / ctx.machine.geometry.blockSizeBytes)];
}

function plugSbm(ctx: KernelCtx, dev: VirtioMemState, geo: Geometry, nbSb: number): ErrnoName | null {
  const full = (1n << BigInt(geo.sbsPerUnit)) - 1n;
  const sbPages = Number(dev.unitBytes / BigInt(ctx.machine.geometry.pageBytes));
  const partial = [...dev.units.entries()].filter(([, u]) => u.plugged !== full).map(([id]) => id).sort((a, b) => a - b);
  const online = partial.filter((id) => blockOfUnit(ctx, dev, geo, id)?.state === 'online');
  const kernelFirst = [
    ...online.filter((id) => blockOfUnit(ctx, dev, geo, id)?.zone !== 'Movable'),
    ...online.filter((id) => blockOfUnit(ctx, dev, geo, id)?.zone === 'Movable'),
    ...partial.filter((id) => blockOfUnit(ctx, dev, geo, id)?.state !== 'online'),
  ];
  for (const unit of kernelFirst) {
    if (nbSb === 0) return null;
    const u = dev.units.get(unit);
    if (!u) continue;
    let after = u.plugged;
    let n = 0;
    for (let i = 0; i < geo.sbsPerUnit && n < nbSb; i++) {
      if (((after >> BigInt(i)) & 1n) === 0n) {
        after |= 1n << BigInt(i);
        n++;
      }
    }
    const err = deviceRequest(ctx, dev, unit, u.plugged, after, true);
    if (err) return err;
    const b = blockOfUnit(ctx, dev, geo, unit);
    // virtio_mem_fake_online: newly plugged sub-blocks of an online block go to the buddy.
    if (b?.state === 'online' && b.zone) ctx.emit('zone.managed', { nid: b.nid, zone: b.zone, delta: n * sbPages });
    nbSb -= n;
  }
  for (let unit = geo.firstUnit; unit < geo.endUnit && nbSb > 0; unit++) {
    if (dev.units.has(unit)) continue;
    const n = Math.min(nbSb, geo.sbsPerUnit);
    const after = (1n << BigInt(n)) - 1n;
    const err = deviceRequest(ctx, dev, unit, 0n, after, true);
    if (err) return err;
    const r = addUnit(ctx, dev, geo, unit);
    if (!r.ok) {
      deviceRequest(ctx, dev, unit, after, 0n, false);
      ctx.emitOther('virtio_mem.unit_remove', { id: dev.id, unit });
      return r.errno;
    }
    nbSb -= n;
  }
  return nbSb > 0 ? 'ENOSPC' : null;
}

function unplugSbm(ctx: KernelCtx, dev: VirtioMemState, geo: Geometry, nbSb: number): ErrnoName | null {
  const full = (1n << BigInt(geo.sbsPerUnit)) - 1n;
  const sbPages = Number(dev.unitBytes / BigInt(ctx.machine.geometry.pageBytes));
  const ids = [...dev.units.keys()].sort((a, b) => b - a);
  const state = (id: number) => blockOfUnit(ctx, dev, geo, id);
  const isPartial = (id: number) => dev.units.get(id)?.plugged !== full;
  const offline = ids.filter((id) => state(id)?.state !== 'online');
  const movable = ids.filter((id) => state(id)?.state === 'online' && state(id)?.zone === 'Movable');
  const kernel = ids.filter((id) => state(id)?.state === 'online' && state(id)?.zone !== 'Movable');
  const order = [offline, movable, kernel].flatMap((list) => [...list.filter(isPartial), ...list.filter((id) => !isPartial(id))]);
  let lastErr: ErrnoName | null = null;
  for (const unit of order) {
    if (nbSb === 0) break;
    const u = dev.units.get(unit);
    const b = state(unit);
    if (!u || !b) continue;
    const online = b.state === 'online';
    let after = u.plugged;
    let n = 0;
    for (let i = geo.sbsPerUnit - 1; i >= 0 && n < nbSb; i--) {
      if (((after >> BigInt(i)) & 1n) === 1n) {
        after &= ~(1n << BigInt(i));
        n++;
      }
    }
    if (n === 0) continue;
    if (online) {
      const f = ctx.faults.site('virtio_mem:fake_offline', { id: dev.id, unit });
      if (f) {
        lastErr = 'EBUSY';
        continue;
      }
    }
    const err = deviceRequest(ctx, dev, unit, u.plugged, after, false, online);
    if (err) {
      lastErr = err;
      continue;
    }
    if (online && b.zone) ctx.emit('zone.managed', { nid: b.nid, zone: b.zone, delta: -n * sbPages });
    nbSb -= n;
    if (after === 0n) {
      const range = { startBytes: unitAddr(dev, geo, unit), sizeBytes: geo.addBytes };
      const r = online ? ctx.call({ kind: 'offline_and_remove_memory', range }) : ctx.call({ kind: 'remove_memory', range });
      if (r.ok) ctx.emitOther('virtio_mem.unit_remove', { id: dev.id, unit });
      else lastErr = r.errno;
    }
  }
  return nbSb > 0 ? (lastErr ?? 'EBUSY') : null;
}

function plugBbm(ctx: KernelCtx, dev: VirtioMemState, geo: Geometry, nbBb: number): ErrnoName | null {
  for (let unit = geo.firstUnit; unit < geo.endUnit && nbBb > 0; unit++) {
    if (dev.units.has(unit)) continue;
    const err = deviceRequest(ctx, dev, unit, 0n, 1n, true);
    if (err) return err;
    const r = addUnit(ctx, dev, geo, unit);
    if (!r.ok) {
      deviceRequest(ctx, dev, unit, 1n, 0n, false);
      ctx.emitOther('virtio_mem.unit_remove', { id: dev.id, unit });
      return r.errno;
    }
    nbBb--;
  }
  return nbBb > 0 ? 'ENOSPC' : null;
}

function unplugBbm(ctx: KernelCtx, dev: VirtioMemState, geo: Geometry, nbBb: number): ErrnoName | null {
  const mbPerBb = Number(geo.addBytes / ctx.machine.geometry.blockSizeBytes);
  const blocksOf = (unit: number) =>
    Array.from({ length: mbPerBb }, (_, i) => ctx.state.blockTable[Number(unitAddr(dev, geo, unit) / ctx.machine.geometry.blockSizeBytes) + i]);
  let lastErr: ErrnoName | null = null;
  for (let pass = 0; pass < 3 && nbBb > 0; pass++) {
    for (const unit of [...dev.units.keys()].sort((a, b) => b - a)) {
      if (nbBb === 0) break;
      const bs = blocksOf(unit);
      if (pass === 0 && !bs.every((b) => b?.state === 'offline')) continue;
      if (pass === 1 && !bs.every((b) => b?.state === 'offline' || b?.zone === 'Movable')) continue;
      const range = { startBytes: unitAddr(dev, geo, unit), sizeBytes: geo.addBytes };
      const r = pass === 0 ? ctx.call({ kind: 'remove_memory', range }) : ctx.call({ kind: 'offline_and_remove_memory', range });
      if (!r.ok) {
        lastErr = r.errno;
        continue;
      }
      const err = deviceRequest(ctx, dev, unit, 1n, 0n, false);
      ctx.emitOther('virtio_mem.unit_remove', { id: dev.id, unit });
      if (err) lastErr = err;
      nbBb--;
    }
  }
  return nbBb > 0 ? (lastErr ?? 'EBUSY') : null;
}

/** One resize request of a virtio-mem device (creating it on first use). */
export function virtioMemResize(ctx: KernelCtx, cmd: CommandOf<'virtio_mem'>): KResult {
  if (!driverState(ctx.state).virtioMem.has(cmd.id)) {
    const c = configure(ctx, cmd);
    if (!c.ok) return fail(c.errno, `virtio-mem "${cmd.id}": ${c.why}`);
  }
  const dev = driverState(ctx.state).virtioMem.get(cmd.id) as VirtioMemState;
  if (cmd.requestedBytes < 0n || cmd.requestedBytes > dev.regionBytes || cmd.requestedBytes % dev.deviceBlockBytes !== 0n)
    return fail('EINVAL', `virtio-mem "${cmd.id}": requested size ${hex(cmd.requestedBytes)} must be a multiple of the device block size ${hex(dev.deviceBlockBytes)} and at most the region size ${hex(dev.regionBytes)}`);
  ctx.emitOther('virtio_mem.config', {
    id: dev.id,
    node: dev.node,
    regionStart: hex(dev.regionStartBytes),
    regionSize: hex(dev.regionBytes),
    deviceBlockSize: hex(dev.deviceBlockBytes),
    mode: dev.mode,
    unitSize: hex(dev.unitBytes),
    group: dev.group,
    requested: hex(cmd.requestedBytes),
  });
  const geo = deviceGeometry(ctx, dev);
  const diff = cmd.requestedBytes - pluggedBytes(dev);
  if (diff === 0n) return ok();
  const n = Number((diff < 0n ? -diff : diff) / dev.unitBytes);
  if (n === 0) return ok();
  const err =
    dev.mode === 'sbm' ? (diff > 0n ? plugSbm(ctx, dev, geo, n) : unplugSbm(ctx, dev, geo, n)) : diff > 0n ? plugBbm(ctx, dev, geo, n) : unplugBbm(ctx, dev, geo, n);
  if (err) return fail(err, `virtio-mem "${cmd.id}": plugged ${hex(pluggedBytes(dev))} of the requested ${hex(cmd.requestedBytes)}`);
  return ok();
}

export const virtioMemHandlers: CommandHandlers = { virtio_mem: virtioMemResize };
