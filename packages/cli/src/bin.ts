#!/usr/bin/env node
import { main } from './program.js';

const code = await main(process.argv);
// Let stdout drain (pipes) before exiting with the code.
process.exitCode = code;
