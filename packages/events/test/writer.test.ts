import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventBus, EventEncoder, serializeEvent, serializeHeader, type EventEnvelope, type LogError } from '@memhp/events';
import { openLogReader, openLogWriter } from '@memhp/events/node';
import { sampleEvents, testCatalogue, testHeader } from './helpers.js';
import { tempDir } from './tmp.js';

const dir = tempDir();

async function readBack(path: string) {
  const warnings: LogError[] = [];
  const reader = openLogReader(path, { catalogue: testCatalogue(), onWarning: (w) => warnings.push(w) });
  const header = await reader.header();
  const events: EventEnvelope[] = [];
  for await (const e of reader.events()) events.push(e);
  return { header, events, warnings };
}

describe('EventEncoder', () => {
  it('writes exactly serializeEvent + newline for the sample vocabulary', () => {
    const enc = new EventEncoder(64); // tiny start: exercises growth
    const evs = sampleEvents(50);
    for (const e of evs) enc.encode(e);
    expect(new TextDecoder().decode(enc.bytes())).toBe(evs.map((e) => `${serializeEvent(e)}\n`).join(''));
  });

  it('property: bytes equal JSON.stringify for any JSON payload (unicode, escapes, nesting, -0, floats)', () => {
    const payload = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.object({ maxDepth: 2 }), fc.string({ unit: 'binary' }), fc.double(), fc.constant(-0));
    fc.assert(
      fc.property(payload, fc.nat(), fc.string({ minLength: 1, maxLength: 20 }), (p, seq, type) => {
        const e: EventEnvelope = { seq: seq + 1, time: seq, op: 3, cause: seq > 0 ? seq : null, type, v: 1, payload: p };
        const enc = new EventEncoder(16);
        enc.encode(e);
        expect(new TextDecoder().decode(enc.bytes())).toBe(`${serializeEvent(e)}\n`);
      }),
      { numRuns: 150 },
    );
  }, 30_000);

  it('property: one encoder across a run (seq/op/cause counting up, repeating, jumping) matches serializeEvent', () => {
    const step = fc.record({
      seq: fc.oneof(fc.constant(1), fc.constant(0), fc.nat({ max: 2 ** 53 - 1 }), fc.constantFrom(9, 99, 999_999, 2 ** 31 - 1, 2 ** 31, 1e8, 999_999_999_999_999, 1e15)),
      op: fc.oneof(fc.constant(0), fc.constant(1), fc.nat()),
      cause: fc.oneof(fc.constant(null), fc.constant(1), fc.nat({ max: 2 ** 53 - 1 })),
      time: fc.oneof(fc.nat({ max: 2 ** 53 - 1 }), fc.integer({ min: -(2 ** 53) + 1, max: 0 })),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const enc = new EventEncoder(32);
        let seq = 0;
        let op = 0;
        let cause: number | null = 0;
        const evs: EventEnvelope[] = [];
        for (const s of steps) {
          // "1" and "0" mean: count up by one / repeat the previous value, the patterns the cache serves.
          seq = s.seq === 1 ? seq + 1 : s.seq === 0 ? seq : s.seq;
          op = s.op === 1 ? op + 1 : s.op === 0 ? op : s.op;
          cause = s.cause === 1 ? (cause ?? 0) + 1 : s.cause;
          const e: EventEnvelope = { seq, time: s.time, op, cause, type: 'note', v: 1, payload: { n: s.time, m: seq } };
          evs.push(e);
          enc.encode(e);
        }
        expect(new TextDecoder().decode(enc.bytes())).toBe(evs.map((e) => `${serializeEvent(e)}\n`).join(''));
      }),
      { numRuns: 300 },
    );
  }, 30_000);

  it('leaves nothing half-written when a payload cannot be serialised (bigint)', () => {
    const enc = new EventEncoder();
    enc.encode(sampleEvents(1)[0]!);
    const before = enc.length;
    expect(() => enc.encode({ seq: 2, time: 0, op: 0, cause: null, type: 'note', v: 1, payload: { n: 1n } })).toThrow(TypeError);
    expect(enc.length).toBe(before);
  });
});

describe('log writer', () => {
  for (const [name, thread] of [
    ['round.ndjson', true],
    ['round-sync.ndjson', false],
    ['round.ndjson.gz', true],
  ] as const) {
    it(`round-trips header and events through ${name}${thread ? '' : ' (thread: false)'}`, async () => {
      const p = join(dir, name);
      const w = openLogWriter(p, testHeader(), { batchEvents: 100, thread });
      const evs = sampleEvents(1234);
      for (const e of evs) w.write(e);
      expect(w.written).toBe(1234);
      await w.close();
      const back = await readBack(p);
      expect(back.header).toEqual(testHeader());
      expect(back.events).toEqual(evs);
      expect(back.warnings).toEqual([]);
      const raw = name.endsWith('.gz') ? gunzipSync(readFileSync(p)).toString() : readFileSync(p, 'utf8');
      expect(raw).toBe([serializeHeader(testHeader()), ...evs.map(serializeEvent)].join('\n') + '\n');
    });
  }

  it('writes every event a bus publishes once attached', async () => {
    const p = join(dir, 'bus.ndjson');
    const w = openLogWriter(p, testHeader());
    const bus = new EventBus();
    w.attach(bus);
    for (let i = 0; i < 10; i++) bus.publish({ time: i, op: 1, cause: null, type: 'note', v: 1, payload: { text: `n${i}` } });
    await w.close();
    const back = await readBack(p);
    expect(back.events.map((e) => (e.payload as { text: string }).text)).toEqual(Array.from({ length: 10 }, (_, i) => `n${i}`));
  });

  it('refuses an event that does not follow the previous seq (it would write a log the reader rejects)', async () => {
    const w = openLogWriter(join(dir, 'gap.ndjson'), testHeader());
    const [a, , c] = sampleEvents(3);
    w.write(a!);
    expect(() => w.write(c!)).toThrow('gap.ndjson: event seq 3 does not follow 1');
    await w.close();
  });

  it('puts each gzip batch on disk as a whole gzip member while the producer never yields', () => {
    const p = join(dir, 'members.ndjson.gz');
    const w = openLogWriter(p, testHeader(), { batchEvents: 64 });
    const evs = sampleEvents(1000);
    for (const e of evs) expect(w.write(e)).toBe(true);
    // No await since the first write: 1000 / 64 = 15 whole batches are on disk and decode (the last 40 wait for close).
    const text = gunzipSync(readFileSync(p)).toString();
    expect(text.split('\n').length - 2).toBe(15 * 64);
    void w.close();
  });

  it('makes the file readable up to the last batch after flush(), before close', async () => {
    const p = join(dir, 'flushed.ndjson.gz');
    const w = openLogWriter(p, testHeader(), { batchEvents: 1_000_000 });
    for (const e of sampleEvents(300)) w.write(e);
    await w.flush();
    await new Promise((r) => setTimeout(r, 50));
    const back = await readBack(p);
    expect(back.events).toHaveLength(300);
    await w.close();
  });
});

describe('a killed writer leaves a valid prefix', () => {
  const child = fileURLToPath(new URL('./fixtures/kill-writer.ts', import.meta.url));
  const root = fileURLToPath(new URL('../../..', import.meta.url));

  for (const [name, mode] of [
    ['killed.ndjson', 'thread'],
    ['killed-sync.ndjson', 'sync'],
    ['killed.ndjson.gz', 'thread'],
    ['killed-noyield.ndjson.gz', 'noyield'],
  ] as const) {
    it(`SIGKILL mid-run: ${name} (${mode}) reads as a contiguous prefix, at most a torn tail`, async () => {
      const p = join(dir, name);
      const proc = spawn(process.execPath, ['--conditions=@memhp/source', '--import', 'tsx', child, p, '64', mode], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      proc.stderr.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<NodeJS.Signals | null>((res) => proc.on('exit', (_c, sig) => res(sig)));
      const target = name.endsWith('.gz') ? 40_000 : 500_000;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        let size = 0;
        try {
          size = statSync(p).size;
        } catch {
          /* not created yet */
        }
        if (size > target) break;
        if (proc.exitCode !== null) break;
      }
      proc.kill('SIGKILL');
      expect(await exited, stderr).toBe('SIGKILL');
      const back = await readBack(p);
      expect(back.events.length).toBeGreaterThan(500);
      expect(back.events.map((e) => e.seq)).toEqual(back.events.map((_, i) => i + 1));
      expect(back.warnings.length).toBeLessThanOrEqual(1);
      for (const w of back.warnings) expect(w.code).toBe('torn-line');
    }, 30_000);
  }
});
