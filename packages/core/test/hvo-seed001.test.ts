/**
 * Seed 001 (VmemmapSelfHosted, commit 66361095129b, v6.0; apps/docs/kernel/memmap-on-memory.md#support, apps/docs/kernel/memmap-on-memory.md#self-hosted, apps/docs/kernel/hvo.md#conditions item 5): HVO skips a
 * HugeTLB page whose vmemmap lives on its own memmap_on_memory block — found by walking the vmemmap page table
 * to the page backing the head struct page — and optimises pages on boot memory or on a RAM-backed block.
 * In 5.14–5.19 the two features exclude each other by configuration instead.
 */
import { describe, expect, it } from 'vitest';
import { serializeEvent, type EventEnvelope } from '@memhp/events';
import {
  createSimulator,
  hvoReport,
  pageVmemmapSelfHosted,
  pfnToPageVa,
  replayState,
  vmemmapBackingPfn,
  hugetlbState,
  type KernelVersion,
} from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { small, GiB, MiB } from './support/machines.js';

const M2 = 2n * MiB;
const BLOCK = 32; // 4 GiB / 128 MiB

function seed001(kernel: KernelVersion, cmdline = 'memory_hotplug.memmap_on_memory=1 hugetlb_free_vmemmap=1') {
  const events: EventEnvelope[] = [];
  const sim = createSimulator({ config: small(2, kernel, cmdline), backend: testBackend, checkInvariants: true, autoBoot: false });
  sim.bus.on('test', (e) => events.push(e));
  sim.boot();
  return { sim, events };
}

describe('seed 001 on 6.0+: HVO and memmap_on_memory coexist', () => {
  for (const kernel of ['6.0', '6.1', '6.18'] as const) {
    it(`${kernel}: optimises 4 pages on boot memory and skips 4 on a self-hosted block as "self-hosted"`, () => {
      const { sim } = seed001(kernel);
      expect(sim.exec({ kind: 'hugepages', node: 0, sizeBytes: M2, count: 4 }).ok).toBe(true);
      expect(sim.exec({ kind: 'add_memory', node: 1, range: { startBytes: 4n * GiB, sizeBytes: 128n * MiB }, flags: ['memmap_on_memory'] }).ok).toBe(true);
      expect(sim.exec({ kind: 'block_state', block: BLOCK, state: 'online_movable' }).ok).toBe(true);
      const before = { ...sim.state.counters };
      expect(sim.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 4 }).ok).toBe(true);
      // apps/docs/kernel/memmap-on-memory.md#self-hosted: skipped pages change no memmap counter
      expect(sim.state.counters.nrMemmapPages).toBe(before.nrMemmapPages);
      expect(sim.state.counters.nrMemmapBootPages).toBe(before.nrMemmapBootPages);
      const r = hvoReport(sim.state);
      expect(r.totals).toEqual({ pages: 8, optimized: 4, skipped: { 'self-hosted': 4 } });
      expect(r.rows.find((x) => x.node === 1)).toMatchObject({ pages: 4, optimized: 0, skipped: { 'self-hosted': 4 } });
      expect(r.why.join(' ')).toMatch(/VmemmapSelfHosted/);
    });
  }

  it('finds the flag on the page that backs the head struct page: leaf base + pte_index, inside the block\'s first 512 pfns', () => {
    const { sim } = seed001('6.1');
    sim.exec({ kind: 'add_memory', node: 1, range: { startBytes: 4n * GiB, sizeBytes: 128n * MiB }, flags: ['memmap_on_memory'] });
    sim.exec({ kind: 'block_state', block: BLOCK, state: 'online_movable' });
    sim.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 1 });
    const [page] = [...hugetlbState(sim.state).pages.values()];
    const g = sim.state.machine.geometry;
    const base = BLOCK * g.pagesPerBlock;
    // the page sits in the usable part of the block: above the 512 self-hosted vmemmap pages (apps/docs/kernel/memmap-on-memory.md#accounting)
    expect(page!.headPfn).toBeGreaterThanOrEqual(base + 512);
    expect(page!.headPfn).toBeLessThanOrEqual(base + g.pagesPerBlock - 512);
    const backing = vmemmapBackingPfn(sim.state, pfnToPageVa(g, page!.headPfn));
    // mm/hugetlb_vmemmap.c vmemmap_should_optimize: pmd_page(pmd) + pte_index(vaddr); the block's memmap is
    // one 2 MiB leaf from its own altmap, so pfn = block start + (offset of the head struct page) / 4 KiB
    expect(backing).toEqual({ source: 'altmap', pfn: base + Math.floor(((page!.headPfn - base) * 64) / 4096) });
    expect(pageVmemmapSelfHosted(sim.state, backing.pfn!)).toBe(BLOCK);
    // the flag is on vmemmap pages only, not on the block's first usable pfn (the review point of the seed)
    expect(pageVmemmapSelfHosted(sim.state, base + 512)).toBeNull();
  });

  it('optimises pages on a hot-added block whose memmap came from RAM: nr_memmap_pages −7 per page on 6.18', () => {
    const { sim } = seed001('6.18');
    sim.exec({ kind: 'add_memory', node: 1, range: { startBytes: 4n * GiB, sizeBytes: 128n * MiB }, flags: [] });
    sim.exec({ kind: 'block_state', block: BLOCK, state: 'online_movable' });
    const a = sim.state.counters.nrMemmapPages;
    const t = sim.state.counters.totalramPages;
    sim.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 2 });
    // apps/docs/kernel/hvo.md#accounting last column: nr_memmap_pages −8 + 1 per page, MemTotal unchanged (buddy pages were already managed)
    expect(sim.state.counters.nrMemmapPages - a).toBe(-14);
    expect(sim.state.counters.totalramPages).toBe(t);
    expect(hvoReport(sim.state).totals.optimized).toBe(2);
  });

  it('replays the seed-001 log to the identical state', () => {
    const { sim, events } = seed001('6.18');
    sim.exec({ kind: 'hugepages', node: 0, sizeBytes: M2, count: 4 });
    sim.exec({ kind: 'add_memory', node: 1, range: { startBytes: 4n * GiB, sizeBytes: 128n * MiB }, flags: ['memmap_on_memory'] });
    sim.exec({ kind: 'block_state', block: BLOCK, state: 'online_movable' });
    sim.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 4 });
    sim.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 1 });
    const lines = events.map((e) => JSON.parse(serializeEvent(e)) as EventEnvelope);
    expect(replayState(lines, sim.header())).toEqual(sim.state);
  });
});

describe('seed 001 before 6.0: the features exclude each other (apps/docs/kernel/memmap-on-memory.md#support)', () => {
  it('5.18: with HVO on, a memmap_on_memory add is refused with -EINVAL (hugetlb_free_vmemmap takes precedence)', () => {
    const { sim } = seed001('5.18', 'memory_hotplug.memmap_on_memory=1 hugetlb_free_vmemmap=on'); // 5.14–5.18 accept on/off only
    const r = sim.exec({ kind: 'add_memory', node: 1, range: { startBytes: 4n * GiB, sizeBytes: 128n * MiB }, flags: ['memmap_on_memory'] });
    expect(r).toMatchObject({ ok: false, errno: 'EINVAL' });
  });

  it('5.19: the parameter parser leaves memmap_on_memory off, so the add is refused and HVO still runs', () => {
    const { sim } = seed001('5.19');
    expect(sim.state.params.memmapOnMemory).toBe('off');
    expect(sim.exec({ kind: 'add_memory', node: 1, range: { startBytes: 4n * GiB, sizeBytes: 128n * MiB }, flags: ['memmap_on_memory'] })).toMatchObject({ ok: false, errno: 'EINVAL' });
    sim.exec({ kind: 'hugepages', node: 0, sizeBytes: M2, count: 2 });
    expect(hvoReport(sim.state).totals.optimized).toBe(2);
  });

  it('5.19: with memmap_on_memory on and HVO off at boot, the sysctl is not registered and pages stay unoptimised', () => {
    const { sim } = seed001('5.19', 'memory_hotplug.memmap_on_memory=1');
    expect(sim.exec({ kind: 'sysctl', name: 'vm.hugetlb_optimize_vmemmap', value: '1' })).toMatchObject({ ok: false, errno: 'ENOENT' });
    sim.exec({ kind: 'add_memory', node: 1, range: { startBytes: 4n * GiB, sizeBytes: 128n * MiB }, flags: ['memmap_on_memory'] });
    sim.exec({ kind: 'block_state', block: BLOCK, state: 'online_movable' });
    sim.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 2 });
    expect(hvoReport(sim.state).totals).toEqual({ pages: 2, optimized: 0, skipped: { disabled: 2 } });
  });
});
