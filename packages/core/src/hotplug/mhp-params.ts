/**
 * struct mhp_params (include/linux/memory_hotplug.h, 6.1): the one parameter block through which a caller hands
 * arch_add_memory / add_pages its altmap, page protection and (5.19+) pgmap geometry. It grew out of seed 002's
 * `struct mhp_restrictions {flags, altmap}` (≈5.2), renamed with `pgprot` in 5.8 (apps/docs/kernel/index.md#sources, apps/docs/kernel/hotplug.md#entry-points).
 *
 * The pgmap's compound geometry reaches sparse_add_section, where vmemmap_can_optimize picks the compound
 * populate (device-DAX dedup, apps/docs/kernel/zone-device.md#compound-dedup) instead of the arch's vmemmap_populate.
 */
import { printOnce, warnOnText } from '../kernel/printk.js';
import type { AltmapHandle } from '../arch/backend.js';
import type { KernelCtx } from '../commands/registry.js';
import type { ErrnoName } from '../kernel/errno.js';
import { pick } from '../kernel/version.js';
import { archAddMemory, addPages } from './arch-add-memory.js';
import { isPowerOfTwo } from '../model/geometry.js';
import { daxVmemmapDedup, mhpParamsPgmap } from '../hugetlb/rules.js';
import type { PgProt } from '../device/state.js';
import { populateCompoundPages } from '../device/compound.js';
import type { ActivateOptions } from '../sparse/sparse.js';

/** The pgmap fields arch_add_memory can see (struct dev_pagemap: vmemmap_shift and the range start). */
export interface PgmapGeometry {
  readonly vmemmapShift: number;
  readonly startPfn: number;
}

export interface MhpParams {
  readonly altmap: AltmapHandle | null;
  readonly pgprot: PgProt;
  /** 5.19+: ZONE_DEVICE callers pass their pgmap (compound geometry). */
  readonly pgmap: PgmapGeometry | null;
}

/** Vmemmap pages of one compound page of 2^shift pages. */
export const compoundVmemmapPages = (ctx: KernelCtx, shift: number): number => (2 ** shift * ctx.machine.geometry.structPageBytes) / ctx.machine.geometry.pageBytes;

/**
 * vmemmap_can_optimize(altmap, pgmap) for this kernel and arch: struct page a power of two, a compound pgmap,
 * no altmap; 6.1.y (and 6.4+) also need the arch opt-in and more than VMEMMAP_RESERVE_NR (2) vmemmap pages per
 * compound page.
 */
export function vmemmapCanOptimize(ctx: KernelCtx, params: MhpParams): boolean {
  const rule = pick(daxVmemmapDedup, ctx.kernel);
  const pg = params.pgmap;
  if (rule === 'none' || !pg || pg.vmemmapShift === 0 || params.altmap !== null) return false;
  if (!isPowerOfTwo(ctx.machine.geometry.structPageBytes)) return false;
  const w = compoundVmemmapPages(ctx, pg.vmemmapShift);
  if (rule === 'any-arch') return w > 1;
  return ctx.machine.capabilities.daxVmemmapOptimize && w > 2;
}

function checkParams(ctx: KernelCtx, params: MhpParams): ErrnoName | null {
  if (params.pgprot === 'none') {
    // __add_pages: WARN_ON_ONCE(!pgprot_val(params->pgprot))
    printOnce(ctx, warnOnText('mm/memory_hotplug.c', '__add_pages'));
    return 'EINVAL';
  }
  return null;
}

/** The common answer, shared rather than allocated per call. */
const DEFAULT_ACTIVATE: ActivateOptions = Object.freeze({});

const activateOptions = (ctx: KernelCtx, params: MhpParams): ActivateOptions =>
  params.pgmap && pick(mhpParamsPgmap, ctx.kernel) && vmemmapCanOptimize(ctx, params)
    ? { populate: populateCompoundPages(params.pgmap) }
    : DEFAULT_ACTIVATE;

/** What add_memory_resource passes for System RAM: the altmap (memmap_on_memory) or none, PAGE_KERNEL, no pgmap. */
export const systemRamParams = (altmap: AltmapHandle | null): MhpParams => ({ altmap, pgprot: 'PAGE_KERNEL', pgmap: null });

/** arch_add_memory(nid, start, size, params): the only way callers reach arch_add_memory. */
export function archAddMemoryWithParams(ctx: KernelCtx, nid: number, startBytes: bigint, sizeBytes: bigint, params: MhpParams): 0 | ErrnoName {
  const bad = checkParams(ctx, params);
  if (bad) return bad;
  return archAddMemory(ctx, nid, startBytes, sizeBytes, params.altmap, activateOptions(ctx, params));
}

/** add_pages(nid, pfn, nr_pages, params) without a linear mapping (device-private memory). */
export function addPagesWithParams(ctx: KernelCtx, nid: number, pfn: number, nrPages: number, params: MhpParams): 0 | ErrnoName {
  const bad = checkParams(ctx, params);
  if (bad) return bad;
  return addPages(ctx, nid, pfn, nrPages, params.altmap, activateOptions(ctx, params));
}
