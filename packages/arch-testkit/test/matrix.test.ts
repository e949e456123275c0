/**
 * The test matrix (Kysely's DIALECTS loop): every first-party backend × page size × struct page size × kernel
 * version, each row with the numbers the kernel reference (apps/docs/kernel/) gives and where it gives them. A combination that does not exist
 * is an explicit NOT_SUPPORTED row: the backend must refuse it. (The riscv64 example runs its own rows in
 * examples/arch-riscv64/test.)
 */
import { describe, expect, it } from 'vitest';
import { SUPPORTED_KERNELS, atLeast, explainMemmapOnMemory, type ArchBackend, type ArchConfig, type KernelVersion } from '@memhp/core';
import { x86Backend } from '@memhp/arch-x86';
import { arm64Backend } from '@memhp/arch-arm64';
import { derive, hvoNumbers } from '../src/derived.js';

const NOT_SUPPORTED = Symbol('NOT_SUPPORTED');
const K = 1024n;
const M = 1024n * K;
const G = 1024n * M;

interface Row {
  /** apps/docs/kernel/constants.md#per-arch columns. */
  readonly sectionBytes: bigint;
  readonly pagesPerSection: number;
  readonly subsections: number;
  readonly pagesPerSubsection: number;
  readonly pmdBytes: bigint;
  /** memmap per section = PAGES_PER_SECTION × S (the apps/docs/kernel/constants.md#per-arch column is for S = 64). */
  readonly memmapPerSectionBytes: number;
  /** apps/docs/kernel/hvo.md#sizes: huge page size → [w, freed] for S = 64 (freed 5.18+; null w when not a whole page). */
  readonly hvo?: ReadonlyArray<readonly [bigint, bigint | null, bigint]>;
  readonly source: string;
}

type Expect = Row | typeof NOT_SUPPORTED;

const PAGE_SIZES = [4096, 16384, 65536] as const;
const STRUCT_PAGES = [56, 64, 72, 80] as const;

/** apps/docs/kernel/constants.md#per-arch (6.1 values, unchanged in 6.18) and apps/docs/kernel/hvo.md#sizes, per backend and page size, for S = 64. */
function expected(backend: ArchBackend, page: number, kernel: KernelVersion, s: number): Expect {
  const memmap = (pps: number) => pps * s;
  if (backend.id === 'x86_64') {
    if (page !== 4096) return NOT_SUPPORTED;
    return {
      sectionBytes: 128n * M, pagesPerSection: 32768, subsections: 64, pagesPerSubsection: 512, pmdBytes: 2n * M,
      memmapPerSectionBytes: memmap(32768),
      hvo: [[2n * M, 8n, 7n], [1n * G, 4096n, 4095n]],
      source: 'apps/docs/kernel/constants.md#per-arch x86-64 4K row; apps/docs/kernel/hvo.md#sizes x86-64 rows',
    };
  }
  // arm64: 1 GiB sections for every granule before 5.12 (apps/docs/kernel/constants.md#per-arch notes)
  const old = !atLeast(kernel, '5.12');
  if (page === 4096)
    return old
      ? { sectionBytes: 1n * G, pagesPerSection: 262144, subsections: 512, pagesPerSubsection: 512, pmdBytes: 2n * M, memmapPerSectionBytes: memmap(262144), source: 'apps/docs/kernel/constants.md#per-arch notes (SECTION_SIZE_BITS 30 before 5.12)' }
      : {
          sectionBytes: 128n * M, pagesPerSection: 32768, subsections: 64, pagesPerSubsection: 512, pmdBytes: 2n * M,
          memmapPerSectionBytes: memmap(32768),
          hvo: [[64n * K, null, 0n], [2n * M, 8n, 7n], [32n * M, 128n, 127n], [1n * G, 4096n, 4095n]],
          source: 'apps/docs/kernel/constants.md#per-arch arm64 4K row; apps/docs/kernel/hvo.md#sizes arm64 4K rows',
        };
  if (page === 16384)
    return old
      ? { sectionBytes: 1n * G, pagesPerSection: 65536, subsections: 512, pagesPerSubsection: 128, pmdBytes: 32n * M, memmapPerSectionBytes: memmap(65536), source: 'apps/docs/kernel/constants.md#per-arch notes' }
      : {
          sectionBytes: 128n * M, pagesPerSection: 8192, subsections: 64, pagesPerSubsection: 128, pmdBytes: 32n * M,
          memmapPerSectionBytes: memmap(8192),
          hvo: [[2n * M, null, 0n], [32n * M, 8n, 7n], [1n * G, 256n, 255n]],
          source: 'apps/docs/kernel/constants.md#per-arch arm64 16K row; apps/docs/kernel/hvo.md#sizes arm64 16K rows',
        };
  return old
    ? { sectionBytes: 1n * G, pagesPerSection: 16384, subsections: 512, pagesPerSubsection: 32, pmdBytes: 512n * M, memmapPerSectionBytes: memmap(16384), source: 'apps/docs/kernel/constants.md#per-arch notes' }
    : {
        sectionBytes: 512n * M, pagesPerSection: 8192, subsections: 256, pagesPerSubsection: 32, pmdBytes: 512n * M,
        memmapPerSectionBytes: memmap(8192),
        hvo: [[2n * M, null, 0n], [512n * M, 8n, 7n], [16n * G, 256n, 255n]],
        source: 'apps/docs/kernel/constants.md#per-arch arm64 64K row; apps/docs/kernel/hvo.md#sizes arm64 64K rows',
      };
}

const BACKENDS: readonly ArchBackend[] = [x86Backend, arm64Backend];

describe.each(BACKENDS.map((b) => [b.id, b] as const))('%s', (_id, backend) => {
  for (const page of PAGE_SIZES)
    for (const s of STRUCT_PAGES)
      for (const kernel of SUPPORTED_KERNELS) {
        const config: ArchConfig = { pageSizeBytes: page, structPageBytes: s, kernel, features: {} };
        const want = expected(backend, page, kernel, s);
        const label = `${page / 1024}K S=${s} v${kernel}`;
        if (want === NOT_SUPPORTED) {
          it(`${label}: NOT_SUPPORTED`, () => expect(backend.supports(config).supported).toBe(false));
          continue;
        }
        it(`${label}: ${want.source}`, () => {
          expect(backend.supports(config)).toEqual({ supported: true });
          const d = derive(config, backend.constants(config));
          expect({
            sectionBytes: d.sectionBytes,
            pagesPerSection: d.pagesPerSection,
            subsections: d.subsectionsPerSection,
            pagesPerSubsection: d.pagesPerSubsection,
            pmdBytes: d.pmdBytes,
            memmapPerSectionBytes: d.sectionMemmapBytes,
          }).toEqual({
            sectionBytes: want.sectionBytes,
            pagesPerSection: want.pagesPerSection,
            subsections: want.subsections,
            pagesPerSubsection: want.pagesPerSubsection,
            pmdBytes: want.pmdBytes,
            memmapPerSectionBytes: want.memmapPerSectionBytes,
          });
          if (s === 64 && want.hvo) {
            const sizes = backend.hugepageSizes(config);
            const got = sizes.map((h) => {
              const n = hvoNumbers(config, h);
              return [h.bytes, n.vmemmapPages, n.freedPages] as const;
            });
            expect(got).toEqual(want.hvo);
          }
        });
      }
});

describe('apps/docs/kernel/constants.md#per-arch memmap-per-section column (S = 64)', () => {
  const at = (b: ArchBackend, page: number) => derive({ pageSizeBytes: page, structPageBytes: 64, kernel: '6.1', features: {} }, b.constants({ pageSizeBytes: page, structPageBytes: 64, kernel: '6.1', features: {} }));
  it('is 2 MiB = 512 pages on x86-64 and arm64 4K, 512 KiB = 32 pages on 16K, 512 KiB = 8 pages on 64K', () => {
    expect([at(x86Backend, 4096), at(arm64Backend, 4096), at(arm64Backend, 16384), at(arm64Backend, 65536)].map((d) => [d.sectionMemmapBytes, d.sectionMemmapPages])).toEqual([
      [2 * 1024 * 1024, 512],
      [2 * 1024 * 1024, 512],
      [512 * 1024, 32],
      [512 * 1024, 8],
    ]);
  });
});

describe('apps/docs/kernel/memmap-on-memory.md#examples rows that are backend facts: V = (B / P) × S against PMD_SIZE', () => {
  // Each row's V and verdict are the numbers printed in apps/docs/kernel/memmap-on-memory.md#examples; B, P and PMD_SIZE come from the backend (arm64: the
  // default block = one section from its block-size policy; x86: the block size the row names, as a machine with
  // that policy outcome would have) and V from core's memmap_on_memory explanation, never from the row itself.
  const rows: ReadonlyArray<readonly [string, ArchBackend, number, number, bigint | null, bigint, boolean]> = [
    ['#1 x86 4K 128M S=64: V = 2 MiB, a PMD multiple', x86Backend, 4096, 64, 128n * M, 2n * M, true],
    ['#2 x86 4K 128M S=56: V = 1.75 MiB, not a PMD multiple', x86Backend, 4096, 56, 128n * M, 1835008n, false],
    ['#3 x86 4K 2G S=64: V = 32 MiB', x86Backend, 4096, 64, 2n * G, 32n * M, true],
    ['#4 x86 4K 2G S=56: V = 28 MiB = 14 PMDs', x86Backend, 4096, 56, 2n * G, 28n * M, true],
    ['#5 x86 4K 1G S=64: V = 16 MiB', x86Backend, 4096, 64, 1n * G, 16n * M, true],
    ['#6 arm64 4K 128M S=64: V = 2 MiB', arm64Backend, 4096, 64, null, 2n * M, true],
    ['#7 arm64 16K 128M S=64: V = 512 KiB vs PMD 32 MiB', arm64Backend, 16384, 64, null, 512n * K, false],
    ['#8 arm64 64K 512M S=64: V = 512 KiB vs PMD 512 MiB', arm64Backend, 65536, 64, null, 512n * K, false],
    ['#9 arm64 64K 512M S=56: V = 448 KiB', arm64Backend, 65536, 56, null, 448n * K, false],
  ];
  it.each(rows)('%s', (_name, backend, pageSizeBytes, structPageBytes, blockSizeBytes, wantV, pmdMultiple) => {
    const e = explainMemmapOnMemory({
      backend,
      kernel: '6.1',
      pageSizeBytes,
      structPageBytes,
      bootRamEndBytes: 8n * G,
      ...(blockSizeBytes === null ? {} : { blockSizeBytes }),
    });
    expect(e.vmemmapBytes).toBe(wantV);
    expect(e.steps.find((s) => s.check === 'IS_ALIGNED(vmemmap_size, PMD_SIZE)')?.passed).toBe(pmdMultiple);
  });
});
