/**
 * The `memhp` command tree (commander 14). {@link createProgram} builds it without parsing or exiting, so the
 * docs site can generate the CLI reference from the same definitions; bin.ts parses and maps errors to exit
 * codes (0 ok, 1 refused by the simulated kernel, 2 bad input).
 *
 * Start-up: each command's module (and through it the model, the YAML and schema machinery, DuckDB …) is
 * imported only when that command runs. {@link main} looks at argv for the command's name and loads that one
 * module; help, an unknown name or no name at all load every module so commander can list and suggest them.
 * This module must therefore import no command module statically (they import {@link examples} and
 * {@link globals} from here).
 */
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from './version.js';
import { EXIT_BAD_INPUT, EXIT_OK, RefusedError, asUserError } from './errors.js';
import { commandName } from './command-names.js';

export { commandName };

export { VERSION };

/** Options every command accepts (inherited from the root). */
export interface GlobalOptions {
  readonly json?: boolean;
  readonly debug?: boolean;
  readonly archModule?: string[];
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function examples(lines: ReadonlyArray<readonly [string, string]>): string {
  return `\nExamples:\n${lines.map(([cmd, what]) => `  $ ${cmd}\n      ${what}`).join('\n')}\n`;
}

type Register = (program: Command) => void;

/**
 * Every command module, in the order `memhp --help` lists them, with the top-level command names it
 * registers (info.ts registers three; command-names.ts lists the same, for the binary's choice of bundle).
 */
const COMMAND_MODULES: ReadonlyArray<{ readonly names: readonly string[]; readonly load: () => Promise<Register> }> = [
  { names: ['run'], load: async () => (await import('./commands/run.js')).registerRun },
  { names: ['replay'], load: async () => (await import('./commands/replay.js')).registerReplay },
  { names: ['check'], load: async () => (await import('./commands/check.js')).registerCheck },
  { names: ['plan'], load: async () => (await import('./commands/plan.js')).registerPlan },
  { names: ['diff'], load: async () => (await import('./commands/diff.js')).registerDiff },
  { names: ['export'], load: async () => (await import('./commands/export.js')).registerExport },
  { names: ['query'], load: async () => (await import('./commands/query.js')).registerQuery },
  { names: ['import'], load: async () => (await import('./commands/import.js')).registerImport },
  { names: ['sweep'], load: async () => (await import('./commands/sweep.js')).registerSweep },
  { names: ['worker'], load: async () => (await import('./commands/sweep.js')).registerWorker },
  { names: ['conform'], load: async () => (await import('./commands/conform.js')).registerConform },
  { names: ['archs', 'params', 'events'], load: async () => (await import('./commands/info.js')).registerInfo },
];

/** The root command: name, description, global options, help text; no subcommands yet. */
function createRoot(): Command {
  const program = new Command('memhp');
  program
    .description('A reference simulator of Linux memory hotplug and the sparse vmemmap: run scenarios, replay logs, check, plan, diff, export, query, import.')
    .version(VERSION, '-V, --version', 'print the memhp version')
    .addOption(new Option('--json', 'machine-readable output (stable, documented fields)'))
    .addOption(new Option('--debug', 'show stack traces of internal errors'))
    .addOption(new Option('--arch-module <module>', 'load an extra arch backend (path or package exporting default or backend); repeatable').argParser(collect))
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .addHelpText(
      'after',
      examples([
        ['memhp run examples/scenarios/cloud-hot-add-12g.yaml -o run.ndjson', 'run a scenario, record its event log, print a summary'],
        ['memhp check memmap-on-memory --arch arm64 --page-size 64K --kernel all', 'the memmap_on_memory verdict with its arithmetic, per kernel'],
        ['memhp plan hot-add --size 12G --free 256M', 'how much free memory a hot-add needs'],
        ['memhp replay run.ndjson --report blocks', 'memory blocks after the run, as sysfs shows them'],
      ]),
    );
  return program;
}

/**
 * The root with the commands argv needs: only the named command's module when argv names a known command,
 * otherwise all of them (help lists them, an unknown name gets commander's suggestion).
 */
async function programFor(argv: readonly string[] | undefined): Promise<Command> {
  const program = createRoot();
  const name = argv === undefined ? undefined : commandName(argv);
  const one = name === undefined ? undefined : COMMAND_MODULES.find((m) => m.names.includes(name));
  const wanted = one === undefined ? COMMAND_MODULES : [one];
  const registers = await Promise.all(wanted.map((m) => m.load()));
  for (const register of registers) register(program);
  return program;
}

/** The whole command tree, every command registered (the docs' CLI reference, tests). */
export async function createProgram(): Promise<Command> {
  return programFor(undefined);
}

/** Run the CLI as a process does: parse argv, print errors without stacks, return the exit code. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const program = await programFor(argv);
    await program.parseAsync([...argv]);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed help, the version or its usage message.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      if (e.code === 'commander.executeSubCommandAsync') return e.exitCode;
      return EXIT_BAD_INPUT;
    }
    if (e instanceof RefusedError) {
      if (e.message) process.stderr.write(`memhp: ${e.message}\n`);
      return e.exitCode;
    }
    const u = asUserError(e);
    if (u) {
      process.stderr.write(`memhp: ${u.message}\n`);
      if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
      return u.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`memhp: internal error: ${msg}\n`);
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('memhp: (run with --debug for the stack trace; please report it)\n');
    return 70; // EX_SOFTWARE: a bug in memhp, not the user's input nor a kernel refusal
  }
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}
