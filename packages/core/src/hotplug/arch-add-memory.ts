/**
 * arch_add_memory / arch_remove_memory and the generic __add_pages / __remove_pages they call
 * (mm/memory_hotplug.c, arch/x86/mm/init_64.c, arch/arm64/mm/mmu.c — 6.1; apps/docs/kernel/hotplug.md#alignment, apps/docs/kernel/hotplug.md#arch-add). The linear
 * mapping is reported, not modelled page by page; its page-table pages are counted where the backend asks.
 */
import { cHex, cHexAlt, printOnce, warnOnText } from '../kernel/printk.js';
import type { AltmapHandle } from '../arch/backend.js';
import type { KernelCtx } from '../commands/registry.js';
import type { ErrnoName } from '../kernel/errno.js';
import { bytesToPfn, hex, pfnToSectionNr, sectionNrToPfn } from '../model/geometry.js';
import { altmapOffset } from '../vmemmap/altmap.js';
import { altmapIdOf } from '../vmemmap/context.js';
import { sparseAddSection, sparseRemoveSection, type ActivateOptions } from '../sparse/sparse.js';

const SIZE_NAMES: Readonly<Record<number, string>> = { 12: '4K', 14: '16K', 16: '64K', 21: '2M', 25: '32M', 29: '512M', 30: '1G', 39: '512G', 42: '4T' };
const sizeName = (shift: number): string => SIZE_NAMES[shift] ?? `2^${shift}`;

/**
 * How many pages of each size the direct map uses for [start, end) (largest aligned pieces first). Physical
 * addresses are below 2^52, so the arithmetic is exact in doubles.
 */
interface PiecesMemo {
  /** 2^(largest shift): the split depends only on the size and the start's offset into a page of that size. */
  readonly top: number;
  /** size in bytes → start offset → pieces */
  readonly bySize: Map<number, Map<number, Readonly<Record<string, number>>>>;
  entries: number;
}
const piecesMemo = new WeakMap<readonly number[], PiecesMemo>();

export function linearMapPieces(startBytes: bigint, endBytes: bigint, shifts: readonly number[]): Readonly<Record<string, number>> {
  let memo = piecesMemo.get(shifts);
  if (!memo) {
    let top = 1;
    for (const sh of shifts) if (2 ** sh > top) top = 2 ** sh;
    piecesMemo.set(shifts, (memo = { top, bySize: new Map(), entries: 0 }));
  }
  // numeric keys (no key string per call): a run of hot-adds asks for a few (size, offset) pairs over and over
  const start = Number(startBytes);
  const bytes = Number(endBytes) - start;
  const offset = start % memo.top;
  const byOffset = memo.bySize.get(bytes);
  const hit = byOffset?.get(offset);
  if (hit) return hit;
  const out = computePieces(startBytes, endBytes, shifts);
  if (memo.entries < 4096) {
    if (byOffset) byOffset.set(offset, out);
    else memo.bySize.set(bytes, new Map([[offset, out]]));
    memo.entries += 1;
  }
  return out;
}

function computePieces(startBytes: bigint, endBytes: bigint, shifts: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (a: number, b: number, i: number): void => {
    if (a >= b || i >= shifts.length) return;
    const sz = 2 ** shifts[i]!;
    const lo = Math.ceil(a / sz) * sz;
    const hi = Math.floor(b / sz) * sz;
    if (lo >= hi) return walk(a, b, i + 1);
    const name = sizeName(shifts[i]!);
    out[name] = (out[name] ?? 0) + (hi - lo) / sz;
    walk(a, lo, i + 1);
    walk(hi, b, i + 1);
  };
  walk(Number(startBytes), Number(endBytes), 0);
  return out;
}

/** check_pfn_span: SPARSEMEM_VMEMMAP allows sub-section (2 MiB) granularity. */
export const pfnSpanAligned = (ctx: KernelCtx, pfn: number, nrPages: number): boolean =>
  pfn % ctx.machine.geometry.pagesPerSubsection === 0 && nrPages % ctx.machine.geometry.pagesPerSubsection === 0;

/**
 * __add_pages(nid, pfn, nr_pages, params): the altmap must start at pfn and fit (-EINVAL "invalid altmap"), its
 * alloc is reset, the span must be sub-section aligned (WARN + -EINVAL), then sparse_add_section per section,
 * stopping at the first error. Sections added before the error are **not** rolled back (apps/docs/kernel/hotplug.md#add-steps): the
 * model flags them with a hotplug.leak event.
 */
export function addPages(
  ctx: KernelCtx,
  nid: number,
  pfn: number,
  nrPages: number,
  altmap: AltmapHandle | null,
  opts: ActivateOptions = {},
): 0 | ErrnoName {
  const g = ctx.machine.geometry;
  if (altmap) {
    if (altmap.basePfn !== pfn || altmapOffset(altmap) > nrPages) {
      printOnce(ctx, 'memory add fail, invalid altmap');
      return 'EINVAL';
    }
    const id = altmapIdOf(altmap);
    if (altmap.alloc > 0 && id !== null) ctx.emit('altmap.free', { id, nrPages: altmap.alloc });
  }
  if (!pfnSpanAligned(ctx, pfn, nrPages)) {
    // WARN(1, "Misaligned %s start: %#lx end: #%lx\n", …): the end has a literal '#' and no 0x (6.1)
    ctx.warn(`Misaligned __add_pages start: ${cHexAlt(pfn)} end: #${cHex(pfn + nrPages - 1)}`);
    return 'EINVAL';
  }
  const end = pfn + nrPages;
  const first = pfnToSectionNr(g, pfn);
  for (let cur = pfn; cur < end; ) {
    const nr = pfnToSectionNr(g, cur);
    const next = Math.min(end, sectionNrToPfn(g, nr + 1));
    const err = sparseAddSection(ctx, nid, cur, next - cur, altmap, opts);
    if (err !== 0) {
      // the sections added before this one: first … nr − 1, one per step (listed only when needed)
      if (nr > first) ctx.emit('hotplug.leak', { startPfn: pfn, nrPages: cur - pfn, sections: Array.from({ length: nr - first }, (_, i) => first + i) });
      return err;
    }
    cur = next;
  }
  return 0;
}

/** __remove_pages: sparse_remove_section per section chunk; a misaligned span only WARNs. */
export function removePages(ctx: KernelCtx, pfn: number, nrPages: number, altmap: AltmapHandle | null): void {
  const g = ctx.machine.geometry;
  if (!pfnSpanAligned(ctx, pfn, nrPages)) {
    ctx.warn(`Misaligned __remove_pages start: ${cHexAlt(pfn)} end: #${cHex(pfn + nrPages - 1)}`);
    return;
  }
  const end = pfn + nrPages;
  for (let cur = pfn; cur < end; ) {
    const next = Math.min(end, sectionNrToPfn(g, pfnToSectionNr(g, cur) + 1));
    sparseRemoveSection(ctx, cur, next - cur, altmap);
    cur = next;
  }
}

/**
 * Page-table pages the linear mapping of [start, end) needs of its own (on add: allocates; on remove: frees),
 * where the backend models them (`linearMapTableShifts`). Each table level below the PGD — PTE tables (one per
 * PMD_SIZE region), PMD tables (one per PUD_SIZE region), PUD tables with four levels — needs a table for each of
 * its regions that holds a mapping at that level or below and that no other mapped memory (System RAM outside
 * [start, end)) already shares. The range is mapped with the largest aligned pieces the shifts allow.
 * Example (arm64 4K, rodata=full: pages only): 1 GiB at 0xc0000000 next to boot RAM 0x40000000-0xbfffffff
 * = 512 PTE tables + 1 PMD table (its PUD table is boot RAM's) = 513 pages.
 */
export function linearMapTables(ctx: KernelCtx, startBytes: bigint, endBytes: bigint): number {
  const shifts = ctx.backend.linearMapTableShifts?.(ctx.archConfig);
  if (!shifts?.length || endBytes <= startBytes) return 0;
  const c = ctx.machine.constants;
  const bits = c.pageShift - 3;
  // table levels below the PGD: [entry shift, region shift] — PTE, PMD (3+ levels), PUD (4+ levels)
  const levels: Array<[number, number]> = [];
  for (let l = 0; l < c.pgtableLevels - 1; l++) levels.push([c.pageShift + l * bits, c.pageShift + (l + 1) * bits]);
  const sorted = [...shifts].sort((a, b) => b - a);
  // runs of equal pieces: [from, to, shift], largest aligned pieces first
  const runs: Array<[bigint, bigint, number]> = [];
  for (let a = startBytes; a < endBytes; ) {
    const sh = sorted.find((x) => a % (1n << BigInt(x)) === 0n && a + (1n << BigInt(x)) <= endBytes) ?? c.pageShift;
    const bigger = sorted.filter((x) => x > sh).map((x) => (a / (1n << BigInt(x)) + 1n) * (1n << BigInt(x)));
    let to = endBytes;
    for (const b of bigger) if (b < to) to = b;
    const size = 1n << BigInt(sh);
    to = a + ((to - a) / size) * size;
    if (to <= a) to = a + size;
    runs.push([a, to, sh]);
    a = to;
  }
  const others = ctx.state.resources.filter((r) => r.flags.includes('system_ram') && (r.endBytes < startBytes || r.startBytes >= endBytes));
  let n = 0;
  for (const [entry, region] of levels) {
    const R = 1n << BigInt(region);
    let last = -1n;
    for (const [a, b, sh] of runs) {
      if (sh > entry) continue;
      for (let i = a / R > last ? a / R : last + 1n; i <= (b - 1n) / R; i++) {
        const lo = i * R;
        const hi = lo + R - 1n;
        if (!others.some((r) => r.startBytes <= hi && r.endBytes >= lo)) n++;
        last = i;
      }
    }
  }
  return n;
}

/**
 * arch_add_memory(nid, start, size, params): the linear mapping, then add_pages (x86: -ERANGE beyond
 * PHYSMEM_END). On failure x86 keeps the linear mapping, arm64 removes it (backend.removesLinearMapOnAddFailure).
 */
export function archAddMemory(
  ctx: KernelCtx,
  nid: number,
  startBytes: bigint,
  sizeBytes: bigint,
  altmap: AltmapHandle | null,
  opts: ActivateOptions & { linearMap?: boolean } = {},
): 0 | ErrnoName {
  const g = ctx.machine.geometry;
  const end = startBytes + sizeBytes;
  const map = opts.linearMap ?? true;
  const pieces = linearMapPieces(startBytes, end, ctx.machine.directMapShifts);
  const tables = map ? linearMapTables(ctx, startBytes, end) : 0;
  if (map) ctx.emit('linear_map.add', { start: hex(startBytes), end: hex(end), pages: pieces, ...(tables ? { tables } : {}) });
  if (end - 1n > ctx.machine.pluggableEndBytes) {
    printOnce(ctx, warnOnText('arch/x86/mm/init_64.c', 'add_pages'));
    return 'ERANGE';
  }
  const r = addPages(ctx, nid, bytesToPfn(g, startBytes), bytesToPfn(g, sizeBytes), altmap, opts);
  if (r !== 0 && map && ctx.backend.removesLinearMapOnAddFailure?.(ctx.archConfig)) {
    ctx.emit('linear_map.remove', { start: hex(startBytes), end: hex(end), pages: pieces, ...(tables ? { tables } : {}) });
  }
  return r;
}

/** arch_remove_memory(start, size, altmap): __remove_pages, then the linear mapping goes. */
export function archRemoveMemory(ctx: KernelCtx, startBytes: bigint, sizeBytes: bigint, altmap: AltmapHandle | null, opts: { linearMap?: boolean } = {}): void {
  const g = ctx.machine.geometry;
  removePages(ctx, bytesToPfn(g, startBytes), bytesToPfn(g, sizeBytes), altmap);
  if (opts.linearMap ?? true) {
    const end = startBytes + sizeBytes;
    const tables = linearMapTables(ctx, startBytes, end);
    ctx.emit('linear_map.remove', { start: hex(startBytes), end: hex(end), pages: linearMapPieces(startBytes, end, ctx.machine.directMapShifts), ...(tables ? { tables } : {}) });
  }
}

