/**
 * The `memhp` command tree (commander 14). {@link createProgram} builds it without parsing or exiting, so the
 * docs site can generate the CLI reference from the same definitions; bin.ts parses and maps errors to exit
 * codes (0 ok, 1 refused by the simulated kernel, 2 bad input).
 */
import { Command, CommanderError, Option } from 'commander';
import { VERSION } from './version.js';
import { EXIT_BAD_INPUT, EXIT_OK, RefusedError, asUserError } from './errors.js';
import { registerInfo } from './commands/info.js';
import { registerCheck } from './commands/check.js';
import { registerPlan } from './commands/plan.js';
import { registerRun } from './commands/run.js';
import { registerReplay } from './commands/replay.js';
import { registerDiff } from './commands/diff.js';
import { registerExport } from './commands/export.js';
import { registerQuery } from './commands/query.js';
import { registerImport } from './commands/import.js';
import { registerConform } from './commands/conform.js';

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

export function createProgram(): Command {
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
  registerRun(program);
  registerReplay(program);
  registerCheck(program);
  registerPlan(program);
  registerDiff(program);
  registerExport(program);
  registerQuery(program);
  registerImport(program);
  registerConform(program);
  registerInfo(program);
  return program;
}

/** Run the CLI as a process does: parse argv, print errors without stacks, return the exit code. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = createProgram();
  const debug = argv.includes('--debug');
  try {
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
