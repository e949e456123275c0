/// <reference lib="webworker" />
/**
 * Decompresses a gzip log beside the replay worker, so that on a machine with two cores inflating overlaps
 * parsing and replaying instead of adding to them (the CLI's gunzip runs on libuv's thread pool likewise). Reads
 * every member (gunzipMembers), sends the text on in chunks, a few at a time as the replay worker asks for them,
 * and at the end what it kept for seeks: for a file whose members say their sizes (memhp's), the index of its
 * members (MemberIndexer: a seek inflates only the members it reads); else the decompressed text as a Blob (or null
 * when longer than the limit), in a file of the origin private file system where it can (keepBytesInFile), else in
 * memory (keepBytes).
 */
import { countBytes, gunzipMembers, indexMembers, keepBytes, keepBytesInFile, MemberIndexer } from './gunzip.js';
import type { FromInflate, Kept, ToInflate } from './gunzip.js';

const ctx = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromInflate, transfer: Transferable[] = []) => ctx.postMessage(m, transfer);

let credit = 0;
let wake: (() => void) | null = null;

ctx.onmessage = async (ev: MessageEvent<ToInflate>) => {
  const m = ev.data;
  if (m.kind === 'more') {
    credit += m.chunks;
    wake?.();
    wake = null;
    return;
  }
  credit = m.credit;
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
    const reader = stream.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      while (credit <= 0) await new Promise<void>((r) => (wake = r));
      credit--;
      // Moved without a copy where nothing else holds the chunk: keepBytesInFile has written it to its file, and a
      // chunk of gunzipMembers that fills its own buffer (pako's) is used nowhere else; keepBytes still holds its
      // chunks until it makes its next Blob: those go as copies.
      const own = (indexer !== null || inFile !== null) && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
      const chunk = own ? value : value.slice();
      post({ kind: 'chunk', chunk }, [chunk.buffer]);
    }
    const index = indexer?.result(file.bytes, out.bytes) ?? null;
    const kept: Kept = { text, index };
    post({ kind: 'end', kept }, index ? [index.comp.buffer, index.text.buffer] : []);
  } catch (e) {
    post({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
