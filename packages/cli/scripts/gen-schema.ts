/**
 * Write schema/scenario.schema.json from the TypeBox scenario schema (the single source of truth).
 * `pnpm --filter @memhp/cli gen:schema`; a test fails when the checked-in file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { scenarioJsonSchemaText } from '../src/scenario/json-schema.js';

const target = fileURLToPath(new URL('../schema/scenario.schema.json', import.meta.url));
writeFileSync(target, scenarioJsonSchemaText());
console.log(`wrote ${target}`);
