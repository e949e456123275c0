/**
 * Replay: fold a recorded log into state with the same evolve the live run used. Needs no backend — the header
 * carries the machine description and every event carries its decided facts.
 */
import type { EventEnvelope, LogHeader } from '@memhp/events';
import { createEvolve, type ApplierTable } from './model/evolve.js';
import { initialStateFromHeader } from './model/machine.js';
import type { MachineState } from './model/state.js';

/** The state before event 1 of a log (Emmett's initialState): the machine of the header, not yet booted. */
export const initialState = (header: LogHeader): MachineState => initialStateFromHeader(header);

/** Fold events (in seq order) into the state of the machine the header describes. */
export function replayState(events: Iterable<EventEnvelope>, header: LogHeader, appliers: readonly ApplierTable[] = []): MachineState {
  const evolve = createEvolve(appliers);
  const s = initialStateFromHeader(header);
  for (const e of events) evolve(s, e);
  return s;
}

/** The same over an async source (a log reader's events()). */
export async function replayStateAsync(
  events: AsyncIterable<EventEnvelope>,
  header: LogHeader,
  appliers: readonly ApplierTable[] = [],
): Promise<MachineState> {
  const evolve = createEvolve(appliers);
  const s = initialStateFromHeader(header);
  for await (const e of events) evolve(s, e);
  return s;
}
