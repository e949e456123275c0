/**
 * The viewer's replay session, run in Node with the same code the Web Worker runs: the state it shows after
 * any event must be the state a straight replay reaches, whether it got there from a snapshot, from a byte
 * offset inside a plain log, or by re-reading a gzip log — and its counters must be what `memhp replay --json`
 * prints for the same log.
 */
import { afterAll, describe, expect, it, beforeAll } from 'vitest';
import fc from 'fast-check';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createCoreCatalogue, evolve, initialStateFromHeader, viewMeminfo, viewVmstat } from '@memhp/core';
import { parseEventLine, parseHeaderLine } from '@memhp/events';
import { loadViewerApi, type ViewerApi } from '../viewer/core-adapter.js';
import { LogSession } from '../viewer/session.js';
import { counters, drawSections, type StateLike } from '../viewer/project.js';

const repo = resolve(import.meta.dirname, '../../..');
const cliSrc = join(repo, 'packages/cli/src/bin.ts');
const scenario = join(repo, 'examples/scenarios/cloud-hot-add-12g.yaml');
let logText = '';
let logPath = '';
let api: ViewerApi;

/** The memhp CLI from source (tsx, @memhp/source condition): what `pnpm memhp` runs, without needing a build. */
function memhp(...args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, ['--conditions=@memhp/source', '--import', 'tsx', cliSrc, ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The same, asynchronously, so several replays run side by side. */
async function memhpJson(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=@memhp/source', '--import', 'tsx', cliSrc, ...args, '--json'], { cwd: repo, env: { ...process.env, NO_COLOR: '1' } });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** Runs the tasks `width` at a time (each runs three CLI processes: more at once only slows a 2-core machine). */
async function inBatches<T>(tasks: Array<() => Promise<T>>, width: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < tasks.length; i += width) out.push(...(await Promise.all(tasks.slice(i, i + width).map((t) => t()))));
  return out;
}

/** The state after event `until` by a plain fold, line by line, with no snapshots. */
function straightReplay(text: string, until: number): StateLike {
  const cat = createCoreCatalogue();
  const lines = text.split('\n').filter(Boolean);
  const header = parseHeaderLine(lines[0]!, { file: 'log', line: 1 });
  let s = initialStateFromHeader(header) as unknown as StateLike;
  for (let i = 1; i < lines.length; i++) {
    const e = cat.upcast(parseEventLine(lines[i]!, { file: 'log', line: i + 1 }, cat));
    if (e.seq > until) break;
    s = evolve(s as never, e) as unknown as StateLike;
  }
  return s;
}

/** A Blob of `text` whose stream hands it on in `n` chunks (a Blob's own stream may hand it on whole). */
function inChunks(text: string, n: number): Blob {
  const bytes = new TextEncoder().encode(text);
  const size = Math.ceil(bytes.length / n);
  class ChunkedBlob extends Blob {
    override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
      let at = 0;
      return new ReadableStream({
        pull(c) {
          if (at >= bytes.length) return c.close();
          c.enqueue(bytes.slice(at, at + size));
          at += size;
        },
      });
    }
  }
  return new ChunkedBlob([bytes]);
}

let dir = '';
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'memhp-viewer-'));
  logPath = join(dir, 'cloud.ndjson');
  const r = memhp('run', scenario, '-o', logPath);
  if (!existsSync(logPath)) throw new Error(`memhp run wrote no log (exit ${r.code}):\n${r.out}`);
  logText = readFileSync(logPath, 'utf8');
  writeFileSync(logPath + '.gz', gzipSync(logText));
  const a = loadViewerApi();
  if ('missing' in a) throw new Error(`viewer API incomplete: ${a.missing.join(', ')}`);
  api = a;
}, 120_000);

describe('viewer replay session', () => {
  it('loads a plain and a gzip log to the same last event and counters', async () => {
    const plain = new LogSession(api, new Blob([logText]), 'cloud.ndjson', { snapshotEvery: 250 });
    const gz = new LogSession(api, new Blob([readFileSync(logPath + '.gz')]), 'cloud.ndjson.gz', { snapshotEvery: 250 });
    const [a, b] = await Promise.all([plain.load(), gz.load()]);
    const events = logText.split('\n').filter(Boolean).length - 1;
    expect(a.lastSeq).toBe(events);
    expect(b.lastSeq).toBe(events);
    expect(b.samples).toEqual(a.samples);
    // one per 250 events, and the final state
    expect(a.snapshots).toBe(Math.ceil(events / 250));
  });

  it('shows, after any event, exactly the state a straight replay reaches (plain and gzip, any snapshot distance)', async () => {
    const events = logText.split('\n').filter(Boolean).length - 1;
    const plain = new LogSession(api, new Blob([logText]), 'cloud.ndjson', { snapshotEvery: 97 });
    const gz = new LogSession(api, new Blob([readFileSync(logPath + '.gz')]), 'cloud.ndjson.gz', { snapshotEvery: 301 });
    // Too long to keep decompressed: every seek decompresses from the top.
    const gzAgain = new LogSession(api, new Blob([readFileSync(logPath + '.gz')]), 'cloud.ndjson.gz', { snapshotEvery: 301, keepDecompressedBytes: 4096 });
    await plain.load();
    await gz.load();
    await gzAgain.load();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: events }), async (n) => {
        const want = straightReplay(logText, n);
        for (const s of [plain, gz, gzAgain]) {
          const f = await s.frameAt(n);
          expect(f.seq).toBe(n);
          expect(f.event?.seq ?? 0).toBe(n);
          expect(f.counters).toEqual(counters(want, api.views));
          expect(f.sections).toEqual(drawSections(want).slice(0, 4096));
        }
      }),
      { numRuns: 12 },
    );
  });

  it('keeps a gzip log decompressed after loading it, so seeks do not decompress it again (unless it is longer than keepDecompressedBytes)', async () => {
    /** Counts how often the log is read from its first byte (each time a gzip log is decompressed from the top). */
    class CountingBlob extends Blob {
      reads = 0;
      override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
        this.reads++;
        return super.stream();
      }
    }
    const gzBytes = readFileSync(logPath + '.gz');
    const events = logText.split('\n').filter(Boolean).length - 1;
    const keptBlob = new CountingBlob([gzBytes]);
    const againBlob = new CountingBlob([gzBytes]);
    const kept = new LogSession(api, keptBlob, 'cloud.ndjson.gz', { snapshotEvery: 301 });
    // One byte short of the decompressed log: not kept.
    const again = new LogSession(api, againBlob, 'cloud.ndjson.gz', { snapshotEvery: 301, keepDecompressedBytes: Buffer.byteLength(logText) - 1 });
    await kept.load();
    await again.load();
    expect([keptBlob.reads, againBlob.reads]).toEqual([1, 1]);
    // Backwards and forwards, none on a snapshot: each needs events read from the log.
    for (const n of [events - 3, 5, 700, 1, Math.floor(events / 2)]) {
      const f = await kept.frameAt(n);
      expect(f.counters).toEqual(counters(straightReplay(logText, n), api.views));
      expect(await again.frameAt(n)).toEqual(f);
    }
    expect(keptBlob.reads).toBe(1);
    expect(againBlob.reads).toBeGreaterThanOrEqual(5);
  });

  it('follows any sequence of seeks, forward from its cursor or back to a snapshot, with adaptive snapshots', async () => {
    const events = logText.split('\n').filter(Boolean).length - 1;
    const s = new LogSession(api, new Blob([logText]), 'cloud.ndjson', { maxSnapshots: 4 });
    const r = await s.load();
    expect(r.snapshots).toBeLessThanOrEqual(4);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: events }), { minLength: 1, maxLength: 5 }), async (seeks) => {
        for (const n of seeks) {
          const f = await s.frameAt(n);
          expect(f.counters).toEqual(counters(straightReplay(logText, n), api.views));
        }
      }),
      { numRuns: 6 },
    );
    // stepping forward one event at a time continues from the cursor
    for (let n = 10; n < 15; n++) expect((await s.frameAt(n)).event?.seq).toBe(n);
  });

  it('goes on taking snapshots after a pack the machine stalled (the next gap is not stretched by the stall)', async () => {
    // The log in 60 chunks; the fourth pack is made to take a second (as when the machine preempts the load): the
    // policy waits `ratio` packing times of work between snapshots, and waiting 3 × 1 s after it took none after it
    // in this whole log (but the final state), where the unstalled load takes one every chunk or two.
    const opts = { snapshotMinEvents: 1, snapshotCostRatio: 3, maxSnapshots: 100_000 };
    let packs = 0;
    const stalling: ViewerApi = {
      ...api,
      keep: (x) => {
        if (++packs === 4) {
          const t = performance.now();
          while (performance.now() - t < 1000);
        }
        return api.keep(x);
      },
    };
    const normal = await new LogSession(api, inChunks(logText, 60), 'a.ndjson', opts).load();
    const s = new LogSession(stalling, inChunks(logText, 60), 'a.ndjson', opts);
    const r = await s.load();
    expect(normal.snapshots).toBeGreaterThan(10);
    const after = s.snapshotSeqs.filter((q) => q > s.snapshotSeqs[3]!).length;
    // (the final state is always kept too; a machine busy enough to stretch the packs after the stall may leave
    // fewer than the unstalled load took)
    expect(after).toBeGreaterThanOrEqual(3);
    expect(r.lastSeq).toBe(normal.lastSeq);
  });

  it('takes a snapshot whenever the events since the last took seekReplayMs to load, however costly packing is', async () => {
    // packing made to look 10^6 times its cost: only the seek bound takes snapshots
    const costly = { snapshotMinEvents: 1, snapshotCostRatio: 1e6, maxSnapshots: 100_000 };
    const bounded = new LogSession(api, inChunks(logText, 60), 'a.ndjson', { ...costly, seekReplayMs: 1 });
    const unbounded = new LogSession(api, inChunks(logText, 60), 'a.ndjson', { ...costly, seekReplayMs: 1e9 });
    const r = await bounded.load();
    const u = await unbounded.load();
    // the first pack (nothing measured yet) and the final state
    expect(u.snapshots).toBeLessThanOrEqual(2);
    // a millisecond of loading is a few hundred events at most, about a chunk of the 60
    expect(r.snapshots).toBeGreaterThan(5);
    for (const at of [Math.floor(r.lastSeq / 2), r.lastSeq - 1]) expect((await bounded.frameAt(at)).counters).toEqual(counters(straightReplay(logText, at), api.views));
  });

  it('packs nothing on a seek, unpacks at most one snapshot (none going on from the cursor), and leaves the snapshots as they were', async () => {
    const events = logText.split('\n').filter(Boolean).length - 1;
    let keeps = 0;
    let unkeeps = 0;
    const counting: ViewerApi = { ...api, keep: (x) => (keeps++, api.keep(x)), unkeep: (k) => (unkeeps++, api.unkeep(k)), unkeepInto: (k, into) => (unkeeps++, api.unkeepInto(k, into)) };
    const s = new LogSession(counting, new Blob([logText]), 'cloud.ndjson', { snapshotEvery: 400 });
    const r = await s.load();
    const seqs = s.snapshotSeqs;
    expect(seqs.length).toBe(r.snapshots);
    expect(seqs).toEqual([...Array.from({ length: Math.floor(events / 400) }, (_, i) => 400 * (i + 1)), ...(events % 400 ? [events] : [])]);
    const packed = keeps;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: events }), { minLength: 1, maxLength: 6 }), async (ns) => {
        for (const n of ns) {
          const before = unkeeps;
          const f = await s.frameAt(n);
          expect(unkeeps - before, 'a seek unpacks at most one snapshot').toBeLessThanOrEqual(1);
          expect(f.counters).toEqual(counters(straightReplay(logText, n), api.views));
          // one event on: from the cursor, no unpack
          if (n < events) {
            const u = unkeeps;
            expect((await s.frameAt(n + 1)).event?.seq).toBe(n + 1);
            expect(unkeeps).toBe(u);
          }
        }
        expect(keeps, 'a seek packs nothing').toBe(packed);
        expect(s.snapshotSeqs).toEqual(seqs);
      }),
      { numRuns: 6 },
    );
    // and the snapshots are still the states of their positions: a frame at each (its event kept) replays nothing
    for (const h of seqs.slice(0, 3)) {
      await s.frameAt(events);
      const f = await s.frameAt(h);
      expect(f.event?.seq).toBe(h);
      expect(f.counters).toEqual(counters(straightReplay(logText, h), api.views));
      expect(f.sections).toEqual(drawSections(straightReplay(logText, h)).slice(0, 4096));
    }
  });

  it("shows, at several points reached by seeks back and forth, the counters and blocks `memhp replay --at N --json` prints for the same log", async () => {
    const s = new LogSession(api, new Blob([readFileSync(logPath + '.gz')]), 'cloud.ndjson.gz');
    const { lastSeq } = await s.load();
    // the end, then back, forward, next to a point already shown, and the first event
    const ats = [lastSeq, Math.floor(lastSeq / 2), lastSeq - 1, 700, 701, 1];
    const expected = await inBatches(
      ats.map((at) => async () => {
        const [mi, vs, bl] = await Promise.all([
          memhpJson('replay', logPath, '--report', 'meminfo', '--at', String(at)),
          memhpJson('replay', logPath, '--report', 'vmstat', '--at', String(at)),
          memhpJson('replay', logPath, '--report', 'blocks', '--at', String(at)),
        ]);
        return { meminfo: mi.meminfo as Record<string, number>, vmstat: vs.vmstat as Record<string, number>, blocks: bl.blocks as Array<{ STATE?: string; state?: string }> };
      }),
      2,
    );
    for (const [i, at] of ats.entries()) {
      const f = await s.frameAt(at);
      const { meminfo, vmstat, blocks } = expected[i]!;
      expect(f.event?.seq).toBe(at);
      expect(f.counters.MemTotal).toBe(meminfo.MemTotal);
      expect(f.counters.MemFree).toBe(meminfo.MemFree);
      expect(f.counters.nr_memmap_pages).toBe(vmstat.nr_memmap_pages);
      expect(f.counters.nr_memmap_boot_pages).toBe(vmstat.nr_memmap_boot_pages);
      expect(f.blocks.total).toBe(blocks.length);
      const byState: Record<string, number> = {};
      for (const b of blocks) {
        const st = (b.STATE ?? b.state ?? '').toLowerCase();
        byState[st] = (byState[st] ?? 0) + 1;
      }
      const shown: Record<string, number> = {};
      for (const [k, n] of Object.entries(f.blocks.byKind)) shown[k.split(' ')[0]!] = (shown[k.split(' ')[0]!] ?? 0) + n;
      expect(shown).toEqual(byState);
    }
  }, 300_000);

  it('adds states while idle, up to its memory budget, and seeks from them still show the state a straight replay reaches', async () => {
    const events = logText.split('\n').filter(Boolean).length - 1;
    const probe = new LogSession(api, new Blob([logText]), 'cloud.ndjson');
    await probe.load();
    const one = probe.memory.stateBytes;
    expect(one).toBeGreaterThan(0);
    for (const states of [6, 12]) {
      const s = new LogSession(api, new Blob([logText]), 'cloud.ndjson', { stateBudgetBytes: states * one, densifyMinEvents: 50 });
      await s.load();
      const before = s.snapshotSeqs.length;
      // a step told to stop (a seek waits) gives up and adds nothing, but says there is work left
      expect(await s.densify(() => true)).toBe(true);
      expect(s.snapshotSeqs.length).toBe(before);
      let steps = 0;
      while (await s.densify()) steps++;
      expect(s.snapshotSeqs.length).toBe(before + steps);
      // the states kept take no more than the budget, and it is full: one more (at most a state's bytes) would
      // not fit (shared parts counted once, so at least as many as whole states would fit)
      expect(s.memory.keptBytes).toBeLessThanOrEqual(s.memory.budgetBytes);
      expect(s.memory.keptBytes, 'fills the budget').toBeGreaterThan(s.memory.budgetBytes - s.memory.stateBytes);
      expect(s.snapshotSeqs.length).toBeGreaterThanOrEqual(states - 1);
      // no gap between states kept is more than twice the log's length over the number of states
      const seqs = [0, ...s.snapshotSeqs];
      const widest = Math.max(...seqs.slice(1).map((x, i) => x - seqs[i]!));
      expect(widest).toBeLessThanOrEqual(Math.ceil((2 * events) / (s.snapshotSeqs.length - 1)));
      const kept = s.snapshotSeqs.length;
      for (const n of [events - 1, 3, Math.floor(events / 3), Math.floor(events / 3) + 1]) {
        expect((await s.frameAt(n)).counters).toEqual(counters(straightReplay(logText, n), api.views));
      }
      expect(s.snapshotSeqs.length).toBe(kept);
    }
  });

  it('counts the memory of states that share what did not change once, and keeps them within the budget', async () => {
    // Kept one after the other, states share the chunks of their tables that did not change (core's packState):
    // the session's figure is what they take together, which the budget bounds, not states × a state's size.
    let alone = 0;
    const summing: ViewerApi = { ...api, keep: (x, prev) => { const k = api.keep(x, prev); alone += k.bytes; return k; } };
    const s = new LogSession(summing, new Blob([logText]), 'cloud.ndjson', { snapshotEvery: 100, maxSnapshots: 100_000 });
    await s.load();
    expect(s.memory.keptBytes).toBeLessThan(alone);
    expect(s.memory.keptBytes).toBeGreaterThanOrEqual(s.memory.stateBytes);
    // a budget of `n` whole states bounds what they take together
    const n = 4;
    const b = new LogSession(api, new Blob([logText]), 'cloud.ndjson', { snapshotEvery: 100, maxSnapshots: 100_000, stateBudgetBytes: n * s.memory.stateBytes });
    await b.load();
    expect(b.memory.keptBytes).toBeLessThanOrEqual(b.memory.budgetBytes);
    expect(b.snapshotSeqs.length).toBeGreaterThanOrEqual(n);
  });

  it('schedules its snapshots by its own busy time: a source that makes it wait between chunks adds none', async () => {
    // The log, cut into 60 chunks, with a 12 ms wait before every chunk (as a gzip log's inflate worker makes the
    // load wait). With one snapshot whenever 3 packing times of work have
    // passed, the waits must not count as work: counting wall time, every chunk (12 ms ≥ 3 × a small state's
    // pack) would take one.
    const bytes = new TextEncoder().encode(logText);
    const size = Math.ceil(bytes.length / 60);
    const chunks = Math.ceil(bytes.length / size);
    class ChunkedBlob extends Blob {
      constructor(private readonly waitMs: number) {
        super([bytes]);
      }
      override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
        let at = 0;
        const waitMs = this.waitMs;
        return new ReadableStream({
          async pull(c) {
            if (at >= bytes.length) return c.close();
            await new Promise((r) => setTimeout(r, waitMs));
            c.enqueue(bytes.slice(at, at + size));
            at += size;
          },
        });
      }
    }
    const opts = { snapshotMinEvents: 1, snapshotCostRatio: 3, maxSnapshots: 100_000 };
    const slow = new LogSession(api, new ChunkedBlob(12), 'slow.ndjson', opts);
    const r = await slow.load();
    expect(chunks).toBe(60);
    // (the final state is always kept too)
    expect(r.snapshots).toBeLessThan(chunks / 2);
    // and the seeks from them still show the state a straight replay reaches
    const events = r.lastSeq;
    for (const at of [1, Math.floor(events / 3), Math.floor((2 * events) / 3), events]) {
      const f = await slow.frameAt(at);
      expect(f.counters).toEqual(counters(straightReplay(logText, at), api.views));
    }
  });

  it('draws at most maxDrawn sections and PMD entries and counts the rest', async () => {
    const s = new LogSession(api, new Blob([logText]), 'cloud.ndjson', { maxDrawn: 10 });
    const { lastSeq } = await s.load();
    const f = await s.frameAt(lastSeq);
    const all = drawSections(straightReplay(logText, lastSeq));
    expect(f.sections).toEqual(all.slice(0, 10));
    expect(f.sectionsNotDrawn).toBe(all.length - 10);
    expect(f.pmds.length + f.pmdsNotDrawn).toBe(f.pmdCounts.leaf + f.pmdCounts.table);
  });

  it('cancels its read of the log once a seek has its events: no read is left open', async () => {
    // a Blob that counts the streams read from it and its slices: each must be read to its end or cancelled. The load
    // reads 8 KiB pieces (its marks, where seeks start and stop reading, are that far apart); a seek's slice gives 64
    // bytes a piece, so its target's line ends well before the slice does
    const bytes = new TextEncoder().encode(logText);
    const reads = { opened: 0, ended: 0, cancelled: 0 };
    const counted = (b: Uint8Array, piece: number): Blob => {
      class Counted extends Blob {
        override slice(from?: number, to?: number): Blob {
          return counted(b.subarray(from ?? 0, to ?? b.length), 64);
        }
        override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
          reads.opened++;
          let at = 0;
          return new ReadableStream(
            {
              pull(c) {
                if (at >= b.length) {
                  reads.ended++;
                  return c.close();
                }
                c.enqueue(b.slice(at, (at += piece)));
              },
              cancel() {
                reads.cancelled++;
              },
            },
            { highWaterMark: 0 },
          );
        }
      }
      return new Counted([b as Uint8Array<ArrayBuffer>]);
    };
    const s = new LogSession(api, counted(bytes, 8192), 'cloud.ndjson', { snapshotEvery: 500 });
    const r = await s.load();
    expect(reads.opened - reads.ended - reads.cancelled, 'the load').toBe(0);
    const opened = reads.opened;
    for (const at of [r.lastSeq - 1, 1, 250, 777, 1234, r.lastSeq]) {
      expect((await s.frameAt(at)).counters).toEqual(counters(straightReplay(logText, at), api.views));
      await new Promise((res) => setTimeout(res, 0));
    }
    expect(reads.opened - opened, 'the seeks read the log').toBeGreaterThanOrEqual(4);
    expect(reads.cancelled, 'the seeks stopped reading before their slices ended').toBeGreaterThan(0);
    expect(reads.opened - reads.ended - reads.cancelled, 'reads left open').toBe(0);
  });

  it('reports a corrupt line with the file and line number', async () => {
    const lines = logText.split('\n');
    lines[5] = '{"seq":5,"oops"';
    const s = new LogSession(api, new Blob([lines.join('\n')]), 'broken.ndjson');
    await expect(s.load()).rejects.toThrow(/broken\.ndjson:6/);
  });
});

// core's own views are what the viewer shows; keep the import honest so a rename fails this file loudly.
void viewMeminfo;
void viewVmstat;
