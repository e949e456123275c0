/**
 * explainHvo / explainHvoAcrossKernels: the HVO verdict of apps/docs/kernel/hvo.md#conditions with its numbers (apps/docs/kernel/hvo.md#what-it-does, apps/docs/kernel/hvo.md#sizes), per
 * kernel version (apps/docs/kernel/timeline.md#timeline), and agreement with what the simulator's hvoShouldOptimize decides for a real pool page.
 *
 * Core must not import the arch packages, so the two backends below carry only what HVO reads, written from
 * apps/docs/kernel/hvo.md#sizes: x86-64 (HVO since 5.14; 2 MiB, and 1 GiB with pdpe1gb) and arm64 (HVO only 5.19–6.0: enabled by
 * 1e63ac088f20, disabled by 060a2c92d1b6 in 6.1.16 / ≈6.3; the granule size lists of vmemmap_dedup.rst).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  createSimulator,
  explainHvo,
  explainHvoAcrossKernels,
  hugetlbState,
  SUPPORTED_KERNELS,
  atLeast,
  versionKey,
  type ArchBackend,
  type HvoExplainInput,
  type HugepageSize,
  type KernelVersion,
} from '../src/index.js';
import { tinyArm64, tinyX86 } from './support/tiny-backends.js';
import { testBackend } from './support/test-backend.js';
import { small } from './support/machines.js';

const K = 1n << 10n;
const M = 1n << 20n;
const G = 1n << 30n;
const KiB = 1024n;

const x86: ArchBackend = {
  ...tinyX86,
  features: [...tinyX86.features, { name: 'pdpe1gb', kind: 'bool', default: 'true', feature: 'pdpe1gb', description: 'CPU 1 GiB pages' }],
  capabilities: (c) => ({ ...tinyX86.capabilities(c), hugetlbVmemmapOptimize: atLeast(c.kernel, '5.14') }),
  hugepageSizes: (c) => [{ bytes: 2n * M, level: 'pmd' }, ...(c.features.pdpe1gb === true ? [{ bytes: G, level: 'pud', requiresFeature: 'pdpe1gb' } as const] : [])],
};

const ARM64_SIZES: Readonly<Record<number, readonly HugepageSize[]>> = {
  4096: [{ bytes: 64n * K, level: 'cont-pte' }, { bytes: 2n * M, level: 'pmd' }, { bytes: 32n * M, level: 'cont-pmd' }, { bytes: G, level: 'pud' }],
  16384: [{ bytes: 2n * M, level: 'cont-pte' }, { bytes: 32n * M, level: 'pmd' }, { bytes: G, level: 'cont-pmd' }],
  65536: [{ bytes: 2n * M, level: 'cont-pte' }, { bytes: 512n * M, level: 'pmd' }, { bytes: 16n * G, level: 'cont-pmd' }],
};
const arm64: ArchBackend = {
  ...tinyArm64,
  capabilities: (c) => ({ ...tinyArm64.capabilities(c), hugetlbVmemmapOptimize: atLeast(c.kernel, '5.19') && !atLeast(c.kernel, '6.1') }),
  hugepageSizes: (c) => ARM64_SIZES[c.pageSizeBytes] ?? [],
  defaultHugepageBytes: (c) => (ARM64_SIZES[c.pageSizeBytes] ?? []).find((h) => h.level === 'pmd')!.bytes,
};

const on = (backend: ArchBackend, pageSizeBytes: number, hugepageBytes: bigint, kernel: KernelVersion, extra: Partial<HvoExplainInput> = {}) =>
  explainHvo({ backend, pageSizeBytes, structPageBytes: 64, hugepageBytes, kernel, ...extra });

describe('apps/docs/kernel/hvo.md#sizes sizes (S = 64 B)', () => {
  it('x86-64 4K, 2 MiB: w = 8, 7 freed (28 KiB) from 5.18; 6 freed in 5.14–5.17', () => {
    const e = on(x86, 4096, 2n * M, '6.1');
    expect(e).toMatchObject({ optimizable: true, vmemmapPagesPerHugepage: 8, keptPagesPerHugepage: 1, freedPagesPerHugepage: 7, reasons: [] });
    expect(e.freedBytesPerHugepage).toBe(28n * KiB); // apps/docs/kernel/hvo.md#sizes: 28 KiB
    expect(on(x86, 4096, 2n * M, '5.18').freedPagesPerHugepage).toBe(7); // apps/docs/kernel/timeline.md#timeline 5.18: frees the 2nd vmemmap page
    const old = on(x86, 4096, 2n * M, '5.14');
    expect(old).toMatchObject({ optimizable: true, keptPagesPerHugepage: 2, freedPagesPerHugepage: 6 }); // apps/docs/kernel/hvo.md#what-it-does: w − 2 in 5.14–5.17
    expect(old.freedBytesPerHugepage).toBe(24n * KiB);
  });

  it('x86-64 4K, 1 GiB (PUD, pdpe1gb): w = 4096, 4095 freed = 16380 KiB; 4094 in 5.14–5.17', () => {
    const e = on(x86, 4096, G, '6.1');
    expect(e).toMatchObject({ optimizable: true, vmemmapPagesPerHugepage: 4096, freedPagesPerHugepage: 4095, hstate: 'exists' });
    expect(e.freedBytesPerHugepage).toBe(16380n * KiB); // apps/docs/kernel/hvo.md#sizes row 2
    expect(on(x86, 4096, G, '5.14').freedPagesPerHugepage).toBe(4094); // apps/docs/kernel/hvo.md#sizes row 2 "(5.14–5.17: 4094)"
  });

  it('x86-64 1 GiB without the CPU flag pdpe1gb: the hstate does not exist, so nothing is optimised', () => {
    const e = on(x86, 4096, G, '6.1', { features: { pdpe1gb: false } });
    expect(e).toMatchObject({ optimizable: false, hstate: 'needs-feature', vmemmapPagesPerHugepage: 4096, freedPagesPerHugepage: 0 });
    expect(e.hugepageSizes).toEqual([2n * M]);
    expect(e.reasons).toHaveLength(1);
    expect(e.reasons[0]).toMatch(/only with the CPU feature pdpe1gb/); // apps/docs/kernel/hvo.md#sizes: 1 GiB "needs CPU pdpe1gb"
  });

  it('arm64 4K: 64 KiB cont-PTE pages have a quarter page of struct pages, not optimisable; 2M 8/7, 32M 128/127, 1G 4096/4095 (in 6.0)', () => {
    const cont = on(arm64, 4096, 64n * K, '6.0');
    expect(cont).toMatchObject({ optimizable: false, vmemmapPagesPerHugepage: 0.25, freedPagesPerHugepage: 0, wouldFreePagesPerHugepage: 0 }); // apps/docs/kernel/hvo.md#sizes: 1 KiB → < 1 page
    expect(cont.reasons).toEqual([expect.stringMatching(/less than one \(0\.25\) vmemmap page/)]);
    expect(on(arm64, 4096, 2n * M, '6.0')).toMatchObject({ vmemmapPagesPerHugepage: 8, freedPagesPerHugepage: 7 });
    const c32 = on(arm64, 4096, 32n * M, '6.0');
    expect(c32).toMatchObject({ vmemmapPagesPerHugepage: 128, freedPagesPerHugepage: 127 });
    expect(c32.freedBytesPerHugepage).toBe(508n * KiB); // apps/docs/kernel/hvo.md#sizes: 508 KiB
    expect(on(arm64, 4096, G, '6.0')).toMatchObject({ vmemmapPagesPerHugepage: 4096, freedPagesPerHugepage: 4095 });
  });

  it('arm64 16K, 32 MiB: 8 vmemmap pages, 7 "would be" freed, but arm64 does not enable HVO in 6.1', () => {
    const e = on(arm64, 16384, 32n * M, '6.1');
    expect(e).toMatchObject({ optimizable: false, vmemmapPagesPerHugepage: 8, freedPagesPerHugepage: 0, wouldFreePagesPerHugepage: 7 });
    expect(e.reasons).toEqual([expect.stringMatching(/arm64 does not enable HVO in this kernel .*would free 7 of 8 vmemmap pages per 32 MiB page/)]);
    const e60 = on(arm64, 16384, 32n * M, '6.0');
    expect(e60).toMatchObject({ optimizable: true, freedPagesPerHugepage: 7 });
    expect(e60.freedBytesPerHugepage).toBe(112n * KiB); // apps/docs/kernel/hvo.md#sizes: 112 KiB (16 KiB pages)
    expect(on(arm64, 16384, G, '6.0')).toMatchObject({ vmemmapPagesPerHugepage: 256, freedPagesPerHugepage: 255 }); // apps/docs/kernel/hvo.md#sizes: 1G cont-PMD 256/255
    expect(on(arm64, 16384, 2n * M, '6.0')).toMatchObject({ optimizable: false, vmemmapPagesPerHugepage: 0.5 }); // apps/docs/kernel/hvo.md#sizes: ½ page
  });

  it('arm64 64K: 512 MiB 8/7 (448 KiB), 16 GiB 256/255 (16320 KiB), 2 MiB 1/32 page (in 5.19)', () => {
    const p = on(arm64, 65536, 512n * M, '5.19');
    expect(p).toMatchObject({ optimizable: true, vmemmapPagesPerHugepage: 8, freedPagesPerHugepage: 7 });
    expect(p.freedBytesPerHugepage).toBe(448n * KiB);
    const g16 = on(arm64, 65536, 16n * G, '5.19');
    expect(g16).toMatchObject({ vmemmapPagesPerHugepage: 256, freedPagesPerHugepage: 255 });
    expect(g16.freedBytesPerHugepage).toBe(16320n * KiB);
    expect(on(arm64, 65536, 2n * M, '5.19')).toMatchObject({ optimizable: false, vmemmapPagesPerHugepage: 1 / 32 });
  });

  it('defaults to the arch default size (HPAGE_SIZE: the PMD size)', () => {
    expect(explainHvo({ backend: arm64, pageSizeBytes: 65536, structPageBytes: 64, kernel: '6.0' }).hugepageBytes).toBe(512n * M);
  });
});

describe('apps/docs/kernel/hvo.md#conditions conditions', () => {
  it('a 56-byte struct page is not a power of two: nothing freed, and that is the reason', () => {
    for (const kernel of ['5.14', '6.1', '6.18'] as const) {
      const e = explainHvo({ backend: x86, pageSizeBytes: 4096, structPageBytes: 56, hugepageBytes: 2n * M, kernel });
      expect(e).toMatchObject({ optimizable: false, vmemmapPagesPerHugepage: 7, freedPagesPerHugepage: 0, wouldFreePagesPerHugepage: 0 }); // w = 512 × 56 / 4096
      expect(e.reasons).toEqual([expect.stringMatching(/56 is not a power of two/)]);
    }
  });

  it('there is no HVO before 5.14', () => {
    const e = on(x86, 4096, 2n * M, '5.10');
    expect(e).toMatchObject({ optimizable: false, keptPagesPerHugepage: null, freedPagesPerHugepage: 0 });
    expect(e.reasons).toEqual([expect.stringMatching(/does not exist before 5\.14/)]);
  });

  it('is off unless hugetlb_free_vmemmap= or (5.19+) the sysctl enables it; the sysctl wins after boot', () => {
    const off = on(x86, 4096, 2n * M, '6.1', { hugetlbFreeVmemmap: false });
    expect(off.optimizable).toBe(false);
    expect(off.reasons).toEqual([expect.stringMatching(/HVO is switched off/)]);
    expect(on(x86, 4096, 2n * M, '6.1', { hugetlbFreeVmemmap: false, hugetlbOptimizeVmemmap: true }).optimizable).toBe(true);
    expect(on(x86, 4096, 2n * M, '6.1', { hugetlbOptimizeVmemmap: false }).optimizable).toBe(false);
    // 5.18 has no sysctl (apps/docs/kernel/knobs.md#runtime, 5.19+): the write fails and the boot parameter decides.
    const e518 = on(x86, 4096, 2n * M, '5.18', { hugetlbFreeVmemmap: false, hugetlbOptimizeVmemmap: true });
    expect(e518.optimizable).toBe(false);
    expect(e518.notes.join()).toMatch(/does not exist before 5\.19/);
  });

  it('5.19 does not register the sysctl while memmap_on_memory is on, so a runtime switch-on cannot happen', () => {
    const e = on(x86, 4096, 2n * M, '5.19', { hugetlbFreeVmemmap: false, memmapOnMemory: 'on', hugetlbOptimizeVmemmap: true });
    expect(e.optimizable).toBe(false);
    expect(e.reasons[0]).toMatch(/5\.19 does not register the sysctl while memory_hotplug\.memmap_on_memory is on/); // apps/docs/kernel/knobs.md#runtime
    // 6.0+ registers it whatever memmap_on_memory says (apps/docs/kernel/hvo.md#conditions: pow2 and an optimisable hstate)
    expect(on(x86, 4096, 2n * M, '6.0', { hugetlbFreeVmemmap: false, memmapOnMemory: 'on', hugetlbOptimizeVmemmap: true }).optimizable).toBe(true);
  });

  it('6.0+: a page in a block that self-hosts its memmap is not optimised (VmemmapSelfHosted)', () => {
    for (const kernel of ['6.0', '6.1', '6.18'] as const) {
      const e = on(x86, 4096, 2n * M, kernel, { memmapOnMemory: 'on', selfHosted: true });
      expect(e).toMatchObject({ optimizable: false, freedPagesPerHugepage: 0, wouldFreePagesPerHugepage: 7 });
      expect(e.reasons).toEqual([expect.stringMatching(/VmemmapSelfHosted/)]); // apps/docs/kernel/memmap-on-memory.md#self-hosted, apps/docs/kernel/hvo.md#conditions item 5
    }
  });

  it('5.14–5.19: the features exclude each other instead, HVO taking precedence, so no page is self-hosted while HVO is on', () => {
    for (const kernel of ['5.14', '5.18', '5.19'] as const) {
      const e = on(x86, 4096, 2n * M, kernel, { memmapOnMemory: 'on', selfHosted: true });
      expect(e.optimizable).toBe(true); // apps/docs/kernel/memmap-on-memory.md#support: "hugetlb_free_vmemmap takes precedence"
      expect(e.steps.some((s) => /exclude each other/.test(s.check) && s.passed === null)).toBe(true);
      expect(e.notes.join(' ')).toMatch(/no memory block can host its own memmap while HVO is on/);
    }
    expect(on(x86, 4096, 2n * M, '5.14', { memmapOnMemory: 'on' }).notes.join()).toMatch(/memmap_on_memory is refused while HVO is on \(5\.14–5\.18\)/);
    expect(on(x86, 4096, 2n * M, '5.19', { memmapOnMemory: 'on' }).steps.find((s) => /exclude/.test(s.check))?.values['memory_hotplug.memmap_on_memory']).toBe('on → off');
  });

  it('6.2+: the head page moves to a new page; the net saving stays w − 1 (apps/docs/kernel/hvo.md#steps step 2, apps/docs/kernel/hvo.md#accounting)', () => {
    const e = on(x86, 4096, 2n * M, '6.6');
    expect(e).toMatchObject({ newHeadPage: true, freedPagesPerHugepage: 7 });
    expect(e.steps.at(-1)).toMatchObject({ values: { freed: '8', allocated: '1', net: '7' } });
    expect(on(x86, 4096, 2n * M, '6.1').newHeadPage).toBe(false);
  });

  it('lists every condition as a step, each failing one with a reason', () => {
    const e = on(x86, 4096, 2n * M, '6.1');
    expect(e.steps.map((s) => s.check)).toEqual([
      'hugetlb_vmemmap_size(h): vmemmap pages of one HugeTLB page',
      'HVO exists in this kernel',
      'the arch selects ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP',
      'the hstate exists: hugepagesz=2M is valid for x86_64',
      'vmemmap_optimize_enabled',
      'is_power_of_2(sizeof(struct page))',
      'hugetlb_vmemmap_optimizable_size(h) > 0',
      'vmemmap_should_optimize: !PageVmemmapSelfHosted(page backing the head struct page)',
    ]);
  });

  it('property: the verdict and page counts for x86-64 4K follow apps/docs/kernel/hvo.md#what-it-does to apps/docs/kernel/hvo.md#conditions and apps/docs/kernel/timeline.md#timeline, for any kernel, struct page size, switch and self-hosting', () => {
    // The expectation is written from the domain notes, not from explain.ts:
    // - HVO exists from 5.14 (apps/docs/kernel/timeline.md#timeline); it runs only when hugetlb_free_vmemmap= enables it (apps/docs/kernel/hvo.md#conditions item 2);
    // - sizeof(struct page) must be a power of two (apps/docs/kernel/hvo.md#conditions item 3, mm/hugetlb_vmemmap.c
    //   hugetlb_vmemmap_optimizable_size(), 6.1): of 56, 64, 72 and 80 bytes only 64;
    // - w = (huge page / 4 KiB) × S / 4 KiB vmemmap pages (apps/docs/kernel/hvo.md#what-it-does): 2 MiB → S / 8, 1 GiB → 64 × S;
    // - freed: w − 2 in 5.14–5.17, w − 1 from 5.18 (apps/docs/kernel/hvo.md#what-it-does, apps/docs/kernel/timeline.md#timeline 5.18); the 6.2+ new head page keeps the net at w − 1;
    // - from 6.0 a page whose memmap is self-hosted is not optimised (apps/docs/kernel/hvo.md#conditions item 5); before, HVO takes precedence.
    const ge = (k: KernelVersion, v: KernelVersion) => versionKey(k) >= versionKey(v);
    fc.assert(
      fc.property(
        fc.constantFrom(...SUPPORTED_KERNELS),
        fc.constantFrom(56, 64, 72, 80),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(2n * M, G),
        (kernel, structPageBytes, hugetlbFreeVmemmap, selfHosted, hugepageBytes) => {
          const r = explainHvo({ backend: x86, pageSizeBytes: 4096, structPageBytes, kernel, hugetlbFreeVmemmap, selfHosted, hugepageBytes });
          const w = hugepageBytes === G ? 64 * structPageBytes : structPageBytes / 8;
          const optimizable = ge(kernel, '5.14') && hugetlbFreeVmemmap && structPageBytes === 64 && !(selfHosted && ge(kernel, '6.0'));
          const freed = optimizable ? w - (ge(kernel, '5.18') ? 1 : 2) : 0;
          expect({ optimizable: r.optimizable, freed: r.freedPagesPerHugepage, anyReason: r.reasons.length > 0 }).toEqual({ optimizable, freed, anyReason: !optimizable });
          if (ge(kernel, '5.14')) expect(r.vmemmapPagesPerHugepage).toBe(w);
          expect(r.freedBytesPerHugepage).toBe(BigInt(freed) * 4096n);
          expect(r.newHeadPage).toBe(optimizable && ge(kernel, '6.6'));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('explainHvoAcrossKernels', () => {
  it('x86-64 2 MiB: none before 5.14, 6 freed in 5.14–5.17, 7 from 5.18, new head page from 6.2', () => {
    const rows = explainHvoAcrossKernels({ backend: x86, pageSizeBytes: 4096, structPageBytes: 64, hugepageBytes: 2n * M });
    expect(rows.map((r) => [r.kernels, r.explanation.optimizable, r.explanation.freedPagesPerHugepage])).toEqual([
      [['5.10', '5.13'], false, 0],
      [['5.14'], true, 6],
      [['5.18', '5.19', '6.0', '6.1'], true, 7],
      [['6.6', '6.8', '6.11', '6.18'], true, 7],
    ]);
  });

  it('arm64 16K, 32 MiB: optimisable only in 5.19–6.0 (apps/docs/kernel/hvo.md#sizes)', () => {
    const rows = explainHvoAcrossKernels({ backend: arm64, pageSizeBytes: 16384, structPageBytes: 64, hugepageBytes: 32n * M });
    expect(rows.filter((r) => r.explanation.optimizable).map((r) => r.kernels)).toEqual([['5.19', '6.0']]);
    expect(rows.flatMap((r) => r.kernels)).toEqual([...SUPPORTED_KERNELS]);
  });

  it('leaves out kernels the backend does not support', () => {
    const from66: ArchBackend = { ...x86, supports: (c) => (atLeast(c.kernel, '6.6') ? { supported: true } : { supported: false, why: 'no hotplug' }) };
    const rows = explainHvoAcrossKernels({ backend: from66, pageSizeBytes: 4096, structPageBytes: 64 });
    expect(rows.flatMap((r) => r.kernels)).toEqual(['6.6', '6.8', '6.11', '6.18']);
  });
});

describe('agrees with the simulator (hvoShouldOptimize on a pool page)', () => {
  it('for random kernels, struct page sizes and switches, a 2 MiB page is optimised iff explainHvo says so, freeing as many pages', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SUPPORTED_KERNELS.filter((k) => atLeast(k, '5.14'))),
        fc.constantFrom(56, 64),
        fc.boolean(),
        fc.option(fc.boolean(), { nil: undefined }),
        (kernel, structPageBytes, boot, sysctl) => {
          const explained = explainHvo({
            backend: testBackend,
            pageSizeBytes: 4096,
            structPageBytes,
            kernel,
            hugepageBytes: 2n * M,
            hugetlbFreeVmemmap: boot,
            ...(sysctl === undefined ? {} : { hugetlbOptimizeVmemmap: sysctl }),
          });
          // Only a write the kernel accepts can be part of the machine; a refused one is what the note says.
          const writable = sysctl !== undefined && !explained.notes.some((n) => /vm\.hugetlb_optimize_vmemmap (is not registered|does not exist)/.test(n));
          const config = { ...small(1, kernel, boot ? 'hugetlb_free_vmemmap=on' : ''), structPageBytes, ...(writable ? { sysctls: { 'vm.hugetlb_optimize_vmemmap': sysctl ? '1' : '0' } } : {}) };
          const sim = createSimulator({ config, backend: testBackend });
          expect(sim.exec({ kind: 'hugepages', sizeBytes: 2n * M, count: 1 }).ok).toBe(true);
          const [page] = [...hugetlbState(sim.state).pages.values()];
          expect(page!.hvo === 'optimized').toBe(explained.optimizable);
          // hvo.optimize records the net pages given back (freed − the 6.2+ new head page), as freedPagesPerHugepage
          expect(page!.freedVmemmapPages).toBe(explained.freedPagesPerHugepage);
          expect(page!.newHead).toBe(explained.newHeadPage);
        },
      ),
      { numRuns: 25 },
    );
  });
});
