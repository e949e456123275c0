/**
 * Sweeps through NATS JetStream. Nothing here is a queue of our own: JetStream is.
 *
 * - `MEMHP_JOBS`: a work-queue stream (file storage) of `memhp.jobs.<sweep>`; one durable pull consumer,
 *   `memhp-workers`, shared by every worker, with an ack wait and a maximum number of deliveries. A worker that
 *   dies holding a point never acks it, so JetStream delivers it again after the ack wait.
 * - `MEMHP_RESULTS`: a stream (file storage) of `memhp.sweep.<sweep>.result.<point>` and the dead-letter subject
 *   `memhp.sweep.<sweep>.dead.<point>`. Publishes carry a message id (de-duplicated by the server) and the
 *   sweep keeps one row per point id whatever arrives twice: at-least-once delivery, each point once in the table.
 * - A point that fails on its last delivery is published to the dead-letter subject with its error by the
 *   worker; a point whose every delivery killed its worker is dead-lettered by the sweep when JetStream's
 *   MAX_DELIVERIES advisory says so. Either way it becomes an error row, never an endless loop.
 * - Workers call `working()` while a point runs, so a long point is not redelivered while it progresses.
 */
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import type { PointJob, WorkerCommand } from '../job.js';
import type { SweepPoint } from '../matrix.js';
import { IpcChild } from '../pool.js';
import { errorRow, type ResultRow } from '../results.js';
import { FleetInputError } from '../errors.js';
import { describe, openNats, sleep, type NatsOptions, type NatsSession } from './connect.js';

export const JOBS_STREAM = 'MEMHP_JOBS';
export const RESULTS_STREAM = 'MEMHP_RESULTS';
export const WORKERS = 'memhp-workers';
export const LOG_BUCKET = 'memhp-logs';

export interface QueueSettings {
  /** How long a delivered point may go without an ack or a heartbeat before it is delivered again. */
  readonly ackWaitMs: number;
  /** Deliveries of a point before it is dead-lettered. */
  readonly maxDeliver: number;
}
export const DEFAULT_QUEUE: QueueSettings = { ackWaitMs: 30_000, maxDeliver: 3 };

interface JobMessage {
  readonly sweep: string;
  /** Upload the point's log to the object store (the sweep asked for --logs). */
  readonly wantLog: boolean;
  /** This sweep invocation (a resume is another one): result message ids are per run. */
  readonly run: string;
  readonly job: PointJob;
  /** The queue settings the sweep set (so a worker need not ask the server for them per point). */
  readonly queue?: QueueSettings;
}
interface ResultMessage {
  readonly point: string;
  readonly row?: ResultRow;
  readonly dead?: { readonly error: string; readonly deliveries: number };
  /** The point's log is in the object store under this name. */
  readonly log?: string;
}

export const sweepIdOf = (points: readonly SweepPoint[]): string =>
  createHash('sha256').update(points.map((p) => p.id).join('\n')).digest('hex').slice(0, 16);

/** Create the streams and the workers' consumer if they are missing; with `settings`, make the consumer use them. */
export async function ensureQueue(s: NatsSession, settings?: QueueSettings): Promise<QueueSettings> {
  const stream = async (name: string, config: Parameters<NatsSession['jsm']['streams']['add']>[0]): Promise<void> => {
    try {
      await s.jsm.streams.info(name);
    } catch {
      await s.jsm.streams.add({ ...config, name });
    }
  };
  try {
    await stream(JOBS_STREAM, { name: JOBS_STREAM, subjects: ['memhp.jobs.*'], retention: RetentionPolicy.Workqueue, storage: StorageType.File, duplicate_window: nanos(120_000) });
    await stream(RESULTS_STREAM, { name: RESULTS_STREAM, subjects: ['memhp.sweep.>'], retention: RetentionPolicy.Limits, storage: StorageType.File, duplicate_window: nanos(120_000) });
    const want = settings ?? DEFAULT_QUEUE;
    const cfg: Partial<ConsumerConfig> = {
      durable_name: WORKERS,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(want.ackWaitMs),
      max_deliver: want.maxDeliver,
      filter_subject: 'memhp.jobs.*',
      max_ack_pending: 10_000,
    };
    try {
      const info = await s.jsm.consumers.info(JOBS_STREAM, WORKERS);
      if (settings && (info.config.ack_wait !== cfg.ack_wait || info.config.max_deliver !== cfg.max_deliver)) {
        await s.jsm.consumers.update(JOBS_STREAM, WORKERS, { ack_wait: cfg.ack_wait!, max_deliver: cfg.max_deliver! });
      }
      return settings ?? { ackWaitMs: Math.round((info.config.ack_wait ?? nanos(DEFAULT_QUEUE.ackWaitMs)) / 1e6), maxDeliver: info.config.max_deliver ?? DEFAULT_QUEUE.maxDeliver };
    } catch (e) {
      if (!/not found/i.test(describe(e))) throw e;
      await s.jsm.consumers.add(JOBS_STREAM, cfg);
      return want;
    }
  } catch (e) {
    if (e instanceof FleetInputError) throw e;
    throw new FleetInputError(`cannot set up the sweep's streams on ${s.url}: ${describe(e)}`, { field: '--nats' });
  }
}

export interface NatsSweepOptions {
  readonly nats: NatsOptions;
  readonly queue?: QueueSettings;
  /** Rows already done here (from --resume): not published again. */
  readonly done: ReadonlySet<string>;
  /** Keep what the results stream already has for this sweep (--resume); otherwise start the sweep afresh. */
  readonly resume: boolean;
  readonly signal?: AbortSignal;
  readonly onResult: (p: SweepPoint, row: ResultRow, log?: Uint8Array) => void;
}

/** Publish the points as jobs and collect one row per point from the results stream. */
export async function runNatsSweep(jobs: readonly PointJob[], o: NatsSweepOptions): Promise<{ interrupted: boolean; sweep: string }> {
  const points = jobs.map((j) => j.point);
  const sweep = sweepIdOf(points);
  const run = randomBytes(6).toString('hex');
  const s = await openNats({ ...o.nats, reconnect: true, name: `memhp sweep ${sweep}` });
  const byId = new Map(points.map((p) => [p.id, p]));
  const have = new Set<string>(o.done);
  const objm = new Objm(s.nc);
  try {
    const queue = await ensureQueue(s, o.queue);
    const { ackWaitMs } = queue;
    if (!o.resume) {
      await s.jsm.streams.purge(RESULTS_STREAM, { filter: `memhp.sweep.${sweep}.>` });
      await s.jsm.streams.purge(JOBS_STREAM, { filter: `memhp.jobs.${sweep}` });
    }
    const remaining = (): number => points.filter((p) => !have.has(p.id)).length;
    let wake: () => void = () => {};
    const take = async (m: ResultMessage): Promise<void> => {
      const p = byId.get(m.point);
      if (!p || have.has(p.id)) return; // another sweep's point, or a duplicate delivery: counted once
      have.add(p.id);
      let log: Uint8Array | undefined;
      if (m.log) log = await getLog(objm, m.log).catch(() => undefined);
      o.onResult(p, m.dead ? errorRow(p, 'dead', `dead-lettered after ${m.dead.deliveries} deliveries: ${m.dead.error}`) : m.row!, log);
      wake();
    };

    // Results (and dead letters) of this sweep, from the start of the stream: what arrived while no sweep was
    // listening (an interrupted sweep) counts too. An ordered consumer re-creates itself after a server restart.
    const consumer = await s.js.consumers.get(RESULTS_STREAM, { filter_subjects: `memhp.sweep.${sweep}.>`, deliver_policy: DeliverPolicy.All });
    const results = await consumer.consume({ max_messages: 256 });
    const reading = (async () => {
      for await (const m of results) await take(m.json<ResultMessage>());
    })();

    // Points whose every delivery killed its worker: JetStream gives up and says so in an advisory.
    const advisories = s.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${JOBS_STREAM}.${WORKERS}`);
    const pendingDead: Array<Promise<void>> = [];
    const deadLetter = async (adv: { stream_seq: number; deliveries: number }): Promise<void> => {
      // The last delivery may still be running, or its worker may be publishing its own dead letter (with the
      // point's error): give it an ack wait and a second before saying the worker was lost.
      await sleep(ackWaitMs + 1000);
      const stored = await s.jsm.streams.getMessage(JOBS_STREAM, { seq: adv.stream_seq }).catch(() => null);
      if (!stored) return;
      const jm = stored.json<JobMessage>();
      if (jm.sweep !== sweep || have.has(jm.job.point.id)) return;
      await publishDead(s, jm, `every delivery ended without a result (the worker was lost)`, adv.deliveries);
      await s.jsm.streams.deleteMessage(JOBS_STREAM, adv.stream_seq, false).catch(() => false);
    };
    const deadLettering = (async () => {
      for await (const a of advisories) pendingDead.push(deadLetter(a.json<{ stream_seq: number; deliveries: number }>()).catch(() => {}));
    })();

    // Give the ordered consumer a moment to replay what the stream holds before publishing (--resume).
    if (o.resume) await waitQuiet(() => have.size, 300, 3000);
    // Published 64 at a time (each one acknowledged by JetStream), so the round trips overlap.
    const todo = jobs.filter((j) => !have.has(j.point.id));
    for (let i = 0; i < todo.length && !o.signal?.aborted; i += 64) {
      await Promise.all(
        todo.slice(i, i + 64).map((j) =>
          retry(() => s.js.publish(`memhp.jobs.${sweep}`, JSON.stringify({ sweep, run, wantLog: Boolean(j.logs), job: { file: j.file, point: j.point }, queue } satisfies JobMessage), { msgID: `${sweep}.${run}.${j.point.id}` }), o.signal),
        ),
      );
    }
    const aborted = new Promise<void>((r) => (o.signal?.aborted ? r() : o.signal?.addEventListener('abort', () => r(), { once: true })));
    while (remaining() > 0 && !o.signal?.aborted) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => ((wake = r), (t = setTimeout(r, 1000)))), aborted]);
      clearTimeout(t);
    }
    results.stop();
    advisories.unsubscribe();
    await Promise.race([Promise.allSettled([reading, deadLettering]), sleep(2000)]);
    return { interrupted: remaining() > 0, sweep };
  } finally {
    await s.close();
  }
}

async function waitQuiet(count: () => number, quietMs: number, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  let last = -1;
  while (Date.now() < until) {
    const n = count();
    if (n === last) return;
    last = n;
    await sleep(quietMs);
  }
}

/** Publish until JetStream acknowledges (a server restart fails publishes for a while); bounded by the signal. */
async function retry<T>(f: () => Promise<T>, signal?: AbortSignal, maxMs = 120_000): Promise<T> {
  const until = Date.now() + maxMs;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (signal?.aborted || Date.now() > until) throw e;
      await sleep(250);
    }
  }
}

async function publishDead(s: NatsSession, jm: JobMessage, error: string, deliveries: number): Promise<void> {
  const id = jm.job.point.id;
  const m: ResultMessage = { point: id, dead: { error, deliveries } };
  await retry(() => s.js.publish(`memhp.sweep.${jm.sweep}.dead.${id}`, JSON.stringify(m), { msgID: `${jm.sweep}.${jm.run}.dead.${id}` }));
}

async function getLog(objm: Objm, name: string): Promise<Uint8Array | undefined> {
  const os = await objm.open(LOG_BUCKET);
  const r = await os.get(name);
  if (!r) return undefined;
  const chunks: Uint8Array[] = [];
  const reader = r.data.getReader();
  for (let c = await reader.read(); !c.done; c = await reader.read()) chunks.push(c.value);
  return Buffer.concat(chunks);
}

export interface NatsWorkerOptions {
  readonly nats: NatsOptions;
  /** How a point is run: a `memhp worker --stdio` child. */
  readonly command: WorkerCommand;
  readonly signal?: AbortSignal;
  /** Stop after this many points (tests, benchmarks); default: until signalled. */
  readonly maxPoints?: number;
  /** Exit when no job came for this long (default: never). */
  readonly idleExitMs?: number;
  readonly onPoint?: (what: 'start' | 'done' | 'failed' | 'dead', label: string, detail?: string) => void;
}

/**
 * Pull points, run each in a child process with heartbeats, publish its row, ack. The publish and ack of one point
 * overlap the fetch and run of the next (one point's tail at a time), so the round trips cost little per point.
 */
export async function runNatsWorker(o: NatsWorkerOptions): Promise<{ points: number }> {
  const s = await openNats({ ...o.nats, reconnect: true, name: 'memhp worker' });
  const child = new IpcChild(o.command);
  let points = 0;
  let idleSince = Date.now();
  try {
    await ensureQueue(s);
    const objm = new Objm(s.nc);
    let consumer: Awaited<ReturnType<NatsSession['js']['consumers']['get']>> | undefined;
    // The publish and ack of the last point, running while the next point is fetched and run.
    let tail: Promise<void> = Promise.resolve();
    try {
      while (!o.signal?.aborted && (o.maxPoints === undefined || points < o.maxPoints)) {
        if (o.idleExitMs !== undefined && Date.now() - idleSince > o.idleExitMs) break;
        let msgs: AsyncIterable<JsMsg>;
        try {
          consumer ??= await s.js.consumers.get(JOBS_STREAM, WORKERS);
          msgs = await consumer.fetch({ max_messages: 1, expires: 2000 });
        } catch {
          consumer = undefined;
          await sleep(250); // a restarting server: try again
          continue;
        }
        try {
          for await (const m of msgs) {
            idleSince = Date.now();
            const jm = m.json<JobMessage>();
            // The sweep's settings travel with the job; for a job without them, ask the server.
            let q = jm.queue;
            if (!q) {
              const cfg = (await s.jsm.consumers.info(JOBS_STREAM, WORKERS)).config;
              q = { ackWaitMs: Math.round((cfg.ack_wait ?? nanos(DEFAULT_QUEUE.ackWaitMs)) / 1e6), maxDeliver: cfg.max_deliver ?? DEFAULT_QUEUE.maxDeliver };
            }
            const finish = await handle(s, objm, child, m, jm, q, o);
            tail = tail.then(finish).catch(() => {});
            points++;
          }
        } catch {
          consumer = undefined;
          await sleep(250);
        }
      }
    } finally {
      await tail;
    }
    return { points };
  } finally {
    child.close();
    await s.close();
  }
}

/** Run one point; returns what is left after it (publish its row, ack), which may overlap the next point's run. */
async function handle(s: NatsSession, objm: Objm, child: IpcChild, m: JsMsg, jm: JobMessage, q: QueueSettings, o: NatsWorkerOptions): Promise<() => Promise<void>> {
  const p = jm.job.point;
  o.onPoint?.('start', p.label);
  const beat = setInterval(() => m.working(), Math.max(200, Math.floor(q.ackWaitMs / 3)));
  let row: ResultRow;
  const tmp = jm.wantLog ? mkdtempSync(join(tmpdir(), 'memhp-worker-')) : undefined;
  try {
    row = await child.run({ ...jm.job, ...(tmp ? { logs: { dir: tmp } } : {}) });
  } catch (e) {
    clearInterval(beat);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    const why = e instanceof Error ? e.message : String(e);
    const deliveries = m.info.deliveryCount;
    if (deliveries >= q.maxDeliver) {
      await publishDead(s, jm, why, deliveries);
      m.term(why.slice(0, 200));
      o.onPoint?.('dead', p.label, why);
    } else {
      m.nak(250);
      o.onPoint?.('failed', p.label, why);
    }
    return async () => {};
  }
  // Until the row is published and the job acked, the point stays this worker's: the heartbeats go on.
  return async () => {
    try {
      await publishRow(s, objm, m, jm, row, tmp, o);
    } finally {
      clearInterval(beat);
    }
  };
}

async function publishRow(s: NatsSession, objm: Objm, m: JsMsg, jm: JobMessage, row: ResultRow, tmp: string | undefined, o: NatsWorkerOptions): Promise<void> {
  const p = jm.job.point;
  let log: string | undefined;
  if (tmp) {
    const file = join(tmp, `${p.id}.ndjson`);
    if (existsSync(file)) {
      log = `${jm.sweep}/${p.id}.ndjson`;
      const bytes = readFileSync(file);
      const os = await objm.create(LOG_BUCKET, { storage: StorageType.File });
      await retry(() => os.putBlob({ name: log! }, bytes), o.signal);
    }
    rmSync(tmp, { recursive: true, force: true });
  }
  const msg: ResultMessage = { point: p.id, row, ...(log ? { log } : {}) };
  await retry(() => s.js.publish(`memhp.sweep.${jm.sweep}.result.${p.id}`, JSON.stringify(msg), { msgID: `${jm.sweep}.${jm.run}.${p.id}` }), o.signal);
  // The row is stored before the job is acked: a worker lost in between makes a duplicate, never a gap.
  await m.ackAck().catch(() => m.ack());
  o.onPoint?.('done', p.label);
}

/** The point logs in the object store (`--logs` through NATS): their names (`<sweep>/<point id>.ndjson`) and sizes. */
export async function listPointLogs(nats: NatsOptions): Promise<Array<{ name: string; size: number }>> {
  const s = await openNats({ ...nats, name: 'memhp logs' });
  try {
    const os = await new Objm(s.nc).open(LOG_BUCKET);
    return (await os.list()).map((i) => ({ name: i.name, size: i.size }));
  } finally {
    await s.close();
  }
}

/** One point log from the object store, as the worker put it; undefined if there is no such log. */
export async function fetchPointLog(nats: NatsOptions, name: string): Promise<Uint8Array | undefined> {
  const s = await openNats({ ...nats, name: 'memhp logs' });
  try {
    return await getLog(new Objm(s.nc), name);
  } finally {
    await s.close();
  }
}
