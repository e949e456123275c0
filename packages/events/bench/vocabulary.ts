/**
 * Bench vocabulary: hotplug-shaped events (apps/docs/kernel/index.md#event-model) with realistic field widths, so lines are 150–250
 * bytes as a real `memhp run` log's are. Core owns the real vocabulary; this copy only sizes the work.
 */
import { Type } from '@sinclair/typebox';
import { defineEvent, EventCatalogue, type EventEnvelope, type LogHeader } from '../src/index.js';

const Hex = Type.String({ pattern: '^0x[0-9a-f]+$' });
const Zone = Type.Union([Type.Literal('DMA'), Type.Literal('DMA32'), Type.Literal('Normal'), Type.Literal('Movable')]);

export const benchCatalogue = (): EventCatalogue =>
  new EventCatalogue([
    defineEvent({
      type: 'section.activate',
      version: 1,
      description: 'bench: section_activate over a pfn range',
      schema: Type.Object({
        sectionNr: Type.Integer({ minimum: 0 }),
        startPfn: Type.Integer({ minimum: 0 }),
        nrPages: Type.Integer({ minimum: 1 }),
        nid: Type.Integer({ minimum: 0 }),
        subsectionMapBefore: Hex,
        subsectionMapAfter: Hex,
        phys: Hex,
      }),
    }),
    defineEvent({
      type: 'vmemmap.populate',
      version: 1,
      description: 'bench: vmemmap_populate of a va range',
      schema: Type.Object({
        start: Hex,
        end: Hex,
        granularity: Type.Union([Type.Literal('pmd'), Type.Literal('pte')]),
        source: Type.Union([Type.Literal('altmap'), Type.Literal('buddy'), Type.Literal('boot')]),
        nid: Type.Integer({ minimum: 0 }),
        sectionNr: Type.Integer({ minimum: 0 }),
      }),
    }),
    defineEvent({
      type: 'memory_block.state',
      version: 1,
      description: 'bench: memory block state change',
      schema: Type.Object({
        id: Type.Integer({ minimum: 0 }),
        from: Type.String(),
        to: Type.String(),
        onlineType: Type.String(),
        zone: Zone,
        startPfn: Type.Integer({ minimum: 0 }),
        nrPages: Type.Integer({ minimum: 1 }),
      }),
    }),
    defineEvent({
      type: 'zone.resize',
      version: 1,
      description: 'bench: zone span change',
      schema: Type.Object({
        nid: Type.Integer({ minimum: 0 }),
        zone: Zone,
        zoneStartPfn: Type.Integer({ minimum: 0 }),
        spannedPages: Type.Integer({ minimum: 0 }),
        presentPagesDelta: Type.Integer(),
      }),
    }),
  ]);

export const benchHeader = (): LogHeader => ({
  format: 'memhp-log',
  formatVersion: 1,
  memhpVersion: '0.1.0',
  createdAt: '2026-11-21T00:00:00.000Z',
  kernel: '6.1',
  machine: { arch: 'x86_64', pageBytes: 4096, structPageBytes: 64, sectionSizeBits: 27, memoryBlockBytes: 134217728 },
  params: { memhp_default_state: 'online_movable', memmap_on_memory: 'N' },
  seed: 1,
  events: benchCatalogue()
    .list()
    .map((d) => ({ type: d.type, v: d.version })),
});

const hex = (n: bigint) => `0x${n.toString(16)}`;
const ZONES = ['Normal', 'Movable', 'DMA32'] as const;

/** Payload pool: events reuse payloads round-robin, so generating 5M events costs no more than writing them. */
export function payloadPool(size: number): Array<{ type: string; payload: unknown }> {
  const pool: Array<{ type: string; payload: unknown }> = [];
  for (let i = 0; i < size; i++) {
    const sectionNr = 0x20000 + i; // 16 TiB upwards: pfns past 2^32
    const startPfn = sectionNr * 32768;
    const nid = i & 3;
    switch (i & 3) {
      case 0:
        pool.push({
          type: 'section.activate',
          payload: {
            sectionNr,
            startPfn,
            nrPages: 32768,
            nid,
            subsectionMapBefore: '0x0',
            subsectionMapAfter: '0xffffffffffffffff',
            phys: hex(BigInt(startPfn) << 12n),
          },
        });
        break;
      case 1: {
        const start = 0xffffea0000000000n + BigInt(startPfn) * 64n;
        pool.push({
          type: 'vmemmap.populate',
          payload: { start: hex(start), end: hex(start + 0x200000n), granularity: 'pmd', source: 'buddy', nid, sectionNr },
        });
        break;
      }
      case 2:
        pool.push({
          type: 'memory_block.state',
          payload: { id: sectionNr, from: 'offline', to: 'online', onlineType: 'online_movable', zone: ZONES[i % 3], startPfn, nrPages: 32768 },
        });
        break;
      default:
        pool.push({
          type: 'zone.resize',
          payload: { nid, zone: ZONES[i % 3], zoneStartPfn: 0x100000, spannedPages: startPfn + 32768 - 0x100000, presentPagesDelta: 32768 },
        });
    }
  }
  return pool;
}

export function benchEvent(seq: number, pool: ReadonlyArray<{ type: string; payload: unknown }>): EventEnvelope {
  const p = pool[(seq - 1) % pool.length]!;
  return { seq, time: seq * 1250, op: 1 + Math.floor((seq - 1) / 6), cause: (seq - 1) % 6 === 0 ? null : seq - 1, type: p.type, v: 1, payload: p.payload };
}
