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
 * writes each batch as gzip members of its own (so a killed run leaves a readable prefix), and the browser's
 * DecompressionStream stops at the first member's end (it rejects what follows as trailing data).
 *
 * pako, not the browser's DecompressionStream fed one member at a time (memhp's members say their size, so it
 * could): measured in Chromium 156 on the viewer bench's 174 MB log, the native path took 0.3-0.6 s more CPU for
 * the whole inflate stage than pako (DecompressionStream's own inflate was no cheaper than pako's, and each member
 * costs a stream of its own and its 64 KiB chunks a copy).
 */
export function gunzipMembers(name: string): TransformStream<Uint8Array, Uint8Array> {
  let ctl!: TransformStreamDefaultController<Uint8Array>;
  const newInflate = (): Inflate => {
    // 256 KiB out at a time rather than pako's 64 KiB: a quarter of the chunks through every stage after it.
    const p = new Inflate({ chunkSize: 256 << 10 });
    // No copy: pako 3's Inflate.push gives each output buffer to onData once and then allocates a new one (it
    // sets avail_out to 0 after every onData call), so a chunk is never written again once handed out.
    p.onData = (chunk: Uint8Array) => ctl.enqueue(chunk);
    return p;
  };
  let inflate: Inflate;
  const check = (): void => {
    if (inflate.err) throw new Error(`${name}: not a readable gzip file (${inflate.msg || `zlib error ${inflate.err}`})`);
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      ctl = controller;
      inflate = newInflate();
    },
    transform(chunk) {
      // pako goes on to the next member only within one push: a member that ends exactly at the end of a chunk
      // ends its Inflate, and the members after it would be dropped without a word; a new Inflate reads them
      // (unless what follows is zero padding, which pako skips likewise)
      if (inflate.ended && inflate.err === 0 && chunk.byteLength > 0 && chunk[0] !== 0) inflate = newInflate();
      inflate.push(chunk, false);
      check();
    },
    flush() {
      inflate.push(new Uint8Array(0), true);
      check();
    },
  });
}

/**
 * The decompressed text kept for seeks can go to a file of the origin private file system instead of a Blob: on
 * Chromium a 174 MB Blob built from the text costs ~2 s of CPU (the bytes go to the browser process's blob
 * store), about 0.4 s written through a FileSystemSyncAccessHandle, whose getFile() is then a Blob like any other.
 * Each file is named in this directory and held by a Web Lock for as long as the worker that loaded it lives (or
 * until its next load); every load removes the files nobody holds.
 */
const KEPT_DIR = 'memhp-viewer-kept';
const lockName = (file: string): string => `${KEPT_DIR}/${file}`;
/** Releases this worker's lock on the file its last load kept (one log at a time per worker). */
let releaseKept: (() => void) | null = null;

/** A fresh name in KEPT_DIR, locked until this worker's next load; null where there are no Web Locks or OPFS. */
async function lockKeptFile(): Promise<string | null> {
  releaseKept?.();
  releaseKept = null;
  if (typeof navigator === 'undefined' || !navigator.locks || !navigator.storage?.getDirectory) return null;
  const file = `${Date.now()}-${Math.random().toString(36).slice(2)}.ndjson`;
  return new Promise<string | null>((granted) => {
    navigator.locks
      .request(lockName(file), { ifAvailable: true }, (lock) => {
        if (!lock) return granted(null);
        granted(file);
        return new Promise<void>((release) => (releaseKept = release));
      })
      .catch(() => granted(null));
  });
}

/**
 * keepBytes, with the copy written to `file` in the origin private file system through a sync access handle (in a
 * dedicated worker) and handed to `done` as that file's Blob; first removes the kept files no worker holds. Null
 * where the platform cannot (no OPFS, no sync access handles, no quota): the caller then keeps the text in memory.
 * A write that fails later (the disk full) gives up keeping: `done` gets null, and seeks decompress again.
 */
export async function keepBytesInFile(file: string, limit: number, done: (text: Blob | null) => void): Promise<TransformStream<Uint8Array, Uint8Array> | null> {
  let handle: FileSystemSyncAccessHandle;
  let fileHandle: FileSystemFileHandle;
  let dir: FileSystemDirectoryHandle;
  try {
    dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(KEPT_DIR, { create: true });
    for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
      if (name === file) continue;
      await navigator.locks.request(lockName(name), { ifAvailable: true }, async (lock) => {
        if (lock) await dir.removeEntry(name).catch(() => {});
      });
    }
    fileHandle = await dir.getFileHandle(file, { create: true });
    if (typeof fileHandle.createSyncAccessHandle !== 'function') return null;
    handle = await fileHandle.createSyncAccessHandle();
  } catch {
    return null;
  }
  let at = 0;
  let over = false;
  const giveUp = (): void => {
    over = true;
    try {
      handle.truncate(0);
    } catch {
      // nothing more to free
    }
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, ctl) {
      if (!over) {
        if (at + chunk.byteLength > limit) giveUp();
        else {
          try {
            for (let from = 0; from < chunk.byteLength; ) {
              const n = handle.write(chunk.subarray(from), { at: at + from });
              if (n <= 0) throw new Error('no space to write');
              from += n;
            }
            at += chunk.byteLength;
          } catch {
            giveUp();
          }
        }
      }
      ctl.enqueue(chunk);
    },
    async flush() {
      try {
        handle.flush();
      } catch {
        giveUp();
      }
      handle.close();
      if (over) {
        await dir.removeEntry(file).catch(() => {});
        done(null);
      } else done(await fileHandle.getFile());
    },
  });
}

export type ToInflate =
  | {
      readonly kind: 'open';
      readonly file: Blob;
      readonly name: string;
      readonly keepBytes: number;
      readonly credit: number;
      /** The file in KEPT_DIR to keep the text in (keepBytesInFile), locked by the sender; null: keep it in memory. */
      readonly keptFile: string | null;
    }
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
      async start(c) {
        ctl = c;
        const keptFile = await lockKeptFile();
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
        w.postMessage({ kind: 'open', file, name, keepBytes: keep, credit: WINDOW, keptFile } satisfies ToInflate);
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
