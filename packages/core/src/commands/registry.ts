/**
 * The command runner's contract. A command handler is the kernel entry point it models (add_memory, the
 * `state` file of a memory block …): it reads the state, asks the backend and the version rules, and emits the
 * kernel's steps as events through {@link KernelCtx.emit}. Each emit is applied by evolve before emit returns,
 * so later steps see the new state. A handler returns the kernel's result (0 → ok, or an errno).
 *
 * Handlers are grouped in plain maps ({@link CommandHandlers}) per module and combined by
 * {@link createCommandRegistry}; `commands/builtin.ts` lists the built-in maps.
 */
import type { ArchBackend, ArchConfig, VmemmapContext } from '../arch/backend.js';
import type { Command, CommandKind } from '../api.js';
import type { ErrnoName, KResult } from '../kernel/errno.js';
import type { KernelVersion } from '../kernel/version.js';
import type { FaultInjector } from '../faults/injector.js';
import type { CoreEventType, CorePayload } from '../model/events.js';
import type { MachineInfo, ReadonlyMachineState } from '../model/state.js';

export interface KernelCtx {
  readonly state: ReadonlyMachineState;
  readonly machine: MachineInfo;
  readonly backend: ArchBackend;
  readonly archConfig: ArchConfig;
  readonly kernel: KernelVersion;
  /** Operation id shared by every event of the running command (0 = boot). */
  readonly op: number;
  readonly faults: FaultInjector;
  /** Record one kernel step; evolve applies it before this returns. */
  emit<T extends CoreEventType>(type: T, payload: CorePayload<T>): void;
  /** Record an event of a type registered by another module (must be in the simulator's catalogue). */
  emitOther(type: string, payload: unknown, version?: number): void;
  /** A kernel WARN: recorded as `kernel.warn`, the command continues. */
  warn(message: string): void;
  /**
   * Run another command's handler inside this operation (no command.begin/end of its own): auto-online after
   * add_memory, offline_and_remove_memory's offline and re-online, drivers calling add_memory.
   */
  call(cmd: Command): KResult;
  /** True when a handler for `kind` is registered. */
  has(kind: CommandKind): boolean;
  /** The generic vmemmap helpers over this state, for the backend's vmemmapPopulate / vmemmapFree. */
  vmemmap(booting: boolean): VmemmapContext;
}

export type CommandOf<K extends CommandKind> = Extract<Command, { kind: K }>;
export type CommandHandler<K extends CommandKind = CommandKind> = (ctx: KernelCtx, cmd: CommandOf<K>) => KResult;
export type CommandHandlers = { readonly [K in CommandKind]?: CommandHandler<K> };

export interface CommandRegistry {
  get<K extends CommandKind>(kind: K): CommandHandler<K> | undefined;
  kinds(): CommandKind[];
}

/** Later maps override earlier ones (a test can replace a built-in handler). */
export function createCommandRegistry(maps: readonly CommandHandlers[]): CommandRegistry {
  const table = new Map<CommandKind, CommandHandler<CommandKind>>();
  for (const m of maps) {
    for (const [k, h] of Object.entries(m)) if (h) table.set(k as CommandKind, h as CommandHandler<CommandKind>);
  }
  return {
    get: <K extends CommandKind>(kind: K) => table.get(kind) as CommandHandler<K> | undefined,
    kinds: () => [...table.keys()].sort(),
  };
}

/** The result an unregistered command kind gets. */
export function unhandled(kind: string, registry: CommandRegistry): { ok: false; errno: ErrnoName; why: string } {
  return {
    ok: false,
    errno: 'EOPNOTSUPP',
    why: `memhp does not model command "${kind}" yet (modelled: ${registry.kinds().join(', ')})`,
  };
}
