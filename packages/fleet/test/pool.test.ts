/**
 * The worker end of the local pool (serveIpcWorker) in a real child process, driven through IpcChild as the
 * NATS worker drives it; and a LocalPool let go of the processes it did not need. Cost: about 6 s (four children
 * started with tsx, one point of 1.5 s).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcChild, LocalPool, parseSweep, PointNotStarted, type PointJob, type ResultRow } from '../src/index.js';

const WORKER = join(import.meta.dirname, 'support/slow-ipc-worker.ts');
/** The slow worker run from source, as the pool starts it. */
const WORKER_EXEC_ARGV = ['--conditions=@memhp/source', '--import', 'tsx'];
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh file for the slow worker to note each point it starts in (removed after the test). */
function startsLog(): string {
  const dir = mkdtempSync(join(tmpdir(), 'memhp-pool-'));
  dirs.push(dir);
  return join(dir, 'starts.txt');
}

const SWEEP = `memhp: 1
machine: { arch: x86_64, kernel: "6.1", nodes: [{ id: 0, memory: [{ start: 0, size: 4G }] }] }
matrix: { size: [128M, 256M] }
steps:
  - add_memory: { node: 0, start: 4G, size: "\${{ matrix.size }}" }
`;

describe('serveIpcWorker', () => {
  it('gives back the point queued behind the running one when `drop` comes while that one runs (it does not run it)', async () => {
    const log = startsLog();
    const sweep = parseSweep('grid.yaml', SWEEP);
    const [a, b] = sweep.points.map((point): PointJob => ({ file: 'grid.yaml', point }));
    const child = new IpcChild({ script: WORKER, execArgv: WORKER_EXEC_ARGV, args: [], env: { SLOW_WORKER_LOG: log, SLOW_WORKER_MS: '1500' } });
    try {
      await child.start();
      const first = child.run(a!);
      const second = child.run(b!).then(
        () => 'ran',
        (e: unknown) => (e instanceof PointNotStarted ? 'given back' : `failed: ${String(e)}`),
      );
      const until = Date.now() + 30_000;
      while (!(existsSync(log) && readFileSync(log, 'utf8').includes(a!.point.label)) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      // The first point is running (its thread busy for 1.5 s); the second waits queued in the child.
      child.drop();
      expect((await first).label).toBe(a!.point.label);
      expect(await second).toBe('given back');
      expect(readFileSync(log, 'utf8')).toBe(`start ${a!.point.label}\n`);
    } finally {
      child.kill();
    }
  });
});

describe('LocalPool', () => {
  it('runs every point in the processes it keeps after shrink, the surplus let go before the check', async () => {
    const log = startsLog();
    const sweep = parseSweep('grid.yaml', SWEEP);
    const pool = new LocalPool({ jobs: 3, command: { script: WORKER, execArgv: WORKER_EXEC_ARGV, args: [], env: { SLOW_WORKER_LOG: log, SLOW_WORKER_PID: '1' } } });
    try {
      pool.shrink(1);
      // A surplus process ending while the check waits must not count as a worker lost while checking.
      expect(await pool.check('grid.yaml', sweep.points)).toBeUndefined();
      const rows: ResultRow[] = [];
      const r = await pool.run(sweep.points.map((point): PointJob => ({ file: 'grid.yaml', point })), { onResult: (_p, row) => rows.push(row) });
      expect(r.interrupted).toBe(false);
      expect(rows.map((row) => row.status)).toEqual(['ok', 'ok']);
      // Two points, and a pool of more than one process would hand one to each: one process ran both.
      const pids = new Set(readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ').pop()));
      expect(pids.size).toBe(1);
    } finally {
      pool.close();
    }
  });
});
