/**
 * The viewer's log reader: @memhp/events' reader (readLogStream) itself, over the log's chunks as they come, noting
 * where the lines of each of its batches end. The reader hands on one batch per chunk it splits (the chunk's whole
 * lines), before it reads the next chunk, so a batch ends at the last newline of the last chunk read; the log's last
 * line without a newline comes once the source is done, and ends the log. Those offsets come for free (one
 * lastIndexOf a chunk): noting where every line starts took an indexOf for each newline (0.25–0.65 s of CPU for the
 * viewer bench's log in a Chromium page) and 8 bytes a line. A seek starts reading the log at such an offset.
 *
 * (Parsing a chunk's lines as one JSON array, with a separator no line can forge between them, measured no cheaper
 * in Chromium once its events are kept, so each line is parsed by the reader, as `memhp replay` parses it.)
 */
import type { CatalogueLike, Envelope, HeaderLike } from './core-adapter.js';

/** What this reader uses from @memhp/events (the viewer's core-adapter resolves it). */
export interface FramedEvents {
  readLogStream(
    src: AsyncIterable<Uint8Array>,
    opts: { file: string; catalogue: CatalogueLike },
  ): { header(): Promise<HeaderLike>; batches?(): AsyncIterable<readonly Envelope[]>; events(): AsyncIterable<Envelope> };
}

/** The events of one chunk's whole lines, and the byte offset (in the decompressed log) after the last one. */
export interface EventBatch {
  readonly events: readonly Envelope[];
  readonly end: number;
}

const NL = 10;

export class FramedLogReader {
  private readonly reader: ReturnType<FramedEvents['readLogStream']>;
  /** Bytes read from the source. */
  bytes = 0;
  /** Offset after the last newline read, and after the first (the header's). */
  private lineEnd = 0;
  private headerEnd = -1;
  private done = false;
  /** Milliseconds spent waiting for chunks (the load schedules snapshots by its own busy time). */
  waitMs = 0;

  constructor(src: AsyncIterable<Uint8Array>, file: string, catalogue: CatalogueLike, events: FramedEvents) {
    this.reader = events.readLogStream(this.tap(src[Symbol.asyncIterator]()), { file, catalogue });
  }

  /** The source's chunks, noting the waits for them, the bytes read, and where the lines among them end. */
  private async *tap(it: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
    for (;;) {
      const t0 = performance.now();
      let r: IteratorResult<Uint8Array>;
      try {
        r = await it.next();
      } finally {
        this.waitMs += performance.now() - t0;
      }
      if (r.done) break;
      const c = r.value;
      const last = c.lastIndexOf(NL);
      if (last >= 0) {
        if (this.headerEnd < 0) this.headerEnd = this.bytes + c.indexOf(NL) + 1;
        this.lineEnd = this.bytes + last + 1;
      }
      this.bytes += c.byteLength;
      yield c;
    }
    this.done = true;
  }

  /** Offset of the first event line (the byte after the header's newline; the log's end when it has none). */
  get firstLineOffset(): number {
    return this.headerEnd >= 0 ? this.headerEnd : this.bytes;
  }

  header(): Promise<HeaderLike> {
    return this.reader.header();
  }

  /** The events, one batch per chunk the reader splits, each with the offset after its last line. */
  async *batches(): AsyncGenerator<EventBatch> {
    const r = this.reader;
    if (!r.batches) {
      // a reader without batches: no offsets (−1: a seek reads from the top)
      for await (const e of r.events()) yield { events: [e], end: -1 };
      return;
    }
    for await (const events of r.batches()) yield { events, end: this.done ? this.bytes : this.lineEnd };
  }
}
