/**
 * Errors fleet reports to a user: bad input (a sweep file, a URL, an option) located like scenario errors, and
 * transport problems (an unreachable server, a missing stream) that are the user's setup, not a bug. Both carry
 * `exitCode = 2`; the CLI prints the message without a stack.
 */
export interface FleetLocation {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** Dotted field path, e.g. `matrix.include[1]`. */
  readonly field?: string;
}

export function formatFleetLocation(loc: FleetLocation): string {
  let s = loc.file ?? '';
  if (loc.line !== undefined) s += `${s ? ':' : 'line '}${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) s += `:${loc.column}`;
  if (loc.field) s += `${s ? ': ' : ''}field ${loc.field}`;
  return s;
}

export class FleetInputError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly detail: string,
    readonly where: FleetLocation = {},
  ) {
    const loc = formatFleetLocation(where);
    super(loc ? `${loc}: ${detail}` : detail);
    this.name = 'FleetInputError';
  }
}

export const isFleetInputError = (e: unknown): e is FleetInputError => e instanceof Error && e.name === 'FleetInputError';
