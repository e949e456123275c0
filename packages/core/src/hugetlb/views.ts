/**
 * What user space sees of the HugeTLB pool and HVO (mm/hugetlb.c hugetlb_report_meminfo and the
 * /sys/kernel/mm/hugepages/hugepages-<kB>kB files, 6.1; apps/docs/kernel/hvo.md#accounting, apps/docs/kernel/knobs.md#runtime, apps/docs/kernel/user-space.md#meminfo), and the seed-001 report:
 * how many pool pages HVO optimised and why it skipped the others.
 */
import type { ReadonlyMachineState } from '../model/state.js';
import { hvoGeometry } from './hvo.js';
import { poolCounts } from './pool.js';
import { hugetlbState, type HvoSkipReason } from './state.js';

/**
 * /proc/meminfo's HugeTLB lines: HugePages_* of the default hstate (counts), Hugepagesize and Hugetlb in kB
 * (Hugetlb sums every size). Empty when the machine has no hstates. HugePages_Rsvd is 0: reservations of
 * mappings are not modelled.
 */
export function hugetlbMeminfo(s: ReadonlyMachineState): Record<string, number> {
  const h = hugetlbState(s);
  const def = h.hstates.get(h.defaultOrder);
  if (!def) return {};
  const c = poolCounts(s, def.order);
  let total = 0n;
  for (const hs of h.hstates.values()) total += hs.bytes * BigInt(poolCounts(s, hs.order).nr);
  return {
    HugePages_Total: c.nr,
    HugePages_Free: c.free,
    HugePages_Rsvd: 0,
    HugePages_Surp: c.surplus,
    Hugepagesize: Number(def.bytes / 1024n),
    Hugetlb: Number(total / 1024n),
  };
}

/** /sys/kernel/mm/hugepages/hugepages-<kB>kB/* (or /sys/devices/system/node/nodeN/hugepages/… with nid). */
export function hugetlbSysfs(s: ReadonlyMachineState, nid: number | null = null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const hs of [...hugetlbState(s).hstates.values()].sort((a, b) => a.order - b.order)) {
    const dir = `hugepages-${hs.bytes / 1024n}kB`;
    const c = poolCounts(s, hs.order, nid);
    out[`${dir}/nr_hugepages`] = String(c.nr);
    out[`${dir}/free_hugepages`] = String(c.free);
    out[`${dir}/surplus_hugepages`] = String(c.surplus);
    if (nid === null) {
      out[`${dir}/resv_hugepages`] = '0';
      out[`${dir}/nr_overcommit_hugepages`] = String(hs.order === hugetlbState(s).defaultOrder ? s.knobs.nrOvercommitHugepages : 0);
    }
  }
  return out;
}

export interface HvoReportRow {
  readonly sizeKb: number;
  readonly node: number;
  readonly pages: number;
  readonly optimized: number;
  /** Pool pages HVO left alone, by reason. */
  readonly skipped: Readonly<Partial<Record<HvoSkipReason, number>>>;
  /** vmemmap pages currently given back by HVO for these pages. */
  readonly vmemmapPagesFreed: number;
}

export interface HvoReport {
  readonly rows: readonly HvoReportRow[];
  readonly totals: { readonly pages: number; readonly optimized: number; readonly skipped: Readonly<Partial<Record<HvoSkipReason, number>>> };
  /** Every decision since boot (pages that have left the pool included). */
  readonly decisions: { readonly optimized: number; readonly skipped: Readonly<Partial<Record<HvoSkipReason, number>>>; readonly restored: number; readonly restoreFailed: number };
  /** "28 KiB vmemmap can be freed for a 2.00 MiB page" per size, as hugetlb_vmemmap_init logs it (0 → not optimisable). */
  readonly freeablePerPageKb: Readonly<Record<string, number>>;
  /** One sentence per skip reason present, for humans. */
  readonly why: readonly string[];
}

const WHY: Readonly<Record<HvoSkipReason, string>> = {
  disabled: 'HVO is off (hugetlb_free_vmemmap= / vm.hugetlb_optimize_vmemmap) when the page was prepared',
  arch: 'the architecture does not select HVO for this kernel',
  'struct-page-not-power-of-two': 'sizeof(struct page) is not a power of two',
  'hstate-not-optimisable': 'the huge page size has no more than the kept vmemmap pages',
  'self-hosted': 'the vmemmap of the page lives on its own memmap_on_memory block (VmemmapSelfHosted, 6.0+)',
  'pte-table-alloc-failure': 'allocating the PTE table to split the vmemmap PMD failed',
};

/** The seed-001 report: HVO decisions over the current pool, per size and node. */
export function hvoReport(s: ReadonlyMachineState): HvoReport {
  const h = hugetlbState(s);
  const rows = new Map<string, { sizeKb: number; node: number; pages: number; optimized: number; skipped: Partial<Record<HvoSkipReason, number>>; freed: number }>();
  const totals = { pages: 0, optimized: 0, skipped: {} as Partial<Record<HvoSkipReason, number>> };
  for (const p of h.pages.values()) {
    const hs = h.hstates.get(p.order);
    const sizeKb = hs ? Number(hs.bytes / 1024n) : 0;
    const key = `${sizeKb}:${p.nid}`;
    const r = rows.get(key) ?? { sizeKb, node: p.nid, pages: 0, optimized: 0, skipped: {}, freed: 0 };
    r.pages += 1;
    totals.pages += 1;
    if (p.hvo === 'optimized') {
      r.optimized += 1;
      totals.optimized += 1;
      r.freed += p.freedVmemmapPages;
    } else {
      r.skipped[p.hvo] = (r.skipped[p.hvo] ?? 0) + 1;
      totals.skipped[p.hvo] = (totals.skipped[p.hvo] ?? 0) + 1;
    }
    rows.set(key, r);
  }
  const freeablePerPageKb: Record<string, number> = {};
  for (const hs of h.hstates.values()) freeablePerPageKb[`${hs.bytes / 1024n}kB`] = (hvoGeometry(s, hs.order).freed * s.machine.geometry.pageBytes) / 1024;
  const skipped: Partial<Record<HvoSkipReason, number>> = {};
  for (const [k, v] of h.decisions.skipped) skipped[k] = v;
  return {
    rows: [...rows.values()]
      .sort((a, b) => a.sizeKb - b.sizeKb || a.node - b.node)
      .map((r) => ({ sizeKb: r.sizeKb, node: r.node, pages: r.pages, optimized: r.optimized, skipped: r.skipped, vmemmapPagesFreed: r.freed })),
    totals,
    decisions: { optimized: h.decisions.optimized, skipped, restored: h.decisions.restored, restoreFailed: h.decisions.restoreFailed },
    freeablePerPageKb,
    why: (Object.keys(totals.skipped) as HvoSkipReason[]).map((k) => `${totals.skipped[k]} page(s): ${WHY[k]}`),
  };
}

/** The report as text. */
export function formatHvoReport(r: HvoReport): string {
  const lines = [`HVO: ${r.totals.optimized} of ${r.totals.pages} HugeTLB pages optimised`];
  for (const row of r.rows) {
    const sk = Object.entries(row.skipped).map(([k, v]) => `${v} ${k}`).join(', ');
    lines.push(`  ${row.sizeKb} kB node ${row.node}: ${row.pages} pages, ${row.optimized} optimised (${row.vmemmapPagesFreed} vmemmap pages freed)${sk ? `, skipped: ${sk}` : ''}`);
  }
  for (const w of r.why) lines.push(`  skipped ${w}`);
  return lines.join('\n');
}
