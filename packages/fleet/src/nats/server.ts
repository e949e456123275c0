/**
 * A nats-server of one's own, for tests, benchmarks and the docs' sweep: Debian's `nats-server` with JetStream
 * on a random loopback port and a store directory, stopped (or killed) by its PID. Restart keeps the port and
 * the store, so file-backed streams survive it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { connect as tcpConnect } from 'node:net';
import { sleep } from './connect.js';

export interface NatsServer {
  readonly port: number;
  readonly url: string;
  readonly storeDir: string;
  pid(): number | undefined;
  /** Stop it (SIGTERM, or SIGKILL for a crash) and wait for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same port and store. */
  start(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = tcpConnect({ host: '127.0.0.1', port });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });

export async function startNatsServer(opts: { storeDir: string; port?: number; bin?: string; readyMs?: number }): Promise<NatsServer> {
  const port = opts.port ?? (await freePort());
  let proc: ChildProcess | undefined;
  let log = '';
  const start = async (): Promise<void> => {
    log = '';
    proc = spawn(opts.bin ?? 'nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', opts.storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const exited = new Promise<void>((r) => proc!.once('exit', () => r()));
    const until = Date.now() + (opts.readyMs ?? 15_000);
    while (Date.now() < until) {
      if (proc.exitCode !== null) break;
      // nats-server logs "Server is ready" once it accepts clients (JetStream is up by then).
      if (/Server is ready/.test(log) && (await canConnect(port))) return;
      await Promise.race([sleep(50), exited]);
    }
    proc.kill('SIGKILL');
    throw new Error(`nats-server did not start on port ${port}: ${log.trim().split('\n').slice(-3).join(' | ')}`);
  };
  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir: opts.storeDir,
    pid: () => proc?.pid,
    start,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const ended = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill(signal);
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await ended;
      clearTimeout(t);
    },
  };
}
