import { describe, expect, it } from 'vitest';
import { createSimulator, type KernelVersion, type MachineConfig, type Simulator } from '../src/index.js';
import { viewMeminfo, viewVmstat } from '../src/views/index.js';
import { testBackend } from './support/test-backend.js';
import { GiB, MiB, hostVm24G, small } from './support/machines.js';

const boot = (cfg: MachineConfig, faults = {}) => createSimulator({ config: cfg, backend: testBackend, checkInvariants: true, faults });
const EMPTY = { startPfn: 0, spannedPages: 0, presentPages: 0, managedPages: 0 };
/** A zone's span and page counts; a zone that was never populated reads as empty. */
const zone = (s: Simulator, name: 'Normal' | 'Movable' | 'DMA32', nid = 0) => {
  const z = s.state.nodes.get(nid)!.zones.get(name);
  return z ? { startPfn: z.startPfn, spannedPages: z.spannedPages, presentPages: z.presentPages, managedPages: z.managedPages } : EMPTY;
};
const snapshot = (s: Simulator) => ({
  MemTotal: viewMeminfo(s.state).MemTotal!,
  MemFree: viewMeminfo(s.state).MemFree!,
  nrMemmap: s.state.counters.nrMemmapPages,
  normal: zone(s, 'Normal'),
  movable: zone(s, 'Movable'),
});
const add = (s: Simulator, startBytes: bigint, sizeBytes: bigint, mom = false) =>
  s.exec({ kind: 'add_memory', node: 0, range: { startBytes, sizeBytes }, flags: mom ? ['memmap_on_memory'] : [] });

// 4 GiB machine from 0: RAM ends at 4 GiB, so block 32 (4 GiB) is the first free block above boot RAM.
const at4G = 4n * GiB;
const blk32 = 32;

describe('onlining one 128 MiB block (apps/docs/kernel/user-space.md#meminfo, apps/docs/kernel/memmap-on-memory.md#accounting)', () => {
  it('adds 131072 kB to MemTotal and MemFree and 32768 present and managed pages when the memmap is in RAM', () => {
    const s = boot(small(4, '6.18'));
    expect(add(s, at4G, 128n * MiB).ok).toBe(true);
    const before = snapshot(s);
    expect(s.exec({ kind: 'block_state', block: blk32, state: 'online_kernel' })).toEqual({ ok: true });
    const after = snapshot(s);
    expect(after.MemTotal - before.MemTotal).toBe(131072); // apps/docs/kernel/user-space.md#meminfo "online (RAM memmap)": +131072 kB
    expect(after.MemFree - before.MemFree).toBe(131072);
    expect(after.normal.presentPages - before.normal.presentPages).toBe(32768); // apps/docs/kernel/user-space.md#meminfo zone present +32768
    expect(after.normal.managedPages - before.normal.managedPages).toBe(32768);
    expect(after.nrMemmap).toBe(before.nrMemmap); // apps/docs/kernel/index.md#invariants item 10: online never changes nr_memmap_pages
    expect(s.state.blocks.get(blk32)).toMatchObject({ state: 'online', zone: 'Normal', onlineType: 'online_kernel' });
  });

  it('counts the 512 self-hosted vmemmap pages as present but not managed with memmap_on_memory: MemTotal +129024 kB', () => {
    const s = boot(small(4, '6.18', 'memory_hotplug.memmap_on_memory=1'));
    const b0 = snapshot(s);
    expect(add(s, at4G, 128n * MiB, true).ok).toBe(true);
    const b1 = snapshot(s);
    expect(b1.nrMemmap - b0.nrMemmap).toBe(512); // apps/docs/kernel/memmap-on-memory.md#accounting after add: nr_memmap_pages +v (512)
    expect(b1.MemTotal).toBe(b0.MemTotal); // apps/docs/kernel/memmap-on-memory.md#accounting: +0 after add
    expect(s.state.blocks.get(blk32)?.nrVmemmapPages).toBe(512);
    expect(s.exec({ kind: 'block_state', block: blk32, state: 'online_movable' }).ok).toBe(true);
    const b2 = snapshot(s);
    expect(b2.MemTotal - b1.MemTotal).toBe(129024); // apps/docs/kernel/memmap-on-memory.md#accounting, apps/docs/kernel/user-space.md#meminfo: +(p − v) = 32256 pages = 129024 kB
    expect(b2.movable.presentPages - b1.movable.presentPages).toBe(32768); // apps/docs/kernel/memmap-on-memory.md#accounting: present +p
    expect(b2.movable.managedPages - b1.movable.managedPages).toBe(32256); // apps/docs/kernel/user-space.md#meminfo: managed +32256
    expect(b2.nrMemmap).toBe(b1.nrMemmap);
  });

  it('puts online_movable blocks in ZONE_MOVABLE and spans exactly the block', () => {
    const s = boot(small(4));
    add(s, at4G, 256n * MiB);
    s.exec({ kind: 'block_state', block: 33, state: 'online_movable' });
    // move_pfn_range_to_zone → resize_zone_range (mm/memory_hotplug.c, 6.1): the zone spans the onlined block only;
    // block 33 starts at pfn 33 × 32768 (128 MiB blocks of 4 KiB pages)
    expect(zone(s, 'Movable')).toMatchObject({ startPfn: 33 * 32768, spannedPages: 32768 });
    s.exec({ kind: 'block_state', block: 32, state: 'online_movable' });
    expect(zone(s, 'Movable')).toMatchObject({ startPfn: 32 * 32768, spannedPages: 65536 });
  });
});

describe('offlining (apps/docs/kernel/hotplug.md#offlining, apps/docs/kernel/user-space.md#meminfo)', () => {
  it('reverses online exactly and shrinks the zone span only from its edges', () => {
    const s = boot(small(4));
    add(s, at4G, 384n * MiB);
    const base = snapshot(s);
    for (const b of [32, 33, 34]) s.exec({ kind: 'block_state', block: b, state: 'online_movable' });
    expect(s.exec({ kind: 'block_state', block: 33, state: 'offline' }).ok).toBe(true);
    // block 33 is in the middle: the span stays [32, 35) (apps/docs/kernel/user-space.md#meminfo "shrinks only if the block was at the zone's first or last pfn")
    expect(zone(s, 'Movable')).toMatchObject({ startPfn: 32 * 32768, spannedPages: 3 * 32768 });
    s.exec({ kind: 'block_state', block: 34, state: 'offline' });
    expect(zone(s, 'Movable')).toMatchObject({ startPfn: 32 * 32768, spannedPages: 32768 });
    s.exec({ kind: 'block_state', block: 32, state: 'offline' });
    expect(zone(s, 'Movable')).toMatchObject({ startPfn: 0, spannedPages: 0, presentPages: 0, managedPages: 0 });
    expect(snapshot(s).MemTotal).toBe(base.MemTotal);
    expect(snapshot(s).MemFree).toBe(base.MemFree);
  });

  it('undoes memmap_on_memory accounting on offline: present −p, managed −(p − v)', () => {
    const s = boot(small(4, '6.18', 'memory_hotplug.memmap_on_memory=1'));
    add(s, at4G, 128n * MiB, true);
    const b1 = snapshot(s);
    s.exec({ kind: 'block_state', block: blk32, state: 'online_movable' });
    expect(s.exec({ kind: 'block_state', block: blk32, state: 'offline' }).ok).toBe(true);
    expect(snapshot(s)).toEqual(b1); // apps/docs/kernel/memmap-on-memory.md#accounting "After offline": back to the after-add values
  });

  it('refuses to offline a block that spans two zones with -EINVAL (valid_zones "none")', () => {
    const s = boot(hostVm24G());
    const r = s.exec({ kind: 'block_state', block: 0, state: 'offline' });
    expect(r).toMatchObject({ ok: false, errno: 'EINVAL' }); // apps/docs/kernel/hotplug.md#offlining step 1, apps/docs/kernel/readings.md#readings memory0 "none"
    expect(s.state.blocks.get(0)?.state).toBe('online');
  });

  it('refuses to offline a boot block with holes with -EINVAL "memory holes"', () => {
    // Block 1 (128–256 MiB) lies wholly in DMA32 but only 192–256 MiB of it is RAM.
    const cfg: MachineConfig = { ...small(1), nodes: [{ id: 0, memory: [{ startBytes: 0n, sizeBytes: 64n * MiB }, { startBytes: 192n * MiB, sizeBytes: 832n * MiB }] }] };
    const s = boot(cfg);
    expect(s.state.blocks.get(1)?.zone).toBe('DMA32');
    const r = s.exec({ kind: 'block_state', block: 1, state: 'offline' });
    expect(r).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(r.ok ? '' : r.why).toMatch(/memory holes/); // apps/docs/kernel/hotplug.md#offlining table: "the range contains memory holes"
  });

  it('gives -EBUSY "failure to isolate range" when an unmovable page is injected, and leaves the block online', () => {
    const s = boot(small(4), { sites: { 'offline:isolate': { nth: [1] } } });
    add(s, at4G, 128n * MiB);
    s.exec({ kind: 'block_state', block: blk32, state: 'online_movable' });
    const before = snapshot(s);
    const r = s.exec({ kind: 'block_state', block: blk32, state: 'offline' });
    expect(r).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(r.ok ? '' : r.why).toMatch(/failure to isolate range/);
    expect(s.state.blocks.get(blk32)?.state).toBe('online');
    expect(snapshot(s)).toEqual(before);
  });

  it('passes a MEM_GOING_OFFLINE notifier veto through, with MEM_CANCEL_OFFLINE, and -EINTR for a signal', () => {
    const s = boot(small(4), { sites: { 'notifier:MEM_GOING_OFFLINE': { nth: [1], errno: 'EBUSY' }, 'offline:signal': { nth: [1] } } });
    add(s, at4G, 128n * MiB);
    s.exec({ kind: 'block_state', block: blk32, state: 'online_movable' });
    const types: string[] = [];
    const sub = s.bus.on('t', (e) => types.push(e.type === 'notifier' ? `notifier:${(e.payload as { action: string }).action}` : e.type));
    expect(s.exec({ kind: 'block_state', block: blk32, state: 'offline' })).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(types).toContain('notifier:MEM_CANCEL_OFFLINE');
    expect(s.exec({ kind: 'block_state', block: blk32, state: 'offline' })).toMatchObject({ ok: false, errno: 'EINTR' });
    expect(s.exec({ kind: 'block_state', block: blk32, state: 'offline' }).ok).toBe(true);
    sub.unsubscribe();
  });

  it('refuses to offline boot memory with -EPERM where the arch forbids it (arm64 notifier)', () => {
    const noBootOffline = { ...testBackend, capabilities: (c: Parameters<typeof testBackend.capabilities>[0]) => ({ ...testBackend.capabilities(c), bootMemoryOfflinable: false }) };
    const s = createSimulator({ config: small(4), backend: noBootOffline, checkInvariants: true });
    const r = s.exec({ kind: 'block_state', block: 5, state: 'offline' });
    expect(r).toMatchObject({ ok: false, errno: 'EPERM' }); // apps/docs/kernel/vmemmap.md#arm64-populate, apps/docs/kernel/hotplug.md#errors "offline: arm64 boot memory → -EPERM"
    expect(s.state.blocks.get(5)?.state).toBe('online');
  });
});

describe('sysfs state and online files (apps/docs/kernel/hotplug.md#onlining, apps/docs/kernel/user-space.md#sysfs)', () => {
  it('answers -EINVAL for "online" on an online block and "offline" on an offline one; the online file makes both no-ops', () => {
    const s = boot(small(4));
    add(s, at4G, 128n * MiB);
    expect(s.exec({ kind: 'block_state', block: blk32, state: 'offline' })).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(s.exec({ kind: 'block_online', block: blk32, online: false })).toEqual({ ok: true });
    expect(s.exec({ kind: 'block_online', block: blk32, online: true })).toEqual({ ok: true });
    expect(s.state.blocks.get(blk32)?.onlineType).toBe('online');
    expect(s.exec({ kind: 'block_state', block: blk32, state: 'online' })).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(s.exec({ kind: 'block_online', block: blk32, online: true })).toEqual({ ok: true });
  });

  it('refuses a block that does not exist with -ENOENT', () => {
    const s = boot(small(4));
    expect(s.exec({ kind: 'block_state', block: 4000, state: 'online' })).toMatchObject({ ok: false, errno: 'ENOENT' });
  });

  it('auto-onlines added memory per auto_online_blocks, and refuses an invalid value with -EINVAL', () => {
    const s = boot(small(4));
    expect(s.exec({ kind: 'auto_online_blocks', value: 'online_movable' }).ok).toBe(true);
    expect(s.state.knobs.autoOnlineBlocks).toBe('online_movable');
    add(s, at4G, 128n * MiB);
    expect(s.state.blocks.get(blk32)).toMatchObject({ state: 'online', zone: 'Movable' });
    expect(s.exec({ kind: 'sysctl', name: '/sys/devices/system/memory/auto_online_blocks', value: 'sideways' })).toMatchObject({ ok: false, errno: 'EINVAL' });
  });

  it('records a memory_hotplug.online_policy write and refuses memmap_on_memory at runtime with -EACCES', () => {
    const s = boot(small(4));
    expect(s.exec({ kind: 'sysctl', name: 'memory_hotplug.online_policy', value: 'auto-movable' }).ok).toBe(true);
    expect(s.state.knobs.onlinePolicy).toBe('auto-movable');
    expect(s.exec({ kind: 'sysctl', name: '/sys/module/memory_hotplug/parameters/memmap_on_memory', value: 'Y' })).toMatchObject({ ok: false, errno: 'EACCES' });
  });
});

describe('vmstat across versions', () => {
  it('shows nr_memmap_pages only from 6.11 (apps/docs/kernel/user-space.md#vmstat)', () => {
    for (const [k, has] of [['6.8', false], ['6.11', true]] as Array<[KernelVersion, boolean]>) {
      const v = viewVmstat(boot(small(4, k)).state);
      expect('nr_memmap_pages' in v).toBe(has);
    }
  });
});
