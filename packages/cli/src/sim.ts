/**
 * How the CLI drives core: create a simulator for a machine, run commands, read its state through core's
 * views, and fold a recorded log back into state. Names are looked up through the port so the CLI builds
 * while core is being written; shapes are normalised here, once, for every command.
 */
import type { ArchBackend, Command, MachineConfig } from '@memhp/core';
import { coreFn, coreHas, eventsFn, eventsNode, nodeFn } from './port.js';
import type { FaultConfig } from './scenario/load.js';
import { UserError } from './errors.js';

export interface Envelope {
  readonly seq: number;
  readonly time: number;
  readonly op: number;
  readonly cause: number | null;
  readonly type: string;
  readonly v: number;
  readonly payload: unknown;
}

export interface BusLike {
  on(name: string, fn: (e: Envelope) => void): { unsubscribe(): void };
  readonly lastSeq: number;
}

export type KResultLike = { ok: true } | { ok: false; errno: string; why: string };

export interface Simulator {
  readonly bus: BusLike;
  /** Boot the machine (publishes the boot events); a no-op when core boots inside createSimulator. */
  boot(): void;
  execute(cmd: Command): KResultLike;
  state(): unknown;
  header(): Record<string, unknown>;
}

export interface LogWriterLike {
  attach(bus: BusLike): { unsubscribe(): void };
  close(): Promise<void>;
  readonly written: number;
}

export interface LogReaderLike {
  header(): Promise<Record<string, unknown>>;
  events(): AsyncIterable<Envelope>;
}

type Rec = Record<string, unknown>;

/** core's createSimulator, normalised to {@link Simulator}. */
export function createSimulator(opts: { machine: MachineConfig; backend: ArchBackend; seed: number; faults: FaultConfig; extraBackends?: readonly ArchBackend[] }): Simulator {
  const create = coreFn<(o: Rec) => Rec>('memhp run', 'createSimulator');
  let sim: Rec;
  try {
    sim = create({ machine: opts.machine, backend: opts.backend, seed: opts.seed, faults: opts.faults.policies });
  } catch (e) {
    // Core rejects a machine it cannot boot (bad cmdline, unaligned ranges …) with a typed error.
    throw new UserError((e as Error).message);
  }
  const bus = sim.bus as BusLike;
  const exec = (sim.execute ?? sim.run ?? sim.apply ?? sim.dispatch) as ((c: Command) => KResultLike) | undefined;
  if (typeof exec !== 'function') throw new UserError('core\'s simulator has no execute()');
  return {
    bus,
    boot: () => {
      if (typeof sim.boot === 'function') (sim.boot as () => unknown).call(sim);
    },
    execute: (c) => exec.call(sim, c),
    state: () => (typeof sim.getState === 'function' ? (sim.getState as () => unknown)() : typeof sim.state === 'function' ? (sim.state as () => unknown)() : sim.state),
    header: () => (typeof sim.header === 'function' ? (sim.header as () => Rec)() : (sim.header as Rec)),
  };
}

export async function openWriter(path: string, header: Rec): Promise<LogWriterLike> {
  const ns = await eventsNode('memhp run -o');
  return nodeFn<(p: string, h: Rec) => LogWriterLike>(ns, 'memhp run -o', 'openLogWriter')(path, header);
}

export function catalogue(what: string): unknown {
  return coreFn<() => unknown>(what, 'createCoreCatalogue', 'createCatalogue')();
}

export async function openReader(path: string, opts: { strict?: boolean } = {}): Promise<LogReaderLike> {
  const ns = await eventsNode('reading a log');
  return nodeFn<(p: string, o: Rec) => LogReaderLike>(ns, 'reading a log', 'openLogReader')(path, { catalogue: catalogue('reading a log'), strict: opts.strict ?? false });
}

/** Fold a log into state with core's evolve (the same evolve the live run used). */
export async function replayLog(
  path: string,
  opts: { until?: number; strict?: boolean; onEvent?: (e: Envelope) => void } = {},
): Promise<{ header: Rec; state: unknown; lastSeq: number }> {
  const reader = await openReader(path, opts);
  const initial = coreFn<(h: Rec) => unknown>('replay', 'initialStateFromHeader', 'initialState', 'replayInitial');
  const evolve = coreFn<(s: unknown, e: Envelope) => unknown>('replay', 'evolve');
  const header = await reader.header();
  let state = initial(header);
  let lastSeq = 0;
  for await (const e of reader.events()) {
    if (opts.until !== undefined && e.seq > opts.until) break;
    state = evolve(state, e);
    lastSeq = e.seq;
    opts.onEvent?.(e);
  }
  return { header, state, lastSeq };
}

/** Read every event of a log (for diff, export, query). */
export async function readAll(path: string, opts: { strict?: boolean } = {}): Promise<{ header: Rec; events: Envelope[] }> {
  const reader = await openReader(path, opts);
  const header = await reader.header();
  const events: Envelope[] = [];
  for await (const e of reader.events()) events.push(e);
  return { header, events };
}

// ---------------------------------------------------------------------------------------------------------
// Views: /proc/meminfo, /proc/vmstat, /proc/zoneinfo, /sys/devices/system/memory, kmem -n
// ---------------------------------------------------------------------------------------------------------

export interface BlockView {
  readonly id: number;
  readonly state: string;
  readonly valid_zones: string;
  readonly phys_index: string;
  readonly removable: string;
  readonly node?: number;
  readonly [k: string]: unknown;
}

export interface ZoneView {
  readonly node: number;
  readonly zone: string;
  readonly present: number;
  readonly managed: number;
  readonly spanned: number;
  readonly [k: string]: unknown;
}

/** A counter table as numbers: meminfo in kB (as /proc/meminfo prints), vmstat in pages. */
function numbers(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (k: string, x: unknown) => {
    if (typeof x === 'number') out[k] = x;
    else if (typeof x === 'bigint') out[k] = Number(x);
    else if (typeof x === 'string') {
      const m = /^\s*(-?\d+)/.exec(x);
      if (m) out[k] = Number(m[1]);
    } else if (x && typeof x === 'object' && 'value' in x) put(k, (x as Rec).value);
  };
  if (Array.isArray(v)) for (const r of v as Rec[]) put(String(r.name ?? r.key), r.value ?? r.kB ?? r.pages);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Rec)) put(k, x);
  return out;
}

export const viewMeminfo = (state: unknown): Record<string, number> => numbers(coreFn<(s: unknown) => unknown>('meminfo', 'meminfo', 'viewMeminfo', 'procMeminfo')(state));
export const viewVmstat = (state: unknown): Record<string, number> => numbers(coreFn<(s: unknown) => unknown>('vmstat', 'vmstat', 'viewVmstat', 'procVmstat')(state));

export function viewZoneinfo(state: unknown): ZoneView[] {
  const v = coreFn<(s: unknown) => unknown>('zoneinfo', 'zoneinfo', 'viewZoneinfo', 'procZoneinfo')(state);
  return (Array.isArray(v) ? v : Object.values(v as Rec)) as ZoneView[];
}

export function viewBlocks(state: unknown): BlockView[] {
  const v = coreFn<(s: unknown) => unknown>('memory blocks', 'memoryBlocks', 'sysfsMemoryBlocks', 'viewMemoryBlocks', 'sysfsMemory')(state);
  const list = (Array.isArray(v) ? v : Array.isArray((v as Rec).blocks) ? (v as Rec).blocks : Object.values(v as Rec)) as BlockView[];
  return list;
}

export interface SectionView {
  readonly nr: number;
  readonly [k: string]: unknown;
}

export function viewSections(state: unknown): Rec[] {
  const v = coreFn<(s: unknown) => unknown>('sections', 'kmemN', 'kmemSections', 'viewSections', 'sections')(state);
  return (Array.isArray(v) ? v : Array.isArray((v as Rec).sections) ? (v as Rec).sections : Object.values(v as Rec)) as Rec[];
}

export const hasViews = (): boolean => coreHas('meminfo', 'viewMeminfo', 'procMeminfo');
