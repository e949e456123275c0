import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { LogError, readLogStream, serializeEvent, serializeHeader, type EventEnvelope } from '@memhp/events';
import { openLogReader } from '@memhp/events/node';
import { logLines, sampleEvent, testCatalogue, testHeader, writeLog } from './helpers.js';
import { tempDir } from './tmp.js';

interface Outcome {
  events: EventEnvelope[];
  warnings: LogError[];
}

async function readAll(path: string, opts: { strict?: boolean; maxLineBytes?: number } = {}): Promise<Outcome> {
  const warnings: LogError[] = [];
  const reader = openLogReader(path, { catalogue: testCatalogue(), onWarning: (w) => warnings.push(w), ...opts });
  const events: EventEnvelope[] = [];
  for await (const e of reader.events()) events.push(e);
  return { events, warnings };
}

/** Read a file that must fail; return the LogError. */
async function failure(path: string, opts: { strict?: boolean; maxLineBytes?: number } = {}): Promise<LogError> {
  try {
    await readAll(path, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(LogError);
    return e as LogError;
  }
  throw new Error(`${path} was read without error`);
}

const dir = tempDir();
const text = (lines: string[], trailingNewline = true) => lines.join('\n') + (trailingNewline ? '\n' : '');
const event = (seq: number, patch: Record<string, unknown> = {}) => JSON.stringify({ ...sampleEvent(seq), ...patch });

describe('reader: located errors on real broken files', () => {
  it('reads a valid log and upcasts section.add v1 to v2 with nid 0', async () => {
    const v1 = { seq: 1, time: 5, op: 1, cause: null, type: 'section.add', v: 1, payload: { sectionNr: 1, startPfn: 32768, nrPages: 32768 } };
    const p = writeLog(dir, 'upcast.ndjson', text([serializeHeader(testHeader()), JSON.stringify(v1), event(2)]));
    const { events, warnings } = await readAll(p);
    expect(warnings).toEqual([]);
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
    expect(events[0]).toMatchObject({ v: 2, payload: { sectionNr: 1, startPfn: 32768, nrPages: 32768, nid: 0 } });
  });

  it('rejects a line that is not JSON, naming file and line', async () => {
    const lines = logLines(3);
    lines[2] = '{"seq":2,"time":2000,oops}';
    const e = await failure(writeLog(dir, 'notjson.ndjson', text(lines)));
    expect(e.code).toBe('not-json');
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/^notjson\.ndjson:3: the line is not JSON \(/);
  });

  it('rejects an empty line in the middle of a log as not JSON', async () => {
    const lines = logLines(3);
    lines.splice(2, 0, '');
    const e = await failure(writeLog(dir, 'blank.ndjson', text(lines)));
    expect(e.message).toMatch(/^blank\.ndjson:3: the line is not JSON/);
  });

  it('rejects an unknown event type at field type', async () => {
    const p = writeLog(dir, 'type.ndjson', text([serializeHeader(testHeader()), event(1), event(2, { type: 'section.explode' })]));
    const e = await failure(p);
    expect(e.code).toBe('unknown-type');
    expect(e.message).toBe('type.ndjson:3: field type: unknown event type "section.explode"');
  });

  it('says a backend module is missing when the header declares the unknown type', async () => {
    const h = testHeader({ events: [...testHeader().events, { type: 'riscv64.pte_alloc', v: 1 }] });
    const p = writeLog(dir, 'riscv.ndjson', text([serializeHeader(h), event(1), event(2, { type: 'riscv64.pte_alloc', payload: { va: '0x1' } })]));
    const e = await failure(p);
    expect(e.code).toBe('unknown-type');
    expect(e.message).toBe(
      'riscv.ndjson:3: field type: unknown event type "riscv64.pte_alloc": the log was recorded with it (see its header), but no loaded module defines it; load the backend or package that registers it',
    );
  });

  it('reads a gzip log whose name lacks .gz (by its magic bytes)', async () => {
    const p = join(dir, 'renamed.ndjson');
    writeFileSync(p, gzipSync(Buffer.from(text(logLines(5)))));
    const { events } = await readAll(p);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('rejects an unknown version of a known type at field v', async () => {
    const p = writeLog(dir, 'version.ndjson', text([serializeHeader(testHeader()), event(1, { v: 3 })]));
    const e = await failure(p);
    expect(e.code).toBe('unknown-version');
    expect(e.message).toBe('version.ndjson:2: field v: unknown version 3 of section.add (this catalogue knows 1, 2)');
  });

  it('rejects a payload that breaks its schema, naming the payload field', async () => {
    const bad = sampleEvent(1);
    const p = writeLog(
      dir,
      'payload.ndjson',
      text([serializeHeader(testHeader()), JSON.stringify({ ...bad, payload: { ...(bad.payload as object), startPfn: '0x8000' } })]),
    );
    const e = await failure(p);
    expect(e.code).toBe('bad-payload');
    expect(e.field).toBe('payload.startPfn');
    expect(e.message).toBe('payload.ndjson:2: field payload.startPfn: expected integer');
  });

  it('rejects a malformed envelope field (seq as a string)', async () => {
    const p = writeLog(dir, 'envelope.ndjson', text([serializeHeader(testHeader()), event(1, { seq: '1' })]));
    const e = await failure(p);
    expect(e.message).toBe('envelope.ndjson:2: field seq: expected a positive integer, got "1"');
  });

  it('rejects a log whose first line is an event: missing header', async () => {
    const e = await failure(writeLog(dir, 'noheader.ndjson', text([event(1), event(2)])));
    expect(e.code).toBe('missing-header');
    expect(e.message).toBe('noheader.ndjson:1: the log starts with an event; the memhp-log header line is missing');
  });

  it('rejects an empty file: missing header', async () => {
    const e = await failure(writeLog(dir, 'empty.ndjson', ''));
    expect(e.code).toBe('missing-header');
    expect(e.message).toBe('empty.ndjson:1: empty log: no memhp-log header line');
  });

  it('rejects a foreign header at field format', async () => {
    const p = writeLog(dir, 'foreign.ndjson', text([JSON.stringify({ format: 'pcap-ng', formatVersion: 1 }), event(1)]));
    const e = await failure(p);
    expect(e.code).toBe('foreign-header');
    expect(e.message).toBe('foreign.ndjson:1: field format: format "pcap-ng" is not "memhp-log"');
  });

  it('rejects a header of a newer format version at field formatVersion', async () => {
    const h = { ...testHeader(), formatVersion: 2 };
    const e = await failure(writeLog(dir, 'future.ndjson', text([JSON.stringify(h), event(1)])));
    expect(e.code).toBe('foreign-header');
    expect(e.message).toBe('future.ndjson:1: field formatVersion: unsupported format version 2 (this reader knows 1)');
  });

  it('rejects a header missing a field, naming it', async () => {
    const { kernel: _k, ...h } = testHeader();
    const e = await failure(writeLog(dir, 'nokernel.ndjson', text([JSON.stringify(h), event(1)])));
    expect(e.code).toBe('bad-header');
    expect(e.message).toBe('nokernel.ndjson:1: field kernel: expected required property');
  });

  it('rejects a sequence gap, saying which events are missing', async () => {
    const lines = logLines(5);
    lines.splice(3, 2); // drop seq 3 and 4
    const e = await failure(writeLog(dir, 'gap.ndjson', text(lines)));
    expect(e.code).toBe('seq-gap');
    expect(e.message).toBe('gap.ndjson:4: field seq: expected seq 3, found 5 (event 3..4 missing)');
  });

  it('rejects a duplicated line as a sequence going back', async () => {
    const lines = logLines(3);
    lines.splice(3, 0, lines[2]!);
    const e = await failure(writeLog(dir, 'dup.ndjson', text(lines)));
    expect(e.code).toBe('seq-order');
    expect(e.message).toBe('dup.ndjson:4: field seq: seq 2 repeats or goes back (expected 3)');
  });

  it('rejects simulated time going backwards', async () => {
    const p = writeLog(dir, 'time.ndjson', text([serializeHeader(testHeader()), event(1), event(2, { time: 1 })]));
    const e = await failure(p);
    expect(e.code).toBe('time-order');
    expect(e.message).toBe('time.ndjson:3: field time: time 1 goes back from 1000');
  });

  it('warns (by default) about a torn last line and yields the valid prefix', async () => {
    const lines = logLines(3);
    const full = text(lines);
    const torn = full + serializeEvent(sampleEvent(4)).slice(0, 25);
    const { events, warnings } = await readAll(writeLog(dir, 'torn.ndjson', torn));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.code).toBe('torn-line');
    expect(warnings[0]!.message).toBe('torn.ndjson:5: the last line is torn (no newline and not complete JSON); ignored');
  });

  it('treats a last line cut inside a multi-byte character as torn, not as bad UTF-8', async () => {
    const full = Buffer.from(text(logLines(2)));
    const last = Buffer.from(JSON.stringify({ ...sampleEvent(3), type: 'note', v: 1, payload: { text: 'vmemmap → PMD' } }));
    const cut = last.subarray(0, last.indexOf(Buffer.from('→')) + 1); // first byte of the 3-byte arrow
    const { events, warnings } = await readAll(writeLog(dir, 'torn-utf8.ndjson', Buffer.concat([full, cut])));
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
    expect(warnings.map((w) => w.message)).toEqual(['torn-utf8.ndjson:4: the last line is torn (no newline and not complete JSON); ignored']);
  });

  it('makes a torn last line an error when strict', async () => {
    const torn = text(logLines(2)) + '{"seq":3,"ti';
    const e = await failure(writeLog(dir, 'torn-strict.ndjson', torn), { strict: true });
    expect(e.code).toBe('torn-line');
    expect(e.message).toMatch(/^torn-strict\.ndjson:4: the last line is torn/);
  });

  it('accepts a complete last line that only lacks its newline', async () => {
    const { events, warnings } = await readAll(writeLog(dir, 'nonl.ndjson', text(logLines(2), false)));
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
    expect(warnings).toEqual([]);
  });

  describe('forbidden keys', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    const cases: Array<[string, string, string]> = [
      ['__proto__ in the payload', event(1, { payload: { __proto__x: 1 } }).replace('"__proto__x"', '"__proto__"'), 'payload.__proto__'],
      ['constructor at the top', event(1).replace('{"seq"', '{"constructor":{"prototype":{"polluted":true}},"seq"'), 'constructor'],
      ['prototype nested in an array', event(1, { payload: { text: 'x', list: [{ a: { prototype: 1 } }] } }), 'payload.list[0].a.prototype'],
      ['an escaped \\u005f_proto__', event(1).replace('{"seq"', '{"\\u005f_proto__":{"polluted":true},"seq"'), '__proto__'],
    ];
    for (const [name, line, field] of cases) {
      it(`rejects ${name} and leaves Object.prototype untouched`, async () => {
        const p = writeLog(dir, 'proto.ndjson', text([serializeHeader(testHeader()), line]));
        const e = await failure(p);
        expect(e.code).toBe('forbidden-key');
        expect(e.message).toBe(`proto.ndjson:2: field ${field}: forbidden key (prototype pollution attempt)`);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
      });
    }

    it('rejects __proto__ in the header', async () => {
      const h = serializeHeader(testHeader()).replace('{"format"', '{"__proto__":{"polluted":1},"format"');
      const e = await failure(writeLog(dir, 'proto-header.ndjson', text([h, event(1)])));
      expect(e.message).toBe('proto-header.ndjson:1: field __proto__: forbidden key (prototype pollution attempt)');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  it('rejects an absurdly long line without reading it to its end', async () => {
    const lines = logLines(3);
    lines[2] = `{"seq":2,"x":"${'a'.repeat(3 << 20)}"}`;
    const e = await failure(writeLog(dir, 'long.ndjson', text(lines)));
    expect(e.code).toBe('line-too-long');
    expect(e.message).toBe('long.ndjson:3: line is longer than 1048576 bytes (maxLineBytes)');
  });

  it('stops an endless line after maxLineBytes (bounded memory, finite time)', async () => {
    let pulled = 0;
    const endless = {
      async *[Symbol.asyncIterator]() {
        yield new TextEncoder().encode(`${serializeHeader(testHeader())}\n{"seq":1,"payload":"`);
        const chunk = new Uint8Array(64 * 1024).fill(0x61);
        for (;;) {
          pulled++;
          yield chunk;
        }
      },
    };
    const reader = readLogStream(endless, { file: 'endless.ndjson', catalogue: testCatalogue(), maxLineBytes: 1 << 20 });
    await expect(async () => {
      for await (const _ of reader.events()) void _;
    }).rejects.toThrow('endless.ndjson:2: line is longer than 1048576 bytes (maxLineBytes)');
    // 1 MiB / 64 KiB = 16 chunks, plus the one that crosses the limit.
    expect(pulled).toBeLessThanOrEqual(17);
  });

  it('rejects a line that is not valid UTF-8', async () => {
    const head = Buffer.from(`${serializeHeader(testHeader())}\n${serializeEvent(sampleEvent(1))}\n`);
    const bad = Buffer.from(`{"seq":2,"note":"\xff\xfe"}\n`, 'latin1');
    const e = await failure(writeLog(dir, 'utf8.ndjson', Buffer.concat([head, bad])));
    expect(e.message).toBe('utf8.ndjson:3: line is not valid UTF-8');
  });

  it('rejects a corrupt gzip stream', async () => {
    const gz = gzipSync(Buffer.from(text(logLines(2000))));
    for (let i = 2000; i < 2100; i++) gz[i] = gz[i]! ^ 0x5a;
    const p = join(dir, 'corrupt.ndjson.gz');
    writeFileSync(p, gz);
    const e = await failure(p);
    expect(e.code).toBe('corrupt-gzip');
    expect(e.message).toMatch(/^corrupt\.ndjson\.gz:\d+: corrupt gzip stream \(/);
  });

  it('rejects a .gz file that is not gzip at all', async () => {
    const p = join(dir, 'plain-named.ndjson.gz');
    writeFileSync(p, Buffer.from(text(logLines(2))));
    const e = await failure(p);
    expect(e.code).toBe('corrupt-gzip');
    expect(e.message).toBe('plain-named.ndjson.gz:1: corrupt gzip stream (incorrect header check)');
  });

  it('treats a truncated gzip stream as a torn tail: warning, valid prefix', async () => {
    const gz = gzipSync(Buffer.from(text(logLines(3000))));
    const p = join(dir, 'cut.ndjson.gz');
    writeFileSync(p, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const { events, warnings } = await readAll(p);
    expect(events.length).toBeGreaterThan(100);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.code).toBe('torn-line');
    expect(warnings[0]!.message).toMatch(/gzip stream truncated/);
    const strict = await failure(p, { strict: true });
    expect(strict.code).toBe('torn-line');
  });

  it('reports a missing file as an io error', async () => {
    const e = await failure(join(dir, 'nope.ndjson'));
    expect(e.code).toBe('io');
    expect(e.message).toMatch(/^nope\.ndjson:1: ENOENT/);
  });

  it('reads what it wrote in a temp file byte for byte (sanity of the fixtures)', () => {
    const p = writeLog(dir, 'same.ndjson', text(logLines(2)));
    expect(readFileSync(p, 'utf8')).toBe(text(logLines(2)));
  });
});
