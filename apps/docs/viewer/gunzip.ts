/**
 * Gzip logs in the viewer: every member of a multi-member file (pako); for seeks, the index of the members of a file
 * whose members say their sizes (memhp's), else the decompressed text kept; and decompressing in a worker of its own
 * beside the replay worker when the platform has workers (gzip-log.ts puts these together for the session).
 */
import { Inflate } from 'pako';
import { floorIndex } from './sorted.js';
import { creditedStream } from './worker-stream.js';

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

/**
 * Where the members of a gzip file start, in the file and in its text: memhp's gzip writer gives every member a
 * BGZF 'BC' extra subfield with its size (BSIZE = member bytes − 1; SAMv1 section 4.1, laid out by RFC 1952 section
 * 2.3.1.1), and every gzip member ends with ISIZE, its text's length mod 2^32 (RFC 1952 section 2.3.1; a member of at
 * most 64 KiB inflates to far less than 4 GiB). So a reader that hops from header to header finds every member and
 * the text offset it starts at without inflating anything: a seek then inflates only the members from the one its
 * text starts in (each member starts a line: the writer cuts at line ends). `comp` and `text` are ascending; the
 * members from the last entry on are read whether sized or not (`complete` false: one without a BC subfield
 * follows; a seek past it inflates from there to where it reads).
 */
export interface MemberIndex {
  readonly comp: Float64Array;
  readonly text: Float64Array;
  readonly complete: boolean;
}

/** The member index's entry to start reading at for text offset `at` (the last member starting at or before it). */
export function memberAt(index: MemberIndex, at: number): { comp: number; text: number; next: number } {
  // with none at or before `at`, the first member
  const r = Math.max(0, floorIndex(index.text, index.text.length, at));
  return { comp: index.comp[r]!, text: index.text[r]!, next: r + 1 };
}

/** The BC subfield's BSIZE in a gzip header's extra field, or −1 when it has none. */
function bsizeOf(extra: Uint8Array): number {
  for (let i = 0; i + 4 <= extra.length; ) {
    const len = extra[i + 2]! | (extra[i + 3]! << 8);
    if (extra[i] === 0x42 && extra[i + 1] === 0x43 && len === 2 && i + 6 <= extra.length) return extra[i + 4]! | (extra[i + 5]! << 8);
    i += 4 + len;
  }
  return -1;
}

/**
 * Whether a gzip file's first member says its size (the BC subfield): then a load indexes its members
 * (MemberIndexer) instead of keeping the text.
 */
export async function hasMemberSizes(file: Blob): Promise<boolean> {
  const head = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  if (head.length < 12 || head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8 || (head[3]! & 0x04) === 0) return false;
  const xlen = head[10]! | (head[11]! << 8);
  return bsizeOf(new Uint8Array(await file.slice(12, 12 + xlen).arrayBuffer())) >= 0;
}

/**
 * Builds a MemberIndex from a gzip file's bytes as they stream past (any chunks): reads each member's header and
 * its trailer's ISIZE, skipping what lies between (BSIZE). Stops at the first member without a BC subfield (it is
 * the last entry). A header not where the sizes say, or sizes and ISIZEs that do not add up to the file and the
 * text the inflater found, give no index at all (`result` null): seeks then inflate from the top.
 */
export class MemberIndexer {
  private comp: number[] = [];
  private text: number[] = [];
  /** Offset of the next byte push() sees. */
  private at = 0;
  /** The member being read: where it starts in the file and in the text. */
  private member = 0;
  private textAt = 0;
  private bsize = 0;
  /** The bytes wanted next (a header's first 12, its extra field, or a trailer's ISIZE), gathered across chunks. */
  private want = { from: 0, bytes: new Uint8Array(12), have: 0, kind: 'head' as 'head' | 'extra' | 'isize' };
  private state: 'reading' | 'unsized' | 'bad' = 'reading';

  push(chunk: Uint8Array): void {
    const base = this.at;
    this.at += chunk.byteLength;
    while (this.state === 'reading') {
      const w = this.want;
      const from = w.from + w.have - base;
      if (from >= chunk.byteLength) return;
      const n = Math.min(w.bytes.length - w.have, chunk.byteLength - from);
      w.bytes.set(chunk.subarray(from, from + n), w.have);
      w.have += n;
      if (w.have < w.bytes.length) return;
      this.took(w.kind, w.bytes);
    }
  }

  private wantNext(kind: 'head' | 'extra' | 'isize', from: number, len: number): void {
    this.want = { from, bytes: new Uint8Array(len), have: 0, kind };
  }

  private took(kind: 'head' | 'extra' | 'isize', b: Uint8Array): void {
    if (kind === 'head') {
      if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) {
        this.state = 'bad';
        return;
      }
      const xlen = b[10]! | (b[11]! << 8);
      if ((b[3]! & 0x04) === 0 || xlen === 0) return this.unsized();
      this.wantNext('extra', this.member + 12, xlen);
    } else if (kind === 'extra') {
      this.bsize = bsizeOf(b);
      if (this.bsize < 0) return this.unsized();
      // the header, the extra field and the 8-byte trailer at least
      if (this.bsize + 1 < 12 + b.length + 8) {
        this.state = 'bad';
        return;
      }
      this.wantNext('isize', this.member + this.bsize - 3, 4);
    } else {
      this.comp.push(this.member);
      this.text.push(this.textAt);
      this.textAt += (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;
      this.member += this.bsize + 1;
      this.wantNext('head', this.member, 12);
    }
  }

  /** A member without a BC subfield starts here: it and all after it are read by inflating on from it. */
  private unsized(): void {
    this.comp.push(this.member);
    this.text.push(this.textAt);
    this.state = 'unsized';
  }

  /** The index, once the whole file (`fileBytes` long, `textBytes` of text) went through push; null: none. */
  result(fileBytes: number, textBytes: number): MemberIndex | null {
    if (this.state === 'bad' || this.comp.length === 0) return null;
    const complete = this.state === 'reading';
    // every member read to its end, and its sizes add up to what the inflater read and wrote
    if (complete ? this.member !== fileBytes || this.textAt !== textBytes || this.want.have !== 0 : this.textAt > textBytes) return null;
    return { comp: Float64Array.from(this.comp), text: Float64Array.from(this.text), complete };
  }
}

/** Passes a gzip file's bytes through, feeding them to `indexer`; counts them. */
export function indexMembers(indexer: MemberIndexer, counted: { bytes: number }): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, ctl) {
      indexer.push(chunk);
      counted.bytes += chunk.byteLength;
      ctl.enqueue(chunk);
    },
  });
}

/** Counts the bytes passing through. */
export function countBytes(counted: { bytes: number }): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, ctl) {
      counted.bytes += chunk.byteLength;
      ctl.enqueue(chunk);
    },
  });
}

/** Drops the first `skip` bytes of a stream (seeking inside a gzip stream means decompressing up to there). */
export function skipBytes(skip: number): TransformStream<Uint8Array, Uint8Array> {
  let left = skip;
  return new TransformStream({
    transform(chunk, ctl) {
      if (left >= chunk.byteLength) {
        left -= chunk.byteLength;
        return;
      }
      ctl.enqueue(left > 0 ? chunk.subarray(left) : chunk);
      left = 0;
    },
  });
}

/**
 * The text of a gzip file from byte `from` on, at least to byte `to` (−1: to the end), by its member index: the
 * members from the one holding `from` to the one holding byte to − 1 (or to the end of the file), inflated.
 */
export function readMembers(file: Blob, name: string, index: MemberIndex, from: number, to: number): ReadableStream<Uint8Array> {
  const first = memberAt(index, from);
  // up to the first member that starts at or after `to` (the members from the last entry on are read to the end)
  let end: number | undefined;
  if (to >= 0) {
    const last = memberAt(index, Math.max(from, to - 1));
    if (last.next < index.comp.length) end = index.comp[last.next]!;
  }
  return (file.slice(first.comp, end).stream() as ReadableStream<Uint8Array>).pipeThrough(gunzipMembers(name)).pipeThrough(skipBytes(from - first.text));
}

/** What a load keeps of a gzip log for its seeks: the member index (sized members), else the text up to a limit. */
export type Keep = { readonly index: true } | { readonly index: false; readonly limit: number };

/**
 * What the load kept: the text (a Blob, or null when longer than the limit), or the member index (null: none), and
 * with the index, where there is a worker, `read`: readMembers run in the inflate worker (kept alive for it), so a
 * seek's inflating overlaps its parsing on a second core.
 */
export interface Kept {
  readonly text: Blob | null;
  readonly index: MemberIndex | null;
  readonly read?: (from: number, to: number) => ReadableStream<Uint8Array>;
}

export type ToInflate =
  | {
      readonly kind: 'open';
      readonly file: Blob;
      readonly name: string;
      readonly keep: Keep;
      readonly credit: number;
      /** The file in KEPT_DIR to keep the text in (keepBytesInFile), locked by the sender; null: keep it in memory. */
      readonly keptFile: string | null;
    }
  /** Chunks more the reader takes: of the load (id 0), or of read `id`. */
  | { readonly kind: 'more'; readonly id: number; readonly chunks: number }
  /** After the load: readMembers(from, to) as read `id` (> 0), `credit` chunks at first. */
  | { readonly kind: 'read'; readonly id: number; readonly from: number; readonly to: number; readonly credit: number }
  | { readonly kind: 'cancel'; readonly id: number };

export type FromInflate =
  | { readonly kind: 'chunk'; readonly id: number; readonly chunk: Uint8Array }
  /** The end of the load (id 0), with what it kept (`read` is added on this side), or of read `id`. */
  | { readonly kind: 'end'; readonly id: number; readonly kept: Omit<Kept, 'read'> | null }
  | { readonly kind: 'error'; readonly id: number; readonly message: string };

/** Chunks in flight between the two workers (256 KiB each): enough to keep both busy, little memory. */
const WINDOW = 16;
/** Chunks in flight for a seek's read (pako's 256 KiB each): a seek reads a few MB at most, and may stop early. */
const READ_WINDOW = 4;

/** The inflate worker kept for the last load's seeks: a new load ends it (one log at a time per worker). */
let seekWorker: Worker | null = null;

/**
 * A ReadableStream of chunks that worker `w` sends for `id`, asking for more as they are taken (credit-based, at
 * most `window` in flight); `open` sends the request. `onEnd` gets the end message's payload.
 */
function fromWorker(
  w: Worker,
  id: number,
  window: number,
  open: () => void,
  onEnd: (m: Extract<FromInflate, { kind: 'end' }>) => void,
  cancel: () => void,
): { stream: ReadableStream<Uint8Array>; take: (m: FromInflate) => void } {
  return creditedStream<FromInflate>({
    window,
    batch: 1,
    open,
    more: (chunks) => w.postMessage({ kind: 'more', id, chunks } satisfies ToInflate),
    onEnd,
    cancel,
  });
}

/**
 * The decompressed text of a gzip log as a stream, inflated in a worker of its own (inflate.worker.ts), and what it
 * kept for seeks through `done` at the end; null where this platform has no Worker (Node: the tests), the caller
 * then decompresses in line. With a member index, the worker stays, for the seeks' reads (Kept.read), until the
 * next load.
 */
export function inflateBeside(file: Blob, name: string, keep: Keep, done: (kept: Kept) => void): ReadableStream<Uint8Array> | null {
  if (typeof Worker === 'undefined') return null;
  seekWorker?.terminate();
  seekWorker = null;
  let w: Worker;
  try {
    w = new Worker(new URL('./inflate.worker.ts', import.meta.url), { type: 'module' });
  } catch {
    return null;
  }
  const readers = new Map<number, (m: FromInflate) => void>();
  let nextId = 1;
  const read = (from: number, to: number): ReadableStream<Uint8Array> => {
    const id = nextId++;
    const r = fromWorker(
      w,
      id,
      READ_WINDOW,
      () => w.postMessage({ kind: 'read', id, from, to, credit: READ_WINDOW } satisfies ToInflate),
      () => readers.delete(id),
      () => {
        readers.delete(id);
        w.postMessage({ kind: 'cancel', id } satisfies ToInflate);
      },
    );
    readers.set(id, r.take);
    return r.stream;
  };
  let lockReady: Promise<string | null> = Promise.resolve(null);
  const load = fromWorker(
    w,
    0,
    WINDOW,
    () => {
      // the text is kept in a file only when there is no index to keep instead
      if (!keep.index) lockReady = lockKeptFile();
      void lockReady.then((keptFile) => w.postMessage({ kind: 'open', file, name, keep, credit: WINDOW, keptFile } satisfies ToInflate));
    },
    (m) => {
      const kept = m.kept ?? { text: null, index: null };
      if (kept.index) {
        seekWorker = w;
        done({ ...kept, read });
      } else {
        done(kept);
        w.terminate();
      }
    },
    () => w.terminate(),
  );
  readers.set(0, load.take);
  w.onmessage = (ev: MessageEvent<FromInflate>) => {
    const m = ev.data;
    readers.get(m.id)?.(m);
    if (m.kind !== 'chunk') readers.delete(m.id);
    if (m.kind === 'error' && m.id === 0) w.terminate();
  };
  w.onerror = (e) => {
    const err: FromInflate = { kind: 'error', id: 0, message: `${name}: the decompressing worker failed: ${e.message}` };
    for (const [id, take] of readers) take({ ...err, id });
    readers.clear();
    w.terminate();
  };
  return load.stream;
}
