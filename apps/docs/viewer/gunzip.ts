/**
 * Gzip logs in the viewer: every member of a multi-member file (pako), the decompressed text kept for seeks, and
 * decompressing in a worker of its own beside the replay worker when the platform has workers.
 */
import { Inflate } from 'pako';

/**
 * Passes bytes through while keeping a copy, up to `limit` bytes, as Blobs of about 4 MiB (a Blob copies its parts
 * out of the JavaScript heap); at the end `done` gets all of it as one Blob, or null if it was longer than `limit`.
 */
export function keepBytes(limit: number, done: (text: Blob | null) => void): TransformStream<Uint8Array, Uint8Array> {
  const BATCH = 4 << 20;
  let parts: Blob[] = [];
  let batch: Uint8Array[] = [];
  let inBatch = 0;
  let kept = 0;
  let over = false;
  return new TransformStream({
    transform(chunk, ctl) {
      if (!over) {
        kept += chunk.byteLength;
        if (kept > limit) {
          over = true;
          parts = [];
          batch = [];
        } else {
          batch.push(chunk);
          inBatch += chunk.byteLength;
          if (inBatch >= BATCH) {
            parts.push(new Blob(batch as BlobPart[]));
            batch = [];
            inBatch = 0;
          }
        }
      }
      ctl.enqueue(chunk);
    },
    flush() {
      done(over ? null : new Blob([...parts, new Blob(batch as BlobPart[])]));
    },
  });
}

/**
 * Gunzip that reads every member of a multi-member file, as gunzip(1) and Node's zlib do: memhp's gzip writer
 * writes each batch as a gzip member of its own (so a killed run leaves a readable prefix), and the browser's
 * DecompressionStream stops at the first member's end (it rejects what follows as trailing data).
 */
export function gunzipMembers(name: string): TransformStream<Uint8Array, Uint8Array> {
  // 256 KiB out at a time rather than pako's 64 KiB: a quarter of the chunks through every stage after it.
  const inflate = new Inflate({ chunkSize: 256 << 10 });
  const check = (): void => {
    if (inflate.err) throw new Error(`${name}: not a readable gzip file (${inflate.msg || `zlib error ${inflate.err}`})`);
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      // No copy: pako 3's Inflate.push gives each output buffer to onData once and then allocates a new one (it
      // sets avail_out to 0 after every onData call), so a chunk is never written again once handed out.
      inflate.onData = (chunk: Uint8Array) => controller.enqueue(chunk);
    },
    transform(chunk) {
      inflate.push(chunk, false);
      check();
    },
    flush() {
      inflate.push(new Uint8Array(0), true);
      check();
    },
  });
}

export type ToInflate =
  | { readonly kind: 'open'; readonly file: Blob; readonly name: string; readonly keepBytes: number; readonly credit: number }
  | { readonly kind: 'more'; readonly chunks: number };

export type FromInflate =
  | { readonly kind: 'chunk'; readonly chunk: Uint8Array }
  | { readonly kind: 'end'; readonly kept: Blob | null }
  | { readonly kind: 'error'; readonly message: string };

/** Chunks in flight between the two workers (256 KiB each): enough to keep both busy, little memory. */
const WINDOW = 16;

/**
 * The decompressed text of a gzip log as a stream, inflated in a worker of its own (inflate.worker.ts), and the
 * kept text through `done` at the end; null where this platform has no Worker (Node: the tests), the caller then
 * decompresses in line.
 */
export function inflateBeside(file: Blob, name: string, keep: number, done: (text: Blob | null) => void): ReadableStream<Uint8Array> | null {
  if (typeof Worker === 'undefined') return null;
  let w: Worker;
  try {
    w = new Worker(new URL('./inflate.worker.ts', import.meta.url), { type: 'module' });
  } catch {
    return null;
  }
  // chunks asked for and not yet here: with the ones queued, never more than WINDOW
  let asked = WINDOW;
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const askMore = (): void => {
    const want = (ctl.desiredSize ?? 0) - asked;
    if (want > 0) {
      asked += want;
      w.postMessage({ kind: 'more', chunks: want } satisfies ToInflate);
    }
  };
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        ctl = c;
        w.onmessage = (ev: MessageEvent<FromInflate>) => {
          const m = ev.data;
          if (m.kind === 'chunk') {
            asked--;
            ctl.enqueue(m.chunk);
            askMore();
          } else if (m.kind === 'end') {
            done(m.kept);
            ctl.close();
            w.terminate();
          } else {
            ctl.error(new Error(m.message));
            w.terminate();
          }
        };
        w.onerror = (e) => {
          ctl.error(new Error(`${name}: the decompressing worker failed: ${e.message}`));
          w.terminate();
        };
        w.postMessage({ kind: 'open', file, name, keepBytes: keep, credit: WINDOW } satisfies ToInflate);
      },
      pull() {
        askMore();
      },
      cancel() {
        w.terminate();
      },
    },
    new CountQueuingStrategy({ highWaterMark: WINDOW }),
  );
}
