/**
 * Projections over the machine state — what user space and crash would show (apps/docs/kernel/user-space.md#user-space). Nothing here
 * mutates state. Numbers use the kernel's names and units: /proc/meminfo in kB, /proc/vmstat and
 * /proc/zoneinfo in pages, sysfs strings exactly as the kernel formats them.
 *
 * Stable API for the CLI: {@link viewMeminfo}, {@link viewVmstat}, {@link viewZoneinfo},
 * {@link viewMemoryBlocks}, {@link viewSysfsMemory}, {@link kmemSections}, {@link kmemBlocks}, and the text
 * renderers `format*`.
 */
import type { ZoneName } from '../arch/backend.js';
import { pick } from '../kernel/version.js';
import { nrMemmapCounters } from '../kernel/rules.js';
import { blockIdToPfn, pfnToBytes, sectionNrToPfn } from '../model/geometry.js';
import {
  SECTION_HAS_MEM_MAP,
  SECTION_IS_EARLY,
  SECTION_IS_ONLINE,
  SECTION_MARKED_PRESENT,
  SECTION_TAINT_ZONE_DEVICE,
  type ReadonlyMachineState,
} from '../model/state.js';
import { validZones } from '../hotplug/valid-zones.js';
import { ZONE_ORDER, nodeSpan, nodeStates } from '../hotplug/zone.js';
import { hugetlbMeminfo } from '../hugetlb/views.js';

const kB = (s: ReadonlyMachineState, pages: number): number => (pages * s.machine.geometry.pageBytes) / 1024;

/**
 * /proc/meminfo fields memhp models, in kB (fs/proc/meminfo.c): MemTotal = totalram_pages, MemFree =
 * nr_free_pages. Fields that depend on what memhp does not model (page cache, slab, MemAvailable) are absent
 * rather than invented; HugeTLB fields come from `extra` (issue 5's pool view).
 */
export function viewMeminfo(s: ReadonlyMachineState, extra: Readonly<Record<string, number>> = {}): Record<string, number> {
  return {
    MemTotal: kB(s, s.counters.totalramPages),
    MemFree: kB(s, s.counters.nrFreePages),
    // HugePages_Total/Free/Rsvd/Surp, Hugepagesize, Hugetlb (issue 5, hugetlb/views.ts)
    ...hugetlbMeminfo(s),
    ...extra,
  };
}

/** /proc/vmstat counters memhp models, in pages; nr_memmap_* only from 6.11 (apps/docs/kernel/user-space.md#vmstat). */
export function viewVmstat(s: ReadonlyMachineState): Record<string, number> {
  const out: Record<string, number> = { nr_free_pages: s.counters.nrFreePages };
  if (pick(nrMemmapCounters, s.machine.kernel)) {
    out.nr_memmap_pages = s.counters.nrMemmapPages;
    out.nr_memmap_boot_pages = s.counters.nrMemmapBootPages;
  }
  return out;
}

export interface ZoneinfoRow {
  readonly node: number;
  readonly zone: ZoneName;
  readonly present: number;
  readonly managed: number;
  readonly spanned: number;
  readonly start_pfn: number;
  /** present_early_pages (not printed by the kernel; auto-movable's KERNEL_EARLY input). */
  readonly present_early: number;
  readonly cma: number;
}

/** /proc/zoneinfo per node and zone (mm/vmstat.c zoneinfo_show_print), zones in zone_idx order. */
export function viewZoneinfo(s: ReadonlyMachineState): ZoneinfoRow[] {
  const rows: ZoneinfoRow[] = [];
  for (const nid of [...s.nodes.keys()].sort((a, b) => a - b)) {
    const n = s.nodes.get(nid);
    if (!n) continue;
    for (const name of ZONE_ORDER) {
      const z = n.zones.get(name);
      if (!z) continue;
      rows.push({
        node: nid,
        zone: name,
        present: z.presentPages,
        managed: z.managedPages,
        spanned: z.spannedPages,
        start_pfn: z.startPfn,
        present_early: z.presentEarlyPages,
        cma: z.cmaPages,
      });
    }
  }
  return rows;
}

export interface NodeRow {
  readonly node: number;
  readonly online: boolean;
  readonly startPfn: number;
  readonly spannedPages: number;
  readonly presentPages: number;
  readonly managedPages: number;
  /** N_MEMORY / N_NORMAL_MEMORY node states. */
  readonly hasMemory: boolean;
  readonly hasNormalMemory: boolean;
}

/** Per-node totals (pgdat: node_start_pfn, node_spanned_pages, node_present_pages) and node states. */
export function viewNodes(s: ReadonlyMachineState): NodeRow[] {
  return [...s.nodes.values()]
    .sort((a, b) => a.id - b.id)
    .map((n) => {
      let present = 0;
      let managed = 0;
      for (const z of n.zones.values()) {
        present += z.presentPages;
        managed += z.managedPages;
      }
      const st = nodeStates(s, n.id);
      return { node: n.id, online: n.online, ...nodeSpan(s, n.id), presentPages: present, managedPages: managed, hasMemory: st.memory, hasNormalMemory: st.normalMemory };
    });
}

export interface MemoryBlockRow {
  readonly id: number;
  readonly name: string;
  readonly state: string;
  readonly online: string;
  readonly valid_zones: string;
  readonly phys_index: string;
  readonly removable: string;
  readonly phys_device: string;
  readonly node: number;
  readonly nr_vmemmap_pages: number;
  readonly group: number | null;
}

/** The memoryN directories of /sys/devices/system/memory (drivers/base/memory.c), ascending ids. */
export function viewMemoryBlocks(s: ReadonlyMachineState): MemoryBlockRow[] {
  return [...s.blocks.values()]
    .sort((a, b) => a.id - b.id)
    .map((b) => ({
      id: b.id,
      name: `memory${b.id}`,
      state: b.state,
      // online_show: !dev->offline — a going-offline block still reads 1.
      online: b.state === 'offline' ? '0' : '1',
      valid_zones: validZones(s, b.id) ?? '',
      phys_index: b.id.toString(16).padStart(8, '0'),
      // Legacy file: always 1 with CONFIG_MEMORY_HOTREMOVE (apps/docs/kernel/user-space.md#sysfs).
      removable: '1',
      phys_device: '0',
      node: b.nid,
      nr_vmemmap_pages: b.nrVmemmapPages,
      group: b.group,
    }));
}

/** /sys/devices/system/memory as path → file content (without the trailing newline). */
export function viewSysfsMemory(s: ReadonlyMachineState): Record<string, string> {
  const out: Record<string, string> = {
    block_size_bytes: s.machine.geometry.blockSizeBytes.toString(16),
    auto_online_blocks: s.knobs.autoOnlineBlocks,
  };
  for (const b of viewMemoryBlocks(s)) {
    for (const f of ['state', 'online', 'valid_zones', 'phys_index', 'removable', 'phys_device'] as const) out[`${b.name}/${f}`] = b[f];
    out[`${b.name}/node${b.node}`] = `../../node/node${b.node}`;
  }
  return out;
}

export interface KmemSectionRow {
  readonly NR: number;
  /** The struct mem_section's own address is not modelled (kernel heap); crash prints it here. */
  readonly SECTION: null;
  readonly CODED_MEM_MAP: string;
  readonly MEM_MAP: string;
  /** P present, M has mem_map, O online, E early, D ZONE_DEVICE taint. */
  readonly STATE: string;
  readonly PFN: number;
  /** Sub-section map (not in crash's output; handy next to it). */
  readonly SUBSECTIONS: string;
}

const hex16 = (v: bigint): string => v.toString(16).padStart(16, '0');

/**
 * crash `kmem -n` section table: every valid section. With SPARSEMEM_VMEMMAP the coded mem_map is
 * memmap − section_start_pfn, i.e. the vmemmap base for every section; MEM_MAP is page(section start pfn).
 */
export function kmemSections(s: ReadonlyMachineState): KmemSectionRow[] {
  const g = s.machine.geometry;
  const rows: KmemSectionRow[] = [];
  for (const nr of [...s.sections.keys()].sort((a, b) => a - b)) {
    const ms = s.sections.get(nr);
    if (!ms || (ms.flags & SECTION_MARKED_PRESENT) === 0) continue;
    const pfn = sectionNrToPfn(g, nr);
    const has = (ms.flags & SECTION_HAS_MEM_MAP) !== 0;
    const state =
      ((ms.flags & SECTION_MARKED_PRESENT) !== 0 ? 'P' : '') +
      (has ? 'M' : '') +
      ((ms.flags & SECTION_IS_ONLINE) !== 0 ? 'O' : '') +
      ((ms.flags & SECTION_IS_EARLY) !== 0 ? 'E' : '') +
      ((ms.flags & SECTION_TAINT_ZONE_DEVICE) !== 0 ? 'D' : '');
    rows.push({
      NR: nr,
      SECTION: null,
      CODED_MEM_MAP: has ? hex16(g.vmemmapBase) : hex16(0n),
      MEM_MAP: has ? hex16(g.vmemmapBase + BigInt(pfn) * BigInt(g.structPageBytes)) : hex16(0n),
      STATE: state,
      PFN: pfn,
      SUBSECTIONS: ms.subsectionMap.toString(16),
    });
  }
  return rows;
}

export interface KmemBlockRow {
  readonly MEM_BLOCK: null;
  readonly NAME: string;
  readonly PHYSICAL_RANGE: string;
  readonly NODE: number;
  readonly STATE: string;
  readonly START_SECTION_NO: number;
}

/** crash `kmem -n` memory-block table. */
export function kmemBlocks(s: ReadonlyMachineState): KmemBlockRow[] {
  const g = s.machine.geometry;
  return [...s.blocks.values()]
    .sort((a, b) => a.id - b.id)
    .map((b) => {
      const start = pfnToBytes(g, blockIdToPfn(g, b.id));
      const end = start + g.blockSizeBytes - 1n;
      return {
        MEM_BLOCK: null,
        NAME: `memory${b.id}`,
        PHYSICAL_RANGE: `${start.toString(16)} - ${end.toString(16)}`,
        NODE: b.nid,
        STATE: b.state.toUpperCase().replace('-', '_'),
        START_SECTION_NO: b.id * g.sectionsPerBlock,
      };
    });
}

/** /proc/meminfo as the kernel prints it ("MemTotal:       24684084 kB"). */
export function formatMeminfo(m: Readonly<Record<string, number>>): string {
  return Object.entries(m)
    .map(([k, v]) => (/^HugePages_/.test(k) ? `${`${k}:`.padEnd(16)}${String(v).padStart(8)}` : `${`${k}:`.padEnd(16)}${String(v).padStart(8)} kB`))
    .join('\n');
}

/** /proc/vmstat ("name value" per line). */
export function formatVmstat(v: Readonly<Record<string, number>>): string {
  return Object.entries(v)
    .map(([k, n]) => `${k} ${n}`)
    .join('\n');
}

/** The zoneinfo lines memhp models, per zone. */
export function formatZoneinfo(rows: readonly ZoneinfoRow[]): string {
  return rows
    .map((r) =>
      [
        `Node ${r.node}, zone ${r.zone.padStart(8)}`,
        `        spanned  ${r.spanned}`,
        `        present  ${r.present}`,
        `        managed  ${r.managed}`,
        `  start_pfn:           ${r.start_pfn}`,
      ].join('\n'),
    )
    .join('\n');
}
