import { describe, expect, it } from 'vitest';
import type { ArchConfig, KernelVersion } from '@memhp/core';
import { arm64Backend } from '../src/index.js';

const MIB = 1n << 20n;
const GIB = 1n << 30n;
const cfg = (pageSizeBytes: number, kernel: KernelVersion = '6.1', features: ArchConfig['features'] = {}): ArchConfig => ({
  pageSizeBytes,
  structPageBytes: 64,
  kernel,
  features,
});

describe('arm64 constants', () => {
  it('has 1 GiB sections for every granule before 5.12 (apps/docs/kernel/constants.md#per-arch notes)', () => {
    for (const p of [4096, 16384, 65536]) expect(arm64Backend.constants(cfg(p, '5.10')).sectionSizeBits).toBe(30);
  });
  it('has 128 MiB / 128 MiB / 512 MiB sections from 5.12 (apps/docs/kernel/constants.md#per-arch)', () => {
    expect([4096, 16384, 65536].map((p) => arm64Backend.constants(cfg(p, '5.13')).sectionSizeBits)).toEqual([27, 27, 29]);
  });
  it('maps 2 MiB / 32 MiB / 512 MiB per PMD and uses pageblock orders 9 / 11 / 13 (apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/constants.md#pageblock)', () => {
    const c = [4096, 16384, 65536].map((p) => arm64Backend.constants(cfg(p)));
    expect(c.map((x) => x.pmdShift)).toEqual([21, 25, 29]);
    expect(c.map((x) => x.pageblockOrder)).toEqual([9, 11, 13]);
    // 6.1 ARCH_FORCE_MAX_ORDER 11 / 12 / 14 exclusive (apps/docs/kernel/constants.md#pageblock)
    expect(c.map((x) => x.maxBuddyOrder)).toEqual([10, 11, 13]);
  });
  it('puts VMEMMAP_START at 0xfffffc0000000000 for VA_BITS 48 with 4K pages (apps/docs/kernel/vmemmap.md#layout example)', () => {
    expect(arm64Backend.constants(cfg(4096)).vmemmapBase).toBe(0xfffffc0000000000n);
  });
  it('offsets the vmemmap so that memstart_addr maps to VMEMMAP_START (apps/docs/kernel/vmemmap.md#layout)', () => {
    const c = arm64Backend.constants(cfg(4096, '6.1', { memstartBytes: Number(GIB) }));
    // 1 GiB / 4 KiB = 262144 pfns × 64 B = 16 MiB below VMEMMAP_START
    expect(c.vmemmapBase).toBe(0xfffffc0000000000n - 16n * MIB);
  });
  it('uses 4 page-table levels for 4K and 16K, 3 for 64K with 48-bit VAs', () => {
    // arch/arm64/Kconfig PGTABLE_LEVELS, 6.1: 4 if !ARM64_64K_PAGES && ARM64_VA_BITS_48; 3 if ARM64_64K_PAGES && VA 48
    expect([4096, 16384, 65536].map((p) => arm64Backend.constants(cfg(p)).pgtableLevels)).toEqual([4, 4, 3]);
  });
  it('refuses 52-bit physical addresses on 4K in 6.1 but takes them on 64K; LPA2 allows them on 4K by 6.11', () => {
    // arch/arm64/Kconfig, 6.1: ARM64_PA_BITS_52 depends on ARM64_64K_PAGES. The 4K/16K LPA2 support landed for
    // 6.9 (the release is a known uncertainty, packages/arch-arm64/README.md; the test only needs "by 6.11")
    expect(arm64Backend.supports(cfg(4096, '6.1', { paBits: 52 })).supported).toBe(false);
    expect(arm64Backend.supports(cfg(65536, '6.1', { paBits: 52 })).supported).toBe(true);
    expect(arm64Backend.supports(cfg(4096, '6.11', { paBits: 52 })).supported).toBe(true);
  });
});

describe('arm64 memory block size', () => {
  it('is one section (generic memory_block_size_bytes, apps/docs/kernel/hotplug.md#memory-blocks)', () => {
    expect(arm64Backend.memoryBlockSize(cfg(4096), { bootRamEndBytes: 100n * GIB }).bytes).toBe(128n * MIB);
    expect(arm64Backend.memoryBlockSize(cfg(65536), { bootRamEndBytes: 100n * GIB }).bytes).toBe(512n * MIB);
    expect(arm64Backend.memoryBlockSize(cfg(4096, '5.10'), { bootRamEndBytes: 100n * GIB }).bytes).toBe(GIB);
  });
});

describe('arm64 capabilities per kernel version', () => {
  const caps = (k: KernelVersion, p = 4096) => arm64Backend.capabilities(cfg(p, k));
  it('has HVO only from 5.19 until its removal (6.0 yes, 6.1.y no; apps/docs/kernel/hvo.md#sizes)', () => {
    expect((['5.18', '5.19', '6.0', '6.1', '6.18'] as const).map((k) => caps(k).hugetlbVmemmapOptimize)).toEqual([false, true, true, false, false]);
  });
  it('follows the stable backports of the HVO removal: on in 6.1.15 and 6.2.2, off from 6.1.16 and 6.2.3', () => {
    // 060a2c92d1b6 "arm64: mm: hugetlb: Disable HUGETLB_PAGE_OPTIMIZE_VMEMMAP": in the Linux 6.1.16 announcement
    // (2023-03-10) and the linux-6.2.y stable-rc push of 2023-03-07 (6.2.3); mainline 6.3
    const ks = ['6.1.0', '6.1.15', '6.1.16', '6.1.192', '6.2', '6.2.2', '6.2.3', '6.3'] as const;
    expect(ks.map((k) => caps(k).hugetlbVmemmapOptimize)).toEqual([true, true, false, false, false, true, false, false]);
  });
  it('enables memmap_on_memory from 5.13 for every granule (16K/64K then fail the PMD rule, apps/docs/kernel/memmap-on-memory.md#arches)', () => {
    expect([caps('5.10').memmapOnMemory, caps('5.13', 65536).memmapOnMemory]).toEqual([false, true]);
  });
  it('refuses to offline boot memory and keeps memblock (apps/docs/kernel/vmemmap.md#arm64-populate, apps/docs/kernel/hotplug.md#add-steps)', () => {
    expect([caps('6.1').bootMemoryOfflinable, caps('6.1').keepMemblock]).toEqual([false, true]);
  });
});

describe('arm64 HugeTLB sizes (apps/docs/kernel/hvo.md#sizes)', () => {
  it('lists the contiguous-bit sizes per granule and defaults to the PMD size', () => {
    expect(arm64Backend.hugepageSizes(cfg(4096)).map((s) => s.bytes)).toEqual([64n << 10n, 2n * MIB, 32n * MIB, GIB]);
    expect(arm64Backend.hugepageSizes(cfg(16384)).map((s) => s.bytes)).toEqual([2n * MIB, 32n * MIB, GIB]);
    expect(arm64Backend.hugepageSizes(cfg(65536)).map((s) => s.bytes)).toEqual([2n * MIB, 512n * MIB, 16n * GIB]);
    expect([4096, 16384, 65536].map((p) => arm64Backend.defaultHugepageBytes(cfg(p)))).toEqual([2n * MIB, 32n * MIB, 512n * MIB]);
  });
});

describe('arm64 module shape', () => {
  it('exports the backend as default and as `backend` for --arch-module', async () => {
    const m = await import('../src/index.js');
    expect(m.default).toBe(m.backend);
    expect(m.default.id).toBe('arm64');
  });
});

describe('arm64 DIMM placement (QEMU virt)', () => {
  it('plugs the first DIMM at ALIGN_UP(end of RAM, 1 GiB) with no 4 GiB floor: 2 GiB at 0x40000000 puts it at 0xc0000000 = memory24', async () => {
    // Real reading (Debian 6.1.192 cloud-arm64, QEMU 7.2 virt, memhp conform arm64-dimm-1g-movable step 1):
    // "c0000000-ffffffff : System RAM" in /proc/iomem and memory24…memory31 offline; hw/arm/virt.c virt_set_memmap.
    const { createSimulator, driverState } = await import('@memhp/core');
    const sim = createSimulator({
      backend: arm64Backend,
      config: { arch: 'arm64', pageSizeBytes: 4096, structPageBytes: 64, kernel: '6.1', cmdline: 'memhp_default_state=offline', nodes: [{ id: 0, memory: [{ startBytes: 0x40000000n, sizeBytes: 2n * GIB }] }, { id: 1, memory: [] }] },
    });
    expect(sim.exec({ kind: 'plug_dimm', id: 'd1', node: 1, sizeBytes: GIB }).ok).toBe(true);
    expect(driverState(sim.state).dimms.get('d1')?.startBytes).toBe(0xc0000000n);
    expect([...sim.state.blocks.keys()].filter((b) => b >= 24).sort((a, b) => a - b)).toEqual([24, 25, 26, 27, 28, 29, 30, 31]);
  });
});

describe('arm64 linear-map page tables of hot-added memory', () => {
  const machine = (features: ArchConfig['features'] = {}, cmdline = 'memhp_default_state=offline') => ({
    arch: 'arm64',
    pageSizeBytes: 4096,
    structPageBytes: 64,
    kernel: '6.1' as KernelVersion,
    cmdline,
    features,
    nodes: [{ id: 0, memory: [{ startBytes: 0x40000000n, sizeBytes: 2n * GIB }] }, { id: 1, memory: [] }],
  });
  it('with rodata=full maps base pages only: a 1 GiB DIMM takes 16 MiB of memmap + 513 table pages of free memory, and unplugging gives all back', async () => {
    // Real reading (Debian 6.1.192 cloud-arm64, rodata=full by default, QEMU 7.2 virt; memhp conform
    // arm64-dimm-1g-movable): plug −18688 kB, unplug +18460 kB of accounted free memory (±512 kB tolerance). Source
    // (6.1 arch/arm64/mm/mmu.c arch_add_memory): NO_BLOCK_MAPPINGS under can_set_direct_map(), tables from
    // __pgd_pgtable_alloc: 512 PTE tables (one per 2 MiB) + 1 PMD table for the new 1 GiB; the PUD table is boot RAM's.
    const { createSimulator, viewMeminfo } = await import('@memhp/core');
    const sim = createSimulator({ backend: arm64Backend, config: machine() });
    const free0 = viewMeminfo(sim.state).MemFree!;
    expect(sim.exec({ kind: 'plug_dimm', id: 'd1', node: 1, sizeBytes: GIB }).ok).toBe(true);
    expect(free0 - viewMeminfo(sim.state).MemFree!).toBe(16384 + 513 * 4);
    expect(sim.exec({ kind: 'unplug_dimm', id: 'd1' }).ok).toBe(true);
    expect(viewMeminfo(sim.state).MemFree).toBe(free0);
  });
  it('a one-block DIMM with memmap_on_memory takes only its 64 PTE tables + 1 PMD table (260 kB) from free memory', async () => {
    // Real reading (Debian 6.1.192, conform arm64-dimm-128m-movable-mmom1 step 1): −280 kB; the memmap is on the DIMM.
    const { createSimulator, viewMeminfo } = await import('@memhp/core');
    const sim = createSimulator({ backend: arm64Backend, config: machine({}, 'memhp_default_state=offline memory_hotplug.memmap_on_memory=1') });
    const free0 = viewMeminfo(sim.state).MemFree!;
    expect(sim.exec({ kind: 'plug_dimm', id: 'd1', node: 1, sizeBytes: 128n * MIB }).ok).toBe(true);
    expect(free0 - viewMeminfo(sim.state).MemFree!).toBe(65 * 4);
  });
  it('without rodata=full a 1 GiB-aligned GiB is one PUD block in the existing PUD table: no table pages', async () => {
    // 6.1 arch/arm64/mm/mmu.c alloc_init_pud: use_1G_block() with 4K pages and no NO_BLOCK_MAPPINGS.
    const { createSimulator, viewMeminfo } = await import('@memhp/core');
    const sim = createSimulator({ backend: arm64Backend, config: machine({ rodataFull: false }) });
    const free0 = viewMeminfo(sim.state).MemFree!;
    expect(sim.exec({ kind: 'plug_dimm', id: 'd1', node: 1, sizeBytes: GIB }).ok).toBe(true);
    expect(free0 - viewMeminfo(sim.state).MemFree!).toBe(16384);
  });
});
