/** Run the real CLI as a process, from src (no build), the way a user runs it. */
import { spawn } from 'node:child_process';
import { afterAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(REPO, 'packages/cli/src/bin.ts');
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function memhp(args: readonly string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<Ran> {
  return node(['--conditions=@memhp/source', '--import', 'tsx', BIN, ...args], { cwd: opts.cwd ?? REPO, env: { ...process.env, NO_COLOR: '1', ...opts.env } });
}

/** Node with these arguments as a process: its exit code and everything it wrote. */
export function node(args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const made: string[] = [];
// once per test file (vitest evaluates this module for each file): remove every directory tmp() made in it
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed when the test file finishes (callable inside a test too). */
export const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'memhp-cli-test-'));
  made.push(d);
  return d;
};

/** A user never sees a stack trace: no "    at f (file:line)" frames. */
export const hasStack = (s: string): boolean => /^\s+at .+[:(]/m.test(s);

/**
 * The same `main()` the binary runs, in this process: argv in, exit code and output out. Used for the many
 * bad-input cases so the suite stays fast; a handful of cases also run as real processes.
 */
export async function memhpInProcess(args: readonly string[]): Promise<Ran> {
  const { main } = await import('../src/program.js');
  let stdout = '';
  let stderr = '';
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => ((stdout += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((stderr += String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'memhp', ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}
