/// <reference lib="webworker" />
/**
 * Decompresses a gzip log beside the replay worker, so that on a machine with two cores inflating overlaps
 * parsing and replaying instead of adding to them (the CLI's gunzip runs on libuv's thread pool likewise). Reads
 * every member (gunzipMembers), sends the text on in chunks, a few at a time as the replay worker asks for them,
 * and at the end what it kept for seeks: for a file whose members say their sizes (memhp's), the index of its
 * members (MemberIndexer), and it then stays to inflate the members each seek reads (readMembers), beside the
 * replay worker's parsing again; else the decompressed text as a Blob (or null when longer than the limit), in a
 * file of the origin private file system where it can (keepBytesInFile), else in memory (keepBytes).
 */
import { countBytes, gunzipMembers, indexMembers, keepBytes, keepBytesInFile, MemberIndexer, readMembers } from './gunzip.js';
import type { FromInflate, MemberIndex, ToInflate } from './gunzip.js';
import { Credits, ownsBuffer } from './worker-stream.js';

const ctx = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromInflate, transfer: Transferable[] = []) => ctx.postMessage(m, transfer);

/** Chunks each reader (0: the load, else a seek's read) may be sent before it asks for more. */
const credits = new Credits();
/** The open seek reads, to cancel. */
const reading = new Map<number, ReadableStreamDefaultReader<Uint8Array>>();
let log: { file: Blob; name: string; index: MemberIndex } | null = null;
/**
 * Reads left open at most: the session cancels a read once it has the events it wants, but a reader that only lets go
 * of its stream (releases its reader) leaves the pipeline here waiting for credit with a chunk or two; past this many,
 * the oldest is ended (and told so, should anyone still read it), which bounds what waits here to ~8 × 0.5 MiB.
 */
const MAX_OPEN_READS = 8;

async function cancelRead(id: number): Promise<void> {
  credits.close(id);
  await reading.get(id)?.cancel().catch(() => undefined);
  reading.delete(id);
}

/** Sends `stream`'s chunks as reader `id`'s, as its credit allows; `own` says whether a chunk may be moved. */
async function send(id: number, reader: ReadableStreamDefaultReader<Uint8Array>, own: (c: Uint8Array) => boolean): Promise<boolean> {
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return true;
    if (!(await credits.take(id))) return false; // cancelled
    const chunk = own(value) ? value : value.slice();
    post({ kind: 'chunk', id, chunk }, [chunk.buffer]);
  }
}

/** A chunk that is the whole of its buffer, which nothing else holds: pako's output buffers are used once. */
const whole = ownsBuffer;

ctx.onmessage = async (ev: MessageEvent<ToInflate>) => {
  const m = ev.data;
  if (m.kind === 'more') {
    credits.grant(m.id, m.chunks);
    return;
  }
  if (m.kind === 'cancel') {
    await cancelRead(m.id);
    return;
  }
  if (m.kind === 'read') {
    if (reading.size >= MAX_OPEN_READS) {
      const oldest = Math.min(...reading.keys());
      post({ kind: 'error', id: oldest, message: `${log?.name ?? 'the log'}: a read left open was ended (more than ${MAX_OPEN_READS} open)` });
      void cancelRead(oldest);
    }
    credits.open(m.id, m.credit);
    try {
      if (!log) throw new Error('no log loaded to read from');
      const reader = readMembers(log.file, log.name, log.index, m.from, m.to).getReader();
      reading.set(m.id, reader);
      if (await send(m.id, reader, whole)) post({ kind: 'end', id: m.id, kept: null });
    } catch (e) {
      if (credits.isOpen(m.id)) post({ kind: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
    } finally {
      credits.close(m.id);
      reading.delete(m.id);
    }
    return;
  }
  credits.open(0, m.credit);
  try {
    let text: Blob | null = null;
    const keep = (t: Blob | null): void => {
      text = t;
    };
    const indexer = m.keep.index ? new MemberIndexer() : null;
    const file = { bytes: 0 };
    const out = { bytes: 0 };
    const inFile = !m.keep.index && m.keptFile ? await keepBytesInFile(m.keptFile, m.keep.limit, keep) : null;
    let stream = m.file.stream() as ReadableStream<Uint8Array>;
    if (indexer) stream = stream.pipeThrough(indexMembers(indexer, file));
    stream = stream.pipeThrough(gunzipMembers(m.name));
    stream = m.keep.index ? stream.pipeThrough(countBytes(out)) : stream.pipeThrough(inFile ?? keepBytes(m.keep.limit, keep));
    // Moved without a copy where nothing else holds the chunk: keepBytesInFile has written it to its file, and a
    // chunk of gunzipMembers that fills its own buffer (pako's) is used nowhere else; keepBytes still holds its
    // chunks until it makes its next Blob: those go as copies.
    await send(0, stream.getReader(), (c) => (indexer !== null || inFile !== null) && whole(c));
    const index = indexer?.result(file.bytes, out.bytes) ?? null;
    if (index) log = { file: m.file, name: m.name, index: { comp: index.comp.slice(), text: index.text.slice(), complete: index.complete } };
    post({ kind: 'end', id: 0, kept: { text, index } }, index ? [index.comp.buffer, index.text.buffer] : []);
  } catch (e) {
    post({ kind: 'error', id: 0, message: e instanceof Error ? e.message : String(e) });
  }
};
