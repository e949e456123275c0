/**
 * The embedded default: a pool of long-lived worker processes on this machine (child processes of the `memhp`
 * binary, talking over Node's IPC channel). Each process runs many points, one at a time, and holds at most one
 * more queued behind the running one, so it never waits for the parent between points; results stream back one
 * message per point. A process that dies holding a point is replaced and the point it was running counts a
 * delivery (the one queued behind it does not); after `maxAttempts` deliveries the point becomes an error row.
 *
 * The processes start as soon as the pool is made (`new LocalPool`), so their start-up overlaps what the caller
 * still has to do (reading the sweep file, checking the points) before `run`; `shrink` lets go of those it turns
 * out not to need.
 *
 * Interrupt (the sweep's AbortSignal): no new point is handed out, each process gives back the point queued
 * behind its running one and finishes the running one, which is recorded; then the processes are let go, so a
 * later `--resume` runs only what is left.
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

/** What a worker found wrong with a point when checking it (the CLI locates it in the sweep file). */
export interface PointProblem {
  readonly index: number;
  readonly detail: string;
  readonly field?: string;
}

/** The check side of a worker, given by the CLI: load the point as a run would, and say what is wrong with it. */
export type PointChecker = (file: string, point: SweepPoint) => Omit<PointProblem, 'index'> | undefined;

type ToWorker = { type: 'job'; job: PointJob } | { type: 'drop' } | { type: 'check'; file: string; points: SweepPoint[] };
type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; id: string; row: ResultRow }
  | { type: 'failed'; id: string; message: string }
  | { type: 'dropped'; ids: string[] }
  | { type: 'checked'; problem?: PointProblem };

/** Points a process holds at most: the running one and one queued behind it. */
const DEPTH = 2;
/** Processes that end before running any point, in a row, before the pool gives up (a worker that cannot start). */
const MAX_STARTUP_FAILURES = 3;
/** Points per check message: small enough that a process that started first takes more of them. */
const CHECK_CHUNK = 32;

interface Item {
  readonly job: PointJob;
  attempts: number;
}

interface Running {
  readonly signal: AbortSignal | undefined;
  readonly onStart: ((p: SweepPoint) => void) | undefined;
  readonly onResult: (p: SweepPoint, row: ResultRow) => void;
  readonly resolve: (r: { interrupted: boolean }) => void;
  readonly reject: (e: Error) => void;
}

export class LocalPool {
  readonly #command: WorkerCommand;
  #n: number;
  readonly #maxAttempts: number;
  readonly #held = new Map<ChildProcess, Item[]>();
  readonly #stderr = new Map<ChildProcess, string>();
  /** Processes that said they are up, so an exit of theirs is not a start-up failure. */
  readonly #ready = new Set<ChildProcess>();
  #queue: Item[] = [];
  #run: Running | undefined;
  #startupFailures = 0;
  #closed = false;
  #check: { chunks: SweepPoint[][]; file: string; out: Map<ChildProcess, number>; problems: PointProblem[]; resolve: (p: PointProblem | undefined) => void; reject: (e: Error) => void } | undefined;

  constructor(opts: { readonly jobs: number; readonly command: WorkerCommand; readonly maxAttempts?: number }) {
    this.#command = opts.command;
    this.#n = Math.max(1, opts.jobs);
    this.#maxAttempts = opts.maxAttempts ?? 3;
    for (let i = 0; i < this.#n; i++) this.#spawn();
  }

  /**
   * Check every point in the worker processes, in parallel, before anything runs (a worker keeps what it loaded
   * for the run). Resolves with the problem of the first point (in sweep order) that does not load, if any.
   */
  check(file: string, points: readonly SweepPoint[]): Promise<PointProblem | undefined> {
    if (this.#run || this.#check || this.#closed) throw new Error('check before run, once');
    const chunks: SweepPoint[][] = [];
    for (let i = 0; i < points.length; i += CHECK_CHUNK) chunks.push(points.slice(i, i + CHECK_CHUNK));
    return new Promise((resolve, reject) => {
      this.#check = { chunks, file, out: new Map(), problems: [], resolve, reject };
      for (const c of this.#held.keys()) this.#checkNext(c);
      this.#checkDone();
    });
  }

  #checkNext(c: ChildProcess): void {
    const k = this.#check;
    if (!k || k.out.has(c) || !c.connected) return;
    const chunk = k.chunks.shift();
    if (!chunk) return;
    k.out.set(c, chunk.length);
    c.send({ type: 'check', file: k.file, points: chunk } satisfies ToWorker);
  }

  #checkDone(): void {
    const k = this.#check;
    if (!k || k.out.size > 0 || k.chunks.length > 0) return;
    this.#check = undefined;
    k.resolve(k.problems.sort((a, b) => a.index - b.index)[0]);
  }

  /** Run these points; resolves once every point has a row, or after an interrupt once the processes let go. */
  run(jobs: readonly PointJob[], o: Omit<PoolOptions, 'jobs' | 'command' | 'maxAttempts'>): Promise<{ interrupted: boolean }> {
    if (this.#run || this.#closed) throw new Error('a LocalPool runs once');
    this.#queue = jobs.map((job) => ({ job, attempts: 0 }));
    return new Promise((resolve, reject) => {
      this.#run = { signal: o.signal, onStart: o.onStart, onResult: o.onResult, resolve, reject };
      o.signal?.addEventListener('abort', () => this.#interrupt(), { once: true });
      if (o.signal?.aborted) this.#interrupt();
      for (const c of [...this.#held.keys()]) this.#feed(c);
      this.#topUp();
      this.#finish();
    });
  }

  /**
   * Keep at most `jobs` processes (a sweep starts its pool before it knows how many points it has): the surplus,
   * which has been handed nothing, is killed. Before `check` and `run`.
   */
  shrink(jobs: number): void {
    if (this.#run || this.#check) throw new Error('shrink before check and run');
    this.#n = Math.max(1, Math.min(this.#n, jobs));
    for (const c of [...this.#held.keys()].slice(this.#n)) {
      this.#held.delete(c);
      this.#stderr.delete(c);
      c.kill('SIGKILL');
    }
  }

  /** Kill the processes (the caller gives up before running, e.g. a point did not check). */
  close(): void {
    this.#closed = true;
    for (const c of this.#held.keys()) c.kill('SIGKILL');
  }

  #stopped(): boolean {
    return Boolean(this.#run?.signal?.aborted);
  }

  #spawn(): void {
    const cmd = this.#command;
    const c = fork(cmd.script, [...cmd.args], {
      execArgv: [...cmd.execArgv],
      env: { ...process.env, ...cmd.env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // Ctrl-C on a terminal reaches the whole process group; the pool decides what the workers do.
      detached: false,
    });
    this.#held.set(c, []);
    this.#stderr.set(c, '');
    c.stderr?.on('data', (d: Buffer) => this.#stderr.set(c, (this.#stderr.get(c)! + d.toString()).slice(-2000)));
    c.on('message', (m: FromWorker) => this.#message(c, m));
    c.on('exit', (code, signal) => this.#exit(c, code, signal));
    c.on('error', () => {
      // 'exit' follows; a failure to send is handled there.
    });
  }

  /** Hand a process points until it holds DEPTH (one while the queue is short, to keep the tail balanced). */
  #feed(c: ChildProcess): void {
    const held = this.#held.get(c);
    const run = this.#run;
    if (!held || !run || !c.connected) return;
    const depth = this.#queue.length >= DEPTH * this.#held.size ? DEPTH : 1;
    while (held.length < depth && !this.#stopped() && this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      next.attempts++;
      held.push(next);
      run.onStart?.(next.job.point);
      c.send({ type: 'job', job: next.job } satisfies ToWorker);
    }
    if (held.length === 0) c.disconnect();
  }

  #message(c: ChildProcess, m: FromWorker): void {
    const held = this.#held.get(c);
    const run = this.#run;
    if (m.type === 'ready') {
      this.#ready.add(c);
      this.#startupFailures = 0;
      return;
    }
    if (m.type === 'checked') {
      const k = this.#check;
      if (!k) return;
      k.out.delete(c);
      if (m.problem) {
        k.problems.push(m.problem);
        k.chunks = []; // one problem is enough to refuse the sweep
      }
      this.#checkNext(c);
      return this.#checkDone();
    }
    if (!held || !run) return;
    if (m.type === 'dropped') {
      const back = held.filter((h) => m.ids.includes(h.job.point.id));
      this.#held.set(c, held.filter((h) => !m.ids.includes(h.job.point.id)));
      for (const h of back) h.attempts--;
      this.#queue.unshift(...back);
    } else {
      const i = held.findIndex((h) => h.job.point.id === m.id);
      if (i < 0) return;
      const [item] = held.splice(i, 1);
      run.onResult(item!.job.point, m.type === 'result' ? m.row : errorRow(item!.job.point, 'error', m.message));
    }
    if (this.#held.get(c)!.length === 0 || !this.#stopped()) this.#feed(c);
  }

  #interrupt(): void {
    for (const [c, held] of this.#held) {
      if (!c.connected) continue;
      if (held.length === 0) c.disconnect();
      else if (held.length > 1) c.send({ type: 'drop' } satisfies ToWorker);
    }
    this.#finish();
  }

  #exit(c: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.#held.has(c)) return; // let go by shrink
    const held = this.#held.get(c) ?? [];
    const stderr = this.#stderr.get(c) ?? '';
    this.#held.delete(c);
    this.#stderr.delete(c);
    const k = this.#check;
    if (k && !this.#closed) {
      // A process lost while checking: its chunk cannot be known to be fine, so the check fails (a worker that
      // cannot load the points would fail every run of them too).
      this.#closed = true;
      for (const o of this.#held.keys()) o.kill('SIGKILL');
      this.#check = undefined;
      k.reject(new Error(`a worker process ended (${signal ?? `exit ${code}`}) while checking the points${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`));
      return;
    }
    const run = this.#run;
    if (!run || this.#closed) return this.#finish();
    const why = `worker process ended (${signal ?? `exit ${code}`})`;
    const last = stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : '';
    if (!this.#ready.has(c) && code !== 0 && !this.#stopped()) {
      // Ended before it was up: a worker that cannot start. What it held goes back uncounted.
      this.#queue.unshift(...held.map((h) => ((h.attempts--, h))));
      if (++this.#startupFailures >= MAX_STARTUP_FAILURES) {
        this.#closed = true;
        for (const o of this.#held.keys()) o.kill('SIGKILL');
        this.#run = undefined;
        run.reject(new Error(`worker processes end at start-up (${signal ?? `exit ${code}`})${last}`));
        return;
      }
    } else if (held.length > 0) {
      const [running, ...queued] = held;
      // The queued points never started: they go back uncounted, after the one that was running.
      for (const q of queued) q.attempts--;
      if (this.#stopped()) this.#queue.unshift(running!, ...queued);
      else if (running!.attempts >= this.#maxAttempts) {
        this.#queue.unshift(...queued);
        run.onResult(running!.job.point, errorRow(running!.job.point, 'dead', `${why} while running the point${last}; gave up after ${running!.attempts} attempts`));
      } else this.#queue.unshift(running!, ...queued);
    }
    this.#ready.delete(c);
    this.#topUp();
    this.#finish();
  }

  /** Start processes again up to the pool's size while there are points to run. */
  #topUp(): void {
    if (this.#stopped() || this.#closed) return;
    while (this.#queue.length > 0 && this.#held.size < this.#n) {
      this.#spawn();
      // A new process is fed once it is up: the IPC channel queues messages sent before its handler is set.
      this.#feed([...this.#held.keys()].pop()!);
    }
  }

  #finish(): void {
    const run = this.#run;
    if (!run || this.#held.size > 0) return;
    this.#run = undefined;
    run.resolve({ interrupted: this.#stopped() && this.#queue.length > 0 });
  }
}

/** Start a pool and run these points in it (the processes start now). */
export async function runLocalPool(jobs: readonly PointJob[], opts: PoolOptions): Promise<{ interrupted: boolean }> {
  const pool = new LocalPool({ jobs: Math.min(opts.jobs, Math.max(1, jobs.length)), command: opts.command, ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}) });
  return pool.run(jobs, opts);
}

/**
 * The worker end of the pool: run the jobs the parent sends one after another with the CLI's runner, streaming
 * each row back; give back queued jobs when asked (an interrupt); exit when let go.
 */
export function serveIpcWorker(run: PointRunner, check?: PointChecker): void {
  // The parent pool handles Ctrl-C for the whole sweep; a worker finishes its point.
  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(0));
  const queue: PointJob[] = [];
  let busy = false;
  /** Messages received so far (pump waits between points until no more come in). */
  let received = 0;
  const send = (m: FromWorker): void => {
    if (process.connected) process.send?.(m);
  };
  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    while (queue.length > 0) {
      // A point runs without returning to the event loop, so what the parent sends meanwhile stays unread until
      // it ends: before each point, read what has come in, or an interrupt's `drop` would come too late and the
      // point it gives back would run. Input comes a read at a time (messages sent apart may take a read each),
      // so turn the loop until one whole turn, its poll for input included, brings no message.
      let seen: number;
      do {
        seen = received;
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
      } while (received !== seen);
      const job = queue.shift();
      if (!job) break;
      const id = job.point.id;
      try {
        send({ type: 'result', id, row: await run(job) });
      } catch (e) {
        send({ type: 'failed', id, message: e instanceof Error ? e.message : String(e) });
      }
    }
    busy = false;
  };
  send({ type: 'ready' });
  process.on('message', (m: ToWorker) => {
    received++;
    if (m?.type === 'job') {
      queue.push(m.job);
      void pump();
    } else if (m?.type === 'drop') send({ type: 'dropped', ids: queue.splice(0).map((j) => j.point.id) });
    else if (m?.type === 'check') {
      let problem: PointProblem | undefined;
      for (const p of m.points) {
        const found = check?.(m.file, p);
        if (found) {
          problem = { index: p.index, ...found };
          break;
        }
      }
      send({ type: 'checked', ...(problem ? { problem } : {}) });
    }
  });
}


/** A point an IpcChild never started: its process ended with it queued, or it was given back (`drop`). */
export class PointNotStarted extends Error {}

/**
 * One worker process that runs points for a caller on this thread (the NATS worker): the point simulates in
 * the child, so this thread stays free to send JetStream heartbeats while it runs. A caller may queue a point
 * behind the running one (`run` again before the first settles), so the child never waits between points;
 * `drop` gives back what is queued, and a process that ends fails its running point and rejects the queued
 * ones with PointNotStarted (the caller may run them again: the next `run` starts a new process).
 */
export class IpcChild {
  #child: ChildProcess | undefined;
  /** Points sent to the child, in the order it runs them: the first is running. */
  readonly #pending = new Map<string, { resolve: (r: ResultRow) => void; reject: (e: Error) => void }>();
  #stderr = '';
  /** Processes that said they are up. */
  readonly #up = new WeakSet<ChildProcess>();
  constructor(readonly command: WorkerCommand) {}

  /**
   * Start the process now, so its start-up overlaps the caller's (otherwise the first `run` starts it).
   * Resolves once the process says it is up (rejects if it ends first).
   */
  start(): Promise<void> {
    const c = this.#ensure();
    if (this.#up.has(c)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => reject(new Error(`worker process ended (${signal ?? `exit ${code}`}) at start-up${this.#stderr.trim() ? `: ${this.#stderr.trim().split('\n').pop()}` : ''}`));
      c.once('exit', onExit);
      c.on('message', (m: FromWorker) => {
        if (m.type !== 'ready') return;
        c.off('exit', onExit);
        resolve();
      });
    });
  }

  /** Points sent and not settled: the running one and those queued behind it. */
  get held(): number {
    return this.#pending.size;
  }

  run(job: PointJob): Promise<ResultRow> {
    const c = this.#ensure();
    return new Promise((resolve, reject) => {
      this.#pending.set(job.point.id, { resolve, reject });
      c.send({ type: 'job', job } satisfies ToWorker);
    });
  }

  /** Give back the points queued behind the running one: their `run`s reject with PointNotStarted. */
  drop(): void {
    if (this.#pending.size > 1 && this.#child?.connected) this.#child.send({ type: 'drop' } satisfies ToWorker);
  }

  close(): void {
    const c = this.#child;
    this.#child = undefined;
    if (c?.connected) c.disconnect();
  }

  kill(): void {
    this.#child?.kill('SIGKILL');
  }

  #settle(id: string): { resolve: (r: ResultRow) => void; reject: (e: Error) => void } | undefined {
    const p = this.#pending.get(id);
    this.#pending.delete(id);
    return p;
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
      if (m.type === 'ready') this.#up.add(c);
      else if (m.type === 'result') this.#settle(m.id)?.resolve(m.row);
      else if (m.type === 'failed') this.#settle(m.id)?.reject(new Error(m.message));
      else if (m.type === 'dropped') for (const id of m.ids) this.#settle(id)?.reject(new PointNotStarted('given back'));
    });
    c.on('exit', (code, signal) => {
      if (this.#child === c) this.#child = undefined;
      const lost = [...this.#pending.values()];
      this.#pending.clear();
      const [running, ...queued] = lost;
      running?.reject(new Error(`worker process ended (${signal ?? `exit ${code}`}) while running the point${this.#stderr.trim() ? `: ${this.#stderr.trim().split('\n').pop()}` : ''}`));
      for (const q of queued) q.reject(new PointNotStarted('its worker process ended before it started'));
    });
    c.on('error', () => {});
    this.#child = c;
    return c;
  }
}
