import type * as NodeFs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { TAPE } from './tape.js';
import { tapeFormatter } from './tape-format.js';

/**
 * A byte ring in shared memory between a synchronous producer (the thread that encodes events) and a writer
 * thread that `writeSync`s the bytes to one fd, in order. Encoding and the kernel's page-cache copy then overlap
 * instead of adding up on one thread.
 *
 * The producer never yields to the event loop (core publishes millions of events in one synchronous run), so
 * every hand-over is through Atomics on the control words below: no messages, no promises on the hot path.
 * Memory is bounded by the ring: a full ring blocks the producer in `Atomics.wait` until the writer frees space.
 *
 * The file only ever receives a prefix of the byte stream, written by one thread with sequential writes, so a
 * killed process leaves whole lines followed by at most one torn line.
 */

/**
 * Control words (Int32). Byte counters wrap at 2^32: `(a - b) | 0` is still the distance while the ring is
 * smaller than 2^31, and `counter & (size - 1)` the ring offset because the size is a power of two.
 *
 * The ring carries frames: [kind, byteLength] then the body padded to a whole word. A RAW frame's body goes to the
 * file as is (the header line); a TAPE frame's body is event tape (tape.ts) that the thread formats into lines.
 */
const HEAD = 0; // bytes published by the producer
const TAIL = 1; // bytes taken out of the ring by the writer thread
const STATE = 2;
const PSIG = 3; // bumped by the producer on every publication or state change; the writer thread waits on it
const CSIG = 4; // bumped by the writer thread on every tail advance, finished frame or state change; the producer waits on it
const ERRLEN = 5;
const FRAMES = 6; // frames the writer thread has completely written to the file
const CONTROL_WORDS = 8;
const ERR_BYTES = 2048;

const RUNNING = 0;
const CLOSING = 1; // producer is done: drain, fsync if asked, and stop
const DONE = 2;
const FAILED = 3;

const RAW_FRAME = 0;
const TAPE_FRAME = 1;
const PAD = new Uint8Array(4);

/** The control layout, handed to the thread as data because its source cannot see this module's constants. */
const LAYOUT = { HEAD, TAIL, STATE, PSIG, CSIG, ERRLEN, FRAMES, ERR_BYTES, CLOSING, DONE, FAILED, RAW_FRAME, TAPE_FRAME } as const;

interface ThreadData {
  layout: typeof LAYOUT;
  tags: typeof TAPE;
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  error: SharedArrayBuffer;
  fd: number;
  /** The log's path, for the O_DIRECT descriptor. */
  path: string;
  /** Try O_DIRECT block writes. */
  direct: boolean;
  fsync: boolean;
}

type ThreadFs = Pick<typeof NodeFs, 'writeSync' | 'fsyncSync' | 'openSync' | 'closeSync' | 'constants'>;

/**
 * The writer thread's whole program. It runs from its source text (`new Worker(…, { eval: true })`), so it must
 * not close over anything in this module: `fs`, the formatter and the shared buffers come in as arguments. That
 * keeps it resolvable the same way from `src` (vitest, tsx) and from the bundled `dist`.
 *
 * Direct I/O: copying a multi-GB log into fresh page-cache pages is what writing costs most on a VM (measured on
 * this project's 2-core VM: 354 MB/s and a full core for buffered writes of 4.2 GB, 1.3 GB/s and 0.2 s of CPU
 * with O_DIRECT). So the thread also opens the log with O_DIRECT and writes whole 4 KiB blocks from a
 * page-aligned buffer (WebAssembly memory is page-aligned; ordinary ArrayBuffers are not, and O_DIRECT refuses
 * them with EINVAL). The last partial block stays in the buffer; whenever the thread runs out of work it writes
 * that tail through the ordinary descriptor at the same offset, so a drained or closed log is complete on file.
 * A file system that refuses O_DIRECT gets ordinary writes.
 */
function ringWriter(data: ThreadData, fs: ThreadFs, makeFormatter: typeof tapeFormatter): void {
  const { HEAD, TAIL, STATE, PSIG, CSIG, ERRLEN, FRAMES, ERR_BYTES, CLOSING, DONE, FAILED, RAW_FRAME } = data.layout;
  const ctl = new Int32Array(data.control);
  const ring = new Uint8Array(data.ring);
  const words = new Int32Array(data.ring);
  const size = ring.length;
  const BLOCK = 4096;
  let tail = 0;
  let body = new Uint8Array(1 << 20);
  /** File offset of the next write (positioned writes: the two descriptors share no offset). */
  let pos = 0;
  let direct = -1;
  if (data.direct) {
    try {
      direct = fs.openSync(data.path, fs.constants.O_WRONLY | fs.constants.O_DIRECT);
    } catch {
      direct = -1;
    }
  }
  const aligned = (n: number): Uint8Array => new Uint8Array(new WebAssembly.Memory({ initial: Math.ceil(n / 65536) }).buffer, 0, n);
  const format = makeFormatter(data.tags, 1 << 21, direct >= 0 ? aligned : (n) => new Uint8Array(n));
  /** Frames fully formatted whose bytes are not all on file yet, and whether the buffered tail is. */
  let unsettled = 0;
  let tailOnFile = true;

  const writeAt = (fd: number, chunk: Uint8Array, n: number, at: number): void => {
    let off = 0;
    while (off < n) off += fs.writeSync(fd, chunk, off, n - off, at + off);
  };
  const sink = (chunk: Uint8Array): number => {
    if (direct >= 0) {
      const n = chunk.length - (chunk.length % BLOCK);
      if (n === 0) return 0;
      try {
        writeAt(direct, chunk, n, pos);
        pos += n;
        return n;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EINVAL') throw err;
        // The file system took the flag at open but refuses the writes: write ordinarily from here on.
        fs.closeSync(direct);
        direct = -1;
      }
    }
    writeAt(data.fd, chunk, chunk.length, pos);
    pos += chunk.length;
    return chunk.length;
  };
  /** Put the unwritten tail on file (not taking it: the next block write covers it again) and report frames done. */
  const settle = (): void => {
    if (!tailOnFile) {
      const rest = format.pending();
      if (rest.length > 0) writeAt(data.fd, rest, rest.length, pos);
      tailOnFile = true;
    }
    if (unsettled > 0) {
      Atomics.add(ctl, FRAMES, unsettled);
      unsettled = 0;
      Atomics.add(ctl, CSIG, 1);
      Atomics.notify(ctl, CSIG);
    }
  };
  /** Wait until at least `n` bytes are in the ring; -1 when the producer closed and nothing is left. */
  const available = (n: number): number => {
    for (;;) {
      const sig = Atomics.load(ctl, PSIG);
      const avail = (Atomics.load(ctl, HEAD) - tail) | 0;
      if (avail >= n) return avail;
      if (avail === 0 && Atomics.load(ctl, STATE) === CLOSING) return -1;
      // Out of work: everything received so far goes on file before sleeping (drain() waits for exactly that).
      settle();
      Atomics.wait(ctl, PSIG, sig);
    }
  };
  const advance = (n: number): void => {
    tail = (tail + n) | 0;
    Atomics.store(ctl, TAIL, tail);
    Atomics.add(ctl, CSIG, 1);
    Atomics.notify(ctl, CSIG);
  };
  try {
    for (;;) {
      if (available(8) < 0) break;
      const kind = words[(tail & (size - 1)) >> 2]!;
      const len = words[((tail + 4) & (size - 1)) >> 2]!;
      advance(8);
      const padded = (len + 3) & ~3;
      if (body.length < padded) body = new Uint8Array(Math.max(padded, body.length * 2));
      let got = 0;
      while (got < padded) {
        const avail = available(1);
        if (avail < 0) throw new Error(`the producer closed in the middle of a frame`);
        const at = tail & (size - 1);
        const n = Math.min(avail, padded - got, size - at);
        body.set(ring.subarray(at, at + n), got);
        got += n;
        advance(n);
      }
      if (kind === RAW_FRAME) format.raw(body.subarray(0, len), sink);
      else format.frame(body.subarray(0, len), sink);
      unsettled++;
      tailOnFile = false;
    }
    settle();
    if (data.fsync) fs.fsyncSync(data.fd);
    if (direct >= 0) fs.closeSync(direct);
    Atomics.store(ctl, STATE, DONE);
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const bytes = new TextEncoder().encode(text).subarray(0, ERR_BYTES);
    new Uint8Array(data.error).set(bytes);
    Atomics.store(ctl, ERRLEN, bytes.length);
    Atomics.store(ctl, STATE, FAILED);
  }
  Atomics.add(ctl, CSIG, 1);
  Atomics.notify(ctl, CSIG);
}

/** ES2024's Atomics.waitAsync (Node ≥ 16), typed here because the project's lib is ES2023. */
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): WaitAsyncResult }).waitAsync.bind(Atomics);

/**
 * The thread's source: the two programs as text. `__name` is defined because a loader that keeps function names
 * (tsx, esbuild's keepNames) rewrites nested functions into calls of a helper that exists only in its own module.
 */
const workerSource = [
  'const __name = (f) => f;',
  "const data = require('node:worker_threads').workerData;",
  `(${ringWriter.toString()})(data, require('node:fs'), ${tapeFormatter.toString()});`,
].join('\n');

/** The producer's end of the ring; owns the writer thread. The fd stays the caller's to close. */
export class RingWriterThread {
  readonly #ctl: Int32Array;
  readonly #ring: Uint8Array;
  readonly #error: Uint8Array;
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  readonly #label: string;
  #head = 0;
  /** Frames pushed (the thread counts the ones it has finished in FRAMES). */
  #frames = 0;
  readonly #head4 = new Int32Array(2);
  readonly #headBytes = new Uint8Array(this.#head4.buffer);
  #failure: Error | undefined;

  /** @param path the log's path: names it in error messages, and the thread opens it again for direct I/O. */
  constructor(fd: number, path: string, opts: { ringBytes: number; fsync: boolean; direct: boolean }) {
    const { ringBytes, fsync, direct } = opts;
    const label = path;
    if (!(Number.isInteger(ringBytes) && ringBytes >= 4096 && ringBytes <= 2 ** 30 && (ringBytes & (ringBytes - 1)) === 0)) {
      throw new RangeError(`ringBytes must be a power of two from 4096 to 2^30, got ${ringBytes}`);
    }
    this.#label = label;
    const data: ThreadData = {
      layout: LAYOUT,
      tags: TAPE,
      control: new SharedArrayBuffer(CONTROL_WORDS * 4),
      ring: new SharedArrayBuffer(ringBytes),
      error: new SharedArrayBuffer(ERR_BYTES),
      fd,
      path,
      direct,
      fsync,
    };
    this.#ctl = new Int32Array(data.control);
    this.#ring = new Uint8Array(data.ring);
    this.#error = new Uint8Array(data.error);
    // execArgv: [] — the thread needs no loader hooks (tsx, conditions) to run its self-contained source.
    this.#worker = new Worker(workerSource, { eval: true, workerData: data, execArgv: [], stdout: false, stderr: false });
    // A forgotten writer must not keep the process alive (the plain writer would not either).
    this.#worker.unref();
    this.#exited = new Promise((resolve) => {
      this.#worker.once('error', (err) => {
        this.#failure ??= new Error(`${label}: log writer thread failed: ${err.message}`);
      });
      this.#worker.once('exit', () => resolve());
    });
  }

  /** The header line (or any bytes that go to the file as they are). */
  pushRaw(bytes: Uint8Array): void {
    this.#frame(RAW_FRAME, bytes);
  }

  /** A batch of event tape (TapeEncoder.bytes()): whole events only. */
  pushTape(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#frame(TAPE_FRAME, bytes);
  }

  #frame(kind: number, bytes: Uint8Array): void {
    this.#head4[0] = kind;
    this.#head4[1] = bytes.length;
    this.#push(this.#headBytes);
    this.#push(bytes);
    const pad = -bytes.length & 3;
    if (pad > 0) this.#push(PAD.subarray(0, pad));
    this.#frames++;
  }

  /**
   * Copy bytes into the ring and publish them, waiting (blocking this thread) whenever the ring is full.
   * A chunk larger than the ring goes in pieces; the thread reassembles the frame.
   */
  #push(bytes: Uint8Array): void {
    const ctl = this.#ctl;
    const size = this.#ring.length;
    let off = 0;
    while (off < bytes.length) {
      const sig = Atomics.load(ctl, CSIG);
      this.#check();
      const free = size - ((this.#head - Atomics.load(ctl, TAIL)) | 0);
      if (free === 0) {
        Atomics.wait(ctl, CSIG, sig);
        continue;
      }
      const at = this.#head & (size - 1);
      const n = Math.min(free, bytes.length - off, size - at);
      this.#ring.set(bytes.subarray(off, off + n), at);
      off += n;
      this.#head = (this.#head + n) | 0;
      Atomics.store(ctl, HEAD, this.#head);
      Atomics.add(ctl, PSIG, 1);
      Atomics.notify(ctl, PSIG);
    }
  }

  /** Block until the writer thread has written every frame pushed so far to the file. */
  drain(): void {
    const ctl = this.#ctl;
    for (;;) {
      const sig = Atomics.load(ctl, CSIG);
      this.#check();
      if (Atomics.load(ctl, FRAMES) === this.#frames) return;
      Atomics.wait(ctl, CSIG, sig);
    }
  }

  /** Drain, fsync if asked, stop the thread; throws if the thread failed at any point. */
  async close(): Promise<void> {
    const ctl = this.#ctl;
    // Neither a pending waitAsync nor an unref'd worker keeps Node's event loop alive: without this, a script
    // whose last act is `await writer.close()` would exit (code 13, unsettled await) before the thread is done.
    this.#worker.ref();
    if (Atomics.load(ctl, STATE) === RUNNING) {
      Atomics.store(ctl, STATE, CLOSING);
      Atomics.add(ctl, PSIG, 1);
      Atomics.notify(ctl, PSIG);
    }
    for (;;) {
      const sig = Atomics.load(ctl, CSIG);
      const state = Atomics.load(ctl, STATE);
      if (state === DONE || state === FAILED || this.#failure) break;
      // Waiting without blocking lets the worker's 'error'/'exit' events through if it dies unexpectedly.
      const r = waitAsync(ctl, CSIG, sig, 1000);
      if (r.async) await Promise.race([r.value, this.#exited]);
    }
    await this.#exited;
    this.#check();
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
    if (Atomics.load(this.#ctl, STATE) === FAILED) {
      const msg = new TextDecoder().decode(this.#error.slice(0, Atomics.load(this.#ctl, ERRLEN)));
      this.#failure = new Error(`${this.#label}: log writer thread failed: ${msg}`);
      throw this.#failure;
    }
  }
}
