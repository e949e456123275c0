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

/** Bytes in a message to the replay worker (the WINDOW of gunzip.ts counts these). */
const MESSAGE_BYTES = 256 << 10;

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
    const keeper = (m.keptFile ? await keepBytesInFile(m.keptFile, m.keepBytes, keep) : null) ?? keepBytes(m.keepBytes, keep);
    const stream = (m.file.stream() as ReadableStream<Uint8Array>).pipeThrough(gunzipMembers(m.name)).pipeThrough(keeper);
    const reader = stream.getReader();
    // Chunks go on as copies (keepBytes still holds each chunk until it makes its next Blob), gathered into
    // messages of MESSAGE_BYTES: the copy a transfer needs anyway, and pako's 256 KiB chunks and the native
    // inflater's 64 KiB ones reach the replay worker alike.
    let out = new Uint8Array(MESSAGE_BYTES);
    let len = 0;
    const send = async (): Promise<void> => {
      while (credit <= 0) await new Promise<void>((r) => (wake = r));
      credit--;
      const chunk = len === out.byteLength ? out : out.slice(0, len);
      post({ kind: 'chunk', chunk }, [chunk.buffer]);
      out = new Uint8Array(MESSAGE_BYTES);
      len = 0;
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (let from = 0; from < value.byteLength; ) {
        const n = Math.min(MESSAGE_BYTES - len, value.byteLength - from);
        out.set(value.subarray(from, from + n), len);
        len += n;
        from += n;
        if (len === MESSAGE_BYTES) await send();
      }
    }
    if (len > 0) await send();
    post({ kind: 'end', kept });
  } catch (e) {
    post({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
