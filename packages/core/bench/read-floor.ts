/**
 * The scale bench's `read` mode: the least any recorder on the simulating thread has to do. Whatever it writes
 * (tape words, JSON, a binary format), a recorder must look at every field of every payload and at every
 * character of every string it cannot name by identity. This subscriber does exactly that and writes nothing: it
 * folds the values into a checksum.
 *
 * It reads as fast as a reader can in JavaScript. Each event type gets its own reader, compiled from the type's
 * TypeBox schema, so every property load sees one shape. A value whose schema is a union of string literals (a
 * zone, a source, a level) counts by its length only, as an encoder could name it by comparing identities. A hex
 * address, an errno or a free-form string is read character by character. Anything the schema leaves open
 * (`Unknown`, records, arrays, nested objects) goes through the generic walk.
 *
 * Its ratio over the run with no subscriber bounds every recorder's ratio from below, on this thread.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import type { EventBus, EventCatalogue, EventEnvelope } from '@memhp/events';

/** Every number, boolean and string character of a JSON value, folded into an int32 (the generic walk). */
function walk(v: unknown): number {
  if (typeof v === 'number') return v | 0;
  if (typeof v === 'string') {
    let h = 0;
    for (let i = 0; i < v.length; i++) h = (h + v.charCodeAt(i)) | 0;
    return h;
  }
  if (typeof v !== 'object' || v === null) return v === true ? 1 : 0;
  let h = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) h = (h + walk(v[i])) | 0;
    return h;
  }
  for (const k in v) h = (h + walk((v as Record<string, unknown>)[k])) | 0;
  return h;
}

export type Reader = (p: unknown) => number;

/** The statement that folds the value `v` of a field whose schema is `s` into `h`. */
function fieldCode(s: TSchema): string {
  const kind = s[Kind] as string;
  if (kind === 'Integer' || kind === 'Number') return `h = (h + (typeof v === 'number' ? v | 0 : walk(v))) | 0;`;
  if (kind === 'Boolean') return `h = (h + (v === true ? 1 : 0)) | 0;`;
  if (kind === 'String') {
    return `if (typeof v === 'string') { for (let i = 0; i < v.length; i++) h = (h + v.charCodeAt(i)) | 0; } else h = (h + walk(v)) | 0;`;
  }
  const anyOf = (s as { anyOf?: TSchema[] }).anyOf;
  if (kind === 'Union' && anyOf !== undefined && anyOf.every((m) => m[Kind] === 'Literal' && typeof m.const === 'string')) {
    return `h = (h + (typeof v === 'string' ? v.length : walk(v))) | 0;`;
  }
  return `h = (h + walk(v)) | 0;`;
}

/** A reader for payloads of one schema: straight-line property loads for an object schema, else the walk. */
function compile(schema: TSchema): Reader {
  const props = (schema as { properties?: Record<string, TSchema> }).properties;
  if (schema[Kind] !== 'Object' || props === undefined) return walk;
  const body = Object.entries(props).map(([key, s]) => `v = p[${JSON.stringify(key)}];\n${fieldCode(s)}`);
  const source = `return function read(p) {\nlet h = 0;\nlet v;\n${body.join('\n')}\nreturn h;\n};`;
  return new Function('walk', source)(walk) as Reader;
}

/** One compiled payload reader per type of `catalogue` (its latest version); types it lacks get the walk. */
export function payloadReaders(catalogue: EventCatalogue): (type: string) => Reader {
  const readers = new Map<string, Reader>();
  for (const def of catalogue.list()) readers.set(def.type, compile(def.schema));
  return (type) => readers.get(type) ?? walk;
}

/**
 * Subscribe the read-only recorder to `bus`. Returns the checksum so far, so the work cannot be optimised away.
 */
export function attachReadFloor(bus: EventBus, catalogue: EventCatalogue): () => number {
  const readerOf = payloadReaders(catalogue);
  let h = 0;
  bus.on('read-floor', (e: EventEnvelope) => {
    h = (h + e.seq + e.time + e.op + (e.cause ?? 0) + e.v + readerOf(e.type)(e.payload)) | 0;
  });
  return () => h;
}
