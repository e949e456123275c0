/**
 * Boot (apps/docs/kernel/sparse.md#boot, apps/docs/kernel/vmemmap.md#boot-memmap, apps/docs/kernel/hotplug.md#memory-blocks, apps/docs/kernel/readings.md#readings): memblock and iomem from the machine's RAM ranges, memory_present,
 * sparse_init per node (the memmap of every present section, completely, from boot memory), the subsection
 * map of early sections (subsection_map_init), zones and their spans (free_area_init), and the memory block
 * devices of boot memory (memory_dev_init). Models 6.1's mm/sparse.c, mm/mm_init.c and drivers/base/memory.c.
 *
 * Not modelled: kernelcore= / movablecore= (ZONE_MOVABLE of boot memory). Memblock reservations other than the
 * memmap and its page tables (kernel image, initrd, firmware, crashkernel …) are an input, per node and zone
 * (NodeConfig.reservedPages), so boot `managed` is present − memmap − page tables − that input
 * (memblock_free_all releases everything else; totalram_pages is Σ managed).
 */
import type { ZoneName } from '../arch/backend.js';
import type { KResult } from '../kernel/errno.js';
import type { KernelCtx } from '../commands/registry.js';
import {
  hex,
  pfnToPageVa,
  pfnToSectionNr,
  sectionNrToPfn,
  sectionNrToRoot,
  subsectionMask,
} from '../model/geometry.js';
import { SECTION_MARKED_PRESENT, type MachineState } from '../model/state.js';
import { hugetlbBoot } from '../hugetlb/index.js';

interface PfnRange {
  readonly nid: number;
  readonly startPfn: number;
  readonly endPfn: number;
  readonly startBytes: bigint;
  readonly endBytes: bigint;
}

/** memblock.memory in pfns: PFN_UP(start) … PFN_DOWN(end) (for_each_mem_pfn_range). */
export function bootPfnRanges(ctx: KernelCtx): PfnRange[] {
  const g = ctx.machine.geometry;
  const page = BigInt(g.pageBytes);
  const out: PfnRange[] = [];
  for (const n of ctx.machine.config.nodes) {
    for (const r of n.memory) {
      const endBytes = r.startBytes + r.sizeBytes;
      const startPfn = Number((r.startBytes + page - 1n) / page);
      const endPfn = Number(endBytes / page);
      if (endPfn > startPfn) out.push({ nid: n.id, startPfn, endPfn, startBytes: r.startBytes, endBytes });
    }
  }
  return out.sort((a, b) => a.startPfn - b.startPfn);
}

/** Zone boundaries in pfns: DMA/DMA32 from the backend, then Normal up to the end of physical memory. */
export function zoneBounds(ctx: KernelCtx): Array<{ zone: ZoneName; startPfn: number; endPfn: number }> {
  const g = ctx.machine.geometry;
  const out: Array<{ zone: ZoneName; startPfn: number; endPfn: number }> = [];
  let lo = 0;
  for (const z of ctx.machine.constants.lowZones) {
    const hi = Number(z.endBytes >> BigInt(g.pageShift));
    out.push({ zone: z.zone, startPfn: lo, endPfn: hi });
    lo = hi;
  }
  out.push({ zone: 'Normal', startPfn: lo, endPfn: 2 ** (g.maxPhysmemBits - g.pageShift) });
  return out;
}

interface BootZone {
  readonly zone: ZoneName;
  readonly startPfn: number;
  readonly spanned: number;
  readonly present: number;
}

/** calculate_node_totalpages: each zone's span within the node's span, and its present pages (holes excluded). */
function nodeZones(ranges: readonly PfnRange[], bounds: ReturnType<typeof zoneBounds>, nid: number): BootZone[] {
  const mine = ranges.filter((r) => r.nid === nid);
  if (mine.length === 0) return [];
  const nodeStart = Math.min(...mine.map((r) => r.startPfn));
  const nodeEnd = Math.max(...mine.map((r) => r.endPfn));
  const zones: BootZone[] = [];
  for (const b of bounds) {
    const zs = Math.max(nodeStart, b.startPfn);
    const ze = Math.min(nodeEnd, b.endPfn);
    if (ze <= zs) continue;
    let present = 0;
    for (const r of mine) present += Math.max(0, Math.min(r.endPfn, ze) - Math.max(r.startPfn, zs));
    zones.push({ zone: b.zone, startPfn: zs, spanned: ze - zs, present });
  }
  return zones;
}

/** The machine's boot reservations name zones the node has, and fit in their present pages. */
function checkReservations(ctx: KernelCtx, ranges: readonly PfnRange[]): string | null {
  const bounds = zoneBounds(ctx);
  for (const n of ctx.machine.config.nodes) {
    const zones = nodeZones(ranges, bounds, n.id);
    for (const [zone, pages] of Object.entries(n.reservedPages ?? {})) {
      if (pages === undefined || pages === 0) continue;
      if (!Number.isSafeInteger(pages) || pages < 0) return `node ${n.id} reserved ${zone}: not a page count (${pages})`;
      const z = zones.find((x) => x.zone === zone);
      if (!z || z.present === 0) {
        const have = zones.filter((x) => x.present > 0).map((x) => x.zone);
        return `node ${n.id} reserved ${zone}: the node has no boot memory in zone ${zone}${have.length ? ` (it has ${have.join(', ')})` : ''}`;
      }
      if (pages > z.present) return `node ${n.id} reserved ${zone}: ${pages} pages, more than the zone's ${z.present} present pages`;
    }
  }
  return null;
}

export function boot(ctx: KernelCtx): KResult {
  const s = ctx.state as MachineState;
  const m = ctx.machine;
  const g = m.geometry;
  ctx.emit('boot.begin', { blockSizeBytes: hex(g.blockSizeBytes), why: m.blockSizeWhy });
  const ranges = bootPfnRanges(ctx);
  const bad = checkReservations(ctx, ranges);
  if (bad) return { ok: false, errno: 'EINVAL', why: bad };

  // memblock and the firmware RAM map (iomem "System RAM")
  for (const r of ranges) {
    ctx.emit('memblock.add', { nid: r.nid, start: hex(r.startBytes), end: hex(r.endBytes), driverManaged: false });
  }
  for (const r of ranges) {
    ctx.emit('resource.request', {
      id: s.nextResourceId,
      start: hex(r.startBytes),
      end: hex(r.endBytes - 1n),
      name: 'System RAM',
      flags: ['system_ram', 'busy'],
      boot: true,
      result: 0,
      conflict: null,
    });
  }
  const memNodes = [...new Set(ranges.map((r) => r.nid))].sort((a, b) => a - b);
  for (const nid of memNodes) ctx.emit('node.online', { nid, hasCpus: true });

  // memory_present: the first node to touch a section owns it
  for (const r of ranges) {
    for (let nr = pfnToSectionNr(g, r.startPfn); nr <= pfnToSectionNr(g, r.endPfn - 1); nr++) {
      const root = sectionNrToRoot(g, nr);
      if (!s.roots.has(root)) ctx.emit('section.root_alloc', { root, nid: r.nid, source: 'boot' });
      const ms = s.sections.get(nr);
      if (!ms || !(ms.flags & SECTION_MARKED_PRESENT)) ctx.emit('section.mark_present', { section: nr, nid: r.nid, boot: true });
    }
  }

  // sparse_init: per node, usage maps then the complete memmap of every present section
  const reservedByNode = new Map<number, number>();
  for (const nid of memNodes) {
    const before = s.counters.bootReservedPages;
    const present = [...s.sections.entries()]
      .filter(([, ms]) => ms.nid === nid && ms.flags & SECTION_MARKED_PRESENT)
      .map(([nr]) => nr)
      .sort((a, b) => a - b);
    for (const nr of present) ctx.emit('section.usage_alloc', { section: nr, source: 'boot' });
    const vctx = ctx.vmemmap(true);
    let failedAt = -1;
    for (const nr of present) {
      const start = pfnToPageVa(g, sectionNrToPfn(g, nr));
      const r = ctx.backend.vmemmapPopulate(vctx, start, start + BigInt(g.sectionMemmapBytes), nid, null);
      if (r !== 0) {
        failedAt = nr;
        break;
      }
      ctx.emit('section.set_memmap', { section: nr, early: true, memmapPages: g.sectionMemmapPages, account: 'boot' });
    }
    if (failedAt >= 0) {
      // sparse_init_nid failed: the node's remaining present sections are cleared (their memory is lost)
      // mm/sparse.c sparse_init_nid (6.1): pr_err, then the node's remaining present sections are cleared
      ctx.warn(`sparse_init_nid: node[${nid}] memory map backing failed. Some memory will not be available.`);
      for (const nr of present.filter((x) => x >= failedAt)) ctx.emit('section.invalidate', { section: nr });
    }
    reservedByNode.set(nid, s.counters.bootReservedPages - before);
  }

  // subsection_map_init: early sections may be partially populated
  for (const r of ranges) {
    for (let pfn = r.startPfn; pfn < r.endPfn; ) {
      const nr = pfnToSectionNr(g, pfn);
      const end = Math.min(r.endPfn, sectionNrToPfn(g, nr + 1));
      const ms = s.sections.get(nr);
      if (ms && ms.usage !== 'none') {
        const mask = subsectionMask(g, pfn, end - pfn);
        const after = ms.subsectionMap | mask;
        if (after !== ms.subsectionMap) {
          ctx.emit('subsection.fill', {
            section: nr,
            pfn,
            nrPages: end - pfn,
            mask: hex(mask),
            before: hex(ms.subsectionMap),
            after: hex(after),
            result: 0,
          });
        }
      }
      pfn = end;
    }
  }

  // free_area_init: zone spans, present and managed pages per node
  const bounds = zoneBounds(ctx);
  for (const nid of memNodes) {
    const zones = nodeZones(ranges, bounds, nid);
    // memblock allocates top-down: the memmap and its page tables sit in the node's highest populated zone
    let reserved = reservedByNode.get(nid) ?? 0;
    const take = new Array<number>(zones.length).fill(0);
    for (let i = zones.length - 1; i >= 0 && reserved > 0; i--) {
      take[i] = Math.min(reserved, zones[i]!.present);
      reserved -= take[i]!;
    }
    zones.forEach((z, i) =>
      ctx.emit('zone.init', { nid, zone: z.zone, startPfn: z.startPfn, spannedPages: z.spanned, presentPages: z.present, managedPages: z.present - take[i]! }),
    );
    // the rest of memblock.reserved (kernel image, firmware, crashkernel …): never released to the buddy allocator
    const other = ctx.machine.config.nodes.find((n) => n.id === nid)?.reservedPages ?? {};
    for (const z of zones) {
      const pages = other[z.zone] ?? 0;
      if (pages === 0) continue;
      const managed = ctx.state.nodes.get(nid)?.zones.get(z.zone)?.managedPages ?? 0;
      if (pages > managed) {
        return { ok: false, errno: 'ENOMEM', why: `node ${nid} zone ${z.zone}: ${pages} reserved pages, but only ${managed} are left after the memmap` };
      }
      ctx.emit('memblock.reserve', { nid, zone: z.zone, pages });
    }
  }

  createBootMemoryBlocks(ctx);
  const maxPfn = ranges.length ? Math.max(...ranges.map((r) => r.endPfn)) : 0;
  hugetlbBoot(ctx); // hugetlb_init + boot-time pools (issue 5)
  ctx.emit('boot.end', { maxPfn });
  return { ok: true };
}

/**
 * memory_dev_init + register_memory_blocks_under_node(MEMINIT_EARLY): a block exists when at least one of its
 * sections is present; it is online; its zone is the single populated zone of its node intersecting the block,
 * or none when several zones or several nodes intersect it (memory_block_add_nid, 6.1).
 */
export function createBootMemoryBlocks(ctx: KernelCtx): void {
  const s = ctx.state;
  const g = ctx.machine.geometry;
  if (s.highestPresentSection < 0) return;
  const lastBlock = Math.floor(s.highestPresentSection / g.sectionsPerBlock);
  for (let id = 0; id <= lastBlock; id++) {
    const nids: number[] = [];
    for (let nr = id * g.sectionsPerBlock; nr < (id + 1) * g.sectionsPerBlock; nr++) {
      const ms = s.sections.get(nr);
      if (ms && ms.flags & SECTION_MARKED_PRESENT && !nids.includes(ms.nid)) nids.push(ms.nid);
    }
    if (nids.length === 0) continue;
    const nid = nids[nids.length - 1]!;
    const zone = nids.length === 1 ? earlyZoneForBlock(ctx, id, nid) : null;
    ctx.emit('memory_block.create', { id, nid, state: 'online', zone, early: true, nrVmemmapPages: 0, altmapId: null, group: null });
  }
}

function earlyZoneForBlock(ctx: KernelCtx, id: number, nid: number): ZoneName | null {
  const g = ctx.machine.geometry;
  const start = id * g.pagesPerBlock;
  const end = start + g.pagesPerBlock;
  const n = ctx.state.nodes.get(nid);
  if (!n) return null;
  let match: ZoneName | null = null;
  for (const z of n.zones.values()) {
    if (z.presentPages === 0) continue;
    if (z.startPfn >= end || z.startPfn + z.spannedPages <= start) continue;
    if (match !== null) return null;
    match = z.name;
  }
  return match;
}
