/**
 * `memhp check memmap-on-memory` and `memhp check hvo`: core's verdicts (mhp_supports_memmap_on_memory and
 * the HVO conditions) with every arithmetic step, for one kernel or, with `--kernel all`, one row per version
 * where the answer changes. Exit 1 when the answer is "unsupported" (the kernel would refuse), 0 when supported.
 */
import type { Command } from 'commander';
import type { ArchBackend, ArchConfig, KernelVersion } from '@memhp/core';
import { examples } from '../program.js';
import { archConfigFrom, collect, env, optBlockSize, optBootRamEnd, optKernels, optSize } from './common.js';
import { RefusedError, UserError } from '../errors.js';
import {
  canonicalKnobName,
  explainHvo,
  explainHvoAcrossKernels,
  explainMemmapOnMemory,
  parseCmdline,
  type ExplainStep,
  type HvoExplainInput,
  type HvoExplanation,
  type MemmapOnMemoryExplanation,
} from '@memhp/core';
import { formatSize } from '../parse/size.js';
import { kv, paint, printJson, table, type Out } from '../render/output.js';

/** core's explanation of mhp_supports_memmap_on_memory (memmap-on-memory/predicate.ts). */
export type MemmapVerdict = MemmapOnMemoryExplanation;

/** core's explanation of the HVO conditions (hugetlb/explain.ts), with the kernel range of a `--kernel all` row. */
export type HvoVerdict = HvoExplanation;

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
  sysctl?: string[];
  selfHosted?: boolean;
}

function addArchOptions(c: Command): Command {
  return c
    .option('--arch <arch>', 'architecture as uname -m names it: x86_64, arm64 (aliases x86, aarch64)', 'x86_64')
    .option('--page-size <size>', 'base page size: 4K, 16K, 64K', '4K')
    .option('--struct-page <bytes>', 'sizeof(struct page): 56, 64, 72, 80', '64')
    .option('--kernel <version>', 'kernel version (a series 5.10 … 6.18, or X.Y.Z), or "all": every series, one row per run of series with the same answer')
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
      .option('--hugepage-size <size>', 'HugeTLB page size (default: the arch\'s default size)')
      .option('--param <name=value>', 'kernel parameter: hugetlb_free_vmemmap=on|off (default on: "if I enable it"), memory_hotplug.memmap_on_memory=…; repeatable', collect)
      .option('--sysctl <name=value>', 'vm.hugetlb_optimize_vmemmap=0|1 written after boot (5.19+)', collect)
      .option('--self-hosted', 'the huge page lies in a memory block that hosts its own memmap (memmap_on_memory)'),
  )
    .addHelpText('after', examples([
      ['memhp check hvo --arch x86_64', '2 MiB pages: 8 vmemmap pages, 7 freed'],
      ['memhp check hvo --arch arm64 --kernel all', 'arm64 HVO across releases (enabled 5.19, disabled again)'],
      ['memhp check hvo --arch x86_64 --struct-page 56 --json', 'not a power of two: nothing to free'],
      ['memhp check hvo --self-hosted --param memory_hotplug.memmap_on_memory=1 --kernel all', 'seed 001: skipped from 6.0, mutually exclusive before'],
    ]))
    .action(async (o: CheckOpts, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const { all, kernels } = optKernels(o.kernel);
      if (!all) {
        const e = explainHvo(hvoInput(registry, o, kernels[0]!));
        if (out.json) printJson(out, e);
        else renderHvo(out, [e], false);
        if (!e.optimizable) throw new RefusedError('');
        return;
      }
      // Options are read against the first kernel the configuration exists for; core leaves out the others.
      const first = kernels.find((k) => supportsKernel(registry, o, k)) ?? kernels[kernels.length - 1]!;
      const { kernel: _k, ...input } = hvoInput(registry, o, first);
      const rows = explainHvoAcrossKernels(input, kernels).map((r) => ({ ...r.explanation, kernels: kernelRange(r.kernels) }));
      if (out.json) printJson(out, { arch: o.arch, rows });
      else renderHvo(out, rows, true);
      if (rows.every((r) => !r.optimizable)) throw new RefusedError('');
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
  const blockSizeBytes = optBlockSize(o.blockSize, backend, config);
  const requestBytes = optSize(o.size, '--size');
  const bootRamEndBytes = optBootRamEnd(o.bootRamEnd, backend, config) ?? 4n << 30n;
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

/** `--param`, `--sysctl` and `--self-hosted` as core's HvoExplainInput; every verdict is core's. */
function hvoInput(registry: Parameters<typeof archConfigFrom>[0], o: CheckOpts, kernel: KernelVersion): HvoExplainInput {
  const { backend, config } = archConfigFrom(registry, o, kernel);
  const hugepageBytes = optSize(o.hugepageSize, '--hugepage-size');
  for (const p of o.param ?? []) if (!/^[\w.-]+(=.*)?$/.test(p)) throw new UserError(`not a kernel parameter: "${p}" (expected name=value)`, { field: '--param' });
  let params;
  try {
    // No struct page size here: the kernel keeps hugetlb_free_vmemmap as written, the power-of-two test is a step.
    params = parseCmdline((o.param ?? []).join(' '), { kernel, archParams: backend.features }).params;
  } catch (e) {
    throw new UserError((e as Error).message, { field: '--param' });
  }
  const bootGiven = (o.param ?? []).some((p) => /^hugetlb_free_vmemmap(=|$)/.test(p));
  let sysctl: boolean | undefined;
  for (const w of o.sysctl ?? []) {
    const m = /^([^=]+)=(.*)$/.exec(w);
    if (!m || canonicalKnobName(m[1]!) !== 'vm.hugetlb_optimize_vmemmap') throw new UserError(`check hvo takes only vm.hugetlb_optimize_vmemmap=0|1, not "${w}"`, { field: '--sysctl' });
    // proc_dobool: an integer, non-zero → on
    if (!/^\s*-?\d+\s*$/.test(m[2]!)) throw new UserError(`vm.hugetlb_optimize_vmemmap: invalid value "${m[2]}" (allowed: 0, 1)`, { field: '--sysctl' });
    sysctl = Number(m[2]) !== 0;
  }
  const input: HvoExplainInput = {
    backend,
    kernel,
    pageSizeBytes: config.pageSizeBytes,
    structPageBytes: config.structPageBytes,
    features: config.features,
    ...(hugepageBytes !== undefined ? { hugepageBytes } : {}),
    ...(bootGiven ? { hugetlbFreeVmemmap: params.hugetlbFreeVmemmap } : {}),
    ...(sysctl !== undefined ? { hugetlbOptimizeVmemmap: sysctl } : {}),
    memmapOnMemory: params.memmapOnMemory,
    selfHosted: Boolean(o.selfHosted),
  };
  // A size no configuration of the arch has is bad input (exit 2); one that needs a CPU feature is core's verdict.
  const e = explainHvo(input);
  if (e.hstate === 'unknown') {
    throw new UserError(`${e.arch} with ${formatSize(BigInt(config.pageSizeBytes))} pages has no ${formatSize(e.hugepageBytes)} HugeTLB size; it has ${e.hugepageSizes.map(formatSize).join(', ')}`, { field: '--hugepage-size' });
  }
  return input;
}

/** `['5.19', '6.0']` → `5.19–6.0`. */
const kernelRange = (ks: readonly string[]): string => (ks.length > 1 ? `${ks[0]}–${ks[ks.length - 1]}` : (ks[0] ?? ''));

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
        ['kernel', 'optimizable', 'vmemmap pages/hugepage', 'kept', 'freed pages/hugepage', 'freed bytes', 'reasons'],
        rows.map((r) => [r.kernels ?? r.kernel, r.optimizable ? 'yes' : 'no', r.vmemmapPagesPerHugepage, r.keptPagesPerHugepage ?? '-', r.freedPagesPerHugepage, r.freedBytesPerHugepage, r.reasons.join('; ')]),
      ),
    );
    return;
  }
  const r = rows[0]!;
  out.line(`${p.bold('HugeTLB vmemmap optimisation')} (${r.arch}, kernel ${r.kernel}): ${r.optimizable ? p.green('optimizable') : p.red('not optimizable')}`);
  out.line(
    kv(out, [
      ['hugepage size', formatSize(r.hugepageBytes)],
      ['vmemmapPagesPerHugepage', r.vmemmapPagesPerHugepage],
      ['keptPagesPerHugepage', r.keptPagesPerHugepage ?? '-'],
      ['freedPagesPerHugepage', r.freedPagesPerHugepage],
      ['freedBytesPerHugepage', r.freedBytesPerHugepage],
      ...(r.optimizable || r.wouldFreePagesPerHugepage === 0 ? [] : [['wouldFreePagesPerHugepage', r.wouldFreePagesPerHugepage] as const]),
      ...(r.newHeadPage ? [['newHeadPage', 'yes (6.2+)'] as const] : []),
    ]),
  );
  out.line(p.bold('Conditions:'));
  const mark = (ok: boolean | null): string => (ok === null ? '·' : ok ? p.green('✓') : p.red('✗'));
  out.line(
    table(
      out,
      ['', 'step', 'formula', 'values'],
      r.steps.map((s) => [mark(s.passed), s.check, s.formula, Object.entries(s.values).map(([k, v]) => `${k} = ${v}`).join(', ')]),
    ),
  );
  if (r.notes.length) {
    out.line(p.bold('Notes:'));
    for (const n of r.notes) out.line(`  - ${n}`);
  }
  if (r.reasons.length) {
    out.line(p.bold('Reasons:'));
    for (const why of r.reasons) out.line(`  - ${why}`);
  }
}
