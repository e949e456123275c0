import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializeEvent, type EventEnvelope } from '@memhp/events';
import { TAPE, TapeEncoder } from '../src/node/tape.js';
import { tapeFormatter } from '../src/node/tape-format.js';
import { formatUint } from '../src/digits.js';
import { Box, driftingRecords, jsonScalars } from './helpers.js';

/**
 * The plain writer's default path: this thread copies values into tape words (TapeEncoder), the writer thread
 * formats them (tapeFormatter). Here both halves run in-process, and the bytes must be exactly
 * `serializeEvent(e) + '\n'` — the same bytes EventEncoder and the reader's own round trip rely on.
 */
function format(enc: TapeEncoder, outBytes = 1 << 16): string {
  const f = tapeFormatter(TAPE, outBytes, formatUint);
  const chunks: Buffer[] = [];
  f.frame(enc.bytes().slice(), (c) => {
    // Whole lines only: a torn write can tear at most the line being written.
    expect(c[c.length - 1]).toBe(0x0a);
    chunks.push(Buffer.from(c));
    return c.length;
  });
  expect(f.pending().length).toBe(0);
  return Buffer.concat(chunks).toString('utf8');
}

const expected = (evs: readonly EventEnvelope[]) => evs.map((e) => `${serializeEvent(e)}\n`).join('');
const ev = (seq: number, type: string, payload: unknown, extra: Partial<EventEnvelope> = {}): EventEnvelope => ({
  seq,
  time: seq * 1000,
  op: 1,
  cause: null,
  type,
  v: 1,
  payload,
  ...extra,
});

const scalar = fc.oneof(
  ...jsonScalars,
  fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);

const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.record({ id: tie('value'), start: scalar, end: scalar }),
    fc.record({ start: scalar, id: tie('value') }),
    fc.dictionary(fc.string({ maxLength: 3 }), tie('value'), { maxKeys: 3 }),
    fc.tuple(fc.integer(), fc.string()).map(([a, b]) => new Box(a, b)),
    fc.integer().map((n) => ({ id: n, toJSON: () => ({ replaced: n }) })),
    fc.constant({ toJSON: () => undefined }),
  ),
}));

const payload = fc.oneof(
  ...driftingRecords(value),
  fc.record({ range: fc.record({ startBytes: scalar, sizeBytes: scalar }), flags: fc.array(fc.constantFrom('a', 'b', 'memmap_on_memory')) }),
  fc.record({}),
  value,
);

describe('event tape (TapeEncoder → tapeFormatter)', () => {
  it('property: any payloads, in drifting shapes, nested, format exactly as serializeEvent (small output buffer)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a.x', 'b.y', 'c"q'), payload, fc.option(fc.nat(), { nil: null })), { minLength: 1, maxLength: 40 }),
        fc.constantFrom(16, 1 << 10, 1 << 16),
        (steps, outBytes) => {
          const enc = new TapeEncoder(64);
          const evs = steps.map(([type, p, cause], i) => ev(i + 1, type, p, { cause, time: i * 4_000_000_000 }));
          for (const e of evs) enc.encode(e);
          expect(format(enc, outBytes)).toBe(expected(evs));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('property: any envelopes — seq that follows or jumps, time deltas small, huge, negative or fractional, op and cause repeated or not, any v — format exactly, across frames', () => {
    const same = fc.constant('same' as const);
    // Finite: serializeEvent writes envelope numbers with String(), which JSON.stringify (the tape's doubles)
    // matches for every finite number; NaN or an infinity is no event's seq, time, op, cause or v (the bus
    // rejects them). Time steps stay within ±1e300 so that their sum does too.
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
    const num = fc.oneof(fc.nat(), fc.integer(), finite, fc.constant(2 ** 53 + 2), fc.constant(-0));
    const step = fc.record({
      seq: fc.oneof(fc.constant(1), fc.constant(1), fc.integer({ min: -3, max: 5 }), fc.constant(2 ** 31)),
      time: fc.oneof(fc.constant(1000), fc.nat(), fc.integer({ min: -5, max: 5 }), fc.constant(2 ** 31), fc.constant(2 ** 53), fc.double({ noNaN: true, min: -1e300, max: 1e300 })),
      op: fc.oneof(same, same, num),
      cause: fc.oneof(same, same, fc.constant(null), num),
      v: fc.oneof(fc.constant(1), fc.constant(1), num),
      frameEnds: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const f = tapeFormatter(TAPE, 1 << 10, formatUint);
        const enc = new TapeEncoder(64);
        let out = '';
        const sink = (c: Uint8Array) => {
          out += Buffer.from(c).toString('utf8');
          return c.length;
        };
        const evs: EventEnvelope[] = [];
        let seq = 0;
        let time = 0;
        let op = 0;
        let cause: number | null = null;
        for (const [i, st] of steps.entries()) {
          seq += st.seq;
          time += st.time;
          if (st.op !== 'same') op = st.op;
          if (st.cause !== 'same') cause = st.cause;
          const e = ev(seq, i % 3 === 0 ? 'a.x' : 'b.y', { i }, { time, op, cause, v: st.v });
          evs.push(e);
          enc.encode(e);
          if (st.frameEnds) {
            f.frame(enc.bytes().slice(), sink);
            enc.reset();
          }
        }
        f.frame(enc.bytes().slice(), sink);
        expect(out).toBe(expected(evs));
      }),
      { numRuns: 400 },
    );
  });

  it('an event that throws leaves the next one to follow the last that was written: seq, time, op and cause', () => {
    const enc = new TapeEncoder(64);
    const a = ev(1, 'a.x', { n: 1 }, { op: 7, cause: 3 });
    const bad = ev(2, 'a.x', { n: 2n }, { op: 8, cause: 4, time: 99_000 });
    const c = ev(3, 'a.x', { n: 3 }, { op: 8, cause: 4 });
    enc.encode(a);
    expect(() => enc.encode(bad)).toThrow(TypeError);
    enc.encode(c);
    expect(format(enc)).toBe(expected([a, c]));
  });

  it('property: a sink that takes whole 4 KiB blocks only (direct I/O) gets every byte once, in order, with the rest pending', () => {
    fc.assert(
      fc.property(fc.array(fc.array(payload, { maxLength: 30 }), { minLength: 1, maxLength: 6 }), fc.constantFrom(16, 5000, 1 << 16), (frames, outBytes) => {
        const f = tapeFormatter(TAPE, outBytes, formatUint);
        const taken: Buffer[] = [];
        const sink = (c: Uint8Array) => {
          const n = c.length - (c.length % 4096);
          taken.push(Buffer.from(c.subarray(0, n)));
          return n;
        };
        const enc = new TapeEncoder(64);
        const evs: EventEnvelope[] = [];
        f.raw(new TextEncoder().encode('{"header":1}\n'), sink);
        for (const payloads of frames) {
          enc.reset();
          for (const p of payloads) {
            const e = ev(evs.length + 1, 'a.x', p);
            evs.push(e);
            enc.encode(e);
          }
          f.frame(enc.bytes().slice(), sink);
          expect(Buffer.concat(taken).length % 4096).toBe(0);
          expect(f.pending().length).toBeLessThan(4096 + 1 + Math.max(0, ...evs.map((e) => serializeEvent(e).length)));
        }
        expect(Buffer.concat([...taken, Buffer.from(f.pending())]).toString('utf8')).toBe(`{"header":1}\n${expected(evs)}`);
      }),
      { numRuns: 150 },
    );
  });

  it('learns at most 8 shapes per place in a payload and writes the rest through the generic walk, still exactly', () => {
    const enc = new TapeEncoder();
    const evs = Array.from({ length: 40 }, (_, i) => ev(i + 1, 'many.shapes', { [`k${i % 20}`]: i, inner: { [`j${i}`]: [i, { x: i }] } }));
    for (const e of evs) enc.encode(e);
    expect(format(enc)).toBe(expected(evs));
  });

  it('writes an object with the keys of the shape last seen in its place through JSON.stringify when it is not a plain object', () => {
    // Only the class's toJSON (on its prototype, not enumerable) tells it apart from { id } in a for-in walk.
    class Stamp {
      constructor(readonly id: number) {}
      toJSON(): unknown {
        return { stamped: this.id };
      }
    }
    class Plain {
      constructor(readonly id: number) {}
    }
    const enc = new TapeEncoder();
    const evs = [
      ev(1, 'a.x', { id: 1 }),
      ev(2, 'a.x', new Stamp(2)),
      ev(3, 'a.x', { id: 3 }),
      ev(4, 'a.x', { inner: { id: 4 } }),
      ev(5, 'a.x', { inner: new Stamp(5) }),
      ev(6, 'a.x', new Plain(6)),
      ev(7, 'a.x', { id: 7, more: true }),
      ev(8, 'a.x', { id: 8 }),
    ];
    for (const e of evs) enc.encode(e);
    expect(format(enc)).toBe(expected(evs));
  });

  it('writes long, non-ASCII and lone-surrogate strings, and a payload far larger than the buffers, exactly', () => {
    const enc = new TapeEncoder(16);
    const long = 'x'.repeat(100_000);
    const evs = [
      ev(1, 'big', { text: long, u: 'žluťoučký kůň 🐴', lone: '\ud800', quote: '"\\\n' }),
      ev(2, 'big', { text: `${long}é`, u: '', lone: '\udfff', quote: '' }),
      ev(3, 'big', Array.from({ length: 5000 }, (_, i) => ({ i, hex: `0x${i.toString(16)}` }))),
      ev(4, 'wide', Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key${i}`, i]))),
    ];
    for (const e of evs) enc.encode(e);
    expect(format(enc, 16)).toBe(expected(evs));
  });

  it('writes numbers as JSON.stringify does: int32, beyond int32, unsafe, fractional, negative zero, NaN', () => {
    const enc = new TapeEncoder();
    const nums = [0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53 - 1, -(2 ** 53), 2 ** 60, 1.5, -0, Number.NaN, Infinity, 1e21, 5e-324];
    const evs = [ev(1, 'n', { nums, one: 17168334849 }, { time: 26_214_400_000_000 })];
    for (const e of evs) enc.encode(e);
    expect(format(enc)).toBe(expected(evs));
  });

  it('keeps nothing of an event holding a bigint, and the definitions it would have carried are made again later', () => {
    const enc = new TapeEncoder();
    enc.encode(ev(1, 'a.x', { id: 1 }));
    const before = enc.n;
    expect(() => enc.encode(ev(2, 'fresh.type', { nested: { shape: 1, n: 2n } }))).toThrow(TypeError);
    expect(enc.n).toBe(before);
    const evs = [ev(1, 'a.x', { id: 1 }), ev(2, 'fresh.type', { nested: { shape: 1, n: 2 } })];
    enc.encode(evs[1]!);
    expect(format(enc)).toBe(expected(evs));
  });

  it('cannot be made to run code by a key or a type name', () => {
    const enc = new TapeEncoder();
    const evil = { '"]; globalThis.pwned = 1; //': 1, "'); globalThis.pwned = 1; ('": 2, '`${globalThis.pwned = 1}`': 3 };
    const evs = [ev(1, '"; globalThis.pwned = 1; "', evil), ev(2, 'x', { a: evil })];
    for (const e of evs) enc.encode(e);
    expect(format(enc)).toBe(expected(evs));
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
  });

  it('names the word where a corrupt tape stops making sense', () => {
    const enc = new TapeEncoder();
    enc.encode(ev(1, 'a.x', { id: 1 }));
    const tape = () => new Int32Array(enc.bytes().slice().buffer);
    // [DEF_TYPE, id, len 3, "a.", "x"] then the event: [typeId | flags, words, ~time (1000 after the start's 0), …].
    const badTag = tape();
    expect(badTag[7]).toBe(~1000);
    badTag[7] = 99;
    expect(() => tapeFormatter(TAPE, 1024, formatUint).frame(new Uint8Array(badTag.buffer), () => 0)).toThrow('tape: unknown value tag 99 at word 7');
    const badType = tape();
    badType[5] = 42;
    expect(() => tapeFormatter(TAPE, 1024, formatUint).frame(new Uint8Array(badType.buffer), () => 0)).toThrow('tape: event at word 5 has type id 42, never defined');
  });
});
