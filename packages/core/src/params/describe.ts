/**
 * `memhp params`: every kernel command-line parameter and runtime knob memhp models, for one kernel version and
 * (optionally) one backend, with its default, the values allowed, whether it exists in that kernel and where
 * that is documented. The CLI prints this table as is.
 */
import type { ArchBackend, ParamSpec } from '../arch/backend.js';
import { pick, type KernelVersion } from '../kernel/version.js';
import { autoMovablePolicy, autoOnlineDefault, hugetlbFreeVmemmapParam, memmapOnMemoryParamType } from '../kernel/rules.js';

export interface ParamDescription {
  /** As written on the command line (`memory_hotplug.memmap_on_memory`), or the sysfs/proc name for runtime-only knobs. */
  readonly name: string;
  readonly kind: 'bool' | 'flag' | 'uint' | 'size' | 'enum' | 'string' | 'list';
  readonly default: string;
  readonly allowed: string;
  /** False when this kernel does not have the parameter (the kernel would ignore it or pass it to init). */
  readonly exists: boolean;
  /** Where it can be changed after boot, and the file's mode; absent for boot-only parameters. */
  readonly runtime?: { readonly path: string; readonly mode: '0444' | '0644' };
  /** `core` or the backend id that declared it. */
  readonly origin: string;
  readonly description: string;
  readonly source: string;
}

/** Every parameter memhp understands for `kernel` (and the backend's own, if one is given). */
export function describeParams(kernel: KernelVersion, backend?: ArchBackend): ParamDescription[] {
  const momType = pick(memmapOnMemoryParamType, kernel);
  const autoMovable = pick(autoMovablePolicy, kernel);
  const hvo = pick(hugetlbFreeVmemmapParam, kernel);
  const bool = 'y/Y/1/t/T/on, n/N/0/f/F/off (kstrtobool)';
  const out: ParamDescription[] = [
    {
      name: 'memory_hotplug.memmap_on_memory',
      kind: momType === 'bool-or-force' ? 'enum' : 'bool',
      default: 'N',
      allowed: momType === 'bool-or-force' ? `${bool}, force` : bool,
      exists: momType !== 'absent',
      runtime: { path: '/sys/module/memory_hotplug/parameters/memmap_on_memory', mode: '0444' },
      origin: 'core',
      description: 'place the memmap of hot-added memory blocks on the memory itself; read-only after boot',
      source: 'apps/docs/kernel/memmap-on-memory.md#support, apps/docs/kernel/knobs.md#cmdline',
    },
    {
      name: 'memhp_default_state',
      kind: 'enum',
      default: pick(autoOnlineDefault, kernel).value,
      allowed: 'offline, online, online_kernel, online_movable (anything else is ignored by the kernel)',
      exists: true,
      runtime: { path: '/sys/devices/system/memory/auto_online_blocks', mode: '0644' },
      origin: 'core',
      description: `initial auto_online_blocks; default from ${pick(autoOnlineDefault, kernel).kconfig}`,
      source: 'apps/docs/kernel/knobs.md#cmdline, apps/docs/kernel/user-space.md#sysfs',
    },
    {
      name: 'movable_node',
      kind: 'flag',
      default: 'off',
      allowed: 'flag',
      exists: true,
      origin: 'core',
      description: 'contig-zones onlines blocks that intersect no zone or both to ZONE_MOVABLE',
      source: 'apps/docs/kernel/hotplug.md#onlining, apps/docs/kernel/knobs.md#cmdline',
    },
    {
      name: 'memory_hotplug.online_policy',
      kind: 'enum',
      default: 'contig-zones',
      allowed: 'contig-zones, auto-movable',
      exists: autoMovable,
      runtime: { path: '/sys/module/memory_hotplug/parameters/online_policy', mode: '0644' },
      origin: 'core',
      description: 'zone choice when a block is onlined with plain "online"',
      source: 'apps/docs/kernel/hotplug.md#onlining, apps/docs/kernel/knobs.md#cmdline (5.15+)',
    },
    {
      name: 'memory_hotplug.auto_movable_ratio',
      kind: 'uint',
      default: '301',
      allowed: '0 … 4294967295 (percent)',
      exists: autoMovable,
      runtime: { path: '/sys/module/memory_hotplug/parameters/auto_movable_ratio', mode: '0644' },
      origin: 'core',
      description: 'maximum MOVABLE:KERNEL_EARLY ratio the auto-movable policy allows',
      source: 'apps/docs/kernel/hotplug.md#auto-movable, apps/docs/kernel/knobs.md#cmdline (5.15+)',
    },
    {
      name: 'memory_hotplug.auto_movable_numa_aware',
      kind: 'bool',
      default: 'Y',
      allowed: bool,
      exists: autoMovable,
      runtime: { path: '/sys/module/memory_hotplug/parameters/auto_movable_numa_aware', mode: '0644' },
      origin: 'core',
      description: 'auto-movable also checks the ratio per node',
      source: 'apps/docs/kernel/hotplug.md#auto-movable, apps/docs/kernel/knobs.md#cmdline (5.15+)',
    },
    {
      name: 'hugetlb_free_vmemmap',
      kind: 'bool',
      default: 'off',
      allowed: hvo === 'on-off' ? 'on, off' : bool,
      exists: hvo !== 'absent',
      runtime: hvo === 'kstrtobool' ? { path: '/proc/sys/vm/hugetlb_optimize_vmemmap', mode: '0644' } : undefined,
      origin: 'core',
      description: 'HugeTLB Vmemmap Optimization at boot; the sysctl exists only when struct page is a power of two',
      source: 'apps/docs/kernel/hvo.md#conditions, apps/docs/kernel/knobs.md#cmdline, apps/docs/kernel/knobs.md#runtime',
    },
    {
      name: 'hugepagesz',
      kind: 'size',
      default: '(none)',
      allowed: 'a huge page size of the arch',
      exists: true,
      origin: 'core',
      description: 'selects the hstate the following hugepages= applies to',
      source: 'apps/docs/kernel/knobs.md#cmdline; mm/hugetlb.c hugepagesz_setup',
    },
    {
      name: 'hugepages',
      kind: 'list',
      default: '0',
      allowed: 'count, or node:count,node:count',
      exists: true,
      origin: 'core',
      description: 'boot-time HugeTLB pool of the preceding hugepagesz= (or the default size)',
      source: 'apps/docs/kernel/knobs.md#cmdline; mm/hugetlb.c hugepages_setup',
    },
    {
      name: 'default_hugepagesz',
      kind: 'size',
      default: 'the arch default',
      allowed: 'a huge page size of the arch',
      exists: true,
      origin: 'core',
      description: 'the size /proc/meminfo HugePages_* and vm.nr_hugepages refer to',
      source: 'apps/docs/kernel/knobs.md#cmdline',
    },
    {
      name: 'mem',
      kind: 'size',
      default: '(no limit)',
      allowed: 'nn[KMGTPE]',
      exists: true,
      origin: 'core',
      description: 'limits boot memory; x86 also refuses hot-add above it while booting (-E2BIG)',
      source: 'apps/docs/kernel/hotplug.md#add-steps step 0b, apps/docs/kernel/knobs.md#cmdline',
    },
    {
      name: 'kernelcore',
      kind: 'string',
      default: '(none)',
      allowed: 'nn[KMGTPE], nn%, mirror',
      exists: true,
      origin: 'core',
      description: 'size of the kernel zones at boot (the rest of boot memory goes to ZONE_MOVABLE)',
      source: 'apps/docs/kernel/knobs.md#cmdline',
    },
    {
      name: 'movablecore',
      kind: 'string',
      default: '(none)',
      allowed: 'nn[KMGTPE], nn%',
      exists: true,
      origin: 'core',
      description: 'size of ZONE_MOVABLE at boot',
      source: 'apps/docs/kernel/knobs.md#cmdline',
    },
    {
      name: 'vm.nr_overcommit_hugepages',
      kind: 'uint',
      default: '0',
      allowed: 'unsigned long',
      exists: true,
      runtime: { path: '/proc/sys/vm/nr_overcommit_hugepages', mode: '0644' },
      origin: 'core',
      description: 'surplus HugeTLB pages allowed for the default size',
      source: 'apps/docs/kernel/knobs.md#runtime',
    },
  ];
  for (const p of backend?.features ?? []) {
    out.push({
      name: p.name,
      kind: p.kind,
      default: p.default,
      allowed: p.allowed?.join(', ') ?? p.kind,
      exists: true,
      origin: backend?.id ?? 'arch',
      description: p.description,
      source: `the ${backend?.displayName ?? 'arch'} backend`,
    });
  }
  return out;
}

/**
 * The same list as {@link describeParams}, as the backend contract's {@link ParamSpec} shape (what `memhp
 * params` prints next to a backend's own switches); parameters this kernel lacks are left out.
 */
export function paramSpecs(kernel: KernelVersion): ParamSpec[] {
  return describeParams(kernel)
    .filter((d) => d.exists)
    .map((d) => ({
      name: d.name,
      kind: d.kind === 'list' ? 'string' : d.kind,
      default: d.default,
      ...(d.kind === 'enum' ? { allowed: d.allowed.replace(/ \(.*\)$/, '').split(', ') } : {}),
      description: `${d.description}${d.runtime ? ` [${d.runtime.path}, ${d.runtime.mode}]` : ''}`,
    }));
}
