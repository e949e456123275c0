import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatSize, parseSize } from '../src/parse/size.js';
import { formatBlockList, parseBlockList } from '../src/parse/ranges.js';

describe('sizes', () => {
  it('reads binary units, plain bytes and hex as the kernel memparse does', () => {
    // apps/docs/kernel/knobs.md#cmdline: sizes are nnK/M/G/T with binary units.
    expect(parseSize('4K')).toBe(4096n);
    expect(parseSize('128M')).toBe(134217728n);
    expect(parseSize('2G')).toBe(2147483648n);
    expect(parseSize('1T')).toBe(1n << 40n);
    expect(parseSize('0x100000000')).toBe(4294967296n);
    expect(parseSize(4096)).toBe(4096n);
    expect(parseSize('134217728')).toBe(134217728n);
    expect(parseSize('64KiB')).toBe(65536n);
  });

  it('keeps physical addresses near 2^52 exact', () => {
    expect(parseSize('0xfffffffffffff')).toBe((1n << 52n) - 1n);
  });

  it('rejects what is not a size', () => {
    for (const bad of ['', '12Q', '-1', '1.5G', 'G', '0xZZ']) expect(() => parseSize(bad)).toThrow(/not a size/);
  });

  it('formats with the largest exact unit and round-trips', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 62n }), (b) => {
        expect(parseSize(formatSize(b))).toBe(b);
      }),
    );
    expect(formatSize(134217728n)).toBe('128M');
  });
});

describe('block lists', () => {
  it('reads ranges, lists and single ids', () => {
    expect(parseBlockList('32-35')).toEqual([32, 33, 34, 35]);
    expect(parseBlockList('1,3-4')).toEqual([1, 3, 4]);
    expect(parseBlockList(7)).toEqual([7]);
    expect(parseBlockList(['1-2', 5])).toEqual([1, 2, 5]);
  });

  it('rejects reversed and malformed ranges', () => {
    for (const bad of ['5-3', 'a', '1-', '']) expect(() => parseBlockList(bad)).toThrow(/not a block list/);
  });

  it('formats any set of ids into ranges that read back to the same set', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 60 }), (ids) => {
        expect(parseBlockList(formatBlockList(ids))).toEqual([...ids].sort((a, b) => a - b));
      }),
    );
  });
});
