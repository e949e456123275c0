/**
 * A gzip log as the viewer's session reads it: the whole text once for the load (inflated in a worker of its own
 * beside the replay worker where the platform has workers, else in line), then, for seeks, the text from any offset.
 *
 * A log whose members say their sizes (memhp's gzip writer: BGZF 'BC' subfields) keeps only an index of its members,
 * built from their headers while the load reads the file: a seek inflates the members from the one its text starts
 * in up to the one its text ends in, from the gzip file itself — no copy of the text is kept, so the memory a gzip
 * log costs beyond the file is ~16 bytes a member (~5 KiB for the viewer bench's 174 MB log: 334 members). Any other
 * gzip file (gzip(1)'s one member) keeps its text, up to a limit, as before (gunzip.ts: keepBytesInFile/keepBytes);
 * past the limit, or when the index does not add up, a seek inflates from the top.
 */
import { countBytes, gunzipMembers, hasMemberSizes, indexMembers, inflateBeside, keepBytes, MemberIndexer, readMembers, skipBytes } from './gunzip.js';
import type { Kept } from './gunzip.js';

export interface GzipLog {
  /** The whole decompressed text, for the load; read it to its end before any read(). */
  readonly text: ReadableStream<Uint8Array>;
  /**
   * The decompressed text from byte `from` on, at least up to byte `to` (−1: to the end); it may go on past `to` up
   * to the end of a member.
   */
  read(from: number, to: number): ReadableStream<Uint8Array>;
  /** What read() reads from: the member index, the text kept, or the gzip file from its top. */
  readonly seekSource: 'members' | 'kept' | 'top';
  /** Bytes kept for seeks beyond the file itself (the kept text, or the index's entries). */
  readonly keptBytes: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Whether a file starts as gzip does. */
export async function isGzip(blob: Blob): Promise<boolean> {
  const b = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  return b[0] === GZIP_MAGIC[0] && b[1] === GZIP_MAGIC[1];
}

/** Calls `end` when the stream through it ends. */
function onEnd(end: () => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform: (chunk, ctl) => ctl.enqueue(chunk),
    flush: end,
  });
}

/**
 * Opens a gzip log (`file` starts with the gzip magic): its text for the load, and what its seeks will read.
 * `keepLimit` bounds the text kept for a file whose members do not say their sizes.
 */
export async function openGzipLog(file: Blob, name: string, keepLimit: number): Promise<GzipLog> {
  const sized = await hasMemberSizes(file);
  let kept: Kept = { text: null, index: null };
  const done = (k: Kept): void => {
    kept = k;
  };
  let text = inflateBeside(file, name, sized ? { index: true } : { index: false, limit: keepLimit }, done);
  if (!text) {
    // in line (no workers: Node, the tests)
    text = file.stream() as ReadableStream<Uint8Array>;
    if (sized) {
      const indexer = new MemberIndexer();
      const counted = { bytes: 0 };
      const out = { bytes: 0 };
      text = text
        .pipeThrough(indexMembers(indexer, counted))
        .pipeThrough(gunzipMembers(name))
        .pipeThrough(countBytes(out))
        .pipeThrough(onEnd(() => done({ text: null, index: indexer.result(counted.bytes, out.bytes) })));
    } else text = text.pipeThrough(gunzipMembers(name)).pipeThrough(keepBytes(keepLimit, (t) => done({ text: t, index: null })));
  }
  return {
    text,
    read(from, to) {
      if (kept.text) return kept.text.slice(from, to >= 0 ? to : undefined).stream() as ReadableStream<Uint8Array>;
      // the inflate worker's, where it stayed for the seeks; else in line
      if (kept.read) return kept.read(from, to);
      if (kept.index) return readMembers(file, name, kept.index, from, to);
      return (file.stream() as ReadableStream<Uint8Array>).pipeThrough(gunzipMembers(name)).pipeThrough(skipBytes(from));
    },
    get seekSource() {
      return kept.text ? 'kept' : kept.index ? 'members' : 'top';
    },
    get keptBytes() {
      return kept.text ? kept.text.size : kept.index ? kept.index.comp.byteLength + kept.index.text.byteLength : 0;
    },
  };
}
