/**
 * The kit's round trips on core's real machinery: a small machine booted by `createSimulator` with the backend
 * under test, driven through core's own commands (add_memory / remove_memory, memremap_pages / memunmap_pages),
 * and judged from core's state and the events it recorded. The backend's `vmemmapPopulate` / `vmemmapFree` run
 * on the same `VmemmapContext` (vmemmap/context.ts: the generic helpers of mm/sparse-vmemmap.c) and the same
 * section_activate / section_deactivate (mm/sparse.c) as in every `memhp run`, and the fault injector makes
 * PMD_SIZE allocations fail exactly where the pattern says.
 */
import {
  createSimulator,
  pfnToPageVa,
  replayState,
  runsCount,
  type ArchBackend,
  type ArchConfig,
  type Command,
  type FaultConfig,
  type KResult,
  type MachineConfig,
  type PhysRange,
  type ReadonlyMachineState,
  type Simulator,
} from '@memhp/core';
import { parseEventLine, parseHeaderLine, serializeEvent, serializeHeader, type EventEnvelope } from '@memhp/events';

const GIB = 1n << 30n;

/** Where the kit's machine has its RAM and puts hot-added memory; a backend with other needs passes its own. */
export interface KitMachineOptions {
  /** Boot RAM on node 0. Default: 1 GiB at 2 GiB — above every x86/arm64 low zone, at riscv64's phys_ram_base. */
  readonly bootRam?: readonly PhysRange[];
  /** Physical address of the first hot-added block. Default 64 GiB (section aligned on every first-party configuration). */
  readonly hotplugBaseBytes?: bigint;
}

export interface KitBootOptions extends KitMachineOptions {
  readonly cmdline?: string;
  readonly faults?: FaultConfig;
  readonly seed?: number;
  /** Core's invariants after every event (costs O(state) per event). */
  readonly checkInvariants?: boolean;
}

export interface OpResult {
  readonly result: KResult;
  /** The events of this command, command.begin to command.end. */
  readonly events: readonly EventEnvelope[];
}

/** A booted machine and what it recorded. */
export interface KitRun {
  readonly sim: Simulator;
  readonly state: ReadonlyMachineState;
  /** Every event since before boot (what a log file holds). */
  readonly events: readonly EventEnvelope[];
  /** One memory block = one section (the kit overrides the block size so every command covers exactly one section). */
  readonly sectionBytes: bigint;
  readonly pageBytes: bigint;
  readonly subsectionBytes: bigint;
  /** Pages of memmap of one section, rounded up. */
  readonly sectionMemmapPages: number;
  readonly baseBytes: bigint;
  exec(cmd: Command): OpResult;
  /** The vmemmap range [start, end) holding the struct pages of a physical range. */
  memmapRange(startBytes: bigint, sizeBytes: bigint): readonly [bigint, bigint];
}

export function machineConfigOf(backend: ArchBackend, config: ArchConfig, opts: KitBootOptions = {}): MachineConfig {
  const c = backend.constants(config);
  return {
    arch: backend.id,
    pageSizeBytes: config.pageSizeBytes,
    structPageBytes: config.structPageBytes,
    kernel: config.kernel,
    cmdline: opts.cmdline ?? '',
    features: config.features,
    blockSizeBytes: 1n << BigInt(c.sectionSizeBits),
    nodes: [{ id: 0, memory: opts.bootRam ?? [{ startBytes: 2n * GIB, sizeBytes: GIB }] }],
  };
}

/** Boot the kit's machine with the backend; events are recorded from before boot so the run replays from its log. */
export function bootKitMachine(backend: ArchBackend, config: ArchConfig, opts: KitBootOptions = {}): KitRun {
  const sim = createSimulator({
    config: machineConfigOf(backend, config, opts),
    backend,
    autoBoot: false,
    seed: opts.seed ?? 0,
    faults: opts.faults ?? {},
    checkInvariants: opts.checkInvariants ?? false,
  });
  const events: EventEnvelope[] = [];
  sim.bus.on('arch-testkit recorder', (e) => events.push(e));
  const booted = sim.boot();
  if (!booted.ok) throw new Error(`the kit's machine does not boot with this backend: ${booted.errno} ${booted.why}`);
  const g = sim.machine.geometry;
  return {
    sim,
    state: sim.state,
    events,
    sectionBytes: 1n << BigInt(g.sectionSizeBits),
    pageBytes: BigInt(g.pageBytes),
    subsectionBytes: BigInt(g.pagesPerSubsection * g.pageBytes),
    sectionMemmapPages: g.sectionMemmapPages,
    baseBytes: opts.hotplugBaseBytes ?? 64n * GIB,
    exec(cmd) {
      const from = events.length;
      const result = sim.exec(cmd);
      return { result, events: events.slice(from) };
    },
    memmapRange(startBytes, sizeBytes) {
      const pfn = Number(startBytes >> BigInt(g.pageShift));
      const n = Number(sizeBytes >> BigInt(g.pageShift));
      return [pfnToPageVa(g, pfn), pfnToPageVa(g, pfn + n)];
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// What the vmemmap looks like, and what a round trip left behind
// ---------------------------------------------------------------------------------------------------------

/** A copy of everything a populate/depopulate pair may change, to compare a round trip against. */
export interface VmemmapSnapshot {
  readonly pmds: ReadonlyMap<number, string>;
  readonly ptes: ReadonlyMap<number, number>;
  readonly tables: ReadonlyMap<string, ReadonlySet<number>>;
  readonly altmaps: ReadonlySet<number>;
  readonly vmemmapBuddyPages: number;
  readonly nrMemmapPages: number;
}

export function snapshotVmemmap(s: ReadonlyMachineState): VmemmapSnapshot {
  const pmds = new Map<number, string>();
  const ptes = new Map<number, number>();
  for (const [k, e] of s.vmemmap.pmds) {
    pmds.set(k, JSON.stringify(e));
    if (e.kind === 'table') ptes.set(k, runsCount(e.ptes));
  }
  const tables = new Map<string, Set<number>>();
  for (const [level, m] of Object.entries(s.vmemmap.tables)) tables.set(level, new Set(m.keys()));
  return {
    pmds,
    ptes,
    tables,
    altmaps: new Set(s.altmaps.keys()),
    vmemmapBuddyPages: s.counters.vmemmapBuddyPages,
    nrMemmapPages: s.counters.nrMemmapPages,
  };
}

/** Everything that differs from `before` in words: leaves, PTEs, page-table pages, altmaps, counters. */
export function vmemmapLeftovers(before: VmemmapSnapshot, s: ReadonlyMachineState): string[] {
  const out: string[] = [];
  let leaves = 0;
  let extraPtes = 0;
  let changed = 0;
  let gone = 0;
  for (const [k, e] of s.vmemmap.pmds) {
    const was = before.pmds.get(k);
    if (was === JSON.stringify(e)) continue;
    if (e.kind === 'leaf') {
      if (was === undefined) leaves++;
      else changed++;
    } else {
      const d = runsCount(e.ptes) - (before.ptes.get(k) ?? 0);
      if (d > 0) extraPtes += d;
      else changed++;
    }
  }
  for (const k of before.pmds.keys()) if (!s.vmemmap.pmds.has(k)) gone++;
  if (leaves) out.push(`${leaves} PMD leaves still mapped`);
  if (extraPtes) out.push(`${extraPtes} PTEs still mapped`);
  if (changed) out.push(`${changed} PMD entries mapped before the round trip were changed by it`);
  if (gone) out.push(`${gone} PMD entries mapped before the round trip were unmapped by it`);
  for (const [level, m] of Object.entries(s.vmemmap.tables)) {
    const was = before.tables.get(level) ?? new Set<number>();
    let added = 0;
    let freed = 0;
    for (const k of m.keys()) if (!was.has(k)) added++;
    for (const k of was) if (!m.has(k)) freed++;
    if (added) out.push(`${added} ${level} page-table pages still allocated`);
    if (freed) out.push(`${freed} ${level} page-table pages that existed before were freed`);
  }
  for (const [id, a] of s.altmaps) if (!before.altmaps.has(id)) out.push(`altmap ${id} still exists (alloc = ${a.alloc})`);
  if (s.counters.vmemmapBuddyPages !== before.vmemmapBuddyPages)
    out.push(`${s.counters.vmemmapBuddyPages - before.vmemmapBuddyPages} pages still taken from the page allocator for the vmemmap`);
  if (s.counters.nrMemmapPages !== before.nrMemmapPages) out.push(`nr_memmap_pages is ${s.counters.nrMemmapPages}, was ${before.nrMemmapPages}`);
  return out;
}

/** How core's page tables map the memmap of a physical range now: leaves and PTE pages by source, unmapped pages. */
export interface MemmapMapping {
  readonly leaves: Readonly<Record<string, number>>;
  readonly ptePages: Readonly<Record<string, number>>;
  readonly pteTables: number;
  /** Vmemmap pages of the range mapped by nothing. */
  readonly unmapped: number;
}

export function memmapMapping(k: KitRun, startBytes: bigint, sizeBytes: bigint): MemmapMapping {
  const g = k.state.machine.geometry;
  const [s, e] = k.memmapRange(startBytes, sizeBytes);
  const pmdShift = BigInt(g.pmdShift);
  const pageShift = BigInt(g.pageShift);
  const leaves: Record<string, number> = {};
  const ptePages: Record<string, number> = {};
  let pteTables = 0;
  let unmapped = 0;
  const first = Number(s >> pageShift);
  const last = Number((e - 1n) >> pageShift); // inclusive: the page holding the last struct page
  const perPmd = 2 ** (g.pmdShift - g.pageShift);
  for (let pmd = Number(s >> pmdShift); pmd <= Number((e - 1n) >> pmdShift); pmd++) {
    const lo = Math.max(first, pmd * perPmd) - pmd * perPmd;
    const hi = Math.min(last + 1, (pmd + 1) * perPmd) - pmd * perPmd;
    const entry = k.state.vmemmap.pmds.get(pmd);
    if (entry?.kind === 'leaf') {
      leaves[entry.source] = (leaves[entry.source] ?? 0) + 1;
      continue;
    }
    let mapped = 0;
    if (entry?.kind === 'table') {
      pteTables++;
      for (const r of entry.ptes) {
        const n = Math.min(hi, r.endIdx) - Math.max(lo, r.startIdx);
        if (n > 0) {
          ptePages[r.source] = (ptePages[r.source] ?? 0) + n;
          mapped += n;
        }
      }
    }
    unmapped += hi - lo - mapped;
  }
  return { leaves, ptePages, pteTables, unmapped };
}

/** altmap.destroy events whose altmap still had pages allocated: vmemmap_free did not give them back. */
export function unbalancedAltmaps(events: readonly EventEnvelope[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.type !== 'altmap.destroy') continue;
    const p = e.payload as { id: number; alloc: number };
    if (p.alloc !== 0) out.push(`altmap ${p.id}: alloc = ${p.alloc} when it was destroyed, not back to 0`);
  }
  return out;
}

interface VmemmapRangeEvent {
  readonly start: string;
  readonly end: string;
  readonly source?: string;
}

/**
 * How often each vmemmap page of [start, end) is mapped, from the recorded populate/depopulate events (so a page
 * mapped twice shows, which the state alone would hide): pages mapped 0 times and pages mapped more than once.
 */
export function mappingCount(events: readonly EventEnvelope[], start: bigint, end: bigint, pageBytes: bigint): { unmapped: number; multiply: number } {
  const s = start - (start % pageBytes);
  const e = end % pageBytes === 0n ? end : end + pageBytes - (end % pageBytes);
  const delta = new Map<bigint, number>();
  const add = (at: bigint, d: number) => delta.set(at, (delta.get(at) ?? 0) + d);
  for (const ev of events) {
    const d = ev.type === 'vmemmap.populate' ? 1 : ev.type === 'vmemmap.depopulate' ? -1 : 0;
    if (!d) continue;
    const p = ev.payload as VmemmapRangeEvent;
    const a = BigInt(p.start);
    const b = BigInt(p.end);
    if (b <= s || a >= e) continue;
    add(a > s ? a : s, d);
    add(b < e ? b : e, -d);
  }
  const points = [...new Set([s, e, ...delta.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  let level = 0;
  let unmapped = 0n;
  let multiply = 0n;
  for (let i = 0; i + 1 < points.length; i++) {
    level += delta.get(points[i]!) ?? 0;
    const len = points[i + 1]! - points[i]!;
    if (level === 0) unmapped += len;
    else if (level > 1) multiply += len;
  }
  return { unmapped: Number(unmapped / pageBytes), multiply: Number(multiply / pageBytes) };
}

/** Pages of [start, end) that the events of one command populated from the page allocator (or boot memory). */
export function ramBackedPages(events: readonly EventEnvelope[], start: bigint, end: bigint, pageBytes: bigint): number {
  let n = 0n;
  for (const ev of events) {
    if (ev.type !== 'vmemmap.populate') continue;
    const p = ev.payload as VmemmapRangeEvent;
    if (p.source === 'altmap') continue;
    const a = BigInt(p.start) > start ? BigInt(p.start) : start;
    const b = BigInt(p.end) < end ? BigInt(p.end) : end;
    if (b > a) n += b - a;
  }
  return Number((n + pageBytes - 1n) / pageBytes);
}

// ---------------------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------------------

/** A canonical JSON picture of any state: Maps and Sets sorted, bigints tagged, so equal states give equal strings. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x.toString()}n`;
    if (x instanceof Map) return { '<map>': [...x.entries()].map(([k, y]) => [JSON.stringify(k), y]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)) };
    if (x instanceof Set) return { '<set>': [...x].map((y) => JSON.stringify(y)).sort() };
    return x;
  });
}

/**
 * Write the run as a log would hold it (header line, one line per event), read it back with validation against
 * the catalogue, and fold it with core's replay — no backend involved. Returns the problems found.
 */
export function replayProblems(run: KitRun): string[] {
  const where = (line: number) => ({ file: 'kit.ndjson', line });
  const header = parseHeaderLine(serializeHeader(run.sim.header()), where(1));
  const parsed = run.events.map((e, i) => parseEventLine(serializeEvent(e), where(i + 2), run.sim.catalogue));
  const replayed = replayState(parsed, header);
  const live = canonicalJson(run.state);
  const again = canonicalJson(replayed);
  if (live === again) return [];
  // name the first top-level field that differs, so the report says where to look
  const a = run.state as unknown as Record<string, unknown>;
  const b = replayed as unknown as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k]));
  return [`replaying the recorded log gives a different state than the live run (differs in: ${fields.join(', ')})`];
}
