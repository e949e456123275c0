import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogError, readLogStream, type EventEnvelope } from '@memhp/events';
import { openLogReader } from '@memhp/events/node';
import { logLines, testCatalogue } from './helpers.js';
import { tempDir } from './tmp.js';

const MAX_LINE = 4096;
const base = logLines(40);

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'swap'; i: number; j: number }
  | { kind: 'dup'; i: number }
  | { kind: 'drop'; i: number }
  | { kind: 'inject'; i: number; key: string; nested: boolean }
  | { kind: 'giant'; i: number; bytes: number }
  | { kind: 'insert'; at: number; bytes: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ kind: fc.constant('dup' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('drop' as const), i: fc.nat() }),
  fc.record({
    kind: fc.constant('inject' as const),
    i: fc.nat(),
    key: fc.constantFrom('__proto__', 'constructor', 'prototype', '\\u005f_proto__', 'extra'),
    nested: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('giant' as const), i: fc.nat(), bytes: fc.integer({ min: 1000, max: 40_000 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }) }),
);

/** Apply line-level mutations to the text, then byte-level ones to the bytes. */
function mutate(lines: string[], ms: Mutation[]): Uint8Array {
  const ls = lines.slice();
  for (const m of ms) {
    const i = 'i' in m ? m.i % ls.length : 0;
    if (m.kind === 'swap') [ls[i], ls[m.j % ls.length]] = [ls[m.j % ls.length]!, ls[i]!];
    else if (m.kind === 'dup') ls.splice(i, 0, ls[i]!);
    else if (m.kind === 'drop' && ls.length > 1) ls.splice(i, 1);
    else if (m.kind === 'inject') {
      const inj = `"${m.key}":{"polluted":true},`;
      ls[i] = m.nested ? ls[i]!.replace('"payload":{', `"payload":{${inj}`) : ls[i]!.replace(/^\{/, `{${inj}`);
    } else if (m.kind === 'giant') ls[i] = ls[i]!.replace(/\}$/, `,"pad":"${'x'.repeat(m.bytes)}"}`);
  }
  let bytes = new TextEncoder().encode(ls.join('\n') + '\n');
  for (const m of ms) {
    if (bytes.length === 0) break;
    if (m.kind === 'flip') {
      bytes = bytes.slice();
      bytes[m.at % bytes.length] = bytes[m.at % bytes.length]! ^ (1 << m.bit);
    } else if (m.kind === 'truncate') bytes = bytes.slice(0, m.at % (bytes.length + 1));
    else if (m.kind === 'insert') {
      const at = m.at % (bytes.length + 1);
      bytes = new Uint8Array([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
    }
  }
  return bytes;
}

/** What every successful read must satisfy: contiguous seqs from 1, schema-valid payloads. */
function checkYield(events: EventEnvelope[]): void {
  const cat = testCatalogue();
  events.forEach((e, k) => {
    expect(e.seq).toBe(k + 1);
    expect(cat.check(e.type, e.v, e.payload)).toBeNull();
  });
}

async function consume(run: () => AsyncIterable<EventEnvelope>): Promise<'ok' | LogError> {
  const events: EventEnvelope[] = [];
  try {
    for await (const e of run()) events.push(e);
  } catch (err) {
    if (err instanceof LogError) {
      if (err.code === 'line-too-long') expect(err.detail).toContain(String(MAX_LINE));
      return err;
    }
    throw err; // anything else is a reader bug: fast-check shrinks it
  }
  checkYield(events);
  return 'ok';
}

const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();

describe('fuzz: mutated logs', () => {
  it('the reader yields valid events or throws LogError, in bounded time, for any mutation and chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.boolean(),
        async (ms, chunk, strict) => {
          const bytes = mutate(base, ms);
          const started = performance.now();
          let pulled = 0;
          const outcome = await consume(() =>
            readLogStream(
              (async function* () {
                for (let i = 0; i < bytes.length; i += chunk) {
                  pulled += Math.min(chunk, bytes.length - i);
                  yield bytes.subarray(i, i + chunk);
                }
              })(),
              { file: 'fuzz.ndjson', catalogue: testCatalogue(), maxLineBytes: MAX_LINE, strict, onWarning: () => {} },
            ).events(),
          );
          expect(performance.now() - started).toBeLessThan(2000);
          if (outcome !== 'ok') expect(outcome.message).toMatch(/^fuzz\.ndjson:\d+: /);
          expect(pulled).toBeLessThanOrEqual(bytes.length);
        },
      ),
      { numRuns: 300 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
  }, 60_000);

  const dir = tempDir();

  it('the gzip reader yields valid events or throws LogError for mutated compressed bytes', async () => {
    const gz = gzipSync(Buffer.from(base.join('\n') + '\n'));
    const gzMutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }) }),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(gzMutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        let bytes: Uint8Array = new Uint8Array(gz);
        for (const m of ms) {
          if (m.kind === 'flip') bytes[m.at % bytes.length] = bytes[m.at % bytes.length]! ^ (1 << m.bit);
          else if (m.kind === 'truncate') bytes = bytes.slice(0, m.at % (bytes.length + 1));
          else bytes = new Uint8Array([...bytes.subarray(0, m.at % (bytes.length + 1)), ...m.bytes, ...bytes.subarray(m.at % (bytes.length + 1))]);
          if (bytes.length === 0) break;
        }
        const p = join(dir, `f${n++}.ndjson.gz`);
        writeFileSync(p, bytes);
        const outcome = await consume(() =>
          openLogReader(p, { catalogue: testCatalogue(), maxLineBytes: MAX_LINE, onWarning: () => {} }).events(),
        );
        if (outcome !== 'ok') expect(outcome.message).toMatch(/^f\d+\.ndjson\.gz:\d+: /);
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
