import { Observable } from 'rxjs';
import type { EventCatalogue } from './catalogue.js';
import type { EventEnvelope } from './envelope.js';
import type { LogHeader } from './header.js';
import { parseEventLine, parseHeaderLine } from './line.js';
import { LogError, type LogErrorCode } from './log-error.js';
import { LineSplitter, type LineBatch } from './lines.js';

export const DEFAULT_MAX_LINE_BYTES = 1 << 20;

export interface ReadOptions {
  /** Name used in every message (`run.ndjson:17: …`). */
  file: string;
  catalogue: EventCatalogue;
  /** Make a torn last line an error instead of a warning. */
  strict?: boolean;
  /** Longest accepted line; longer lines are rejected without being buffered. Default 1 MiB. */
  maxLineBytes?: number;
  /** Receives recoverable problems (a torn last line) when not strict. Default: ignored after being counted. */
  onWarning?: (w: LogError) => void;
  /** Yield events as recorded, without upcasting. Default false. */
  raw?: boolean;
  /**
   * Resume mid-log (from a byte-offset index): the stream starts at an event line rather than the header.
   * `header` is the log's header (read separately); `seq` is the seq of the last event before the stream.
   */
  resume?: { header: LogHeader; seq: number; line: number; time?: number };
}

export interface LogReader {
  header(): Promise<LogHeader>;
  /** Validated, upcast, seq-checked events. Single use. */
  events(): AsyncIterable<EventEnvelope>;
  observable(): Observable<EventEnvelope>;
  /**
   * The same events in the chunks they were decoded in: the fast path replay uses. Single use. Optional so that
   * other LogReader implementations stay valid; replay falls back to events().
   */
  batches?(): AsyncIterable<readonly EventEnvelope[]>;
}

/** What this package's readers return: a LogReader whose batches() is always there. */
export interface BatchedLogReader extends LogReader {
  batches(): AsyncIterable<readonly EventEnvelope[]>;
}

/**
 * A failure of the byte source itself (a corrupt or truncated gzip stream, an I/O error). Sources throw it;
 * the reader turns it into a LogError located at the line being read.
 */
export class SourceError extends Error {
  readonly code: 'corrupt-gzip' | 'io' | 'truncated';
  constructor(code: 'corrupt-gzip' | 'io' | 'truncated', message: string) {
    super(message);
    this.name = 'SourceError';
    this.code = code;
  }
}

type ChunkSource = AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

function iterate(src: ChunkSource): AsyncIterator<Uint8Array> {
  if (Symbol.asyncIterator in src) return (src as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const reader = (src as ReadableStream<Uint8Array>).getReader();
  return {
    async next() {
      const r = await reader.read();
      return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
    },
    async return() {
      await reader.cancel();
      return { done: true, value: undefined };
    },
  };
}

/** Streaming reader over a web ReadableStream<Uint8Array> or an async iterable of chunks (browser and Node). */
export function readLogStream(src: ChunkSource, opts: ReadOptions): BatchedLogReader {
  return new StreamLogReader(iterate(src), opts);
}

class StreamLogReader implements BatchedLogReader {
  readonly #src: AsyncIterator<Uint8Array>;
  readonly #opts: ReadOptions;
  readonly #splitter: LineSplitter;
  #header: LogHeader | undefined;
  #headerPromise: Promise<LogHeader> | undefined;
  /** Lines already split but not yet parsed (at most one chunk's worth). */
  #pending: LineBatch | undefined;
  #pendingIndex = 0;
  #srcDone = false;
  #consumed = false;
  #truncated: string | undefined;
  #deferred: unknown;
  #expectSeq: number;
  #lastTime: number;

  constructor(src: AsyncIterator<Uint8Array>, opts: ReadOptions) {
    this.#src = src;
    this.#opts = opts;
    const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isSafeInteger(max) || max < 64) throw new RangeError('maxLineBytes must be an integer ≥ 64');
    this.#splitter = new LineSplitter(opts.file, max, opts.resume ? opts.resume.line : 1);
    this.#expectSeq = (opts.resume?.seq ?? 0) + 1;
    this.#lastTime = opts.resume?.time ?? 0;
    if (opts.resume) this.#header = opts.resume.header;
  }

  header(): Promise<LogHeader> {
    if (this.#header) return Promise.resolve(this.#header);
    this.#headerPromise ??= this.#readHeader();
    return this.#headerPromise;
  }

  async #readHeader(): Promise<LogHeader> {
    const where = { file: this.#opts.file, line: 1 };
    for (;;) {
      if (this.#pending && this.#pendingIndex < this.#pending.lines.length) {
        const text = this.#pending.lines[this.#pendingIndex++]!;
        this.#header = parseHeaderLine(text, where, this.#opts.catalogue);
        return this.#header;
      }
      const batch = await this.#nextLines();
      if (batch === null) {
        const tail = this.#splitter.end();
        if (tail) {
          // A header without its newline is only acceptable if it is whole; a torn one leaves nothing to replay.
          try {
            if (tail.text === null) throw new LogError('not-json', where, 'not UTF-8');
            this.#header = parseHeaderLine(tail.text, where, this.#opts.catalogue);
          } catch (e) {
            if (e instanceof LogError && e.code === 'not-json') {
              throw new LogError('missing-header', where, 'the header line is torn (file ends inside it)');
            }
            throw e;
          }
          return this.#header;
        }
        throw new LogError('missing-header', where, 'empty log: no memhp-log header line');
      }
    }
  }

  /** Pull chunks until at least one whole line is available; null at end of input. */
  async #nextLines(): Promise<LineBatch | null> {
    for (;;) {
      if (this.#srcDone) return null;
      let r: IteratorResult<Uint8Array>;
      try {
        r = await this.#src.next();
      } catch (e) {
        this.#srcFailed(e);
        return null;
      }
      if (r.done) {
        this.#srcDone = true;
        return null;
      }
      const batch = this.#splitter.push(r.value);
      if (batch.lines.length > 0) {
        this.#pending = batch;
        this.#pendingIndex = 0;
        return batch;
      }
    }
  }

  #srcFailed(e: unknown): void {
    this.#srcDone = true;
    const where = { file: this.#opts.file, line: this.#splitter.currentLine };
    if (e instanceof LogError) throw e;
    if (e instanceof SourceError && e.code === 'truncated') {
      // Reported once at the end, together with the torn line it usually leaves.
      this.#truncated = e.message;
      return;
    }
    const code: LogErrorCode = e instanceof SourceError && e.code === 'corrupt-gzip' ? 'corrupt-gzip' : 'io';
    throw new LogError(code, where, e instanceof Error ? e.message : String(e));
  }

  #tornWarning(where: { file: string; line: number }, detail: string): void {
    const w = new LogError('torn-line', where, detail);
    if (this.#opts.strict) throw w;
    this.#opts.onWarning?.(w);
  }

  async *batches(): AsyncGenerator<readonly EventEnvelope[]> {
    if (this.#consumed) throw new Error(`${this.#opts.file}: a LogReader's events can be read only once`);
    this.#consumed = true;
    try {
      await this.header();
      for (;;) {
        if (this.#deferred !== undefined) throw this.#deferred;
        const p = this.#pending;
        if (p && this.#pendingIndex < p.lines.length) {
          const out = this.#parseBatch(p, this.#pendingIndex);
          this.#pendingIndex = p.lines.length;
          if (out.length > 0) yield out;
          continue;
        }
        if ((await this.#nextLines()) === null) break;
      }
      const tail = this.#splitter.end();
      if (tail) {
        const where = { file: this.#opts.file, line: tail.line };
        let e: EventEnvelope | undefined;
        try {
          if (tail.text === null) throw new LogError('not-json', where, 'not UTF-8');
          e = this.#parse(tail.text, where.line);
        } catch (err) {
          if (!(err instanceof LogError && err.code === 'not-json')) throw err;
          const why = this.#truncated !== undefined ? ` (${this.#truncated})` : '';
          this.#tornWarning(where, `the last line is torn (no newline and not complete JSON)${why}; ignored`);
        }
        if (e) yield [e];
      }
      if (this.#truncated !== undefined && !tail) {
        this.#tornWarning({ file: this.#opts.file, line: this.#splitter.currentLine }, `${this.#truncated}; the log was cut short (a killed writer?)`);
      }
    } finally {
      if (!this.#srcDone) {
        this.#srcDone = true;
        await this.#src.return?.();
      }
    }
  }

  async *events(): AsyncGenerator<EventEnvelope> {
    for await (const batch of this.batches()) yield* batch;
  }

  observable(): Observable<EventEnvelope> {
    return observeBatches(() => this.batches());
  }

  /** Parse a chunk's lines; on a bad line, the events before it are still delivered and the error comes next. */
  #parseBatch(p: LineBatch, from: number): EventEnvelope[] {
    const out = new Array<EventEnvelope>(p.lines.length - from);
    let i = from;
    try {
      for (; i < p.lines.length; i++) out[i - from] = this.#parse(p.lines[i]!, p.first + i);
    } catch (err) {
      if (i === from) throw err;
      this.#deferred = err;
      out.length = i - from;
    }
    return out;
  }

  #parse(text: string, line: number): EventEnvelope {
    const where = { file: this.#opts.file, line };
    let e: EventEnvelope;
    try {
      e = parseEventLine(text, where, this.#opts.catalogue, this.#opts.raw ? { raw: true } : undefined);
    } catch (err) {
      throw this.#explain(err, where);
    }
    if (e.seq !== this.#expectSeq) {
      if (e.seq > this.#expectSeq) {
        const missing = e.seq - 1 === this.#expectSeq ? `${this.#expectSeq}` : `${this.#expectSeq}..${e.seq - 1}`;
        throw new LogError('seq-gap', where, `expected seq ${this.#expectSeq}, found ${e.seq} (event ${missing} missing)`, 'seq');
      }
      throw new LogError('seq-order', where, `seq ${e.seq} repeats or goes back (expected ${this.#expectSeq})`, 'seq');
    }
    if (e.time < this.#lastTime) {
      throw new LogError('time-order', where, `time ${e.time} goes back from ${this.#lastTime}`, 'time');
    }
    this.#expectSeq++;
    this.#lastTime = e.time;
    return e;
  }

  /** A type the log's header declares but this catalogue lacks usually means a backend module was not loaded. */
  #explain(err: unknown, where: { file: string; line: number }): unknown {
    if (!(err instanceof LogError) || err.code !== 'unknown-type' || !this.#header) return err;
    const m = /^unknown event type (".*")$/.exec(err.detail);
    const type = m ? (JSON.parse(m[1]!) as string) : undefined;
    if (type === undefined || !this.#header.events.some((d) => d.type === type)) return err;
    return new LogError(
      'unknown-type',
      where,
      `${err.detail}: the log was recorded with it (see its header), but no loaded module defines it; load the backend or package that registers it`,
      'type',
    );
  }
}

/**
 * An Observable over a reader's batches: each subscription reads the log once; unsubscribing stops reading
 * and closes the source.
 */
export function observeBatches(batches: () => AsyncIterable<readonly EventEnvelope[]>): Observable<EventEnvelope> {
  return new Observable<EventEnvelope>((subscriber) => {
    const it = batches()[Symbol.asyncIterator]();
    let stopped = false;
    void (async () => {
      try {
        for (;;) {
          const r = await it.next();
          if (r.done || stopped) break;
          for (const e of r.value) {
            if (stopped) break;
            subscriber.next(e);
          }
        }
        subscriber.complete();
      } catch (err) {
        subscriber.error(err);
      }
    })();
    return () => {
      stopped = true;
      void it.return?.(undefined);
    };
  });
}
