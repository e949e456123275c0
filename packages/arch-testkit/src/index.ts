/**
 * @memhp/arch-testkit — the conformance kit every memhp arch backend runs against itself.
 *
 *   import { checkBackend } from '@memhp/arch-testkit';          // pure: returns a report
 *   import { describeConformance } from '@memhp/arch-testkit/vitest'; // one call in a vitest file
 */
export {
  checkBackend,
  runConformance,
  runCheck,
  defaultConfigs,
  configLabel,
  CONFORMANCE_CHECKS,
  type ConformanceCheck,
  type ConformanceOptions,
  type ConformanceReport,
  type CheckResult,
} from './checks.js';
export { derive, hvoNumbers, SUBSECTION_SHIFT, type Derived, type HvoNumbers } from './derived.js';
export {
  bootKitMachine,
  machineConfigOf,
  snapshotVmemmap,
  vmemmapLeftovers,
  unbalancedAltmaps,
  mappingCount,
  memmapMapping,
  ramBackedPages,
  replayProblems,
  canonicalJson,
  type KitRun,
  type KitBootOptions,
  type KitMachineOptions,
  type OpResult,
  type VmemmapSnapshot,
  type MemmapMapping,
} from './core-run.js';
