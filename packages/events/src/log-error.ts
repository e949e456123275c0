/** Why a log could not be read. Each code names one class of bad input a user can fix or report. */
export type LogErrorCode =
  | 'not-json'
  | 'unknown-type'
  | 'unknown-version'
  | 'bad-payload'
  | 'bad-envelope'
  | 'missing-header'
  | 'foreign-header'
  | 'bad-header'
  | 'seq-gap'
  | 'seq-order'
  | 'time-order'
  | 'torn-line'
  | 'forbidden-key'
  | 'line-too-long'
  | 'corrupt-gzip'
  | 'io';

/**
 * A located problem in a log: `run.ndjson:17: field payload.startPfn: expected integer`.
 * Thrown by readers (or handed to onWarning for a torn last line); it carries no stack worth showing a user,
 * so CLIs print `message` alone.
 */
export class LogError extends Error {
  readonly file: string;
  readonly line: number;
  readonly field?: string;
  readonly code: LogErrorCode;
  /** The problem without its location prefix. */
  readonly detail: string;

  constructor(code: LogErrorCode, where: { file: string; line: number }, detail: string, field?: string) {
    super(`${where.file}:${where.line}: ${field !== undefined ? `field ${field}: ` : ''}${detail}`);
    this.name = 'LogError';
    this.code = code;
    this.file = where.file;
    this.line = where.line;
    this.detail = detail;
    if (field !== undefined) this.field = field;
  }
}

export function isLogError(e: unknown): e is LogError {
  return e instanceof LogError;
}
