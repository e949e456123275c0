/**
 * Kernel parameters as the kernel holds them after parsing the command line (apps/docs/kernel/knobs.md#cmdline), plus the runtime
 * knobs (apps/docs/kernel/knobs.md#runtime). Parsing lives in params/cmdline.ts; this is the parsed shape every other module reads.
 */
import type { OnlineType } from '../api.js';

export type MemmapOnMemoryParam = 'off' | 'on' | 'force';
export type OnlinePolicy = 'contig-zones' | 'auto-movable';

export interface HugepagesRequest {
  /** Size from the preceding `hugepagesz=`, or null for the default huge page size. */
  readonly sizeBytes: bigint | null;
  /** Global count, or per-node counts (`hugepages=0:2,1:3`). */
  readonly count: number;
  readonly perNode?: Readonly<Record<number, number>>;
}

export interface KernelParams {
  /** memory_hotplug.memmap_on_memory (5.13–6.5 boolean; 6.6+ Y/N/force). */
  readonly memmapOnMemory: MemmapOnMemoryParam;
  /** memhp_default_state= → initial auto_online_blocks. */
  readonly memhpDefaultState: OnlineType | 'offline';
  readonly movableNode: boolean;
  readonly onlinePolicy: OnlinePolicy;
  readonly autoMovableRatio: number;
  readonly autoMovableNumaAware: boolean;
  /** hugetlb_free_vmemmap= (HVO at boot). */
  readonly hugetlbFreeVmemmap: boolean;
  readonly hugepages: readonly HugepagesRequest[];
  readonly defaultHugepageBytes: bigint | null;
  /** mem= limit, if given. */
  readonly memLimitBytes: bigint | null;
  /** Arch parameters and CPU switches the backend declared, by feature key. */
  readonly arch: Readonly<Record<string, boolean | number | string>>;
  /** Words the kernel accepted but memhp does not model, kept for the log header. */
  readonly passthrough: readonly string[];
}

/** Runtime knobs that change after boot (sysctls, writable module parameters, sysfs). */
export interface RuntimeKnobs {
  readonly autoOnlineBlocks: OnlineType | 'offline';
  readonly onlinePolicy: OnlinePolicy;
  readonly autoMovableRatio: number;
  readonly autoMovableNumaAware: boolean;
  /** vm.hugetlb_optimize_vmemmap (5.19+), or null when the sysctl is not registered. */
  readonly hugetlbOptimizeVmemmap: boolean | null;
  readonly nrOvercommitHugepages: number;
}
