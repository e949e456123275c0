/**
 * HVO accounting of apps/docs/kernel/hvo.md#accounting (x86-64, 2 MiB pages, struct page 64 B) per kernel version, the HVO
 * conditions of apps/docs/kernel/hvo.md#conditions, and the restore path of apps/docs/kernel/hvo.md#steps.
 */
import { describe, expect, it } from 'vitest';
import { createSimulator, hugetlbMeminfo, hugetlbState, hvoReport, viewMeminfo, type MachineConfig, type KernelVersion } from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { small, MiB } from './support/machines.js';

const M2 = 2n * MiB;

function sim(kernel: KernelVersion, cmdline: string, extra: Partial<MachineConfig> = {}, faults = {}) {
  return createSimulator({ config: small(2, kernel, cmdline, extra), backend: testBackend, checkInvariants: true, faults });
}

function snap(s: ReturnType<typeof sim>) {
  const m = viewMeminfo(s.state);
  return { MemTotal: m.MemTotal!, MemFree: m.MemFree!, boot: s.state.counters.nrMemmapBootPages, hot: s.state.counters.nrMemmapPages };
}

function delta(a: ReturnType<typeof snap>, b: ReturnType<typeof snap>) {
  return { MemTotal: b.MemTotal - a.MemTotal, MemFree: b.MemFree - a.MemFree, boot: b.boot - a.boot, hot: b.hot - a.hot };
}

describe('one 2 MiB HugeTLB page on boot memory (apps/docs/kernel/hvo.md#accounting)', () => {
  it('with HVO off takes 2048 kB from MemFree and leaves MemTotal alone', () => {
    const s = sim('6.1', '');
    const a = snap(s);
    expect(s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 }).ok).toBe(true);
    // apps/docs/kernel/hvo.md#accounting column "HVO off": MemFree −2048, MemTotal 0, no memmap counter moves
    expect(delta(a, snap(s))).toEqual({ MemTotal: 0, MemFree: -2048, boot: 0, hot: 0 });
  });

  it('6.1: frees 7 boot vmemmap pages (+28 kB MemTotal) after splitting the PMD with one PTE table', () => {
    const s = sim('6.1', 'hugetlb_free_vmemmap=on');
    const a = snap(s);
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    // apps/docs/kernel/hvo.md#accounting: MemTotal +28 (6.1), MemFree −2048 + 28, and −4 kB for the PTE table of the first split (apps/docs/kernel/hvo.md#steps step 1)
    expect(delta(a, snap(s))).toEqual({ MemTotal: 28, MemFree: -2048 + 28 - 4, boot: -7, hot: 0 });
  });

  it('6.1: a second page in the same 128 MiB reuses the split PTE table', () => {
    const s = sim('6.1', 'hugetlb_free_vmemmap=on');
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    const a = snap(s);
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 2 });
    // apps/docs/kernel/hvo.md#steps step 1: one split per 2 MiB of vmemmap (128 MiB of RAM); later pages reuse it
    expect(delta(a, snap(s))).toEqual({ MemTotal: 28, MemFree: -2048 + 28, boot: -7, hot: 0 });
  });

  it('6.18 (6.2+ new head page): frees all 8 boot pages (+32 kB) and allocates one new head (nr_memmap_pages +1)', () => {
    const s = sim('6.18', '', { sysctls: { 'vm.hugetlb_optimize_vmemmap': '1' } });
    const a = snap(s);
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    // apps/docs/kernel/hvo.md#accounting "6.2+": MemTotal +32, MemFree −2048 + 32 − 4 (new head) − 4 (PTE table), boot −8, nr_memmap_pages +1
    expect(delta(a, snap(s))).toEqual({ MemTotal: 32, MemFree: -2048 + 32 - 4 - 4, boot: -8, hot: 1 });
  });

  it('5.14: keeps two vmemmap pages and frees 6 (+24 kB)', () => {
    const s = sim('5.14', 'hugetlb_free_vmemmap=on');
    const a = snap(s);
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    // apps/docs/kernel/hvo.md#what-it-does: w − 2 in 5.14–5.17 (HUGETLB_VMEMMAP_RESERVE_SIZE was 2 pages, apps/docs/kernel/constants.md#arch-independent)
    expect(delta(a, snap(s))).toEqual({ MemTotal: 24, MemFree: -2048 + 24 - 4, boot: -6, hot: 0 });
  });

  it('6.2+: a failed new-head allocation reuses the old head (6.1 numbers), as commit 11aad2631bf7 allows', () => {
    // order0 call #1 is the PTE table, #2 the new head page
    const s = sim('6.18', 'hugetlb_free_vmemmap=1', {}, { sites: { order0: { nth: [2] } } });
    const a = snap(s);
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    expect(delta(a, snap(s))).toEqual({ MemTotal: 28, MemFree: -2048 + 28 - 4, boot: -7, hot: 0 });
  });

  it('reports HugePages_Total/Free/Surp, Hugepagesize and Hugetlb in /proc/meminfo', () => {
    const s = sim('6.1', 'hugetlb_free_vmemmap=on');
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 3 });
    // mm/hugetlb.c hugetlb_report_meminfo: counts of the default hstate, sizes in kB
    expect(hugetlbMeminfo(s.state)).toEqual({ HugePages_Total: 3, HugePages_Free: 3, HugePages_Rsvd: 0, HugePages_Surp: 0, Hugepagesize: 2048, Hugetlb: 6144 });
    // core's own /proc/meminfo view carries them, after MemTotal and MemFree, in the kernel's order
    // (fs/proc/meminfo.c meminfo_proc_show calls hugetlb_report_meminfo near its end, 6.1)
    const m = viewMeminfo(s.state);
    expect(Object.keys(m)).toEqual(['MemTotal', 'MemFree', 'HugePages_Total', 'HugePages_Free', 'HugePages_Rsvd', 'HugePages_Surp', 'Hugepagesize', 'Hugetlb']);
    expect(m).toMatchObject({ HugePages_Total: 3, HugePages_Free: 3, HugePages_Rsvd: 0, HugePages_Surp: 0, Hugepagesize: 2048, Hugetlb: 6144 });
  });
});

describe('restore when a page leaves the pool (apps/docs/kernel/hvo.md#steps)', () => {
  it('allocates w − 1 pages back: nr_memmap_pages +7, MemFree −28 kB net of the 2 MiB returned, MemTotal stays', () => {
    const s = sim('6.18', 'hugetlb_free_vmemmap=1');
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    const a = snap(s);
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 0 });
    // apps/docs/kernel/hvo.md#accounting last paragraph: restore reverses the vmemmap rows: nr_memmap_pages += 7, MemFree −28 kB; MemTotal stays
    expect(delta(a, snap(s))).toEqual({ MemTotal: 0, MemFree: 2048 - 28, boot: 0, hot: 7 });
    expect(hugetlbMeminfo(s.state).HugePages_Total).toBe(0);
  });

  it('keeps the page as surplus when the restore allocation fails (add_hugetlb_page with adjust_surplus)', () => {
    // pool of 1 (PTE table #1, new head #2), then the restore's first order-0 allocation (#3) fails
    const s = sim('6.18', 'hugetlb_free_vmemmap=1', {}, { sites: { order0: { nth: [3] } } });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    const r = s.exec({ kind: 'hugepages', sizeBytes: M2, count: 0 });
    // mm/hugetlb.c __update_and_free_page: "treat as a surplus page"; the write itself succeeds
    expect(r.ok).toBe(true);
    expect(hugetlbMeminfo(s.state)).toMatchObject({ HugePages_Total: 1, HugePages_Free: 1, HugePages_Surp: 1 });
    expect(hugetlbState(s.state).decisions.restoreFailed).toBe(1);
    // the page is still optimised: 8 boot pages freed, 1 new head page (6.2+)
    expect([...hugetlbState(s.state).pages.values()][0]).toMatchObject({ hvo: 'optimized', newHead: true, freedVmemmapPages: 7 });
  });
});

describe('HVO conditions (apps/docs/kernel/hvo.md#conditions)', () => {
  it('does nothing for a 56-byte struct page: the sysctl is not even registered', () => {
    const s = sim('6.1', 'hugetlb_free_vmemmap=on', { structPageBytes: 56 });
    // apps/docs/kernel/hvo.md#conditions item 3 and apps/docs/kernel/knobs.md#runtime: absent sysctl, nothing optimisable
    expect(s.state.knobs.hugetlbOptimizeVmemmap).toBeNull();
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    expect(hvoReport(s.state).totals).toMatchObject({ pages: 1, optimized: 0 });
  });

  it('leaves pages prepared before the sysctl was turned on unoptimised (apps/docs/kernel/hvo.md#conditions item 6)', () => {
    const s = sim('6.18', '');
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    s.exec({ kind: 'sysctl', name: 'vm.hugetlb_optimize_vmemmap', value: '1' });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 2 });
    const r = hvoReport(s.state);
    expect(r.totals).toEqual({ pages: 2, optimized: 1, skipped: { disabled: 1 } });
  });
});
