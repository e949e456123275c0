/**
 * Seeks in a gzip log without keeping its text (viewer/gzip-log.ts, MemberIndexer in viewer/gunzip.ts), in Node:
 * a file whose members say their sizes (memhp's writer: a BGZF 'BC' subfield, SAMv1.pdf section 4.1, BSIZE =
 * member size − 1; each member ends with ISIZE, its text's length, RFC 1952 section 2.3.1) is indexed from its
 * headers while the load reads it, and a seek inflates only the members holding the text it reads. Files whose
 * members do not say their sizes (gzip(1)'s) keep their text as before; session.test.ts checks their seeks.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoreCatalogue, evolve, initialStateFromHeader } from '@memhp/core';
import { parseEventLine, parseHeaderLine } from '@memhp/events';
import { MemberIndexer, type MemberIndex } from '../viewer/gunzip.js';
import { openGzipLog } from '../viewer/gzip-log.js';
import { loadViewerApi, type ViewerApi } from '../viewer/core-adapter.js';
import { LogSession } from '../viewer/session.js';
import { counters, type StateLike } from '../viewer/project.js';
import { bcMember, cutPoints } from './bgzf.js';
import { recordLog } from './memhp-run.js';

const repo = resolve(import.meta.dirname, '../../..');
const scenario = join(repo, 'examples/scenarios/cloud-hot-add-12g.yaml');

/** `text` cut at `cuts` into BC members, then `tail` more pieces as members without BC (gzip(1)'s); the truth. */
function sized(text: Buffer, cuts: number[], tail = 0): { file: Buffer; comp: number[]; starts: number[] } {
  const at = cutPoints(text, cuts);
  const parts: Buffer[] = [];
  const comp: number[] = [];
  const starts: number[] = [];
  let off = 0;
  const pieces = Math.max(1, at.length - 1);
  const firstUnsized = tail > 0 ? Math.max(0, pieces - tail) : pieces;
  for (let i = 0; i < pieces; i++) {
    const piece = text.subarray(at[i]!, at[i + 1] ?? text.length);
    const unsized = i >= firstUnsized;
    // the index lists every sized member, and the first unsized one (reading goes on from it)
    if (i <= firstUnsized) {
      comp.push(off);
      starts.push(at[i]!);
    }
    const m = unsized ? gzipSync(piece) : bcMember(piece);
    parts.push(m);
    off += m.length;
  }
  return { file: Buffer.concat(parts), comp, starts };
}

/** MemberIndexer over `file` pushed in chunks of `sizes` (cycled). */
function indexOf(file: Buffer, sizes: number[], textBytes: number): MemberIndex | null {
  const ix = new MemberIndexer();
  for (let at = 0, i = 0; at < file.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]!);
    ix.push(file.subarray(at, at + n));
    at += n;
  }
  return ix.result(file.length, textBytes);
}

/** Where each member of a file of BC members starts (by their BSIZE). */
function memberStarts(file: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o < file.length; o += file.readUInt16LE(o + 16) + 1) out.push(o);
  return out;
}

/** A Blob of `bytes` that notes the byte ranges read from it (slice) and whole reads (stream). */
class WatchedBlob extends Blob {
  slices: Array<[number, number]> = [];
  streams = 0;
  override slice(start = 0, end = this.size, type?: string): Blob {
    this.slices.push([start, Math.min(end, this.size)]);
    return super.slice(start, end, type);
  }
  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.streams++;
    return super.stream();
  }
}

/** The stream's bytes, as a latin1 string (Vitest compares strings fast, big Buffers byte by byte, slowly). */
async function all(s: ReadableStream<Uint8Array>): Promise<string> {
  return Buffer.from(await new Response(s).arrayBuffer()).toString('latin1');
}

describe('MemberIndexer', () => {
  it('finds where every sized member starts, in the file and in its text, from its bytes in any chunks (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.nat({ max: 2 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 4 }),
        (s, cuts, tail, sizes) => {
          const text = Buffer.from(s);
          const f = sized(text, cuts, tail);
          const ix = indexOf(f.file, sizes, text.length);
          expect(ix).not.toBeNull();
          expect([...ix!.comp]).toEqual(f.comp);
          expect([...ix!.text]).toEqual(f.starts);
          expect(ix!.complete).toBe(tail === 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives no index when a size points elsewhere than the next member, or the sizes do not add up', () => {
    const text = Buffer.from('{"a":1}\n'.repeat(500));
    const f = sized(text, [800, 2000, 3000]);
    expect(indexOf(f.file, [7], text.length)).not.toBeNull();
    const off = Buffer.from(f.file);
    off.writeUInt16LE(off.readUInt16LE(16) + 1, 16); // BSIZE of the first member one byte too long
    expect(indexOf(off, [7], text.length)).toBeNull();
    // the text the inflater wrote is not what the ISIZEs add up to, nor the file the sizes cover
    expect(indexOf(f.file, [7], text.length - 1)).toBeNull();
    expect(new MemberIndexer().result(0, 0)).toBeNull();
    const cut = f.file.subarray(0, f.file.length - 3);
    expect(indexOf(cut, [7], text.length)).toBeNull();
  });
});

describe('openGzipLog (no workers: in line)', () => {
  it('reads the text from any offset, inflating only the members from the one holding it to the one holding the end (property)', async () => {
    const text = Buffer.from(Array.from({ length: 3000 }, (_, i) => `{"seq":${i},"pad":"${'x'.repeat(i % 37)}"}\n`).join(''));
    const cuts = Array.from({ length: 40 }, (_, i) => Math.floor((i * text.length) / 40) + (i % 7));
    for (const tail of [0, 2]) {
      const f = sized(text, cuts, tail);
      const blob = new WatchedBlob([new Uint8Array(f.file)]);
      const log = await openGzipLog(blob, 'cut.ndjson.gz', 1 << 30);
      const whole = text.toString('latin1');
      expect(await all(log.text)).toBe(whole);
      expect(log.seekSource).toBe('members');
      expect(log.keptBytes).toBe(16 * f.comp.length);
      // member i covers text [starts[i], starts[i+1]) and file bytes [comp[i], comp[i+1])
      const comp = [...f.comp, f.file.length];
      const starts = [...f.starts, Infinity];
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: text.length - 1 }), fc.nat({ max: text.length }), async (from, len) => {
          const to = Math.min(text.length, from + 1 + len);
          blob.slices = [];
          const got = await all(log.read(from, to));
          expect(got.slice(0, to - from)).toBe(whole.slice(from, to));
          expect(whole.slice(from, from + got.length)).toBe(got);
          expect(blob.slices).toHaveLength(1);
          const first = starts.findLastIndex((x) => x <= from);
          const last = starts.findLastIndex((x) => x <= to - 1);
          // the unsized tail is read to the end of the file from the first unsized member
          expect(blob.slices[0]).toEqual([comp[first]!, last + 1 < f.comp.length ? comp[last + 1]! : f.file.length]);
        }),
        { numRuns: 60 },
      );
      // to the end
      expect(await all(log.read(100, -1))).toBe(whole.slice(100));
    }
  });

  it("keeps the text of a file whose members do not say their sizes (gzip(1)'s), and inflates from the top past the limit", async () => {
    const whole = Array.from({ length: 2000 }, (_, i) => `{"a":${i}}\n`).join('');
    const text = Buffer.from(whole);
    const kept = await openGzipLog(new Blob([gzipSync(text)]), 'g.ndjson.gz', 1 << 30);
    expect(await all(kept.text)).toBe(whole);
    expect(kept.seekSource).toBe('kept');
    expect(kept.keptBytes).toBe(text.length);
    expect(await all(kept.read(800, 1600))).toBe(whole.slice(800, 1600));
    const top = await openGzipLog(new Blob([gzipSync(text)]), 'g.ndjson.gz', 100);
    await all(top.text);
    expect(top.seekSource).toBe('top');
    expect((await all(top.read(800, 1600))).slice(0, 800)).toBe(whole.slice(800, 1600));
  });
});

describe('a memhp gzip log in the replay session', () => {
  let dir = '';
  let gz: Buffer;
  let logText = '';
  let api: ViewerApi;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'memhp-gzip-log-'));
    const file = join(dir, 'cloud.ndjson.gz');
    recordLog(scenario, file);
    gz = readFileSync(file);
    logText = gunzipSync(gz).toString('utf8');
    const a = loadViewerApi();
    if ('missing' in a) throw new Error(`viewer API incomplete: ${a.missing.join(', ')}`);
    api = a;
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The state after event `until` by a plain fold, line by line. */
  function straightReplay(until: number): StateLike {
    const cat = createCoreCatalogue();
    const lines = logText.split('\n').filter(Boolean);
    let s = initialStateFromHeader(parseHeaderLine(lines[0]!, { file: 'log', line: 1 })) as unknown as StateLike;
    for (let i = 1; i < lines.length; i++) {
      const e = cat.upcast(parseEventLine(lines[i]!, { file: 'log', line: i + 1 }, cat));
      if (e.seq > until) break;
      s = evolve(s as never, e) as unknown as StateLike;
    }
    return s;
  }

  it('seeks to the state a straight replay reaches, reading only members and never the file from its top again', async () => {
    const events = logText.split('\n').filter(Boolean).length - 1;
    const text = Buffer.from(logText);
    // memhp's own file (a few members), and the same text in members of ~40 lines (many members to choose from)
    const lines = [...logText.matchAll(/\n/g)].map((m) => m.index + 1);
    const small = sized(text, lines.filter((_, i) => i % 40 === 39)).file;
    for (const file of [gz, small]) {
      const blob = new WatchedBlob([new Uint8Array(file)]);
      const s = new LogSession(api, blob, 'cloud.ndjson.gz', { snapshotEvery: 301 });
      await s.load();
      const loadReads = blob.streams;
      blob.slices = [];
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: events }), async (n) => {
          const f = await s.frameAt(n);
          expect(f.event?.seq ?? 0).toBe(n);
          expect(f.counters).toEqual(counters(straightReplay(n), api.views));
        }),
        { numRuns: 8 },
      );
      // the load read the file once, whole; each seek read a slice of whole members (from a member start to a
      // member start or the end), not the file from its top
      expect(blob.streams).toBe(loadReads);
      expect(blob.slices.length).toBeGreaterThan(0);
      const starts = new Set([...memberStarts(file), file.length]);
      for (const [a, b] of blob.slices) expect(starts.has(a) && starts.has(b)).toBe(true);
      if (file === small) expect(blob.slices.filter(([a]) => a > 0).length).toBeGreaterThan(0);
    }
  });
});
