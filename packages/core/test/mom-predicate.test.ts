import { describe, expect, it } from 'vitest';
import { explainAcrossKernels, explainMemmapOnMemory, type ExplainInput } from '../src/memmap-on-memory/index.js';
import { tinyArm64, tinyPpc64Radix, tinyX86 } from './support/tiny-backends.js';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const K4 = 4096;
const K16 = 16384;
const K64 = 65536;

type Row = Omit<ExplainInput, 'kernel'>;
const x86 = (blockSizeBytes: bigint, structPageBytes: number): Row => ({ backend: tinyX86, pageSizeBytes: K4, structPageBytes, blockSizeBytes });
const arm = (pageSizeBytes: number, blockSizeBytes: bigint, structPageBytes: number): Row => ({
  backend: tinyArm64,
  pageSizeBytes,
  structPageBytes,
  blockSizeBytes,
});
const ppc = (pageSizeBytes: number, blockSizeBytes: bigint): Row => ({ backend: tinyPpc64Radix, pageSizeBytes, structPageBytes: 64, blockSizeBytes });

describe('apps/docs/kernel/memmap-on-memory.md#examples worked examples', () => {
  it('row 1: x86-64 4K, 128 MiB, S=64 → supported, v = 512, u = 32256, no force waste', () => {
    for (const kernel of ['6.1', '6.6'] as const) {
      const e = explainMemmapOnMemory({ ...x86(128n * MiB, 64), kernel });
      expect(e.supported).toBe(true);
      expect(e.vmemmapBytes).toBe(2n * MiB); // apps/docs/kernel/memmap-on-memory.md#examples row 1: V = 2 MiB
      expect(e.vmemmapPages).toBe(512); // row 1: v = 512
      expect(e.usablePages).toBe(32256); // row 1: u = 32256 (126 MiB)
    }
    const forced = explainMemmapOnMemory({ ...x86(128n * MiB, 64), kernel: '6.6', param: 'force' });
    expect(forced.wastedPages).toBe(0); // row 1: "force adds 0 waste"
  });

  it('row 2: x86-64 4K, 128 MiB, S=56 → not supported in 6.1 (V not a PMD multiple) nor 6.6+ (448 not pageblock-aligned; force still fails the PMD check)', () => {
    const e61 = explainMemmapOnMemory({ ...x86(128n * MiB, 56), kernel: '6.1' });
    expect(e61.supported).toBe(false);
    expect(e61.vmemmapBytes).toBe(1835008n); // row 2: V = 1.75 MiB (1835008 B)
    expect(e61.reasons.join()).toMatch(/not a multiple of PMD_SIZE/);
    const e66 = explainMemmapOnMemory({ ...x86(128n * MiB, 56), kernel: '6.6' });
    expect(e66.supported).toBe(false);
    expect(e66.reasons.join()).toMatch(/m = 448 pages is not a multiple of pageblock_nr_pages \(512\)/); // row 2: 448 pages
    const force = explainMemmapOnMemory({ ...x86(128n * MiB, 56), kernel: '6.6', param: 'force' });
    expect(force.supported).toBe(false);
    expect(force.steps.find((s) => s.check.includes('force'))?.values.m).toBe('512'); // row 2: "force → 512"
    expect(force.reasons).toHaveLength(1);
    expect(force.reasons[0]).toMatch(/PMD_SIZE/); // row 2: "but the PMD check still fails"
  });

  it('row 3: x86-64 4K, 2 GiB, S=64 → v = 8192, u = 516096', () => {
    for (const kernel of ['6.1', '6.6'] as const) {
      const e = explainMemmapOnMemory({ ...x86(2n * GiB, 64), kernel });
      expect([e.supported, e.vmemmapBytes, e.vmemmapPages, e.usablePages]).toEqual([true, 32n * MiB, 8192, 516096]); // row 3
    }
  });

  it('row 4: x86-64 4K, 2 GiB, S=56 → supported, v = 7168 (28 MiB = 14 PMDs)', () => {
    for (const kernel of ['6.1', '6.6'] as const) {
      const e = explainMemmapOnMemory({ ...x86(2n * GiB, 56), kernel });
      expect([e.supported, e.vmemmapBytes, e.vmemmapPages]).toEqual([true, 28n * MiB, 7168]); // row 4
      expect(e.usablePages * K4).toBe(2020 * 1024 * 1024); // row 4: 2020 MiB left
    }
  });

  it('row 5: x86-64 4K, 1 GiB, S=64 → v = 4096', () => {
    for (const kernel of ['6.1', '6.6'] as const) {
      const e = explainMemmapOnMemory({ ...x86(GiB, 64), kernel });
      expect([e.supported, e.vmemmapBytes, e.vmemmapPages]).toEqual([true, 16n * MiB, 4096]); // row 5
    }
  });

  it('row 6: arm64 4K, 128 MiB, S=64 → v = 512', () => {
    for (const kernel of ['6.1', '6.6'] as const) {
      const e = explainMemmapOnMemory({ ...arm(K4, 128n * MiB, 64), kernel });
      expect([e.supported, e.vmemmapPages]).toEqual([true, 512]); // row 6
    }
  });

  it('row 7: arm64 16K, 128 MiB → never supported; force would reserve 2048 pages (31.5 MiB wasted) and still fail the PMD check', () => {
    const e61 = explainMemmapOnMemory({ ...arm(K16, 128n * MiB, 64), kernel: '6.1' });
    expect(e61.supported).toBe(false);
    expect(e61.vmemmapBytes).toBe(512n * 1024n); // row 7: V = 512 KiB
    expect(e61.reasons).toHaveLength(2); // row 7: PMD 32 MiB and pageblock 32 MiB both fail
    expect(e61.reasons[1]).toMatch(/127.5 MiB is not a multiple of the pageblock size \(32 MiB\)/);
    const e66 = explainMemmapOnMemory({ ...arm(K16, 128n * MiB, 64), kernel: '6.6' });
    expect(e66.reasons[0]).toMatch(/m = 32 pages is not a multiple of pageblock_nr_pages \(2048\)/); // row 7: m = 32 vs 2048
    const force = explainMemmapOnMemory({ ...arm(K16, 128n * MiB, 64), kernel: '6.6', param: 'force' });
    const f = force.steps.find((s) => s.check.includes('force'));
    expect(f?.values.m).toBe('2048'); // row 7: force → 2048 pages
    expect(Number(f?.values.waste) * K16).toBe(31.5 * 1024 * 1024); // row 7: 31.5 MiB wasted
    expect(force.supported).toBe(false);
    expect(force.reasons.join()).toMatch(/PMD_SIZE \(32 MiB\)/);
  });

  it('row 8: arm64 64K, 512 MiB, S=64 → never supported; force would need the whole block', () => {
    expect(explainMemmapOnMemory({ ...arm(K64, 512n * MiB, 64), kernel: '6.1' }).supported).toBe(false); // row 8
    const force = explainMemmapOnMemory({ ...arm(K64, 512n * MiB, 64), kernel: '6.6', param: 'force' });
    expect(force.supported).toBe(false);
    expect(force.reasons.join(' | ')).toMatch(/m = 8192 pages would take the whole block \(8192 pages\): no usable memory/); // row 8
    expect(force.reasons.join(' | ')).toMatch(/PMD_SIZE \(512 MiB\)/); // row 8: "and the PMD check fails"
  });

  it('row 9: arm64 64K, 512 MiB, S=56 → V = 448 KiB = 7 pages, not supported', () => {
    for (const kernel of ['6.1', '6.6'] as const) {
      const e = explainMemmapOnMemory({ ...arm(K64, 512n * MiB, 56), kernel });
      expect(e.vmemmapBytes).toBe(448n * 1024n); // row 9
      expect(e.vmemmapPages).toBe(7); // row 9: 7 pages (from RAM)
      expect(e.supported).toBe(false);
    }
  });

  it('row 10: ppc64 radix 64K, 256 MiB → n/a in 6.1; 6.6 Y refuses (4 pages vs pageblock 32); force: m = 32, 28 wasted, u = 4064', () => {
    const e61 = explainMemmapOnMemory({ ...ppc(K64, 256n * MiB), kernel: '6.1' });
    expect(e61.supported).toBe(false);
    expect(e61.reasons[0]).toMatch(/does not enable memmap_on_memory/); // row 10: "n/a (ppc not enabled in 6.1)"
    const y = explainMemmapOnMemory({ ...ppc(K64, 256n * MiB), kernel: '6.6' });
    expect(y.vmemmapBytes).toBe(256n * 1024n); // row 10: V = 256 KiB = 4 pages
    expect(y.supported).toBe(false);
    expect(y.reasons[0]).toMatch(/m = 4 pages is not a multiple of pageblock_nr_pages \(32\)/);
    const force = explainMemmapOnMemory({ ...ppc(K64, 256n * MiB), kernel: '6.6', param: 'force' });
    expect([force.supported, force.vmemmapPages, force.wastedPages, force.usablePages]).toEqual([true, 32, 28, 4064]); // row 10
    expect(force.notes.join()).toMatch(/waste 28 pages in each memory block/); // apps/docs/kernel/memmap-on-memory.md#support force message
  });

  it('row 11: ppc64 radix 4K, 256 MiB → 6.6+ supported, v = 1024', () => {
    const e = explainMemmapOnMemory({ ...ppc(K4, 256n * MiB), kernel: '6.6' });
    expect([e.supported, e.vmemmapBytes, e.vmemmapPages]).toEqual([true, 4n * MiB, 1024]); // row 11
  });

  it('row 12: ppc64 radix 4K, 1 GiB → v = 4096 = PAGES_PER_SECTION (a section of vmemmap only)', () => {
    const e = explainMemmapOnMemory({ ...ppc(K4, GiB), kernel: '6.6' });
    expect([e.supported, e.vmemmapBytes, e.vmemmapPages]).toEqual([true, 16n * MiB, 4096]); // row 12
    expect(e.vmemmapPages).toBe(Number((16n * MiB) / 4096n)); // PAGES_PER_SECTION of a 16 MiB section (apps/docs/kernel/constants.md#per-arch ppc64 4K: 4096)
  });

  it('row 13: a 1 GiB request with 128 MiB blocks is refused up to 6.7 (size ≠ B) and self-hosts 8 × 512 pages from 6.8', () => {
    const row: Row = { ...x86(128n * MiB, 64), requestBytes: GiB };
    for (const kernel of ['6.1', '6.6'] as const) {
      const e = explainMemmapOnMemory({ ...row, kernel });
      expect(e.supported).toBe(false); // row 13: "driver does not set the flag (device length ≠ B)"
      expect(e.memmapSource).toBe('ram');
      expect(e.vmemmapBytes * BigInt(e.blocks)).toBe(16n * MiB); // row 13: memmap from RAM, 8 × 2 MiB
    }
    const e68 = explainMemmapOnMemory({ ...row, kernel: '6.8' });
    expect([e68.supported, e68.blocks, e68.vmemmapPages]).toEqual([true, 8, 512]); // row 13: 8 blocks each self-host 512 pages
  });
});

describe('the predicate across kernel versions (apps/docs/kernel/memmap-on-memory.md#support)', () => {
  it('does not exist before 5.13', () => {
    const e = explainMemmapOnMemory({ ...x86(128n * MiB, 64), kernel: '5.10' });
    expect(e.supported).toBe(false);
    expect(e.reasons[0]).toMatch(/before 5\.13/);
  });

  it('refuses while HVO is on in 5.14–5.18 only; 5.19 turns the parameter off instead; 6.0+ lets both coexist', () => {
    const base = { ...x86(128n * MiB, 64), hvoEnabled: true };
    expect(explainMemmapOnMemory({ ...base, kernel: '5.13' }).supported).toBe(true); // 5.13 has no HVO
    expect(explainMemmapOnMemory({ ...base, kernel: '5.14' }).supported).toBe(false);
    expect(explainMemmapOnMemory({ ...base, kernel: '5.18' }).reasons.join()).toMatch(/HVO/);
    const e519 = explainMemmapOnMemory({ ...base, kernel: '5.19' });
    expect(e519.supported).toBe(false);
    expect(e519.notes.join()).toMatch(/5\.19/);
    expect(explainMemmapOnMemory({ ...base, kernel: '6.0' }).supported).toBe(true); // seed 001: VmemmapSelfHosted
  });

  it('says an unsupported request fails with -EINVAL up to 6.5 and falls back to a RAM memmap from 6.6', () => {
    const bad = x86(128n * MiB, 56);
    expect(explainMemmapOnMemory({ ...bad, kernel: '6.1' }).onUnsupported).toBe('EINVAL'); // apps/docs/kernel/hotplug.md#add-steps step 7
    expect(explainMemmapOnMemory({ ...bad, kernel: '6.6' }).onUnsupported).toBe('ram-memmap'); // apps/docs/kernel/hotplug.md#add-steps "6.6"
  });

  it('treats "force" as Y before 6.6 and says so', () => {
    const e = explainMemmapOnMemory({ ...ppc(K64, 256n * MiB), kernel: '6.1', param: 'force' });
    expect(e.notes.join()).toMatch(/"force" does not exist before 6\.6/);
  });

  it('reports a parameter that is off as the first failed step', () => {
    const e = explainMemmapOnMemory({ ...x86(128n * MiB, 64), kernel: '6.18', param: 'off' });
    expect(e.supported).toBe(false);
    expect(e.reasons).toEqual(['memory_hotplug.memmap_on_memory is off']);
  });

  it('gives one row per run of kernels with the same answer (x86 1 GiB DIMM: none ≤5.10, refused 5.13–6.6, supported 6.8+)', () => {
    const rows = explainAcrossKernels({ ...x86(128n * MiB, 64), requestBytes: GiB });
    expect(rows.map((r) => [r.kernels[0], r.kernels[r.kernels.length - 1], r.explanation.supported])).toEqual([
      ['5.10', '5.10', false],
      ['5.13', '6.1', false], // -EINVAL era (apps/docs/kernel/hotplug.md#errors)
      ['6.6', '6.6', false], // silently ignored era
      ['6.8', '6.18', true],
    ]);
  });

  it('lists every step with its formula and numbers', () => {
    const e = explainMemmapOnMemory({ ...x86(128n * MiB, 64), kernel: '6.8', param: 'force' });
    expect(e.steps.map((s) => s.check)).toEqual([
      'memory block and memmap size',
      'mhp_memmap_on_memory()',
      'IS_ENABLED(CONFIG_MHP_MEMMAP_ON_MEMORY)',
      'per-block altmaps (6.8+)',
      'IS_ALIGNED(vmemmap_size, PAGE_SIZE)',
      'memory_block_memmap_on_memory_pages() in force mode',
      'pageblock_aligned(memmap_pages)',
      'memmap_pages != PHYS_PFN(memory_block_size_bytes())',
      'arch_supports_memmap_on_memory(vmemmap_size)',
    ]);
    expect(e.steps[0]?.values.V).toBe('2097152 B (2 MiB)');
  });
});
