/**
 * The machine's own scaling for a sweep's work, with no pool at all (issue 20, item 7): the grid's points run
 * by `runPoint` (what a worker process runs for a job) in a loop, in one process that runs every point, then in
 * two independent processes side by side that run half of them each (even and odd points: the same total work).
 * No IPC, no sweep process, no results table: each process loads the CLI's point runner, waits until every
 * process of the round is ready, then runs its points and reports its loop's wall time and CPU (user+system of
 * the whole process, and of its main thread and V8's helper threads apart). What it prints, over the rounds
 * (medians):
 *   - ceiling = points a second with 2 processes (the sum of each process's own rate) / points a second with 1:
 *     what the pool's 2-jobs/1-job ratio cannot exceed on this machine, since the pool adds its own work (a sweep
 *     process, IPC, start-up) to this. Rates, not the slower process's wall time, because the even and odd halves
 *     of a grid do not cost the same (resize grid: 9.0 against 10.7 s) and a pool hands out points as workers free
 *     up; the static figure (1 process's wall / the slower of the 2) is printed beside it;
 *   - contention = CPU a point with 2 processes / CPU a point with 1 (shared caches and memory bandwidth, and V8's
 *     helper threads, which run on the idle core with 1 process but take the other process's core with 2);
 *     on an idle machine ceiling ≈ 2 / contention.
 * Each Node flag set given (`--flags "..."`, repeatable) is measured the same way, in turns within each round, so
 * flag sets can be compared in the same minutes; the default is the pool workers' flags (sweep.ts WORKER_NODE_FLAGS).
 * Each run also reports the CPU other processes of the machine took meanwhile (/proc/stat), and `--quiet S` waits
 * up to S seconds before each run for the machine to go quiet: on a shared machine, only runs with others near 0
 * say what the machine gives.
 *   pnpm --filter @memhp/fleet exec tsx --conditions=@memhp/source bench/ceiling.ts [grid.yaml] [--rounds N] [--points N] [--quiet S] [--flags="..."]...
 * sweep.bench.ts runs one round of it with the workers' flags and puts the figure in its JSON.
 */
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadSweepFile, type PointJob, type ResultRow } from '../src/local.js';
import { machineBusy, median, threadCpu } from './proc.js';

const REPO = resolve(import.meta.dirname, '../../..');
export const RESIZE_GRID = join(import.meta.dirname, 'grid-512-resize.yaml');

/** What one process of a round reports. */
interface Report {
  points: number;
  wall: number;
  cpu: number;
  main: number;
  helpers: number;
}

export interface CeilingFigures {
  flags: string;
  /** Seconds of the loop: one process with every point, and the slower of two with half each. */
  wall1: number;
  wall2: number;
  /** CPU seconds a point (whole process), and of V8's helper threads alone, with 1 and with 2 processes. */
  cpuPerPoint1: number;
  cpuPerPoint2: number;
  helpersPerPoint1: number;
  helpersPerPoint2: number;
  /** Main thread's CPU a point with 1 process: its wall time a point on an idle machine, at least. */
  mainPerPoint1: number;
  ceiling: number;
  /** 1 process's wall time / the slower of the 2 processes' (the halves as split, unbalanced). */
  staticCeiling: number;
  /**
   * What the ceiling would be on an idle machine, from CPU alone: 1 process takes at least its main thread's CPU
   * (its helper threads run on the other core), 2 processes at least all their CPU over 2 cores.
   */
  idleEstimate: number;
  contention: number;
  rounds: number;
  /** The most CPU (cores) other processes of the machine took during any of the runs. */
  othersMaxCores: number;
}

/** The Node flags the CLI gives its worker processes (sweep.ts), so the probe measures what the pool runs. */
export async function workerNodeFlags(): Promise<readonly string[]> {
  const sweep = (await import(pathToFileURL(join(REPO, 'packages/cli/src/commands/sweep.ts')).href)) as { WORKER_NODE_FLAGS: readonly string[] };
  return sweep.WORKER_NODE_FLAGS;
}

/** Runs in each process: load the point runner, say ready, wait for go, run the points, report. */
async function child(grid: string, part: number, parts: number, limit: number): Promise<void> {
  // The CLI's point runner and arch registry, from source (dynamic, so fleet's typecheck stays in fleet).
  const point = (await import(pathToFileURL(join(REPO, 'packages/cli/src/sweep/point.ts')).href)) as {
    runPoint(job: PointJob, registry: unknown): Promise<ResultRow>;
  };
  const backends = (await import(pathToFileURL(join(REPO, 'packages/cli/src/backends.ts')).href)) as {
    BackendRegistry: { create(modules: readonly string[]): Promise<unknown> };
  };
  const registry = await backends.BackendRegistry.create([]);
  const sweep = loadSweepFile(grid);
  const points = sweep.points.slice(0, limit).filter((_, i) => i % parts === part);
  await new Promise<void>((go) => {
    process.once('message', () => go());
    process.send!({ ready: true });
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const th0 = threadCpu('self');
  for (const p of points) {
    const row = await point.runPoint({ file: grid, point: p }, registry);
    if (row.status === 'error') throw new Error(`point ${p.label}: ${String(row.error)}`);
  }
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const th = threadCpu('self');
  const report: Report = { points: points.length, wall, cpu: (c.user + c.system) / 1e6, main: th.main - th0.main, helpers: th.helpers - th0.helpers };
  process.send!(report, () => process.exit(0));
}

/**
 * One round of `parts` processes side by side, each with its share of the points; with the CPU that other
 * processes of the machine took meanwhile (cores, from /proc/stat: all busy time less the round's own).
 */
async function round(grid: string, parts: number, flags: readonly string[], limit: number): Promise<{ reports: Report[]; foreign: number }> {
  const kids = Array.from({ length: parts }, (_, part) =>
    fork(import.meta.filename, ['--child', String(part), '--parts', String(parts), '--points', String(limit), grid], {
      execArgv: [...process.execArgv, ...flags],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const reports = kids.map(
    (k) =>
      new Promise<Report>((res, rej) => {
        k.on('message', (m: Report | { ready: true }) => {
          if (!('ready' in m)) res(m);
        });
        k.on('exit', (code) => rej(new Error(`ceiling process exited ${code} before it reported`)));
      }),
  );
  await Promise.all(kids.map((k) => new Promise<void>((r) => k.once('message', () => r()))));
  const busy0 = machineBusy();
  const t0 = performance.now();
  for (const k of kids) k.send('go');
  const done = await Promise.all(reports);
  const wall = (performance.now() - t0) / 1000;
  return { reports: done, foreign: Math.max(0, (machineBusy() - busy0 - sum(done, 'cpu')) / wall) };
}

/** Waits (at most `maxMs`) until the machine's cores are idle but for `below` of one over a 2 s look. */
async function quiet(below: number, maxMs: number): Promise<void> {
  for (const until = Date.now() + maxMs; Date.now() < until; ) {
    const b0 = machineBusy();
    await new Promise((r) => setTimeout(r, 2000));
    if ((machineBusy() - b0) / 2 < below) return;
  }
}

/** Rounds of 1 process then 2 for each flag set in turn; medians per flag set. */
export async function measureCeiling(opts: {
  grid?: string;
  rounds?: number;
  points?: number;
  flagSets?: readonly string[];
  /** Before each run, wait up to this long for the machine to be quiet (other processes under a tenth of a core). */
  quietMs?: number;
  log?: (s: string) => void;
}): Promise<CeilingFigures[]> {
  const grid = opts.grid ?? RESIZE_GRID;
  const flagSets = opts.flagSets ?? [(await workerNodeFlags()).join(' ')];
  const rounds = opts.rounds ?? 3;
  const limit = opts.points ?? Infinity;
  const log = opts.log ?? ((s: string) => console.log(s));
  const runs = flagSets.map(() => ({ one: [] as Report[][], two: [] as Report[][], foreign: [] as number[] }));
  const run = async (parts: number, argv: readonly string[]): Promise<{ reports: Report[]; foreign: number }> => {
    if (opts.quietMs) await quiet(0.1, opts.quietMs);
    return round(grid, parts, argv, limit);
  };
  for (let r = 1; r <= rounds; r++) {
    for (const [i, flags] of flagSets.entries()) {
      const argv = flags.split(/\s+/).filter(Boolean);
      const load = loadavg()[0]!.toFixed(2);
      const a = await run(1, argv);
      const b = await run(2, argv);
      const [one, two] = [a.reports, b.reports];
      runs[i]!.one.push(one);
      runs[i]!.two.push(two);
      runs[i]!.foreign.push(a.foreign, b.foreign);
      const w2 = Math.max(...two.map((t) => t.wall));
      const ms = (rs: Report[], k: 'cpu' | 'main' | 'helpers'): string => ((sum(rs, k) / sum(rs, 'points')) * 1000).toFixed(1);
      log(
        `#${r} [${flags || 'node defaults'}] load ${load}: 1 process ${one[0]!.wall.toFixed(2)} s (${ms(one, 'cpu')} ms CPU a point: main ${ms(one, 'main')}, helpers ${ms(one, 'helpers')}; others took ${a.foreign.toFixed(2)} cores), ` +
          `2 processes ${two.map((t) => t.wall.toFixed(2)).join(' and ')} s (${ms(two, 'cpu')} ms: main ${ms(two, 'main')}, helpers ${ms(two, 'helpers')}; others ${b.foreign.toFixed(2)} cores) → ${(two.reduce((a, x) => a + x.points / x.wall, 0) / (one[0]!.points / one[0]!.wall)).toFixed(2)}× by rates, ${(one[0]!.wall / w2).toFixed(2)}× by the slower half`,
      );
    }
  }
  return flagSets.map((flags, i) => {
    const { one, two } = runs[i]!;
    const wall1 = median(one.map((o) => o[0]!.wall));
    const wall2 = median(two.map((t) => Math.max(...t.map((x) => x.wall))));
    const per = (rs: Report[][], k: 'cpu' | 'helpers' | 'main'): number => median(rs.map((x) => sum(x, k) / sum(x, 'points')));
    const f: CeilingFigures = {
      flags,
      wall1,
      wall2,
      cpuPerPoint1: per(one, 'cpu'),
      cpuPerPoint2: per(two, 'cpu'),
      helpersPerPoint1: per(one, 'helpers'),
      helpersPerPoint2: per(two, 'helpers'),
      mainPerPoint1: per(one, 'main'),
      ceiling: median(one.map((o, j) => two[j]!.reduce((a, x) => a + x.points / x.wall, 0) / (o[0]!.points / o[0]!.wall))),
      staticCeiling: median(one.map((o, j) => o[0]!.wall / Math.max(...two[j]!.map((x) => x.wall)))),
      contention: per(two, 'cpu') / per(one, 'cpu'),
      idleEstimate: (2 * per(one, 'main')) / per(two, 'cpu'),
      rounds,
      othersMaxCores: Math.max(...runs[i]!.foreign),
    };
    log(
      `[${flags || 'node defaults'}] medians of ${rounds}: 1 process ${wall1.toFixed(2)} s, 2 processes ${wall2.toFixed(2)} s → ceiling ${f.ceiling.toFixed(2)}× by rates (${f.staticCeiling.toFixed(2)}× by the slower half's wall); ` +
        `CPU a point ${(f.cpuPerPoint1 * 1000).toFixed(1)} → ${(f.cpuPerPoint2 * 1000).toFixed(1)} ms (helpers ${(f.helpersPerPoint1 * 1000).toFixed(1)} → ${(f.helpersPerPoint2 * 1000).toFixed(1)}): contention ${f.contention.toFixed(3)}; ` +
        `idle estimate 2 × main thread a point (${(f.mainPerPoint1 * 1000).toFixed(1)} ms) with 1 / CPU a point with 2 = ${f.idleEstimate.toFixed(2)}×`,
    );
    return f;
  });
}

const sum = (rs: readonly Report[], k: keyof Report): number => rs.reduce((a, r) => a + r[k], 0);

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      child: { type: 'string' },
      parts: { type: 'string', default: '1' },
      points: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      quiet: { type: 'string' },
      flags: { type: 'string', multiple: true },
    },
  });
  const grid = resolve(positionals[0] ?? RESIZE_GRID);
  const limit = values.points !== undefined ? Number(values.points) : Infinity;
  if (values.child !== undefined) await child(grid, Number(values.child), Number(values.parts), limit);
  else {
    console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    await measureCeiling({ grid, rounds: Number(values.rounds), points: limit, ...(values.quiet ? { quietMs: Number(values.quiet) * 1000 } : {}), ...(values.flags ? { flagSets: values.flags } : {}) });
  }
}
