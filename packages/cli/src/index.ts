/**
 * @memhp/cli as a library: the command tree (for the docs' CLI reference), the scenario schema and loader.
 * The `memhp` binary is bin.ts.
 */
export { createProgram, main, VERSION } from './program.js';
export { scenarioSchema, STEP_SCHEMAS, STEP_KINDS, type Scenario, type StepKind } from './scenario/schema.js';
export { loadScenario, loadScenarioFile, type LoadedScenario, type PlannedStep, type ExpectSpec } from './scenario/load.js';
export { parseSize, formatSize } from './parse/size.js';
export { parseBlockList, formatBlockList } from './parse/ranges.js';
export { UserError, RefusedError, EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT } from './errors.js';
