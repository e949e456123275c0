/**
 * The embedded default: a pool of worker processes on this machine (child processes of the `memhp` binary,
 * talking over Node's IPC channel). Each process runs one point at a time; a process that dies holding a point
 * is replaced and the point runs again, up to `maxAttempts` times, then it becomes an error row.
 *
 * Interrupt (the sweep's AbortSignal): no new point is handed out, the points in flight finish and are
 * recorded, and the processes are let go, so a later `--resume` runs only what is left.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { PointJob, PointRunner, WorkerCommand } from './job.js';
import type { SweepPoint } from './matrix.js';
import { errorRow, type ResultRow } from './results.js';

export interface PoolOptions {
  readonly jobs: number;
  readonly command: WorkerCommand;
  /** Deliveries of a point before it becomes an error row (default 3). */
  readonly maxAttempts?: number;
  readonly signal?: AbortSignal;
  readonly onStart?: (p: SweepPoint) => void;
  readonly onResult: (p: SweepPoint, row: ResultRow) => void;
}

type ToWorker = { type: 'job'; job: PointJob };
type FromWorker = { type: 'result'; id: string; row: ResultRow } | { type: 'failed'; id: string; message: string };

export async function runLocalPool(jobs: readonly PointJob[], opts: PoolOptions): Promise<{ interrupted: boolean }> {
  const queue = jobs.map((job) => ({ job, attempts: 0, lastError: '' }));
  const maxAttempts = opts.maxAttempts ?? 3;
  const n = Math.max(1, Math.min(opts.jobs, queue.length));
  let live = 0;
  const children = new Set<ChildProcess>();
  return new Promise((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished || live > 0) return;
      finished = true;
      for (const c of children) c.disconnect?.();
      resolve({ interrupted: Boolean(opts.signal?.aborted) && queue.length > 0 });
    };
    const stopped = (): boolean => Boolean(opts.signal?.aborted);
    opts.signal?.addEventListener('abort', () => {
      for (const c of children) if (!busy.has(c) && c.connected) c.disconnect();
      finish();
    });
    const busy = new Map<ChildProcess, (typeof queue)[number]>();

    const feed = (c: ChildProcess): void => {
      const next = stopped() ? undefined : queue.shift();
      if (!next) {
        if (c.connected) c.disconnect();
        return;
      }
      next.attempts++;
      busy.set(c, next);
      opts.onStart?.(next.job.point);
      c.send({ type: 'job', job: next.job } satisfies ToWorker);
    };

    const spawnOne = (): void => {
      const c = fork(opts.command.script, [...opts.command.args], {
        execArgv: [...opts.command.execArgv],
        env: { ...process.env, ...opts.command.env },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        // Ctrl-C on a terminal reaches the whole process group; the pool decides what the workers do.
        detached: false,
      });
      live++;
      children.add(c);
      let stderr = '';
      c.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
      c.on('message', (m: FromWorker) => {
        const held = busy.get(c);
        if (!held || held.job.point.id !== m.id) return;
        busy.delete(c);
        if (m.type === 'result') opts.onResult(held.job.point, m.row);
        else opts.onResult(held.job.point, errorRow(held.job.point, 'error', m.message));
        feed(c);
      });
      c.on('exit', (code, signal) => {
        live--;
        children.delete(c);
        const held = busy.get(c);
        busy.delete(c);
        if (held) {
          const why = `worker process ended (${signal ?? `exit ${code}`}) while running the point${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`;
          held.lastError = why;
          if (held.attempts >= maxAttempts) opts.onResult(held.job.point, errorRow(held.job.point, 'dead', `${why}; gave up after ${held.attempts} attempts`));
          else queue.unshift(held);
        }
        if (!stopped() && queue.length > 0 && live < n) spawnOne();
        finish();
      });
      c.on('error', () => {
        // 'exit' follows; a failure to send is handled there.
      });
      feed(c);
    };
    if (queue.length === 0) return finish();
    for (let i = 0; i < n; i++) spawnOne();
  });
}

/** The worker end of the pool: run each job the parent sends with the CLI's runner; exit when let go. */
export function serveIpcWorker(run: PointRunner): void {
  // The parent pool handles Ctrl-C for the whole sweep; a worker finishes its point.
  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: ToWorker) => {
    if (m?.type !== 'job') return;
    const id = m.job.point.id;
    run(m.job).then(
      (row: ResultRow) => process.send?.({ type: 'result', id, row } satisfies FromWorker),
      (e: unknown) => process.send?.({ type: 'failed', id, message: e instanceof Error ? e.message : String(e) } satisfies FromWorker),
    );
  });
}

/**
 * One worker process that runs points for a caller on this thread (the NATS worker): the point simulates in
 * the child, so this thread stays free to send JetStream heartbeats while it runs.
 */
export class IpcChild {
  #child: ChildProcess | undefined;
  #pending: { id: string; resolve: (r: ResultRow) => void; reject: (e: Error) => void } | undefined;
  #stderr = '';
  constructor(readonly command: WorkerCommand) {}

  run(job: PointJob): Promise<ResultRow> {
    const c = this.#ensure();
    return new Promise((resolve, reject) => {
      this.#pending = { id: job.point.id, resolve, reject };
      c.send({ type: 'job', job } satisfies ToWorker);
    });
  }

  close(): void {
    const c = this.#child;
    this.#child = undefined;
    if (c?.connected) c.disconnect();
  }

  kill(): void {
    this.#child?.kill('SIGKILL');
  }

  #ensure(): ChildProcess {
    if (this.#child && this.#child.connected) return this.#child;
    const c = fork(this.command.script, [...this.command.args], {
      execArgv: [...this.command.execArgv],
      env: { ...process.env, ...this.command.env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.#stderr = '';
    c.stderr?.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-2000)));
    c.on('message', (m: FromWorker) => {
      const p = this.#pending;
      if (!p || p.id !== m.id) return;
      this.#pending = undefined;
      if (m.type === 'result') p.resolve(m.row);
      else p.reject(new Error(m.message));
    });
    c.on('exit', (code, signal) => {
      if (this.#child === c) this.#child = undefined;
      const p = this.#pending;
      this.#pending = undefined;
      p?.reject(new Error(`worker process ended (${signal ?? `exit ${code}`}) while running the point${this.#stderr.trim() ? `: ${this.#stderr.trim().split('\n').pop()}` : ''}`));
    });
    c.on('error', () => {});
    this.#child = c;
    return c;
  }
}
