/**
 * iomem resources of hot-added memory (kernel/resource.c __request_region, release_mem_region_adjustable,
 * merge_system_ram_resource; mm/memory_hotplug.c register_memory_resource — 6.1). memhp keeps a flat list of
 * top-level resources: a busy resource conflicts with any overlap; a non-busy one that contains the whole
 * request acts as a parent and does not conflict.
 */
import { cHexAlt } from '../kernel/printk.js';
import type { KernelCtx } from '../commands/registry.js';
import type { ErrnoName } from '../kernel/errno.js';
import { hex } from '../model/geometry.js';
import { resourceById, resourcesIntersecting, SYSTEM_RAM_BUSY } from '../model/resources.js';
import type { IomemFlag, ReadonlyMachineState } from '../model/state.js';

export type Resource = ReadonlyMachineState['resources'][number];

/** The resource a request of [start, end] (inclusive) would collide with, if any. */
export function resourceConflict(s: ReadonlyMachineState, startBytes: bigint, endBytes: bigint): Resource | null {
  for (const r of resourcesIntersecting(s, startBytes, endBytes)) {
    if (r.endBytes < startBytes || r.startBytes > endBytes) continue;
    const contains = r.startBytes <= startBytes && r.endBytes >= endBytes;
    if (r.flags.includes('busy') || !contains) return r;
  }
  return null;
}

/**
 * register_memory_resource(start, size, name): the pluggable-range check (-E2BIG; a zero size fails it too,
 * since mhp_range_allowed needs start < end), then __request_region (-EEXIST on a conflict).
 */
export function registerMemoryResource(
  ctx: KernelCtx,
  startBytes: bigint,
  sizeBytes: bigint,
  name: string,
  opts: { mergeable?: boolean } = {},
): { ok: true; id: number } | { ok: false; errno: ErrnoName; why: string } {
  const m = ctx.machine;
  const end = startBytes + sizeBytes;
  if (!(startBytes < end && startBytes >= m.pluggableStartBytes && end - 1n <= m.pluggableEndBytes)) {
    // mhp_range_allowed (6.1): pr_warn with end = start + size
    const why = `Hotplug memory [${cHexAlt(startBytes)}-${cHexAlt(end)}] exceeds maximum addressable range [${cHexAlt(m.pluggableStartBytes)}-${cHexAlt(m.pluggableEndBytes)}]`;
    ctx.warn(why);
    return { ok: false, errno: 'E2BIG', why };
  }
  // plain System RAM (every hot-add at scale) shares one frozen list
  let flags: IomemFlag[] = SYSTEM_RAM_BUSY;
  if (name !== 'System RAM' || opts.mergeable) {
    const f: IomemFlag[] = ['system_ram', 'busy'];
    if (name !== 'System RAM') f.push('driver_managed');
    if (opts.mergeable) f.push('mergeable');
    flags = f;
  }
  const conflict = resourceConflict(ctx.state, startBytes, end - 1n);
  const id = ctx.state.nextResourceId;
  ctx.emit('resource.request', {
    id,
    start: hex(startBytes),
    end: hex(end - 1n),
    name,
    flags,
    boot: false,
    result: conflict ? 'EEXIST' : 0,
    conflict: conflict ? `${conflict.name} [${hex(conflict.startBytes)}-${hex(conflict.endBytes)}]` : null,
  });
  if (conflict) {
    return { ok: false, errno: 'EEXIST', why: `Unable to reserve System RAM region: ${hex(startBytes)}->${hex(end)} (busy: ${conflict.name})` };
  }
  return { ok: true, id };
}

/** release_memory_resource / release_mem_region_adjustable. */
export function releaseMemRegion(ctx: KernelCtx, startBytes: bigint, sizeBytes: bigint): void {
  ctx.emit('resource.release', { start: hex(startBytes), end: hex(startBytes + sizeBytes - 1n) });
}

/**
 * merge_system_ram_resource (MHP_MERGE_RESOURCE, 5.10+): merge with the directly adjacent resources that have
 * the same name and flags and were themselves added as mergeable ('mergeable' = IORESOURCE_SYSRAM_MERGEABLE).
 */
export function mergeSystemRamResource(ctx: KernelCtx, id: number): void {
  const r = resourceById(ctx.state, id);
  if (!r) return;
  const same = (x: Resource | undefined): x is Resource =>
    !!x && x.name === r.name && x.flags.length === r.flags.length && x.flags.every((f) => r.flags.includes(f)) && x.flags.includes('mergeable');
  const merged: number[] = [];
  let start = r.startBytes;
  let end = r.endBytes;
  const prev = resourcesIntersecting(ctx.state, start - 1n, start - 1n).find((x) => x.endBytes + 1n === start);
  const next = resourcesIntersecting(ctx.state, end + 1n, end + 1n).find((x) => x.startBytes === end + 1n);
  if (same(prev) && prev.endBytes + 1n === start) {
    merged.push(prev.id);
    start = prev.startBytes;
  }
  if (same(next) && end + 1n === next.startBytes) {
    merged.push(next.id);
    end = next.endBytes;
  }
  if (merged.length) ctx.emit('resource.merge', { id, mergedIds: merged, start: hex(start), end: hex(end) });
}
