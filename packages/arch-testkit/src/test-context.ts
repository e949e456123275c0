/**
 * An in-kit {@link VmemmapContext}: a small, event-sourced model of the vmemmap page tables, the page
 * allocator, boot memory and altmaps, good enough to run a backend's `vmemmapPopulate` / `vmemmapFree` and to
 * check what they leave behind. It models the generic helpers of mm/sparse-vmemmap.c (6.1): page-table pages
 * never come from the altmap (DOMAIN.md §3.2), an altmap is a bump allocator with natural alignment (§3.8), and
 * a PMD leaf tracks its PAGE_UNUSED bytes (§3.4).
 *
 * Every change goes through {@link evolveTestState} from a JSON-safe {@link TestEvent}, so a recorded run can
 * be replayed without the backend — the same contract core's simulator keeps.
 */
import type { AltmapHandle, ArchBackend, ArchConfig, ArchConstants, ErrnoName, PmdEntryKind, VmemmapContext, VmemmapSource } from '@memhp/core';
import { addInterval, covers, removeInterval, type Interval } from './intervals.js';

export type PgtableLevel = 'pte' | 'pmd' | 'pud';
export type FreedTo = 'altmap' | 'buddy' | 'boot';

/** Events of the test double. Addresses are hex strings so a log round-trips through JSON. */
export type TestEvent =
  | { readonly t: 'altmap.create'; readonly id: number; readonly basePfn: number; readonly reserve: number; readonly free: number }
  | { readonly t: 'pgtable.alloc'; readonly level: PgtableLevel; readonly index: string }
  | { readonly t: 'pgtable.free'; readonly level: PgtableLevel; readonly index: string }
  | { readonly t: 'pmd.alloc'; readonly pmd: string; readonly source: VmemmapSource; readonly altmap: number | null; readonly pad: number }
  | { readonly t: 'pmd.alloc_fail'; readonly va: string; readonly reason: 'altmap exhausted' | 'injected' }
  | { readonly t: 'pmd.map'; readonly pmd: string; readonly source: VmemmapSource }
  | { readonly t: 'pmd.unmap'; readonly pmd: string; readonly to: FreedTo; readonly altmap: number | null }
  | { readonly t: 'pte.map'; readonly start: string; readonly end: string; readonly source: VmemmapSource; readonly altmap: number | null; readonly why: string }
  | { readonly t: 'pte.unmap'; readonly start: string; readonly end: string; readonly to: FreedTo; readonly altmap: number | null }
  | { readonly t: 'pte.alloc_fail'; readonly va: string; readonly reason: 'altmap exhausted' }
  | { readonly t: 'subpmd'; readonly pmd: string; readonly start: string; readonly end: string; readonly used: boolean }
  | { readonly t: 'note'; readonly what: string; readonly detail: Readonly<Record<string, string | number | boolean>> };

interface AltmapState {
  basePfn: number;
  reserve: number;
  free: number;
  alloc: number;
  align: number;
}

interface Leaf {
  source: VmemmapSource;
  altmap: number | null;
  unused: Interval[];
}

interface Pte {
  source: VmemmapSource;
  altmap: number | null;
}

/** The whole state of the double. Mutable on purpose: it is a test double; only {@link evolveTestState} writes. */
export interface TestState {
  readonly leaves: Map<bigint, Leaf>;
  readonly ptes: Map<bigint, Pte>;
  /** Number of present PTEs per PTE table (keyed by PMD index); presence = the PTE table exists. */
  readonly pteTables: Map<bigint, number>;
  /** Number of non-empty PMD entries per PMD table (keyed by PUD index). */
  readonly pmdTables: Map<bigint, number>;
  /** Number of present PUD entries per PUD table (keyed by the index above the PUD); only with ≥ 4 levels. */
  readonly pudTables: Map<bigint, number>;
  readonly pending: Map<bigint, { source: VmemmapSource; altmap: number | null }>;
  readonly altmaps: Map<number, AltmapState>;
  /** Pages currently held, by where they came from (vmemmap memory and page-table pages separately). */
  readonly held: { buddy: number; boot: number; altmap: number; pgtable: number };
  /** Cumulative vmemmap pages allocated and freed: "memory touched" (seed 004). */
  readonly touched: { allocatedPages: number; freedPages: number; pgtableAllocs: number; pmdAllocFailures: number };
  /** Frees that went somewhere other than where the page came from (e.g. an altmap page given to the buddy). */
  misdirectedFrees: number;
}

export function emptyTestState(): TestState {
  return {
    leaves: new Map(),
    ptes: new Map(),
    pteTables: new Map(),
    pmdTables: new Map(),
    pudTables: new Map(),
    pending: new Map(),
    altmaps: new Map(),
    held: { buddy: 0, boot: 0, altmap: 0, pgtable: 0 },
    touched: { allocatedPages: 0, freedPages: 0, pgtableAllocs: 0, pmdAllocFailures: 0 },
    misdirectedFrees: 0,
  };
}

/** Geometry the evolve function needs (from the log header in a real log). */
export interface Geometry {
  readonly pageShift: number;
  readonly pmdShift: number;
  readonly pudShift: number;
  readonly pgtableLevels: number;
}

export const geometryOf = (c: ArchConstants): Geometry => ({
  pageShift: c.pageShift,
  pmdShift: c.pmdShift,
  pudShift: c.pudShift,
  pgtableLevels: c.pgtableLevels,
});

const h = (v: bigint): string => `0x${v.toString(16)}`;
const heldKey = (s: VmemmapSource): 'buddy' | 'boot' | 'altmap' => (s === 'reuse' ? 'buddy' : s);

function bump(map: Map<bigint, number>, key: bigint, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n < 0) throw new Error(`page-table count below zero at ${h(key)}`);
  map.set(key, n);
}

function release(state: TestState, source: VmemmapSource, altmapId: number | null, to: FreedTo, pages: number): void {
  state.held[heldKey(source)] -= pages;
  state.touched.freedPages += pages;
  if (to === 'altmap') {
    const a = altmapId === null ? undefined : state.altmaps.get(altmapId);
    if (!a) throw new Error('freed to an unknown altmap');
    a.alloc -= pages;
  }
  if (to !== heldKey(source)) state.misdirectedFrees += 1;
}

/** The only writer of {@link TestState}. */
export function evolveTestState(state: TestState, e: TestEvent, g: Geometry): TestState {
  const pageBytes = 1n << BigInt(g.pageShift);
  const pmdPages = 2 ** (g.pmdShift - g.pageShift);
  const pudIndexOfPmd = (pmd: bigint): bigint => pmd >> BigInt(g.pudShift - g.pmdShift);
  const upperOfPud = (pud: bigint): bigint => pud >> BigInt(g.pageShift - 3);
  switch (e.t) {
    case 'altmap.create':
      state.altmaps.set(e.id, { basePfn: e.basePfn, reserve: e.reserve, free: e.free, alloc: 0, align: 0 });
      break;
    case 'pgtable.alloc': {
      const i = BigInt(e.index);
      state.held.pgtable += 1;
      state.touched.pgtableAllocs += 1;
      if (e.level === 'pte') {
        state.pteTables.set(i, 0);
        bump(state.pmdTables, pudIndexOfPmd(i), 1);
      } else if (e.level === 'pmd') {
        state.pmdTables.set(i, 0);
        if (g.pgtableLevels >= 4) bump(state.pudTables, upperOfPud(i), 1);
      } else state.pudTables.set(i, 0);
      break;
    }
    case 'pgtable.free': {
      const i = BigInt(e.index);
      state.held.pgtable -= 1;
      if (e.level === 'pte') {
        state.pteTables.delete(i);
        bump(state.pmdTables, pudIndexOfPmd(i), -1);
      } else if (e.level === 'pmd') {
        state.pmdTables.delete(i);
        if (g.pgtableLevels >= 4) bump(state.pudTables, upperOfPud(i), -1);
      } else state.pudTables.delete(i);
      break;
    }
    case 'pmd.alloc': {
      const i = BigInt(e.pmd);
      state.pending.set(i, { source: e.source, altmap: e.altmap });
      state.held[heldKey(e.source)] += pmdPages;
      state.touched.allocatedPages += pmdPages;
      if (e.altmap !== null) {
        const a = state.altmaps.get(e.altmap);
        if (!a) throw new Error('allocation from an unknown altmap');
        a.alloc += pmdPages;
        a.align += e.pad;
      }
      break;
    }
    case 'pmd.alloc_fail':
      state.touched.pmdAllocFailures += 1;
      break;
    case 'pmd.map': {
      const i = BigInt(e.pmd);
      const p = state.pending.get(i);
      if (!p) throw new Error(`PMD ${e.pmd} mapped without an allocation`);
      state.pending.delete(i);
      state.leaves.set(i, { source: p.source, altmap: p.altmap, unused: [] });
      bump(state.pmdTables, pudIndexOfPmd(i), 1);
      break;
    }
    case 'pmd.unmap': {
      const i = BigInt(e.pmd);
      const leaf = state.leaves.get(i);
      if (!leaf) throw new Error(`PMD ${e.pmd} unmapped but not a leaf`);
      state.leaves.delete(i);
      bump(state.pmdTables, pudIndexOfPmd(i), -1);
      release(state, leaf.source, e.to === 'altmap' ? e.altmap : leaf.altmap, e.to, pmdPages);
      break;
    }
    case 'pte.map': {
      const end = BigInt(e.end);
      let n = 0;
      for (let va = BigInt(e.start); va < end; va += pageBytes) {
        const p = va >> BigInt(g.pageShift);
        if (state.ptes.has(p)) throw new Error(`PTE ${h(va)} mapped twice`);
        state.ptes.set(p, { source: e.source, altmap: e.altmap });
        bump(state.pteTables, va >> BigInt(g.pmdShift), 1);
        n++;
      }
      state.held[heldKey(e.source)] += n;
      state.touched.allocatedPages += n;
      if (e.altmap !== null) {
        const a = state.altmaps.get(e.altmap);
        if (!a) throw new Error('allocation from an unknown altmap');
        a.alloc += n;
      }
      break;
    }
    case 'pte.unmap': {
      const end = BigInt(e.end);
      for (let va = BigInt(e.start); va < end; va += pageBytes) {
        const p = va >> BigInt(g.pageShift);
        const pte = state.ptes.get(p);
        if (!pte) throw new Error(`PTE ${h(va)} unmapped but not mapped`);
        state.ptes.delete(p);
        bump(state.pteTables, va >> BigInt(g.pmdShift), -1);
        release(state, pte.source, e.to === 'altmap' ? e.altmap : pte.altmap, e.to, 1);
      }
      break;
    }
    case 'pte.alloc_fail':
      break;
    case 'subpmd': {
      const leaf = state.leaves.get(BigInt(e.pmd));
      if (!leaf) throw new Error(`sub-PMD marking on ${e.pmd}, which is not a leaf`);
      const r: Interval = [BigInt(e.start), BigInt(e.end)];
      leaf.unused = e.used ? removeInterval(leaf.unused, r) : addInterval(leaf.unused, r);
      break;
    }
    case 'note':
      break;
  }
  return state;
}

export interface TestContextOptions {
  /** Allocations come from boot memory (sparse buffer) instead of the page allocator. */
  readonly booting?: boolean;
  /** Make the n-th (0-based) PMD_SIZE page-allocator allocation fail: the fault the seed-004 thread is about. */
  readonly failPmdAlloc?: (attempt: number, va: bigint) => boolean;
  readonly node?: number;
}

/** A test double of core's vmemmap bookkeeping, with probes for the conformance checks. */
export interface TestHarness {
  readonly ctx: VmemmapContext;
  readonly backend: ArchBackend;
  readonly config: ArchConfig;
  readonly constants: ArchConstants;
  readonly geometry: Geometry;
  readonly state: TestState;
  readonly events: readonly TestEvent[];
  readonly pageBytes: bigint;
  readonly pmdBytes: bigint;
  readonly pagesPerSection: number;
  readonly sectionMemmapBytes: number;
  /** An altmap as memmap_on_memory or a pmem namespace would build it (DOMAIN.md §3.8). */
  createAltmap(spec: { basePfn: number; reserve?: number; free: number }): AltmapHandle;
  altmapState(handle: AltmapHandle): Readonly<AltmapState>;
  /** The vmemmap range [start, end) holding the struct pages of [pfn, pfn + nrPages). */
  memmapRange(pfn: number, nrPages: number): readonly [bigint, bigint];
  /** The backend's vmemmap_populate over the struct pages of [pfn, pfn + nrPages). */
  populate(pfn: number, nrPages: number, altmap?: AltmapHandle | null): 0 | ErrnoName;
  /** The backend's vmemmap_free over the struct pages of [pfn, pfn + nrPages). */
  depopulate(pfn: number, nrPages: number, altmap?: AltmapHandle | null): void;
  /** How each vmemmap page of [start, end) is mapped: pages not mapped at all. */
  unmappedPages(start: bigint, end: bigint): number;
  /** Problems that make the state "not clean" (anything left mapped, held or pending). */
  leftovers(): string[];
}

export function createTestHarness(backend: ArchBackend, config: ArchConfig, opts: TestContextOptions = {}): TestHarness {
  const constants = backend.constants(config);
  const geometry = geometryOf(constants);
  const state = emptyTestState();
  const events: TestEvent[] = [];
  const pageBytes = 1n << BigInt(constants.pageShift);
  const pmdBytes = 1n << BigInt(constants.pmdShift);
  const pudBytes = 1n << BigInt(constants.pudShift);
  const pudTableSpan = pudBytes << BigInt(constants.pageShift - 3);
  const pmdPages = Number(pmdBytes / pageBytes);
  const pagesPerSection = 2 ** (constants.sectionSizeBits - constants.pageShift);
  const sectionMemmapBytes = pagesPerSection * config.structPageBytes;
  const handles = new WeakMap<AltmapHandle, number>();
  let nextAltmapId = 1;
  let pmdAttempts = 0;

  const emit = (e: TestEvent): void => {
    events.push(e);
    evolveTestState(state, e, geometry);
  };

  const altmapIdOf = (a: AltmapHandle | null): number | null => {
    if (a === null) return null;
    const id = handles.get(a);
    if (id === undefined) throw new Error('altmap handle not created by this context');
    return id;
  };

  /** vmem_altmap_alloc: natural alignment ffs(n), failure when n + pad exceeds what is left. */
  const altmapTry = (id: number, nrPfns: number): number | null => {
    const a = state.altmaps.get(id);
    if (!a) throw new Error('unknown altmap');
    const next = a.basePfn + a.reserve + a.alloc + a.align;
    const r = nrPfns & -nrPfns;
    const pad = (Math.ceil(next / r) * r) - next;
    const remaining = Math.max(0, a.free - (a.alloc + a.align));
    return nrPfns + pad > remaining ? null : pad;
  };

  const ensureUpperTables = (va: bigint): void => {
    const pud = va >> BigInt(constants.pudShift);
    if (constants.pgtableLevels >= 4) {
      const upper = va / pudTableSpan;
      if (!state.pudTables.has(upper)) emit({ t: 'pgtable.alloc', level: 'pud', index: h(upper) });
    }
    if (!state.pmdTables.has(pud)) emit({ t: 'pgtable.alloc', level: 'pmd', index: h(pud) });
  };

  const pmdEntry = (va: bigint): PmdEntryKind => {
    const i = va >> BigInt(constants.pmdShift);
    return state.leaves.has(i) ? 'leaf' : state.pteTables.has(i) ? 'table' : 'none';
  };

  const populateBasePages = (start: bigint, end: bigint, _node: number, altmap: AltmapHandle | null, why = 'base pages'): 0 | ErrnoName => {
    const id = altmapIdOf(altmap);
    const s = start - (start % pageBytes);
    for (let chunk = s; chunk < end; ) {
      const pmdEnd = (chunk & ~(pmdBytes - 1n)) + pmdBytes;
      const chunkEnd = pmdEnd < end ? pmdEnd : end;
      const pmdIdx = chunk >> BigInt(constants.pmdShift);
      if (state.leaves.has(pmdIdx)) {
        emit({ t: 'note', what: 'base pages requested inside a PMD leaf: already mapped', detail: { va: h(chunk) } });
        chunk = pmdEnd;
        continue;
      }
      ensureUpperTables(chunk);
      if (!state.pteTables.has(pmdIdx)) emit({ t: 'pgtable.alloc', level: 'pte', index: h(pmdIdx) });
      let va = chunk;
      while (va < chunkEnd) {
        if (state.ptes.has(va >> BigInt(constants.pageShift))) {
          va += pageBytes;
          continue;
        }
        let runEnd = va;
        while (runEnd < chunkEnd && !state.ptes.has(runEnd >> BigInt(constants.pageShift))) runEnd += pageBytes;
        if (id !== null) {
          const a = state.altmaps.get(id) as AltmapState;
          const remaining = Math.max(0, a.free - (a.alloc + a.align));
          const want = Number((runEnd - va) / pageBytes);
          const got = Math.min(want, remaining);
          if (got > 0) emit({ t: 'pte.map', start: h(va), end: h(va + BigInt(got) * pageBytes), source: 'altmap', altmap: id, why });
          if (got < want) {
            emit({ t: 'pte.alloc_fail', va: h(va + BigInt(got) * pageBytes), reason: 'altmap exhausted' });
            return 'ENOMEM';
          }
        } else {
          emit({ t: 'pte.map', start: h(va), end: h(runEnd), source: opts.booting ? 'boot' : 'buddy', altmap: null, why });
        }
        va = runEnd;
      }
      chunk = pmdEnd;
    }
    return 0;
  };

  const allocPmdBlock = (va: bigint, _node: number, altmap: AltmapHandle | null): { source: VmemmapSource } | null => {
    const pmd = h(va >> BigInt(constants.pmdShift));
    const id = altmapIdOf(altmap);
    if (id !== null) {
      const pad = altmapTry(id, pmdPages);
      if (pad === null) {
        emit({ t: 'pmd.alloc_fail', va: h(va), reason: 'altmap exhausted' });
        return null;
      }
      emit({ t: 'pmd.alloc', pmd, source: 'altmap', altmap: id, pad });
      return { source: 'altmap' };
    }
    if (opts.booting) {
      emit({ t: 'pmd.alloc', pmd, source: 'boot', altmap: null, pad: 0 });
      return { source: 'boot' };
    }
    const attempt = pmdAttempts++;
    if (opts.failPmdAlloc?.(attempt, va)) {
      emit({ t: 'pmd.alloc_fail', va: h(va), reason: 'injected' });
      return null;
    }
    emit({ t: 'pmd.alloc', pmd, source: 'buddy', altmap: null, pad: 0 });
    return { source: 'buddy' };
  };

  const mapPmdLeaf = (va: bigint, source: VmemmapSource): 0 | ErrnoName => {
    const i = va >> BigInt(constants.pmdShift);
    const p = state.pending.get(i);
    if (!p || p.source !== source) throw new Error(`mapPmdLeaf(${h(va)}, ${source}) without a matching allocPmdBlock`);
    if (pmdEntry(va) !== 'none') throw new Error(`mapPmdLeaf(${h(va)}): the PMD is not empty`);
    ensureUpperTables(va);
    emit({ t: 'pmd.map', pmd: h(i), source });
    return 0;
  };

  const leafAt = (start: bigint, end: bigint): bigint => {
    const i = start >> BigInt(constants.pmdShift);
    if (!state.leaves.has(i)) throw new Error(`sub-PMD marking at ${h(start)}: not a PMD leaf`);
    if (end > ((i + 1n) << BigInt(constants.pmdShift)) || end <= start) throw new Error(`sub-PMD marking [${h(start)}, ${h(end)}) crosses a PMD`);
    return i;
  };

  const markPmdUsed = (start: bigint, end: bigint): void => {
    emit({ t: 'subpmd', pmd: h(leafAt(start, end)), start: h(start), end: h(end), used: true });
  };

  const wholeUnused = (i: bigint): boolean => {
    const leaf = state.leaves.get(i);
    const base = i << BigInt(constants.pmdShift);
    return leaf !== undefined && covers(leaf.unused, [base, base + pmdBytes]);
  };

  const markPmdUnused = (start: bigint, end: bigint): boolean => {
    const i = leafAt(start, end);
    emit({ t: 'subpmd', pmd: h(i), start: h(start), end: h(end), used: false });
    return wholeUnused(i);
  };

  const unmapRange = (start: bigint, end: bigint, altmap: AltmapHandle | null, o: { freePartialLeaves: boolean }): void => {
    const id = altmapIdOf(altmap);
    const touchedPmds = new Set<bigint>();
    for (let chunk = start; chunk < end; ) {
      const pmdStart = chunk & ~(pmdBytes - 1n);
      const pmdEnd = pmdStart + pmdBytes;
      const chunkEnd = pmdEnd < end ? pmdEnd : end;
      const i = chunk >> BigInt(constants.pmdShift);
      touchedPmds.add(i);
      const leaf = state.leaves.get(i);
      if (leaf) {
        const whole = chunk === pmdStart && chunkEnd === pmdEnd;
        if (whole || o.freePartialLeaves || wholeUnused(i)) {
          const to: FreedTo = id !== null ? 'altmap' : leaf.source === 'boot' ? 'boot' : 'buddy';
          emit({ t: 'pmd.unmap', pmd: h(i), to, altmap: to === 'altmap' ? id : null });
        }
      } else if (state.pteTables.has(i)) {
        // Group consecutive mapped pages by where they go back to.
        let va = chunk - (chunk % pageBytes);
        while (va < chunkEnd) {
          const pte = state.ptes.get(va >> BigInt(constants.pageShift));
          if (!pte) {
            va += pageBytes;
            continue;
          }
          const to: FreedTo = pte.source === 'altmap' && id !== null ? 'altmap' : pte.source === 'boot' ? 'boot' : 'buddy';
          let runEnd = va + pageBytes;
          while (runEnd < chunkEnd) {
            const q = state.ptes.get(runEnd >> BigInt(constants.pageShift));
            if (!q || q.source !== pte.source) break;
            runEnd += pageBytes;
          }
          emit({ t: 'pte.unmap', start: h(va), end: h(runEnd), to, altmap: to === 'altmap' ? id : null });
          va = runEnd;
        }
        if (state.pteTables.get(i) === 0) emit({ t: 'pgtable.free', level: 'pte', index: h(i) });
      }
      chunk = pmdEnd;
    }
    // free_empty_tables: PMD tables, then PUD tables, that the range touched and that are now empty.
    const puds = new Set([...touchedPmds].map((i) => i >> BigInt(constants.pudShift - constants.pmdShift)));
    for (const pud of puds) {
      if (state.pmdTables.get(pud) === 0) emit({ t: 'pgtable.free', level: 'pmd', index: h(pud) });
    }
    if (constants.pgtableLevels >= 4) {
      const uppers = new Set([...puds].map((p) => p >> BigInt(constants.pageShift - 3)));
      for (const u of uppers) if (state.pudTables.get(u) === 0) emit({ t: 'pgtable.free', level: 'pud', index: h(u) });
    }
  };

  const ctx: VmemmapContext = {
    constants,
    config,
    sectionMemmapBytes,
    booting: opts.booting ?? false,
    pmdEntry,
    populateBasePages,
    allocPmdBlock,
    mapPmdLeaf,
    verifyPmd: () => undefined,
    markPmdUsed,
    markPmdUnused,
    unmapRange,
    note: (what, detail = {}) => emit({ t: 'note', what, detail }),
  };

  const memmapRange = (pfn: number, nrPages: number): readonly [bigint, bigint] => {
    const s = constants.vmemmapBase + BigInt(pfn) * BigInt(config.structPageBytes);
    return [s, s + BigInt(nrPages) * BigInt(config.structPageBytes)];
  };

  const node = opts.node ?? 0;
  return {
    ctx,
    backend,
    config,
    constants,
    geometry,
    state,
    events,
    pageBytes,
    pmdBytes,
    pagesPerSection,
    sectionMemmapBytes,
    createAltmap(spec) {
      const id = nextAltmapId++;
      emit({ t: 'altmap.create', id, basePfn: spec.basePfn, reserve: spec.reserve ?? 0, free: spec.free });
      const handle: AltmapHandle = {
        get basePfn() {
          return (state.altmaps.get(id) as AltmapState).basePfn;
        },
        get reserve() {
          return (state.altmaps.get(id) as AltmapState).reserve;
        },
        get free() {
          return (state.altmaps.get(id) as AltmapState).free;
        },
        get alloc() {
          return (state.altmaps.get(id) as AltmapState).alloc;
        },
        get align() {
          return (state.altmaps.get(id) as AltmapState).align;
        },
      };
      handles.set(handle, id);
      return handle;
    },
    altmapState(handle) {
      const id = altmapIdOf(handle);
      return state.altmaps.get(id as number) as AltmapState;
    },
    memmapRange,
    populate(pfn, nrPages, altmap = null) {
      const [s, e] = memmapRange(pfn, nrPages);
      return backend.vmemmapPopulate(ctx, s, e, node, altmap);
    },
    depopulate(pfn, nrPages, altmap = null) {
      const [s, e] = memmapRange(pfn, nrPages);
      backend.vmemmapFree(ctx, s, e, altmap);
    },
    unmappedPages(start, end) {
      let n = 0;
      for (let va = start - (start % pageBytes); va < end; va += pageBytes) {
        const pmd = va >> BigInt(constants.pmdShift);
        if (state.leaves.has(pmd)) continue;
        if (!state.ptes.has(va >> BigInt(constants.pageShift))) n++;
      }
      return n;
    },
    leftovers() {
      const out: string[] = [];
      if (state.leaves.size) out.push(`${state.leaves.size} PMD leaves still mapped`);
      if (state.ptes.size) out.push(`${state.ptes.size} PTEs still mapped`);
      if (state.pending.size) out.push(`${state.pending.size} PMD blocks allocated but never mapped`);
      if (state.held.pgtable) out.push(`${state.held.pgtable} page-table pages still allocated`);
      if (state.held.buddy) out.push(`${state.held.buddy} pages still taken from the page allocator`);
      if (state.held.boot) out.push(`${state.held.boot} boot pages still held`);
      if (state.held.altmap) out.push(`${state.held.altmap} altmap pages still held`);
      for (const [id, a] of state.altmaps) if (a.alloc !== 0) out.push(`altmap ${id}: alloc = ${a.alloc}, not back to 0`);
      if (state.misdirectedFrees) out.push(`${state.misdirectedFrees} frees went somewhere other than where the memory came from`);
      return out;
    },
  };
}

/** Fold a recorded run into a fresh state (the replay half of the replay check). */
export function replayTestEvents(events: readonly TestEvent[], geometry: Geometry): TestState {
  const s = emptyTestState();
  for (const e of events) evolveTestState(s, e, geometry);
  return s;
}

/** A canonical, JSON-comparable picture of a state. */
export function snapshotTestState(s: TestState): unknown {
  const sortKeys = <V>(m: Map<bigint, V>): Array<[string, V]> =>
    [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, v]) => [h(k), v]);
  return JSON.parse(
    JSON.stringify(
      {
        leaves: sortKeys(s.leaves).map(([k, l]) => [k, l.source, l.altmap, l.unused.map(([a, b]) => [h(a), h(b)])]),
        ptes: sortKeys(s.ptes),
        pteTables: sortKeys(s.pteTables),
        pmdTables: sortKeys(s.pmdTables),
        pudTables: sortKeys(s.pudTables),
        pending: sortKeys(s.pending),
        altmaps: [...s.altmaps.entries()].sort((a, b) => a[0] - b[0]),
        held: s.held,
        touched: s.touched,
        misdirectedFrees: s.misdirectedFrees,
      },
      (_k, v: unknown) => (typeof v === 'bigint' ? h(v) : v),
    ),
  );
}
