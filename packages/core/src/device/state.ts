/**
 * ZONE_DEVICE state: the dev_pagemaps registered by memremap_pages (the kernel's pgmap_array: pfn range →
 * pgmap), their events and appliers. Lives next to core's state under `device`, written only here, read with
 * {@link deviceState} (mm/memremap.c, 6.1; apps/docs/kernel/zone-device.md#zone-device).
 */
import { type Static } from '@sinclair/typebox';
import { Type } from '@memhp/events';
import { defineEvent, type EventTypeDef } from '@memhp/events';
import type { ApplierTable } from '../model/evolve.js';
import type { MachineState, ReadonlyMachineState } from '../model/state.js';
import { lits, ev } from '../model/schema.js';
import { PGMAP_TYPE_ALIASES, PGMAP_TYPES, type PgmapType } from './types.js';

/** The protection a caller passes in mhp_params.pgprot (PAGE_KERNEL, adjusted per type; 'none' is the zero pgprot). */
export type PgProt = 'PAGE_KERNEL' | 'PAGE_KERNEL_decrypted' | 'PAGE_KERNEL_noncached' | 'none';

/** struct dev_pagemap (one range), as memhp keeps it. */
export interface PgmapState {
  readonly id: string;
  readonly type: PgmapType;
  readonly provider: string;
  readonly nid: number;
  readonly startPfn: number;
  readonly nrPages: number;
  readonly altmapId: number | null;
  /** Compound page order (vmemmap_shift); 0 = base pages. */
  readonly vmemmapShift: number;
  readonly pgprot: PgProt;
  /** The vmemmap was deduplicated while populated (compound devmap, apps/docs/kernel/zone-device.md#compound-dedup). */
  readonly dedup: boolean;
}

export interface DeviceState {
  readonly pgmaps: Map<string, PgmapState>;
}

type WithDevice = { device?: DeviceState };
const EMPTY: DeviceState = { pgmaps: new Map() };

export function deviceState(s: ReadonlyMachineState): Readonly<DeviceState> {
  return (s as unknown as WithDevice).device ?? EMPTY;
}

function mut(s: MachineState): DeviceState {
  const w = s as unknown as WithDevice;
  w.device ??= { pgmaps: new Map() };
  return w.device;
}

/** get_dev_pagemap(pfn): the pgmap whose range covers pfn. */
export function pgmapOfPfn(s: ReadonlyMachineState, pfn: number): Readonly<PgmapState> | null {
  for (const p of deviceState(s).pgmaps.values()) if (pfn >= p.startPfn && pfn < p.startPfn + p.nrPages) return p;
  return null;
}

/** For pfnToOnlinePage's slow path in a ZONE_DEVICE-tainted section (apps/docs/kernel/sparse.md#validity). */
export const pgmapCovers =
  (s: ReadonlyMachineState) =>
  (pfn: number): boolean =>
    pgmapOfPfn(s, pfn) !== null;

const Pfn = Type.Integer({ minimum: 0 });
const Count = Type.Integer({ minimum: 0 });
const Nid = Type.Integer({ minimum: 0 });
/** v2 on: the kernel's enum memory_type names. */
const PgmapTypeT = lits(...PGMAP_TYPES);
/** v1 (memhp ≤ 0.1): the short names. */
const PgmapTypeV1T = lits('private', 'coherent', 'fsdax', 'devdax', 'p2pdma');
const PgProtT = lits('PAGE_KERNEL', 'PAGE_KERNEL_decrypted', 'PAGE_KERNEL_noncached', 'none');

/** Events whose payload names a pgmap type: version 2 names it as the kernel does. */
export const DEVICE_EVENT_VERSION = { 'device.setup': 2, 'device.pgmap_register': 2 } as const;

/** v1 payload → v2: the short type name becomes the kernel's. */
const upcastType = <P extends { type: PgmapType }>(older: unknown): P => {
  const p = older as { type: string };
  return { ...p, type: PGMAP_TYPE_ALIASES[p.type] ?? p.type } as unknown as P;
};

const setupV1Fields = {
  id: Type.String(),
  provider: Type.String(),
  pgprot: PgProtT,
  vmemmapShift: Type.Integer({ minimum: 0 }),
  altmap: Type.Union([Type.Object({ basePfn: Type.Integer({ minimum: 0 }), reserve: Type.Integer({ minimum: 0 }), free: Type.Integer({ minimum: 0 }) }), Type.Null()]),
  linearMap: Type.Boolean(),
};
const registerV1Fields = {
  id: Type.String(),
  provider: Type.String(),
  nid: Type.Integer({ minimum: 0 }),
  startPfn: Type.Integer({ minimum: 0 }),
  nrPages: Type.Integer({ minimum: 0 }),
  altmapId: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  vmemmapShift: Type.Integer({ minimum: 0 }),
  pgprot: PgProtT,
  dedup: Type.Boolean(),
};

/** The v1 definitions, kept so that logs recorded before the kernel names replay (upcast on read). */
export const deviceEventDefsV1: readonly EventTypeDef[] = [
  ev('device.setup', "A memory provider's set-up hook decided the mhp_params for a memremap_pages call (v1: short type names).", Type.Object({ ...setupV1Fields, type: PgmapTypeV1T })),
  ev('device.pgmap_register', 'pagemap_range: the range is stored in the pfn → pgmap index (v1: short type names).', Type.Object({ ...registerV1Fields, type: PgmapTypeV1T })),
];


export const deviceEventDefs = {
  'device.setup': defineEvent({
    type: 'device.setup',
    version: DEVICE_EVENT_VERSION['device.setup'],
    description: "A memory provider's set-up hook decided the mhp_params (altmap, pgprot, pgmap geometry) for a memremap_pages call; the type by its enum memory_type name.",
    schema: Type.Object({
      id: Type.String(),
      provider: Type.String(),
      type: PgmapTypeT,
      pgprot: PgProtT,
      vmemmapShift: Count,
      altmap: Type.Union([Type.Object({ basePfn: Pfn, reserve: Count, free: Count }), Type.Null()]),
      linearMap: Type.Boolean(),
    }),
    upcast: upcastType,
  }),
  'device.pgmap_register': defineEvent({
    type: 'device.pgmap_register',
    version: DEVICE_EVENT_VERSION['device.pgmap_register'],
    description: 'pagemap_range: the range is stored in the pfn → pgmap index (xa_store_range); the type by its enum memory_type name.',
    schema: Type.Object({
      id: Type.String(),
      type: PgmapTypeT,
      provider: Type.String(),
      nid: Nid,
      startPfn: Pfn,
      nrPages: Count,
      altmapId: Type.Union([Count, Type.Null()]),
      vmemmapShift: Count,
      pgprot: PgProtT,
      dedup: Type.Boolean(),
    }),
    upcast: upcastType,
  }),
  'device.zone_attach': ev(
    'device.zone_attach',
    'move_pfn_range_to_zone(ZONE_DEVICE): the span grows; only the struct pages of the altmap area [initPfn, initPfn + initPages) are initialised here.',
    Type.Object({ id: Type.String(), nid: Nid, startPfn: Pfn, nrPages: Count, initPfn: Pfn, initPages: Count }),
  ),
  'device.memmap_init': ev(
    'device.memmap_init',
    "memmap_init_zone_device (the provider's construct hook): every remaining struct page gets the pgmap and compound geometry.",
    Type.Object({ id: Type.String(), startPfn: Pfn, nrPages: Count, compoundPages: Count, provider: Type.String() }),
  ),
  'device.pgmap_unregister': ev(
    'device.pgmap_unregister',
    'pageunmap_range / a failed memremap_pages: the range leaves the pfn → pgmap index.',
    Type.Object({ id: Type.String() }),
  ),
} as const;

export type DeviceEventType = keyof typeof deviceEventDefs;
export type DevicePayload<T extends DeviceEventType> = Static<(typeof deviceEventDefs)[T]['schema']>;

const appliers: { [T in DeviceEventType]?: (s: MachineState, p: DevicePayload<T>) => void } = {
  'device.pgmap_register': (s, p) => {
    mut(s).pgmaps.set(p.id, { ...p });
  },
  'device.pgmap_unregister': (s, p) => {
    mut(s).pgmaps.delete(p.id);
  },
};

export const deviceAppliers: ApplierTable = appliers as unknown as ApplierTable;
