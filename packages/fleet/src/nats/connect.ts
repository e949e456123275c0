/**
 * Connecting to NATS the way NATS users expect: a `nats://` (or `tls://`) URL, `--creds FILE`, `--tls-ca FILE`,
 * or a `nats` CLI context (`--context NAME` reads ~/.config/nats/context/NAME.json, or a path to such a file).
 * Every wait is bounded: the first connection fails after `timeoutMs` with a worded error (exit 2), JetStream
 * requests time out, and a missing JetStream says so.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { FleetInputError } from '../errors.js';

export interface NatsOptions {
  /** Server URL (`nats://host:port`); a context's url is used when absent. */
  readonly url?: string;
  readonly creds?: string;
  readonly tlsCa?: string;
  /** A nats CLI context: a name under ~/.config/nats/context, or a path to its JSON file. */
  readonly context?: string;
  /** Bound on the first connection and on each JetStream request (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Keep reconnecting forever after the first connection (workers and sweeps ride out a server restart). */
  readonly reconnect?: boolean;
  readonly name?: string;
}

export interface NatsSession {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly url: string;
  close(): Promise<void>;
}

/** A log's place on JetStream: `nats://HOST:PORT/STREAM/SUBJECT`. */
export interface NatsLogUrl {
  readonly server: string;
  readonly stream: string;
  readonly subject: string;
}

export const isNatsUrl = (s: string): boolean => /^(nats|tls):\/\//i.test(s);

/** Parse a server URL (no path), e.g. for `--nats`. */
export function parseServerUrl(text: string, field = '--nats'): string {
  const u = parseUrl(text, field);
  if (u.pathname && u.pathname !== '/') throw new FleetInputError(`"${text}": a server URL has no path (nats://HOST:PORT); a path names a log (nats://HOST:PORT/STREAM/SUBJECT)`, { field });
  return `${u.protocol}//${u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''}${u.host}`;
}

/** Parse a log URL: `nats://HOST:PORT/STREAM/SUBJECT`. */
export function parseLogUrl(text: string, field = 'log'): NatsLogUrl {
  const u = parseUrl(text, field);
  const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length !== 2) throw new FleetInputError(`"${text}": a log on JetStream is nats://HOST:PORT/STREAM/SUBJECT`, { field });
  const [stream, subject] = parts as [string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(stream)) throw new FleetInputError(`"${stream}" is not a stream name (letters, digits, _ and -)`, { field });
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subject)) throw new FleetInputError(`"${subject}" is not a subject for a log (dot-separated tokens, no wildcards)`, { field });
  return { server: `${u.protocol}//${u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''}${u.host}`, stream, subject };
}

function parseUrl(text: string, field: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new FleetInputError(`"${text}" is not a URL (expected nats://HOST:PORT)`, { field });
  }
  if (u.protocol !== 'nats:' && u.protocol !== 'tls:') throw new FleetInputError(`"${text}": the scheme is nats:// or tls://`, { field });
  if (!u.hostname) throw new FleetInputError(`"${text}" names no host`, { field });
  if (u.port && !(Number(u.port) > 0 && Number(u.port) < 65536)) throw new FleetInputError(`"${text}": bad port`, { field });
  return u;
}

interface ContextFile {
  url?: string;
  creds?: string;
  ca?: string;
  cert?: string;
  key?: string;
  user?: string;
  password?: string;
  token?: string;
}

function readContext(ctx: string): ContextFile {
  const path = ctx.includes('/') || ctx.endsWith('.json') ? ctx : join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'nats', 'context', `${ctx}.json`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ContextFile;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FleetInputError(code === 'ENOENT' ? 'no such context file' : `cannot read the context: ${(e as Error).message}`, { file: path, field: '--context' });
  }
}

function readFile(path: string, field: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FleetInputError(code === 'ENOENT' ? 'no such file' : `cannot read: ${(e as Error).message}`, { file: path, field });
  }
}

export async function openNats(o: NatsOptions): Promise<NatsSession> {
  const ctx = o.context ? readContext(o.context) : {};
  const url = o.url ?? ctx.url;
  if (!url) throw new FleetInputError('no NATS server: give a nats://HOST:PORT URL or a --context with a url', { field: '--nats' });
  const server = parseServerUrl(url);
  const timeout = o.timeoutMs ?? 5000;
  const creds = o.creds ?? ctx.creds;
  const ca = o.tlsCa ?? ctx.ca;
  const opts: NodeConnectionOptions = {
    servers: server,
    name: o.name ?? 'memhp',
    timeout,
    maxReconnectAttempts: o.reconnect ? -1 : 0,
    reconnectTimeWait: 250,
    ...(creds ? { authenticator: credsAuthenticator(readFile(creds, '--creds')) } : {}),
    ...(ca || ctx.cert ? { tls: { ...(ca ? { caFile: ca } : {}), ...(ctx.cert ? { certFile: ctx.cert } : {}), ...(ctx.key ? { keyFile: ctx.key } : {}) } } : {}),
    ...(ctx.user ? { user: ctx.user, pass: ctx.password ?? '' } : {}),
    ...(ctx.token ? { token: ctx.token } : {}),
  };
  let nc: NatsConnection;
  try {
    nc = await withTimeout(connect(opts), timeout + 1000, `no answer from ${server} within ${timeout + 1000} ms`);
  } catch (e) {
    throw new FleetInputError(`cannot connect to NATS at ${server}: ${describe(e)}`, { field: '--nats' });
  }
  const close = async (): Promise<void> => {
    if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
  };
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout });
  } catch (e) {
    await close();
    throw new FleetInputError(`${server} has no JetStream (start nats-server with -js): ${describe(e)}`, { field: '--nats' });
  }
  return { nc, js: jetstream(nc, { timeout }), jsm, url: server, close };
}

export function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as Error & { cause?: unknown }).cause;
  const code = (e as NodeJS.ErrnoException).code;
  const base = e.message || e.name;
  const c = cause instanceof Error ? (cause as NodeJS.ErrnoException).code ?? cause.message : undefined;
  return [base, code && !base.includes(code) ? code : undefined, c && !base.includes(c) ? c : undefined].filter(Boolean).join(': ');
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(what)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/** `p`'s value, or undefined once `ms` have passed; the timer is cleared either way (so it keeps no process alive). */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
