/**
 * memmap_on_memory's support predicate, `mhp_supports_memmap_on_memory()` of mm/memory_hotplug.c, for every
 * kernel memhp models (apps/docs/kernel/memmap-on-memory.md#support), with every step of its arithmetic recorded so `memhp check` can print
 * it (seed 000). The version differences come from kernel/rules.ts:
 *
 * - 5.13–6.5: param on; size of the request = one memory block B; V = (B/P)·S a multiple of PMD_SIZE;
 *   B − V a multiple of the pageblock size. 5.14–5.18 also refuse while HVO is on.
 * - 6.6–6.7: param Y/N/force; size = B; V page-aligned; m = PFN_UP(V), pageblock-aligned in force mode;
 *   m pageblock-aligned; m < B/P; arch_supports_memmap_on_memory(V) (generic: V multiple of PMD_SIZE).
 * - 6.8+: as 6.6 without the size condition (each block of a multi-block add self-hosts its memmap).
 */
import type { ArchBackend, ArchConfig } from '../arch/backend.js';
import { runsOfSameAnswer } from '../kernel/runs.js';
import { pick, SUPPORTED_KERNELS, type KernelVersion } from '../kernel/version.js';
import {
  memmapOnMemoryArithmetic,
  memmapOnMemoryHvoExclusion,
  memmapOnMemoryParamType,
  memmapOnMemorySizeMustEqualBlock,
  memmapOnMemoryUnsupportedFlag,
} from '../kernel/rules.js';
import type { MemmapOnMemoryParam } from '../params/types.js';

/** The numbers the predicate works on, all derived from the backend for one configuration. */
export interface MemmapOnMemoryFacts {
  readonly kernel: KernelVersion;
  readonly param: MemmapOnMemoryParam;
  /** hugetlb_free_vmemmap is on (only matters in 5.14–5.19). */
  readonly hvoEnabled: boolean;
  readonly pageBytes: number;
  readonly structPageBytes: number;
  readonly blockBytes: bigint;
  /** Size passed to the predicate; null for the 6.8+ call that takes no size. */
  readonly requestBytes: bigint;
  readonly pmdBytes: bigint;
  readonly pageblockPages: number;
  /** CONFIG_MHP_MEMMAP_ON_MEMORY on this arch (ArchCapabilities.memmapOnMemory). */
  readonly archEnabled: boolean;
  /** The backend's 6.6+ arch_supports_memmap_on_memory; absent → the generic PMD rule. */
  readonly archHook?: (vmemmapBytes: bigint) => boolean;
  /** Name of the arch for messages. */
  readonly arch: string;
}

export interface ExplainStep {
  /** What the kernel tests, in its own terms (e.g. "IS_ALIGNED(vmemmap_size, PMD_SIZE)"). */
  readonly check: string;
  /** The formula with the symbols apps/docs/kernel/memmap-on-memory.md#support uses. */
  readonly formula: string;
  /** The numbers that went in and came out, as decimal strings with units where useful. */
  readonly values: Readonly<Record<string, string>>;
  /** null for a pure computation step that cannot fail. */
  readonly passed: boolean | null;
}

export interface MemmapOnMemoryExplanation {
  readonly supported: boolean;
  readonly kernel: KernelVersion;
  /** V: memmap bytes of one memory block, (B/P) × S. */
  readonly vmemmapBytes: bigint;
  /**
   * Pages of memmap per block: when supported, the pages reserved at the start of each block (m, including
   * force-mode waste); when not, the pages the memmap needs from RAM (PFN_UP(V)).
   */
  readonly vmemmapPages: number;
  /** Pages of each block handed to the buddy allocator on online (B/P − m when supported, else B/P). */
  readonly usablePages: number;
  /** Force-mode waste per block: m − PFN_UP(V), counted as vmemmap (present, never managed). 0 unless supported with force. */
  readonly wastedPages: number;
  readonly blockBytes: bigint;
  readonly requestBytes: bigint;
  /** Blocks in the request; each self-hosts its own memmap in 6.8+. */
  readonly blocks: number;
  readonly memmapSource: 'altmap' | 'ram';
  /** What add_memory does when the flag is requested but unsupported: -EINVAL (≤6.5) or a RAM-backed memmap (6.6+). */
  readonly onUnsupported: 'EINVAL' | 'ram-memmap';
  readonly steps: readonly ExplainStep[];
  /** Why not, one sentence per failed step (empty when supported). */
  readonly reasons: readonly string[];
  /** Things worth knowing that are not failures (force rounding, a param coerced for the version …). */
  readonly notes: readonly string[];
}

const MiB = 1n << 20n;
const fmtBytes = (b: bigint): string => {
  if (b === 0n) return '0 B';
  for (const [u, s] of [['GiB', 30n], ['MiB', 20n], ['KiB', 10n]] as const) {
    const unit = 1n << s;
    if (b >= unit) {
      if (b % unit === 0n) return `${b / unit} ${u}`;
      if (u !== 'KiB' && (b * 100n) % unit === 0n) return `${Number(b * 100n / unit) / 100} ${u}`;
    }
  }
  return `${b} B`;
};
const fmt = (b: bigint): string => `${b} B (${fmtBytes(b)})`;

/** Explain the predicate for one configuration from plain facts (no backend needed). */
export function explainFromFacts(f: MemmapOnMemoryFacts): MemmapOnMemoryExplanation {
  const steps: ExplainStep[] = [];
  const reasons: string[] = [];
  const notes: string[] = [];
  const P = BigInt(f.pageBytes);
  const S = BigInt(f.structPageBytes);
  const B = f.blockBytes;
  const blockPages = Number(B / P);
  const V = (B / P) * S;
  const memmapPagesUp = Number((V + P - 1n) / P);
  const pbPages = f.pageblockPages;
  const pbBytes = BigInt(pbPages) * P;
  const arithmetic = pick(memmapOnMemoryArithmetic, f.kernel);
  const paramType = pick(memmapOnMemoryParamType, f.kernel);
  const hvoRule = pick(memmapOnMemoryHvoExclusion, f.kernel);
  const sizeMustEqual = pick(memmapOnMemorySizeMustEqualBlock, f.kernel);
  const onUnsupported = pick(memmapOnMemoryUnsupportedFlag, f.kernel) === 'EINVAL' ? 'EINVAL' : 'ram-memmap';
  const blocks = B > 0n && f.requestBytes % B === 0n ? Number(f.requestBytes / B) : 0;

  const step = (s: ExplainStep, reason?: string): boolean => {
    steps.push(s);
    if (s.passed === false && reason) reasons.push(reason);
    return s.passed !== false;
  };

  let param = f.param;
  if (param === 'force' && paramType !== 'bool-or-force') {
    notes.push(`"force" does not exist before 6.6 (kernel ${f.kernel}); treated as Y`);
    param = 'on';
  }
  if (param !== 'off' && f.hvoEnabled && hvoRule === 'param-parse') {
    notes.push('5.19: the parameter setter leaves memmap_on_memory off while hugetlb_free_vmemmap is on');
    param = 'off';
  }

  steps.push({
    check: 'memory block and memmap size',
    formula: 'V = (B / P) × S',
    values: { B: fmt(B), P: `${f.pageBytes}`, S: `${f.structPageBytes}`, 'B/P': `${blockPages} pages`, V: fmt(V), 'PFN_UP(V)': `${memmapPagesUp} pages` },
    passed: null,
  });

  if (arithmetic === 'none') {
    step(
      { check: 'memory_hotplug.memmap_on_memory exists', formula: 'kernel ≥ 5.13', values: { kernel: f.kernel }, passed: false },
      'memmap_on_memory does not exist before 5.13',
    );
    return finish(false, memmapPagesUp);
  }

  step(
    { check: 'mhp_memmap_on_memory()', formula: paramType === 'bool-or-force' ? 'param ≠ N' : 'param = Y', values: { param }, passed: param !== 'off' },
    'memory_hotplug.memmap_on_memory is off',
  );
  step(
    { check: 'IS_ENABLED(CONFIG_MHP_MEMMAP_ON_MEMORY)', formula: 'ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE', values: { arch: f.arch }, passed: f.archEnabled },
    `${f.arch} does not enable memmap_on_memory in this kernel (apps/docs/kernel/memmap-on-memory.md#arches)`,
  );
  if (hvoRule === 'predicate')
    step(
      { check: '!is_hugetlb_free_vmemmap_enabled()', formula: 'HVO off (5.14–5.18: hugetlb_free_vmemmap takes precedence)', values: { hugetlb_free_vmemmap: f.hvoEnabled ? 'on' : 'off' }, passed: !f.hvoEnabled },
      'HVO (hugetlb_free_vmemmap) is on, and 5.14–5.18 refuse memmap_on_memory while it is',
    );
  if (sizeMustEqual)
    step(
      { check: 'size == memory_block_size_bytes()', formula: 'request = B', values: { request: fmt(f.requestBytes), B: fmt(B) }, passed: f.requestBytes === B },
      `the request (${fmtBytes(f.requestBytes)}) is not exactly one memory block (${fmtBytes(B)}); only 6.8+ handles multi-block requests`,
    );
  else
    steps.push({
      check: 'per-block altmaps (6.8+)',
      formula: 'request split into request / B blocks, each self-hosting its memmap',
      values: { request: fmt(f.requestBytes), blocks: `${blocks}` },
      passed: null,
    });

  let m = memmapPagesUp;
  if (arithmetic === 'pmd-pageblock') {
    step(
      { check: 'IS_ALIGNED(vmemmap_size, PMD_SIZE)', formula: 'V mod PMD_SIZE = 0', values: { V: fmt(V), PMD_SIZE: fmt(f.pmdBytes), 'V mod PMD_SIZE': fmt(V % f.pmdBytes) }, passed: V % f.pmdBytes === 0n },
      `V = ${fmtBytes(V)} is not a multiple of PMD_SIZE (${fmtBytes(f.pmdBytes)})`,
    );
    const rem = B - V;
    step(
      { check: 'IS_ALIGNED(remaining_size, pageblock_nr_pages << PAGE_SHIFT)', formula: '(B − V) mod pageblock bytes = 0', values: { 'B − V': fmt(rem), pageblock: fmt(pbBytes), remainder: fmt(rem % pbBytes) }, passed: rem % pbBytes === 0n },
      `B − V = ${fmtBytes(rem)} is not a multiple of the pageblock size (${fmtBytes(pbBytes)})`,
    );
  } else {
    step(
      { check: 'IS_ALIGNED(vmemmap_size, PAGE_SIZE)', formula: 'V mod P = 0', values: { V: fmt(V), P: `${f.pageBytes}` }, passed: V % P === 0n },
      `V = ${fmtBytes(V)} is not a whole number of pages`,
    );
    if (param === 'force') {
      const aligned = Math.ceil(memmapPagesUp / pbPages) * pbPages;
      steps.push({
        check: 'memory_block_memmap_on_memory_pages() in force mode',
        formula: 'm = pageblock_align(PFN_UP(V)); waste = m − PFN_UP(V)',
        values: { 'PFN_UP(V)': `${memmapPagesUp}`, pageblock_nr_pages: `${pbPages}`, m: `${aligned}`, waste: `${aligned - memmapPagesUp}` },
        passed: null,
      });
      m = aligned;
      if (aligned !== memmapPagesUp) notes.push(`force: "Memory hotplug will waste ${aligned - memmapPagesUp} pages in each memory block"`);
    } else {
      steps.push({ check: 'memory_block_memmap_on_memory_pages()', formula: 'm = PFN_UP(V)', values: { m: `${m}` }, passed: null });
    }
    step(
      { check: 'pageblock_aligned(memmap_pages)', formula: 'm mod pageblock_nr_pages = 0', values: { m: `${m}`, pageblock_nr_pages: `${pbPages}`, remainder: `${m % pbPages}` }, passed: m % pbPages === 0 },
      `m = ${m} pages is not a multiple of pageblock_nr_pages (${pbPages})${
        param === 'force' || paramType !== 'bool-or-force' ? '' : `; force mode would reserve ${Math.ceil(m / pbPages) * pbPages} pages instead`
      }`,
    );
    step(
      { check: 'memmap_pages != PHYS_PFN(memory_block_size_bytes())', formula: 'm < B / P (some memory must remain usable)', values: { m: `${m}`, 'B/P': `${blockPages}` }, passed: m < blockPages },
      `m = ${m} pages would take the whole block (${blockPages} pages): no usable memory`,
    );
    const hook = f.archHook;
    const archOk = hook ? hook(V) : V % f.pmdBytes === 0n;
    step(
      {
        check: 'arch_supports_memmap_on_memory(vmemmap_size)',
        formula: hook ? `${f.arch} arch hook` : 'generic: V mod PMD_SIZE = 0',
        values: { V: fmt(V), PMD_SIZE: fmt(f.pmdBytes), ...(hook ? {} : { 'V mod PMD_SIZE': fmt(V % f.pmdBytes) }) },
        passed: archOk,
      },
      hook ? `the ${f.arch} arch check refuses V = ${fmtBytes(V)}` : `V = ${fmtBytes(V)} is not a multiple of PMD_SIZE (${fmtBytes(f.pmdBytes)})`,
    );
  }
  const supported = steps.every((s) => s.passed !== false);
  return finish(supported, supported ? m : memmapPagesUp);

  function finish(supported: boolean, vmemmapPages: number): MemmapOnMemoryExplanation {
    const waste = supported ? vmemmapPages - memmapPagesUp : 0;
    return {
      supported,
      kernel: f.kernel,
      vmemmapBytes: V,
      vmemmapPages,
      usablePages: supported ? blockPages - vmemmapPages : blockPages,
      wastedPages: waste,
      blockBytes: B,
      requestBytes: f.requestBytes,
      blocks,
      memmapSource: supported ? 'altmap' : 'ram',
      onUnsupported,
      steps,
      reasons,
      notes,
    };
  }
}

export interface ExplainInput {
  readonly backend: ArchBackend;
  readonly kernel: KernelVersion;
  readonly pageSizeBytes: number;
  readonly structPageBytes: number;
  readonly features?: Readonly<Record<string, boolean | number | string>>;
  /** memory_hotplug.memmap_on_memory as the user would set it; default 'on' (the question is "if I enable it"). */
  readonly param?: MemmapOnMemoryParam;
  readonly hvoEnabled?: boolean;
  /** The memory block size; default: the backend's policy for `bootRamEndBytes`. */
  readonly blockSizeBytes?: bigint;
  /** End of boot RAM for the backend's block-size policy (default 4 GiB). */
  readonly bootRamEndBytes?: bigint;
  /** Size of the add request (a DIMM, a dax device); default one block. */
  readonly requestBytes?: bigint;
}

/** Resolve an {@link ExplainInput} into facts through the backend. */
export function memmapOnMemoryFacts(input: ExplainInput): MemmapOnMemoryFacts {
  const features: Record<string, boolean | number | string> = {};
  for (const p of input.backend.features) {
    const key = p.feature ?? p.name;
    if (p.kind === 'bool' || p.kind === 'flag') features[key] = ['true', 'y', 'Y', '1', 'on'].includes(p.default);
    else if (p.kind === 'uint' || p.kind === 'size') features[key] = Number(p.default);
    else features[key] = p.default;
  }
  const config: ArchConfig = {
    pageSizeBytes: input.pageSizeBytes,
    structPageBytes: input.structPageBytes,
    kernel: input.kernel,
    features: { ...features, ...(input.features ?? {}) },
  };
  const c = input.backend.constants(config);
  const caps = input.backend.capabilities(config);
  const blockBytes =
    input.blockSizeBytes ?? input.backend.memoryBlockSize(config, { bootRamEndBytes: input.bootRamEndBytes ?? 4n * 1024n * MiB }).bytes;
  const hook = input.backend.supportsMemmapOnMemory?.bind(input.backend);
  return {
    kernel: input.kernel,
    param: input.param ?? 'on',
    hvoEnabled: input.hvoEnabled ?? false,
    pageBytes: input.pageSizeBytes,
    structPageBytes: input.structPageBytes,
    blockBytes,
    requestBytes: input.requestBytes ?? blockBytes,
    pmdBytes: 1n << BigInt(c.pmdShift),
    pageblockPages: 2 ** c.pageblockOrder,
    archEnabled: caps.memmapOnMemory && caps.memoryHotplug,
    archHook: hook ? (v: bigint) => hook(config, v) : undefined,
    arch: c.arch,
  };
}

/** `memhp check memmap-on-memory`: the verdict with every step, for one kernel. */
export function explainMemmapOnMemory(input: ExplainInput): MemmapOnMemoryExplanation {
  return explainFromFacts(memmapOnMemoryFacts(input));
}

/**
 * The predicate as the hotplug core calls it: true when MHP_MEMMAP_ON_MEMORY may be honoured for a request of
 * `facts.requestBytes`. For 6.8+ callers pass any multiple of the block size (the kernel asks without a size).
 */
export function mhpSupportsMemmapOnMemory(facts: MemmapOnMemoryFacts): boolean {
  return explainFromFacts(facts).supported;
}

export interface AcrossKernelsRow {
  /** The kernels (in SUPPORTED_KERNELS order) that give this same answer. */
  readonly kernels: readonly KernelVersion[];
  readonly explanation: MemmapOnMemoryExplanation;
}

const answerKey = (e: MemmapOnMemoryExplanation): string =>
  JSON.stringify([e.supported, e.vmemmapPages, e.usablePages, e.wastedPages, e.onUnsupported, e.blockBytes.toString(), e.reasons, e.notes]);

/** One row per run of consecutive supported kernels whose answer is the same; a new row where it changes. */
export function explainAcrossKernels(input: Omit<ExplainInput, 'kernel'>, kernels: readonly KernelVersion[] = SUPPORTED_KERNELS): AcrossKernelsRow[] {
  return runsOfSameAnswer(kernels, (kernel) => explainMemmapOnMemory({ ...input, kernel }), answerKey);
}
