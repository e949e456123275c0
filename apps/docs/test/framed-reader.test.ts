/**
 * The viewer's framing reader is @memhp/events' reader with offsets: it must give every log the reader's verdict
 * (the same events, or the same located error), whatever the chunking, and the byte offset it gives after each batch
 * must be where the line after the batch's last event starts (or the log's end).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createCoreCatalogue } from '@memhp/core';
import { readLogStream } from '@memhp/events';
import { loadViewerApi, type ViewerApi } from '../viewer/core-adapter.js';
import { FramedLogReader } from '../viewer/framed-reader.js';
import { recordLog } from './memhp-run.js';

const repo = resolve(import.meta.dirname, '../../..');
let log: Uint8Array = new Uint8Array(0);
let api: ViewerApi;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'memhp-framed-'));
  try {
    const out = join(dir, 'cloud.ndjson');
    recordLog(join(repo, 'examples/scenarios/cloud-hot-add-12g.yaml'), out);
    // the first 60 lines: enough for many chunks at the sizes below, small enough for many runs
    const text = readFileSync(out);
    let end = 0;
    for (let i = 0; i < 60; i++) end = text.indexOf(10, end) + 1;
    log = new Uint8Array(text.subarray(0, end));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const a = loadViewerApi();
  if ('missing' in a) throw new Error(`viewer API incomplete: ${a.missing.join(', ')}`);
  api = a;
}, 120_000);

async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes.length ? sizes[i % sizes.length]! : bytes.length;
    // a copy, as a stream hands on fresh chunks
    yield bytes.slice(at, at + n);
    at += n;
  }
}

type Verdict = { events: string; error?: undefined } | { error: string; events: string };

async function byReader(bytes: Uint8Array, sizes: number[]): Promise<Verdict> {
  const events: unknown[] = [];
  try {
    const r = readLogStream(chunked(bytes, sizes), { file: 'x.ndjson', catalogue: createCoreCatalogue() });
    await r.header();
    for await (const b of r.batches()) events.push(...b);
  } catch (e) {
    return { error: (e as Error).message, events: JSON.stringify(events) };
  }
  return { events: JSON.stringify(events) };
}

async function byFramer(bytes: Uint8Array, sizes: number[]): Promise<Verdict> {
  const events: Array<{ seq: number }> = [];
  const f = new FramedLogReader(chunked(bytes, sizes), 'x.ndjson', createCoreCatalogue(), api.events);
  let first: number;
  const ends: Array<{ end: number; seq: number }> = [];
  try {
    await f.header();
    first = f.firstLineOffset;
    for await (const b of f.batches()) {
      events.push(...b.events);
      ends.push({ end: b.end, seq: b.events[b.events.length - 1]!.seq });
    }
  } catch (e) {
    return { error: (e as Error).message, events: JSON.stringify(events) };
  }
  // the first event line starts after the header's newline
  if (bytes.indexOf(10) >= 0) expect(first).toBe(bytes.indexOf(10) + 1);
  // the offset after each batch of a log read whole: the line holding the next event starts there (line seq + 1,
  // counting the header), or the log ends there
  for (const { end, seq } of ends) {
    let lines = 0;
    for (let i = 0; i < end; i++) if (bytes[i] === 10) lines++;
    if (end < bytes.length) {
      expect(bytes[end - 1]).toBe(10);
      expect(lines).toBe(seq + 1);
    } else expect(end).toBe(bytes.length);
  }
  return { events: JSON.stringify(events) };
}

const enc = new TextEncoder();
/** Edits that break or bend a log: bytes cut, newlines added or taken away, JSON punctuation, bad UTF-8, forbidden keys. */
const edit = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('join' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    what: fc.constantFrom('\n', '}', '{', '"', ',', '[', ']', '\\', '\n\n', ' ', '"__proto__":1,', '\\u0041', '},{', '\r'),
  }),
  fc.record({ kind: fc.constant('badUtf8' as const), at: fc.nat() }),
);

function applyEdits(bytes: Uint8Array, edits: Array<{ kind: string; at: number; what?: string }>): Uint8Array {
  let b = bytes;
  for (const e of edits) {
    const at = b.length ? e.at % b.length : 0;
    if (e.kind === 'delete') b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + 1)]);
    else if (e.kind === 'truncate') b = b.slice(0, at);
    else if (e.kind === 'join') {
      const nl = b.indexOf(10, at);
      if (nl >= 0) b = new Uint8Array([...b.subarray(0, nl), 44, ...b.subarray(nl + 1)]);
    } else if (e.kind === 'badUtf8') b = new Uint8Array([...b.subarray(0, at), 0xff, ...b.subarray(at)]);
    else b = new Uint8Array([...b.subarray(0, at), ...enc.encode(e.what!), ...b.subarray(at)]);
  }
  return b;
}

describe('viewer framing reader', () => {
  it('reads an intact log as the reader does, in any chunking, each batch ending where the next line starts', async () => {
    for (const sizes of [[], [4096], [1000, 37, 5000], [1]]) {
      const f = await byFramer(log, sizes);
      expect(f.error).toBeUndefined();
      expect(f.events).toBe((await byReader(log, sizes)).events);
    }
  });

  it('gives any edited log, in any chunking, the reader verdict, and the offsets after its batches (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 4 }), async (edits, sizes) => {
        const bytes = applyEdits(log, edits);
        const want = await byReader(bytes, sizes);
        const got = await byFramer(bytes, sizes);
        expect(got.error).toBe(want.error);
        expect(got.events).toBe(want.events);
      }),
      { numRuns: 200 },
    );
  });
});
