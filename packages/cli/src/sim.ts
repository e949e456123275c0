/**
 * How the CLI drives core: create a simulator for a machine (not yet booted, so the log writer and the summary
 * listen from the first event), run commands, read its state through core's views, and fold a recorded log
 * back into state with the same evolve. Nothing here models the kernel.
 */
import {
  createCoreCatalogue,
  createSimulator as coreCreateSimulator,
  evolve,
  formatMeminfo as coreFormatMeminfo,
  hugetlbMeminfo,
  initialStateFromHeader,
  kmemBlocks,
  kmemSections,
  viewMeminfo as coreViewMeminfo,
  viewMemoryBlocks,
  viewVmstat as coreViewVmstat,
  viewZoneinfo as coreViewZoneinfo,
  type ArchBackend,
  type Command,
  type FaultConfig as CoreFaultConfig,
  type KmemBlockRow,
  type KmemSectionRow,
  type MachineConfig,
  type MachineState,
  type MemoryBlockRow,
  type ReadonlyMachineState,
  type ZoneinfoRow,
} from '@memhp/core';
import { EventBus, LOG_END_TYPE, type EventEnvelope, type LogHeader, type LogReader } from '@memhp/events';
import { openLogReader, openLogWriter, type LogWriter } from '@memhp/events/node';
import { EVENT_CHECKS } from './generated/event-checks.js';
import type { FaultConfig } from './scenario/load.js';
import { UserError, type Location } from './errors.js';
import { VERSION } from './version.js';
import { isNatsLog, openNatsReader, openNatsWriter } from './log-location.js';

export type Envelope = EventEnvelope;
export type KResultLike = { ok: true } | { ok: false; errno: string; why: string };

export interface Simulator {
  readonly bus: EventBus;
  /** Boot the machine (publishes the boot events); a boot failure is the user's machine description. */
  boot(): void;
  execute(cmd: Command): KResultLike;
  state(): ReadonlyMachineState;
  header(): LogHeader;
  /** What the kernel would log about the command line (core records each as kernel.warn at boot). */
  readonly cmdlineWarnings: readonly string[];
  /** Publish the log's end marker (after the last command; replay --strict looks for it). */
  end(reason: 'complete' | 'interrupted', signal?: string): void;
}

/** core's createSimulator, created without booting so a writer can attach first. */
export function createSimulator(opts: {
  machine: MachineConfig;
  backend: ArchBackend;
  seed: number;
  faults: FaultConfig;
  /** Where to point errors core finds in the machine: the command line, or the machine as a whole. */
  where?: { cmdline: Location; machine: Location; fields?: Readonly<Record<string, Location>> };
  /**
   * Freeze every event (the bus's default). Off for a sweep point: its only subscribers are memhp's own (evolve,
   * the summary, the log writer), which the test suites run with freezing on, where a write to an event throws.
   */
  freeze?: boolean;
}): Simulator {
  let sim: ReturnType<typeof coreCreateSimulator>;
  try {
    sim = coreCreateSimulator({
      config: opts.machine,
      backend: opts.backend,
      seed: opts.seed,
      // The scenario's faults: block is validated against core's FaultConfig shape (scenario/schema.ts).
      faults: opts.faults.policies as CoreFaultConfig,
      autoBoot: false,
      ...(opts.freeze === false ? { bus: new EventBus({ freeze: false }) } : {}),
      memhpVersion: VERSION,
      // SOURCE_DATE_EPOCH pins the header's time; without it core's fixed epoch keeps logs byte-identical.
      ...(process.env.SOURCE_DATE_EPOCH ? { createdAt: new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString() } : {}),
    });
  } catch (e) {
    // Core rejects a machine it cannot build (bad cmdline, unaligned ranges …) with a worded error.
    const err = e as Error & { field?: unknown };
    if (err.cause instanceof UserError) throw err.cause;
    const at = err.name === 'MachineConfigError' && typeof err.field === 'string' ? opts.where?.fields?.[err.field] : undefined;
    // Located at the field itself: drop core's "machine.<field>: " prefix, the location names it.
    if (at) throw new UserError(err.message.replace(/^machine\.[^:]+: /, ''), at);
    throw new UserError(err.message, (err.name === 'CmdlineError' ? opts.where?.cmdline : opts.where?.machine) ?? {});
  }
  return {
    bus: sim.bus,
    boot: () => {
      const r = sim.boot();
      if (!r.ok) throw new UserError(`the machine does not boot: -${r.errno} (${r.why})`, opts.where?.machine ?? {});
    },
    execute: (c) => sim.exec(c),
    state: () => sim.state,
    header: () => sim.header(),
    cmdlineWarnings: sim.cmdlineWarnings,
    end: (reason, signal) => {
      const st = sim.state;
      sim.bus.publish({ time: st.timeNs, op: st.lastOp, cause: null, type: LOG_END_TYPE, v: 1, payload: { reason, ...(signal ? { signal } : {}) } });
    },
  };
}

/**
 * A log writer for a file path (a temporary file beside `shownAs`, see output-file.ts; errors name `shownAs`) or a
 * `nats://HOST:PORT/STREAM/SUBJECT` location (log-location.ts).
 */
export const openWriter = async (path: string, header: LogHeader, shownAs = path): Promise<LogWriter> => {
  if (isNatsLog(path)) return openNatsWriter(path, header);
  try {
    return openLogWriter(path, header);
  } catch (e) {
    throw new UserError(`cannot write the log: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: shownAs });
  }
};

export function openReader(path: string, opts: { strict?: boolean } = {}): LogReader {
  const read = {
    // Checks generated at build (scripts/gen-event-checks.ts): reading a log loads no schema compiler.
    catalogue: createCoreCatalogue([], { precompiled: EVENT_CHECKS }),
    strict: opts.strict ?? false,
    // Without --strict the reader skips what it can (a torn last line of a killed run …) and says so here.
    onWarning: (w: Error) => process.stderr.write(`memhp: warning: ${w.message}\n`),
  };
  return isNatsLog(path) ? openNatsReader(path, read) : openLogReader(path, { ...read, displayName: path });
}

/** A reader's events in batches; a reader without batches() (a NATS stream) gives one event per batch. */
async function* batchesOf(reader: LogReader): AsyncGenerator<readonly Envelope[]> {
  if (reader.batches) {
    yield* reader.batches();
    return;
  }
  for await (const e of reader.events()) yield [e];
}

/** Fold a log into state with core's evolve (the same evolve the live run used). */
export async function replayLog(
  path: string,
  opts: { until?: number; strict?: boolean; onEvent?: (e: Envelope) => void } = {},
): Promise<{ header: LogHeader; state: MachineState; lastSeq: number }> {
  const reader = openReader(path, opts);
  const header = await reader.header();
  const state = initialStateFromHeader(header);
  let lastSeq = 0;
  // Batches (one per chunk the reader decoded) rather than events(): an async step per event costs more than the
  // evolve of a short log.
  outer: for await (const batch of batchesOf(reader)) {
    for (const e of batch) {
      if (opts.until !== undefined && e.seq > opts.until) break outer;
      evolve(state, e);
      lastSeq = e.seq;
      opts.onEvent?.(e);
    }
  }
  return { header, state, lastSeq };
}

/** Read every event of a log (for diff, export, query). */
export async function readAll(path: string, opts: { strict?: boolean } = {}): Promise<{ header: LogHeader; events: Envelope[] }> {
  const reader = openReader(path, opts);
  const header = await reader.header();
  const events: Envelope[] = [];
  for await (const batch of batchesOf(reader)) for (const e of batch) events.push(e);
  return { header, events };
}

// ---------------------------------------------------------------------------------------------------------
// Views: /proc/meminfo, /proc/vmstat, /proc/zoneinfo, /sys/devices/system/memory, crash kmem -n
// ---------------------------------------------------------------------------------------------------------

/** /proc/meminfo in kB, with the HugeTLB lines (HugePages_*, Hugepagesize, Hugetlb). */
export const viewMeminfo = (s: ReadonlyMachineState): Record<string, number> => coreViewMeminfo(s, hugetlbMeminfo(s));
export const viewVmstat = (s: ReadonlyMachineState): Record<string, number> => coreViewVmstat(s);
export const viewZoneinfo = (s: ReadonlyMachineState): ZoneinfoRow[] => coreViewZoneinfo(s);
export const viewBlocks = (s: ReadonlyMachineState): MemoryBlockRow[] => viewMemoryBlocks(s);
export const viewKmemSections = (s: ReadonlyMachineState): KmemSectionRow[] => kmemSections(s);
export const viewKmemBlocks = (s: ReadonlyMachineState): KmemBlockRow[] => kmemBlocks(s);
/** /proc/meminfo text exactly as the kernel lays it out. */
export const formatMeminfo = (m: Record<string, number>): string => coreFormatMeminfo(m);
