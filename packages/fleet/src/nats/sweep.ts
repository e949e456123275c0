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
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import type { PointJob, WorkerCommand } from '../job.js';
import type { SweepPoint } from '../matrix.js';
import { IpcChild, PointNotStarted } from '../pool.js';
import { errorRow, type ResultRow } from '../results.js';
import { FleetInputError } from '../errors.js';
import { describe, openNats, sleep, within, type NatsOptions, type NatsSession } from './connect.js';

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
  /**
   * Check points before their jobs are published (throw to refuse the sweep). The points are checked a chunk
   * at a time, each chunk published once checked, so workers start on the first chunk while the rest are
   * checked; a refusal purges what was published and throws. No row reaches `onResult` before every point is
   * checked, and `onChecked` is called just before the first.
   */
  readonly check?: (points: readonly SweepPoint[]) => void;
  readonly onChecked?: () => void;
  readonly onResult: (p: SweepPoint, row: ResultRow, log?: Uint8Array) => void;
}

/** Jobs published at once (each acknowledged by JetStream, so their round trips overlap), and checked at once. */
const PUBLISH_CHUNK = 64;
const FIRST_CHUNK = 8;

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
    // Rows that arrive before every point is checked wait here (a refused sweep delivers none).
    let early: Array<() => void> | undefined = [];
    const take = async (m: ResultMessage): Promise<void> => {
      const p = byId.get(m.point);
      if (!p || have.has(p.id)) return; // another sweep's point, or a duplicate delivery: counted once
      have.add(p.id);
      let log: Uint8Array | undefined;
      if (m.log) log = await getLog(objm, m.log).catch(() => undefined);
      const row = m.dead ? errorRow(p, 'dead', `dead-lettered after ${m.dead.deliveries} deliveries: ${m.dead.error}`) : m.row!;
      if (early) early.push(() => o.onResult(p, row, log));
      else o.onResult(p, row, log);
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
    // Resolved when the sweep stops waiting for rows, so a dead letter still waiting keeps no process alive.
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    const deadLetter = async (adv: { stream_seq: number; deliveries: number }): Promise<void> => {
      // The last delivery may still be running, or its worker may be publishing its own dead letter (with the
      // point's error): give it an ack wait and a second before saying the worker was lost.
      await within(finished, ackWaitMs + 1000);
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
    const todo = jobs.filter((j) => !have.has(j.point.id));
    const check = async (points: readonly SweepPoint[]): Promise<void> => {
      try {
        o.check?.(points);
      } catch (e) {
        // Refused: none of its jobs stays queued (a worker may have run some of them; their rows stay unread).
        finish();
        results.stop();
        advisories.unsubscribe();
        await s.jsm.streams.purge(JOBS_STREAM, { filter: `memhp.jobs.${sweep}` }).catch(() => {});
        throw e;
      }
    };
    let published = 0;
    while (published < todo.length && !o.signal?.aborted) {
      // A small first chunk, so the workers start as soon as a few points are checked.
      const chunk = todo.slice(published, published + (published === 0 ? FIRST_CHUNK : PUBLISH_CHUNK));
      published += chunk.length;
      await check(chunk.map((j) => j.point));
      await Promise.all(
        chunk.map((j) =>
          retry(() => s.js.publish(`memhp.jobs.${sweep}`, JSON.stringify({ sweep, run, wantLog: Boolean(j.logs), job: { file: j.file, point: j.point }, queue } satisfies JobMessage), { msgID: `${sweep}.${run}.${j.point.id}` }), o.signal),
        ),
      );
    }
    // Interrupted before every point was published: the rest is checked all the same before any row counts.
    if (published < todo.length) await check(todo.slice(published).map((j) => j.point));
    o.onChecked?.();
    for (const deliver of early.splice(0)) deliver();
    early = undefined;
    const aborted = new Promise<void>((r) => (o.signal?.aborted ? r() : o.signal?.addEventListener('abort', () => r(), { once: true })));
    while (remaining() > 0 && !o.signal?.aborted) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => ((wake = r), (t = setTimeout(r, 1000)))), aborted]);
      clearTimeout(t);
    }
    finish();
    results.stop();
    advisories.unsubscribe();
    await within(Promise.allSettled([reading, deadLettering]), 2000);
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
  /** `returned`: a point this worker received and gave back unrun (it is stopping), for another worker to run. */
  readonly onPoint?: (what: 'start' | 'done' | 'failed' | 'dead' | 'returned', label: string, detail?: string) => void;
  /** Connected, the queue there, and the child process up: the worker takes points from now on. */
  readonly onReady?: () => void;
}

/**
 * A point that ran for less than this is "quick": the worker then keeps the next point queued in its child
 * behind the running one, so the child never waits for a JetStream round trip between points. A slower point
 * makes the worker hold one point at a time, so long points spread over every worker instead of queueing.
 */
const QUICK_POINT_MS = 1000;
/** Rows being published and acked at once, at most (each waits for its PubAck before its job is acked). */
const MAX_TAILS = 16;
/**
 * How long a worker's request for a point waits at the server when no point is queued. A stopping worker waits for
 * its request in flight to end (with a point, which it gives back, or with this expiry), so this bounds how long
 * Ctrl-C takes on an idle worker; an idle worker asks again after each expiry (a request and a 408 a period).
 */
const PULL_EXPIRES_MS = 2000;
/** How often the worker looks whether a held point is due a heartbeat (each is due every ack wait / 3). */
const BEAT_TICK_MS = 200;

interface Held {
  readonly m: JsMsg;
  readonly jm: JobMessage;
  readonly q: QueueSettings;
  lastBeat: number;
}

/**
 * Pull points, run each in a child process, publish its row, ack. The worker asks JetStream for one job at a
 * time and only when there is room (one pull request in flight at most), so it holds at most two points: the
 * running one and, while points are quick, the next one queued in the child. Rows are published and acked
 * while the next points run; a job is acked only once JetStream has stored its row (a lost ack makes a
 * duplicate, which the sweep counts once, never a gap). Every held point gets a heartbeat each third of its ack
 * wait, from one timer. A stopping worker gives back (naks) every job it received and did not start, the one
 * its request in flight brings included, so another worker runs it without waiting for the ack wait.
 */
export async function runNatsWorker(o: NatsWorkerOptions): Promise<{ points: number }> {
  const child = new IpcChild(o.command);
  // The child's start-up overlaps connecting (a child that cannot start fails the first point, as it would).
  const childUp = child.start().catch(() => {});
  let s: NatsSession;
  try {
    s = await openNats({ ...o.nats, reconnect: true, name: 'memhp worker' });
  } catch (e) {
    child.kill();
    throw e;
  }
  let points = 0;
  let idleSince = Date.now();
  const held = new Set<Held>();
  const tails = new Set<Promise<void>>();
  let running = 0;
  let quick = false;
  let lastDone = 0;
  let wake: () => void = () => {};
  const woken = (): Promise<void> => new Promise<void>((r) => (wake = r));
  let stopping = false;
  const more = (): boolean => !o.signal?.aborted && (o.maxPoints === undefined || points < o.maxPoints);
  const beats = setInterval(() => {
    const now = Date.now();
    for (const h of held) {
      if (now - h.lastBeat >= h.q.ackWaitMs / 3) {
        h.lastBeat = now;
        h.m.working();
      }
    }
  }, BEAT_TICK_MS);
  try {
    await ensureQueue(s);
    const objm = new Objm(s.nc);
    if (o.onReady) await childUp.then(o.onReady);
    const aborted = new Promise<'abort'>((r) => (o.signal?.aborted ? r('abort') : o.signal?.addEventListener('abort', () => r('abort'), { once: true })));

    const giveBack = (m: JsMsg, label: string): void => {
      m.nak();
      o.onPoint?.('returned', label);
    };
    /** A job arrived: hold it and run it (or, stopping, give it back at once). */
    const take = async (m: JsMsg): Promise<void> => {
      const jm = m.json<JobMessage>();
      if (stopping || !more()) return giveBack(m, jm.job.point.label);
      idleSince = Date.now();
      // The sweep's settings travel with the job; for a job without them, ask the server.
      const q = jm.queue ?? (await queueOf(s));
      const h: Held = { m, jm, q, lastBeat: Date.now() };
      held.add(h);
      points++;
      running++;
      o.onPoint?.('start', jm.job.point.label);
      void runHeld(h)
        .catch(() => {}) // a dead letter that could not be published: the point is delivered again
        .finally(() => {
          running--;
          wake();
        });
    };

    /** Run a held point in the child; then publish its row and ack, or fail it. */
    const runHeld = async (h: Held): Promise<void> => {
      const { m, jm, q } = h;
      const p = jm.job.point;
      const tmp = jm.wantLog ? mkdtempSync(join(tmpdir(), 'memhp-worker-')) : undefined;
      let row: ResultRow | undefined;
      let failure: string | undefined;
      const t0 = Date.now();
      for (;;) {
        try {
          row = await child.run({ ...jm.job, ...(tmp ? { logs: { dir: tmp } } : {}) });
        } catch (e) {
          if (e instanceof PointNotStarted) {
            // Given back (the worker is stopping) or queued behind a point whose process ended: it never ran here.
            if (stopping) {
              if (tmp) rmSync(tmp, { recursive: true, force: true });
              held.delete(h);
              points--;
              giveBack(m, p.label);
              return;
            }
            continue; // a new process runs it
          }
          failure = e instanceof Error ? e.message : String(e);
        }
        break;
      }
      const done = Date.now();
      quick = done - Math.max(t0, lastDone) < QUICK_POINT_MS;
      lastDone = done;
      if (failure !== undefined) {
        if (tmp) rmSync(tmp, { recursive: true, force: true });
        const deliveries = m.info.deliveryCount;
        try {
          if (deliveries >= q.maxDeliver) {
            await publishDead(s, jm, failure, deliveries);
            m.term(failure.slice(0, 200));
            o.onPoint?.('dead', p.label, failure);
          } else {
            m.nak(250);
            o.onPoint?.('failed', p.label, failure);
          }
        } finally {
          held.delete(h);
        }
        return;
      }
      // Until its row is stored and the job acked, the point stays held (and heartbeats go on).
      const tail = publishRow(s, objm, m, jm, row!, tmp, o)
        .catch(() => {}) // not acked: JetStream delivers it again after the ack wait
        .finally(() => {
          held.delete(h);
          tails.delete(tail);
          wake();
        });
      tails.add(tail);
    };

    let consumer: Consumer | undefined;
    // The one pull request in flight, if any: it is always waited for to its end (a job or its expiry), so no job
    // is ever delivered to an inbox the worker no longer reads.
    let pulling: Promise<Pulled> | undefined;
    while (more()) {
      // Room for one more point: none held, or a quick one running and nothing queued behind it.
      if (running >= (quick ? 2 : 1) || tails.size >= MAX_TAILS) {
        await Promise.race([woken(), aborted]);
        continue;
      }
      if (o.idleExitMs !== undefined && running === 0 && Date.now() - idleSince > o.idleExitMs) break;
      try {
        consumer ??= await s.js.consumers.get(JOBS_STREAM, WORKERS);
      } catch {
        await Promise.race([sleep(250), aborted]); // a restarting server: try again
        continue;
      }
      pulling ??= pullOne(consumer);
      let timer: NodeJS.Timeout | undefined;
      const idle = o.idleExitMs !== undefined && running === 0 ? new Promise<'idle'>((r) => (timer = setTimeout(() => r('idle'), Math.max(0, o.idleExitMs! - (Date.now() - idleSince)) + 1))) : undefined;
      let got: Pulled | 'abort' | 'idle' | 'woken';
      try {
        got = await Promise.race([pulling, aborted, ...(idle ? [idle] : []), ...(running > 0 ? [woken().then(() => 'woken' as const)] : [])]);
      } finally {
        clearTimeout(timer);
      }
      if (got === 'abort' || got === 'idle' || got === 'woken') continue;
      pulling = undefined;
      for (const m of got.msgs) await take(m);
      if (got.failed) await Promise.race([sleep(250), aborted]); // a restarting server: try again
    }
    // Stopping: give back the points queued in the child (if it has not started them yet) and whatever the pull
    // request in flight brings; finish the rest.
    stopping = true;
    child.drop();
    if (pulling) {
      const late = await within(pulling, PULL_EXPIRES_MS + 2000);
      for (const m of late?.msgs ?? []) giveBack(m, m.json<JobMessage>().job.point.label);
    }
    while (running > 0 || tails.size > 0) await woken();
    return { points };
  } finally {
    clearInterval(beats);
    child.close();
    await s.close();
  }
}

interface Pulled {
  /** What the request brought: one job, or none when it expired (more only after a reconnect made the client ask again). */
  readonly msgs: JsMsg[];
  /** The request ended in an error (the server restarting, the consumer gone): ask again after a pause. */
  readonly failed: boolean;
}

/**
 * One request for one job (`fetch` of one message), read to its end: the client closes the request's inbox only
 * once the server has answered it with a job or with its expiry (or the client gave up on it after missed
 * heartbeats), so a job is never delivered to an inbox nobody reads, which JetStream would deliver again only
 * after the ack wait. (`consume` would not do: it asks again as soon as a job arrives, and stopping it closes its
 * inbox while a request may be on its way.)
 */
async function pullOne(c: Consumer): Promise<Pulled> {
  const msgs: JsMsg[] = [];
  try {
    for await (const m of await c.fetch({ max_messages: 1, expires: PULL_EXPIRES_MS })) msgs.push(m);
    return { msgs, failed: false };
  } catch {
    return { msgs, failed: true };
  }
}

async function queueOf(s: NatsSession): Promise<QueueSettings> {
  const cfg = (await s.jsm.consumers.info(JOBS_STREAM, WORKERS)).config;
  return { ackWaitMs: Math.round((cfg.ack_wait ?? nanos(DEFAULT_QUEUE.ackWaitMs)) / 1e6), maxDeliver: cfg.max_deliver ?? DEFAULT_QUEUE.maxDeliver };
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
  // The row is stored (its PubAck came) before the job is acked: a worker lost in between, or an ack lost on
  // the way, makes the point run again, and its row (same message id, same point id) is counted once.
  m.ack();
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
