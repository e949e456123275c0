/**
 * evolve(state, event): the only writer of {@link MachineState}. Live runs and replay call the same function,
 * so a replayed log reproduces the live state exactly. It trusts the event (the command decided it) and never
 * consults the backend; it derives nothing an event does not say except bookkeeping counters that follow from
 * the event by definition (e.g. a buddy-backed PMD leaf takes 2^(PMD_SHIFT−PAGE_SHIFT) free pages).
 *
 * Event types evolve does not know are ignored (notes, notifier calls, faults); a module that adds state
 * registers its appliers with {@link createEvolve}.
 */
import { onceSiteOf, ratelimitedSiteOf } from '../kernel/printk.js';
import type { EventEnvelope } from '@memhp/events';
import type { ZoneName } from '../arch/backend.js';
import type { CorePayload, CoreEventType } from './events.js';
import { hexShr, pfnToSectionNr, pgtableShift, sectionNrToRoot, unhex, unhexMask } from './geometry.js';
import {
  SECTION_HAS_MEM_MAP,
  SECTION_IS_EARLY,
  SECTION_IS_ONLINE,
  SECTION_MARKED_PRESENT,
  SECTION_TAINT_ZONE_DEVICE,
  type IomemFlag,
  type MachineState,
  type MemoryBlockState,
  type NodeState,
  type PgtableLevel,
  type PmdEntry,
  type SectionState,
  type ZoneState,
} from './state.js';
import { insertRun, removeRange, runsCount } from '../vmemmap/runs.js';
import { insertResourceMut, removeResourceMut, resizeResourceMut, resourceContaining, SYSTEM_RAM_BUSY } from './resources.js';
import { onlineAppliers } from '../hotplug/online-events.js';
import { driverAppliers } from '../drivers/events.js';
import { hugetlbAppliers } from '../hugetlb/state.js';
import { deviceAppliers } from '../device/state.js';

export type Applier = (s: MachineState, payload: never, e: EventEnvelope) => void;
export type ApplierTable = Readonly<Record<string, Applier>>;

type CoreApplierTable = { [T in CoreEventType]?: (s: MachineState, p: CorePayload<T>, e: EventEnvelope) => void };

function section(s: MachineState, nr: number): SectionState {
  let ms = s.sectionTable[nr];
  if (!ms) {
    ms = { flags: 0, subsectionMap: 0n, usage: 'none', nid: 0 };
    s.sections.put(nr, ms);
  }
  return ms;
}

/** Drop a section entry that carries nothing any more (keeps state proportional to live sections). */
function gcSection(s: MachineState, nr: number, ms: SectionState): void {
  if (ms.flags === 0 && ms.usage === 'none' && ms.subsectionMap === 0n) {
    s.sections.remove(nr);
  }
}

export function emptyZone(name: ZoneName, nid: number): ZoneState {
  return { name, nid, startPfn: 0, spannedPages: 0, presentPages: 0, presentEarlyPages: 0, managedPages: 0, cmaPages: 0 };
}

export function node(s: MachineState, nid: number): NodeState {
  let n = s.nodes.get(nid);
  if (!n) {
    n = { id: nid, online: false, pgdat: false, hasCpus: false, zones: new Map() };
    s.nodes.set(nid, n);
  }
  return n;
}

export function zone(s: MachineState, nid: number, name: ZoneName): ZoneState {
  const n = node(s, nid);
  let z = n.zones.get(name);
  if (!z) {
    z = emptyZone(name, nid);
    n.zones.set(name, z);
  }
  return z;
}

const iomemFlags = (f: readonly IomemFlag[]): IomemFlag[] =>
  f.length === 2 && f[0] === 'system_ram' && f[1] === 'busy' ? SYSTEM_RAM_BUSY : [...f];

/** Pages one vmemmap PMD leaf covers. */
const pmdPages = (s: MachineState): number => 1 << (s.machine.geometry.pmdShift - s.machine.geometry.pageShift);
/** PMD entries per PMD table (2^(PUD_SHIFT − PMD_SHIFT)); shifts, not `2 **`, which is a libm call per use. */
const pmdsPerTable = (g: MachineState['machine']['geometry']): number => 1 << (g.pudShift - g.pmdShift);

/** Account memory taken for (or returned by) the vmemmap: boot memory is memblock-reserved, runtime is buddy. */
function accountVmemmapMemory(s: MachineState, source: string, pages: number): void {
  if (source === 'boot' || source === 'bootmem') s.counters.bootReservedPages += pages;
  else if (source === 'buddy') {
    s.counters.vmemmapBuddyPages += pages;
    s.counters.nrFreePages -= pages;
  }
}

const coreAppliers: CoreApplierTable = {
  'boot.end': (s) => {
    s.booted = true;
  },
  'resource.request': (s, p) => {
    if (p.result !== 0) return;
    insertResourceMut(s, { id: p.id, startBytes: unhex(p.start), endBytes: unhex(p.end), name: p.name, flags: iomemFlags(p.flags), boot: p.boot });
  },
  'resource.release': (s, p) => {
    const a = unhex(p.start);
    const b = unhex(p.end);
    const r = resourceContaining(s, a, b);
    if (!r) return;
    if (r.startBytes === a && r.endBytes === b) removeResourceMut(s, r.id);
    else if (r.startBytes === a) resizeResourceMut(s, r.id, b + 1n, r.endBytes);
    else if (r.endBytes === b) resizeResourceMut(s, r.id, r.startBytes, a - 1n);
    else {
      // release_mem_region_adjustable splits a merged resource; the tail gets a new id
      const end = r.endBytes;
      resizeResourceMut(s, r.id, r.startBytes, a - 1n);
      insertResourceMut(s, { ...r, flags: [...r.flags], id: s.nextResourceId, startBytes: b + 1n, endBytes: end });
    }
  },
  'resource.merge': (s, p) => {
    for (const id of p.mergedIds) removeResourceMut(s, id);
    resizeResourceMut(s, p.id, unhex(p.start), unhex(p.end));
  },
  'node.hotadd_init': (s, p) => {
    node(s, p.nid).pgdat = true;
  },
  'node.online': (s, p) => {
    const n = node(s, p.nid);
    n.online = true;
    n.pgdat = true;
    n.hasCpus = p.hasCpus;
  },
  'node.offline': (s, p) => {
    node(s, p.nid).online = false;
  },
  'altmap.create': (s, p) => {
    // a literal rather than a spread of the payload: one altmap per hot-added block at scale
    s.altmaps.put(p.id, { id: p.id, basePfn: p.basePfn, endPfn: p.endPfn, reserve: p.reserve, free: p.free, align: p.align, alloc: p.alloc, owner: p.owner });
    s.nextAltmapId = Math.max(s.nextAltmapId, p.id + 1);
  },
  'altmap.alloc': (s, p) => {
    const a = s.altmaps.get(p.id);
    if (!a) return;
    a.alloc += p.nrPages;
    a.align += p.pad;
  },
  'altmap.free': (s, p) => {
    const a = s.altmaps.get(p.id);
    if (a) a.alloc -= p.nrPages;
  },
  'altmap.destroy': (s, p) => {
    // the WARN itself is the kernel.warn event before this one, which counts it
    s.altmaps.remove(p.id);
  },
  'section.root_alloc': (s, p) => {
    s.roots.set(p.root, p.source);
  },
  'section.usage_alloc': (s, p) => {
    section(s, p.section).usage = p.source;
  },
  'section.usage_free': (s, p) => {
    const ms = section(s, p.section);
    ms.usage = 'none';
    ms.subsectionMap = 0n;
    gcSection(s, p.section, ms);
  },
  'subsection.fill': (s, p) => {
    if (p.result !== 0) return;
    section(s, p.section).subsectionMap = unhexMask(p.after);
  },
  'subsection.clear': (s, p) => {
    if (p.result !== 0) return; // the WARN is the kernel.warn event before this one, which counts it
    section(s, p.section).subsectionMap = unhexMask(p.after);
  },
  'section.mark_present': (s, p) => {
    const ms = section(s, p.section);
    ms.nid = p.nid;
    ms.flags |= SECTION_MARKED_PRESENT | (p.boot ? SECTION_IS_ONLINE : 0);
    if (p.section > s.highestPresentSection) s.highestPresentSection = p.section;
  },
  'section.set_memmap': (s, p) => {
    const ms = section(s, p.section);
    ms.flags |= SECTION_HAS_MEM_MAP | (p.early ? SECTION_IS_EARLY : 0);
    if (p.account === 'boot') s.counters.nrMemmapBootPages += p.memmapPages;
    else if (p.account === 'hotplug') s.counters.nrMemmapPages += p.memmapPages;
  },
  'section.clear_memmap': (s, p) => {
    const ms = section(s, p.section);
    ms.flags &= ~SECTION_HAS_MEM_MAP;
    if (p.usage === 'freed') ms.usage = 'none';
  },
  'section.memmap_release': (s, p) => {
    if (p.account === 'boot') s.counters.nrMemmapBootPages -= p.memmapPages;
    else if (p.account === 'hotplug') s.counters.nrMemmapPages -= p.memmapPages;
  },
  'section.invalidate': (s, p) => {
    const ms = section(s, p.section);
    ms.flags = 0;
    gcSection(s, p.section, ms);
  },
  'section.mark_online': (s, p) => {
    for (let nr = p.startSection; nr <= p.endSection; nr++) {
      const ms = s.sectionTable[nr];
      if (ms && ms.flags & SECTION_HAS_MEM_MAP) ms.flags |= SECTION_IS_ONLINE;
    }
  },
  'section.mark_offline': (s, p) => {
    for (let nr = p.startSection; nr <= p.endSection; nr++) {
      const ms = s.sectionTable[nr];
      if (ms && ms.flags & SECTION_HAS_MEM_MAP) ms.flags &= ~SECTION_IS_ONLINE;
    }
  },
  'section.taint_zone_device': (s, p) => {
    section(s, p.section).flags |= SECTION_TAINT_ZONE_DEVICE;
  },
  'vmemmap.pgtable_alloc': (s, p) => {
    s.vmemmap.tables[p.level].put(p.index, { source: p.source, entries: 0 });
    // a PTE table is what a non-leaf PMD entry points to
    if (p.level === 'pte') s.vmemmap.pmds.put(p.index, { kind: 'table', ptes: [] });
    parentEntry(s, p.level, p.index, +1);
    accountVmemmapMemory(s, p.source, 1);
  },
  'vmemmap.pgtable_free': (s, p) => {
    const t = s.vmemmap.tables[p.level].get(p.index);
    s.vmemmap.tables[p.level].remove(p.index);
    if (p.level === 'pte') s.vmemmap.pmds.remove(p.index);
    parentEntry(s, p.level, p.index, -1);
    if (t) accountVmemmapMemory(s, t.source === 'boot' ? 'bootmem' : 'buddy', -1);
  },
  'vmemmap.populate': (s, p) => {
    const g = s.machine.geometry;
    const pmdIdx = hexShr(p.start, g.pmdShift);
    if (p.granularity === 'pmd') {
      s.vmemmap.pmds.put(pmdIdx, { kind: 'leaf', source: p.source, node: p.node, altmapId: p.altmapId, used: null });
      // the PMD table's key (va >> PUD_SHIFT) from the PMD index: no second parse of the address
      const t = s.vmemmap.tables.pmd.get(Math.floor(pmdIdx / pmdsPerTable(g)));
      if (t) t.entries += 1;
      accountVmemmapMemory(s, p.source, pmdPages(s));
      return;
    }
    // a run of PTEs inside one PMD (the PTE table was allocated first)
    const start = unhex(p.start);
    const end = unhex(p.end);
    const e = s.vmemmap.pmds.get(pmdIdx);
    if (!e || e.kind !== 'table') return;
    const base = BigInt(pmdIdx) << BigInt(g.pmdShift);
    const a = Number((start - base) >> BigInt(g.pageShift));
    const b = Number((end - base + BigInt(g.pageBytes) - 1n) >> BigInt(g.pageShift));
    insertRun(e.ptes, { startIdx: a, endIdx: b, source: p.source, altmapId: p.altmapId });
    const pte = s.vmemmap.tables.pte.get(pmdIdx);
    if (pte) pte.entries = runsCount(e.ptes);
    accountVmemmapMemory(s, p.source, b - a);
  },
  'vmemmap.depopulate': (s, p) => {
    const g = s.machine.geometry;
    const pmdIdx = hexShr(p.start, g.pmdShift);
    const e = s.vmemmap.pmds.get(pmdIdx);
    if (!e) return;
    if (p.granularity === 'pmd') {
      s.vmemmap.pmds.remove(pmdIdx);
      const t = s.vmemmap.tables.pmd.get(Math.floor(pmdIdx / pmdsPerTable(g)));
      if (t) t.entries -= 1;
      if (e.kind === 'leaf') accountVmemmapMemory(s, p.to, -pmdPages(s));
      return;
    }
    if (e.kind !== 'table') return;
    const start = unhex(p.start);
    const end = unhex(p.end);
    const base = BigInt(pmdIdx) << BigInt(g.pmdShift);
    const a = Number((start - base) >> BigInt(g.pageShift));
    const b = Number((end - base + BigInt(g.pageBytes) - 1n) >> BigInt(g.pageShift));
    const before = runsCount(e.ptes);
    removeRange(e.ptes, a, b);
    const freed = before - runsCount(e.ptes);
    const pte = s.vmemmap.tables.pte.get(pmdIdx);
    if (pte) pte.entries = runsCount(e.ptes);
    accountVmemmapMemory(s, p.to, -freed);
  },
  'vmemmap.subpmd_mark': (s, p) => {
    const g = s.machine.geometry;
    const start = unhex(p.start);
    const pmdIdx = Number(start >> BigInt(g.pmdShift));
    const e = s.vmemmap.pmds.get(pmdIdx);
    if (!e || e.kind !== 'leaf') return;
    const base = BigInt(pmdIdx) << BigInt(g.pmdShift);
    const a = Number(start - base);
    const b = Number(unhex(p.end) - base);
    const size = 2 ** g.pmdShift;
    e.used = markUsed(e.used ?? [0, size], a, b, p.used);
  },
  // the linear map's own page tables, where the backend models them (buddy pages that no meminfo field counts)
  'linear_map.add': (s, p) => {
    if (p.tables) s.counters.nrFreePages -= p.tables;
  },
  'linear_map.remove': (s, p) => {
    if (p.tables) s.counters.nrFreePages += p.tables;
  },
  'memory_block.create': (s, p) => {
    // spelled out in payload order rather than spread from the payload: measured 15-17% of the whole 4 TiB
    // scale bench's CPU (bench/scale.ts); every block gets the same literal shape
    const b: MemoryBlockState = {
      id: p.id,
      nid: p.nid,
      state: p.state,
      zone: p.zone,
      early: p.early,
      nrVmemmapPages: p.nrVmemmapPages,
      altmapId: p.altmapId,
      group: p.group,
      onlineType: null,
    };
    s.blocks.put(p.id, b);
  },
  'memory_block.remove': (s, p) => {
    s.blocks.remove(p.id);
  },
  'memory_block.state': (s, p) => {
    const b = s.blockTable[p.id];
    if (!b) return;
    b.state = p.to;
    b.zone = p.zone;
    if (p.onlineType !== null) b.onlineType = p.onlineType;
  },
  'memory_group.register': (s, p) => {
    s.groups.set(p.id, { ...p, presentKernelPages: 0, presentMovablePages: 0 });
  },
  'memory_group.unregister': (s, p) => {
    s.groups.delete(p.id);
  },
  'memory_group.present': (s, p) => {
    const grp = s.groups.get(p.id);
    if (!grp) return;
    grp.presentKernelPages += p.kernelDelta;
    grp.presentMovablePages += p.movableDelta;
  },
  'zone.init': (s, p) => {
    const z = zone(s, p.nid, p.zone);
    z.startPfn = p.startPfn;
    z.spannedPages = p.spannedPages;
    z.presentPages = p.presentPages;
    z.presentEarlyPages = p.presentPages;
    z.managedPages = p.managedPages;
    s.counters.totalramPages += p.managedPages;
    s.counters.nrFreePages += p.managedPages;
  },
  'memblock.reserve': (s, p) => {
    // applied after the node's zone.init: memblock_free_all never hands these pages to the buddy allocator
    const z = zone(s, p.nid, p.zone);
    z.managedPages -= p.pages;
    s.counters.totalramPages -= p.pages;
    s.counters.nrFreePages -= p.pages;
    s.counters.memblockReservedPages += p.pages;
  },
  'zone.resize': (s, p) => {
    const z = zone(s, p.nid, p.zone);
    z.startPfn = p.startPfn;
    z.spannedPages = p.spannedPages;
  },
  'zone.present': (s, p) => {
    const z = zone(s, p.nid, p.zone);
    z.presentPages += p.delta;
    z.presentEarlyPages += p.earlyDelta;
  },
  'zone.managed': (s, p) => {
    zone(s, p.nid, p.zone).managedPages += p.delta;
    s.counters.totalramPages += p.delta;
    s.counters.nrFreePages += p.delta;
  },
  'kernel.warn': (s, p, e) => {
    s.counters.warnings += 1;
    const site = onceSiteOf(p.message);
    if (site !== null) s.printedOnce.add(site);
    const limited = ratelimitedSiteOf(p.message);
    if (limited !== null) s.ratelimited.set(limited, e.op);
  },
  'hotplug.leak': (s, p) => {
    s.counters.leakedSections += p.sections.length;
  },
};

/** The shift of the VA span one table at `level` covers (its key is va >> this). */
export const tableShift = (s: MachineState, level: PgtableLevel): number => pgtableShift(s.machine.geometry, level);

const PARENT: Record<PgtableLevel, PgtableLevel | null> = { pte: 'pmd', pmd: 'pud', pud: 'p4d', p4d: null };

/** A new (or freed) table (keyed `index` at its level) occupies one entry of its parent table. */
function parentEntry(s: MachineState, level: PgtableLevel, index: number, delta: number): void {
  const parent = PARENT[level];
  if (!parent) return;
  const t = s.vmemmap.tables[parent].get(Math.floor(index / (1 << (tableShift(s, parent) - tableShift(s, level)))));
  if (t) t.entries += delta;
}

/** Update sorted disjoint used ranges [a0, b0, a1, b1 …] of a PMD leaf. */
export function markUsed(used: number[], a: number, b: number, isUsed: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < used.length; i += 2) {
    const x = used[i]!;
    const y = used[i + 1]!;
    if (y <= a || x >= b) out.push(x, y);
    else {
      if (x < a) out.push(x, a);
      if (y > b) out.push(b, y);
    }
  }
  if (isUsed) out.push(a, b);
  // sort and coalesce
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < out.length; i += 2) pairs.push([out[i]!, out[i + 1]!]);
  pairs.sort((p, q) => p[0] - q[0]);
  const merged: number[] = [];
  for (const [x, y] of pairs) {
    const n = merged.length;
    if (n && merged[n - 1]! >= x) merged[n - 1] = Math.max(merged[n - 1]!, y);
    else merged.push(x, y);
  }
  return merged;
}

/** Compose evolve from core's appliers and those of other modules (later tables win). */
export function createEvolve(extra: readonly ApplierTable[] = []): (s: MachineState, e: EventEnvelope) => MachineState {
  const table = new Map<string, Applier>(Object.entries(coreAppliers) as Array<[string, Applier]>);
  for (const t of [onlineAppliers, driverAppliers, hugetlbAppliers, deviceAppliers, ...extra]) for (const [k, f] of Object.entries(t)) table.set(k, f);
  return (s, e) => {
    const f = table.get(e.type);
    if (f) f(s, e.payload as never, e);
    s.lastSeq = e.seq;
    s.timeNs = e.time;
    s.lastOp = e.op;
    return s;
  };
}

/** evolve with core's appliers. */
export const evolve = createEvolve();

export { pfnToSectionNr, sectionNrToRoot };
export type { PmdEntry };
