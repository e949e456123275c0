/**
 * Runtime knobs: sysctls, memory_hotplug module parameters under /sys/module, and the memory subsystem's
 * `auto_online_blocks` (apps/docs/kernel/knobs.md#runtime, apps/docs/kernel/user-space.md#sysfs). A write is checked the way the kernel checks it — the file must
 * exist for this kernel and configuration (else -ENOENT), be writable (kernfs refuses to open a 0444
 * attribute for writing, even for root: -EACCES), and the value must parse (-EINVAL, or -ERANGE for a uint
 * out of range) — and then yields the new knobs. Pure: the caller records the change as an event.
 */
import type { ErrnoName } from '../kernel/errno.js';
import { pick, type KernelVersion } from '../kernel/version.js';
import { autoMovablePolicy, hvoSysctlRegistration, memmapOnMemoryParamType } from '../kernel/rules.js';
import { kstrtobool, onlineTypeFromStr } from './cmdline.js';
import type { KernelParams, RuntimeKnobs } from './types.js';

export interface KnobContext {
  readonly kernel: KernelVersion;
  readonly params: KernelParams;
  readonly structPageBytes: number;
  /** At least one hstate of this configuration is optimisable (w > 1, apps/docs/kernel/hvo.md#conditions item 4). Default true. */
  readonly optimisableHstate?: boolean;
  /** The arch selects HVO (ArchCapabilities.hugetlbVmemmapOptimize). Default true. */
  readonly hvoCapable?: boolean;
}

export interface KnobSpec {
  /** Canonical name: `vm.x`, `memory_hotplug.x` or `memory.auto_online_blocks`. */
  readonly name: string;
  /** The file user space writes. */
  readonly path: string;
  /** Octal file mode as the kernel registers it. */
  readonly mode: '0444' | '0644';
  readonly allowed: string;
  readonly description: string;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Runtime knobs as they are right after boot (apps/docs/kernel/knobs.md#cmdline defaults, then the command line). */
export function initialKnobs(ctx: KnobContext): RuntimeKnobs {
  const { params } = ctx;
  return {
    autoOnlineBlocks: params.memhpDefaultState,
    onlinePolicy: params.onlinePolicy,
    autoMovableRatio: params.autoMovableRatio,
    autoMovableNumaAware: params.autoMovableNumaAware,
    hugetlbOptimizeVmemmap: hvoSysctlRegistered(ctx) ? params.hugetlbFreeVmemmap : null,
    nrOvercommitHugepages: 0,
  };
}

/** Whether /proc/sys/vm/hugetlb_optimize_vmemmap exists (apps/docs/kernel/hvo.md#conditions, apps/docs/kernel/knobs.md#runtime; kernel/rules.ts hvoSysctlRegistration). */
export function hvoSysctlRegistered(ctx: KnobContext): boolean {
  const rule = pick(hvoSysctlRegistration, ctx.kernel);
  if (rule === 'absent' || ctx.hvoCapable === false || !isPow2(ctx.structPageBytes)) return false;
  if (rule === 'pow2-and-no-memmap-on-memory') return ctx.params.memmapOnMemory === 'off';
  return ctx.optimisableHstate ?? true;
}

/** Every runtime knob that exists for this kernel and configuration. */
export function runtimeKnobSpecs(ctx: KnobContext): KnobSpec[] {
  const out: KnobSpec[] = [
    {
      name: 'memory.auto_online_blocks',
      path: '/sys/devices/system/memory/auto_online_blocks',
      mode: '0644',
      allowed: 'offline, online, online_kernel, online_movable',
      description: 'online type for memory added later (apps/docs/kernel/user-space.md#sysfs)',
    },
  ];
  if (pick(memmapOnMemoryParamType, ctx.kernel) !== 'absent')
    out.push({
      name: 'memory_hotplug.memmap_on_memory',
      path: '/sys/module/memory_hotplug/parameters/memmap_on_memory',
      mode: '0444',
      allowed: 'read-only at runtime (set it on the command line)',
      description: 'memmap_on_memory (apps/docs/kernel/memmap-on-memory.md#memmap-on-memory)',
    });
  if (pick(autoMovablePolicy, ctx.kernel))
    out.push(
      {
        name: 'memory_hotplug.online_policy',
        path: '/sys/module/memory_hotplug/parameters/online_policy',
        mode: '0644',
        allowed: 'contig-zones, auto-movable',
        description: 'zone choice for plain "online" (apps/docs/kernel/hotplug.md#onlining)',
      },
      {
        name: 'memory_hotplug.auto_movable_ratio',
        path: '/sys/module/memory_hotplug/parameters/auto_movable_ratio',
        mode: '0644',
        allowed: 'unsigned integer (percent)',
        description: 'maximum MOVABLE:KERNEL ratio for auto-movable (apps/docs/kernel/hotplug.md#auto-movable)',
      },
      {
        name: 'memory_hotplug.auto_movable_numa_aware',
        path: '/sys/module/memory_hotplug/parameters/auto_movable_numa_aware',
        mode: '0644',
        allowed: 'kernel boolean (y/n/1/0/on/off)',
        description: 'auto-movable also checks the node (apps/docs/kernel/hotplug.md#auto-movable)',
      },
    );
  if (hvoSysctlRegistered(ctx))
    out.push({
      name: 'vm.hugetlb_optimize_vmemmap',
      path: '/proc/sys/vm/hugetlb_optimize_vmemmap',
      mode: '0644',
      allowed: '0, 1',
      description: 'HVO for HugeTLB pages prepared from now on (apps/docs/kernel/hvo.md#conditions)',
    });
  out.push({
    name: 'vm.nr_overcommit_hugepages',
    path: '/proc/sys/vm/nr_overcommit_hugepages',
    mode: '0644',
    allowed: 'unsigned long',
    description: 'surplus HugeTLB pages of the default size',
  });
  return out;
}

/** Accepts `vm.x`, `/proc/sys/vm/x`, `memory_hotplug.x`, `/sys/module/memory_hotplug/parameters/x`, `auto_online_blocks`. */
export function canonicalKnobName(name: string): string {
  const n = name.trim();
  let m = /^\/proc\/sys\/(.+)$/.exec(n);
  if (m) return (m[1] as string).replace(/\//g, '.');
  m = /^\/sys\/module\/([^/]+)\/parameters\/(.+)$/.exec(n);
  if (m) return `${m[1]}.${m[2]}`;
  if (n === '/sys/devices/system/memory/auto_online_blocks' || n === 'auto_online_blocks') return 'memory.auto_online_blocks';
  return n.replace(/-/g, '_').replace(/^vm\//, 'vm.');
}

export type KnobWrite = { ok: true; knobs: RuntimeKnobs; name: string } | { ok: false; errno: ErrnoName; why: string };

/** A write of `value` to a runtime knob, as the kernel's store handler would take it. */
export function writeKnob(knobs: RuntimeKnobs, ctx: KnobContext, name: string, value: string): KnobWrite {
  const canon = canonicalKnobName(name);
  const spec = runtimeKnobSpecs(ctx).find((s) => s.name === canon);
  if (!spec) {
    const known = runtimeKnobSpecs(ctx).map((s) => s.name).join(', ');
    return { ok: false, errno: 'ENOENT', why: `${name}: no such file for kernel ${ctx.kernel} and this configuration (known: ${known})` };
  }
  if (spec.mode === '0444') return { ok: false, errno: 'EACCES', why: `${spec.path} is read-only (mode 0444): set it on the kernel command line` };
  const v = value.replace(/\n$/, '').trim();
  const bad = (errno: ErrnoName = 'EINVAL'): KnobWrite => ({ ok: false, errno, why: `${spec.path}: invalid value "${value}" (allowed: ${spec.allowed})` });
  switch (canon) {
    case 'memory.auto_online_blocks': {
      const t = onlineTypeFromStr(v);
      return t === null ? bad() : { ok: true, name: canon, knobs: { ...knobs, autoOnlineBlocks: t } };
    }
    case 'memory_hotplug.online_policy':
      return v === 'contig-zones' || v === 'auto-movable' ? { ok: true, name: canon, knobs: { ...knobs, onlinePolicy: v } } : bad();
    case 'memory_hotplug.auto_movable_ratio': {
      if (!/^\+?(0x[0-9a-f]+|\d+)$/i.test(v)) return bad();
      const n = Number(v.replace(/^\+/, ''));
      if (n > 0xffffffff) return bad('ERANGE');
      return { ok: true, name: canon, knobs: { ...knobs, autoMovableRatio: n } };
    }
    case 'memory_hotplug.auto_movable_numa_aware': {
      const b = kstrtobool(v);
      return b === null ? bad() : { ok: true, name: canon, knobs: { ...knobs, autoMovableNumaAware: b } };
    }
    case 'vm.hugetlb_optimize_vmemmap': {
      // proc_dobool-style handler: an integer, non-zero → on.
      if (!/^-?\d+$/.test(v)) return bad();
      return { ok: true, name: canon, knobs: { ...knobs, hugetlbOptimizeVmemmap: Number(v) !== 0 } };
    }
    case 'vm.nr_overcommit_hugepages': {
      if (!/^\d+$/.test(v)) return bad();
      return { ok: true, name: canon, knobs: { ...knobs, nrOvercommitHugepages: Number(v) } };
    }
    default:
      return bad();
  }
}
