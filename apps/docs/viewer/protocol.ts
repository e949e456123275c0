/**
 * Messages between the viewer page and its replay worker, and the plain data the page draws. Everything here is
 * structured-clone friendly (numbers, strings, plain objects): the worker owns the model state, the page only
 * ever sees projections of it.
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
    }
  | { readonly kind: 'frame'; readonly frame: Frame; readonly ms: number }
  /** Upkeep is done: every position is covered and no more states fit the memory budget (or would help). */
  | { readonly kind: 'idle'; readonly statesKept: number }
  | { readonly kind: 'error'; readonly message: string };

/** The counters plotted and shown, in display order. */
export const PLOTTED_COUNTERS = ['MemTotal', 'MemFree', 'nr_memmap_pages', 'nr_memmap_boot_pages'] as const;
