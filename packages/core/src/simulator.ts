/**
 * The simulator facade: a machine (configuration + backend), its state, the event bus and the command runner.
 * Commands run as kernel steps that emit events through a {@link KernelCtx}; each event is published on the bus
 * and applied by evolve before the next step runs. `exec` wraps every command in command.begin / command.end
 * sharing one op id.
 */
import { EventBus, type EventCatalogue, type EventEnvelope, type EventTypeDef, type LogHeader } from '@memhp/events';
import type { ArchBackend, ArchConfig, VmemmapContext } from './arch/backend.js';
import type { Command, MachineConfig } from './api.js';
import { ERRNO, type KResult } from './kernel/errno.js';
import { parseCmdline } from './params/cmdline.js';
import { initialKnobs } from './params/runtime.js';
import type { KernelParams, RuntimeKnobs } from './params/types.js';
import { createFaultInjector, type FaultConfig, type FaultInjector } from './faults/injector.js';
import { createCoreCatalogue, type CoreEventType, type CorePayload } from './model/events.js';
import { createEvolve, type ApplierTable } from './model/evolve.js';
import { archConfigOf, buildMachineInfo, createInitialState, machineHeader } from './model/machine.js';
import type { MachineInfo, MachineState, ReadonlyMachineState } from './model/state.js';
import { createCommandRegistry, unhandled, type CommandHandlers, type CommandRegistry, type KernelCtx } from './commands/registry.js';
import { builtinCommandHandlers } from './commands/builtin.js';
import { createVmemmapContext } from './vmemmap/context.js';
import { boot } from './boot/boot.js';
import { checkInvariants, InvariantViolation } from './invariants/check.js';
import { commandToJson } from './commands/json.js';

export interface SimulatorOptions {
  readonly config: MachineConfig;
  readonly backend: ArchBackend;
  /** A bus to publish on (e.g. one a log writer is attached to); a new one otherwise. */
  readonly bus?: EventBus;
  readonly seed?: number;
  readonly faults?: FaultConfig;
  /** Check every invariant after every event (tests always do; costs O(state) per event). */
  readonly checkInvariants?: boolean;
  /** Already parsed parameters; otherwise `config.cmdline` is parsed. */
  readonly params?: KernelParams;
  /** The warnings that parse gave, with `params` (recorded at boot as kernel.warn, as the kernel logs them). */
  readonly cmdlineWarnings?: readonly string[];
  /** Extra command handlers (override built-ins of the same kind). */
  readonly commands?: readonly CommandHandlers[];
  /** Extra event types and their appliers. */
  readonly eventDefs?: readonly EventTypeDef[];
  readonly appliers?: readonly ApplierTable[];
  /** Boot immediately (default). Set false to attach a writer to the bus first, then call boot(). */
  readonly autoBoot?: boolean;
  readonly createdAt?: string;
  readonly memhpVersion?: string;
  /** Simulated nanoseconds per event (default 1000). */
  readonly nsPerEvent?: number;
}

export interface Simulator {
  readonly state: ReadonlyMachineState;
  readonly machine: MachineInfo;
  readonly bus: EventBus;
  readonly catalogue: EventCatalogue;
  readonly backend: ArchBackend;
  readonly faults: FaultInjector;
  readonly registry: CommandRegistry;
  /** What the kernel would log about the command line (lenient cases); boot records each as kernel.warn. */
  readonly cmdlineWarnings: readonly string[];
  header(): LogHeader;
  boot(): KResult;
  exec(cmd: Command): KResult;
  /** Stop evolving from the bus (the bus stays usable). */
  dispose(): void;
}

/** Thrown when a command handler throws: a model bug, never a kernel result. */
export class SimulatorError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'SimulatorError';
  }
}

export function createSimulator(opts: SimulatorOptions): Simulator {
  const { config, backend } = opts;
  const seed = opts.seed ?? 0;
  const parsed = opts.params
    ? null
    : parseCmdline(config.cmdline, {
        kernel: config.kernel,
        archParams: backend.features,
        structPageBytes: config.structPageBytes,
      });
  const params = opts.params ?? parsed!.params;
  const cmdlineWarnings: readonly string[] = opts.cmdlineWarnings ?? parsed?.warnings ?? [];
  const machine = buildMachineInfo(config, backend, params);
  const archConfig: ArchConfig = archConfigOf(config, backend, params);
  const knobs: RuntimeKnobs = initialKnobs({
    kernel: config.kernel,
    params,
    structPageBytes: config.structPageBytes,
    hvoCapable: machine.capabilities.hugetlbVmemmapOptimize,
  });
  const state: MachineState = createInitialState(machine, params, knobs);
  const bus = opts.bus ?? new EventBus();
  const catalogue = createCoreCatalogue(opts.eventDefs ?? []);
  const evolve = createEvolve(opts.appliers ?? []);
  const faults = createFaultInjector(opts.faults ?? {}, seed);
  const registry = createCommandRegistry([...builtinCommandHandlers, ...(opts.commands ?? [])]);
  const nsPerEvent = opts.nsPerEvent ?? 1000;
  const invariantsOn = opts.checkInvariants ?? false;

  let op = 0;
  let time = 0;
  const vctx: [VmemmapContext | undefined, VmemmapContext | undefined] = [undefined, undefined];
  let evolveError: unknown = null;
  let cause: number | null = null;

  // evolve subscribes first so every later subscriber (views, writers) sees the post-event state
  const sub = bus.on('core.evolve', (e: EventEnvelope) => {
    try {
      evolve(state, e);
      if (invariantsOn) checkInvariants(state, e);
    } catch (err) {
      evolveError ??= err;
    }
  });

  const publish = (type: string, v: number, payload: unknown): number => {
    time += nsPerEvent;
    const env = bus.publishFields(time, op, cause, type, v, payload);
    if (evolveError) {
      const err = evolveError;
      evolveError = null;
      if (err instanceof InvariantViolation) throw err;
      throw new SimulatorError(`evolve failed on event #${env.seq} ${type}: ${String(err)}`, err);
    }
    return env.seq;
  };

  faults.setListener((d, detail) => {
    publish('fault.inject', 1, { site: d.site, detail: { ...detail, reason: d.reason, errno: d.errno } });
  });

  const ctx: KernelCtx = {
    state,
    machine,
    backend,
    archConfig,
    kernel: config.kernel,
    get op() {
      return op;
    },
    faults,
    emit<T extends CoreEventType>(type: T, payload: CorePayload<T>) {
      publish(type, 1, payload);
    },
    emitOther(type: string, payload: unknown, version = 1) {
      if (!catalogue.has(type, version)) throw new SimulatorError(`event type ${type}@${version} is not in the catalogue`);
      publish(type, version, payload);
    },
    warn(message: string) {
      publish('kernel.warn', 1, { message });
    },
    call(cmd: Command): KResult {
      const h = registry.get(cmd.kind);
      if (!h) return unhandled(cmd.kind, registry);
      return (h as (c: KernelCtx, x: Command) => KResult)(ctx, cmd);
    },
    has: (kind) => registry.get(kind) !== undefined,
    vmemmap(booting: boolean): VmemmapContext {
      // one context per mode: it only closes over the state, and creating one per section is measurable at scale
      const i = booting ? 1 : 0;
      return (vctx[i] ??= createVmemmapContext(ctx, state, booting));
    },
  };

  type Step = (c: KernelCtx, x: Command) => KResult;
  // the handler and its command as arguments rather than a closure over them: one closure fewer per command
  const runOp = <C>(kind: string, commandJson: unknown, step: ((c: KernelCtx, x: C) => KResult) | undefined, cmd: C): KResult => {
    // every step of the command is caused by its command.begin
    cause = publish('command.begin', 1, { kind, command: commandJson });
    let r: KResult;
    try {
      r = step ? step(ctx, cmd) : unhandled(kind, registry);
    } catch (err) {
      if (err instanceof InvariantViolation || err instanceof SimulatorError) throw err;
      throw new SimulatorError(`command ${kind} failed inside the model: ${err instanceof Error ? err.stack : String(err)}`, err);
    }
    publish('command.end', 1, {
      kind,
      result: r.ok ? 0 : r.errno,
      errno: r.ok ? 0 : -ERRNO[r.errno],
      why: r.ok ? null : r.why,
    });
    cause = null;
    return r;
  };

  let booted = false;
  const sim: Simulator = {
    state,
    machine,
    bus,
    catalogue,
    backend,
    faults,
    registry,
    cmdlineWarnings,
    header: () =>
      machineHeader(machine, params, knobs, {
        seed,
        events: catalogue.list().map((d) => ({ type: d.type, v: d.version })),
        ...(opts.createdAt !== undefined ? { createdAt: opts.createdAt } : {}),
        ...(opts.memhpVersion !== undefined ? { memhpVersion: opts.memhpVersion } : {}),
      }),
    boot() {
      if (booted) return { ok: false, errno: 'EBUSY', why: 'machine already booted' };
      booted = true;
      op = 0;
      // The kernel logs command-line problems while parsing early params, before memory is set up.
      const bootStep = cmdlineWarnings.length === 0 ? boot : (c: KernelCtx): KResult => {
        for (const w of cmdlineWarnings) c.warn(`command line: ${w}`);
        return boot(c);
      };
      const r = runOp('boot', { kind: 'boot' }, bootStep, null);
      for (const [name, value] of Object.entries(config.sysctls ?? {})) {
        if (registry.get('sysctl')) sim.exec({ kind: 'sysctl', name, value });
      }
      return r;
    },
    exec(cmd: Command): KResult {
      if (!booted) throw new SimulatorError('exec before boot(): create the simulator with autoBoot or call boot() first');
      op += 1;
      return runOp(cmd.kind, commandToJson(cmd), registry.get(cmd.kind) as Step | undefined, cmd);
    },
    dispose() {
      sub.unsubscribe();
    },
  };
  if (opts.autoBoot ?? true) {
    const r = sim.boot();
    if (!r.ok) throw new SimulatorError(`boot failed: ${r.errno} ${r.why}`);
  }
  return sim;
}
