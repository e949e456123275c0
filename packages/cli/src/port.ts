/**
 * The CLI's view of @memhp/core and @memhp/events: each function the commands call, looked up by name at
 * run time. Core and events are written in parallel with the CLI; a command whose function is not there yet
 * fails with a clear "needs X" message (exit 2) instead of a crash, and starts working the moment it lands.
 * Nothing here models the kernel.
 */
import * as coreNs from '@memhp/core';
import * as eventsNs from '@memhp/events';
import { NotAvailableError } from './errors.js';

const core = coreNs as unknown as Readonly<Record<string, unknown>>;
const events = eventsNs as unknown as Readonly<Record<string, unknown>>;

type AnyFn = (...args: never[]) => unknown;

function lookup(ns: Readonly<Record<string, unknown>>, names: readonly string[]): unknown {
  for (const n of names) if (ns[n] !== undefined) return ns[n];
  return undefined;
}

/** The first of `names` that core exports, or throw NotAvailableError naming what `what` needs. */
export function coreFn<F extends AnyFn>(what: string, ...names: string[]): F {
  const f = lookup(core, names);
  if (typeof f !== 'function') throw new NotAvailableError(what, `@memhp/core's ${names[0]}()`);
  return f as F;
}

export function coreValue<T>(what: string, ...names: string[]): T {
  const v = lookup(core, names);
  if (v === undefined) throw new NotAvailableError(what, `@memhp/core's ${names[0]}`);
  return v as T;
}

export const coreHas = (...names: string[]): boolean => lookup(core, names) !== undefined;

export function eventsFn<F extends AnyFn>(what: string, ...names: string[]): F {
  const f = lookup(events, names);
  if (typeof f !== 'function') throw new NotAvailableError(what, `@memhp/events' ${names[0]}`);
  return f as F;
}

export const eventsHas = (...names: string[]): boolean => lookup(events, names) !== undefined;

/** @memhp/events/node is loaded lazily: it pulls in fs and zlib. */
export async function eventsNode(what: string): Promise<Readonly<Record<string, unknown>>> {
  try {
    return (await import('@memhp/events/node')) as unknown as Readonly<Record<string, unknown>>;
  } catch {
    throw new NotAvailableError(what, '@memhp/events/node');
  }
}

export function nodeFn<F extends AnyFn>(ns: Readonly<Record<string, unknown>>, what: string, name: string): F {
  const f = ns[name];
  if (typeof f !== 'function') throw new NotAvailableError(what, `@memhp/events/node's ${name}()`);
  return f as F;
}

export { core as coreNamespace, events as eventsNamespace };
