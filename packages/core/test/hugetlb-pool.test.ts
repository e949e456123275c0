/**
 * The HugeTLB pool (mm/hugetlb.c set_max_huge_pages, adjust_pool_surplus, hugetlb_hstate_alloc_pages, 6.1;
 * apps/docs/kernel/hvo.md#hvo, apps/docs/kernel/knobs.md#cmdline, apps/docs/kernel/knobs.md#runtime): per-hstate and per-node counts, boot-time pools, surplus pages, gigantic pages,
 * and a property over random pool operations.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { serializeEvent, type EventEnvelope } from '@memhp/events';
import {
  createSimulator,
  evolve,
  hugepagesCommandFromPath,
  hugetlbMeminfo,
  hugetlbState,
  hugetlbSysfs,
  hvoReport,
  poolCounts,
  InvariantViolation,
  replayState,
  type ApplierTable,
  type ArchBackend,
  type Command,
  type KernelVersion,
  type MachineState,
} from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { small, GiB, MiB } from './support/machines.js';

const M2 = 2n * MiB;
/** The test backend with x86's 1 GiB size too (needs pdpe1gb, apps/docs/kernel/hvo.md#sizes). */
const withGiant: ArchBackend = {
  ...testBackend,
  hugepageSizes: () => [
    { bytes: 2n * MiB, level: 'pmd' },
    { bytes: GiB, level: 'pud', requiresFeature: 'pdpe1gb' },
  ],
};

const twoNodes = (kernel: KernelVersion = '6.1', cmdline = '') => ({
  ...small(2, kernel, cmdline),
  nodes: [
    { id: 0, memory: [{ startBytes: 0n, sizeBytes: 2n * GiB }] },
    { id: 1, memory: [{ startBytes: 2n * GiB, sizeBytes: 2n * GiB }] },
  ],
});

describe('nr_hugepages, global and per node', () => {
  it('interleaves a global request over the nodes with memory, round-robin', () => {
    const s = createSimulator({ config: twoNodes(), backend: testBackend, checkInvariants: true });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 5 });
    // alloc_pool_huge_page walks for_each_node_mask_to_alloc from next_nid_to_alloc: 0, 1, 0, 1, 0
    expect(poolCounts(s.state, 9, 0).nr).toBe(3);
    expect(poolCounts(s.state, 9, 1).nr).toBe(2);
    expect(hugetlbSysfs(s.state)['hugepages-2048kB/nr_hugepages']).toBe('5');
    expect(hugetlbSysfs(s.state, 1)['hugepages-2048kB/nr_hugepages']).toBe('2');
  });

  it('turns a per-node count into a global target and touches only that node', () => {
    const s = createSimulator({ config: twoNodes(), backend: testBackend, checkInvariants: true });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 4 });
    s.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 5 });
    // set_max_huge_pages: count += nr_huge_pages − nr_huge_pages_node[nid]
    expect([poolCounts(s.state, 9, 0).nr, poolCounts(s.state, 9, 1).nr]).toEqual([2, 5]);
    s.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 0 });
    expect([poolCounts(s.state, 9, 0).nr, poolCounts(s.state, 9, 1).nr]).toEqual([2, 0]);
  });

  it('stops short without an error when memory runs out (the write still succeeds)', () => {
    const s = createSimulator({ config: small(1), backend: testBackend, checkInvariants: true });
    const r = s.exec({ kind: 'hugepages', sizeBytes: M2, count: 100000 });
    expect(r.ok).toBe(true);
    // 1 GiB: block 0 has no single zone (DMA + DMA32; valid_zones of memory0 is empty, apps/docs/kernel/readings.md#readings) so blocks 1–7
    // (896 MiB) hold 896 / 2 = 448 pages. A model number, not a kernel reading: the model places huge pages only in
    // online blocks with a zone and models no kernel allocations (hugetlb/pool.ts); a real kernel gets fewer
    expect(poolCounts(s.state, 9).nr).toBe(448);
  });

  it('rejects a size the machine has no hstate for with -ENOENT (no such sysfs directory)', () => {
    const s = createSimulator({ config: small(1), backend: testBackend });
    expect(s.exec({ kind: 'hugepages', sizeBytes: GiB, count: 1 })).toMatchObject({ ok: false, errno: 'ENOENT' });
  });

  it('takes vm.nr_hugepages and the sysfs files as sysctl writes, and passes other names on', () => {
    const s = createSimulator({ config: twoNodes(), backend: testBackend, checkInvariants: true });
    expect(s.exec({ kind: 'sysctl', name: 'vm.nr_hugepages', value: '4' }).ok).toBe(true);
    expect(s.exec({ kind: 'sysctl', name: '/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages', value: '3' }).ok).toBe(true);
    expect([poolCounts(s.state, 9, 0).nr, poolCounts(s.state, 9, 1).nr]).toEqual([2, 3]);
    expect(s.exec({ kind: 'sysctl', name: 'vm.nr_hugepages', value: 'many' })).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(s.exec({ kind: 'sysctl', name: 'vm.nr_overcommit_hugepages', value: '2' }).ok).toBe(true);
    expect(s.state.knobs.nrOvercommitHugepages).toBe(2);
  });

  it('maps the sysctl and sysfs spellings to the same command', () => {
    expect(hugepagesCommandFromPath('vm.nr_hugepages', '8')).toEqual({ kind: 'hugepages', sizeBytes: 0n, count: 8 });
    expect(hugepagesCommandFromPath('/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages', '2')).toEqual({
      kind: 'hugepages',
      node: 1,
      sizeBytes: GiB,
      count: 2,
    });
    expect(hugepagesCommandFromPath('vm.nr_hugepages', 'x')).toEqual({ error: 'vm.nr_hugepages: invalid value "x" (an unsigned count)' });
    expect(hugepagesCommandFromPath('vm.swappiness', '1')).toBeNull();
  });
});

describe('surplus pages', () => {
  it('turns in-use pages into surplus when the pool is shrunk below them (adjust_pool_surplus +1)', () => {
    const s = createSimulator({ config: small(2), backend: testBackend, checkInvariants: true });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 3 });
    s.exec({ kind: 'hugetlb_use', sizeBytes: M2, pages: 2 });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 0 });
    // the free page is freed, the two in use stay and count as surplus
    expect(hugetlbMeminfo(s.state)).toMatchObject({ HugePages_Total: 2, HugePages_Free: 0, HugePages_Surp: 2 });
    // unmapping a surplus page frees it to the buddy (free_huge_page)
    s.exec({ kind: 'hugetlb_use', sizeBytes: M2, pages: -2 });
    expect(hugetlbMeminfo(s.state)).toMatchObject({ HugePages_Total: 0, HugePages_Surp: 0 });
  });

  it('allocates surplus pages up to nr_overcommit_hugepages, then fails the mapping with -ENOMEM', () => {
    const s = createSimulator({ config: small(2), backend: testBackend, checkInvariants: true });
    s.exec({ kind: 'sysctl', name: 'vm.nr_overcommit_hugepages', value: '1' });
    expect(s.exec({ kind: 'hugetlb_use', sizeBytes: M2, pages: 1 }).ok).toBe(true);
    expect(hugetlbMeminfo(s.state)).toMatchObject({ HugePages_Total: 1, HugePages_Surp: 1 });
    expect(s.exec({ kind: 'hugetlb_use', sizeBytes: M2, pages: 1 })).toMatchObject({ ok: false, errno: 'ENOMEM' });
  });

  it('makes surplus pages persistent again when the pool grows (adjust_pool_surplus −1)', () => {
    const s = createSimulator({ config: small(2), backend: testBackend, checkInvariants: true });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 2 });
    s.exec({ kind: 'hugetlb_use', sizeBytes: M2, pages: 2 });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 0 });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 3 });
    expect(hugetlbMeminfo(s.state)).toMatchObject({ HugePages_Total: 3, HugePages_Free: 1, HugePages_Surp: 0 });
  });
});

describe('boot-time pools and gigantic pages', () => {
  it('allocates hugepages= of the default size at boot', () => {
    const s = createSimulator({ config: small(2, '6.1', 'hugepages=16'), backend: testBackend, checkInvariants: true });
    // mm/hugetlb.c hugetlb_report_meminfo, 6.1: Hugepagesize in kB, Hugetlb = Σ nr_huge_pages × size in kB = 16 × 2048
    expect(hugetlbMeminfo(s.state)).toMatchObject({ HugePages_Total: 16, Hugepagesize: 2048, Hugetlb: 32768 });
  });

  it('honours the per-node form hugepages=0:2,1:3', () => {
    const s = createSimulator({ config: { ...twoNodes('6.1'), cmdline: 'hugepages=0:2,1:3' }, backend: testBackend, checkInvariants: true });
    // mm/hugetlb.c hugepages_setup: per-node counts go to that node's pool only
    expect([poolCounts(s.state, 9, 0).nr, poolCounts(s.state, 9, 1).nr]).toEqual([2, 3]);
  });

  it('refuses a per-node write to a node that is not online with -ENOENT (no nodeN directory)', () => {
    const s = createSimulator({ config: small(1), backend: testBackend });
    expect(s.exec({ kind: 'hugepages', node: 5, sizeBytes: M2, count: 1 })).toMatchObject({ ok: false, errno: 'ENOENT' });
    // node 1 is possible but was never brought online: no node1 directory either
    expect(s.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 1 })).toMatchObject({ ok: false, errno: 'ENOENT' });
    // once memory was added to it the node is online; its block is still offline, so nothing is allocated
    s.exec({ kind: 'add_memory', node: 1, range: { startBytes: 4n * GiB, sizeBytes: 128n * MiB }, flags: [] });
    expect(s.exec({ kind: 'hugepages', node: 1, sizeBytes: M2, count: 1 })).toMatchObject({ ok: true });
    expect(poolCounts(s.state, 9).nr).toBe(0);
  });

  it('honours hugepagesz=1G hugepages=1 and default_hugepagesz=1G', () => {
    const s = createSimulator({ config: small(2, '6.1', 'default_hugepagesz=1G hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=3'), backend: withGiant, checkInvariants: true });
    // HugePages_* describe the default hstate; Hugetlb sums both sizes (hugetlb_report_meminfo)
    expect(hugetlbMeminfo(s.state)).toEqual({ HugePages_Total: 1, HugePages_Free: 1, HugePages_Rsvd: 0, HugePages_Surp: 0, Hugepagesize: 1048576, Hugetlb: 1048576 + 3 * 2048 });
    const giant = [...hugetlbState(s.state).pages.values()].find((p) => p.order === 18)!;
    // a gigantic page is never in ZONE_MOVABLE and is naturally aligned (alloc_contig_pages, mm/page_alloc.c, 6.1):
    // a multiple of 1 GiB / 4 KiB = 262144 pfns
    expect(giant.headPfn % 262144).toBe(0);
    expect(giant.zone).toBe('DMA32');
  });

  it('6.1: HVO of a 1 GiB page frees 4095 boot vmemmap pages after splitting 8 PMDs (+16380 kB MemTotal)', () => {
    const s = createSimulator({ config: small(2, '6.1', 'hugetlb_free_vmemmap=on'), backend: withGiant, checkInvariants: true });
    const t0 = s.state.counters.totalramPages;
    const f0 = s.state.counters.nrFreePages;
    s.exec({ kind: 'hugepages', sizeBytes: GiB, count: 1 });
    // apps/docs/kernel/hvo.md#sizes: x86-64 1 GiB → w = 4096, 4095 freed, 16380 KiB; apps/docs/kernel/readings.md#readings dmesg "16380 KiB vmemmap can be freed"
    expect((s.state.counters.totalramPages - t0) * 4).toBe(16380);
    // 16 MiB of vmemmap = 8 PMD leaves, each split with one PTE table page (apps/docs/kernel/hvo.md#steps step 1)
    expect(s.state.counters.nrFreePages - f0).toBe(-262144 + 4095 - 8);
    expect(hvoReport(s.state).freeablePerPageKb).toEqual({ '2048kB': 28, '1048576kB': 16380 });
  });
});

describe('a property over random pool operations', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('hugepages' as const), node: fc.option(fc.constantFrom(0, 1), { nil: undefined }), count: fc.nat(40) }),
    fc.record({ kind: fc.constant('hugetlb_use' as const), pages: fc.integer({ min: -3, max: 3 }) }),
    fc.record({ kind: fc.constant('sysctl' as const), value: fc.constantFrom('0', '1') }),
  );
  /** The property, with evolve optionally carrying a planted bug. */
  const poolProperty = (planted: readonly ApplierTable[] = []) =>
      fc.property(fc.array(op, { maxLength: 12 }), fc.integer({ min: 0, max: 1000 }), (ops, seed) => {
        const events: EventEnvelope[] = [];
        const s = createSimulator({ config: twoNodes('6.18'), backend: testBackend, checkInvariants: true, autoBoot: false, seed, faults: { order0FailRate: 0.05 }, appliers: planted });
        s.bus.on('t', (e) => events.push(e));
        s.boot();
        for (const o of ops) {
          const cmd: Command =
            o.kind === 'hugepages'
              ? { kind: 'hugepages', sizeBytes: M2, count: o.count, ...(o.node !== undefined ? { node: o.node } : {}) }
              : o.kind === 'hugetlb_use'
                ? { kind: 'hugetlb_use', sizeBytes: M2, pages: o.pages }
                : { kind: 'sysctl', name: 'vm.hugetlb_optimize_vmemmap', value: o.value };
          const r = s.exec(cmd);
          if (!r.ok) expect(['ENOMEM', 'EINVAL']).toContain(r.errno);
          const c = poolCounts(s.state, 9);
          expect(c.surplus).toBeLessThanOrEqual(c.nr);
          expect(c.free).toBeLessThanOrEqual(c.nr);
          // the indexes agree with the pages: counts, LIFO free lists, merged occupied ranges without overlap
          const h = hugetlbState(s.state);
          const pages = [...h.pages.values()].sort((a, b) => a.headPfn - b.headPfn);
          expect(c.nr).toBe(pages.length);
          expect(c.free).toBe(pages.filter((p) => !p.inUse).length);
          const merged: Array<[number, number]> = [];
          for (const p of pages) {
            const last = merged[merged.length - 1];
            expect(last === undefined || last[1] <= p.headPfn).toBe(true);
            if (last && last[1] === p.headPfn) last[1] += 512;
            else merged.push([p.headPfn, p.headPfn + 512]);
          }
          expect(h.used).toEqual(merged);
        }
        const replayed = replayState(events.map((e) => JSON.parse(serializeEvent(e)) as EventEnvelope), s.header());
        expect(replayed).toEqual(s.state);
      });
  it('keeps every invariant, never lets surplus exceed the pool, and replays to the identical state', () => {
    fc.assert(poolProperty(), { numRuns: 20 });
  });

  /** Planted bug: HVO frees tail vmemmap pages but leaves them in nr_memmap_pages / nr_memmap_boot_pages. */
  const hvoKeepsMemmapCount: ApplierTable = {
    'hvo.optimize': (st: MachineState, p: { freedBoot: number; freedBuddy: number }, e: EventEnvelope) => {
      evolve(st, e);
      st.counters.nrMemmapBootPages += p.freedBoot;
      st.counters.nrMemmapPages += p.freedBuddy;
    },
  } as unknown as ApplierTable;

  it('fails through the invariant checker when HVO forgets the memmap counters (a planted bug)', () => {
    const r = fc.check(poolProperty([hvoKeepsMemmapCount]), { numRuns: 20, seed: 21, endOnFailure: true });
    expect(r.failed).toBe(true);
    expect(r.errorInstance).toBeInstanceOf(InvariantViolation);
    expect((r.errorInstance as InvariantViolation).invariant).toBe('counters match the state');
  });
});
