/**
 * Projects core's machine state into what the viewer draws. Pure functions over the state `evolve` built: the
 * viewer never decides anything itself, it only reads the section table, the memory blocks, the vmemmap PMD
 * entries and core's counter views.
 *
 * The state types are written structurally (the subset read here) so the page can be type-checked without
 * reaching into core's internals; core's own `MachineState` satisfies them.
 */
import type { BlockCounts, DrawBlock, DrawPmd, DrawSection, Frame } from './protocol.js';

/** SECTION_* bits of section_mem_map (apps/docs/kernel/sparse.md#section-flags). */
export const SECTION_MARKED_PRESENT = 1;
export const SECTION_HAS_MEM_MAP = 2;
export const SECTION_IS_ONLINE = 4;
export const SECTION_IS_EARLY = 8;
export const SECTION_TAINT_ZONE_DEVICE = 16;

export interface GeometryLike {
  readonly pageBytes: number;
  readonly pagesPerSection: number;
  readonly subsectionsPerSection: number;
  readonly sectionsPerBlock: number;
  readonly pmdShift: number;
  readonly vmemmapBase: bigint;
}

export interface StateLike {
  readonly machine: { readonly geometry: GeometryLike };
  readonly lastSeq?: number;
  readonly sections: ReadonlyMap<number, { readonly flags: number; readonly subsectionMap: bigint; readonly usage?: string }>;
  readonly blocks: ReadonlyMap<number, { readonly id: number; readonly state: 'online' | 'offline' | 'going-offline'; readonly zone: string | null; readonly nrVmemmapPages: number }>;
  readonly vmemmap: {
    readonly pmds: ReadonlyMap<
      number,
      | { readonly kind: 'leaf'; readonly source: string }
      | { readonly kind: 'table'; readonly ptes: ReadonlyArray<{ readonly startIdx: number; readonly endIdx: number; readonly source: string }> }
    >;
  };
  readonly counters: {
    readonly nrMemmapPages: number;
    readonly nrMemmapBootPages: number;
    readonly nrFreePages: number;
    readonly totalramPages: number;
  };
}

/** Views a core build may provide (named as /proc names its files); absent ones fall back to state counters. */
export interface CounterViews {
  meminfo?: (s: never) => Readonly<Record<string, unknown>>;
  vmstat?: (s: never) => Readonly<Record<string, unknown>>;
}

export function popcount(x: bigint): number {
  return popcountHex(x.toString(16));
}

/** Bits set in each hex digit. */
const HEX_BITS: Record<string, number> = { '0': 0, '1': 1, '2': 1, '3': 2, '4': 1, '5': 2, '6': 2, '7': 3, '8': 1, '9': 2, a: 2, b: 3, c: 2, d: 3, e: 3, f: 4 };

/** Bits set in a number written in hex (no prefix): a digit at a time rather than 64 bigint shifts. */
function popcountHex(hex: string): number {
  let n = 0;
  for (let i = 0; i < hex.length; i++) n += HEX_BITS[hex[i]!]!;
  return n;
}

/**
 * A map's values as a table by key: core's TableMap keeps its entries in a plain array by key (its `table` and
 * `base` fields are public), and the loops below read it directly — 49,152 entries a frame, without generators or a
 * callback a value (the frame's projection took 8 ms a seek through one shared callback loop, 3 through these).
 * Null for any other map, or a table much sparser than the map (those are read through sorted keys).
 */
function tableOf<V>(m: ReadonlyMap<number, V>): { table: ReadonlyArray<V | undefined>; base: number } | null {
  const t = m as unknown as { table?: unknown; base?: unknown; spill?: unknown };
  if (Array.isArray(t.table) && typeof t.base === 'number' && (t.spill === null || t.spill === undefined)) {
    const table = t.table as Array<V | undefined>;
    if (table.length <= 4 * m.size + 1024) return { table, base: t.base };
  }
  return null;
}

/** A map's entries in ascending key order, as [keys, values] (from its table when it has one). */
function ascending<V>(m: ReadonlyMap<number, V>): { keys: number[]; values: V[] } {
  const t = tableOf(m);
  const keys: number[] = [];
  const values: V[] = [];
  if (t) {
    for (let i = 0; i < t.table.length; i++) {
      const v = t.table[i];
      if (v !== undefined) {
        keys.push(t.base + i);
        values.push(v);
      }
    }
  } else {
    for (const k of sortedKeys(m)) {
      keys.push(k);
      values.push(m.get(k)!);
    }
  }
  return { keys, values };
}

/** A counter value from a view: numbers as they are, "123 kB" strings parsed, anything else dropped. */
function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    const m = /^\s*(-?\d+)(\s*kB)?\s*$/.exec(v);
    if (m) return Number(m[1]);
  }
  if (v && typeof v === 'object' && 'value' in v) return num((v as { value: unknown }).value);
  return undefined;
}

/**
 * The plotted counters: MemTotal/MemFree in kB as /proc/meminfo prints them, nr_memmap_* in pages as
 * /proc/vmstat does. Core's views are the source of truth; without them MemTotal = totalram_pages and
 * MemFree = nr_free_pages (apps/docs/kernel/user-space.md#meminfo, apps/docs/kernel/user-space.md#vmstat), which is what those views compute.
 */
export function counters(state: StateLike, views: CounterViews): Record<string, number> {
  const kbPerPage = state.machine.geometry.pageBytes / 1024;
  const c = state.counters;
  const out: Record<string, number> = {
    MemTotal: c.totalramPages * kbPerPage,
    MemFree: c.nrFreePages * kbPerPage,
    nr_memmap_pages: c.nrMemmapPages,
    nr_memmap_boot_pages: c.nrMemmapBootPages,
  };
  const mi = views.meminfo?.(state as never);
  const vs = views.vmstat?.(state as never);
  for (const k of ['MemTotal', 'MemFree'] as const) {
    const v = num(mi?.[k]);
    if (v !== undefined) out[k] = v;
  }
  for (const k of ['nr_memmap_pages', 'nr_memmap_boot_pages', 'nr_free_pages'] as const) {
    const v = num(vs?.[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Sections in number order with their block's state and zone (apps/docs/kernel/hotplug.md#memory-blocks: block id = section nr / sections per block). */
export function drawSections(state: StateLike): DrawSection[] {
  return drawSectionsUpTo(state, Infinity).items;
}

/**
 * The first `max` sections of {@link drawSections} and how many more there are: the rest are only counted (a
 * 6 TiB machine has 49 152 sections; formatting each one's sub-section bitmap costs more than the frame may).
 */
export function drawSectionsUpTo(state: StateLike, max: number): { items: DrawSection[]; dropped: number } {
  const g = state.machine.geometry;
  const items: DrawSection[] = [];
  let dropped = 0;
  const t = tableOf(state.sections);
  const { keys, values } = t ? { keys: null, values: t.table } : ascending(state.sections);
  const base = t ? t.base : 0;
  for (let i = 0; i < values.length; i++) {
    const s = values[i];
    if (s === undefined || (s.flags === 0 && s.subsectionMap === 0n)) continue;
    if (items.length >= max) {
      dropped++;
      continue;
    }
    const nr = keys ? keys[i]! : base + i;
    const hex = s.subsectionMap.toString(16);
    const blockId = Math.floor(nr / g.sectionsPerBlock);
    const b = state.blocks.get(blockId);
    const device = (s.flags & SECTION_TAINT_ZONE_DEVICE) !== 0 || (!b && (s.flags & SECTION_HAS_MEM_MAP) !== 0);
    items.push({
      nr,
      flags: s.flags,
      subsectionsSet: popcountHex(hex),
      subsectionMap: '0x' + hex,
      block: blockId,
      blockState: b?.state ?? null,
      zone: b?.zone ?? (device ? 'Device' : null),
      early: (s.flags & SECTION_IS_EARLY) !== 0,
      device,
    });
  }
  return { items, dropped };
}

/** The kind a block is counted as: its state, and its zone when online ("online Normal"). */
export function blockKind(b: { readonly state: string; readonly zone: string | null }): string {
  return b.state === 'online' ? `online ${b.zone ?? 'none'}` : b.state;
}

/** Memory blocks counted by {@link blockKind}: what the viewer shows of 49,152 blocks, without sending each. */
export function countBlocks(state: StateLike): BlockCounts {
  // counted by state and zone first (a short list: a handful of kinds), named once at the end: no string or map
  // lookup per block
  const states: string[] = [];
  const zones: Array<string | null> = [];
  const counts: number[] = [];
  let total = 0;
  const t = tableOf(state.blocks);
  const values = t ? t.table : ascending(state.blocks).values;
  let last = -1;
  for (let i = 0; i < values.length; i++) {
    const b = values[i];
    if (b === undefined) continue;
    total++;
    const zone = b.state === 'online' ? b.zone : null;
    if (last >= 0 && states[last] === b.state && zones[last] === zone) {
      counts[last]!++;
      continue;
    }
    last = -1;
    for (let j = 0; j < states.length; j++) {
      if (states[j] === b.state && zones[j] === zone) {
        last = j;
        break;
      }
    }
    if (last < 0) {
      last = states.length;
      states.push(b.state);
      zones.push(zone);
      counts.push(0);
    }
    counts[last]!++;
  }
  const byKind: Record<string, number> = {};
  for (let j = 0; j < states.length; j++) {
    const k = blockKind({ state: states[j]!, zone: zones[j]! });
    byKind[k] = (byKind[k] ?? 0) + counts[j]!;
  }
  return { total, byKind };
}

/** Keys in ascending order: a TableMap yields them so already, and a sorted array is only checked, not sorted. */
function sortedKeys(m: ReadonlyMap<number, unknown>): number[] {
  const keys = Array.from(m.keys());
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return keys.sort((a, b) => a - b);
  return keys;
}

export function drawBlocks(state: StateLike): DrawBlock[] {
  return [...state.blocks.values()]
    .sort((a, b) => a.id - b.id)
    .map((b) => ({ id: b.id, state: b.state, zone: b.zone, nrVmemmapPages: b.nrVmemmapPages }));
}

/**
 * PMD entries of the vmemmap, in address order, with the source that backs each (boot, buddy, altmap, reuse): the
 * first `max` of them, the rest counted in `counts` and `dropped`.
 */
export function drawPmds(state: StateLike, max = Infinity): { pmds: DrawPmd[]; counts: Frame['pmdCounts']; dropped: number } {
  const g = state.machine.geometry;
  const base = Number(g.vmemmapBase >> BigInt(g.pmdShift));
  const pmds: DrawPmd[] = [];
  const bySource: Record<string, number> = {};
  let leaf = 0;
  let table = 0;
  let ptes = 0;
  const t = tableOf(state.vmemmap.pmds);
  const { keys, values } = t ? { keys: null, values: t.table } : ascending(state.vmemmap.pmds);
  const first = t ? t.base : 0;
  // leaves counted by source in a run (most neighbours share theirs), added to bySource when the source changes
  let runSource = '';
  let run = 0;
  for (let i = 0; i < values.length; i++) {
    const e = values[i];
    if (e === undefined) continue;
    const k = keys ? keys[i]! : first + i;
    if (e.kind === 'leaf') {
      leaf++;
      if (e.source !== runSource) {
        if (run) bySource[runSource] = (bySource[runSource] ?? 0) + run;
        runSource = e.source;
        run = 0;
      }
      run++;
      if (pmds.length < max) pmds.push({ idx: k - base, kind: 'leaf', source: e.source, ptes: 0 });
    } else {
      table++;
      const per: Record<string, number> = {};
      let n = 0;
      for (const r of e.ptes) {
        const c = r.endIdx - r.startIdx;
        n += c;
        per[r.source] = (per[r.source] ?? 0) + c;
      }
      ptes += n;
      const main = Object.entries(per).sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'none';
      bySource[main] = (bySource[main] ?? 0) + 1;
      if (pmds.length < max) pmds.push({ idx: k - base, kind: 'table', source: main, ptes: n });
    }
  }
  if (run) bySource[runSource] = (bySource[runSource] ?? 0) + run;
  return { pmds, counts: { leaf, table, ptes, bySource }, dropped: leaf + table - pmds.length };
}

/** At most `max` items: draw the rest as a count, never hang the page on a 64 TiB machine. */
export function cap<T>(items: readonly T[], max: number): { items: T[]; dropped: number } {
  return items.length <= max ? { items: [...items], dropped: 0 } : { items: items.slice(0, max), dropped: items.length - max };
}

/**
 * Keeps a bounded series of counter samples over a run of unknown length: every `every`-th event is sampled;
 * when the buffer is full, every other sample is dropped and the stride doubles. Memory stays O(max).
 */
export class SampleSeries {
  private samples: Array<{ seq: number; values: Record<string, number> }> = [];
  private every = 1;
  constructor(private readonly max = 2000) {}
  wants(seq: number): boolean {
    return seq % this.every === 0;
  }
  push(seq: number, values: Record<string, number>): void {
    const last = this.samples[this.samples.length - 1];
    if (last && last.seq === seq) {
      last.values = values;
      return;
    }
    this.samples.push({ seq, values });
    if (this.samples.length > this.max) {
      // Samples sit on multiples of the stride; keeping multiples of twice the stride halves them. The newest
      // sample is kept whatever its seq, so the series always ends at the last event pushed.
      const stride = this.every * 2;
      const last = this.samples.length - 1;
      this.samples = this.samples.filter((s, i) => s.seq % stride === 0 || i === last);
      this.every = stride;
    }
  }
  get stride(): number {
    return this.every;
  }
  toArray(): Array<{ seq: number; values: Record<string, number> }> {
    return this.samples.slice();
  }
}
