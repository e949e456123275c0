/// <reference lib="webworker" />
/**
 * Reads a plain log beside the replay worker (read-beside.ts): the File's stream, gathered into chunks of at least
 * `chunkBytes`, each sent on moved (transferred), a few at a time as the replay worker asks for them.
 */
import type { FromReader, ToReader } from './read-beside.js';

const ctx = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromReader, transfer: Transferable[] = []) => ctx.postMessage(m, transfer);

let credit = 0;
let wake: (() => void) | null = null;

async function send(chunk: Uint8Array): Promise<void> {
  while (credit <= 0) await new Promise<void>((r) => (wake = r));
  credit--;
  post({ kind: 'chunk', chunk }, [chunk.buffer]);
}

ctx.onmessage = async (ev: MessageEvent<ToReader>) => {
  const m = ev.data;
  if (m.kind === 'more') {
    credit += m.chunks;
    wake?.();
    wake = null;
    return;
  }
  credit = m.credit;
  try {
    const reader = (m.file.stream() as ReadableStream<Uint8Array>).getReader();
    let buf = new Uint8Array(m.chunkBytes);
    let n = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (n === 0 && value.byteLength >= m.chunkBytes) {
        // big enough alone: moved as it is when it owns its buffer
        await send(value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice());
        continue;
      }
      for (let from = 0; from < value.byteLength; ) {
        const k = Math.min(buf.length - n, value.byteLength - from);
        buf.set(value.subarray(from, from + k), n);
        n += k;
        from += k;
        if (n === buf.length) {
          await send(buf);
          buf = new Uint8Array(m.chunkBytes);
          n = 0;
        }
      }
    }
    if (n > 0) await send(buf.subarray(0, n).slice());
    post({ kind: 'end' });
  } catch (e) {
    post({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
