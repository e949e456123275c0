/// <reference lib="webworker" />
/**
 * The load-floor probe's worker (bench/load-floor.ts): the CLI's replay loop (memhp replay's replayLog: @memhp/events'
 * readLogStream, batches, core's evolve) run bare in a Chromium worker: no page to draw, no reader or inflate worker,
 * no snapshots, no progress messages. The log is read into memory first (not timed) and handed to the reader in
 * 1 MiB views, as Node's file stream hands the CLI its chunks. `gzip` inflates the in-memory gzip bytes on the way, in
 * line, with the viewer's own multi-member gunzip (pako; the browser's DecompressionStream stops after the first
 * member): inflate and replay on one thread, where the CLI's zlib runs on a thread of its own. `read-only` reads a
 * File whole by one way or another (its stream, slices, FileReaderSync), and does nothing else: what reading costs.
 */
import { readLogStream } from '@memhp/events';
import { createCoreCatalogue, evolve, initialStateFromHeader } from '@memhp/core';
import { gunzipMembers } from '../viewer/gunzip.js';
import { loadViewerApi } from '../viewer/core-adapter.js';
import { LogSession, type SessionOptions } from '../viewer/session.js';

const ctx = self as unknown as DedicatedWorkerGlobalScope;
const CHUNK = 1 << 20;

async function* views(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += CHUNK) yield bytes.subarray(i, Math.min(bytes.length, i + CHUNK));
}

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
      if (value.byteOffset === 0 && value.byteLength === value.buffer.byteLength) owned++;
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
  if (m.kind === 'session-file') {
    // the viewer's LogSession over the File itself, read in line by its stream (no reading worker beside it)
    (globalThis as { Worker?: unknown }).Worker = undefined;
    const api = loadViewerApi();
    if ('missing' in api) throw new Error(api.missing.join(', '));
    const t0 = performance.now();
    const r = await new LogSession(api, m.file, m.name, m.opts).load();
    ctx.postMessage({ kind: 'done', ms: performance.now() - t0, lastSeq: r.lastSeq, snapshots: r.snapshots, waitMs: r.waitMs, packMs: r.packMs });
    return;
  }
  if (m.kind === 'session') {
    // the viewer's LogSession over the log in memory: its snapshots, samples and marks, without the reading worker
    // (readBeside reads in line where there is no Worker) and without the page
    (globalThis as { Worker?: unknown }).Worker = undefined;
    const api = loadViewerApi();
    if ('missing' in api) throw new Error(api.missing.join(', '));
    const t0 = performance.now();
    const r = await new LogSession(api, memoryBlob(bytes!, m.chunk), name, m.opts).load();
    ctx.postMessage({ kind: 'done', ms: performance.now() - t0, lastSeq: r.lastSeq, snapshots: r.snapshots, waitMs: r.waitMs, packMs: r.packMs });
    return;
  }
  const t0 = performance.now();
  const src = gzip ? streamed((new Blob([bytes! as BlobPart]).stream() as ReadableStream<Uint8Array>).pipeThrough(gunzipMembers(name))) : views(bytes!);
  const reader = readLogStream(src, { file: name, catalogue: createCoreCatalogue() });
  const state = initialStateFromHeader(await reader.header());
  let lastSeq = 0;
  for await (const batch of reader.batches()) {
    for (const e of batch) {
      evolve(state, e);
      lastSeq = e.seq;
    }
  }
  ctx.postMessage({ kind: 'done', ms: performance.now() - t0, lastSeq });
};
