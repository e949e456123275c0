/**
 * x86-64 switches: the CPU flags that change hotplug behaviour and the struct-size knobs. Values come from
 * `ArchConfig.features` on top of these defaults; the defaults describe a typical VM with 4-level paging
 * ([host] flags in apps/docs/kernel/readings.md#readings: pse, pdpe1gb, hypervisor, no la57).
 */
import type { ArchConfig, ParamSpec } from '@memhp/core';

export const X86_FEATURES: readonly ParamSpec[] = [
  {
    name: 'pse',
    kind: 'bool',
    default: 'true',
    feature: 'pse',
    description: 'CPU flag PSE (2 MiB pages): vmemmap is mapped with 2 MiB PMD leaves; without it base pages, and an altmap fails (apps/docs/kernel/vmemmap.md#x86-populate)',
  },
  {
    name: 'pdpe1gb',
    kind: 'bool',
    default: 'true',
    feature: 'pdpe1gb',
    description: 'CPU flag PDPE1GB (1 GiB pages): enables the 1 GiB HugeTLB size (apps/docs/kernel/hvo.md#sizes)',
  },
  {
    name: 'la57',
    kind: 'bool',
    default: 'false',
    feature: 'la57',
    description: '5-level paging: MAX_PHYSMEM_BITS 52 and vmemmap base 0xffd4000000000000 instead of 46 / 0xffffea0000000000 (apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/vmemmap.md#layout)',
  },
  {
    name: 'hypervisor',
    kind: 'bool',
    default: 'true',
    feature: 'hypervisor',
    description: 'CPU flag HYPERVISOR (running in a VM): the memory-block-size probe searches for an aligned size instead of taking 2 GiB (apps/docs/kernel/hotplug.md#memory-blocks)',
  },
  {
    name: 'pageExtension',
    kind: 'bool',
    default: 'false',
    feature: 'pageExtension',
    description: 'CONFIG_PAGE_EXTENSION: sizeof(struct mem_section) is 32 instead of 16 bytes (apps/docs/kernel/sparse.md#section-table)',
  },
  {
    name: 'memoryBlockAdvisedMaxBytes',
    kind: 'size',
    default: '0',
    feature: 'memoryBlockAdvisedMaxBytes',
    description: 'firmware advice for the largest memory block (ACPI CEDT CXL windows), 0 = none; used from 6.15 (apps/docs/kernel/hotplug.md#memory-blocks, verify)',
  },
];

// the switches on by default (X86_FEATURES is constant): `flag` runs on every vmemmap_populate
let onByDefault: ReadonlySet<string> | null = null;

/** A boolean switch of the configuration, falling back to its declared default. */
export function flag(config: ArchConfig, name: string): boolean {
  const v = config.features[name];
  if (v === undefined) return (onByDefault ??= new Set(X86_FEATURES.filter((f) => f.default === 'true').map((f) => f.name))).has(name);
  return v === true || v === 'true' || v === 1 || v === '1' || v === 'on' || v === 'y';
}

/** A size switch in bytes (0 when unset). */
export function sizeFeature(config: ArchConfig, name: string): bigint {
  const v = config.features[name];
  if (v === undefined || v === false) return 0n;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v.trim())) return BigInt(v.trim());
  return 0n;
}
