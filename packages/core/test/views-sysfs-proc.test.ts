import { describe, expect, it } from 'vitest';
import {
  createSimulator,
  formatMeminfo,
  kmemBlocks,
  kmemSections,
  viewMemoryBlocks,
  viewMeminfo,
  viewNodes,
  viewSysfsMemory,
  viewVmstat,
  viewZoneinfo,
} from '../src/index.js';
import { testBackend } from './support/test-backend.js';
import { MiB, hostVm24G, small } from './support/machines.js';

describe('/sys/devices/system/memory of the 24 GiB VM (apps/docs/kernel/user-space.md#sysfs, apps/docs/kernel/readings.md#readings)', () => {
  const s = createSimulator({ config: hostVm24G(), backend: testBackend }).state;
  const sysfs = viewSysfsMemory(s);

  it('prints block_size_bytes in hex without 0x and auto_online_blocks "offline"', () => {
    expect(sysfs.block_size_bytes).toBe('8000000'); // apps/docs/kernel/readings.md#readings [host]
    expect(sysfs.auto_online_blocks).toBe('offline'); // apps/docs/kernel/readings.md#readings: MHP_DEFAULT_ONLINE_TYPE_OFFLINE, no memhp_default_state
  });

  it('formats phys_index as %08lx of the block id', () => {
    expect(sysfs['memory32/phys_index']).toBe('00000020'); // apps/docs/kernel/readings.md#readings [host]
    expect(sysfs['memory199/phys_index']).toBe('000000c7'); // apps/docs/kernel/readings.md#readings [host]
  });

  it('lists 192 blocks, all online, removable 1, phys_device 0, valid_zones per apps/docs/kernel/readings.md#readings', () => {
    const blocks = viewMemoryBlocks(s);
    expect(blocks).toHaveLength(192);
    expect(blocks.every((b) => b.state === 'online' && b.online === '1' && b.removable === '1' && b.phys_device === '0')).toBe(true);
    expect(blocks.find((b) => b.id === 0)?.valid_zones).toBe('none');
    expect(blocks.find((b) => b.id === 23)?.valid_zones).toBe('DMA32');
    expect(blocks.find((b) => b.id === 32)?.valid_zones).toBe('Normal');
    expect(sysfs['memory5/node0']).toBe('../../node/node0');
  });

  it('reports zoneinfo present pages DMA 3998, DMA32 782336, Normal 5505024', () => {
    const z = viewZoneinfo(s);
    expect(z.filter((r) => r.present > 0).map((r) => [r.zone, r.present])).toEqual([
      ['DMA', 3998],
      ['DMA32', 782336],
      ['Normal', 5505024],
    ]); // apps/docs/kernel/readings.md#readings zoneinfo present
    expect(viewNodes(s)[0]).toMatchObject({ node: 0, presentPages: 6291358, hasMemory: true, hasNormalMemory: true }); // apps/docs/kernel/readings.md#readings: 6291456 − 98
  });

  it('shows nr_memmap_boot_pages 98304 and nr_memmap_pages 0 in vmstat on 6.18', () => {
    expect(viewVmstat(s)).toMatchObject({ nr_memmap_boot_pages: 98304, nr_memmap_pages: 0 }); // apps/docs/kernel/readings.md#readings [host]
  });

  it('prints crash kmem -n rows: coded mem_map = vmemmap base, mem_map = page(section pfn), state PMOE for boot sections', () => {
    const rows = kmemSections(s);
    // one row per present section: the 192 early sections of apps/docs/kernel/readings.md#readings; section 1 starts at pfn 32768 (128 MiB
    // sections of 4 KiB pages) and crash prints P(resent) M(em map) O(nline) E(arly) for a boot section
    expect(rows).toHaveLength(192);
    const r1 = rows.find((r) => r.NR === 1)!;
    expect(r1).toMatchObject({ STATE: 'PMOE', PFN: 32768 });
    expect(r1.CODED_MEM_MAP).toBe(s.machine.geometry.vmemmapBase.toString(16).padStart(16, '0'));
    // page(pfn) = vmemmap base + pfn × 64 (apps/docs/kernel/vmemmap.md#layout): 32768 × 64 = 0x200000
    expect(BigInt(`0x${r1.MEM_MAP}`) - BigInt(`0x${r1.CODED_MEM_MAP}`)).toBe(0x200000n);
    const b = kmemBlocks(s).find((x) => x.NAME === 'memory32')!;
    expect(b).toMatchObject({ PHYSICAL_RANGE: '100000000 - 107ffffff', NODE: 0, STATE: 'ONLINE', START_SECTION_NO: 32 });
  });
});

describe('/proc/meminfo (apps/docs/kernel/user-space.md#meminfo)', () => {
  it('prints kB with the kernel layout and tracks a RAM-backed hot-add: MemFree −2048 kB, MemTotal unchanged', () => {
    const sim = createSimulator({ config: small(4), backend: testBackend, checkInvariants: true });
    const m0 = viewMeminfo(sim.state);
    sim.exec({ kind: 'add_memory', node: 0, range: { startBytes: 4n << 30n, sizeBytes: 128n * MiB }, flags: [] });
    const m1 = viewMeminfo(sim.state);
    expect(m1.MemTotal).toBe(m0.MemTotal); // apps/docs/kernel/user-space.md#meminfo hot-add: MemTotal 0
    // apps/docs/kernel/user-space.md#meminfo: −2048 kB for the memmap (one 2 MiB leaf), −4 kB more per page-table page the mapping needed: none here,
    // since the memmap of 4–4.125 GiB (vmemmap offset 64 MiB) lies under the PMD table boot allocated for the memmap
    // of 0–4 GiB: vmemmap_pud_populate() allocates a PMD table only for an empty PUD entry (mm/sparse-vmemmap.c,
    // 6.1), and one PMD table maps 512 × 2 MiB = 1 GiB of vmemmap, the memmap of 16 GiB of RAM at S = 64
    expect(m0.MemFree! - m1.MemFree!).toBe(2048);
    expect(formatMeminfo({ MemTotal: 24684084 })).toBe('MemTotal:       24684084 kB'); // fs/proc/meminfo.c "%8lu kB" after a 16-wide label
  });
});

describe('the apps/docs/kernel/user-space.md#meminfo cycle add → online → offline → remove, one 128 MiB block (apps/docs/kernel/user-space.md#meminfo, apps/docs/kernel/memmap-on-memory.md#accounting)', () => {
  const cycle = (cmdline: string, mom: boolean) => {
    const sim = createSimulator({ config: small(4, '6.18', cmdline), backend: testBackend, checkInvariants: true });
    const read = () => ({ ...viewMeminfo(sim.state), ...viewVmstat(sim.state) });
    const range = { startBytes: 4n << 30n, sizeBytes: 128n * MiB };
    const steps = [read()];
    sim.exec({ kind: 'add_memory', node: 0, range, flags: mom ? ['memmap_on_memory'] : [] });
    steps.push(read());
    sim.exec({ kind: 'block_state', block: 32, state: 'online_movable' });
    steps.push(read());
    sim.exec({ kind: 'block_state', block: 32, state: 'offline' });
    steps.push(read());
    sim.exec({ kind: 'remove_memory', range });
    steps.push(read());
    return steps.slice(1).map((x, i) => ({
      MemTotal: x.MemTotal! - steps[i]!.MemTotal!,
      MemFree: x.MemFree! - steps[i]!.MemFree!,
      nr_memmap_pages: x.nr_memmap_pages! - steps[i]!.nr_memmap_pages!,
    }));
  };

  it('with the memmap in RAM: memmap −2048 kB on add, +131072 kB on online, back on offline, +2048 kB on remove', () => {
    const [add, online, offline, remove] = cycle('', false);
    expect(add).toMatchObject({ MemTotal: 0, nr_memmap_pages: 512 });
    expect(add!.MemFree).toBe(-2048); // apps/docs/kernel/user-space.md#meminfo: −2048 kB; no page-table page (the boot PMD table covers it, as above)
    expect(online).toEqual({ MemTotal: 131072, MemFree: 131072, nr_memmap_pages: 0 });
    expect(offline).toEqual({ MemTotal: -131072, MemFree: -131072, nr_memmap_pages: 0 });
    expect(remove).toMatchObject({ MemTotal: 0, nr_memmap_pages: -512 });
    expect(remove!.MemFree).toBe(-add!.MemFree); // apps/docs/kernel/user-space.md#meminfo remove: +2048 kB (and the page tables back)
  });

  it('with memmap_on_memory: MemFree ≈ 0 on add and remove, +129024 kB on online (apps/docs/kernel/memmap-on-memory.md#accounting)', () => {
    const [add, online, offline, remove] = cycle('memory_hotplug.memmap_on_memory=1', true);
    expect(add).toMatchObject({ MemTotal: 0, nr_memmap_pages: 512 }); // apps/docs/kernel/memmap-on-memory.md#accounting: nr_memmap_pages +v although self-hosted
    expect(add!.MemFree).toBe(0); // apps/docs/kernel/user-space.md#meminfo: page-table pages only, and the boot PMD table already covers this memmap
    expect(online).toEqual({ MemTotal: 129024, MemFree: 129024, nr_memmap_pages: 0 });
    expect(offline).toEqual({ MemTotal: -129024, MemFree: -129024, nr_memmap_pages: 0 });
    expect(remove).toMatchObject({ MemTotal: 0, nr_memmap_pages: -512 });
  });
});
