/**
 * Offlining a block that holds HugeTLB pages (mm/memory_hotplug.c offline_pages, mm/hugetlb.c
 * dissolve_free_huge_page, 6.1; apps/docs/kernel/hotplug.md#offlining, apps/docs/kernel/hvo.md#steps): free pages are dissolved (their vmemmap restored
 * first), used ones migrated; a failed restore fails the offline with "failure to dissolve huge pages".
 */
import { describe, expect, it } from 'vitest';
import { serializeEvent, type EventEnvelope } from '@memhp/events';
import { createSimulator, hugetlbMeminfo, hugetlbState, replayState, type FaultConfig } from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { small, GiB, MiB } from './support/machines.js';

const M2 = 2n * MiB;
const BLOCK = 32;

/** 2 GiB boot on node 0 with HVO, plus a RAM-backed movable block at 4 GiB that takes the huge pages. */
const logs = new WeakMap<object, EventEnvelope[]>();
function machine(faults: FaultConfig = {}) {
  const events: EventEnvelope[] = [];
  const s = createSimulator({ config: small(2, '6.1', 'hugetlb_free_vmemmap=on'), backend: testBackend, checkInvariants: true, faults, autoBoot: false });
  s.bus.on('t', (e) => events.push(e));
  s.boot();
  logs.set(s, events);
  expect(s.exec({ kind: 'add_memory', node: 0, range: { startBytes: 4n * GiB, sizeBytes: 128n * MiB }, flags: [] }).ok).toBe(true);
  expect(s.exec({ kind: 'block_state', block: BLOCK, state: 'online_movable' }).ok).toBe(true);
  return s;
}
const replayed = (s: ReturnType<typeof machine>) => replayState(logs.get(s)!.map((e) => JSON.parse(serializeEvent(e)) as EventEnvelope), s.header());
const inBlock = (pfn: number) => pfn >= BLOCK * 32768 && pfn < (BLOCK + 1) * 32768;

describe('offlining a block with HugeTLB pages', () => {
  it('dissolves the free pages (restoring their vmemmap) and succeeds', () => {
    const s = machine();
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 2 });
    // ZONE_MOVABLE is preferred for 2 MiB pages (htlb_alloc_mask → GFP_HIGHUSER_MOVABLE)
    expect([...hugetlbState(s.state).pages.values()].every((p) => inBlock(p.headPfn))).toBe(true);
    const hot = s.state.counters.nrMemmapPages;
    expect(s.exec({ kind: 'block_state', block: BLOCK, state: 'offline' }).ok).toBe(true);
    // dissolve_free_huge_page shrinks the pool (max_huge_pages−−); each restore re-allocates 7 vmemmap pages
    expect(hugetlbMeminfo(s.state).HugePages_Total).toBe(0);
    expect(s.state.counters.nrMemmapPages - hot).toBe(14);
    expect(s.state.blocks.get(BLOCK)?.state).toBe('offline');
  });

  it('fails with -ENOMEM "failure to dissolve huge pages" when the restore cannot allocate, and the block stays online', () => {
    // order-0 calls: PTE table (#1) when the first page is optimised; the restore's first allocation is #2
    const s = machine({ sites: { order0: { nth: [2] } } });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 1 });
    const r = s.exec({ kind: 'block_state', block: BLOCK, state: 'offline' });
    expect(r).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(!r.ok && r.why).toMatch(/failure to dissolve huge pages/);
    expect(s.state.blocks.get(BLOCK)?.state).toBe('online');
    // add_hugetlb_page(h, page, false): the page is back in the pool, still optimised, not surplus
    expect(hugetlbMeminfo(s.state)).toMatchObject({ HugePages_Total: 1, HugePages_Surp: 0 });
    expect(replayed(s)).toEqual(s.state);
  });

  it('migrates an in-use page out of the block to a fresh page and then offlines', () => {
    const s = machine();
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 2 });
    s.exec({ kind: 'hugetlb_use', sizeBytes: M2, pages: 1 });
    expect(s.exec({ kind: 'block_state', block: BLOCK, state: 'offline' }).ok).toBe(true);
    const pages = [...hugetlbState(s.state).pages.values()];
    // the used page now lives outside the block (DMA32 on node 0); the free one was dissolved
    expect(pages).toHaveLength(1);
    expect(pages[0]).toMatchObject({ inUse: true, zone: 'DMA32' });
    expect(inBlock(pages[0]!.headPfn)).toBe(false);
    expect(replayed(s)).toEqual(s.state);
  });

  it('cannot finish when no migration target can be allocated: the kernel retries until a signal (-EINTR)', () => {
    // pmd-sized allocations: #1 the block's vmemmap leaf, #2 #3 the pool pages, #4 the migration target
    const s = machine({ sites: { pmd: { nth: [4] } } });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 2 });
    s.exec({ kind: 'hugetlb_use', sizeBytes: M2, pages: 1 });
    const r = s.exec({ kind: 'block_state', block: BLOCK, state: 'offline' });
    expect(r).toMatchObject({ ok: false, errno: 'EINTR' });
    expect(s.state.blocks.get(BLOCK)?.state).toBe('online');
  });

  it('removes the block afterwards: the split vmemmap PMD is freed page by page with its PTE table, MemFree is back', () => {
    const s = createSimulator({ config: small(2, '6.18', 'hugetlb_free_vmemmap=1'), backend: testBackend, checkInvariants: true });
    const free0 = s.state.counters.nrFreePages;
    const range = { startBytes: 4n * GiB, sizeBytes: 128n * MiB };
    s.exec({ kind: 'add_memory', node: 0, range, flags: [] });
    s.exec({ kind: 'block_state', block: BLOCK, state: 'online_movable' });
    s.exec({ kind: 'hugepages', sizeBytes: M2, count: 3 });
    // the block's vmemmap leaf (from the buddy) was split for HVO
    expect(s.state.vmemmap.pmds.get(Number((0xffffea0000000000n + BigInt(BLOCK * 32768 * 64)) >> 21n))?.kind).toBe('table');
    expect(s.exec({ kind: 'block_state', block: BLOCK, state: 'offline' }).ok).toBe(true);
    expect(s.exec({ kind: 'remove_memory', range }).ok).toBe(true);
    // every page the add, the pool, HVO and its restores took is back (apps/docs/kernel/user-space.md#meminfo "remove … +2048 kB")
    expect(s.state.counters.nrFreePages).toBe(free0);
    expect(s.state.counters.vmemmapBuddyPages).toBe(0);
  });
});
