/**
 * Every behaviour of the memory-hotplug code that changed across the releases memhp models, written once with
 * the range it holds for and its source (apps/docs/kernel/timeline.md#timeline). Other modules read these with `pick(rule, kernel)` (or
 * the helpers at the bottom) and never compare versions themselves.
 *
 * Ranges are half-open: `since` inclusive, `until` exclusive; `defineRule` checks that exactly one range covers
 * each supported version.
 */
import { defineRule, pick, type KernelVersion, type VersionRule } from './version.js';

// ---------------------------------------------------------------------------------------------------------
// memmap_on_memory (apps/docs/kernel/memmap-on-memory.md#memmap-on-memory)
// ---------------------------------------------------------------------------------------------------------

/** Whether `memory_hotplug.memmap_on_memory` exists at all, and how its value is parsed. */
export const memmapOnMemoryParamType = defineRule<'absent' | 'bool' | 'bool-or-force'>({
  name: 'memmap_on_memory parameter type',
  source: 'apps/docs/kernel/memmap-on-memory.md#support, apps/docs/kernel/knobs.md#cmdline; commit a08a2ae34613 (v5.13, seed 000); 6.6 memmap_on_memory_set (force)',
  ranges: [
    { until: '5.13', value: 'absent', note: 'parameter unknown before 5.13' },
    { since: '5.13', until: '6.6', value: 'bool', note: 'module_param(bool, 0444): kstrtobool' },
    { since: '6.6', value: 'bool-or-force', note: 'custom ops: "force"/"FORCE" or kstrtobool; reads Y/N/force' },
  ],
});

/**
 * How memmap_on_memory and HVO (hugetlb_free_vmemmap) exclude each other.
 * - `predicate`: mhp_supports_memmap_on_memory() refuses while HVO is enabled (5.14–5.18).
 * - `param-parse`: the parameter setter leaves memmap_on_memory off when HVO is on, and the
 *   `vm.hugetlb_optimize_vmemmap` sysctl is not registered while memmap_on_memory is on (5.19).
 * - `coexist`: VmemmapSelfHosted lets both be on (6.0+, seed 001).
 */
export const memmapOnMemoryHvoExclusion = defineRule<'none' | 'predicate' | 'param-parse' | 'coexist'>({
  name: 'memmap_on_memory vs HVO',
  source: 'apps/docs/kernel/memmap-on-memory.md#support (5.14–5.19 row), apps/docs/kernel/hvo.md#conditions item 5; commit 66361095129b (v6.0, seed 001)',
  ranges: [
    { until: '5.14', value: 'none', note: 'no HVO before 5.14' },
    { since: '5.14', until: '5.19', value: 'predicate' },
    { since: '5.19', until: '6.0', value: 'param-parse' },
    { since: '6.0', value: 'coexist' },
  ],
});

/**
 * The arithmetic of mhp_supports_memmap_on_memory.
 * - `pmd-pageblock` (5.13–6.5): V multiple of PMD_SIZE and (B − V) multiple of the pageblock size.
 * - `pages-force-arch` (6.6+): V page-aligned; m = PFN_UP(V), pageblock-aligned in force mode; m pageblock-aligned;
 *   m < B/P; then arch_supports_memmap_on_memory(V) (generic: V multiple of PMD_SIZE).
 */
export const memmapOnMemoryArithmetic = defineRule<'none' | 'pmd-pageblock' | 'pages-force-arch'>({
  name: 'memmap_on_memory support arithmetic',
  source: 'apps/docs/kernel/memmap-on-memory.md#support; mm/memory_hotplug.c mhp_supports_memmap_on_memory (5.13, 6.1, 6.6)',
  ranges: [
    { until: '5.13', value: 'none' },
    { since: '5.13', until: '6.6', value: 'pmd-pageblock' },
    { since: '6.6', value: 'pages-force-arch' },
  ],
});

/** The predicate takes the size of the add request and demands it equal one memory block (gone in 6.8). */
export const memmapOnMemorySizeMustEqualBlock = defineRule<boolean>({
  name: 'memmap_on_memory: request size must equal one memory block',
  source: 'apps/docs/kernel/memmap-on-memory.md#support (6.8+ row), apps/docs/kernel/hotplug.md#add-steps "6.8"; create_altmaps_and_memory_blocks (6.8)',
  ranges: [
    { until: '6.8', value: true },
    { since: '6.8', value: false, note: 'multi-block adds are split into per-block adds, each with its own altmap' },
  ],
});

/** What add_memory does when MHP_MEMMAP_ON_MEMORY is requested but unsupported. */
export const memmapOnMemoryUnsupportedFlag = defineRule<'EINVAL' | 'ignore'>({
  name: 'add_memory with an unsupported MHP_MEMMAP_ON_MEMORY',
  source: 'apps/docs/kernel/hotplug.md#add-steps step 7 and "6.6"; apps/docs/kernel/hotplug.md#errors',
  ranges: [
    { until: '6.6', value: 'EINVAL' },
    { since: '6.6', value: 'ignore', note: 'falls back to a RAM-backed memmap silently' },
  ],
});

/** altmap.free of a memmap_on_memory add: the whole added range, or exactly one block's memmap pages. */
export const memmapOnMemoryAltmapFree = defineRule<'whole-range' | 'one-block-memmap'>({
  name: 'memmap_on_memory altmap free',
  source: 'apps/docs/kernel/vmemmap.md#altmap "Who builds altmaps"',
  ranges: [
    { until: '6.6', value: 'whole-range' },
    { since: '6.6', value: 'one-block-memmap', note: 'force: rounded up to a pageblock' },
  ],
});

/** What the memory block keeps: nr_vmemmap_pages (≤6.5) or a pointer to its altmap (6.6+). */
export const memoryBlockVmemmapRecord = defineRule<'nr_vmemmap_pages' | 'altmap'>({
  name: 'memory_block vmemmap record',
  source: 'apps/docs/kernel/hotplug.md#add-steps "6.6", apps/docs/kernel/memmap-on-memory.md#accounting',
  ranges: [
    { until: '6.6', value: 'nr_vmemmap_pages' },
    { since: '6.6', value: 'altmap' },
  ],
});

/** try_remove_memory's rule for ranges containing memmap_on_memory blocks (apps/docs/kernel/hotplug.md#removal). */
export const memmapOnMemoryRemoveGranularity = defineRule<'none' | 'single-block' | 'per-block'>({
  name: 'remove granularity with memmap_on_memory',
  source: 'apps/docs/kernel/hotplug.md#removal step 3 and "6.8+"; apps/docs/kernel/hotplug.md#errors last row',
  ranges: [
    { until: '5.13', value: 'none' },
    { since: '5.13', until: '6.8', value: 'single-block', note: 'size ≠ one block → -EINVAL "wrong granularity"' },
    { since: '6.8', value: 'per-block', note: 'all blocks self-hosted → block by block; mixed → WARN + -EINVAL' },
  ],
});

/** The ACPI memory-device driver requests MHP_MEMMAP_ON_MEMORY, asking the predicate with the device length. */
export const acpiMemhpMemmapOnMemory = defineRule<'never' | 'device-length' | 'no-size'>({
  name: 'ACPI memory device requests memmap_on_memory',
  source: 'apps/docs/kernel/memmap-on-memory.md#support last paragraph, apps/docs/kernel/memmap-on-memory.md#examples row 13; drivers/acpi/acpi_memhotplug.c',
  ranges: [
    { until: '5.13', value: 'never' },
    { since: '5.13', until: '6.8', value: 'device-length', note: 'only a device of exactly one block benefits' },
    { since: '6.8', value: 'no-size', note: 'any DIMM benefits (per-block altmaps)' },
  ],
});

/** dax/kmem requests MHP_MEMMAP_ON_MEMORY (apps/docs/kernel/memmap-on-memory.md#lifecycle, apps/docs/kernel/timeline.md#timeline 6.8). */
export const daxKmemMemmapOnMemory = defineRule<boolean>({
  name: 'dax/kmem requests memmap_on_memory',
  source: 'apps/docs/kernel/memmap-on-memory.md#lifecycle, apps/docs/kernel/timeline.md#timeline (6.8)',
  ranges: [{ until: '6.8', value: false }, { since: '6.8', value: true }],
});

// ---------------------------------------------------------------------------------------------------------
// HVO (apps/docs/kernel/hvo.md#hvo) — the parts params/ and views/ need; issue 5 owns the pool itself
// ---------------------------------------------------------------------------------------------------------

/** Syntax of `hugetlb_free_vmemmap=`. */
export const hugetlbFreeVmemmapParam = defineRule<'absent' | 'on-off' | 'kstrtobool'>({
  name: 'hugetlb_free_vmemmap= syntax',
  source: 'apps/docs/kernel/hvo.md#conditions item 2, apps/docs/kernel/knobs.md#cmdline; mm/hugetlb_vmemmap.c early_param (5.14 strcmp on/off; 5.19 kstrtobool)',
  ranges: [
    { until: '5.14', value: 'absent' },
    { since: '5.14', until: '5.19', value: 'on-off' },
    { since: '5.19', value: 'kstrtobool' },
  ],
});

/** vmemmap pages HVO keeps per HugeTLB page (HUGETLB_VMEMMAP_RESERVE_SIZE / PAGE_SIZE). */
export const hvoReservedVmemmapPages = defineRule<number | null>({
  name: 'HVO vmemmap pages kept per HugeTLB page',
  source: 'apps/docs/kernel/constants.md#arch-independent HUGETLB_VMEMMAP_RESERVE_SIZE, apps/docs/kernel/hvo.md#what-it-does; 5.18 frees the 2nd vmemmap page',
  ranges: [
    { until: '5.14', value: null, note: 'no HVO' },
    { since: '5.14', until: '5.18', value: 2 },
    { since: '5.18', value: 1 },
  ],
});

/** HVO allocates a fresh head vmemmap page (6.2, commit 11aad2631bf7). */
export const hvoNewHeadPage = defineRule<boolean>({
  name: 'HVO remaps the head to a newly allocated page',
  source: 'apps/docs/kernel/hvo.md#steps step 2, apps/docs/kernel/hvo.md#accounting; commit 11aad2631bf7 (6.2)',
  ranges: [{ until: '6.2', value: false }, { since: '6.2', value: true }],
});

/** When `vm.hugetlb_optimize_vmemmap` is registered. */
export const hvoSysctlRegistration = defineRule<'absent' | 'pow2-and-no-memmap-on-memory' | 'pow2-and-optimisable-hstate'>({
  name: 'vm.hugetlb_optimize_vmemmap registration',
  source: 'apps/docs/kernel/hvo.md#conditions items 2–4, apps/docs/kernel/knobs.md#runtime; mm/hugetlb_vmemmap.c hugetlb_vmemmap_init (6.1)',
  ranges: [
    { until: '5.19', value: 'absent' },
    { since: '5.19', until: '6.0', value: 'pow2-and-no-memmap-on-memory' },
    { since: '6.0', value: 'pow2-and-optimisable-hstate' },
  ],
});

// ---------------------------------------------------------------------------------------------------------
// Hotplug core, memory blocks, online/offline
// ---------------------------------------------------------------------------------------------------------

/** Memory groups (static/dynamic), MHP_NID_IS_MGID. */
export const memoryGroups = defineRule<boolean>({
  name: 'memory groups',
  source: 'apps/docs/kernel/hotplug.md#entry-points "Memory groups", apps/docs/kernel/timeline.md#timeline (5.15)',
  ranges: [{ until: '5.15', value: false }, { since: '5.15', value: true }],
});

/** `memory_hotplug.online_policy`, `auto_movable_ratio`, `auto_movable_numa_aware` exist. */
export const autoMovablePolicy = defineRule<boolean>({
  name: 'online_policy=auto-movable and its parameters',
  source: 'apps/docs/kernel/hotplug.md#auto-movable, apps/docs/kernel/timeline.md#timeline (5.15)',
  ranges: [{ until: '5.15', value: false }, { since: '5.15', value: true }],
});

/** Which mhp_t flags exist (apps/docs/kernel/hotplug.md#entry-points table). */
export const mhpFlagsAvailable = defineRule<readonly string[]>({
  name: 'mhp_t flags',
  source: 'apps/docs/kernel/hotplug.md#entry-points mhp_t table',
  ranges: [
    { until: '5.13', value: ['merge_resource'] },
    { since: '5.13', until: '5.15', value: ['merge_resource', 'memmap_on_memory'] },
    { since: '5.15', until: '6.9', value: ['merge_resource', 'memmap_on_memory', 'nid_is_mgid'] },
    { since: '6.9', value: ['merge_resource', 'memmap_on_memory', 'nid_is_mgid', 'offline_inaccessible'] },
  ],
});

/** SECTION_TAINT_ZONE_DEVICE (5.12, verify). */
export const sectionTaintZoneDevice = defineRule<boolean>({
  name: 'SECTION_TAINT_ZONE_DEVICE',
  source: 'apps/docs/kernel/sparse.md#section-flags bit 4, apps/docs/kernel/timeline.md#timeline (5.12, verify)',
  ranges: [{ until: '5.12', value: false }, { since: '5.12', value: true }],
});

/** Where the auto-online default comes from (apps/docs/kernel/knobs.md#cmdline, apps/docs/kernel/hotplug.md#add-steps "6.14"). Default value is offline in both. */
export const autoOnlineDefault = defineRule<{ readonly kconfig: string; readonly value: 'offline' }>({
  name: 'auto-online default',
  source: 'apps/docs/kernel/knobs.md#cmdline memhp_default_state, apps/docs/kernel/hotplug.md#add-steps "6.14", apps/docs/kernel/readings.md#readings auto_online_blocks [host]',
  ranges: [
    { until: '6.14', value: { kconfig: 'CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE (default n)', value: 'offline' } },
    { since: '6.14', value: { kconfig: 'CONFIG_MHP_DEFAULT_ONLINE_TYPE_OFFLINE (default)', value: 'offline' } },
  ],
});

/** Memory notifier actions beyond the classic six (apps/docs/kernel/hotplug.md#memory-blocks states; s390 only in practice). */
export const memPrepareOnlineNotifier = defineRule<boolean>({
  name: 'MEM_PREPARE_ONLINE / MEM_FINISH_OFFLINE',
  source: 'apps/docs/kernel/hotplug.md#memory-blocks, apps/docs/kernel/timeline.md#timeline (6.9); later removal not pinned (verify)',
  ranges: [{ until: '6.9', value: false }, { since: '6.9', value: true }],
});

/** `nr_memmap_pages` / `nr_memmap_boot_pages` in /proc/vmstat. */
export const nrMemmapCounters = defineRule<boolean>({
  name: '/proc/vmstat nr_memmap_pages, nr_memmap_boot_pages',
  source: 'apps/docs/kernel/user-space.md#vmstat, apps/docs/kernel/timeline.md#timeline (6.11)',
  ranges: [{ until: '6.11', value: false }, { since: '6.11', value: true }],
});

/** virtio-mem Big Block Mode (device block larger than a memory block). */
export const virtioMemBigBlockMode = defineRule<boolean>({
  name: 'virtio-mem Big Block Mode',
  source: 'drivers/virtio/virtio_mem.c (BBM merged for 5.11); apps/docs/kernel/timeline.md#timeline lists virtio-mem users',
  ranges: [{ until: '5.11', value: false }, { since: '5.11', value: true }],
});

/** Node notifiers split out of the memory notifier (6.17). */
export const nodeNotifiers = defineRule<boolean>({
  name: 'node notifiers (NODE_ADDING_FIRST_MEMORY …)',
  source: 'apps/docs/kernel/timeline.md#timeline (6.17)',
  ranges: [{ until: '6.17', value: false }, { since: '6.17', value: true }],
});

/** Every rule above, for `memhp rules` and the docs. */
export const KERNEL_RULES: readonly VersionRule<unknown>[] = [
  memmapOnMemoryParamType,
  memmapOnMemoryHvoExclusion,
  memmapOnMemoryArithmetic,
  memmapOnMemorySizeMustEqualBlock,
  memmapOnMemoryUnsupportedFlag,
  memmapOnMemoryAltmapFree,
  memoryBlockVmemmapRecord,
  memmapOnMemoryRemoveGranularity,
  acpiMemhpMemmapOnMemory,
  daxKmemMemmapOnMemory,
  hugetlbFreeVmemmapParam,
  hvoReservedVmemmapPages,
  hvoNewHeadPage,
  hvoSysctlRegistration,
  memoryGroups,
  autoMovablePolicy,
  mhpFlagsAvailable,
  sectionTaintZoneDevice,
  autoOnlineDefault,
  memPrepareOnlineNotifier,
  nrMemmapCounters,
  virtioMemBigBlockMode,
  nodeNotifiers,
];

/** The value of every rule for one kernel, by rule name (for `memhp params --kernel` and log headers). */
export function rulesFor(kernel: KernelVersion): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const r of KERNEL_RULES) out[r.name] = pick(r, kernel);
  return out;
}
