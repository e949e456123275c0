/**
 * The viewer's gunzip (viewer/gunzip.ts): every member of a multi-member gzip file, whoever wrote it (memhp's BGZF-
 * style members, gzip(1)'s one member, any mix), read in any chunks, gives the text gunzip(1) gives; a corrupt or cut
 * file gives a clear error naming the file; inflateBeside keeps the text for seeks. Checked in real Chromium (the
 * module served from source by Vite, no site build), and in Node (where the session tests run it) for a fast-check
 * property over random members and read chunks.
 *
 * The BC member layout is BGZF's (SAM/BAM format specification, SAMv1.pdf section 4.1: FLG.FEXTRA, XLEN 6, subfield
 * 'B' 'C', SLEN 2, BSIZE = member size − 1) inside RFC 1952's gzip member (section 2.3; extra subfields 2.3.1.1).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipMembers, MemberIndexer, type inflateBeside } from '../viewer/gunzip.js';
import { startViteSource } from './vite-source.js';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.js';
import { bcMember, cutPoints } from './bgzf.js';
import { recordLog } from './memhp-run.js';

/** viewer/gunzip.ts as the page imports it. */
interface GunzipModule {
  gunzipMembers: typeof gunzipMembers;
  inflateBeside: typeof inflateBeside;
}

const repo = resolve(import.meta.dirname, '../../..');
const scenario = join(repo, 'examples/scenarios/cloud-hot-add-12g.yaml');

/** `text` cut at `cuts` (byte offsets) into members, each BC-style or plain as `bc` says (cycled). */
function membersOf(text: Buffer, cuts: number[], bc: boolean[]): Buffer {
  const at = cutPoints(text, cuts);
  const parts: Buffer[] = [];
  for (let i = 0; i + 1 < at.length || i === 0; i++) {
    const piece = text.subarray(at[i]!, at[i + 1] ?? text.length);
    parts.push(bc[i % bc.length] ? bcMember(piece) : gzipSync(piece));
  }
  return Buffer.concat(parts);
}

/** Sizes of the read chunks: `sizes` cycled until `total` bytes are covered. */
function chunking(total: number, sizes: number[]): number[] {
  const out: number[] = [];
  for (let n = 0, i = 0; n < total; i++) {
    const s = Math.min(sizes[i % sizes.length]!, total - n);
    out.push(s);
    n += s;
  }
  return out;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Outcome {
  sha?: string;
  bytes?: number;
  error?: string;
}

/** gunzipMembers over `file` read in chunks of `sizes` (cycled), in Node. */
async function inNode(file: Uint8Array, name: string, sizes: number[]): Promise<Outcome> {
  const chunks = chunking(file.length, sizes);
  let at = 0;
  const src = new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= file.length) return c.close();
      const n = chunks.shift()!;
      c.enqueue(file.slice(at, at + n));
      at += n;
    },
  });
  const h = createHash('sha256');
  let bytes = 0;
  try {
    const r = src.pipeThrough(gunzipMembers(name)).getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) break;
      h.update(value);
      bytes += value.byteLength;
    }
  } catch (e) {
    return { error: (e as Error).message };
  }
  return { sha: h.digest('hex'), bytes };
}

describe('gunzipMembers in Node', () => {
  it('reads any text cut into any mix of BC and plain members, in any read chunks, as gunzip does (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 3000 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }),
        async (s, cuts, bc, sizes) => {
          const text = Buffer.from(s);
          const file = membersOf(text, cuts, bc);
          const r = await inNode(file, 'p.ndjson.gz', sizes);
          expect(r.error).toBeUndefined();
          expect(r.sha).toBe(sha(gunzipSync(file)));
          expect(r.sha).toBe(sha(text));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('gunzipMembers in Chromium', () => {
  let vite: Awaited<ReturnType<typeof startViteSource>>;
  let browser: Browser;
  let page: Page;
  let dir = '';
  let memhpGz: Buffer;
  let memhpText: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'memhp-gunzip-'));
    const gz = join(dir, 'cloud.ndjson.gz');
    recordLog(scenario, gz);
    memhpGz = readFileSync(gz);
    memhpText = gunzipSync(memhpGz);
    vite = await startViteSource();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    });
    page = await browser.newPage();
    await page.goto(vite.url);
    // loaded by the page itself (an import() inside page.evaluate would be rewritten by Vitest's own transform)
    await page.addScriptTag({ type: 'module', content: "import * as g from '/viewer/gunzip.ts'; window.gunzip = g;" });
    await page.waitForFunction(() => 'gunzip' in window);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await vite?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** gunzipMembers over `file`, handed to the page as the viewer's file picker does, read in chunks of `sizes`. */
  async function inChromium(file: Buffer, name: string, sizes: number[] = [256 << 10]): Promise<Outcome> {
    await page.locator('#file').setInputFiles({ name, mimeType: 'application/gzip', buffer: file });
    return page.evaluate(
      async ([name, chunks]) => {
        const { gunzipMembers } = (window as unknown as { gunzip: GunzipModule }).gunzip;
        const blob = (document.getElementById('file') as HTMLInputElement).files![0]!;
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let at = 0;
        const src = new ReadableStream<Uint8Array>({
          pull(c) {
            if (at >= bytes.length) return c.close();
            const n = chunks.shift()!;
            c.enqueue(bytes.slice(at, at + n));
            at += n;
          },
        });
        const parts: Uint8Array[] = [];
        try {
          const r = src.pipeThrough(gunzipMembers(name)).getReader();
          for (;;) {
            const { value, done } = await r.read();
            if (done) break;
            parts.push(value);
          }
        } catch (e) {
          return { error: (e as Error).message };
        }
        const all = await new Blob(parts as BlobPart[]).arrayBuffer();
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
        return { sha: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''), bytes: all.byteLength };
      },
      [name, chunking(file.length, sizes)] as const,
    );
  }

  it('reads a log memhp wrote (BGZF-style members) to exactly the text gunzip gives', async () => {
    const r = await inChromium(memhpGz, 'cloud.ndjson.gz');
    expect(r.error).toBeUndefined();
    expect(r.bytes).toBe(memhpText.length);
    expect(r.sha).toBe(sha(memhpText));
  });

  it('reads the same text when member boundaries fall anywhere in the read chunks (chunks of 1 to 4099 bytes)', async () => {
    const r = await inChromium(memhpGz, 'cloud.ndjson.gz', [1, 7, 4099, 13, 2, 1500]);
    expect(r.error).toBeUndefined();
    expect(r.sha).toBe(sha(memhpText));
  });

  it('reads on past a member that ends exactly where a read chunk ends (pako alone stops there, silently)', async () => {
    // one read chunk per member, by the members' BSIZE
    const members: number[] = [];
    for (let o = 0; o < memhpGz.length; o += members.at(-1)!) members.push((memhpGz[o + 16]! | (memhpGz[o + 17]! << 8)) + 1);
    expect(members.length).toBeGreaterThan(2);
    const r = await inChromium(memhpGz, 'cloud.ndjson.gz', members);
    expect(r.error).toBeUndefined();
    expect(r.bytes).toBe(memhpText.length);
    expect(r.sha).toBe(sha(memhpText));
  });

  it('reads a file gzip(1) wrote (one member, no BC subfield) to the same text', async () => {
    const viaGzip = spawnSync('gzip', ['-6', '-c'], { input: memhpText, maxBuffer: 256 << 20 });
    expect(viaGzip.status).toBe(0);
    const r = await inChromium(viaGzip.stdout, 'gzip1.ndjson.gz');
    expect(r.error).toBeUndefined();
    expect(r.sha).toBe(sha(memhpText));
  });

  it('names the file and says what is wrong for a cut file and for a member whose CRC-32 does not match', async () => {
    const cut = memhpGz.subarray(0, Math.floor(memhpGz.length / 2));
    const r1 = await inChromium(cut, 'cut.ndjson.gz');
    // pako's words for input that ends inside a member (zlib's Z_BUF_ERROR)
    expect(r1.error).toBe('cut.ndjson.gz: not a readable gzip file (buffer error)');
    const bad = Buffer.from(memhpGz);
    // the CRC-32 of the second member (its trailer's first four bytes)
    const second = (bad[16]! | (bad[17]! << 8)) + 1;
    const secondBytes = (bad[second + 16]! | (bad[second + 17]! << 8)) + 1;
    const crcAt = second + secondBytes - 8;
    bad[crcAt] = bad[crcAt]! ^ 0xff;
    const r2 = await inChromium(bad, 'crc.ndjson.gz');
    expect(r2.error).toBe('crc.ndjson.gz: not a readable gzip file (incorrect data check)');
    const r3 = await inChromium(Buffer.from('not gzip at all\n'), 'text.ndjson.gz');
    expect(r3.error).toBe('text.ndjson.gz: not a readable gzip file (incorrect header check)');
    const r4 = await inChromium(Buffer.alloc(0), 'empty.ndjson.gz');
    expect(r4.error).toBe('empty.ndjson.gz: not a readable gzip file (buffer error)');
  });

  /** inflateBeside (its own worker) over `file`: the text's digest, and what it kept for seeks. */
  async function beside(file: Buffer, name: string, keep: number, noOpfs = false) {
    await page.locator('#file').setInputFiles({ name, mimeType: 'application/gzip', buffer: file });
    return page.evaluate(
      async ([name, keep, noOpfs]) => {
        const g = (window as unknown as { gunzip: GunzipModule }).gunzip;
        const storage = navigator.storage;
        const real = storage.getDirectory;
        if (noOpfs) Object.defineProperty(storage, 'getDirectory', { value: undefined, configurable: true });
        const digest = async (b: ArrayBuffer): Promise<string> =>
          [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))].map((x) => x.toString(16).padStart(2, '0')).join('');
        try {
          const blob = (document.getElementById('file') as HTMLInputElement).files![0]!;
          let kept: Blob | null | undefined;
          const text = g.inflateBeside(blob, name, { index: false, limit: keep }, (k) => (kept = k.text))!;
          const all = await new Response(text).arrayBuffer();
          const k = kept as Blob | null | undefined;
          const dir = await (await real.call(storage)).getDirectoryHandle('memhp-viewer-kept', { create: true });
          const files: string[] = [];
          for await (const n of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) files.push(n);
          return {
            sha: await digest(all),
            kept: k === undefined ? 'never told' : k === null ? null : { sha: await digest(await k.arrayBuffer()), inFile: k instanceof File, name: k instanceof File ? k.name : '' },
            files,
          };
        } finally {
          if (noOpfs) Object.defineProperty(storage, 'getDirectory', { value: real, configurable: true });
        }
      },
      [name, keep, noOpfs] as const,
    );
  }

  it('keeps the text for seeks in a file of the origin private file system, which the next load removes', async () => {
    const first = await beside(memhpGz, 'cloud.ndjson.gz', 512 << 20);
    expect(first.sha).toBe(sha(memhpText));
    expect(first.kept).toMatchObject({ sha: sha(memhpText), inFile: true });
    const firstName = (first.kept as { name: string }).name;
    expect(first.files).toContain(firstName);
    // a second load in the same page: the first file is no longer held, so it goes; the second is kept
    const second = await beside(memhpGz, 'cloud.ndjson.gz', 512 << 20);
    expect(second.kept).toMatchObject({ sha: sha(memhpText), inFile: true });
    expect(second.files).toEqual([(second.kept as { name: string }).name]);
    expect(second.files).not.toContain(firstName);
  });

  it('keeps nothing, and leaves no file, when the text is longer than the limit', async () => {
    const r = await beside(memhpGz, 'cloud.ndjson.gz', 1000);
    expect(r.sha).toBe(sha(memhpText));
    expect(r.kept).toBeNull();
    expect(r.files).toEqual([]);
  });

  it('keeps the text in memory as a Blob where there is no origin private file system', async () => {
    const r = await beside(memhpGz, 'cloud.ndjson.gz', 512 << 20, true);
    expect(r.sha).toBe(sha(memhpText));
    expect(r.kept).toMatchObject({ sha: sha(memhpText), inFile: false });
  });

  it("indexes a memhp log's members instead of keeping its text, and reads any range by them in its worker", async () => {
    // the index Node's MemberIndexer finds in the same bytes (gzip-log.test.ts checks it against the members as written)
    const ix = new MemberIndexer();
    ix.push(memhpGz);
    const want = ix.result(memhpGz.length, memhpText.length)!;
    expect(want.comp.length).toBeGreaterThan(2);
    const text = memhpText.toString('latin1');
    const ranges: Array<[number, number]> = [
      [0, 100],
      [want.text[1]! - 5, want.text[1]! + 5],
      [Math.floor(memhpText.length / 2), -1],
      [memhpText.length - 10, memhpText.length],
    ];
    await page.locator('#file').setInputFiles({ name: 'cloud.ndjson.gz', mimeType: 'application/gzip', buffer: memhpGz });
    const r = await page.evaluate(
      async ([ranges]) => {
        const g = (window as unknown as { gunzip: GunzipModule }).gunzip;
        const blob = (document.getElementById('file') as HTMLInputElement).files![0]!;
        let kept: Parameters<Parameters<GunzipModule['inflateBeside']>[3]>[0] | undefined;
        const all = await new Response(g.inflateBeside(blob, 'cloud.ndjson.gz', { index: true }, (k) => (kept = k))!).arrayBuffer();
        const k = kept!;
        // one char per byte, as Node's latin1 (the browser's 'latin1' decoder is windows-1252)
        const latin1 = (b: ArrayBuffer): string => {
          const u = new Uint8Array(b);
          let out = '';
          for (let i = 0; i < u.length; i += 8192) out += String.fromCharCode(...u.subarray(i, i + 8192));
          return out;
        };
        // a read let go of half-way (cancelled), then the ranges: the worker serves one after another
        const first = k.read!(0, -1).getReader();
        await first.read();
        await first.cancel();
        const reads: string[] = [];
        for (const [from, to] of ranges) reads.push(latin1(await new Response(k.read!(from, to)).arrayBuffer()));
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('memhp-viewer-kept', { create: true });
        const files: string[] = [];
        for await (const n of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) files.push(n);
        return { bytes: all.byteLength, text: k.text, comp: [...k.index!.comp], starts: [...k.index!.text], complete: k.index!.complete, reads, files };
      },
      [ranges] as const,
    );
    expect(r.bytes).toBe(memhpText.length);
    expect(r.text).toBeNull();
    expect(r.files).toEqual([]);
    expect(r.comp).toEqual([...want.comp]);
    expect(r.starts).toEqual([...want.text]);
    expect(r.complete).toBe(true);
    ranges.forEach(([from, to], i) => {
      const got = r.reads[i]!;
      const end = to < 0 ? text.length : to;
      expect(got.slice(0, end - from)).toBe(text.slice(from, end));
      expect(text.slice(from, from + got.length)).toBe(got);
    });
  });

  it('ends the oldest of the reads left open past 8, and says so to whoever still reads it', async () => {
    // reads left open as the session leaves them (it releases its reader once it has its events); the log four
    // times over, so that a read from the top outlasts the chunks in flight (4 of 256 KiB)
    const big = Buffer.concat([memhpGz, memhpGz, memhpGz, memhpGz]);
    await page.locator('#file').setInputFiles({ name: 'big.ndjson.gz', mimeType: 'application/gzip', buffer: big });
    const r = await page.evaluate(async () => {
      const g = (window as unknown as { gunzip: GunzipModule }).gunzip;
      const blob = (document.getElementById('file') as HTMLInputElement).files![0]!;
      let kept: Parameters<Parameters<GunzipModule['inflateBeside']>[3]>[0] | undefined;
      await new Response(g.inflateBeside(blob, 'big.ndjson.gz', { index: true }, (k) => (kept = k))!).arrayBuffer();
      const open: Array<ReadableStreamDefaultReader<Uint8Array>> = [];
      const outcome = async (reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> => {
        try {
          for (;;) if ((await reader.read()).done) return 'read to the end';
        } catch (e) {
          return (e as Error).message;
        }
      };
      for (let i = 0; i < 9; i++) {
        open.push(kept!.read!(0, -1).getReader());
        await open[i]!.read();
      }
      return { oldest: await outcome(open[0]!), second: await outcome(open[1]!) };
    });
    expect(r.oldest).toBe('big.ndjson.gz: a read left open was ended (more than 8 open)');
    expect(r.second).toBe('read to the end');
  });
});
