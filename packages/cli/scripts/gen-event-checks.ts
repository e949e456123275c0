/**
 * Write src/generated/event-checks.ts (see event-checks.ts). `pnpm --filter @memhp/cli gen:checks`; a test fails
 * when the checked-in file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventChecksModuleText } from './event-checks.js';

const target = fileURLToPath(new URL('../src/generated/event-checks.ts', import.meta.url));
writeFileSync(target, eventChecksModuleText());
console.log(`wrote ${target}`);
