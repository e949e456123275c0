import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@memhp/events';
import { createSimulator, deriveBootReservations, replayState, viewMeminfo, viewZoneinfo, type MachineConfig, type ZoneReading } from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { hostVm24G } from './support/machines.js';

const withReserved = (cfg: MachineConfig, reservedPages: NonNullable<MachineConfig['nodes'][number]['reservedPages']>): MachineConfig => ({
  ...cfg,
  nodes: cfg.nodes.map((n, i) => (i === 0 ? { ...n, reservedPages } : n)),
});

const zoneOf = (cfg: MachineConfig, zone: string) => {
  const sim = createSimulator({ config: cfg, backend: testBackend, checkInvariants: true });
  return { sim, row: viewZoneinfo(sim.state).find((r) => r.node === 0 && r.zone === zone)! };
};

/** The 6.18 host's /proc/zoneinfo and MemTotal (packages/cli/test/fixtures/host-6.18, apps/docs/kernel/readings.md#readings). */
const HOST_ZONES: ZoneReading[] = [
  { node: 0, zone: 'DMA', present: 3998, managed: 3840 },
  { node: 0, zone: 'DMA32', present: 782336, managed: 772915 },
  // lazy deferred init (non-upstream patch, apps/docs/kernel/readings.md#readings): Normal's managed count is still growing
  { node: 0, zone: 'Normal', present: 5505024, managed: 491520 },
  { node: 0, zone: 'Movable', present: 0, managed: 0 },
];
const HOST_MEMTOTAL_KB = 24684084;

describe('boot reservations (present but never managed pages the machine description gives)', () => {
  it('lowers the zone managed pages, MemTotal and MemFree by the reserved pages and nothing else', () => {
    // mm/memblock.c memblock_free_all (6.1): only memory outside memblock.reserved reaches the buddy allocator, so
    // managed = present − reserved; MemTotal = totalram_pages = Σ managed (fs/proc/meminfo.c, si_meminfo)
    const base = zoneOf(hostVm24G(), 'DMA32');
    const res = zoneOf(withReserved(hostVm24G(), { DMA32: 9421 }), 'DMA32');
    expect(res.row.present).toBe(base.row.present);
    expect(res.row.managed).toBe(base.row.managed - 9421);
    expect(viewMeminfo(res.sim.state).MemTotal).toBe(viewMeminfo(base.sim.state).MemTotal! - 9421 * 4);
    expect(viewMeminfo(res.sim.state).MemFree).toBe(viewMeminfo(base.sim.state).MemFree! - 9421 * 4);
    expect(res.sim.state.counters.memblockReservedPages).toBe(9421);
  });

  it('records the reservation as memblock.reserve events, so replay needs only the log', () => {
    const sim = createSimulator({ config: withReserved(hostVm24G(), { DMA: 158, Normal: 12000 }), backend: testBackend, autoBoot: false });
    const events: EventEnvelope[] = [];
    const sub = sim.bus.on('record', (e) => events.push(e));
    sim.boot();
    sub.unsubscribe();
    const reserves = events.filter((e) => e.type === 'memblock.reserve').map((e) => e.payload);
    expect(reserves).toEqual([
      { nid: 0, zone: 'DMA', pages: 158 },
      { nid: 0, zone: 'Normal', pages: 12000 },
    ]);
    // the header without the reservation: replay takes it from the events alone
    const h = sim.header();
    const replayed = replayState(events, h);
    expect(viewZoneinfo(replayed)).toEqual(viewZoneinfo(sim.state));
    expect(structuredClone(replayed)).toEqual(structuredClone(sim.state));
  });

  it('refuses a reservation in a zone the node has no boot memory in, or larger than the zone', () => {
    const sim = createSimulator({ config: withReserved(hostVm24G(), { Movable: 1 }), backend: testBackend, autoBoot: false });
    expect(sim.boot()).toMatchObject({ ok: false, errno: 'EINVAL', why: expect.stringContaining('no boot memory in zone Movable (it has DMA, DMA32, Normal)') });
    const big = createSimulator({ config: withReserved(hostVm24G(), { DMA: 3999 }), backend: testBackend, autoBoot: false });
    // apps/docs/kernel/readings.md#readings: DMA has 3998 present pages
    expect(big.boot()).toMatchObject({ ok: false, errno: 'EINVAL', why: expect.stringContaining("3999 pages, more than the zone's 3998 present pages") });
  });
});

describe('deriveBootReservations', () => {
  it('gives the 6.18 host back its zoneinfo managed pages and MemTotal (24684084 kB, apps/docs/kernel/readings.md#readings)', () => {
    const model = createSimulator({ config: hostVm24G(), backend: testBackend });
    const d = deriveBootReservations(HOST_ZONES, viewZoneinfo(model.state), (HOST_MEMTOTAL_KB * 1024) / 4096);
    expect(d.notes.join('\n')).toContain('struct pages still being initialised');
    const reserved = d.reservedPages.get(0)!;
    // DMA and DMA32 hold no memmap in memhp (it is allocated top-down in Normal): their reservation is
    // present − managed as read, 3998 − 3840 and 782336 − 772915
    expect(reserved.DMA).toBe(158);
    expect(reserved.DMA32).toBe(9421);
    const booted = createSimulator({ config: withReserved(hostVm24G(), reserved), backend: testBackend, checkInvariants: true });
    const rows = viewZoneinfo(booted.state);
    expect(rows.find((r) => r.zone === 'DMA')!.managed).toBe(3840);
    expect(rows.find((r) => r.zone === 'DMA32')!.managed).toBe(772915);
    expect(viewMeminfo(booted.state).MemTotal).toBe(HOST_MEMTOTAL_KB);
    // what memhp does not model on that host: ≈ 86 MiB (issue 17)
    const total = Object.values(reserved).reduce((a, b) => a + (b ?? 0), 0);
    expect(Math.round((total * 4096) / 2 ** 20)).toBe(86);
  });

  it('takes each zone as read when the kernel finished initialising (Σ managed = MemTotal)', () => {
    const model = viewZoneinfo(createSimulator({ config: hostVm24G(), backend: testBackend }).state);
    const modelNormal = model.find((r) => r.zone === 'Normal')!;
    const real: ZoneReading[] = HOST_ZONES.map((z) => (z.zone === 'Normal' ? { ...z, managed: modelNormal.managed - 500 } : z));
    const memTotal = real.reduce((n, z) => n + z.managed, 0);
    const d = deriveBootReservations(real, model, memTotal);
    expect(d.notes).toEqual([]);
    expect(d.reservedPages.get(0)).toEqual({ DMA: 158, DMA32: 9421, Normal: 500 });
  });

  it('reports, and does not derive, a zone whose present pages differ or where memhp reserves more', () => {
    const model = viewZoneinfo(createSimulator({ config: hostVm24G(), backend: testBackend }).state);
    const modelNormal = model.find((r) => r.zone === 'Normal')!;
    const real: ZoneReading[] = [
      { node: 0, zone: 'DMA', present: 3997, managed: 3840 },
      { node: 0, zone: 'Normal', present: modelNormal.present, managed: modelNormal.managed + 7 },
    ];
    const d = deriveBootReservations(real, model);
    expect(d.reservedPages.size).toBe(0);
    expect(d.notes).toEqual([
      'node 0 DMA: 3997 present pages, memhp has 3998: the boot memory map differs, so its reservation is not derived',
      'node 0 Normal: memhp reserves 7 pages more than the kernel (its memmap or page tables sit elsewhere in the kernel)',
    ]);
  });
});
