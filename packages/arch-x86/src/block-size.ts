/**
 * x86-64 memory block size: probe_memory_block_size() in arch/x86/mm/init_64.c (6.1), plus the ≈6.15 firmware
 * advice (memory_block_advise_max_size; apps/docs/kernel/hotplug.md#memory-blocks, verify). Every branch reports the rule that decided.
 */
import { atLeast, type ArchConfig, type BlockSizeDecision, type BlockSizeInput } from '@memhp/core';
import { flag, sizeFeature } from './features.js';

const MIB = 1n << 20n;
const GIB = 1n << 30n;
/** MIN_MEMORY_BLOCK_SIZE = one 128 MiB section. */
export const MIN_MEMORY_BLOCK_BYTES = 128n * MIB;
/** MAX_BLOCK_SIZE. */
export const MAX_BLOCK_BYTES = 2n * GIB;
/** MEM_SIZE_FOR_LARGE_BLOCK. */
export const LARGE_BLOCK_THRESHOLD_BYTES = 64n * GIB;

const fmt = (b: bigint): string => (b >= GIB && b % GIB === 0n ? `${b / GIB} GiB` : `${b / MIB} MiB`);

/** The alignment search: the largest of `from`, from/2 … above 128 MiB that divides the boot RAM end. */
function alignedSearch(endBytes: bigint, from: bigint): bigint {
  let bz = from;
  for (; bz > MIN_MEMORY_BLOCK_BYTES; bz >>= 1n) if (endBytes % bz === 0n) break;
  return bz;
}

export function x86MemoryBlockSize(config: ArchConfig, input: BlockSizeInput): BlockSizeDecision {
  const end = input.bootRamEndBytes;
  if (input.overrideBytes !== undefined) {
    // set_memory_block_size_order(): platform code (SGI UV) fixes the size; accepted 128 MiB … 64 GiB.
    return { bytes: input.overrideBytes, why: `explicit block size ${fmt(input.overrideBytes)} (set_memory_block_size_order)` };
  }
  if (end < LARGE_BLOCK_THRESHOLD_BYTES) {
    return { bytes: MIN_MEMORY_BLOCK_BYTES, why: `boot RAM ends at ${fmt(end)}, below 64 GiB → 128 MiB` };
  }
  const advice = atLeast(config.kernel, '6.15') ? sizeFeature(config, 'memoryBlockAdvisedMaxBytes') : 0n;
  if (advice > 0n) {
    const clamped = advice > MAX_BLOCK_BYTES ? MAX_BLOCK_BYTES : advice < MIN_MEMORY_BLOCK_BYTES ? MIN_MEMORY_BLOCK_BYTES : advice;
    const bz = alignedSearch(end, clamped);
    return {
      bytes: bz,
      why: `firmware advised at most ${fmt(advice)} (clamped to ${fmt(clamped)}); largest size ≤ that dividing the boot RAM end ${fmt(end)} → ${fmt(bz)}`,
    };
  }
  if (!flag(config, 'hypervisor')) {
    return { bytes: MAX_BLOCK_BYTES, why: `bare metal (no hypervisor flag) with boot RAM end ${fmt(end)} ≥ 64 GiB → 2 GiB` };
  }
  const bz = alignedSearch(end, MAX_BLOCK_BYTES);
  return {
    bytes: bz,
    why:
      bz === MIN_MEMORY_BLOCK_BYTES
        ? `VM: none of 2G/1G/512M/256M divides the boot RAM end ${fmt(end)} → 128 MiB`
        : `VM: largest of 2G/1G/512M/256M dividing the boot RAM end ${fmt(end)} → ${fmt(bz)}`,
  };
}
