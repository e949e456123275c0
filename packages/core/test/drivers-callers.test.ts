import { describe, expect, it } from 'vitest';
import { createSimulator, driverState, type KernelVersion, type MachineConfig } from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { GiB, MiB, hostVm24G, small } from './support/machines.js';

const boot = (cfg: MachineConfig, faults = {}) => createSimulator({ config: cfg, backend: testBackend, checkInvariants: true, faults });
const blocksIn = (s: ReturnType<typeof boot>, fromBytes: bigint, n: number) => Array.from({ length: n }, (_, i) => s.state.blocks.get(Number(fromBytes / (128n * MiB)) + i));

describe('ACPI memory device (drivers/acpi/acpi_memhotplug.c)', () => {
  it('places DIMMs like QEMU: from ALIGN_UP(end of RAM, 1 GiB), one after another, each in a static memory group', () => {
    const s = boot(hostVm24G());
    expect(s.exec({ kind: 'plug_dimm', id: 'd0', node: 0, sizeBytes: GiB }).ok).toBe(true);
    expect(s.exec({ kind: 'plug_dimm', id: 'd1', node: 0, sizeBytes: 512n * MiB }).ok).toBe(true);
    const d = driverState(s.state).dimms;
    expect(d.get('d0')?.startBytes).toBe(25n * GiB); // boot RAM ends at 25 GiB (apps/docs/kernel/readings.md#readings): 4 GiB + 21 GiB above 4 GiB
    expect(d.get('d1')?.startBytes).toBe(26n * GiB);
    const g = s.state.groups.get(d.get('d0')!.group!);
    expect(g).toMatchObject({ kind: 'static', pages: 262144 }); // PFN_UP(1 GiB) (apps/docs/kernel/hotplug.md#entry-points memory groups)
    expect(blocksIn(s, 25n * GiB, 8).every((b) => b?.state === 'offline' && b.group === g?.id)).toBe(true);
  });

  it('asks for memmap_on_memory only for a one-block DIMM up to 6.7, for any DIMM from 6.8 (apps/docs/kernel/memmap-on-memory.md#examples row 13)', () => {
    const vmemmapOf = (kernel: KernelVersion, size: bigint) => {
      const s = boot(hostVm24G(kernel, 'memory_hotplug.memmap_on_memory=1'));
      expect(s.exec({ kind: 'plug_dimm', id: 'd', node: 0, sizeBytes: size }).ok).toBe(true);
      return blocksIn(s, 25n * GiB, Number(size / (128n * MiB))).map((b) => b?.nrVmemmapPages);
    };
    expect(vmemmapOf('6.1', GiB)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]); // row 13: memmap from RAM, 8 × 2 MiB
    expect(vmemmapOf('6.6', GiB)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]); // row 13: 6.6–6.7 same
    expect(vmemmapOf('6.8', GiB)).toEqual([512, 512, 512, 512, 512, 512, 512, 512]); // row 13: 6.8+ each block self-hosts 512
    expect(vmemmapOf('6.1', 128n * MiB)).toEqual([512]); // row 1 with a one-block DIMM
  });

  it('ejects a DIMM by offlining every block and removing it; a block that will not offline makes the eject fail with -EBUSY and re-onlines the others', () => {
    const s = boot(hostVm24G('6.18', 'memhp_default_state=online_movable'), { sites: { 'offline:unmovable': { nth: [2] } } });
    expect(s.exec({ kind: 'plug_dimm', id: 'd0', node: 0, sizeBytes: 256n * MiB }).ok).toBe(true);
    expect(blocksIn(s, 25n * GiB, 2).map((b) => b?.state)).toEqual(['online', 'online']);
    const r = s.exec({ kind: 'unplug_dimm', id: 'd0' });
    expect(r).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(blocksIn(s, 25n * GiB, 2).map((b) => b?.state)).toEqual(['online', 'online']);
    expect(s.exec({ kind: 'unplug_dimm', id: 'd0' }).ok).toBe(true);
    expect(blocksIn(s, 25n * GiB, 2)).toEqual([undefined, undefined]);
    expect(driverState(s.state).dimms.size).toBe(0);
    expect(s.state.groups.size).toBe(0);
  });

  it('fails the probe with -EINVAL when add_memory refuses (a DIMM that is not block-aligned)', () => {
    const s = boot(hostVm24G());
    const r = s.exec({ kind: 'plug_dimm', id: 'odd', node: 0, sizeBytes: 100n * MiB });
    expect(r).toMatchObject({ ok: false, errno: 'EINVAL' }); // apps/docs/kernel/hotplug.md#alignment memory-block alignment, "add_memory failed"
    expect(driverState(s.state).dimms.size).toBe(0);
  });
});

describe('virtio-mem (drivers/virtio/virtio_mem.c)', () => {
  it('uses Sub Block Mode with 2 MiB sub-blocks on 128 MiB blocks: partial blocks only hand plugged pages to the buddy', () => {
    const s = boot(small(4, '6.18', 'memhp_default_state=online_movable'));
    expect(s.exec({ kind: 'virtio_mem', id: 'vm0', node: 0, regionStartBytes: 8n * GiB, regionBytes: GiB, requestedBytes: 192n * MiB }).ok).toBe(true);
    const dev = driverState(s.state).virtioMem.get('vm0')!;
    expect(dev.mode).toBe('sbm');
    expect(dev.unitBytes).toBe(2n * MiB); // sb = max(device block 2 MiB, pageblock 2 MiB)
    const [b0, b1] = blocksIn(s, 8n * GiB, 2);
    expect([b0?.state, b1?.state]).toEqual(['online', 'online']);
    const movable = s.state.nodes.get(0)!.zones.get('Movable')!;
    // 192 MiB requested = block 0 whole (128 MiB = 32768 pages) + 32 of block 1's 64 sub-blocks of 2 MiB (512 pages):
    // virtio_mem_sbm_plug_request plugs sub-blocks in order, and onlining hands only plugged sub-blocks to the buddy
    // (virtio_mem_online_page, drivers/virtio/virtio_mem.c, 6.1); both blocks are present in full
    expect(movable.presentPages).toBe(2 * 32768);
    expect(movable.managedPages).toBe(32768 + 16384); // block 1: 32 of 64 sub-blocks plugged × 512 pages
    expect(s.state.resources.some((r) => r.name === 'System RAM (virtio_mem)')).toBe(true);
    expect(s.state.groups.get(dev.group!)).toMatchObject({ kind: 'dynamic', pages: 32768 }); // unit = one memory block in SBM
  });

  it('unplugs from the highest block first and removes a block once nothing in it is plugged', () => {
    const s = boot(small(4, '6.18', 'memhp_default_state=online_movable'));
    s.exec({ kind: 'virtio_mem', id: 'vm0', node: 0, regionStartBytes: 8n * GiB, regionBytes: GiB, requestedBytes: 192n * MiB });
    expect(s.exec({ kind: 'virtio_mem', id: 'vm0', requestedBytes: 64n * MiB }).ok).toBe(true);
    const [b0, b1] = blocksIn(s, 8n * GiB, 2);
    expect(b1).toBeUndefined(); // block 1 fully unplugged → offline_and_remove_memory
    expect(b0?.state).toBe('online');
    const movable = s.state.nodes.get(0)!.zones.get('Movable')!;
    expect(movable.presentPages).toBe(32768);
    expect(movable.managedPages).toBe(16384); // 32 sub-blocks of block 0 fake-offlined
    expect(s.exec({ kind: 'virtio_mem', id: 'vm0', requestedBytes: 0n }).ok).toBe(true);
    expect(blocksIn(s, 8n * GiB, 1)).toEqual([undefined]);
    expect(movable.managedPages).toBe(0);
  });

  it('uses Big Block Mode when the device block exceeds a memory block, adding and removing whole big blocks', () => {
    const s = boot(small(4, '6.18', 'memhp_default_state=online_movable'));
    const r = s.exec({ kind: 'virtio_mem', id: 'big', node: 0, regionStartBytes: 8n * GiB, regionBytes: 4n * GiB, requestedBytes: 2n * GiB, deviceBlockBytes: GiB });
    expect(r.ok).toBe(true);
    expect(driverState(s.state).virtioMem.get('big')?.mode).toBe('bbm');
    expect(blocksIn(s, 8n * GiB, 16).every((b) => b?.state === 'online')).toBe(true);
    expect(s.exec({ kind: 'virtio_mem', id: 'big', requestedBytes: GiB }).ok).toBe(true);
    expect(blocksIn(s, 8n * GiB, 8).every((b) => b?.state === 'online')).toBe(true);
    expect(blocksIn(s, 9n * GiB, 8).every((b) => b === undefined)).toBe(true); // the highest big block went first
  });

  it('refuses a device block larger than a memory block on 5.10 (no Big Block Mode yet)', () => {
    const s = boot(small(4, '5.10'));
    const r = s.exec({ kind: 'virtio_mem', id: 'big', node: 0, regionStartBytes: 8n * GiB, regionBytes: 4n * GiB, requestedBytes: GiB, deviceBlockBytes: GiB });
    expect(r).toMatchObject({ ok: false, errno: 'EINVAL' });
  });

  it('refuses a requested size that is not a multiple of the device block size', () => {
    const s = boot(small(4));
    expect(s.exec({ kind: 'virtio_mem', id: 'v', node: 0, regionStartBytes: 8n * GiB, regionBytes: GiB, requestedBytes: 3n * MiB })).toMatchObject({ ok: false, errno: 'EINVAL' });
  });
});

describe('dax/kmem (drivers/dax/kmem.c)', () => {
  it('trims the range to whole blocks, adds it as "System RAM (kmem)" and self-hosts the memmap from 6.8', () => {
    for (const [kernel, v] of [['6.6', 0], ['6.8', 512]] as Array<[KernelVersion, number]>) {
      const s = boot(small(4, kernel, 'memory_hotplug.memmap_on_memory=1'));
      const r = s.exec({ kind: 'dax_kmem', id: 'dax0.0', node: 0, range: { startBytes: 8n * GiB + 2n * MiB, sizeBytes: 512n * MiB }, action: 'online' });
      expect(r.ok).toBe(true);
      const d = driverState(s.state).daxKmem.get('dax0.0')!;
      // [8 GiB + 2 MiB, 8 GiB + 514 MiB) → ALIGN_UP start 8 GiB + 128 MiB, ALIGN_DOWN end 8 GiB + 512 MiB
      expect([d.startBytes, d.sizeBytes]).toEqual([8n * GiB + 128n * MiB, 384n * MiB]);
      expect(s.state.resources.find((x) => x.name === 'System RAM (kmem)')?.startBytes).toBe(8n * GiB + 128n * MiB);
      expect(blocksIn(s, 8n * GiB + 128n * MiB, 3).map((b) => b?.nrVmemmapPages)).toEqual([v, v, v]); // apps/docs/kernel/memmap-on-memory.md#lifecycle: kmem uses it from 6.8
    }
  });

  it('gives the memory back: offline every block, then remove', () => {
    const s = boot(small(4, '6.18', 'memhp_default_state=online_movable'));
    s.exec({ kind: 'dax_kmem', id: 'dax0.0', node: 0, range: { startBytes: 8n * GiB, sizeBytes: 256n * MiB }, action: 'online' });
    expect(blocksIn(s, 8n * GiB, 2).map((b) => b?.state)).toEqual(['online', 'online']);
    expect(s.exec({ kind: 'dax_kmem', id: 'dax0.0', node: 0, range: { startBytes: 8n * GiB, sizeBytes: 256n * MiB }, action: 'offline' }).ok).toBe(true);
    expect(blocksIn(s, 8n * GiB, 2)).toEqual([undefined, undefined]);
    expect(s.state.resources.some((x) => x.name === 'System RAM (kmem)')).toBe(false);
  });

  it('rejects a range with no whole block after alignment with -EINVAL', () => {
    const s = boot(small(4));
    expect(s.exec({ kind: 'dax_kmem', id: 'x', node: 0, range: { startBytes: 8n * GiB + MiB, sizeBytes: 128n * MiB }, action: 'online' })).toMatchObject({ ok: false, errno: 'EINVAL' });
  });
});
