/**
 * The one place the viewer names what it uses from @memhp/events and @memhp/core. Both are imported whole and
 * their members looked up by name, so a build of the site against packages that do not yet export one of them
 * still compiles and the viewer reports exactly what is missing instead of failing to load.
 */
import * as events from '@memhp/events';
import * as core from '@memhp/core';
import type { CounterViews, StateLike } from './project.js';

/**
 * Heap bytes one deep copy of a state takes, estimated from its entries: sections, memory blocks, altmaps, vmemmap
 * PMD entries and resources, each a small object in a table. 112 bytes an entry is what a copy of the 6 TiB state of
 * the viewer bench measured in Node's heap (20.2 MiB for 196,704 entries), plus 64 KiB for the rest (machine
 * description, nodes, zones, counters).
 */
export function estimateStateBytes(state: StateLike): number {
  const s = state as StateLike & { altmaps?: ReadonlyMap<number, unknown>; resources?: readonly unknown[] };
  const entries = s.sections.size + s.blocks.size + s.vmemmap.pmds.size + (s.altmaps?.size ?? 0) + (s.resources?.length ?? 0);
  return 65536 + 112 * entries;
}

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
  readLogStream(src: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, opts: { file: string; catalogue: CatalogueLike; strict?: boolean }): {
    header(): Promise<HeaderLike>;
    events(): AsyncIterable<Envelope>;
    batches?(): AsyncIterable<readonly Envelope[]>;
  };
  parseEventLine(text: string, where: { file: string; line: number }, catalogue: CatalogueLike): Envelope;
}

interface CoreApi {
  createCoreCatalogue(): CatalogueLike;
  initialStateFromHeader(header: HeaderLike): StateLike;
  evolve(state: StateLike, e: Envelope): StateLike;
  cloneState?(state: StateLike): StateLike;
  packState?(state: StateLike, prev?: unknown): { bytes: number; sharedBytes?: number };
  packedBytesOf?(states: Iterable<unknown>): number;
  unpackState?(packed: unknown): StateLike;
  unpackStateInto?(packed: unknown, into: StateLike): StateLike;
}

/** A state kept for seeking: packed (core's packState) where core has it, else a deep copy. */
export interface KeptState {
  readonly packed: unknown;
  /** Bytes it takes alone, as core's packState counts them (or estimated from a copy's entries). */
  readonly bytes: number;
  /** Of those, the bytes it shares with the state it was kept after (keep's `prev`): 0 if none. */
  readonly sharedBytes: number;
}

export interface ViewerApi {
  readonly events: EventsApi;
  readonly core: CoreApi;
  readonly views: CounterViews;
  readonly clone: (s: StateLike) => StateLike;
  /**
   * Keeps a state for seeking; {@link ViewerApi.unkeep} makes a new live state of it, as often as asked. With `prev`
   * (a state kept before), what packs the same as in prev is shared with it (core's packState), which takes less
   * time and memory; the kept state is the same either way.
   */
  readonly keep: (s: StateLike, prev?: KeptState) => KeptState;
  /** Bytes the kept states take together (shared parts counted once). */
  readonly keptBytes: (ks: readonly KeptState[]) => number;
  readonly unkeep: (k: KeptState) => StateLike;
  /**
   * As unkeep, given a live state the caller gives up (core's unpackStateInto writes the packed values into its
   * entries rather than allocating ~200,000 new ones); `into` must not be read afterwards.
   */
  readonly unkeepInto: (k: KeptState, into: StateLike) => StateLike;
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
  // evolve writes the state in place (core's model/state.ts), so a snapshot must be a deep copy.
  const clone = (s: StateLike): StateLike => (cloneState ? cloneState(s) : structuredClone(s));
  const cloneState = fn(core, 'cloneState', 'snapshotState') as CoreApi['cloneState'];
  const packState = fn(core, 'packState') as CoreApi['packState'];
  const unpackState = fn(core, 'unpackState') as CoreApi['unpackState'];
  const unpackStateInto = fn(core, 'unpackStateInto') as CoreApi['unpackStateInto'];
  const packedBytesOf = fn(core, 'packedBytesOf') as CoreApi['packedBytesOf'];
  const views: CounterViews = {
    meminfo: fn(core, 'viewMeminfo') as CounterViews['meminfo'],
    vmstat: fn(core, 'viewVmstat') as CounterViews['vmstat'],
  };
  const unkeep: ViewerApi['unkeep'] = packState && unpackState ? (k) => unpackState(k.packed) : (k) => clone(k.packed as StateLike);
  return {
    events: { readLogStream, parseEventLine } as unknown as EventsApi,
    core: { createCoreCatalogue, initialStateFromHeader: initialState, evolve, cloneState } as unknown as CoreApi,
    views,
    clone,
    keep:
      packState && unpackState
        ? (s, prev) => {
            const p = packState(s, prev?.packed);
            return { packed: p, bytes: p.bytes, sharedBytes: p.sharedBytes ?? 0 };
          }
        : (s) => ({ packed: clone(s), bytes: estimateStateBytes(s), sharedBytes: 0 }),
    keptBytes: packedBytesOf ? (ks) => packedBytesOf(ks.map((k) => k.packed)) : (ks) => ks.reduce((n, k) => n + k.bytes, 0),
    unkeep,
    // without core's unpackStateInto (or its packState), a new state as unkeep makes
    unkeepInto: packState && unpackState && unpackStateInto ? (k, into) => unpackStateInto(k.packed, into) : unkeep,
  };
}
