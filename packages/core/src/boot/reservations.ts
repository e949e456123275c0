/**
 * Boot reservations from a real kernel's readings: the pages a kernel holds back at boot that memhp does not
 * model itself (kernel image, initrd, firmware and NOMAP regions, crashkernel, per-cpu areas, direct-map page
 * tables and every other memblock allocation still held when user space starts).
 *
 * The kernel's accounting (6.1 mm/page_alloc.c, mm/memblock.c): a zone's present_pages are the memblock.memory
 * pages inside its span (calculate_node_totalpages); managed_pages start at 0 (reset_all_zones_managed_pages)
 * and grow only by what memblock_free_all hands to the buddy allocator (__free_pages_core) and later by
 * adjust_managed_page_count (free_initmem, free_initrd_mem, HugeTLB boot pages, HVO freeing boot vmemmap).
 * totalram_pages is their sum and is what /proc/meminfo prints as MemTotal (si_meminfo). So present − managed
 * of a zone is everything still reserved in it once boot is over.
 *
 * memhp computes part of that itself (the boot memmap and its vmemmap page tables, HugeTLB boot pages, what HVO
 * frees); the rest is the machine's input. This function takes both sides' present − managed per zone and
 * returns the difference, which is what `NodeConfig.reservedPages` holds.
 */
import type { ZoneName } from '../arch/backend.js';

/** One zone of /proc/zoneinfo, in pages. */
export interface ZoneReading {
  readonly node: number;
  readonly zone: string;
  readonly present: number;
  readonly managed: number;
}

export interface BootReservations {
  /** Pages per node and zone (only zones with a reservation). */
  readonly reservedPages: ReadonlyMap<number, Readonly<Partial<Record<ZoneName, number>>>>;
  /** What could not be derived exactly, in words. */
  readonly notes: readonly string[];
}

const ZONES: readonly string[] = ['DMA', 'DMA32', 'Normal', 'Movable', 'Device'];

/**
 * real: the kernel's zoneinfo right after boot, before any hotplug step. model: memhp's zoneinfo after booting
 * the same machine without reservations. memTotalPages: the kernel's MemTotal in pages, when known; a kernel that
 * is still initialising struct pages in the background (deferred init not yet done: Σ managed < MemTotal) has a
 * node's highest zone short of managed pages, and then that zone is derived from MemTotal instead.
 */
export function deriveBootReservations(real: readonly ZoneReading[], model: readonly ZoneReading[], memTotalPages?: number): BootReservations {
  const notes: string[] = [];
  const key = (z: ZoneReading) => `${z.node}/${z.zone}`;
  const modelBy = new Map(model.map((z) => [key(z), z]));
  const realPopulated = real.filter((z) => z.present > 0 && ZONES.includes(z.zone));
  const out = new Map<number, Partial<Record<ZoneName, number>>>();
  const put = (node: number, zone: string, pages: number) => {
    if (pages <= 0) return;
    const m = out.get(node) ?? {};
    m[zone as ZoneName] = pages;
    out.set(node, m);
  };

  const realManaged = realPopulated.reduce((n, z) => n + z.managed, 0);
  const deferred = memTotalPages !== undefined && realManaged < memTotalPages;
  if (memTotalPages !== undefined && realManaged > memTotalPages) {
    notes.push(`zoneinfo managed pages add up to ${realManaged}, more than MemTotal's ${memTotalPages} pages: the readings were taken at different times; zones taken as read`);
  }
  // the zone whose managed count is incomplete while deferred init runs: the last node's highest populated zone
  // (deferred_init_memmap works per node on its highest zone; with several nodes the split is unknown, so the
  // shortfall goes to the last one and a note says so)
  const last = deferred ? realPopulated.reduce<ZoneReading | null>((a, z) => (!a || z.node > a.node || (z.node === a.node && ZONES.indexOf(z.zone) > ZONES.indexOf(a.zone)) ? z : a), null) : null;
  if (deferred) {
    const nodes = new Set(realPopulated.map((z) => z.node));
    notes.push(
      `zoneinfo managed pages add up to ${realManaged}, less than MemTotal's ${memTotalPages} pages (struct pages still being initialised): ` +
        `node ${last!.node} ${last!.zone} derived from MemTotal${nodes.size > 1 ? ', assuming the other nodes are complete' : ''}`,
    );
  }

  for (const r of realPopulated) {
    const m = modelBy.get(key(r));
    if (!m || m.present !== r.present) {
      notes.push(`node ${r.node} ${r.zone}: ${r.present} present pages, memhp has ${m?.present ?? 0}: the boot memory map differs, so its reservation is not derived`);
      continue;
    }
    let realManagedHere = r.managed;
    if (r === last) realManagedHere = r.managed + (memTotalPages! - realManaged);
    const want = r.present - realManagedHere - (m.present - m.managed);
    if (want < 0) {
      notes.push(`node ${r.node} ${r.zone}: memhp reserves ${-want} pages more than the kernel (its memmap or page tables sit elsewhere in the kernel)`);
      continue;
    }
    put(r.node, r.zone, want);
  }
  return { reservedPages: out, notes };
}
