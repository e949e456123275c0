/**
 * The x86-64 backend: 4 KiB pages only, 4- or 5-level paging (apps/docs/kernel/constants.md#per-arch to apps/docs/kernel/constants.md#pageblock, apps/docs/kernel/vmemmap.md#layout to apps/docs/kernel/vmemmap.md#x86-free, apps/docs/kernel/hotplug.md#memory-blocks, apps/docs/kernel/hvo.md#sizes).
 */
import type { ArchBackend, ArchConfig, Unsupported } from '@memhp/core';
import { X86_FEATURES } from './features.js';
import { x86Constants } from './constants.js';
import { x86Capabilities } from './capabilities.js';
import { x86MemoryBlockSize } from './block-size.js';
import { x86DefaultHugepageBytes, x86HugepageSizes } from './hugetlb.js';
import { x86VmemmapFree, x86VmemmapPopulate } from './vmemmap.js';

/** sizeof(struct page) values the model knows (apps/docs/kernel/constants.md#struct-page). */
export const STRUCT_PAGE_SIZES = [56, 64, 72, 80] as const;

function x86Supports(config: ArchConfig): { supported: true } | Unsupported {
  if (config.pageSizeBytes !== 4096) {
    return { supported: false, why: `x86-64 has only 4 KiB base pages (asked for ${config.pageSizeBytes / 1024} KiB)` };
  }
  if (!(STRUCT_PAGE_SIZES as readonly number[]).includes(config.structPageBytes)) {
    return { supported: false, why: `sizeof(struct page) must be one of ${STRUCT_PAGE_SIZES.join(', ')} (apps/docs/kernel/constants.md#struct-page), got ${config.structPageBytes}` };
  }
  return { supported: true };
}

export const x86Backend: ArchBackend = {
  id: 'x86_64',
  aliases: ['x86', 'x86-64', 'amd64'],
  displayName: 'x86-64',
  pageSizes: [4096],
  features: X86_FEATURES,
  supports: x86Supports,
  constants: x86Constants,
  capabilities: x86Capabilities,
  memoryBlockSize: x86MemoryBlockSize,
  hugepageSizes: x86HugepageSizes,
  defaultHugepageBytes: x86DefaultHugepageBytes,
  vmemmapPopulate: x86VmemmapPopulate,
  vmemmapFree: x86VmemmapFree,
};
