/// <reference lib="webworker" />
/**
 * Decompresses a gzip log beside the replay worker, so that on a machine with two cores inflating overlaps
 * parsing and replaying instead of adding to them (the CLI's gunzip runs on libuv's thread pool likewise). Reads
 * every member (gunzipMembers), sends the text on in chunks, a few at a time as the replay worker asks for them,
 * and at the end the decompressed text kept as a Blob for seeks (or null when longer than the limit): a file of the
 * origin private file system where it can (keepBytesInFile), else in memory (keepBytes).
 */
import { gunzipMembers, keepBytes, keepBytesInFile } from './gunzip.js';
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
    const keep = (t: Blob | null): void => {
      kept = t;
    };
    const inFile = m.keptFile ? await keepBytesInFile(m.keptFile, m.keepBytes, keep) : null;
    const stream = (m.file.stream() as ReadableStream<Uint8Array>).pipeThrough(gunzipMembers(m.name)).pipeThrough(inFile ?? keepBytes(m.keepBytes, keep));
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      while (credit <= 0) await new Promise<void>((r) => (wake = r));
      credit--;
      // Moved without a copy where nothing else holds the chunk: keepBytesInFile has written it to its file, and a
      // chunk of gunzipMembers that fills its own buffer (pako's) is used nowhere else. keepBytes still holds its chunks until it makes its next Blob: those go as copies.
      const own = inFile !== null && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
      const chunk = own ? value : value.slice();
      post({ kind: 'chunk', chunk }, [chunk.buffer]);
    }
    post({ kind: 'end', kept });
  } catch (e) {
    post({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
