/**
 * The HVO restore's node binding (apps/docs/kernel/hvo.md#restore-node): until 6.7 the vmemmap pages a huge page
 * needs back are allocated GFP_KERNEL | __GFP_THISNODE on the page's node (mm/hugetlb_vmemmap.c
 * hugetlb_vmemmap_restore, 6.1.192: GFP_KERNEL | __GFP_NORETRY | __GFP_THISNODE; 6.5: __GFP_RETRY_MAYFAIL), so a
 * node whose memory is all ZONE_MOVABLE cannot give them: the page stays in the pool as surplus (mm/hugetlb.c
 * __update_and_free_page → add_hugetlb_page(h, page, true)) and warn_alloc prints "page allocation failure".
 * 6.7 dropped __GFP_THISNODE (Yuan Can, "mm: hugetlb_vmemmap: fix hugetlb page number decrease failed on movable
 * nodes", 6.7-rc1 MM pull): the allocation falls back to the other nodes.
 *
 * The machine is the conformance scenario hugetlb-hotadded-node (packages/conformance/scenarios): 2 GiB on node 0,
 * node 1 memoryless; a 256 MiB DIMM on node 1 onlined movable; 32 huge pages on node 1, then 0.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { serializeEvent, type EventEnvelope } from '@memhp/events';
import { createSimulator, hugetlbMeminfo, hugetlbSysfs, kernelMessageOf, normaliseDmesgLine, nodeHasKernelZone, poolCounts, replayState, type KernelVersion, type MachineConfig } from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { small, MiB } from './support/machines.js';

const M2 = 2n * MiB;

/** hugetlb-hotadded-node with memmap_on_memory off: the DIMM's memmap comes from node 0, so its pages are optimised. */
function hotaddedNode(kernel: KernelVersion, cmdline = 'memhp_default_state=offline hugetlb_free_vmemmap=on'): { sim: ReturnType<typeof createSimulator>; events: EventEnvelope[]; messages: () => string[] } {
  const config: MachineConfig = small(2, kernel, cmdline);
  const sim = createSimulator({ config, backend: testBackend, checkInvariants: true, autoBoot: false });
  const events: EventEnvelope[] = [];
  sim.bus.on('t', (e) => events.push(e));
  sim.boot();
  expect(sim.exec({ kind: 'plug_dimm', id: 'd1', node: 1, sizeBytes: 256n * MiB }).ok).toBe(true);
  for (const block of [32, 33]) expect(sim.exec({ kind: 'block_state', block, state: 'online_movable' }).ok).toBe(true);
  expect(sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 32, node: 1 }).ok).toBe(true);
  const messages = () => events.filter((e) => e.type === 'kernel.warn').map((e) => (e.payload as { message: string }).message);
  return { sim, events, messages };
}

const optimised = (s: ReturnType<typeof createSimulator>) => [...(s.state as unknown as { hugetlb: { pages: Map<number, { hvo: string }> } }).hugetlb.pages.values()].filter((p) => p.hvo === 'optimized').length;

describe('the HVO restore on a node whose memory is all ZONE_MOVABLE', () => {
  it('6.1.192: all 32 restores fail, the pages stay as free surplus pages and warn_alloc prints once', () => {
    // Real-kernel reading: Debian 6.1.192, hugetlb-hotadded-node, step 4 (nr_hugepages 0 on node 1):
    // node 1 and global nr_hugepages 32, free_hugepages 32, surplus_hugepages 32, HugePages_Surp 32, accounted
    // free memory +8 kB (nothing freed), and one "init: page allocation failure: order:0,
    // mode:0x210cc0(GFP_KERNEL|__GFP_NORETRY|__GFP_THISNODE), nodemask=(null),cpuset=/,mems_allowed=0-1"
    // (warn_alloc's ratelimit is 10 s, burst 1: 32 failures in one write print one line).
    const x = hotaddedNode('6.1.192');
    expect(optimised(x.sim)).toBe(32);
    expect(nodeHasKernelZone(x.sim.state, 1)).toBe(false);
    const free0 = x.sim.state.counters.nrFreePages;
    expect(x.sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 0, node: 1 }).ok).toBe(true);
    for (const nid of [1, null]) expect(poolCounts(x.sim.state, 9, nid)).toEqual({ nr: 32, free: 32, surplus: 32 });
    expect(hugetlbSysfs(x.sim.state, 1)).toMatchObject({
      'hugepages-2048kB/nr_hugepages': '32',
      'hugepages-2048kB/free_hugepages': '32',
      'hugepages-2048kB/surplus_hugepages': '32',
    });
    expect(hugetlbMeminfo(x.sim.state)).toMatchObject({ HugePages_Total: 32, HugePages_Free: 32, HugePages_Surp: 32 });
    expect(x.sim.state.counters.nrFreePages).toBe(free0);
    expect(x.events.filter((e) => e.type === 'hvo.restore_fail')).toHaveLength(32);
    expect(x.messages()).toEqual(['page allocation failure: order:0, mode:0x210cc0(GFP_KERNEL|__GFP_NORETRY|__GFP_THISNODE), nodemask=(null),cpuset=/,mems_allowed=0-1']);
  });

  it('matches the real dmesg line once the task name is dropped, and the catalogue knows it', () => {
    // the line as Debian 6.1.192 printed it (hugetlb-hotadded-node step 4)
    const real = '[   22.767362] init: page allocation failure: order:0, mode:0x210cc0(GFP_KERNEL|__GFP_NORETRY|__GFP_THISNODE), nodemask=(null),cpuset=/,mems_allowed=0-1';
    const x = hotaddedNode('6.1.192');
    x.sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 0, node: 1 });
    expect(normaliseDmesgLine(real)).toBe(x.messages()[0]);
    expect(kernelMessageOf(normaliseDmesgLine(real))?.ratelimited).toBe(true);
  });

  it('prints the failure again in a later command, and a second write frees nothing (free surplus pages are not persistent)', () => {
    const x = hotaddedNode('6.1');
    x.sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 0, node: 1 });
    // set_max_huge_pages shrinks persistent pages (nr − surplus = 0) only: nothing is removed, nothing restored
    x.sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 0, node: 1 });
    expect(poolCounts(x.sim.state, 9, 1)).toEqual({ nr: 32, free: 32, surplus: 32 });
    expect(x.messages()).toHaveLength(1);
    // making them persistent again (adjust_pool_surplus) and shrinking once more fails again, in a new command
    x.sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 32, node: 1 });
    expect(poolCounts(x.sim.state, 9, 1)).toEqual({ nr: 32, free: 32, surplus: 0 });
    x.sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 0, node: 1 });
    expect(poolCounts(x.sim.state, 9, 1)).toEqual({ nr: 32, free: 32, surplus: 32 });
    expect(x.messages()).toHaveLength(2);
  });

  it('6.5–6.6: still node-bound, with __GFP_RETRY_MAYFAIL in the mask', () => {
    // Pasha Tatashin, "mm: hugetlb_vmemmap: provide stronger vmemmap allocation guarantees" (6.5) kept __GFP_THISNODE
    const x = hotaddedNode('6.6');
    x.sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 0, node: 1 });
    expect(poolCounts(x.sim.state, 9, 1)).toEqual({ nr: 32, free: 32, surplus: 32 });
    expect(x.messages()).toEqual(['page allocation failure: order:0, mode:0x204cc0(GFP_KERNEL|__GFP_RETRY_MAYFAIL|__GFP_THISNODE), nodemask=(null),cpuset=/,mems_allowed=0-1']);
  });

  it('6.7 and later (6.12.118): the restore falls back to node 0 and all 32 pages are freed, silently', () => {
    for (const kernel of ['6.7', '6.12.118', '6.18'] as const) {
      const x = hotaddedNode(kernel);
      expect(optimised(x.sim), kernel).toBe(32);
      const free0 = x.sim.state.counters.nrFreePages;
      x.sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 0, node: 1 });
      expect(poolCounts(x.sim.state, 9, 1), kernel).toEqual({ nr: 0, free: 0, surplus: 0 });
      // 512 pages per huge page back, minus the 7 vmemmap pages each restore takes (apps/docs/kernel/hvo.md#accounting)
      expect(x.sim.state.counters.nrFreePages - free0, kernel).toBe(32 * (512 - 7));
      expect(x.messages(), kernel).toEqual([]);
    }
  });

  it('a node with ZONE_NORMAL memory restores on 6.1 too (the DIMM onlined to the kernel zone)', () => {
    const config = small(2, '6.1', 'memhp_default_state=offline hugetlb_free_vmemmap=on');
    const sim = createSimulator({ config, backend: testBackend, checkInvariants: true });
    sim.exec({ kind: 'plug_dimm', id: 'd1', node: 1, sizeBytes: 256n * MiB });
    for (const block of [32, 33]) sim.exec({ kind: 'block_state', block, state: 'online_kernel' });
    sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 32, node: 1 });
    expect(nodeHasKernelZone(sim.state, 1)).toBe(true);
    sim.exec({ kind: 'hugepages', sizeBytes: M2, count: 0, node: 1 });
    expect(poolCounts(sim.state, 9, 1)).toEqual({ nr: 0, free: 0, surplus: 0 });
  });

  it('replays to the same state: the failures and the rate-limit record come from the events', () => {
    fc.assert(
      fc.property(fc.constantFrom<KernelVersion>('6.1.192', '6.6', '6.12.118'), fc.integer({ min: 0, max: 32 }), (kernel, keep) => {
        const x = hotaddedNode(kernel);
        x.sim.exec({ kind: 'hugepages', sizeBytes: M2, count: keep, node: 1 });
        const r = replayState(x.events.map((e) => JSON.parse(serializeEvent(e)) as EventEnvelope), x.sim.header());
        expect(r).toEqual(x.sim.state);
        // node-bound versions keep every page, later ones free down to `keep`
        expect(poolCounts(x.sim.state, 9, 1).nr).toBe(kernel === '6.12.118' ? keep : 32);
      }),
      { numRuns: 12 },
    );
  });
});
