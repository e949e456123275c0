#!/usr/bin/env node
/** dist/bin.js: the ES module path earlier builds had for the binary; it loads dist/memhp.cjs (see memhp.ts). */
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./memhp.cjs');
