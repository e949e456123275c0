import { join } from 'node:path';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readLogStream, replay, serializeEvent, serializeHeader, type EventEnvelope, type LogHeader } from '@memhp/events';
import {
  buildCheckpoints,
  buildLogIndex,
  indexEntryFor,
  loadLogIndex,
  openLogReader,
  openLogWriter,
  readEventsAt,
  stateAt,
  writeLogIndex,
} from '@memhp/events/node';
import { sampleEvents, testCatalogue, testHeader } from './helpers.js';
import { tempDir } from './tmp.js';

/** A toy state: present sections and a running digest of every event folded. */
interface Toy {
  kernel: string;
  sections: number;
  digest: number;
  last: number;
}
const initial = (h: LogHeader): Toy => ({ kernel: h.kernel, sections: 0, digest: 0, last: 0 });
const evolve = (s: Toy, e: EventEnvelope): Toy => ({
  kernel: s.kernel,
  sections: s.sections + (e.type === 'section.add' ? 1 : 0),
  digest: (Math.imul(s.digest, 31) + e.seq * 7 + e.op) | 0,
  last: e.seq,
});
const foldAll = (evs: EventEnvelope[], n = evs.length) => evs.slice(0, n).reduce(evolve, initial(testHeader()));

const dir = tempDir();
const N = 5000;
const evs = sampleEvents(N);
const plain = join(dir, 'replay.ndjson');
const gz = join(dir, 'replay.ndjson.gz');

/**
 * A copy of the plain log whose event lines for seqs in [from, to] are overwritten with garbage of the same length,
 * so byte offsets stay valid: a reader that reads those lines fails on the first one ("the line is not JSON").
 */
function damagedCopy(name: string, from: number, to: number): string {
  const p = join(dir, name);
  const lines = readFileSync(plain, 'utf8').split('\n');
  // line 1 is the header; event seq k is on line k + 1 (index k)
  for (let k = from; k <= to && k < lines.length; k++) lines[k] = '#'.repeat(lines[k]!.length);
  writeFileSync(p, lines.join('\n'));
  return p;
}

async function write(path: string): Promise<void> {
  const w = openLogWriter(path, testHeader(), { batchEvents: 256 });
  for (const e of evs) w.write(e);
  await w.close();
}

describe('replay', () => {
  it('folds a whole log (plain and gzip) into the same state as folding the events in memory', async () => {
    await write(plain);
    await write(gz);
    for (const p of [plain, gz]) {
      const r = await replay(openLogReader(p, { catalogue: testCatalogue() }), { initial, evolve });
      expect(r.lastSeq).toBe(N);
      expect(r.state).toEqual(foldAll(evs));
      expect(r.header.kernel).toBe('6.1');
    }
  });

  it('stops after event N with until, without reading the rest', async () => {
    const r = await replay(openLogReader(plain, { catalogue: testCatalogue() }), { initial, evolve, until: 1234 });
    expect(r.lastSeq).toBe(1234);
    expect(r.state).toEqual(foldAll(evs, 1234));
    // every line after event 1234 is garbage: a replay that read on would fail on line 1236
    const rest = damagedCopy('rest-damaged.ndjson', 1235, N);
    await expect(replay(openLogReader(rest, { catalogue: testCatalogue() }), { initial, evolve })).rejects.toThrow(/^rest-damaged\.ndjson:1236: the line is not JSON/);
    const r2 = await replay(openLogReader(rest, { catalogue: testCatalogue() }), { initial, evolve, until: 1234 });
    expect(r2.lastSeq).toBe(1234);
    expect(r2.state).toEqual(foldAll(evs, 1234));
  });

  it('delivers every event before a bad line, so state before the damage is still reachable', async () => {
    const p = join(dir, 'damaged.ndjson');
    const lines = [serializeHeader(testHeader()), ...evs.slice(0, 50).map(serializeEvent)];
    lines[31] = '{"seq":31,"oops"'; // event 31 is damaged; 1..30 are fine and share its chunk
    writeFileSync(p, lines.join('\n') + '\n');
    const r = await replay(openLogReader(p, { catalogue: testCatalogue() }), { initial, evolve, until: 30 });
    expect(r.state).toEqual(foldAll(evs, 30));
    const seen: number[] = [];
    await expect(async () => {
      for await (const e of openLogReader(p, { catalogue: testCatalogue() }).events()) seen.push(e.seq);
    }).rejects.toThrow(/^damaged\.ndjson:32: the line is not JSON/);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('reports lastSeq short of until when the log ends first', async () => {
    const r = await replay(openLogReader(plain, { catalogue: testCatalogue() }), { initial, evolve, until: N + 10 });
    expect(r.lastSeq).toBe(N);
  });

  it('calls onSnapshot every snapshotEvery events with the state at that point', async () => {
    const snaps: Array<[number, Toy]> = [];
    await replay(openLogReader(plain, { catalogue: testCatalogue() }), {
      initial,
      evolve,
      snapshotEvery: 1000,
      onSnapshot: (seq, s) => snaps.push([seq, s]),
    });
    expect(snaps.map(([s]) => s)).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(snaps[2]![1]).toEqual(foldAll(evs, 3000));
  });

  it('replays a LogReader implemented elsewhere (events() only, no batches())', async () => {
    const { Observable } = await import('rxjs');
    const minimal = {
      header: async () => testHeader(),
      events: async function* () {
        yield* evs.slice(0, 10);
      },
      observable: () => new Observable<EventEnvelope>(),
    };
    const r = await replay(minimal, { initial, evolve, until: 7 });
    expect(r.lastSeq).toBe(7);
    expect(r.state).toEqual(foldAll(evs, 7));
  });

  it('replays from a browser-style ReadableStream too', async () => {
    const text = [serializeHeader(testHeader()), ...evs.slice(0, 100).map(serializeEvent)].join('\n') + '\n';
    const bytes = new TextEncoder().encode(text);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 777) c.enqueue(bytes.subarray(i, i + 777));
        c.close();
      },
    });
    const r = await replay(readLogStream(stream, { file: 'web.ndjson', catalogue: testCatalogue() }), { initial, evolve });
    expect(r.state).toEqual(foldAll(evs, 100));
  });

  it('replays a gzip log in the browser way: a ReadableStream through DecompressionStream', async () => {
    const { gzipSync } = await import('node:zlib');
    const text = [serializeHeader(testHeader()), ...evs.slice(0, 500).map(serializeEvent)].join('\n') + '\n';
    const body = new Blob([gzipSync(Buffer.from(text))]).stream().pipeThrough(new DecompressionStream('gzip'));
    const r = await replay(readLogStream(body, { file: 'web.ndjson.gz', catalogue: testCatalogue() }), { initial, evolve });
    expect(r.state).toEqual(foldAll(evs, 500));
  });

  it('emits the same events through observable() as through events()', async () => {
    const { toArray, lastValueFrom } = await import('rxjs');
    const got = await lastValueFrom(openLogReader(plain, { catalogue: testCatalogue() }).observable().pipe(toArray()));
    expect(got).toEqual(evs);
  });

  it('property: any chunking of the bytes yields the same events', async () => {
    const text = new TextEncoder().encode([serializeHeader(testHeader()), ...evs.slice(0, 60).map(serializeEvent)].join('\n') + '\n');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 50 }), async (sizes) => {
        const chunks: Uint8Array[] = [];
        for (let i = 0, k = 0; i < text.length; k++) {
          const n = sizes[k % sizes.length]!;
          chunks.push(text.slice(i, i + n));
          i += n;
        }
        const reader = readLogStream(
          (async function* () {
            yield* chunks;
          })(),
          { file: 'chunks.ndjson', catalogue: testCatalogue() },
        );
        const got: EventEnvelope[] = [];
        for await (const e of reader.events()) got.push(e);
        expect(got).toEqual(evs.slice(0, 60));
      }),
      { numRuns: 60 },
    );
  }, 30_000);
});

describe('byte-offset index and checkpoints', () => {
  it('indexes every Nth event line by byte offset and finds the entry for a seq', async () => {
    const idx = await buildLogIndex(plain, { every: 1000 });
    expect(idx.lastSeq).toBe(N);
    expect(idx.entries.map((e) => e.seq)).toEqual([1, 1001, 2001, 3001, 4001]);
    expect(idx.entries[1]).toMatchObject({ seq: 1001, line: 1002 });
    expect(indexEntryFor(idx, 2500)?.seq).toBe(2001);
    expect(indexEntryFor(idx, 1)?.seq).toBe(1);
  });

  it('reads events at a seq by seeking, not from the top', async () => {
    const idx = await buildLogIndex(plain, { every: 500 });
    // events 1..3500 (before the index entry for 3777, seq 3501) are garbage: only a reader that seeks gets past them
    const seekOnly = damagedCopy('seek-only.ndjson', 1, 3500);
    await expect(readEventsAt(seekOnly, { ...idx, entries: [] }, 3777, 3, { catalogue: testCatalogue() })).rejects.toThrow(/^seek-only\.ndjson:2: the line is not JSON/);
    const got = await readEventsAt(seekOnly, idx, 3777, 3, { catalogue: testCatalogue() });
    expect(got).toEqual(evs.slice(3776, 3779));
    const { take, toArray, lastValueFrom } = await import('rxjs');
    const resumed = openLogReader(seekOnly, { catalogue: testCatalogue(), from: indexEntryFor(idx, 3777)! });
    expect((await resumed.header()).kernel).toBe('6.1');
    expect(await lastValueFrom(resumed.observable().pipe(take(2), toArray()))).toEqual(evs.slice(3500, 3502));
  });

  it('stores the index beside the log and ignores it once the log changed', async () => {
    const p = join(dir, 'stored.ndjson');
    await (async () => {
      const w = openLogWriter(p, testHeader());
      for (const e of evs.slice(0, 100)) w.write(e);
      await w.close();
    })();
    const idx = await buildLogIndex(p, { every: 10 });
    await writeLogIndex(p, idx);
    expect(await loadLogIndex(p)).toEqual(idx);
    utimesSync(p, new Date(), new Date(Date.now() + 5000));
    expect(await loadLogIndex(p)).toBeNull();
    writeFileSync(`${p}.idx.json`, '{"format":"memhp-log-index","__proto__":{}}');
    expect(await loadLogIndex(p)).toBeNull();
  });

  it('property: stateAt(n) with checkpoints equals a full replay until n', async () => {
    const cps = await buildCheckpoints(plain, { catalogue: testCatalogue(), initial, evolve, every: 700 });
    expect(cps.snapshots.map((s) => s.seq)).toEqual([700, 1400, 2100, 2800, 3500, 4200, 4900]);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: N }), async (n) => {
        const r = await stateAt(plain, n, { catalogue: testCatalogue(), initial, evolve, checkpoints: cps });
        expect(r.lastSeq).toBe(n);
        expect(r.state).toEqual(foldAll(evs, n));
      }),
      { numRuns: 25 },
    );
  }, 30_000);

  it('detects a log that contradicts its index (seq not on line seq+1) when resuming', async () => {
    const p = join(dir, 'liar.ndjson');
    const lines = [serializeHeader(testHeader()), ...evs.slice(0, 50).map(serializeEvent)];
    lines.splice(5, 1); // seq 5 missing: every later event sits one line early
    writeFileSync(p, lines.join('\n') + '\n');
    const idx = await buildLogIndex(p, { every: 10 });
    const reader = openLogReader(p, { catalogue: testCatalogue(), from: indexEntryFor(idx, 25)! });
    await expect(async () => {
      for await (const _ of reader.events()) void _;
    }).rejects.toThrow('liar.ndjson:22: field seq: expected seq 21, found 22 (event 21 missing)');
  });

  it('refuses to build a byte index of a gzip log', async () => {
    await expect(buildLogIndex(gz)).rejects.toThrow('replay.ndjson.gz:1: byte offsets need an uncompressed .ndjson log');
  });
});
