/**
 * memhp's gzip logs as BGZF-style members: every member says its own compressed size in a gzip extra subfield, so a
 * reader (the viewer) can hand members whole to a native inflater. The layout checked here is BGZF's, from the
 * SAM/BAM format specification (SAMv1.pdf, section 4.1 "The BGZF compression format": FLG.FEXTRA set, XLEN 6,
 * subfield SI1 'B' (66), SI2 'C' (67), SLEN 2, BSIZE = total block size − 1, a block at most 64 KiB), within the
 * gzip format of RFC 1952 (section 2.3: ID1 31, ID2 139, CM 8, FLG bit 2 FEXTRA; section 2.3.1.1: extra field
 * subfields SI1 SI2 LEN data, which a decoder that does not know them skips).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializeEvent, serializeHeader } from '@memhp/events';
import { openLogWriter } from '@memhp/events/node';
import { BgzfMembers } from '../src/node/writer.js';
import { sampleEvents, testHeader } from './helpers.js';
import { tempDir } from './tmp.js';

const dir = tempDir();

interface Member {
  offset: number;
  bytes: number;
}

/** Walks a file by the members' BSIZE, checking each header as the BGZF specification lays it out. */
function walk(file: Uint8Array): Member[] {
  const members: Member[] = [];
  let o = 0;
  while (o < file.length) {
    const at = `member ${members.length} at byte ${o}`;
    expect([file[o], file[o + 1], file[o + 2]], at).toEqual([31, 139, 8]);
    expect(file[o + 3]! & 0x04, `${at}: FLG.FEXTRA`).toBe(0x04);
    const xlen = file[o + 10]! | (file[o + 11]! << 8);
    expect(xlen, `${at}: XLEN`).toBe(6);
    expect([file[o + 12], file[o + 13], file[o + 14]! | (file[o + 15]! << 8)], `${at}: SI1 SI2 SLEN`).toEqual([66, 67, 2]);
    const bytes = (file[o + 16]! | (file[o + 17]! << 8)) + 1;
    expect(bytes, `${at}: BSIZE + 1 within the file`).toBeLessThanOrEqual(file.length - o);
    // each member is a gzip file of its own: it inflates alone, to the end of its bytes and no further
    expect(() => gunzipSync(file.subarray(o, o + bytes)), at).not.toThrow();
    members.push({ offset: o, bytes });
    o += bytes;
  }
  return members;
}

describe('gzip logs in BGZF-style members', () => {
  it('gives every member a BC subfield whose BSIZE + 1 is its size, members of at most 64 KiB ending where the file ends', async () => {
    const p = join(dir, 'bc.ndjson.gz');
    const w = openLogWriter(p, testHeader(), {});
    const evs = sampleEvents(60_000);
    for (const e of evs) w.write(e);
    await w.close();
    const file = readFileSync(p);
    const members = walk(file);
    // the header's member, then the events' batches cut into members of at most 64 KiB (BSIZE is 16 bits)
    expect(members.length).toBeGreaterThan(3);
    for (const m of members) expect(m.bytes).toBeLessThanOrEqual(65536);
    // every member's text ends on a line boundary (no line here is longer than a member)
    for (const m of members) expect(gunzipSync(file.subarray(m.offset, m.offset + m.bytes)).at(-1)).toBe(0x0a);
    const text = [serializeHeader(testHeader()), ...evs.map(serializeEvent)].join('\n') + '\n';
    expect(gunzipSync(file).toString()).toBe(text);
  });

  it('is read byte for byte alike by gzip(1) and Node zlib (they skip the extra field)', async () => {
    const p = join(dir, 'gzip1.ndjson.gz');
    const w = openLogWriter(p, testHeader(), { batchEvents: 3000 });
    const evs = sampleEvents(20_000);
    for (const e of evs) w.write(e);
    await w.close();
    const text = [serializeHeader(testHeader()), ...evs.map(serializeEvent)].join('\n') + '\n';
    const viaGzip = spawnSync('gzip', ['-dc', p], { maxBuffer: 64 << 20 });
    expect(viaGzip.status, String(viaGzip.stderr)).toBe(0);
    // gzip -t checks every member's CRC-32 and length
    expect(spawnSync('gzip', ['-t', p]).status).toBe(0);
    expect(viaGzip.stdout.equals(Buffer.from(text))).toBe(true);
    expect(gunzipSync(readFileSync(p)).equals(Buffer.from(text))).toBe(true);
  });

  it('cuts text that compresses badly into smaller members, each still at most 64 KiB', () => {
    // 300 KiB of bytes from a fixed LCG: incompressible, in lines of 100 KiB (longer than a member's text can be)
    const text = new Uint8Array(300 << 10);
    let x = 12345;
    for (let i = 0; i < text.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      text[i] = (i + 1) % (100 << 10) === 0 ? 0x0a : 0x20 + ((x >>> 16) % 90);
    }
    const members = new BgzfMembers(6).members(text);
    const file = Buffer.concat(members);
    expect(walk(file).map((m) => m.bytes)).toEqual(members.map((m) => m.length));
    for (const m of members) expect(m.length).toBeLessThanOrEqual(65536);
    expect(gunzipSync(file).equals(Buffer.from(text))).toBe(true);
  });

  it('round-trips any text through members (property: sizes, BSIZE, concatenated text)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 90_000 }).map((b) => Buffer.from(b).toString('latin1'))), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 9 }),
        (parts, level) => {
          const enc = new BgzfMembers(level);
          const texts = parts.map((t) => Buffer.from(`${t}\n`, 'latin1'));
          // one writer, several batches: the ratio it learns from one batch sizes the next one's members
          const file = Buffer.concat(texts.flatMap((t) => enc.members(t)));
          const members = walk(file);
          for (const m of members) expect(m.bytes).toBeLessThanOrEqual(65536);
          expect(gunzipSync(file).equals(Buffer.concat(texts))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});
