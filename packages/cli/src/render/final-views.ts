/**
 * The views a run and a replay of its log are compared on (`memhp run --json` and `memhp replay --json` print
 * them). Apart from run.ts so that `memhp replay` does not load the scenario machinery (YAML, schemas) with it.
 */
import type { ReadonlyMachineState } from '@memhp/core';
import { viewBlocks, viewMeminfo, viewVmstat, viewZoneinfo } from '../sim.js';

export interface FinalViews {
  readonly meminfo: Record<string, number>;
  readonly vmstat: Record<string, number>;
  readonly zoneinfo: readonly unknown[];
  readonly blocks: readonly unknown[];
}

/** The views a run and a replay are compared on. */
export function finalViews(state: ReadonlyMachineState): FinalViews | undefined {
  try {
    return { meminfo: viewMeminfo(state), vmstat: viewVmstat(state), zoneinfo: viewZoneinfo(state), blocks: viewBlocks(state) };
  } catch {
    return undefined;
  }
}
