import type * as NodeFs from 'node:fs';
import { existsSync } from 'node:fs';
import type * as NodeWorkerThreads from 'node:worker_threads';
import { Worker } from 'node:worker_threads';
import { TAPE } from './tape.js';
import { formatUint } from '../digits.js';
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
const TID = 7; // the thread's Linux thread id once it runs (0 before; -1 where /proc cannot tell): see threadEnded
const CONTROL_WORDS = 8;
const ERR_BYTES = 2048;
/**
 * A wait on a thread wakes this often to make sure the thread is still there: one that was terminated or ran out
 * of memory runs no catch block, records no failure and never signals again.
 */
const LIVENESS_MS = 500;
/** A thread that has not recorded its id after this long is taken as never having started. */
const START_MS = 60_000;

const RUNNING = 0;
const CLOSING = 1; // producer is done: drain, fsync if asked, and stop
const DONE = 2;
const FAILED = 3;

const RAW_FRAME = 0;
const TAPE_FRAME = 1;
const WRAP_FRAME = 2; // the rest of the ring up to its end is unused: go on at its start
const PAD = new Uint8Array(8);

/** The control layout, handed to the thread as data because its source cannot see this module's constants. */
const LAYOUT = {
  HEAD,
  TAIL,
  STATE,
  PSIG,
  CSIG,
  ERRLEN,
  FRAMES,
  TID,
  ERR_BYTES,
  LIVENESS_MS,
  START_MS,
  CLOSING,
  DONE,
  FAILED,
  RAW_FRAME,
  TAPE_FRAME,
  WRAP_FRAME,
} as const;

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
  /** Tests: terminate the I/O thread once this many frames are formatted (its abrupt end, as if out of memory). */
  ioStopAfterFrames?: number;
}

type ThreadFs = Pick<typeof NodeFs, 'writeSync' | 'fsyncSync' | 'openSync' | 'closeSync' | 'constants' | 'readlinkSync' | 'existsSync'>;
type ThreadWorkers = Pick<typeof NodeWorkerThreads, 'Worker'>;

/** What the writer thread hands its I/O thread. */
interface IoData {
  layout: typeof LAYOUT;
  control: SharedArrayBuffer;
  /** Per slot: file offset and length (doubles: offsets pass 2^31). */
  meta: SharedArrayBuffer;
  /** The slots: shared WebAssembly memory, which is page-aligned as O_DIRECT requires. */
  memory: WebAssembly.Memory;
  error: SharedArrayBuffer;
  slots: number;
  slotBytes: number;
  fd: number;
  direct: number;
}

/** A thread's control block: what both thread programs and the producer share about a failure. */
interface ThreadControl {
  layout: typeof LAYOUT;
  control: SharedArrayBuffer;
  error: SharedArrayBuffer;
}

/**
 * Record a thread's failure in its control block: the message (cut to ERR_BYTES), then FAILED. Runs inside both
 * thread programs from its source text, so it is self-contained.
 */
function threadFailed(c: ThreadControl, err: unknown): void {
  const { STATE, ERRLEN, ERR_BYTES, FAILED } = c.layout;
  const ctl = new Int32Array(c.control);
  const bytes = new TextEncoder().encode(err instanceof Error ? err.message : String(err)).subarray(0, ERR_BYTES);
  new Uint8Array(c.error).set(bytes);
  Atomics.store(ctl, ERRLEN, bytes.length);
  Atomics.store(ctl, STATE, FAILED);
}

/**
 * The message of a failed thread, or null while it has not failed; `ctl` is the caller's view of c.control (this
 * is asked on every hand-over, so it allocates nothing until there is a failure). Self-contained, like threadFailed.
 */
function threadFailure(c: ThreadControl, ctl: Int32Array): string | null {
  const { STATE, ERRLEN, FAILED } = c.layout;
  if (Atomics.load(ctl, STATE) !== FAILED) return null;
  return new TextDecoder().decode(new Uint8Array(c.error).slice(0, Atomics.load(ctl, ERRLEN)));
}

/**
 * Put the calling thread's Linux thread id in its control block (TID), first thing, so that whoever waits on the
 * thread can tell one that is slow from one that is gone (threadEnded). Where /proc cannot tell, -1: such a
 * thread is waited for without that check. Self-contained, like threadFailed.
 */
function recordThreadId(c: ThreadControl, fs: Pick<ThreadFs, 'readlinkSync'>): void {
  let tid = -1;
  try {
    // "<pid>/task/<tid>", in the pid namespace of this /proc, which is also the one /proc/self/task lists.
    const link = fs.readlinkSync('/proc/thread-self');
    const n = Number(link.slice(link.lastIndexOf('/') + 1));
    if (Number.isSafeInteger(n) && n > 0) tid = n;
  } catch {
    tid = -1;
  }
  Atomics.store(new Int32Array(c.control), c.layout.TID, tid);
}

/**
 * Whether the thread of this control block has stopped without finishing: 'ended' once its id is no longer among
 * the process's threads, 'unborn' when it has recorded no id START_MS after `born` (Date.now() at its start);
 * null while it runs, once it is DONE, or where /proc cannot tell. `ctl` is the caller's view of c.control.
 * Self-contained, like threadFailed: the writer thread asks it of its I/O thread, the producer of the writer thread.
 */
function threadEnded(c: ThreadControl, ctl: Int32Array, born: number, fs: Pick<ThreadFs, 'existsSync'>): 'ended' | 'unborn' | null {
  const { TID, STATE, DONE, START_MS } = c.layout;
  if (Atomics.load(ctl, STATE) === DONE) return null;
  const tid = Atomics.load(ctl, TID);
  if (tid === 0) return Date.now() - born > START_MS ? 'unborn' : null;
  return tid > 0 && !fs.existsSync(`/proc/self/task/${tid}`) ? 'ended' : null;
}

/**
 * The I/O thread's whole program (source text, like ringWriter): writes queued slots at their offsets, in order.
 * On a file system that takes O_DIRECT at open but refuses the writes (EINVAL) it goes on with the ordinary
 * descriptor.
 */
function ioWriter(d: IoData, fs: ThreadFs, fail: typeof threadFailed): void {
  const { HEAD, TAIL, STATE, PSIG, CSIG, CLOSING, DONE } = d.layout;
  const ctl = new Int32Array(d.control);
  const meta = new Float64Array(d.meta);
  const mem = new Uint8Array(d.memory.buffer);
  let fd = d.direct >= 0 ? d.direct : d.fd;
  let tail = 0;
  const writeAt = (chunk: Uint8Array, at: number): void => {
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off, at + off);
  };
  try {
    for (;;) {
      const sig = Atomics.load(ctl, PSIG);
      if (Atomics.load(ctl, HEAD) === tail) {
        if (Atomics.load(ctl, STATE) === CLOSING) break;
        Atomics.wait(ctl, PSIG, sig);
        continue;
      }
      const i = tail % d.slots;
      const chunk = mem.subarray(i * d.slotBytes, i * d.slotBytes + meta[2 * i + 1]!);
      try {
        writeAt(chunk, meta[2 * i]!);
      } catch (err) {
        if (fd === d.fd || (err as { code?: string }).code !== 'EINVAL') throw err;
        fd = d.fd;
        writeAt(chunk, meta[2 * i]!);
      }
      tail = (tail + 1) | 0;
      Atomics.store(ctl, TAIL, tail);
      Atomics.add(ctl, CSIG, 1);
      Atomics.notify(ctl, CSIG);
    }
    Atomics.store(ctl, STATE, DONE);
  } catch (err) {
    fail(d, err);
  }
  Atomics.add(ctl, CSIG, 1);
  Atomics.notify(ctl, CSIG);
}

/**
 * The writer thread's whole program. It runs from its source text (`new Worker(…, { eval: true })`), so it must
 * not close over anything in this module: `fs`, the formatter, the I/O thread's source and the shared buffers
 * come in as arguments. That keeps it resolvable the same way from `src` (vitest, tsx) and from the bundled `dist`.
 *
 * Two threads write a log: this one formats the tape into lines, and an I/O thread it starts writes them, from a
 * few slots of shared memory, so formatting goes on while a write waits for the disk (at 64 TiB the scale bench
 * spent 6 s of this thread in writes, during which the producer often found the ring full).
 *
 * Direct I/O: copying a multi-GB log into fresh page-cache pages is what writing costs most on a VM (measured on
 * this project's 2-core VM: 354 MB/s and a full core for buffered writes of 4.2 GB, 1.3 GB/s and 0.2 s of CPU
 * with O_DIRECT). So the log is also opened with O_DIRECT and written in whole 4 KiB blocks from the slots
 * (WebAssembly memory is page-aligned; ordinary ArrayBuffers are not, and O_DIRECT refuses them with EINVAL).
 * The last partial block stays in the formatter; whenever this thread runs out of work it waits for the I/O
 * thread and writes that tail through the ordinary descriptor at the same offset, so a drained or closed log is
 * complete on file. A file system that refuses O_DIRECT gets ordinary writes.
 */
function ringWriter(
  data: ThreadData,
  fs: ThreadFs,
  makeFormatter: typeof tapeFormatter,
  digits: typeof formatUint,
  workers: ThreadWorkers,
  ioSource: string,
  fail: typeof threadFailed,
  failure: typeof threadFailure,
  ended: typeof threadEnded,
): void {
  const { HEAD, TAIL, STATE, PSIG, CSIG, FRAMES, TID, ERR_BYTES, LIVENESS_MS, START_MS, CLOSING, DONE, TAPE_FRAME, WRAP_FRAME } = data.layout;
  const ctl = new Int32Array(data.control);
  const ring = new Uint8Array(data.ring);
  const words = new Int32Array(data.ring);
  const size = ring.length;
  const BLOCK = 4096;
  const SLOTS = 4;
  const SLOT_BYTES = 2 << 20;
  // The byte counters start where the producer put them (tests start them just below 2^31 to cross the wrap).
  let tail = Atomics.load(ctl, TAIL);
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
  const format = makeFormatter(data.tags, 1 << 21, digits);
  /** Frames fully formatted whose bytes are not all on file yet, and whether the buffered tail is. */
  let unsettled = 0;
  let tailOnFile = true;

  const io: IoData = {
    layout: data.layout,
    control: new SharedArrayBuffer(8 * 4),
    meta: new SharedArrayBuffer(SLOTS * 2 * 8),
    memory: new WebAssembly.Memory({ initial: (SLOTS * SLOT_BYTES) / 65536, maximum: (SLOTS * SLOT_BYTES) / 65536, shared: true }),
    error: new SharedArrayBuffer(ERR_BYTES),
    slots: SLOTS,
    slotBytes: SLOT_BYTES,
    fd: data.fd,
    direct,
  };
  const ioCtl = new Int32Array(io.control);
  const ioMeta = new Float64Array(io.meta);
  const ioMem = new Uint8Array(io.memory.buffer);
  let ioHead = 0;
  const ioThread = new workers.Worker(ioSource, { eval: true, workerData: io, execArgv: [], stdout: false, stderr: false });
  // Its life is this thread's: once this program returns (the I/O thread done or failed), nothing should wait for it.
  ioThread.unref();
  const ioBorn = Date.now();
  let ioStopAfter = data.ioStopAfterFrames ?? -1;
  const ioCheck = (): void => {
    const why = failure(io, ioCtl);
    if (why !== null) throw new Error(why);
  };
  /** Wait for the I/O thread to signal; throws if it has ended without a word (terminated, out of memory). */
  const ioSleep = (sig: number): void => {
    if (Atomics.wait(ioCtl, CSIG, sig, LIVENESS_MS) !== 'timed-out') return;
    const how = ended(io, ioCtl, ioBorn, fs);
    if (how === null) return;
    // A failure it recorded on its way out says more than that it is gone.
    ioCheck();
    throw new Error(how === 'unborn' ? `its I/O thread did not start in ${START_MS / 1000} s` : 'its I/O thread ended without finishing (terminated, or out of memory)');
  };
  /** Wait until the I/O thread has at most `queued` slots left to write. */
  const ioWait = (queued: number): void => {
    for (;;) {
      const sig = Atomics.load(ioCtl, CSIG);
      ioCheck();
      if (((ioHead - Atomics.load(ioCtl, TAIL)) | 0) <= queued) return;
      ioSleep(sig);
    }
  };
  const enqueue = (chunk: Uint8Array, n: number): void => {
    for (let off = 0; off < n; ) {
      const m = Math.min(SLOT_BYTES, n - off);
      ioWait(SLOTS - 1);
      const i = ioHead % SLOTS;
      ioMem.set(chunk.subarray(off, off + m), i * SLOT_BYTES);
      ioMeta[2 * i] = pos;
      ioMeta[2 * i + 1] = m;
      pos += m;
      off += m;
      ioHead = (ioHead + 1) | 0;
      Atomics.store(ioCtl, HEAD, ioHead);
      Atomics.add(ioCtl, PSIG, 1);
      Atomics.notify(ioCtl, PSIG);
    }
  };
  const sink = (chunk: Uint8Array): number => {
    const n = direct >= 0 ? chunk.length - (chunk.length % BLOCK) : chunk.length;
    if (n > 0) enqueue(chunk, n);
    return n;
  };
  /** Put everything on file (the tail too, without taking it: the next block write covers it again); report frames done. */
  const settle = (): void => {
    if (!tailOnFile) {
      ioWait(0);
      const rest = format.pending();
      let off = 0;
      while (off < rest.length) off += fs.writeSync(data.fd, rest, off, rest.length - off, pos + off);
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
  const stopIo = (): void => {
    Atomics.store(ioCtl, STATE, CLOSING);
    Atomics.add(ioCtl, PSIG, 1);
    Atomics.notify(ioCtl, PSIG);
  };
  try {
    for (;;) {
      if (available(8) < 0) break;
      const off = tail & (size - 1);
      const kind = words[off >> 2]!;
      const len = words[(off >> 2) + 1]!;
      const padded = (len + 7) & ~7;
      if (kind === WRAP_FRAME) {
        advance(8 + len);
        continue;
      }
      if (kind === TAPE_FRAME) {
        // Published whole and never wrapping: formatted where it lies, then its space goes back to the producer.
        format.frame(new Uint8Array(data.ring, off + 8, len), sink);
        advance(8 + padded);
      } else {
        advance(8);
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
        format.raw(body.subarray(0, len), sink);
      }
      unsettled++;
      if (--ioStopAfter === 0) {
        // Once it runs: a thread ended before it could record its id is only known after START_MS.
        while (Atomics.load(ioCtl, TID) === 0) Atomics.wait(ioCtl, TID, 0, 5);
        void ioThread.terminate();
      }
      tailOnFile = false;
    }
    settle();
    stopIo();
    for (;;) {
      const sig = Atomics.load(ioCtl, CSIG);
      ioCheck();
      if (Atomics.load(ioCtl, STATE) === DONE) break;
      ioSleep(sig);
    }
    if (data.fsync) fs.fsyncSync(data.fd);
    if (direct >= 0) fs.closeSync(direct);
    Atomics.store(ctl, STATE, DONE);
  } catch (err) {
    stopIo();
    fail(data, err);
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
const ioSource = [
  'const __name = (f) => f;',
  "const data = require('node:worker_threads').workerData;",
  `(${recordThreadId.toString()})(data, require('node:fs'));`,
  `(${ioWriter.toString()})(data, require('node:fs'), ${threadFailed.toString()});`,
].join('\n');
const workerSource = [
  'const __name = (f) => f;',
  "const data = require('node:worker_threads').workerData;",
  `(${recordThreadId.toString()})(data, require('node:fs'));`,
  `const ioSource = ${JSON.stringify(ioSource)};`,
  // ringWriter records its own failures from the moment it starts writing; this catches one in its set-up.
  'try {',
  `  (${ringWriter.toString()})(data, require('node:fs'), ${tapeFormatter.toString()}, ${formatUint.toString()}, require('node:worker_threads'), ioSource, ${threadFailed.toString()}, ${threadFailure.toString()}, ${threadEnded.toString()});`,
  '} catch (err) {',
  `  (${threadFailed.toString()})(data, err);`,
  '  const ctl = new Int32Array(data.control);',
  '  Atomics.add(ctl, data.layout.CSIG, 1);',
  '  Atomics.notify(ctl, data.layout.CSIG);',
  '}',
].join('\n');

/** The producer's end of the ring; owns the writer thread. The fd stays the caller's to close. */
export class RingWriterThread {
  readonly #ctl: Int32Array;
  readonly #ring: Uint8Array;
  readonly #data: ThreadData;
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  readonly #label: string;
  #head = 0;
  /** Frames pushed (the thread counts the ones it has finished in FRAMES). */
  #frames = 0;
  readonly #head4 = new Int32Array(2);
  readonly #headBytes = new Uint8Array(this.#head4.buffer);
  #failure: Error | undefined;
  /** The worker's 'exit' event has come (seen only while this thread runs its event loop: in close()). */
  #ended = false;
  /** When the thread was started (Date.now()): bounds how long it may take to record its id. */
  readonly #born = Date.now();

  /**
   * @param path the log's path: names it in error messages, and the thread opens it again for direct I/O.
   * @param opts.counterStart where the byte counters start (tests: just below 2^31, to cross the sign wrap).
   */
  constructor(
    fd: number,
    path: string,
    opts: { ringBytes: number; batchBytes: number; fsync: boolean; direct: boolean; counterStart?: number; onWorker?: (w: Worker) => void; ioStopAfterFrames?: number },
  ) {
    const { ringBytes, batchBytes, fsync, direct } = opts;
    if (!(Number.isInteger(ringBytes) && ringBytes >= 4096 && ringBytes <= 2 ** 30 && (ringBytes & (ringBytes - 1)) === 0)) {
      throw new RangeError(`ringBytes must be a power of two from 4096 to 2^30, got ${ringBytes}`);
    }
    this.#label = path;
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
      ioStopAfterFrames: opts.ioStopAfterFrames,
    };
    this.#ctl = new Int32Array(data.control);
    // A start that is a multiple of the ring size keeps offsets where they would be from 0.
    this.#head = ((opts.counterStart ?? 0) & ~(ringBytes - 1)) | 0;
    this.#ctl[HEAD] = this.#head;
    this.#ctl[TAIL] = this.#head;
    this.#tailSeen = this.#head;
    this.#ring = new Uint8Array(data.ring);
    this.words = new Int32Array(data.ring);
    this.maxEventWords = Math.min(1 << 14, ringBytes >> 4);
    this.#frameLimit = Math.min(batchBytes, ringBytes >> 2);
    this.#data = data;
    // execArgv: [] — the thread needs no loader hooks (tsx, conditions) to run its self-contained source.
    this.#worker = new Worker(workerSource, { eval: true, workerData: data, execArgv: [], stdout: false, stderr: false });
    // A forgotten writer must not keep the process alive (the plain writer would not either).
    this.#worker.unref();
    this.#exited = new Promise((resolve) => {
      this.#worker.once('error', (err) => {
        this.#failure ??= new Error(`${path}: log writer thread failed: ${err.message}`);
      });
      this.#worker.once('exit', () => {
        this.#ended = true;
        resolve();
      });
    });
    opts.onWorker?.(this.#worker);
  }

  /**
   * The ring as tape words: the encoder writes events straight into it (TapeEncoder.attach). Copying into shared
   * memory is slow in V8 (it copies byte by relaxed byte: ≈2.4 GB/s measured here), so nothing is staged and
   * copied; the thread formats each tape frame where it lies, too.
   */
  readonly words: Int32Array<SharedArrayBuffer>;
  /** The most words one event may take in the tape (a bigger event travels as its JSON line). */
  readonly maxEventWords: number;
  /** Whether a tape frame is open, and the byte counter of its header (counters wrap past 2^31: never test a sign). */
  #open = false;
  #frame = 0;
  /** Byte counter where the open frame's next event goes. */
  #write = 0;
  /** The thread's TAIL when last read (it only grows, so an old value errs on the safe side). */
  #tailSeen = 0;
  /** An open frame is published once it holds this many bytes (so the ring always has room for another). */
  readonly #frameLimit: number;

  /** Bytes of events in the open tape frame. */
  get openBytes(): number {
    return this.#open ? (this.#write - this.#frame - 8) | 0 : 0;
  }

  /**
   * Room for one event: returns the word index where it may write up to maxEventWords words, contiguous and free.
   * Opens a tape frame if none is open; publishes the open one first when it is full or would reach the ring's
   * end; waits (blocking this thread) while the thread has not yet consumed enough.
   */
  reserve(): number {
    const size = this.#ring.length;
    // The event's words, then room for the frame's padding word and the next frame's header.
    const need = this.maxEventWords * 4 + 16;
    for (;;) {
      if (!this.#open) {
        const off = this.#head & (size - 1);
        if (size - off < 8 + need) {
          this.#wrap();
          continue;
        }
        this.#open = true;
        this.#frame = this.#head;
        this.#write = (this.#head + 8) | 0;
      }
      const off = this.#write & (size - 1);
      if (off + need > size || this.openBytes >= this.#frameLimit) {
        this.publishTape();
        continue;
      }
      // The thread's TAIL as last read: re-reading it for every event would pull its cache line across cores
      // each time (the thread writes it constantly), which cost more than the rest of the hand-over.
      if (((this.#write + need - this.#tailSeen) | 0) <= size) return off >> 2;
      const ctl = this.#ctl;
      const sig = Atomics.load(ctl, CSIG);
      this.#tailSeen = Atomics.load(ctl, TAIL);
      if (((this.#write + need - this.#tailSeen) | 0) <= size) return off >> 2;
      this.#check();
      this.#sleep(sig);
    }
  }

  /** The event reserve() made room for took `bytes` bytes. */
  commit(bytes: number): void {
    this.#write = (this.#write + bytes) | 0;
  }

  /** Hand the open tape frame to the thread (nothing if it is empty). */
  publishTape(): void {
    // A failed thread says so at every hand-over, not only once the ring has filled up.
    this.#check();
    if (!this.#open) return;
    const len = this.openBytes;
    if (len > 0) {
      const size = this.#ring.length;
      const at = (this.#frame & (size - 1)) >> 2;
      this.words[at] = TAPE_FRAME;
      this.words[at + 1] = len;
      // Frames start 8-byte aligned, so a header never straddles the ring's end.
      this.#head = (this.#write + (len & 4)) | 0;
      this.#frames++;
      this.#publish();
    }
    this.#open = false;
  }

  /** Skip to the ring's start: a frame never wraps, so the thread can read it where it lies. */
  #wrap(): void {
    const size = this.#ring.length;
    const off = this.#head & (size - 1);
    const skip = size - off;
    for (;;) {
      const sig = Atomics.load(this.#ctl, CSIG);
      if (((this.#head + skip - Atomics.load(this.#ctl, TAIL)) | 0) <= size) break;
      this.#check();
      this.#sleep(sig);
    }
    this.words[off >> 2] = WRAP_FRAME;
    this.words[(off >> 2) + 1] = skip - 8;
    this.#head = (this.#head + skip) | 0;
    this.#publish();
  }

  #publish(): void {
    Atomics.store(this.#ctl, HEAD, this.#head);
    Atomics.add(this.#ctl, PSIG, 1);
    Atomics.notify(this.#ctl, PSIG);
  }

  /** Bytes that go to the file as they are: the header line, or an event too big for the tape as its JSON line. */
  pushRaw(bytes: Uint8Array): void {
    this.publishTape();
    this.#head4[0] = RAW_FRAME;
    this.#head4[1] = bytes.length;
    this.#push(this.#headBytes);
    this.#push(bytes);
    const pad = -bytes.length & 7;
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
        this.#sleep(sig);
        continue;
      }
      const at = this.#head & (size - 1);
      const n = Math.min(free, bytes.length - off, size - at);
      this.#ring.set(bytes.subarray(off, off + n), at);
      off += n;
      this.#head = (this.#head + n) | 0;
      this.#publish();
    }
  }

  /** Block until the writer thread has written every frame pushed so far to the file. */
  drain(): void {
    const ctl = this.#ctl;
    for (;;) {
      const sig = Atomics.load(ctl, CSIG);
      this.#check();
      if (Atomics.load(ctl, FRAMES) === this.#frames) return;
      this.#sleep(sig);
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
      // DONE is stored before the thread returns: read after its exit, anything else means it never got there.
      if (this.#ended) {
        this.#failure = this.#endedError();
        break;
      }
      // Waiting without blocking lets the worker's 'error'/'exit' events through if it dies unexpectedly.
      const r = waitAsync(ctl, CSIG, sig, 1000);
      if (r.async) await Promise.race([r.value, this.#exited]);
    }
    await this.#exited;
    this.#check();
  }

  /**
   * Block until the thread signals (CSIG moves on from `sig`). Every LIVENESS_MS without a signal, make sure it is
   * still there: a thread that was terminated or ran out of memory never signals again, and waiting on it would
   * hang this thread for ever. Throws then, as for any failure of the thread.
   */
  #sleep(sig: number): void {
    const ctl = this.#ctl;
    if (Atomics.wait(ctl, CSIG, sig, LIVENESS_MS) !== 'timed-out') return;
    const how = threadEnded(this.#data, ctl, this.#born, { existsSync });
    if (how === null) return;
    // A failure it recorded on its way out says more than that it is gone.
    this.#check();
    this.#failure = how === 'unborn' ? new Error(`${this.#label}: log writer thread did not start in ${START_MS / 1000} s`) : this.#endedError();
    throw this.#failure;
  }

  #endedError(): Error {
    return new Error(
      `${this.#label}: log writer thread ended without finishing (terminated, or out of memory): ` +
        `the file keeps what it had written, events after that are not in it`,
    );
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
    const why = threadFailure(this.#data, this.#ctl);
    if (why !== null) {
      this.#failure = new Error(`${this.#label}: log writer thread failed: ${why}`);
      throw this.#failure;
    }
  }
}
