/**
 * Core's event catalogue (apps/docs/kernel/index.md#event-model): one TypeBox schema per event type, version 1. Events carry every
 * decided fact — pfns and page counts as numbers, physical and vmemmap addresses as "0x…" strings — so
 * {@link evolve} never needs the backend.
 *
 * Other parts of core (online/offline, drivers, HugeTLB, ZONE_DEVICE) register their own types through
 * `createCoreCatalogue(extra)`; `evolve` ignores types it does not know unless a handler is registered with
 * `registerEvolver` (model/evolve.ts).
 */
import { type Static, type TSchema } from '@sinclair/typebox';
import { Type } from '@memhp/events';
import { EventCatalogue, logEndEvent, type EventCatalogueOptions, type EventTypeDef } from '@memhp/events';
import { onlineEventDefs } from '../hotplug/online-events.js';
import { driverEventDefs } from '../drivers/events.js';
import { hugetlbEventDefs } from '../hugetlb/state.js';
import { deviceEventDefs, deviceEventDefsV1 } from '../device/state.js';
import { lits, ev } from './schema.js';

/** A union of string literals that keeps the literal types (Static gives 'a' | 'b'). */

const Hex = Type.String({ pattern: '^0x[0-9a-f]+$', description: 'hex string' });
const Pfn = Type.Integer({ minimum: 0 });
const Count = Type.Integer({ minimum: 0 });
const Nid = Type.Integer({ minimum: 0 });
const Id = Type.Integer({ minimum: 0 });
const Delta = Type.Integer();
const ZoneNameT = lits('DMA', 'DMA32', 'Normal', 'Movable', 'Device');
const SourceT = lits('boot', 'buddy', 'altmap', 'reuse');
const LevelT = lits('pte', 'pmd', 'pud', 'p4d');
const ErrnoT = Type.String({ pattern: '^E[A-Z0-9]+$' });
const ResultT = Type.Union([Type.Literal(0), ErrnoT]);
const BlockStateT = lits('online', 'offline', 'going-offline');
const OnlineTypeT = lits('online', 'online_kernel', 'online_movable');
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);


export const coreEventDefs = {
  // --- commands and boot -------------------------------------------------------------------------------
  'command.begin': ev(
    'command.begin',
    'A command (a scenario step / a kernel entry point) starts; every event until command.end shares its op id.',
    Type.Object({ kind: Type.String(), command: Type.Unknown() }),
  ),
  'command.end': ev(
    'command.end',
    'A command returns: 0 or a negative errno (named), with the reason the kernel would log.',
    Type.Object({ kind: Type.String(), result: ResultT, errno: Type.Integer(), why: Nullable(Type.String()) }),
  ),
  'boot.begin': ev(
    'boot.begin',
    'The machine boots: memory block size decided by the arch policy (memory_block_size_bytes).',
    Type.Object({ blockSizeBytes: Hex, why: Type.String() }),
  ),
  'boot.end': ev(
    'boot.end',
    'Boot is complete (memory blocks exist, zones sized); hotplug commands may run.',
    Type.Object({ maxPfn: Pfn }),
  ),
  'memblock.add': ev(
    'memblock.add',
    'A physical range joins memblock.memory (boot RAM, or a hot-added range on ARCH_KEEP_MEMBLOCK arches).',
    Type.Object({ nid: Nid, start: Hex, end: Hex, driverManaged: Type.Boolean() }),
  ),
  'memblock.reserve': ev(
    'memblock.reserve',
    'Boot memory the kernel holds back that memhp does not model itself (kernel image, firmware, crashkernel, other memblock allocations): present but never managed pages of one zone, from the machine description.',
    Type.Object({ nid: Nid, zone: ZoneNameT, pages: Count }),
  ),
  'memblock.remove': ev('memblock.remove', 'A range leaves memblock (hot-remove on ARCH_KEEP_MEMBLOCK arches).', Type.Object({ start: Hex, end: Hex })),

  // --- iomem ---------------------------------------------------------------------------------------------
  'resource.request': ev(
    'resource.request',
    'register_memory_resource / __request_region: an iomem range is claimed (result 0) or refused.',
    Type.Object({
      id: Id,
      start: Hex,
      end: Hex,
      name: Type.String(),
      flags: Type.Array(lits('system_ram', 'busy', 'driver_managed', 'mergeable')),
      boot: Type.Boolean(),
      result: ResultT,
      conflict: Nullable(Type.String()),
    }),
  ),
  'resource.release': ev(
    'resource.release',
    'release_mem_region_adjustable: [start, end] leaves the resource containing it (shrunk or split when merged).',
    Type.Object({ start: Hex, end: Hex }),
  ),
  'resource.merge': ev(
    'resource.merge',
    'merge_system_ram_resource (MHP_MERGE_RESOURCE): the resource absorbs adjacent resources of the same name and flags.',
    Type.Object({ id: Id, mergedIds: Type.Array(Id), start: Hex, end: Hex }),
  ),

  // --- nodes ---------------------------------------------------------------------------------------------
  'node.hotadd_init': ev('node.hotadd_init', 'hotadd_init_pgdat: a pgdat is allocated for an offline node.', Type.Object({ nid: Nid })),
  'node.online': ev('node.online', 'node_set_online + register_one_node.', Type.Object({ nid: Nid, hasCpus: Type.Boolean() })),
  'node.offline': ev('node.offline', 'try_offline_node: a node with no memory and no CPUs goes offline.', Type.Object({ nid: Nid })),

  // --- altmap --------------------------------------------------------------------------------------------
  'altmap.create': ev(
    'altmap.create',
    'A struct vmem_altmap is set up (memmap_on_memory or a ZONE_DEVICE driver).',
    Type.Object({
      id: Id,
      basePfn: Pfn,
      endPfn: Pfn,
      reserve: Count,
      free: Count,
      align: Count,
      alloc: Count,
      owner: Type.Union([Type.Literal('memmap_on_memory'), Type.Literal('device')]),
    }),
  ),
  'altmap.alloc': ev(
    'altmap.alloc',
    'vmem_altmap_alloc: nrPages pfns handed out at pfn after pad pfns of alignment.',
    Type.Object({ id: Id, pfn: Pfn, nrPages: Count, pad: Count }),
  ),
  'altmap.free': ev('altmap.free', 'vmem_altmap_free: alloc −= nrPages.', Type.Object({ id: Id, nrPages: Count })),
  'altmap.destroy': ev(
    'altmap.destroy',
    'The altmap is dropped; warn when alloc is not back to 0 ("Altmap not fully unmapped").',
    Type.Object({ id: Id, alloc: Count, warn: Type.Boolean() }),
  ),

  // --- sparse --------------------------------------------------------------------------------------------
  'section.root_alloc': ev(
    'section.root_alloc',
    'sparse_index_init: a page of struct mem_section is allocated for a root (memblock at boot, slab later).',
    Type.Object({ root: Id, nid: Nid, source: Type.Union([Type.Literal('boot'), Type.Literal('slab')]) }),
  ),
  'section.usage_alloc': ev(
    'section.usage_alloc',
    'A mem_section_usage is attached to the section (boot memblock or kzalloc).',
    Type.Object({ section: Id, source: Type.Union([Type.Literal('boot'), Type.Literal('slab')]) }),
  ),
  'section.usage_free': ev(
    'section.usage_free',
    'A hot-plug usage is freed (kfree, or kfree_rcu when the section was valid).',
    Type.Object({ section: Id, rcu: Type.Boolean() }),
  ),
  'subsection.fill': ev(
    'subsection.fill',
    'fill_subsection_map / subsection_map_init: the mask is ORed in (0), or refused (-EINVAL empty, -EEXIST overlap).',
    Type.Object({ section: Id, pfn: Pfn, nrPages: Count, mask: Hex, before: Hex, after: Hex, result: ResultT }),
  ),
  'subsection.clear': ev(
    'subsection.clear',
    'clear_subsection_map: the mask is XORed out (0), or WARN "section already deactivated" and nothing happens.',
    Type.Object({
      section: Id,
      pfn: Pfn,
      nrPages: Count,
      mask: Hex,
      before: Hex,
      after: Hex,
      result: Type.Union([Type.Literal(0), Type.Literal('WARN')]),
    }),
  ),
  'section.mark_present': ev(
    'section.mark_present',
    'memory_present (boot: nid | IS_ONLINE | MARKED_PRESENT) or set_section_nid + __section_mark_present (hot-add).',
    Type.Object({ section: Id, nid: Nid, boot: Type.Boolean() }),
  ),
  'section.set_memmap': ev(
    'section.set_memmap',
    'sparse_init_one_section: the memmap pointer is stored and HAS_MEM_MAP set (IS_EARLY at boot); memmap pages accounted.',
    Type.Object({
      section: Id,
      early: Type.Boolean(),
      memmapPages: Count,
      account: Type.Union([Type.Literal('boot'), Type.Literal('hotplug'), Type.Literal('none')]),
    }),
  ),
  'section.clear_memmap': ev(
    'section.clear_memmap',
    'section_deactivate with an empty sub-section map: HAS_MEM_MAP cleared; the usage is freed or (boot usage) kept.',
    Type.Object({ section: Id, usage: Type.Union([Type.Literal('freed'), Type.Literal('kept')]) }),
  ),
  'section.memmap_release': ev(
    'section.memmap_release',
    'Memmap pages of a deactivated range leave nr_memmap_pages or nr_memmap_boot_pages.',
    Type.Object({
      section: Id,
      pfn: Pfn,
      nrPages: Count,
      memmapPages: Count,
      account: Type.Union([Type.Literal('boot'), Type.Literal('hotplug'), Type.Literal('none')]),
    }),
  ),
  'section.invalidate': ev(
    'section.invalidate',
    'section_deactivate: the whole section_mem_map word is zeroed (PRESENT, ONLINE, EARLY gone).',
    Type.Object({ section: Id }),
  ),
  'section.mark_online': ev('section.mark_online', 'online_mem_sections: IS_ONLINE set on [startSection, endSection].', Type.Object({ startSection: Id, endSection: Id })),
  'section.mark_offline': ev('section.mark_offline', 'offline_mem_sections: IS_ONLINE cleared on [startSection, endSection].', Type.Object({ startSection: Id, endSection: Id })),
  'section.taint_zone_device': ev('section.taint_zone_device', 'SECTION_TAINT_ZONE_DEVICE set (5.12+).', Type.Object({ section: Id })),

  // --- vmemmap -------------------------------------------------------------------------------------------
  'vmemmap.pgtable_alloc': ev(
    'vmemmap.pgtable_alloc',
    'A page-table page of the vmemmap mapping is allocated (memblock at boot, page allocator later; never the altmap).',
    Type.Object({ level: LevelT, index: Id, va: Hex, node: Nid, source: Type.Union([Type.Literal('boot'), Type.Literal('buddy')]) }),
  ),
  'vmemmap.pgtable_free': ev(
    'vmemmap.pgtable_free',
    'An empty vmemmap page-table page is freed (free_pte_table / free_pmd_table / free_pud_table).',
    Type.Object({ level: LevelT, index: Id, to: Type.Union([Type.Literal('bootmem'), Type.Literal('buddy')]) }),
  ),
  'vmemmap.populate': ev(
    'vmemmap.populate',
    'A vmemmap range is mapped: one PMD leaf, or a run of base pages, with where the memory came from.',
    Type.Object({
      start: Hex,
      end: Hex,
      granularity: Type.Union([Type.Literal('pmd'), Type.Literal('pte')]),
      source: SourceT,
      node: Nid,
      altmapId: Nullable(Id),
      fallback: Nullable(Type.String()),
    }),
  ),
  'vmemmap.alloc_fail': ev(
    'vmemmap.alloc_fail',
    'A vmemmap block or page allocation failed (altmap exhausted, page allocator failure, injected fault).',
    Type.Object({ va: Hex, order: Count, source: SourceT, reason: Type.String() }),
  ),
  'vmemmap.depopulate': ev(
    'vmemmap.depopulate',
    'A vmemmap range is unmapped and its memory freed (to the altmap, the page allocator or bootmem).',
    Type.Object({
      start: Hex,
      end: Hex,
      granularity: Type.Union([Type.Literal('pmd'), Type.Literal('pte')]),
      to: Type.Union([Type.Literal('altmap'), Type.Literal('buddy'), Type.Literal('bootmem'), Type.Literal('none')]),
      altmapId: Nullable(Id),
    }),
  ),
  'vmemmap.subpmd_mark': ev(
    'vmemmap.subpmd_mark',
    'x86 sub-PMD tracking: [start, end) of a PMD leaf marked used, or filled with PAGE_UNUSED (0xFD).',
    Type.Object({ start: Hex, end: Hex, used: Type.Boolean() }),
  ),
  'vmemmap.note': ev(
    'vmemmap.note',
    'A backend-specific note (e.g. a PMD allocation fell back to base pages).',
    Type.Object({ what: Type.String(), detail: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])) }),
  ),

  // --- linear map ----------------------------------------------------------------------------------------
  'linear_map.add': ev(
    'linear_map.add',
    'arch_add_memory: the direct/linear mapping of [start, end) is created; pages per mapping size; `tables`: page-table pages it took from the buddy allocator (where the arch backend models them).',
    Type.Object({ start: Hex, end: Hex, pages: Type.Record(Type.String(), Count), tables: Type.Optional(Count) }),
  ),
  'linear_map.remove': ev(
    'linear_map.remove',
    'arch_remove_memory: the direct/linear mapping of [start, end) is removed; `tables`: the page-table pages freed with it (where modelled).',
    Type.Object({ start: Hex, end: Hex, pages: Type.Record(Type.String(), Count), tables: Type.Optional(Count) }),
  ),

  // --- memory blocks and zones ---------------------------------------------------------------------------
  'memory_block.create': ev(
    'memory_block.create',
    'A memory block device is registered (boot: online; hotplug: offline).',
    Type.Object({
      id: Id,
      nid: Nid,
      state: BlockStateT,
      zone: Nullable(ZoneNameT),
      early: Type.Boolean(),
      nrVmemmapPages: Count,
      altmapId: Nullable(Id),
      group: Nullable(Id),
    }),
  ),
  'memory_block.remove': ev('memory_block.remove', 'A memory block device is unregistered.', Type.Object({ id: Id })),
  'memory_block.state': ev(
    'memory_block.state',
    'A memory block changes state (online/offline paths); zone recorded on online, cleared on offline.',
    Type.Object({ id: Id, from: BlockStateT, to: BlockStateT, onlineType: Nullable(OnlineTypeT), zone: Nullable(ZoneNameT) }),
  ),
  'memory_group.register': ev(
    'memory_group.register',
    'memory_group_register_static/dynamic.',
    Type.Object({ id: Id, nid: Nid, kind: Type.Union([Type.Literal('static'), Type.Literal('dynamic')]), pages: Count }),
  ),
  'memory_group.unregister': ev('memory_group.unregister', 'memory_group_unregister.', Type.Object({ id: Id })),
  'memory_group.present': ev(
    'memory_group.present',
    'A group\'s present kernel/movable pages change (online/offline).',
    Type.Object({ id: Id, kernelDelta: Delta, movableDelta: Delta }),
  ),
  'zone.init': ev(
    'zone.init',
    'free_area_init: a zone of a node is sized at boot (span, present, present_early, managed).',
    Type.Object({
      nid: Nid,
      zone: ZoneNameT,
      startPfn: Pfn,
      spannedPages: Count,
      presentPages: Count,
      managedPages: Count,
    }),
  ),
  'zone.resize': ev(
    'zone.resize',
    'resize_zone_range / shrink_zone_span: the zone span becomes [startPfn, startPfn + spannedPages).',
    Type.Object({ nid: Nid, zone: ZoneNameT, startPfn: Pfn, spannedPages: Count }),
  ),
  'zone.present': ev(
    'zone.present',
    'zone->present_pages (and present_early_pages when early) change by delta.',
    Type.Object({ nid: Nid, zone: ZoneNameT, delta: Delta, earlyDelta: Delta }),
  ),
  'zone.managed': ev(
    'zone.managed',
    'Pages handed to (or taken from) the buddy allocator: managed, totalram and nr_free_pages change by delta.',
    Type.Object({ nid: Nid, zone: ZoneNameT, delta: Delta }),
  ),
  'notifier': ev(
    'notifier',
    'A memory notifier chain call (MEM_GOING_ONLINE …) and its result.',
    Type.Object({ action: Type.String(), startPfn: Pfn, nrPages: Count, result: ResultT }),
  ),

  // --- faults and anomalies ------------------------------------------------------------------------------
  'fault.inject': ev(
    'fault.inject',
    'The seeded fault injector made an allocation or a callback fail.',
    Type.Object({ site: Type.String(), detail: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])) }),
  ),
  'kernel.warn': ev(
    'kernel.warn',
    'A kernel WARN (the kernel continues): misaligned __add_pages, section already deactivated, leaked sections …',
    Type.Object({ message: Type.String() }),
  ),
  'hotplug.leak': ev(
    'hotplug.leak',
    '__add_pages failed part-way: sections already added in this call are not rolled back (no memory blocks refer to them).',
    Type.Object({ startPfn: Pfn, nrPages: Count, sections: Type.Array(Id) }),
  ),
} as const;

export type CoreEventDefs = typeof coreEventDefs;
export type CoreEventType = keyof CoreEventDefs;
export type CorePayload<T extends CoreEventType> = Static<CoreEventDefs[T]['schema']>;

/**
 * A catalogue with core's types plus `extra` (B's, HugeTLB's, a backend's). `options.precompiled`: checks generated
 * ahead of time from these schemas (the CLI's), so reading a log compiles none.
 */
export function createCoreCatalogue(extra: Iterable<EventTypeDef> = [], options?: EventCatalogueOptions): EventCatalogue {
  const cat = new EventCatalogue([...Object.values(coreEventDefs), ...Object.values(onlineEventDefs), ...Object.values(driverEventDefs), ...Object.values(hugetlbEventDefs), ...Object.values(deviceEventDefs), ...deviceEventDefsV1, logEndEvent] as EventTypeDef[], options);
  for (const d of extra) if (!cat.has(d.type, d.version)) cat.register(d);
  return cat;
}
