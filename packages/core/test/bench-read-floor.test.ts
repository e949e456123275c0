/**
 * The scale bench's read floor (bench/read-floor.ts) claims to read every payload field of every event, and every
 * character of every string that is not a schema literal. Its figure bounds any recorder's cost only if that is
 * true, so this checks it on real events: changing any one field of a payload must change what the reader folds.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import { EventBus, type EventEnvelope } from '@memhp/events';
import { describe, expect, it } from 'vitest';
import { payloadReaders } from '../bench/read-floor.js';
import { GiB, MiB, small } from './support/machines.js';
import { sim } from './support/raw.js';

/** Boot, then one block's whole cycle with memmap_on_memory: add, online movable, offline, remove. */
function cycleEvents() {
  const bus = new EventBus({ freeze: false });
  const events: EventEnvelope[] = [];
  bus.on('collect', (e) => events.push(e));
  const s = sim(small(4, '6.18', 'memory_hotplug.memmap_on_memory=1'), { bus });
  const range = { startBytes: 8n * GiB, sizeBytes: 128n * MiB };
  const block = Number(range.startBytes / (128n * MiB));
  expect(s.exec({ kind: 'add_memory', node: 0, range, flags: ['memmap_on_memory'] }).ok).toBe(true);
  expect(s.exec({ kind: 'block_state', block, state: 'online_movable' }).ok).toBe(true);
  expect(s.exec({ kind: 'block_state', block, state: 'offline' }).ok).toBe(true);
  expect(s.exec({ kind: 'remove_memory', range }).ok).toBe(true);
  return { events, readerOf: payloadReaders(s.catalogue), catalogue: s.catalogue };
}

/** Whether a field's schema is a union of string literals (which the reader may tell apart by length alone). */
function isLiteralUnion(s: TSchema | undefined): boolean {
  const anyOf = (s as { anyOf?: TSchema[] } | undefined)?.anyOf;
  return anyOf !== undefined && anyOf.every((m) => m[Kind] === 'Literal' && typeof m.const === 'string');
}

/**
 * The same value, different in what a reader must see: a number, a boolean, null; a literal's length; any other
 * string's last character, at the same length (so reading lengths alone would not do).
 */
function changed(v: unknown, literal: boolean): unknown {
  if (typeof v === 'number') return v + 1;
  if (typeof v === 'boolean') return !v;
  if (v === null) return 1;
  if (typeof v === 'string') {
    if (literal || v.length === 0) return v + 'x';
    return v.slice(0, -1) + String.fromCharCode(v.charCodeAt(v.length - 1) ^ 1);
  }
  return { changed: 12345 };
}

describe('bench read floor', () => {
  it('reads every field of every payload a block cycle emits', () => {
    const { events, readerOf, catalogue } = cycleEvents();
    const types = new Set(events.map((e) => e.type));
    // The cycle covers the scale run's event types (53 events a block; apps/docs/kernel/hotplug.md#hotplug to apps/docs/kernel/memmap-on-memory.md#memmap-on-memory step order).
    expect(types.size).toBeGreaterThanOrEqual(30);
    let fields = 0;
    for (const e of events) {
      const read = readerOf(e.type);
      const p = e.payload as Record<string, unknown>;
      const props = (catalogue.get(e.type, e.v)?.schema as { properties?: Record<string, TSchema> } | undefined)?.properties ?? {};
      const base = read(p);
      expect(read({ ...p })).toBe(base);
      for (const k of Object.keys(p)) {
        fields++;
        expect(read({ ...p, [k]: changed(p[k], isLiteralUnion(props[k])) }), `${e.type}.${k}`).not.toBe(base);
      }
    }
    expect(fields).toBeGreaterThan(events.length * 2);
  });
});
