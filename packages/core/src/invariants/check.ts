/**
 * Invariants of the model, checked after every event when the simulator runs with `checkInvariants` (all tests
 * do). Cheap, step-local ones are checked after every event; those that only hold between kernel entry points
 * (a sub-section bit is set by fill_subsection_map before __section_mark_present runs) are checked at
 * command.end and boot.end.
 */
import type { EventEnvelope } from '@memhp/events';
import { memmapPages, pfnToPageVa, sectionNrToPfn } from '../model/geometry.js';
import {
  SECTION_HAS_MEM_MAP,
  SECTION_IS_EARLY,
  SECTION_MARKED_PRESENT,
  type MachineState,
  type PgtableLevel,
} from '../model/state.js';
import { tableShift } from '../model/evolve.js';
import { runsCount } from '../vmemmap/runs.js';
import type { TableMap } from '../model/tables.js';
import { tableMapsOf } from '../model/machine.js';
import { hugetlbMemmapDelta } from '../hugetlb/state.js';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    readonly detail: string,
    readonly seq: number,
    readonly eventType: string,
  ) {
    super(`invariant "${invariant}" violated after event #${seq} (${eventType}): ${detail}`);
    this.name = 'InvariantViolation';
  }
}

type Check = (s: MachineState) => string | null;

/** No two busy iomem resources overlap. */
const resourcesDisjoint: Check = (s) => {
  const busy = s.resources.filter((r) => r.flags.includes('busy')).sort((a, b) => (a.startBytes < b.startBytes ? -1 : 1));
  for (let i = 1; i < busy.length; i++) {
    if (busy[i]!.startBytes <= busy[i - 1]!.endBytes) return `${busy[i - 1]!.name} and ${busy[i]!.name} overlap at 0x${busy[i]!.startBytes.toString(16)}`;
  }
  return null;
};

/** vmem_altmap: 0 ≤ alloc and alloc + align ≤ free (apps/docs/kernel/vmemmap.md#altmap). */
const altmapBounds: Check = (s) => {
  for (const a of s.altmaps.values()) {
    if (a.alloc < 0 || a.align < 0) return `altmap ${a.id}: alloc ${a.alloc}, align ${a.align}`;
    if (a.alloc + a.align > a.free) return `altmap ${a.id}: alloc ${a.alloc} + align ${a.align} > free ${a.free}`;
  }
  return null;
};

/** True when [startVa, endVa) is mapped by leaves or PTEs. */
export function vmemmapMapped(s: MachineState, startVa: bigint, endVa: bigint): boolean {
  const g = s.machine.geometry;
  const ps = BigInt(g.pmdShift);
  const pgs = BigInt(g.pageShift);
  for (let va = startVa; va < endVa; ) {
    const idx = Number(va >> ps);
    const base = BigInt(idx) << ps;
    const next = base + (1n << ps) < endVa ? base + (1n << ps) : endVa;
    const e = s.vmemmap.pmds.get(idx);
    if (!e) return false;
    if (e.kind === 'table') {
      const a = Number((va - base) >> pgs);
      const b = Number((next - base + BigInt(g.pageBytes) - 1n) >> pgs);
      let cur = a;
      for (const r of e.ptes) {
        if (r.endIdx <= cur) continue;
        if (r.startIdx > cur) break;
        cur = r.endIdx;
        if (cur >= b) break;
      }
      if (cur < b) return false;
    }
    va = next;
  }
  return true;
}

/**
 * Every valid section's memmap is mapped: all of it for an early section (apps/docs/kernel/sparse.md#boot), the memmap of every
 * set sub-section otherwise. Sub-section bits only on present sections.
 */
const memmapMapped: Check = (s) => {
  const g = s.machine.geometry;
  const S = BigInt(g.structPageBytes);
  for (const [nr, ms] of s.sections) {
    if (ms.subsectionMap !== 0n && !(ms.flags & SECTION_MARKED_PRESENT)) return `section ${nr} has sub-section bits but is not present`;
    if (!(ms.flags & SECTION_HAS_MEM_MAP)) continue;
    const pfn0 = sectionNrToPfn(g, nr);
    if (ms.flags & SECTION_IS_EARLY) {
      const va = pfnToPageVa(g, pfn0);
      if (!vmemmapMapped(s, va, va + BigInt(g.sectionMemmapBytes))) return `early section ${nr}: memmap not fully mapped`;
      continue;
    }
    for (let i = 0; i < g.subsectionsPerSection; i++) {
      if (!((ms.subsectionMap >> BigInt(i)) & 1n)) continue;
      const va = pfnToPageVa(g, pfn0 + i * g.pagesPerSubsection);
      if (!vmemmapMapped(s, va, va + BigInt(g.pagesPerSubsection) * S)) return `section ${nr} sub-section ${i}: memmap not mapped`;
    }
  }
  return null;
};

/** Page-table pages count their entries correctly; PTE tables and PMD table entries agree. */
const pgtablesConsistent: Check = (s) => {
  const g = s.machine.geometry;
  const count = new Map<string, number>();
  const bump = (level: PgtableLevel, va: bigint) => {
    const k = `${level}:${Number(va >> BigInt(tableShift(s, level)))}`;
    count.set(k, (count.get(k) ?? 0) + 1);
  };
  for (const [idx, e] of s.vmemmap.pmds) {
    const va = BigInt(idx) << BigInt(g.pmdShift);
    if (e.kind === 'table') {
      const t = s.vmemmap.tables.pte.get(idx);
      if (!t) return `PMD ${idx} holds a PTE table with no page-table page`;
      if (t.entries !== runsCount(e.ptes)) return `PTE table ${idx}: ${t.entries} entries recorded, ${runsCount(e.ptes)} mapped`;
    }
    if (s.vmemmap.tables.pmd.size > 0) bump('pmd', va);
  }
  for (const level of ['pmd', 'pud'] as const) {
    const parent: PgtableLevel = level === 'pmd' ? 'pud' : 'p4d';
    for (const idx of s.vmemmap.tables[level].keys()) {
      if (s.vmemmap.tables[parent].size > 0) bump(parent, BigInt(idx) << BigInt(tableShift(s, level)));
    }
  }
  for (const level of ['pmd', 'pud', 'p4d'] as const) {
    for (const [idx, t] of s.vmemmap.tables[level]) {
      const want = count.get(`${level}:${idx}`) ?? 0;
      if (t.entries !== want) return `${level} table ${idx}: ${t.entries} entries recorded, ${want} present`;
    }
  }
  return null;
};

/** Counters equal what the state implies (apps/docs/kernel/user-space.md#vmstat, apps/docs/kernel/vmemmap.md#boot-memmap). */
const countersConsistent: Check = (s) => {
  const g = s.machine.geometry;
  const c = s.counters;
  let managed = 0;
  for (const n of s.nodes.values()) for (const z of n.zones.values()) managed += z.managedPages;
  if (managed !== c.totalramPages) return `totalram ${c.totalramPages} ≠ Σ managed ${managed}`;
  const pmdPages = 2 ** (g.pmdShift - g.pageShift);
  let buddy = 0;
  let boot = 0;
  const altmapUse = new Map<number, number>();
  const add = (source: string, pages: number, altmapId: number | null) => {
    if (source === 'buddy') buddy += pages;
    else if (source === 'boot') boot += pages;
    else if (source === 'altmap' && altmapId !== null) altmapUse.set(altmapId, (altmapUse.get(altmapId) ?? 0) + pages);
  };
  for (const e of s.vmemmap.pmds.values()) {
    if (e.kind === 'leaf') add(e.source, pmdPages, e.altmapId);
    else for (const r of e.ptes) add(r.source, r.endIdx - r.startIdx, r.altmapId);
  }
  for (const level of ['pte', 'pmd', 'pud', 'p4d'] as const) for (const t of s.vmemmap.tables[level].values()) add(t.source, 1, null);
  if (buddy !== c.vmemmapBuddyPages) return `vmemmap buddy pages ${c.vmemmapBuddyPages} ≠ mapped ${buddy}`;
  if (boot !== c.bootReservedPages) return `boot reserved pages ${c.bootReservedPages} ≠ mapped boot pages ${boot}`;
  for (const a of s.altmaps.values()) {
    const used = altmapUse.get(a.id) ?? 0;
    if (used !== a.alloc) return `altmap ${a.id}: alloc ${a.alloc} ≠ ${used} pages mapped from it`;
  }
  let early = 0;
  let hot = 0;
  const exact = (g.pagesPerSubsection * g.structPageBytes) % g.pageBytes === 0;
  for (const ms of s.sections.values()) {
    if (ms.flags & SECTION_IS_EARLY) early += 1;
    else if (ms.flags & SECTION_HAS_MEM_MAP && exact) {
      let bits = 0;
      for (let m = ms.subsectionMap; m; m >>= 1n) bits += Number(m & 1n);
      hot += memmapPages(g, bits * g.pagesPerSubsection);
    }
  }
  // HVO frees and re-allocates vmemmap pages of live sections (apps/docs/kernel/user-space.md#vmstat): add its net change
  const hvo = hugetlbMemmapDelta(s);
  hot += hvo.hotplug;
  if (c.nrMemmapBootPages !== early * g.sectionMemmapPages + hvo.boot)
    return `nr_memmap_boot_pages ${c.nrMemmapBootPages} ≠ ${early} early sections × ${g.sectionMemmapPages} + HVO ${hvo.boot}`;
  if (exact && c.nrMemmapPages !== hot) return `nr_memmap_pages ${c.nrMemmapPages} ≠ ${hot} implied by hot-added sub-sections`;
  return null;
};

/** Hot-added memory blocks cover present sections only. */
const blocksPresent: Check = (s) => {
  const g = s.machine.geometry;
  for (const b of s.blocks.values()) {
    let any = false;
    for (let nr = b.id * g.sectionsPerBlock; nr < (b.id + 1) * g.sectionsPerBlock; nr++) {
      const ms = s.sections.get(nr);
      const present = !!ms && (ms.flags & SECTION_MARKED_PRESENT) !== 0;
      if (!b.early && !present) return `memory block ${b.id}: section ${nr} is not present`;
      any ||= present;
    }
    if (!any) return `memory block ${b.id} has no present section`;
  }
  return null;
};

/**
 * The array lookup tables hot paths use agree with what readers see (model/state.ts): `sections` and `blocks` are
 * views of `sectionTable` and `blockTable` themselves; every TableMap (those two, `altmaps`, the vmemmap's `pmds`
 * and `tables`) counts its filled slots, ends on a filled slot, and spills only keys its table cannot hold; the
 * resource slots and the per-section resource index match the resource list.
 */
const lookupTablesMirror: Check = (s) => {
  const consistent = (name: string, map: ReadonlyMap<number, unknown>): string | null => {
    const m = map as unknown as TableMap<unknown>;
    const table = m.table;
    let n = 0;
    for (const k in table) if (table[k as unknown as number] !== undefined) n += 1;
    if (n !== m.count) return `${name}: ${n} table entries, counted ${m.count}`;
    if (table.length > 0 && table[table.length - 1] === undefined) return `${name}: the table ends on an empty slot`;
    if (m.spill !== null) {
      if (m.spill.size === 0) return `${name}: an empty spill map`;
      for (const k of m.spill.keys()) if (m.slot(k) >= 0) return `${name}: key ${k} spilt though the table holds it`;
    }
    return null;
  };
  if ((s.sections as unknown as { table: unknown }).table !== s.sectionTable) return 'sections: the map is not a view of the lookup table';
  if ((s.blocks as unknown as { table: unknown }).table !== s.blockTable) return 'memory blocks: the map is not a view of the lookup table';
  for (const [name, map] of tableMapsOf(s)) {
    const bad = consistent(name, map);
    if (bad) return bad;
  }
  let slots = 0;
  for (let id = 0; id < s.resourceSlot.length; id++) {
    const slot = s.resourceSlot[id];
    if (slot === undefined) continue;
    slots += 1;
    if (s.resources[slot]?.id !== id) return `resource ${id}: slot ${slot} holds another resource`;
  }
  if (slots !== s.resources.length) return `${slots} resource slots for ${s.resources.length} resources`;
  const perSection = s.machine.geometry.pagesPerSection * s.machine.geometry.pageBytes;
  for (const r of s.resources) {
    for (let nr = Math.floor(Number(r.startBytes) / perSection); nr <= Math.floor(Number(r.endBytes) / perSection); nr++) {
      const x = s.resourceIndex[nr];
      if (x !== r && !(Array.isArray(x) && x.includes(r))) return `resource ${r.id} is missing from the index of section ${nr}`;
    }
  }
  return null;
};

export const STEP_INVARIANTS: ReadonlyArray<[string, Check]> = [
  ['busy resources do not overlap', resourcesDisjoint],
  ['altmap alloc + align ≤ free', altmapBounds],
];

export const COMMAND_INVARIANTS: ReadonlyArray<[string, Check]> = [
  ['present valid sections have their memmap mapped', memmapMapped],
  ['vmemmap page-table entry counts', pgtablesConsistent],
  ['counters match the state', countersConsistent],
  ['memory blocks cover present sections', blocksPresent],
  ['lookup tables mirror their maps', lookupTablesMirror],
];

export function checkInvariants(s: MachineState, e: EventEnvelope): void {
  const all = e.type === 'command.end' || e.type === 'boot.end';
  for (const [name, f] of all ? [...STEP_INVARIANTS, ...COMMAND_INVARIANTS] : STEP_INVARIANTS) {
    const why = f(s);
    if (why) throw new InvariantViolation(name, why, e.seq, e.type);
  }
}
