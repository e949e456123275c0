/**
 * The CLI's replay loop (memhp replay's replayLog, packages/cli/src/sim.ts: @memhp/events' readLogStream, its
 * batches, core's evolve) as the load-floor probe runs it, once in Node and once bare in a Chromium worker
 * (floor.worker.ts): one piece of code, so the two figures compare the same loop. The log is in memory and goes to the
 * reader in 1 MiB views, as Node's file stream hands the CLI its chunks.
 */
import { readLogStream } from '@memhp/events';
import { createCoreCatalogue, evolve, initialStateFromHeader } from '@memhp/core';

const CHUNK = 1 << 20;

/** The bytes in views of 1 MiB. */
export async function* views(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += CHUNK) yield bytes.subarray(i, Math.min(bytes.length, i + CHUNK));
}

/** Replays the log the chunks carry into a state of its own; the last event's seq. */
export async function replayLoop(chunks: AsyncIterable<Uint8Array>, file: string): Promise<number> {
  const reader = readLogStream(chunks, { file, catalogue: createCoreCatalogue() });
  const state = initialStateFromHeader(await reader.header());
  let lastSeq = 0;
  for await (const batch of reader.batches()) {
    for (const e of batch) {
      evolve(state, e);
      lastSeq = e.seq;
    }
  }
  return lastSeq;
}
