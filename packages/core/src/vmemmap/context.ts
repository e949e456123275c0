/**
 * The generic vmemmap helpers of mm/sparse-vmemmap.c (vmemmap_populate_basepages, vmemmap_alloc_block_buf,
 * altmap_alloc_block_buf, vmemmap_{pgd,p4d,pud,pmd,pte}_populate, vmemmap_verify) and the generic part of
 * vmemmap_free (unmapping, freeing backing memory and empty page-table pages), implemented over core's
 * page-table state and recorded as events. A backend's vmemmapPopulate / vmemmapFree composes them
 * (ArchBackend contract, arch/backend.ts).
 *
 * Page-table pages always come from memblock (boot) or the page allocator, never from the altmap
 * (apps/docs/kernel/vmemmap.md#sources).
 */
import type { AltmapHandle, PmdEntryKind, VmemmapContext, VmemmapSource } from '../arch/backend.js';
import type { ErrnoName } from '../kernel/errno.js';
import type { KernelCtx } from '../commands/registry.js';
import { tableShift } from '../model/evolve.js';
import { hex } from '../model/geometry.js';
import type { AltmapState, MachineState, PgtableLevel, PmdEntry } from '../model/state.js';
import { altmapAlloc } from './altmap.js';
import { gapsIn, runsIn } from './runs.js';

type LeafEntry = Extract<PmdEntry, { kind: 'leaf' }>;

/** What allocPmdBlock returns, shared (the backend only reads it). */
const FROM_ALTMAP = Object.freeze({ source: 'altmap' as const });
const FROM_BOOT = Object.freeze({ source: 'boot' as const });
const FROM_BUDDY = Object.freeze({ source: 'buddy' as const });

/** Table levels that are allocated on demand, top-down, for this many paging levels (the PGD always exists). */
export function allocatedLevels(pgtableLevels: number): PgtableLevel[] {
  const all: PgtableLevel[] = ['p4d', 'pud', 'pmd', 'pte'];
  return all.slice(Math.max(0, 5 - pgtableLevels));
}

/** The altmap state behind a handle: core hands backends the live AltmapState objects. */
export function altmapIdOf(a: AltmapHandle | null): number | null {
  return a === null ? null : ((a as Partial<AltmapState>).id ?? null);
}

export function createVmemmapContext(k: KernelCtx, s: MachineState, booting: boolean): VmemmapContext {
  const g = s.machine.geometry;
  const pmdShiftN = BigInt(g.pmdShift);
  const pageShiftN = BigInt(g.pageShift);
  const pmdBytes = 1n << pmdShiftN;
  const pmdPages = 2 ** (g.pmdShift - g.pageShift);
  const levels = allocatedLevels(g.pgtableLevels);
  // per level: the shift of the VA span one table covers (a bigint) and how many PMD indices one table spans, so
  // a table's key is floor(pmdIdx / perPmd) — exact in doubles (pmdIdx < 2^53) and no bigint shift per level
  const levelShift = levels.map((level) => ({ level, shiftN: BigInt(tableShift(s, level)), perPmd: 2 ** (tableShift(s, level) - g.pmdShift) }));
  const upperShift = levelShift.filter((l) => l.level !== 'pte').reverse();
  // the PMD block allocPmdBlock reserved for mapPmdLeaf (pendingIdx −1: none)
  let pendingIdx = -1;
  let pendingSource: VmemmapSource = 'buddy';
  let pendingAltmapId: number | null = null;
  let pendingNode = 0;

  // a backend asks about the same address several times in a row (pmdEntry, allocPmdBlock, mapPmdLeaf): the last
  // answer is kept, a bigint comparison being cheaper than a bigint shift
  let lastVa = -1n;
  let lastIdx = 0;
  const pmdIndex = (va: bigint): number => {
    if (va !== lastVa) {
      lastIdx = Number(va >> pmdShiftN);
      lastVa = va;
    }
    return lastIdx;
  };
  // the addresses of the last two PMD indexes asked about: a PMD's end is the next PMD's base, which the next
  // section (or the next step of a walk) asks for, so consecutive PMDs share one bigint instead of making three
  let baseIdxA = -1;
  let baseA = 0n;
  let baseIdxB = -1;
  let baseB = 0n;
  const pmdBaseAt = (idx: number): bigint => {
    if (idx === baseIdxA) return baseA;
    if (idx === baseIdxB) return baseB;
    const v = BigInt(idx) << pmdShiftN;
    baseIdxB = baseIdxA;
    baseB = baseA;
    baseIdxA = idx;
    baseA = v;
    return v;
  };

  /** vmemmap_{p4d,pud,pmd,pte}_populate: allocate missing tables down to `downTo` (inclusive). */
  const ensureTables = (va: bigint, node: number, downTo: PgtableLevel): 0 | ErrnoName => {
    const pmdIdx = pmdIndex(va);
    for (const { level, shiftN: shift, perPmd } of levelShift) {
      const idx = Math.floor(pmdIdx / perPmd);
      if (!s.vmemmap.tables[level].has(idx)) {
        const tva = (va >> shift) << shift;
        if (!booting) {
          const f = k.faults.order0Alloc({ what: `vmemmap ${level} table`, va: hex(tva) });
          if (f) {
            k.emit('vmemmap.alloc_fail', { va: hex(tva), order: 0, source: 'buddy', reason: `page-table page: ${f.reason}` });
            return 'ENOMEM';
          }
        }
        k.emit('vmemmap.pgtable_alloc', { level, index: idx, va: hex(tva), node, source: booting ? 'boot' : 'buddy' });
      }
      if (level === downTo) break;
    }
    return 0;
  };

  const leafAt = (va: bigint): LeafEntry | null => {
    const e = s.vmemmap.pmds.get(pmdIndex(va));
    return e && e.kind === 'leaf' ? e : null;
  };
  const setPending = (idx: number, source: VmemmapSource, altmapId: number | null, node: number): void => {
    pendingIdx = idx;
    pendingSource = source;
    pendingAltmapId = altmapId;
    pendingNode = node;
  };

  /** Allocate and map the PTE gaps [a, b) of the PMD at base; returns how far it got. */
  const fillPtes = (base: bigint, a: number, b: number, node: number, altmap: AltmapHandle | null, why: string | null): 0 | ErrnoName => {
    const altmapId = altmapIdOf(altmap);
    const emitRun = (x: number, y: number, source: VmemmapSource) =>
      k.emit('vmemmap.populate', {
        start: hex(base + (BigInt(x) << pageShiftN)),
        end: hex(base + (BigInt(y) << pageShiftN)),
        granularity: 'pte',
        source,
        node,
        altmapId: source === 'altmap' ? altmapId : null,
        fallback: why,
      });
    if (altmap) {
      const live = altmapId !== null ? s.altmaps.get(altmapId) : undefined;
      const a0 = live ?? altmap;
      // one-page allocations have alignment 1: no padding, so a run is one allocation of its length
      const remaining = Math.max(0, a0.free - (a0.alloc + a0.align));
      const n = Math.min(b - a, remaining);
      if (n > 0) {
        const r = altmapAlloc(a0, n * g.pageBytes, g.pageBytes);
        const pfn = r.ok ? r.pfn : a0.basePfn + a0.reserve + a0.alloc + a0.align;
        if (altmapId !== null) k.emit('altmap.alloc', { id: altmapId, pfn, nrPages: n, pad: 0 });
        emitRun(a, a + n, 'altmap');
      }
      if (n < b - a) {
        k.emit('vmemmap.alloc_fail', { va: hex(base + (BigInt(a + n) << pageShiftN)), order: 0, source: 'altmap', reason: 'altmap exhausted' });
        return 'ENOMEM';
      }
      return 0;
    }
    if (booting) {
      emitRun(a, b, 'boot');
      return 0;
    }
    for (let i = a; i < b; i++) {
      const f = k.faults.order0Alloc({ what: 'vmemmap base page' });
      if (f) {
        if (i > a) emitRun(a, i, 'buddy');
        k.emit('vmemmap.alloc_fail', { va: hex(base + (BigInt(i) << pageShiftN)), order: 0, source: 'buddy', reason: f.reason });
        return 'ENOMEM';
      }
    }
    emitRun(a, b, 'buddy');
    return 0;
  };

  const freeTarget = (source: VmemmapSource, altmap: AltmapHandle | null): 'altmap' | 'buddy' | 'bootmem' | 'none' => {
    if (source === 'boot') return 'bootmem';
    if (source === 'altmap') return altmap ? 'altmap' : 'none';
    if (source === 'reuse') return 'none';
    return 'buddy';
  };

  /** Free tables that became empty, bottom-up, for the tables covering va. */
  const freeEmptyTables = (va: bigint): void => {
    const pmdIdx = pmdIndex(va);
    for (const { level, perPmd } of upperShift) {
      const idx = Math.floor(pmdIdx / perPmd);
      const t = s.vmemmap.tables[level].get(idx);
      if (!t || t.entries > 0) return;
      k.emit('vmemmap.pgtable_free', { level, index: idx, to: t.source === 'boot' ? 'bootmem' : 'buddy' });
    }
  };

  const freeLeaf = (pmdBase: bigint, pmdEnd: bigint, altmap: AltmapHandle | null, leaf?: LeafEntry): void => {
    const e = leaf ?? leafAt(pmdBase);
    if (!e) return;
    const to = freeTarget(e.source, altmap);
    const altmapId = to === 'altmap' ? (altmapIdOf(altmap) ?? e.altmapId) : null;
    k.emit('vmemmap.depopulate', { start: hex(pmdBase), end: hex(pmdEnd), granularity: 'pmd', to, altmapId });
    if (to === 'altmap' && altmapId !== null) k.emit('altmap.free', { id: altmapId, nrPages: pmdPages });
    if (to === 'buddy') k.faults.pmdFreed();
    if (to === 'none' && e.source === 'altmap') k.warn(`memhp: vmemmap PMD at ${hex(pmdBase)} came from an altmap but is freed without one`);
  };

  return {
    constants: s.machine.constants,
    config: k.archConfig,
    sectionMemmapBytes: g.sectionMemmapBytes,
    booting,

    pmdEntry(va: bigint): PmdEntryKind {
      const e = s.vmemmap.pmds.get(pmdIndex(va));
      return e ? e.kind : 'none';
    },

    populateBasePages(start, end, node, altmap, why) {
      for (let addr = start; addr < end; ) {
        const pmdBase = (addr >> pmdShiftN) << pmdShiftN;
        const next = pmdBase + pmdBytes < end ? pmdBase + pmdBytes : end;
        const e = s.vmemmap.pmds.get(pmdIndex(addr));
        if (e && e.kind === 'leaf') {
          // already mapped by a leaf: nothing to fill (pte_offset on a leaf is never reached in the kernel)
          addr = next;
          continue;
        }
        const r = ensureTables(addr, node, 'pte');
        if (r !== 0) return r;
        const table = s.vmemmap.pmds.get(pmdIndex(addr));
        if (!table || table.kind !== 'table') return 'ENOMEM';
        const a = Number((addr - pmdBase) >> pageShiftN);
        const b = Number((next - pmdBase + BigInt(g.pageBytes) - 1n) >> pageShiftN);
        for (const [x, y] of gapsIn(table.ptes, a, b)) {
          const rr = fillPtes(pmdBase, x, y, node, altmap, why ?? null);
          if (rr !== 0) return rr;
        }
        addr = next;
      }
      return 0;
    },

    allocPmdBlock(va, node, altmap) {
      pendingIdx = -1;
      if (ensureTables(va, node, 'pmd') !== 0) return null;
      const idx = pmdIndex(va);
      if (altmap) {
        const id = altmapIdOf(altmap);
        const live = (id !== null ? s.altmaps.get(id) : undefined) ?? altmap;
        const r = altmapAlloc(live, Number(pmdBytes), g.pageBytes);
        if (!r.ok) {
          k.emit('vmemmap.alloc_fail', { va: hex(pmdBaseAt(idx)), order: g.pmdShift - g.pageShift, source: 'altmap', reason: `${r.reason} (needs ${r.nrPages} + pad ${r.pad}, ${r.remaining} left)` });
          return null;
        }
        if (id !== null) k.emit('altmap.alloc', { id, pfn: r.pfn, nrPages: r.nrPages, pad: r.pad });
        setPending(idx, 'altmap', id, node);
        return FROM_ALTMAP;
      }
      if (booting) {
        setPending(idx, 'boot', null, node);
        return FROM_BOOT;
      }
      const f = k.faults.active ? k.faults.pmdAlloc({ va: hex(pmdBaseAt(idx)) }) : null;
      if (f) {
        k.emit('vmemmap.alloc_fail', { va: hex(pmdBaseAt(idx)), order: g.pmdShift - g.pageShift, source: 'buddy', reason: f.reason });
        return null;
      }
      setPending(idx, 'buddy', null, node);
      return FROM_BUDDY;
    },

    mapPmdLeaf(va, source) {
      const idx = pmdIndex(va);
      const reserved = pendingIdx === idx;
      pendingIdx = -1;
      k.emit('vmemmap.populate', {
        start: hex(pmdBaseAt(idx)),
        end: hex(pmdBaseAt(idx + 1)),
        granularity: 'pmd',
        source: reserved ? pendingSource : source,
        node: reserved ? pendingNode : 0,
        altmapId: reserved ? pendingAltmapId : null,
        fallback: null,
      });
      return 0;
    },

    verifyPmd(va, node) {
      const e = leafAt(va);
      if (e && e.node !== node) k.emit('vmemmap.note', { what: 'vmemmap_verify: potential offnode page_structs', detail: { va: hex(va), node, leafNode: e.node } });
    },

    markPmdUsed(start, end) {
      const e = leafAt(start);
      if (!e || e.used === null) return;
      const base = (start >> pmdShiftN) << pmdShiftN;
      const a = Number(start - base);
      const b = Number(end - base);
      let covered = false;
      for (let i = 0; i < e.used.length; i += 2) if (e.used[i]! <= a && e.used[i + 1]! >= b) covered = true;
      if (!covered) k.emit('vmemmap.subpmd_mark', { start: hex(start), end: hex(end), used: true });
    },

    markPmdUnused(start, end) {
      const e = leafAt(start);
      if (!e) return false;
      const base = (start >> pmdShiftN) << pmdShiftN;
      const a = Number(start - base);
      const b = Number(end - base);
      const used = e.used ?? [0, Number(pmdBytes)];
      let touches = false;
      for (let i = 0; i < used.length; i += 2) if (used[i]! < b && used[i + 1]! > a) touches = true;
      if (touches) k.emit('vmemmap.subpmd_mark', { start: hex(start), end: hex(end), used: false });
      const after = leafAt(start);
      return after !== null && after.used !== null && after.used.length === 0;
    },

    unmapRange(start, end, altmap, opts) {
      for (let addr = start; addr < end; ) {
        const pmdIdx = pmdIndex(addr);
        const pmdBase = pmdBaseAt(pmdIdx);
        const pmdEnd = pmdBaseAt(pmdIdx + 1);
        const next = pmdEnd < end ? pmdEnd : end;
        const e = s.vmemmap.pmds.get(pmdIdx);
        if (e?.kind === 'leaf') {
          const whole = addr === pmdBase && next === pmdEnd;
          if (whole || opts.freePartialLeaves) freeLeaf(pmdBase, pmdEnd, altmap, e);
          else {
            // x86 remove_pmd_table: fill the range with PAGE_UNUSED, free the leaf once all of it is unused
            const used = e.used ?? [0, Number(pmdBytes)];
            const a = Number(addr - pmdBase);
            const b = Number(next - pmdBase);
            let touches = false;
            for (let i = 0; i < used.length; i += 2) if (used[i]! < b && used[i + 1]! > a) touches = true;
            if (touches) k.emit('vmemmap.subpmd_mark', { start: hex(addr), end: hex(next), used: false });
            const after = leafAt(addr);
            if (after && after.used !== null && after.used.length === 0) freeLeaf(pmdBase, pmdEnd, altmap);
          }
        } else if (e?.kind === 'table') {
          const a = Number((addr - pmdBase) >> pageShiftN);
          const b = Number((next - pmdBase + BigInt(g.pageBytes) - 1n) >> pageShiftN);
          for (const run of runsIn(e.ptes, a, b)) {
            const to = freeTarget(run.source, altmap);
            const altmapId = to === 'altmap' ? (altmapIdOf(altmap) ?? run.altmapId) : null;
            k.emit('vmemmap.depopulate', {
              start: hex(pmdBase + (BigInt(run.startIdx) << pageShiftN)),
              end: hex(pmdBase + (BigInt(run.endIdx) << pageShiftN)),
              granularity: 'pte',
              to,
              altmapId,
            });
            if (to === 'altmap' && altmapId !== null) k.emit('altmap.free', { id: altmapId, nrPages: run.endIdx - run.startIdx });
          }
          const t = s.vmemmap.tables.pte.get(pmdIndex(addr));
          const left = s.vmemmap.pmds.get(pmdIndex(addr));
          if (t && left?.kind === 'table' && left.ptes.length === 0) {
            k.emit('vmemmap.pgtable_free', { level: 'pte', index: pmdIndex(addr), to: t.source === 'boot' ? 'bootmem' : 'buddy' });
          }
        }
        freeEmptyTables(addr);
        addr = next;
      }
    },

    note(what, detail) {
      k.emit('vmemmap.note', { what, detail: { ...(detail ?? {}) } });
    },
  };
}
