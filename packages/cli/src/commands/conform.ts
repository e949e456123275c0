/**
 * `memhp conform <scenario>... --kernel debian:6.1`: run each scenario on a real Linux kernel in QEMU and on the
 * model, and print every difference field by field (@memhp/conformance does the work). Exit 1 when a difference
 * is unexplained, 2 for bad input or a kernel that cannot be had here.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import {
  conformScenario,
  ConformanceInputError,
  ConformanceUnavailableError,
  fetchKernel,
  GuestError,
  parseKernelSpec,
  type ConformArch,
  type ConformResult,
  type FetchedKernel,
} from '@memhp/conformance';
import { examples } from '../program.js';
import { env, optInt } from './common.js';
import { RefusedError, UserError } from '../errors.js';
import { loadScenarioFile } from '../scenario/load.js';
import { paint, printJson, table, toJson, type Out } from '../render/output.js';

interface ConformOpts {
  kernel?: string;
  kernelImage?: string;
  modules?: string;
  all?: boolean;
  save?: string;
  bootTimeout?: string;
  known?: string;
}

interface KnownEntry {
  readonly scenario: string;
  readonly kernels?: readonly string[];
  readonly steps?: readonly number[];
  readonly fields: string;
  readonly why: string;
}

/** The known-differences file: a YAML list of {scenario, kernels?, steps?, fields (regex), why}, located errors. */
function loadKnown(file: string): KnownEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError('no such file', { file, field: '--known' });
  }
  const doc = parseDocument(text);
  if (doc.errors[0]) throw new UserError(`YAML syntax: ${doc.errors[0].message.split('\n')[0]}`, { file });
  const data: unknown = doc.toJS();
  if (!Array.isArray(data)) throw new UserError('a list of known differences ({scenario, steps, fields, why})', { file });
  return data.map((e: unknown, i: number) => {
    const x = e as Record<string, unknown>;
    const bad = (f: string, want: string): never => {
      throw new UserError(`${want}`, { file, field: `[${i}].${f}` });
    };
    if (typeof x?.scenario !== 'string') bad('scenario', 'the scenario file name without .yaml');
    if (typeof x.fields !== 'string') bad('fields', 'a regular expression of field names');
    if (typeof x.why !== 'string' || !x.why.trim()) bad('why', 'the reason, in words');
    if (x.steps !== undefined && !(Array.isArray(x.steps) && x.steps.every((n) => Number.isInteger(n) && n >= 0))) bad('steps', 'a list of step numbers (0 = boot)');
    if (x.kernels !== undefined && !(Array.isArray(x.kernels) && x.kernels.every((k) => typeof k === 'string'))) bad('kernels', 'a list of kernel specs');
    try {
      new RegExp(x.fields as string);
    } catch (err) {
      bad('fields', `not a regular expression: ${(err as Error).message}`);
    }
    return x as unknown as KnownEntry;
  });
}

export function registerConform(program: Command): void {
  program
    .command('conform')
    .description('run scenarios on a real Linux kernel in QEMU and on the model, and compare them field by field')
    .argument('<scenario...>', 'scenario files (YAML, memhp: 1)')
    .option('--kernel <spec>', 'debian:6.1 (Debian 12) or debian:6.12 (Debian 13), fetched with apt-get download into $MEMHP_CACHE')
    .option('--kernel-image <path>', 'your own kernel image (x86-64 bzImage, arm64 Image), e.g. with a patch under review')
    .option('--modules <dir>', 'lib/modules/<release> of --kernel-image (needed for virtio-mem)')
    .option('--all', 'show the fields that are equal too')
    .option('--save <dir>', 'write each result as JSON to <dir>/<kernel>/<scenario>.json (the docs fixtures)')
    .option('--known <file>', 'known differences (YAML list of {scenario, kernels, steps, fields, why}) shown as known, not as failures')
    .option('--boot-timeout <seconds>', 'how long a guest may take to boot (default 180; TCG is slow)')
    .addHelpText('after', examples([
      ['memhp conform packages/conformance/scenarios/boot-two-nodes.yaml --kernel debian:6.1', 'the boot baseline of a two-node machine against Debian 12\'s kernel'],
      ['memhp conform my.yaml --kernel-image ./arch/x86/boot/bzImage', 'does my patched kernel still do what memhp predicts?'],
    ]))
    .action(async (files: string[], o: ConformOpts, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const bootTimeout = optInt(o.bootTimeout, '--boot-timeout');
      let spec;
      try {
        spec = parseKernelSpec(o.kernel, o.kernelImage, o.modules);
      } catch (e) {
        if (e instanceof ConformanceInputError) throw new UserError(e.message, e.field ? { field: e.field } : {});
        throw e;
      }
      // Every scenario is read first, so a typo in the third fails before a minute of booting.
      const loaded = files.map((f) => loadScenarioFile(f));
      const knownAll = o.known ? loadKnown(o.known) : [];
      const results: ConformResult[] = [];
      const kernels = new Map<ConformArch, FetchedKernel>();
      const failed: string[] = [];
      for (const sc of loaded) {
        const backend = registry.get(sc.arch.name, sc.arch.where);
        const arch: ConformArch | null = backend.id === 'x86_64' ? 'x86_64' : backend.id === 'arm64' ? 'arm64' : null;
        if (arch === null) throw new UserError(`conform runs x86_64 and arm64 machines; this one is ${backend.id}`, sc.arch.where);
        let kernel = kernels.get(arch);
        try {
          if (!kernel) {
            kernel = fetchKernel(spec, arch, { log: (l) => !out.json && process.stderr.write(`${l}\n`) });
            kernels.set(arch, kernel);
          }
          const r = await conformScenario(
            { ...sc, machine: { ...sc.machine, arch: backend.id } },
            {
              kernel,
              backend,
              arch,
              known: knownAll
                .filter((k) => k.scenario === basename(sc.file).replace(/\.ya?ml$/, '') && (!k.kernels || k.kernels.includes(spec.text)))
                .map((k) => ({ field: new RegExp(k.fields), why: k.why, ...(k.steps ? { steps: k.steps } : {}) })),
              ...(bootTimeout ? { bootTimeoutMs: bootTimeout * 1000 } : {}), log: (l) => !out.json && process.stderr.write(`  ${l}\n`) },
          );
          results.push(r);
          if (o.save) save(o.save, r);
          if (!out.json) printResult(out, r, Boolean(o.all));
        } catch (e) {
          if (e instanceof ConformanceUnavailableError) throw new UserError(`${sc.file}: cannot run here: ${e.message}`);
          if (e instanceof ConformanceInputError) throw new UserError(e.message, e.field ? { file: sc.file, field: e.field } : { file: sc.file });
          if (!(e instanceof GuestError)) throw e;
          // One guest that does not come up must not cost the other scenarios their run.
          failed.push(sc.file);
          process.stderr.write(`memhp: ${sc.file}: the real machine failed: ${e.message}\n`);
        }
      }
      if (out.json) printJson(out, results);
      const unexplained = results.reduce((n, r) => n + r.unexplained, 0);
      if (unexplained > 0 || failed.length > 0) {
        throw new RefusedError(
          [unexplained ? `${unexplained} unexplained difference${unexplained === 1 ? '' : 's'} between the real kernel and memhp` : '', failed.length ? `${failed.length} scenario(s) could not run on the real machine` : '']
            .filter(Boolean)
            .join('; '),
        );
      }
    });
}

/** `<dir>/<kernel spec>/<scenario>.json`, e.g. `fixtures/debian-6.1/boot-two-nodes.json`. */
export function fixturePath(dir: string, r: ConformResult): string {
  return join(dir, r.kernel.spec.replace(/[^\w.-]+/g, '-'), `${basename(r.scenario).replace(/\.ya?ml$/, '')}.json`);
}

function save(dir: string, r: ConformResult): void {
  const p = fixturePath(dir, r);
  mkdirSync(join(p, '..'), { recursive: true });
  // The QEMU argv holds temporary paths; the fixture keeps what is stable across runs.
  const { qemu: _qemu, ...stable } = r;
  void _qemu;
  // The boot log is long; the fixture keeps its memory-related lines (memory map, zones, HugeTLB, trouble).
  const keep = /node|zone|Zone|Memory|memory|HugeTLB|hugetlb|memmap|e820|BIOS-e820|BUG|WARNING|Call Trace/;
  const steps = stable.steps.map((s) => (s.index === null ? { ...s, dmesg: s.dmesg.filter((l) => keep.test(l)) } : s));
  writeFileSync(p, `${toJson({ ...stable, steps })}\n`);
}

function printResult(out: Out, r: ConformResult, all: boolean): void {
  const p = paint(out);
  out.line(`${p.bold(r.scenario)}  ${p.dim(`${r.kernel.spec} = Linux ${r.kernel.version} (${r.kernel.release}), ${r.arch}, ${r.accel.toUpperCase()} boot ${(r.bootMs / 1000).toFixed(1)} s; model kernel ${r.modelKernel.version}`)}`);
  for (const n of r.notes) out.line(`  ${p.dim(`note: ${n}`)}`);
  for (const s of r.steps) {
    const head = s.index === null ? 'boot' : `step ${s.index + 1}${s.line !== undefined ? ` (line ${s.line})` : ''}: ${s.label}`;
    if (s.status !== 'compared') {
      out.line(`  ${head}  ${p.yellow(s.status)}${s.why ? p.dim(`  ${s.why}`) : ''}`);
      continue;
    }
    const rows = s.rows.filter((x) => all || (x.verdict !== 'equal' && x.verdict !== 'info') || x.field === 'errno');
    const equal = s.rows.filter((x) => x.verdict === 'equal').length;
    out.line(`  ${head}  ${p.dim(`${equal}/${s.rows.length} fields equal`)}`);
    if (rows.length === 0) continue;
    const mark = (v: string) => (v === 'differs' ? p.red(v) : v === 'finding' ? p.yellow(v) : v === 'equal' ? p.green(v) : v);
    out.line(
      table(
        out,
        ['field', 'kernel', 'memhp', 'difference', 'verdict'],
        rows.map((x) => [x.field, x.kernel.slice(0, 60), x.memhp.slice(0, 60), x.difference, `${mark(x.verdict)}${x.why ? p.dim(` (${x.why})`) : ''}`]),
      ).replace(/^/gm, '    '),
    );
  }
  const c = r.counts;
  out.line(`  ${p.bold('total')}: ${Object.entries(c).map(([k, v]) => `${v} ${k}`).join(', ')}${r.findings ? p.yellow(`; ${r.findings} kernel finding(s)`) : ''}`);
  out.line();
}
