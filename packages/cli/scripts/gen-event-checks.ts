/**
 * Write src/generated/event-checks.ts (see event-checks.ts) when it differs from the schemas. Run by `build`, so the
 * binary never ships checks older than its schemas (a schema without a current check would be compiled at run time);
 * `pnpm --filter @memhp/cli gen:checks` runs it alone, and a test fails when the checked-in file is out of date.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventChecksModuleText } from './event-checks.js';

const target = fileURLToPath(new URL('../src/generated/event-checks.ts', import.meta.url));
const text = eventChecksModuleText();
if (existsSync(target) && readFileSync(target, 'utf8') === text) {
  console.log(`${target} is current`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
