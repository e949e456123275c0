/**
 * The machine state: plain data, written only by {@link evolve} (model/evolve.ts). Its size is proportional to
 * sections, memory blocks, altmaps, resources and vmemmap PMD entries — never to pages: a 64 TiB machine must fit
 * in a few hundred MiB.
 *
 * Handlers (commands, B's online/offline, drivers) read it through {@link ReadonlyMachineState}; only evolve
 * mutates it. Maps are keyed by numbers (section number, block id, PMD index …).
 */
import type { ArchCapabilities, ArchConstants, VmemmapSource, ZoneName } from '../arch/backend.js';
import type { MachineConfig, OnlineType } from '../api.js';
import type { KernelVersion } from '../kernel/version.js';
import type { TableMap } from './tables.js';
import type { KernelParams, RuntimeKnobs } from '../params/types.js';

// ---------------------------------------------------------------------------------------------------------
// Machine description (fixed at boot; carried by the log header so replay needs no backend)
// ---------------------------------------------------------------------------------------------------------

/**
 * Derived geometry of one configuration (apps/docs/kernel/constants.md#arch-independent, apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/sparse.md#section-table). Every value is a safe integer except the
 * byte sizes kept as bigint where they can exceed 2^53.
 */
export interface Geometry {
  readonly pageShift: number;
  readonly pageBytes: number;
  readonly structPageBytes: number;
  readonly sectionSizeBits: number;
  /** PFN_SECTION_SHIFT = SECTION_SIZE_BITS − PAGE_SHIFT. */
  readonly pfnSectionShift: number;
  readonly pagesPerSection: number;
  /** SUBSECTION_SHIFT is 21 on every arch (apps/docs/kernel/constants.md#arch-independent). */
  readonly pagesPerSubsection: number;
  readonly subsectionsPerSection: number;
  /** NR_MEM_SECTIONS = 2^(MAX_PHYSMEM_BITS − SECTION_SIZE_BITS). */
  readonly nrMemSections: number;
  /** SECTIONS_PER_ROOT = PAGE_SIZE / sizeof(struct mem_section) (SPARSEMEM_EXTREME). */
  readonly sectionsPerRoot: number;
  readonly pmdShift: number;
  readonly pudShift: number;
  readonly pgtableLevels: number;
  /** log2 of the entries of one page-table page (PAGE_SIZE / 8). */
  readonly ptrsShift: number;
  readonly pageblockOrder: number;
  readonly pageblockPages: number;
  readonly maxBuddyOrder: number;
  /** Bytes of memmap for one full section (PAGES_PER_SECTION × sizeof(struct page)). */
  readonly sectionMemmapBytes: number;
  /** Pages of memmap for one full section, rounded up (what nr_memmap_*pages counts per early section). */
  readonly sectionMemmapPages: number;
  readonly vmemmapBase: bigint;
  readonly maxPhysmemBits: number;
  readonly blockSizeBytes: bigint;
  readonly pagesPerBlock: number;
  readonly sectionsPerBlock: number;
}

/** Everything fixed at boot: the configuration, the backend's answers, and the derived geometry. */
export interface MachineInfo {
  readonly arch: string;
  readonly kernel: KernelVersion;
  readonly config: MachineConfig;
  readonly constants: ArchConstants;
  readonly capabilities: ArchCapabilities;
  readonly features: Readonly<Record<string, boolean | number | string>>;
  readonly blockSizeWhy: string;
  readonly geometry: Geometry;
  /** [start, end] of the hot-pluggable physical range (mhp_get_pluggable_range with a linear mapping). */
  readonly pluggableStartBytes: bigint;
  readonly pluggableEndBytes: bigint;
  /** Page shifts the direct map may use, largest first (e.g. x86 with pdpe1gb: 30, 21, 12). */
  readonly directMapShifts: readonly number[];
}

// ---------------------------------------------------------------------------------------------------------
// Mutable parts
// ---------------------------------------------------------------------------------------------------------

/** section_mem_map flag bits (apps/docs/kernel/sparse.md#section-flags). */
export const SECTION_MARKED_PRESENT = 1;
export const SECTION_HAS_MEM_MAP = 2;
export const SECTION_IS_ONLINE = 4;
export const SECTION_IS_EARLY = 8;
export const SECTION_TAINT_ZONE_DEVICE = 16;

/** One `struct mem_section` that is not all-zero (absent sections are absent from the map). */
export interface SectionState {
  /** SECTION_* bits; 0 for a section whose word was zeroed but whose boot usage is kept. */
  flags: number;
  /** Sub-section map (bit i = 2 MiB sub-section i of the section), or 0n. */
  subsectionMap: bigint;
  /** mem_section_usage: none, allocated from memblock at boot (kept when removed), or by kzalloc at hotplug. */
  usage: 'none' | 'boot' | 'slab';
  /** Node recorded by set_section_nid / memory_present. */
  nid: number;
}

/** A run of PTEs [startIdx, endIdx) inside one PTE table (indices 0 … 2^ptrsShift − 1) with one backing source. */
export interface PteRun {
  startIdx: number;
  endIdx: number;
  source: VmemmapSource;
  /** The altmap the pages came from (source 'altmap'). */
  altmapId: number | null;
}

export type PmdEntry =
  | {
      kind: 'leaf';
      source: VmemmapSource;
      node: number;
      altmapId: number | null;
      /**
       * Sub-PMD usage (x86 PAGE_UNUSED tracking, apps/docs/kernel/vmemmap.md#x86-sub-pmd) as sorted disjoint [start, end) byte offsets
       * inside the leaf; null = never tracked, i.e. wholly in use.
       */
      used: number[] | null;
    }
  | { kind: 'table'; ptes: PteRun[] };

export type PgtableLevel = 'pte' | 'pmd' | 'pud' | 'p4d';

/** A page-table page of the vmemmap mapping. */
export interface PgtablePage {
  source: 'boot' | 'buddy';
  /** Entries in use (PMD entries for a PMD table …); a table page with 0 entries is freed on depopulate. */
  entries: number;
}

export interface VmemmapState {
  /**
   * Key: va >> PMD_SHIFT (a safe integer for every 64-bit VA). A read-only Map over a table whose slot 0 is
   * vmemmap_base >> PMD_SHIFT (model/tables.ts TableMap), ascending.
   */
  pmds: TableMap<PmdEntry>;
  /**
   * Page-table pages by level. Key: va >> (the shift that table covers), i.e. a PTE table is keyed like its PMD
   * entry, a PMD table by va >> PUD_SHIFT, and so on. The top level (PGD) is never allocated here. TableMaps
   * like `pmds`, each based at vmemmap_base shifted by its level's shift.
   */
  tables: Record<PgtableLevel, TableMap<PgtablePage>>;
}

/** struct vmem_altmap (apps/docs/kernel/vmemmap.md#altmap). */
export interface AltmapState {
  id: number;
  basePfn: number;
  endPfn: number;
  reserve: number;
  free: number;
  align: number;
  alloc: number;
  /** Who built it: memmap_on_memory (per range ≤6.7, per block 6.8+) or a ZONE_DEVICE driver. */
  owner: 'memmap_on_memory' | 'device';
}

export type IomemFlag = 'system_ram' | 'busy' | 'driver_managed' | 'mergeable';

/** One iomem resource (a flat list: memhp models the top level of /proc/iomem). */
export interface ResourceState {
  id: number;
  startBytes: bigint;
  /** Inclusive, as /proc/iomem prints it. */
  endBytes: bigint;
  name: string;
  flags: IomemFlag[];
  /** true for boot RAM (firmware map), false for hot-added ranges. */
  boot: boolean;
}

export type BlockState = 'online' | 'offline' | 'going-offline';

/** struct memory_block (apps/docs/kernel/hotplug.md#memory-blocks). */
export interface MemoryBlockState {
  id: number;
  state: BlockState;
  /** mem->zone: set for boot blocks inside one zone and on a successful online; null otherwise. */
  zone: ZoneName | null;
  nid: number;
  /** Self-hosted memmap pages (memmap_on_memory), 0 otherwise. */
  nrVmemmapPages: number;
  /** The altmap whose pages hold this block's memmap (6.6+ stores the pointer; ≤6.5 only nrVmemmapPages). */
  altmapId: number | null;
  group: number | null;
  early: boolean;
  /** The online type the block was last onlined with (B fills it). */
  onlineType: OnlineType | null;
}

export interface ZoneState {
  name: ZoneName;
  nid: number;
  /** zone_start_pfn and spanned_pages; 0/0 for an empty zone. */
  startPfn: number;
  spannedPages: number;
  presentPages: number;
  /** present_early_pages (pages present at boot, used by auto-movable). */
  presentEarlyPages: number;
  managedPages: number;
  cmaPages: number;
}

export interface NodeState {
  id: number;
  /** node_online(): has a pgdat that is registered. */
  online: boolean;
  /** pgdat allocated (hotadd_init done or boot node). */
  pgdat: boolean;
  /** node has CPUs (try_offline_node keeps such nodes online). Boot nodes with memory are assumed to have one. */
  hasCpus: boolean;
  zones: Map<ZoneName, ZoneState>;
}

export interface MemoryGroupState {
  id: number;
  nid: number;
  kind: 'static' | 'dynamic';
  /** static: max_pages; dynamic: unit_pages. */
  pages: number;
  presentKernelPages: number;
  presentMovablePages: number;
}

/** Counters that are not derivable from the rest of the state (apps/docs/kernel/user-space.md#vmstat). */
export interface Counters {
  /** nr_memmap_pages: memmap pages allocated after boot, including altmap-backed ones (6.11+ vmstat). */
  nrMemmapPages: number;
  /** nr_memmap_boot_pages. */
  nrMemmapBootPages: number;
  /** nr_free_pages (buddy free pages). */
  nrFreePages: number;
  /** totalram_pages: Σ managed pages. */
  totalramPages: number;
  /** Pages reserved from memblock at boot for the memmap and the vmemmap page tables (not in MemTotal). */
  bootReservedPages: number;
  /** Other boot reservations from the machine description (kernel image, firmware, crashkernel …; memblock.reserve). */
  memblockReservedPages: number;
  /** Buddy pages currently used for vmemmap blocks and vmemmap page tables (MemFree went down by this). */
  vmemmapBuddyPages: number;
  /** Sections left behind by a failed __add_pages that the kernel does not roll back (apps/docs/kernel/hotplug.md#add-steps). */
  leakedSections: number;
  /** Kernel WARNs seen (section already deactivated, Altmap not fully unmapped, misaligned …). */
  warnings: number;
}

export interface MachineState {
  readonly machine: MachineInfo;
  params: KernelParams;
  knobs: RuntimeKnobs;
  booted: boolean;
  /** Simulated time of the last applied event (ns since boot). */
  timeNs: number;
  lastSeq: number;
  /** Operation id of the last applied event (0 = boot). */
  lastOp: number;
  nodes: Map<number, NodeState>;
  /**
   * Flat iomem list in request order (boot RAM first). Removal moves the last entry into the hole, so readers
   * that need address order sort (model/resources.ts `iomemSorted`); range queries go through the index.
   */
  resources: ResourceState[];
  /**
   * id → position in `resources` (undefined: no such resource). An array, not a Map: ids are small sequential
   * integers, and at 64 TiB a Map lookup is a cache miss (~100 ns) where an array slot is not.
   */
  resourceSlot: Array<number | undefined>;
  /**
   * Section number → the resources touching that section, in indexing order (range queries in O(sections of the
   * query)): the resource itself when it is the only one (the common case: one array fewer per hot-added block),
   * else a list; undefined for none. Objects rather than ids, so a query costs no id → slot → object hops. An
   * array by section number (V8 keeps a sparse one as a dictionary), for the same reason as `resourceSlot`.
   */
  resourceIndex: Array<ResourceState | ResourceState[] | undefined>;
  nextResourceId: number;
  /** Section roots allocated (root index → source). */
  roots: Map<number, 'boot' | 'slab'>;
  /** Sections by number: a read-only Map over `sectionTable` (model/tables.ts TableMap), ascending. */
  sections: TableMap<SectionState>;
  /**
   * The array behind `sections`, by section number (the kernel's mem_section is an array too), for the hot paths:
   * at scale a Map lookup is a cache miss (~100 ns) and an array slot is not. Views and other readers may use
   * either.
   */
  sectionTable: Array<SectionState | undefined>;
  /** __highest_present_section_nr. */
  highestPresentSection: number;
  vmemmap: VmemmapState;
  /** vmem_altmaps by id: a read-only Map over a table (model/tables.ts TableMap), ascending. */
  altmaps: TableMap<AltmapState>;
  nextAltmapId: number;
  /** Memory blocks by id: a read-only Map over `blockTable`, like `sections`. */
  blocks: TableMap<MemoryBlockState>;
  /** The array behind `blocks`, by block id (the kernel's memory_blocks xarray), like `sectionTable`. */
  blockTable: Array<MemoryBlockState | undefined>;
  groups: Map<number, MemoryGroupState>;
  counters: Counters;
  /** Once-only message sites that printed this boot (kernel/printk.ts ONCE_SITES, by message prefix). */
  printedOnce: Set<string>;
  /** Rate-limited message sites (kernel/printk.ts RATELIMITED_SITES) → the operation id of their last print. */
  ratelimited: Map<string, number>;
}

/** Deep read-only view for handlers: only evolve writes. */
export type DeepReadonly<T> = T extends bigint | number | string | boolean | null | undefined
  ? T
  : T extends TableMap<infer V>
    ? ReadonlyMap<number, DeepReadonly<V>>
    : T extends Map<infer K, infer V>
    ? ReadonlyMap<K, DeepReadonly<V>>
    : T extends Set<infer V>
      ? ReadonlySet<DeepReadonly<V>>
      : T extends ReadonlyArray<infer V>
        ? ReadonlyArray<DeepReadonly<V>>
        : T extends object
          ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
          : T;

export type ReadonlyMachineState = DeepReadonly<MachineState>;
