/**
 * The public facade of the kernel model: what the CLI, the docs viewer and tests drive. Model logic lives in
 * the folders named after the kernel's concepts (sparse/, vmemmap/, hotplug/, hugetlb/, device/ …); this
 * file only names the inputs and outputs.
 */
import type { KernelVersion } from './kernel/version.js';
import type { ZoneName } from './arch/backend.js';

/** Flags of add_memory (`mhp_t`, apps/docs/kernel/hotplug.md#entry-points). */
export type MhpFlag = 'merge_resource' | 'memmap_on_memory' | 'nid_is_mgid' | 'offline_inaccessible';

/** Online types written to a memory block's `state` file (MMOP_*, apps/docs/kernel/hotplug.md#memory-blocks). */
export type OnlineType = 'online' | 'online_kernel' | 'online_movable';

import type { PgmapType, PgmapTypeAlias } from './device/types.js';

/** ZONE_DEVICE page-map types by the kernel's names (`enum memory_type`, apps/docs/kernel/zone-device.md#pgmap-types), and their aliases. */
export { PGMAP_TYPES, PGMAP_TYPE_ALIASES, PGMAP_TYPE_NAMES, parsePgmapType, type PgmapType, type PgmapTypeAlias } from './device/types.js';

export interface PhysRange {
  readonly startBytes: bigint;
  readonly sizeBytes: bigint;
}

export interface NodeConfig {
  readonly id: number;
  /** Boot RAM of the node; holes between ranges are allowed. A node without ranges is memoryless at boot. */
  readonly memory: readonly PhysRange[];
  /**
   * Pages per zone the kernel reserves at boot that memhp does not model (kernel image, initrd, firmware,
   * crashkernel, other memblock allocations): present but never managed. Not the boot memmap or its page tables,
   * which boot computes itself. Derive it from a real kernel with `deriveBootReservations`.
   */
  readonly reservedPages?: Readonly<Partial<Record<ZoneName, number>>>;
}

/** A machine as the user describes it (the scenario's `machine:` block, already parsed). */
export interface MachineConfig {
  /** Backend id (`x86_64`, `arm64`, or a third-party id). */
  readonly arch: string;
  readonly pageSizeBytes: number;
  readonly structPageBytes: number;
  readonly kernel: KernelVersion;
  /** The kernel command line, parsed by core the kernel's way (params/). */
  readonly cmdline: string;
  /** Arch switches (CPU flags, arch parameters) on top of the backend's defaults. */
  readonly features?: Readonly<Record<string, boolean | number | string>>;
  /** Overrides the arch's memory-block-size policy. */
  readonly blockSizeBytes?: bigint;
  readonly nodes: readonly NodeConfig[];
  /** Runtime sysctls and module parameters applied right after boot (`vm.hugetlb_optimize_vmemmap`: "1"). */
  readonly sysctls?: Readonly<Record<string, string>>;
}

/**
 * Commands: everything a scenario step can ask the simulated kernel to do. Each returns the kernel's result
 * (0 or a negative errno) as a KResult and records its steps as events.
 */
export type Command =
  // Raw kernel entry points (apps/docs/kernel/hotplug.md#entry-points)
  | { readonly kind: 'add_memory'; readonly node: number; readonly range: PhysRange; readonly flags: readonly MhpFlag[] }
  | {
      readonly kind: 'add_memory_driver_managed';
      readonly node: number;
      readonly range: PhysRange;
      readonly resourceName: string;
      readonly flags: readonly MhpFlag[];
    }
  | { readonly kind: 'remove_memory'; readonly range: PhysRange }
  | { readonly kind: 'offline_and_remove_memory'; readonly range: PhysRange }
  | { readonly kind: 'probe'; readonly startBytes: bigint }
  // sysfs (apps/docs/kernel/user-space.md#sysfs)
  | { readonly kind: 'block_state'; readonly block: number; readonly state: OnlineType | 'offline' }
  | { readonly kind: 'block_online'; readonly block: number; readonly online: boolean }
  | { readonly kind: 'auto_online_blocks'; readonly value: OnlineType | 'offline' }
  | { readonly kind: 'sysctl'; readonly name: string; readonly value: string }
  // Drivers users meet (issue: callers)
  | { readonly kind: 'plug_dimm'; readonly id: string; readonly node: number; readonly sizeBytes: bigint; readonly startBytes?: bigint }
  | { readonly kind: 'unplug_dimm'; readonly id: string }
  | {
      readonly kind: 'virtio_mem';
      readonly id: string;
      readonly node?: number;
      readonly regionStartBytes?: bigint;
      readonly regionBytes?: bigint;
      readonly requestedBytes: bigint;
      readonly deviceBlockBytes?: bigint;
    }
  | { readonly kind: 'dax_kmem'; readonly id: string; readonly node: number; readonly range: PhysRange; readonly action: 'online' | 'offline' }
  // HugeTLB (apps/docs/kernel/hvo.md#hvo)
  | { readonly kind: 'hugepages'; readonly node?: number; readonly sizeBytes: bigint; readonly count: number }
  /** A user maps `pages` huge pages (negative: unmaps them); sizeBytes 0 = the default size (issue 5). */
  | { readonly kind: 'hugetlb_use'; readonly node?: number; readonly sizeBytes: bigint; readonly pages: number }
  // ZONE_DEVICE (apps/docs/kernel/zone-device.md#zone-device)
  | {
      readonly kind: 'memremap_pages';
      readonly id?: string;
      readonly node: number;
      readonly range: PhysRange;
      /** The kernel's enum memory_type name, or one of its short aliases (normalised when the command runs). */
      readonly type: PgmapType | PgmapTypeAlias;
      /** pmem namespace memmap on the device (map=dev): the altmap reserve in bytes (info block etc.). */
      readonly altmapReserveBytes?: bigint;
      readonly altmapFreeBytes?: bigint;
      /** Compound page order of the pgmap (vmemmap_shift), for device-DAX dedup. */
      readonly vmemmapShift?: number;
    }
  | { readonly kind: 'memunmap_pages'; readonly id?: string; readonly range?: PhysRange };

export type CommandKind = Command['kind'];
