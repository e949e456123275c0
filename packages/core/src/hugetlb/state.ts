/**
 * HugeTLB pool and HVO state, its event vocabulary and the appliers that write it (mm/hugetlb.c,
 * mm/hugetlb_vmemmap.c, 6.1; apps/docs/kernel/hvo.md#hvo). The pool lives next to core's state under `hugetlb` and is written
 * only by the appliers below, so a replayed log reproduces it; read it with {@link hugetlbState}.
 *
 * HVO changes core's vmemmap page tables (a PMD leaf split into a PTE table, tail PTEs remapped to the reuse
 * page) and core's counters (MemTotal for released boot pages, nr_memmap_pages, nr_memmap_boot_pages); the
 * appliers here do that directly because core's events have no word for "remap a PTE to an existing page".
 */
import { type Static } from '@sinclair/typebox';
import { Type } from '@memhp/events';
import { type EventEnvelope } from '@memhp/events';
import type { ZoneName } from '../arch/backend.js';
import type { ApplierTable } from '../model/evolve.js';
import type { MachineState, ReadonlyMachineState, PteRun } from '../model/state.js';
import { insertRun, removeRange, runsIn } from '../vmemmap/runs.js';
import { lits, ev } from '../model/schema.js';

// ---------------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------------

/** Why HVO left a HugeTLB page alone (apps/docs/kernel/hvo.md#conditions). */
export type HvoSkipReason =
  | 'disabled'
  | 'arch'
  | 'struct-page-not-power-of-two'
  | 'hstate-not-optimisable'
  | 'self-hosted'
  | 'pte-table-alloc-failure';

/** One HugeTLB page in the pool (a folio of 2^order base pages headed by headPfn). */
export interface HugePageState {
  headPfn: number;
  order: number;
  nid: number;
  zone: ZoneName;
  /** Mapped by a user (page_count > 0); free pages sit on the node's free list. */
  inUse: boolean;
  /** Event seq at which the page was last put on the free list (the lists are LIFO). */
  enqueuedSeq: number;
  /** HPageVmemmapOptimized, or why not. */
  hvo: 'optimized' | HvoSkipReason;
  /** 6.2+: the head vmemmap page was replaced by a freshly allocated page. */
  newHead: boolean;
  /** vmemmap pages given back by the optimisation (restored when the page leaves the pool). */
  freedVmemmapPages: number;
}

/** struct hstate, the parts memhp models. */
export interface HstateState {
  order: number;
  bytes: bigint;
  gigantic: boolean;
  /** Can live in ZONE_MOVABLE (hugepage_movable_supported: not for gigantic pages). */
  movable: boolean;
  /** Vmemmap pages of one huge page (may be fractional: < 1 page for small contiguous-PTE sizes). */
  vmemmapPages: number;
  /** surplus_huge_pages_node. */
  surplus: Map<number, number>;
  /** nr_huge_pages_node and free_huge_pages_node. */
  nr: Map<number, number>;
  free: Map<number, number>;
  /** hugepage_freelists[node]: head pfns, the most recently enqueued last (the kernel's lists are LIFO). */
  freeLists: Map<number, number[]>;
  nextNidToAlloc: number;
  nextNidToFree: number;
}

export interface HugetlbState {
  /** Hstates by order, as hugetlb_init registered them. */
  hstates: Map<number, HstateState>;
  defaultOrder: number;
  /** Pool pages by head pfn. */
  pages: Map<number, HugePageState>;
  /** Pfn ranges [start, end) the pool occupies, sorted and merged (proportional to fragmentation, not pages). */
  used: Array<[number, number]>;
  /**
   * Net change HVO made to nr_memmap_boot_pages and nr_memmap_pages (core's invariant adds it to what the
   * sections imply, apps/docs/kernel/user-space.md#vmstat "−1 per vmemmap page freed by HVO (+1 for the new head page, +w−1 on restore)").
   */
  memmapDelta: { boot: number; hotplug: number };
  /** Cumulative HVO decisions (the report's "how many and why"). */
  decisions: { optimized: number; skipped: Map<HvoSkipReason, number>; restored: number; restoreFailed: number };
}

type WithHugetlb = { hugetlb?: HugetlbState };

/** HugeTLB state before hugetlb.init: no hstates, no pages. */
const emptyHugetlbState = (): HugetlbState => ({
  hstates: new Map(),
  defaultOrder: 0,
  pages: new Map(),
  used: [],
  memmapDelta: { boot: 0, hotplug: 0 },
  decisions: { optimized: 0, skipped: new Map(), restored: 0, restoreFailed: 0 },
});

const EMPTY: HugetlbState = emptyHugetlbState();

/** The HugeTLB state of a machine (empty until hugetlb.init was applied). */
export function hugetlbState(s: ReadonlyMachineState): Readonly<HugetlbState> {
  return (s as unknown as WithHugetlb).hugetlb ?? EMPTY;
}

function mut(s: MachineState): HugetlbState {
  const w = s as unknown as WithHugetlb;
  w.hugetlb ??= emptyHugetlbState();
  return w.hugetlb;
}

/** Net HVO change of the memmap counters, for core's counter invariant. */
export function hugetlbMemmapDelta(s: ReadonlyMachineState): { boot: number; hotplug: number } {
  return hugetlbState(s).memmapDelta;
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

const Hex = Type.String({ pattern: '^0x[0-9a-f]+$' });
const Pfn = Type.Integer({ minimum: 0 });
const Count = Type.Integer({ minimum: 0 });
const Nid = Type.Integer({ minimum: 0 });
const Order = Type.Integer({ minimum: 0, maximum: 40 });
/** A union of string literals that keeps the literal types. */
const ZoneNameT = lits('DMA', 'DMA32', 'Normal', 'Movable', 'Device');
const SourceT = lits('boot', 'buddy');
const SkipT = lits('disabled', 'arch', 'struct-page-not-power-of-two', 'hstate-not-optimisable', 'self-hosted', 'pte-table-alloc-failure');


export const hugetlbEventDefs = {
  'hugetlb.init': ev(
    'hugetlb.init',
    'hugetlb_init / hugetlb_add_hstate: the huge page sizes of this machine and the default one (carried so replay needs no backend).',
    Type.Object({
      hstates: Type.Array(Type.Object({ order: Order, bytes: Hex, gigantic: Type.Boolean(), movable: Type.Boolean(), vmemmapPages: Type.Number({ minimum: 0 }) })),
      defaultOrder: Order,
    }),
  ),
  'hugetlb.alloc': ev(
    'hugetlb.alloc',
    'alloc_fresh_huge_page + prep_new_huge_page: a huge page taken from the buddy (or contiguous range) joins the pool, free.',
    Type.Object({ order: Order, headPfn: Pfn, nid: Nid, zone: ZoneNameT, surplus: Type.Boolean(), nextNidToAlloc: Nid }),
  ),
  'hugetlb.alloc_fail': ev(
    'hugetlb.alloc_fail',
    'alloc_pool_huge_page found no page on any allowed node (the pool stays short of the request; the write still succeeds).',
    Type.Object({ order: Order, nids: Type.Array(Nid), reason: Type.String() }),
  ),
  'hugetlb.remove': ev(
    'hugetlb.remove',
    'remove_hugetlb_page: a free page leaves the pool (shrink, dissolve, surplus free); it is then restored and freed, or added back.',
    Type.Object({ order: Order, headPfn: Pfn, nextNidToFree: Nid }),
  ),
  'hugetlb.add_back': ev(
    'hugetlb.add_back',
    'add_hugetlb_page: a page whose vmemmap could not be restored goes back on the free list (as surplus when adjustSurplus).',
    Type.Object({
      order: Order,
      headPfn: Pfn,
      nid: Nid,
      zone: ZoneNameT,
      adjustSurplus: Type.Boolean(),
      /** The page comes back as it left: still optimised, with the same head page and freed vmemmap. */
      newHead: Type.Boolean(),
      freedVmemmapPages: Count,
    }),
  ),
  'hugetlb.free': ev(
    'hugetlb.free',
    '__update_and_free_page: the removed page (vmemmap restored) goes back to the buddy allocator.',
    Type.Object({ order: Order, headPfn: Pfn, nid: Nid }),
  ),
  'hugetlb.surplus': ev(
    'hugetlb.surplus',
    'adjust_pool_surplus: surplus_huge_pages(_node) change by delta (+1: a persistent page becomes surplus).',
    Type.Object({ order: Order, nid: Nid, delta: Type.Integer({ minimum: -1, maximum: 1 }), nextNid: Nid }),
  ),
  'hugetlb.use': ev(
    'hugetlb.use',
    'A user maps (dequeue_huge_page) or unmaps (free_huge_page back to the free list) a huge page.',
    Type.Object({ order: Order, headPfn: Pfn, inUse: Type.Boolean() }),
  ),
  'hugetlb.migrate': ev(
    'hugetlb.migrate',
    'offline_pages → do_migrate_range: an in-use huge page moves to a target page outside the range; the old one becomes free.',
    Type.Object({ order: Order, fromPfn: Pfn, toPfn: Pfn }),
  ),
  'hvo.split_pmd': ev(
    'hvo.split_pmd',
    'split_vmemmap_huge_pmd: a PMD-mapped 2 MiB vmemmap block is remapped by a new PTE table (one per PMD; later pages reuse it).',
    Type.Object({ pmdIndex: Count, va: Hex, node: Nid, source: SourceT }),
  ),
  'hvo.optimize': ev(
    'hvo.optimize',
    'hugetlb_vmemmap_optimize: tail vmemmap PTEs remapped read-only to the reuse page, the pages behind them freed.',
    Type.Object({
      order: Order,
      headPfn: Pfn,
      va: Hex,
      vmemmapPages: Count,
      kept: Count,
      newHead: Type.Boolean(),
      freedBoot: Count,
      freedBuddy: Count,
      /** Zone whose managed pages grow by the released boot (memblock-reserved) pages. */
      bootZone: Type.Union([ZoneNameT, Type.Null()]),
      nid: Nid,
    }),
  ),
  'hvo.skip': ev(
    'hvo.skip',
    'vmemmap_should_optimize said no (or the PTE-table allocation failed): the page keeps its whole vmemmap.',
    Type.Object({ order: Order, headPfn: Pfn, reason: SkipT }),
  ),
  'hvo.restore': ev(
    'hvo.restore',
    'hugetlb_vmemmap_restore: w − kept pages allocated and mapped read-write again before the page leaves the pool.',
    Type.Object({ order: Order, headPfn: Pfn, va: Hex, pages: Count, kept: Count }),
  ),
  'hvo.restore_fail': ev(
    'hvo.restore_fail',
    'hugetlb_vmemmap_restore failed (-ENOMEM): the page stays in the pool.',
    Type.Object({ order: Order, headPfn: Pfn, needed: Count, reason: Type.String() }),
  ),
} as const;

export type HugetlbEventType = keyof typeof hugetlbEventDefs;
export type HugetlbPayload<T extends HugetlbEventType> = Static<(typeof hugetlbEventDefs)[T]['schema']>;

// ---------------------------------------------------------------------------------------------------------
// Appliers
// ---------------------------------------------------------------------------------------------------------

const pagesOf = (order: number): number => 2 ** order;

/**
 * Walk vmemmap [va, va + n pages) one PMD at a time: `f` gets the PMD entry (or undefined) and the page indices
 * [a, b) of the span inside that PMD.
 */
function forPmdSpan<S extends ReadonlyMachineState>(
  s: S,
  va: bigint,
  nPages: number,
  f: (entry: ReturnType<S['vmemmap']['pmds']['get']>, a: number, b: number) => void,
): void {
  const g = s.machine.geometry;
  const perPmd = 2 ** (g.pmdShift - g.pageShift);
  let idx = Number(va >> BigInt(g.pmdShift));
  let a = Number((va - (BigInt(idx) << BigInt(g.pmdShift))) >> BigInt(g.pageShift));
  let left = nPages;
  while (left > 0) {
    const b = Math.min(perPmd, a + left);
    f(s.vmemmap.pmds.get(idx) as ReturnType<S['vmemmap']['pmds']['get']>, a, b);
    left -= b - a;
    idx += 1;
    a = 0;
  }
}

/** Apply `f` to the PTE runs covering vmemmap [va, va + n pages) (split per PMD). */
function forPteSpan(s: MachineState, va: bigint, nPages: number, f: (ptes: PteRun[], a: number, b: number) => void): void {
  forPmdSpan(s, va, nPages, (e, a, b) => {
    if (e && e.kind === 'table') f(e.ptes, a, b);
  });
}

function setSource(ptes: PteRun[], a: number, b: number, source: PteRun['source']): void {
  if (b <= a) return;
  removeRange(ptes, a, b);
  insertRun(ptes, { startIdx: a, endIdx: b, source, altmapId: null });
}

function zoneOf(s: MachineState, nid: number, zone: ZoneName) {
  return s.nodes.get(nid)?.zones.get(zone);
}

const bump = (m: Map<number, number>, k: number, d: number): void => {
  m.set(k, (m.get(k) ?? 0) + d);
};

/** First index whose interval ends after pfn. */
export function usedLowerBound(used: ReadonlyArray<readonly [number, number]>, pfn: number): number {
  let lo = 0;
  let hi = used.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (used[mid]![1] <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function occupy(h: HugetlbState, a: number, b: number): void {
  let i = usedLowerBound(h.used, a);
  let start = a;
  let end = b;
  if (i > 0 && h.used[i - 1]![1] === a) {
    start = h.used[i - 1]![0];
    h.used.splice(i - 1, 1);
    i -= 1;
  }
  if (i < h.used.length && h.used[i]![0] === b) {
    end = h.used[i]![1];
    h.used.splice(i, 1);
  }
  h.used.splice(i, 0, [start, end]);
}

function vacate(h: HugetlbState, a: number, b: number): void {
  const i = usedLowerBound(h.used, a);
  const r = h.used[i];
  if (!r || r[0] > a || r[1] < b) return;
  const parts: Array<[number, number]> = [];
  if (r[0] < a) parts.push([r[0], a]);
  if (b < r[1]) parts.push([b, r[1]]);
  h.used.splice(i, 1, ...parts);
}

function enqueue(hs: HstateState, page: HugePageState): void {
  bump(hs.free, page.nid, 1);
  let l = hs.freeLists.get(page.nid);
  if (!l) hs.freeLists.set(page.nid, (l = []));
  l.push(page.headPfn);
}

function dequeue(hs: HstateState, page: HugePageState): void {
  bump(hs.free, page.nid, -1);
  const l = hs.freeLists.get(page.nid);
  if (!l) return;
  const i = l.lastIndexOf(page.headPfn);
  if (i >= 0) l.splice(i, 1);
}

function join(h: HugetlbState, page: HugePageState): void {
  h.pages.set(page.headPfn, page);
  occupy(h, page.headPfn, page.headPfn + 2 ** page.order);
  const hs = h.hstates.get(page.order);
  if (!hs) return;
  bump(hs.nr, page.nid, 1);
  enqueue(hs, page);
}

type A<T extends HugetlbEventType> = (s: MachineState, p: HugetlbPayload<T>, e: EventEnvelope) => void;

const appliers: { [T in HugetlbEventType]: A<T> } = {
  'hugetlb.init': (s, p) => {
    const h = mut(s);
    h.defaultOrder = p.defaultOrder;
    for (const x of p.hstates) {
      h.hstates.set(x.order, {
        order: x.order,
        bytes: BigInt(x.bytes),
        gigantic: x.gigantic,
        movable: x.movable,
        vmemmapPages: x.vmemmapPages,
        surplus: new Map(),
        nr: new Map(),
        free: new Map(),
        freeLists: new Map(),
        nextNidToAlloc: 0,
        nextNidToFree: 0,
      });
    }
  },
  'hugetlb.alloc': (s, p, e) => {
    const h = mut(s);
    join(h, { headPfn: p.headPfn, order: p.order, nid: p.nid, zone: p.zone, inUse: false, enqueuedSeq: e.seq, hvo: 'disabled', newHead: false, freedVmemmapPages: 0 });
    const hs = h.hstates.get(p.order);
    if (hs) {
      hs.nextNidToAlloc = p.nextNidToAlloc;
      if (p.surplus) bump(hs.surplus, p.nid, 1);
    }
    s.counters.nrFreePages -= pagesOf(p.order);
  },
  'hugetlb.alloc_fail': () => {},
  'hugetlb.remove': (s, p) => {
    const h = mut(s);
    const page = h.pages.get(p.headPfn);
    const hs = h.hstates.get(p.order);
    if (!page || !hs) return;
    h.pages.delete(p.headPfn);
    vacate(h, page.headPfn, page.headPfn + 2 ** page.order);
    bump(hs.nr, page.nid, -1);
    if (!page.inUse) dequeue(hs, page);
    hs.nextNidToFree = p.nextNidToFree;
  },
  'hugetlb.add_back': (s, p, e) => {
    const h = mut(s);
    // The vmemmap is still optimised: the page comes back exactly as it left, minus the restore.
    join(h, { headPfn: p.headPfn, order: p.order, nid: p.nid, zone: p.zone, inUse: false, enqueuedSeq: e.seq, hvo: 'optimized', newHead: p.newHead, freedVmemmapPages: p.freedVmemmapPages });
    const hs = h.hstates.get(p.order);
    if (hs && p.adjustSurplus) bump(hs.surplus, p.nid, 1);
  },
  'hugetlb.free': (s, p) => {
    s.counters.nrFreePages += pagesOf(p.order);
  },
  'hugetlb.surplus': (s, p) => {
    const hs = mut(s).hstates.get(p.order);
    if (!hs) return;
    bump(hs.surplus, p.nid, p.delta);
    if (p.delta < 0) hs.nextNidToAlloc = p.nextNid;
    else hs.nextNidToFree = p.nextNid;
  },
  'hugetlb.use': (s, p, e) => {
    const h = mut(s);
    const pg = h.pages.get(p.headPfn);
    const hs = h.hstates.get(p.order);
    if (!pg || !hs || pg.inUse === p.inUse) return;
    pg.inUse = p.inUse;
    if (p.inUse) dequeue(hs, pg);
    else {
      pg.enqueuedSeq = e.seq;
      enqueue(hs, pg);
    }
  },
  'hugetlb.migrate': (s, p, e) => {
    const h = mut(s);
    const from = h.pages.get(p.fromPfn);
    const to = h.pages.get(p.toPfn);
    const hs = h.hstates.get(p.order);
    if (!hs) return;
    if (to && !to.inUse) {
      to.inUse = true;
      dequeue(hs, to);
    }
    if (from && from.inUse) {
      from.inUse = false;
      from.enqueuedSeq = e.seq;
      enqueue(hs, from);
    }
  },
  'hvo.split_pmd': (s, p) => {
    const g = s.machine.geometry;
    const e = s.vmemmap.pmds.get(p.pmdIndex);
    if (!e || e.kind !== 'leaf') return;
    const entries = 2 ** (g.pmdShift - g.pageShift);
    s.vmemmap.pmds.put(p.pmdIndex, { kind: 'table', ptes: [{ startIdx: 0, endIdx: entries, source: e.source, altmapId: e.altmapId }] });
    // the PTE table page comes from the page allocator (pte_alloc_one_kernel)
    s.vmemmap.tables.pte.put(p.pmdIndex, { source: 'buddy', entries });
    s.counters.vmemmapBuddyPages += 1;
    s.counters.nrFreePages -= 1;
  },
  'hvo.optimize': (s, p) => {
    const h = mut(s);
    const va = BigInt(p.va);
    const P = BigInt(s.machine.geometry.pageBytes);
    // tails [kept, w) now map the reuse page; the kept page(s) stay, except that 6.2+ moves the head to a new page
    forPteSpan(s, va + BigInt(p.kept) * P, p.vmemmapPages - p.kept, (ptes, a, b) => setSource(ptes, a, b, 'reuse'));
    if (p.newHead) forPteSpan(s, va, 1, (ptes, a, b) => setSource(ptes, a, b, 'buddy'));
    const c = s.counters;
    c.bootReservedPages -= p.freedBoot;
    c.nrMemmapBootPages -= p.freedBoot;
    c.vmemmapBuddyPages -= p.freedBuddy;
    c.nrMemmapPages -= p.freedBuddy;
    c.nrFreePages += p.freedBoot + p.freedBuddy;
    if (p.freedBoot > 0 && p.bootZone !== null) {
      const z = zoneOf(s, p.nid, p.bootZone);
      if (z) z.managedPages += p.freedBoot;
      c.totalramPages += p.freedBoot;
    }
    if (p.newHead) {
      c.vmemmapBuddyPages += 1;
      c.nrMemmapPages += 1;
      c.nrFreePages -= 1;
    }
    h.memmapDelta.boot -= p.freedBoot;
    h.memmapDelta.hotplug += (p.newHead ? 1 : 0) - p.freedBuddy;
    const pg = h.pages.get(p.headPfn);
    if (pg) {
      pg.hvo = 'optimized';
      pg.newHead = p.newHead;
      pg.freedVmemmapPages = p.freedBoot + p.freedBuddy - (p.newHead ? 1 : 0);
    }
    h.decisions.optimized += 1;
  },
  'hvo.skip': (s, p) => {
    const h = mut(s);
    const pg = h.pages.get(p.headPfn);
    if (pg) pg.hvo = p.reason;
    h.decisions.skipped.set(p.reason, (h.decisions.skipped.get(p.reason) ?? 0) + 1);
  },
  'hvo.restore': (s, p) => {
    const h = mut(s);
    const va = BigInt(p.va);
    const g = s.machine.geometry;
    // tails [kept, kept + pages) get fresh pages from the page allocator, mapped read-write again
    forPteSpan(s, va + BigInt(p.kept * g.pageBytes), p.pages, (ptes, a, b) => setSource(ptes, a, b, 'buddy'));
    const c = s.counters;
    c.vmemmapBuddyPages += p.pages;
    c.nrMemmapPages += p.pages;
    c.nrFreePages -= p.pages;
    h.memmapDelta.hotplug += p.pages;
    const pg = h.pages.get(p.headPfn);
    if (pg) {
      pg.hvo = 'disabled';
      pg.freedVmemmapPages = 0;
    }
    h.decisions.restored += 1;
  },
  'hvo.restore_fail': (s) => {
    mut(s).decisions.restoreFailed += 1;
  },
};

export const hugetlbAppliers: ApplierTable = appliers as unknown as ApplierTable;

/** The PTE runs of [va, va + n pages): what backs each vmemmap page (boot, buddy, altmap, reuse). */
export function vmemmapRunsOf(s: ReadonlyMachineState, va: bigint, nPages: number): PteRun[] {
  const out: PteRun[] = [];
  forPmdSpan(s, va, nPages, (e, a, b) => {
    if (e?.kind === 'table') out.push(...runsIn(e.ptes as PteRun[], a, b));
    else if (e?.kind === 'leaf') out.push({ startIdx: a, endIdx: b, source: e.source, altmapId: e.altmapId });
  });
  return out;
}
