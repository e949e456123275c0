/**
 * The conformance checks. Each is a pure function from (backend, configuration) to a list of problems (empty =
 * pass); {@link checkBackend} runs them all and returns a report, and `@memhp/arch-testkit/vitest` registers
 * them as vitest tests with one call.
 */
import fc from 'fast-check';
import {
  explainMemmapOnMemory,
  mhpFlagsAvailable,
  pick,
  SUPPORTED_KERNELS,
  type ArchBackend,
  type ArchConfig,
  type Command,
  type ErrnoName,
  type KernelVersion,
  type MhpFlag,
  type ReadonlyMachineState,
} from '@memhp/core';
import { derive, hvoNumbers, SUBSECTION_SHIFT } from './derived.js';
import {
  bootKitMachine,
  mappingCount,
  ramBackedPages,
  replayProblems,
  snapshotVmemmap,
  unbalancedAltmaps,
  vmemmapLeftovers,
  type KitMachineOptions,
  type KitRun,
  type OpResult,
  type VmemmapSnapshot,
} from './core-run.js';

export interface ConformanceOptions {
  /** Configurations to check; default: every page size × `structPageSizes` × `kernels`, with default features. */
  readonly configs?: readonly ArchConfig[];
  readonly kernels?: readonly KernelVersion[];
  readonly structPageSizes?: readonly number[];
  /** Extra features on top of the backend's defaults for the default configurations. */
  readonly features?: Readonly<Record<string, boolean | number | string>>;
  /** fast-check seed and runs for the fault-injection property (deterministic by default). */
  readonly seed?: number;
  readonly numRuns?: number;
  /** Where the kit's machine has its boot RAM and hot-adds (defaults suit x86-64, arm64 and riscv64). */
  readonly machine?: KitMachineOptions;
  /**
   * Also run core's invariants after every event of the kit's machines (off by default: they also flag what a
   * faithful backend inherits from its kernel, e.g. freeing a PMD leaf a neighbouring section's memmap still uses).
   */
  readonly checkInvariants?: boolean;
}

export interface ConformanceCheck {
  readonly name: string;
  /** What the check proves, with its the kernel reference (apps/docs/kernel/) source. */
  readonly describe: string;
  run(backend: ArchBackend, config: ArchConfig, opts: ConformanceOptions): string[];
}

export interface CheckResult {
  readonly config: string;
  readonly check: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
}

export interface ConformanceReport {
  readonly backend: string;
  readonly ok: boolean;
  readonly configs: number;
  /** Configurations the backend declared unsupported, with its reason. */
  readonly unsupported: ReadonlyArray<{ readonly config: string; readonly why: string }>;
  readonly results: readonly CheckResult[];
}

export const configLabel = (c: ArchConfig): string => {
  const f = Object.entries(c.features)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
  return `${c.pageSizeBytes / 1024}K S=${c.structPageBytes} v${c.kernel}${f ? ` ${f}` : ''}`;
};

/** The default configurations: every page size the backend models × struct page sizes × kernels. */
export function defaultConfigs(backend: ArchBackend, opts: ConformanceOptions = {}): ArchConfig[] {
  if (opts.configs) return [...opts.configs];
  const out: ArchConfig[] = [];
  for (const pageSizeBytes of backend.pageSizes)
    for (const structPageBytes of opts.structPageSizes ?? [64])
      for (const kernel of opts.kernels ?? SUPPORTED_KERNELS) out.push({ pageSizeBytes, structPageBytes, kernel, features: { ...(opts.features ?? {}) } });
  return out;
}

const isPow2 = (n: bigint): boolean => n > 0n && (n & (n - 1n)) === 0n;
const GIB = 1n << 30n;

const constantsCheck: ConformanceCheck = {
  name: 'constants are consistent',
  describe: 'sections, 2 MiB sub-sections, PAGES_PER_SECTION, memmap per section, pageblock ≤ section (apps/docs/kernel/constants.md#arch-independent to apps/docs/kernel/constants.md#pageblock)',
  run(backend, config) {
    const p: string[] = [];
    const c = backend.constants(config);
    const d = derive(config, c);
    if (2 ** c.pageShift !== config.pageSizeBytes) p.push(`pageShift ${c.pageShift} does not match the page size ${config.pageSizeBytes}`);
    if (c.sectionSizeBits < SUBSECTION_SHIFT) p.push(`a section (2^${c.sectionSizeBits}) is smaller than a 2 MiB sub-section`);
    if (d.subsectionsPerSection * d.pagesPerSubsection !== d.pagesPerSection)
      p.push(`subsections × pages (${d.subsectionsPerSection} × ${d.pagesPerSubsection}) ≠ PAGES_PER_SECTION ${d.pagesPerSection}`);
    if (d.sectionMemmapBytes !== d.pagesPerSection * config.structPageBytes) p.push('memmap per section ≠ PAGES_PER_SECTION × sizeof(struct page)');
    if (c.pageblockOrder > c.maxBuddyOrder) p.push(`pageblock order ${c.pageblockOrder} exceeds the largest buddy order ${c.maxBuddyOrder}`);
    if (d.maxBuddyBytes > d.sectionBytes) p.push(`the largest buddy block (order ${c.maxBuddyOrder}) does not fit in a section`);
    if (d.pageblockBytes > d.sectionBytes) p.push('a pageblock is larger than a section');
    if (!(c.pmdShift > c.pageShift && c.pudShift > c.pmdShift)) p.push(`page-table shifts out of order: page ${c.pageShift}, PMD ${c.pmdShift}, PUD ${c.pudShift}`);
    if (c.maxPhysmemBits < c.sectionSizeBits || c.maxPhysmemBits > 64) p.push(`MAX_PHYSMEM_BITS ${c.maxPhysmemBits} out of range`);
    if (c.memSectionBytes !== 16 && c.memSectionBytes !== 32) p.push(`sizeof(struct mem_section) ${c.memSectionBytes} is neither 16 nor 32 (apps/docs/kernel/sparse.md#section-table)`);
    if (c.vmemmapBase < 0n || c.vmemmapBase >= 1n << 64n || c.vmemmapBase % 8n !== 0n) p.push(`vmemmap base 0x${c.vmemmapBase.toString(16)} is not an 8-byte aligned 64-bit address`);
    if (c.pgtableLevels < 2 || c.pgtableLevels > 5) p.push(`${c.pgtableLevels} page-table levels`);
    let prev = 0n;
    for (const z of c.lowZones) {
      if (z.endBytes <= prev) p.push(`low zones not ascending at ${z.zone}`);
      prev = z.endBytes;
    }
    return p;
  },
};

const blockSizeCheck: ConformanceCheck = {
  name: 'memory block size is a power-of-two multiple of the section',
  describe: 'memory_dev_init panics otherwise (apps/docs/kernel/hotplug.md#memory-blocks); an explicit override is honoured; every decision says why',
  run(backend, config) {
    const p: string[] = [];
    const section = 1n << BigInt(backend.constants(config).sectionSizeBits);
    for (const end of [1n * GIB, 25n * GIB, 64n * GIB, 100n * GIB, 1024n * GIB + 128n * (1n << 20n)]) {
      const d = backend.memoryBlockSize(config, { bootRamEndBytes: end });
      if (!isPow2(d.bytes)) p.push(`boot RAM end ${end}: block size ${d.bytes} is not a power of two`);
      if (d.bytes < section || d.bytes % section !== 0n) p.push(`boot RAM end ${end}: block size ${d.bytes} is not a multiple of the section ${section}`);
      if (!d.why.trim()) p.push(`boot RAM end ${end}: no reason given`);
    }
    const override = section * 4n;
    const o = backend.memoryBlockSize(config, { bootRamEndBytes: 100n * GIB, overrideBytes: override });
    if (o.bytes !== override) p.push(`override ${override} not honoured (got ${o.bytes})`);
    return p;
  },
};

const featuresCheck: ConformanceCheck = {
  name: 'features and capabilities are well-formed',
  describe: 'every declared switch has a default of its kind; capabilities are booleans; defaults are a supported configuration',
  run(backend, config) {
    const p: string[] = [];
    const names = new Set<string>();
    for (const f of backend.features) {
      if (names.has(f.name)) p.push(`feature ${f.name} declared twice`);
      names.add(f.name);
      if (f.kind === 'bool' && f.default !== 'true' && f.default !== 'false') p.push(`bool feature ${f.name} has default "${f.default}"`);
      if ((f.kind === 'uint' || f.kind === 'size') && !/^(0x[0-9a-f]+|\d+)$/i.test(f.default)) p.push(`numeric feature ${f.name} has default "${f.default}"`);
      if (f.allowed && !f.allowed.includes(f.default)) p.push(`feature ${f.name}: default "${f.default}" is not among ${f.allowed.join('/')}`);
      if (!f.description.trim()) p.push(`feature ${f.name} has no description`);
    }
    const caps = backend.capabilities(config);
    for (const [k, v] of Object.entries(caps)) if (typeof v !== 'boolean') p.push(`capability ${k} is not a boolean`);
    if (!backend.pageSizes.includes(config.pageSizeBytes)) p.push(`page size ${config.pageSizeBytes} not in pageSizes`);
    return p;
  },
};

const hugetlbCheck: ConformanceCheck = {
  name: 'HugeTLB sizes agree with the constants (w = n × S / P)',
  describe: 'PMD/PUD sizes equal 2^PMD_SHIFT / 2^PUD_SHIFT, contiguous sizes lie between, HVO arithmetic of apps/docs/kernel/hvo.md#what-it-does',
  run(backend, config) {
    const p: string[] = [];
    const c = backend.constants(config);
    const d = derive(config, c);
    const sizes = backend.hugepageSizes(config);
    const known = new Set(backend.features.map((f) => f.name));
    for (const s of sizes) {
      if (!isPow2(s.bytes)) p.push(`huge page ${s.bytes} is not a power of two`);
      if (s.level === 'pmd' && s.bytes !== d.pmdBytes) p.push(`PMD huge page ${s.bytes} ≠ PMD_SIZE ${d.pmdBytes}`);
      if (s.level === 'pud' && s.bytes !== d.pudBytes) p.push(`PUD huge page ${s.bytes} ≠ PUD_SIZE ${d.pudBytes}`);
      if (s.level === 'cont-pte' && !(s.bytes > BigInt(d.pageBytes) && s.bytes < d.pmdBytes)) p.push(`cont-PTE size ${s.bytes} not between a page and a PMD`);
      if (s.level === 'cont-pmd' && !(s.bytes > d.pmdBytes && s.bytes < d.pudBytes * BigInt(d.pageBytes / 8))) p.push(`cont-PMD size ${s.bytes} not above a PMD`);
      if (s.requiresFeature && !known.has(s.requiresFeature)) p.push(`huge page ${s.bytes} requires undeclared feature ${s.requiresFeature}`);
      const hv = hvoNumbers(config, s);
      // The PMD-level page always has w = S / 8 struct-page pages, whatever the base page (apps/docs/kernel/hvo.md#what-it-does).
      if (s.level === 'pmd' && hv.vmemmapBytes !== BigInt(config.structPageBytes) * (BigInt(d.pageBytes) / 8n))
        p.push(`PMD huge page vmemmap ${hv.vmemmapBytes} B ≠ (P/8) × S`);
    }
    if (sizes.length > 0) {
      const def = backend.defaultHugepageBytes(config);
      if (!sizes.some((s) => s.bytes === def)) p.push(`default huge page ${def} is not one of the sizes`);
    }
    return p;
  },
};

/** Run a command; a problem unless it returned 0 or one of the allowed errnos. */
function step(k: KitRun, label: string, cmd: Command, allowed: readonly ErrnoName[], p: string[]): OpResult {
  const op = k.exec(cmd);
  if (!op.result.ok && !allowed.includes(op.result.errno)) p.push(`${label}: ${cmd.kind} returned -${op.result.errno} (${op.result.why})`);
  return op;
}

const addBlock = (k: KitRun, startBytes: bigint, flags: readonly MhpFlag[] = []): Command => ({
  kind: 'add_memory',
  node: 0,
  range: { startBytes, sizeBytes: k.sectionBytes },
  flags,
});
const removeBlock = (k: KitRun, startBytes: bigint): Command => ({ kind: 'remove_memory', range: { startBytes, sizeBytes: k.sectionBytes } });
/** A device-DAX pgmap (memremap_pages), with its memmap on the device when `altmap` is given (pmem "map=dev"). */
const devmap = (id: string, startBytes: bigint, sizeBytes: bigint, altmap?: { reservePages: number; freePages: number; pageBytes: bigint }): Command => ({
  kind: 'memremap_pages',
  id,
  node: 0,
  range: { startBytes, sizeBytes },
  type: 'devdax',
  ...(altmap ? { altmapReserveBytes: BigInt(altmap.reservePages) * altmap.pageBytes, altmapFreeBytes: BigInt(altmap.freePages) * altmap.pageBytes } : {}),
});
const devunmap = (id: string): Command => ({ kind: 'memunmap_pages', id });

/** After a successful add: every vmemmap page of the range is mapped, and mapped once. */
function mappedOnce(k: KitRun, label: string, startBytes: bigint, sizeBytes: bigint, p: string[]): void {
  const [s, e] = k.memmapRange(startBytes, sizeBytes);
  const c = mappingCount(k.events, s, e, k.pageBytes);
  if (c.unmapped) p.push(`${label}: ${c.unmapped} vmemmap pages unmapped after success`);
  if (c.multiply) p.push(`${label}: ${c.multiply} vmemmap pages mapped more than once`);
}

/** After the removal: the vmemmap is exactly as before the add, and every altmap was given back in full. */
function cleanAfter(k: KitRun, label: string, before: VmemmapSnapshot, fromEvent: number, p: string[]): void {
  for (const l of vmemmapLeftovers(before, k.state)) p.push(`${label}: after free: ${l}`);
  for (const l of unbalancedAltmaps(k.events.slice(fromEvent))) p.push(`${label}: ${l}`);
}

const altmapIdCreated = (op: OpResult): number | null => {
  const e = op.events.find((x) => x.type === 'altmap.create');
  return e ? (e.payload as { id: number }).id : null;
};

/** Vmemmap pages the state maps from one altmap (leaves and PTEs). */
function altmapBackedPages(s: ReadonlyMachineState, id: number): number {
  const g = s.machine.geometry;
  const pmdPages = 2 ** (g.pmdShift - g.pageShift);
  let n = 0;
  for (const e of s.vmemmap.pmds.values()) {
    if (e.kind === 'leaf') {
      if (e.source === 'altmap' && e.altmapId === id) n += pmdPages;
    } else for (const r of e.ptes) if (r.source === 'altmap' && r.altmapId === id) n += r.endIdx - r.startIdx;
  }
  return n;
}

/** After an add with an altmap: alloc equals what is mapped from it, stays within free, and no memmap page came from RAM. */
function altmapBalanced(k: KitRun, label: string, op: OpResult, startBytes: bigint, sizeBytes: bigint, p: string[]): void {
  const id = altmapIdCreated(op);
  const a = id === null ? undefined : k.state.altmaps.get(id);
  if (id === null || !a) {
    p.push(`${label}: no altmap was created`);
    return;
  }
  const backed = altmapBackedPages(k.state, id);
  if (backed !== a.alloc) p.push(`${label}: altmap.alloc ${a.alloc} ≠ altmap-backed vmemmap pages ${backed}`);
  if (a.alloc + a.align > a.free) p.push(`${label}: altmap over-used (${a.alloc} + ${a.align} > ${a.free})`);
  const [s, e] = k.memmapRange(startBytes, sizeBytes);
  const ram = ramBackedPages(op.events, s, e, k.pageBytes);
  if (ram) p.push(`${label}: ${ram} memmap pages came from RAM although an altmap was given`);
}

/** memmap_on_memory applies to one block on this configuration (the flag exists and mhp_supports_memmap_on_memory says yes). */
function memmapOnMemoryApplies(backend: ArchBackend, config: ArchConfig, blockBytes: bigint): boolean {
  if (!pick(mhpFlagsAvailable, config.kernel).includes('memmap_on_memory')) return false;
  return explainMemmapOnMemory({
    backend,
    kernel: config.kernel,
    pageSizeBytes: config.pageSizeBytes,
    structPageBytes: config.structPageBytes,
    features: config.features,
    blockSizeBytes: blockBytes,
  }).supported;
}

const MOM_CMDLINE = 'memory_hotplug.memmap_on_memory=1';
const sectionBytesOf = (backend: ArchBackend, config: ArchConfig): bigint => 1n << BigInt(backend.constants(config).sectionSizeBits);

const roundTripCheck: ConformanceCheck = {
  name: 'populate/depopulate round trips leave nothing behind',
  describe:
    'on core: add_memory/remove_memory of a section (with memmap_on_memory where it applies), memremap_pages of first/middle sub-sections (one with an altmap), four sections removed in reverse: every page mapped once, then no PMD leaves, PTEs or page-table pages left, altmap alloc back to 0 (apps/docs/kernel/sparse.md#add-section, apps/docs/kernel/sparse.md#remove-section, apps/docs/kernel/vmemmap.md#x86-free)',
  run(backend, config, opts) {
    const p: string[] = [];
    const caps = backend.capabilities(config);
    const mom = memmapOnMemoryApplies(backend, config, sectionBytesOf(backend, config));
    const k = bootKitMachine(backend, config, { ...opts.machine, cmdline: mom ? MOM_CMDLINE : '', checkInvariants: opts.checkInvariants ?? false });
    const base = k.baseBytes;
    const sec = k.sectionBytes;
    const ss = k.subsectionBytes;
    const before = snapshotVmemmap(k.state);
    const roundTrip = (label: string, add: Command, remove: Command, at: bigint, size: bigint, allowed: readonly ErrnoName[], then?: (op: OpResult) => void) => {
      const from = k.events.length;
      const op = step(k, label, add, allowed, p);
      if (op.result.ok) {
        mappedOnce(k, label, at, size, p);
        then?.(op);
        step(k, label, remove, [], p);
      }
      cleanAfter(k, label, before, from, p);
    };
    if (caps.memoryHotplug) {
      roundTrip('one section', addBlock(k, base), removeBlock(k, base), base, sec, []);
      if (mom) {
        // the memmap of a memmap_on_memory block comes from its altmap, never from RAM (apps/docs/kernel/vmemmap.md#sources, apps/docs/kernel/memmap-on-memory.md#memmap-on-memory)
        roundTrip('one section with memmap_on_memory', addBlock(k, base, ['memmap_on_memory']), removeBlock(k, base), base, sec, ['ENOMEM'], (op) =>
          altmapBalanced(k, 'one section with memmap_on_memory', op, base, sec, p),
        );
      }
      const from = k.events.length;
      let added = 0;
      for (let i = 0; i < 4; i++) {
        if (!step(k, 'run of sections', addBlock(k, base + BigInt(i) * sec), [], p).result.ok) break;
        added++;
      }
      if (added === 4) mappedOnce(k, 'run of four sections', base, 4n * sec, p);
      for (let i = added - 1; i >= 0; i--) step(k, 'run of sections', removeBlock(k, base + BigInt(i) * sec), [], p);
      cleanAfter(k, 'run of four sections, freed in reverse', before, from, p);
    }
    if (caps.zoneDevice) {
      roundTrip('first sub-section', devmap('kit-ss0', base, ss), devunmap('kit-ss0'), base, ss, []);
      roundTrip('a middle sub-section', devmap('kit-ss5', base + 5n * ss, ss), devunmap('kit-ss5'), base + 5n * ss, ss, []);
      // __add_pages refuses an altmap that reaches past the range (reserve + free ≤ nr_pages, apps/docs/kernel/vmemmap.md#altmap)
      const alt = { reservePages: 0, freePages: Math.min(k.sectionMemmapPages, Number(ss / k.pageBytes)), pageBytes: k.pageBytes };
      roundTrip('a sub-section with an altmap', devmap('kit-ss3', base + 3n * ss, ss, alt), devunmap('kit-ss3'), base + 3n * ss, ss, ['ENOMEM']);
    }
    return p;
  },
};

const altmapCheck: ConformanceCheck = {
  name: 'altmap accounting balances',
  describe:
    'on core: a pmem-style altmap with exactly enough room and one a page short, and memmap_on_memory where it applies: alloc equals the altmap-backed vmemmap pages, never exceeds free, returns to 0; an exhausted altmap fails with -ENOMEM and never falls back to RAM (apps/docs/kernel/vmemmap.md#sources, apps/docs/kernel/vmemmap.md#altmap)',
  run(backend, config, opts) {
    const p: string[] = [];
    const caps = backend.capabilities(config);
    const mom = caps.memoryHotplug && memmapOnMemoryApplies(backend, config, sectionBytesOf(backend, config));
    const k = bootKitMachine(backend, config, { ...opts.machine, cmdline: mom ? MOM_CMDLINE : '', checkInvariants: opts.checkInvariants ?? false });
    const base = k.baseBytes;
    const sec = k.sectionBytes;
    const before = snapshotVmemmap(k.state);
    const c = backend.constants(config);
    const pmdPages = 2 ** (c.pmdShift - c.pageShift);
    const pps = Number(sec / k.pageBytes);
    const memmapPages = k.sectionMemmapPages;
    if (caps.zoneDevice) {
      // Exactly enough room: the memmap rounded up to whole PMD blocks (what a PMD-leaf arch takes).
      const room = Math.min(pps, Math.max(memmapPages, Math.ceil(memmapPages / pmdPages) * pmdPages));
      let from = k.events.length;
      const op = step(k, 'an altmap with room for the memmap', devmap('kit-alt', base, sec, { reservePages: 0, freePages: room, pageBytes: k.pageBytes }), ['ENOMEM'], p);
      if (op.result.ok) {
        altmapBalanced(k, 'an altmap with room for the memmap', op, base, sec, p);
        step(k, 'an altmap with room for the memmap', devunmap('kit-alt'), [], p);
      }
      cleanAfter(k, 'an altmap with room for the memmap', before, from, p);

      // One page short of the memmap: -ENOMEM, and nothing taken from RAM for the memmap.
      from = k.events.length;
      const short = k.exec(devmap('kit-short', base, sec, { reservePages: 0, freePages: memmapPages - 1, pageBytes: k.pageBytes }));
      if (short.result.ok) {
        p.push('an altmap one page short of the memmap: memremap_pages returned 0, expected ENOMEM');
        k.exec(devunmap('kit-short'));
      } else if (short.result.errno !== 'ENOMEM') p.push(`an altmap one page short of the memmap: returned -${short.result.errno}, expected -ENOMEM`);
      const [s, e] = k.memmapRange(base, sec);
      const ram = ramBackedPages(short.events, s, e, k.pageBytes);
      if (ram) p.push(`an exhausted altmap fell back to RAM for ${ram} pages`);
      cleanAfter(k, 'an exhausted altmap', before, from, p);
    }
    if (mom) {
      const from = k.events.length;
      const op = step(k, 'memmap_on_memory', addBlock(k, base, ['memmap_on_memory']), ['ENOMEM'], p);
      if (op.result.ok) {
        altmapBalanced(k, 'memmap_on_memory', op, base, sec, p);
        step(k, 'memmap_on_memory', removeBlock(k, base), [], p);
      }
      cleanAfter(k, 'memmap_on_memory', before, from, p);
    }
    return p;
  },
};

const fallbackCheck: ConformanceCheck = {
  name: 'fallback under injected PMD allocation failures is well-formed',
  describe:
    'on core with seeded PMD_SIZE allocation failures (fast-check patterns) and pmem altmaps with a random reserve: a successful add maps every page of the range exactly once; a failure is -ENOMEM; removal leaves nothing (apps/docs/kernel/vmemmap.md#x86-populate, apps/docs/kernel/vmemmap.md#arm64-populate)',
  run(backend, config, opts) {
    const caps = backend.capabilities(config);
    const failed: string[] = [];
    const sections = 3;
    fc.check(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 24 }),
        fc.array(fc.record({ altmap: fc.boolean(), reservePages: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 3 }),
        (pattern, cycles) => {
          const p: string[] = [];
          // the n-th runtime PMD_SIZE allocation (1-based) fails when the pattern, repeated, says so
          const nth: number[] = [];
          for (let i = 0; i < 1024; i++) if (pattern[i % pattern.length]) nth.push(i + 1);
          const k = bootKitMachine(backend, config, { ...opts.machine, faults: { sites: { pmd: { nth } } }, seed: opts.seed ?? 4, checkInvariants: opts.checkInvariants ?? false });
          const before = snapshotVmemmap(k.state);
          const base = k.baseBytes;
          const sec = k.sectionBytes;
          const size = BigInt(sections) * sec;
          const what = `PMD failure pattern ${pattern.map(Number).join('')}`;
          cycles.forEach((c, ci) => {
            const from = k.events.length;
            const leakedBefore = k.state.counters.leakedSections;
            if (c.altmap && caps.zoneDevice) {
              // one altmap over the whole range, as a pmem namespace builds it (apps/docs/kernel/vmemmap.md#altmap)
              const label = `${what}, cycle ${ci}: pmem altmap, reserve ${c.reservePages}`;
              const id = `kit-fb${ci}`;
              const op = step(k, label, devmap(id, base, size, { reservePages: c.reservePages, freePages: sections * Number(sec / k.pageBytes) - c.reservePages, pageBytes: k.pageBytes }), ['ENOMEM'], p);
              if (op.result.ok) {
                mappedOnce(k, label, base, size, p);
                const a = k.state.altmaps.get(altmapIdCreated(op) ?? -1);
                if (a && a.alloc + a.align > a.free) p.push(`${label}: altmap over-used`);
                step(k, label, devunmap(id), [], p);
              }
              // a failed __add_pages keeps the sections it already added (apps/docs/kernel/hotplug.md#add-steps): the kernel's leak, not the backend's
              if (k.state.counters.leakedSections === leakedBefore) cleanAfter(k, label, before, from, p);
            } else if (caps.memoryHotplug) {
              const label = `${what}, cycle ${ci}`;
              let added = 0;
              for (let i = 0; i < sections; i++) {
                const at = base + BigInt(i) * sec;
                const op = step(k, `${label}: section ${i}`, addBlock(k, at), ['ENOMEM'], p);
                if (!op.result.ok) break; // section_deactivate rolled the failed section back (apps/docs/kernel/sparse.md#add-section)
                mappedOnce(k, `${label}: section ${i}`, at, sec, p);
                added++;
              }
              for (let i = added - 1; i >= 0; i--) step(k, label, removeBlock(k, base + BigInt(i) * sec), [], p);
              cleanAfter(k, label, before, from, p);
            }
          });
          if (p.length && !failed.length) failed.push(...p);
          return p.length === 0;
        },
      ),
      { seed: opts.seed ?? 4, numRuns: opts.numRuns ?? 8, endOnFailure: true },
    );
    return failed.slice(0, 5);
  },
};

const replayCheck: ConformanceCheck = {
  name: 'a recorded run replays to the same state',
  describe:
    'a run on core (boot, adds with injected PMD failures, a pmem altmap, a sub-section, memmap_on_memory, a removal) written as a log, read back and replayed with core\'s replayState and no backend, deep-equals the live state (apps/docs/concepts/design.md#self-contained-logs)',
  run(backend, config, opts) {
    const caps = backend.capabilities(config);
    const mom = caps.memoryHotplug && memmapOnMemoryApplies(backend, config, sectionBytesOf(backend, config));
    const k = bootKitMachine(backend, config, {
      ...opts.machine,
      cmdline: mom ? MOM_CMDLINE : '',
      faults: { sites: { pmd: { nth: [2, 5, 8, 11, 14, 17] } } },
      checkInvariants: opts.checkInvariants ?? false,
    });
    const base = k.baseBytes;
    const sec = k.sectionBytes;
    const p: string[] = [];
    if (caps.memoryHotplug) {
      step(k, 'replay run', addBlock(k, base), ['ENOMEM'], p);
      step(k, 'replay run', addBlock(k, base + sec), ['ENOMEM'], p);
    }
    if (caps.zoneDevice) {
      step(k, 'replay run', devmap('kit-r-alt', base + 2n * sec, sec, { reservePages: 2, freePages: Number(sec / k.pageBytes) - 2, pageBytes: k.pageBytes }), ['ENOMEM'], p);
      step(k, 'replay run', devmap('kit-r-ss', base + 3n * sec + k.subsectionBytes, k.subsectionBytes), ['ENOMEM'], p);
    }
    if (caps.memoryHotplug) step(k, 'replay run', removeBlock(k, base + sec), ['ENOENT', 'EINVAL'], p);
    if (mom) step(k, 'replay run', addBlock(k, base + 4n * sec, ['memmap_on_memory']), ['ENOMEM'], p);
    if (k.events.length === 0) p.push('the run recorded no events');
    p.push(...replayProblems(k));
    return p;
  },
};

export const CONFORMANCE_CHECKS: readonly ConformanceCheck[] = [
  constantsCheck,
  blockSizeCheck,
  featuresCheck,
  hugetlbCheck,
  roundTripCheck,
  altmapCheck,
  fallbackCheck,
  replayCheck,
];

/** Run every check on every configuration the backend supports. */
export function checkBackend(backend: ArchBackend, opts: ConformanceOptions = {}): ConformanceReport {
  const results: CheckResult[] = [];
  const unsupported: Array<{ config: string; why: string }> = [];
  const configs = defaultConfigs(backend, opts);
  for (const config of configs) {
    const s = backend.supports(config);
    if (!s.supported) {
      unsupported.push({ config: configLabel(config), why: s.why });
      continue;
    }
    for (const check of CONFORMANCE_CHECKS) results.push(runCheck(check, backend, config, opts));
  }
  return { backend: backend.id, ok: results.every((r) => r.ok), configs: configs.length, unsupported, results };
}

export function runCheck(check: ConformanceCheck, backend: ArchBackend, config: ArchConfig, opts: ConformanceOptions = {}): CheckResult {
  let problems: string[];
  try {
    problems = check.run(backend, config, opts);
  } catch (err) {
    problems = [`threw: ${err instanceof Error ? err.message : String(err)}`];
  }
  return { config: configLabel(config), check: check.name, ok: problems.length === 0, problems };
}

/** Alias named after the brief: one call, one report. */
export const runConformance = checkBackend;
