#!/usr/bin/env node
// Start-up is part of the interface: `memhp --version` answers from package.json alone, and every other
// command loads program.ts, which imports only the module of the command argv names (see programFor there).
import { VERSION } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VERSION}\n`);
} else {
  const [{ main }, { installProcessHandlers }] = await Promise.all([import('./program.js'), import('./lifecycle.js')]);
  // Signals stop a run at an event boundary; a closed stdout (`| head`) ends any command quietly.
  installProcessHandlers();
  // Let stdout drain (pipes) before exiting with the code.
  process.exitCode = await main(process.argv);
}
