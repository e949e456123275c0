/**
 * Event types of part B's kernel paths (online/offline, runtime knobs) and their appliers for evolve. Core's
 * vocabulary (zone.*, memory_block.state, notifier, section.mark_*) covers most steps; these add the steps it
 * does not name. Registered through `createCoreCatalogue(onlineEventDefs …)` and `createEvolve([onlineAppliers])`.
 */
import { type Static } from '@sinclair/typebox';
import { Type } from '@memhp/events';
import type { ApplierTable } from '../model/evolve.js';
import type { MachineState } from '../model/state.js';
import type { RuntimeKnobs } from '../params/types.js';
import { ev } from '../model/schema.js';

const Pfn = Type.Integer({ minimum: 0 });
const Count = Type.Integer({ minimum: 0 });
const Id = Type.Integer({ minimum: 0 });
const ZoneNameT = Type.Union(['DMA', 'DMA32', 'Normal', 'Movable', 'Device'].map((z) => Type.Literal(z)));
const ResultT = Type.Union([Type.Literal(0), Type.String({ pattern: '^E[A-Z0-9]+$' })]);


const KnobField = Type.Union(
  ['autoOnlineBlocks', 'onlinePolicy', 'autoMovableRatio', 'autoMovableNumaAware', 'hugetlbOptimizeVmemmap', 'nrOvercommitHugepages'].map((f) =>
    Type.Literal(f),
  ),
);

export const onlineEventDefs = {
  'knob.set': ev(
    'knob.set',
    'A runtime knob is written (sysctl, /sys/module/memory_hotplug/parameters, auto_online_blocks): the new value.',
    Type.Object({ name: Type.String(), path: Type.String(), field: KnobField, value: Type.Union([Type.String(), Type.Number(), Type.Boolean()]) }),
  ),
  'memmap_on_memory.init': ev(
    'memmap_on_memory.init',
    'mhp_init_memmap_on_memory: the block\'s self-hosted vmemmap pages join the zone (UNMOVABLE) and are marked VmemmapSelfHosted.',
    Type.Object({ block: Id, startPfn: Pfn, nrPages: Count, zone: ZoneNameT }),
  ),
  'memmap_on_memory.deinit': ev(
    'memmap_on_memory.deinit',
    'mhp_deinit_memmap_on_memory: the vmemmap pages leave the zone (they stay mapped until the block is removed).',
    Type.Object({ block: Id, startPfn: Pfn, nrPages: Count, zone: ZoneNameT }),
  ),
  'pageblock.isolate': ev(
    'pageblock.isolate',
    'start_isolate_page_range over an offline range: 0, or -EBUSY when an unmovable page is in the way.',
    Type.Object({ startPfn: Pfn, nrPages: Count, result: ResultT }),
  ),
  'pageblock.unisolate': ev('pageblock.unisolate', 'undo_isolate_page_range after a failed offline (pageblocks MOVABLE again).', Type.Object({ startPfn: Pfn, nrPages: Count })),
  'offline.migrate': ev(
    'offline.migrate',
    'The offline loop: migrate movable pages away, dissolve free HugeTLB pages, until every page is isolated and free.',
    Type.Object({ startPfn: Pfn, nrPages: Count, result: ResultT, reason: Type.Union([Type.String(), Type.Null()]) }),
  ),
  'node.states': ev(
    'node.states',
    'node_states_set_node / node_states_clear_node: N_MEMORY and N_NORMAL_MEMORY of a node changed.',
    Type.Object({ nid: Id, memory: Type.Boolean(), normalMemory: Type.Boolean() }),
  ),
} as const;

export type OnlineEventType = keyof typeof onlineEventDefs;
export type OnlinePayload<T extends OnlineEventType> = Static<(typeof onlineEventDefs)[T]['schema']>;

/** evolve appliers for the events above that change state (the others are derivable and only recorded). */
export const onlineAppliers: ApplierTable = {
  'knob.set': ((s: MachineState, p: OnlinePayload<'knob.set'>) => {
    s.knobs = { ...s.knobs, [p.field]: p.value } as RuntimeKnobs;
  }) as ApplierTable[string],
};
