import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToPfn, deriveGeometry, fullSubsectionMap, hexShr, maskHex, pfnToBytes, subsectionBitSet, subsectionMask, unhexMask } from '../src/model/geometry.js';

/**
 * The hot-path arithmetic of model/geometry.ts works in doubles and digit loops instead of bigint (issue 3's scale
 * bench). Each fast form must equal its bigint definition; these properties check them on random inputs.
 * Geometry: x86-64, 4K pages, SECTION_SIZE_BITS 27, MAX_PHYSMEM_BITS 52 (apps/docs/kernel/constants.md#arch-independent to apps/docs/kernel/constants.md#per-arch), 64-byte struct page.
 */
const g = deriveGeometry(
  {
    arch: 'x86-64',
    pageShift: 12,
    sectionSizeBits: 27,
    maxPhysmemBits: 52,
    pmdShift: 21,
    pudShift: 30,
    pgtableLevels: 5,
    pageblockOrder: 9,
    maxBuddyOrder: 10,
    vmemmapBase: 0xffd4000000000000n,
    memSectionBytes: 16,
    lowZones: [],
  } as unknown as Parameters<typeof deriveGeometry>[0],
  64,
  1n << 27n,
);

describe('geometry arithmetic without bigint equals its bigint definition', () => {
  it('hexShr(hex(v), s) is Number(v >> s) for 64-bit v while the result is a safe integer', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 12, max: 40 }), (v, s) => {
        const want = v >> BigInt(s);
        fc.pre(want <= BigInt(Number.MAX_SAFE_INTEGER));
        expect(hexShr(`0x${v.toString(16)}`, s)).toBe(Number(want));
      }),
      { numRuns: 5000 },
    );
  });

  it('maskHex / unhexMask round-trip any sub-section map through its memo', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 1, maxLength: 20 }), (vs) => {
        for (const v of vs) {
          expect(maskHex(v)).toBe(`0x${v.toString(16)}`);
          expect(unhexMask(`0x${v.toString(16)}`)).toBe(v);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('bytesToPfn is bytes >> PAGE_SHIFT and pfnToBytes its inverse, beyond 2^53 bytes too', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 62n }), (b) => {
        expect(bytesToPfn(g, b)).toBe(Number(b >> 12n));
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (pfn) => {
        expect(pfnToBytes(g, pfn)).toBe(BigInt(pfn) << 12n);
      }),
      { numRuns: 5000 },
    );
  });

  it('subsectionMask is subsection_mask_set: bits first..last of the range inside its section (64 of 2 MiB)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 0, max: 40_000 }), (pfn, n) => {
        const nrPages = Math.min(n, 32768 - (pfn % 32768));
        const first = Math.floor((pfn % 32768) / 512);
        const last = Math.floor(((pfn + nrPages - 1) % 32768) / 512);
        const want = nrPages <= 0 ? 0n : ((1n << BigInt(last - first + 1)) - 1n) << BigInt(first);
        expect(subsectionMask(g, pfn, nrPages)).toBe(want);
      }),
      { numRuns: 5000 },
    );
    expect(fullSubsectionMap(g)).toBe((1n << 64n) - 1n);
  });

  it('subsectionBitSet is the pfn\'s bit of the map (bit (pfn mod 32768) / 512), the full map included', () => {
    const full = (1n << 64n) - 1n;
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: full }), fc.constant(full), fc.constant(0n)), fc.integer({ min: 0, max: 2 ** 40 }), (map, pfn) => {
        const want = ((map >> BigInt(Math.floor((pfn % 32768) / 512))) & 1n) === 1n;
        expect(subsectionBitSet(g, map, pfn)).toBe(want);
      }),
      { numRuns: 5000 },
    );
  });
});
