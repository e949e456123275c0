/**
 * struct vmem_altmap arithmetic (apps/docs/kernel/vmemmap.md#altmap; mm/sparse-vmemmap.c vmem_altmap_next_pfn / vmem_altmap_nr_free /
 * altmap_alloc_block_buf, include/linux/memremap.h vmem_altmap_offset / vmem_altmap_free). Pure functions over
 * the altmap's fields; the state changes only through altmap.* events.
 */
import { alignUp, ffsPow2 } from '../model/geometry.js';

export interface AltmapFields {
  readonly basePfn: number;
  readonly reserve: number;
  readonly free: number;
  readonly alloc: number;
  readonly align: number;
}

/** vmem_altmap_next_pfn: base_pfn + reserve + alloc + align. */
export const altmapNextPfn = (a: AltmapFields): number => a.basePfn + a.reserve + a.alloc + a.align;

/** vmem_altmap_nr_free: free − (alloc + align), or 0. */
export const altmapRemaining = (a: AltmapFields): number => Math.max(0, a.free - (a.alloc + a.align));

/** vmem_altmap_offset: reserve + free — where "normal" pages of the range start. */
export const altmapOffset = (a: AltmapFields): number => a.reserve + a.free;

export type AltmapAllocResult =
  | { ok: true; pfn: number; nrPages: number; pad: number }
  | { ok: false; reason: string; nrPages: number; pad: number; remaining: number };

/**
 * altmap_alloc_block_buf(size): size must be a multiple of PAGE_SIZE; the allocation of n pages is aligned to
 * ffs_pow2(n) pfns; padding counts into `align` and is never given back.
 */
export function altmapAlloc(a: AltmapFields, bytes: number, pageBytes: number): AltmapAllocResult {
  if (bytes % pageBytes !== 0) return { ok: false, reason: 'size not a multiple of PAGE_SIZE', nrPages: 0, pad: 0, remaining: altmapRemaining(a) };
  const n = bytes / pageBytes;
  const next = altmapNextPfn(a);
  const pad = alignUp(next, ffsPow2(n)) - next;
  const remaining = altmapRemaining(a);
  if (n + pad > remaining) return { ok: false, reason: 'altmap exhausted', nrPages: n, pad, remaining };
  return { ok: true, pfn: next + pad, nrPages: n, pad };
}
