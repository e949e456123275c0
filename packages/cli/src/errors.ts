/**
 * The three ways a memhp command ends, as exit codes (issue 6): 0 success, 1 the simulated kernel refused
 * something the user asked to be checked, 2 bad input. Everything a user can get wrong is a {@link UserError}
 * carrying where it is (file, line, column, field), so the top level prints one line and never a stack trace.
 */
export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_BAD_INPUT = 2;

export interface Location {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** Dotted field path, e.g. `steps[3].online.blocks`. */
  readonly field?: string;
}

export function formatLocation(loc: Location): string {
  let s = loc.file ?? '';
  if (loc.line !== undefined) s += `${s ? ':' : 'line '}${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) s += `:${loc.column}`;
  if (loc.field) s += `${s ? ': ' : ''}field ${loc.field}`;
  return s;
}

/** Bad input: a file, an option or a value the user gave. Exit 2. */
export class UserError extends Error {
  readonly exitCode = EXIT_BAD_INPUT;
  constructor(
    readonly detail: string,
    readonly where: Location = {},
  ) {
    const loc = formatLocation(where);
    super(loc ? `${loc}: ${detail}` : detail);
    this.name = 'UserError';
  }
}

/** The simulated kernel refused something the user asked to be checked (an `expect`, a `check`). Exit 1. */
export class RefusedError extends Error {
  readonly exitCode: number = EXIT_REFUSED;
  constructor(message: string) {
    super(message);
    this.name = 'RefusedError';
  }
}

/** A signal stopped the command after it closed what it wrote: exit 130 (SIGINT) or 143 (SIGTERM). */
export class InterruptedError extends RefusedError {
  override readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'InterruptedError';
    this.exitCode = exitCode;
  }
}

const IO_WHY: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EFBIG: 'file too large',
  ENXIO: 'no such device or address',
  ENODEV: 'no such device',
  EIO: 'input/output error',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  EEXIST: 'file exists',
  EBUSY: 'device or resource busy',
};

/** Errors thrown by other packages that already carry a location (events' LogError, core's parse errors). */
export function asUserError(e: unknown): UserError | null {
  if (e instanceof UserError) return e;
  // Core wraps what a command handler throws (SimulatorError); a third-party backend's failure is still the user's module.
  if (e instanceof Error && e.cause instanceof UserError) return e.cause;
  if (e instanceof Error) {
    const rec = e as Error & { file?: unknown; line?: unknown; field?: unknown; code?: unknown };
    if (e.name === 'LogError' || (typeof rec.file === 'string' && typeof rec.line === 'number')) {
      // LogError's message already reads "run.ndjson:17: field payload.startPfn: expected integer".
      return new UserError(e.message);
    }
    if (e.name === 'UnsupportedKernelError' || e.name === 'CmdlineError' || e.name === 'ConfigError' || e.name === 'MachineConfigError') {
      return new UserError(e.message);
    }
    const code = (e as NodeJS.ErrnoException).code;
    const why = typeof code === 'string' ? IO_WHY[code] : undefined;
    if (why) {
      const path = (e as NodeJS.ErrnoException).path;
      return new UserError(path ? `${path}: ${why}` : `${why} (${code})`);
    }
  }
  return null;
}
