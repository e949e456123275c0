/**
 * Where a log lives: a file path, or a JetStream subject (`nats://HOST:PORT/STREAM/SUBJECT`). The commands
 * open logs only through sim.ts, which asks this module; the NATS side is @memhp/fleet, loaded only when a
 * URL names it, so file logs never pay for it. Connection options come from the environment the way NATS
 * tools take them: MEMHP_NATS_CREDS, MEMHP_NATS_TLS_CA, MEMHP_NATS_CONTEXT (or NATS_CONTEXT).
 */
import type { LogHeader, LogReader, ReadOptions } from '@memhp/events';
import { readLogStream } from '@memhp/events';
import type { LogWriter } from '@memhp/events/node';
import { UserError } from './errors.js';

export const isNatsLog = (location: string): boolean => /^(nats|tls):\/\//i.test(location);

/** NATS client options from the environment (flags of sweep/worker take the same names). */
export function natsEnvOptions(): { creds?: string; tlsCa?: string; context?: string } {
  const e = process.env;
  return {
    ...(e.MEMHP_NATS_CREDS ? { creds: e.MEMHP_NATS_CREDS } : {}),
    ...(e.MEMHP_NATS_TLS_CA ? { tlsCa: e.MEMHP_NATS_TLS_CA } : {}),
    ...((e.MEMHP_NATS_CONTEXT ?? e.NATS_CONTEXT) ? { context: (e.MEMHP_NATS_CONTEXT ?? e.NATS_CONTEXT)! } : {}),
  };
}

/** fleet's input errors become the CLI's (exit 2, no stack). */
export function asCliError(e: unknown): unknown {
  if (e instanceof Error && e.name === 'FleetInputError') {
    const f = e as Error & { detail: string; where: { file?: string; line?: number; column?: number; field?: string } };
    return new UserError(f.detail, f.where);
  }
  return e;
}

export async function openNatsWriter(url: string, header: LogHeader): Promise<LogWriter> {
  const { openNatsLogWriter } = await import('@memhp/fleet');
  try {
    return await openNatsLogWriter(url, header, natsEnvOptions());
  } catch (e) {
    throw asCliError(e);
  }
}

/** A log on JetStream, read by the same reader as a file: the bytes are the same. */
export function openNatsReader(url: string, opts: Omit<ReadOptions, 'file'>): LogReader {
  return readLogStream(
    (async function* () {
      const { natsLogChunks } = await import('@memhp/fleet');
      try {
        yield* natsLogChunks(url, natsEnvOptions());
      } catch (e) {
        throw asCliError(e);
      }
    })(),
    { ...opts, file: url },
  );
}
