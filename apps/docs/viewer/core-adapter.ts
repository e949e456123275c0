/**
 * The one place the viewer names what it uses from @memhp/events and @memhp/core. Both are imported whole and
 * their members looked up by name, so a build of the site against packages that do not yet export one of them
 * still compiles and the viewer reports exactly what is missing instead of failing to load.
 */
import * as events from '@memhp/events';
import * as core from '@memhp/core';
import type { CounterViews, StateLike } from './project.js';

export interface Envelope {
  seq: number;
  time: number;
  op: number;
  cause: number | null;
  type: string;
  v: number;
  payload: unknown;
}

export interface HeaderLike {
  format: string;
  kernel: string;
  memhpVersion: string;
  seed: number;
  machine: Record<string, unknown>;
}

export interface CatalogueLike {
  upcast(e: Envelope): Envelope;
}

interface EventsApi {
  readLogStream(src: ReadableStream<Uint8Array>, opts: { file: string; catalogue: CatalogueLike; strict?: boolean }): {
    header(): Promise<HeaderLike>;
    events(): AsyncIterable<Envelope>;
  };
  parseEventLine(text: string, where: { file: string; line: number }, catalogue: CatalogueLike): Envelope;
}

interface CoreApi {
  createCoreCatalogue(): CatalogueLike;
  initialStateFromHeader(header: HeaderLike): StateLike;
  evolve(state: StateLike, e: Envelope): StateLike;
  cloneState?(state: StateLike): StateLike;
}

export interface ViewerApi {
  readonly events: EventsApi;
  readonly core: CoreApi;
  readonly views: CounterViews;
  readonly clone: (s: StateLike) => StateLike;
}

function fn(mod: object, ...names: string[]): ((...a: never[]) => unknown) | undefined {
  for (const n of names) {
    const v = (mod as Record<string, unknown>)[n];
    if (typeof v === 'function') return v as (...a: never[]) => unknown;
  }
  return undefined;
}

/** Resolves the APIs or says which are missing. */
export function loadViewerApi(): ViewerApi | { missing: string[] } {
  const missing: string[] = [];
  const need = (mod: object, label: string, ...names: string[]) => {
    const f = fn(mod, ...names);
    if (!f) missing.push(`${label}.${names[0]}`);
    return f;
  };
  const readLogStream = need(events, '@memhp/events', 'readLogStream');
  const parseEventLine = need(events, '@memhp/events', 'parseEventLine');
  const createCoreCatalogue = need(core, '@memhp/core', 'createCoreCatalogue');
  const initialState = need(core, '@memhp/core', 'initialStateFromHeader');
  const evolve = need(core, '@memhp/core', 'evolve');
  if (missing.length) return { missing };
  const cloneState = fn(core, 'cloneState', 'snapshotState') as CoreApi['cloneState'];
  const views: CounterViews = {
    meminfo: fn(core, 'viewMeminfo') as CounterViews['meminfo'],
    vmstat: fn(core, 'viewVmstat') as CounterViews['vmstat'],
  };
  return {
    events: { readLogStream, parseEventLine } as unknown as EventsApi,
    core: { createCoreCatalogue, initialStateFromHeader: initialState, evolve, cloneState } as unknown as CoreApi,
    views,
    // evolve writes the state in place (core's model/state.ts), so a snapshot must be a deep copy.
    clone: cloneState ? (s) => cloneState(s) : (s) => structuredClone(s),
  };
}
