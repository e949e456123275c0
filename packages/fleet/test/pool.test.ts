/**
 * The worker end of the local pool (serveIpcWorker) in a real child process, driven through IpcChild as the
 * NATS worker drives it. Cost: about 3 s (one child started with tsx, one point of 1.5 s).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcChild, parseSweep, PointNotStarted, type PointJob } from '../src/index.js';

const WORKER = join(import.meta.dirname, 'support/slow-ipc-worker.ts');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const SWEEP = `memhp: 1
machine: { arch: x86_64, kernel: "6.1", nodes: [{ id: 0, memory: [{ start: 0, size: 4G }] }] }
matrix: { size: [128M, 256M] }
steps:
  - add_memory: { node: 0, start: 4G, size: "\${{ matrix.size }}" }
`;

describe('serveIpcWorker', () => {
  it('gives back the point queued behind the running one when `drop` comes while that one runs (it does not run it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memhp-pool-'));
    dirs.push(dir);
    const log = join(dir, 'starts.txt');
    const sweep = parseSweep('grid.yaml', SWEEP);
    const [a, b] = sweep.points.map((point): PointJob => ({ file: 'grid.yaml', point }));
    const child = new IpcChild({ script: WORKER, execArgv: ['--conditions=@memhp/source', '--import', 'tsx'], args: [], env: { SLOW_WORKER_LOG: log, SLOW_WORKER_MS: '1500' } });
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
