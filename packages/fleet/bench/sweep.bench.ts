/**
 * Sweep throughput (issue 20): a 512-point grid through the local pool with 1 and with 2 jobs, and through
 * NATS JetStream with 2 `memhp worker` processes (timed from when both are up), side by side in one run, with
 * the built CLI. Prints the ratios, checks the three result tables are identical, and writes the figures to
 * bench-results/fleet-sweep.json.
 * Targets on a 2-core machine: 2 jobs ≥ 1.7× 1 job; NATS (2 workers) ≥ 0.9× local with 2 jobs.
 * Before the sweeps it measures what the machine itself gives: the same CPU-bound loop in one process, then in
 * two at once (the "ceiling"); on a loaded machine the ceiling is well under 2 and the sweep ratios with it.
 *   pnpm --filter @memhp/fleet bench
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { JOBS_STREAM, WORKERS, openNats, startNatsServer } from '../src/index.js';

const REPO = resolve(import.meta.dirname, '../../..');
const BIN = join(REPO, 'packages/cli/dist/bin.js');
const GRID = join(import.meta.dirname, 'grid-512.yaml');
const OUT = join(REPO, 'bench-results');

function memhp(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => res({ code: code ?? -1, stderr, stdout }));
  });
}

async function timed(what: string, args: string[]): Promise<{ seconds: number; csv: string; points: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'memhp-bench-sweep-'));
  const t0 = performance.now();
  const r = await memhp([...args, '-o', dir]);
  const seconds = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}`);
  const csv = readFileSync(join(dir, 'results.csv'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const points = csv.trim().split('\n').length - 1;
  console.log(`${what.padEnd(28)} ${seconds.toFixed(2).padStart(7)} s  ${(points / seconds).toFixed(1).padStart(6)} points/s`);
  return { seconds, csv, points };
}

/**
 * Resolves once `n` workers wait for points: each ready worker (connected, its child process up) keeps one pull
 * request open on the workers' consumer, which JetStream counts as `num_waiting` (bounded: 60 s).
 */
async function workersWaiting(url: string, n: number): Promise<void> {
  const s = await openNats({ url });
  try {
    const until = Date.now() + 60_000;
    for (;;) {
      const waiting = await s.jsm.consumers.info(JOBS_STREAM, WORKERS).then((i) => i.num_waiting, () => 0);
      if (waiting >= n) return;
      if (Date.now() > until) throw new Error(`${waiting} of ${n} workers ready after 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await s.close();
  }
}

/** Wall time of `n` processes each running the same CPU-bound loop at once, as a rate relative to one. */
async function ceiling(): Promise<number> {
  const loop = 'let x = 0; for (let i = 0; i < 1.5e8; i++) x = (x + i * 7) % 1000003; if (x < 0) console.log(x)';
  const wall = async (n: number): Promise<number> => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, () => new Promise((r) => spawn(process.execPath, ['-e', loop], { stdio: 'ignore' }).on('close', r))));
    return (performance.now() - t0) / 1000;
  };
  // Two rounds, alternating, so a burst of other work weighs less on the figure.
  const [a1, b1, a2, b2] = [await wall(1), await wall(2), await wall(1), await wall(2)];
  const [a, b] = [(a1 + a2) / 2, (b1 + b2) / 2];
  const c = (2 * a) / b;
  console.log(`machine ceiling: one busy process ${a.toFixed(2)} s, two at once ${b.toFixed(2)} s (mean of 2) → ${c.toFixed(2)}× (2.0 on an idle 2-core machine)`);
  return c;
}

const loadAtStart = loadavg();
console.log(`load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} on ${availableParallelism()} cores`);
const machine = await ceiling();
const one = await timed('local, 1 job', ['sweep', GRID, '--jobs', '1']);
const two = await timed('local, 2 jobs', ['sweep', GRID, '--jobs', '2']);
const server = await startNatsServer({ storeDir: mkdtempSync(join(tmpdir(), 'memhp-bench-nats-')) });
const workers = [0, 1].map(() => spawn(process.execPath, [BIN, 'worker', '--nats', server.url], { stdio: 'ignore' }));
let nats;
try {
  // Workers are long-lived services that serve sweep after sweep, so the sweep is timed from when both are up
  // (connected, their child process loaded), as a sweep on a deployed fleet is; the local pool's start-up is
  // part of each local sweep, so it is in that timing.
  const t0 = performance.now();
  await workersWaiting(server.url, workers.length);
  console.log(`NATS workers up in ${((performance.now() - t0) / 1000).toFixed(2)} s (not timed)`);
  nats = await timed('NATS, 2 worker processes', ['sweep', GRID, '--nats', server.url]);
} finally {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
  await server.stop();
}
const identical = one.csv === two.csv && two.csv === nats.csv;
const speedup = one.seconds / two.seconds;
const natsVsLocal = two.seconds / nats.seconds;
console.log(`points ${one.points}; 2 jobs / 1 job = ${speedup.toFixed(2)}× (target ≥ 1.7; machine ceiling now ${machine.toFixed(2)}×); NATS / local at 2 = ${natsVsLocal.toFixed(2)}× (target ≥ 0.9); tables identical: ${identical}`);
mkdirSync(OUT, { recursive: true });
writeFileSync(
  join(OUT, 'fleet-sweep.json'),
  `${JSON.stringify({ date: new Date().toISOString(), cores: availableParallelism(), loadavg: { start: loadAtStart, end: loadavg() }, points: one.points, seconds: { local1: one.seconds, local2: two.seconds, nats2: nats.seconds }, pointsPerSecond: { local1: one.points / one.seconds, local2: two.points / two.seconds, nats2: nats.points / nats.seconds }, ratios: { local2OverLocal1: speedup, nats2OverLocal2: natsVsLocal, machineCeiling2Over1: machine }, targets: { local2OverLocal1: 1.7, nats2OverLocal2: 0.9 }, identicalTables: identical }, null, 2)}\n`,
);
console.log(`figures: ${join(OUT, 'fleet-sweep.json')}`);
if (!identical) process.exitCode = 1;
