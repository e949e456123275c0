/** The published JSON Schema text of the scenario format, generated from {@link scenarioSchema}. */
import { scenarioSchema } from './schema.js';

export function scenarioJsonSchemaText(): string {
  // JSON.stringify drops TypeBox's symbol-keyed metadata, leaving plain JSON Schema (draft 2020-12 compatible).
  const schema = { $schema: 'https://json-schema.org/draft/2020-12/schema', ...JSON.parse(JSON.stringify(scenarioSchema)) };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
