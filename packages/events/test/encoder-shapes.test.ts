import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventEncoder, serializeEvent, type EventEnvelope } from '@memhp/events';
import { Box, driftingRecords, jsonScalars } from './helpers.js';

/**
 * The encoder compiles a payload writer per (type, shape) from the first payloads it sees. These specifications
 * feed one encoder payloads of one type whose shapes drift (key order, missing and extra keys, undefined,
 * functions, toJSON, class instances, non-ASCII, more shapes than it compiles) and require JSON.stringify's bytes.
 */
const decode = (enc: EventEncoder) => new TextDecoder().decode(enc.bytes());

const value = fc.oneof(
  ...jsonScalars,
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 3 }),
);

const payload = fc.oneof(
  ...driftingRecords(value),
  fc.record({}),
  fc.tuple(fc.integer(), fc.string()).map(([a, b]) => new Box(a, b)),
  fc.integer().map((n) => ({ id: n, toJSON: () => ({ replaced: n }) })),
  fc.dictionary(fc.string({ maxLength: 4 }), value, { maxKeys: 5 }),
  value,
);

describe('EventEncoder compiled payload shapes', () => {
  it('property: payloads of one type in drifting shapes encode exactly as serializeEvent', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a.x', 'b.y'), payload), { minLength: 1, maxLength: 40 }), (steps) => {
        const enc = new EventEncoder(16);
        const evs: EventEnvelope[] = steps.map(([type, p], i) => ({ seq: i + 1, time: i * 1000, op: 1, cause: null, type, v: 1, payload: p }));
        for (const e of evs) enc.encode(e);
        expect(decode(enc)).toBe(evs.map((e) => `${serializeEvent(e)}\n`).join(''));
      }),
      { numRuns: 300 },
    );
  });

  it('writes a payload whose shape matches a compiled one but holds undefined as JSON.stringify does (key left out)', () => {
    const enc = new EventEncoder(16);
    const evs: EventEnvelope[] = [
      { seq: 1, time: 0, op: 1, cause: null, type: 'a.x', v: 1, payload: { id: 1, start: '0x0', end: '0x1' } },
      { seq: 2, time: 0, op: 1, cause: null, type: 'a.x', v: 1, payload: { id: 2, start: undefined, end: '0x1' } },
      { seq: 3, time: 0, op: 1, cause: null, type: 'a.x', v: 2, payload: { id: 3, start: '0x2', end: '0x3' } },
    ];
    for (const e of evs) enc.encode(e);
    expect(decode(enc)).toBe(
      '{"seq":1,"time":0,"op":1,"cause":null,"type":"a.x","v":1,"payload":{"id":1,"start":"0x0","end":"0x1"}}\n' +
        '{"seq":2,"time":0,"op":1,"cause":null,"type":"a.x","v":1,"payload":{"id":2,"end":"0x1"}}\n' +
        '{"seq":3,"time":0,"op":1,"cause":null,"type":"a.x","v":2,"payload":{"id":3,"start":"0x2","end":"0x3"}}\n',
    );
  });

  it('leaves nothing half-written when a bigint sits behind a compiled shape', () => {
    const enc = new EventEncoder();
    enc.encode({ seq: 1, time: 0, op: 1, cause: null, type: 'a.x', v: 1, payload: { id: 1, n: 2 } });
    const before = enc.length;
    expect(() => enc.encode({ seq: 2, time: 0, op: 1, cause: null, type: 'a.x', v: 1, payload: { id: 1, n: 2n } })).toThrow(TypeError);
    expect(enc.length).toBe(before);
  });

  it('cannot be made to run code by a key (keys enter the compiled source only as JSON literals)', () => {
    const enc = new EventEncoder();
    const evil = { '"]; globalThis.pwned = 1; //': 1, "'); globalThis.pwned = 1; ('": 2, '`${globalThis.pwned = 1}`': 3 };
    enc.encode({ seq: 1, time: 0, op: 1, cause: null, type: 'a.x', v: 1, payload: evil });
    enc.encode({ seq: 2, time: 0, op: 1, cause: null, type: 'a.x', v: 1, payload: evil });
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
    expect(decode(enc).split('\n')[1]).toBe(serializeEvent({ seq: 2, time: 0, op: 1, cause: null, type: 'a.x', v: 1, payload: evil }));
  });
});
