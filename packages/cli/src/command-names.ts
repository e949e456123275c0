/**
 * Which command argv names, without loading commander or any command: the binary (src/bundle/memhp.ts) picks the
 * bundle to load from it, and program.ts the command module to register.
 */

/** Every command module, in the order `memhp --help` lists them, with the top-level names it registers. */
export const COMMAND_MODULE_NAMES = {
  run: ['run'],
  replay: ['replay'],
  check: ['check'],
  plan: ['plan'],
  diff: ['diff'],
  export: ['export'],
  query: ['query'],
  import: ['import'],
  sweep: ['sweep', 'worker'],
  conform: ['conform'],
  info: ['archs', 'params', 'events'],
} as const satisfies Record<string, readonly string[]>;

export type CommandModule = keyof typeof COMMAND_MODULE_NAMES;

/** Root options that take a value (the token after them is not a command name). */
const ROOT_OPTIONS_WITH_VALUE: ReadonlySet<string> = new Set(['--arch-module']);

/**
 * The command argv names, or undefined when there is none (help, --version, or an option commander will
 * refuse): the first token that is not a root option nor a root option's value.
 */
export function commandName(argv: readonly string[]): string | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args[i + 1];
    if (ROOT_OPTIONS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return a;
  }
  return undefined;
}

/** The module that registers the command argv names, or undefined (help, an unknown name: every module). */
export function commandModule(argv: readonly string[]): CommandModule | undefined {
  const name = commandName(argv);
  if (name === undefined) return undefined;
  for (const [module, names] of Object.entries(COMMAND_MODULE_NAMES) as Array<[CommandModule, readonly string[]]>) {
    if (names.includes(name)) return module;
  }
  return undefined;
}
