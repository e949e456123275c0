/** Long-lived memhp processes (sweeps, workers) and a nats-server of the test's own, for the sweep tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '@memhp/fleet';
import { BIN, FIXTURES, REPO } from './helpers.js';

export const SWEEPS = join(FIXTURES, 'sweeps');
export const BUGGY_ARCH = join(SWEEPS, 'buggy-arch.mjs');

export interface Proc {
  readonly child: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Exit code (or 128 + signal number for a signal), once it ended. */
  readonly exited: Promise<number>;
  /** Resolves when stderr matches (bounded). */
  waitFor(re: RegExp, ms?: number): Promise<void>;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function start(args: readonly string[]): Proc {
  const child = spawn(process.execPath, ['--conditions=@memhp/source', '--import', 'tsx', BIN, ...args], { cwd: REPO, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((r) => child.on('close', (code, sig) => r(code ?? 128 + (SIGNALS[sig ?? ''] ?? 0))));
  return {
    child,
    stderr: () => err,
    stdout: () => out,
    exited,
    waitFor: async (re, ms = 150_000) => {
      const until = Date.now() + ms;
      while (!re.test(err)) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${re} in: ${err.slice(-500)}`);
        if (child.exitCode !== null) throw new Error(`process ended (${child.exitCode}) before ${re}: ${err.slice(-500)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** End a process the test started (by its PID) and wait for it. */
export async function stop(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  await p.exited;
  clearTimeout(t);
}

export const tmpDir = (): string => mkdtempSync(join(tmpdir(), 'memhp-sweep-test-'));

export async function natsServer(): Promise<NatsServer> {
  return startNatsServer({ storeDir: tmpDir() });
}

export const csv = (dir: string): string => readFileSync(join(dir, 'results.csv'), 'utf8');
export const jsonl = (dir: string): Array<Record<string, unknown>> =>
  readFileSync(join(dir, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * A TCP proxy in front of a NATS server for one client: bytes pass both ways, until the client's bytes contain
 * `trigger` for the `nth` time. From then on the client's bytes (that chunk first) are held, in order, until
 * `onTrigger()` resolves, while the server's bytes still pass. Holding the client's side is how a test makes a
 * request the client already sent reach the server only after the client reacted to something (e.g. a signal).
 */
export async function holdingProxy(serverPort: number, trigger: string, nth: number, onTrigger: () => Promise<void>): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const server = connect(serverPort, '127.0.0.1');
    sockets.add(client).add(server);
    server.on('data', (d) => client.write(d));
    let held: Buffer[] | undefined;
    let seen = 0;
    let tail = '';
    let clientEnded = false;
    client.on('data', (d: Buffer) => {
      if (held) return void held.push(d);
      if (seen < nth) {
        const text = tail + d.toString('latin1');
        tail = text.slice(-(trigger.length - 1));
        seen += text.split(trigger).length - 1;
        if (seen >= nth) {
          held = [d];
          void onTrigger().finally(() => {
            for (const b of held!) server.write(b);
            held = undefined;
            if (clientEnded) server.end();
          });
          return;
        }
      }
      server.write(d);
    });
    // A client that closes while its bytes are held still gets them to the server first, as TCP would.
    client.on('end', () => {
      clientEnded = true;
      if (!held) server.end();
    });
    client.on('error', () => server.destroy());
    server.on('close', () => client.destroy()).on('error', () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  const port = (proxy.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      proxy.close();
    },
  };
}
