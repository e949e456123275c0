/// <reference lib="webworker" />
/**
 * The load-floor probe's worker (bench/load-floor.ts): the CLI's replay loop (floor-loop.ts, the same code the probe
 * runs in Node) run bare in a Chromium worker: no page to draw, no reader or inflate worker, no snapshots, no progress
 * messages. The log is read into memory first (not timed). `gzip` inflates the in-memory gzip bytes on the way, in
 * line, with the viewer's own multi-member gunzip (pako; the browser's DecompressionStream stops after the first
 * member): inflate and replay on one thread, where the CLI's zlib runs on a thread of its own. `read-only` reads a
 * File whole by one way or another (its stream, slices, FileReaderSync), and does nothing else: what reading costs.
 */
import { gunzipMembers } from '../viewer/gunzip.js';
import { loadViewerApi } from '../viewer/core-adapter.js';
import { LogSession, type SessionOptions } from '../viewer/session.js';
import { ownsBuffer } from '../viewer/worker-stream.js';
import { replayLoop, views } from './floor-loop.js';

const ctx = self as unknown as DedicatedWorkerGlobalScope;
async function* streamed(s: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const r = s.getReader();
  for (;;) {
    const { value, done } = await r.read();
    if (done) return;
    yield value;
  }
}

/** Reads the whole file by `how` (nothing else done with the bytes) and says how many there were. */
async function readAll(file: Blob, how: string, chunk: number): Promise<number> {
  let n = 0;
  if (how === 'stream' || how === 'gather') {
    // 'gather': as the viewer's reading worker gathers the stream's chunks into fresh buffers of `chunk` bytes
    const r = (file.stream() as ReadableStream<Uint8Array>).getReader();
    let buf = new Uint8Array(chunk);
    let k = 0;
    let owned = 0;
    for (;;) {
      const { value, done } = await r.read();
      if (done) return how === 'gather' ? n * 1e6 + owned : n;
      n += value.byteLength;
      if (ownsBuffer(value)) owned++;
      if (how !== 'gather') continue;
      for (let from = 0; from < value.byteLength; ) {
        const q = Math.min(buf.length - k, value.byteLength - from);
        buf.set(value.subarray(from, from + q), k);
        k += q;
        from += q;
        if (k === buf.length) {
          buf = new Uint8Array(chunk);
          k = 0;
        }
      }
    }
  }
  if (how === 'whole') return (await file.arrayBuffer()).byteLength;
  const sync = how === 'sync' ? new FileReaderSync() : null;
  for (let at = 0; at < file.size; at += chunk) {
    const part = file.slice(at, Math.min(file.size, at + chunk));
    n += sync ? sync.readAsArrayBuffer(part).byteLength : (await part.arrayBuffer()).byteLength;
  }
  return n;
}

let bytes: Uint8Array | null = null;
let gzip = false;
let name = 'log';

/**
 * The log in memory as a Blob to the session: its stream gives views of `chunk` bytes (no reading worker: there is
 * no Worker in this one, see below), its slices are Blobs of their own (the gzip check, seeks).
 */
function memoryBlob(b: Uint8Array, chunk: number): Blob {
  return {
    size: b.length,
    type: '',
    slice: (from?: number, to?: number) => new Blob([b.subarray(from ?? 0, to ?? b.length) as BlobPart]),
    stream: () => {
      let at = 0;
      return new ReadableStream<Uint8Array>({
        pull(c) {
          if (at >= b.length) c.close();
          else c.enqueue(b.subarray(at, (at = Math.min(b.length, at + chunk))));
        },
      });
    },
  } as unknown as Blob;
}

/** The viewer's LogSession loading `file` with no reading worker beside it (readBeside reads in line where there is no Worker). */
async function timedSession(file: Blob, fileName: string, opts: SessionOptions): Promise<void> {
  (globalThis as { Worker?: unknown }).Worker = undefined;
  const api = loadViewerApi();
  if ('missing' in api) throw new Error(api.missing.join(', '));
  const t0 = performance.now();
  const r = await new LogSession(api, file, fileName, opts).load();
  ctx.postMessage({ kind: 'done', ms: performance.now() - t0, lastSeq: r.lastSeq, snapshots: r.snapshots, waitMs: r.waitMs, packMs: r.packMs });
}

type Message =
  | { kind: 'read'; file: File }
  | { kind: 'run' }
  | { kind: 'session'; opts: SessionOptions; chunk: number }
  | { kind: 'session-file'; file: File; name: string; opts: SessionOptions }
  | { kind: 'read-only'; file: File; how: string; chunk: number };

ctx.onmessage = async (ev: MessageEvent<Message>) => {
  const m = ev.data;
  if (m.kind === 'read-only') {
    // the cost of reading a File by one way or another: the viewer's reader worker reads its stream
    const t0 = performance.now();
    const n = await readAll(m.file, m.how, m.chunk);
    ctx.postMessage({ kind: 'done', ms: performance.now() - t0, bytes: n });
    return;
  }
  if (m.kind === 'read') {
    // the log into memory, before anything is timed
    bytes = new Uint8Array(await m.file.arrayBuffer());
    gzip = m.file.name.endsWith('.gz');
    name = m.file.name;
    ctx.postMessage({ kind: 'ready' });
    return;
  }
  // the viewer's LogSession over the File itself, read in line by its stream; or over the log in memory: its
  // snapshots, samples and marks, without the page
  if (m.kind === 'session-file') return timedSession(m.file, m.name, m.opts);
  if (m.kind === 'session') return timedSession(memoryBlob(bytes!, m.chunk), name, m.opts);
  const t0 = performance.now();
  const src = gzip ? streamed((new Blob([bytes! as BlobPart]).stream() as ReadableStream<Uint8Array>).pipeThrough(gunzipMembers(name))) : views(bytes!);
  const lastSeq = await replayLoop(src, name);
  ctx.postMessage({ kind: 'done', ms: performance.now() - t0, lastSeq });
};
