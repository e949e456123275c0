/** Errors the CLI maps to exit codes: bad input (2) and a real machine that cannot be had here (reported, 2). */

/** The user's input is wrong (an option, a scenario step that cannot run on a real machine as written). */
export class ConformanceInputError extends Error {
  override readonly name = 'ConformanceInputError';
  constructor(
    message: string,
    /** The option or scenario field the message is about. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Something the real side needs is not available on this machine (a kernel package, QEMU, firmware). */
export class ConformanceUnavailableError extends Error {
  override readonly name = 'ConformanceUnavailableError';
}

/** The guest or QEMU misbehaved (did not boot in time, the agent stopped answering); carries the console tail. */
export class GuestError extends Error {
  override readonly name = 'GuestError';
  constructor(
    message: string,
    readonly consoleTail = '',
  ) {
    super(consoleTail ? `${message}\n--- guest console (last lines) ---\n${consoleTail}` : message);
  }
}
