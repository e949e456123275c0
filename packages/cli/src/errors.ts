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
  readonly exitCode = EXIT_REFUSED;
  constructor(message: string) {
    super(message);
    this.name = 'RefusedError';
  }
}

/** Errors thrown by other packages that already carry a location (events' LogError, core's parse errors). */
export function asUserError(e: unknown): UserError | null {
  if (e instanceof UserError) return e;
  if (e instanceof Error) {
    const rec = e as Error & { file?: unknown; line?: unknown; field?: unknown; code?: unknown };
    if (e.name === 'LogError' || (typeof rec.file === 'string' && typeof rec.line === 'number')) {
      // LogError's message already reads "run.ndjson:17: field payload.startPfn: expected integer".
      return new UserError(e.message);
    }
    if (e.name === 'UnsupportedKernelError' || e.name === 'CmdlineError' || e.name === 'ConfigError') {
      return new UserError(e.message);
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') {
      const path = (e as NodeJS.ErrnoException).path;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : 'not a directory';
      return new UserError(path ? `${path}: ${why}` : e.message);
    }
  }
  return null;
}
