import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { summarize } from '../src/render/summary.js';
import type { Envelope } from '../src/sim.js';

/** The summary's byte counts as bigint arithmetic on the payload's strings gives them (BigInt(end) - BigInt(start)). */
const bySpec = (start: unknown, end: unknown): bigint => {
  const big = (x: unknown): bigint => {
    try {
      return typeof x === 'string' || typeof x === 'number' || typeof x === 'bigint' ? BigInt(x) : 0n;
    } catch {
      return 0n;
    }
  };
  return big(end) - big(start);
};

const ev = (seq: number, type: string, payload: Record<string, unknown>): Envelope =>
  ({ seq, time: seq * 1000, op: 1, cause: null, type, v: 1, payload }) as unknown as Envelope;

// vmemmap addresses as the model writes them (hex of a bigint), and strings near them that BigInt reads
// differently or not at all: upper case, 0X, a carry across the 13 low digits, other lengths, junk.
const hexAddr = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => `0x${v.toString(16)}`);
const near = fc
  .tuple(fc.bigInt({ min: 0xffffea0000000000n, max: 0xffffea0fffffffffn }), fc.bigInt({ min: -(1n << 54n), max: 1n << 54n }))
  .map(([a, d]) => [`0x${a.toString(16)}`, `0x${BigInt.asUintN(64, a + d).toString(16)}`] as const);
const odd = fc.oneof(
  hexAddr,
  hexAddr.map((h) => h.toUpperCase()),
  hexAddr.map((h) => `0X${h.slice(2)}`),
  fc.constantFrom('0x', '', '0xg0', ' 0x10', '0x10 ', '12', '0x\u00100', 'abc'),
  fc.integer({ min: 0, max: 2 ** 40 }),
  fc.stringMatching(/^0x[0-9a-fA-Fg ]{0,18}$/),
);

describe('run summary: memmap bytes', () => {
  it('adds end - start of every vmemmap.populate and vmemmap.depopulate exactly as bigint arithmetic on the strings does', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(near, fc.tuple(odd, odd), fc.tuple(hexAddr, hexAddr)), { minLength: 1, maxLength: 12 }), (spans) => {
        const events = spans.flatMap(([start, end], i) => [
          ev(2 * i + 1, 'vmemmap.populate', { start, end, granularity: 'pmd', source: 'buddy' }),
          ev(2 * i + 2, 'vmemmap.depopulate', { start, end, to: 'buddy' }),
        ]);
        const want = spans.reduce((a, [start, end]) => a + bySpec(start, end), 0n);
        const s = summarize(events);
        expect(s.memmapBytesBySource.buddy).toBe(want);
        expect(s.memmapBytesFreed.buddy).toBe(want);
      }),
      { numRuns: 500 },
    );
  });
});
