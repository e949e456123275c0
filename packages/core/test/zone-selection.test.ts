import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { autoMovableCanOnlineMovable, createSimulator, validZones, zoneForPfnRange, type MachineConfig, type Simulator } from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { GiB, MiB, hostVm24G, small } from './support/machines.js';

const boot = (cfg: MachineConfig) => createSimulator({ config: cfg, backend: testBackend, checkInvariants: true });
const addBlocks = (s: Simulator, startBytes: bigint, n: number) =>
  s.exec({ kind: 'add_memory', node: 0, range: { startBytes, sizeBytes: BigInt(n) * 128n * MiB }, flags: [] });
const PPB = 32768; // pages per 128 MiB block (apps/docs/kernel/constants.md#per-arch x86-64 4K)

describe('valid_zones of the 24 GiB x86 VM (apps/docs/kernel/readings.md#readings)', () => {
  const s = boot(hostVm24G()).state;
  it('reads "none" for memory0, "DMA32" for memory1–23 and "Normal" for memory32–199', () => {
    expect(validZones(s, 0)).toBe('none'); // apps/docs/kernel/readings.md#readings: block 0 intersects DMA and DMA32
    for (const id of [1, 12, 23]) expect(validZones(s, id)).toBe('DMA32');
    for (const id of [32, 100, 199]) expect(validZones(s, id)).toBe('Normal');
    expect(validZones(s, 24)).toBeNull(); // blocks 24–31 do not exist
  });
});

describe('contig-zones (mm/memory_hotplug.c default_zone_for_pfn, apps/docs/kernel/hotplug.md#onlining)', () => {
  it('offers "Normal Movable" for a new block after Normal and onlines plain "online" to Normal', () => {
    const s = boot(hostVm24G());
    addBlocks(s, 25n * GiB, 2);
    expect(validZones(s.state, 200)).toBe('Normal Movable'); // default kernel zone first, then online_movable's choice
    s.exec({ kind: 'block_state', block: 200, state: 'online' });
    expect(s.state.blocks.get(200)?.zone).toBe('Normal');
  });

  it('prefers ZONE_MOVABLE for plain "online" once the block touches only Movable, and with movable_node', () => {
    const s = boot(hostVm24G());
    addBlocks(s, 25n * GiB, 3);
    s.exec({ kind: 'block_state', block: 202, state: 'online_movable' });
    // Movable spans only block 202: block 201 intersects neither zone → the kernel zone first
    expect(validZones(s.state, 201)).toBe('Normal Movable');
    s.exec({ kind: 'block_state', block: 200, state: 'online_movable' });
    // Movable spans [200, 203): block 201 intersects Movable only → "Movable Normal"
    expect(validZones(s.state, 201)).toBe('Movable Normal');
    const m = boot(hostVm24G('6.18', 'movable_node'));
    addBlocks(m, 30n * GiB, 1);
    // a block that intersects no zone: movable_node picks Movable (apps/docs/kernel/hotplug.md#onlining item 4)
    expect(validZones(m.state, 240)).toBe('Movable Normal');
  });

  it('keeps online_kernel in DMA32 for a block inside DMA32 (default_kernel_zone_for_pfn)', () => {
    const s = boot(hostVm24G());
    s.exec({ kind: 'block_state', block: 5, state: 'offline' });
    expect(validZones(s.state, 5)).toBe('DMA32 Movable');
    expect(zoneForPfnRange(s.state, 'online_kernel', 0, null, 5 * PPB, PPB)).toBe('DMA32');
  });
});

describe('auto-movable (apps/docs/kernel/hotplug.md#auto-movable)', () => {
  // 4 GiB of boot memory, all of it early kernel memory: KERNEL_EARLY = 1048576 − holes? small(4) has none.
  const early = 4 * 8 * PPB; // 32 blocks × 32768 pages
  const cfg = small(4, '6.18', 'memory_hotplug.online_policy=auto-movable');

  it('onlines to Movable while MOVABLE + need ≤ ratio × KERNEL_EARLY / 100 and to the kernel zone beyond', () => {
    const s = boot(cfg);
    // ratio 301 (default): up to floor(301 × early / 100) movable pages
    const limit = Math.floor((301 * early) / 100);
    const n = Math.floor(limit / PPB); // blocks that fit
    addBlocks(s, 4n * GiB, n + 1);
    for (let i = 0; i < n; i++) s.exec({ kind: 'block_state', block: 32 + i, state: 'online' });
    expect([...s.state.blocks.values()].filter((b) => b.zone === 'Movable').length).toBe(n);
    const check = autoMovableCanOnlineMovable(s.state, 'global', null, PPB);
    expect(check.movablePages).toBe(n * PPB + PPB);
    expect(check.kernelEarlyPages).toBe(s.state.nodes.get(0)!.zones.get('DMA32')!.presentEarlyPages + s.state.nodes.get(0)!.zones.get('DMA')!.presentEarlyPages);
    expect(check.passed).toBe(false);
    s.exec({ kind: 'block_state', block: 32 + n, state: 'online' });
    expect(s.state.blocks.get(32 + n)?.zone).toBe('Normal'); // hot-added memory never counts as KERNEL_EARLY
  });

  it('goes to the kernel zone when auto_movable_ratio is 0', () => {
    const s = boot(small(4, '6.18', 'memory_hotplug.online_policy=auto-movable memory_hotplug.auto_movable_ratio=0'));
    addBlocks(s, 4n * GiB, 1);
    s.exec({ kind: 'block_state', block: 32, state: 'online' });
    expect(s.state.blocks.get(32)?.zone).toBe('Normal');
  });

  it('decides a static group (a DIMM) as a whole: all of it Movable or, once it has kernel pages, all kernel', () => {
    const s = boot(small(1, '6.18', 'memory_hotplug.online_policy=auto-movable memhp_default_state=online'));
    // KERNEL_EARLY = 8 blocks; 301 % of it = 24.08 blocks → a 24-block DIMM fits, a 25-block one does not.
    expect(s.exec({ kind: 'plug_dimm', id: 'd0', node: 0, sizeBytes: 24n * 128n * MiB }).ok).toBe(true);
    const zonesOf = (from: number, n: number) => new Set(Array.from({ length: n }, (_, i) => s.state.blocks.get(from + i)?.zone));
    expect(zonesOf(32, 24)).toEqual(new Set(['Movable']));
    expect(s.exec({ kind: 'plug_dimm', id: 'd1', node: 0, sizeBytes: 128n * MiB }).ok).toBe(true);
    expect(zonesOf(56, 1)).toEqual(new Set(['Normal']));
  });

  it('decides a dynamic group unit (a virtio-mem big block) as a whole: 3 GiB Movable, the 4th GiB all kernel', () => {
    // KERNEL_EARLY = 1 GiB = 262144 pages; 301 % → 789053 movable pages allowed: three 1 GiB units fit, a fourth does not
    // (mm/memory_hotplug.c auto_movable_zone_for_pfn: a unit with any kernel section stays kernel).
    const s = boot(small(1, '6.18', 'memory_hotplug.online_policy=auto-movable memhp_default_state=online'));
    const r = s.exec({ kind: 'virtio_mem', id: 'v', node: 0, regionStartBytes: 8n * GiB, regionBytes: 4n * GiB, requestedBytes: 4n * GiB, deviceBlockBytes: GiB });
    expect(r.ok).toBe(true);
    const zoneOfUnit = (u: number) => new Set(Array.from({ length: 8 }, (_, i) => s.state.blocks.get(64 + u * 8 + i)?.zone));
    expect([0, 1, 2].map(zoneOfUnit)).toEqual([new Set(['Movable']), new Set(['Movable']), new Set(['Movable'])]);
    expect(zoneOfUnit(3)).toEqual(new Set(['Normal']));
  });

  it('never lets Movable exceed the ratio over random online sequences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 50, max: 400 }), fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 16 }), (ratio, order) => {
        const s = boot(small(1, '6.18', `memory_hotplug.online_policy=auto-movable memory_hotplug.auto_movable_ratio=${ratio}`));
        addBlocks(s, 4n * GiB, 16);
        for (const i of order) s.exec({ kind: 'block_online', block: 32 + i, online: true });
        const z = s.state.nodes.get(0)!.zones;
        const movable = z.get('Movable')?.presentPages ?? 0;
        const kernelEarly = [...z.values()].filter((x) => x.name !== 'Movable').reduce((a, x) => a + x.presentEarlyPages, 0);
        expect(movable).toBeLessThanOrEqual(Math.floor((ratio * kernelEarly) / 100));
      }),
      { numRuns: 15 },
    );
  });
});
