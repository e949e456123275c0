/**
 * arm64 switches: Kconfig choices that are per-machine for memhp (VA/PA bits, ZONE_DMA reach, page_ext), the
 * rodata=full linear-map restriction, and the seed-004 what-if (`vmemmapFallback`).
 */
import type { ArchConfig, ParamSpec } from '@memhp/core';

export type VmemmapFallback = 'auto' | 'none' | 'per-pmd' | 'redo-all';
export const VMEMMAP_FALLBACKS: readonly VmemmapFallback[] = ['auto', 'none', 'per-pmd', 'redo-all'];

export const ARM64_FEATURES: readonly ParamSpec[] = [
  {
    name: 'vaBits',
    kind: 'uint',
    allowed: ['39', '42', '47', '48', '52'],
    default: '48',
    feature: 'vaBits',
    description: 'CONFIG_ARM64_VA_BITS: page-table levels and VMEMMAP_START (apps/docs/kernel/vmemmap.md#layout)',
  },
  {
    name: 'paBits',
    kind: 'uint',
    allowed: ['48', '52'],
    default: '48',
    feature: 'paBits',
    description: 'CONFIG_ARM64_PA_BITS = MAX_PHYSMEM_BITS (apps/docs/kernel/constants.md#per-arch)',
  },
  {
    name: 'memstartBytes',
    kind: 'size',
    default: '0',
    feature: 'memstartBytes',
    description: 'memstart_addr (start of DRAM rounded down to ARM64_MEMSTART_ALIGN): offsets the vmemmap so that this pfn maps to VMEMMAP_START (apps/docs/kernel/vmemmap.md#layout)',
  },
  {
    name: 'zoneDmaBits',
    kind: 'uint',
    default: '32',
    feature: 'zoneDmaBits',
    description: 'reach of ZONE_DMA from firmware DMA limits (32 = no restriction: ZONE_DMA covers the low 4 GiB and ZONE_DMA32 is empty; verify per platform)',
  },
  {
    name: 'rodataFull',
    kind: 'bool',
    default: 'true',
    feature: 'rodataFull',
    description: 'rodata=full (or DEBUG_PAGEALLOC/KFENCE): the linear map of hot-added memory uses no block or contiguous mappings (apps/docs/kernel/hotplug.md#arch-add)',
  },
  {
    name: 'pageExtension',
    kind: 'bool',
    default: 'false',
    feature: 'pageExtension',
    description: 'CONFIG_PAGE_EXTENSION: sizeof(struct mem_section) is 32 instead of 16 bytes (apps/docs/kernel/sparse.md#section-table)',
  },
  {
    name: 'vmemmapFallback',
    kind: 'enum',
    allowed: VMEMMAP_FALLBACKS,
    default: 'auto',
    feature: 'vmemmapFallback',
    description:
      "what a failed PMD_SIZE vmemmap allocation does (seed 004): 'auto' = the kernel version's behaviour, 'none' = fail the hot-add (≤5.10), 'per-pmd' = only that PMD falls back to base pages (5.11+), 'redo-all' = the seed's v1: unmap everything mapped so far and redo the whole range with base pages",
  },
];

const defaultOf = (name: string): string => ARM64_FEATURES.find((f) => f.name === name)?.default ?? '';

export function numberFeature(config: ArchConfig, name: string): number {
  const v = config.features[name] ?? defaultOf(name);
  return typeof v === 'number' ? v : Number(v);
}

export function bigFeature(config: ArchConfig, name: string): bigint {
  const v = config.features[name] ?? defaultOf(name);
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v.trim())) return BigInt(v.trim());
  return 0n;
}

export function vmemmapFallbackFeature(config: ArchConfig): VmemmapFallback {
  const v = String(config.features.vmemmapFallback ?? 'auto');
  return (VMEMMAP_FALLBACKS as readonly string[]).includes(v) ? (v as VmemmapFallback) : 'auto';
}
