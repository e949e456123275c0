/**
 * Messages between the viewer page and its replay worker, and the plain data the page draws. Everything here is
 * structured-clone friendly (numbers, strings, plain objects): the worker owns the model state, the page only
 * ever sees projections of it. A frame's sections and PMD entries (thousands of small objects) travel as columns
 * ({@link encodeFrame}: typed arrays moved, not copied, and a short table of strings), and the page makes the same
 * objects again ({@link decodeFrame}): structured-cloning ~8,000 objects cost ~10 ms a seek each way.
 */

/** One section as drawn: where it is, its section_mem_map flags, its sub-section fill and its block's state. */
export interface DrawSection {
  readonly nr: number;
  /** SECTION_* bits (apps/docs/kernel/sparse.md#section-flags). */
  readonly flags: number;
  /** Sub-sections whose bit is set / sub-sections per section. */
  readonly subsectionsSet: number;
  /** The sub-section bitmap as hex, bit i = sub-section i. */
  readonly subsectionMap: string;
  readonly block: number;
  readonly blockState: 'online' | 'offline' | 'going-offline' | null;
  /** The block's zone, or 'Device' for a section touched only by ZONE_DEVICE, or null. */
  readonly zone: string | null;
  readonly early: boolean;
  readonly device: boolean;
}

/** One vmemmap PMD entry: a 2 MiB (PMD_SIZE) leaf, or a PTE table with runs of base pages. */
export interface DrawPmd {
  /** va >> PMD_SHIFT, relative to the first PMD of the vmemmap base. */
  readonly idx: number;
  readonly kind: 'leaf' | 'table';
  /** Leaf: its source. Table: the source of most of its PTEs. */
  readonly source: string;
  /** PTEs mapped (table) — 0 for a leaf. */
  readonly ptes: number;
}

export interface DrawBlock {
  readonly id: number;
  readonly state: 'online' | 'offline' | 'going-offline';
  readonly zone: string | null;
  readonly nrVmemmapPages: number;
}

export interface BlockCounts {
  readonly total: number;
  readonly byKind: Readonly<Record<string, number>>;
}

/** Everything drawn for the state after event `seq`. */
export interface Frame {
  readonly seq: number;
  readonly lastSeq: number;
  readonly event: { readonly seq: number; readonly type: string; readonly op: number; readonly summary: string } | null;
  readonly sections: readonly DrawSection[];
  /** Sections and PMD entries beyond what one frame draws (counted, not drawn: a 64 TiB machine has 2^19 sections). */
  readonly sectionsNotDrawn: number;
  readonly pmdsNotDrawn: number;
  readonly subsectionsPerSection: number;
  /**
   * Memory blocks counted by state, and by zone when online ("online Normal", "offline" …): a 6 TiB machine has
   * 49,152 blocks, and sending each to the page on every seek cost more than the seek may.
   */
  readonly blocks: BlockCounts;
  readonly pmds: readonly DrawPmd[];
  readonly pmdCounts: { readonly leaf: number; readonly table: number; readonly ptes: number; readonly bySource: Readonly<Record<string, number>> };
  /** Counters as /proc/meminfo (kB) and /proc/vmstat (pages) name them. */
  readonly counters: Readonly<Record<string, number>>;
  readonly hugetlb: { readonly optimized: number; readonly skipped: number; readonly restored: number };
}

/** Counter values at one point of the run (for the plot). */
export interface Sample {
  readonly seq: number;
  readonly values: Readonly<Record<string, number>>;
}

export type ToWorker =
  | { readonly kind: 'open'; readonly file: Blob; readonly name: string }
  | { readonly kind: 'seek'; readonly seq: number };

export type FromWorker =
  | { readonly kind: 'header'; readonly name: string; readonly header: { readonly kernel: string; readonly arch: string; readonly memhpVersion: string; readonly seed: number } }
  | { readonly kind: 'progress'; readonly events: number; readonly bytes: number }
  | {
      readonly kind: 'loaded';
      readonly lastSeq: number;
      readonly samples: readonly Sample[];
      readonly snapshots: number;
      /** States kept for seeking (never more afterwards): the viewer's memory is about this many copies of the state. */
      readonly statesKept: number;
      readonly ms: number;
      /** Of `ms`: waiting for the log's bytes, and packing snapshots (the rest: reading events and applying them). */
      readonly waitMs: number;
      readonly packMs: number;
    }
  | { readonly kind: 'frame'; readonly frame: WireFrame; readonly ms: number }
  /** Upkeep is done: every position is covered and no more states fit the memory budget (or would help). */
  | { readonly kind: 'idle'; readonly statesKept: number }
  | { readonly kind: 'error'; readonly message: string };

/** The counters plotted and shown, in display order. */
export const PLOTTED_COUNTERS = ['MemTotal', 'MemFree', 'nr_memmap_pages', 'nr_memmap_boot_pages'] as const;

/** Rows of one kind as columns: `nums` numbers and `codes` (index in `strings`, −1 for null; 0/1 for a boolean) a row. */
interface Rows {
  readonly n: number;
  readonly nums: Float64Array;
  readonly codes: Int32Array;
}

/**
 * A frame as posted: its sections and PMD entries as columns (their buffers are moved to the page), or null when
 * they are the same as the frame posted before ({@link encodeFrame}'s `prev`): most seeks in a large log change
 * none of the cells drawn, and the page then keeps its own (and paints nothing again).
 */
export type WireFrame = Omit<Frame, 'sections' | 'pmds'> & { readonly sections: Rows | null; readonly pmds: Rows | null; readonly strings: readonly string[] };

function sameSections(a: readonly DrawSection[], b: readonly DrawSection[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x.nr !== y.nr ||
      x.flags !== y.flags ||
      x.subsectionsSet !== y.subsectionsSet ||
      x.subsectionMap !== y.subsectionMap ||
      x.block !== y.block ||
      x.blockState !== y.blockState ||
      x.zone !== y.zone ||
      x.early !== y.early ||
      x.device !== y.device
    )
      return false;
  }
  return true;
}

function samePmds(a: readonly DrawPmd[], b: readonly DrawPmd[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.idx !== y.idx || x.kind !== y.kind || x.source !== y.source || x.ptes !== y.ptes) return false;
  }
  return true;
}

const SECTION_NUMS = 4;
const SECTION_CODES = 5;
const PMD_NUMS = 2;
const PMD_CODES = 2;

/**
 * A frame as columns, and the buffers to move with it (postMessage's transfer list). Given the frame posted before
 * (`prev`), sections or PMD entries equal to its are not sent (null): the page has them.
 */
export function encodeFrame(f: Frame, prev?: Frame | null): { wire: WireFrame; transfer: ArrayBuffer[] } {
  const strings: string[] = [];
  const index = new Map<string, number>();
  const str = (x: string | null): number => {
    if (x === null) return -1;
    let i = index.get(x);
    if (i === undefined) {
      i = strings.length;
      strings.push(x);
      index.set(x, i);
    }
    return i;
  };
  // (the columns of rows the page has are not built)
  const keepS = !!prev && sameSections(prev.sections, f.sections);
  const keepP = !!prev && samePmds(prev.pmds, f.pmds);
  const ns = keepS ? 0 : f.sections.length;
  const sn = new Float64Array(ns * SECTION_NUMS);
  const sc = new Int32Array(ns * SECTION_CODES);
  for (let j = 0; j < ns; j++) {
    const x = f.sections[j]!;
    const i = j * SECTION_NUMS;
    sn[i] = x.nr;
    sn[i + 1] = x.flags;
    sn[i + 2] = x.subsectionsSet;
    sn[i + 3] = x.block;
    const k = j * SECTION_CODES;
    sc[k] = str(x.subsectionMap);
    sc[k + 1] = str(x.blockState);
    sc[k + 2] = str(x.zone);
    sc[k + 3] = x.early ? 1 : 0;
    sc[k + 4] = x.device ? 1 : 0;
  }
  const np = keepP ? 0 : f.pmds.length;
  const pn = new Float64Array(np * PMD_NUMS);
  const pc = new Int32Array(np * PMD_CODES);
  for (let j = 0; j < np; j++) {
    const x = f.pmds[j]!;
    pn[j * PMD_NUMS] = x.idx;
    pn[j * PMD_NUMS + 1] = x.ptes;
    pc[j * PMD_CODES] = str(x.kind);
    pc[j * PMD_CODES + 1] = str(x.source);
  }
  const wire: WireFrame = {
    ...f,
    sections: keepS ? null : { n: ns, nums: sn, codes: sc },
    pmds: keepP ? null : { n: np, nums: pn, codes: pc },
    strings,
  };
  return { wire, transfer: [...(keepS ? [] : [sn.buffer, sc.buffer]), ...(keepP ? [] : [pn.buffer, pc.buffer])] };
}

/**
 * The frame {@link encodeFrame} was given, equal to it; `prev` is the frame decoded before, whose sections and PMD
 * entries (the same arrays) stand for those not sent. Without one (a frame of a log no longer shown) they are empty.
 */
export function decodeFrame(w: WireFrame, prev?: Frame | null): Frame {
  const { strings } = w;
  const str = (c: number): string | null => (c < 0 ? null : strings[c]!);
  const { strings: _s, ...rest } = w;
  void _s;
  return { ...rest, sections: w.sections ? decodeSections(w.sections, strings, str) : (prev?.sections ?? []), pmds: w.pmds ? decodePmds(w.pmds, strings) : (prev?.pmds ?? []) };
}

function decodeSections(rows: Rows, strings: readonly string[], str: (c: number) => string | null): DrawSection[] {
  const sections: DrawSection[] = new Array(rows.n);
  const { nums: sn, codes: sc } = rows;
  for (let j = 0; j < sections.length; j++) {
    const i = j * SECTION_NUMS;
    const k = j * SECTION_CODES;
    sections[j] = {
      nr: sn[i]!,
      flags: sn[i + 1]!,
      subsectionsSet: sn[i + 2]!,
      subsectionMap: strings[sc[k]!]!,
      block: sn[i + 3]!,
      blockState: str(sc[k + 1]!) as DrawSection['blockState'],
      zone: str(sc[k + 2]!),
      early: sc[k + 3] === 1,
      device: sc[k + 4] === 1,
    };
  }
  return sections;
}

function decodePmds(rows: Rows, strings: readonly string[]): DrawPmd[] {
  const pmds: DrawPmd[] = new Array(rows.n);
  const { nums: pn, codes: pc } = rows;
  for (let j = 0; j < pmds.length; j++) {
    pmds[j] = { idx: pn[j * PMD_NUMS]!, kind: strings[pc[j * PMD_CODES]!] as DrawPmd['kind'], source: strings[pc[j * PMD_CODES + 1]!]!, ptes: pn[j * PMD_NUMS + 1]! };
  }
  return pmds;
}
