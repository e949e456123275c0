#!/usr/bin/env node
/**
 * The `memhp` binary as built (dist/memhp.cjs; bin/memhp.cjs and dist/bin.js load it). Start-up is part of the
 * interface: `--version` answers from package.json alone, and every other command loads one CommonJS bundle,
 * dist/memhp-<module>.cjs, holding the command's module and all it imports (dist/memhp-all.cjs for help or an unknown
 * name). One file per command, loaded by require: Node 20 spends a short command's time in module loading, and its
 * ES module loader costs more per file (and to start) than CommonJS; see tsup.config.ts.
 */
import { createRequire } from 'node:module';
import { commandModule } from '../command-names.js';
import { VERSION } from '../version.js';
import type * as CommandMain from './command-main.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
} else {
  const bundle = `./memhp-${commandModule(process.argv) ?? 'all'}.cjs`;
  const { run } = createRequire(import.meta.url)(bundle) as typeof CommandMain;
  void run();
}
