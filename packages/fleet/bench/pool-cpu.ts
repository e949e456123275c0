/**
 * Where the time of a local sweep goes, with 1 and with 2 jobs: the built CLI runs the grid in rounds (1 job, then
 * 2 jobs), each process of it preloaded with cpu-report.cjs, and prints per process its CPU (main thread and V8's
 * helper threads apart) and when it started, was up, got its first point and sent its last row; then, over the
 * rounds (medians), the terms of T2 = serial + parallel / 2 × contention:
 *   - serial: from the sweep's start to the first point of its last worker, and from the last row to the end;
 *   - per-point CPU of the workers with 1 job and with 2 (their ratio is the contention: shared caches and memory
 *     bandwidth, and helper threads that run on the idle core with 1 job but take a worker's core with 2);
 *   - the sweep process's own CPU, which competes with 2 workers for 2 cores.
 * For decisions on a loaded machine, CPU figures are the ones to compare; wall times are printed with the load.
 *   pnpm --filter @memhp/fleet exec tsx bench/pool-cpu.ts [grid.yaml] [rounds]
 * MEMHP_BIN=<other checkout>/packages/cli/bin/memhp.cjs runs another build's CLI instead (A/B in the same minute).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median } from './proc.js';

const REPO = resolve(import.meta.dirname, '../../..');
const BIN = process.env.MEMHP_BIN ? resolve(process.env.MEMHP_BIN) : join(REPO, 'packages/cli/bin/memhp.cjs');
const PRELOAD = join(import.meta.dirname, 'cpu-report.cjs');
const args = process.argv.slice(2);
const GRID = resolve(args[0] ?? join(import.meta.dirname, 'grid-512-resize.yaml'));
const ROUNDS = Number(args[1] ?? 2);

interface Report {
  role: 'sweep' | 'worker' | 'other';
  pid: number;
  start: number;
  end: number;
  main: number;
  helpers: number;
  points: number;
  /** Bytes its JS heap allocated from its first job on. */
  allocated: number;
  at: { ready?: number; firstJob?: number; lastResult?: number };
}
interface Sweep {
  wall: number;
  sweepCpu: number;
  workerMain: number;
  workerHelpers: number;
  points: number;
  /** Bytes the workers' JS heaps allocated from their first point on. */
  workerAllocated: number;
  /** Sweep start to the first point of the last worker to get one. */
  serialStart: number;
  /** Last row of any worker to the sweep's end. */
  serialEnd: number;
}

async function sweep(jobs: number): Promise<Sweep> {
  const dir = mkdtempSync(join(tmpdir(), 'memhp-pool-cpu-'));
  const report = join(dir, 'cpu.jsonl');
  const load = loadavg()[0]!;
  const t0 = performance.now();
  const code = await new Promise<number>((res) =>
    spawn(process.execPath, [BIN, 'sweep', GRID, '--jobs', String(jobs), '-o', join(dir, 'out')], {
      stdio: 'ignore',
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${PRELOAD}`, MEMHP_CPU_REPORT: report },
    }).on('close', (c) => res(c ?? -1)),
  );
  const wall = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`sweep --jobs ${jobs}: exit ${code}`);
  const rs = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Report);
  rmSync(dir, { recursive: true, force: true });
  const top = rs.find((r) => r.role === 'sweep')!;
  const workers = rs.filter((r) => r.role === 'worker');
  const s = (ms: number | undefined): string => (ms === undefined ? '-' : `+${((ms - top.start) / 1000).toFixed(2)}`);
  console.log(`--jobs ${jobs}: wall ${wall.toFixed(2)} s, load ${load.toFixed(2)}`);
  for (const r of [top, ...workers]) {
    console.log(
      `  ${r.role.padEnd(6)} CPU ${(r.main + r.helpers).toFixed(2)} s (main ${r.main.toFixed(2)}, helpers ${r.helpers.toFixed(2)})${r.role === 'worker' ? `, ${r.points} points, ${(r.allocated / 1e6 / r.points).toFixed(1)} MB allocated a point; started ${s(r.start)}, up ${s(r.at.ready)}, first point ${s(r.at.firstJob)}, last row ${s(r.at.lastResult)} s` : `; ended +${((r.end - r.start) / 1000).toFixed(2)} s`}`,
    );
  }
  const points = workers.reduce((a, r) => a + r.points, 0);
  return {
    wall,
    sweepCpu: top.main + top.helpers,
    workerMain: workers.reduce((a, r) => a + r.main, 0),
    workerHelpers: workers.reduce((a, r) => a + r.helpers, 0),
    points,
    workerAllocated: workers.reduce((a, r) => a + r.allocated, 0),
    serialStart: (Math.max(...workers.map((r) => r.at.firstJob ?? r.end)) - top.start) / 1000,
    serialEnd: (top.end - Math.max(...workers.map((r) => r.at.lastResult ?? r.start))) / 1000,
  };
}

const runs: Record<1 | 2, Sweep[]> = { 1: [], 2: [] };
for (let round = 0; round < ROUNDS; round++) for (const jobs of [1, 2] as const) runs[jobs].push(await sweep(jobs));
const m = (jobs: 1 | 2, f: (s: Sweep) => number): number => median(runs[jobs].map(f));
console.log(`medians of ${ROUNDS} round(s):`);
for (const jobs of [1, 2] as const) {
  const perPoint = m(jobs, (s) => ((s.workerMain + s.workerHelpers) / s.points) * 1000);
  const helpersPerPoint = m(jobs, (s) => (s.workerHelpers / s.points) * 1000);
  console.log(
    `  ${jobs} job${jobs > 1 ? 's' : ' '}: wall ${m(jobs, (s) => s.wall).toFixed(2)} s; workers ${perPoint.toFixed(1)} ms CPU a point (helper threads ${helpersPerPoint.toFixed(1)}), ${m(jobs, (s) => s.workerAllocated / s.points / 1e6).toFixed(1)} MB allocated a point; sweep process ${m(jobs, (s) => s.sweepCpu).toFixed(2)} s CPU; serial: ${m(jobs, (s) => s.serialStart).toFixed(2)} s to the last worker's first point, ${m(jobs, (s) => s.serialEnd).toFixed(2)} s after the last row`,
  );
}
const c = m(2, (s) => (s.workerMain + s.workerHelpers) / s.points) / m(1, (s) => (s.workerMain + s.workerHelpers) / s.points);
console.log(`  contention (worker CPU a point, 2 jobs / 1 job): ${c.toFixed(3)}; 2 jobs / 1 job wall: ${(m(1, (s) => s.wall) / m(2, (s) => s.wall)).toFixed(2)}×`);
