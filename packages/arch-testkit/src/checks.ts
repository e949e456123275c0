/**
 * The conformance checks. Each is a pure function from (backend, configuration) to a list of problems (empty =
 * pass); {@link checkBackend} runs them all and returns a report, and `@memhp/arch-testkit/vitest` registers
 * them as vitest tests with one call.
 */
import fc from 'fast-check';
import { SUPPORTED_KERNELS, type AltmapHandle, type ArchBackend, type ArchConfig, type ErrnoName, type KernelVersion } from '@memhp/core';
import { derive, hvoNumbers, SUBSECTION_SHIFT } from './derived.js';
import { createTestHarness, replayTestEvents, snapshotTestState, type TestEvent, type TestHarness } from './test-context.js';

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
}

export interface ConformanceCheck {
  readonly name: string;
  /** What the check proves, with its DOMAIN.md source. */
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

/** Where hot-added test memory goes: well above anything a backend reserves, section aligned. */
function testBasePfn(h: TestHarness): number {
  const pfn = Number((64n * GIB) >> BigInt(h.constants.pageShift));
  return Math.ceil(pfn / h.pagesPerSection) * h.pagesPerSection;
}

const constantsCheck: ConformanceCheck = {
  name: 'constants are consistent',
  describe: 'sections, 2 MiB sub-sections, PAGES_PER_SECTION, memmap per section, pageblock ≤ section (DOMAIN.md §1.1–1.4)',
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
    if (c.memSectionBytes !== 16 && c.memSectionBytes !== 32) p.push(`sizeof(struct mem_section) ${c.memSectionBytes} is neither 16 nor 32 (DOMAIN.md §2.1)`);
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
  describe: 'memory_dev_init panics otherwise (DOMAIN.md §4.5); an explicit override is honoured; every decision says why',
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
  describe: 'PMD/PUD sizes equal 2^PMD_SHIFT / 2^PUD_SHIFT, contiguous sizes lie between, HVO arithmetic of DOMAIN.md §6.1',
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
      // The PMD-level page always has w = S / 8 struct-page pages, whatever the base page (DOMAIN.md §6.1).
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

/** Populate, expect the range mapped (or an allowed errno), then free and expect nothing left. */
function roundTrip(h: TestHarness, label: string, pfn: number, nr: number, altmapFree: number | null, allowed: readonly ErrnoName[]): string[] {
  const p: string[] = [];
  const altmap = altmapFree === null ? null : h.createAltmap({ basePfn: pfn, free: altmapFree });
  const r = h.populate(pfn, nr, altmap);
  const [s, e] = h.memmapRange(pfn, nr);
  if (r === 0) {
    const missing = h.unmappedPages(s, e);
    if (missing) p.push(`${label}: ${missing} vmemmap pages of the range left unmapped after a successful populate`);
    if (altmap && altmap.alloc + altmap.align > altmap.free) p.push(`${label}: altmap over-used (${altmap.alloc} + ${altmap.align} > ${altmap.free})`);
  } else if (!allowed.includes(r)) p.push(`${label}: populate returned ${r}`);
  h.depopulate(pfn, nr, altmap);
  for (const l of h.leftovers()) p.push(`${label}: after free: ${l}`);
  return p;
}

const roundTripCheck: ConformanceCheck = {
  name: 'populate/depopulate round trips leave nothing behind',
  describe: 'full sections, sub-sections, runs of sections: no mapped PMDs, no PTEs, no page-table pages, altmap alloc back to 0 (DOMAIN.md §2.5, §2.6, §3.7)',
  run(backend, config) {
    const p: string[] = [];
    const fresh = (): TestHarness => createTestHarness(backend, config);
    const h0 = fresh();
    const base = testBasePfn(h0);
    const pps = h0.pagesPerSection;
    const pss = 2 ** (SUBSECTION_SHIFT - h0.constants.pageShift);
    const memmapPages = Math.ceil(h0.sectionMemmapBytes / Number(h0.pageBytes));
    p.push(...roundTrip(h0, 'one section', base, pps, null, []));
    // memmap_on_memory-style altmap: base = the section, room for the whole section (5.13–6.5 semantics, §3.8).
    p.push(...roundTrip(fresh(), 'one section with an altmap', base, pps, pps, ['ENOMEM']));
    p.push(...roundTrip(fresh(), 'first sub-section', base, pss, null, []));
    p.push(...roundTrip(fresh(), 'a middle sub-section', base + 5 * pss, pss, null, []));
    p.push(...roundTrip(fresh(), 'a sub-section with an altmap', base + 3 * pss, pss, memmapPages, ['ENOMEM']));
    // Four sections populated one after the other as __add_pages does, freed in reverse order.
    const h = fresh();
    for (let i = 0; i < 4; i++) {
      const r = h.populate(base + i * pps, pps);
      if (r !== 0) p.push(`run of sections: section ${i} populate returned ${r}`);
    }
    const [s, e] = h.memmapRange(base, 4 * pps);
    const missing = h.unmappedPages(s, e);
    if (missing) p.push(`run of sections: ${missing} vmemmap pages unmapped`);
    for (let i = 3; i >= 0; i--) h.depopulate(base + i * pps, pps);
    for (const l of h.leftovers()) p.push(`run of sections: after free: ${l}`);
    return p;
  },
};

const altmapCheck: ConformanceCheck = {
  name: 'altmap accounting balances',
  describe: 'altmap.alloc equals the altmap-backed vmemmap pages, never exceeds free, returns to 0; an exhausted altmap fails with -ENOMEM and never falls back to RAM (DOMAIN.md §3.2, §3.8)',
  run(backend, config) {
    const p: string[] = [];
    const h = createTestHarness(backend, config);
    const base = testBasePfn(h);
    const pps = h.pagesPerSection;
    const pmdPages = Number(h.pmdBytes / h.pageBytes);
    const memmapPages = Math.ceil(h.sectionMemmapBytes / Number(h.pageBytes));
    // Exactly enough room: the memmap rounded up to whole PMD blocks (what a PMD-leaf arch takes).
    const room = Math.max(memmapPages, Math.ceil(memmapPages / pmdPages) * pmdPages);
    const altmap = h.createAltmap({ basePfn: base, free: Math.min(room, pps) });
    const r = h.populate(base, pps, altmap);
    if (r !== 0 && r !== 'ENOMEM') p.push(`populate with an altmap returned ${r}`);
    if (h.state.held.altmap !== altmap.alloc) p.push(`altmap.alloc ${altmap.alloc} ≠ altmap-backed vmemmap pages ${h.state.held.altmap}`);
    if (altmap.alloc + altmap.align > altmap.free) p.push(`altmap over-used: ${altmap.alloc} + ${altmap.align} > ${altmap.free}`);
    if (r === 0 && h.state.held.buddy !== 0) p.push(`${h.state.held.buddy} memmap pages of a full section came from RAM although an altmap was given`);
    h.depopulate(base, pps, altmap);
    for (const l of h.leftovers()) p.push(`after free: ${l}`);

    // An altmap one page short of the memmap: -ENOMEM, and nothing taken from RAM for the memmap.
    const short = createTestHarness(backend, config);
    const a2 = short.createAltmap({ basePfn: base, free: memmapPages - 1 });
    const r2 = short.populate(base, pps, a2);
    if (r2 !== 'ENOMEM') p.push(`an altmap one page short of the memmap: populate returned ${String(r2)}, expected ENOMEM`);
    if (short.state.held.buddy !== 0) p.push(`an exhausted altmap fell back to RAM for ${short.state.held.buddy} pages`);
    short.depopulate(base, pps, a2);
    for (const l of short.leftovers()) p.push(`exhausted altmap, after free: ${l}`);
    return p;
  },
};

const fallbackCheck: ConformanceCheck = {
  name: 'fallback under injected PMD allocation failures is well-formed',
  describe: 'random PMD_SIZE allocation failures: a successful populate maps every page of the range exactly once; a failure is -ENOMEM; freeing leaves nothing (DOMAIN.md §3.3, §3.5)',
  run(backend, config, opts) {
    let problems: string[] = [];
    const sections = 3;
    const failed: string[] = [];
    fc.check(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 24 }), fc.boolean(), (pattern, withAltmap) => {
        const h = createTestHarness(backend, config, { failPmdAlloc: (i) => pattern[i % pattern.length] === true });
        const base = testBasePfn(h);
        const pps = h.pagesPerSection;
        const added: Array<{ pfn: number; altmap: AltmapHandle | null }> = [];
        // One altmap over the whole range, as a pmem namespace (or 5.13–6.5 memmap_on_memory) builds it (§3.8).
        const altmap = withAltmap ? h.createAltmap({ basePfn: base, free: sections * pps }) : null;
        for (let i = 0; i < sections; i++) {
          const pfn = base + i * pps;
          const r = h.populate(pfn, pps, altmap);
          if (r !== 0 && r !== 'ENOMEM') problems.push(`section ${i}: populate returned ${r}`);
          if (r !== 0) {
            h.depopulate(pfn, pps, altmap); // section_deactivate rolls the failed section back (DOMAIN.md §2.5)
            break;
          }
          const [s, e] = h.memmapRange(pfn, pps);
          const missing = h.unmappedPages(s, e);
          if (missing) problems.push(`failures ${JSON.stringify(pattern)}: section ${i}: ${missing} vmemmap pages unmapped after success`);
          if (altmap && altmap.alloc + altmap.align > altmap.free) problems.push(`section ${i}: altmap over-used`);
          added.push({ pfn, altmap });
        }
        for (const { pfn, altmap } of added.reverse()) h.depopulate(pfn, pps, altmap);
        for (const l of h.leftovers()) problems.push(`failures ${JSON.stringify(pattern)}, altmap ${withAltmap}: after free: ${l}`);
        if (problems.length && !failed.length) failed.push(...problems);
        const ok = problems.length === 0;
        problems = [];
        return ok;
      }),
      { seed: opts.seed ?? 4, numRuns: opts.numRuns ?? 25, endOnFailure: true },
    );
    return failed.slice(0, 5);
  },
};

const replayCheck: ConformanceCheck = {
  name: 'a recorded run replays to the same state',
  describe: 'the events of a run (through JSON) fold into the live state without the backend (ARCHITECTURE.md "Logs are self-contained")',
  run(backend, config) {
    const p: string[] = [];
    const h = createTestHarness(backend, config, { failPmdAlloc: (i) => i % 3 === 1 });
    const base = testBasePfn(h);
    const pps = h.pagesPerSection;
    const pss = 2 ** (SUBSECTION_SHIFT - h.constants.pageShift);
    h.populate(base, pps);
    h.populate(base + pps, pps);
    const a = h.createAltmap({ basePfn: base + 2 * pps, free: pps });
    h.populate(base + 2 * pps, pps, a);
    h.populate(base + 3 * pps + pss, pss);
    h.depopulate(base + pps, pps);
    const recorded = JSON.parse(JSON.stringify(h.events)) as TestEvent[];
    const replayed = replayTestEvents(recorded, h.geometry);
    const live = JSON.stringify(snapshotTestState(h.state));
    const again = JSON.stringify(snapshotTestState(replayed));
    if (live !== again) p.push('replaying the recorded events gives a different state than the live run');
    if (h.events.length === 0) p.push('the run recorded no events');
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
