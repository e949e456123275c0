/**
 * `memhp run <scenario.yaml>`: boot the scenario's machine in core, run its steps through the bus, record the
 * log (`-o run.ndjson[.gz]`), check its `expect` steps and print a summary. Exit 1 if an `expect` failed.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { examples } from '../program.js';
import { env, optInt, optKernel } from './common.js';
import { InterruptedError, RefusedError, UserError, formatLocation } from '../errors.js';
import { openSafeOutput, type SafeOutput } from '../output-file.js';
import { signalExitCode, stopRequested, whileStoppable, yieldToEventLoop } from '../lifecycle.js';
import { blockCount } from '../parse/ranges.js';
import { loadScenarioFile, type LoadedScenario } from '../scenario/load.js';
import { isNatsLog } from '../log-location.js';
import { createSimulator, openWriter, type KResultLike } from '../sim.js';
import type { LogWriter } from '@memhp/events/node';
import type { ReadonlyMachineState } from '@memhp/core';
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
  strict?: boolean;
}

/** A synchronous run gives signals and I/O a turn this often (ms), between two kernel commands. */
const YIELD_MS = 50;

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
  /** Kernel command-line problems, as the kernel would log them (also recorded as kernel.warn events). */
  readonly warnings: readonly string[];
  /** The signal that stopped the run at an event boundary; the log then ends with log.end reason interrupted. */
  readonly interrupted?: string;
  /** Steps run before the stop, of all the scenario's steps. */
  readonly stepsTotal: number;
  /** The final state through core's views (JSON output; replay of the log must give the same). */
  readonly final?: FinalViews;
}

export { finalViews, type FinalViews };

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a scenario: boot its machine, run its steps, record the event log, check its expect steps, print a summary')
    .argument('<scenario>', 'scenario file (YAML, memhp: 1)')
    .option('-o, --output <log>', 'record the event log (.ndjson, .ndjson.gz for gzip, or nats://HOST:PORT/STREAM/SUBJECT)')
    .option('--seed <n>', 'seed of the fault-injection RNG (overrides faults.seed)')
    .option('--kernel <version>', 'kernel version: a series 5.10 … 6.18, or a stable release X.Y.Z (overrides machine.kernel)')
    .option('--strict', 'make kernel command-line problems (values the kernel ignores, unknown words) errors')
    .addHelpText('after', examples([
      ['memhp run examples/scenarios/cloud-hot-add-12g.yaml -o .tmp/cloud-hot-add-12g.ndjson', 'hot-add 12 GiB under memory pressure and record the log'],
      ['memhp run examples/scenarios/000-memmap-on-memory.yaml --kernel 6.1 --json', 'the same scenario on another kernel, as JSON'],
      ['memhp run my.yaml --arch-module ./riscv64.js', 'a machine whose arch comes from a third-party backend'],
    ]))
    .action(async (file: string, o: RunOpts, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const result = await whileStoppable(() => runScenario(file, o, registry, out));
      if (out.json) printJson(out, { ...result, summary: summaryJson(result.summary) });
      else printRun(out, result);
      if (result.interrupted) {
        const sig = result.interrupted as NodeJS.Signals;
        throw new InterruptedError(`interrupted by ${sig} after ${result.steps.length} of ${result.stepsTotal} steps${result.log ? `; ${result.log} holds the ${result.summary.events} events so far and ends with an "interrupted" marker` : ''}`, signalExitCode(sig));
      }
      if (result.expectFailures > 0) throw new RefusedError(`${result.expectFailures} expectation${result.expectFailures === 1 ? '' : 's'} failed`);
    });
}

/** Refuse block ids no machine of this arch and block size can have (ids past 2^MAX_PHYSMEM_BITS / block size). */
function checkBlockIds(sc: LoadedScenario, state: ReadonlyMachineState, backendId: string): void {
  const g = state.machine.geometry;
  const blockBytes = BigInt(g.blockSizeBytes);
  const maxId = Number(((1n << BigInt(g.maxPhysmemBits)) / blockBytes) - 1n);
  const check = (ranges: ReadonlyArray<{ first: number; last: number }>, where: Parameters<typeof formatLocation>[0], text: string) => {
    const last = ranges[ranges.length - 1];
    if (last && last.last > maxId) {
      throw new UserError(
        `memory${last.last} cannot exist: ${backendId} with ${blockBytes >> 20n} MiB blocks has at most memory0-memory${maxId} (2^${g.maxPhysmemBits} bytes, MAX_PHYSMEM_BITS ${g.maxPhysmemBits}); the list is ${text}`,
        where,
      );
    }
  };
  for (const step of sc.steps) {
    if (step.kind === 'command' && step.blocks) check(step.blocks, step.where, `${blockCount(step.blocks)} blocks long`);
    if (step.kind === 'expect') for (const b of step.expect.blocks ?? []) check(b.ranges, b.where, `"${b.text}"`);
  }
}

export async function runScenario(file: string, o: RunOpts, registry: BackendRegistry, out: Out): Promise<RunResult> {
  const seed = optInt(o.seed, '--seed');
  const sc: LoadedScenario = loadScenarioFile(file, { ...(o.kernel !== undefined ? { kernel: optKernel(o.kernel) } : {}), ...(seed !== undefined ? { seed } : {}) });
  const { result, state } = await runLoaded(sc, file, o, registry, out);
  return out.json ? { ...result, final: finalViews(state) } : result;
}

/** How a caller other than `memhp run` wants a loaded scenario run. */
export interface RunHow {
  /** Freeze every event on the bus (default true); sim.ts says when off is safe. */
  readonly freeze?: boolean;
}

/**
 * Run a loaded scenario (a file's, or a sweep point's); the final state comes back for the sweep's row (and for
 * runScenario's JSON views, which a sweep point does not compute).
 */
export async function runLoaded(sc: LoadedScenario, file: string, o: RunOpts, registry: BackendRegistry, out: Out, how: RunHow = {}): Promise<{ result: RunResult; state: ReadonlyMachineState }> {
  const backend = registry.get(sc.arch.name, sc.arch.where);
  const machine = { ...sc.machine, arch: backend.id };
  const sim = createSimulator({ machine, backend, seed: sc.faults.seed, faults: sc.faults, where: sc.where, ...(how.freeze === false ? { freeze: false } : {}) });
  checkBlockIds(sc, sim.state(), backend.id);
  const warnings = sim.cmdlineWarnings;
  const cmdlineAt = formatLocation(sc.where.cmdline);
  if (o.strict && warnings.length > 0) {
    throw new UserError(`the kernel command line has ${warnings.length} problem${warnings.length === 1 ? '' : 's'} (--strict): ${warnings.join('; ')}`, sc.where.cmdline);
  }
  // The kernel logs these while it parses the command line; so does memhp, before the run.
  for (const w of warnings) out.err(`memhp: warning: ${cmdlineAt ? `${cmdlineAt}: ` : ''}kernel command line: ${w}`);
  const summary = emptySummary();
  const sub = sim.bus.on('cli.summary', (e) => addEvent(summary, e));
  let writer: LogWriter | null = null;
  let output: SafeOutput | null = null;
  if (o.output) {
    if (isNatsLog(o.output)) {
      writer = await openWriter(o.output, sim.header());
      writer.attach(sim.bus);
    } else {
      output = openSafeOutput(o.output, [file], '--output');
      try {
        writer = await openWriter(output.writePath, sim.header(), o.output);
        writer.attach(sim.bus);
      } catch (e) {
        output.abort();
        throw e;
      }
    }
  }
  // The writer and the summary listen before boot, so the log starts with the boot events replay needs.
  try {
    sim.boot();
  } catch (e) {
    sub.unsubscribe();
    await writer?.close().catch(() => {});
    output?.abort();
    throw e;
  }
  const total = sc.steps.reduce((n, s) => n + (s.kind === 'command' ? s.count : 1), 0);
  const bar =
    !out.json && process.stderr.isTTY && total > 50
      ? new cliProgress.SingleBar({ stream: process.stderr, format: ' {bar} {value}/{total} steps | {step}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : null;
  bar?.start(total, 0, { step: '' });

  const outcomes: StepOutcome[] = [];
  let last: KResultLike | null = null;
  let base: Baseline = snapshot(sim.state());
  let expectFailures = 0;
  let interrupted: NodeJS.Signals | null = null;
  let lastYield = Date.now();
  const stopNow = (): boolean => {
    interrupted = stopRequested();
    return interrupted !== null;
  };
  const yieldThenStop = async (): Promise<boolean> => {
    await yieldToEventLoop();
    lastYield = Date.now();
    return stopNow();
  };
  /**
   * Between two kernel commands: let a signal in; true when one asked to stop. A promise only when it is time to
   * yield (every YIELD_MS): a sweep point runs thousands of commands, and an await on each would allocate a
   * promise and suspend the run for nothing.
   */
  const mustStop = (): boolean | Promise<boolean> => (Date.now() - lastYield >= YIELD_MS ? yieldThenStop() : stopNow());
  let ok = false;
  let closeError: unknown = null;
  try {
    steps: for (const step of sc.steps) {
      const stop = mustStop();
      if (stop === true || (stop !== false && (await stop))) break;
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
        const stop = mustStop();
        if (stop === true || (stop !== false && (await stop))) break steps;
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
    // The end marker: replay --strict tells a complete log from an interrupted or a cut one.
    if (writer) sim.end(interrupted ? 'interrupted' : 'complete', interrupted ?? undefined);
    ok = true;
  } finally {
    bar?.stop();
    sub.unsubscribe();
    try {
      await writer?.close();
    } catch (e) {
      closeError = e;
    }
    // The target changes only when the whole log (complete or interrupted, with its marker) is on disk.
    if (ok && closeError === null) output?.commit();
    else output?.abort();
  }
  if (closeError !== null) throw new UserError(`cannot write the log: ${(closeError as NodeJS.ErrnoException).code ?? (closeError as Error).message}`, { file: o.output! });
  const result: RunResult = {
    scenario: file,
    kernel: machine.kernel,
    arch: backend.id,
    seed: sc.faults.seed,
    ...(o.output ? { log: o.output } : {}),
    summary,
    steps: outcomes,
    stepsTotal: sc.steps.length,
    expectFailures,
    warnings,
    ...(interrupted ? { interrupted } : {}),
  };
  return { result, state: sim.state() };
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
