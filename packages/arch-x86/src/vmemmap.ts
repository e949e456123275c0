/**
 * x86-64 vmemmap_populate / vmemmap_free (arch/x86/mm/init_64.c, 6.1; apps/docs/kernel/vmemmap.md#x86-populate, apps/docs/kernel/vmemmap.md#x86-sub-pmd, apps/docs/kernel/vmemmap.md#x86-free), written
 * against core's generic helpers ({@link VmemmapContext}).
 */
import { defineRule, pick, type AltmapHandle, type ErrnoName, type VmemmapContext } from '@memhp/core';
import { flag } from './features.js';

/**
 * What a PMD that already holds a PTE table gets filled from. 6.1's x86-local vmemmap_populate_hugepages()
 * passes no altmap; once x86 uses the generic helper (by 2025, apps/docs/kernel/vmemmap.md#x86-populate; first release to verify) the
 * altmap is passed through.
 */
export const X86_TABLE_FILL_ALTMAP = defineRule<boolean>({
  name: 'x86.vmemmapTableFillUsesAltmap',
  source: 'apps/docs/kernel/vmemmap.md#x86-populate (generic vmemmap_populate_hugepages on x86, first release to verify)',
  ranges: [
    { until: '6.13', value: false, note: 'x86-local vmemmap_populate_hugepages passes NULL' },
    { since: '6.13', value: true, note: 'generic helper passes the altmap (verify the release)' },
  ],
});

// PMD_SIZE of the last machine asked about, as a bigint (the contract's addresses); as a number it is 2 ** pmdShift.
let pmdShiftCached = -1;
let pmdBytesBig = 0n;
const pmdBytesOf = (ctx: VmemmapContext): bigint => {
  const shift = ctx.constants.pmdShift;
  if (shift !== pmdShiftCached) {
    pmdBytesBig = 1n << BigInt(shift);
    pmdShiftCached = shift;
  }
  return pmdBytesBig;
};
const hex = (v: bigint): string => `0x${v.toString(16)}`;

/*
 * The PMD walks below step in numbers: offsets from the PMD boundary at or below `start`, exact in a double while
 * the range spans under 2^53 bytes (a whole 64-bit vmemmap region is 2^44 on x86). An address is made a bigint
 * only where the context needs one and it is not `start` or `end` themselves — for a section-sized range that is
 * one PMD, a walk of one step that allocates two bigints instead of a dozen (a sweep point walks thousands). A
 * range too long for doubles takes the bigint walk (pmdAddrEnd), which gives the same steps.
 */
/** The end of the PMD step that starts at `addr` (pmd_addr_end). */
export function pmdAddrEnd(addr: bigint, end: bigint, pmdBytes: bigint): bigint {
  const boundary = (addr & ~(pmdBytes - 1n)) + pmdBytes;
  return boundary < end ? boundary : end;
}

/**
 * vmemmap_use_new_sub_pmd: a fresh leaf serves only [addr, next); the rest of the 2 MiB is PAGE_UNUSED (0xFD),
 * the tail lazily through unused_pmd_start. The lazy flush does not change which bytes end up unused, so the
 * model marks both pieces at once.
 */
function useNewSubPmd(ctx: VmemmapContext, addr: bigint, next: bigint, pmdBytes: bigint): void {
  const pmdStart = addr & ~(pmdBytes - 1n);
  if (addr !== pmdStart) ctx.markPmdUnused(pmdStart, addr);
  if (next % pmdBytes !== 0n) ctx.markPmdUnused(next, pmdStart + pmdBytes);
}

/** vmemmap_populate_hugepages (x86-local in 6.1) over [start, end), `len` = end - start bytes. */
function populateHugepages(ctx: VmemmapContext, start: bigint, end: bigint, len: number, node: number, altmap: AltmapHandle | null): 0 | ErrnoName {
  const pmdBytes = pmdBytesOf(ctx);
  const pmd = 2 ** ctx.constants.pmdShift;
  const tableAltmap = pick(X86_TABLE_FILL_ALTMAP, ctx.config.kernel) ? altmap : null;
  const a0 = Number(BigInt.asUintN(ctx.constants.pmdShift, start));
  const e = a0 + len;
  const base = a0 === 0 ? start : start - BigInt(a0);
  const exact = Number.isSafeInteger(e);
  for (let a = a0, n = a0, addr = start, next: bigint; exact ? a < e : addr < end; a = n, addr = next) {
    if (exact) {
      n = Math.min(a - (a % pmd) + pmd, e);
      next = n === e ? end : base + BigInt(n);
    } else next = pmdAddrEnd(addr, end, pmdBytes);
    const entry = ctx.pmdEntry(addr);
    if (entry === 'none') {
      const block = ctx.allocPmdBlock(addr, node, altmap);
      if (block) {
        const r = ctx.mapPmdLeaf(addr, block.source);
        if (r !== 0) return r;
        if (exact ? a % pmd !== 0 || n % pmd !== 0 : addr % pmdBytes !== 0n || next % pmdBytes !== 0n) useNewSubPmd(ctx, addr, next, pmdBytes);
        continue;
      }
      // An altmap never falls back to RAM: the hot-add fails (apps/docs/kernel/vmemmap.md#x86-populate).
      if (altmap) return 'ENOMEM';
      ctx.note('PMD_SIZE allocation failed: this PMD falls back to base pages', { va: hex(addr), end: hex(next) });
      if (ctx.populateBasePages(addr, next, node, null, 'PMD allocation failed (per-PMD fallback, no altmap)') !== 0) return 'ENOMEM';
      continue;
    }
    if (entry === 'leaf') {
      ctx.verifyPmd(addr, node);
      ctx.markPmdUsed(addr, next);
      continue;
    }
    const why = tableAltmap ? 'PMD already holds a PTE table (generic helper: altmap passed)' : 'PMD already holds a PTE table';
    if (ctx.populateBasePages(addr, next, node, tableAltmap, why) !== 0) return 'ENOMEM';
  }
  return 0;
}

/** vmemmap_populate(start, end, node, altmap) — arch/x86/mm/init_64.c. */
export function x86VmemmapPopulate(
  ctx: VmemmapContext,
  start: bigint,
  end: bigint,
  node: number,
  altmap: AltmapHandle | null,
): 0 | ErrnoName {
  // a number: exact for any range under 2^53 bytes, and the comparison holds for longer ones too
  const len = Number(end - start);
  if (len < ctx.sectionMemmapBytes) {
    // A partial section's memmap always comes from RAM (apps/docs/kernel/vmemmap.md#x86-populate rule 1, apps/docs/kernel/zone-device.md#pmem-altmap).
    return ctx.populateBasePages(start, end, node, null, 'sub-section range: base pages from RAM, altmap ignored');
  }
  if (flag(ctx.config, 'pse')) return populateHugepages(ctx, start, end, len, node, altmap);
  if (altmap) {
    ctx.note('vmemmap_populate: no cpu support for altmap allocations', { start: hex(start), end: hex(end) });
    return 'ENOMEM';
  }
  return ctx.populateBasePages(start, end, node, null, 'no PSE: base pages');
}

/**
 * vmemmap_free → remove_pagetable(start, end, false, altmap): a leaf only partly inside the range gets the
 * range filled with PAGE_UNUSED and is freed only when its whole 2 MiB is unused (apps/docs/kernel/vmemmap.md#x86-sub-pmd, apps/docs/kernel/vmemmap.md#x86-free).
 */
export function x86VmemmapFree(ctx: VmemmapContext, start: bigint, end: bigint, altmap: AltmapHandle | null): void {
  const pmdBytes = pmdBytesOf(ctx);
  const pmd = 2 ** ctx.constants.pmdShift;
  const a0 = Number(BigInt.asUintN(ctx.constants.pmdShift, start));
  const e = a0 + Number(end - start);
  if (Number.isSafeInteger(e)) {
    // only a step that does not cover its whole PMD needs its addresses
    const base = a0 === 0 ? start : start - BigInt(a0);
    for (let a = a0, n: number; a < e; a = n) {
      n = Math.min(a - (a % pmd) + pmd, e);
      if (a % pmd !== 0 || n % pmd !== 0) {
        const addr = a === a0 ? start : base + BigInt(a);
        if (ctx.pmdEntry(addr) === 'leaf') ctx.markPmdUnused(addr, n === e ? end : base + BigInt(n));
      }
    }
  } else {
    for (let addr = start, next: bigint; addr < end; addr = next) {
      next = pmdAddrEnd(addr, end, pmdBytes);
      if ((addr % pmdBytes !== 0n || next % pmdBytes !== 0n) && ctx.pmdEntry(addr) === 'leaf') ctx.markPmdUnused(addr, next);
    }
  }
  ctx.unmapRange(start, end, altmap, { freePartialLeaves: false });
}
