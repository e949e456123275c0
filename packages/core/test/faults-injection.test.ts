/**
 * Seeded fault injection (apps/docs/concepts/design.md#determinism; apps/docs/kernel/vmemmap.md#sources, apps/docs/kernel/hotplug.md#block-online, apps/docs/kernel/hotplug.md#offlining, apps/docs/kernel/hvo.md#steps, apps/docs/kernel/zone-device.md#memremap): every kind of
 * injected fault is an event and gives the kernel's result; the same seed reproduces the same log byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { serializeEvent, serializeHeader, type EventEnvelope } from '@memhp/events';
import {
  checkFaultConfig,
  createSimulator,
  FAULT_SITES,
  hugetlbMeminfo,
  replayState,
  type Command,
  type FaultConfig,
} from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { small, GiB, MiB } from './support/machines.js';

const M2 = 2n * MiB;
const blockAt = (gib: bigint): Command => ({ kind: 'add_memory', node: 0, range: { startBytes: gib * GiB, sizeBytes: 128n * MiB }, flags: [] });

function run(faults: FaultConfig, seed: number, cmds: readonly Command[], cmdline = 'hugetlb_free_vmemmap=1') {
  const events: EventEnvelope[] = [];
  const s = createSimulator({ config: small(2, '6.18', cmdline), backend: testBackend, checkInvariants: true, autoBoot: false, seed, faults });
  s.bus.on('t', (e) => events.push(e));
  s.boot();
  const results = cmds.map((c) => s.exec(c));
  const log = [serializeHeader(s.header()), ...events.map(serializeEvent)].join('\n');
  return { s, events, results, log };
}

/** Hot-add, online, a HugeTLB pool, shrink, offline: every allocation kind is exercised. */
const WORKLOAD: Command[] = [
  ...[4n, 5n, 6n, 7n].flatMap((g): Command[] => [blockAt(g), { kind: 'block_state', block: Number(g * 8n), state: 'online_movable' }]),
  { kind: 'hugepages', sizeBytes: M2, count: 200 },
  { kind: 'hugepages', sizeBytes: M2, count: 20 },
  { kind: 'block_state', block: 40, state: 'offline' },
  { kind: 'block_state', block: 48, state: 'offline' },
];
const FAULTS: FaultConfig = {
  pmdAllocFailRate: 0.2,
  order0FailRate: 0.01,
  sites: { 'notifier:MEM_GOING_ONLINE': { rate: 0.2 }, 'notifier:MEM_GOING_OFFLINE': { rate: 0.2 }, 'offline:unmovable': { rate: 0.2 } },
};

describe('determinism', () => {
  it('reproduces the same log byte for byte from the same seed', () => {
    const a = run(FAULTS, 42, WORKLOAD);
    const b = run(FAULTS, 42, WORKLOAD);
    expect(a.events.filter((e) => e.type === 'fault.inject').length).toBeGreaterThan(0);
    expect(b.log).toBe(a.log);
  });

  it('draws different faults from a different seed', () => {
    expect(run(FAULTS, 7, WORKLOAD).log).not.toBe(run(FAULTS, 42, WORKLOAD).log);
  });

  it('replays a fault-injected run to the identical state', () => {
    const a = run(FAULTS, 42, WORKLOAD);
    expect(replayState(a.events.map((e) => JSON.parse(serializeEvent(e)) as EventEnvelope), a.s.header())).toEqual(a.s.state);
  });
});

const injected = (events: readonly EventEnvelope[], site: string) => events.filter((e) => e.type === 'fault.inject' && (e.payload as { site: string }).site === site);

describe('each fault is an event with the kernel\'s result', () => {
  it('MEM_GOING_ONLINE vetoed (-ENOMEM as the kernel selftest injects): MEM_CANCEL_ONLINE and the block stays offline', () => {
    const r = run({ sites: { 'notifier:MEM_GOING_ONLINE': { nth: [1] } } }, 1, [blockAt(4n), { kind: 'block_state', block: 32, state: 'online' }]);
    expect(r.results[1]).toMatchObject({ ok: false, errno: 'ENOMEM' });
    expect(injected(r.events, 'notifier:MEM_GOING_ONLINE')).toHaveLength(1);
    expect(r.events.some((e) => e.type === 'notifier' && (e.payload as { action: string }).action === 'MEM_CANCEL_ONLINE')).toBe(true);
    expect(r.s.state.blocks.get(32)?.state).toBe('offline');
  });

  it('MEM_GOING_OFFLINE vetoed with a chosen errno: the offline fails and the block is online again', () => {
    const r = run({ sites: { 'notifier:MEM_GOING_OFFLINE': { nth: [1], errno: 'EBUSY' } } }, 1, [blockAt(4n), { kind: 'block_state', block: 32, state: 'online' }, { kind: 'block_state', block: 32, state: 'offline' }]);
    expect(r.results[2]).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(r.s.state.blocks.get(32)?.state).toBe('online');
  });

  it('an unmovable page fails offlining with -EBUSY "unmovable page"', () => {
    const r = run({ sites: { 'offline:unmovable': { nth: [1] } } }, 1, [blockAt(4n), { kind: 'block_state', block: 32, state: 'online' }, { kind: 'block_state', block: 32, state: 'offline' }]);
    expect(r.results[2]).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(!r.results[2]!.ok && r.results[2]!.why).toMatch(/unmovable page/);
  });

  it('fragmentation: with no free PMD-sized block the vmemmap falls back to base pages and no 2 MiB HugeTLB page can be had', () => {
    const r = run({ freePmdBlocks: 0 }, 1, [blockAt(4n), { kind: 'hugepages', sizeBytes: M2, count: 4 }]);
    expect(r.results.every((x) => x.ok)).toBe(true);
    // x86 vmemmap_populate_hugepages: a failed PMD_SIZE allocation without an altmap → base pages (apps/docs/kernel/vmemmap.md#x86-populate)
    expect(r.events.some((e) => e.type === 'vmemmap.populate' && (e.payload as { granularity: string }).granularity === 'pte')).toBe(true);
    expect(hugetlbMeminfo(r.s.state).HugePages_Total).toBe(0);
    // the block's vmemmap PMD, then one try on node 0 (the only node with memory): set_max_huge_pages stops there
    expect(injected(r.events, 'pmd').length).toBe(1 + 1);
  });

  it('a PMD allocation rate thins the pool without failing the write', () => {
    const r = run({ pmdAllocFailRate: 0.5 }, 10, [{ kind: 'hugepages', sizeBytes: M2, count: 50 }]);
    expect(r.results[0]!.ok).toBe(true);
    const got = hugetlbMeminfo(r.s.state).HugePages_Total!;
    // set_max_huge_pages stops at the first page no node could provide: seed 10 draws two successes, then the
    // injected failure (a reading of the seeded RNG; that the same seed gives the same draws is tested above)
    expect(got).toBe(2);
    expect(r.events.filter((e) => e.type === 'hugetlb.alloc')).toHaveLength(2);
    expect(injected(r.events, 'pmd')).toHaveLength(1);
  });
});

describe('fault configuration errors name the field', () => {
  it('rejects an unknown site and a bad rate, accepts every documented site', () => {
    expect(checkFaultConfig({ order0FailRate: 2, sites: { 'notifier:MEM_GOING_ONLNE': { rate: 0.1 } } })).toEqual([
      { field: 'faults.order0FailRate', message: 'a probability in [0, 1], got 2' },
      { field: 'faults.sites.notifier:MEM_GOING_ONLNE', message: 'unknown fault site "notifier:MEM_GOING_ONLNE"; known: notifier:MEM_GOING_ONLINE, notifier:MEM_GOING_OFFLINE' },
    ]);
    expect(checkFaultConfig({ sites: Object.fromEntries(FAULT_SITES.map((f) => [f.site, { nth: [1] }])) })).toEqual([]);
  });
});
