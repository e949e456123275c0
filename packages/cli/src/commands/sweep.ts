/**
 * `memhp sweep <grid.yaml> -o results/`: run every point of a sweep file (a scenario plus a `matrix:`) in a
 * local pool of worker processes, or through NATS JetStream with `--nats URL` and `memhp worker` processes
 * anywhere, and write one row per point as results.csv and results.jsonl (`memhp query results/ "…"`).
 * `memhp worker --nats URL` is the other end. @memhp/fleet does the work; this module wires it to the CLI.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { ResultRow, SweepPoint } from '@memhp/fleet';
import type * as FleetLocal from '@memhp/fleet/local';
import type { LoadedScenario } from '../scenario/load.js';
import { examples, globals } from '../program.js';
import { env, optInt } from './common.js';
import { RefusedError, UserError } from '../errors.js';
import { paint, printJson } from '../render/output.js';
import { asCliError, natsEnvOptions } from '../log-location.js';
import { whileStoppable } from '../lifecycle.js';

interface SweepOpts {
  output?: string;
  jobs?: string;
  resume?: boolean;
  logs?: string;
  nats?: string;
  creds?: string;
  tlsCa?: string;
  context?: string;
  ackWait?: string;
  maxDeliveries?: string;
}

interface WorkerOpts {
  nats?: string;
  stdio?: boolean;
  creds?: string;
  tlsCa?: string;
  context?: string;
  maxPoints?: string;
  idleExit?: string;
}

const natsOptions = (cmd: Command): void => {
  cmd
    .option('--creds <file>', 'NATS credentials file (JWT + NKey), as the nats CLI takes it')
    .option('--tls-ca <file>', 'CA certificate for a TLS server')
    .option('--context <name>', 'a nats CLI context (~/.config/nats/context/NAME.json) or a path to one');
};

/**
 * The Node flags of a worker process (a local pool's, and the child a `memhp worker --nats` runs its points in):
 * one V8 background thread (`--v8-pool-size=1`) instead of Node's four. Workers run one per core, so a worker's
 * extra helper threads (parallel scavenges, concurrent compiles) only take the cores of the other workers, and the
 * contention costs CPU: on grid-512-resize the workers spent about 15% less CPU on background threads with one
 * each (1 and 2 jobs, 5 runs each; main threads the same within noise). A flag the user gave (in the command's
 * Node flags or NODE_OPTIONS) wins over the one here of the same name. fleet's bench/ceiling.ts measures with these.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--v8-pool-size=1'];

/** The `memhp` process a worker runs as: this binary, with the Node flags it was started with, and WORKER_NODE_FLAGS. */
function workerCommand(cmd: Command): { script: string; execArgv: string[]; args: string[] } {
  const arch = globals(cmd).archModule ?? [];
  const name = (flag: string): string => flag.split('=')[0]!.replace(/_/g, '-');
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map(name);
  const ours = WORKER_NODE_FLAGS.filter((f) => !given.includes(name(f)));
  return { script: process.argv[1]!, execArgv: [...ours, ...process.execArgv], args: [...arch.flatMap((m) => ['--arch-module', m]), 'worker', '--stdio'] };
}

export function registerSweep(program: Command): void {
  const c = program
    .command('sweep')
    .description('run a scenario over a matrix of values (a local worker pool, or NATS JetStream workers) and write one results row per point')
    .argument('<sweep>', 'sweep file: a scenario with a matrix: of values (${{ matrix.NAME }} where they go)')
    .requiredOption('-o, --output <dir>', 'results directory (results.csv, results.jsonl)')
    .option('-j, --jobs <n>', 'local worker processes (default: the number of cores)')
    .option('--resume', 'keep the rows already in the results directory and run only the other points')
    .option('--logs <dir>', "record each point's event log as DIR/<point>.ndjson")
    .option('--nats <url>', 'run through NATS JetStream (nats://HOST:PORT): start `memhp worker --nats URL` anywhere')
    .option('--ack-wait <ms>', 'NATS: a point without an ack or heartbeat for this long is delivered again', '30000')
    .option('--max-deliveries <n>', 'NATS: deliveries of a point before it is dead-lettered', '3');
  natsOptions(c);
  c.addHelpText('after', examples([
    ['memhp sweep examples/sweeps/hot-add-grid.yaml -o .tmp/grid', 'the grid in a local pool, one process per core'],
    ['memhp query .tmp/grid "select kernel, size, memmap_bytes_buddy from results order by all"', 'SQL over the results'],
    ['memhp sweep grid.yaml -o results --nats nats://10.0.0.5:4222', 'the same through JetStream; run `memhp worker --nats nats://10.0.0.5:4222` on each machine'],
  ]));
  c.action(async (file: string, o: SweepOpts, cmd: Command) => {
    // The NATS client is loaded only for a sweep through NATS (the local pool needs @memhp/fleet/local).
    const viaNats = o.nats !== undefined || o.context !== undefined;
    const fleet: typeof FleetLocal = viaNats ? await import('@memhp/fleet') : await import('@memhp/fleet/local');
    let pool: InstanceType<typeof fleet.LocalPool> | undefined;
    try {
      const jobs = o.jobs !== undefined ? optInt(o.jobs, '--jobs')! : availableParallelism();
      if (jobs < 1) throw new UserError('at least one job', { field: '--jobs' });
      const ackWaitMs = optInt(o.ackWait, '--ack-wait')!;
      const maxDeliver = optInt(o.maxDeliveries, '--max-deliveries')!;
      if (maxDeliver < 1) throw new UserError('at least one delivery', { field: '--max-deliveries' });
      // The local pool's processes start first, so their start-up overlaps all the sweep still does before it
      // runs a point (loading its modules, reading and expanding the sweep file, checking every point); those the
      // points turn out not to need are let go, and all of them are killed if the sweep goes no further.
      if (!viaNats) pool = new fleet.LocalPool({ jobs, command: workerCommand(cmd), maxAttempts: maxDeliver });
      const { out } = await env(cmd);
      const { validatePoints, locateProblem } = await import('../sweep/point.js');
      const server = o.nats !== undefined ? (await import('@memhp/fleet')).parseServerUrl(o.nats) : undefined;
      const sweep = fleet.loadSweepFile(file);
      pool?.shrink(sweep.points.length);
      // Checked in the pool's processes, in parallel, which keep each loaded point for its run. Through NATS,
      // the sweep checks each chunk of points just before it publishes them, so workers start on the first.
      if (pool) {
        const problem = await pool.check(file, sweep.points);
        if (problem) throw locateProblem(sweep, problem);
      }
      const logsDir = o.logs;
      const dir = new fleet.ResultsDir(o.output!);
      if (logsDir) new fleet.ResultsDir(logsDir);
      const rows = o.resume ? dir.done() : new Map<string, ResultRow>();
      for (const id of [...rows.keys()]) if (!sweep.points.some((p) => p.id === id)) rows.delete(id);
      const check = (points: readonly SweepPoint[]): void => validatePoints(sweep, points);
      // Through NATS the points to run are checked as they are published; those already done, here.
      if (!pool) check(sweep.points.filter((p) => rows.has(p.id)));
      // The table starts afresh once every point is checked (a refused sweep leaves the last one as it was).
      const reset = (): void => {
        if (!o.resume) dir.reset();
      };
      if (pool) reset();
      const todo = sweep.points.filter((p) => !rows.has(p.id));
      const pointJobs = todo.map((point) => ({ file, point, ...(logsDir ? { logs: { dir: logsDir } } : {}) }));

      const ac = new AbortController();
      let interrupts = 0;
      const onSigint = (): void => {
        interrupts++;
        if (interrupts === 1) {
          process.stderr.write('\nmemhp: interrupted: finishing the points in flight (Ctrl-C again to stop now)\n');
          ac.abort();
        } else {
          dir.flush();
          process.exit(130);
        }
      };
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigint);
      const bar = !out.json && process.stderr.isTTY && todo.length > 0 ? await progressBar(sweep.points.length, rows.size) : null;
      const started = Date.now();
      const onResult = (p: SweepPoint, row: ResultRow, log?: Uint8Array): void => {
        if (rows.has(p.id)) return;
        rows.set(p.id, row);
        dir.append(row);
        // NATS: the log the worker put in the object store, written here as a local sweep writes it.
        if (log && logsDir) writeFileSync(join(logsDir, `${p.id}.ndjson`), log);
        bar?.increment(1, { point: p.label.slice(0, 40) });
      };
      let interrupted: boolean;
      try {
        // Stoppable: the first signal reaches onSigint (finish the points in flight) instead of ending the process.
        ({ interrupted } = await whileStoppable(async () => {
          if (!pool) {
            const nats = { ...(server ? { url: server } : {}), ...natsEnvOptions(), ...(o.creds ? { creds: o.creds } : {}), ...(o.tlsCa ? { tlsCa: o.tlsCa } : {}), ...(o.context ? { context: o.context } : {}) };
            return (await import('@memhp/fleet')).runNatsSweep(pointJobs, { nats, queue: { ackWaitMs, maxDeliver }, done: new Set(rows.keys()), resume: Boolean(o.resume), signal: ac.signal, check, onChecked: reset, onResult });
          }
          return pool.run(pointJobs, { signal: ac.signal, onResult });
        }));
      } finally {
        dir.flush();
        bar?.stop();
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
      const columns = dir.writeTables(sweep.points, rows);
      const counts: Record<string, number> = {};
      for (const r of rows.values()) counts[String(r.status)] = (counts[String(r.status)] ?? 0) + 1;
      const seconds = (Date.now() - started) / 1000;
      const summary = { sweep: file, points: sweep.points.length, done: rows.size, ran: rows.size - (sweep.points.length - todo.length), byStatus: counts, columns: columns.length, seconds, results: [`${o.output}/${fleet.CSV_FILE}`, `${o.output}/${fleet.JSONL_FILE}`], mode: server || o.context ? `nats ${server ?? `context ${o.context}`}` : `local, ${jobs} job${jobs === 1 ? '' : 's'}` };
      if (out.json) printJson(out, summary);
      else {
        const p = paint(out);
        out.line(`${p.bold(file)}: ${rows.size}/${sweep.points.length} points (${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}) in ${seconds.toFixed(1)} s, ${summary.mode}`);
        out.line(p.dim(`results: ${summary.results.join(', ')}; query them with: memhp query ${o.output} "select * from results"`));
      }
      if (interrupted || ac.signal.aborted) {
        const e = new RefusedError(`interrupted with ${sweep.points.length - rows.size} point(s) left; run again with --resume to finish`);
        (e as { exitCode: number }).exitCode = 130;
        throw e;
      }
    } catch (e) {
      // Not needed after all (a refused sweep, a bad results directory); once the pool ran, there is none left.
      pool?.close();
      throw asCliError(e);
    }
  });
}

async function progressBar(total: number, done: number) {
  const cliProgress = (await import('cli-progress')).default;
  const bar = new cliProgress.SingleBar({ stream: process.stderr, format: ' {bar} {value}/{total} points | {eta_formatted} left | {point}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  bar.start(total, done, { point: '' });
  return bar;
}

export function registerWorker(program: Command): void {
  const c = program
    .command('worker')
    .description('a sweep worker: pull points from NATS JetStream, run them, publish their rows (start any number, anywhere)')
    .option('--nats <url>', 'NATS server with JetStream (nats://HOST:PORT)')
    .option('--max-points <n>', 'exit after this many points')
    .option('--idle-exit <ms>', 'exit after this long without a point')
    .addOption(new Option('--stdio', 'run points sent by a local sweep over IPC (internal)').hideHelp())
    .addHelpText('after', examples([
      ['memhp worker --nats nats://10.0.0.5:4222', 'run points of any sweep published on that server, until Ctrl-C'],
      ['memhp worker --context fleet --idle-exit 60000', 'the server and credentials of a nats CLI context; exit after a minute without work'],
    ]));
  natsOptions(c);
  c.action(async (o: WorkerOpts, cmd: Command) => {
    const { registry } = await env(cmd);
    const { runPoint, checkPoint } = await import('../sweep/point.js');
    if (o.stdio) {
      // A local pool's worker process: no NATS client to load.
      const fleet = await import('@memhp/fleet/local');
      if (!process.send) throw new UserError('--stdio is for worker processes a sweep starts', { field: '--stdio' });
      // Points this process checked, loaded once: the run takes its point from here (any other it loads itself).
      const loaded = new Map<string, LoadedScenario>();
      fleet.serveIpcWorker(
        (job) => {
          const sc = loaded.get(job.point.id);
          loaded.delete(job.point.id);
          return runPoint(job, registry, sc);
        },
        (f, p) => checkPoint(f, p, loaded),
      );
      await new Promise<never>(() => {});
    }
    const fleet = await import('@memhp/fleet');
    try {
      if (!o.nats && !o.context && !natsEnvOptions().context) throw new UserError('give the NATS server: --nats nats://HOST:PORT (or --context)', { field: '--nats' });
      const maxPoints = optInt(o.maxPoints, '--max-points');
      const idleExitMs = optInt(o.idleExit, '--idle-exit');
      const nats = { ...(o.nats ? { url: fleet.parseServerUrl(o.nats) } : {}), ...natsEnvOptions(), ...(o.creds ? { creds: o.creds } : {}), ...(o.tlsCa ? { tlsCa: o.tlsCa } : {}), ...(o.context ? { context: o.context } : {}) };
      const ac = new AbortController();
      const stop = (): void => {
        if (ac.signal.aborted) process.exit(130);
        process.stderr.write('memhp worker: stopping after the point in flight\n');
        ac.abort();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const r = await whileStoppable(() => fleet.runNatsWorker({
        nats,
        command: workerCommand(cmd),
        signal: ac.signal,
        ...(maxPoints !== undefined ? { maxPoints } : {}),
        ...(idleExitMs !== undefined ? { idleExitMs } : {}),
        onPoint: (what, label, detail) => process.stderr.write(`memhp worker: ${what} ${label}${detail ? `: ${detail}` : ''}\n`),
        onReady: () => process.stderr.write('memhp worker: ready\n'),
      }));
      process.stderr.write(`memhp worker: ${r.points} point(s)\n`);
    } catch (e) {
      throw asCliError(e);
    }
  });
}
