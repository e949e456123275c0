/**
 * The viewer's log reader: @memhp/events' reader (readLogStream), with the same verdict on every log, made cheaper
 * for the browser. Chromium parses the whole lines of a chunk as one JSON array about twice as fast as it parses
 * them one by one, and splitting the chunk's text into lines cost it as much again (measured on the viewer bench's
 * log: 0.9 s against 1.7 s for JSON.parse, plus 0.1–0.4 s for the split, in the viewer's worker). So each chunk's
 * whole lines are decoded once, every newline replaced by `,\n<nonce>,` and the result parsed as one array; each
 * event is then checked with the reader's own checks (checkEventValue: envelope, payload schema, upcast) and the
 * reader's seq and time order.
 *
 * The array holds the lines one element each exactly when every inserted separator is at its top level: the nonce
 * is a random number drawn per reader, which no line can predict, so an element at an odd place equal to it is an
 * inserted separator, and an inserted separator inside a string is a raw newline there, which JSON refuses. So
 * when the array alternates element, nonce, element … and holds as many elements as the chunk has lines (the length
 * the replacement added says how many newlines there were), element i is line i parsed alone. Any chunk that fails
 * this, or whose text is not UTF-8, or whose events fail a check, or any failure of the source, and the log's last
 * line when it has no newline: the reader itself takes over from that chunk's first line to the end of the log, and
 * gives its own located error or warning. The byte offset after each batch's last line comes for free (the chunk's
 * last newline): a seek starts reading the log there.
 */
import type { CatalogueLike, Envelope, HeaderLike } from './core-adapter.js';

interface Where {
  file: string;
  line: number;
}

/** What this reader uses from @memhp/events (the viewer's core-adapter resolves it). */
export interface FramedEvents {
  readLogStream(
    src: AsyncIterable<Uint8Array>,
    opts: { file: string; catalogue: CatalogueLike; resume?: { header: HeaderLike; seq: number; line: number; time?: number } },
  ): { header(): Promise<HeaderLike>; batches?(): AsyncIterable<readonly Envelope[]>; events(): AsyncIterable<Envelope> };
  checkEventValue(value: unknown, where: Where, catalogue: CatalogueLike): Envelope;
  mayHoldForbiddenKey(text: string): boolean;
  findForbiddenKey(value: unknown): string | null;
}

/** The events of one chunk's whole lines, and the byte offset (in the decompressed log) after the last one. */
export interface EventBatch {
  readonly events: readonly Envelope[];
  readonly end: number;
}

const NL = 10;
/** The reader's default longest line (@memhp/events DEFAULT_MAX_LINE_BYTES). */
export const MAX_LINE_BYTES = 1 << 20;

function concat(parts: Uint8Array[], bytes: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(bytes);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A random integer between 2^52 and 2^53 (exact as a double), from the platform's CSPRNG. */
function drawNonce(): number {
  const w = new Uint32Array(2);
  crypto.getRandomValues(w);
  return 2 ** 52 + (w[0]! & 0xfffff) * 2 ** 32 + w[1]!;
}

export class FramedLogReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private readonly fatal = new TextDecoder('utf-8', { fatal: true });
  private readonly nonce = drawNonce();
  private readonly sep: string;
  /** Bytes read and not yet passed on (the header, or the part of a line a chunk ended with). */
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  /** Offset in the log of the first byte held (of the next line). */
  private pos = 0;
  /** Number (1-based, the header is 1) of the next line; seq and time of the last event passed on. */
  private line = 1;
  private seq = 0;
  private time = 0;
  private hdr: HeaderLike | null = null;
  private headerEnd = -1;
  /** The source's failure while the header was read, after a whole header: the reader reports it after the header. */
  private failed: { e: unknown } | null = null;
  /** The bytes read with the header, after its newline: the first chunk the events are read from. */
  private rest: Uint8Array | null = null;
  /** Milliseconds spent waiting for chunks (the load schedules snapshots by its own busy time). */
  waitMs = 0;
  /** Bytes read from the source. */
  bytes = 0;
  /** Chunks taken by one JSON.parse, and whether the reader took over (for tests). */
  readonly paths = { fast: 0, reader: false };

  constructor(
    src: AsyncIterable<Uint8Array>,
    private readonly file: string,
    private readonly catalogue: CatalogueLike,
    private readonly events: FramedEvents,
  ) {
    this.it = src[Symbol.asyncIterator]();
    this.sep = `,\n${this.nonce},`;
  }

  /** Offset of the first event line (the byte after the header's newline); −1 before the header is read. */
  get firstLineOffset(): number {
    return this.headerEnd;
  }

  private async pull(): Promise<IteratorResult<Uint8Array>> {
    const t0 = performance.now();
    try {
      const r = await this.it.next();
      if (!r.done) this.bytes += r.value.byteLength;
      return r;
    } finally {
      this.waitMs += performance.now() - t0;
    }
  }

  private hold(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.held.push(piece);
    this.heldBytes += piece.length;
  }

  /**
   * The header line, read by the reader itself from the chunks that hold it (a log without a whole first line, an
   * empty one … get its messages).
   */
  async header(): Promise<HeaderLike> {
    if (this.hdr) return this.hdr;
    let nl = -1;
    let failed: { e: unknown } | null = null;
    while (nl < 0 && this.heldBytes <= MAX_LINE_BYTES) {
      let r: IteratorResult<Uint8Array>;
      try {
        r = await this.pull();
      } catch (e) {
        failed = { e };
        break;
      }
      if (r.done) break;
      const i = r.value.indexOf(NL);
      if (i >= 0) nl = this.heldBytes + i;
      this.hold(r.value);
    }
    const all = concat(this.held, this.heldBytes);
    const head = nl < 0 ? all : all.subarray(0, nl + 1);
    // the reader is given the chunks as read (its verdict on the header's chunk can depend on them: it checks a
    // chunk's UTF-8 whole before it reads the first line of it)
    const chunks = this.held;
    const reader = this.events.readLogStream(
      (async function* () {
        yield* chunks;
        if (failed) throw failed.e;
      })(),
      { file: this.file, catalogue: this.catalogue },
    );
    this.hdr = await reader.header();
    this.headerEnd = head.length;
    this.line = 2;
    this.pos = head.length;
    this.held = [];
    this.heldBytes = 0;
    if (nl >= 0 && nl + 1 < all.length) this.rest = all.subarray(nl + 1);
    this.failed = failed;
    return this.hdr;
  }

  /** The events, one batch per chunk; once the reader has taken over, one per chunk it reads. */
  async *batches(): AsyncGenerator<EventBatch> {
    const header = await this.header();
    if (this.failed) {
      yield* this.takeOver(header, this.rest ? [this.rest] : [], this.failed.e);
      return;
    }
    for (;;) {
      let c: Uint8Array;
      if (this.rest) {
        c = this.rest;
        this.rest = null;
      } else {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await this.pull();
        } catch (e) {
          yield* this.takeOver(header, this.held, e);
          return;
        }
        if (r.done) break;
        c = r.value;
      }
      const last = c.lastIndexOf(NL);
      if (last < 0) {
        this.hold(c.slice());
        // a line too long: the reader says so (it rejects it before its end)
        if (this.heldBytes > MAX_LINE_BYTES) {
          yield* this.takeOver(header, this.held);
          return;
        }
        continue;
      }
      const whole = this.heldBytes ? concat([...this.held, c.subarray(0, last + 1)], this.heldBytes + last + 1) : c.subarray(0, last + 1);
      const events = this.fast(whole);
      if (!events) {
        yield* this.takeOver(header, [whole, c.subarray(last + 1)]);
        return;
      }
      this.paths.fast++;
      this.pos += whole.length;
      this.held = [];
      this.heldBytes = 0;
      this.hold(c.slice(last + 1));
      yield { events, end: this.pos };
    }
    // the log's last line, without its newline: the reader takes it whole or ignores it torn
    if (this.heldBytes > 0) yield* this.takeOver(header, this.held);
  }

  /** One JSON.parse of whole lines (ending with a newline) and the reader's checks of each event; null: the reader must decide. */
  private fast(whole: Uint8Array): Envelope[] | null {
    // a line the reader would refuse as too long: only a chunk longer than that can hold one
    if (whole.length > MAX_LINE_BYTES) {
      let start = 0;
      for (let i = whole.indexOf(NL); i !== -1; i = whole.indexOf(NL, i + 1)) {
        if (i - start > MAX_LINE_BYTES) return null;
        start = i + 1;
      }
    }
    let text: string;
    try {
      text = this.fatal.decode(whole.subarray(0, whole.length - 1));
    } catch {
      return null;
    }
    const joined = text.replaceAll('\n', this.sep);
    const lines = 1 + (joined.length - text.length) / (this.sep.length - 1);
    let arr: unknown[];
    try {
      arr = JSON.parse('[' + joined + ']') as unknown[];
    } catch {
      return null;
    }
    if (arr.length !== 2 * lines - 1) return null;
    // as parseJson checks a line: a forbidden key only where the text may hold one
    if (this.events.mayHoldForbiddenKey(text) && this.events.findForbiddenKey(arr) !== null) return null;
    const out = new Array<Envelope>(lines);
    let s = this.seq;
    let t = this.time;
    const nonce = this.nonce;
    for (let i = 0; i < lines; i++) {
      if (i > 0 && arr[2 * i - 1] !== nonce) return null;
      let e: Envelope;
      try {
        e = this.events.checkEventValue(arr[2 * i], { file: this.file, line: this.line + i }, this.catalogue);
      } catch {
        return null;
      }
      if (e.seq !== s + 1 || e.time < t) return null;
      out[i] = e;
      s = e.seq;
      t = e.time;
    }
    this.seq = s;
    this.time = t;
    this.line += lines;
    return out;
  }

  /**
   * The reader itself from here to the end: `first` (the bytes from the next line on), then the rest of the source
   * (or the source's failure). Each of its batches ends where the bytes it has split so far end their last line.
   */
  private async *takeOver(header: HeaderLike, first: Uint8Array[], failure?: unknown): AsyncGenerator<EventBatch> {
    this.paths.reader = true;
    let read = this.pos; // offset after the bytes handed to the reader
    let lineEnd = this.pos; // offset after the last newline among them
    let done = false;
    const note = (c: Uint8Array) => {
      const i = c.lastIndexOf(NL);
      if (i >= 0) lineEnd = read + i + 1;
      read += c.length;
    };
    const src = async function* (this: FramedLogReader): AsyncGenerator<Uint8Array> {
      for (const c of first) {
        note(c);
        yield c;
      }
      if (failure !== undefined) throw failure;
      for (;;) {
        const r = await this.pull();
        if (r.done) break;
        note(r.value);
        yield r.value;
      }
      done = true;
    }.call(this);
    const reader = this.events.readLogStream(src, { file: this.file, catalogue: this.catalogue, resume: { header, seq: this.seq, line: this.line, time: this.time } });
    const batches = reader.batches ? reader.batches() : singles(reader.events());
    for await (const events of batches) {
      // the reader hands on a chunk's lines before it reads the next chunk; the last line without a newline comes
      // once the source is done
      yield { events, end: done ? read : lineEnd };
    }
  }
}

async function* singles<T>(it: AsyncIterable<T>): AsyncGenerator<readonly T[]> {
  for await (const x of it) yield [x];
}
