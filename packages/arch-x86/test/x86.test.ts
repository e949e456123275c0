import { describe, expect, it } from 'vitest';
import type { ArchConfig, KernelVersion } from '@memhp/core';
import { x86Backend } from '../src/index.js';

const GIB = 1n << 30n;
const MIB = 1n << 20n;
const cfg = (kernel: KernelVersion = '6.1', features: ArchConfig['features'] = {}): ArchConfig => ({
  pageSizeBytes: 4096,
  structPageBytes: 64,
  kernel,
  features,
});

describe('x86-64 constants', () => {
  it('uses 128 MiB sections, 2 MiB PMDs and 1 GiB PUDs with 4-level paging by default (apps/docs/kernel/constants.md#per-arch)', () => {
    const c = x86Backend.constants(cfg());
    expect(c.sectionSizeBits).toBe(27);
    expect(c.pmdShift).toBe(21);
    expect(c.pudShift).toBe(30);
    expect(c.maxPhysmemBits).toBe(46);
    expect(c.pgtableLevels).toBe(4);
    // arch/x86/include/asm/page_64_types.h __VMEMMAP_BASE_L4 (apps/docs/kernel/vmemmap.md#layout)
    expect(c.vmemmapBase).toBe(0xffffea0000000000n);
    // apps/docs/kernel/constants.md#pageblock: pageblock order 9, largest buddy order 10
    expect([c.pageblockOrder, c.maxBuddyOrder]).toEqual([9, 10]);
  });

  it('switches to 52 physical bits, 5 levels and the L5 vmemmap base with la57 (apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/vmemmap.md#layout)', () => {
    const c = x86Backend.constants(cfg('6.1', { la57: true }));
    expect([c.maxPhysmemBits, c.pgtableLevels, c.vmemmapBase]).toEqual([52, 5, 0xffd4000000000000n]);
  });

  it('has ZONE_DMA below 16 MiB and ZONE_DMA32 below 4 GiB (apps/docs/kernel/readings.md#readings zone ranges)', () => {
    expect(x86Backend.constants(cfg()).lowZones).toEqual([
      { zone: 'DMA', endBytes: 16n * MIB },
      { zone: 'DMA32', endBytes: 4n * GIB },
    ]);
  });

  it('sizes struct mem_section 16 B, or 32 B with CONFIG_PAGE_EXTENSION (apps/docs/kernel/sparse.md#section-table)', () => {
    expect(x86Backend.constants(cfg()).memSectionBytes).toBe(16);
    expect(x86Backend.constants(cfg('6.1', { pageExtension: true })).memSectionBytes).toBe(32);
  });

  it('does not exist with 16K or 64K pages', () => {
    const s = x86Backend.supports({ ...cfg(), pageSizeBytes: 16384 });
    expect(s.supported).toBe(false);
  });
});

describe('x86-64 memory block size (probe_memory_block_size, apps/docs/kernel/hotplug.md#memory-blocks)', () => {
  const size = (end: bigint, features: ArchConfig['features'] = {}, kernel: KernelVersion = '6.1') =>
    x86Backend.memoryBlockSize(cfg(kernel, features), { bootRamEndBytes: end });

  it('gives 128 MiB when boot RAM ends below 64 GiB ([host] 25 GiB → 8000000, apps/docs/kernel/readings.md#readings)', () => {
    expect(size(25n * GIB).bytes).toBe(128n * MIB);
  });
  it('gives 2 GiB on bare metal with 64 GiB or more', () => {
    const d = size(100n * GIB, { hypervisor: false });
    expect(d.bytes).toBe(2n * GIB);
    expect(d.why).toMatch(/bare metal/);
  });
  it('searches 2G/1G/512M/256M for the largest divisor of the boot RAM end in a VM', () => {
    expect(size(100n * GIB).bytes).toBe(2n * GIB);
    expect(size(65n * GIB).bytes).toBe(1n * GIB);
    expect(size(64n * GIB + 256n * MIB).bytes).toBe(256n * MIB);
  });
  it('falls back to 128 MiB in a VM when no candidate divides the end', () => {
    const d = size(64n * GIB + 128n * MIB);
    expect(d.bytes).toBe(128n * MIB);
    expect(d.why).toMatch(/none of/);
  });
  it('honours an explicit override (set_memory_block_size_order)', () => {
    expect(x86Backend.memoryBlockSize(cfg(), { bootRamEndBytes: 25n * GIB, overrideBytes: GIB }).bytes).toBe(GIB);
  });
  it('applies firmware advice, clamped to [128 MiB, 2 GiB], even on bare metal, in 6.18 but not 6.11', () => {
    // arch/x86/mm/init_64.c probe_memory_block_size() with memory_block_advised_max_size() (Gregory Price's
    // series): advice → max(min(advice, MAX_BLOCK_SIZE), MIN_MEMORY_BLOCK_SIZE), then the alignment search, with no
    // bare-metal shortcut. First release taken as 6.15 (apps/docs/kernel/hotplug.md#memory-blocks); a known uncertainty, packages/arch-x86/README.md
    const advice = { hypervisor: false, memoryBlockAdvisedMaxBytes: Number(512n * MIB) };
    expect(size(100n * GIB, advice, '6.18').bytes).toBe(512n * MIB);
    // 6.11 predates the advice: bare metal takes 2 GiB
    expect(size(100n * GIB, advice, '6.11').bytes).toBe(2n * GIB);
  });
});

describe('x86-64 capabilities per kernel version', () => {
  const caps = (k: KernelVersion) => x86Backend.capabilities(cfg(k));
  it('enables memmap_on_memory from 5.13 (seed 000, apps/docs/kernel/memmap-on-memory.md#arches)', () => {
    expect([caps('5.10').memmapOnMemory, caps('5.13').memmapOnMemory]).toEqual([false, true]);
  });
  it('enables HVO from 5.14 (apps/docs/kernel/hvo.md#sizes)', () => {
    expect([caps('5.13').hugetlbVmemmapOptimize, caps('5.14').hugetlbVmemmapOptimize]).toEqual([false, true]);
  });
  it('enables the device-DAX vmemmap dedup from 5.19 (apps/docs/kernel/zone-device.md#compound-dedup)', () => {
    expect([caps('5.18').daxVmemmapOptimize, caps('5.19').daxVmemmapOptimize, caps('6.18').daxVmemmapOptimize]).toEqual([false, true, true]);
  });
  it('keeps no memblock and lets boot memory go offline', () => {
    expect([caps('6.1').keepMemblock, caps('6.1').bootMemoryOfflinable]).toEqual([false, true]);
  });
});

describe('x86-64 HugeTLB sizes (apps/docs/kernel/hvo.md#sizes)', () => {
  it('offers 2 MiB and, with pdpe1gb, 1 GiB; the default is 2 MiB', () => {
    expect(x86Backend.hugepageSizes(cfg()).map((s) => s.bytes)).toEqual([2n * MIB, GIB]);
    expect(x86Backend.hugepageSizes(cfg('6.1', { pdpe1gb: false })).map((s) => s.bytes)).toEqual([2n * MIB]);
    expect(x86Backend.defaultHugepageBytes(cfg())).toBe(2n * MIB);
  });
});

describe('x86-64 module shape', () => {
  it('exports the backend as default and as `backend` for --arch-module', async () => {
    const m = await import('../src/index.js');
    expect(m.default).toBe(m.backend);
    expect(m.default.id).toBe('x86_64');
  });
});
