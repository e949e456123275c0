/// <reference lib="webworker" />
/**
 * Reads a plain log beside the replay worker (read-beside.ts): the File's stream, its chunks sent on moved
 * (transferred) as they came, several to a message (at least `chunkBytes` together), a few messages at a time as the
 * replay worker asks for them. The chunks are not copied into bigger ones: gathering the stream's 64 KiB chunks into
 * fresh 256 KiB buffers took this worker 0.6 s more CPU over the viewer bench's 174 MB log than reading them
 * (bench/load-floor.ts, read-stream against read-gather), on a machine whose two cores the load keeps busy.
 */
import type { FromReader, ToReader } from './read-beside.js';
import { Credits, ownsBuffer } from './worker-stream.js';

const ctx = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromReader, transfer: Transferable[] = []) => ctx.postMessage(m, transfer);
const credits = new Credits();

ctx.onmessage = async (ev: MessageEvent<ToReader>) => {
  const m = ev.data;
  if (m.kind === 'more') {
    credits.grant(0, m.chunks);
    return;
  }
  credits.open(0, m.credit);
  try {
    const reader = (m.file.stream() as ReadableStream<Uint8Array>).getReader();
    let pieces: Uint8Array[] = [];
    let n = 0;
    const send = async (): Promise<void> => {
      await credits.take(0);
      post({ kind: 'chunk', chunk: pieces }, pieces.map((c) => c.buffer as ArrayBuffer));
      pieces = [];
      n = 0;
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      // a chunk that shares its buffer (not seen from Chromium's File streams) is copied, so the move takes no more
      pieces.push(ownsBuffer(value) ? value : value.slice());
      n += value.byteLength;
      if (n >= m.chunkBytes) await send();
    }
    if (n > 0) await send();
    post({ kind: 'end' });
  } catch (e) {
    post({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
