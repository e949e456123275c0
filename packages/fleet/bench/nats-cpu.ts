/**
 * Where the CPU of a NATS sweep goes: one sweep of a grid through a nats-server of its own and 2 `memhp worker`
 * processes (the built CLI), with the user+system CPU of every process involved during the sweep (the sweep,
 * nats-server, each worker and the processes it started), read from /proc before and after it. A tool for
 * decisions on a loaded machine, where wall-clock ratios are noise; not part of `pnpm bench`.
 *   pnpm --filter @memhp/fleet exec tsx --conditions=@memhp/source bench/nats-cpu.ts [grid.yaml] [rounds] [--src]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { JOBS_STREAM, WORKERS, openNats, startNatsServer } from '../src/index.js';
import { childrenOf, cpuSeconds as cpu } from './proc.js';

const REPO = resolve(import.meta.dirname, '../../..');
const BIN = join(REPO, 'packages/cli/bin/memhp.cjs');
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
/** Run the CLI from src (through tsx), so a change is measured without a build. */
const FROM_SRC = process.argv.includes('--src') ? ['--conditions=@memhp/source', '--import', 'tsx'] : [];
const GRID = resolve(args[0] ?? join(import.meta.dirname, 'grid-512-resize.yaml'));
const ROUNDS = Number(args[1] ?? 1);

const server = await startNatsServer({ storeDir: mkdtempSync(join(tmpdir(), 'memhp-bench-nats-')) });
const workers = [0, 1].map(() => spawn(process.execPath, [...FROM_SRC, BIN, 'worker', '--nats', server.url], { stdio: 'ignore' }));
try {
  const s = await openNats({ url: server.url });
  for (const until = Date.now() + 60_000; ; ) {
    const waiting = await s.jsm.consumers.info(JOBS_STREAM, WORKERS).then((i) => i.num_waiting, () => 0);
    if (waiting >= workers.length) break;
    if (Date.now() > until) throw new Error('workers not ready after 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  await s.close();
  for (let round = 0; round < ROUNDS; round++) {
    const procs = (): Record<string, number[]> => ({
      'nats-server': [server.pid()!],
      fronts: workers.map((w) => w.pid!),
      children: workers.flatMap((w) => childrenOf(w.pid!)),
    });
    const before = Object.fromEntries(Object.entries(procs()).map(([k, pids]) => [k, pids.map((p) => [p, cpu(p)] as const)]));
    const dir = mkdtempSync(join(tmpdir(), 'memhp-bench-sweep-'));
    const load0 = loadavg()[0]!;
    const t0 = performance.now();
    const sweep = spawn('/usr/bin/time', ['-f', '%U %S', process.execPath, ...FROM_SRC, BIN, 'sweep', GRID, '--nats', server.url, '-o', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    sweep.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number>((r) => sweep.on('close', (c) => r(c ?? -1)));
    const wall = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`sweep: exit ${code}: ${err}`);
    const [u, sy] = err.trim().split('\n').pop()!.split(' ').map(Number);
    const rows: Record<string, number> = { sweep: u! + sy! };
    for (const [k, pids] of Object.entries(before)) rows[k] = pids.reduce((a, [p, c0]) => a + cpu(p) - c0, 0);
    const total = Object.values(rows).reduce((a, b) => a + b, 0);
    console.log(
      `round ${round + 1}: wall ${wall.toFixed(2)} s, load ${load0.toFixed(2)}→${loadavg()[0]!.toFixed(2)}; CPU s: ${Object.entries(rows).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}; total ${total.toFixed(2)}`,
    );
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
  await server.stop();
}
