import type { EventEnvelope } from './envelope.js';
import type { LogHeader } from './header.js';
import type { LogReader } from './reader.js';

export interface ReplayOptions<S> {
  initial: (h: LogHeader) => S;
  evolve: (s: S, e: EventEnvelope) => S;
  /** Stop after seq N: the state "after event N". */
  until?: number;
  /** Call onSnapshot after every event whose seq is a multiple of snapshotEvery. */
  snapshotEvery?: number;
  onSnapshot?: (seq: number, s: S) => void;
  /** Start from this state instead of initial(header) (resuming from a snapshot; pair with a resumed reader). */
  from?: { seq: number; state: S };
}

export interface ReplayResult<S> {
  header: LogHeader;
  state: S;
  /** seq of the last event folded (less than `until` when the log ends first). */
  lastSeq: number;
}

/**
 * Fold a log through evolve. Streaming: it holds one decoded chunk of events at a time, so memory does not depend
 * on the log's length. Reading stops (and the file is closed) as soon as `until` is reached.
 */
export async function replay<S>(reader: LogReader, opts: ReplayOptions<S>): Promise<ReplayResult<S>> {
  const header = await reader.header();
  let state = opts.from ? opts.from.state : opts.initial(header);
  let lastSeq = opts.from ? opts.from.seq : 0;
  const until = opts.until ?? Number.POSITIVE_INFINITY;
  if (until <= lastSeq) return { header, state, lastSeq };
  const every = opts.snapshotEvery ?? 0;
  if (every < 0 || !Number.isSafeInteger(every)) throw new RangeError('snapshotEvery must be a non-negative integer');
  const onSnapshot = every > 0 ? opts.onSnapshot : undefined;
  const evolve = opts.evolve;
  outer: for await (const batch of reader.batches ? reader.batches() : singles(reader.events())) {
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i]!;
      if (e.seq > until) break outer;
      state = evolve(state, e);
      lastSeq = e.seq;
      if (onSnapshot && e.seq % every === 0) onSnapshot(e.seq, state);
      if (e.seq === until) break outer;
    }
  }
  return { header, state, lastSeq };
}

async function* singles(events: AsyncIterable<EventEnvelope>): AsyncGenerator<readonly EventEnvelope[]> {
  for await (const e of events) yield [e];
}
