/// <reference lib="webworker" />
/**
 * Decompresses a gzip log beside the replay worker, so that on a machine with two cores inflating overlaps
 * parsing and replaying instead of adding to them (the CLI's gunzip runs on libuv's thread pool likewise). Reads
 * every member (gunzipMembers), sends the text on in chunks, a few at a time as the replay worker asks for them,
 * and at the end the decompressed text kept as a Blob for seeks (or null when longer than the limit).
 */
import { gunzipMembers, keepBytes } from './gunzip.js';
import type { FromInflate, ToInflate } from './gunzip.js';

const ctx = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromInflate, transfer: Transferable[] = []) => ctx.postMessage(m, transfer);

let credit = 0;
let wake: (() => void) | null = null;

ctx.onmessage = async (ev: MessageEvent<ToInflate>) => {
  const m = ev.data;
  if (m.kind === 'more') {
    credit += m.chunks;
    wake?.();
    wake = null;
    return;
  }
  credit = m.credit;
  try {
    let kept: Blob | null = null;
    const stream = (m.file.stream() as ReadableStream<Uint8Array>)
      .pipeThrough(gunzipMembers(m.name))
      .pipeThrough(keepBytes(m.keepBytes, (t) => (kept = t)));
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      while (credit <= 0) await new Promise<void>((r) => (wake = r));
      credit--;
      // a copy is moved: keepBytes still holds the chunk until it makes its next Blob (a memcpy of 256 KiB)
      const chunk = value.slice();
      post({ kind: 'chunk', chunk }, [chunk.buffer]);
    }
    post({ kind: 'end', kept });
  } catch (e) {
    post({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
