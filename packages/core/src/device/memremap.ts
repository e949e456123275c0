/**
 * memremap_pages / memunmap_pages (mm/memremap.c pagemap_range / pageunmap_range, 6.1; apps/docs/kernel/zone-device.md#memremap):
 * conflict and System RAM checks, the pgmap index, the pluggable range, arch_add_memory (or add_pages for
 * device-private memory) at sub-section granularity through mhp_params, ZONE_DEVICE span and taint, and the
 * provider's construct hook. Removal waits for nothing (memhp has no page references) and WARNs when the altmap
 * still has allocations.
 */
import { cHexAlt, printOnce } from '../kernel/printk.js';
import type { AltmapHandle } from '../arch/backend.js';
import type { CommandOf, KernelCtx } from '../commands/registry.js';
import { fail, ok, type KResult } from '../kernel/errno.js';
import { pick } from '../kernel/version.js';
import { sectionTaintZoneDevice } from '../kernel/rules.js';
import { archRemoveMemory, removePages } from '../hotplug/arch-add-memory.js';
import { growZone } from '../hotplug/online.js';
import { hex, pfnToSectionNr } from '../model/geometry.js';
import type { MachineState } from '../model/state.js';
import { altmapOffset } from '../vmemmap/altmap.js';
import { addPagesWithParams, archAddMemoryWithParams, vmemmapCanOptimize, type MhpParams } from '../hotplug/mhp-params.js';
import { parsePgmapType } from './types.js';
import { isProviderFailure, type MemoryProvider, type MemremapRequest } from './provider.js';
import { DEVICE_EVENT_VERSION, deviceState, pgmapOfPfn, type PgmapState } from './state.js';

/** region_intersects(start, size, IORESOURCE_SYSTEM_RAM): disjoint, ram (fully inside) or mixed. */
function regionIntersectsRam(ctx: KernelCtx, start: bigint, size: bigint): 'disjoint' | 'ram' | 'mixed' {
  let covered = 0n;
  const end = start + size;
  for (const r of ctx.state.resources) {
    if (!r.flags.includes('system_ram')) continue;
    const a = r.startBytes > start ? r.startBytes : start;
    const b = r.endBytes + 1n < end ? r.endBytes + 1n : end;
    if (b > a) covered += b - a;
  }
  return covered === 0n ? 'disjoint' : covered === size ? 'ram' : 'mixed';
}

/** memremap_pages(pgmap, nid) for one range, with `provider` deciding the mhp_params and constructing the pages. */
export function memremapPages(ctx: KernelCtx, provider: MemoryProvider, req: MemremapRequest): KResult {
  const s = ctx.state;
  const g = ctx.machine.geometry;
  if (!ctx.machine.capabilities.zoneDevice) return fail('ENXIO', 'CONFIG_ZONE_DEVICE is not set: memremap_pages is a stub returning -ENXIO');
  if (req.sizeBytes <= 0n) {
    printOnce(ctx, 'nr_range must be specified');
    return fail('EINVAL', 'empty range');
  }
  const startPfn = Number(req.startBytes >> BigInt(g.pageShift));
  const nrPages = Number(req.sizeBytes >> BigInt(g.pageShift));
  const set = provider.setUp(ctx.machine, req);
  if (isProviderFailure(set)) return fail(set.errno, `${provider.name} set-up: ${set.why}`);
  ctx.emitOther('device.setup', { id: req.id, provider: provider.name, type: req.type, pgprot: set.pgprot, vmemmapShift: set.vmemmapShift, altmap: set.altmap, linearMap: set.linearMap }, DEVICE_EVENT_VERSION['device.setup']);

  // 1. another pgmap already covers the first or last pfn
  if (pgmapOfPfn(s, startPfn) || pgmapOfPfn(s, startPfn + nrPages - 1)) {
    ctx.warn('Conflicting mapping in same section');
    return fail('ENOMEM', `pgmap ${req.id}: ${hex(req.startBytes)}-${hex(req.startBytes + req.sizeBytes - 1n)} conflicts with an existing pgmap`);
  }
  // 2. System RAM in the range
  const ram = regionIntersectsRam(ctx, req.startBytes, req.sizeBytes);
  if (ram !== 'disjoint') {
    printOnce(ctx, `attempted on ${ram} region ${cHexAlt(req.startBytes)}-${cHexAlt(req.startBytes + req.sizeBytes - 1n)}`);
    return fail('ENXIO', `memremap_pages attempted on ${ram} region`);
  }

  // memhp's own name for the pgmap (the kernel has none): refused only after the kernel's checks have passed, so
  // a second memremap_pages over a mapped range meets the kernel's conflict check above, whatever its id.
  if (deviceState(s).pgmaps.has(req.id)) return fail('EBUSY', `pgmap id "${req.id}" already names another pgmap (memhp's naming, not a kernel check)`);

  let altmap: AltmapHandle | null = null;
  if (set.altmap) {
    // fault site "altmap": the device reserved too little for its memmap (altmap exhaustion)
    const f = ctx.faults.site('altmap', { id: req.id, free: set.altmap.free });
    const id = s.nextAltmapId;
    ctx.emit('altmap.create', { id, basePfn: set.altmap.basePfn, endPfn: startPfn + nrPages - 1, reserve: set.altmap.reserve, free: f ? 0 : set.altmap.free, align: 0, alloc: 0, owner: 'device' });
    altmap = (s as MachineState).altmaps.get(id)!;
  }
  const params: MhpParams = { altmap, pgprot: set.pgprot, pgmap: set.vmemmapShift > 0 ? { vmemmapShift: set.vmemmapShift, startPfn } : null };
  const dedup = vmemmapCanOptimize(ctx, params);
  // 3. the pfn → pgmap index
  ctx.emitOther('device.pgmap_register', {
    id: req.id,
    type: req.type,
    provider: provider.name,
    nid: req.nid,
    startPfn,
    nrPages,
    altmapId: altmap ? (altmap as unknown as { id: number }).id : null,
    vmemmapShift: set.vmemmapShift,
    pgprot: set.pgprot,
    dedup,
  }, DEVICE_EVENT_VERSION['device.pgmap_register']);
  const undo = (): void => {
    ctx.emitOther('device.pgmap_unregister', { id: req.id });
    if (altmap) ctx.emit('altmap.destroy', { id: (altmap as unknown as { id: number }).id, alloc: altmap.alloc, warn: false });
  };
  // 4. mhp_range_allowed(start, size, need_mapping = !private)
  if (req.startBytes < ctx.machine.pluggableStartBytes || req.startBytes + req.sizeBytes - 1n > ctx.machine.pluggableEndBytes) {
    undo();
    return fail('EINVAL', `range beyond the pluggable range (ends at ${hex(ctx.machine.pluggableEndBytes)})`);
  }
  // 5. add the memory at sub-section granularity
  const err = set.linearMap
    ? archAddMemoryWithParams(ctx, req.nid, req.startBytes, req.sizeBytes, params)
    : addPagesWithParams(ctx, req.nid, startPfn, nrPages, params);
  if (err !== 0) {
    undo();
    return fail(err, `${set.linearMap ? 'arch_add_memory' : 'add_pages'} failed`);
  }
  growZone(ctx, req.nid, 'Device', startPfn, nrPages);
  if (pick(sectionTaintZoneDevice, ctx.kernel)) {
    // move_pfn_range_to_zone: a ZONE_DEVICE range that starts or ends inside a section taints that section
    if (startPfn % g.pagesPerSection !== 0) ctx.emit('section.taint_zone_device', { section: pfnToSectionNr(g, startPfn) });
    if ((startPfn + nrPages) % g.pagesPerSection !== 0) ctx.emit('section.taint_zone_device', { section: pfnToSectionNr(g, startPfn + nrPages) });
  }
  const offset = altmap ? altmapOffset(altmap) - (startPfn - altmap.basePfn) : 0;
  const initPfn = altmap ? altmap.basePfn + altmap.reserve : startPfn;
  ctx.emitOther('device.zone_attach', { id: req.id, nid: req.nid, startPfn, nrPages, initPfn, initPages: altmap ? altmap.free : 0 });
  // 6. the construct hook: memmap_init_zone_device from vmem_altmap_offset on
  const pgmap = deviceState(ctx.state).pgmaps.get(req.id)!;
  const c = provider.construct(pgmap, startPfn + offset, nrPages - offset);
  ctx.emitOther('device.memmap_init', { id: req.id, startPfn: startPfn + offset, nrPages: nrPages - offset, compoundPages: c.compoundPages, provider: provider.name });
  return ok();
}

/** memunmap_pages(pgmap): by id, or the pgmap whose range is exactly `range`. */
export function memunmapPages(ctx: KernelCtx, sel: { id?: string; startBytes?: bigint; sizeBytes?: bigint }): KResult {
  const g = ctx.machine.geometry;
  let pgmap: Readonly<PgmapState> | undefined;
  if (sel.id !== undefined) pgmap = deviceState(ctx.state).pgmaps.get(sel.id);
  else if (sel.startBytes !== undefined) {
    const pfn = Number(sel.startBytes >> BigInt(g.pageShift));
    const n = Number((sel.sizeBytes ?? 0n) >> BigInt(g.pageShift));
    pgmap = [...deviceState(ctx.state).pgmaps.values()].find((p) => p.startPfn === pfn && p.nrPages === n);
  }
  if (!pgmap) return fail('ENOENT', `no pgmap ${sel.id !== undefined ? `"${sel.id}"` : `at ${hex(sel.startBytes ?? 0n)}`}`);
  const altmap = pgmap.altmapId !== null ? ((ctx.state as MachineState).altmaps.get(pgmap.altmapId) ?? null) : null;
  // remove_pfn_range_from_zone: ZONE_DEVICE spans are never shrunk (6.1); then the arch mapping goes
  if (pgmap.type === 'MEMORY_DEVICE_PRIVATE') removePages(ctx, pgmap.startPfn, pgmap.nrPages, null);
  else archRemoveMemory(ctx, BigInt(pgmap.startPfn) << BigInt(g.pageShift), BigInt(pgmap.nrPages) << BigInt(g.pageShift), altmap);
  ctx.emitOther('device.pgmap_unregister', { id: pgmap.id });
  if (altmap) {
    const a = ctx.state.altmaps.get(pgmap.altmapId!)!;
    if (a.alloc !== 0) printOnce(ctx, 'failed to free all reserved pages');
    ctx.emit('altmap.destroy', { id: a.id, alloc: a.alloc, warn: false });
  }
  return ok();
}

/** A default pgmap id not yet in use: `base`, else `base#2`, `base#3` … (a second pgmap at the same start). */
function unusedPgmapId(ctx: KernelCtx, base: string): string {
  const pgmaps = deviceState(ctx.state).pgmaps;
  if (!pgmaps.has(base)) return base;
  let n = 2;
  while (pgmaps.has(`${base}#${n}`)) n++;
  return `${base}#${n}`;
}

/** The command handlers for a provider list (later providers win per type): the seed-002 extension point. */
export function createMemremapHandlers(providers: readonly MemoryProvider[]) {
  const byType = new Map<string, MemoryProvider>();
  for (const p of providers) {
    for (const t of p.types) {
      const type = parsePgmapType(t);
      if (type === undefined) throw new Error(`memory provider ${p.name}: unknown pgmap type "${t}"`);
      byType.set(type, p);
    }
  }
  return {
    memremap_pages: (ctx: KernelCtx, cmd: CommandOf<'memremap_pages'>): KResult => {
      const type = parsePgmapType(cmd.type);
      const provider = type === undefined ? undefined : byType.get(type);
      if (type === undefined || !provider) return fail('EINVAL', `no memory provider for pgmap type "${cmd.type}" (known: ${[...byType.keys()].join(', ')})`);
      const id = cmd.id ?? unusedPgmapId(ctx, `pgmap@${hex(cmd.range.startBytes)}`);
      return memremapPages(ctx, provider, {
        id,
        nid: cmd.node,
        startBytes: cmd.range.startBytes,
        sizeBytes: cmd.range.sizeBytes,
        type,
        ...(cmd.altmapReserveBytes !== undefined ? { altmapReserveBytes: cmd.altmapReserveBytes } : {}),
        ...(cmd.altmapFreeBytes !== undefined ? { altmapFreeBytes: cmd.altmapFreeBytes } : {}),
        ...(cmd.vmemmapShift !== undefined ? { vmemmapShift: cmd.vmemmapShift } : {}),
      });
    },
    memunmap_pages: (ctx: KernelCtx, cmd: CommandOf<'memunmap_pages'>): KResult =>
      memunmapPages(ctx, { ...(cmd.id !== undefined ? { id: cmd.id } : {}), ...(cmd.range ? { startBytes: cmd.range.startBytes, sizeBytes: cmd.range.sizeBytes } : {}) }),
  };
}
