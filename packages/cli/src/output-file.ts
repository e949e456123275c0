/**
 * Safe outputs (issue 18): a file memhp writes appears whole or not at all. It is written under a temporary name
 * beside the target and renamed over it when complete, so the old file survives any crash; a lock file
 * (`<target>.lock`, created exclusively, holding the writer's pid) keeps two memhp processes from writing the same
 * target; and an output that is one of the command's inputs is refused before anything is touched. Devices and
 * FIFOs (`/dev/stdout`, `/dev/null`, a named pipe) are written in place: they cannot be renamed over.
 */
import { closeSync, lstatSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from './errors.js';
import { onCleanup } from './lifecycle.js';

export interface SafeOutput {
  /** Where to write: the temporary file, or the target itself for a device or FIFO. */
  readonly writePath: string;
  readonly target: string;
  /** Rename the temporary file over the target and release the lock. */
  commit(): void;
  /** Remove the temporary file and release the lock (the target is left as it was). */
  abort(): void;
}

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** The target names one of the inputs: the same file (also through a link or another path), or the same path. */
export function refuseOutputIsInput(target: string, inputs: readonly string[], option = '--output'): void {
  const t = statOrNull(target);
  for (const input of inputs) {
    const i = statOrNull(input);
    const same = t && i ? t.dev === i.dev && t.ino === i.ino && t.isFile() : resolve(target) === resolve(input);
    if (same) throw new UserError(`is also an input of this command (${input}); writing it would destroy what is being read; choose another output path`, { file: target, field: option });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function takeLock(lock: string, target: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw new UserError(`cannot create the lock file ${lock}: ${errCode(e)}`, { file: target });
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(lock, 'utf8').trim());
    } catch {
      /* vanished meanwhile: retry */
    }
    if (Number.isSafeInteger(holder) && holder > 0 && pidAlive(holder)) {
      throw new UserError(`another memhp (pid ${holder}) is writing this file (lock ${lock}); wait for it, or remove the lock if that process is gone`, { file: target });
    }
    // A lock left by a killed process.
    try {
      unlinkSync(lock);
    } catch {
      /* raced with another taker */
    }
  }
  throw new UserError(`cannot take the lock ${lock}`, { file: target });
}

/** Prepare to write `target` safely; `inputs` are the command's input files (an output may not be one). */
export function openSafeOutput(target: string, inputs: readonly string[] = [], option = '--output'): SafeOutput {
  refuseOutputIsInput(target, inputs, option);
  let st: Stats | null = null;
  try {
    st = lstatSync(target);
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw new UserError(`cannot write: ${errCode(e)}`, { file: target });
  }
  if (st?.isDirectory()) throw new UserError('cannot write: is a directory', { file: target });
  const resolved = st?.isSymbolicLink() ? safeRealpath(target) : target;
  const rst = st?.isSymbolicLink() ? statOrNull(resolved) : st;
  if (rst && !rst.isFile() && !rst.isDirectory()) {
    // A device or FIFO: in place, no lock, no rename.
    return { writePath: target, target, commit: () => {}, abort: () => {} };
  }
  const dir = dirname(resolved);
  const lock = `${resolved}.lock`;
  takeLock(lock, target);
  const writePath = join(dir, `.memhp-tmp-${process.pid}-${basename(resolved)}`);
  let done = false;
  const release = () => {
    try {
      unlinkSync(lock);
    } catch {
      /* already gone */
    }
  };
  const abort = () => {
    if (done) return;
    done = true;
    unregister();
    try {
      unlinkSync(writePath);
    } catch {
      /* never created */
    }
    release();
  };
  const unregister = onCleanup(abort);
  return {
    writePath,
    target,
    commit: () => {
      if (done) return;
      try {
        renameSync(writePath, resolved);
      } catch (e) {
        abort();
        throw new UserError(`cannot write: ${errCode(e)}`, { file: target });
      }
      done = true;
      unregister();
      release();
    },
    abort,
  };
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Write a whole text file safely (export, import). */
export function writeFileSafely(target: string, text: string | Uint8Array, inputs: readonly string[] = [], option = '--output'): void {
  const out = openSafeOutput(target, inputs, option);
  try {
    writeFileSync(out.writePath, text);
  } catch (e) {
    out.abort();
    throw new UserError(`cannot write: ${errCode(e)}`, { file: target });
  }
  out.commit();
}
