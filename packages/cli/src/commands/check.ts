/**
 * `memhp check memmap-on-memory` and `memhp check hvo`: core's verdicts (mhp_supports_memmap_on_memory and
 * the HVO conditions) with every arithmetic step, for one kernel or, with `--kernel all`, one row per version
 * where the answer changes. Exit 1 when the answer is "unsupported" (the kernel would refuse), 0 when supported.
 */
import type { Command } from 'commander';
import type { ArchBackend, ArchConfig, KernelVersion } from '@memhp/core';
import { examples } from '../program.js';
import { archConfigFrom, collect, env, optKernels, optSize } from './common.js';
import { RefusedError, UserError } from '../errors.js';
import { explainMemmapOnMemory, type ExplainStep, type MemmapOnMemoryExplanation, hvoGeometry, hvoReservedVmemmapPages, parseCmdline, pick, type ReadonlyMachineState } from '@memhp/core';
import { formatSize } from '../parse/size.js';
import { kv, paint, printJson, table, type Out } from '../render/output.js';

/** core's explanation of mhp_supports_memmap_on_memory (memmap-on-memory/predicate.ts). */
export type MemmapVerdict = MemmapOnMemoryExplanation;

export interface HvoVerdict {
  readonly optimizable: boolean;
  readonly kernel: string;
  readonly hugepageBytes: bigint;
  readonly vmemmapPagesPerHugepage: number;
  readonly keptPagesPerHugepage: number | null;
  readonly freedPagesPerHugepage: number;
  readonly freedBytesPerHugepage: bigint;
  readonly reasons: readonly string[];
  readonly notes: readonly string[];
  readonly steps: readonly ExplainStep[];
}

interface CheckOpts {
  arch?: string;
  pageSize?: string;
  structPage?: string;
  blockSize?: string;
  bootRamEnd?: string;
  kernel?: string;
  param?: string[];
  feature?: string[];
  hugepageSize?: string;
  size?: string;
}

function addArchOptions(c: Command): Command {
  return c
    .option('--arch <arch>', 'architecture as uname -m names it: x86_64, arm64 (aliases x86, aarch64)', 'x86_64')
    .option('--page-size <size>', 'base page size: 4K, 16K, 64K', '4K')
    .option('--struct-page <bytes>', 'sizeof(struct page): 56, 64, 72, 80', '64')
    .option('--kernel <version>', 'kernel version major.minor, or "all" for one row per version where the answer changes')
    .option('--feature <name[=value]>', 'arch switch (memhp params --arch A lists them); repeatable', collect);
}

export function registerCheck(program: Command): void {
  const check = program
    .command('check')
    .description('check a kernel feature for a configuration, with every step of the kernel\'s arithmetic')
    .addHelpText('after', examples([
      ['memhp check memmap-on-memory --arch arm64 --page-size 64K --struct-page 56', 'why arm64 64K cannot self-host its memmap'],
      ['memhp check hvo --arch x86_64 --hugepage-size 1G', 'vmemmap pages freed per 1 GiB HugeTLB page'],
    ]));

  addArchOptions(
    check
      .command('memmap-on-memory')
      .description('can hot-added memory hold its own memmap (memory_hotplug.memmap_on_memory)? exit 1 when not')
      .option('--block-size <size>', 'memory block size (default: the arch\'s policy for --boot-ram-end)')
      .option('--boot-ram-end <size>', 'end of boot RAM, input of the x86 block-size policy', '4G')
      .option('--size <size>', 'size of the add_memory request (default: one block)')
      .option('--param <name=value>', 'kernel parameter, e.g. memory_hotplug.memmap_on_memory=1|force (default: =1); repeatable', collect),
  )
    .addHelpText('after', examples([
      ['memhp check memmap-on-memory --arch x86_64', 'x86-64 4K, 128 MiB blocks: supported, 512 vmemmap pages'],
      ['memhp check memmap-on-memory --arch arm64 --page-size 64K --struct-page 56 --kernel all', 'the verdict per kernel version'],
      ['memhp check memmap-on-memory --arch x86_64 --struct-page 56 --param memory_hotplug.memmap_on_memory=force --json', 'force mode, as JSON'],
    ]))
    .action(async (o: CheckOpts, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const { all, kernels } = optKernels(o.kernel);
      const explain = explainMemmapOnMemory;
      // Each kernel parses --param its own way (force is a word only from 6.6), so each row is explained on its
      // own and consecutive kernels with the same answer are merged into one row.
      const rows = kernels.filter((k) => !all || supportsKernel(registry, o, k)).map((k) => explain(memmapInput(registry, o, k)));
      const shown = all ? collapse(rows, (r) => JSON.stringify([r.supported, r.vmemmapPages, r.usablePages, r.wastedPages, r.reasons, r.notes])) : rows;
      if (out.json) printJson(out, all ? { arch: o.arch, rows: shown } : shown[0]);
      else renderMemmap(out, shown, all);
      if (!all && !shown[0]!.supported) throw new RefusedError('');
      if (all && shown.every((r) => !r.supported)) throw new RefusedError('');
    });

  addArchOptions(
    check
      .command('hvo')
      .description('HugeTLB vmemmap optimisation: vmemmap pages per huge page, pages freed, and why not when not; exit 1 when not optimisable')
      .option('--hugepage-size <size>', 'HugeTLB page size (default: the arch\'s default size)'),
  )
    .addHelpText('after', examples([
      ['memhp check hvo --arch x86_64', '2 MiB pages: 8 vmemmap pages, 7 freed'],
      ['memhp check hvo --arch arm64 --kernel all', 'arm64 HVO across releases (enabled 5.19, disabled again)'],
      ['memhp check hvo --arch x86_64 --struct-page 56 --json', 'not a power of two: nothing to free'],
    ]))
    .action(async (o: CheckOpts, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const { all, kernels } = optKernels(o.kernel);
      const rows: HvoVerdict[] = [];
      for (const k of kernels) {
        if (all && !supportsKernel(registry, o, k)) continue;
        rows.push(explainHvo(hvoInput(registry, o, k)));
      }
      const shown = all ? collapse(rows, (r) => `${r.optimizable}|${r.vmemmapPagesPerHugepage}|${r.freedPagesPerHugepage}|${r.reasons.join(';')}`) : rows;
      if (out.json) printJson(out, all ? { arch: o.arch, rows: shown } : shown[0]);
      else renderHvo(out, shown, all);
      if (!all && !shown[0]!.optimizable) throw new RefusedError('');
      if (all && shown.every((r) => !r.optimizable)) throw new RefusedError('');
    });
}

/** What core's explainMemmapOnMemory is given (core's ExplainInput). */
export interface MemmapInput {
  readonly backend: ArchBackend;
  readonly kernel: KernelVersion;
  readonly pageSizeBytes: number;
  readonly structPageBytes: number;
  readonly features: Readonly<Record<string, boolean | number | string>>;
  readonly param: 'off' | 'on' | 'force';
  readonly hvoEnabled: boolean;
  readonly blockSizeBytes?: bigint;
  readonly bootRamEndBytes: bigint;
  readonly requestBytes?: bigint;
}

export interface HvoInput {
  readonly backend: ArchBackend;
  readonly config: ArchConfig;
  readonly kernel: KernelVersion;
  readonly hugepageBytes: bigint;
}

function parseParams(params: readonly string[] | undefined, kernel: KernelVersion, backend: ArchBackend, config: ArchConfig): { memmapOnMemory: 'off' | 'on' | 'force'; hugetlbFreeVmemmap: boolean } {
  for (const p of params ?? []) if (!/^[\w.-]+(=.*)?$/.test(p)) throw new UserError(`not a kernel parameter: "${p}" (expected name=value)`, { field: '--param' });
  const cmdline = (params ?? ['memory_hotplug.memmap_on_memory=1']).join(' ');
  try {
    return parseCmdline(cmdline, { kernel, archParams: backend.features, structPageBytes: config.structPageBytes }).params;
  } catch (e) {
    throw new UserError((e as Error).message, { field: '--param' });
  }
}

function supportsKernel(registry: Parameters<typeof archConfigFrom>[0], o: CheckOpts, kernel: KernelVersion): boolean {
  try {
    archConfigFrom(registry, o, kernel);
    return true;
  } catch {
    return false;
  }
}

function memmapInput(registry: Parameters<typeof archConfigFrom>[0], o: CheckOpts, kernel: KernelVersion): MemmapInput {
  const { backend, config } = archConfigFrom(registry, o, kernel);
  const blockSizeBytes = optSize(o.blockSize, '--block-size');
  const requestBytes = optSize(o.size, '--size');
  const bootRamEndBytes = optSize(o.bootRamEnd, '--boot-ram-end') ?? 4n << 30n;
  const p = parseParams(o.param, kernel, backend, config);
  return {
    backend,
    kernel,
    pageSizeBytes: config.pageSizeBytes,
    structPageBytes: config.structPageBytes,
    features: config.features,
    param: p.memmapOnMemory,
    hvoEnabled: p.hugetlbFreeVmemmap,
    ...(blockSizeBytes !== undefined ? { blockSizeBytes } : {}),
    bootRamEndBytes,
    ...(requestBytes !== undefined ? { requestBytes } : {}),
  };
}

/**
 * HVO for one configuration, composed from core's pieces (core has no explain function for it yet): the
 * vmemmap geometry of the hstate (hvoGeometry), the pages kept per version (rule hvoReservedVmemmapPages) and
 * the backend's capability flag. Conditions are DOMAIN.md §6.3's, in the kernel's order.
 */
function explainHvo(i: HvoInput): HvoVerdict {
  const keptRule = hvoReservedVmemmapPages;
  const P = i.config.pageSizeBytes;
  const S = i.config.structPageBytes;
  const order = Math.log2(Number(i.hugepageBytes) / P);
  // hvoGeometry reads only the page and struct page sizes and the kernel version of the machine state.
  const g = hvoGeometry({ machine: { kernel: i.kernel, geometry: { pageBytes: P, structPageBytes: S } } } as unknown as ReadonlyMachineState, order);
  const kept = pick(keptRule, i.kernel);
  const caps = i.backend.capabilities(i.config);
  const pow2 = S > 0 && (S & (S - 1)) === 0;
  const steps: ExplainStep[] = [
    { check: 'vmemmap pages of one HugeTLB page', formula: 'w = (H / P) × S / P', values: { H: String(i.hugepageBytes), P: String(P), S: String(S), w: String(g.vmemmapPages) }, passed: null },
    { check: 'pages kept per HugeTLB page (HUGETLB_VMEMMAP_RESERVE_SIZE)', formula: `${keptRule.name} [${keptRule.source}]`, values: { kept: kept === null ? 'no HVO in this kernel' : String(kept) }, passed: kept !== null },
    { check: 'arch selects ARCH_WANT_OPTIMIZE_HUGETLB_VMEMMAP', formula: 'backend.capabilities().hugetlbVmemmapOptimize', values: { [i.backend.id]: String(caps.hugetlbVmemmapOptimize) }, passed: caps.hugetlbVmemmapOptimize },
    { check: 'is_power_of_2(sizeof(struct page))', formula: 'S & (S − 1) = 0', values: { S: String(S) }, passed: pow2 },
    { check: 'hstate optimisable: pages to free > 0', formula: 'freed = w − kept', values: { freed: String(g.freed) }, passed: g.freed > 0 },
  ];
  const reasons: string[] = [];
  if (kept === null) reasons.push('no HugeTLB vmemmap optimisation before 5.14 (DOMAIN.md §12)');
  else if (!caps.hugetlbVmemmapOptimize) reasons.push(`${i.backend.id} does not enable HVO in this kernel (DOMAIN.md §6.2)`);
  if (!pow2) reasons.push(`sizeof(struct page) = ${S} is not a power of two: nothing can be remapped (DOMAIN.md §6.3 item 3)`);
  else if (kept !== null && g.freed <= 0) reasons.push(`a ${formatSize(i.hugepageBytes)} page has only ${g.vmemmapPages} vmemmap page(s): nothing to free (DOMAIN.md §6.1)`);
  const optimizable = reasons.length === 0;
  const freed = optimizable ? g.freed : 0;
  return {
    optimizable,
    kernel: i.kernel,
    hugepageBytes: i.hugepageBytes,
    vmemmapPagesPerHugepage: g.vmemmapPages,
    keptPagesPerHugepage: kept,
    freedPagesPerHugepage: freed,
    freedBytesPerHugepage: BigInt(freed) * BigInt(P),
    reasons,
    notes: [
      'only pages added to the pool while HVO is enabled are optimised (hugetlb_free_vmemmap= or vm.hugetlb_optimize_vmemmap, DOMAIN.md §6.3 item 6)',
      'a page whose vmemmap is self-hosted (memmap_on_memory) is skipped from 6.0 on (DOMAIN.md §5.4)',
    ],
    steps,
  };
}

function hvoInput(registry: Parameters<typeof archConfigFrom>[0], o: CheckOpts, kernel: KernelVersion): HvoInput {
  const { backend, config } = archConfigFrom(registry, o, kernel);
  const hugepageBytes = optSize(o.hugepageSize, '--hugepage-size') ?? backend.defaultHugepageBytes(config);
  const sizes = backend.hugepageSizes(config).map((h) => h.bytes);
  if (!sizes.includes(hugepageBytes)) {
    throw new UserError(`${backend.id} with ${formatSize(config.pageSizeBytes)} pages has no ${formatSize(hugepageBytes)} HugeTLB size; it has ${sizes.map(formatSize).join(', ')}`, { field: '--hugepage-size' });
  }
  return { backend, config, kernel, hugepageBytes };
}

/** Keep the first row of each run of equal answers (rows are in version order), naming the range it covers. */
function collapse<T extends { kernel?: string }>(rows: readonly T[], key: (r: T) => string): Array<T & { kernels: string }> {
  const out: Array<T & { kernels: string }> = [];
  let prev: string | null = null;
  for (const r of rows) {
    const k = key(r);
    if (k === prev && out.length > 0) {
      const last = out[out.length - 1]!;
      last.kernels = `${last.kernels.split('–')[0]}–${r.kernel}`;
    } else out.push({ ...r, kernels: r.kernel ?? '' });
    prev = k;
  }
  return out;
}

function renderSteps(out: Out, steps: readonly ExplainStep[] | undefined): void {
  if (!steps?.length) return;
  const p = paint(out);
  out.line(p.bold('Arithmetic:'));
  for (const s of steps) {
    const mark = s.passed === null ? '·' : s.passed ? p.green('✓') : p.red('✗');
    const values = Object.entries(s.values)
      .map(([k, v]) => `${k} = ${v}`)
      .join(', ');
    out.line(`  ${mark} ${s.check}`);
    out.line(`      ${p.dim(s.formula)}${values ? `  →  ${values}` : ''}`);
  }
}

function renderMemmap(out: Out, rows: ReadonlyArray<MemmapVerdict & { kernels?: string }>, all: boolean): void {
  const p = paint(out);
  if (all) {
    out.line(
      table(
        out,
        ['kernel', 'supported', 'vmemmap bytes', 'vmemmap pages', 'usable pages', 'wasted pages', 'reasons'],
        rows.map((r) => [r.kernels ?? r.kernel, r.supported ? 'yes' : 'no', r.vmemmapBytes, r.vmemmapPages, r.usablePages, r.wastedPages, r.reasons.join('; ')]),
      ),
    );
    return;
  }
  const r = rows[0]!;
  out.line(`${p.bold('memmap_on_memory')} (kernel ${r.kernel}): ${r.supported ? p.green('supported') : p.red('not supported')}`);
  out.line(kv(out, [['vmemmapBytes', String(r.vmemmapBytes)], ['vmemmapPages', r.vmemmapPages], ['usablePages', r.usablePages], ['wastedPages', r.wastedPages]]));
  renderSteps(out, r.steps);
  const notes = r.notes;
  if (notes.length) {
    out.line(p.bold('Notes:'));
    for (const n of notes) out.line(`  - ${n}`);
  }
  if (r.reasons.length) {
    out.line(p.bold('Reasons:'));
    for (const why of r.reasons) out.line(`  - ${why}`);
  }
}

function renderHvo(out: Out, rows: ReadonlyArray<HvoVerdict & { kernels?: string }>, all: boolean): void {
  const p = paint(out);
  if (all) {
    out.line(
      table(
        out,
        ['kernel', 'optimizable', 'vmemmap pages/hugepage', 'freed pages/hugepage', 'reasons'],
        rows.map((r) => [r.kernels ?? r.kernel ?? '', r.optimizable ? 'yes' : 'no', r.vmemmapPagesPerHugepage, r.freedPagesPerHugepage, r.reasons.join('; ')]),
      ),
    );
    return;
  }
  const r = rows[0]!;
  out.line(`${p.bold('HugeTLB vmemmap optimisation')} (kernel ${r.kernel ?? ''}): ${r.optimizable ? p.green('optimizable') : p.red('not optimizable')}`);
  out.line(kv(out, [['hugepage size', formatSize(r.hugepageBytes)], ['vmemmapPagesPerHugepage', r.vmemmapPagesPerHugepage], ['freedPagesPerHugepage', r.freedPagesPerHugepage], ['freedBytesPerHugepage', String(r.freedBytesPerHugepage)]]));
  renderSteps(out, r.steps);
  if (r.notes.length) {
    out.line(p.bold('Notes:'));
    for (const n of r.notes) out.line(`  - ${n}`);
  }
  if (r.reasons.length) {
    out.line(p.bold('Reasons:'));
    for (const why of r.reasons) out.line(`  - ${why}`);
  }
}
