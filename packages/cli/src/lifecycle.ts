/**
 * How a memhp process ends when the world, not the command, decides: SIGINT/SIGTERM and a closed stdout. A command
 * that can stop at a boundary (a run stops between kernel commands) asks for a cooperative stop with
 * {@link whileStoppable}; the first signal then only sets {@link stopRequested} and the command closes what it
 * writes and exits 130/143 itself. Otherwise, and on a second signal, the registered cleanups run (temporary files,
 * locks) and the process exits at once. A reader that goes away (EPIPE, `memhp … | head`) ends the command quietly.
 */
import { EXIT_BAD_INPUT } from './errors.js';

type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
let stopSignal: NodeJS.Signals | null = null;
let stoppable = 0;
let installed = false;

/** Run `fn` at exit, on a signal or on EPIPE unless the returned function is called first. Must be synchronous. */
export function onCleanup(fn: Cleanup): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

export function runCleanups(): void {
  for (const fn of [...cleanups]) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      /* best effort: the process is ending */
    }
  }
}

/** The signal that asked the current command to stop, if any. */
export function stopRequested(): NodeJS.Signals | null {
  return stopSignal;
}

/** Exit status of a process ended by this signal, as shells report it: 128 + signal number. */
export function signalExitCode(sig: NodeJS.Signals): number {
  return sig === 'SIGINT' ? 130 : 143;
}

/** While `fn` runs, the first SIGINT/SIGTERM asks it to stop (see {@link stopRequested}) instead of ending the process. */
export async function whileStoppable<T>(fn: () => Promise<T>): Promise<T> {
  stoppable++;
  try {
    return await fn();
  } finally {
    stoppable--;
  }
}

/** Give pending signals and I/O a turn; a synchronous loop calls this at its boundaries every few tens of ms. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function exitNow(code: number): never {
  runCleanups();
  process.exit(code);
}

/** For the binary only (tests that call main() in-process keep their own handlers). */
export function installProcessHandlers(): void {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stoppable > 0 && stopSignal === null) {
        stopSignal = sig;
        return;
      }
      exitNow(signalExitCode(sig));
    });
  }
  process.on('exit', runCleanups);
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    // The reader went away (`| head`): nothing left to say to anyone.
    if (e.code === 'EPIPE') exitNow(0);
    writeErr(`memhp: cannot write to stdout: ${e.code ?? e.message}\n`);
    exitNow(EXIT_BAD_INPUT);
  });
  process.stderr.on('error', () => exitNow(0));
}

function writeErr(s: string): void {
  try {
    process.stderr.write(s);
  } catch {
    /* stderr is gone too */
  }
}
