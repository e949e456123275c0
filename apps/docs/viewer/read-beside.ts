/**
 * A plain log's bytes, read by a worker of its own (read.worker.ts) beside the replay worker: reading a File's
 * stream took the replay worker ~1 s of its own CPU for the viewer bench's 170 MB log in Chromium (a fifth of its
 * load), and on a machine with two cores that runs beside parsing and replaying instead of before them. The chunks
 * come moved (transferred), not copied, as the File's stream gave them (64 KiB in Chromium), several to a message,
 * a few messages at a time as the replay worker takes them.
 */
import { creditedStream } from './worker-stream.js';

export type ToReader =
  | { readonly kind: 'open'; readonly file: Blob; readonly credit: number; readonly chunkBytes: number }
  | { readonly kind: 'more'; readonly chunks: number };

export type FromReader =
  /** The stream's chunks in order, `chunkBytes` or more together (less at the end). */
  | { readonly kind: 'chunk'; readonly chunk: readonly Uint8Array[] }
  | { readonly kind: 'end' }
  | { readonly kind: 'error'; readonly message: string };

/** Messages in flight between the two workers: enough to keep both busy, little memory (WINDOW × CHUNK_BYTES). */
const WINDOW = 16;
/** Bytes the reader sends in one message (a Blob's stream gives 64 KiB at a time): fewer messages. */
export const CHUNK_BYTES = 256 << 10;

/**
 * The bytes of `file` as a stream, read in a worker of its own; null where this platform has no Worker (Node: the
 * tests), the caller then reads the file in line.
 */
export function readBeside(file: Blob, name: string): ReadableStream<Uint8Array> | null {
  if (typeof Worker === 'undefined') return null;
  let w: Worker;
  try {
    w = new Worker(new URL('./read.worker.ts', import.meta.url), { type: 'module', name: 'memhp-read' });
  } catch {
    return null;
  }
  const { stream, take } = creditedStream<FromReader>({
    window: WINDOW,
    // half a window at a time: a message for every chunk taken cost the replay worker ~80 ms of postMessage over
    // the bench's 660 chunks (a Chromium profile)
    batch: WINDOW / 2,
    chunkBytes: CHUNK_BYTES,
    open: () => w.postMessage({ kind: 'open', file, credit: WINDOW, chunkBytes: CHUNK_BYTES } satisfies ToReader),
    more: (chunks) => w.postMessage({ kind: 'more', chunks } satisfies ToReader),
    errorOf: (message) => new Error(`${name}: ${message}`),
    cancel: () => w.terminate(),
  });
  w.onmessage = (ev: MessageEvent<FromReader>) => {
    take(ev.data);
    if (ev.data.kind !== 'chunk') w.terminate();
  };
  w.onerror = (e) => {
    take({ kind: 'error', message: `the reading worker failed: ${e.message}` });
    w.terminate();
  };
  return stream;
}
