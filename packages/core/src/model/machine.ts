/**
 * Building the fixed machine description from a configuration and a backend, the initial (pre-boot) state,
 * and their round trip through the log header: a log is self-contained, so `initialStateFromHeader` needs no
 * backend.
 */
import type { LogHeader } from '@memhp/events';
import type { ArchBackend, ArchConfig } from '../arch/backend.js';
import type { MachineConfig } from '../api.js';
import type { KernelParams, RuntimeKnobs } from '../params/types.js';
import { deriveGeometry, pgtableShift } from './geometry.js';
import type { Geometry, MachineInfo, MachineState, MemoryBlockState, PgtableLevel, ReadonlyMachineState, SectionState } from './state.js';
import { deepCopy } from './deep-copy.js';
import { TableMap } from './tables.js';

/** Backend feature defaults, then the scenario's switches, then the arch's command-line parameters. */
export function archConfigOf(config: MachineConfig, backend: ArchBackend, params?: KernelParams): ArchConfig {
  const features: Record<string, boolean | number | string> = {};
  for (const f of backend.features) {
    const key = f.feature ?? f.name;
    if (f.kind === 'bool' || f.kind === 'flag') features[key] = ['1', 'y', 'yes', 'true', 'on'].includes(f.default.toLowerCase());
    else if (f.kind === 'uint') features[key] = Number(f.default);
    else features[key] = f.default;
  }
  Object.assign(features, config.features ?? {}, params?.arch ?? {});
  return { pageSizeBytes: config.pageSizeBytes, structPageBytes: config.structPageBytes, kernel: config.kernel, features };
}

/** End of boot RAM (max_pfn << PAGE_SHIFT): the highest end of any boot range. */
export function bootRamEndBytes(config: MachineConfig): bigint {
  let end = 0n;
  for (const n of config.nodes) for (const r of n.memory) if (r.startBytes + r.sizeBytes > end) end = r.startBytes + r.sizeBytes;
  return end;
}

export class MachineConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`machine.${field}: ${message}`);
    this.name = 'MachineConfigError';
  }
}

/**
 * Why a memory block size cannot be used (null when it can): a power of two of at least one section
 * (memory_dev_init, drivers/base/memory.c, panics otherwise) and no larger than the physical address space,
 * 2^MAX_PHYSMEM_BITS. Shared by scenarios and the `--block-size` option so both give the same answer.
 */
export function blockSizeProblem(constants: { readonly sectionSizeBits: number; readonly maxPhysmemBits: number }, bytes: bigint): string | null {
  const sectionBytes = 1n << BigInt(constants.sectionSizeBits);
  if (bytes < sectionBytes || (bytes & (bytes - 1n)) !== 0n) return `must be a power of two of at least one section (0x${sectionBytes.toString(16)}), got 0x${bytes.toString(16)}`;
  const phys = 1n << BigInt(constants.maxPhysmemBits);
  if (bytes > phys) return `0x${bytes.toString(16)} is larger than the physical address space (2^${constants.maxPhysmemBits} bytes, MAX_PHYSMEM_BITS ${constants.maxPhysmemBits})`;
  return null;
}

/**
 * Why boot RAM at [start, start + size) cannot exist (null when it can): it must end within 2^MAX_PHYSMEM_BITS,
 * the most sparsemem can describe. The kernel clips such a range at boot (mminit_validate_memmodel_limits,
 * mm/sparse.c) and never uses the rest; memhp refuses it instead, since the machine as written does not exist.
 */
export function physRangeProblem(archId: string, constants: { readonly maxPhysmemBits: number }, startBytes: bigint, sizeBytes: bigint): string | null {
  const phys = 1n << BigInt(constants.maxPhysmemBits);
  const end = startBytes + sizeBytes;
  if (end > phys) {
    return `ends at 0x${end.toString(16)}, beyond the 2^${constants.maxPhysmemBits}-byte physical address space ${archId} has here (MAX_PHYSMEM_BITS ${constants.maxPhysmemBits}); the kernel would clip it at boot (mminit_validate_memmodel_limits)`;
  }
  return null;
}

export function buildMachineInfo(config: MachineConfig, backend: ArchBackend, params?: KernelParams): MachineInfo {
  const archConfig = archConfigOf(config, backend, params);
  const sup = backend.supports(archConfig);
  if (!sup.supported) throw new MachineConfigError('arch', `${backend.id}: ${sup.why}`);
  const constants = backend.constants(archConfig);
  const capabilities = backend.capabilities(archConfig);
  if (config.blockSizeBytes !== undefined) {
    const why = blockSizeProblem(constants, config.blockSizeBytes);
    if (why) throw new MachineConfigError('blockSizeBytes', why);
  }
  config.nodes.forEach((n, i) => {
    n.memory.forEach((r, j) => {
      const why = physRangeProblem(backend.id, constants, r.startBytes, r.sizeBytes);
      if (why) throw new MachineConfigError(`nodes[${i}].memory[${j}]`, why);
    });
  });
  const decision = backend.memoryBlockSize(archConfig, {
    bootRamEndBytes: bootRamEndBytes(config),
    ...(config.blockSizeBytes !== undefined ? { overrideBytes: config.blockSizeBytes } : {}),
  });
  const geometry = deriveGeometry(constants, config.structPageBytes, decision.bytes);
  const physEnd = (1n << BigInt(constants.maxPhysmemBits)) - 1n;
  const shifts = backend.directMapShifts?.(archConfig) ?? [constants.pmdShift, constants.pageShift];
  return {
    arch: backend.id,
    kernel: config.kernel,
    config,
    constants,
    capabilities,
    features: archConfig.features,
    blockSizeWhy: decision.why,
    geometry,
    pluggableStartBytes: 0n,
    pluggableEndBytes: physEnd,
    directMapShifts: [...shifts].sort((a, b) => b - a),
  };
}

export function createInitialState(machine: MachineInfo, params: KernelParams, knobs: RuntimeKnobs): MachineState {
  const sectionTable: Array<SectionState | undefined> = [];
  const blockTable: Array<MemoryBlockState | undefined> = [];
  const g = machine.geometry;
  return {
    machine,
    params,
    knobs,
    booted: false,
    timeNs: 0,
    lastSeq: 0,
    lastOp: 0,
    nodes: new Map(),
    resources: [],
    resourceSlot: [],
    resourceIndex: [],
    nextResourceId: 1,
    roots: new Map(),
    sections: new TableMap(sectionTable),
    sectionTable,
    highestPresentSection: -1,
    vmemmap: {
      pmds: vmemmapTable(g, 'pte'),
      tables: { pte: vmemmapTable(g, 'pte'), pmd: vmemmapTable(g, 'pmd'), pud: vmemmapTable(g, 'pud'), p4d: vmemmapTable(g, 'p4d') },
    },
    altmaps: new TableMap([]),
    nextAltmapId: 1,
    blocks: new TableMap(blockTable),
    blockTable,
    groups: new Map(),
    printedOnce: new Set(),
    ratelimited: new Map(),
    counters: {
      nrMemmapPages: 0,
      nrMemmapBootPages: 0,
      nrFreePages: 0,
      totalramPages: 0,
      bootReservedPages: 0,
      memblockReservedPages: 0,
      vmemmapBuddyPages: 0,
      leakedSections: 0,
      warnings: 0,
    },
  };
}

/**
 * A vmemmap table keyed by va >> (the shift `level`'s tables cover; a PMD entry is keyed like the PTE table under
 * it), based at vmemmap_base shifted the same way so that the keys of the memmap's addresses are small.
 */
function vmemmapTable<V>(g: Geometry, level: PgtableLevel): TableMap<V> {
  return new TableMap<V>([], Number(g.vmemmapBase >> BigInt(pgtableShift(g, level))));
}

// ---------------------------------------------------------------------------------------------------------
// JSON round trip (bigint ⇄ "0x…" under keys ending in "Bytes" and vmemmapBase)
// ---------------------------------------------------------------------------------------------------------

const BIG_KEY = /(Bytes|vmemmapBase)$/;

export function toJsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return '0x' + v.toString(16);
  if (Array.isArray(v)) return v.map(toJsonSafe);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = toJsonSafe(x);
    return o;
  }
  return v;
}

export function fromJsonSafe(v: unknown, key = ''): unknown {
  if (typeof v === 'string' && BIG_KEY.test(key) && /^0x[0-9a-f]+$/i.test(v)) return BigInt(v);
  if (Array.isArray(v)) return v.map((x) => fromJsonSafe(x, key));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = fromJsonSafe(x, k);
    return o;
  }
  return v;
}

export interface HeaderOptions {
  readonly memhpVersion?: string;
  readonly createdAt?: string;
  readonly seed: number;
  readonly events: Array<{ type: string; v: number }>;
}

/** The log header of a machine: everything replay needs (machine description, parsed parameters, knobs). */
export function machineHeader(machine: MachineInfo, params: KernelParams, knobs: RuntimeKnobs, o: HeaderOptions): LogHeader {
  const flatParams: Record<string, string> = { cmdline: machine.config.cmdline };
  for (const [k, v] of Object.entries(machine.config.sysctls ?? {})) flatParams[`sysctl.${k}`] = v;
  return {
    format: 'memhp-log',
    formatVersion: 1,
    memhpVersion: o.memhpVersion ?? '0.1.0',
    // a fixed default keeps logs byte-identical for the same scenario and seed
    createdAt: o.createdAt ?? '1970-01-01T00:00:00.000Z',
    kernel: machine.kernel,
    machine: { ...(toJsonSafe(machine) as Record<string, unknown>), params: toJsonSafe(params), knobs: toJsonSafe(knobs) },
    params: flatParams,
    seed: o.seed,
    events: o.events,
  };
}

export function machineFromHeader(h: LogHeader): { machine: MachineInfo; params: KernelParams; knobs: RuntimeKnobs } {
  const m = fromJsonSafe(h.machine) as Record<string, unknown>;
  const { params, knobs, ...rest } = m;
  return { machine: rest as unknown as MachineInfo, params: params as KernelParams, knobs: knobs as RuntimeKnobs };
}

export function initialStateFromHeader(h: LogHeader): MachineState {
  const { machine, params, knobs } = machineFromHeader(h);
  return createInitialState(machine, params, knobs);
}

/**
 * A deep copy of a state, for snapshots (evolve writes the state in place): every Map, bigint and shared
 * reference kept, as structuredClone would, and the TableMaps still TableMaps (model/deep-copy.ts).
 */
export function cloneState(s: ReadonlyMachineState): MachineState {
  return deepCopy(s, [TableMap]) as MachineState;
}

/** Every TableMap of a state, named: what the invariant check holds to its table. */
export function tableMapsOf(s: ReadonlyMachineState): Array<[string, ReadonlyMap<number, unknown>]> {
  return [
    ['sections', s.sections],
    ['memory blocks', s.blocks],
    ['altmaps', s.altmaps],
    ['vmemmap pmds', s.vmemmap.pmds],
    ...Object.entries(s.vmemmap.tables).map(([level, m]): [string, ReadonlyMap<number, unknown>] => [`vmemmap ${level} tables`, m]),
  ];
}
