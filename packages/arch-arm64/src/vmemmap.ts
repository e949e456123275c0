/**
 * arm64 vmemmap_populate / vmemmap_free per kernel version (arch/arm64/mm/mmu.c; apps/docs/kernel/vmemmap.md#arm64-populate; seed 004).
 */
import { pick, type AltmapHandle, type ErrnoName, type VmemmapContext } from '@memhp/core';
import { ARM64_PMD_FAILURE, ARM64_SUBSECTION_BASEPAGES, type Arm64PmdFailure } from './rules.js';
import { vmemmapFallbackFeature, type VmemmapFallback } from './features.js';

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function pmdAddrEnd(addr: bigint, end: bigint, pmdBytes: bigint): bigint {
  const boundary = (addr & ~(pmdBytes - 1n)) + pmdBytes;
  return boundary < end ? boundary : end;
}

/** The failure behaviour in force: the version's (`auto`) or the what-if the user selected. */
export function effectivePmdFailure(fallback: VmemmapFallback, versionRule: Arm64PmdFailure): Arm64PmdFailure | 'redo-all' {
  switch (fallback) {
    case 'auto':
      return versionRule;
    case 'none':
      return 'fail';
    case 'redo-all':
      return 'redo-all';
    case 'per-pmd':
      // Per-PMD fallback as the version implements it: with the same altmap before the generic helper.
      return versionRule === 'fail' ? 'per-pmd-altmap' : versionRule;
  }
}

/**
 * The PMD-leaf loop of vmemmap_populate for 4K pages. An entry that already exists (leaf or table) is only
 * verified: arm64 never fills a PTE table it finds here (pre-6.4 `else vmemmap_verify`, later
 * vmemmap_check_pmd returning 1).
 */
function populatePmdLeaves(
  ctx: VmemmapContext,
  start: bigint,
  end: bigint,
  node: number,
  altmap: AltmapHandle | null,
  onFailure: Arm64PmdFailure | 'redo-all',
): 0 | ErrnoName {
  const pmdBytes = 1n << BigInt(ctx.constants.pmdShift);
  for (let addr = start, next: bigint; addr < end; addr = next) {
    next = pmdAddrEnd(addr, end, pmdBytes);
    if (ctx.pmdEntry(addr) !== 'none') {
      ctx.verifyPmd(addr, node);
      continue;
    }
    const block = ctx.allocPmdBlock(addr, node, altmap);
    if (block) {
      const r = ctx.mapPmdLeaf(addr, block.source);
      if (r !== 0) return r;
      continue;
    }
    const detail = { va: hex(addr), end: hex(next), altmap: altmap !== null };
    switch (onFailure) {
      case 'fail':
        ctx.note('PMD_SIZE vmemmap allocation failed: hot-add fails (no fallback before 5.11)', detail);
        return 'ENOMEM';
      case 'per-pmd-altmap':
        ctx.note('PMD_SIZE vmemmap allocation failed: this PMD falls back to base pages (same altmap)', detail);
        if (ctx.populateBasePages(addr, next, node, altmap, 'PMD allocation failed (per-PMD fallback, seed 004 v4)') !== 0) return 'ENOMEM';
        continue;
      case 'generic':
        if (altmap) {
          ctx.note('PMD_SIZE allocation from the altmap failed: no fallback (generic helper)', detail);
          return 'ENOMEM';
        }
        ctx.note('PMD_SIZE vmemmap allocation failed: this PMD falls back to base pages', detail);
        if (ctx.populateBasePages(addr, next, node, null, 'PMD allocation failed (generic per-PMD fallback)') !== 0) return 'ENOMEM';
        continue;
      case 'redo-all':
        // Seed 004 v1: vmemmap_free(start, end, altmap), then vmemmap_populate_basepages(start, end, node, altmap).
        ctx.note('PMD_SIZE vmemmap allocation failed: unmapping the whole range and redoing it with base pages (seed 004 v1)', {
          ...detail,
          start: hex(start),
        });
        ctx.unmapRange(start, end, altmap, { freePartialLeaves: true });
        return ctx.populateBasePages(start, end, node, altmap, 'redo-all after a failed PMD allocation (seed 004 v1)') === 0 ? 0 : 'ENOMEM';
    }
  }
  return 0;
}

/** vmemmap_populate(start, end, node, altmap) — arch/arm64/mm/mmu.c for the configured version. */
export function arm64VmemmapPopulate(
  ctx: VmemmapContext,
  start: bigint,
  end: bigint,
  node: number,
  altmap: AltmapHandle | null,
): 0 | ErrnoName {
  const kernel = ctx.config.kernel;
  const sectionMemmap = BigInt(ctx.sectionMemmapBytes);
  if (end - start > sectionMemmap && pick(ARM64_SUBSECTION_BASEPAGES, kernel)) {
    ctx.note('WARN: vmemmap_populate range exceeds one section', { start: hex(start), end: hex(end) });
  }
  // ARM64_KERNEL_USES_PMD_MAPS (ARM64_SWAPPER_USES_SECTION_MAPS before 5.16): only the 4K granule.
  if (ctx.config.pageSizeBytes !== 4096) {
    return ctx.populateBasePages(start, end, node, altmap, `${ctx.config.pageSizeBytes / 1024}K granule: base pages`);
  }
  if (end - start < sectionMemmap && pick(ARM64_SUBSECTION_BASEPAGES, kernel)) {
    return ctx.populateBasePages(start, end, node, altmap, 'range smaller than a section: base pages (sub-section fix)');
  }
  const onFailure = effectivePmdFailure(vmemmapFallbackFeature(ctx.config), pick(ARM64_PMD_FAILURE, kernel));
  return populatePmdLeaves(ctx, start, end, node, altmap, onFailure);
}

/**
 * vmemmap_free → unmap_hotplug_range(start, end, true, altmap) + free_empty_tables: a leaf PMD is freed whole
 * (to the altmap if one is given) even when the range covers only part of it (apps/docs/kernel/vmemmap.md#arm64-populate).
 */
export function arm64VmemmapFree(ctx: VmemmapContext, start: bigint, end: bigint, altmap: AltmapHandle | null): void {
  ctx.unmapRange(start, end, altmap, { freePartialLeaves: true });
}
