/**
 * `memhp run <scenario.yaml>`: boot the scenario's machine in core, run its steps through the bus, record the
 * log (`-o run.ndjson[.gz]`), check its `expect` steps and print a summary. Exit 1 if an `expect` failed.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { examples } from '../program.js';
import { env, optInt, optKernel } from './common.js';
import { RefusedError } from '../errors.js';
import { loadScenarioFile, type LoadedScenario } from '../scenario/load.js';
import { createSimulator, openWriter, type KResultLike } from '../sim.js';
import type { LogWriter } from '@memhp/events/node';
import { finalViews, type FinalViews } from '../render/final-views.js';
import { addEvent, emptySummary, type RunSummary } from '../render/summary.js';
import { checkExpect, snapshot, type Baseline, type ExpectFailure } from './expect.js';
import { renderSummary, summaryJson } from '../render/summary-text.js';
import { paint, printJson, type Out } from '../render/output.js';
import type { BackendRegistry } from '../backends.js';

interface RunOpts {
  output?: string;
  seed?: string;
  kernel?: string;
}

export interface StepOutcome {
  readonly index: number;
  readonly line?: number;
  readonly step: string;
  readonly result: 'ok' | string;
  readonly why?: string;
  readonly failures?: readonly ExpectFailure[];
}

export interface RunResult {
  readonly scenario: string;
  readonly kernel: string;
  readonly arch: string;
  readonly seed: number;
  readonly log?: string;
  readonly summary: RunSummary;
  readonly steps: readonly StepOutcome[];
  readonly expectFailures: number;
  /** The final state through core's views (JSON output; replay of the log must give the same). */
  readonly final?: FinalViews;
}

export { finalViews, type FinalViews };

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a scenario: boot its machine, run its steps, record the event log, check its expect steps, print a summary')
    .argument('<scenario>', 'scenario file (YAML, memhp: 1)')
    .option('-o, --output <log>', 'record the event log (.ndjson, or .ndjson.gz for gzip)')
    .option('--seed <n>', 'seed of the fault-injection RNG (overrides faults.seed)')
    .option('--kernel <version>', 'kernel version major.minor (overrides machine.kernel)')
    .addHelpText('after', examples([
      ['memhp run examples/scenarios/cloud-hot-add-12g.yaml -o .tmp/cloud-hot-add-12g.ndjson', 'hot-add 12 GiB under memory pressure and record the log'],
      ['memhp run examples/scenarios/000-memmap-on-memory.yaml --kernel 6.1 --json', 'the same scenario on another kernel, as JSON'],
      ['memhp run my.yaml --arch-module ./riscv64.js', 'a machine whose arch comes from a third-party backend'],
    ]))
    .action(async (file: string, o: RunOpts, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const result = await runScenario(file, o, registry, out);
      if (out.json) printJson(out, { ...result, summary: summaryJson(result.summary) });
      else printRun(out, result);
      if (result.expectFailures > 0) throw new RefusedError(`${result.expectFailures} expectation${result.expectFailures === 1 ? '' : 's'} failed`);
    });
}

export async function runScenario(file: string, o: RunOpts, registry: BackendRegistry, out: Out): Promise<RunResult> {
  const seed = optInt(o.seed, '--seed');
  const sc: LoadedScenario = loadScenarioFile(file, { ...(o.kernel !== undefined ? { kernel: optKernel(o.kernel) } : {}), ...(seed !== undefined ? { seed } : {}) });
  const backend = registry.get(sc.arch.name, sc.arch.where);
  const machine = { ...sc.machine, arch: backend.id };
  const sim = createSimulator({ machine, backend, seed: sc.faults.seed, faults: sc.faults, where: sc.where });
  const summary = emptySummary();
  const sub = sim.bus.on('cli.summary', (e) => addEvent(summary, e));
  let writer: LogWriter | null = null;
  if (o.output) {
    writer = openWriter(o.output, sim.header());
    writer.attach(sim.bus);
  }
  // The writer and the summary listen before boot, so the log starts with the boot events replay needs.
  try {
    sim.boot();
  } catch (e) {
    sub.unsubscribe();
    await writer?.close();
    throw e;
  }
  const total = sc.steps.reduce((n, s) => n + (s.kind === 'command' ? s.commands.length : 1), 0);
  const bar =
    !out.json && process.stderr.isTTY && total > 50
      ? new cliProgress.SingleBar({ stream: process.stderr, format: ' {bar} {value}/{total} steps | {step}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : null;
  bar?.start(total, 0, { step: '' });

  const outcomes: StepOutcome[] = [];
  let last: KResultLike | null = null;
  let base: Baseline = snapshot(sim.state());
  let expectFailures = 0;
  try {
    for (const step of sc.steps) {
      if (step.kind === 'expect') {
        const failures = checkExpect(step.expect, last, sim.state(), base);
        expectFailures += failures.length;
        outcomes.push({ index: step.index, ...(step.where.line !== undefined ? { line: step.where.line } : {}), step: step.label, result: failures.length ? 'failed' : 'ok', ...(failures.length ? { failures } : {}) });
        base = snapshot(sim.state());
        bar?.increment(1, { step: 'expect' });
        continue;
      }
      let stepResult: KResultLike = { ok: true };
      for (const c of step.commands) {
        const cmd = c.kind === 'hugepages' && step.hugepageSizeDefault ? { ...c, sizeBytes: backend.defaultHugepageBytes({ pageSizeBytes: machine.pageSizeBytes, structPageBytes: machine.structPageBytes, kernel: machine.kernel, features: machine.features ?? {} }) } : c;
        const r = sim.execute(cmd);
        if (!r.ok && stepResult.ok) stepResult = r;
        bar?.increment(1, { step: step.label.slice(0, 40) });
      }
      last = stepResult;
      outcomes.push({
        index: step.index,
        ...(step.where.line !== undefined ? { line: step.where.line } : {}),
        step: step.label,
        result: stepResult.ok ? 'ok' : stepResult.errno,
        ...(stepResult.ok ? {} : { why: stepResult.why }),
      });
    }
  } finally {
    bar?.stop();
    sub.unsubscribe();
    await writer?.close();
  }
  return {
    scenario: file,
    kernel: machine.kernel,
    arch: backend.id,
    seed: sc.faults.seed,
    ...(o.output ? { log: o.output } : {}),
    summary,
    steps: outcomes,
    expectFailures,
    ...(out.json ? { final: finalViews(sim.state()) } : {}),
  };
}

function printRun(out: Out, r: RunResult): void {
  const p = paint(out);
  out.line(`${p.bold(r.scenario)}  ${p.dim(`${r.arch}, kernel ${r.kernel}, seed ${r.seed}`)}`);
  for (const s of r.steps) {
    const mark = s.result === 'ok' ? p.green('ok') : s.failures ? p.red('FAILED') : p.yellow(`-${s.result}`);
    out.line(`  ${p.dim(String(s.index + 1).padStart(3))} ${mark.padEnd(6)} ${s.step}${s.why ? p.dim(`  (${s.why})`) : ''}`);
    for (const f of s.failures ?? []) out.line(`        ${p.red('✗')} ${f.what}: expected ${f.expected}, got ${f.actual}`);
  }
  out.line();
  out.line(renderSummary(out, r.summary));
  if (r.log) out.line(p.dim(`\nlog: ${r.log} (${r.summary.events} events); replay it with: memhp replay ${r.log}`));
}
