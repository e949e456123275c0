#!/usr/bin/env node
import { main } from './program.js';
import { installProcessHandlers } from './lifecycle.js';

// Signals stop a run at an event boundary; a closed stdout (`| head`) ends any command quietly.
installProcessHandlers();
const code = await main(process.argv);
// Let stdout drain (pipes) before exiting with the code.
process.exitCode = code;
