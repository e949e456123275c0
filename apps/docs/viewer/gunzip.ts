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
 * memhp's members say their own size, as BGZF's do (a 'BC' extra subfield, RFC 1952 section 2.3.1.1; see
 * BgzfMembers in @memhp/events/node): each such member goes whole to the platform's native
 * DecompressionStream('gzip'), which checks its CRC-32 and ISIZE as pako does, at a fraction of pako's CPU. From the
 * first member that does not say its size (a file gzip(1) wrote, an older memhp log), or that the native inflater
 * refuses, or a file that ends inside a member, pako reads the rest: the same text, and for a corrupt file the same
 * error, naming the file. `stats`, if given, is told how the file was read.
 */
export function gunzipMembers(name: string, stats?: GunzipStats): TransformStream<Uint8Array, Uint8Array> {
  let pako: Inflate | null = null;
  // input not yet inflated natively: whole members are cut from its front
  const pending = new ByteQueue();
  let natives = 0;
  const check = (): void => {
    if (pako?.err) throw new Error(`${name}: not a readable gzip file (${pako.msg || `zlib error ${pako.err}`})`);
  };
  let ctl!: TransformStreamDefaultController<Uint8Array>;
  const newPako = (): Inflate => {
    // 256 KiB out at a time rather than pako's 64 KiB: a quarter of the chunks through every stage after it.
    const p = new Inflate({ chunkSize: 256 << 10 });
    // No copy: pako 3's Inflate.push gives each output buffer to onData once and then allocates a new one (it
    // sets avail_out to 0 after every onData call), so a chunk is never written again once handed out.
    p.onData = (chunk: Uint8Array) => ctl.enqueue(chunk);
    return p;
  };
  const pakoPush = (chunk: Uint8Array): void => {
    // pako goes on to the next member only within one push: a member that ends exactly at the end of a chunk ends
    // its Inflate, and the members after it would be dropped without a word; a new Inflate reads them (unless
    // what follows is zero padding, which pako skips likewise)
    if (pako!.ended && pako!.err === 0 && chunk.byteLength > 0 && chunk[0] !== 0) pako = newPako();
    pako!.push(chunk, false);
    check();
  };
  const toPako = (): void => {
    if (stats) stats.pakoFromMember = stats.nativeMembers;
    pako = newPako();
    for (const chunk of pending.drain()) pakoPush(chunk);
  };
  const native = typeof DecompressionStream === 'function';
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      ctl = controller;
      if (!native) toPako();
    },
    async transform(chunk) {
      if (pako) return pakoPush(chunk);
      pending.push(chunk);
      for (;;) {
        const bytes = memberBytes(pending);
        if (bytes === 0) return toPako();
        if (bytes === null || bytes > pending.length) return;
        const member = pending.take(bytes);
        const text = await inflateMember(member);
        if (!text) {
          pending.unshift(member);
          return toPako();
        }
        // as they come (64 KiB each in Chromium): the inflate worker gathers them into larger messages as it copies
        for (const t of text) ctl.enqueue(t);
        natives++;
        if (stats) stats.nativeMembers++;
      }
    },
    flush() {
      // a file that ends inside a member, or an empty one: pako says what is wrong, as before
      if (!pako && (pending.length > 0 || natives === 0)) toPako();
      if (!pako) return;
      (pako as Inflate).push(new Uint8Array(0), true);
      check();
    },
  });
}

/** How gunzipMembers read a file: members inflated natively, and from which member on pako read (null: none). */
export interface GunzipStats {
  nativeMembers: number;
  pakoFromMember: number | null;
}

/** Bytes queued as the chunks they came in, read from the front. */
class ByteQueue {
  #chunks: Uint8Array[] = [];
  /** offset into the first chunk */
  #at = 0;
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.length += chunk.byteLength;
  }

  /** Puts bytes just taken back in front. */
  unshift(bytes: Uint8Array): void {
    if (this.#at > 0) this.#chunks[0] = this.#chunks[0]!.subarray(this.#at);
    this.#at = 0;
    this.#chunks.unshift(bytes);
    this.length += bytes.byteLength;
  }

  /** The byte `i` from the front (i < length). */
  at(i: number): number {
    let k = this.#at + i;
    for (const c of this.#chunks) {
      if (k < c.byteLength) return c[k]!;
      k -= c.byteLength;
    }
    throw new RangeError('ByteQueue.at past the end');
  }

  /** The first `n` bytes (n ≤ length): a view when they lie in one chunk, else a copy. */
  take(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    let r: Uint8Array;
    if (first.byteLength - this.#at >= n) {
      r = first.subarray(this.#at, this.#at + n);
      this.#at += n;
    } else {
      r = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const c = this.#chunks[0]!;
        const k = Math.min(n - got, c.byteLength - this.#at);
        r.set(c.subarray(this.#at, this.#at + k), got);
        got += k;
        this.#at += k;
        if (this.#at === c.byteLength) {
          this.#chunks.shift();
          this.#at = 0;
        }
      }
    }
    if (this.#chunks.length > 0 && this.#at === this.#chunks[0]!.byteLength) {
      this.#chunks.shift();
      this.#at = 0;
    }
    this.length -= n;
    return r;
  }

  /** Everything left, as chunks, leaving the queue empty. */
  drain(): Uint8Array[] {
    const r = this.#chunks;
    if (this.#at > 0) r[0] = r[0]!.subarray(this.#at);
    this.#chunks = [];
    this.#at = 0;
    this.length = 0;
    return r;
  }
}

/**
 * The size of the member at the front of `q` from its BGZF-style 'BC' extra subfield (BSIZE + 1); null when more
 * bytes are needed to tell; 0 when the member does not say its size (no FEXTRA, no 'BC' subfield of SLEN 2, or a
 * header that is not gzip's).
 */
export function memberBytes(q: { readonly length: number; at(i: number): number }): number | null {
  // ID1 ID2 CM FLG MTIME(4) XFL OS XLEN(2): RFC 1952 section 2.3
  if (q.length < 12) return null;
  if (q.at(0) !== 0x1f || q.at(1) !== 0x8b || q.at(2) !== 8 || (q.at(3) & 0x04) === 0) return 0;
  const xlen = q.at(10) | (q.at(11) << 8);
  if (q.length < 12 + xlen) return null;
  for (let i = 12; i + 4 <= 12 + xlen; ) {
    const slen = q.at(i + 2) | (q.at(i + 3) << 8);
    if (q.at(i) === 0x42 && q.at(i + 1) === 0x43 && slen === 2 && i + 6 <= 12 + xlen) {
      const bytes = (q.at(i + 4) | (q.at(i + 5) << 8)) + 1;
      // header, an empty deflate stream (2 bytes) and the CRC-32/ISIZE trailer at least
      return bytes >= 12 + xlen + 10 ? bytes : 0;
    }
    i += 4 + slen;
  }
  return 0;
}

/** One whole gzip member through the native inflater: its text in chunks, or null if refused (pako will say why). */
async function inflateMember(member: Uint8Array): Promise<Uint8Array[] | null> {
  const ds = new DecompressionStream('gzip');
  const w = ds.writable.getWriter();
  // their failures show as the readable side's
  w.write(member as Uint8Array<ArrayBuffer>).catch(() => {});
  w.close().catch(() => {});
  const r = ds.readable.getReader();
  const text: Uint8Array[] = [];
  try {
    for (;;) {
      const { value, done } = await r.read();
      if (done) return text;
      text.push(value);
    }
  } catch {
    return null;
  }
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
            for (let from = 0; from < chunk.byteLength; ) from += handle.write(chunk.subarray(from), { at: at + from });
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
