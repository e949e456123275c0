/**
 * How the CLI drives core: create a simulator for a machine, run commands, read its state through core's
 * views, and fold a recorded log back into state. Names are looked up through the port so the CLI builds
 * while core is being written; shapes are normalised here, once, for every command.
 */
import type { ArchBackend, Command, MachineConfig } from '@memhp/core';
import { coreFn, coreHas, eventsNode, nodeFn } from './port.js';
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

/** core's createSimulator (simulator.ts), created without booting so a writer can attach first. */
export function createSimulator(opts: { machine: MachineConfig; backend: ArchBackend; seed: number; faults: FaultConfig; memhpVersion?: string }): Simulator {
  const create = coreFn<(o: Rec) => Rec>('memhp run', 'createSimulator');
  let sim: Rec;
  try {
    sim = create({
      config: opts.machine,
      backend: opts.backend,
      seed: opts.seed,
      faults: opts.faults.policies,
      autoBoot: false,
      ...(opts.memhpVersion ? { memhpVersion: opts.memhpVersion } : {}),
      // SOURCE_DATE_EPOCH makes the header reproducible too (same scenario + seed → byte-identical log).
      ...(process.env.SOURCE_DATE_EPOCH ? { createdAt: new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString() } : {}),
    });
  } catch (e) {
    // Core rejects a machine it cannot build (bad cmdline, unaligned ranges …) with a typed, worded error.
    throw new UserError((e as Error).message);
  }
  const bus = sim.bus as BusLike;
  return {
    bus,
    boot: () => {
      const r = (sim.boot as () => KResultLike).call(sim);
      if (!r.ok) throw new UserError(`the machine does not boot: -${r.errno} (${r.why})`);
    },
    execute: (c) => (sim.exec as (c: Command) => KResultLike).call(sim, c),
    state: () => sim.state,
    header: () => (sim.header as () => Rec).call(sim),
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
  return nodeFn<(p: string, o: Rec) => LogReaderLike>(ns, 'reading a log', 'openLogReader')(path, {
    catalogue: catalogue('reading a log'),
    strict: opts.strict ?? false,
    // Without --strict the reader skips what it can (a torn last line of a killed run …) and says so here.
    onWarning: (w: Error) => process.stderr.write(`memhp: warning: ${w.message}\n`),
  });
}

/** Fold a log into state with core's evolve (the same evolve the live run used). */
export async function replayLog(
  path: string,
  opts: { until?: number; strict?: boolean; onEvent?: (e: Envelope) => void } = {},
): Promise<{ header: Rec; state: unknown; lastSeq: number }> {
  const reader = await openReader(path, opts);
  const initial = coreFn<(h: Rec) => unknown>('replay', 'initialStateFromHeader');
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

/** /proc/meminfo in kB, with the HugeTLB lines (HugePages_*, Hugepagesize, Hugetlb) when core has the pool view. */
export function viewMeminfo(state: unknown): Record<string, number> {
  const extra = coreHas('hugetlbMeminfo') ? coreFn<(s: unknown) => Record<string, number>>('meminfo', 'hugetlbMeminfo')(state) : {};
  return numbers(coreFn<(s: unknown, extra: Record<string, number>) => unknown>('meminfo', 'viewMeminfo')(state, extra));
}
export const viewVmstat = (state: unknown): Record<string, number> => numbers(coreFn<(s: unknown) => unknown>('vmstat', 'viewVmstat')(state));
export const viewZoneinfo = (state: unknown): ZoneView[] => coreFn<(s: unknown) => ZoneView[]>('zoneinfo', 'viewZoneinfo')(state);
export const viewBlocks = (state: unknown): BlockView[] => coreFn<(s: unknown) => BlockView[]>('memory blocks', 'viewMemoryBlocks')(state);
/** crash `kmem -n` tables (NR, SECTION, CODED_MEM_MAP, MEM_MAP, STATE, PFN / NAME, PHYSICAL_RANGE, NODE, STATE, START_SECTION_NO). */
export const viewKmemSections = (state: unknown): Rec[] => coreFn<(s: unknown) => Rec[]>('sections', 'kmemSections')(state);
export const viewKmemBlocks = (state: unknown): Rec[] => coreFn<(s: unknown) => Rec[]>('blocks', 'kmemBlocks')(state);
/** /proc/meminfo text exactly as the kernel lays it out. */
export const formatMeminfo = (m: Record<string, number>): string => coreFn<(m: Record<string, number>) => string>('meminfo', 'formatMeminfo')(m);

export const hasSimulator = (): boolean => coreHas('createSimulator') && coreHas('viewMeminfo');
