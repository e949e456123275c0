/**
 * The architecture backend contract. Core never imports a backend: the CLI, tests and the browser viewer pass
 * one in. A backend is a plain object (think Kysely's `Dialect`): a few pure functions that answer questions
 * about the architecture for a given configuration, capability flags, and the arch's `vmemmap_populate` /
 * `vmemmap_free`, written against the generic vmemmap helpers that core provides through
 * {@link VmemmapContext} (the kernel's mm/sparse-vmemmap.c).
 *
 * Everything a backend decides is recorded as events, so a log replays without the backend's code.
 */
import type { KernelVersion } from '../kernel/version.js';
import type { ErrnoName } from '../kernel/errno.js';

/** The user's choice of machine, as far as the backend needs it. */
export interface ArchConfig {
  readonly pageSizeBytes: number;
  /** sizeof(struct page): 56, 64, 72 or 80 (apps/docs/kernel/constants.md#struct-page). */
  readonly structPageBytes: number;
  readonly kernel: KernelVersion;
  /**
   * Arch-specific switches: CPU flags and arch kernel parameters (x86: `pse`, `pdpe1gb`, `la57`, `hypervisor`;
   * arm64: `paBits`, `vaBits`, `rodataFull`; a third party: anything it declares in {@link ArchBackend.features}).
   */
  readonly features: Readonly<Record<string, boolean | number | string>>;
}

export type ZoneName = 'DMA' | 'DMA32' | 'Normal' | 'Movable' | 'Device';

/** Constants for one configuration. All sizes in bytes, all shifts in bits. */
export interface ArchConstants {
  readonly arch: string;
  readonly pageShift: number;
  /** SECTION_SIZE_BITS (apps/docs/kernel/constants.md#per-arch; arm64 depends on the kernel version). */
  readonly sectionSizeBits: number;
  /** MAX_PHYSMEM_BITS. */
  readonly maxPhysmemBits: number;
  /** PMD_SHIFT: the size mapped by one PMD entry (2 MiB / 32 MiB / 512 MiB). */
  readonly pmdShift: number;
  /** PUD_SHIFT. */
  readonly pudShift: number;
  /** Page-table levels in use (4 or 5 on x86; 3 or 4 on arm64 …). */
  readonly pgtableLevels: number;
  /** pageblock_order (apps/docs/kernel/constants.md#pageblock). */
  readonly pageblockOrder: number;
  /** Largest buddy order, inclusive (6.1's MAX_ORDER − 1). */
  readonly maxBuddyOrder: number;
  /** Virtual address of struct page for pfn 0 (x86: 0xffffea0000000000; arm64: offset by memstart). */
  readonly vmemmapBase: bigint;
  /** sizeof(struct mem_section): 16, or 32 with CONFIG_PAGE_EXTENSION. */
  readonly memSectionBytes: number;
  /**
   * Zone boundaries below ZONE_NORMAL: each zone ends (exclusive) at this physical address. Zones not listed do
   * not exist on this configuration. ZONE_NORMAL, ZONE_MOVABLE and ZONE_DEVICE always exist.
   */
  readonly lowZones: ReadonlyArray<{ readonly zone: 'DMA' | 'DMA32'; readonly endBytes: bigint }>;
}

/** Features the backend has for this configuration and kernel version. Each cites its source. */
export interface ArchCapabilities {
  /** memory hotplug supported at all (riscv64 only since 6.11). */
  readonly memoryHotplug: boolean;
  /** ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE (apps/docs/kernel/memmap-on-memory.md#arches). */
  readonly memmapOnMemory: boolean;
  /** ARCH_WANT_(HUGETLB_PAGE_)OPTIMIZE_VMEMMAP: HVO is selectable (apps/docs/kernel/hvo.md#sizes). */
  readonly hugetlbVmemmapOptimize: boolean;
  /** Compound devmap vmemmap dedup for device-DAX (apps/docs/kernel/zone-device.md#compound-dedup). */
  readonly daxVmemmapOptimize: boolean;
  /** ARCH_KEEP_MEMBLOCK: hot-added ranges are added to memblock (apps/docs/kernel/hotplug.md#add-steps step 5). */
  readonly keepMemblock: boolean;
  /** false on arm64: a notifier refuses MEM_GOING_OFFLINE of boot memory with -EPERM (apps/docs/kernel/vmemmap.md#arm64-populate). */
  readonly bootMemoryOfflinable: boolean;
  /** ZONE_DEVICE / memremap_pages available. */
  readonly zoneDevice: boolean;
}

export type HugepageLevel = 'cont-pte' | 'pmd' | 'cont-pmd' | 'pud';

export interface HugepageSize {
  readonly bytes: bigint;
  readonly level: HugepageLevel;
  /** A CPU feature the size needs (x86 1 GiB: `pdpe1gb`). */
  readonly requiresFeature?: string;
}

/** A kernel command-line parameter or arch switch the backend understands. */
export interface ParamSpec {
  readonly name: string;
  readonly kind: 'bool' | 'flag' | 'uint' | 'size' | 'enum' | 'string';
  readonly allowed?: readonly string[];
  readonly default: string;
  readonly description: string;
  /** Which {@link ArchConfig.features} key this parameter sets. */
  readonly feature?: string;
}

/** Inputs of the memory-block-size policy (apps/docs/kernel/hotplug.md#memory-blocks). */
export interface BlockSizeInput {
  /** End address of boot RAM (max_pfn << PAGE_SHIFT). */
  readonly bootRamEndBytes: bigint;
  /** An explicit override (the scenario's `blockSize`), already validated as a power of two ≥ a section. */
  readonly overrideBytes?: bigint;
}

export interface BlockSizeDecision {
  readonly bytes: bigint;
  /** The rule that decided, in words, e.g. "boot RAM ends below 64 GiB → 128 MiB". */
  readonly why: string;
}

/** Thrown (or returned) when a backend does not support a configuration. */
export interface Unsupported {
  readonly supported: false;
  readonly why: string;
}

// ---------------------------------------------------------------------------------------------------------
// The vmemmap populate contract
// ---------------------------------------------------------------------------------------------------------

/** What currently sits in the PMD entry that maps a vmemmap address. */
export type PmdEntryKind = 'none' | 'leaf' | 'table';

/** Where a vmemmap block or page came from (apps/docs/kernel/vmemmap.md#sources). */
export type VmemmapSource = 'boot' | 'buddy' | 'altmap' | 'reuse';

/** A handle on the altmap passed to populate; core owns its arithmetic (apps/docs/kernel/vmemmap.md#altmap). */
export interface AltmapHandle {
  readonly basePfn: number;
  readonly reserve: number;
  readonly free: number;
  readonly alloc: number;
  readonly align: number;
}

/**
 * Generic vmemmap helpers, implemented by core over its state and recorded as events. A backend's
 * `vmemmapPopulate` composes them the way its arch/…/mm code composes the kernel's helpers.
 * Addresses are vmemmap virtual addresses (bigint); ranges are half-open [start, end).
 */
export interface VmemmapContext {
  readonly constants: ArchConstants;
  readonly config: ArchConfig;
  /** Bytes of memmap that cover one full section (PAGES_PER_SECTION × sizeof(struct page)). */
  readonly sectionMemmapBytes: number;
  /** True while the machine boots (allocations come from memblock / the sparse buffer). */
  readonly booting: boolean;

  /** The PMD entry that maps `va`. */
  pmdEntry(va: bigint): PmdEntryKind;

  /**
   * vmemmap_populate_basepages: map every missing PAGE_SIZE page of [start, end) with a base page, allocating
   * the missing page-table pages. With an altmap the pages come from it (failure → -ENOMEM, no fallback to RAM).
   */
  populateBasePages(start: bigint, end: bigint, node: number, altmap: AltmapHandle | null, why?: string): 0 | ErrnoName;

  /**
   * Allocate one PMD_SIZE block for `va` (vmemmap_alloc_block_buf): from the altmap if given (never falling
   * back), else from boot memory while booting, else from the page allocator — where fault injection may make
   * it fail. Returns null on failure (an event records the failure).
   */
  allocPmdBlock(va: bigint, node: number, altmap: AltmapHandle | null): { source: VmemmapSource } | null;

  /** Install a PMD leaf for the PMD containing `va` backed by the block just allocated (allocating page tables above it). */
  mapPmdLeaf(va: bigint, source: VmemmapSource): 0 | ErrnoName;

  /** vmemmap_verify: the PMD already maps `va` (node check only; records nothing unless the node differs). */
  verifyPmd(va: bigint, node: number): void;

  /**
   * Sub-PMD usage of a PMD leaf (x86's PAGE_UNUSED tracking, apps/docs/kernel/vmemmap.md#x86-sub-pmd): record that [start, end) inside a
   * leaf is in use, or no longer in use. `markUnused` returns true when the whole leaf is now unused.
   */
  markPmdUsed(start: bigint, end: bigint): void;
  markPmdUnused(start: bigint, end: bigint): boolean;

  /**
   * Unmap [start, end) and free what backed it: PMD leaves wholly inside the range (to the altmap if given, else
   * to the page allocator or bootmem), PTE-mapped pages, and page-table pages that become empty. A leaf only
   * partly inside the range is freed when `freePartialLeaves` is set (arm64 ≤ 6.13 behaviour) or when
   * {@link markPmdUnused} reports it wholly unused (x86).
   */
  unmapRange(start: bigint, end: bigint, altmap: AltmapHandle | null, opts: { freePartialLeaves: boolean }): void;

  /** Emit a backend-specific note into the log (e.g. "PMD allocation failed, falling back to base pages"). */
  note(what: string, detail?: Readonly<Record<string, string | number | boolean>>): void;
}

/** The backend contract. */
export interface ArchBackend {
  /** The id as `uname -m` names it in the kernel's world: `x86_64`, `arm64`, `riscv64`. */
  readonly id: string;
  readonly aliases?: readonly string[];
  readonly displayName: string;
  /** Base page sizes this backend models. */
  readonly pageSizes: readonly number[];
  /** Arch-specific switches with their defaults (CPU flags and arch parameters). */
  readonly features: readonly ParamSpec[];

  /** Whether a configuration exists at all (e.g. riscv64 hotplug before 6.11 → unsupported). */
  supports(config: ArchConfig): { supported: true } | Unsupported;
  constants(config: ArchConfig): ArchConstants;
  capabilities(config: ArchConfig): ArchCapabilities;
  memoryBlockSize(config: ArchConfig, input: BlockSizeInput): BlockSizeDecision;
  hugepageSizes(config: ArchConfig): readonly HugepageSize[];
  /** Default huge page size (for /proc/meminfo's Hugepagesize and `hugepages=` without `hugepagesz=`). */
  defaultHugepageBytes(config: ArchConfig): bigint;

  /**
   * The 6.6+ arch hook of the memmap_on_memory predicate (`arch_supports_memmap_on_memory`): given the memmap
   * bytes of one block, may it be self-hosted? Absent → core uses the generic rule (a multiple of PMD_SIZE).
   */
  supportsMemmapOnMemory?(config: ArchConfig, vmemmapBytes: bigint): boolean;

  /**
   * vmemmap_populate(start, end, node, altmap) for the configured kernel version. Returns 0 or an errno name
   * (the hot-add then fails with it).
   */
  vmemmapPopulate(ctx: VmemmapContext, start: bigint, end: bigint, node: number, altmap: AltmapHandle | null): 0 | ErrnoName;

  /** vmemmap_free(start, end, altmap). */
  vmemmapFree(ctx: VmemmapContext, start: bigint, end: bigint, altmap: AltmapHandle | null): void;

  /**
   * Page shifts the direct/linear map may use for hot-added memory, largest first (x86 with pdpe1gb: 30, 21,
   * 12). Only used to report `linear_map.add`. Absent → PMD and base pages.
   */
  directMapShifts?(config: ArchConfig): readonly number[];

  /**
   * Page shifts the linear map of hot-added memory uses, largest first, when its page tables are to be charged
   * to free memory: they come from the buddy allocator and are counted nowhere in /proc/meminfo (arm64 6.1
   * arch_add_memory → __create_pgd_mapping with __pgd_pgtable_alloc, which runs no page-table constructor, so
   * not in PageTables; __remove_pgd_mapping frees the empty tables again). Absent → those tables are not modelled.
   */
  linearMapTableShifts?(config: ArchConfig): readonly number[];

  /**
   * arch_add_memory removes the linear mapping again when __add_pages fails (arm64: yes; x86: no, the kernel reference (apps/docs/kernel/)
   * apps/docs/kernel/hotplug.md#add-steps). Absent → false.
   */
  removesLinearMapOnAddFailure?(config: ArchConfig): boolean;
}

/** Resolve `aliases` (`x86` → `x86_64`, `aarch64` → `arm64`). */
export function backendMatches(b: ArchBackend, name: string): boolean {
  return b.id === name || (b.aliases ?? []).includes(name);
}
