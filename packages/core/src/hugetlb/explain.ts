/**
 * `memhp check hvo`: does HugeTLB Vmemmap Optimization free vmemmap pages of a huge page of one size, and how
 * many — every condition of apps/docs/kernel/hvo.md#conditions with its numbers, for one kernel or per run of kernels (seed 001).
 *
 * Models, per version: hugetlb_vmemmap_optimizable_size() and vmemmap_should_optimize() of mm/hugetlb_vmemmap.c
 * (6.1; pages kept 2 in 5.14–5.17, 1 from 5.18), hugetlb_vmemmap_init()'s registration of
 * `vm.hugetlb_optimize_vmemmap` (5.19+), the arch opt-in (ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP and its
 * renames, through the backend's capability flag), the hstate list of arch_hugetlb_valid_size() (through the
 * backend), the VmemmapSelfHosted check (6.0+) or the 5.14–5.19 exclusion with memmap_on_memory, and 6.2's new
 * head page. The arithmetic is hvo.ts's {@link hvoGeometryOf}; the version facts are the rules of
 * kernel/rules.ts and hugetlb/rules.ts — nothing here restates a formula.
 */
import type { ArchBackend, ArchConfig, HugepageSize } from '../arch/backend.js';
import { runsOfSameAnswer } from '../kernel/runs.js';
import { pick, SUPPORTED_KERNELS, type KernelVersion } from '../kernel/version.js';
import { hvoNewHeadPage, hvoSysctlRegistration, memmapOnMemoryHvoExclusion } from '../kernel/rules.js';
import type { ExplainStep } from '../memmap-on-memory/predicate.js';
import { isPowerOfTwo } from '../model/geometry.js';
import { defaultKernelParams } from '../params/cmdline.js';
import { hvoSysctlRegistered } from '../params/runtime.js';
import type { MemmapOnMemoryParam } from '../params/types.js';
import { hvoGeometryOf } from './hvo.js';
import { hvoSelfHostedCheck } from './rules.js';

export interface HvoExplainInput {
  readonly backend: ArchBackend;
  readonly kernel: KernelVersion;
  readonly pageSizeBytes: number;
  readonly structPageBytes: number;
  /** Arch switches on top of the backend's declared defaults (x86 `pdpe1gb` …). */
  readonly features?: Readonly<Record<string, boolean | number | string>>;
  /** The HugeTLB page size; default the backend's default size (HPAGE_SIZE). */
  readonly hugepageBytes?: bigint;
  /** `hugetlb_free_vmemmap=` at boot. Default true: the question is "if I enable it". */
  readonly hugetlbFreeVmemmap?: boolean;
  /** A write to `vm.hugetlb_optimize_vmemmap` after boot (5.19+); absent when not written. */
  readonly hugetlbOptimizeVmemmap?: boolean;
  /** `memory_hotplug.memmap_on_memory` (matters for 5.19's sysctl registration and the 5.14–5.19 exclusion). Default off. */
  readonly memmapOnMemory?: MemmapOnMemoryParam;
  /** The huge page lies in a memory block that hosts its own memmap (memmap_on_memory). Default false. */
  readonly selfHosted?: boolean;
}

/** Whether this configuration has the hstate at all (arch_hugetlb_valid_size), or would with a CPU feature. */
export type HvoHstateStatus = 'exists' | 'needs-feature' | 'unknown';

export interface HvoExplanation {
  /** Pages of this size added to the pool are optimised (every condition holds). */
  readonly optimizable: boolean;
  readonly kernel: KernelVersion;
  readonly arch: string;
  readonly hugepageBytes: bigint;
  /** w = (H / P) × S / P; fractional when the struct pages of one huge page fill less than a page. */
  readonly vmemmapPagesPerHugepage: number;
  /** Vmemmap pages HVO keeps (HUGETLB_VMEMMAP_RESERVE_SIZE / P): 2 in 5.14–5.17, 1 from 5.18; null before 5.14. */
  readonly keptPagesPerHugepage: number | null;
  /** Net vmemmap pages given back per huge page: w − kept when optimizable, else 0. */
  readonly freedPagesPerHugepage: number;
  readonly freedBytesPerHugepage: bigint;
  /**
   * What the hstate's geometry would free were the arch, the switch and the page's block not in the way
   * (apps/docs/kernel/hvo.md#sizes's "would be" rows for arm64); 0 when the hstate itself is not optimisable.
   */
  readonly wouldFreePagesPerHugepage: number;
  /** 6.2+: the head vmemmap page is also replaced by a newly allocated one (w freed, 1 allocated). */
  readonly newHeadPage: boolean;
  readonly hstate: HvoHstateStatus;
  /** HugeTLB sizes this configuration has, smallest first. */
  readonly hugepageSizes: readonly bigint[];
  readonly steps: readonly ExplainStep[];
  /** Why not, one sentence per failed condition (empty when optimizable). */
  readonly reasons: readonly string[];
  /** Things worth knowing that are not failures. */
  readonly notes: readonly string[];
}

const sizeName = (b: bigint): string =>
  b >= 1n << 30n ? `${b >> 30n} GiB` : b >= 1n << 20n ? `${b >> 20n} MiB` : b >= 1n << 10n ? `${b >> 10n} KiB` : `${b} B`;
const onOff = (b: boolean): string => (b ? 'on' : 'off');
const truthy = new Set(['true', 'y', 'Y', 'yes', '1', 'on']);

/** The backend's declared defaults with the caller's switches on top (ArchConfig.features). */
function archConfigOf(input: HvoExplainInput): ArchConfig {
  const defaults = Object.fromEntries(
    input.backend.features.map((p) => [
      p.feature ?? p.name,
      p.kind === 'bool' || p.kind === 'flag' ? truthy.has(p.default) : p.kind === 'uint' || p.kind === 'size' ? Number(p.default) : p.default,
    ]),
  );
  return { pageSizeBytes: input.pageSizeBytes, structPageBytes: input.structPageBytes, kernel: input.kernel, features: { ...defaults, ...(input.features ?? {}) } };
}

/**
 * The hstate of `bytes` on this configuration; if absent, whether the arch would have it with one of its
 * boolean switches on (the size's `requiresFeature`, e.g. x86's 1 GiB pages need the CPU flag pdpe1gb).
 */
function findHstate(backend: ArchBackend, config: ArchConfig, bytes: bigint): { status: HvoHstateStatus; size: HugepageSize | undefined } {
  const have = backend.hugepageSizes(config).find((h) => h.bytes === bytes);
  if (have) return { status: 'exists', size: have };
  const allOn = Object.fromEntries(backend.features.filter((p) => p.kind === 'bool' || p.kind === 'flag').map((p) => [p.feature ?? p.name, true]));
  const would = backend.hugepageSizes({ ...config, features: { ...config.features, ...allOn } }).find((h) => h.bytes === bytes);
  return would ? { status: 'needs-feature', size: would } : { status: 'unknown', size: undefined };
}

/** `memhp check hvo`: the verdict for one huge page size and kernel, with every condition of apps/docs/kernel/hvo.md#conditions. */
export function explainHvo(input: HvoExplainInput): HvoExplanation {
  const { backend, kernel } = input;
  const config = archConfigOf(input);
  const arch = backend.constants(config).arch;
  const P = input.pageSizeBytes;
  const S = input.structPageBytes;
  const H = input.hugepageBytes ?? backend.defaultHugepageBytes(config);
  const hugepageSizes = backend
    .hugepageSizes(config)
    .map((h) => h.bytes)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const order = Math.log2(Number(H) / P);
  const geo = hvoGeometryOf({ pageBytes: P, structPageBytes: S }, kernel, order);
  const w = geo.vmemmapPages;
  const kept = geo.kept;
  const steps: ExplainStep[] = [];
  const reasons: string[] = [];
  const notes: string[] = [];
  const step = (s: ExplainStep, reason: string): void => {
    steps.push(s);
    if (s.passed === false) reasons.push(reason);
  };

  steps.push({
    check: 'hugetlb_vmemmap_size(h): vmemmap pages of one HugeTLB page',
    formula: 'w = (H / P) × S / P',
    values: { H: `${H} B (${sizeName(H)})`, P: `${P}`, S: `${S}`, 'H/P': `${Number(H) / P} struct pages`, 'vmemmap bytes': `${(Number(H) / P) * S}`, w: `${w}` },
    passed: null,
  });

  step(
    { check: 'HVO exists in this kernel', formula: 'kernel ≥ 5.14 (HUGETLB_PAGE_FREE_VMEMMAP)', values: { kernel }, passed: kept !== null },
    'HugeTLB vmemmap optimisation does not exist before 5.14 (apps/docs/kernel/timeline.md#timeline)',
  );
  const hstate = findHstate(backend, config, H);
  if (kept === null) return finish(false);

  const caps = backend.capabilities(config);
  step(
    {
      check: 'the arch selects ARCH_WANT_HUGETLB_PAGE_OPTIMIZE_VMEMMAP',
      formula: 'CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP = HugeTLB && SPARSEMEM_VMEMMAP && arch opt-in',
      values: { arch, kernel, 'arch opt-in': caps.hugetlbVmemmapOptimize ? 'yes' : 'no' },
      passed: caps.hugetlbVmemmapOptimize,
    },
    `${arch} does not enable HVO in this kernel (apps/docs/kernel/hvo.md#sizes)` +
      (geo.freed > 0 ? `; it would free ${geo.freed} of ${w} vmemmap pages per ${sizeName(H)} page` : ''),
  );

  const need = hstate.size?.requiresFeature;
  step(
    {
      check: `the hstate exists: hugepagesz=${sizeName(H).replace(/ ([KMG])iB/, '$1')} is valid for ${arch}`,
      formula: 'H ∈ arch_hugetlb_valid_size()' + (need ? ` (needs CPU feature ${need})` : ''),
      values: { H: sizeName(H), sizes: hugepageSizes.map(sizeName).join(', '), ...(need ? { [need]: hstate.status === 'exists' ? 'on' : 'off' } : {}) },
      passed: hstate.status === 'exists',
    },
    hstate.status === 'needs-feature'
      ? `${arch} has ${sizeName(H)} HugeTLB pages only with the CPU feature ${need ?? 'the size needs'} (apps/docs/kernel/hvo.md#sizes)`
      : `${arch} with ${sizeName(BigInt(P))} pages has no ${sizeName(H)} HugeTLB size; it has ${hugepageSizes.map(sizeName).join(', ')} (apps/docs/kernel/hvo.md#sizes)`,
  );

  // The boot parameter and the sysctl are one variable (vmemmap_optimize_enabled); the sysctl exists only
  // where hugetlb_vmemmap_init registers it (5.19: not with memmap_on_memory; 6.0+: some hstate optimisable).
  const exclusion = pick(memmapOnMemoryHvoExclusion, kernel);
  const bootOn = input.hugetlbFreeVmemmap ?? true;
  const momRequested = input.memmapOnMemory ?? 'off';
  const mom = bootOn && exclusion === 'param-parse' ? 'off' : momRequested;
  const sysctlExists = pick(hvoSysctlRegistration, kernel) !== 'absent';
  const sysctlRegistered = hvoSysctlRegistered({
    kernel,
    params: { ...defaultKernelParams(), memmapOnMemory: mom, hugetlbFreeVmemmap: bootOn },
    structPageBytes: S,
    hvoCapable: caps.hugetlbVmemmapOptimize,
    optimisableHstate: backend.hugepageSizes(config).some((h) => hvoGeometryOf({ pageBytes: P, structPageBytes: S }, kernel, Math.log2(Number(h.bytes) / P)).freed > 0),
  });
  const written = input.hugetlbOptimizeVmemmap;
  const enabled = written !== undefined && sysctlRegistered ? written : bootOn;
  if (written !== undefined && !sysctlRegistered)
    notes.push(
      sysctlExists
        ? `vm.hugetlb_optimize_vmemmap is not registered on this configuration (apps/docs/kernel/knobs.md#runtime): the write fails with -ENOENT`
        : `vm.hugetlb_optimize_vmemmap does not exist before 5.19 (kernel ${kernel}): only hugetlb_free_vmemmap= decides`,
    );
  const sysctlValue = !sysctlExists ? 'does not exist before 5.19' : !sysctlRegistered ? 'not registered' : written === undefined ? `not written (${enabled ? 1 : 0})` : `${written ? 1 : 0}`;
  step(
    {
      check: 'vmemmap_optimize_enabled',
      formula: sysctlExists ? 'hugetlb_free_vmemmap= at boot, then vm.hugetlb_optimize_vmemmap (one variable)' : 'hugetlb_free_vmemmap= (boot only before 5.19)',
      values: { hugetlb_free_vmemmap: onOff(bootOn), 'vm.hugetlb_optimize_vmemmap': sysctlValue },
      passed: enabled,
    },
    'HVO is switched off (hugetlb_free_vmemmap=' +
      onOff(bootOn) +
      (sysctlExists ? `, vm.hugetlb_optimize_vmemmap ${sysctlRegistered ? (written === undefined ? 'not written' : '= 0') : 'not registered'}` : '') +
      ')' +
      (!sysctlRegistered && exclusion === 'param-parse' && mom !== 'off'
        ? '; 5.19 does not register the sysctl while memory_hotplug.memmap_on_memory is on, so only the boot parameter can enable HVO'
        : '') +
      ' (apps/docs/kernel/hvo.md#conditions item 2)',
  );

  const pow2 = isPowerOfTwo(S);
  step(
    { check: 'is_power_of_2(sizeof(struct page))', formula: 'S & (S − 1) = 0', values: { S: `${S}` }, passed: pow2 },
    `sizeof(struct page) = ${S} is not a power of two: struct pages cross page boundaries, nothing can be remapped (apps/docs/kernel/hvo.md#conditions item 3)`,
  );

  step(
    {
      check: 'hugetlb_vmemmap_optimizable_size(h) > 0',
      formula: 'w × P − HUGETLB_VMEMMAP_RESERVE_SIZE > 0, i.e. w > kept',
      values: { w: `${w}`, kept: `${kept}`, 'freed = w − kept': pow2 ? `${geo.freed}` : '0 (struct page not a power of two)' },
      passed: w > kept,
    },
    `a ${sizeName(H)} page has ${w < 1 ? `less than one (${w})` : `only ${w}`} vmemmap page(s), not more than the ${kept} HVO keeps: nothing to free (apps/docs/kernel/hvo.md#what-it-does)`,
  );

  if (pick(hvoSelfHostedCheck, kernel)) {
    step(
      {
        check: 'vmemmap_should_optimize: !PageVmemmapSelfHosted(page backing the head struct page)',
        formula: 'the huge page is not in a memmap_on_memory block (6.0+)',
        values: { 'self-hosted vmemmap': input.selfHosted ? 'yes' : 'no' },
        passed: !input.selfHosted,
      },
      'the page lies in a memory block that hosts its own memmap (VmemmapSelfHosted): 6.0+ leaves it unoptimised (apps/docs/kernel/memmap-on-memory.md#self-hosted, apps/docs/kernel/hvo.md#conditions item 5)',
    );
  } else {
    // 5.14–5.19: the two features exclude each other, HVO taking precedence, so no block can self-host its
    // memmap while HVO is on and no per-page check exists.
    steps.push({
      check: 'memmap_on_memory and HVO exclude each other (5.14–5.19)',
      formula:
        exclusion === 'predicate'
          ? 'mhp_supports_memmap_on_memory() refuses while HVO is on'
          : 'the memmap_on_memory setter leaves it off while hugetlb_free_vmemmap is on; the sysctl is not registered while it is on',
      values: { 'memory_hotplug.memmap_on_memory': `${momRequested}${mom !== momRequested ? ' → off' : ''}`, HVO: onOff(enabled) },
      passed: null,
    });
    if (input.selfHosted && enabled)
      notes.push(`no memory block can host its own memmap while HVO is on in ${kernel} (apps/docs/kernel/memmap-on-memory.md#support): the page's vmemmap is in RAM and is optimised`);
    if (momRequested !== 'off' && enabled)
      notes.push(
        exclusion === 'predicate'
          ? `memmap_on_memory is refused while HVO is on (5.14–5.18): hot-added memory keeps its memmap in RAM (apps/docs/kernel/memmap-on-memory.md#support)`
          : `5.19 leaves memory_hotplug.memmap_on_memory off because hugetlb_free_vmemmap takes precedence (apps/docs/kernel/memmap-on-memory.md#support)`,
      );
  }

  const optimizable = steps.every((s) => s.passed !== false);
  const newHead = pick(hvoNewHeadPage, kernel);
  if (newHead && optimizable)
    steps.push({
      check: 'hugetlb_vmemmap_optimize: remap the head to a newly allocated page (6.2+)',
      formula: `frees all w pages and allocates 1: net w − ${kept}`,
      values: { freed: `${Math.floor(w)}`, allocated: '1', net: `${geo.freed}` },
      passed: null,
    });
  if (optimizable)
    notes.push(
      'only pages added to the pool while HVO is on are optimised; switching it off does not restore them (apps/docs/kernel/hvo.md#conditions item 6)',
      'a restore (the page leaves the pool) needs the freed pages back and can fail with -ENOMEM (apps/docs/kernel/hvo.md#steps)',
    );
  return finish(optimizable);

  function finish(optimizable: boolean): HvoExplanation {
    const freed = optimizable ? geo.freed : 0;
    return {
      optimizable,
      kernel,
      arch,
      hugepageBytes: H,
      vmemmapPagesPerHugepage: w,
      keptPagesPerHugepage: kept,
      freedPagesPerHugepage: freed,
      freedBytesPerHugepage: BigInt(freed) * BigInt(P),
      wouldFreePagesPerHugepage: geo.freed,
      newHeadPage: optimizable && pick(hvoNewHeadPage, kernel),
      hstate: hstate.status,
      hugepageSizes,
      steps,
      reasons,
      notes,
    };
  }
}

export interface HvoAcrossKernelsRow {
  /** The kernels (in the order given, by default SUPPORTED_KERNELS) that give this same answer. */
  readonly kernels: readonly KernelVersion[];
  readonly explanation: HvoExplanation;
}

const answerKey = (e: HvoExplanation): string =>
  JSON.stringify([e.optimizable, e.vmemmapPagesPerHugepage, e.optimizable ? e.keptPagesPerHugepage : null, e.freedPagesPerHugepage, e.newHeadPage, e.hstate, e.reasons]);

/**
 * One row per run of consecutive kernels with the same answer; kernels the backend does not support for this
 * configuration (`backend.supports`) are left out.
 */
export function explainHvoAcrossKernels(input: Omit<HvoExplainInput, 'kernel'>, kernels: readonly KernelVersion[] = SUPPORTED_KERNELS): HvoAcrossKernelsRow[] {
  return runsOfSameAnswer(
    kernels,
    (kernel) => (input.backend.supports(archConfigOf({ ...input, kernel })).supported ? explainHvo({ ...input, kernel }) : null),
    answerKey,
  );
}
