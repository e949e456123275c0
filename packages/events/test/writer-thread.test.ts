import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializeEvent, serializeHeader } from '@memhp/events';
import { openLogWriter } from '@memhp/events/node';
import { sampleEvents, testHeader } from './helpers.js';
import { tempDir } from './tmp.js';

const dir = tempDir();

/**
 * A facility of every Linux system these tests need (scripts/ensure-system-deps.sh makes sure of it in CI): a
 * missing one is a failure, never a silent pass.
 */
function needs(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing (${what}); run scripts/ensure-system-deps.sh as root`);
}
const expectedText = (n: number) => [serializeHeader(testHeader()), ...sampleEvents(n).map(serializeEvent)].join('\n') + '\n';

describe('plain log writer on its writer thread', () => {
  it('property: the file holds exactly header + events, in order, once, for any ring size, batch size and flush points', async () => {
    // Rings down to 4 KiB are smaller than one batch: batches then go through the ring in pieces and wrap.
    const sizes = fc.record({
      ringBytes: fc.constantFrom(4096, 8192, 65536),
      batchEvents: fc.integer({ min: 1, max: 400 }),
      batchBytes: fc.integer({ min: 1, max: 20_000 }),
      events: fc.integer({ min: 0, max: 1500 }),
      flushEvery: fc.option(fc.integer({ min: 1, max: 700 }), { nil: undefined }),
      // O_DIRECT block writes with a buffered tail, or every byte through the page cache: the same file.
      directIo: fc.boolean(),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(sizes, async (o) => {
        const p = join(dir, `prop-${run++}.ndjson`);
        const w = openLogWriter(p, testHeader(), o);
        const evs = sampleEvents(o.events);
        for (let i = 0; i < evs.length; i++) {
          w.write(evs[i]!);
          if (o.flushEvery && (i + 1) % o.flushEvery === 0) {
            await w.flush();
            // flush() returns only once the thread has written everything: the file is complete up to here.
            expect(readFileSync(p, 'utf8')).toBe([serializeHeader(testHeader()), ...evs.slice(0, i + 1).map(serializeEvent)].join('\n') + '\n');
          }
        }
        await w.close();
        expect(readFileSync(p, 'utf8')).toBe(expectedText(o.events));
      }),
      { numRuns: 25 },
    );
  }, 30_000);

  it('property: the same when the ring byte counters cross 2^31 (they wrap; no sign may decide anything)', async () => {
    const sizes = fc.record({
      ringBytes: fc.constantFrom(4096, 65536),
      batchEvents: fc.integer({ min: 1, max: 300 }),
      events: fc.integer({ min: 1, max: 3000 }),
      below: fc.integer({ min: 0, max: 200_000 }),
      across: fc.constantFrom(2 ** 31, 2 ** 32),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(sizes, async (o) => {
        const p = join(dir, `wrap-${run++}.ndjson`);
        // counterStart is a test-only knob of the writer thread: the counters begin just below the wrap.
        const w = openLogWriter(p, testHeader(), { ...o, counterStart: o.across - o.below } as Parameters<typeof openLogWriter>[2]);
        for (const e of sampleEvents(o.events)) w.write(e);
        await w.close();
        expect(readFileSync(p, 'utf8')).toBe(expectedText(o.events));
      }),
      { numRuns: 25 },
    );
  }, 30_000);

  it('sends an event too big for the tape as its JSON line, in order, between tape events (4 KiB ring: 1 KiB per event)', async () => {
    const p = join(dir, 'big-events.ndjson');
    const w = openLogWriter(p, testHeader(), { ringBytes: 4096, batchEvents: 7 });
    const evs = sampleEvents(300).map((e, i) =>
      i % 37 === 5 ? { ...e, payload: { text: 'ž'.repeat(3000 + i), nested: Array.from({ length: 50 }, (_, k) => ({ k })) } } : e,
    );
    for (const e of evs) w.write(e);
    await w.close();
    expect(readFileSync(p, 'utf8')).toBe([serializeHeader(testHeader()), ...evs.map(serializeEvent)].join('\n') + '\n');
  });

  it('writes the same file on tmpfs (/dev/shm) and on the test directory file system, direct I/O or not', async () => {
    needs('/dev/shm', 'the tmpfs mount of POSIX shared memory');
    const shm = mkdtempSync('/dev/shm/memhp-events-');
    try {
      for (const d of [dir, shm]) {
        for (const directIo of [true, false]) {
          const p = join(d, `fs-${directIo}.ndjson`);
          const w = openLogWriter(p, testHeader(), { directIo, batchEvents: 500 });
          for (const e of sampleEvents(5000)) w.write(e);
          await w.close();
          expect(readFileSync(p, 'utf8')).toBe(expectedText(5000));
        }
      }
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
  });

  it('blocks a producer on a full ring instead of buffering without bound, and loses nothing', async () => {
    // 20k events of ~150 bytes through a 4 KiB ring: ~700 ring-fulls, each one a wait for the thread.
    const p = join(dir, 'tiny-ring.ndjson');
    const w = openLogWriter(p, testHeader(), { ringBytes: 4096, batchEvents: 8 });
    for (const e of sampleEvents(20_000)) expect(w.write(e)).toBe(true);
    await w.close();
    expect(readFileSync(p, 'utf8')).toBe(expectedText(20_000));
  });

  it('surfaces a write error of the thread (ENOSPC on /dev/full) on the next flush and on close, naming the log', async () => {
    needs('/dev/full', 'the character device 1:7 whose writes fail with ENOSPC');
    const w = openLogWriter('/dev/full', testHeader());
    for (const e of sampleEvents(10)) w.write(e);
    await expect(w.flush()).rejects.toThrow(/^\/dev\/full: log writer thread failed: ENOSPC/);
    // Once failed, every later call says so too, rather than pretending to write.
    expect(() => {
      for (const e of sampleEvents(20_000).slice(10)) w.write(e);
    }).toThrow(/\/dev\/full: log writer thread failed: ENOSPC/);
    await expect(w.close()).rejects.toThrow(/log writer thread failed: ENOSPC/);
  });

  it('with thread: false, the same error throws from the call that hit it (here: the header, at open)', () => {
    needs('/dev/full', 'the character device 1:7 whose writes fail with ENOSPC');
    expect(() => openLogWriter('/dev/full', testHeader(), { thread: false })).toThrow(/ENOSPC/);
  });

  it('rejects a ring size that is not a power of two from 4 KiB, and leaves no thread behind', () => {
    expect(() => openLogWriter(join(dir, 'bad-ring.ndjson'), testHeader(), { ringBytes: 5000 })).toThrow(
      'ringBytes must be a power of two from 4096 to 2^30, got 5000',
    );
  });

  it('keeps a script alive until close() has finished, then lets it exit 0 (no dangling thread, no unsettled await)', () => {
    const p = join(dir, 'exit.ndjson');
    const r = spawnSync(
      process.execPath,
      ['--conditions=@memhp/source', '--import', 'tsx', fileURLToPath(new URL('./fixtures/write-and-exit.ts', import.meta.url)), p, '3000'],
      { cwd: fileURLToPath(new URL('../../..', import.meta.url)), encoding: 'utf8', timeout: 20_000 },
    );
    // Exit code 13 is Node's "unsettled top-level await": the writer's close() never resolved.
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(p, 'utf8')).toBe(expectedText(3000));
  }, 30_000);

  describe('a writer thread that ends abruptly (terminated: no catch block of it runs, as when out of memory)', () => {
    /** Runs fixtures/writer-thread-dies.ts in a child with a timeout: a producer that hangs fails the test. */
    const dies = (scenario: 'write' | 'flush' | 'close' | 'io', before: number) => {
      const p = join(dir, `dies-${scenario}.ndjson`);
      const r = spawnSync(
        process.execPath,
        ['--conditions=@memhp/source', '--import', 'tsx', fileURLToPath(new URL('./fixtures/writer-thread-dies.ts', import.meta.url)), p, String(before), scenario],
        { cwd: fileURLToPath(new URL('../../..', import.meta.url)), encoding: 'utf8', timeout: 20_000 },
      );
      expect(r.error, 'the child hung: the producer waited for a thread that was gone').toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim()) as { thrown: string | null; accepted: number; closeError: string | null };
      return { ...out, file: readFileSync(p, 'utf8'), path: p };
    };
    const ended = (p: string) => `${p}: log writer thread ended without finishing (terminated, or out of memory)`;

    it.each(['write', 'flush'] as const)('%s: the producer waiting on it gets an error naming the log instead of hanging, and the file keeps every event flushed before', (scenario) => {
      const r = dies(scenario, 100);
      expect(r.thrown).toMatch(new RegExp(`^${ended(r.path).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      // A 4 KiB ring holds ~25 events: the producer went on until it was full, then had to wait.
      expect(r.accepted).toBeLessThan(100);
      expect(r.closeError).toBe(r.thrown);
      expect(r.file).toBe(expectedText(100));
    }, 30_000);

    it('close: rejects with the same error instead of spinning on the thread that will never say DONE', () => {
      const r = dies('close', 100);
      expect(r.thrown).toBeNull();
      expect(r.closeError).toMatch(/log writer thread ended without finishing \(terminated, or out of memory\)/);
      expect(r.file).toBe(expectedText(100));
    }, 30_000);

    it('its I/O thread ending abruptly fails the writer thread, which the producer hears instead of hanging', () => {
      const r = dies('io', 3);
      expect(r.thrown).toBe(`${r.path}: log writer thread failed: its I/O thread ended without finishing (terminated, or out of memory)`);
      expect(r.closeError).toBe(r.thrown);
      // What the I/O thread had written stays: a prefix of the log (ending mid-line at most).
      expect(expectedText(20_000).startsWith(r.file)).toBe(true);
    }, 30_000);
  });

  it('close() is idempotent and write() after close throws', async () => {
    const p = join(dir, 'twice.ndjson');
    const w = openLogWriter(p, testHeader());
    w.write(sampleEvents(1)[0]!);
    await w.close();
    await w.close();
    expect(() => w.write(sampleEvents(2)[1]!)).toThrow('write after close');
    expect(readFileSync(p, 'utf8')).toBe(expectedText(1));
  });
});
