import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { Worker } from 'node:worker_threads';
import type { Subscription } from 'rxjs';
import type { EventBus } from '../bus.js';
import { EventEncoder } from '../encoder.js';
import type { EventEnvelope } from '../envelope.js';
import type { LogHeader } from '../header.js';
import { serializeHeader } from '../line.js';
import { TAPE_FULL, TapeEncoder } from './tape.js';
import { RingWriterThread } from './writer-thread.js';

export interface LogWriterOptions {
  /** Hand a batch to the file after this many events (default 16384) … */
  batchEvents?: number;
  /** … or once it holds this many bytes (default 1 MiB), whichever comes first. */
  batchBytes?: number;
  /**
   * … or once this many milliseconds have passed since the last batch went out (default 1000), checked every
   * 256 events, so a slow run's events reach the file at bounded intervals too.
   */
  flushMs?: number;
  /** gzip level for `.gz` logs (default 6, zlib's default). */
  gzipLevel?: number;
  /**
   * fsync a plain log on close (default false). A killed process loses nothing the kernel already has; fsync
   * only matters if the machine itself may crash, and costs seconds on a GB-sized log.
   */
  fsync?: boolean;
  /**
   * Plain logs: format and write on a writer thread (default true). The caller's thread only copies each event's
   * values into a shared ring (tape.ts); the thread turns them into JSON lines and writes them. Set false to
   * write synchronously on the caller's thread (errors such as ENOSPC then throw from the very write that hit
   * them instead of from the next write/flush/close).
   */
  thread?: boolean;
  /** Size of the writer thread's shared ring, a power of two (default 8 MiB): the bound on bytes in flight. */
  ringBytes?: number;
  /**
   * Plain logs on the writer thread: write whole 4 KiB blocks with O_DIRECT, bypassing the page cache (default
   * true; a file system that refuses O_DIRECT gets ordinary writes). On this project's VM it makes writing a
   * multi-GB log several times cheaper; set false to keep every byte going through the page cache.
   */
  directIo?: boolean;
}

/**
 * Test hooks, kept out of the public options: where the ring's byte counters start, the writer thread's Worker,
 * and a number of frames after which the writer thread terminates its I/O thread.
 */
interface InternalOptions {
  counterStart?: number;
  onWorker?: (worker: Worker) => void;
  ioStopAfterFrames?: number;
}

export interface LogWriter {
  /**
   * Synchronous enqueue. Always returns true: back-pressure is synchronous (a plain writer's full ring blocks the
   * caller until the writer thread frees space; with `thread: false`, and for gzip, writeSync itself).
   */
  write(e: EventEnvelope): boolean;
  /** Subscribe to a bus (as subscriber "log-writer"): writes every event it publishes. */
  attach(bus: EventBus): Subscription;
  /** Resolves at once (kept for producers written against the earlier asynchronous gzip writer). */
  drained(): Promise<void>;
  /** Hand the current batch to the file (for gzip, as a complete gzip member, so the file decodes up to here). */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Events accepted so far. */
  readonly written: number;
  readonly path: string;
}

/**
 * Open a log for writing; a `.gz` suffix selects gzip. The header goes out immediately, events in batches.
 * A killed process leaves a valid prefix: every batch ends on a line boundary, so at most the last line of the
 * file is torn (for gzip, each batch is a complete gzip member, so everything up to the last batch decodes).
 */
export function openLogWriter(path: string, header: LogHeader, opts: LogWriterOptions = {}): LogWriter {
  return path.endsWith('.gz') ? new GzipLogWriter(path, header, opts) : new PlainLogWriter(path, header, opts);
}

abstract class BaseLogWriter implements LogWriter {
  readonly path: string;
  protected readonly batchEvents: number;
  protected readonly batchBytes: number;
  protected inBatch = 0;
  protected readonly flushMs: number;
  #lastEmitMs = Date.now();
  #written = 0;
  #lastSeq: number | undefined;
  protected closed = false;

  constructor(path: string, opts: LogWriterOptions) {
    this.path = path;
    this.batchEvents = opts.batchEvents ?? 16384;
    this.batchBytes = opts.batchBytes ?? 1 << 20;
    this.flushMs = opts.flushMs ?? 1000;
    if (!(this.batchEvents >= 1 && this.batchBytes >= 1)) throw new RangeError('batchEvents and batchBytes must be ≥ 1');
  }

  get written(): number {
    return this.#written;
  }

  write(e: EventEnvelope): boolean {
    if (this.closed) throw new Error(`${this.path}: write after close`);
    // A log the reader would reject is worse than a loud failure now.
    if (this.#lastSeq !== undefined && e.seq !== this.#lastSeq + 1) {
      throw new RangeError(`${this.path}: event seq ${e.seq} does not follow ${this.#lastSeq}`);
    }
    const pending = this.encode(e);
    this.#lastSeq = e.seq;
    this.#written++;
    if (++this.inBatch >= this.batchEvents || pending >= this.batchBytes) return this.emitBatch();
    if ((this.#written & 255) === 0 && Date.now() - this.#lastEmitMs >= this.flushMs) return this.emitBatch();
    return true;
  }

  /** Called by emitBatch: the time bound counts from here. */
  protected markEmitted(): void {
    this.#lastEmitMs = Date.now();
  }

  /** Encode one event into the current batch; returns the batch's size in bytes. */
  protected abstract encode(e: EventEnvelope): number;

  attach(bus: EventBus): Subscription {
    return bus.on('log-writer', (e) => {
      this.write(e);
    });
  }

  /** Move the encoded batch to the file; returns false when the sink asks to wait. */
  protected abstract emitBatch(): boolean;
  /** After a flush's batch is emitted: wait until whatever writes it has written it (the writer thread). */
  protected settle(): void {}
  abstract close(): Promise<void>;

  drained(): Promise<void> {
    return Promise.resolve();
  }

  flush(): Promise<void> {
    try {
      this.emitBatch();
      this.settle();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return Promise.resolve();
  }
}

/**
 * Plain `.ndjson`. With the writer thread (the default) this thread only copies each event's values into tape
 * words (tape.ts) and the thread formats the JSON lines and writes them; without it, EventEncoder formats here and
 * writeSync writes here.
 */
class PlainLogWriter extends BaseLogWriter {
  #fd: number | null;
  readonly #fsync: boolean;
  readonly #thread: RingWriterThread | null;
  readonly #tape: TapeEncoder | null;
  #encoder: EventEncoder | null;

  constructor(path: string, header: LogHeader, opts: LogWriterOptions) {
    super(path, opts);
    this.#fsync = opts.fsync ?? false;
    this.#fd = openSync(path, 'w');
    const head = new TextEncoder().encode(`${serializeHeader(header)}\n`);
    const { counterStart, onWorker, ioStopAfterFrames } = opts as InternalOptions;
    try {
      this.#thread =
        (opts.thread ?? true)
          ? new RingWriterThread(this.#fd, path, {
              ringBytes: opts.ringBytes ?? 8 << 20,
              batchBytes: this.batchBytes,
              fsync: this.#fsync,
              direct: opts.directIo ?? true,
              counterStart,
              onWorker,
              ioStopAfterFrames,
            })
          : null;
    } catch (err) {
      closeSync(this.#fd);
      throw err;
    }
    this.#tape = this.#thread ? new TapeEncoder(64) : null;
    this.#tape?.attach(this.#thread!.words);
    this.#encoder = this.#thread ? null : new EventEncoder();
    if (this.#thread) this.#thread.pushRaw(head);
    else writeAll(this.#fd, head);
  }

  protected encode(e: EventEnvelope): number {
    const tape = this.#tape;
    if (tape !== null) {
      const thread = this.#thread!;
      const at = thread.reserve();
      tape.n = at;
      tape.limit = at + thread.maxEventWords;
      try {
        tape.encode(e);
      } catch (err) {
        if (err !== TAPE_FULL) throw err;
        // Too big for the tape: this event travels as its JSON line, in order.
        const enc = (this.#encoder ??= new EventEncoder());
        enc.encode(e);
        thread.pushRaw(enc.bytes());
        enc.reset();
        return 0;
      }
      thread.commit((tape.n - at) << 2);
      return thread.openBytes;
    }
    const enc = this.#encoder!;
    enc.encode(e);
    return enc.length;
  }

  protected emitBatch(): boolean {
    this.markEmitted();
    if (this.#fd !== null) {
      if (this.#thread !== null) this.#thread.publishTape();
      else if (this.#encoder!.length > 0) writeAll(this.#fd, this.#encoder!.bytes());
    }
    if (this.#thread === null) this.#encoder!.reset();
    this.inBatch = 0;
    return true;
  }

  protected override settle(): void {
    this.#thread?.drain();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const fd = this.#fd;
    try {
      this.emitBatch();
    } finally {
      this.closed = true;
      this.#fd = null;
      // The thread drains and fsyncs before the fd goes away, and is stopped even when a write failed.
      try {
        if (this.#thread) await this.#thread.close();
        else if (this.#fsync && fd !== null) fsyncSync(fd);
      } finally {
        if (fd !== null) closeSync(fd);
      }
    }
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Gzip members that say their own compressed size, as BGZF does (the SAM/BAM format specification, section 4.1):
 * each member's header has the FEXTRA flag and one extra subfield, SI1 'B', SI2 'C', SLEN 2, whose 16-bit
 * little-endian value BSIZE is the member's total size in bytes minus 1 (RFC 1952 section 2.3.1.1 lays out extra
 * subfields; gzip(1), zlib and Node's zlib skip them, so the file stays an ordinary multi-member gzip file). A
 * reader can then find the next member without inflating this one: the docs site's viewer indexes a log's members
 * by their sizes (and each member's ISIZE) and a seek inflates only the members it reads, so it keeps no copy of the
 * text (apps/docs/viewer/gzip-log.ts). BSIZE being 16 bits, no member may exceed
 * 64 KiB compressed: `text` is cut into pieces that compress to at most that, each ending on a line boundary where
 * the line is shorter than a piece (so a killed writer still leaves whole lines).
 */
export class BgzfMembers {
  /** A member's compressed size at most (BSIZE + 1 ≤ 65536). */
  static readonly MAX_MEMBER_BYTES = 65536;
  /** A margin below the limit to aim for: a piece that compresses worse than the last one still fits, mostly. */
  static readonly TARGET_MEMBER_BYTES = 60 << 10;
  /** Plain bytes a piece is cut at: TARGET_MEMBER_BYTES × the last member's compression ratio, learned as it goes. */
  #plainPerMember = BgzfMembers.TARGET_MEMBER_BYTES;

  constructor(private readonly level: number) {}

  /** Compresses `text` into one or more members, in order; an empty text gives none. */
  members(text: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    let from = 0;
    while (from < text.length) {
      let to = Math.min(text.length, from + this.#plainPerMember);
      for (;;) {
        if (to < text.length) {
          const nl = text.lastIndexOf(0x0a, to - 1);
          if (nl >= from) to = nl + 1;
        }
        const member = this.member(text.subarray(from, to));
        if (member) {
          out.push(member);
          // next piece: the size this one's ratio says fits the target (at least 4 KiB, so a run of unlucky pieces
          // cannot shrink it to nothing)
          this.#plainPerMember = Math.max(4096, Math.floor(((to - from) * BgzfMembers.TARGET_MEMBER_BYTES) / member.length));
          break;
        }
        // too big compressed: a piece three quarters as long (any 48 KiB, even random bytes, fits: stored blocks)
        to = from + Math.max(1, Math.floor(((to - from) * 3) / 4));
        this.#plainPerMember = to - from;
      }
      from = to;
    }
    return out;
  }

  /** One member with its BC subfield, or null when it would exceed MAX_MEMBER_BYTES. */
  private member(piece: Uint8Array): Buffer | null {
    const gz = gzipSync(piece, { level: this.level });
    const total = gz.length + 8;
    if (total > BgzfMembers.MAX_MEMBER_BYTES) return null;
    const m = Buffer.allocUnsafe(total);
    // zlib's 10-byte header (ID1 ID2 CM FLG MTIME XFL OS) with FLG.FEXTRA set; zlib writes no other flags
    gz.copy(m, 0, 0, 10);
    m[3] = gz[3]! | 0x04;
    // XLEN 6, then the subfield: 'B' 'C', SLEN 2, BSIZE
    m.writeUInt16LE(6, 10);
    m[12] = 0x42;
    m[13] = 0x43;
    m.writeUInt16LE(2, 14);
    m.writeUInt16LE(total - 1, 16);
    gz.copy(m, 18, 10);
    return m;
  }
}

/**
 * `.ndjson.gz`: each batch is compressed on this thread and written as gzip members of its own (RFC 1952 section
 * 2.2: a gzip file is a series of members; gunzip and zlib read them as one stream), each of at most 64 KiB and
 * saying its size (BgzfMembers). Compressing synchronously means a batch is on disk as soon as it is emitted, even
 * when the producer never yields to the event loop (a simulation runs synchronously), so a killed writer leaves
 * every emitted batch readable, as a plain log does.
 */
class GzipLogWriter extends BaseLogWriter {
  readonly #encoder = new EventEncoder();
  readonly #members: BgzfMembers;
  readonly #fsync: boolean;
  #fd: number | null;

  constructor(path: string, header: LogHeader, opts: LogWriterOptions) {
    super(path, opts);
    this.#members = new BgzfMembers(opts.gzipLevel ?? 6);
    this.#fsync = opts.fsync ?? false;
    this.#fd = openSync(path, 'w');
    try {
      for (const m of this.#members.members(Buffer.from(`${serializeHeader(header)}\n`))) writeAll(this.#fd, m);
    } catch (err) {
      closeSync(this.#fd);
      this.#fd = null;
      throw err;
    }
  }

  protected encode(e: EventEnvelope): number {
    this.#encoder.encode(e);
    return this.#encoder.length;
  }

  protected emitBatch(): boolean {
    this.inBatch = 0;
    this.markEmitted();
    if (this.#encoder.length === 0 || this.#fd === null) return true;
    const members = this.#members.members(this.#encoder.bytes());
    this.#encoder.reset();
    for (const m of members) writeAll(this.#fd, m);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const fd = this.#fd;
    try {
      this.emitBatch();
      if (this.#fsync && fd !== null) fsyncSync(fd);
    } finally {
      this.closed = true;
      this.#fd = null;
      if (fd !== null) closeSync(fd);
    }
  }
}
