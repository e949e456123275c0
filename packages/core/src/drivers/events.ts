/**
 * Driver state and events: the ACPI memory device (DIMMs), virtio-mem devices and dax/kmem devices, as the
 * callers of the hotplug core that users meet. Driver state lives next to core's state under `drivers` and is
 * written only by the appliers below (so replay reproduces it); read it with {@link driverState}.
 */
import { type Static, type TSchema } from '@sinclair/typebox';
import { Type } from '@memhp/events';
import type { ApplierTable } from '../model/evolve.js';
import type { MachineState, ReadonlyMachineState } from '../model/state.js';
import { ev } from '../model/schema.js';

const Hex = Type.String({ pattern: '^0x[0-9a-f]+$' });
const Id = Type.Integer({ minimum: 0 });
const Count = Type.Integer({ minimum: 0 });

/** A device that brings one physical range: an ACPI DIMM or a dax/kmem device. */
export interface RangeDeviceState {
  readonly id: string;
  readonly node: number;
  readonly startBytes: bigint;
  readonly sizeBytes: bigint;
  readonly group: number | null;
  readonly memmapOnMemory: boolean;
}

/** One unit of a virtio-mem device that is added to Linux: a memory block (SBM) or a big block (BBM). */
export interface VirtioMemUnit {
  /** Sub-block bitmap (SBM: bit i = sub-block i of the memory block is plugged; BBM: 1n when plugged). */
  plugged: bigint;
}

export interface VirtioMemState {
  readonly id: string;
  readonly node: number;
  readonly regionStartBytes: bigint;
  readonly regionBytes: bigint;
  readonly deviceBlockBytes: bigint;
  /** SBM: device block ≤ memory block; BBM: device block > memory block (virtio_mem.c). */
  readonly mode: 'sbm' | 'bbm';
  /** Sub-block (SBM) or big block (BBM) size. */
  readonly unitBytes: bigint;
  readonly group: number | null;
  requestedBytes: bigint;
  /** Units added to Linux, by index from the region start (memory block index in SBM, big block index in BBM). */
  readonly units: Map<number, VirtioMemUnit>;
}

export type DimmState = RangeDeviceState;
export type DaxKmemState = RangeDeviceState;

export interface DriverState {
  readonly dimms: Map<string, DimmState>;
  readonly virtioMem: Map<string, VirtioMemState>;
  readonly daxKmem: Map<string, DaxKmemState>;
}

type WithDrivers = { drivers?: DriverState };
const EMPTY: DriverState = { dimms: new Map(), virtioMem: new Map(), daxKmem: new Map() };

/** The drivers' state of a machine (empty until a driver event was applied). */
export function driverState(s: ReadonlyMachineState): Readonly<DriverState> {
  return (s as unknown as WithDrivers).drivers ?? EMPTY;
}

function mutableDrivers(s: MachineState): DriverState {
  const w = s as unknown as WithDrivers;
  w.drivers ??= { dimms: new Map(), virtioMem: new Map(), daxKmem: new Map() };
  return w.drivers;
}


const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const driverEventDefs = {
  'acpi_memhp.plug': ev(
    'acpi_memhp.plug',
    'A DIMM is plugged (ACPI memory device): where the hypervisor placed it, its static memory group, whether the driver asks for memmap_on_memory.',
    Type.Object({ id: Type.String(), node: Id, start: Hex, size: Hex, group: Nullable(Id), memmapOnMemory: Type.Boolean(), placement: Type.String() }),
  ),
  'acpi_memhp.unplug': ev('acpi_memhp.unplug', 'A DIMM is ejected and forgotten by the driver.', Type.Object({ id: Type.String() })),
  'virtio_mem.config': ev(
    'virtio_mem.config',
    'A virtio-mem device\'s configuration as the driver reads it: region, device block size, mode (SBM/BBM), requested size.',
    Type.Object({
      id: Type.String(),
      node: Id,
      regionStart: Hex,
      regionSize: Hex,
      deviceBlockSize: Hex,
      mode: Type.Union([Type.Literal('sbm'), Type.Literal('bbm')]),
      unitSize: Hex,
      group: Nullable(Id),
      requested: Hex,
    }),
  ),
  'virtio_mem.plug': ev(
    'virtio_mem.plug',
    'virtio-mem plugs (device request VIRTIO_MEM_REQ_PLUG) sub-blocks of a memory block (SBM) or a big block (BBM).',
    Type.Object({ id: Type.String(), unit: Count, before: Hex, after: Hex, pages: Count }),
  ),
  'virtio_mem.unplug': ev(
    'virtio_mem.unplug',
    'virtio-mem unplugs sub-blocks (SBM; fake-offlined first when online) or a whole big block (BBM).',
    Type.Object({ id: Type.String(), unit: Count, before: Hex, after: Hex, pages: Count, fakeOffline: Type.Boolean() }),
  ),
  'virtio_mem.unit_remove': ev(
    'virtio_mem.unit_remove',
    'A memory block (SBM) or big block (BBM) the driver added is removed from Linux again.',
    Type.Object({ id: Type.String(), unit: Count }),
  ),
  'dax_kmem.probe': ev(
    'dax_kmem.probe',
    'dax/kmem takes a device-dax range as System RAM (kmem): the block-aligned range, group and memmap_on_memory request.',
    Type.Object({ id: Type.String(), node: Id, start: Hex, size: Hex, group: Nullable(Id), memmapOnMemory: Type.Boolean() }),
  ),
  'dax_kmem.remove': ev('dax_kmem.remove', 'dax/kmem releases the range (device back to devdax).', Type.Object({ id: Type.String() })),
} as const;

export type DriverEventType = keyof typeof driverEventDefs;
export type DriverPayload<T extends DriverEventType> = Static<(typeof driverEventDefs)[T]['schema']>;

type A<T extends DriverEventType> = (s: MachineState, p: DriverPayload<T>) => void;
const applier = <T extends DriverEventType>(f: A<T>): ApplierTable[string] => f as unknown as ApplierTable[string];

/** The record of a device that brings one physical range (an ACPI DIMM, a dax/kmem device). */
const rangeDevice = (p: DriverPayload<'acpi_memhp.plug'> | DriverPayload<'dax_kmem.probe'>): RangeDeviceState => ({
  id: p.id,
  node: p.node,
  startBytes: BigInt(p.start),
  sizeBytes: BigInt(p.size),
  group: p.group,
  memmapOnMemory: p.memmapOnMemory,
});

export const driverAppliers: ApplierTable = {
  'acpi_memhp.plug': applier<'acpi_memhp.plug'>((s, p) => {
    mutableDrivers(s).dimms.set(p.id, rangeDevice(p));
  }),
  'acpi_memhp.unplug': applier<'acpi_memhp.unplug'>((s, p) => {
    mutableDrivers(s).dimms.delete(p.id);
  }),
  'virtio_mem.config': applier<'virtio_mem.config'>((s, p) => {
    const d = mutableDrivers(s);
    const old = d.virtioMem.get(p.id);
    if (old) {
      old.requestedBytes = BigInt(p.requested);
      return;
    }
    d.virtioMem.set(p.id, {
      id: p.id,
      node: p.node,
      regionStartBytes: BigInt(p.regionStart),
      regionBytes: BigInt(p.regionSize),
      deviceBlockBytes: BigInt(p.deviceBlockSize),
      mode: p.mode,
      unitBytes: BigInt(p.unitSize),
      group: p.group,
      requestedBytes: BigInt(p.requested),
      units: new Map(),
    });
  }),
  'virtio_mem.plug': applier<'virtio_mem.plug'>((s, p) => {
    const dev = mutableDrivers(s).virtioMem.get(p.id);
    if (!dev) return;
    const u = dev.units.get(p.unit) ?? { plugged: 0n };
    u.plugged = BigInt(p.after);
    dev.units.set(p.unit, u);
  }),
  'virtio_mem.unplug': applier<'virtio_mem.unplug'>((s, p) => {
    const u = mutableDrivers(s).virtioMem.get(p.id)?.units.get(p.unit);
    if (u) u.plugged = BigInt(p.after);
  }),
  'virtio_mem.unit_remove': applier<'virtio_mem.unit_remove'>((s, p) => {
    mutableDrivers(s).virtioMem.get(p.id)?.units.delete(p.unit);
  }),
  'dax_kmem.probe': applier<'dax_kmem.probe'>((s, p) => {
    mutableDrivers(s).daxKmem.set(p.id, rangeDevice(p));
  }),
  'dax_kmem.remove': applier<'dax_kmem.remove'>((s, p) => {
    mutableDrivers(s).daxKmem.delete(p.id);
  }),
};

const popcount = (x: bigint): number => {
  let n = 0;
  for (let v = x; v > 0n; v &= v - 1n) n++;
  return n;
};
export { popcount };

/**
 * Pages of a memory block that a virtio-mem device in Sub Block Mode has not plugged: they are never handed to
 * the buddy when the block is onlined (virtio_mem_online_page_cb keeps them PageOffline), so online adds only
 * the plugged part to managed pages (and offline takes only that part away).
 */
export function virtioMemFakeOfflinePages(s: ReadonlyMachineState, blockId: number): number {
  const g = s.machine.geometry;
  const devices = driverState(s).virtioMem;
  if (devices.size === 0) return 0; // every online and offline asks: no iterator when there is no device
  for (const dev of devices.values()) {
    if (dev.mode !== 'sbm') continue;
    const u = dev.units.get(blockId);
    if (!u) continue;
    const sbsPerMb = Number(g.blockSizeBytes / dev.unitBytes);
    const sbPages = Number(dev.unitBytes / BigInt(g.pageBytes));
    return (sbsPerMb - popcount(u.plugged)) * sbPages;
  }
  return 0;
}
