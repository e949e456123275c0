import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Type } from '@sinclair/typebox';
import { defineEvent, EventCatalogue, serializeEvent, serializeHeader, type EventEnvelope, type LogHeader } from '@memhp/events';

/*
 * Test vocabulary. The real hotplug/vmemmap types belong to core; these mimic their shape (apps/docs/kernel/index.md#event-model:
 * section numbers, pfn ranges, hex virtual addresses) so the tests exercise realistic payloads.
 */
const Hex = Type.String({ pattern: '^0x[0-9a-f]+$' });

export const sectionAddV1 = defineEvent({
  type: 'section.add',
  version: 1,
  description: 'a section gained present pages (test vocabulary)',
  schema: Type.Object(
    { sectionNr: Type.Integer({ minimum: 0 }), startPfn: Type.Integer({ minimum: 0 }), nrPages: Type.Integer({ minimum: 1 }) },
    { additionalProperties: false },
  ),
});

/** v2 adds the node id; old logs were single-node, so v1 upcasts with nid 0. */
export const sectionAddV2 = defineEvent({
  type: 'section.add',
  version: 2,
  description: 'a section gained present pages, on a node (test vocabulary)',
  schema: Type.Object(
    {
      sectionNr: Type.Integer({ minimum: 0 }),
      startPfn: Type.Integer({ minimum: 0 }),
      nrPages: Type.Integer({ minimum: 1 }),
      nid: Type.Integer({ minimum: 0 }),
    },
    { additionalProperties: false },
  ),
  upcast: (older) => ({ ...(older as { sectionNr: number; startPfn: number; nrPages: number }), nid: 0 }),
});

export const vmemmapPopulate = defineEvent({
  type: 'vmemmap.populate',
  version: 1,
  description: 'vmemmap range mapped (test vocabulary)',
  schema: Type.Object(
    {
      start: Hex,
      end: Hex,
      granularity: Type.Union([Type.Literal('pmd'), Type.Literal('pte')]),
      source: Type.Union([Type.Literal('altmap'), Type.Literal('buddy'), Type.Literal('boot')]),
      zone: Type.String(),
    },
    { additionalProperties: false },
  ),
});

export const note = defineEvent({
  type: 'note',
  version: 1,
  description: 'free text (test vocabulary)',
  schema: Type.Object({ text: Type.String() }),
});

export function testCatalogue(): EventCatalogue {
  return new EventCatalogue([sectionAddV1, sectionAddV2, vmemmapPopulate, note]);
}

export function testHeader(over: Partial<LogHeader> = {}): LogHeader {
  return {
    format: 'memhp-log',
    formatVersion: 1,
    memhpVersion: '0.1.0',
    createdAt: '2026-11-21T00:00:00.000Z',
    kernel: '6.1',
    machine: { arch: 'x86_64', pageBytes: 4096, structPageBytes: 64, sectionBits: 27 },
    params: { memhp_default_state: 'offline' },
    seed: 42,
    events: [
      { type: 'section.add', v: 2 },
      { type: 'vmemmap.populate', v: 1 },
      { type: 'note', v: 1 },
    ],
    ...over,
  };
}

const ZONES = ['Normal', 'Movable', 'DMA32'] as const;

/** Deterministic event i (1-based seq) in the test vocabulary, ~150–250 bytes a line. */
export function sampleEvent(seq: number): EventEnvelope {
  const sectionNr = 32 + ((seq - 1) >> 1);
  const base = { seq, time: seq * 1000, op: 1 + ((seq - 1) >> 3), cause: seq % 8 === 1 ? null : seq - 1 };
  if (seq % 2 === 1) {
    return { ...base, type: 'section.add', v: 2, payload: { sectionNr, startPfn: sectionNr * 32768, nrPages: 32768, nid: seq & 1 } };
  }
  const start = 0xffffea0000000000n + BigInt(sectionNr) * 0x200000n;
  return {
    ...base,
    type: 'vmemmap.populate',
    v: 1,
    payload: {
      start: `0x${start.toString(16)}`,
      end: `0x${(start + 0x200000n).toString(16)}`,
      granularity: 'pmd',
      source: 'buddy',
      zone: ZONES[seq % 3]!,
    },
  };
}

export function sampleEvents(n: number): EventEnvelope[] {
  return Array.from({ length: n }, (_, i) => sampleEvent(i + 1));
}

/** A log as text lines: header then events (no trailing processing). */
export function logLines(n: number, header: LogHeader = testHeader()): string[] {
  return [serializeHeader(header), ...sampleEvents(n).map(serializeEvent)];
}

/** Write lines to a real file; `.gz` paths are gzipped. Returns the path. */
export function writeLog(dir: string, name: string, text: string | Uint8Array): string {
  const p = join(dir, name);
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  writeFileSync(p, name.endsWith('.gz') ? gzipSync(bytes) : bytes);
  return p;
}

/**
 * Payload building blocks for the encoders' properties (EventEncoder, tape): the values JSON.stringify treats
 * specially (-0, doubles, non-ASCII and lone surrogates, undefined, functions, symbols) beside the plain ones.
 */
export const jsonScalars = [
  fc.integer(),
  fc.double(),
  fc.constant(-0),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.nat().map((h) => `0x${h.toString(16)}`),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant(() => 1),
  fc.constant(Symbol('s')),
] as const;

/** A class instance with an inherited enumerable key: JSON.stringify writes own keys only. */
export class Box {
  constructor(
    public a: number,
    public b: string,
  ) {}
}
Object.defineProperty(Box.prototype, 'inherited', { value: 1, enumerable: true });

/**
 * Payload records of one type whose shapes drift around the same keys (reordered, fewer, one more) plus keys that
 * need escaping: what a compiled shape writer must tell apart.
 */
export const driftingRecords = <V>(value: fc.Arbitrary<V>) =>
  [
    fc.record({ id: value, start: value, end: value }),
    fc.record({ start: value, id: value, end: value }),
    fc.record({ id: value, start: value }),
    fc.record({ id: value, start: value, end: value, extra: value }),
    fc.record({ ключ: value, 'a"b': value, '\\': value }),
  ] as const;
