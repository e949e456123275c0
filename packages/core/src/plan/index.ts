/**
 * `memhp plan hot-add`: what a hot-add would cost, found by doing it — on a scratch machine booted with the same
 * arch, page size, struct page size, kernel and block size — through the ACPI memory-device driver (a DIMM,
 * which asks for memmap_on_memory when the kernel's predicate accepts it). Every number is the model's, not a
 * second formula: the memmap pages and page-table pages the add took from free memory, where the memmap came
 * from, the zone the blocks were onlined to and what MemTotal gained.
 */
import type { ArchBackend } from '../arch/backend.js';
import type { MachineConfig, OnlineType } from '../api.js';
import type { KernelVersion } from '../kernel/version.js';
import { createSimulator } from '../simulator.js';
import type { ReadonlyMachineState } from '../model/state.js';
import { viewMeminfo } from '../views/index.js';

export interface PlanHotAddInput {
  readonly backend: ArchBackend;
  readonly kernel: KernelVersion;
  readonly pageSizeBytes: number;
  readonly structPageBytes: number;
  readonly features?: Readonly<Record<string, boolean | number | string>>;
  readonly sizeBytes: bigint;
  /** memory_hotplug.memmap_on_memory=1 on the command line (the driver then asks for it per the kernel's rules). */
  readonly memmapOnMemory: boolean;
  /** MemFree available now; feasibility is judged against it. */
  readonly freeBytes?: bigint;
  readonly blockSizeBytes?: bigint;
  /** End of boot RAM of the scratch machine (default 4 GiB). */
  readonly bootRamEndBytes?: bigint;
  /** Physical start; default: where QEMU would place a DIMM. */
  readonly startBytes?: bigint;
  readonly onlineType?: OnlineType;
}

export interface PlanHotAddResult {
  readonly kernel: KernelVersion;
  /** Free memory the add itself consumes: RAM-backed memmap plus vmemmap page-table pages. */
  readonly freeBytesNeeded: bigint;
  readonly blocks: number;
  readonly sections: number;
  /** Bytes of memmap for the added range (wherever it lives). */
  readonly memmapBytes: bigint;
  readonly memmapSource: 'altmap' | 'ram' | 'mixed' | 'none';
  /** Page-table pages allocated for the new vmemmap mapping (never from the altmap). */
  readonly pageTablePages: number;
  /** Zone the blocks went to when onlined with `onlineType`. */
  readonly zone: string | null;
  /** MemTotal gain after onlining every block. */
  readonly memTotalGainBytes: bigint;
  readonly startBytes: bigint;
  readonly blockSizeBytes: bigint;
  readonly feasible: boolean;
  /** The add's errno when it failed. */
  readonly errno: string | null;
  readonly reasons: readonly string[];
}

function pageTablePages(s: ReadonlyMachineState): number {
  let n = 0;
  for (const level of ['pte', 'pmd', 'pud', 'p4d'] as const) n += s.vmemmap.tables[level].size;
  return n;
}

const human = (b: bigint): string =>
  b >= 1n << 30n && b % (1n << 30n) === 0n ? `${b >> 30n} GiB` : b >= 1n << 20n && b % (1n << 20n) === 0n ? `${b >> 20n} MiB` : b >= 1024n ? `${Number(b) / 1024} KiB` : `${b} B`;

/** Plan a hot-add by running it on a scratch simulator. */
export function planHotAdd(input: PlanHotAddInput): PlanHotAddResult {
  const bootEnd = input.bootRamEndBytes ?? 4n << 30n;
  const onlineType = input.onlineType ?? 'online';
  const config: MachineConfig = {
    arch: input.backend.id,
    pageSizeBytes: input.pageSizeBytes,
    structPageBytes: input.structPageBytes,
    kernel: input.kernel,
    cmdline: input.memmapOnMemory ? 'memory_hotplug.memmap_on_memory=1' : '',
    ...(input.features ? { features: input.features } : {}),
    ...(input.blockSizeBytes !== undefined ? { blockSizeBytes: input.blockSizeBytes } : {}),
    nodes: [{ id: 0, memory: [{ startBytes: 0n, sizeBytes: bootEnd }] }],
  };
  const sim = createSimulator({ config, backend: input.backend });
  const s = sim.state;
  const g = s.machine.geometry;
  const P = BigInt(g.pageBytes);
  const blocksBefore = new Set(s.blocks.keys());
  const free0 = s.counters.nrFreePages;
  const memmap0 = s.counters.nrMemmapPages;
  const pt0 = pageTablePages(s);
  const memTotal0 = viewMeminfo(s).MemTotal ?? 0;

  const r = sim.exec({ kind: 'plug_dimm', id: 'plan', node: 0, sizeBytes: input.sizeBytes, ...(input.startBytes !== undefined ? { startBytes: input.startBytes } : {}) });
  const reasons: string[] = [];
  const newBlocks = [...s.blocks.values()].filter((b) => !blocksBefore.has(b.id));
  const freeNeededPages = free0 - s.counters.nrFreePages;
  const memmapPages = s.counters.nrMemmapPages - memmap0;
  const selfHosted = newBlocks.filter((b) => b.nrVmemmapPages > 0).length;
  const memmapSource = newBlocks.length === 0 ? 'none' : selfHosted === newBlocks.length ? 'altmap' : selfHosted === 0 ? 'ram' : 'mixed';
  const dimm = [...s.resources].reverse().find((x) => !x.boot);
  const startBytes = input.startBytes ?? dimm?.startBytes ?? 0n;
  if (!r.ok) reasons.push(`the hot-add fails: -${r.errno} (${r.why})`);
  else {
    reasons.push(
      memmapSource === 'altmap'
        ? `memmap_on_memory: each block hosts its own ${newBlocks[0]?.nrVmemmapPages ?? 0} memmap pages; only page tables come from free memory`
        : `the memmap (${human(BigInt(memmapPages) * P)}) comes from free memory${input.memmapOnMemory ? ' (the kernel does not accept memmap_on_memory for this request)' : ''}`,
    );
  }
  const pts = pageTablePages(s) - pt0;

  let zone: string | null = null;
  for (const b of newBlocks) {
    const o = sim.exec({ kind: 'block_state', block: b.id, state: onlineType });
    if (!o.ok) reasons.push(`onlining memory${b.id} fails: -${o.errno} (${o.why})`);
  }
  const zones = new Set(newBlocks.map((b) => s.blocks.get(b.id)?.zone).filter((z): z is NonNullable<typeof z> => !!z));
  if (zones.size > 0) zone = [...zones].join(', ');
  const memTotalGain = BigInt(Math.round(((viewMeminfo(s).MemTotal ?? 0) - memTotal0) * 1024));

  const freeBytesNeeded = BigInt(freeNeededPages) * P;
  let feasible = r.ok;
  if (r.ok && newBlocks.length === 0) {
    // add_memory returned -EEXIST (the range is already System RAM); acpi_memory_enable_device ignores that error
    // (drivers/acpi/acpi_memhotplug.c), so the DIMM "plugs" but adds nothing: no hot-add to plan.
    feasible = false;
    reasons.push(`nothing is added: [${human(startBytes)}, +${human(input.sizeBytes)}) is already in use (add_memory -EEXIST, which the ACPI driver ignores)`);
  }
  if (r.ok && input.freeBytes !== undefined && freeBytesNeeded > input.freeBytes) {
    feasible = false;
    reasons.push(`needs ${human(freeBytesNeeded)} of free memory but only ${human(input.freeBytes)} is free`);
  }
  return {
    kernel: input.kernel,
    freeBytesNeeded,
    blocks: newBlocks.length,
    sections: newBlocks.length * g.sectionsPerBlock,
    memmapBytes: BigInt(memmapPages) * P,
    memmapSource,
    pageTablePages: pts,
    zone,
    memTotalGainBytes: memTotalGain,
    startBytes,
    blockSizeBytes: g.blockSizeBytes,
    feasible,
    errno: r.ok ? null : r.errno,
    reasons,
  };
}
