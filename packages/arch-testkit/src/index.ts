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
  createTestHarness,
  evolveTestState,
  emptyTestState,
  replayTestEvents,
  snapshotTestState,
  geometryOf,
  type TestHarness,
  type TestEvent,
  type TestState,
  type TestContextOptions,
  type Geometry,
} from './test-context.js';
